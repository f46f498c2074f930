/*
 * lock.c — distributed locks: FIFO queue at the manager node (id % N),
 * shared holders coexist, an exclusive request waits for them, and shared
 * requests behind a waiting exclusive one wait too (no writer starvation).
 * A lock taken in a stream moves as a token instead (lock_token.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "sync.h"
#include "tape/tapeworm.h"

static struct dsm_sync *S(struct dsm_node *n) { return n->sync; }

int dsm__lock_manager(const struct dsm_node *n, unsigned id)
{
	return (int)(id % (unsigned)n->count);
}

/* Manager record for lock id, created on first use; caller holds s->mu. */
static struct lock_mgr *mgr_get(struct dsm_sync *s, unsigned id)
{
	return dsm__sync_lookup(&s->mgr, id, sizeof(struct lock_mgr));
}

/* Holder record for lock id; caller holds s->mu. */
static struct lock_held *held_get(struct dsm_sync *s, unsigned id, int create)
{
	return dsm__sync_lookup(&s->held, id, create ? sizeof(struct lock_held) : 0);
}

/* Tell requester it holds the lock (locally or by message), with the
 * protocol's grant payload; *token: it went as a token (lock_token.c).
 * A grant that cannot be built or sent (e.g. a payload over the message
 * cap) is answered with the error instead (the requester's waiter
 * completes with it, through a NACK for a peer), and the lock is not
 * taken: returns that error, 0 when granted. */
static int grant(struct dsm_node *n, struct lock_mgr *l, const struct lock_req *r,
		 int *token)
{
	struct dsm_buf pay = { 0 };
	struct dsm_msg m = { .type = DSM_MSG_LOCK_GRANT,
			     .arg = { l->obj.id, (uint64_t)r->mode, r->token } };
	int ahead = dsm__lock_ahead_for(n, l, r);
	char why[160];
	int err = 0;

	*token = 0;
	if (n->proto->lock_grant)
		err = n->proto->lock_grant(n, l->blob, &pay);
	if (!err && l->tape_len) { /* Tapeworm: the last release's tape */
		err = dsm__buf_put(&pay, l->tape, l->tape_len) ?:
		      dsm__buf_put_u32(&pay, (uint32_t)l->tape_len);
		m.arg[1] |= DSM_LOCK_TAPE;
	}
	if (!err && ahead >= 0 && !(err = dsm__lock_token_pack(n, l, r->node, ahead, &pay))) {
		m.arg[1] |= DSM_LOCK_TOKEN;
		*token = 1;
	}
	if (!err && r->node == n->id) {
		err = dsm__waiter_complete_data(n, r->token, 0, m.arg, pay.data, pay.len);
	} else if (!err) {
		m.payload = pay.data;
		m.length = (uint32_t)pay.len;
		err = dsm__send(n, r->node, &m);
		if (err == DSM_EPEERDEAD)
			err = 0; /* the transport reports the lost node */
		if (err && *token)
			dsm__lock_token_unpack(n, l, r->node, ahead);
	}
	if (err) {
		snprintf(why, sizeof(why), "node %d cannot grant lock %u (%zu bytes "
			 "of grant data) to node %d: %s", n->id, l->obj.id, pay.len,
			 r->node, dsm_strerror(err));
		DSM_ERR(n, "%s", why);
		if (r->node == n->id)
			dsm__waiter_complete(n, r->token, err, NULL);
		else
			dsm__send_nack(n, r->node, DSM_MSG_LOCK_REQ, err, r->token, why);
	}
	dsm__buf_free(&pay);
	return err;
}

/* Can a request of this mode be granted now (ignoring the queue)? Not
 * while the lock's token is at a node. */
static int compatible(const struct lock_mgr *l, int mode)
{
	if (l->at)
		return 0;
	return mode == DSM_LOCK_EXCL ? !l->excl && !l->shared : !l->excl;
}

/* The request to grant next: the head, or when replaying the one from
 * the node the log names (NULL while it has not asked). prev: the entry
 * before it. Caller holds s->mu. */
static struct lock_req *next_req(struct dsm_node *n, struct lock_mgr *l,
				 struct lock_req **prev)
{
	int want = dsm__rp_on(n) ? dsm__rp_grant_next(n, l->obj.id) : -1;
	struct lock_req *r = l->head;

