/*
 * barrier.c — barriers: every node sends ARRIVE(id, epoch) to the
 * manager (id % N), which answers every node with RELEASE(id, epoch) when
 * all have arrived: 2(N-1) messages per barrier. Epochs make ids reusable.
 *
 * Deadlines: a barrier legitimately waits as long as the slowest node
 * computes, so its wait has no DSM_TIMEOUT of its own. What bounds it is
 * liveness: a dead or stopped peer is reported by the transport within
 * DSM_TIMEOUT (heartbeats) and fails the job; a live peer that rejects an
 * arrival or cannot be sent its release gets or sends a NACK; a peer that
 * entered dsm_finalize instead (a mismatched collective) is detected here
 * and fails the job naming both nodes.
 *
 * Payloads (the protocol's: write notices, ec's barrier data) longer than
 * BAR_CHUNK travel as chunks of BAR_CHUNK bytes, each ARRIVE/RELEASE
 * carrying (offset << 32 | total) in arg2 (0: not chunked), reassembled
 * by the receiver (core/bcast.h's checks: a chunk that does not fit is
 * refused) before the barrier sees the payload.
 *
 * Tapeworm's pushes ride in these messages (DSM_BAR_TAPE, sync.h): an
 * arrival carries its node's pushes for the manager, which takes them,
 * and, up to BAR_FWD bytes, those for other nodes, which the manager
 * forwards in their releases; so a push costs no message of its own. The
 * records are opaque here but for their node: the protocol never sees
 * them, the tape layer makes and takes them (src/tape/push.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bcast.h"
#include "core/le.h"
#include "core/node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "sync.h"
#include "tape/tapeworm.h"
#include "vm/peermem.h"

static struct dsm_sync *S(struct dsm_node *n) { return n->sync; }

#define BAR_CHUNK (UINT32_C(16) << 20) /* under the transport's 64 MiB */

/* A chunked payload being reassembled: from node src, of type, barrier
 * id. Guarded by s->mu. */
struct bar_frag {
	int src;
	uint16_t type;
	unsigned id;
	struct dsm_bcast_asm a;
	struct bar_frag *next;
};

void dsm__barrier_frags_free(struct dsm_sync *s)
{
	while (s->frags) {
		struct bar_frag *f = s->frags;
		s->frags = f->next;
		dsm__bcast_asm_fini(&f->a);
		free(f);
	}
}

/* Send a barrier message, in chunks when its payload is long. */
static int send_bar(struct dsm_node *n, int dst, uint16_t type, unsigned id,
		    uint64_t epoch, const void *data, size_t len)
{
	struct dsm_msg m = { .type = type, .arg = { id, epoch }, /* epoch: | DSM_BAR_TAPE */
			     .payload = data, .length = (uint32_t)len };
	int err = 0;

	if (len <= BAR_CHUNK)
		return dsm__send(n, dst, &m);
	if (len > DSM_BCAST_MAX)
		return -EMSGSIZE;
	for (size_t off = 0; off < len && !err; off += BAR_CHUNK) {
		m.arg[2] = (uint64_t)off << 32 | len;
		m.payload = (const unsigned char *)data + off;
		m.length = (uint32_t)(len - off < BAR_CHUNK ? len - off : BAR_CHUNK);
		err = dsm__send(n, dst, &m);
	}
	return err;
}

/* A chunk of m's payload: filed; when it completes the payload, *whole
 * gets it (malloc'd, *len its length) and the chunk's record goes. 0 or
 * DSM_EPROTO / -ENOMEM. Service thread. */
