/*
 * sc.c — sequential consistency: IVY's dynamic distributed manager with
 * page-level CREW (docs/protocols/sc.md).
 *
 * Each page is INVALID, READ_SHARED or WRITE_EXCLUSIVE on each node. One
 * node owns it and keeps the copyset of read copies. Requests follow
 * probable-owner hints; write requests flip the hints toward the requester
 * as they pass (the arrow protocol), so concurrent writers form a queue
 * and a node that is owner or about to be owner queues requests it cannot
 * serve yet. A writer invalidates every read copy before it writes. A node
 * that just obtained a page keeps it for a short hold (DSM_SC_HOLD_US
 * after its faulting thread resumed) so contended pages make progress.
 *
 * Locking: region->lock guards the page table and protections; messages
 * are built under it into an outbox and sent after it is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/node.h"
#include "internal.h"
#include "proto.h"
#include "vm/vm.h"

#define MODE_READ 1
#define MODE_WRITE 2
#define MAX_HOLD_NS 10000000ull  /* serve queued requests after 10 ms anyway */

/* A request this node cannot serve yet. */
struct sc_req {
	size_t page;
	uint16_t type;
	int16_t from;
	struct sc_req *next;
};

struct sc_state {
	struct sc_req *head, *tail;
	unsigned count;
	unsigned char *snap; /* page snapshot for the service thread's sends */
};

static struct sc_state *ST(struct dsm_node *n) { return n->proto_state; }
static uint64_t bit(int node) { return 1ull << node; }

#define TRANSITION DSM_TRANSITION
#define set_prot dsm__proto_set_prot

/* The page entry, initialised on first use: node 0 starts as the owner
 * of every page (read-only, so its first write is a local upgrade), the others with no copy and node 0 as the
 * probable owner. Caller holds the region lock. */
static struct dsm_page *pg_get(struct dsm_node *n, size_t p)
{
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];

	if (pg->flags & DSM_PGF_INIT)
		return pg;
	pg->flags = DSM_PGF_INIT;
	pg->inv_from = -1;
	pg->prob_owner = 0;
	if (n->id == 0) { /* read-only until written: a local upgrade */
		pg->flags |= DSM_PGF_OWNER;
		pg->state = DSM_PAGE_READ_SHARED;
	}
	/* Before any map reset the table's prot is unset: the view still has
	 * its initial protection. After one, the reset wrote every entry. */
	if (r->map_resets == 0)
		pg->prot = (uint8_t)(n->id == 0 ? PROT_READ : PROT_NONE);
	return pg;
}

/* ---------------- fault path (SIGSEGV handler context) ---------------- */

/* Does the page's state allow the access? */
static int allows(const struct dsm_page *pg, int want_write)
{
	if (want_write == 1)
		return pg->state == DSM_PAGE_WRITE_EXCLUSIVE;
	return pg->state != DSM_PAGE_INVALID;
}

/* Owner of a read-shared page wants to write: invalidate the copies. */
static void start_upgrade(struct dsm_node *n, size_t p, struct dsm_page *pg,
			  struct dsm_outbox *ob)
{
	uint64_t cs = pg->copyset & ~bit(n->id);

	pg->copyset = 0;
	if (!cs) {
		TRANSITION(pg, DSM_PEV_UPGRADE);
		DSM_STAT_ADD(n, local_faults, 1);
		return;
	}
	pg->pending = DSM_PEND_WRITE;
	pg->acks_left = (uint16_t)__builtin_popcountll(cs);
	for (int d = 0; d < n->count; d++)
		if (cs & bit(d))
			dsm__outbox_add(ob, d, DSM_MSG_SC_INV, p, (uint64_t)n->id, 0);
	DSM_STAT_ADD(n, invalidations_sent, pg->acks_left);
}

/* Start the fetch a fault needs. Caller holds the lock; pending is NONE. */
static void start_fetch(struct dsm_node *n, size_t p, struct dsm_page *pg,
			int want_write, struct dsm_outbox *ob)
{
	if (want_write == 1 && (pg->flags & DSM_PGF_OWNER)) {
		start_upgrade(n, p, pg, ob);
	} else if (want_write == 1) {
		pg->pending = DSM_PEND_WRITE;
		dsm__outbox_add(ob, pg->prob_owner, DSM_MSG_SC_WRITE_REQ, p, (uint64_t)n->id, 0);
		pg->prob_owner = (int16_t)n->id; /* arrow: we are next */
	} else {
		pg->pending = DSM_PEND_READ;
		dsm__outbox_add(ob, pg->prob_owner, DSM_MSG_SC_READ_REQ, p, (uint64_t)n->id, 0);
	}
}