	*prev = NULL;
	while (r && want != -1 && r->node != want) {
		*prev = r;
		r = r->next;
	}
	return r;
}

/* Grant from the head of the queue while compatible (a token away is
 * revoked for it); caller holds s->mu. */
static void grant_queued(struct dsm_node *n, struct lock_mgr *l)
{
	struct lock_req *r, *prev;
	int token;

	while ((r = next_req(n, l, &prev)) && compatible(l, r->mode)) {
		if (prev)
			prev->next = r->next;
		else
			l->head = r->next;
		if (l->tail == r)
			l->tail = prev;
		if (grant(n, l, r, &token) == 0) {
			if (token)
				l->at = r->node + 1;
			else if (r->mode == DSM_LOCK_EXCL)
				l->excl = 1;
			else
				l->shared++;
			if (dsm__rp_on(n)) /* record/replay: the grant order */
				dsm__rp_granted(n, l->obj.id, r->mode, r->node);
		}
		free(r);
	}
	dsm__lock_revoke(n, l);
}

/* Manager: a request arrives (from a message or from this node). */
static int mgr_request(struct dsm_node *n, unsigned id, int node, int mode,
		       uint64_t token)
{
	struct dsm_sync *s = S(n);
	struct lock_mgr *l;
	struct lock_req *r;

	pthread_mutex_lock(&s->mu);
	l = mgr_get(s, id);
	r = l ? calloc(1, sizeof(*r)) : NULL;
	if (!r) {
		pthread_mutex_unlock(&s->mu);
		return -ENOMEM;
	}
	*r = (struct lock_req){ .node = node, .mode = mode, .token = token };
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	grant_queued(n, l);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Split a payload that ends with a tape trailer (DSM_LOCK_TAPE) into the
 * protocol's part (*len shrinks) and the tape (*tape, *tape_len).
 * DSM_EPROTO if the trailer does not fit. */
static int split_tape(const void *payload, size_t *len, const void **tape,
		      size_t *tape_len)
{
	const unsigned char *p = payload;
	uint32_t tl;

	if (*len < 4 || (tl = dsm__get_le32(p + *len - 4)) > *len - 4)
		return DSM_EPROTO;
	*tape = p + *len - 4 - tl;
	*tape_len = tl;
	*len -= 4 + (size_t)tl;
	return 0;
}

/* Manager: keep the tape an exclusive release carried for the next
 * grants; one without a tape forgets the old one (it describes an older
 * critical section). Shared holders only read: their releases leave the
 * last writer's tape in place. Caller holds s->mu. */
static int keep_tape(struct lock_mgr *l, int mode, const void *tape, size_t len)
{
	void *copy = NULL;

	if (mode == DSM_LOCK_SHARED)
		return 0;
	if (tape && len && !(copy = malloc(len)))
		return -ENOMEM;
	if (copy)
		memcpy(copy, tape, len);
	free(l->tape);
	l->tape = copy;
	l->tape_len = copy ? len : 0;
	return 0;
}

/* Manager: a holder releases, with the protocol's release payload (and a
 * tape trailer with DSM_REL_TAPE); with DSM_REL_TOKEN the lock's token
 * comes back from node src with it. */
static int mgr_release(struct dsm_node *n, unsigned id, int mode, int src,
		       const void *payload, size_t len, unsigned flags)
{
	struct dsm_sync *s = S(n);
	struct lock_mgr *l;
	const void *tape = NULL;
	size_t tape_len = 0;
	int err = 0;

	if ((flags & DSM_REL_TAPE) && split_tape(payload, &len, &tape, &tape_len)) {
		dsm__reject(n, "release of lock %u: tape trailer does not fit in "
			    "%zu bytes", id, len);
		return DSM_EPROTO;
	}
	pthread_mutex_lock(&s->mu);
	l = mgr_get(s, id);
	if (!l)
		err = -ENOMEM;
	else if (flags & DSM_REL_TOKEN)
		err = mode == DSM_LOCK_EXCL && l->at == src + 1 ? 0 : DSM_EPROTO;
	else if (mode == DSM_LOCK_EXCL && l->excl)
		l->excl = 0;
	else if (mode == DSM_LOCK_SHARED && l->shared > 0)
		l->shared--;
	else
		err = DSM_EPROTO;
	if (!err && (flags & DSM_REL_TOKEN))
		l->at = l->revoking = 0;
	if (!err && n->proto->lock_merge)
		err = n->proto->lock_merge(n, &l->blob, payload, len);
	if (!err)
		err = keep_tape(l, mode, tape, tape_len);
	if (l && !err)
		grant_queued(n, l);
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* Manager: tokens come back from node src (DSM_REL_RUN): {u32 lock,
 * u32 length, release payload}...; busy: DSM_REL_BUSY. */
static int mgr_take_run(struct dsm_node *n, int src, const unsigned char *p, size_t len,
			int busy)
{
	struct dsm_sync *s = S(n);
	int err = 0;

	pthread_mutex_lock(&s->mu);
	if (busy)
		dsm__lock_ahead_stop(n, src);
	for (size_t off = 0; !err && off < len;) {
		struct lock_mgr *l;
		unsigned id;
		size_t bl;
		if (len - off < 8 || (bl = dsm__get_le32(p + off + 4)) > len - off - 8) {
			err = DSM_EPROTO;
			break;
		}
		id = dsm__get_le32(p + off);
		l = dsm__lock_manager(n, id) == n->id ? mgr_get(s, id) : NULL;
		if (!l || l->at != src + 1) {
			err = l || dsm__lock_manager(n, id) != n->id ? DSM_EPROTO : -ENOMEM;
			break;
		}
		l->at = l->revoking = 0;
		if (n->proto->lock_merge)
			err = n->proto->lock_merge(n, &l->blob, p + off + 8, bl);
		grant_queued(n, l);
		off += 8 + bl;
	}
	pthread_mutex_unlock(&s->mu);
	if (err == DSM_EPROTO)
		dsm__reject(n, "node %d gave back lock tokens it does not hold or in "
			    "a malformed run (%zu bytes)", src, len);
	return err;
}

/* Acquire in a mode: request, wait for the grant, run the protocol hook.
 * The wait has no DSM_TIMEOUT of its own: the holder may keep the lock as
 * long as it computes. It is bounded by liveness instead: a dead or
 * stopped manager or holder is reported by the transport's heartbeats
 * within DSM_TIMEOUT and fails the job, and a live manager that cannot
 * serve the request answers with a NACK that completes this wait. */
static int acquire_wait(struct dsm_node *n, unsigned id, int mode);

static int acquire(unsigned id, int mode)
{
	struct dsm_node *n = dsm__get();
	int err;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = atomic_load(&n->failed)))
		return err;
	if ((err = dsm__rp_sync_enter(n, DSM_RP_OP_ACQUIRE, id))) /* a boundary */
		return err;
	err = acquire_wait(n, id, mode);
	return dsm__rp_sync_leave(n) ?: err;
}

