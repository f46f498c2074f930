/*
 * hg_mpi — histogram with MPI: each rank counts its block of values, the
 * histograms are summed on rank 0.   mpirun -n P hg_mpi [N [BINS [PASSES]]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

int main(int argc, char **argv)
{
	struct mapp m;
	struct hg p;
	size_t lo, hi;
	int ok = 1;
	uint32_t *vals;
	uint64_t *mine, *hist;
	double secs;

	mapp_init(&m, "hg", &argc, &argv);
	hg_params(&p, argc, argv);
	app_split(p.n, m.me, m.np, &lo, &hi);
	vals = app_alloc((hi - lo) * sizeof(uint32_t));
	mine = app_alloc(p.bins * sizeof(uint64_t));
	hist = app_alloc(p.bins * sizeof(uint64_t));
	hg_gen(vals, lo, hi, p.bins);
	mapp_start(&m);
	hg_count(vals, hi - lo, mine, p.passes);
	mapp_reduce(&m, mine, hist, (int)p.bins, MPI_UINT64_T, MPI_SUM);
	mapp_stop(&m);
	if (m.me == 0) {
		uint64_t *ref = hg_seq(&p, &secs);
		ok = app_check_exact("hg", hist, ref, p.bins, sizeof(uint64_t));
		free(ref);
	}
	free(vals);
	free(mine);
	free(hist);
	return mapp_finish(&m, ok);
}