/* The access is allowed now: fix the protection; the first access after
 * obtaining a page ends its hold's wait for the faulting thread. */
static int sc_ready(struct dsm_node *n, size_t p, int want_write, int *err)
{
	struct dsm_page *pg = pg_get(n, p);

	if (!allows(pg, want_write))
		return 0;
	*err = set_prot(n, p, pg);
	if ((pg->flags & DSM_PGF_HOLD) && !pg->resumed_ns)
		pg->resumed_ns = dsm__now_ns();
	return 1;
}

/* Start the fetch unless one is in flight; an owner's upgrade without
 * copies resolves locally. */
static int sc_advance(struct dsm_node *n, size_t p, int want_write,
		      struct dsm_outbox *ob, void *arg)
{
	struct dsm_page *pg = pg_get(n, p);

	(void)arg;
	if (pg->pending == DSM_PEND_NONE)
		start_fetch(n, p, pg, want_write, ob);
	return allows(pg, want_write) ? DSM_FAULT_RETRY : DSM_FAULT_WAIT;
}

static const struct dsm_fault_ops sc_fault_ops = {
	.ready = sc_ready,
	.advance = sc_advance,
};

/* Resolve a fault on page p (SIGSEGV handler context). */
static int sc_fault(struct dsm_node *n, size_t p, int want_write)
{
	return dsm__proto_fault_loop(n, p, want_write == 1, &sc_fault_ops, NULL);
}

/* ---------------- service thread ---------------- */

/* Is the page ours and free to hand out now? Expires an ended hold. */
static int servable(struct dsm_node *n, struct dsm_page *pg, uint64_t now)
{
	if (!(pg->flags & DSM_PGF_OWNER) || pg->pending != DSM_PEND_NONE)
		return 0;
	if (pg->flags & DSM_PGF_HOLD) {
		uint64_t hold = (uint64_t)n->cfg.hold_us * 1000;
		if (!((pg->resumed_ns && now - pg->resumed_ns >= hold) ||
		      now - pg->granted_ns >= MAX_HOLD_NS))
			return 0;
		pg->flags &= (uint8_t)~DSM_PGF_HOLD;
	}
	return 1;
}

/* Queue a request until the page can be served. */
static void defer(struct dsm_node *n, struct dsm_page *pg, size_t p, int type,
		  int from)
{
	struct sc_state *st = ST(n);
	struct sc_req *q = malloc(sizeof(*q));

	if (!q) {
		dsm__fail(n, -ENOMEM, n->id, "out of memory queueing a page request");
		return;
	}
	*q = (struct sc_req){ .page = p, .type = (uint16_t)type, .from = (int16_t)from };
	if (st->tail)
		st->tail->next = q;
	else
		st->head = q;
	st->tail = q;
	st->count++;
	pg->ndefer++;
}

/* Owner sends a read copy; a writable page becomes read-shared. */
static void serve_read(struct dsm_node *n, size_t p, struct dsm_page *pg,
		       int from, struct dsm_outbox *ob)
{
	struct dsm_msg *m;

	TRANSITION(pg, DSM_PEV_SERVE_READ);
	set_prot(n, p, pg); /* write access revoked before the snapshot */
	pg->copyset |= bit(from);
	memcpy(ST(n)->snap, dsm__page_rt(n->region, p), n->page_size);
	m = dsm__outbox_add(ob, from, DSM_MSG_SC_PAGE, p, MODE_READ, 0);
	m->payload = ST(n)->snap;
	m->length = (uint32_t)n->page_size;
	DSM_STAT_ADD(n, pages_sent, 1);
}

/* Owner hands the page and its copyset to a writer. */
static void serve_write(struct dsm_node *n, size_t p, struct dsm_page *pg,
			int from, struct dsm_outbox *ob)
{
	uint64_t cs = pg->copyset & ~bit(from) & ~bit(n->id);
	struct dsm_msg *m;

	/* Revoke access before the snapshot: another application thread may
	 * be storing to the page right now, and its store must not land after
	 * the copy we send. mprotect returns after the TLB shootdown. */
	TRANSITION(pg, DSM_PEV_SERVE_WRITE);
	set_prot(n, p, pg);
	memcpy(ST(n)->snap, dsm__page_rt(n->region, p), n->page_size);
	pg->flags &= (uint8_t)~DSM_PGF_OWNER;
	pg->copyset = 0;
	pg->prob_owner = (int16_t)from;
	m = dsm__outbox_add(ob, from, DSM_MSG_SC_PAGE, p, MODE_WRITE, cs);
	m->payload = ST(n)->snap;
	m->length = (uint32_t)n->page_size;
	DSM_STAT_ADD(n, pages_sent, 1);
}

