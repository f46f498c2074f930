/*
 * heap.c — the arena of a deterministic context: the parent heap and one
 * sub-heap per slot, all inside the scope.
 *
 * Layout: [parent heap: first half][slot 0][slot 1]...[slot 62], each slot
 * (arena/2)/64 bytes. Space i of a round allocates from slot i. Every heap
 * keeps its state (bump offset, free lists) in a header at its own start,
 * inside the scope, so a child's allocations reach the parent through the
 * ordinary diff of the header page and of the blocks: no side channel, and
 * the addresses depend only on the order of allocations. A slot's header
 * persists across rounds, so later spaces on the slot never reuse memory
 * that an earlier space allocated and published.
 *
 * Blocks: a 16-byte header (usable size, tag) before the payload. Small
 * requests (<= 2048 bytes) use power-of-two classes with free lists; larger
 * ones are page aligned, rounded to pages and reused first-fit.
 *
 * Fresh zone: in a space, the part of its slot past the page-rounded bump
 * pointer at the start of the space has never been allocated, so it is
 * zero in the parent. The space writes it without faults or twins and
 * sends its pages whole, only up to the final bump pointer. A large block
 * it allocated there and frees again lowers the bump pointer when it is
 * the top block (a temporary is never sent), else its pages are dropped
 * with MADV_DONTNEED (they read as zero again, as in the parent). The
 * parent, between rounds, also gives top blocks of slot heaps back to the
 * bump pointer and drops their pages. So the parent's slot memory past
 * the page-rounded bump pointer is always zero.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "det/det.h"

#define HEAP_MAGIC 0x4445544845415031ull /* "DETHEAP1" */
#define NCLASS 8                          /* 16 .. 2048 */
#define MIN_CLASS_SHIFT 4
#define BLK_TAG 0xB10C0000u
#define LARGE_CLASS 0xffu

struct heap_hdr {
	uint64_t magic;
	uint64_t size;              /* bytes of this heap */
	uint64_t brk;               /* first unused offset */
	uint64_t free_small[NCLASS];/* heads (offsets of payloads), 0 = none */
	uint64_t free_large;
	uint64_t hwm;               /* highest brk ever: memory past it was
	                             * never allocated, so it is still zero */
};

struct blk_hdr {
	uint64_t size;              /* usable bytes */
	uint32_t tag;               /* BLK_TAG | class */
	uint32_t free;
};

static struct dsm_det *_Atomic cur_ctx; /* context dsm_det_malloc uses */
static struct dsm_det *open_list;       /* every open context */
static int cur_slot = -1;               /* -1: parent heap */
static int cur_space = DSM_DET_PARENT;
static unsigned char *fresh_lo;         /* in a space: its slot's fresh zone */

unsigned char *dsm__det_slot_base(const struct dsm_det *d, int slot)
{
	if (slot < 0)
		return d->arena;
	return d->arena + d->arena_size / 2 + (size_t)slot * d->slot_size;
}

/* First page of slot memory no allocation ever reached: past the
 * page-rounded bump pointer (the whole slot if its heap is not set up). */
static unsigned char *fresh_start(const struct dsm_det *d, int slot)
{
	const struct heap_hdr *h = (const struct heap_hdr *)dsm__det_slot_base(d, slot);
	uint64_t brk = h->magic == HEAP_MAGIC ? h->brk : 0;

	return (unsigned char *)h + ((brk + d->page - 1) & ~(uint64_t)(d->page - 1));
}

void dsm__det_heap_bind(struct dsm_det *d, int slot, int space_id)
{
	atomic_store(&cur_ctx, d);
	cur_slot = slot;
	cur_space = space_id;
	fresh_lo = slot >= 0 ? fresh_start(d, slot) : NULL;
}

void dsm__det_heap_fresh(unsigned char **lo, unsigned char **hi, unsigned char **top)
{
	struct dsm_det *d = atomic_load(&cur_ctx);

	*lo = *hi = *top = NULL;
	if (!d || cur_slot < 0 || !fresh_lo)
		return;
	*lo = fresh_lo;
	*hi = dsm__det_slot_base(d, cur_slot) + d->slot_size;
	*top = fresh_start(d, cur_slot);
	if (*top < *lo)
		*top = *lo;
}

void dsm__det_heap_unbind(struct dsm_det *d)
{
	struct dsm_det *expect = d;

	/* fall back to another open context, if any (unregister d first) */
	atomic_compare_exchange_strong(&cur_ctx, &expect, open_list);
	cur_slot = -1;
	cur_space = DSM_DET_PARENT;
	fresh_lo = NULL;
}

void dsm__det_register(struct dsm_det *d)
{
	d->next_open = open_list;
	open_list = d;
}

void dsm__det_unregister(struct dsm_det *d)
{
	for (struct dsm_det **l = &open_list; *l; l = &(*l)->next_open)
		if (*l == d) {
			*l = d->next_open;
			return;
		}
}

