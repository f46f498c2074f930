/*
 * heap.c — the pure parts of the collector (gc.h): a node's arena cut
 * into 64 KiB chunks, each holding objects of one power-of-two size class
 * or part of one large object; the object table (per chunk, private to
 * the owner); sets of addresses; reference layouts of types.
 *
 * Any byte of an object leads to it: the chunk gives the class, the
 * offset in the chunk the slot (or, for a large object, the chunk its
 * first chunk). Freed slots go to their class's free stack and are reused
 * first, so a program whose live data is bounded uses a bounded arena.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gc.h"

int gc_heap_init(struct gc_heap *h, void *base, size_t size)
{
	memset(h, 0, sizeof(*h));
	h->base = base;
	h->size = size / GC_CHUNK * GC_CHUNK;
	h->nchunks = (uint32_t)(h->size / GC_CHUNK);
	if (!h->nchunks)
		return -EINVAL;
	h->ch = calloc(h->nchunks, sizeof(*h->ch));
	return h->ch ? 0 : -ENOMEM;
}

void gc_heap_fini(struct gc_heap *h)
{
	for (uint32_t c = 0; h->ch && c < h->nchunks; c++)
		free(h->ch[c].objs);
	free(h->ch);
	for (int k = 0; k < GC_NCLASS; k++)
		free(h->free[k]);
	memset(h, 0, sizeof(*h));
}

static int push_free(struct gc_heap *h, int k, uint32_t id)
{
	if (h->nfree[k] == h->capfree[k]) {
		size_t cap = h->capfree[k] ? 2 * h->capfree[k] : 256;
		uint32_t *v = realloc(h->free[k], cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->free[k] = v;
		h->capfree[k] = cap;
	}
	h->free[k][h->nfree[k]++] = id;
	return 0;
}

/* First run of span free chunks, or -ENOMEM. */
static long find_chunks(struct gc_heap *h, uint32_t span)
{
	for (uint32_t c = 0, run = 0; c < h->nchunks; c++) {
		run = h->ch[c].kind == GC_CH_FREE ? run + 1 : 0;
		if (run == span)
			return (long)(c + 1 - span);
	}
	return -ENOMEM;
}

/* Give a free chunk to class k and put its slots on the free stack
 * (highest first, so they are handed out in address order). */
static int grow_class(struct gc_heap *h, int k)
{
	long c = find_chunks(h, 1);
	uint32_t slot = 1u << (k + GC_MIN_SHIFT), n = (uint32_t)(GC_CHUNK / slot);
	struct gc_chunk *ch;

	if (c < 0)
		return (int)c;
	ch = &h->ch[c];
	if (!(ch->objs = calloc(n, sizeof(*ch->objs))))
		return -ENOMEM;
	for (uint32_t s = n; s-- > 0;)
		if (push_free(h, k, (uint32_t)c << 12 | s))
			return -ENOMEM; /* the chunk stays free; its slots pushed so far are harmless */
	ch->kind = GC_CH_SMALL;
	ch->cls = (uint8_t)k;
	ch->nslots = n;
	h->chunks_used++;
	return 0;
}

static long alloc_large(struct gc_heap *h, size_t bytes, uint16_t type)
{
	uint32_t span = (uint32_t)((bytes + GC_CHUNK - 1) / GC_CHUNK);
	long c = find_chunks(h, span);
	struct gc_chunk *ch;

	if (c < 0)
		return c;
	ch = &h->ch[c];
	if (!(ch->objs = calloc(1, sizeof(*ch->objs))))
		return -ENOMEM;
	ch->kind = GC_CH_LARGE;
	ch->span = span;
	ch->nslots = 1;
	for (uint32_t i = 1; i < span; i++)
		h->ch[c + i] = (struct gc_chunk){ .kind = GC_CH_CONT, .head = (uint32_t)c };
	ch->objs[0] = (struct gc_obj){ .bytes = bytes, .type = type, .live = 1 };
	h->chunks_used += span;
	h->live_objects++;
	h->live_bytes += bytes;
	return (long)((size_t)c * GC_CHUNK);
}

