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
 *
 * Record/replay (docs/replay.md) watches through src/replay/hooks.h: each
 * page carries a version, bumped when ownership moves and sent with the
 * page (SC_PAGE's mode argument, above its low byte); every transition is
 * reported with dsm__rp_note; the replay layer may hold a request or an
 * invalidation back and hand it in later (dsm__rp_proto_sc, at the end).
 *
 * Adaptive CREW (DSM_SC_ADAPT, docs/replay.md): a page this node has
 * twice written right after reading it is migratory here: its read faults
 * fetch it for writing, so the write that follows costs no second
 * transition and no invalidation; and a node whose transitions per second
 * exceed DSM_SC_THRASH doubles its hold, up to MAX_HOLD_NS, so each owner
 * runs longer with its pages (towards serial execution, never a livelock).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/node.h"
#include "hetero/hooks.h"
#include "internal.h"
#include "proto.h"
#include "replay/hooks.h"
#include "vm/vm.h"

#define MODE_READ 1  /* DSM_RP_READ */
#define MODE_WRITE 2 /* DSM_RP_WRITE */
#define MODE_MASK 0xff /* SC_PAGE arg1: mode | version << 8 */
#define MAX_HOLD_NS 10000000ull  /* serve queued requests after 10 ms anyway */

/* --- the page state machine (docs/protocols/sc.md) --- */

#define SC_EVENT_MAP(XX)                                                   \
	XX(FETCH_READ)   /* read copy arrived */                           \
	XX(FETCH_WRITE)  /* ownership arrived, invalidations done */       \
	XX(UPGRADE)      /* owner's read copy made writable, no copies */  \
	XX(SERVE_READ)   /* owner sent a read copy to a peer */            \
	XX(SERVE_WRITE)  /* owner gave the page to a writer */             \
	XX(INVALIDATE)   /* a writer invalidated this copy */         \
	XX(DOWNGRADE)    /* record/replay: owner write-protects at a barrier */

enum sc_event {
#define XX(name) EV_##name,
	SC_EVENT_MAP(XX)
#undef XX
	EV_COUNT_
};

static const char *const event_names[EV_COUNT_] = {
#define XX(name) #name,
	SC_EVENT_MAP(XX)
#undef XX
};

#define I DSM_PAGE_INVALID
#define R DSM_PAGE_READ_SHARED
#define W DSM_PAGE_WRITE_EXCLUSIVE
static const signed char next_state[EV_COUNT_][DSM_PAGE_STATE_COUNT_] = {
	/*                    INVALID READ_SHARED WRITE_EXCL DIRTY */
	[EV_FETCH_READ]  = { R,      -1,         -1,        -1 },
	[EV_FETCH_WRITE] = { W,      W,          -1,        -1 },
	[EV_UPGRADE]     = { -1,     W,          -1,        -1 },
	[EV_SERVE_READ]  = { -1,     R,          R,         -1 },
	[EV_SERVE_WRITE] = { -1,     I,          I,         -1 },
	[EV_INVALIDATE]  = { I,      I,          -1,        -1 },
	[EV_DOWNGRADE]   = { -1,     -1,         R,         -1 },
};
#undef I
#undef R
#undef W

static const struct dsm_page_machine sc_machine = {
	.proto = "sc",
	.nevents = EV_COUNT_,
	.event_names = event_names,
	.next = next_state,
};

/* --- per-page protocol data --- */

enum sc_pending { PEND_NONE = 0, PEND_READ, PEND_WRITE };
#define SC_OWNER 0x01 /* this node owns the page */
#define SC_HOLD  0x02 /* obtained recently: serve others after the hold */
#define SC_MIGR  0x04 /* adaptive: migratory here, read faults fetch it W */
#define SC_LASTR 0x08 /* adaptive: this node's last fetch of it was a read */
#define SC_DG    0x10 /* record/replay: write-protected at the last barrier */
#define SC_INW   0x20 /* record/replay: in the written set of this interval */
#define DG_PIN 1      /* rewritten after a barrier downgrade: kept writable */
#define MIGR_AFTER 2  /* read-then-write fetches that make a page migratory */
#define THRASH_WINDOW_NS 10000000ull /* transition rate measured per 10 ms */

/* What sc keeps per page beside the vm's entry (state, protection).
 * Guarded by the region lock. */
struct sc_page {
	uint8_t pending;     /* enum sc_pending: a fetch from here in flight */
	uint8_t flags;       /* SC_OWNER, SC_HOLD */
	int16_t prob_owner;  /* probable owner (IVY) */
	int16_t inv_from;    /* invalidation deferred during a read, or -1 */
	uint16_t acks_left;  /* invalidation acks still expected */
	uint16_t ndefer;     /* requests for this page queued here */
	uint64_t copyset;    /* nodes holding read copies (owner only) */
	uint64_t granted_ns; /* when this node last obtained the page */
	uint64_t resumed_ns; /* when the faulting thread resumed after that */
	uint32_t version;    /* ownership moves so far (record/replay) */
	int16_t giver;       /* node the page in flight comes from */
	uint8_t rw;          /* adaptive: write fetches of a read copy */
	uint8_t dg;          /* record/replay: rewritten after a downgrade */
	uint32_t rfault;     /* adaptive: the fault that fetched the read copy */
};

/* A request this node cannot serve yet. */
struct sc_req {
	size_t page;
	uint16_t type;
	int16_t from;
	struct sc_req *next;
};

struct sc_state {
	struct sc_page *pages;  /* npages, reserved, backed where used */
	size_t npages;
	struct sc_req *head, *tail;
	unsigned count;
	unsigned char *snap; /* page snapshot for the service thread's sends */
	int adapt;           /* adaptive CREW on (DSM_SC_ADAPT) */
	uint64_t hold_ns;    /* current hold (adaptive: grows when thrashing) */
	uint64_t win_start;  /* adaptive: start of the rate window */
	uint32_t win_count;  /* adaptive: transitions in it */
	uint32_t faults;     /* adaptive: faults so far (sc_fault calls) */
	size_t *wset;        /* record/replay: pages taken for writing since the
			      * last barrier (reserved, npages; SC_INW) */
	size_t nw;
};

static struct sc_state *ST(struct dsm_node *n) { return n->proto_state; }
static struct sc_page *SP(struct dsm_node *n, size_t p) { return &ST(n)->pages[p]; }
static uint64_t bit(int node) { return 1ull << node; }

#define set_prot dsm__proto_set_prot

/* Report a transition to record/replay (a load and a branch when off). */
static int note(struct dsm_node *n, int kind, size_t p, int mode, int peer)
{
	if (!dsm__rp_on(n))
		return 0;
	return dsm__rp_note(n, kind, p, mode, SP(n, p)->version, peer);
}

/* The checked transition (dsm__page_step) with sc's table. */
static int sc_step(struct dsm_node *n, size_t p, struct dsm_page *pg, enum sc_event ev)
{
	return dsm__page_step(n, &sc_machine, p, pg, ev);
}

/* The page entry, initialised on first use: node 0 starts as the owner
 * of every page (read-only, so its first write is a local upgrade), the
 * others with no copy and node 0 as the probable owner. Caller holds the
 * region lock. */
static struct dsm_page *pg_get(struct dsm_node *n, size_t p)
{
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];
	struct sc_page *sp = SP(n, p);

	if (pg->flags & DSM_PGF_INIT)
		return pg;
	pg->flags = DSM_PGF_INIT;
	*sp = (struct sc_page){ .inv_from = -1, .prob_owner = 0 };
	if (n->id == 0) { /* read-only until written: a local upgrade */
		sp->flags |= SC_OWNER;
		pg->state = DSM_PAGE_READ_SHARED;
	}
	/* Before any map reset the table's prot is unset: the view still has
	 * its initial protection. After one, the reset wrote every entry. */
	if (r->map_resets == 0)
		pg->prot = (uint8_t)(n->id == 0 ? PROT_READ : PROT_NONE);
	return pg;
}