struct dsm_det *dsm__det_current(void)
{
	return atomic_load(&cur_ctx);
}

int dsm_det_self(void)
{
	return cur_space;
}

/* The heap of context d containing p, or NULL. */
static struct heap_hdr *heap_in(const struct dsm_det *d, const void *p)
{
	const unsigned char *a = p;
	size_t off;

	if (!d || a < d->arena || a >= d->arena + d->arena_size)
		return NULL;
	off = (size_t)(a - d->arena);
	if (off < d->arena_size / 2)
		return (struct heap_hdr *)d->arena;
	off -= d->arena_size / 2;
	if (off / d->slot_size >= DET_MAX_SLOTS)
		return NULL;
	return (struct heap_hdr *)dsm__det_slot_base(d, (int)(off / d->slot_size));
}

/* The heap containing p in any open context (the current one first);
 * *ctx (if not NULL) receives that context. */
static struct heap_hdr *heap_of(const void *p, struct dsm_det **ctx)
{
	struct dsm_det *d = atomic_load(&cur_ctx);
	struct heap_hdr *h = heap_in(d, p);

	for (struct dsm_det *o = open_list; !h && o; o = o->next_open)
		if ((h = heap_in(o, p)))
			d = o;
	if (ctx)
		*ctx = d;
	return h;
}

static struct heap_hdr *my_heap(struct dsm_det *d)
{
	struct heap_hdr *h = (struct heap_hdr *)dsm__det_slot_base(d, cur_slot);

	if (h->magic != HEAP_MAGIC) {
		memset(h, 0, sizeof(*h));
		h->magic = HEAP_MAGIC;
		h->size = cur_slot < 0 ? d->arena_size / 2 : d->slot_size;
		h->brk = (sizeof(*h) + 15) & ~(uint64_t)15;
	}
	return h;
}

static int size_class(size_t size)
{
	int c = 0;

	while (c < NCLASS && ((size_t)1 << (c + MIN_CLASS_SHIFT)) < size)
		c++;
	return c < NCLASS ? c : -1;
}

/* Carve a new block at the bump pointer. align is 16 or the page size. */
static void *bump(struct heap_hdr *h, size_t usable, size_t align, uint32_t cls)
{
	uint64_t pay = (h->brk + sizeof(struct blk_hdr) + align - 1) & ~(uint64_t)(align - 1);
	struct blk_hdr *b;

	if (pay + usable > h->size || pay + usable < pay)
		return NULL;
	h->brk = (pay + usable + 15) & ~(uint64_t)15;
	if (h->brk > h->hwm)
		h->hwm = h->brk;
	b = (struct blk_hdr *)((unsigned char *)h + pay - sizeof(*b));
	b->size = usable;
	b->tag = BLK_TAG | cls;
	b->free = 0;
	return (unsigned char *)h + pay;
}

static void *alloc_small(struct heap_hdr *h, int c)
{
	uint64_t head = h->free_small[c];

	if (head) {
		unsigned char *p = (unsigned char *)h + head;
		memcpy(&h->free_small[c], p, sizeof(uint64_t));
		((struct blk_hdr *)p - 1)->free = 0;
		return p;
	}
	return bump(h, (size_t)1 << (c + MIN_CLASS_SHIFT), 16, (uint32_t)c);
}

static void *alloc_large(struct heap_hdr *h, size_t size, size_t page)
{
	uint64_t *link = &h->free_large;
	size_t need = (size + page - 1) & ~(page - 1);

	while (*link) {
		unsigned char *p = (unsigned char *)h + *link;
		struct blk_hdr *b = (struct blk_hdr *)p - 1;
		if (b->size >= need) {
			memcpy(link, p, sizeof(uint64_t));
			b->free = 0;
			return p;
		}
		link = (uint64_t *)p;
	}
	return bump(h, need, page, LARGE_CLASS);
}

void *dsm_det_malloc(size_t size)
{
	struct dsm_det *d = atomic_load(&cur_ctx);
	struct heap_hdr *h;
	void *p;
	int c;

	if (!d) {
		errno = EINVAL;
		return NULL;
	}
	if (size == 0)
		size = 1;
	h = my_heap(d);
	c = size_class(size);
	p = (c >= 0 && size < d->page) ? alloc_small(h, c)
				       : alloc_large(h, size, d->page);
	if (!p) {
		errno = ENOMEM;
		if (cur_space != DSM_DET_PARENT)
			dsm__det_note_nomem(d, cur_slot, size, h->size);
	}
	return p;
}

void *dsm_det_calloc(size_t n, size_t size)
{
	struct dsm_det *d = atomic_load(&cur_ctx);
	uint64_t hwm;
	unsigned char *p;

	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	hwm = d ? my_heap(d)->hwm : 0;
	p = dsm_det_malloc(n * size);
	/* a block carved past the old high-water mark was never written:
	 * zero already, and not touching it keeps big blocks unbacked */
	if (p && (uint64_t)(p - (unsigned char *)my_heap(d)) < hwm)
		memset(p, 0, n * size);
	return p;
}