/* A hold of lock id taken here with its token (no message): the
 * protocol applies the token's payload as it would a grant's. */
static int acquire_token(struct dsm_node *n, unsigned id, void *blob, size_t len,
			 uint64_t t0)
{
	int err = n->proto->acquire ? n->proto->acquire(n, id, DSM_LOCK_EXCL, blob, len) : 0;

	free(blob);
	if (!err)
		err = dsm__tw_lock_acquired(n, id, NULL, 0);
	if (err)
		return err;
	DSM_STAT_ADD(n, lock_acquires, 1);
	DSM_STAT_ADD(n, lock_wait_ns, dsm__now_ns() - t0);
	return 0;
}

/* acquire() between its record/replay boundary marks. */
static int acquire_wait(struct dsm_node *n, unsigned id, int mode)
{
	struct dsm_waiter w;
	struct lock_held *h;
	void *blob = NULL;
	size_t blen = 0;
	uint64_t t0;
	int mgr, err;

	t0 = dsm__now_ns();
	if (n->proto->lock_acquire_own) { /* ec: the protocol's own locks */
		if ((err = n->proto->lock_acquire_own(n, id, mode)))
			return err;
		DSM_STAT_ADD(n, lock_acquires, 1);
		DSM_STAT_ADD(n, lock_wait_ns, dsm__now_ns() - t0);
		return 0;
	}
	if (mode == DSM_LOCK_EXCL && (err = dsm__lock_token_take(n, id, &blob, &blen)))
		return err < 0 ? err : acquire_token(n, id, blob, blen, t0);
	mgr = dsm__lock_manager(n, id);
	dsm__waiter_add(n, &w);
	if (mgr == n->id) {
		err = mgr_request(n, id, n->id, mode, w.token);
	} else {
		struct dsm_msg m = { .type = DSM_MSG_LOCK_REQ,
				     .arg = { id, (uint64_t)mode, w.token } };
		err = dsm__send(n, mgr, &m);
	}
	if (err)
		dsm__waiter_complete(n, w.token, err, NULL);
	dsm__rp_sync_park(n); /* record/replay: the wait gives up the run token */
	err = dsm__waiter_wait(n, &w, 0);
	if (err)
		return err;
	pthread_mutex_lock(&S(n)->mu);
	h = held_get(S(n), id, 1);
	if (h) {
		if (mode == DSM_LOCK_EXCL)
			h->excl = 1;
		else
			h->shared++;
	}
	pthread_mutex_unlock(&S(n)->mu);
	const void *tape = NULL;
	size_t len = w.len, tape_len = 0;
	if ((w.val[1] & DSM_LOCK_TAPE) && split_tape(w.data, &len, &tape, &tape_len)) {
		DSM_ERR(n, "the grant of lock %u carried a tape trailer that does not "
			"fit in %zu bytes", id, w.len);
		err = DSM_EPROTO;
	}
	if (!err && n->proto->acquire)
		err = n->proto->acquire(n, id, mode, w.data, len);
	if (!err) /* Tapeworm: prefetch what the tape names, record the CS */
		err = dsm__tw_lock_acquired(n, id, tape, tape_len);
	free(w.data);
	if (err)
		return err;
	DSM_STAT_ADD(n, lock_acquires, 1);
	DSM_STAT_ADD(n, lock_wait_ns, dsm__now_ns() - t0);
	return h ? 0 : -ENOMEM;
}

