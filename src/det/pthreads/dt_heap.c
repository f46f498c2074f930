/*
 * dt_heap.c — libdsm_dthreads' malloc family: the heap is one memfd (the
 * shared heap region), cut into one slot per live thread. A thread
 * allocates only from its own slot (size-class free lists and a bump
 * pointer kept in the slot's first page), so addresses depend only on the
 * sequence of allocations of each thread, never on timing, and two threads
 * never write the same allocator state. A block freed by another thread
 * goes to that thread's lists (its link is written into the block only).
 * Each process is single-threaded, so no lock is needed.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dt.h"

#define SLOT0 (64ull << 30)   /* the main thread's slot */
#define SLOTN (4ull << 30)    /* every other slot */
#define HEAP_LEN (SLOT0 + (DT_SLOTS - 1) * SLOTN)
#define NCLS 17               /* 16 B .. 1 MiB, powers of two */
#define HMAGIC 0x44544850u    /* "DTHP" */
#define CLS_LARGE 255u
#define CLS_ALIGNED 254u
#define HDR 16u

struct slot_hdr {
	uint64_t magic;
	uint64_t bump;             /* offset of the next fresh byte */
	uint64_t free[NCLS];       /* lists of free blocks per class */
	uint64_t large;            /* list of free large blocks */
};

struct blk {
	uint64_t size;             /* usable bytes (aligned: offset) */
	uint32_t cls;
	uint32_t magic;
};

int dt__heap_slot;
unsigned char *dt__heap_base;
size_t dt__heap_len;
int dt__heap_fd = -1;

/* Per slot, the end of what was ever handed out (offset in the slot), in
 * memory every thread process shares and sees at once (not program data:
 * never committed). The kernel's write scan (dt_track.c) walks only
 * these ranges instead of the 1 TiB reservation, whose page-table holes
 * cost ~60 us per scan (half of wa's CPU under dsmdet). A thread can only
 * write a block it was handed a pointer to, i.e. below the mark (the
 * slot's owner raises it before returning the block). */
static _Atomic uint64_t *heap_hw;

static void hw_raise(int s, uint64_t end)
{
	if (!heap_hw)
		return;
	uint64_t o = atomic_load(&heap_hw[s]);
	while (o < end && !atomic_compare_exchange_weak(&heap_hw[s], &o, end))
		;
}

static unsigned char *slot_base(int s)
{
	return dt__heap_base + (s == 0 ? 0 : SLOT0 + (uint64_t)(s - 1) * SLOTN);
}

static uint64_t slot_size(int s)
{
	return s == 0 ? SLOT0 : SLOTN;
}

void dt__heap_slot_init(int s)
{
	struct slot_hdr *h = (struct slot_hdr *)slot_base(s);
	if (h->magic != HMAGIC) {
		memset(h, 0, sizeof *h);
		h->magic = HMAGIC;
		h->bump = 4096;
	}
	hw_raise(s, h->bump);
}

int dt__heap_ranges(size_t *first, size_t *count, int max)
{
	const uint64_t pmd = 64u << 10; /* slack past the last block */
	int n = 0;
	for (int s = 0; s < DT_SLOTS && n < max; s++) {
		uint64_t hw = heap_hw ? atomic_load(&heap_hw[s]) : slot_size(s);
		if (!hw)
			continue;
		hw = (hw + pmd - 1) & ~(pmd - 1);
		if (hw > slot_size(s))
			hw = slot_size(s);
		first[n] = (size_t)(slot_base(s) - dt__heap_base) / dt.page;
		count[n] = (size_t)hw / dt.page;
		n++;
	}
	return n;
}

