/*
 * tape.c — the tape algebra (include/dsm_tape.h, docs/tapes.md): tapes as
 * sorted sets of events, extents as sorted sets of values, union,
 * difference, projection, pruning and the wire form. Pure: no node, no
 * locks; recording and applying are in rec.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "internal.h"

/* Events are kept sorted by (page, node, interval), without duplicates. */
static int ev_cmp(const struct dsm_tape_event *a, const struct dsm_tape_event *b)
{
	if (a->page != b->page)
		return a->page < b->page ? -1 : 1;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->interval != b->interval)
		return a->interval < b->interval ? -1 : 1;
	return 0;
}

static int ev_qcmp(const void *a, const void *b)
{
	return ev_cmp(a, b);
}

static int u32_qcmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int reserve_ev(struct dsm_tape *t, size_t need)
{
	struct dsm_tape_event *v;
	size_t cap;

	if (need <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 16;
	while (cap < need)
		cap *= 2;
	if (!(v = realloc(t->ev, cap * sizeof(*v))))
		return -ENOMEM;
	t->ev = v;
	t->cap = cap;
	return 0;
}

dsm_tape_t *dsm_tape_new(void)
{
	struct dsm_tape *t = calloc(1, sizeof(*t));

	if (!t)
		errno = ENOMEM;
	return t;
}

void dsm_tape_free(dsm_tape_t *t)
{
	if (!t)
		return;
	if (t->recording)
		dsm__tape_rec_cancel(t);
	free(t->ev);
	free(t);
}

/* Sort and deduplicate events appended out of order. */
int dsm__tape_normalize(struct dsm_tape *t)
{
	size_t k = 0;

	if (!t->n)
		return 0;
	qsort(t->ev, t->n, sizeof(*t->ev), ev_qcmp);
	for (size_t i = 0; i < t->n; i++)
		if (!k || ev_cmp(&t->ev[k - 1], &t->ev[i]))
			t->ev[k++] = t->ev[i];
	t->n = k;
	return 0;
}

/* Append without keeping the order (dsm__tape_normalize afterwards). */
int dsm__tape_append(struct dsm_tape *t, uint32_t interval, uint32_t page, uint32_t node)
{
	if (reserve_ev(t, t->n + 1))
		return -ENOMEM;
	t->ev[t->n++] = (struct dsm_tape_event){ interval, page, node };
	return 0;
}

int dsm_tape_add_event(dsm_tape_t *t, uint32_t interval, uint32_t page, uint32_t node)
{
	struct dsm_tape_event e = { interval, page, node };
	size_t lo = 0, hi;

	if (!t)
		return -EINVAL;
	if (t->recording)
		return -EBUSY;
	hi = t->n;
	while (lo < hi) { /* first event >= e */
		size_t mid = lo + (hi - lo) / 2;
		if (ev_cmp(&t->ev[mid], &e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n && !ev_cmp(&t->ev[lo], &e))
		return 0;
	if (reserve_ev(t, t->n + 1))
		return -ENOMEM;
	memmove(t->ev + lo + 1, t->ev + lo, (t->n - lo) * sizeof(e));
	t->ev[lo] = e;
	t->n++;
	return 0;
}

size_t dsm_tape_count(const dsm_tape_t *t)
{
	return t && !t->recording ? t->n : 0;
}

int dsm_tape_event(const dsm_tape_t *t, size_t i, struct dsm_tape_event *ev)
{
	if (!t || !ev)
		return -EINVAL;
	if (t->recording)
		return -EBUSY;
	if (i >= t->n)
		return -ERANGE;
	*ev = t->ev[i];
	return 0;
}

/* dst = dst op src over two sorted sets: union (keep_b 1) or difference
 * (keep_b 0: events of dst not in src). */
static int merge(struct dsm_tape *dst, const struct dsm_tape *src, int keep_b)
{
	struct dsm_tape_event *out;
	size_t i = 0, j = 0, k = 0;

	if (!dst || !src)
		return -EINVAL;
	if (dst->recording || src->recording)
		return -EBUSY;
	if (!src->n)
		return 0;
	if (!(out = malloc((dst->n + (keep_b ? src->n : 0) + 1) * sizeof(*out))))
		return -ENOMEM;
	while (i < dst->n || j < src->n) {
		int c = i == dst->n ? 1 : j == src->n ? -1 : ev_cmp(&dst->ev[i], &src->ev[j]);
		if (c < 0) {
			out[k++] = dst->ev[i++];
		} else if (c > 0) {
			if (keep_b)
				out[k++] = src->ev[j];
			j++;
		} else {
			if (keep_b)
				out[k++] = dst->ev[i];
			i++;
			j++;
		}
	}
	free(dst->ev);
	dst->ev = out;
	dst->n = k;
	dst->cap = dst->n + (keep_b ? src->n : 0) + 1;
	if (dst->cap < k)
		dst->cap = k;
	return 0;
}

int dsm_tape_add(dsm_tape_t *dst, const dsm_tape_t *src)
{
	return merge(dst, src, 1);
}

int dsm_tape_subtract(dsm_tape_t *dst, const dsm_tape_t *src)
{
	return merge(dst, src, 0);
}

static uint32_t ev_value(const struct dsm_tape_event *e, enum dsm_tape_dim dim)
{
	return dim == DSM_TAPE_PAGES ? e->page
	     : dim == DSM_TAPE_NODES ? e->node : e->interval;
}

static int dim_ok(enum dsm_tape_dim dim)
{
	return dim == DSM_TAPE_PAGES || dim == DSM_TAPE_INTERVALS || dim == DSM_TAPE_NODES;
}

/* --- extents --- */

dsm_extent_t *dsm_extent_new(enum dsm_tape_dim dim)
{
	struct dsm_extent *e;

	if (!dim_ok(dim)) {
		errno = EINVAL;
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e)))) {
		errno = ENOMEM;
		return NULL;
	}
	e->dim = dim;
	return e;
}