int dsm_lock_acquire(unsigned lock)
{
	return acquire(lock, DSM_LOCK_EXCL);
}

int dsm_lock_acquire_shared(unsigned lock)
{
	return acquire(lock, DSM_LOCK_SHARED);
}

/* Which mode does this node hold the lock in? Drops the record; *token:
 * the hold is of the lock's token here (its release keeps the token,
 * marked releasing meanwhile: a revoke waits for it). */
static int take_held(struct dsm_node *n, unsigned id, int *token)
{
	struct dsm_sync *s = S(n);
	struct lock_held *h;
	int mode = 0;

	pthread_mutex_lock(&s->mu);
	h = held_get(s, id, 0);
	*token = h && h->token && h->excl;
	if (h && h->excl) {
		h->excl = 0;
		h->releasing = *token;
		mode = DSM_LOCK_EXCL;
	} else if (h && h->shared) {
		h->shared--;
		mode = DSM_LOCK_SHARED;
	}
	pthread_mutex_unlock(&s->mu);
	return mode;
}

static int release_send(struct dsm_node *n, unsigned lock, int mode, int token);

int dsm_lock_release(unsigned lock)
{
	struct dsm_node *n = dsm__get();
	int mode, token, err;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = atomic_load(&n->failed)))
		return err;
	if (n->proto->lock_release_own) /* ec: the protocol's own locks */
		return n->proto->lock_release_own(n, lock);
	mode = take_held(n, lock, &token);
	if (!mode)
		return -EPERM;
	if ((err = dsm__rp_sync_enter(n, DSM_RP_OP_RELEASE, lock))) /* a boundary */
		return err;
	err = release_send(n, lock, mode, token);
	return dsm__rp_sync_leave(n) ?: err;
}

/* A token hold whose release carries a tape: the token goes back to the
 * manager with it (tapes travel through the manager). */
static void token_leaves(struct dsm_node *n, unsigned lock)
{
	struct lock_held *h;

	pthread_mutex_lock(&S(n)->mu);
	h = held_get(S(n), lock, 0);
	if (h) {
		free(h->blob);
		h->blob = NULL;
		h->blen = 0;
		h->token = h->releasing = h->revoked = 0;
	}
	pthread_mutex_unlock(&S(n)->mu);
}

