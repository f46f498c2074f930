/*
 * mr_util.c — pair vectors and the stable sort of libdsm_mapreduce.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_det.h"
#include "det/mapreduce/mr.h"

int dsm__mr_push(struct mr_vec *v, void *key, void *val)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		keyval_t *p = dsm_det_malloc(nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		if (v->n)
			memcpy(p, v->kv, v->n * sizeof(*p));
		dsm_det_free(v->kv);
		v->kv = p;
		v->cap = nc;
	}
	v->kv[v->n].key = key;
	v->kv[v->n].val = val;
	v->n++;
	return 0;
}

/* Merge the sorted runs a[lo..mid) and a[mid..hi) through tmp. */
static void merge_runs(keyval_t *a, keyval_t *tmp, size_t lo, size_t mid,
		       size_t hi, key_cmp_t cmp)
{
	size_t i = lo, j = mid, k = lo;

	if (mid >= hi || cmp(a[mid - 1].key, a[mid].key) <= 0)
		return; /* already in order */
	while (i < mid && j < hi)
		tmp[k++] = cmp(a[j].key, a[i].key) < 0 ? a[j++] : a[i++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < hi)
		tmp[k++] = a[j++];
	memcpy(a + lo, tmp + lo, (hi - lo) * sizeof(*a));
}

/* Insertion sort of short runs: stable. */
static void insertion(keyval_t *a, size_t lo, size_t hi, key_cmp_t cmp)
{
	for (size_t i = lo + 1; i < hi; i++) {
		keyval_t x = a[i];
		size_t j = i;
		while (j > lo && cmp(a[j - 1].key, x.key) > 0) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

void dsm__mr_sort(keyval_t *kv, size_t n, key_cmp_t cmp)
{
	const size_t run = 16;
	keyval_t *tmp;

	if (n < 2)
		return;
	for (size_t lo = 0; lo < n; lo += run)
		insertion(kv, lo, lo + run < n ? lo + run : n, cmp);
	if (n <= run)
		return;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp) { /* cannot fail the caller: fall back to insertion */
		insertion(kv, 0, n, cmp);
		return;
	}
	for (size_t w = run; w < n; w *= 2)
		for (size_t lo = 0; lo + w < n; lo += 2 * w)
			merge_runs(kv, tmp, lo, lo + w, lo + 2 * w < n ? lo + 2 * w : n, cmp);
	free(tmp);
}
