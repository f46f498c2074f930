/*
 * replay.c — record and replay of racy programs by logging page ownership
 * transitions under sc (docs/replay.md).
 *
 * Boundaries. A node's application thread (the holder of the node's run
 * token when it has several: sched.c) runs between boundaries: a
 * boundary is a visit to the runtime (a fault that reaches the protocol,
 * a synchronisation call, dsm_malloc, dsm_finalize), numbered 1, 2, ...
 * Pages change hands on a node only while its thread is inside one:
 * while recording, a request or an invalidation that arrives while the
 * thread computes waits until it enters the runtime; a fault leaves its
 * boundary only with the page accessible, in the same region-lock hold
 * that checks it. So what a node computes between two boundaries depends
 * only on the pages it holds and their contents when it leaves the first,
 * and the log of each node's transitions, each tagged with its boundary,
 * fixes the run.
 *
 * Replay enforces it: a fault sends its request straight to the node the
 * log says gave the page; a node serves a request or applies an
 * invalidation only when its thread is in the boundary the log names and
 * the transition is the next one the log holds (GIVE and DROP records in
 * order); a thread leaves a boundary only when every transition the log
 * puts in it happened. Every wait has a deadline (DSM_TIMEOUT); a
 * mismatch or an expired wait is a divergence, reported with node,
 * boundary, page and version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsm_replay.h"
#include "hooks.h"
#include "log.h"
#include "proto/internal.h"
#include "state.h"
#include "vm/vm.h"

#define LOG_CAP (1u << 20)        /* record buffer: a block at most */
#define FLUSH_NS 100000000ull      /* flush the log at least every 100 ms */

static struct rp_state *RS(struct dsm_node *n) { return n->rp_state; }

/* --- an async-signal-safe message builder --- */

struct sbuf {
	char s[320];
	size_t len;
};

static void sb_str(struct sbuf *b, const char *s)
{
	while (*s && b->len + 1 < sizeof(b->s))
		b->s[b->len++] = *s++;
	b->s[b->len] = '\0';
}

static void sb_num(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	sb_str(b, dsm__utoa(v, tmp, 10));
}

/* " KIND page P version V peer X (boundary B)" for a log record. */
static void sb_rec(struct sbuf *b, const struct dsm_rp_rec *r)
{
	sb_str(b, dsm__rp_kind_name(r->kind));
	sb_str(b, " ");
	for (int i = 0; i < 4; i++) {
		static const char *const names[][4] = {
			[DSM_RP_TAKE] = { "page", "mode", "version", "from node" },
			[DSM_RP_GIVE] = { "page", "mode", "version", "to node" },
			[DSM_RP_DROP] = { "page", "version", NULL, NULL },
			[DSM_RP_GRANT] = { "lock", "mode", "node", NULL },
			[DSM_RP_SYNC] = { "op", "id", NULL, NULL },
			[DSM_RP_MALLOC] = { "size", "offset", NULL, NULL },
			[DSM_RP_INPUT] = { "length", NULL, NULL, NULL },
			[DSM_RP_END] = { NULL, NULL, NULL, NULL },
			[DSM_RP_SCHED] = { "thread", NULL, NULL, NULL },
		};
		if (r->kind >= DSM_RP_KIND_END_ || !names[r->kind][i])
			break;
		sb_str(b, names[r->kind][i]);
		sb_str(b, " ");
		sb_num(b, r->f[i]);
		sb_str(b, " ");
	}
	sb_str(b, "at boundary ");
	sb_num(b, r->boundary);
}

/* diverge()'s expect for a failure that is not about the log. */
const struct dsm_rp_rec dsm__rp_not_the_log;
#define not_the_log dsm__rp_not_the_log

/* Report a divergence once: stderr now (async-signal-safe); the job fails
 * from here, or from the service thread's next tick when called in the
 * fault path. Returns DSM_EDIVERGED. */