int dt__heap_init(void)
{
	if (dt__heap_base)
		return 0;
	int fd = (int)syscall(SYS_memfd_create, "dsmdet-heap", 1u /* CLOEXEC */);
	if (fd < 0 || ftruncate(fd, (off_t)HEAP_LEN) != 0)
		return -1;
	void *p = dt__mmap(NULL, HEAP_LEN, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	void *hw = dt__mmap(NULL, DT_SLOTS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (hw != MAP_FAILED)
		heap_hw = hw;
	dt__heap_fd = fd;
	dt__heap_len = HEAP_LEN;
	dt__heap_base = p;
	dt__heap_slot_init(0);
	return 0;
}

static int in_heap(const void *p)
{
	return dt__heap_base && (const unsigned char *)p >= dt__heap_base &&
	       (const unsigned char *)p < dt__heap_base + dt__heap_len;
}

static unsigned cls_of(size_t n)
{
	unsigned c = 0;
	while ((16ull << c) < n)
		c++;
	return c;
}

/* fresh: set when the block comes from never-used memory (zero). */
static void *alloc(size_t n, int *fresh)
{
	if (!dt__heap_base && dt__heap_init() != 0)
		return NULL;
	if (n == 0)
		n = 1;
	if (n > SLOT0) {
		errno = ENOMEM;
		return NULL;
	}
	int s = dt__heap_slot;
	unsigned char *base = slot_base(s);
	struct slot_hdr *h = (struct slot_hdr *)base;
	unsigned c = cls_of(n);
	size_t cap;
	*fresh = 0;
	if (c < NCLS) {
		cap = 16ull << c;
		if (h->free[c]) {
			struct blk *b = (struct blk *)(dt__heap_base + h->free[c]);
			h->free[c] = *(uint64_t *)(b + 1);
			return b + 1;
		}
	} else {
		c = CLS_LARGE;
		cap = (n + 4095) & ~(size_t)4095;
		uint64_t *prev = &h->large;
		while (*prev) {
			struct blk *b = (struct blk *)(dt__heap_base + *prev);
			if (b->size >= cap && b->size <= 2 * cap) {
				*prev = *(uint64_t *)(b + 1);
				return b + 1;
			}
			prev = (uint64_t *)(b + 1);
		}
	}
	if (h->bump + HDR + cap > slot_size(s)) {
		dt__warn("thread heap slot %d (%llu MiB) cannot serve %zu bytes", s,
			 (unsigned long long)(slot_size(s) >> 20), n);
		errno = ENOMEM;
		return NULL;
	}
	struct blk *b = (struct blk *)(base + h->bump);
	h->bump += HDR + cap;
	hw_raise(s, h->bump);
	b->size = cap;
	b->cls = c;
	b->magic = HMAGIC;
	*fresh = 1;
	return b + 1;
}

static struct blk *hdr_of(void *p)
{
	struct blk *b = (struct blk *)p - 1;
	if (b->magic != HMAGIC)
		dt__die("free/realloc of %p, which is not a block of the heap", p);
	return b;
}

void free(void *p)
{
	if (!p || !in_heap(p))
		return; /* NULL, or a block of the loader's early allocator */
	struct blk *b = hdr_of(p);
	if (b->cls == CLS_ALIGNED) {
		free((unsigned char *)p - b->size);
		return;
	}
	struct slot_hdr *h = (struct slot_hdr *)slot_base(dt__heap_slot);
	uint64_t off = (uint64_t)((unsigned char *)b - dt__heap_base);
	if (b->cls == CLS_LARGE) {
		*(uint64_t *)p = h->large;
		h->large = off;
	} else {
		*(uint64_t *)p = h->free[b->cls];
		h->free[b->cls] = off;
	}
}

void *malloc(size_t n)
{
	int fresh;
	return alloc(n, &fresh);
}

void *calloc(size_t a, size_t b)
{
	size_t n;
	int fresh;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = alloc(n, &fresh);
	if (p && !fresh)
		memset(p, 0, n);
	return p;
}

size_t malloc_usable_size(void *p)
{
	if (!p || !in_heap(p))
		return 0;
	struct blk *b = hdr_of(p);
	if (b->cls == CLS_ALIGNED)
		return malloc_usable_size((unsigned char *)p - b->size) - b->size;
	return b->size;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (!in_heap(p))
		dt__die("realloc of %p, which was not allocated by malloc", p);
	size_t cap = malloc_usable_size(p);
	if (n <= cap && n > 0)
		return p;
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, cap < n ? cap : n);
	free(p);
	return q;
}

void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

static void *aligned(size_t al, size_t n)
{
	if (al <= 16)
		return malloc(n);
	unsigned char *raw = malloc(n + al + HDR);
	if (!raw)
		return NULL;
	uintptr_t u = ((uintptr_t)raw + al - 1) & ~(uintptr_t)(al - 1);
	if (u == (uintptr_t)raw)
		return raw;
	if (u - (uintptr_t)raw < HDR)
		u += al;
	struct blk *b = (struct blk *)u - 1;
	b->size = u - (uintptr_t)raw;
	b->cls = CLS_ALIGNED;
	b->magic = HMAGIC;
	return (void *)u;
}

int posix_memalign(void **out, size_t al, size_t n)
{
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	void *p = aligned(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t al, size_t n)
{
	if (!al || (al & (al - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(al, n);
}

void *memalign(size_t al, size_t n)
{
	return aligned_alloc(al, n);
}

void *valloc(size_t n)
{
	return aligned(4096, n);
}

void *pvalloc(size_t n)
{
	return aligned(4096, (n + 4095) & ~(size_t)4095);
}
