/*
 * lock_token.c — lock tokens and runs of them (docs/locks.md).
 *
 * A lock's manager (id % N) normally grants it for one hold: the holder
 * releases it back. When a node asks one manager for the locks it
 * manages in a stream (k, k+N, k+2N, ...: a lock per molecule or per
 * row, taken in order), the manager grants the lock as a token, with
 * the next free locks of the stream as tokens too (1 ahead, doubling
 * while the stream goes on, up to DSM_LOCK_AHEAD). A token stays at its
 * node after its releases: acquiring it there again takes no message.
 * When another node asks for a lock whose token is away, the manager
 * revokes it; the holder gives it back at once when idle, else at its
 * release, and with it the idle tokens that follow it in the stream, in
 * one message. A stream taken by two nodes in turn thus moves a run of
 * locks per round trip instead of one. Two nodes walking a stream in
 * step (the revoked token is in use) get plain grants again: the holder
 * gives that one lock back and the manager stops its runs.
 *
 * The token's protocol payload (hlrc's and lrc's vector timestamp) goes
 * with it: a token granted ahead carries the manager's payload, applied
 * when it is first acquired here; after a release here it carries this
 * node's release payload, which the manager folds in when it comes back.
 * Only exclusive grants to another node become tokens, and none while
 * recording or replaying (the manager orders the grants) or for a lock
 * Tapeworm acts on (its tapes travel through the manager).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "sync.h"
#include "tape/tapeworm.h"

static struct dsm_sync *S(struct dsm_node *n) { return n->sync; }

/* The id t steps after id in the stream of its manager; 0 when it would
 * wrap (id 0 never follows another). */
static unsigned after(const struct dsm_node *n, unsigned id, unsigned t)
{
	uint64_t k = (uint64_t)id + (uint64_t)t * (unsigned)n->count;

	return k > UINT32_MAX ? 0 : (unsigned)k;
}

/* --- manager side (caller holds mu) --- */

void dsm__lock_ahead_stop(struct dsm_node *n, int node)
{
	if (S(n)->ahead && node >= 0 && node < n->count)
		S(n)->ahead[node] = (struct lock_ahead){ 0 };
}

int dsm__lock_ahead_for(struct dsm_node *n, struct lock_mgr *l, const struct lock_req *r)
{
	struct dsm_sync *s = S(n);
	struct lock_ahead *a;
	unsigned id = l->obj.id;

	if (!n->cfg.lock_ahead || r->mode != DSM_LOCK_EXCL || r->node == n->id ||
	    l->tape_len || dsm__rp_on(n) || dsm__tw_lock_active(n, id))
		return -1;
	if (!s->ahead && !(s->ahead = calloc((size_t)n->count, sizeof(*s->ahead))))
		return -1;
	a = &s->ahead[r->node];
	if (id != a->next || id == 0) { /* not the stream's next: a plain grant */
		a->win = 0;
		a->next = after(n, id, 1);
		return -1;
	}
	a->win = a->win ? 2 * a->win : 1;
	if (a->win > (unsigned)n->cfg.lock_ahead)
		a->win = (unsigned)n->cfg.lock_ahead;
	return (int)a->win;
}

/* Is lock id free here for a token grant ahead? Returns its record. */
static struct lock_mgr *free_ahead(struct dsm_node *n, unsigned id)
{
	struct lock_mgr *l = dsm__sync_lookup(&S(n)->mgr, id, sizeof(struct lock_mgr));

	if (!l || l->at || l->excl || l->shared || l->head || l->tape_len ||
	    dsm__tw_lock_active(n, id))
		return NULL;
	return l;
}

int dsm__lock_token_pack(struct dsm_node *n, struct lock_mgr *l, int node, int ahead,
			 struct dsm_buf *pay)
{
	struct dsm_buf out = { 0 }, one = { 0 };
	int err = dsm__buf_put_u32(&out, (uint32_t)pay->len) ?:
		  dsm__buf_put(&out, pay->data, pay->len);
	int t = 1;