/* ---------------- fault path (SIGSEGV handler context) ---------------- */

/* Adaptive CREW: count a transition; once per window compare the rate
 * with DSM_SC_THRASH and double or halve the hold. Region lock held. */
static void count_transition(struct dsm_node *n)
{
	struct sc_state *st = ST(n);
	uint64_t now = dsm__now_ns(), base = (uint64_t)n->cfg.hold_us * 1000;
	uint64_t rate;

	if (!st->adapt)
		return;
	st->win_count++;
	if (now - st->win_start < THRASH_WINDOW_NS)
		return;
	rate = st->win_count * 1000000000ull / (now - st->win_start);
	if (rate > (uint64_t)n->cfg.sc_thrash)
		st->hold_ns = st->hold_ns * 2 > MAX_HOLD_NS ? MAX_HOLD_NS
			    : st->hold_ns < 50000 ? 50000 : st->hold_ns * 2;
	else if (rate < (uint64_t)n->cfg.sc_thrash / 4)
		st->hold_ns = st->hold_ns / 2 < base ? base : st->hold_ns / 2;
	st->win_start = now;
	st->win_count = 0;
}

/* Adaptive CREW: the access a fault fetches for: a read fault on a
 * migratory page fetches it for writing. No side effects (a replay may
 * ask more than once). Region lock held. */
