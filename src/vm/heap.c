/*
 * heap.c — offset allocator for the shared heap (see heap.h).
 *
 * Three structures, all in private memory, all under one mutex:
 *
 *   Free page runs: a treap keyed by start page, each node augmented with
 *   the longest run in its subtree. Allocation walks to the lowest-address
 *   run that fits (address-ordered first fit) in O(log n); freeing splits
 *   the treap at the run's start, merges with the predecessor/successor if
 *   they touch, and joins the pieces again. Nodes come from a pool that is
 *   topped up on allocation, so freeing never calls malloc and cannot fail:
 *   k live page-level blocks leave at most k + 1 free runs, and the pool
 *   keeps at least k + 1 nodes in existence.
 *
 *   Live blocks: an open-addressing hash map (linear probing, backward-shift
 *   deletion) from offset to usable size and owning slab. It validates
 *   frees and answers dsm__heap_block_size. Space is reserved before an
 *   allocation changes anything, so a failed malloc leaves no half state.
 *
 *   Slabs: requests below page_size are rounded to a size class; each class
 *   keeps a list of partly used slabs (runs of whole pages holding only that
 *   class). A slab hands out slots from a stack of freed slot indices, else
 *   from a bump index, and returns its pages to the treap when its last slot
 *   is freed.
 */
#include "vm/heap.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16u
#define SLAB_MIN_SLOTS 8u        /* a slab holds at least this many slots */
#define POOL_SLACK 64u           /* spare treap nodes kept beyond the need */
#define HASH_MIN_CAP 1024u
#define EMPTY_KEY UINT64_MAX     /* offsets are multiples of 16: never this */
#define MAX_PAGE_SHIFT 30u

/* A free run of pages in the treap (units are pages, not bytes). */
struct run {
	uint64_t start;          /* first page */
	uint64_t len;            /* pages in the run, > 0 */
	uint64_t max;            /* longest len in this subtree */
	uint64_t prio;           /* heap-ordered random priority */
	struct run *l, *r;       /* l also links the spare pool */
};

/* A run of pages holding slots of one size class. */
struct slab {
	uint64_t base;           /* byte offset of the first slot */
	struct slab *prev, *next; /* partial list of the class */
	uint32_t cls;            /* index into heap->classes */
	uint32_t top;            /* entries in stack[] */
	uint32_t fresh;          /* slots [fresh, nobj) never handed out */
	uint32_t live;           /* slots allocated now */
	uint32_t stack[];        /* freed slot indices, LIFO */
};

/* One size class. */
struct size_class {
	uint64_t size;           /* slot bytes, multiple of 16 */
	uint64_t pages;          /* pages per slab */
	uint32_t nobj;           /* slots per slab */
	struct slab *partial;    /* slabs with a free slot */
};

/* A live block in the hash map; off == EMPTY_KEY marks an empty bucket. */
struct blk {
	uint64_t off;
	uint64_t size;           /* usable bytes */
	struct slab *slab;       /* NULL for a page-level (large) block */
};

struct dsm_heap {
	pthread_mutex_t lock;
	uint64_t size;           /* bytes managed */
	uint64_t page_size;
	unsigned page_shift;

	struct run *root;        /* free page runs */
	struct run *pool;        /* spare nodes, linked through l */
	uint64_t nodes;          /* nodes in tree + pool */
	uint64_t page_blocks;    /* live page-level blocks (large + slabs) */
	uint64_t free_pages;     /* pages in the treap */
	uint64_t rng;            /* xorshift state for priorities */

	struct blk *tab;         /* live blocks */
	uint64_t cap, count;     /* cap is a power of two */

	struct size_class *classes;
	uint32_t nclasses;
	uint64_t used_bytes;     /* sum of live block sizes */
	uint64_t slot_free_bytes; /* free slot bytes over all slabs */
};

/* ------------------------------------------------------------------ */
/* Treap of free page runs                                             */
/* ------------------------------------------------------------------ */

/* Next pseudo-random priority (xorshift64*); quality barely matters. */
static uint64_t next_prio(struct dsm_heap *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545F4914F6CDD1DULL;
}

/* Longest run in subtree t (0 for an empty tree). */
static uint64_t run_max(const struct run *t)
{
	return t ? t->max : 0;
}

