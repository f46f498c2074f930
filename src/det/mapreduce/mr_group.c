/*
 * mr_group.c — a map worker's pairs of one task group, grouped by key as
 * they are emitted, for the combiner.
 *
 * Per partition, the distinct keys of the group are kept sorted by key_cmp
 * (found by a check of the last key, then a binary search, as Phoenix
 * does); each key's values are a list in emit order (task order) in one
 * vector shared by the worker's partitions. At the end of the group each
 * key's values are combined, in key order, into the partition's pair
 * vector. The result is the same as sorting the group's pairs stably and
 * combining each run of equal keys, with a few key_cmp calls per pair
 * instead of a sort.
 */
#include <errno.h>
#include <string.h>

#include "det/mapreduce/mr.h"

#define NIL UINT32_MAX

struct mr_gkey {
	void *key;
	uint32_t head, tail;   /* first and last value (indices into gvals) */
	uint32_t n;            /* values */
};

static int grow(void **p, size_t *cap, size_t elem)
{
	size_t nc = *cap ? *cap * 2 : 16;
	void *q = dsm__mr_scratch_realloc(*p, nc * elem);

	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

/* Index of key in g, or -(insertion point) - 1. */
static long find(const struct mr_group *g, const void *key, key_cmp_t cmp)
{
	long lo = 0, hi = (long)g->nk - 1;
	int c;

	if (g->nk == 0)
		return -1;
	c = cmp(g->k[hi].key, key); /* emits often come in key order */
	if (c == 0)
		return hi;
	if (c < 0)
		return -(long)g->nk - 1;
	hi--;
	while (lo <= hi) {
		long mid = (lo + hi) / 2;
		c = cmp(g->k[mid].key, key);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

int dsm__mr_group_add(struct mr_group *g, struct mr_gvals *gv, void *key, void *val,
		      key_cmp_t cmp)
{
	long i = find(g, key, cmp);
	uint32_t v = (uint32_t)gv->n;

	if (gv->n == gv->cap && grow((void **)&gv->v, &gv->cap, sizeof(*gv->v)) < 0)
		return -ENOMEM;
	gv->v[v].val = val;
	gv->v[v].next = NIL;
	gv->n++;
	if (i >= 0) {
		gv->v[g->k[i].tail].next = v;
		g->k[i].tail = v;
		g->k[i].n++;
		return 0;
	}
	i = -i - 1;
	if (g->nk == g->capk && grow((void **)&g->k, &g->capk, sizeof(*g->k)) < 0)
		return -ENOMEM;
	memmove(g->k + i + 1, g->k + i, (g->nk - (size_t)i) * sizeof(*g->k));
	g->k[i] = (struct mr_gkey){ key, v, v, 1 };
	g->nk++;
	return 0;
}

int dsm__mr_group_flush(struct mr_group *g, struct mr_gvals *gv, struct mr_vec *out,
			combiner_t comb)
{
	for (size_t i = 0; i < g->nk; i++) {
		struct iterator_t it;
		size_t n = 0;
		if (g->k[i].n > gv->tmpcap) {
			void *p = dsm__mr_scratch_realloc(gv->tmp, g->k[i].n * sizeof(keyval_t));
			if (!p)
				return -ENOMEM;
			gv->tmp = p;
			gv->tmpcap = g->k[i].n;
		}
		for (uint32_t v = g->k[i].head; v != NIL; v = gv->v[v].next)
			gv->tmp[n++] = (keyval_t){ g->k[i].key, gv->v[v].val };
		it = (struct iterator_t){ gv->tmp, (int)n, 0 };
		if (dsm__mr_push(out, g->k[i].key, comb(&it)) < 0)
			return -ENOMEM;
	}
	g->nk = 0;
	return 0;
}