static int fetch_mode(struct dsm_node *n, const struct sc_page *sp, int want_write)
{
	if (ST(n)->adapt && want_write != 1 && (sp->flags & SC_MIGR) &&
	    !(sp->flags & SC_OWNER))
		return 1;
	return want_write;
}

/* Adaptive CREW: this node obtained page p (write: ownership from a peer).
 * Ownership fetched by the fault right after the one that fetched a read
 * copy (a read-modify-write) counts towards making the page migratory; a
 * write long after a read (another phase) does not, so pages that others
 * keep reading do not become exclusive. It depends only on the node's
 * sequence of faults and fetches, which a replay reproduces (and checks),
 * so a replay decides as its recording did. Region lock held. */
static void note_fetch(struct dsm_node *n, struct sc_page *sp, int write, int remote)
{
	uint32_t now = __atomic_load_n(&ST(n)->faults, __ATOMIC_RELAXED);

	if (!ST(n)->adapt)
		return;
	if (!write) {
		sp->flags |= SC_LASTR;
		sp->rfault = now;
		return;
	}
	if (remote && (sp->flags & SC_LASTR) && now - sp->rfault <= 1 &&
	    ++sp->rw >= MIGR_AFTER)
		sp->flags |= SC_MIGR;
	sp->flags &= (uint8_t)~SC_LASTR;
}

/* Record/replay: this node took page p for writing. A page written again
 * after a barrier write-protected it counts towards keeping it writable
 * (DG_PIN); every page taken goes into the barrier's written set once.
 * Async-signal-safe (the set is reserved, one entry per page). Region
 * lock held. */
static void note_written(struct dsm_node *n, size_t p, struct sc_page *sp)
{
	struct sc_state *st = ST(n);

	if (!st->wset)
		return;
	if (sp->flags & SC_DG) {
		sp->flags &= (uint8_t)~SC_DG;
		if (sp->dg < 255)
			sp->dg++;
	}
	if (!(sp->flags & SC_INW)) {
		sp->flags |= SC_INW;
		st->wset[st->nw++] = p;
	}
}

/* Does the page's state allow the access? */
static int allows(const struct dsm_page *pg, int want_write)
{
	if (want_write == 1)
		return pg->state == DSM_PAGE_WRITE_EXCLUSIVE;
	return pg->state != DSM_PAGE_INVALID;
}

/* Owner of a read-shared page wants to write: invalidate the copies. */
static int start_upgrade(struct dsm_node *n, size_t p, struct dsm_page *pg,
			 struct dsm_outbox *ob)
{
	struct sc_page *sp = SP(n, p);
	uint64_t cs = sp->copyset & ~bit(n->id);
	int err;

	if (!cs) {
		if ((err = sc_step(n, p, pg, EV_UPGRADE)))
			return err;
		sp->copyset = 0;
		sp->version++;
		note_written(n, p, sp);
		DSM_STAT_ADD(n, local_faults, 1);
		return note(n, DSM_RP_TAKE, p, MODE_WRITE, n->id);
	}
	sp->copyset = 0;
	sp->giver = (int16_t)n->id;
	sp->pending = PEND_WRITE;
	sp->acks_left = (uint16_t)__builtin_popcountll(cs);
	for (int d = 0; d < n->count; d++)
		if (cs & bit(d))
			dsm__outbox_add(ob, d, DSM_MSG_SC_INV, p, (uint64_t)n->id, 0);
	DSM_STAT_ADD(n, invalidations_sent, sp->acks_left);
	return 0;
}

