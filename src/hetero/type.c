/*
 * type.c — compiled type layouts and byte-order conversion (type.h).
 *
 * A type is flattened once, at registration, into swap runs: (offset,
 * width, count) for every field wider than a byte, nested records and
 * arrays of them expanded, adjacent runs of one width merged. Converting
 * a range of a typed block then walks the objects that overlap it and
 * swaps each field that lies wholly inside; a type whose bytes are all
 * fields of one width (a record of doubles) is swapped as a flat array.
 * Fields are naturally aligned and blocks page aligned, so no field
 * crosses a page boundary (objects may).
 */
#include "hetero/type.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "vm/diff.h"

#define MAX_OPS 4096 /* flattened runs per type */

/* Element width and alignment of a field kind (RECORD: 0). */
static uint32_t kind_width(enum dsm_field_kind k)
{
	switch (k) {
	case DSM_FIELD_I8: case DSM_FIELD_U8: case DSM_FIELD_BOOL: case DSM_FIELD_CHAR:
		return 1;
	case DSM_FIELD_I16: case DSM_FIELD_U16:
		return 2;
	case DSM_FIELD_I32: case DSM_FIELD_U32: case DSM_FIELD_FLOAT:
		return 4;
	case DSM_FIELD_I64: case DSM_FIELD_U64: case DSM_FIELD_DOUBLE: case DSM_FIELD_PTR:
		return 8;
	default:
		return 0;
	}
}

/* Append a run, merging with the previous one when contiguous. */
static int push_op(struct dsm_swap_op *ops, uint32_t *n, uint32_t off, uint32_t w,
		   uint32_t count)
{
	if (*n > 0) {
		struct dsm_swap_op *l = &ops[*n - 1];
		if (l->width == w && l->off + l->width * l->count == off) {
			l->count += count;
			return 0;
		}
	}
	if (*n == MAX_OPS)
		return -ENOSPC;
	ops[(*n)++] = (struct dsm_swap_op){ off, w, count };
	return 0;
}