int dsm__rp_diverge(struct dsm_node *n, const char *what, const struct dsm_rp_rec *expect)
{
	struct rp_state *st = RS(n);
	struct sbuf b = { .len = 0 };
	int zero = 0;

	sb_str(&b, n->rp_mode == DSM_RP_RECORDING ? "dsm: cannot record on node "
						   : "dsm: replay divergence on node ");
	sb_num(&b, (uint64_t)n->id);
	sb_str(&b, " at boundary ");
	sb_num(&b, atomic_load(&st->boundary));
	sb_str(&b, ": ");
	sb_str(&b, what);
	if (expect == &not_the_log) {
		/* not about the log */
	} else if (expect) {
		sb_str(&b, "; the log expects ");
		sb_rec(&b, expect);
		sb_str(&b, " (its record ");
		sb_num(&b, expect->order + 1);
		sb_str(&b, ")");
	} else {
		sb_str(&b, "; the log holds nothing more of that kind");
	}
	if (!atomic_compare_exchange_strong(&st->diverged, &zero, 1))
		return DSM_EDIVERGED;
	memcpy(st->why, b.s + 5, b.len - 4); /* without "dsm: " */
	atomic_store(&st->diverged, 2);      /* why is published */
	sb_str(&b, "\n");
	dsm__write_str(b.s); /* one write: lines of several nodes stay whole */
	atomic_fetch_add(&st->progress, 1);
	dsm__futex_wake_all(&st->progress);
	if (!dsm__in_fault)
		dsm__fail(n, DSM_EDIVERGED, n->id, "%s", st->why);
	return DSM_EDIVERGED;
}

#define diverge dsm__rp_diverge

/* "what page P mode M version V peer X" into b. */
static void sb_event(struct sbuf *b, int kind, size_t p, int mode, uint32_t v, int peer)
{
	struct dsm_rp_rec r = { .kind = (uint8_t)kind, .f = { p, (uint64_t)mode, v,
							     (uint64_t)peer } };
	if (kind == DSM_RP_DROP)
		r.f[1] = v;
	sb_str(b, "this run made ");
	sb_rec(b, &r);
}

/* --- recording --- */