	for (; t <= ahead && !err; t++) {
		unsigned id = after(n, l->obj.id, (unsigned)t);
		struct lock_mgr *x = id ? free_ahead(n, id) : NULL;
		if (!x)
			break;
		one.len = 0;
		if (n->proto->lock_grant)
			err = n->proto->lock_grant(n, x->blob, &one);
		err = err ?: dsm__buf_put_u32(&out, id) ?:
		      dsm__buf_put_u32(&out, (uint32_t)one.len) ?:
		      dsm__buf_put(&out, one.data, one.len);
		if (!err)
			x->at = node + 1;
	}
	dsm__buf_free(&one);
	if (err) {
		dsm__lock_token_unpack(n, l, node, t - 1);
		dsm__buf_free(&out);
		return err;
	}
	S(n)->ahead[node].next = after(n, l->obj.id, (unsigned)t);
	dsm__buf_free(pay);
	*pay = out;
	return 0;
}

void dsm__lock_token_unpack(struct dsm_node *n, struct lock_mgr *l, int node, int ahead)
{
	for (int t = 1; t <= ahead; t++) {
		unsigned id = after(n, l->obj.id, (unsigned)t);
		struct lock_mgr *x = id ? dsm__sync_lookup(&S(n)->mgr, id, 0) : NULL;
		if (!x || x->at != node + 1)
			break;
		x->at = 0;
	}
}

void dsm__lock_revoke(struct dsm_node *n, struct lock_mgr *l)
{
	struct dsm_msg m = { .type = DSM_MSG_LOCK_REQ,
			     .arg = { l->obj.id, DSM_LOCK_EXCL | DSM_LOCK_REVOKE, 0 } };

	if (!l->at || l->revoking || !l->head)
		return;
	l->revoking = 1;
	(void)dsm__send(n, l->at - 1, &m); /* a lost node: the transport reports it */
}

/* --- holder side --- */

static void drop_token(struct lock_held *h)
{
	free(h->blob);
	h->blob = NULL;
	h->blen = 0;
	h->token = h->revoked = 0;
}

static int set_blob(struct lock_held *h, const void *p, size_t len)
{
	void *copy = len ? malloc(len) : NULL;

	if (len && !copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, p, len);
	free(h->blob);
	h->blob = copy;
	h->blen = len;
	return 0;
}

/* One {u32 lock, u32 length, bytes} record at p + *off of len bytes:
 * its id and payload; DSM_EPROTO if it does not fit. */
static int next_rec(const unsigned char *p, size_t len, size_t *off, unsigned *id,
		    const unsigned char **b, size_t *blen)
{
	if (len - *off < 8)
		return DSM_EPROTO;
	*id = dsm__get_le32(p + *off);
	*blen = dsm__get_le32(p + *off + 4);
	if (*blen > len - *off - 8)
		return DSM_EPROTO;
	*b = p + *off + 8;
	*off += 8 + *blen;
	return 0;
}