/* Start the fetch a fault needs. Caller holds the lock; pending is NONE. */
static int start_fetch(struct dsm_node *n, size_t p, struct dsm_page *pg,
		       int want_write, struct dsm_outbox *ob)
{
	struct sc_page *sp = SP(n, p);
	int dst = sp->prob_owner;

	want_write = fetch_mode(n, sp, want_write);
	if (dsm__rp_on(n) && /* replaying: straight to the recorded giver */
	    (dst = dsm__rp_route(n, p, want_write, sp->flags & SC_OWNER, dst)) < 0)
		return dst == DSM_RP_NOT_YET ? 0 : dst; /* 0: sleep, ask again */
	if (want_write == 1 && (sp->flags & SC_OWNER))
		return start_upgrade(n, p, pg, ob);
	if (want_write == 1) {
		sp->pending = PEND_WRITE;
		dsm__outbox_add(ob, dst, DSM_MSG_SC_WRITE_REQ, p, (uint64_t)n->id, 0);
		sp->prob_owner = (int16_t)n->id; /* arrow: we are next */
	} else {
		sp->pending = PEND_READ;
		dsm__outbox_add(ob, dst, DSM_MSG_SC_READ_REQ, p, (uint64_t)n->id, 0);
	}
	return 0;
}

/* The access is allowed now: fix the protection; the first access after
 * obtaining a page ends its hold's wait for the faulting thread. */
static int sc_ready(struct dsm_node *n, size_t p, int want_write, int *err)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);

	if (!allows(pg, want_write))
		return 0;
	*err = set_prot(n, p, pg);
	if ((sp->flags & SC_HOLD) && !sp->resumed_ns)
		sp->resumed_ns = dsm__now_ns();
	return 1;
}

/* Start the fetch unless one is in flight; an owner's upgrade without
 * copies resolves locally. */
static int sc_advance(struct dsm_node *n, size_t p, int want_write,
		      struct dsm_outbox *ob, void *arg)
{
	struct dsm_page *pg = pg_get(n, p);
	int err;

	(void)arg;
	if (SP(n, p)->pending == PEND_NONE &&
	    (err = start_fetch(n, p, pg, want_write, ob)))
		return err;
	return allows(pg, want_write) ? DSM_FAULT_RETRY : DSM_FAULT_WAIT;
}

static const struct dsm_fault_ops sc_fault_ops = {
	.ready = sc_ready,
	.advance = sc_advance,
};

/* The fault loop alone (record/replay calls it inside a boundary). */
static int sc_fault_loop(struct dsm_node *n, size_t p, int want_write)
{
	return dsm__proto_fault_loop(n, p, want_write == 1, &sc_fault_ops, NULL);
}

/* Resolve a fault on page p (SIGSEGV handler context). */
static int sc_fault(struct dsm_node *n, size_t p, int want_write)
{
	__atomic_add_fetch(&ST(n)->faults, 1, __ATOMIC_RELAXED);
	if (dsm__rp_on(n)) {
		/* Without the CPU's hint, a fault on a page this node can read
		 * is a write (one application thread runs: the run token of
		 * src/replay serialises a node's threads; no install races it).
		 * Deciding it here, not by a read first, keeps the number of
		 * boundaries a write takes independent of whether the page was
		 * initialised before (by a peer's request): record and replay
		 * then count the same boundaries (docs/replay.md). */
		if (want_write < 0) {
			struct dsm_page *pg;
			pthread_mutex_lock(&n->region->lock);
			pg = pg_get(n, p);
			if (pg->state == DSM_PAGE_READ_SHARED && (pg->prot & PROT_READ))
				want_write = 1;
			pthread_mutex_unlock(&n->region->lock);
		}
		return dsm__rp_fault(n, p, want_write);
	}
	return sc_fault_loop(n, p, want_write);
}

/* ---------------- service thread ---------------- */

/* Is the page ours and free to hand out now? Expires an ended hold. While
 * recording, a page is handed out only inside a boundary of this node's
 * thread, except a read copy of a page it holds read-only: that changes
 * nothing the thread can see (a "free" GIVE, docs/replay.md). */
static int servable(struct dsm_node *n, size_t p, struct sc_page *sp, int write,
		    uint64_t now)
{
	if (!(sp->flags & SC_OWNER) || sp->pending != PEND_NONE)
		return 0;
	if (!dsm__rp_may_give(n) &&
	    (write || n->region->pages[p].state != DSM_PAGE_READ_SHARED))
		return 0;
	if (sp->flags & SC_HOLD) {
		uint64_t hold = ST(n)->hold_ns;
		if (!((sp->resumed_ns && now - sp->resumed_ns >= hold) ||
		      now - sp->granted_ns >= MAX_HOLD_NS))
			return 0;
		sp->flags &= (uint8_t)~SC_HOLD;
	}
	return 1;
}