static int add_chunk(struct dsm_node *n, const struct dsm_msg *m, void **whole,
		     size_t *len)
{
	struct dsm_sync *s = S(n);
	uint64_t total = m->arg[2] & 0xffffffffu, off = m->arg[2] >> 32;
	struct bar_frag **pp, *f;
	const char *why = "";
	int err = 0;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->frags; (f = *pp); pp = &f->next)
		if (f->src == (int)m->src && f->type == m->type && f->id == (unsigned)m->arg[0])
			break;
	if (!f) { /* the first chunk announces the total */
		if (!(f = calloc(1, sizeof(*f))))
			err = -ENOMEM;
		else if ((err = dsm__bcast_asm_init(&f->a, total, BAR_CHUNK)))
			err = err == -ENOMEM ? err : DSM_EPROTO;
		if (err) {
			free(f);
			pthread_mutex_unlock(&s->mu);
			return err;
		}
		f->src = (int)m->src;
		f->type = m->type;
		f->id = (unsigned)m->arg[0];
		*pp = f;
	}
	if ((err = dsm__bcast_asm_add(&f->a, total, off, m->payload, m->length, &why)))
		dsm__reject(n, "barrier %u: chunk at %llu of %llu bytes from node %u: %s",
			    (unsigned)m->arg[0], (unsigned long long)off,
			    (unsigned long long)total, m->src, why);
	if (!err && dsm__bcast_asm_done(&f->a)) {
		*whole = f->a.buf;
		*len = (size_t)f->a.total;
		f->a.buf = NULL;
		*pp = f->next;
		dsm__bcast_asm_fini(&f->a);
		free(f);
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* Manager record, created at epoch 1; caller holds s->mu. */
static struct bar_mgr *bmgr_get(struct dsm_sync *s, unsigned id)
{
	struct bar_mgr *r = dsm__sync_lookup(&s->bmgr, id, sizeof(struct bar_mgr));

	if (r && !r->epoch)
		r->epoch = 1;
	return r;
}

/* Local record; caller holds s->mu. */
static struct bar_local *blocal_get(struct dsm_sync *s, unsigned id)
{
	return dsm__sync_lookup(&s->blocal, id, sizeof(struct bar_local));
}

/* Mark epoch released on this node with its payload (taken over);
 * caller holds s->mu. */
static void released(struct dsm_sync *s, unsigned id, uint64_t epoch,
		     void *payload, size_t len)
{
	struct bar_local *l = blocal_get(s, id);

	if (l && epoch > l->released) {
		l->released = epoch;
		free(l->payload);
		l->payload = payload;
		l->len = len;
		payload = NULL;
	}
	free(payload);
	pthread_cond_broadcast(&s->cv);
}

/* A copy of len bytes, or NULL (len 0 or no memory: *err set). */
static void *dup_bytes(const void *p, size_t len, int *err)
{
	void *d;

	if (!len)
		return NULL;
	if (!(d = malloc(len)))
		*err = -ENOMEM;
	else
		memcpy(d, p, len);
	return d;
}

void dsm__barrier_fwd_free(struct dsm_node *n, struct dsm_buf *fwd)
{
	for (int d = 0; fwd && d < n->count; d++)
		dsm__buf_free(&fwd[d]);
	free(fwd);
}

/* The push records at the end of a DSM_BAR_TAPE payload p (len bytes)
 * from src: *plen is the protocol's part, the records follow it (*rlen
 * bytes). Each record's framing and node is checked (no record may name
 * node `not`: an arrival's sender, a release's receiver). 0, or
 * DSM_EPROTO after rejecting the message. */
static int split_recs(struct dsm_node *n, int src, int not, const unsigned char *p,
		      size_t len, size_t *plen, size_t *rlen)
{
	size_t off;

	if (len < 4 || (*rlen = dsm__get_le32(p + len - 4)) > len - 4)
		goto bad;
	*plen = len - 4 - *rlen;
	for (off = *plen; off < len - 4;) {
		uint32_t node, l;
		if (len - 4 - off < 8)
			goto bad;
		node = dsm__get_le32(p + off);
		l = dsm__get_le32(p + off + 4);
		if (node >= (uint32_t)n->count || (int)node == not || l > len - 4 - off - 8)
			goto bad;
		off += 8 + l;
	}
	return 0;
bad:
	dsm__reject(n, "barrier message of %zu bytes from node %d: malformed pushes", len,
		    src);
	return DSM_EPROTO;
}

/* Give the tape layer the records in r[0..rlen) that are for this node
 * (mine: those of an arrival whose node is this one; else all, from
 * their node): a push it rejects is a lost hint, logged there. */
static void take_recs(struct dsm_node *n, int from, const unsigned char *r, size_t rlen,
		      int mine)
{
	for (size_t off = 0; off < rlen;) {
		uint32_t node = dsm__get_le32(r + off), l = dsm__get_le32(r + off + 4);
		if (!mine)
			dsm__pc_take_rec(n, (int)node, r + off + 8, l);
		else if ((int)node == n->id)
			dsm__pc_take_rec(n, from, r + off + 8, l);
		off += 8 + l;
	}
}

/* Manager: file the records of an arrival from src that are for other
 * nodes, each under its consumer with src as its node (a record that
 * does not fit in memory is dropped whole: a lost hint). s->mu held. */
static int file_recs(struct dsm_node *n, struct bar_mgr *b, int src, const unsigned char *r,
		     size_t rlen)
{
	int err = 0;

	for (size_t off = 0; off < rlen;) {
		uint32_t node = dsm__get_le32(r + off), l = dsm__get_le32(r + off + 4);
		if ((int)node != n->id) {
			struct dsm_buf *f;
			size_t was;
			if (!b->fwd && !(b->fwd = calloc((size_t)n->count, sizeof(*b->fwd))))
				return -ENOMEM;
			f = &b->fwd[node];
			was = f->len;
			if (dsm__buf_put_u32(f, (uint32_t)src) || dsm__buf_put_u32(f, l) ||
			    dsm__buf_put(f, r + off + 8, l)) {
				f->len = was;
				err = -ENOMEM;
			}
		}
		off += 8 + l;
	}
	return err;
}

/* Node d's release of (id, epoch) cannot be built or sent: tell it with a
 * NACK of its arrival (or fail here when d is this node). */
static void release_failed(struct dsm_node *n, int d, unsigned id, uint64_t epoch,
			   size_t len, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "node %d cannot release barrier %u (epoch %llu, "
		 "%zu bytes of release data) to node %d: %s", n->id, id,
		 (unsigned long long)epoch, len, d, dsm_strerror(err));
	if (d == n->id)
		dsm__fail(n, err, n->id, "%s", why);
	else
		dsm__send_nack(n, d, DSM_MSG_BAR_ARRIVE, err, id, why);
}

