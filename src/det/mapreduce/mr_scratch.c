/*
 * mr_scratch.c — scratch memory of libdsm_mapreduce: the library's own
 * temporaries (pair vectors, sort buffers), private to the process.
 *
 * Inside a space, memory outside the scope dies with the child and costs
 * no fault, twin or merge. glibc's heap will not do: a program's input
 * array, when added to the scope, is widened to whole pages, and glibc
 * would carve chunks next to it, in those pages, and the merge would then
 * carry the child's malloc metadata into the parent. So scratch memory
 * comes from a mapping of its own: power-of-two classes (16 B .. 1 MiB)
 * carved from a lazily backed reservation, with free lists; bigger blocks
 * are mmap'd one by one. A mutex guards it (no signal handler uses it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "det/mapreduce/mr.h"

#define SCR_MIN_SHIFT 4                 /* 16 bytes */
#define SCR_NCLASS 17                   /* .. 1 MiB */
#define SCR_RESERVE ((size_t)1 << 36)   /* virtual, backed lazily */
#define SCR_BIG ((uint64_t)-1)          /* hdr.cls of an mmap'd block */

struct scr_hdr {
	uint64_t cls;                   /* class, or SCR_BIG */
	uint64_t size;                  /* SCR_BIG: bytes mapped, header included */
};

static pthread_mutex_t scr_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *scr_base;
static size_t scr_brk, scr_size;
static struct scr_hdr *scr_free[SCR_NCLASS];

static int scr_class(size_t size)
{
	int c = 0;

	while (c < SCR_NCLASS && ((size_t)1 << (c + SCR_MIN_SHIFT)) < size)
		c++;
	return c < SCR_NCLASS ? c : -1;
}

static void *big_alloc(size_t size)
{
	size_t len = size + sizeof(struct scr_hdr);
	struct scr_hdr *h = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (h == MAP_FAILED)
		return NULL;
	h->cls = SCR_BIG;
	h->size = len;
	return h + 1;
}

/* A block of class c from its free list or the reservation (locked). */
static void *class_alloc(int c)
{
	size_t len = ((size_t)1 << (c + SCR_MIN_SHIFT)) + sizeof(struct scr_hdr);
	struct scr_hdr *h = scr_free[c];

	if (h) {
		memcpy(&scr_free[c], h + 1, sizeof(h));
		return h + 1;
	}
	if (!scr_base) { /* smaller if the address space is limited */
		void *p = MAP_FAILED;
		for (scr_size = SCR_RESERVE; p == MAP_FAILED && scr_size >= (1u << 30);
		     scr_size /= 2)
			p = mmap(NULL, scr_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		scr_size *= 2; /* undo the last halving */
		scr_base = p;
	}
	if (scr_brk + len > scr_size)
		return NULL;
	h = (struct scr_hdr *)(scr_base + scr_brk);
	scr_brk += len;
	h->cls = (uint64_t)c;
	return h + 1;
}

void *dsm__mr_scratch(size_t size)
{
	int c = scr_class(size ? size : 1);
	void *p;

	if (c < 0)
		return big_alloc(size);
	pthread_mutex_lock(&scr_lock);
	p = class_alloc(c);
	pthread_mutex_unlock(&scr_lock);
	return p;
}

void dsm__mr_scratch_free(void *p)
{
	struct scr_hdr *h = p ? (struct scr_hdr *)p - 1 : NULL;

	if (!h)
		return;
	if (h->cls == SCR_BIG) {
		munmap(h, h->size);
		return;
	}
	pthread_mutex_lock(&scr_lock);
	memcpy(p, &scr_free[h->cls], sizeof(h));
	scr_free[h->cls] = h;
	pthread_mutex_unlock(&scr_lock);
}

static size_t usable(const struct scr_hdr *h)
{
	if (h->cls == SCR_BIG)
		return h->size - sizeof(*h);
	return (size_t)1 << (h->cls + SCR_MIN_SHIFT);
}

void *dsm__mr_scratch_realloc(void *p, size_t size)
{
	struct scr_hdr *h = p ? (struct scr_hdr *)p - 1 : NULL;
	void *q;

	if (!h)
		return dsm__mr_scratch(size);
	if (size <= usable(h))
		return p;
	if (h->cls == SCR_BIG) {
		q = mremap(h, h->size, size + sizeof(*h), MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			return NULL;
		((struct scr_hdr *)q)->size = size + sizeof(*h);
		return (struct scr_hdr *)q + 1;
	}
	if (!(q = dsm__mr_scratch(size)))
		return NULL;
	memcpy(q, p, usable(h));
	dsm__mr_scratch_free(p);
	return q;
}
