/*
 * sor_mpi — Jacobi relaxation with MPI: each rank holds its contiguous
 * block of rows plus one halo row above and below, exchanged with the
 * neighbouring ranks before every sweep. Rank 0 gathers the grid after the
 * measured region and checks it.   mpirun -n P sor_mpi [N [ITERS]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

/* Send my first/last rows to the neighbours, receive their halo rows. */
static void halo(struct mapp *m, double *g, size_t rows, size_t n)
{
	int up = m->me > 0 ? m->me - 1 : MPI_PROC_NULL;
	int down = m->me + 1 < m->np ? m->me + 1 : MPI_PROC_NULL;

	mapp_sendrecv(m, g + n, (int)n, up, g + (rows + 1) * n, (int)n, down,
		      MPI_DOUBLE);
	mapp_sendrecv(m, g + rows * n, (int)n, down, g, (int)n, up, MPI_DOUBLE);
}

/* The sweeps over local rows 1..rows (global lo..hi-1). */
static double *sweeps(struct mapp *m, const struct sor *p, size_t lo, size_t hi)
{
	size_t n = p->n, rows = hi - lo;
	double *g[2];

	for (int k = 0; k < 2; k++) {
		g[k] = app_alloc((rows + 2) * n * sizeof(double));
		for (size_t i = lo; i < hi; i++)
			sor_init_row(g[k] + (i - lo + 1) * n, n, i);
	}
	mapp_start(m);
	for (int it = 0; it < p->iters; it++) {
		double *s = g[it % 2], *d = g[1 - it % 2];
		halo(m, s, rows, n);
		for (size_t i = lo; i < hi; i++)
			if (i > 0 && i + 1 < n)
				sor_relax_row(d + (i - lo + 1) * n, s + (i - lo) * n,
					      s + (i - lo + 1) * n, s + (i - lo + 2) * n, n);
	}
	mapp_stop(m);
	free(g[1 - p->iters % 2]);
	return g[p->iters % 2];
}

int main(int argc, char **argv)
{
	struct mapp m;
	struct sor p;
	size_t lo, hi;
	int ok = 1, counts[1024], displs[1024];
	double *mine, *all = NULL, secs;

	mapp_init(&m, "sor", &argc, &argv);
	sor_params(&p, argc, argv);
	if (m.np > 1024 || (size_t)m.np > p.n)
		app_die("sor", "too many ranks");
	app_split(p.n, m.me, m.np, &lo, &hi);
	mine = sweeps(&m, &p, lo, hi);
	mapp_blocks(m.np, p.n, p.n, counts, displs);
	if (m.me == 0)
		all = app_alloc(p.n * p.n * sizeof(double));
	mapp_gatherv(&m, mine + p.n, (int)((hi - lo) * p.n), all, counts, displs,
		     MPI_DOUBLE);
	if (m.me == 0) {
		double *ref = sor_seq(&p, &secs);
		ok = app_check_exact("sor", all, ref, p.n * p.n, sizeof(double));
		free(ref);
	}
	free(mine);
	free(all);
	return mapp_finish(&m, ok);
}
