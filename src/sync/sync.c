/*
 * sync.c — the sync layer's setup, message routing and entry-consistency
 * bindings.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/node.h"
#include "proto/proto.h"
#include "sync.h"
#include "vm/vm.h"

int dsm__sync_init(struct dsm_node *n)
{
	struct dsm_sync *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	n->sync = s;
	return 0;
}

/* The bucket of id among nb: Fibonacci hashing (the product's high bits),
 * so ids with a common stride (lock 64 * k) do not share one bucket. */
static size_t slot(unsigned id, size_t nb)
{
	return (size_t)(((uint64_t)(uint32_t)(id * 0x9e3779b1u) * nb) >> 32);
}

/* Double t's buckets (first use: SYNC_BUCKETS). Out of memory, the old
 * table stays: longer chains, nothing lost. */
static void grow(struct sync_table *t)
{
	size_t nb = t->nbuckets ? 2 * t->nbuckets : SYNC_BUCKETS;
	struct sync_obj **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct sync_obj *o = t->bucket[i], *nx; o; o = nx) {
			nx = o->next;
			o->next = b[slot(o->id, nb)];
			b[slot(o->id, nb)] = o;
		}
	free(t->bucket);
	t->bucket = b;
	t->nbuckets = nb;
}

void *dsm__sync_lookup(struct sync_table *t, unsigned id, size_t size)
{
	struct sync_obj **b, *o;

	if (t->nbuckets)
		for (o = t->bucket[slot(id, t->nbuckets)]; o; o = o->next)
			if (o->id == id)
				return o;
	if (!size)
		return NULL;
	if (t->count >= 2 * t->nbuckets)
		grow(t);
	if (!t->nbuckets || !(o = calloc(1, size)))
		return NULL;
	b = &t->bucket[slot(id, t->nbuckets)];
	o->id = id;
	o->next = *b;
	*b = o;
	t->count++;
	return o;
}

int dsm__sync_each(struct sync_table *t, int (*fn)(void *obj, void *arg), void *arg)
{
	int rc;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct sync_obj *o = t->bucket[i]; o; o = o->next)
			if ((rc = fn(o, arg)))
				return rc;
	return 0;
}

void dsm__sync_clear(struct sync_table *t, void (*fn)(void *obj, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sync_obj *o = t->bucket[i];
		while (o) {
			struct sync_obj *nx = o->next;
			if (fn)
				fn(o, arg);
			free(o);
			o = nx;
		}
	}
	free(t->bucket);
	t->bucket = NULL;
	t->nbuckets = t->count = 0;
}

/* What a lock's manager record owns: its queue and the protocol's blob. */
static void lock_mgr_free(void *obj, void *node)
{
	struct lock_mgr *l = obj;
	struct dsm_node *n = node;

	while (l->head) {
		struct lock_req *r = l->head;
		l->head = r->next;
		free(r);
	}
	if (l->blob && n->proto->lock_free)
		n->proto->lock_free(l->blob);
	free(l->tape); /* Tapeworm */
}

/* A barrier's manager record owns the protocol's collected state. */
static void bar_mgr_free(void *obj, void *node)
{
	struct bar_mgr *b = obj;
	struct dsm_node *n = node;

	if (b->pstate && n->proto->barrier_done)
		n->proto->barrier_done(n, b->pstate);
	dsm__barrier_fwd_free(n, b->fwd);
}

/* A barrier's local record owns its last release payload. */
static void bar_local_free(void *obj, void *node)
{
	(void)node;
	free(((struct bar_local *)obj)->payload);
}

void dsm__sync_fini(struct dsm_node *n)
{
	struct dsm_sync *s = n->sync;

	if (!s)
		return;
	dsm__sync_clear(&s->mgr, lock_mgr_free, n);
	dsm__sync_clear(&s->held, dsm__lock_held_free, NULL);
	free(s->ahead);
	dsm__sync_clear(&s->bmgr, bar_mgr_free, n);
	dsm__sync_clear(&s->blocal, bar_local_free, NULL);
	dsm__barrier_frags_free(s);
	while (s->binds) {
		struct bind_rec *b = s->binds;
		s->binds = b->next;
		free(b);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	n->sync = NULL;
}

int dsm__sync_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	switch (m->type) {
	case DSM_MSG_LOCK_REQ: case DSM_MSG_LOCK_GRANT: case DSM_MSG_LOCK_REL:
		return dsm__lock_handle(n, m);
	default:
		return dsm__barrier_handle(n, m);
	}
}

/* Record a binding of [addr, addr+len) to a lock or barrier. */
static int add_binding(unsigned id, int barrier, void *addr, size_t len)
{
	struct dsm_node *n = dsm__get();
	struct bind_rec *b;

	if (!n)
		return DSM_ENOTINIT;
	if (!len || !dsm__region_contains(n->region, addr) ||
	    len > n->region->size - (size_t)((unsigned char *)addr - n->region->app))
		return -EINVAL;
	if (n->proto->bind) { /* ec reads its bindings */
		int err = n->proto->bind(n, id, barrier, addr, len);
		if (err)
			return err;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return -ENOMEM;
	*b = (struct bind_rec){ .id = id, .barrier = barrier,
				.addr = (uintptr_t)addr, .len = len };
	pthread_mutex_lock(&n->sync->mu);
	b->next = n->sync->binds;
	n->sync->binds = b;
	pthread_mutex_unlock(&n->sync->mu);
	return 0;
}

int dsm_bind(unsigned lock, void *addr, size_t len)
{
	return add_binding(lock, 0, addr, len);
}

int dsm_bind_barrier(unsigned barrier, void *addr, size_t len)
{
	return add_binding(barrier, 1, addr, len);
}
