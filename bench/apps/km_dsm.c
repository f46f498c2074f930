/*
 * km_dsm — k-means in libdsm shared memory: each node generates its
 * page-aligned block of points, assigns them into private sums and adds
 * those into the shared sums under a lock (the reduction); after a barrier
 * every node computes the same centroids from the shared sums (read under
 * the lock held shared, so entry consistency sees them too). Three sum
 * buffers rotate: node 0 clears the next one, in its critical section
 * (entry consistency moves bound data with the lock only), while nobody
 * can be reading it. Node 0 checks the centroids.
 *   dsmrun -n P km_dsm [N [K [ITERS]]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define LOCK 1u

static void iterate(struct dapp *d, const struct km *p, const double *pts,
		    size_t cnt, double *cent, int64_t **sums)
{
	size_t sz = (size_t)p->k * KM_S * sizeof(int64_t);
	int64_t *mine = app_alloc(sz);

	for (int it = 0; it < p->iters; it++) {
		memset(mine, 0, sz);
		km_assign(pts, cnt, cent, p->k, mine);
		dapp_lock(d, LOCK);
		for (int s = 0; s < p->k * KM_S; s++)
			sums[it % 3][s] += mine[s];
		if (d->me == 0) /* under the lock: entry consistency moves
				 * bound data only with it (DSM_EC_CHECK said so) */
			memset(sums[(it + 1) % 3], 0, sz);
		dapp_unlock(d, LOCK);
		dapp_barrier(d);
		dapp_lock_shared(d, LOCK); /* read the sums bound to the lock */
		km_update(cent, sums[it % 3], p->k);
		dapp_unlock(d, LOCK);
	}
	free(mine);
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct km p;
	size_t lo, hi, sz;
	double *pts, *cent;
	int64_t *sums[3];
	int ok = 1;

	dapp_init(&d, "km", &argc, &argv);
	km_params(&p, argc, argv);
	pts = dapp_alloc(&d, p.n * KM_D * sizeof(double));
	sz = (size_t)p.k * KM_S * sizeof(int64_t);
	for (int s = 0; s < 3; s++) {
		sums[s] = dapp_alloc(&d, sz);
		dapp_bind(&d, LOCK, sums[s], sz);
	}
	cent = app_alloc((size_t)p.k * KM_D * sizeof(double));
	app_split_aligned(p.n, app_page_items(KM_D * sizeof(double)), d.me, d.np,
			  &lo, &hi);
	km_gen(pts + lo * KM_D, lo, hi);
	km_first_centroids(cent, p.k);
	dapp_start(&d);
	iterate(&d, &p, pts + lo * KM_D, hi - lo, cent, sums);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = km_seq(&p, &secs);
		ok = app_check_exact("km", cent, ref, (size_t)p.k * KM_D, sizeof(double));
		free(ref);
	}
	free(cent);
	return dapp_finish(&d, ok);
}