/* Recompute t->max from t and its children after a change below t. */
static void pull(struct run *t)
{
	uint64_t m = t->len;

	if (run_max(t->l) > m)
		m = run_max(t->l);
	if (run_max(t->r) > m)
		m = run_max(t->r);
	t->max = m;
}

/* Join two treaps where every start in a precedes every start in b. */
static struct run *merge(struct run *a, struct run *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = merge(a->r, b);
		pull(a);
		return a;
	}
	b->l = merge(a, b->l);
	pull(b);
	return b;
}

/* Split t into *lo (start < key) and *hi (start >= key). */
static void split(struct run *t, uint64_t key, struct run **lo, struct run **hi)
{
	if (!t) {
		*lo = *hi = NULL;
		return;
	}
	if (t->start < key) {
		split(t->r, key, &t->r, hi);
		*lo = t;
	} else {
		split(t->l, key, lo, &t->l);
		*hi = t;
	}
	pull(t);
}

/* Take a spare node from the pool; the pool invariant says there is one. */
static struct run *pool_get(struct dsm_heap *h)
{
	struct run *n = h->pool;

	h->pool = n->l;
	return n;
}

/* Return a node to the pool. */
static void pool_put(struct dsm_heap *h, struct run *n)
{
	n->l = h->pool;
	h->pool = n;
}

/* Make sure nodes >= want by malloc'ing spares. 0 or -ENOMEM. */
static int pool_reserve(struct dsm_heap *h, uint64_t want)
{
	while (h->nodes < want) {
		struct run *n = malloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		pool_put(h, n);
		h->nodes++;
	}
	return 0;
}

/* Give spare nodes back to malloc when far more exist than can be used. */
static void pool_trim(struct dsm_heap *h)
{
	while (h->pool && h->nodes > h->page_blocks + 1 + POOL_SLACK) {
		free(pool_get(h));
		h->nodes--;
	}
}

/*
 * Carve need pages from the lowest-address run in t that has them; the
 * caller has checked run_max(t) >= need. Returns the new subtree root and
 * the first page in *page.
 */
static struct run *take_first_fit(struct dsm_heap *h, struct run *t,
				  uint64_t need, uint64_t *page)
{
	struct run *rest;

	if (run_max(t->l) >= need) {
		t->l = take_first_fit(h, t->l, need, page);
	} else if (t->len >= need) {
		/* Shrinking from the front keeps the BST order intact. */
		*page = t->start;
		t->start += need;
		t->len -= need;
		if (t->len == 0) {
			rest = merge(t->l, t->r);
			pool_put(h, t);
			return rest;
		}
	} else {
		t->r = take_first_fit(h, t->r, need, page);
	}
	pull(t);
	return t;
}

/* Rightmost (highest start) node of t, or NULL. */
static struct run *rightmost(struct run *t)
{
	while (t && t->r)
		t = t->r;
	return t;
}

/* Leftmost (lowest start) node of t, or NULL. */
static struct run *leftmost(struct run *t)
{
	while (t && t->l)
		t = t->l;
	return t;
}

/* Add pages [start, start+len) to the free runs, coalescing neighbours. */
static void runs_insert(struct dsm_heap *h, uint64_t start, uint64_t len)
{
	struct run *lo, *hi, *mid, *pred, *succ, *n;

	split(h->root, start, &lo, &hi);
	pred = rightmost(lo);
	if (pred && pred->start + pred->len == start) {
		split(lo, pred->start, &lo, &mid); /* mid is pred alone */
		start = pred->start;
		len += pred->len;
		pool_put(h, mid);
	}
	succ = leftmost(hi);
	if (succ && succ->start == start + len) {
		split(hi, succ->start + 1, &mid, &hi); /* mid is succ alone */
		len += succ->len;
		pool_put(h, mid);
	}
	n = pool_get(h);
	n->start = start;
	n->len = len;
	n->prio = next_prio(h);
	n->l = n->r = NULL;
	pull(n);
	h->root = merge(merge(lo, n), hi);
}

/* Free every node of subtree t (destroy only). */
static void runs_free_all(struct run *t)
{
	while (t) {
		struct run *r = t->r;

		runs_free_all(t->l);
		free(t);
		t = r;
	}
}

