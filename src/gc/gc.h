/*
 * gc.h — the pure parts of the collector (src/gc; docs/gc.md): the arena
 * allocator and object table, sets of addresses, and the reference layout
 * of types. No node, no locks, no messages: gc.c holds them under its
 * mutex, and tests/unit/test_gc_heap.c calls them on private memory.
 */
#ifndef DSM_GC_INTERNAL_H
#define DSM_GC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_type.h"

#define GC_CHUNK ((size_t)64 * 1024) /* arena unit: one size class or part of a large object */
#define GC_MIN_SHIFT 4               /* smallest class: 16 bytes */
#define GC_NCLASS 12                 /* 16 .. 32 KiB; larger objects take whole chunks */
#define GC_MAX_TYPES 256             /* as the type registry (DSM_TYPE_MAX) */

/* One object (a slot of a small chunk, or a large object's first chunk).
 * Private to the owner. */
struct gc_obj {
	uint64_t bytes;  /* count * size of its type */
	uint32_t rc;     /* export list: references from other nodes */
	uint16_t type;
	uint8_t live;
	uint8_t mark;
	uint8_t esc;     /* escaped: its address left the node since the last
			  * collective collection (set by the page-out hook on
			  * any thread, __atomic only; docs/gc.md) */
};

enum gc_chunk_kind { GC_CH_FREE = 0, GC_CH_SMALL, GC_CH_LARGE, GC_CH_CONT };

struct gc_chunk {
	uint8_t kind;     /* enum gc_chunk_kind */
	uint8_t cls;      /* GC_CH_SMALL: size class */
	uint32_t nslots;  /* GC_CH_SMALL */
	uint32_t head;    /* GC_CH_CONT: the large object's first chunk */
	uint32_t span;    /* GC_CH_LARGE: chunks of the object */
	struct gc_obj *objs; /* nslots entries (1 for GC_CH_LARGE) */
};

/* A node's arena: [base, base + size), size a multiple of GC_CHUNK. */
struct gc_heap {
	char *base;
	size_t size;
	uint32_t nchunks, chunks_used;
	struct gc_chunk *ch;
	uint32_t *free[GC_NCLASS]; /* free slots per class: chunk << 12 | slot */
	size_t nfree[GC_NCLASS], capfree[GC_NCLASS];
	uint64_t live_objects, live_bytes;
};

int gc_heap_init(struct gc_heap *h, void *base, size_t size);
void gc_heap_fini(struct gc_heap *h);
/* Allocate an object of bytes (>= 1): its offset in the arena, or
 * -ENOMEM. The memory is not cleared. */
long gc_heap_alloc(struct gc_heap *h, size_t bytes, uint16_t type);
/* The live object holding arena offset off (any byte of it), its start in
 * *start; NULL if none. */
struct gc_obj *gc_heap_find(struct gc_heap *h, uint64_t off, uint64_t *start);
/* Free the live object starting at off. */
void gc_heap_free(struct gc_heap *h, uint64_t off);
/* Call fn(arg, off, obj) for every live object (in address order). */
void gc_heap_each(struct gc_heap *h, void (*fn)(void *arg, uint64_t off, struct gc_obj *o),
		  void *arg);
/* Free every live object that is neither marked, exported (rc 0) nor
 * escaped (esc, read atomically) and clear the marks of the others. Adds the freed objects and bytes. */
void gc_heap_sweep(struct gc_heap *h, uint64_t *objects, uint64_t *bytes);

/* A set of nonzero 64-bit values (addresses). */
struct gc_set {
	uint64_t *v;
	size_t cap, n; /* cap a power of two (or 0) */
};
/* Add x: 1 if new, 0 if present, -ENOMEM. */
int gc_set_add(struct gc_set *s, uint64_t x);
int gc_set_has(const struct gc_set *s, uint64_t x);
void gc_set_clear(struct gc_set *s);
void gc_set_free(struct gc_set *s);
/* Iterate: for (size_t i = 0; gc_set_next(s, &i, &x);) ... */
int gc_set_next(const struct gc_set *s, size_t *i, uint64_t *x);

/* The reference layout of a type: the byte offsets of its pointer
 * fields, nested records and arrays flattened, ascending. */
struct gc_layout {
	uint32_t size;
	uint32_t nptr;
	uint32_t *ptr;
};
/* Build the layout of a record from its fields; nested records are looked
 * up in tab (indexed by type id; a nested type without a layout there is
 * -EINVAL). 0, -EINVAL or -ENOMEM. */
int gc_layout_build(struct gc_layout *out, size_t size, const struct dsm_field *f,
		    size_t nf, const struct gc_layout *tab, size_t ntab);
void gc_layout_free(struct gc_layout *l);

#endif /* DSM_GC_INTERNAL_H */
