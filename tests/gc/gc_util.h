/*
 * gc_util.h — shared by the collector's multi-node tests (tests/gc).
 * Define MN_PROG first.
 */
#ifndef GC_UTIL_H
#define GC_UTIL_H

#include <stdint.h>
#include <string.h>

#include "../mn/mn_util.h"
#include "dsm_gc.h"

/* The object of every test: an id, a value derived from it, 4 references. */
struct obj {
	uint64_t id;
	uint64_t val;
	struct obj *e[4];
};

static inline dsm_type_t obj_type(void)
{
	struct dsm_field f[] = {
		DSM_FIELD(struct obj, id, DSM_FIELD_U64),
		DSM_FIELD(struct obj, val, DSM_FIELD_U64),
		DSM_FIELD_N(struct obj, e, DSM_FIELD_PTR, 4),
	};
	dsm_type_t t = dsm_gc_type_register("obj", sizeof(struct obj), f, sizeof(f) / sizeof(f[0]));
	if (t <= 0)
		FAIL("dsm_gc_type_register: %s", dsm_strerror(t));
	return t;
}

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A generator every node runs identically. */
struct rng { uint64_t s; };
static inline uint64_t rnd(struct rng *r)
{
	return mix(r->s++);
}

static inline void gc_start(int *argc, char ***argv, int min_nodes)
{
	int err = dsm_init(argc, argv);
	if (err)
		DIE(1, "dsm_init: %s", dsm_strerror(err));
	me = dsm_node_id();
	if (dsm_node_count() < min_nodes)
		DIE(77, "needs %d nodes", min_nodes);
	CHECK(dsm_gc_init(0));
}

static inline struct dsm_gc_stats gc_stats(void)
{
	struct dsm_gc_stats s;
	CHECK(dsm_gc_stats(&s));
	return s;
}

static inline struct obj *new_obj(dsm_type_t t, uint64_t id)
{
	struct obj *p = dsm_gc_malloc(t, 1);
	if (!p)
		FAIL("dsm_gc_malloc: %s", strerror(errno));
	p->id = id;
	p->val = mix(id);
	return p;
}

#endif /* GC_UTIL_H */