int dsm__lock_token_granted(struct dsm_node *n, const struct dsm_msg *m,
			    const void **main, size_t *main_len)
{
	const unsigned char *p = m->payload, *b = NULL;
	struct dsm_sync *s = S(n);
	struct lock_held *h;
	size_t len = m->length, off, blen = 0;
	unsigned id = (unsigned)m->arg[0], x = 0;
	int err = 0;

	if (len < 4 || (*main_len = dsm__get_le32(p)) > len - 4)
		return DSM_EPROTO;
	*main = p + 4;
	for (off = 4 + *main_len; off < len;) /* check every record first */
		if (next_rec(p, len, &off, &x, &b, &blen) ||
		    dsm__lock_manager(n, x) != (int)m->src || x == id)
			return DSM_EPROTO;
	pthread_mutex_lock(&s->mu);
	h = dsm__sync_lookup(&s->held, id, sizeof(*h));
	if (!h || h->token || h->excl) {
		err = h ? DSM_EPROTO : -ENOMEM; /* a second token of one lock */
	} else {
		drop_token(h);
		h->token = 1;
		h->excl = 1; /* the waiting acquirer's hold: a revoke waits for it */
	}
	for (off = 4 + *main_len; !err && off < len;) {
		(void)next_rec(p, len, &off, &x, &b, &blen); /* checked above */
		h = dsm__sync_lookup(&s->held, x, sizeof(*h));
		if (!h || h->token)
			err = h ? DSM_EPROTO : -ENOMEM;
		else if (!(err = set_blob(h, b, blen)))
			h->token = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* Give id's token back with the idle tokens after it in its manager's
 * stream, in one LOCK_REL (DSM_REL_RUN). busy: the revoke came while id
 * was held here, so another node walks the stream right behind this one
 * (in step): id goes back alone, and DSM_REL_BUSY tells the manager to
 * stop granting this node runs (the next would be revoked piecemeal,
 * each costing a revoke where a plain grant costs one round trip).
 * Caller holds mu. */
static int give_back(struct dsm_node *n, unsigned id, int busy)
{
	struct dsm_buf out = { 0 };
	int mgr = dsm__lock_manager(n, id), err = 0;
	int max = busy ? 0 : n->cfg.lock_ahead;
	unsigned x = id;

	for (int t = 0; t <= max && x && !err; x = after(n, id, (unsigned)++t)) {
		struct lock_held *h = dsm__sync_lookup(&S(n)->held, x, 0);
		if (!h || !h->token || h->excl || h->shared || h->releasing)
			break;
		err = dsm__buf_put_u32(&out, x) ?: dsm__buf_put_u32(&out, (uint32_t)h->blen) ?:
		      dsm__buf_put(&out, h->blob, h->blen);
		if (!err)
			drop_token(h);
	}
	if (!err && out.len) {
		struct dsm_msg m = { .type = DSM_MSG_LOCK_REL,
				     .arg = { id, DSM_LOCK_EXCL,
					      DSM_REL_RUN | (busy ? DSM_REL_BUSY : 0) },
				     .payload = out.data, .length = (uint32_t)out.len };
		err = dsm__send(n, mgr, &m);
		if (err == DSM_EPEERDEAD)
			err = 0; /* the transport reports the lost node */
	}
	dsm__buf_free(&out);
	return err;
}

int dsm__lock_token_revoke(struct dsm_node *n, int mgr, unsigned id)
{
	struct dsm_sync *s = S(n);
	struct lock_held *h;
	int err = 0;

	if (dsm__lock_manager(n, id) != mgr || mgr == n->id)
		return DSM_EPROTO;
	pthread_mutex_lock(&s->mu);
	h = dsm__sync_lookup(&s->held, id, 0);
	if (!h || !h->token)
		; /* given back before the revoke came: nothing to do */
	else if (h->excl || h->shared || h->releasing)
		h->revoked = 1; /* its release gives it back */
	else
		err = give_back(n, id, 0);
	pthread_mutex_unlock(&s->mu);
	return err;
}

int dsm__lock_token_take(struct dsm_node *n, unsigned id, void **blob, size_t *blen)
{
	struct dsm_sync *s = S(n);
	struct lock_held *h;
	int got = 0;

	pthread_mutex_lock(&s->mu);
	h = dsm__sync_lookup(&s->held, id, 0);
	if (h && h->token && !h->excl && !h->shared && !h->releasing && !h->revoked) {
		*blob = h->blen ? malloc(h->blen) : NULL;
		if (h->blen && !*blob) {
			got = -ENOMEM;
		} else {
			if (h->blen)
				memcpy(*blob, h->blob, h->blen);
			*blen = h->blen;
			h->excl = 1;
			got = 1;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return got;
}

int dsm__lock_token_released(struct dsm_node *n, unsigned id, struct dsm_buf *pay)
{
	struct dsm_sync *s = S(n);
	struct lock_held *h;
	int err = 0;

	pthread_mutex_lock(&s->mu);
	h = dsm__sync_lookup(&s->held, id, 0);
	if (!h || !h->token || !h->releasing) {
		err = DSM_EPROTO;
	} else {
		free(h->blob);
		h->blob = pay->data;
		h->blen = pay->len;
		*pay = (struct dsm_buf){ 0 };
		h->releasing = 0;
		if (h->revoked)
			err = give_back(n, id, 1);
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

void dsm__lock_held_free(void *obj, void *arg)
{
	(void)arg;
	free(((struct lock_held *)obj)->blob);
}