/* A read or write request for page p from node `from`. */
static void on_request(struct dsm_node *n, size_t p, int type, int from,
		       struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	int write = type == DSM_MSG_SC_WRITE_REQ;

	if (pg->prob_owner != n->id) { /* not ours, not coming to us */
		dsm__outbox_add(ob, pg->prob_owner, (uint16_t)type, p, (uint64_t)from, 0);
		if (write)
			pg->prob_owner = (int16_t)from;
		DSM_STAT_ADD(n, forwards, 1);
		return;
	}
	if (!pg->ndefer && servable(n, pg, dsm__now_ns())) {
		if (write)
			serve_write(n, p, pg, from, ob);
		else
			serve_read(n, p, pg, from, ob);
		return;
	}
	defer(n, pg, p, type, from);
	if (write)
		pg->prob_owner = (int16_t)from; /* later requests go to it */
}

/* A writer finished collecting invalidation acks (or needed none). */
static void complete_write(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	TRANSITION(pg, DSM_PEV_FETCH_WRITE);
	set_prot(n, p, pg);
	pg->pending = DSM_PEND_NONE;
	pg->flags |= DSM_PGF_OWNER | DSM_PGF_HOLD;
	pg->granted_ns = dsm__now_ns();
	pg->resumed_ns = 0;
	dsm__page_wake(pg);
}

/* Page data arrived: a read copy, or ownership with a copyset. */
static int on_page(struct dsm_node *n, const struct dsm_msg *m, size_t p,
		   struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	uint64_t cs = m->arg[2] & ~bit(n->id);

	if (m->arg[1] == MODE_READ ? pg->pending != DSM_PEND_READ
				   : pg->pending != DSM_PEND_WRITE)
		return DSM_EPROTO;
	memcpy(dsm__page_rt(n->region, p), m->payload, n->page_size);
	DSM_STAT_ADD(n, remote_fetches, 1);
	if (m->arg[1] == MODE_READ) {
		TRANSITION(pg, DSM_PEV_FETCH_READ);
		pg->prob_owner = (int16_t)m->src;
		pg->pending = DSM_PEND_NONE;
		if (pg->inv_from >= 0) { /* invalidated while in flight */
			TRANSITION(pg, DSM_PEV_INVALIDATE);
			dsm__outbox_add(ob, pg->inv_from, DSM_MSG_SC_INV_ACK, p, 0, 0);
			pg->prob_owner = pg->inv_from;
			pg->inv_from = -1;
		}
		set_prot(n, p, pg);
		dsm__page_wake(pg);
		return 0;
	}
	if (pg->state == DSM_PAGE_READ_SHARED) { /* our copy is superseded */
		TRANSITION(pg, DSM_PEV_INVALIDATE);
		set_prot(n, p, pg);
	}
	pg->flags |= DSM_PGF_OWNER;
	pg->copyset = 0;
	if (!cs) {
		complete_write(n, p, pg);
		return 0;
	}
	pg->acks_left = (uint16_t)__builtin_popcountll(cs);
	for (int d = 0; d < n->count; d++)
		if (cs & bit(d))
			dsm__outbox_add(ob, d, DSM_MSG_SC_INV, p, (uint64_t)n->id, 0);
	DSM_STAT_ADD(n, invalidations_sent, pg->acks_left);
	return 0;
}

/* A writer invalidates our read copy. */
static int on_inv(struct dsm_node *n, size_t p, int writer, struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);

	if (pg->flags & DSM_PGF_OWNER)
		return DSM_EPROTO;
	DSM_STAT_ADD(n, invalidations_recv, 1);
	if (pg->pending == DSM_PEND_READ) {
		pg->inv_from = (int16_t)writer; /* ack once the copy lands */
		return 0;
	}
	if (pg->state != DSM_PAGE_INVALID) {
		TRANSITION(pg, DSM_PEV_INVALIDATE);
		set_prot(n, p, pg);
	}
	if (pg->pending != DSM_PEND_WRITE)
		pg->prob_owner = (int16_t)writer;
	dsm__outbox_add(ob, writer, DSM_MSG_SC_INV_ACK, p, 0, 0);
	return 0;
}

/* One invalidation ack for our pending write. */
static int on_inv_ack(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = pg_get(n, p);

	if (pg->pending != DSM_PEND_WRITE || !pg->acks_left)
		return DSM_EPROTO;
	if (--pg->acks_left == 0)
		complete_write(n, p, pg);
	return 0;
}

