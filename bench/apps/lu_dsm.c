/*
 * lu_dsm — blocked LU in libdsm shared memory. The matrix is stored block
 * by block (a 32 x 32 block is two whole pages, so blocks never share a
 * page); block column J belongs to node J mod P, which generates
 * (first-touches) and updates it. Step k: the owner of column k factors
 * the panel; a barrier; every node updates its own columns, reading the
 * panel through the shared memory. Node 0 checks the factors.
 *   dsmrun -n P lu_dsm [N [B]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

static void update(const struct lu *p, double *a, size_t k, size_t j)
{
	double *akj = lu_block(p, a, k, j);

	lu_row(akj, lu_block(p, a, k, k), p->b);
	for (size_t i = k + 1; i < p->nb; i++)
		lu_trail(lu_block(p, a, i, j), lu_block(p, a, i, k), akj, p->b);
}

static void factor(struct dapp *d, const struct lu *p, double *a)
{
	size_t np = (size_t)d->np, me = (size_t)d->me;

	for (size_t k = 0; k < p->nb; k++) {
		if (k % np == me)
			lu_panel(p, a, k);
		dapp_barrier(d);
		for (size_t j = k + 1; j < p->nb; j++)
			if (j % np == me)
				update(p, a, k, j);
	}
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct lu p;
	double *a;
	int ok = 1;

	dapp_init(&d, "lu", &argc, &argv);
	lu_params(&p, argc, argv);
	a = dapp_alloc(&d, p.n * p.n * sizeof(double));
	dapp_bind_barrier(&d, a, p.n * p.n * sizeof(double));
	for (size_t j = (size_t)d.me; j < p.nb; j += (size_t)d.np)
		for (size_t i = 0; i < p.nb; i++)
			lu_gen_block(&p, lu_block(&p, a, i, j), i, j);
	dapp_start(&d);
	factor(&d, &p, a);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = lu_seq(&p, &secs);
		ok = app_check_exact("lu", a, ref, p.n * p.n, sizeof(double));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
