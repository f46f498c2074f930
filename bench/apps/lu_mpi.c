/*
 * lu_mpi — blocked LU with MPI: block column J lives on rank J mod P.
 * Step k: the owner factors the column-k panel (diagonal block and the L
 * blocks below) and broadcasts it; every rank updates its own columns.
 * Rank 0 collects the columns afterwards and checks them.
 *   mpirun -n P lu_mpi [N [B]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

static struct lu p;
static double *a, *buf;

/* Copy blocks (k..nb-1, j) to or from buf. */
static void pack(size_t j, size_t k, int out)
{
	size_t bb = p.b * p.b;

	for (size_t i = k; i < p.nb; i++) {
		double *blk = lu_block(&p, a, i, j);
		if (out)
			memcpy(buf + (i - k) * bb, blk, bb * sizeof(double));
		else
			memcpy(blk, buf + (i - k) * bb, bb * sizeof(double));
	}
}

static void factor(struct mapp *m)
{
	size_t np = (size_t)m->np, me = (size_t)m->me, bb = p.b * p.b;

	for (size_t k = 0; k < p.nb; k++) {
		int root = (int)(k % np);
		if (k % np == me) {
			lu_panel(&p, a, k);
			pack(k, k, 1);
		}
		mapp_bcast(m, buf, (int)((p.nb - k) * bb), MPI_DOUBLE, root);
		if (k % np != me)
			pack(k, k, 0);
		for (size_t j = k + 1; j < p.nb; j++) {
			if (j % np != me)
				continue;
			double *akj = lu_block(&p, a, k, j);
			lu_row(akj, lu_block(&p, a, k, k), p.b);
			for (size_t i = k + 1; i < p.nb; i++)
				lu_trail(lu_block(&p, a, i, j), lu_block(&p, a, i, k), akj, p.b);
		}
	}
}

/* After the measured region: every column to rank 0 (not counted). */
static void collect(struct mapp *m)
{
	int cnt = (int)(p.nb * p.b * p.b);

	for (size_t j = 0; j < p.nb; j++) {
		int owner = (int)(j % (size_t)m->np);
		if (owner == 0)
			continue;
		if (m->me == owner) {
			pack(j, 0, 1);
			mapp_send(m, buf, cnt, MPI_DOUBLE, 0);
		} else if (m->me == 0) {
			mapp_recv(m, buf, cnt, MPI_DOUBLE, owner);
			pack(j, 0, 0);
		}
	}
}

int main(int argc, char **argv)
{
	struct mapp m;
	int ok = 1;
	double secs;

	mapp_init(&m, "lu", &argc, &argv);
	lu_params(&p, argc, argv);
	a = app_alloc(p.n * p.n * sizeof(double));
	buf = app_alloc(p.nb * p.b * p.b * sizeof(double));
	for (size_t j = (size_t)m.me; j < p.nb; j += (size_t)m.np)
		for (size_t i = 0; i < p.nb; i++)
			lu_gen_block(&p, lu_block(&p, a, i, j), i, j);
	mapp_start(&m);
	factor(&m);
	mapp_stop(&m);
	collect(&m);
	if (m.me == 0) {
		double *ref = lu_seq(&p, &secs);
		ok = app_check_exact("lu", a, ref, p.n * p.n, sizeof(double));
		free(ref);
	}
	free(a);
	free(buf);
	return mapp_finish(&m, ok);
}