/* Allocate npages contiguous pages; byte offset in *off. 0 or -ENOMEM. */
static int pages_alloc(struct dsm_heap *h, uint64_t npages, uint64_t *off)
{
	uint64_t page;

	if (run_max(h->root) < npages)
		return -ENOMEM;
	/* One more live block may mean one more free run later: reserve now. */
	if (pool_reserve(h, h->page_blocks + 2) != 0)
		return -ENOMEM;
	h->root = take_first_fit(h, h->root, npages, &page);
	h->page_blocks++;
	h->free_pages -= npages;
	*off = page << h->page_shift;
	return 0;
}

/* Return npages pages at byte offset off to the free runs. Cannot fail. */
static void pages_free(struct dsm_heap *h, uint64_t off, uint64_t npages)
{
	runs_insert(h, off >> h->page_shift, npages);
	h->page_blocks--;
	h->free_pages += npages;
	pool_trim(h);
}

/* ------------------------------------------------------------------ */
/* Hash map of live blocks                                             */
/* ------------------------------------------------------------------ */

/* Bucket an offset hashes to (splitmix64 finaliser). */
static uint64_t home(const struct dsm_heap *h, uint64_t key)
{
	key ^= key >> 30;
	key *= 0xBF58476D1CE4E5B9ULL;
	key ^= key >> 27;
	key *= 0x94D049BB133111EBULL;
	key ^= key >> 31;
	return key & (h->cap - 1);
}

/* Allocate an all-empty table of cap buckets, or NULL. */
static struct blk *table_new(uint64_t cap)
{
	struct blk *t = malloc(cap * sizeof(*t));

	if (!t)
		return NULL;
	for (uint64_t i = 0; i < cap; i++)
		t[i].off = EMPTY_KEY;
	return t;
}

/* Store b in the first empty bucket of its probe sequence (no dup check). */
static void table_put(struct dsm_heap *h, const struct blk *b)
{
	uint64_t i = home(h, b->off);

	while (h->tab[i].off != EMPTY_KEY)
		i = (i + 1) & (h->cap - 1);
	h->tab[i] = *b;
	h->count++;
}

/* Ensure room for one more entry at load <= 0.7. 0 or -ENOMEM. */
static int table_reserve(struct dsm_heap *h)
{
	struct blk *old = h->tab;
	uint64_t old_cap = h->cap;

	if ((h->count + 1) * 10 <= h->cap * 7)
		return 0;
	h->tab = table_new(old_cap * 2);
	if (!h->tab) {
		h->tab = old;
		return -ENOMEM;
	}
	h->cap = old_cap * 2;
	h->count = 0;
	for (uint64_t i = 0; i < old_cap; i++)
		if (old[i].off != EMPTY_KEY)
			table_put(h, &old[i]);
	free(old);
	return 0;
}

/* Bucket holding off, or NULL if off is not a live block. */
static struct blk *table_find(struct dsm_heap *h, uint64_t off)
{
	uint64_t i;

	if (off % ALIGN != 0 || off >= h->size)
		return NULL;
	for (i = home(h, off); h->tab[i].off != EMPTY_KEY;
	     i = (i + 1) & (h->cap - 1))
		if (h->tab[i].off == off)
			return &h->tab[i];
	return NULL;
}

/*
 * Empty bucket b, shifting later entries of the cluster back so every
 * entry stays reachable from its home bucket without tombstones.
 */
static void table_remove(struct dsm_heap *h, struct blk *b)
{
	uint64_t mask = h->cap - 1;
	uint64_t hole = (uint64_t)(b - h->tab), j = hole;

	for (;;) {
		j = (j + 1) & mask;
		if (h->tab[j].off == EMPTY_KEY)
			break;
		/* Entry j may fill the hole unless its home lies in (hole, j]. */
		if (((j - home(h, h->tab[j].off)) & mask) < ((j - hole) & mask))
			continue;
		h->tab[hole] = h->tab[j];
		hole = j;
	}
	h->tab[hole].off = EMPTY_KEY;
	h->count--;
}

/* ------------------------------------------------------------------ */
/* Size classes and slabs                                              */
/* ------------------------------------------------------------------ */

/* Append class size s (slab geometry included) to h->classes. */
static void class_add(struct dsm_heap *h, uint64_t s)
{
	struct size_class *c = &h->classes[h->nclasses++];
	uint64_t bytes = s * SLAB_MIN_SLOTS;

	c->size = s;
	c->pages = (bytes + h->page_size - 1) >> h->page_shift;
	c->nobj = (uint32_t)((c->pages << h->page_shift) / s);
	c->partial = NULL;
}