/* Queue a request until the page can be served. */
static int defer(struct dsm_node *n, size_t p, int type, int from)
{
	struct sc_state *st = ST(n);
	struct sc_req *q = malloc(sizeof(*q));

	if (!q) {
		dsm__fail(n, -ENOMEM, n->id, "out of memory queueing a page request");
		return -ENOMEM;
	}
	*q = (struct sc_req){ .page = p, .type = (uint16_t)type, .from = (int16_t)from };
	if (st->tail)
		st->tail->next = q;
	else
		st->head = q;
	st->tail = q;
	st->count++;
	SP(n, p)->ndefer++;
	/* the service thread serves the queue from its tick: an application
	 * thread dispatching this (assist) must not leave it asleep */
	if (st->count == 1)
		n->tp->wake(n);
	return 0;
}

/* Owner sends a read copy; a writable page becomes read-shared. */
static int serve_read(struct dsm_node *n, size_t p, struct dsm_page *pg,
		      int from, struct dsm_outbox *ob)
{
	struct dsm_msg *m;
	int mode = pg->state == DSM_PAGE_READ_SHARED ? MODE_READ | DSM_RP_FREE : MODE_READ;
	int err;

	if ((err = sc_step(n, p, pg, EV_SERVE_READ)))
		return err;
	set_prot(n, p, pg); /* write access revoked before the snapshot */
	SP(n, p)->copyset |= bit(from);
	memcpy(ST(n)->snap, dsm__page_rt(n->region, p), n->page_size);
	dsm__gc_page_out(n, ST(n)->snap, n->page_size);
	if ((err = note(n, DSM_RP_GIVE, p, mode, from)))
		return err;
	m = dsm__outbox_add(ob, from, DSM_MSG_SC_PAGE, p,
			    MODE_READ | (uint64_t)SP(n, p)->version << 8, 0);
	m->payload = ST(n)->snap;
	m->length = (uint32_t)n->page_size;
	DSM_STAT_ADD(n, pages_sent, 1);
	return 0;
}

/* Owner hands the page and its copyset to a writer. */
static int serve_write(struct dsm_node *n, size_t p, struct dsm_page *pg,
		       int from, struct dsm_outbox *ob)
{
	struct sc_page *sp = SP(n, p);
	uint64_t cs = sp->copyset & ~bit(from) & ~bit(n->id);
	struct dsm_msg *m;
	int err;

	/* Revoke access before the snapshot: another application thread may
	 * be storing to the page right now, and its store must not land after
	 * the copy we send. mprotect returns after the TLB shootdown. */
	if ((err = sc_step(n, p, pg, EV_SERVE_WRITE)))
		return err;
	set_prot(n, p, pg);
	memcpy(ST(n)->snap, dsm__page_rt(n->region, p), n->page_size);
	dsm__gc_page_out(n, ST(n)->snap, n->page_size);
	sp->flags &= (uint8_t)~SC_OWNER;
	sp->copyset = 0;
	sp->prob_owner = (int16_t)from;
	if ((err = note(n, DSM_RP_GIVE, p, MODE_WRITE, from)))
		return err;
	m = dsm__outbox_add(ob, from, DSM_MSG_SC_PAGE, p,
			    MODE_WRITE | (uint64_t)sp->version << 8, cs);
	m->payload = ST(n)->snap;
	m->length = (uint32_t)n->page_size;
	DSM_STAT_ADD(n, pages_sent, 1);
	return 0;
}

/* A read or write request for page p from node `from`. */
static int on_request(struct dsm_node *n, size_t p, int type, int from,
		      struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);
	int write = type == DSM_MSG_SC_WRITE_REQ, err;

	if (dsm__rp_on(n) == DSM_RP_REPLAYING) /* served in the log's order */
		return dsm__rp_defer_request(n, p, type, from);
	if (sp->prob_owner != n->id) { /* not ours, not coming to us */
		dsm__outbox_add(ob, sp->prob_owner, (uint16_t)type, p, (uint64_t)from, 0);
		if (write)
			sp->prob_owner = (int16_t)from;
		DSM_STAT_ADD(n, forwards, 1);
		return 0;
	}
	if (!sp->ndefer && servable(n, p, sp, write, dsm__now_ns()))
		return write ? serve_write(n, p, pg, from, ob)
			     : serve_read(n, p, pg, from, ob);
	if ((err = defer(n, p, type, from)))
		return err;
	if (write)
		sp->prob_owner = (int16_t)from; /* later requests go to it */
	return 0;
}

