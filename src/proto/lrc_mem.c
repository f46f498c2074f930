/*
 * lrc_mem.c — memory the lrc fault path may use: a pool of page-sized
 * twins and an arena for this node's own diffs, both carved from mmap'd
 * chunks (mmap is a plain system call: safe in the SIGSEGV handler, unlike
 * malloc). Caller holds the region lock.
 */
#include <errno.h>
#include <sys/mman.h>

#include "lrc.h"

#define TWIN_CHUNK_PAGES 256
#define ARENA_CHUNK (1u << 20)

/* Map a chunk of size bytes with its header at the front. */
static struct lrc_chunk *chunk_new(size_t size)
{
	struct lrc_chunk *c = mmap(NULL, size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (c == MAP_FAILED)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = sizeof(*c);
	return c;
}

/* A page-sized twin buffer, or NULL when memory is exhausted. */
unsigned char *dsm__lrc_twin_alloc(struct lrc_state *st, size_t page_size)
{
	unsigned char *t;

	if (!st->twin_free) {
		/* one header page, then TWIN_CHUNK_PAGES twins */
		struct lrc_chunk *c = chunk_new((TWIN_CHUNK_PAGES + 1) * page_size);
		if (!c)
			return NULL;
		c->next = st->twin_chunks;
		st->twin_chunks = c;
		for (size_t i = TWIN_CHUNK_PAGES; i >= 1; i--) {
			t = (unsigned char *)c + i * page_size;
			*(unsigned char **)t = st->twin_free;
			st->twin_free = t;
		}
	}
	t = st->twin_free;
	st->twin_free = *(unsigned char **)t;
	st->mem += page_size;
	return t;
}

void dsm__lrc_twin_free(struct lrc_state *st, unsigned char *t, size_t page_size)
{
	*(unsigned char **)t = st->twin_free;
	st->twin_free = t;
	st->mem -= page_size;
}

/* Room for size bytes at the arena's end (not yet used): NULL if none. */
void *dsm__lrc_arena_reserve(struct lrc_state *st, size_t size)
{
	struct lrc_chunk *c = st->arena;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->size - c->used < size) {
		size_t want = size + sizeof(*c) > ARENA_CHUNK ? size + sizeof(*c)
							      : ARENA_CHUNK;
		if (!(c = chunk_new(want)))
			return NULL;
		c->next = st->arena;
		st->arena = c;
	}
	return (unsigned char *)c + c->used;
}

/* Keep the first used bytes of the last reservation. */
void dsm__lrc_arena_commit(struct lrc_state *st, size_t used)
{
	used = (used + 15) & ~(size_t)15;
	st->arena->used += used;
	st->mem += used;
}

/* Drop every own diff at once (garbage collection). */
void dsm__lrc_arena_reset(struct lrc_state *st)
{
	while (st->arena) {
		struct lrc_chunk *c = st->arena;
		st->arena = c->next;
		st->mem -= c->used - sizeof(*c);
		munmap(c, c->size);
	}
}

void dsm__lrc_pools_free(struct lrc_state *st, size_t page_size)
{
	(void)page_size;
	dsm__lrc_arena_reset(st);
	while (st->twin_chunks) {
		struct lrc_chunk *c = st->twin_chunks;
		st->twin_chunks = c->next;
		munmap(c, c->size);
	}
	st->twin_free = NULL;
}