/* Serve queued requests whose pages became free, in arrival order. One
 * request per lock hold, so the snapshot buffer is never shared. */
static int sc_tick(struct dsm_node *n)
{
	struct sc_state *st = ST(n);
	struct dsm_region *r = n->region;
	struct sc_req **pp = &st->head, *prev = NULL;

	while (*pp) {
		struct sc_req *q = *pp;
		struct dsm_outbox ob = { 0 };
		int done = 0;

		pthread_mutex_lock(&r->lock);
		struct dsm_page *pg = pg_get(n, q->page);
		if (!(pg->flags & DSM_PGF_OWNER) && pg->pending != DSM_PEND_WRITE) {
			done = 1; /* page moved on: pass the request along */
			dsm__outbox_add(&ob, pg->prob_owner, q->type, q->page, (uint64_t)q->from, 0);
		} else if (servable(n, pg, dsm__now_ns())) {
			done = 1;
			if (q->type == DSM_MSG_SC_WRITE_REQ)
				serve_write(n, q->page, pg, q->from, &ob);
			else
				serve_read(n, q->page, pg, q->from, &ob);
		}
		if (done)
			pg->ndefer--;
		pthread_mutex_unlock(&r->lock);
		dsm__outbox_flush(n, &ob);
		if (!done) {
			prev = q;
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		if (st->tail == q)
			st->tail = prev;
		st->count--;
		free(q);
	}
	/* Queued requests wait for a hold of a few hundred µs at most: poll
	 * without sleeping until then (the loop yields the CPU each turn). */
	return st->count ? 0 : -1;
}

/* Protocol messages. Service thread. */
static int sc_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dsm_region *r = n->region;
	struct dsm_outbox ob = { 0 };
	size_t p = (size_t)m->arg[0];
	int err = 0;

	if (p >= r->npages)
		return DSM_EPROTO;
	pthread_mutex_lock(&r->lock);
	if (n->cfg.log_level >= DSM_LOG_DEBUG) {
		struct dsm_page *pg = pg_get(n, p);
		DSM_DEBUG(n, "sc: %s page %zu a1=%llu a2=%llx from %u: state %s "
			     "pending %d owner %d prob %d ndefer %u",
			  dsm__msg_type_name(m->type), p,
			  (unsigned long long)m->arg[1], (unsigned long long)m->arg[2],
			  m->src, dsm__page_state_name(pg->state), pg->pending,
			  !!(pg->flags & DSM_PGF_OWNER), pg->prob_owner, pg->ndefer);
	}
	switch (m->type) {
	case DSM_MSG_SC_READ_REQ:
	case DSM_MSG_SC_WRITE_REQ:
		if (m->arg[1] >= (uint64_t)n->count)
			err = DSM_EPROTO;
		else
			on_request(n, p, m->type, (int)m->arg[1], &ob);
		break;
	case DSM_MSG_SC_PAGE:
		err = on_page(n, m, p, &ob);
		break;
	case DSM_MSG_SC_INV:
		err = m->arg[1] < (uint64_t)n->count ? on_inv(n, p, (int)m->arg[1], &ob)
						     : DSM_EPROTO;
		break;
	case DSM_MSG_SC_INV_ACK:
		err = on_inv_ack(n, p);
		break;
	default:
		err = DSM_EPROTO;
	}
	pthread_mutex_unlock(&r->lock);
	dsm__outbox_flush(n, &ob);
	if (ST(n)->count)
		sc_tick(n);
	return err;
}

/* Node 0 starts with the whole view readable (one mprotect). */
static int sc_init(struct dsm_node *n)
{
	struct sc_state *st = calloc(1, sizeof(*st));

	if (!st || !(st->snap = malloc(n->page_size))) {
		free(st);
		return -ENOMEM;
	}
	n->proto_state = st;
	if (n->id == 0 && mprotect(n->region->app, n->region->size, PROT_READ) < 0)
		return -errno;
	return 0;
}

static void sc_fini(struct dsm_node *n)
{
	struct sc_state *st = ST(n);

	while (st->head) {
		struct sc_req *q = st->head;
		st->head = q->next;
		free(q);
	}
	free(st->snap);
	free(st);
	n->proto_state = NULL;
}

const struct dsm_protocol_ops dsm__proto_sc = {
	.name = "sc",
	.init = sc_init,
	.fini = sc_fini,
	.fault = sc_fault,
	.handle_message = sc_handle,
	.tick = sc_tick,
};