/* A writer finished collecting invalidation acks (or needed none). */
static int complete_write(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct sc_page *sp = SP(n, p);
	int err = sc_step(n, p, pg, EV_FETCH_WRITE);

	if (!err)
		err = set_prot(n, p, pg);
	sp->pending = PEND_NONE;
	sp->flags |= SC_OWNER | SC_HOLD;
	sp->granted_ns = dsm__now_ns();
	sp->resumed_ns = 0;
	sp->version++;
	count_transition(n);
	note_fetch(n, sp, 1, sp->giver != n->id);
	note_written(n, p, sp);
	if (!err)
		err = note(n, DSM_RP_TAKE, p, MODE_WRITE, sp->giver);
	dsm__page_wake(pg);
	return err;
}

/* Send INV to every node in cs; acks_left counts them. */
static void invalidate_copies(struct dsm_node *n, size_t p, uint64_t cs,
			      struct dsm_outbox *ob)
{
	struct sc_page *sp = SP(n, p);

	sp->acks_left = (uint16_t)__builtin_popcountll(cs);
	for (int d = 0; d < n->count; d++)
		if (cs & bit(d))
			dsm__outbox_add(ob, d, DSM_MSG_SC_INV, p, (uint64_t)n->id, 0);
	DSM_STAT_ADD(n, invalidations_sent, sp->acks_left);
}

/* A read copy arrived; an invalidation that overtook it is acked now and
 * the copy installed as invalid (the faulting thread asks again). */
static int got_read_copy(struct dsm_node *n, const struct dsm_msg *m, size_t p,
			 struct dsm_page *pg, struct dsm_outbox *ob)
{
	struct sc_page *sp = SP(n, p);
	int err = sc_step(n, p, pg, EV_FETCH_READ);

	sp->prob_owner = (int16_t)m->src;
	sp->pending = PEND_NONE;
	sp->version = (uint32_t)(m->arg[1] >> 8);
	count_transition(n);
	note_fetch(n, sp, 0, 1);
	if (!err)
		err = note(n, DSM_RP_TAKE, p, MODE_READ, m->src);
	if (!err && sp->inv_from >= 0) { /* invalidated while in flight */
		err = sc_step(n, p, pg, EV_INVALIDATE) ?: note(n, DSM_RP_DROP, p, 0, 0);
		dsm__outbox_add(ob, sp->inv_from, DSM_MSG_SC_INV_ACK, p, 0, 0);
		sp->prob_owner = sp->inv_from;
		sp->inv_from = -1;
	}
	if (!err)
		err = set_prot(n, p, pg);
	dsm__page_wake(pg);
	return err;
}

/* Page data arrived: a read copy, or ownership with a copyset. */
static int on_page(struct dsm_node *n, const struct dsm_msg *m, size_t p,
		   struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);
	uint64_t cs = m->arg[2] & ~bit(n->id);
	uint64_t mode = m->arg[1] & MODE_MASK;
	int err;

	if (mode == MODE_READ ? sp->pending != PEND_READ : sp->pending != PEND_WRITE)
		return DSM_EPROTO;
	memcpy(dsm__page_rt(n->region, p), m->payload, n->page_size);
	if ((err = dsm__hetero_page_in(n, (int)m->src, p, dsm__page_rt(n->region, p))))
		return err; /* untyped page across byte orders: the job fails */
	DSM_STAT_ADD(n, remote_fetches, 1);
	if (mode == MODE_READ)
		return got_read_copy(n, m, p, pg, ob);
	sp->version = (uint32_t)(m->arg[1] >> 8);
	sp->giver = (int16_t)m->src;
	if (pg->state == DSM_PAGE_READ_SHARED) { /* our copy is superseded */
		if ((err = sc_step(n, p, pg, EV_INVALIDATE)))
			return err;
		set_prot(n, p, pg);
	}
	sp->flags |= SC_OWNER;
	sp->copyset = 0;
	if (!cs)
		return complete_write(n, p, pg);
	invalidate_copies(n, p, cs, ob);
	return 0;
}

/* A writer invalidates our read copy (now: record/replay decided). */
static int apply_inv(struct dsm_node *n, size_t p, int writer, struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);
	int err;

	if (sp->flags & SC_OWNER)
		return DSM_EPROTO;
	if (sp->pending == PEND_READ) {
		sp->inv_from = (int16_t)writer; /* ack once the copy lands */
		return 0;
	}
	if (pg->state != DSM_PAGE_INVALID) {
		if ((err = sc_step(n, p, pg, EV_INVALIDATE)))
			return err;
		set_prot(n, p, pg);
		if ((err = note(n, DSM_RP_DROP, p, 0, 0)))
			return err;
	}
	if (sp->pending != PEND_WRITE)
		sp->prob_owner = (int16_t)writer;
	dsm__outbox_add(ob, writer, DSM_MSG_SC_INV_ACK, p, 0, 0);
	return 0;
}