void dsm_extent_free(dsm_extent_t *e)
{
	if (e)
		free(e->v);
	free(e);
}

static size_t ext_lower(const struct dsm_extent *e, uint32_t v)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->v[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int ext_reserve(struct dsm_extent *e, size_t need)
{
	uint32_t *v;
	size_t cap;

	if (need <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 16;
	while (cap < need)
		cap *= 2;
	if (!(v = realloc(e->v, cap * sizeof(*v))))
		return -ENOMEM;
	e->v = v;
	e->cap = cap;
	return 0;
}

int dsm_extent_add(dsm_extent_t *e, uint32_t v)
{
	size_t i;

	if (!e)
		return -EINVAL;
	i = ext_lower(e, v);
	if (i < e->n && e->v[i] == v)
		return 0;
	if (ext_reserve(e, e->n + 1))
		return -ENOMEM;
	memmove(e->v + i + 1, e->v + i, (e->n - i) * sizeof(*e->v));
	e->v[i] = v;
	e->n++;
	return 0;
}

enum dsm_tape_dim dsm_extent_dim(const dsm_extent_t *e)
{
	return e ? e->dim : 0;
}

size_t dsm_extent_count(const dsm_extent_t *e)
{
	return e ? e->n : 0;
}

uint32_t dsm_extent_value(const dsm_extent_t *e, size_t i)
{
	return e && i < e->n ? e->v[i] : 0;
}

int dsm_extent_contains(const dsm_extent_t *e, uint32_t v)
{
	size_t i;

	if (!e)
		return 0;
	i = ext_lower(e, v);
	return i < e->n && e->v[i] == v;
}

dsm_extent_t *dsm_tape_project(const dsm_tape_t *t, enum dsm_tape_dim dim)
{
	struct dsm_extent *e;
	size_t k = 0;

	if (!t || t->recording || !dim_ok(dim)) {
		errno = EINVAL;
		return NULL;
	}
	if (!(e = dsm_extent_new(dim)))
		return NULL;
	if (t->n && ext_reserve(e, t->n)) {
		dsm_extent_free(e);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		e->v[i] = ev_value(&t->ev[i], dim);
	if (t->n)
		qsort(e->v, t->n, sizeof(*e->v), u32_qcmp);
	for (size_t i = 0; i < t->n; i++)
		if (!k || e->v[k - 1] != e->v[i])
			e->v[k++] = e->v[i];
	e->n = k;
	return e;
}

int dsm_tape_prune(dsm_tape_t *t, const dsm_extent_t *e)
{
	size_t k = 0;

	if (!t || !e)
		return -EINVAL;
	if (t->recording)
		return -EBUSY;
	for (size_t i = 0; i < t->n; i++)
		if (dsm_extent_contains(e, ev_value(&t->ev[i], e->dim)))
			t->ev[k++] = t->ev[i];
	t->n = k;
	return 0;
}

/* --- wire form --- */

size_t dsm_tape_encode(const dsm_tape_t *t, void *buf, size_t cap)
{
	size_t n = t && !t->recording ? t->n : 0, need = 4 + 12 * n;
	unsigned char *p = buf;

	if (!p || cap < need)
		return need;
	dsm__put_le32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		dsm__put_le32(p + 4 + 12 * i, t->ev[i].interval);
		dsm__put_le32(p + 8 + 12 * i, t->ev[i].page);
		dsm__put_le32(p + 12 + 12 * i, t->ev[i].node);
	}
	return need;
}

dsm_tape_t *dsm_tape_decode(const void *buf, size_t len, uint32_t max_page,
			    uint32_t max_node)
{
	const unsigned char *p = buf;
	struct dsm_tape *t;
	uint32_t n;

	if (!p || len < 4 || (n = dsm__get_le32(p), (len - 4) / 12 != n || (len - 4) % 12)) {
		errno = EPROTO;
		return NULL;
	}
	if (!(t = dsm_tape_new()))
		return NULL;
	if (reserve_ev(t, n)) {
		dsm_tape_free(t);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct dsm_tape_event e = { dsm__get_le32(p + 4 + 12 * (size_t)i),
					    dsm__get_le32(p + 8 + 12 * (size_t)i),
					    dsm__get_le32(p + 12 + 12 * (size_t)i) };
		if ((max_page && e.page >= max_page) || (max_node && e.node >= max_node)) {
			dsm_tape_free(t);
			errno = EPROTO;
			return NULL;
		}
		t->ev[t->n++] = e;
	}
	dsm__tape_normalize(t);
	return t;
}
