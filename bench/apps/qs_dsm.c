/*
 * qs_dsm — quicksort in libdsm shared memory with a task queue under one
 * lock, the queue bound to it (dsm_bind: under entry consistency the
 * queue travels with the lock; the keys, unbound, are kept under release
 * consistency). Each node generates its block of keys; node 0 queues the
 * whole range; every node takes ranges, partitions them, queues one part
 * over CUTOFF keys (the right one, unless only it lies in this node's
 * block) and sorts the rest itself (apps.h). A node takes
 * the newest range in its own block of keys when there is one (the pages
 * it first touched: their home is here), else the newest. Node 0
 * checks the keys.   dsmrun -n P qs_dsm [N [CUTOFF]]
 */
#include <stdlib.h>
#include <unistd.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define LOCK 1u

/* Does [lo, hi) lie mostly in this node's block [blo, bhi)? */
static int mine(size_t lo, size_t hi, size_t blo, size_t bhi)
{
	size_t mid = lo + (hi - lo) / 2;

	return mid >= blo && mid < bhi;
}

/* Sort [lo, hi): partition, queue one part, go on with the other: the
 * left one, as qs_pthreads does, unless only the right one lies in this
 * node's block of keys (then the left one is queued for the node whose
 * block it is in). */
static void task(struct dapp *d, const struct qs *p, uint32_t *keys,
		 volatile struct qs_queue *q, size_t lo, size_t hi, size_t blo,
		 size_t bhi)
{
	while (hi - lo > p->cutoff) {
		size_t k = lo + qs_partition(keys + lo, hi - lo);
		int right = mine(k, hi, blo, bhi) && !mine(lo, k, blo, bhi);
		dapp_lock(d, LOCK);
		int queued = q->ntask < QS_MAXTASK;
		if (queued) {
			q->lo[q->ntask] = right ? lo : k;
			q->hi[q->ntask] = right ? k : hi;
			q->ntask++;
			q->outstanding++;
		}
		dapp_unlock(d, LOCK);
		if (!queued)
			break;
		if (right)
			lo = k;
		else
			hi = k;
	}
	qs_sort_leaf(keys + lo, hi - lo);
}

/* Take a task off the queue (lock held): the newest whose middle key lies
 * in [blo, bhi), the block of keys this node generated (their pages' home
 * is here, by first touch), else the newest (the stack's top, as
 * qs_pthreads takes). The others keep their order. */
static void take(volatile struct qs_queue *q, size_t blo, size_t bhi, size_t *lo,
		 size_t *hi)
{
	uint64_t t = q->ntask - 1;

	for (uint64_t i = q->ntask; i-- > 0;) {
		size_t mid = q->lo[i] + (q->hi[i] - q->lo[i]) / 2;
		if (mid >= blo && mid < bhi) {
			t = i;
			break;
		}
	}
	*lo = q->lo[t];
	*hi = q->hi[t];
	for (uint64_t i = t; i + 1 < q->ntask; i++) {
		q->lo[i] = q->lo[i + 1];
		q->hi[i] = q->hi[i + 1];
	}
	q->ntask--;
}

static void work(struct dapp *d, const struct qs *p, uint32_t *keys,
		 volatile struct qs_queue *q, size_t blo, size_t bhi)
{
	for (;;) {
		size_t lo = 0, hi = 0;
		int got = 0, done = 0;
		dapp_lock(d, LOCK);
		if (q->ntask) {
			got = 1;
			take(q, blo, bhi, &lo, &hi);
		} else {
			done = q->outstanding == 0;
		}
		dapp_unlock(d, LOCK);
		if (done)
			break;
		if (!got) {
			usleep(100); /* let the holders of work queue some */
			continue;
		}
		task(d, p, keys, q, lo, hi, blo, bhi);
		dapp_lock(d, LOCK);
		q->outstanding--;
		dapp_unlock(d, LOCK);
	}
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct qs p;
	size_t lo, hi;
	uint32_t *keys;
	volatile struct qs_queue *q;
	int ok = 1;

	dapp_init(&d, "qs", &argc, &argv);
	qs_params(&p, argc, argv);
	keys = dapp_alloc(&d, p.n * sizeof(uint32_t));
	q = dapp_alloc(&d, sizeof(struct qs_queue));
	dapp_bind(&d, LOCK, (void *)q, sizeof(struct qs_queue));
	app_split_aligned(p.n, app_page_items(sizeof(uint32_t)), d.me, d.np, &lo, &hi);
	qs_gen(keys + lo, lo, hi);
	if (d.me == 0) {
		dapp_lock(&d, LOCK);
		q->lo[0] = 0;
		q->hi[0] = p.n;
		q->ntask = q->outstanding = 1;
		dapp_unlock(&d, LOCK);
	}
	dapp_start(&d);
	work(&d, &p, keys, q, lo, hi);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs;
		uint32_t *ref = qs_seq(&p, &secs);
		ok = app_check_exact("qs", keys, ref, p.n, sizeof(uint32_t));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
