/*
 * km_mpi — k-means with MPI: each rank assigns its block of points, the
 * integer cluster sums are all-reduced, every rank computes the same
 * centroids.   mpirun -n P km_mpi [N [K [ITERS]]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

int main(int argc, char **argv)
{
	struct mapp m;
	struct km p;
	size_t lo, hi, ns;
	int ok = 1;
	double *pts, *cent, secs;
	int64_t *mine, *sums;

	mapp_init(&m, "km", &argc, &argv);
	km_params(&p, argc, argv);
	ns = (size_t)p.k * KM_S;
	app_split(p.n, m.me, m.np, &lo, &hi);
	pts = app_alloc((hi - lo) * KM_D * sizeof(double));
	cent = app_alloc((size_t)p.k * KM_D * sizeof(double));
	mine = app_alloc(ns * sizeof(int64_t));
	sums = app_alloc(ns * sizeof(int64_t));
	km_gen(pts, lo, hi);
	km_first_centroids(cent, p.k);
	mapp_start(&m);
	for (int it = 0; it < p.iters; it++) {
		memset(mine, 0, ns * sizeof(int64_t));
		km_assign(pts, hi - lo, cent, p.k, mine);
		mapp_allreduce(&m, mine, sums, (int)ns, MPI_INT64_T, MPI_SUM);
		km_update(cent, sums, p.k);
	}
	mapp_stop(&m);
	if (m.me == 0) {
		double *ref = km_seq(&p, &secs);
		ok = app_check_exact("km", cent, ref, (size_t)p.k * KM_D, sizeof(double));
		free(ref);
	}
	free(pts);
	free(cent);
	free(mine);
	free(sums);
	return mapp_finish(&m, ok);
}