long gc_heap_alloc(struct gc_heap *h, size_t bytes, uint16_t type)
{
	int k = 0;
	uint32_t id;
	struct gc_obj *o;

	if (!bytes)
		return -EINVAL;
	if (bytes > GC_CHUNK / 2)
		return alloc_large(h, bytes, type);
	while (((size_t)1 << (k + GC_MIN_SHIFT)) < bytes)
		k++;
	if (!h->nfree[k] && grow_class(h, k))
		return -ENOMEM;
	id = h->free[k][--h->nfree[k]];
	o = &h->ch[id >> 12].objs[id & 0xfff];
	*o = (struct gc_obj){ .bytes = bytes, .type = type, .live = 1 };
	h->live_objects++;
	h->live_bytes += bytes;
	return (long)((size_t)(id >> 12) * GC_CHUNK + ((size_t)(id & 0xfff) << (k + GC_MIN_SHIFT)));
}

struct gc_obj *gc_heap_find(struct gc_heap *h, uint64_t off, uint64_t *start)
{
	uint32_t c;
	struct gc_chunk *ch;
	struct gc_obj *o;

	if (off >= h->size)
		return NULL;
	c = (uint32_t)(off / GC_CHUNK);
	ch = &h->ch[c];
	if (ch->kind == GC_CH_CONT) {
		c = ch->head;
		ch = &h->ch[c];
	}
	if (ch->kind == GC_CH_LARGE) {
		o = &ch->objs[0];
		if (!o->live || off >= (uint64_t)c * GC_CHUNK + o->bytes)
			return NULL;
		*start = (uint64_t)c * GC_CHUNK;
		return o;
	}
	if (ch->kind != GC_CH_SMALL)
		return NULL;
	unsigned sh = ch->cls + GC_MIN_SHIFT;
	uint64_t in = off - (uint64_t)c * GC_CHUNK, s = in >> sh;
	o = &ch->objs[s];
	if (!o->live || in - (s << sh) >= o->bytes)
		return NULL; /* free slot, or the padding after the object */
	*start = (uint64_t)c * GC_CHUNK + (s << sh);
	return o;
}

void gc_heap_free(struct gc_heap *h, uint64_t off)
{
	uint32_t c = (uint32_t)(off / GC_CHUNK);
	struct gc_chunk *ch = &h->ch[c];

	if (ch->kind == GC_CH_LARGE) {
		h->live_objects--;
		h->live_bytes -= ch->objs[0].bytes;
		h->chunks_used -= ch->span;
		for (uint32_t i = 1; i < ch->span; i++)
			h->ch[c + i] = (struct gc_chunk){ 0 };
		free(ch->objs);
		*ch = (struct gc_chunk){ 0 };
		return;
	}
	unsigned sh = ch->cls + GC_MIN_SHIFT;
	uint32_t s = (uint32_t)((off - (uint64_t)c * GC_CHUNK) >> sh);
	struct gc_obj *o = &ch->objs[s];

	h->live_objects--;
	h->live_bytes -= o->bytes;
	*o = (struct gc_obj){ 0 };
	/* Cannot fail for want of memory: the stack held this slot before. */
	(void)push_free(h, ch->cls, c << 12 | s);
}

void gc_heap_each(struct gc_heap *h, void (*fn)(void *arg, uint64_t off, struct gc_obj *o),
		  void *arg)
{
	for (uint32_t c = 0; c < h->nchunks; c++) {
		struct gc_chunk *ch = &h->ch[c];
		if (ch->kind == GC_CH_LARGE && ch->objs[0].live)
			fn(arg, (uint64_t)c * GC_CHUNK, &ch->objs[0]);
		if (ch->kind != GC_CH_SMALL)
			continue;
		for (uint32_t s = 0; s < ch->nslots; s++)
			if (ch->objs[s].live)
				fn(arg, (uint64_t)c * GC_CHUNK + ((uint64_t)s << (ch->cls + GC_MIN_SHIFT)),
				   &ch->objs[s]);
	}
}

struct sweep { struct gc_heap *h; uint64_t objects, bytes; };

