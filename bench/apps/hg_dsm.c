/*
 * hg_dsm — histogram in libdsm shared memory: each node generates its
 * page-aligned block of values, counts it into a private histogram and
 * adds that into the shared histogram under a lock. Node 0 checks.
 *   dsmrun -n P hg_dsm [N [BINS [PASSES]]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define LOCK 1u

int main(int argc, char **argv)
{
	struct dapp d;
	struct hg p;
	size_t lo, hi;
	uint32_t *vals;
	uint64_t *hist, *mine;
	int ok = 1;

	dapp_init(&d, "hg", &argc, &argv);
	hg_params(&p, argc, argv);
	vals = dapp_alloc(&d, p.n * sizeof(uint32_t));
	hist = dapp_alloc(&d, p.bins * sizeof(uint64_t));
	dapp_bind(&d, LOCK, hist, p.bins * sizeof(uint64_t));
	mine = app_alloc(p.bins * sizeof(uint64_t));
	app_split_aligned(p.n, app_page_items(sizeof(uint32_t)), d.me, d.np, &lo, &hi);
	hg_gen(vals + lo, lo, hi, p.bins);
	dapp_start(&d);
	hg_count(vals + lo, hi - lo, mine, p.passes);
	dapp_lock(&d, LOCK);
	for (size_t b = 0; b < p.bins; b++)
		hist[b] += mine[b];
	dapp_unlock(&d, LOCK);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs;
		uint64_t *ref = hg_seq(&p, &secs);
		dapp_lock_shared(&d, LOCK);
		ok = app_check_exact("hg", hist, ref, p.bins, sizeof(uint64_t));
		dapp_unlock(&d, LOCK);
		free(ref);
	}
	free(mine);
	return dapp_finish(&d, ok);
}
