/*
 * mr_malloc.c — the allocator of a program linked with libdsm_mapreduce:
 * the program's heap is the scope of its MapReduce jobs.
 *
 * Phoenix programs hand map tasks pointers to memory they malloc'd before
 * map_reduce() (an output matrix, k-means' clusters) and expect the
 * tasks' writes there to be visible afterwards; they also read and free()
 * the result's keys and values, malloc'd inside map and reduce tasks,
 * after map_reduce_finalize(). So every allocation of the process comes
 * from the arena of one deterministic context, the *master* (opened at
 * the first allocation, never closed: it is the process's heap):
 *   - in the parent, from the master's parent heap (under a mutex: the
 *     program may have threads); the spaces twin and merge it;
 *   - inside a space, from the space's sub-heap, which the merge carries
 *     back to the parent;
 *   - free() of an arena block returns it to its heap (in a space, only
 *     blocks of its own sub-heap; others stay allocated, see dsm_det_free).
 * Blocks glibc served (while the master was being opened, or alignments
 * above a page in the parent) stay glibc's and go back to it.
 *
 * This works by symbol interposition (glibc supports replacing malloc). A
 * sanitizer runtime (ASan) interposes first and wins: then the program's
 * heap is not in the scope and blocks malloc'd in a space die with it;
 * programs meant to run under ASan allocate shared data with
 * dsm_det_malloc (docs/det.md).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm_det.h"
#include "det/mapreduce/mr.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

enum { M_NONE, M_OPENING, M_OPEN, M_FAILED };

static _Atomic int master_state = M_NONE;
static dsm_det_t *master;
static int master_err;
static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;

/* A child forked while another thread held the lock must not inherit it
 * held (spaces fork from the thread running map_reduce). */
static void heap_lock_reinit(void)
{
	pthread_mutex_init(&heap_lock, NULL);
}

static int in_space(void)
{
	return dsm_det_self() >= 0;
}

dsm_det_t *dsm__mr_master(int *err)
{
	struct dsm_det_options o = { .policy = DSM_DET_POLICY_ERROR,
				     .flags = DSM_DET_F_NO_PARENT_TRACKING |
					      DSM_DET_F_WATCH_STACK };
	int expect = M_NONE, rc;

	if (atomic_load(&master_state) == M_OPEN)
		return master;
	if (!atomic_compare_exchange_strong(&master_state, &expect, M_OPENING)) {
		if (err)
			*err = expect == M_FAILED ? master_err : -EAGAIN;
		return expect == M_OPEN ? master : NULL;
	}
	/* allocations made while opening (there are few) go to glibc */
	rc = dsm_det_open(&master, &o);
	if (rc == 0)
		pthread_atfork(NULL, NULL, heap_lock_reinit);
	master_err = rc;
	atomic_store(&master_state, rc == 0 ? M_OPEN : M_FAILED);
	if (err)
		*err = rc;
	return rc == 0 ? master : NULL;
}

/* Usable size of a glibc block (its chunk header: size | flags, the
 * mmapped flag 0x2 meaning a two-word overhead). */
static size_t glibc_usable(const void *p)
{
	size_t sz = ((const size_t *)p)[-1];

	return (sz & ~(size_t)7) - ((sz & 2) ? 2 : 1) * sizeof(size_t);
}

static void *master_alloc(size_t size, int zero, size_t n)
{
	void *p;

	pthread_mutex_lock(&heap_lock);
	p = zero ? dsm_det_calloc(n, size) : dsm_det_malloc(size);
	pthread_mutex_unlock(&heap_lock);
	return p;
}

void *malloc(size_t size)
{
	if (in_space())
		return dsm_det_malloc(size);
	if (!dsm__mr_master(NULL))
		return __libc_malloc(size);
	return master_alloc(size, 0, 0);
}

void *calloc(size_t n, size_t size)
{
	if (in_space())
		return dsm_det_calloc(n, size);
	if (!dsm__mr_master(NULL))
		return __libc_calloc(n, size);
	return master_alloc(size, 1, n);
}

void free(void *p)
{
	if (!p)
		return;
	if (!dsm_det_owns(p)) {
		__libc_free(p);
	} else if (in_space()) {
		dsm_det_free(p);
	} else {
		pthread_mutex_lock(&heap_lock);
		dsm_det_free(p);
		pthread_mutex_unlock(&heap_lock);
	}
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	return dsm_det_owns(p) ? dsm_det_usable_size(p) : glibc_usable(p);
}

/* realloc into a new block of our heap: copy and free the old one. */
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
	size_t old;

	if (!p)
		return malloc(size);
	if (dsm_det_owns(p)) {
		old = dsm_det_usable_size(p);
		/* shrinking (or growing within the block) keeps it */
		return size <= old ? p : move_block(p, size, old);
	}
	if (in_space() || dsm__mr_master(NULL))
		return move_block(p, size, glibc_usable(p));
	return __libc_realloc(p, size);
}

/* Aligned allocation: arena blocks are 16-byte aligned, page aligned from
 * a page up. Larger alignments: glibc's heap in the parent (outside the
 * scope), refused inside spaces. */
static void *aligned(size_t align, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (align <= 16)
		return malloc(size);
	if (align <= page)
		return malloc(size < page ? page : size);
	if (!in_space())
		return __libc_memalign(align, size);
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

void *valloc(size_t size)
{
	return aligned((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return aligned(page, (size + page - 1) & ~(page - 1));
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