/* Manager, all arrived: send every node its release payload; one node's
 * failure does not hold the others back (that node gets a NACK). Runs
 * without s->mu; state was detached from the barrier record. */
static void mgr_release_all(struct dsm_node *n, unsigned id, uint64_t epoch,
			    void *state, int hooks, struct dsm_buf *fwd)
{
	for (int d = 0; d < n->count; d++) {
		struct dsm_buf pay = { 0 };
		uint64_t flag = 0;
		int err = 0;
		if (hooks && n->proto->barrier_release)
			err = n->proto->barrier_release(n, id, d, state, &pay);
		if (!err && d != n->id && fwd && fwd[d].len) { /* pushes ride */
			size_t plen = pay.len;
			err = dsm__buf_put(&pay, fwd[d].data, fwd[d].len) ?:
			      dsm__buf_put_u32(&pay, (uint32_t)fwd[d].len);
			flag = DSM_BAR_TAPE;
			if (err) { /* pushes are hints: the release goes without */
				pay.len = plen;
				flag = 0;
				err = 0;
			}
		}
		if (!err && d == n->id) {
			void *copy = dup_bytes(pay.data, pay.len, &err);
			if (!err) {
				pthread_mutex_lock(&S(n)->mu);
				released(S(n), id, epoch, copy, copy ? pay.len : 0);
				pthread_mutex_unlock(&S(n)->mu);
			}
		} else if (!err) {
			err = send_bar(n, d, DSM_MSG_BAR_RELEASE, id, epoch | flag, pay.data,
				       pay.len);
			if (err == DSM_EPEERDEAD)
				err = 0; /* the transport reports the lost node */
		}
		if (err)
			release_failed(n, d, id, epoch, pay.len, err);
		dsm__buf_free(&pay);
	}
	if (hooks && n->proto->barrier_done)
		n->proto->barrier_done(n, state);
	dsm__barrier_fwd_free(n, fwd);
}

/* Lowest node set in mask, or -1. */
static int first_node(uint64_t mask)
{
	return mask ? __builtin_ctzll(mask) : -1;
}

/* Barrier b has arrivals from nodes that wait, and a node in dsm_finalize
 * that has not arrived (and never will)? Then fail the job naming both,
 * and tell the nodes that wait and the ones that finalize. Caller holds
 * s->mu; returns 1 when it failed the job. */
static int check_mismatch(struct dsm_node *n, struct bar_mgr *b)
{
	uint64_t fin = S(n)->fin_mask & ~b->mask;
	char why[200];

	if (!b->arrived || !fin || b->obj.id >= DSM_BARRIER_INTERNAL)
		return 0;
	snprintf(why, sizeof(why), "mismatched collectives: node %d called "
		 "dsm_finalize while node %d waits in dsm_barrier(%u) (epoch %llu)",
		 first_node(fin), first_node(b->mask), b->obj.id,
		 (unsigned long long)b->epoch);
	for (int d = 0; d < n->count && d < DSM_MAX_NODES; d++) {
		if (d == n->id)
			continue;
		if (b->mask & (1ull << d))
			dsm__send_nack(n, d, DSM_MSG_BAR_ARRIVE, DSM_EPROTO, b->obj.id, why);
		else if (S(n)->fin_mask & (1ull << d))
			dsm__send_nack(n, d, DSM_MSG_FIN, DSM_EPROTO, 0, why);
	}
	dsm__fail(n, DSM_EPROTO, first_node(fin), "%s", why);
	return 1;
}

