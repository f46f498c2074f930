/*
 * mr_merge.c — the final merge of libdsm_mapreduce: sorted runs (one per
 * reduce worker, in worker order) merged into one array, optionally with
 * num_merge_threads threads.
 *
 * Pairs of adjacent runs are merged level by level (a fixed tree that
 * depends only on the number of runs); each merge is stable and prefers
 * the earlier run on ties, so the result is the stable sort of the runs'
 * concatenation whatever the thread count or timing. The merges of one
 * level are independent and are shared among the threads.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "det/mapreduce/mr.h"

#define MR_MERGE_MIN_PARALLEL 8192 /* pairs: below, threads cost more */

struct level {
	const keyval_t *src;
	keyval_t *dst;
	const size_t *bnd;        /* run boundaries at this level */
	size_t nruns;
	key_cmp_t cmp;
	int nthreads;
};

struct lworker {
	struct level *lv;
	int t;
};

/* Stable merge of a[0..na) and b[0..nb) into out (a wins ties). */
static void merge_two(const keyval_t *a, size_t na, const keyval_t *b, size_t nb,
		      keyval_t *out, key_cmp_t cmp)
{
	size_t i = 0, j = 0, k = 0;

	while (i < na && j < nb)
		out[k++] = cmp(b[j].key, a[i].key) < 0 ? b[j++] : a[i++];
	memcpy(out + k, a + i, (na - i) * sizeof(*out));
	k += na - i;
	memcpy(out + k, b + j, (nb - j) * sizeof(*out));
}

/* Pair p of a level: runs 2p and 2p+1 (or 2p alone, copied). */
static void merge_pair(const struct level *lv, size_t p)
{
	size_t lo = lv->bnd[2 * p], mid = lv->bnd[2 * p + 1];
	size_t hi = 2 * p + 2 <= lv->nruns ? lv->bnd[2 * p + 2] : mid;

	merge_two(lv->src + lo, mid - lo, lv->src + mid, hi - mid, lv->dst + lo, lv->cmp);
}

static void *level_thread(void *arg)
{
	struct lworker *w = arg;
	size_t npairs = (w->lv->nruns + 1) / 2;

	for (size_t p = (size_t)w->t; p < npairs; p += (size_t)w->lv->nthreads)
		merge_pair(w->lv, p);
	return NULL;
}

/* One level, on up to lv->nthreads threads (the caller is one of them). */
static void run_level(struct level *lv)
{
	pthread_t th[DSM_MR_MAX_WORKERS];
	struct lworker w[DSM_MR_MAX_WORKERS];
	int started = 0;

	for (int t = 1; t < lv->nthreads; t++) {
		w[t] = (struct lworker){ lv, t };
		if (pthread_create(&th[t], NULL, level_thread, &w[t]) != 0)
			break;
		started = t;
	}
	lv->nthreads = started + 1; /* threads that failed to start: ours */
	w[0] = (struct lworker){ lv, 0 };
	level_thread(&w[0]);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
}

int dsm__mr_merge_runs(keyval_t *kv, size_t *bnd, size_t nruns, key_cmp_t cmp,
		       int threads)
{
	size_t n = bnd[nruns];
	keyval_t *tmp, *src = kv, *dst;

	if (nruns < 2)
		return 0;
	if (!(tmp = dsm__mr_scratch(n * sizeof(*tmp))))
		return -ENOMEM;
	dst = tmp;
	if (threads > DSM_MR_MAX_WORKERS)
		threads = DSM_MR_MAX_WORKERS;
	if (threads < 1 || n < MR_MERGE_MIN_PARALLEL)
		threads = 1;
	while (nruns > 1) {
		struct level lv = { src, dst, bnd, nruns, cmp, threads };
		keyval_t *t;
		run_level(&lv);
		/* boundaries of the merged runs (reads stay ahead of writes) */
		for (size_t r = 0; r <= (nruns + 1) / 2; r++)
			bnd[r] = bnd[2 * r < nruns ? 2 * r : nruns];
		nruns = (nruns + 1) / 2;
		t = src, src = dst, dst = t;
	}
	if (src != kv)
		memcpy(kv, src, n * sizeof(*kv));
	dsm__mr_scratch_free(tmp);
	return 0;
}
