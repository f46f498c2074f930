/*
 * sync.c — the sync layer's setup, message routing and entry-consistency
 * bindings.
 */
#include <errno.h>
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

/* Free a singly linked list whose link field is `next`. */
#define FREE_LIST(head, type)                     \
	do {                                      \
		type *p_ = (head);                \
		while (p_) {                      \
			type *nx_ = p_->next;     \
			free(p_);                 \
			p_ = nx_;                 \
		}                                 \
	} while (0)

void dsm__sync_fini(struct dsm_node *n)
{
	struct dsm_sync *s = n->sync;

	if (!s)
		return;
	for (int i = 0; i < SYNC_BUCKETS; i++) {
		for (struct lock_mgr *l = s->mgr[i]; l; l = l->next) {
			FREE_LIST(l->head, struct lock_req);
			if (l->blob && n->proto->lock_free)
				n->proto->lock_free(l->blob);
			free(l->tape);
		}
		for (struct bar_mgr *b = s->bmgr[i]; b; b = b->next)
			if (b->pstate && n->proto->barrier_done)
				n->proto->barrier_done(n, b->pstate);
		for (struct bar_local *b = s->blocal[i]; b; b = b->next)
			free(b->payload);
		FREE_LIST(s->mgr[i], struct lock_mgr);
		FREE_LIST(s->held[i], struct lock_held);
		FREE_LIST(s->bmgr[i], struct bar_mgr);
		FREE_LIST(s->blocal[i], struct bar_local);
	}
	FREE_LIST(s->binds, struct bind_rec);
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
static int bind(unsigned id, int barrier, void *addr, size_t len)
{
	struct dsm_node *n = dsm__get();
	struct bind_rec *b;

	if (!n)
		return DSM_ENOTINIT;
	if (!len || !dsm__region_contains(n->region, addr) ||
	    len > n->region->size - (size_t)((unsigned char *)addr - n->region->app))
		return -EINVAL;
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
	return bind(lock, 0, addr, len);
}

int dsm_bind_barrier(unsigned barrier, void *addr, size_t len)
{
	return bind(barrier, 1, addr, len);
}