/* dsm__sync_each's form of check_mismatch: stops at the first. */
static int mismatch_of(void *b, void *n)
{
	return check_mismatch(n, b);
}

int dsm__sync_peer_finalizing(struct dsm_node *n, int node)
{
	struct dsm_sync *s = S(n);

	if (node < 0 || node >= n->count || node >= DSM_MAX_NODES)
		return DSM_EPROTO;
	pthread_mutex_lock(&s->mu);
	s->fin_mask |= 1ull << node;
	dsm__sync_each(&s->bmgr, mismatch_of, n);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Manager: count an arrival (with its payload, and with push records
 * when tape); release all at the last. */
static int mgr_arrive(struct dsm_node *n, unsigned id, uint64_t epoch, int node,
		      const void *payload, size_t len, int tape)
{
	struct dsm_sync *s = S(n);
	int hooks = id < DSM_BARRIER_INTERNAL;
	void *state = NULL;
	struct dsm_buf *fwd = NULL;
	struct bar_mgr *b;
	size_t rlen = 0;
	int all = 0, err = 0;

	if (tape && (err = split_recs(n, node, node, payload, len, &len, &rlen)))
		return err;
	if (rlen) /* this node's pushes, before the barrier can complete */
		take_recs(n, node, (const unsigned char *)payload + len, rlen, 1);
	pthread_mutex_lock(&s->mu);
	b = bmgr_get(s, id);
	if (!b || epoch != b->epoch || (b->mask & (1ull << node))) {
		if (b && node != n->id)
			dsm__reject(n, "arrival at barrier %u for epoch %llu, but the "
				    "manager is at epoch %llu%s", id,
				    (unsigned long long)epoch,
				    (unsigned long long)b->epoch,
				    (b->mask & (1ull << node)) ? " and has it already" : "");
		pthread_mutex_unlock(&s->mu);
		return b ? DSM_EPROTO : -ENOMEM;
	}
	if (hooks && n->proto->barrier_collect)
		err = n->proto->barrier_collect(n, id, node, payload, len, &b->pstate);
	if (rlen && file_recs(n, b, node, (const unsigned char *)payload + len, rlen))
		DSM_ERR(n, "barrier %u: no memory to forward node %d's pushes", id, node);
	b->mask |= 1ull << node;
	if (++b->arrived == n->count) {
		b->arrived = 0;
		b->mask = 0;
		b->epoch++;
		state = b->pstate;
		b->pstate = NULL;
		fwd = b->fwd;
		b->fwd = NULL;
		all = 1;
	}
	else if (check_mismatch(n, b))
		err = 0; /* every node concerned was told */
	pthread_mutex_unlock(&s->mu);
	if (all)
		mgr_release_all(n, id, epoch, state, hooks, fwd);
	return err;
}

/* Wait until the manager released epoch; caller holds s->mu. */
static int wait_released(struct dsm_node *n, unsigned id, uint64_t epoch)
{
	struct dsm_sync *s = S(n);
	struct bar_local *l;
	int err = 0;

	atomic_fetch_add(&n->app_in_barrier, 1);
	while ((l = blocal_get(s, id)) && l->released < epoch) {
		struct timespec ts;
		if ((err = atomic_load(&n->failed)))
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	atomic_fetch_sub(&n->app_in_barrier, 1);
	return err ? err : l ? 0 : -ENOMEM;
}

/* Arrive at barrier id with a payload and wait for the release; *out gets
 * the release payload (malloc'd, caller frees). */
static int barrier_wait(struct dsm_node *n, unsigned id, const struct dsm_buf *in,
			int tape, void **out, size_t *out_len)
{
	struct dsm_sync *s = S(n);
	struct bar_local *l;
	uint64_t epoch;
	int mgr, err;

	pthread_mutex_lock(&s->mu);
	l = blocal_get(s, id);
	epoch = l ? ++l->epoch : 0;
	pthread_mutex_unlock(&s->mu);
	if (!l)
		return -ENOMEM;
	mgr = (int)(id % (unsigned)n->count);
	if (mgr == n->id) {
		err = mgr_arrive(n, id, epoch, n->id, in->data, in->len, tape);
	} else {
		err = send_bar(n, mgr, DSM_MSG_BAR_ARRIVE, id, epoch | (tape ? DSM_BAR_TAPE : 0),
			       in->data, in->len);
	}
	if (err)
		return err;
	dsm__rp_sync_park(n); /* record/replay: the wait gives up the run token */
	pthread_mutex_lock(&s->mu);
	err = wait_released(n, id, epoch);
	if (!err) {
		*out = l->payload;
		*out_len = l->len;
		l->payload = NULL;
		l->len = 0;
	}
	pthread_mutex_unlock(&s->mu);
	if (!err) /* every node has mapped its peers: our record can go */
		dsm__peermem_retire(n);
	return err;
}

/* A barrier of the runtime's own (no protocol hooks), id >= the reserved
 * base. Used e.g. between the phases of garbage collection. */
int dsm__barrier_internal(struct dsm_node *n, unsigned id)
{
	struct dsm_buf none = { 0 };
	void *out = NULL;
	size_t len = 0;
	int err = barrier_wait(n, DSM_BARRIER_INTERNAL + (id & 0xff), &none, 0, &out, &len);

	free(out);
	return err;
}

int dsm_barrier(unsigned barrier)
{
	struct dsm_node *n = dsm__get();
	struct dsm_buf pay = { 0 }, recs = { 0 };
	struct pc_via via = { .out = &recs };
	void *out = NULL;
	size_t out_len = 0;
	uint64_t t0;
	int err, tape = 0;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = atomic_load(&n->failed)))
		return err;
	if (barrier >= DSM_BARRIER_INTERNAL)
		return -EINVAL;
	if ((err = dsm__rp_sync_enter(n, DSM_RP_OP_BARRIER, barrier))) /* a boundary */
		return err;
	t0 = dsm__now_ns();
	dsm__tw_barrier_enter(n, barrier); /* Tapeworm: the phase's tape ends */
	if (n->proto->barrier_enter && (err = n->proto->barrier_enter(n, barrier, &pay)))
		goto out;
	via.mgr = (int)(barrier % (unsigned)n->count);
	if ((err = dsm__pc_push_via(n, &via))) /* Tapeworm: the producer's pushes */
		goto out;
	if (recs.len) { /* ... ride in the arrival (DSM_BAR_TAPE) */
		size_t plen = pay.len;
		if (dsm__buf_put(&pay, recs.data, recs.len) ||
		    dsm__buf_put_u32(&pay, (uint32_t)recs.len)) {
			pay.len = plen; /* hints lost; the barrier goes on */
			DSM_ERR(n, "barrier %u: no memory for the pushes of its arrival", barrier);
		} else {
			tape = 1;
		}
	}
	err = barrier_wait(n, barrier, &pay, tape, &out, &out_len);
	if (!err && n->proto->barrier_leave)
		err = n->proto->barrier_leave(n, barrier, out, out_len);
	if (!err) /* Tapeworm: replay the last phase's tape, record this one */
		err = dsm__tw_barrier_leave(n, barrier);
	if (!err) {
		DSM_STAT_ADD(n, barriers, 1);
		DSM_STAT_ADD(n, barrier_wait_ns, dsm__now_ns() - t0);
	}
out:
	dsm__buf_free(&pay);
	dsm__buf_free(&recs);
	free(out);
	return dsm__rp_sync_leave(n) ?: err;
}