/* Lower h's bump pointer over the large block at p (its top block), then
 * over free large blocks that end where it now stops, as long as they lie
 * at or above floor. */
static void trim_top(struct heap_hdr *h, unsigned char *p, const unsigned char *floor)
{
	uint64_t *link;

	h->brk = (uint64_t)(p - (unsigned char *)h) - sizeof(struct blk_hdr);
	for (link = &h->free_large; *link;) {
		unsigned char *q = (unsigned char *)h + *link;
		struct blk_hdr *b = (struct blk_hdr *)q - 1;
		uint64_t end = ((uint64_t)(q - (unsigned char *)h) + b->size + 15) & ~(uint64_t)15;
		if (end != h->brk || q < floor) {
			link = (uint64_t *)q;
			continue;
		}
		memcpy(link, q, sizeof(uint64_t)); /* unlink, rescan */
		h->brk = (uint64_t)(q - (unsigned char *)h) - sizeof(struct blk_hdr);
		link = &h->free_large;
	}
}

/* A freed large block. At the top of a slot heap it goes back to the bump
 * pointer, keeping the parent's slot memory past the page-rounded bump
 * pointer zero (fresh zones rely on it): in a space, only blocks of its
 * fresh zone (it never sends pages above its final bump pointer); in the
 * parent, between rounds, and the pages given back are dropped (zero
 * again). Else, in a space's fresh zone, its whole pages but the first
 * (the free-list link) are dropped: zero again, as in the parent, so
 * nothing of them is sent. Returns 1 if the block went back to the bump
 * pointer. */
static int release_large(struct dsm_det *d, struct heap_hdr *h, unsigned char *p,
			 size_t size)
{
	uint64_t off = (uint64_t)(p - (unsigned char *)h), old = h->brk;
	unsigned char *lo = p + d->page, *end = p + size;
	int space = cur_space != DSM_DET_PARENT;

	if ((unsigned char *)h == d->arena || (space && (!fresh_lo || p < fresh_lo)) ||
	    (!space && (d->nspaces || d->tracking_parent)))
		return 0;
	if (((off + size + 15) & ~(uint64_t)15) == h->brk) {
		trim_top(h, p, space ? fresh_lo : (unsigned char *)h);
		lo = (unsigned char *)h + ((h->brk + d->page - 1) & ~(uint64_t)(d->page - 1));
		end = (unsigned char *)h + old;
		if (!space && end > lo)
			(void)madvise(lo, (size_t)(end - lo), MADV_DONTNEED);
		return 1;
	}
	if (space && end > lo)
		(void)madvise(lo, (size_t)(end - lo), MADV_DONTNEED);
	return 0;
}

void dsm_det_free(void *ptr)
{
	struct dsm_det *d;
	struct heap_hdr *h = heap_of(ptr, &d);
	struct blk_hdr *b;
	uint32_t cls;
	uint64_t off;

	if (!h || h->magic != HEAP_MAGIC)
		return;
	/* In a space, only its own sub-heap may change: freeing into another
	 * heap would make every space that does so conflict on that heap's
	 * free lists. Such a block simply stays allocated. */
	if (cur_space != DSM_DET_PARENT &&
	    (unsigned char *)h != dsm__det_slot_base(atomic_load(&cur_ctx), cur_slot))
		return;
	b = (struct blk_hdr *)ptr - 1;
	cls = b->tag & 0xffffu;
	if ((b->tag & 0xffff0000u) != BLK_TAG || b->free)
		return; /* not a block, or freed twice: ignore */
	if (cls == LARGE_CLASS && release_large(d, h, ptr, b->size))
		return;
	if (cls == LARGE_CLASS && (unsigned char *)h == d->arena && b->size > 16 * d->page &&
	    cur_space == DSM_DET_PARENT && !d->nspaces && !d->tracking_parent)
		/* a big block of the parent heap: give its memory back but for
		 * the first page (the free-list link); reused blocks below the
		 * high-water mark are cleared by calloc, so zero pages are fine */
		(void)madvise((unsigned char *)ptr + d->page, b->size - d->page, MADV_DONTNEED);
	b->free = 1;
	off = (uint64_t)((unsigned char *)ptr - (unsigned char *)h);
	if (cls == LARGE_CLASS) {
		memcpy(ptr, &h->free_large, sizeof(uint64_t));
		h->free_large = off;
	} else if (cls < NCLASS) {
		memcpy(ptr, &h->free_small[cls], sizeof(uint64_t));
		h->free_small[cls] = off;
	}
}

size_t dsm_det_usable_size(const void *ptr)
{
	if (!ptr || !heap_of(ptr, NULL))
		return 0;
	return ((const struct blk_hdr *)ptr - 1)->size;
}

int dsm_det_owns(const void *ptr)
{
	return ptr && heap_of(ptr, NULL) != NULL;
}