/* Write a buffer fully; async-signal-safe. 0 or -errno. */
static int write_full(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write the buffered records as one block. Caller holds st->mu. */
static int flush_locked(struct rp_state *st)
{
	int err;

	st->flushed_ns = dsm__now_ns();
	if (!st->len)
		return 0;
	dsm__rp_block_header(st->buf, st->buf + DSM_RP_BLOCK_HDR, (uint32_t)st->len);
	err = write_full(st->fd, st->buf, DSM_RP_BLOCK_HDR + st->len);
	st->bytes += DSM_RP_BLOCK_HDR + st->len;
	st->len = 0;
	return err;
}

/* Append a record (and INPUT's bytes) at the current boundary. No
 * malloc: async-signal-safe. 0, -E2BIG or a write error. */
int dsm__rp_append(struct rp_state *st, struct dsm_rp_rec *r, const void *data, size_t dlen)
{
	size_t room = LOG_CAP - DSM_RP_BLOCK_HDR;
	int err = 0;

	if (dlen > room - DSM_RP_REC_MAX)
		return -E2BIG;
	pthread_mutex_lock(&st->mu);
	if (st->len + DSM_RP_REC_MAX + dlen > room)
		err = flush_locked(st);
	r->boundary = atomic_load(&st->boundary);
	if (r->boundary < st->prev) /* a grant logged by the service thread */
		r->boundary = st->prev;
	st->len += dsm__rp_rec_encode(st->buf + DSM_RP_BLOCK_HDR + st->len, r, st->prev);
	if (dlen)
		memcpy(st->buf + DSM_RP_BLOCK_HDR + st->len, data, dlen);
	st->len += dlen;
	st->prev = r->boundary;
	st->records++;
	pthread_mutex_unlock(&st->mu);
	return err;
}

#define append dsm__rp_append

/* --- replaying: the log's expectations --- */

static int list_push(struct rec_list *l, const struct dsm_rp_rec *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct dsm_rp_rec *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

/* The parser's callback: sort records into the lists replay walks. */
static int load_rec(void *arg, const struct dsm_rp_rec *rec)
{
	struct rp_state *st = arg;
	struct dsm_rp_rec r = *rec;

	r.order = st->loaded++;
	switch (r.kind) {
	case DSM_RP_TAKE:
		return list_push(&st->takes, &r);
	case DSM_RP_GIVE:
		if (r.f[1] & DSM_RP_FREE)
			return list_push(&st->frees, &r);
		return list_push(&st->gds, &r);
	case DSM_RP_DROP:
		return list_push(&st->gds, &r);
	case DSM_RP_GRANT:
		return list_push(&st->grants, &r);
	case DSM_RP_SCHED:
		return list_push(&st->scheds, &r);
	case DSM_RP_END:
		return 0;
	default:
		return list_push(&st->seq, &r);
	}
}

/* Replaying: does a GIVE/DROP of page p come before take in the log, in
 * its boundary, and has not happened yet? Region lock. */
static int gd_before(struct rp_state *st, const struct dsm_rp_rec *take, size_t p)
{
	for (size_t i = st->gds.i; i < st->gds.n; i++) {
		const struct dsm_rp_rec *e = &st->gds.v[i];
		if (e->boundary != take->boundary || e->order > take->order)
			break;
		if (e->f[0] == p)
			return 1;
	}
	return 0;
}

static const struct dsm_rp_rec *next_of(struct rec_list *l)
{
	return l->i < l->n ? &l->v[l->i] : NULL;
}

/* Replaying: is the next GIVE/DROP this one, in this boundary? Region lock. */
static int gd_due(struct rp_state *st, int kind, size_t p, int mode, int peer)
{
	const struct dsm_rp_rec *e = next_of(&st->gds);

	if (st->running || !e || e->boundary != atomic_load(&st->boundary) ||
	    e->kind != kind || e->f[0] != p || !dsm__rp_prev_done(st, e))
		return 0;
	return kind == DSM_RP_DROP || (e->f[1] == (uint64_t)mode && e->f[3] == (uint64_t)peer);
}

/* Replaying: every GIVE/DROP of the current boundary happened. Region lock. */
static int boundary_done(struct rp_state *st)
{
	const struct dsm_rp_rec *e = next_of(&st->gds);

	return !e || e->boundary > atomic_load(&st->boundary);
}

static void bump(struct rp_state *st)
{
	atomic_fetch_add(&st->progress, 1);
	dsm__futex_wake_all(&st->progress);
}

/* --- hooks: protocol side --- */

int dsm__rp_note(struct dsm_node *n, int kind, size_t p, int mode, uint32_t version,
		 int peer)
{
	struct rp_state *st = RS(n);
	struct rec_list *l = kind == DSM_RP_TAKE ? &st->takes : &st->gds;
	struct dsm_rp_rec r = { .kind = (uint8_t)kind };
	const struct dsm_rp_rec *e;
	struct sbuf b = { .len = 0 };

	if (kind == DSM_RP_DROP) {
		r.f[0] = p;
		r.f[1] = version;
	} else {
		r.f[0] = p;
		r.f[1] = (uint64_t)mode;
		r.f[2] = version;
		r.f[3] = (uint64_t)peer;
	}
	if (n->rp_mode == DSM_RP_RECORDING) {
		int err = append(st, &r, NULL, 0);
		if (err)
			dsm__write_str("dsm: record: cannot write the log\n");
		return 0;
	}
	if (kind == DSM_RP_GIVE && (mode & DSM_RP_FREE)) {
		if (dsm__rp_free_note(st, r.f)) {
			bump(st);
			dsm__page_wake(&n->region->pages[p]);
			return 0;
		}
		sb_event(&b, kind, p, mode, version, peer);
		return diverge(n, b.s, NULL);
	}
	e = next_of(l);
	if (e && e->boundary == atomic_load(&st->boundary) &&
	    !memcmp(e->f, r.f, sizeof(r.f)) && dsm__rp_prev_done(st, e)) {
		st->done[e->order] = 1;
		l->i++;
		bump(st);
		dsm__page_wake(&n->region->pages[p]); /* a fault may wait for it */
		return 0;
	}
	sb_event(&b, kind, p, mode, version, peer);
	return diverge(n, b.s, e);
}

int dsm__rp_route(struct dsm_node *n, size_t p, int want_write, int owner, int dflt)
{
	struct rp_state *st = RS(n);
	const struct dsm_rp_rec *e = next_of(&st->takes);
	int mode = want_write == 1 ? DSM_RP_WRITE : DSM_RP_READ;
	struct sbuf b = { .len = 0 };

	if (n->rp_mode != DSM_RP_REPLAYING)
		return dflt;
	if (e && e->boundary == atomic_load(&st->boundary) && e->f[0] == p &&
	    (gd_before(st, e, p) || !dsm__rp_prev_done(st, e)))
		return DSM_RP_NOT_YET; /* the page leaves here first */
	if (e && e->boundary == atomic_load(&st->boundary) && e->f[0] == p &&
	    e->f[1] == (uint64_t)mode && e->f[3] < (uint64_t)n->count &&
	    (e->f[3] == (uint64_t)n->id) == (want_write == 1 && owner))
		return (int)e->f[3];
	sb_str(&b, "this run faults on page ");
	sb_num(&b, p);
	sb_str(&b, want_write == 1 ? " for writing" : " for reading");
	if (owner)
		sb_str(&b, " (owned here)");
	return diverge(n, b.s, e);
}

int dsm__rp_may_give(struct dsm_node *n)
{
	return n->rp_mode != DSM_RP_RECORDING || !RS(n)->running;
}

static int enqueue(struct rp_state *st, size_t p, int type, int from)
{
	struct rp_req *q = malloc(sizeof(*q)), **pp = &st->head;

	if (!q)
		return -ENOMEM;
	*q = (struct rp_req){ .page = p, .type = type, .from = from };
	while (*pp)
		pp = &(*pp)->next;
	*pp = q;
	return 0;
}

int dsm__rp_defer_request(struct dsm_node *n, size_t p, int type, int from)
{
	return enqueue(RS(n), p, type, from);
}

int dsm__rp_gate_inv(struct dsm_node *n, size_t p, int writer, int live)
{
	struct rp_state *st = RS(n);

	if (n->rp_mode == DSM_RP_RECORDING ? !st->running
					   : !live || gd_due(st, DSM_RP_DROP, p, 0, 0))
		return 0;
	return enqueue(st, p, 0, writer) ? 0 : 1; /* no memory: apply now */
}

/* Is deferred q due now? Region lock. */
static int due(struct dsm_node *n, const struct rp_req *q)
{
	struct rp_state *st = RS(n);
	int mode = q->type == st->proto->write_req_type ? DSM_RP_WRITE : DSM_RP_READ;

	if (n->rp_mode == DSM_RP_RECORDING)
		return !st->running;
	if (!q->type)
		return gd_due(st, DSM_RP_DROP, q->page, 0, 0);
	if (mode == DSM_RP_READ && dsm__rp_free_due(n, q->page, q->from))
		return 1;
	return gd_due(st, DSM_RP_GIVE, q->page, mode, q->from) &&
	       st->proto->can_serve(n, q->page, (uint32_t)next_of(&st->gds)->f[2]);
}

/* Serve the first due deferred item; 1 if one was, 0 if none. One per
 * region-lock hold: the protocol's snapshot buffer is not shared. */
static int serve_one(struct dsm_node *n)
{
	struct rp_state *st = RS(n);
	struct dsm_region *r = n->region;
	struct dsm_outbox ob = { 0 };
	struct rp_req **pp, *q = NULL;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	for (pp = &st->head; *pp; pp = &(*pp)->next)
		if (due(n, *pp)) {
			q = *pp;
			*pp = q->next;
			break;
		}
	if (q)
		err = q->type ? st->proto->serve(n, q->page, q->type, q->from, &ob)
			      : st->proto->inv(n, q->page, q->from, &ob);
	pthread_mutex_unlock(&r->lock);
	if (!q)
		return 0;
	dsm__outbox_flush(n, &ob);
	if (err && !atomic_load(&n->failed))
		dsm__fail(n, err, n->id, "replay: node %d cannot serve %s of page %zu "
			  "for node %d: %s", n->id, q->type ? "a request" : "an invalidation",
			  q->page, q->from, dsm_strerror(err));
	free(q);
	return 1;
}

int dsm__rp_tick(struct dsm_node *n)
{
	struct rp_state *st = RS(n);

	if (!n->rp_mode)
		return -1;
	if (atomic_load(&st->diverged) == 2 && !atomic_load(&n->failed))
		dsm__fail(n, DSM_EDIVERGED, n->id, "%s", st->why);
	while (serve_one(n))
		;
	dsm__rp_sched_tick(n);
	if (n->rp_mode == DSM_RP_RECORDING && dsm__now_ns() - st->flushed_ns > FLUSH_NS) {
		pthread_mutex_lock(&st->mu);
		flush_locked(st);
		pthread_mutex_unlock(&st->mu);
	}
	return st->head ? 1 : 50;
}

/* Open a boundary (region lock held): the node leaves program code; wake
 * the service thread when work waits for it (async-signal-safe: an
 * eventfd write). */
void dsm__rp_boundary_open(struct dsm_node *n)
{
	struct rp_state *st = RS(n);

	atomic_store(&st->boundary, atomic_load(&st->boundary) + 1);
	st->running = 0;
	if (st->head || st->proto->deferred(n))
		n->tp->wake(n);
}

/* Replaying: wait (region lock dropped) until the current boundary's
 * GIVE/DROP records happened, or, for a fault (p != SIZE_MAX), until page
 * p no longer allows the access (the fault must run again: the log has
 * the page leave and come back within this boundary); 0, or the
 * divergence after DSM_TIMEOUT. Caller holds the region lock, held again
 * on return. Async-signal-safe. */
static int wait_boundary(struct dsm_node *n, size_t p, int want_write)
{
	struct rp_state *st = RS(n);
	struct dsm_region *r = n->region;
	uint64_t limit = (uint64_t)n->cfg.timeout_ms * 1000000ull, t0 = dsm__now_ns();

	while (!boundary_done(st) &&
	       (p == SIZE_MAX || st->proto->allowed(n, p, want_write))) {
		uint32_t seq = atomic_load(&st->progress);
		uint64_t now = dsm__now_ns();
		if (atomic_load(&st->diverged) || atomic_load(&n->failed))
			return DSM_EDIVERGED;
		if (now - t0 > limit)
			return diverge(n, "the node waited DSM_TIMEOUT in this boundary for a "
				       "transition the log holds", next_of(&st->gds));
		pthread_mutex_unlock(&r->lock);
		dsm__futex_wait(&st->progress, seq, 10000000ull);
		pthread_mutex_lock(&r->lock);
	}
	return 0;
}

/* Replaying, leaving a boundary: no TAKE of it may be left. Region lock. */
static int takes_done(struct dsm_node *n)
{
	struct rp_state *st = RS(n);
	const struct dsm_rp_rec *e = next_of(&st->takes);

	if (!e || e->boundary > atomic_load(&st->boundary))
		return 0;
	return diverge(n, "this run leaves the boundary without a transition the log "
		       "holds", e);
}

/* Replaying, leaving a boundary with the token: its GIVE/DROP records
 * happened and no TAKE of it is left. Region lock. */
int dsm__rp_leave_checks(struct dsm_node *n)
{
	int err;

	if (n->rp_mode != DSM_RP_REPLAYING)
		return 0;
	return (err = wait_boundary(n, SIZE_MAX, 0)) ? err : takes_done(n);
}

int dsm__rp_fault(struct dsm_node *n, size_t p, int want_write)
{
	struct rp_state *st = RS(n);
	struct dsm_region *r = n->region;
	int err, open;

	if ((open = dsm__rp_sched_open(n)) < 0)
		return open;
	pthread_mutex_lock(&r->lock);
	if (open) {
		dsm__rp_boundary_open(n);
		/* may hand the token to another thread first (a yield) */
		if ((err = dsm__rp_sched_enter(n, 0)))
			goto out;
	}
	pthread_mutex_unlock(&r->lock);
	for (;;) {
		if ((err = st->proto->fault(n, p, want_write))) {
			if (err == DSM_ETIMEDOUT && n->rp_mode == DSM_RP_REPLAYING)
				err = diverge(n, "a page the fault asked for did not come "
					      "within 4 x DSM_TIMEOUT", next_of(&st->takes));
			pthread_mutex_lock(&r->lock);
			break;
		}
		pthread_mutex_lock(&r->lock);
		if (!st->proto->allowed(n, p, want_write)) {
			pthread_mutex_unlock(&r->lock);
			continue; /* served away before this thread saw it */
		}
		if (n->rp_mode == DSM_RP_RECORDING)
			break;
		if ((err = wait_boundary(n, p, want_write)))
			break;
		if (st->proto->allowed(n, p, want_write)) {
			err = takes_done(n);
			break;
		}
		pthread_mutex_unlock(&r->lock);
	}
out:
	dsm__rp_sched_close(n);
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* --- hooks: sync side --- */

/* Synchronisation calls whose wait parks the thread (gives up the run
 * token) while other threads of the node live: their wait may depend on
 * a sibling (a dsm lock it holds, its barrier arrival). */
static int parks(int op)
{
	return op == DSM_RP_OP_ACQUIRE || op == DSM_RP_OP_BARRIER;
}

int dsm__rp_sync_enter(struct dsm_node *n, int op, unsigned id)
{
	struct rp_state *st = RS(n);
	struct dsm_region *r = n->region;
	struct dsm_rp_rec rec = { .kind = DSM_RP_SYNC, .f = { (uint64_t)op, id } };
	int err = 0, open, park = 0;

	if (!n->rp_mode)
		return 0;
	if ((open = dsm__rp_sched_open(n)) < 0)
		return open;
	pthread_mutex_lock(&r->lock);
	if (open) {
		dsm__rp_boundary_open(n);
		/* A barrier write-protects pages (sc's downgrade) in the same
		 * lock hold that opens its boundary: no request is served in
		 * between, so whether a copy leaves before or after it (a
		 * bound or a free GIVE) is the same in record and replay. */
		if (op == DSM_RP_OP_BARRIER)
			err = st->proto->barrier(n);
		park = parks(op) && dsm__rp_sched_parks(n);
		if (!err)
			err = dsm__rp_sched_enter(n, park);
	}
	pthread_mutex_unlock(&r->lock);
	if (err || !op)
		return err;
	if (n->rp_mode == DSM_RP_RECORDING) {
		err = append(st, &rec, NULL, 0);
	} else {
		const struct dsm_rp_rec *e = next_of(&st->seq);
		if (e && e->kind == DSM_RP_SYNC && e->boundary == atomic_load(&st->boundary) &&
		    e->f[0] == (uint64_t)op && e->f[1] == id) {
			st->seq.i++;
		} else {
			struct sbuf b = { .len = 0 };
			rec.boundary = atomic_load(&st->boundary);
			sb_str(&b, "this run made ");
			sb_rec(&b, &rec);
			return diverge(n, b.s, e);
		}
	}
	if (park) /* the wait will run without the token: dsm__rp_sync_park */
		dsm__rp_self()->park_pending = 1;
	return err;
}

void dsm__rp_sync_park(struct dsm_node *n)
{
	struct rp_thr *t;

	if (!n->rp_mode || !(t = dsm__rp_self()) || !t->park_pending)
		return;
	t->park_pending = 0;
	pthread_mutex_lock(&n->region->lock);
	/* a divergence is reported; the wait goes on (its waiter is live) */
	dsm__rp_sched_park(n, RP_P_RUNTIME, NULL);
	pthread_mutex_unlock(&n->region->lock);
}

int dsm__rp_sync_leave(struct dsm_node *n)
{
	struct dsm_region *r = n->region;
	struct rp_thr *t = dsm__rp_self();
	int err = 0;

	if (!n->rp_mode)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (t && t->depth == 1)
		t->park_pending = 0;
	if (t && t->depth == 1 && t->park == RP_P_RUNTIME) /* the token as the log says */
		err = dsm__rp_sched_take(n);
	/* Only the outermost leave closes the boundary: a call nested in
	 * another (dsm_malloc's heap lock) must not wait for the boundary's
	 * GIVEs, which may follow its own release (the peer it lets in
	 * faults on the block it allocates). */
	if (!err && (!t || t->depth == 1))
		err = dsm__rp_leave_checks(n);
	dsm__rp_sched_close(n);
	pthread_mutex_unlock(&r->lock);
	return err;
}

void dsm__rp_finalizing(struct dsm_node *n)
{
	struct rp_thr *t = dsm__rp_self();

	if (!n->rp_mode)
		return;
	if (t)
		t->depth++; /* never left */
	pthread_mutex_lock(&n->region->lock);
	dsm__rp_boundary_open(n);
	if (t)
		t->state = RP_T_IN;
	pthread_mutex_unlock(&n->region->lock);
}

int dsm__rp_grant_next(struct dsm_node *n, unsigned id)
{
	struct rec_list *l = &RS(n)->grants;

	if (n->rp_mode != DSM_RP_REPLAYING)
		return -1;
	for (size_t i = l->i; i < l->n; i++)
		if (l->v[i].kind == DSM_RP_GRANT && l->v[i].f[0] == id)
			return (int)l->v[i].f[2];
	return -2; /* no grant of it left in the log: grant none */
}

void dsm__rp_granted(struct dsm_node *n, unsigned id, int mode, int node)
{
	struct rp_state *st = RS(n);
	struct rec_list *l = &st->grants;
	struct dsm_rp_rec rec = { .kind = DSM_RP_GRANT,
				  .f = { id, (uint64_t)mode, (uint64_t)node } };

	if (n->rp_mode == DSM_RP_RECORDING) {
		append(st, &rec, NULL, 0);
		return;
	}
	for (size_t i = l->i; i < l->n; i++)
		if (l->v[i].kind == DSM_RP_GRANT && l->v[i].f[0] == id) {
			l->v[i].kind = 0; /* used */
			break;
		}
	while (l->i < l->n && l->v[l->i].kind == 0)
		l->i++;
}

int dsm__rp_malloc(struct dsm_node *n, uint64_t size, uint64_t off)
{
	struct rp_state *st = RS(n);
	struct dsm_rp_rec rec = { .kind = DSM_RP_MALLOC, .f = { size, off } };
	const struct dsm_rp_rec *e;
	struct sbuf b = { .len = 0 };

	if (n->rp_mode == DSM_RP_RECORDING)
		return append(st, &rec, NULL, 0);
	e = next_of(&st->seq);
	if (e && e->kind == DSM_RP_MALLOC && e->f[0] == size && e->f[1] == off) {
		st->seq.i++;
		return 0;
	}
	rec.boundary = atomic_load(&st->boundary);
	sb_str(&b, "this run made ");
	sb_rec(&b, &rec);
	return diverge(n, b.s, e);
}

/* --- public --- */

int dsm_replay_mode(void)
{
	struct dsm_node *n = dsm__get();

	return n ? n->rp_mode : DSM_ENOTINIT;
}

int dsm_replay_input(void *buf, size_t len)
{
	struct dsm_node *n = dsm__get();
	struct rp_state *st;
	const struct dsm_rp_rec *e;
	struct dsm_rp_rec rec = { .kind = DSM_RP_INPUT, .f = { len } };
	struct sbuf b = { .len = 0 };

	if (!n)
		return DSM_ENOTINIT;
	if (!buf && len)
		return -EINVAL;
	if (!n->rp_mode)
		return 0;
	st = RS(n);
	if (n->rp_mode == DSM_RP_RECORDING) {
		void *copy = malloc(len ? len : 1); /* buf may fault: copy first */
		int err;
		if (!copy)
			return -ENOMEM;
		memcpy(copy, buf, len);
		err = append(st, &rec, copy, len);
		free(copy);
		return err;
	}
	e = next_of(&st->seq);
	if (e && e->kind == DSM_RP_INPUT && e->f[0] == len) {
		memcpy(buf, e->data, len);
		st->seq.i++;
		return 0;
	}
	rec.boundary = atomic_load(&st->boundary);
	sb_str(&b, "this run asks for ");
	sb_rec(&b, &rec);
	return diverge(n, b.s, e);
}

/* --- init / fini --- */

static int log_path(struct dsm_node *n, const char *dir, char *out, size_t cap)
{
	int len = snprintf(out, cap, "%s/node-%d.rlog", dir, n->id);
	return len < 0 || (size_t)len >= cap ? -ENAMETOOLONG : 0;
}

static int open_record(struct dsm_node *n, struct rp_state *st)
{
	struct dsm_rp_header h = { (uint32_t)n->id, (uint32_t)n->count,
				   (uint32_t)n->page_size };
	unsigned char hdr[DSM_RP_HDR_MAX];
	char path[600];
	int err;

	if (mkdir(n->cfg.record_dir, 0777) < 0 && errno != EEXIST) {
		DSM_ERR(n, "DSM_RECORD=%s: cannot create the directory: %s",
			n->cfg.record_dir, strerror(errno));
		return -errno;
	}
	if ((err = log_path(n, n->cfg.record_dir, path, sizeof(path))))
		return err;
	st->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (st->fd < 0) {
		err = -errno;
		DSM_ERR(n, "DSM_RECORD: cannot create %s: %s", path, strerror(errno));
		return err;
	}
	if (!(st->buf = malloc(LOG_CAP)))
		return -ENOMEM;
	st->flushed_ns = dsm__now_ns();
	return write_full(st->fd, hdr, dsm__rp_header_encode(hdr, &h));
}

/* Read the whole file at path into *buf. */
static int slurp(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	struct stat sb;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !(*buf = malloc((size_t)sb.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	*len = 0;
	while (*len < (size_t)sb.st_size) {
		ssize_t r = read(fd, *buf + *len, (size_t)sb.st_size - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		*len += (size_t)r;
	}
	close(fd);
	return err;
}

static int open_replay(struct dsm_node *n, struct rp_state *st)
{
	struct dsm_rp_header h;
	const char *why = "";
	char path[600];
	size_t bad = 0;
	int err;

	if ((err = log_path(n, n->cfg.replay_dir, path, sizeof(path))))
		return err;
	if ((err = slurp(path, &st->file, &st->file_len))) {
		DSM_ERR(n, "DSM_REPLAY: cannot read %s: %s", path, strerror(-err));
		return err;
	}
	err = dsm__rp_parse(st->file, st->file_len, &h, load_rec, st, &bad, &why);
	if (!err && (err = dsm__rp_free_index(st)))
		return err;
	if (err) {
		DSM_ERR(n, "DSM_REPLAY: %s is not a usable log: %s at byte %zu", path,
			why, bad);
		dsm__set_config_error("DSM_REPLAY: the log is corrupted or truncated");
		return DSM_ECONFIG;
	}
	if (h.node != (uint32_t)n->id || h.count != (uint32_t)n->count ||
	    h.page_size != n->page_size) {
		DSM_ERR(n, "DSM_REPLAY: %s was recorded by node %u of %u with %u-byte "
			"pages; this is node %d of %d with %zu-byte pages", path, h.node,
			h.count, h.page_size, n->id, n->count, n->page_size);
		dsm__set_config_error("DSM_REPLAY: the log is from another job shape");
		return DSM_ECONFIG;
	}
	return 0;
}

int dsm__rp_init(struct dsm_node *n)
{
	int mode = n->cfg.record_dir[0] ? DSM_RP_RECORDING
		 : n->cfg.replay_dir[0] ? DSM_RP_REPLAYING : DSM_RP_OFF;
	struct rp_state *st;
	int err;

	if (!mode)
		return 0;
	if (strcmp(n->proto->name, "sc") != 0) {
		DSM_ERR(n, "DSM_RECORD/DSM_REPLAY need DSM_PROTOCOL=sc (page ownership "
			"is what is logged), not %s", n->proto->name);
		dsm__set_config_error("DSM_RECORD/DSM_REPLAY need DSM_PROTOCOL=sc");
		return DSM_ECONFIG;
	}
	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	st->fd = -1;
	st->proto = &dsm__rp_proto_sc;
	pthread_mutex_init(&st->mu, NULL);
	n->rp_state = st;
	err = mode == DSM_RP_RECORDING ? open_record(n, st) : open_replay(n, st);
	if (!err)
		err = dsm__rp_sched_init(n);
	if (!err)
		n->rp_mode = mode;
	return err;
}

/* Replaying: what of the log this run did not use. */
static int check_used(struct dsm_node *n)
{
	struct rp_state *st = RS(n);
	struct rec_list *ls[] = { &st->takes, &st->gds, &st->seq, &st->grants,
				  &st->scheds, &st->frees };

	for (size_t k = 0; k < sizeof(ls) / sizeof(ls[0]); k++)
		if (ls[k]->i < ls[k]->n)
			return diverge(n, "this run finished before the log did",
				       &ls[k]->v[ls[k]->i]);
	return 0;
}

int dsm__rp_fini(struct dsm_node *n)
{
	struct rp_state *st = RS(n);
	struct dsm_rp_rec end = { .kind = DSM_RP_END };
	int err;

	if (!n->rp_mode)
		return 0;
	if (n->rp_mode == DSM_RP_REPLAYING)
		return atomic_load(&st->diverged) ? DSM_EDIVERGED : check_used(n);
	err = append(st, &end, NULL, 0);
	pthread_mutex_lock(&st->mu);
	if (!err)
		err = flush_locked(st);
	pthread_mutex_unlock(&st->mu);
	if (!err && fsync(st->fd) < 0 && errno != EINVAL)
		err = -errno;
	DSM_INFO(n, "record: %llu records, %llu bytes, %d threads, %llu token hand-offs",
		 (unsigned long long)st->records, (unsigned long long)st->bytes,
		 st->sched.nthr, (unsigned long long)st->sched.switches);
	return err;
}

void dsm__rp_free(struct dsm_node *n)
{
	struct rp_state *st = RS(n);

	if (!st)
		return;
	dsm__rp_sched_free(n);
	while (st->head) {
		struct rp_req *q = st->head;
		st->head = q->next;
		free(q);
	}
	if (st->fd >= 0)
		close(st->fd);
	free(st->buf);
	free(st->file);
	free(st->takes.v);
	free(st->gds.v);
	free(st->seq.v);
	free(st->grants.v);
	free(st->scheds.v);
	free(st->frees.v);
	free(st->done);
	pthread_mutex_destroy(&st->mu);
	free(st);
	n->rp_state = NULL;
	n->rp_mode = DSM_RP_OFF;
}
