/*
 * mm_mpi — matrix multiply with MPI: each rank generates its rows of A and
 * a slice of B; the slices are all-gathered (every rank needs all of B),
 * then each rank computes its rows of C. Rank 0 gathers C afterwards and
 * checks it.   mpirun -n P mm_mpi [N]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

int main(int argc, char **argv)
{
	struct mapp m;
	struct mm p;
	size_t n, lo, hi;
	int ok = 1, counts[1024], displs[1024];
	double *a, *b, *c, *all = NULL, secs;

	mapp_init(&m, "mm", &argc, &argv);
	mm_params(&p, argc, argv);
	n = p.n;
	if (m.np > 1024)
		app_die("mm", "too many ranks");
	app_split(n, m.me, m.np, &lo, &hi);
	mapp_blocks(m.np, n, n, counts, displs);
	a = app_alloc((hi - lo) * n * sizeof(double));
	b = app_alloc(n * n * sizeof(double));
	c = app_alloc((hi - lo) * n * sizeof(double));
	mm_gen_rows(a, n, lo, hi, 1);
	mm_gen_rows(b + lo * n, n, lo, hi, 2);
	mapp_start(&m);
	mapp_allgatherv(&m, MPI_IN_PLACE, counts[m.me], b, counts, displs, MPI_DOUBLE);
	mm_rows(c, a, b, n, hi - lo);
	mapp_stop(&m);
	if (m.me == 0)
		all = app_alloc(n * n * sizeof(double));
	mapp_gatherv(&m, c, counts[m.me], all, counts, displs, MPI_DOUBLE);
	if (m.me == 0) {
		double *ref = mm_seq(&p, &secs);
		ok = app_check_exact("mm", all, ref, n * n, sizeof(double));
		free(ref);
	}
	free(a);
	free(b);
	free(c);
	free(all);
	return mapp_finish(&m, ok);
}
