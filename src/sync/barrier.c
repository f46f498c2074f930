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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "sync.h"
#include "tape/tapeworm.h"

static struct dsm_sync *S(struct dsm_node *n) { return n->sync; }

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
			    void *state, int hooks)
{
	for (int d = 0; d < n->count; d++) {
		struct dsm_buf pay = { 0 };
		int err = 0;
		if (hooks && n->proto->barrier_release)
			err = n->proto->barrier_release(n, id, d, state, &pay);
		if (!err && d == n->id) {
			void *copy = dup_bytes(pay.data, pay.len, &err);
			if (!err) {
				pthread_mutex_lock(&S(n)->mu);
				released(S(n), id, epoch, copy, copy ? pay.len : 0);
				pthread_mutex_unlock(&S(n)->mu);
			}
		} else if (!err) {
			struct dsm_msg m = { .type = DSM_MSG_BAR_RELEASE,
					     .arg = { id, epoch }, .payload = pay.data,
					     .length = (uint32_t)pay.len };
			err = dsm__send(n, d, &m);
			if (err == DSM_EPEERDEAD)
				err = 0; /* the transport reports the lost node */
		}
		if (err)
			release_failed(n, d, id, epoch, pay.len, err);
		dsm__buf_free(&pay);
	}
	if (hooks && n->proto->barrier_done)
		n->proto->barrier_done(n, state);
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

/* Manager: count an arrival (with its payload); release all at the last. */
static int mgr_arrive(struct dsm_node *n, unsigned id, uint64_t epoch, int node,
		      const void *payload, size_t len)
{
	struct dsm_sync *s = S(n);
	int hooks = id < DSM_BARRIER_INTERNAL;
	void *state = NULL;
	struct bar_mgr *b;
	int all = 0, err = 0;

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
	b->mask |= 1ull << node;
	if (++b->arrived == n->count) {
		b->arrived = 0;
		b->mask = 0;
		b->epoch++;
		state = b->pstate;
		b->pstate = NULL;
		all = 1;
	}
	else if (check_mismatch(n, b))
		err = 0; /* every node concerned was told */
	pthread_mutex_unlock(&s->mu);
	if (all)
		mgr_release_all(n, id, epoch, state, hooks);
	return err;
}

/* Wait until the manager released epoch; caller holds s->mu. */
static int wait_released(struct dsm_node *n, unsigned id, uint64_t epoch)
{
	struct dsm_sync *s = S(n);
	struct bar_local *l;
	int err;

	while ((l = blocal_get(s, id)) && l->released < epoch) {
		struct timespec ts;
		if ((err = atomic_load(&n->failed)))
			return err;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	return l ? 0 : -ENOMEM;
}

/* Arrive at barrier id with a payload and wait for the release; *out gets
 * the release payload (malloc'd, caller frees). */
static int barrier_wait(struct dsm_node *n, unsigned id, const struct dsm_buf *in,
			void **out, size_t *out_len)
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
		err = mgr_arrive(n, id, epoch, n->id, in->data, in->len);
	} else {
		struct dsm_msg m = { .type = DSM_MSG_BAR_ARRIVE, .arg = { id, epoch },
				     .payload = in->data, .length = (uint32_t)in->len };
		err = dsm__send(n, mgr, &m);
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
	return err;
}

/* A barrier of the runtime's own (no protocol hooks), id >= the reserved
 * base. Used e.g. between the phases of garbage collection. */
int dsm__barrier_internal(struct dsm_node *n, unsigned id)
{
	struct dsm_buf none = { 0 };
	void *out = NULL;
	size_t len = 0;
	int err = barrier_wait(n, DSM_BARRIER_INTERNAL + (id & 0xff), &none, &out, &len);

	free(out);
	return err;
}

int dsm_barrier(unsigned barrier)
{
	struct dsm_node *n = dsm__get();
	struct dsm_buf pay = { 0 };
	void *out = NULL;
	size_t out_len = 0;
	uint64_t t0;
	int err;

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
	if ((err = dsm__pc_push(n))) /* Tapeworm: push the producer's region pages */
		goto out;
	err = barrier_wait(n, barrier, &pay, &out, &out_len);
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
	free(out);
	return dsm__rp_sync_leave(n) ?: err;
}

/* Barrier messages. Service thread. */
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	unsigned id = (unsigned)m->arg[0];

	switch (m->type) {
	case DSM_MSG_BAR_ARRIVE:
		if ((int)(id % (unsigned)n->count) != n->id)
			return DSM_EPROTO;
		return mgr_arrive(n, id, m->arg[1], (int)m->src, m->payload, m->length);
	case DSM_MSG_BAR_RELEASE: {
		int err = 0;
		void *copy = dup_bytes(m->payload, m->length, &err);
		pthread_mutex_lock(&S(n)->mu);
		released(S(n), id, m->arg[1], copy, copy ? m->length : 0);
		pthread_mutex_unlock(&S(n)->mu);
		return err;
	}
	default:
		return DSM_EPROTO;
	}
}
