/*
 * sor_dsm — Jacobi relaxation in libdsm shared memory. Both grids are
 * allocated collectively; the rows are split into blocks on page
 * boundaries and each node first-touches and computes only its own rows
 * (owner computes), reading its neighbours' edge rows through the shared
 * memory; one barrier per sweep. Node 0 checks the final grid.
 * SOR_PUSH=1: each node marks its first and last row of both grids as a
 * Tapeworm producer-consumer region (dsm_tapeworm_region), so its edge
 * rows are pushed to its neighbours at each barrier (docs/tapes.md).
 *   dsmrun -n P sor_dsm [N [ITERS]]
 */
#include <stdlib.h>

#include <dsm_tapeworm.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

int main(int argc, char **argv)
{
	struct dapp d;
	struct sor p;
	double *g[2];
	size_t n, lo, hi, first, last;
	int ok = 1;

	dapp_init(&d, "sor", &argc, &argv);
	sor_params(&p, argc, argv);
	n = p.n;
	for (int k = 0; k < 2; k++) {
		g[k] = dapp_alloc(&d, n * n * sizeof(double));
		dapp_bind_barrier(&d, g[k], n * n * sizeof(double));
	}
	app_split_aligned(n, app_page_items(n * sizeof(double)), d.me, d.np, &lo, &hi);
	for (size_t i = lo; i < hi; i++) { /* first touch by the owner */
		sor_init_row(g[0] + i * n, n, i);
		sor_init_row(g[1] + i * n, n, i);
	}
	first = lo < 1 ? 1 : lo;
	last = hi > n - 1 ? n - 1 : hi;
	if (getenv("SOR_PUSH") && atoi(getenv("SOR_PUSH")) && hi > lo)
		for (int k = 0; k < 2; k++) {
			if (dsm_tapeworm_region(g[k] + lo * n, n * sizeof(double), 1) < 0 ||
			    dsm_tapeworm_region(g[k] + (hi - 1) * n, n * sizeof(double), 1) < 0)
				ok = 0;
		}
	dapp_start(&d);
	for (int it = 0; it < p.iters; it++) {
		const double *s = g[it % 2];
		for (size_t i = first; i < last; i++)
			sor_relax_row(g[1 - it % 2] + i * n, s + (i - 1) * n, s + i * n,
				      s + (i + 1) * n, n);
		dapp_barrier(&d);
	}
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = sor_seq(&p, &secs);
		ok = app_check_exact("sor", g[p.iters % 2], ref, n * n, sizeof(double));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
