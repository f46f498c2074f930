/*
 * mr_util.c — pair vectors and the stable sort of libdsm_mapreduce.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_det.h"
#include "det/mapreduce/mr.h"

struct mr_key_ent {
	void *copy;         /* NULL: free slot */
	uint64_t hash;
	size_t size;
};

static uint64_t key_hash(const unsigned char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int keys_grow(struct mr_keys *kc)
{
	size_t ncap = kc->cap ? kc->cap * 2 : 1024;
	struct mr_key_ent *ne = dsm__mr_scratch(ncap * sizeof(*ne));

	if (!ne)
		return -ENOMEM;
	memset(ne, 0, ncap * sizeof(*ne));
	for (size_t i = 0; i < kc->cap; i++) {
		size_t j = kc->ent[i].hash & (ncap - 1);
		if (!kc->ent[i].copy)
			continue;
		while (ne[j].copy)
			j = (j + 1) & (ncap - 1);
		ne[j] = kc->ent[i];
	}
	dsm__mr_scratch_free(kc->ent);
	kc->ent = ne;
	kc->cap = ncap;
	return 0;
}

void *dsm__mr_key_copy(struct mr_keys *kc, const void *key, size_t size)
{
	uint64_t h = key_hash(key, size);
	size_t i;

	if (2 * (kc->n + 1) > kc->cap && keys_grow(kc) < 0)
		return NULL;
	for (i = h & (kc->cap - 1); kc->ent[i].copy; i = (i + 1) & (kc->cap - 1))
		if (kc->ent[i].hash == h && kc->ent[i].size == size &&
		    memcmp(kc->ent[i].copy, key, size) == 0)
			return kc->ent[i].copy;
	if (!(kc->ent[i].copy = dsm_det_malloc(size)))
		return NULL;
	memcpy(kc->ent[i].copy, key, size);
	kc->ent[i].hash = h;
	kc->ent[i].size = size;
	kc->n++;
	return kc->ent[i].copy;
}

int dsm__mr_push(struct mr_vec *v, void *key, void *val)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		keyval_t *p = dsm__mr_scratch_realloc(v->kv, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->kv = p;
		v->cap = nc;
	}
	v->kv[v->n].key = key;
	v->kv[v->n].val = val;
	v->n++;
	return 0;
}

void dsm__mr_vec_free(struct mr_vec *v)
{
	dsm__mr_scratch_free(v->kv);
	v->kv = NULL;
	v->n = v->cap = 0;
}

struct mr_pack *dsm__mr_pack(const struct mr_vec *runs, size_t nruns)
{
	size_t total = 0, hdr = sizeof(struct mr_pack) + (nruns + 1) * sizeof(size_t);
	struct mr_pack *pk;

	for (size_t r = 0; r < nruns; r++)
		total += runs[r].n;
	hdr = (hdr + 15) & ~(size_t)15;
	pk = dsm_det_malloc(hdr + total * sizeof(keyval_t));
	if (!pk)
		return NULL;
	pk->nruns = nruns;
	pk->off = (size_t *)(pk + 1);
	pk->kv = (keyval_t *)((char *)pk + hdr);
	pk->off[0] = 0;
	for (size_t r = 0; r < nruns; r++) {
		if (runs[r].n)
			memcpy(pk->kv + pk->off[r], runs[r].kv, runs[r].n * sizeof(keyval_t));
		pk->off[r + 1] = pk->off[r] + runs[r].n;
	}
	return pk;
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
	tmp = dsm__mr_scratch(n * sizeof(*tmp));
	if (!tmp) { /* cannot fail the caller: fall back to insertion */
		insertion(kv, 0, n, cmp);
		return;
	}
	for (size_t w = run; w < n; w *= 2)
		for (size_t lo = 0; lo + w < n; lo += 2 * w)
			merge_runs(kv, tmp, lo, lo + w, lo + 2 * w < n ? lo + 2 * w : n, cmp);
	dsm__mr_scratch_free(tmp);
}