/* dsm_lock_release between its record/replay boundary marks. */
static int release_send(struct dsm_node *n, unsigned lock, int mode, int token)
{
	int mgr, err = 0;
	struct dsm_buf pay = { 0 }, tape = { 0 };
	int has_tape = dsm__tw_lock_release(n, lock, &tape); /* Tapeworm: CS tape */
	unsigned flags;

	if (has_tape < 0) {
		err = has_tape;
		goto out;
	}
	if (n->proto->release && (err = n->proto->release(n, lock, mode, &pay)))
		goto out;
	if ((err = dsm__pc_push(n))) /* Tapeworm: push the producer's region pages */
		goto out;
	if (token && !has_tape) { /* the token stays here */
		err = dsm__lock_token_released(n, lock, &pay);
		goto out;
	}
	if (has_tape && (err = dsm__buf_put(&pay, tape.data, tape.len) ?:
			       dsm__buf_put_u32(&pay, (uint32_t)tape.len)))
		goto out;
	if (token)
		token_leaves(n, lock);
	flags = (has_tape ? DSM_REL_TAPE : 0) | (token ? DSM_REL_TOKEN : 0);
	mgr = dsm__lock_manager(n, lock);
	if (mgr == n->id) {
		err = mgr_release(n, lock, mode, n->id, pay.data, pay.len, flags);
	} else {
		struct dsm_msg m = { .type = DSM_MSG_LOCK_REL,
				     .arg = { lock, (uint64_t)mode, flags },
				     .payload = pay.data, .length = (uint32_t)pay.len };
		err = dsm__send(n, mgr, &m);
	}
out:
	dsm__buf_free(&pay);
	dsm__buf_free(&tape);
	return err;
}

/* A LOCK_GRANT here: wake the waiting acquirer (a token grant records
 * its tokens first, so a revoke right behind it finds them). */
static int lock_granted(struct dsm_node *n, const struct dsm_msg *m)
{
	const void *p = m->payload;
	size_t len = m->length;
	int err;

	if (m->arg[1] & DSM_LOCK_TOKEN) {
		if ((m->arg[1] & DSM_LOCK_TAPE) || (m->arg[1] & 0xff) != DSM_LOCK_EXCL ||
		    dsm__lock_manager(n, (unsigned)m->arg[0]) != (int)m->src)
			return DSM_EPROTO;
		if ((err = dsm__lock_token_granted(n, m, &p, &len)))
			return err;
	}
	return dsm__waiter_complete_data(n, m->arg[2], 0, m->arg, p, len) ? DSM_EPROTO : 0;
}

/* Lock messages. Service thread. */
int dsm__lock_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	unsigned id = (unsigned)m->arg[0];
	uint64_t flags = m->type == DSM_MSG_LOCK_GRANT ? DSM_LOCK_TAPE | DSM_LOCK_TOKEN
			 : m->type == DSM_MSG_LOCK_REQ ? DSM_LOCK_REVOKE : 0;
	int mode = (int)(m->arg[1] & ~flags);

	if (mode != DSM_LOCK_EXCL && mode != DSM_LOCK_SHARED)
		return DSM_EPROTO;
	if (m->type == DSM_MSG_LOCK_REL && m->arg[2] > (DSM_REL_TAPE | DSM_REL_TOKEN) &&
	    m->arg[2] != DSM_REL_RUN && m->arg[2] != (DSM_REL_RUN | DSM_REL_BUSY))
		return DSM_EPROTO;
	switch (m->type) {
	case DSM_MSG_LOCK_REQ:
		if (m->arg[1] & DSM_LOCK_REVOKE) /* from the manager: a token here */
			return mode == DSM_LOCK_EXCL ? dsm__lock_token_revoke(n, (int)m->src, id)
						     : DSM_EPROTO;
		if (dsm__lock_manager(n, id) != n->id)
			return DSM_EPROTO;
		return mgr_request(n, id, (int)m->src, mode, m->arg[2]);
	case DSM_MSG_LOCK_REL:
		if (m->arg[2] & DSM_REL_RUN)
			return mode == DSM_LOCK_EXCL
				? mgr_take_run(n, (int)m->src, m->payload, m->length,
					       !!(m->arg[2] & DSM_REL_BUSY))
				: DSM_EPROTO;
		if (dsm__lock_manager(n, id) != n->id)
			return DSM_EPROTO;
		return mgr_release(n, id, mode, (int)m->src, m->payload, m->length,
				   (unsigned)m->arg[2]);
	case DSM_MSG_LOCK_GRANT:
		return lock_granted(n, m);
	default:
		return DSM_EPROTO;
	}
}