/*
 * Build the classes for sizes below page_size: steps of 16 up to 128, then
 * four steps per power of two (25% worst internal waste), then a last class
 * of page_size - 16. 0 or -ENOMEM.
 */
static int classes_init(struct dsm_heap *h)
{
	uint64_t s, step;

	/* At most 8 + 4 per doubling up to 2^MAX_PAGE_SHIFT, plus the last. */
	h->classes = calloc(8 + 4 * MAX_PAGE_SHIFT + 1, sizeof(*h->classes));
	if (!h->classes)
		return -ENOMEM;
	for (s = ALIGN; s <= 128 && s < h->page_size; s += ALIGN)
		class_add(h, s);
	for (s = 128, step = 32; s < h->page_size; step *= 2)
		for (int i = 0; i < 4; i++) {
			s += step;
			if (s >= h->page_size)
				break;
			class_add(h, s);
		}
	if (h->page_size > ALIGN &&
	    h->classes[h->nclasses - 1].size < h->page_size - ALIGN)
		class_add(h, h->page_size - ALIGN);
	return 0;
}

/* Index of the smallest class >= size (size < page_size, so one exists). */
static uint32_t class_of(const struct dsm_heap *h, uint64_t size)
{
	uint32_t lo = 0, hi = h->nclasses - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (h->classes[mid].size >= size)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Push s on the front of its class's partial list. */
static void partial_link(struct size_class *c, struct slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
}

/* Remove s from its class's partial list. */
static void partial_unlink(struct size_class *c, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* Create an empty slab for class ci and put it on the partial list. */
static int slab_new(struct dsm_heap *h, uint32_t ci, struct slab **out)
{
	struct size_class *c = &h->classes[ci];
	struct slab *s = malloc(sizeof(*s) + c->nobj * sizeof(s->stack[0]));

	if (!s)
		return -ENOMEM;
	if (pages_alloc(h, c->pages, &s->base) != 0) {
		free(s);
		return -ENOMEM;
	}
	s->cls = ci;
	s->top = s->fresh = s->live = 0;
	partial_link(c, s);
	h->slot_free_bytes += (uint64_t)c->nobj * c->size;
	*out = s;
	return 0;
}

/* Give an empty slab's pages back to the free runs and free it. */
static void slab_release(struct dsm_heap *h, struct slab *s)
{
	struct size_class *c = &h->classes[s->cls];

	partial_unlink(c, s);
	h->slot_free_bytes -= (uint64_t)c->nobj * c->size;
	pages_free(h, s->base, c->pages);
	free(s);
}

/* Allocate one slot of class ci; fills *b. 0 or -ENOMEM. */
static int small_alloc(struct dsm_heap *h, uint32_t ci, struct blk *b)
{
	struct size_class *c = &h->classes[ci];
	struct slab *s = c->partial;
	uint32_t slot;

	if (!s && slab_new(h, ci, &s) != 0)
		return -ENOMEM;
	slot = s->top > 0 ? s->stack[--s->top] : s->fresh++;
	if (++s->live == c->nobj)
		partial_unlink(c, s);
	h->slot_free_bytes -= c->size;
	b->off = s->base + (uint64_t)slot * c->size;
	b->size = c->size;
	b->slab = s;
	return 0;
}

/* Free the slot at off in slab s; releases the slab when it empties. */
static void small_free(struct dsm_heap *h, struct slab *s, uint64_t off)
{
	struct size_class *c = &h->classes[s->cls];

	s->stack[s->top++] = (uint32_t)((off - s->base) / c->size);
	if (s->live-- == c->nobj)
		partial_link(c, s);
	h->slot_free_bytes += c->size;
	if (s->live == 0)
		slab_release(h, s);
}

/* Free every slab reachable from the live-block table (destroy only). */
static void slabs_free_all(struct dsm_heap *h)
{
	/* Every slab has live slots (empty ones are released at once) and is
	 * named by exactly live table entries: free it at the last of them. */
	for (uint64_t i = 0; i < h->cap; i++) {
		struct slab *s = h->tab[i].slab;

		if (h->tab[i].off == EMPTY_KEY || !s)
			continue;
		if (--s->live == 0)
			free(s);
	}
}

/* ------------------------------------------------------------------ */
/* Public interface                                                    */
/* ------------------------------------------------------------------ */

/* Check init arguments; returns log2(page_size) or -EINVAL. */
static int check_geometry(uint64_t size, uint64_t page_size)
{
	int shift;

	if (page_size < ALIGN || (page_size & (page_size - 1)) != 0 ||
	    page_size > (1ULL << MAX_PAGE_SHIFT))
		return -EINVAL;
	if (size == 0 || size % page_size != 0)
		return -EINVAL;
	shift = __builtin_ctzll(page_size);
	return shift;
}

/* Set up the empty treap (one run: the whole heap) and the table. */
static int heap_structs_init(struct dsm_heap *h)
{
	struct run *n = malloc(sizeof(*n));

	h->tab = table_new(HASH_MIN_CAP);
	if (!n || !h->tab || classes_init(h) != 0) {
		free(n);
		return -ENOMEM;
	}
	h->cap = HASH_MIN_CAP;
	n->start = 0;
	n->len = h->size >> h->page_shift;
	n->prio = next_prio(h);
	n->l = n->r = NULL;
	pull(n);
	h->root = n;
	h->nodes = 1;
	h->free_pages = n->len;
	return 0;
}

/* Create a heap over [0, size); see heap.h. */
int dsm__heap_init(struct dsm_heap **out, uint64_t size, uint64_t page_size)
{
	int shift = check_geometry(size, page_size);
	struct dsm_heap *h;

	if (shift < 0)
		return shift;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->size = size;
	h->page_size = page_size;
	h->page_shift = (unsigned)shift;
	h->rng = 0x9E3779B97F4A7C15ULL ^ (uintptr_t)h;
	if (heap_structs_init(h) != 0 ||
	    pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h->root);
		free(h->tab);
		free(h->classes);
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

/* Free all metadata; see heap.h. */
void dsm__heap_destroy(struct dsm_heap *h)
{
	if (!h)
		return;
	slabs_free_all(h);
	runs_free_all(h->root);
	while (h->pool)
		free(pool_get(h));
	free(h->tab);
	free(h->classes);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Allocate a page-level block for a request of size bytes; fills *b. */
static int large_alloc(struct dsm_heap *h, uint64_t size, struct blk *b)
{
	uint64_t npages = (size >> h->page_shift) +
			  ((size & (h->page_size - 1)) != 0);

	if (pages_alloc(h, npages, &b->off) != 0)
		return -ENOMEM;
	b->size = npages << h->page_shift;
	b->slab = NULL;
	return 0;
}

/* Allocate a block of at least size bytes; see heap.h. */
int dsm__heap_alloc(struct dsm_heap *h, uint64_t size, uint64_t *off)
{
	uint64_t rounded = (size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	struct blk b;
	int rc;

	if (size == 0 || size > h->size)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	/* Reserve the table slot first so nothing needs undoing after. */
	rc = table_reserve(h);
	if (rc == 0) {
		if (rounded < h->page_size)
			rc = small_alloc(h, class_of(h, rounded), &b);
		else
			rc = large_alloc(h, size, &b);
	}
	if (rc == 0) {
		table_put(h, &b);
		h->used_bytes += b.size;
		*off = b.off;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* Free the live block at off; see heap.h. */
int dsm__heap_free(struct dsm_heap *h, uint64_t off)
{
	struct blk *e, b;

	pthread_mutex_lock(&h->lock);
	e = table_find(h, off);
	if (!e) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	b = *e;
	table_remove(h, e);
	h->used_bytes -= b.size;
	if (b.slab)
		small_free(h, b.slab, b.off);
	else
		pages_free(h, b.off, b.size >> h->page_shift);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Usable size of the live block at off, 0 if none; see heap.h. */
uint64_t dsm__heap_block_size(struct dsm_heap *h, uint64_t off)
{
	struct blk *e;
	uint64_t size;

	pthread_mutex_lock(&h->lock);
	e = table_find(h, off);
	size = e ? e->size : 0;
	pthread_mutex_unlock(&h->lock);
	return size;
}

/* Report occupancy; see heap.h. */
void dsm__heap_usage(struct dsm_heap *h, uint64_t *used, uint64_t *free_bytes,
		     uint64_t *largest_free)
{
	pthread_mutex_lock(&h->lock);
	if (used)
		*used = h->used_bytes;
	if (free_bytes)
		*free_bytes = (h->free_pages << h->page_shift) +
			      h->slot_free_bytes;
	if (largest_free)
		*largest_free = run_max(h->root) << h->page_shift;
	pthread_mutex_unlock(&h->lock);
}
