/*
 * ec_lock.c — ec's locks (docs/protocols/ec.md, "Locks").
 *
 * Exclusive ownership of a lock (the token) moves along a distributed
 * probable-owner chain: the last exclusive acquirer owns the lock, even
 * after it released it; a request goes to the node this one believes is
 * the owner and is forwarded from there until it reaches the owner (or a
 * node whose own exclusive request is on its way, which keeps it until it
 * owns the lock). The owner queues requests in arrival order; an
 * exclusive grant hands the token, the lock's update log, hlrc's vector
 * timestamp and the rest of the queue to the new owner. Shared requests
 * are granted by the owner while no exclusive hold exists; a shared
 * holder's release is the one release that sends a message (the owner
 * must know when its readers are gone).
 *
 * Data: each request carries the time (Lamport clock) of the newest
 * update the requester has of the lock's bound data; the grant carries
 * only the log entries (byte diffs of bound ranges) newer than that, or a
 * snapshot of the bound data if the log no longer reaches back so far.
 * The owner re-acquiring a lock nobody else held meanwhile sends nothing;
 * an exclusive release sends nothing: its diffs join the local log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "ec.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"

#define GRANT_SNAPSHOT 1u /* flags: the updates are a snapshot */
#define ENTRY_HDR 16      /* u64 time, u32 page, u32 diff length */
#define QREC 32           /* u32 node, u32 mode, u64 token, u64 seen, u32 nb,
			     u32 nhave; then nhave spans */
#define REQ_HAVE_MAX 250  /* spans a request names (EC_LOCK_REQ: 4 KiB) */
#define SPAN 16           /* u64 offset, u64 length */

static int put_u64(struct dsm_buf *b, uint64_t v)
{
	unsigned char x[8];

	dsm__put_le64(x, v);
	return dsm__buf_put(b, x, 8);
}

/* --- queue --- */