static int op_cmp(const void *a, const void *b)
{
	const struct dsm_swap_op *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* 64-bit FNV-1a step over a value. */
static uint64_t fnv(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Check one field against the record; returns its alignment or 0 with
 * *why set. */
static uint32_t check_field(const struct dsm_type_reg *r, size_t size,
			    const struct dsm_field *f, const char **why)
{
	const struct dsm_ctype *sub = NULL;
	uint32_t w = kind_width(f->kind), a = w;

	if (f->kind == DSM_FIELD_RECORD) {
		sub = dsm__type_get(r, f->record);
		if (!sub) {
			*why = "nested record of an unknown type";
			return 0;
		}
		w = sub->size;
		a = sub->align;
	} else if (w == 0) {
		*why = "unknown field kind";
		return 0;
	}
	if (f->count == 0 || f->count > size || f->offset > size ||
	    (uint64_t)w * f->count > size - f->offset) {
		*why = "field outside the record";
		return 0;
	}
	if (f->offset % a) {
		*why = "field not naturally aligned";
		return 0;
	}
	return a;
}

/* Flatten the fields into ops (unsorted); sets t->align. */
static int flatten(const struct dsm_type_reg *r, struct dsm_ctype *t,
		   const struct dsm_field *f, size_t nf, struct dsm_swap_op *ops,
		   uint32_t *n, const char **why)
{
	t->align = 1;
	for (size_t i = 0; i < nf; i++) {
		uint32_t a = check_field(r, t->size, &f[i], why);
		if (!a)
			return -EINVAL;
		if (a > t->align)
			t->align = a;
		if (f[i].kind != DSM_FIELD_RECORD) {
			uint32_t w = kind_width(f[i].kind);
			if (w > 1 && push_op(ops, n, (uint32_t)f[i].offset, w,
					     (uint32_t)f[i].count))
				goto too_many;
			continue;
		}
		const struct dsm_ctype *sub = dsm__type_get(r, f[i].record);
		for (size_t e = 0; e < f[i].count; e++)
			for (uint32_t k = 0; k < sub->nops; k++) {
				const struct dsm_swap_op *s = &sub->ops[k];
				uint32_t base = (uint32_t)(f[i].offset + e * sub->size);
				if (push_op(ops, n, base + s->off, s->width, s->count))
					goto too_many;
			}
	}
	return 0;
too_many:
	*why = "record has too many fields";
	return -EINVAL;
}

/* Sort, merge and check for overlap; compute uniform and fingerprint. */
static int finish(struct dsm_ctype *t, struct dsm_swap_op *ops, uint32_t n,
		  const char **why)
{
	uint32_t m = 0, covered = 0;

	qsort(ops, n, sizeof(*ops), op_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (m > 0 && ops[m - 1].off + ops[m - 1].width * ops[m - 1].count > ops[i].off) {
			*why = "fields overlap";
			return -EINVAL;
		}
		push_op(ops, &m, ops[i].off, ops[i].width, ops[i].count);
	}
	t->ops = malloc((m ? m : 1) * sizeof(*ops));
	if (!t->ops)
		return -ENOMEM;
	memcpy(t->ops, ops, m * sizeof(*ops));
	t->nops = m;
	t->fingerprint = fnv(0xcbf29ce484222325ull, t->size);
	for (uint32_t i = 0; i < m; i++) {
		t->fingerprint = fnv(fnv(fnv(t->fingerprint, ops[i].off), ops[i].width),
				     ops[i].count);
		covered += ops[i].width * ops[i].count;
	}
	t->uniform = (m == 1 && covered == t->size && t->size % ops[0].width == 0)
			     ? ops[0].width : 0;
	return 0;
}

int dsm__type_add(struct dsm_type_reg *r, const char *name, size_t size,
		  const struct dsm_field *f, size_t nf, const char **why)
{
	struct dsm_swap_op *ops;
	struct dsm_ctype *t;
	uint32_t n = 0;
	int err;

	*why = NULL;
	if (r->count + 1 >= DSM_TYPE_MAX) {
		*why = "too many types";
		return -ENOSPC;
	}
	if (size == 0 || size > (1u << 24) || (nf && !f)) {
		*why = "bad record size or field list";
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	ops = malloc(MAX_OPS * sizeof(*ops));
	if (!t || !ops) {
		free(t);
		free(ops);
		return -ENOMEM;
	}
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "?");
	t->size = (uint32_t)size;
	err = flatten(r, t, f, nf, ops, &n, why);
	if (!err && size % t->align) {
		*why = "record size not a multiple of its alignment";
		err = -EINVAL;
	}
	if (!err)
		err = finish(t, ops, n, why);
	free(ops);
	if (err) {
		free(t);
		return err;
	}
	r->t[r->count + 1] = t; /* readers see the type before its id */
	__atomic_store_n(&r->count, r->count + 1, __ATOMIC_RELEASE);
	return r->count;
}

void dsm__type_reg_free(struct dsm_type_reg *r)
{
	for (int i = 1; i <= r->count; i++) {
		free(r->t[i]->ops);
		free(r->t[i]);
		r->t[i] = NULL;
	}
	r->count = 0;
}

void dsm__type_reg_pop(struct dsm_type_reg *r)
{
	if (r->count > 0) {
		free(r->t[r->count]->ops);
		free(r->t[r->count]);
		r->t[r->count--] = NULL;
	}
}

const struct dsm_ctype *dsm__type_get(const struct dsm_type_reg *r, int id)
{
	return id > 0 && id <= __atomic_load_n(&r->count, __ATOMIC_ACQUIRE) ? r->t[id]
									      : NULL;
}

/* ------------------------------------------------------------------ */
/* swapping                                                            */

/* n 8-byte swaps: the bulk of a page of doubles. On x86-64 a clone for
 * AVX2 (and one for SSSE3) lets the compiler vectorize it with byte
 * shuffles; baseline x86-64 (SSE2) has none. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "ssse3", "default"), optimize("tree-vectorize")))
#endif
static void swap8(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, p + 8 * i, 8);
		v = __builtin_bswap64(v);
		memcpy(p + 8 * i, &v, 8);
	}
}

static void swap_n(unsigned char *p, uint32_t w, size_t n)
{
	switch (w) {
	case 8:
		swap8(p, n);
		break;
	case 4:
		for (size_t i = 0; i < n; i++) {
			uint32_t v;
			memcpy(&v, p + 4 * i, 4);
			v = __builtin_bswap32(v);
			memcpy(p + 4 * i, &v, 4);
		}
		break;
	case 2:
		for (size_t i = 0; i < n; i++) {
			uint16_t v;
			memcpy(&v, p + 2 * i, 2);
			v = __builtin_bswap16(v);
			memcpy(p + 2 * i, &v, 2);
		}
		break;
	}
}

/* Swap the elements of run op of the object at block byte obj that lie
 * wholly in [lo, hi) (block bytes; data[0] is block byte lo0). Returns
 * the number of elements cut by lo or hi. */
static size_t swap_op_in(const struct dsm_swap_op *op, uint64_t obj, uint64_t lo,
			 uint64_t hi, unsigned char *data, uint64_t lo0)
{
	uint64_t s = obj + op->off, e = s + (uint64_t)op->width * op->count;
	uint64_t a = s > lo ? s : lo, b = e < hi ? e : hi;
	size_t cut = 0;

	if (a >= b)
		return 0;
	uint64_t fa = s + (a - s + op->width - 1) / op->width * op->width; /* first whole */
	uint64_t fb = s + (b - s) / op->width * op->width;                 /* end of whole */
	cut += fa != a;
	cut += fb != b;
	if (fb > fa)
		swap_n(data + (fa - lo0), op->width, (size_t)((fb - fa) / op->width));
	return cut;
}

size_t dsm__type_swap(const struct dsm_ctype *t, uint64_t rel, void *data,
		      size_t len, uint64_t limit)
{
	uint64_t lo = rel, hi = rel + len;
	size_t cut = 0;

	if (hi > limit)
		hi = limit;
	if (lo >= hi)
		return 0;
	if (t->uniform) {
		uint64_t w = t->uniform;
		uint64_t fa = (lo + w - 1) / w * w, fb = hi / w * w;
		if (fb > fa)
			swap_n((unsigned char *)data + (fa - lo), (uint32_t)w,
			       (size_t)((fb - fa) / w));
		return (fa != lo) + (fb != hi);
	}
	for (uint64_t obj = lo / t->size * t->size; obj < hi; obj += t->size) {
		if (obj >= lo && obj + t->size <= hi) { /* whole object: no clipping */
			unsigned char *o = (unsigned char *)data + (obj - lo);
			for (uint32_t k = 0; k < t->nops; k++)
				swap_n(o + t->ops[k].off, t->ops[k].width, t->ops[k].count);
			continue;
		}
		for (uint32_t k = 0; k < t->nops; k++)
			cut += swap_op_in(&t->ops[k], obj, lo, hi, data, rel);
	}
	return cut;
}

/* Start of the field holding block byte x, or x if no field holds it;
 * *end gets the end of that field (x + 1 if none). */
static uint64_t field_at(const struct dsm_ctype *t, uint64_t x, uint64_t *end)
{
	uint64_t obj = x / t->size * t->size, o = x - obj;

	for (uint32_t k = 0; k < t->nops; k++) {
		const struct dsm_swap_op *op = &t->ops[k];
		if (o < op->off || o >= op->off + (uint64_t)op->width * op->count)
			continue;
		uint64_t s = obj + op->off + (o - op->off) / op->width * op->width;
		*end = s + op->width;
		return s;
	}
	*end = x + 1;
	return x;
}

void dsm__type_widen(const struct dsm_ctype *t, uint64_t *lo, uint64_t *hi,
		     uint64_t limit)
{
	uint64_t e;

	if (*lo >= *hi || *lo >= limit)
		return;
	*lo = field_at(t, *lo, &e);
	if (*hi - 1 < limit) {
		field_at(t, *hi - 1, &e);
		if (e > *hi)
			*hi = e;
	}
}

/* ------------------------------------------------------------------ */
/* diffs                                                               */

long dsm__type_diff_widen(const struct dsm_ctype *t, uint64_t rel, uint64_t limit,
			  const void *page, size_t page_size, const void *diff,
			  size_t len, void *out, size_t cap)
{
	const unsigned char *d = diff, *pg = page;
	unsigned char *o = out;
	uint32_t hdr, count, runs = 0;
	size_t at = 4, w = 4;
	uint64_t cur_lo = 0, cur_hi = 0;
	int have = 0;

	if (len < 4 || cap < 4)
		return -EINVAL;
	hdr = dsm__get_le32(d);
	if (hdr >> 24 != DSM_DIFF_MAGIC)
		return -EINVAL;
	count = hdr & 0xffffff;
	for (uint32_t i = 0; i <= count; i++) {
		uint64_t lo = 0, hi = 0;
		if (i < count) {
			if (at + 8 > len)
				return -EINVAL;
			lo = dsm__get_le32(d + at);
			hi = lo + dsm__get_le32(d + at + 4);
			at += 8 + (hi - lo);
			if (at > len || hi > page_size)
				return -EINVAL;
			lo += rel;
			hi += rel;
			dsm__type_widen(t, &lo, &hi, limit);
			if (lo < rel)
				lo = rel;
			if (hi > rel + page_size)
				hi = rel + page_size;
			if (have && lo <= cur_hi) { /* touches or overlaps: merge */
				if (hi > cur_hi)
					cur_hi = hi;
				continue;
			}
		}
		if (have) { /* flush the current run */
			size_t n = (size_t)(cur_hi - cur_lo);
			if (w + 8 + n > cap)
				return -ENOSPC;
			dsm__put_le32(o + w, (uint32_t)(cur_lo - rel));
			dsm__put_le32(o + w + 4, (uint32_t)n);
			memcpy(o + w + 8, pg + (cur_lo - rel), n);
			w += 8 + n;
			runs++;
		}
		cur_lo = lo;
		cur_hi = hi;
		have = 1;
	}
	if (at != len)
		return -EINVAL;
	dsm__put_le32(o, (uint32_t)DSM_DIFF_MAGIC << 24 | runs);
	return (long)w;
}

int dsm__type_diff_swap(const struct dsm_ctype *t, uint64_t rel, uint64_t limit,
			void *diff, size_t len, size_t page_size)
{
	unsigned char *d = diff;
	uint32_t hdr, count;
	size_t at = 4;

	if (len < 4)
		return -EINVAL;
	hdr = dsm__get_le32(d);
	if (hdr >> 24 != DSM_DIFF_MAGIC)
		return -EINVAL;
	count = hdr & 0xffffff;
	for (uint32_t i = 0; i < count; i++) {
		if (at + 8 > len)
			return -EINVAL;
		uint32_t off = dsm__get_le32(d + at), n = dsm__get_le32(d + at + 4);
		if ((uint64_t)off + n > page_size || at + 8 + n > len)
			return -EINVAL;
		if (dsm__type_swap(t, rel + off, d + at + 8, n, limit))
			return -EINVAL;
		at += 8 + n;
	}
	return at == len ? 0 : -EINVAL;
}