/* A writer invalidates our read copy; record/replay may hold it back
 * until this node's thread is in the runtime (the log's boundary). */
static int on_inv(struct dsm_node *n, size_t p, int writer, struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);

	if (sp->flags & SC_OWNER)
		return DSM_EPROTO;
	DSM_STAT_ADD(n, invalidations_recv, 1);
	if (dsm__rp_on(n) &&
	    dsm__rp_gate_inv(n, p, writer, pg->state != DSM_PAGE_INVALID ||
					   sp->pending == PEND_READ))
		return 0;
	return apply_inv(n, p, writer, ob);
}

/* One invalidation ack for our pending write. */
static int on_inv_ack(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = pg_get(n, p);
	struct sc_page *sp = SP(n, p);

	if (sp->pending != PEND_WRITE || !sp->acks_left)
		return DSM_EPROTO;
	if (--sp->acks_left == 0)
		return complete_write(n, p, pg);
	return 0;
}

/* Serve queued requests whose pages became free, in arrival order. One
 * request per lock hold, so the snapshot buffer is never shared. A broken
 * invariant while serving fails the job (nobody else would hear of it). */
static int sc_tick(struct dsm_node *n)
{
	struct sc_state *st = ST(n);
	struct dsm_region *r = n->region;
	struct sc_req **pp = &st->head, *prev = NULL;

	while (*pp) {
		struct sc_req *q = *pp;
		struct dsm_outbox ob = { 0 };
		int done = 0, err = 0;

		pthread_mutex_lock(&r->lock);
		struct dsm_page *pg = pg_get(n, q->page);
		struct sc_page *sp = SP(n, q->page);
		if (!(sp->flags & SC_OWNER) && sp->pending != PEND_WRITE) {
			done = 1; /* page moved on: pass the request along */
			dsm__outbox_add(&ob, sp->prob_owner, q->type, q->page, (uint64_t)q->from, 0);
		} else if (servable(n, q->page, sp, q->type == DSM_MSG_SC_WRITE_REQ,
				    dsm__now_ns())) {
			done = 1;
			err = q->type == DSM_MSG_SC_WRITE_REQ
				      ? serve_write(n, q->page, pg, q->from, &ob)
				      : serve_read(n, q->page, pg, q->from, &ob);
		}
		if (done)
			sp->ndefer--;
		pthread_mutex_unlock(&r->lock);
		dsm__outbox_flush(n, &ob);
		if (err)
			dsm__fail(n, err, n->id, "sc: node %d cannot serve %s of page %zu"
				  " to node %d: %s", n->id, dsm__msg_type_name(q->type),
				  q->page, q->from, dsm_strerror(err));
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
	if (dsm__rp_on(n)) { /* record/replay's deferred work and log flush */
		int t = dsm__rp_tick(n);
		return st->count ? 1 : t;
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
		struct sc_page *sp = SP(n, p);
		DSM_DEBUG(n, "sc: %s page %zu a1=%llu a2=%llx from %u: state %s "
			     "pending %d owner %d prob %d ndefer %u",
			  dsm__msg_type_name(m->type), p,
			  (unsigned long long)m->arg[1], (unsigned long long)m->arg[2],
			  m->src, dsm__page_state_name(pg->state), sp->pending,
			  !!(sp->flags & SC_OWNER), sp->prob_owner, sp->ndefer);
	}
	switch (m->type) {
	case DSM_MSG_SC_READ_REQ:
	case DSM_MSG_SC_WRITE_REQ:
		if (m->arg[1] >= (uint64_t)n->count)
			err = DSM_EPROTO;
		else
			err = on_request(n, p, m->type, (int)m->arg[1], &ob);
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
	if (ST(n)->count || dsm__rp_on(n))
		sc_tick(n);
	return err;
}

/* Zeroed memory reserved without commitment; NULL on failure. */
static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void sc_fini(struct dsm_node *n)
{
	struct sc_state *st = ST(n);

	if (!st)
		return;
	while (st->head) {
		struct sc_req *q = st->head;
		st->head = q->next;
		free(q);
	}
	if (st->pages)
		munmap(st->pages, st->npages * sizeof(*st->pages));
	if (st->wset)
		munmap(st->wset, st->npages * sizeof(*st->wset));
	free(st->snap);
	free(st);
	n->proto_state = NULL;
}

/* The per-page table is reserved and backed only where pages are used;
 * node 0 starts with the whole view readable (one mprotect). */
static int sc_init(struct dsm_node *n)
{
	struct sc_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	n->proto_state = st;
	st->npages = n->region->npages;
	st->pages = reserve(st->npages * sizeof(*st->pages));
	if (!st->pages || !(st->snap = malloc(n->page_size)))
		return -ENOMEM;
	st->adapt = n->cfg.sc_adapt == 1 ||
		    (n->cfg.sc_adapt == 2 && (n->cfg.record_dir[0] || n->cfg.replay_dir[0]));
	st->hold_ns = (uint64_t)n->cfg.hold_us * 1000;
	if ((n->cfg.record_dir[0] || n->cfg.replay_dir[0]) &&
	    !(st->wset = reserve(st->npages * sizeof(*st->wset))))
		return -ENOMEM;
	st->win_start = dsm__now_ns();
	if (n->id == 0 && mprotect(n->region->app, n->region->size, PROT_READ) < 0)
		return -errno;
	return 0;
}

/* --- record/replay callbacks (src/replay/hooks.h); region lock held --- */

static int rp_allowed(struct dsm_node *n, size_t p, int want_write)
{
	return allows(pg_get(n, p), want_write);
}

static unsigned rp_deferred(struct dsm_node *n)
{
	return ST(n)->count;
}

static int rp_can_serve(struct dsm_node *n, size_t p, uint32_t version)
{
	struct sc_page *sp = SP(n, p);

	pg_get(n, p);
	return (sp->flags & SC_OWNER) && sp->pending == PEND_NONE &&
	       sp->version == version;
}

static int rp_can_serve_free(struct dsm_node *n, size_t p, uint32_t version)
{
	return rp_can_serve(n, p, version) &&
	       pg_get(n, p)->state == DSM_PAGE_READ_SHARED;
}

/* A barrier (the node's thread inside it): write-protect the pages taken
 * for writing since the last barrier, except those rewritten DG_PIN times
 * after such a downgrade (written every interval: they stay writable, the
 * issue's pinned exclusive pages). Reads of what a node wrote before the
 * barrier are then served at once, as free GIVEs, wherever its thread is.
 * Depends only on the node's transitions, so a replay does the same. */
static int rp_barrier(struct dsm_node *n)
{
	struct sc_state *st = ST(n);
	int err = 0;

	for (size_t i = 0; i < st->nw; i++) {
		size_t p = st->wset[i];
		struct dsm_page *pg = pg_get(n, p);
		struct sc_page *sp = SP(n, p);

		sp->flags &= (uint8_t)~SC_INW;
		if (err || !(sp->flags & SC_OWNER) || sp->pending != PEND_NONE ||
		    pg->state != DSM_PAGE_WRITE_EXCLUSIVE || sp->dg >= DG_PIN)
			continue;
		if (!(err = sc_step(n, p, pg, EV_DOWNGRADE)))
			err = set_prot(n, p, pg);
		sp->flags |= SC_DG;
	}
	st->nw = 0;
	return err;
}

static int rp_serve(struct dsm_node *n, size_t p, int type, int from,
		    struct dsm_outbox *ob)
{
	struct dsm_page *pg = pg_get(n, p);

	return type == DSM_MSG_SC_WRITE_REQ ? serve_write(n, p, pg, from, ob)
					    : serve_read(n, p, pg, from, ob);
}

const struct dsm_rp_proto dsm__rp_proto_sc = {
	.fault = sc_fault_loop,
	.allowed = rp_allowed,
	.can_serve = rp_can_serve,
	.can_serve_free = rp_can_serve_free,
	.serve = rp_serve,
	.barrier = rp_barrier,
	.inv = apply_inv,
	.deferred = rp_deferred,
	.read_req_type = DSM_MSG_SC_READ_REQ,
	.write_req_type = DSM_MSG_SC_WRITE_REQ,
};

const struct dsm_protocol_ops dsm__proto_sc = {
	.name = "sc",
	.machine = &sc_machine,
	.init = sc_init,
	.fini = sc_fini,
	.fault = sc_fault,
	.handle_message = sc_handle,
	.tick = sc_tick,
};