static int q_push(struct ec_lock *l, const struct ec_req *r)
{
	if (l->qlen == l->qcap) {
		unsigned cap = l->qcap ? 2 * l->qcap : 8;
		struct ec_req *q = realloc(l->q, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		l->q = q;
		l->qcap = cap;
	}
	l->q[l->qlen++] = *r;
	return 0;
}

static struct ec_req q_pop(struct ec_lock *l)
{
	struct ec_req r = l->q[0];

	memmove(l->q, l->q + 1, --l->qlen * sizeof(*l->q));
	return r;
}

/* --- update log --- */

/* Keep the log within twice the bound bytes (4 KiB at least): drop the
 * oldest entries; the floor says what is no longer there. */
static void log_trim(struct ec_lock *l)
{
	size_t limit = 2 * l->bytes > 4096 ? 2 * l->bytes : 4096, cut = 0;

	while (l->loglen - cut > limit) {
		l->floor = dsm__get_le64(l->log + cut);
		cut += ENTRY_HDR + dsm__get_le32(l->log + cut + 12);
	}
	if (cut) {
		memmove(l->log, l->log + cut, l->loglen - cut);
		l->loglen -= cut;
	}
}

/* 1 if every run of diff a lies inside a run of diff b (both valid, of
 * one page: runs sorted, not overlapping). */
static int covered(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	size_t i = 4, j = 4;

	while (i < al) {
		uint32_t ao = dsm__get_le32(a + i), an = dsm__get_le32(a + i + 4);
		while (j < bl && dsm__get_le32(b + j) + dsm__get_le32(b + j + 4) <= ao)
			j += 8 + dsm__get_le32(b + j + 4);
		if (j >= bl || ao < dsm__get_le32(b + j) ||
		    ao + an > dsm__get_le32(b + j) + dsm__get_le32(b + j + 4))
			return 0;
		i += 8 + an;
	}
	return 1;
}

#define E_PAGE(e) dsm__get_le32((e) + 8)
#define E_LEN(e) dsm__get_le32((e) + 12)

/* Entries before `start` whose every byte an entry from `start` on
 * rewrites are dropped: whoever needs the old one needs the new one too
 * and applies it later, so an acquirer receives each byte about once. */
static void log_drop_covered(struct ec_lock *l, size_t start)
{
	unsigned char *g = l->log;
	size_t nold = 0, nnew = 0, w = 0, o;

	for (o = 0; o < l->loglen; o += ENTRY_HDR + E_LEN(g + o))
		*(o < start ? &nold : &nnew) += 1;
	if (nold * nnew > 100000) /* (bounded work per release) */
		return;
	for (o = 0; o < start;) {
		size_t len = ENTRY_HDR + E_LEN(g + o);
		int drop = 0;
		for (size_t q = start; q < l->loglen && !drop; q += ENTRY_HDR + E_LEN(g + q))
			drop = E_PAGE(g + q) == E_PAGE(g + o) &&
			       covered(g + o + ENTRY_HDR, E_LEN(g + o), g + q + ENTRY_HDR,
				       E_LEN(g + q));
		if (!drop) {
			memmove(g + w, g + o, len);
			w += len;
		}
		o += len;
	}
	memmove(g + w, g + start, l->loglen - start);
	l->loglen = w + (l->loglen - start);
}

static int log_append(struct ec_lock *l, const unsigned char *p, size_t len)
{
	size_t start = l->loglen;

	if (l->loglen + len > l->logcap) {
		size_t cap = l->logcap ? 2 * l->logcap : 4096;
		while (cap < l->loglen + len)
			cap *= 2;
		unsigned char *g = realloc(l->log, cap);
		if (!g)
			return -ENOMEM;
		l->log = g;
		l->logcap = cap;
	}
	memcpy(l->log + l->loglen, p, len);
	l->loglen += len;
	log_drop_covered(l, start);
	log_trim(l);
	return 0;
}

/* The updates a requester that has everything up to `seen` lacks: the
 * log's newer entries, or a snapshot (*flags) if the log starts later. */
static int put_updates(struct dsm_node *n, struct ec_lock *l, uint64_t seen,
		       struct dsm_buf *out, uint32_t *flags)
{
	size_t o = 0;
	int err = 0;

	if (seen >= l->time)
		return 0;
	if (seen < l->floor) {
		*flags |= GRANT_SNAPSHOT;
		return dsm__ec_snapshot(n, l, l->time, out);
	}
	while (o < l->loglen && !err) {
		size_t len = ENTRY_HDR + dsm__get_le32(l->log + o + 12);
		if (dsm__get_le64(l->log + o) > seen)
			err = dsm__buf_put(out, l->log + o, len);
		o += len;
	}
	return err;
}

/* This node holds l exclusively now: the bindings made here join the
 * list (mu held). */
static int publish(struct ec_lock *l)
{
	int err = 0;

	for (unsigned i = 0; i < l->npend && !err; i++)
		err = dsm__ec_span_push(&l->gl, &l->ngl, &l->glcap, &l->pend[i]);
	l->npend = 0;
	return err;
}

/* Did the requester bind s itself? */
static int has_span(const struct ec_req *r, const struct ec_span *s)
{
	for (uint32_t i = 0; i < r->nhave; i++)
		if (r->have[i].off == s->off && r->have[i].len == s->len)
			return 1;
	return 0;
}

static int put_spans(struct dsm_buf *out, const struct ec_span *s, uint32_t count)
{
	int err = 0;

	for (uint32_t i = 0; i < count && !err; i++) {
		unsigned char x[SPAN];
		dsm__put_le64(x, s[i].off);
		dsm__put_le64(x + 8, s[i].len);
		err = dsm__buf_put(out, x, SPAN);
	}
	return err;
}

/* Read count spans; NULL (count 0 or no memory: *err). */
static struct ec_span *get_spans(const unsigned char *p, uint32_t count, int *err)
{
	struct ec_span *s;

	if (!count)
		return NULL;
	if (!(s = malloc(count * sizeof(*s)))) {
		*err = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < count; i++)
		s[i] = (struct ec_span){ dsm__get_le64(p + i * SPAN),
					 dsm__get_le64(p + i * SPAN + 8) };
	return s;
}

/* --- grants (mu held) --- */

/* hlrc's part of a grant: the lock's vector timestamp. */
static int put_blob(struct dsm_node *n, struct ec_lock *l, struct dsm_buf *out)
{
	struct dsm_buf b = { 0 };
	int err = dsm__proto_vc_lock_grant(n, l->blob, &b) ?:
		  dsm__buf_put_u32(out, (uint32_t)b.len) ?:
		  dsm__buf_put(out, b.data, b.len);

	dsm__buf_free(&b);
	return err;
}

/* The queue, for the token's next owner. */
static int put_queue(struct dsm_buf *out, const struct ec_lock *l)
{
	int err = dsm__buf_put_u32(out, l->qlen);

	for (unsigned i = 0; i < l->qlen && !err; i++) {
		unsigned char x[QREC];
		dsm__put_le32(x, (uint32_t)l->q[i].node);
		dsm__put_le32(x + 4, (uint32_t)l->q[i].mode);
		dsm__put_le64(x + 8, l->q[i].token);
		dsm__put_le64(x + 16, l->q[i].seen);
		dsm__put_le32(x + 24, l->q[i].nb);
		dsm__put_le32(x + 28, l->q[i].nhave);
		err = dsm__buf_put(out, x, QREC) ?:
		      put_spans(out, l->q[i].have, l->q[i].nhave);
	}
	return err;
}

/* The grant's payload for r (docs/protocols/ec.md, "Message flows"):
 * with an exclusive grant the queue goes too; then the bindings r lacks,
 * the updates, and the contents of those bindings (newer than any
 * update) that r did not make itself. */
static int put_grant(struct dsm_node *n, struct ec_lock *l, const struct ec_req *r,
		     struct dsm_buf *out)
{
	uint32_t flags = 0, nb = r->nb < l->ngl ? r->nb : l->ngl;
	size_t at;
	int err = put_u64(out, ES(n)->clock) ?: put_u64(out, l->time);

	at = out->len;
	err = err ?: dsm__buf_put_u32(out, 0) ?: put_blob(n, l, out);
	if (r->mode == DSM_LOCK_EXCL)
		err = err ?: put_queue(out, l);
	else
		err = err ?: dsm__buf_put_u32(out, 0);
	err = err ?: dsm__buf_put_u32(out, l->ngl) ?: dsm__buf_put_u32(out, l->ngl - nb);
	err = err ?: put_spans(out, l->gl + nb, l->ngl - nb);
	err = err ?: put_updates(n, l, r->seen, out, &flags);
	for (uint32_t i = nb; i < l->ngl && !err && !(flags & GRANT_SNAPSHOT); i++)
		if (!has_span(r, &l->gl[i])) /* it bound it itself: it has it */
			err = dsm__ec_snapshot_span(n, &l->gl[i], l->time, out);
	if (!err)
		dsm__put_le32(out->data + at, flags);
	return err;
}

/* Grant r (popped from the queue, its mode already counted) from the
 * owner. A transfer (exclusive, to another node) hands over the token:
 * the queue goes with it, and the new owner keeps the updates it gets in
 * its own log. */
static int grant(struct dsm_node *n, struct ec_lock *l, const struct ec_req *r)
{
	struct dsm_buf out = { 0 };
	uint64_t val[3] = { l->id, (uint64_t)r->mode, r->token };
	int err;

	if (r->node == n->id) { /* the data here is current */
		err = r->mode == DSM_LOCK_EXCL ? publish(l) : 0;
		err = err ?: dsm__proto_vc_lock_grant(n, l->blob, &out);
		err = err ?: dsm__waiter_complete_data(n, r->token, 0, val, out.data, out.len);
		dsm__buf_free(&out);
		return err;
	}
	if (!(err = put_grant(n, l, r, &out))) {
		struct dsm_msg m = { .type = DSM_MSG_EC_LOCK_GRANT,
				     .arg = { l->id, (uint64_t)r->mode, r->token },
				     .payload = out.data, .length = (uint32_t)out.len };
		err = dsm__send(n, r->node, &m);
	}
	if (!err && r->mode == DSM_LOCK_EXCL) { /* the token left */
		l->is_owner = 0;
		l->owner = r->node;
		l->busy_excl = 0;
		for (unsigned i = 0; i < l->qlen; i++)
			free(l->q[i].have);
		l->qlen = 0;
		free(l->blob);
		l->blob = NULL;
	}
	dsm__buf_free(&out);
	return err;
}

/* Owner: grant from the head of the queue while compatible. */
static int serve(struct dsm_node *n, struct ec_lock *l)
{
	int err = 0;

	while (!err && l->is_owner && l->qlen && !l->busy_excl) {
		if (l->q[0].mode == DSM_LOCK_SHARED) {
			struct ec_req r = q_pop(l);
			l->nshared++;
			err = grant(n, l, &r);
			free(r.have);
			continue;
		}
		if (l->nshared)
			break;
		struct ec_req r = q_pop(l);
		l->busy_excl = 1;
		err = grant(n, l, &r);
		free(r.have);
	}
	return err;
}

/* --- application side --- */

/* A hold begins here: learn hlrc's intervals, open the bound pages. */
static int held(struct dsm_node *n, struct ec_lock *l, int mode, const void *vc,
		size_t len)
{
	int err = dsm__hlrc_acquire(n, l->id, mode, vc, len);

	if (!err)
		dsm__ec_open(n, l, mode);
	return err;
}

int dsm__ec_lock_acquire(struct dsm_node *n, unsigned id, int mode)
{
	struct ec_state *es = ES(n);
	struct dsm_waiter w;
	struct ec_lock *l;
	int err;

	pthread_mutex_lock(&es->mu);
	if (!(l = dsm__ec_lock_get(n, id, 1))) {
		pthread_mutex_unlock(&es->mu);
		return -ENOMEM;
	}
	if (l->is_owner && !l->qlen && !l->busy_excl &&
	    (mode == DSM_LOCK_SHARED || !l->nshared)) { /* here and free: no message */
		struct dsm_buf b = { 0 };
		if (mode == DSM_LOCK_EXCL)
			l->busy_excl = 1;
		else
			l->nshared++;
		err = mode == DSM_LOCK_EXCL ? publish(l) : 0;
		err = err ?: dsm__proto_vc_lock_grant(n, l->blob, &b);
		pthread_mutex_unlock(&es->mu);
		err = err ?: held(n, l, mode, b.data, b.len);
		dsm__buf_free(&b);
		return err;
	}
	dsm__waiter_add(n, &w);
	struct ec_req r = { .node = n->id, .mode = mode, .token = w.token, .seen = l->time,
			    .nb = l->ngl };
	if (l->is_owner || l->pending_excl) {
		err = q_push(l, &r);
	} else {
		struct dsm_buf pay = { 0 };
		uint32_t nh = l->npend <= REQ_HAVE_MAX ? l->npend : 0;
		err = put_u64(&pay, l->time) ?: dsm__buf_put_u32(&pay, l->ngl) ?:
		      dsm__buf_put_u32(&pay, nh) ?: put_spans(&pay, l->pend, nh);
		struct dsm_msg m = { .type = DSM_MSG_EC_LOCK_REQ,
				     .arg = { id, (uint64_t)mode | (uint64_t)n->id << 8, w.token },
				     .payload = pay.data, .length = (uint32_t)pay.len };
		err = err ?: dsm__send(n, l->owner, &m);
		dsm__buf_free(&pay);
		if (!err && mode == DSM_LOCK_EXCL)
			l->pending_excl = 1;
	}
	pthread_mutex_unlock(&es->mu);
	if (err)
		dsm__waiter_complete(n, w.token, err, NULL);
	/* No deadline of its own (as src/sync/lock.c): the holder may keep
	 * the lock as long as it computes; liveness bounds the wait. */
	err = dsm__waiter_wait(n, &w, 0);
	if (!err)
		err = held(n, l, mode, w.data, w.len);
	free(w.data);
	return err;
}

int dsm__ec_lock_release(struct dsm_node *n, unsigned id)
{
	struct ec_state *es = ES(n);
	struct dsm_buf vc = { 0 }, upd = { 0 };
	struct ec_lock *l;
	int mode = 0, err;

	pthread_mutex_lock(&es->mu);
	l = dsm__ec_lock_get(n, id, 0);
	pthread_mutex_lock(&n->region->lock);
	if (l && l->held_excl)
		mode = DSM_LOCK_EXCL;
	else if (l && l->held_shared)
		mode = DSM_LOCK_SHARED;
	pthread_mutex_unlock(&n->region->lock);
	pthread_mutex_unlock(&es->mu);
	if (!mode)
		return -EPERM;
	/* unbound data: hlrc closes the interval (may flush diffs to homes) */
	if ((err = dsm__hlrc_release(n, id, mode, &vc)))
		goto out;
	pthread_mutex_lock(&es->mu);
	err = dsm__ec_close(n, l, mode, es->clock + 1, &upd);
	if (!err && upd.len) {
		l->time = ++es->clock;
		err = log_append(l, upd.data, upd.len);
	}
	if (err) {
		pthread_mutex_unlock(&es->mu);
		goto out;
	}
	if (mode == DSM_LOCK_SHARED && !l->is_owner) {
		struct dsm_msg m = { .type = DSM_MSG_EC_LOCK_REL, .arg = { id },
				     .payload = vc.data, .length = (uint32_t)vc.len };
		err = dsm__send(n, l->granter, &m);
	} else {
		if (mode == DSM_LOCK_EXCL)
			l->busy_excl = 0;
		else
			l->nshared--;
		err = dsm__proto_vc_lock_merge(n, &l->blob, vc.data, vc.len) ?: serve(n, l);
	}
	pthread_mutex_unlock(&es->mu);
out:
	dsm__buf_free(&vc);
	dsm__buf_free(&upd);
	return err;
}

/* --- messages (service thread) --- */

/* A request reaches this node: serve it (owner), keep it (our own
 * exclusive request will make us the owner), or pass it on. */
static int on_request(struct dsm_node *n, const struct dsm_msg *m)
{
	struct ec_state *es = ES(n);
	struct ec_req r = { .node = (int)(m->arg[1] >> 8), .mode = (int)(m->arg[1] & 0xff),
			    .token = m->arg[2] };
	struct ec_lock *l;
	int err;

	const unsigned char *p = m->payload;

	if (m->length < 16 || r.node >= n->count ||
	    (r.mode != DSM_LOCK_EXCL && r.mode != DSM_LOCK_SHARED))
		return DSM_EPROTO;
	r.seen = dsm__get_le64(p);
	r.nb = dsm__get_le32(p + 8);
	r.nhave = dsm__get_le32(p + 12);
	if (r.nhave != (m->length - 16) / SPAN || (m->length - 16) % SPAN)
		return DSM_EPROTO;
	pthread_mutex_lock(&es->mu);
	if (!(l = dsm__ec_lock_get(n, (unsigned)m->arg[0], 1)))
		err = -ENOMEM;
	else if (l->is_owner || (l->pending_excl && r.node != n->id)) {
		err = 0;
		r.have = get_spans(p + 16, r.nhave, &err);
		err = err ?: q_push(l, &r);
		if (err)
			free(r.have);
		else if (l->is_owner)
			err = serve(n, l);
	}
	else if (l->owner == n->id)
		err = DSM_EPROTO;
	else {
		DSM_STAT_ADD(n, forwards, 1);
		err = dsm__send(n, l->owner, (struct dsm_msg *)m);
	}
	pthread_mutex_unlock(&es->mu);
	return err;
}

/* Learn a grant's updates: log them (or restart the log at a snapshot)
 * and apply them. mu held. */
static int take_updates(struct dsm_node *n, int src, struct ec_lock *l,
			uint32_t flags, uint64_t time, const unsigned char *p, size_t len)
{
	int err = dsm__ec_apply(n, src, p, len); /* converted in place: logged
						    in our byte order */

	if (err || !len)
		return err;
	if (flags & GRANT_SNAPSHOT) {
		l->loglen = 0;
		l->floor = time;
		return 0;
	}
	return log_append(l, p, len);
}

/* A grant as it arrived (pointers into the message). */
struct grant_in {
	uint64_t clock, time;
	uint32_t flags, total;
	const unsigned char *blob, *q, *spans, *upd;
	size_t bl, nq, ns, ulen;
};

/* Check a grant's layout (docs/protocols/ec.md, "Message flows"). */
static int grant_parse(const struct dsm_msg *m, struct grant_in *g)
{
	const unsigned char *p = m->payload, *end = p + m->length;
	size_t len = m->length;

	if (len < 28 || (g->bl = dsm__get_le32(p + 20)) > len - 28)
		return DSM_EPROTO;
	g->clock = dsm__get_le64(p);
	g->time = dsm__get_le64(p + 8);
	g->flags = dsm__get_le32(p + 16);
	g->blob = p + 24;
	g->nq = dsm__get_le32(g->blob + g->bl);
	g->q = p = g->blob + g->bl + 4;
	if (g->nq > (len - 28 - g->bl) / QREC)
		return DSM_EPROTO;
	for (size_t i = 0; i < g->nq; i++) { /* each entry: QREC + its spans */
		uint32_t nh, mode;
		if ((size_t)(end - p) < QREC ||
		    (nh = dsm__get_le32(p + 28)) > ((size_t)(end - p) - QREC) / SPAN ||
		    ((mode = dsm__get_le32(p + 4)) != DSM_LOCK_EXCL && mode != DSM_LOCK_SHARED))
			return DSM_EPROTO;
		p += QREC + (size_t)nh * SPAN;
	}
	len = (size_t)(end - p);
	if (len < 8 || (g->ns = dsm__get_le32(p + 4)) > (len - 8) / SPAN)
		return DSM_EPROTO;
	g->total = dsm__get_le32(p);
	g->spans = p + 8;
	g->upd = g->spans + g->ns * SPAN;
	g->ulen = (size_t)(end - g->upd);
	return 0;
}

/* The token arrived: this node owns l, holds it, and serves the queue
 * that came with it, then the requests it kept meanwhile. mu held. */
static int take_token(struct dsm_node *n, struct ec_lock *l, const struct grant_in *g)
{
	struct ec_req *mine = l->q;
	unsigned nmine = l->qlen;
	const unsigned char *x = g->q;
	int err = 0;

	l->q = NULL;
	l->qlen = l->qcap = 0;
	for (size_t i = 0; i < g->nq && !err; i++) {
		struct ec_req r = { .node = (int)dsm__get_le32(x),
				    .mode = (int)dsm__get_le32(x + 4),
				    .token = dsm__get_le64(x + 8),
				    .seen = dsm__get_le64(x + 16),
				    .nb = dsm__get_le32(x + 24),
				    .nhave = dsm__get_le32(x + 28) };
		r.have = get_spans(x + QREC, r.nhave, &err);
		if (!err && (err = q_push(l, &r)))
			free(r.have);
		x += QREC + (size_t)r.nhave * SPAN;
	}
	for (unsigned i = 0; i < nmine; i++)
		if (err || (err = q_push(l, &mine[i])))
			free(mine[i].have);
	free(mine);
	l->is_owner = 1;
	l->owner = n->id;
	l->pending_excl = 0;
	l->busy_excl = 1;
	free(l->blob);
	l->blob = NULL;
	return err ?: dsm__proto_vc_lock_merge(n, &l->blob, g->blob, g->bl) ?: publish(l);
}

/* A grant: the bindings and data and, for an exclusive one, the token
 * arrive. The waiting thread gets hlrc's vector timestamp. */
static int on_grant(struct dsm_node *n, const struct dsm_msg *m)
{
	struct ec_state *es = ES(n);
	int mode = (int)m->arg[1], err;
	struct grant_in g;
	struct ec_lock *l;

	if ((mode != DSM_LOCK_EXCL && mode != DSM_LOCK_SHARED) || grant_parse(m, &g))
		return DSM_EPROTO;
	pthread_mutex_lock(&es->mu);
	if (!(l = dsm__ec_lock_get(n, (unsigned)m->arg[0], 1))) {
		pthread_mutex_unlock(&es->mu);
		return -ENOMEM;
	}
	es->clock = g.clock > es->clock ? g.clock : es->clock;
	err = g.total != l->ngl + g.ns ? DSM_EPROTO : 0; /* the list grows at its end */
	for (size_t i = 0; i < g.ns && !err; i++) {
		struct ec_span s = { dsm__get_le64(g.spans + i * SPAN),
				     dsm__get_le64(g.spans + i * SPAN + 8) };
		err = dsm__ec_learn_span(n, l, &s) ?:
		      dsm__ec_span_push(&l->gl, &l->ngl, &l->glcap, &s);
	}
	err = err ?: take_updates(n, (int)m->src, l, g.flags, g.time, g.upd, g.ulen);
	if (g.time > l->time)
		l->time = g.time;
	if (!err && mode == DSM_LOCK_EXCL)
		err = take_token(n, l, &g);
	else if (!err)
		l->owner = l->granter = (int)m->src;
	pthread_mutex_unlock(&es->mu);
	if (!err)
		err = dsm__waiter_complete_data(n, m->arg[2], 0, m->arg, g.blob, g.bl)
			? DSM_EPROTO : 0;
	return err;
}

/* A shared holder is gone. */
static int on_release(struct dsm_node *n, const struct dsm_msg *m)
{
	struct ec_state *es = ES(n);
	struct ec_lock *l;
	int err;

	pthread_mutex_lock(&es->mu);
	l = dsm__ec_lock_get(n, (unsigned)m->arg[0], 0);
	if (!l || !l->is_owner || l->nshared <= 0) {
		err = DSM_EPROTO;
	} else {
		l->nshared--;
		err = dsm__proto_vc_lock_merge(n, &l->blob, m->payload, m->length) ?:
		      serve(n, l);
	}
	pthread_mutex_unlock(&es->mu);
	return err;
}

int dsm__ec_lock_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	switch (m->type) {
	case DSM_MSG_EC_LOCK_REQ:
		return on_request(n, m);
	case DSM_MSG_EC_LOCK_GRANT:
		return on_grant(n, m);
	case DSM_MSG_EC_LOCK_REL:
		return on_release(n, m);
	default:
		return DSM_EPROTO;
	}
}

void dsm__ec_lock_free_all(struct ec_state *es)
{
	dsm__ec_lock_free_table(es->bucket);
	dsm__ec_lock_free_table(es->bbucket);
}

void dsm__ec_lock_free_table(struct ec_lock **bucket)
{
	for (int i = 0; i < EC_BUCKETS; i++) {
		struct ec_lock *l = bucket[i];
		while (l) {
			struct ec_lock *nx = l->next;
			free(l->roff);
			free(l->rlen);
			for (unsigned k = 0; k < l->qlen; k++)
				free(l->q[k].have);
			free(l->q);
			free(l->blob);
			free(l->log);
			free(l->gl);
			free(l->pend);
			free(l);
			l = nx;
		}
		bucket[i] = NULL;
	}
}