/* Barrier messages. Service thread. */
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	unsigned id = (unsigned)m->arg[0];
	uint64_t epoch = m->arg[1] & ~DSM_BAR_TAPE;
	int tape = !!(m->arg[1] & DSM_BAR_TAPE);
	const unsigned char *p = m->payload;
	void *whole = NULL;
	size_t len = m->length, rlen = 0;
	int err = 0;

	if (m->type != DSM_MSG_BAR_ARRIVE && m->type != DSM_MSG_BAR_RELEASE)
		return DSM_EPROTO;
	if (m->type == DSM_MSG_BAR_ARRIVE && (int)(id % (unsigned)n->count) != n->id)
		return DSM_EPROTO;
	if (m->arg[2]) { /* a chunk: the barrier sees the whole payload */
		if ((err = add_chunk(n, m, &whole, &len)) || !whole)
			return err;
		p = whole;
	}
	if (m->type == DSM_MSG_BAR_ARRIVE) {
		err = mgr_arrive(n, id, epoch, (int)m->src, p, len, tape);
		free(whole);
		return err;
	}
	if (tape) { /* the pushes forwarded to this node, before the release */
		if ((err = split_recs(n, (int)m->src, n->id, p, len, &len, &rlen))) {
			free(whole);
			return err;
		}
		take_recs(n, -1, p + len, rlen, 0);
	}
	if (!whole)
		whole = dup_bytes(m->payload, len, &err);
	pthread_mutex_lock(&S(n)->mu);
	released(S(n), id, epoch, whole, whole ? len : 0);
	pthread_mutex_unlock(&S(n)->mu);
	return err;
}
