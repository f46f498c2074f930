/*
 * mr_malloc.c — the allocator seen by Phoenix programs.
 *
 * Phoenix map and reduce functions publish memory they malloc (values,
 * keys) and the caller later free()s it. A space is a child process, so
 * its private heap dies with it: inside a space, malloc and friends are
 * served from the space's deterministic sub-heap (dsm_det_malloc), which
 * the merge carries back to the parent; free() of such a block, anywhere,
 * returns it to its sub-heap. Outside spaces every call goes to glibc's
 * allocator (__libc_*), unchanged.
 *
 * This works by symbol interposition (glibc supports replacing malloc). A
 * sanitizer runtime (ASan) interposes first and wins: then blocks malloc'd
 * in a space do not survive it; programs meant to run under ASan allocate
 * published data with dsm_det_malloc (docs/det.md).
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm_det.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static int in_space(void)
{
	return dsm_det_self() >= 0;
}

void *malloc(size_t size)
{
	return in_space() ? dsm_det_malloc(size) : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return in_space() ? dsm_det_calloc(n, size) : __libc_calloc(n, size);
}

void free(void *p)
{
	if (p && dsm_det_owns(p))
		dsm_det_free(p);
	else
		__libc_free(p);
}

/* realloc across the two allocators: move the block by hand. */
static void *move_block(void *p, size_t size, size_t old)
{
	void *q = malloc(size ? size : 1);

	if (!q)
		return NULL;
	memcpy(q, p, old < size ? old : size);
	free(p);
	return q;
}

void *realloc(void *p, size_t size)
{
	if (!p)
		return malloc(size);
	if (dsm_det_owns(p))
		return move_block(p, size, dsm_det_usable_size(p));
	if (in_space())
		return move_block(p, size, malloc_usable_size(p));
	return __libc_realloc(p, size);
}

/* Aligned allocation: sub-heap blocks are 16-byte aligned, page aligned
 * from a page up; larger alignments are not served inside spaces. */
static void *aligned(size_t align, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!in_space())
		return __libc_memalign(align, size);
	if (align <= 16)
		return dsm_det_malloc(size);
	if (align <= page)
		return dsm_det_malloc(size < page ? page : size);
	errno = EINVAL;
	return NULL;
}

void *memalign(size_t align, size_t size)
{
	return aligned(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	return aligned(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = aligned(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