static void sweep_one(void *arg, uint64_t off, struct gc_obj *o)
{
	struct sweep *sw = arg;

	if (o->mark || o->rc || __atomic_load_n(&o->esc, __ATOMIC_RELAXED)) {
		o->mark = 0;
		return;
	}
	sw->objects++;
	sw->bytes += o->bytes;
	gc_heap_free(sw->h, off);
}

void gc_heap_sweep(struct gc_heap *h, uint64_t *objects, uint64_t *bytes)
{
	struct sweep sw = { h, 0, 0 };

	gc_heap_each(h, sweep_one, &sw);
	*objects += sw.objects;
	*bytes += sw.bytes;
}

/* ---- sets of addresses (open addressing, linear probing) ---------------- */

static size_t slot_of(uint64_t x, size_t cap)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

static int set_grow(struct gc_set *s)
{
	struct gc_set t = { .cap = s->cap ? 2 * s->cap : 64 };
	uint64_t x;

	if (!(t.v = calloc(t.cap, sizeof(*t.v))))
		return -ENOMEM;
	for (size_t i = 0; gc_set_next(s, &i, &x);) {
		size_t j = slot_of(x, t.cap);
		while (t.v[j])
			j = (j + 1) & (t.cap - 1);
		t.v[j] = x;
		t.n++;
	}
	free(s->v);
	*s = t;
	return 0;
}

int gc_set_add(struct gc_set *s, uint64_t x)
{
	size_t j;

	if ((s->n + 1) * 2 > s->cap && set_grow(s))
		return -ENOMEM;
	for (j = slot_of(x, s->cap); s->v[j]; j = (j + 1) & (s->cap - 1))
		if (s->v[j] == x)
			return 0;
	s->v[j] = x;
	s->n++;
	return 1;
}

int gc_set_has(const struct gc_set *s, uint64_t x)
{
	if (!s->cap)
		return 0;
	for (size_t j = slot_of(x, s->cap); s->v[j]; j = (j + 1) & (s->cap - 1))
		if (s->v[j] == x)
			return 1;
	return 0;
}

void gc_set_clear(struct gc_set *s)
{
	if (s->v)
		memset(s->v, 0, s->cap * sizeof(*s->v));
	s->n = 0;
}

void gc_set_free(struct gc_set *s)
{
	free(s->v);
	*s = (struct gc_set){ 0 };
}

int gc_set_next(const struct gc_set *s, size_t *i, uint64_t *x)
{
	while (*i < s->cap) {
		uint64_t v = s->v[(*i)++];
		if (v) {
			*x = v;
			return 1;
		}
	}
	return 0;
}

/* ---- reference layouts --------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int gc_layout_build(struct gc_layout *out, size_t size, const struct dsm_field *f,
		    size_t nf, const struct gc_layout *tab, size_t ntab)
{
	size_t n = 0, at = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < nf; i++) {
		if (f[i].kind == DSM_FIELD_PTR)
			n += f[i].count;
		else if (f[i].kind == DSM_FIELD_RECORD) {
			if (f[i].record <= 0 || (size_t)f[i].record >= ntab ||
			    !tab[f[i].record].size)
				return -EINVAL;
			n += f[i].count * tab[f[i].record].nptr;
		}
	}
	out->size = (uint32_t)size;
	if (!n)
		return 0;
	if (!(out->ptr = malloc(n * sizeof(*out->ptr))))
		return -ENOMEM;
	for (size_t i = 0; i < nf; i++) {
		for (size_t e = 0; f[i].kind == DSM_FIELD_PTR && e < f[i].count; e++)
			out->ptr[at++] = (uint32_t)(f[i].offset + 8 * e);
		if (f[i].kind != DSM_FIELD_RECORD)
			continue;
		const struct gc_layout *r = &tab[f[i].record];
		for (size_t e = 0; e < f[i].count; e++)
			for (uint32_t k = 0; k < r->nptr; k++)
				out->ptr[at++] = (uint32_t)(f[i].offset + e * r->size + r->ptr[k]);
	}
	out->nptr = (uint32_t)n;
	qsort(out->ptr, n, sizeof(*out->ptr), cmp_u32);
	return 0;
}

void gc_layout_free(struct gc_layout *l)
{
	free(l->ptr);
	memset(l, 0, sizeof(*l));
}
