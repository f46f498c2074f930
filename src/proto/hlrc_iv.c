/*
 * hlrc_iv.c — home-based lazy release consistency: intervals and write
 * notices, and what locks and barriers carry (docs/protocols/hlrc.md).
 *
 * A node's interval ends at each release (lock release, barrier arrival):
 * its changes are flushed to their homes first, then the interval's record
 * lists the pages it wrote, each with its home. Locks carry the releasers'
 * vector timestamp; an acquirer fetches the records it lacks from their
 * creators. Barriers exchange records through the manager. Homes hold
 * every change by then, so a record only invalidates: no diff is ever
 * fetched from a writer, and records older than the previous barrier are
 * known everywhere and dropped.
 *
 * Interval record on the wire (little-endian u32s):
 *   creator, id, npages, {page, home | generation << 16}[npages]
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"

/* --- the interval table --- */

/* Append a record to its creator's table (ids must be consecutive). */
static int iv_store(struct hlrc_state *st, struct hlrc_interval *iv)
{
	uint32_t j = iv->creator;

	if (iv->id != st->iv_base[j] + st->iv_len[j])
		return DSM_EPROTO;
	if (st->iv_len[j] == st->iv_cap[j]) {
		uint32_t cap = st->iv_cap[j] ? 2 * st->iv_cap[j] : 64;
		struct hlrc_interval **v = realloc(st->ivs[j], cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->ivs[j] = v;
		st->iv_cap[j] = cap;
	}
	st->ivs[j][st->iv_len[j]++] = iv;
	return 0;
}

static struct hlrc_interval *iv_find(struct hlrc_state *st, uint32_t j, uint32_t id)
{
	if (id < st->iv_base[j] || id - st->iv_base[j] >= st->iv_len[j])
		return NULL;
	return st->ivs[j][id - st->iv_base[j]];
}

int dsm__hlrc_wrote_after(struct dsm_node *n, uint32_t p, const uint32_t *vc)
{
	struct hlrc_state *st = HS(n);

	for (uint32_t j = 0; j < (uint32_t)st->count; j++)
		for (uint32_t id = vc[j] + 1; id <= st->vc[j]; id++) {
			const struct hlrc_interval *iv = iv_find(st, j, id);
			if (!iv)
				return 1; /* collected: cannot tell */
			for (uint32_t k = 0; k < iv->npages; k++)
				if (iv->pages[2 * (size_t)k] == p)
					return 1;
		}
	return 0;
}

static void iv_free(struct hlrc_interval *iv)
{
	if (iv)
		free(iv->pages);
	free(iv);
}

/* Free every record with id <= upto[creator] (all if upto is NULL). */
static void iv_free_upto(struct hlrc_state *st, const uint32_t *upto)
{
	for (int j = 0; j < DSM_MAX_NODES; j++) {
		uint32_t k = 0;
		while (k < st->iv_len[j] && (!upto || st->ivs[j][k]->id <= upto[j]))
			iv_free(st->ivs[j][k++]);
		if (k && st->iv_len[j] > k)
			memmove(st->ivs[j], st->ivs[j] + k,
				(st->iv_len[j] - k) * sizeof(void *));
		st->iv_len[j] -= k;
		st->iv_base[j] += k;
		if (!upto) {
			free(st->ivs[j]);
			st->ivs[j] = NULL;
			st->iv_cap[j] = 0;
		}
	}
}

void dsm__hlrc_iv_free_all(struct hlrc_state *st)
{
	iv_free_upto(st, NULL);
}

/* --- closing an interval --- */

/*
 * Take the open interval's dirty list: home pages stay writable (their
 * notice covers every copy taken so far); other pages are write-protected
 * and queued for flushing (returned in *fl). Region lock held.
 */
static int close_pages(struct dsm_node *n, const uint32_t *pages, uint32_t count,
		       uint32_t *fl, uint32_t *nfl)
{
	struct hlrc_state *st = HS(n);
	int err = 0;

	for (uint32_t i = 0; i < count && !err; i++) {
		uint32_t p = pages[i];
		struct hlrc_page *hp = &st->pages[p];
		struct dsm_page *pg = &n->region->pages[p];
		hp->dirty = 0;
		if (hp->home == st->me) {
			err = dsm__hlrc_step(n, p, pg, EV_CLOSE_HOME);
			hp->shared = pg->state == DSM_PAGE_READ_SHARED;
			continue;
		}
		if (pg->state == DSM_PAGE_DIRTY &&
		    !(err = dsm__hlrc_step(n, p, pg, EV_CLOSE))) {
			hp->flushing = 1;
			fl[(*nfl)++] = p;
		}
	}
	dsm__hlrc_protect_state(n, fl, *nfl); /* revoke writes before diffing */
	return err;
}

/* The record of the interval just flushed: every page with its home,
 * but those twinned ahead of a walk and not written (quiet). */
static struct hlrc_interval *make_record(struct hlrc_state *st, const uint32_t *pages,
					 uint32_t count)
{
	struct hlrc_interval *iv = calloc(1, sizeof(*iv));

	if (!iv || !(iv->pages = malloc(2 * (size_t)(count ? count : 1) * 4))) {
		free(iv);
		return NULL;
	}
	iv->creator = (uint32_t)st->me;
	iv->id = st->vc[st->me] + 1;
	for (uint32_t i = 0; i < count; i++) {
		struct hlrc_page *hp = &st->pages[pages[i]];
		if (hp->quiet) {
			hp->quiet = 0;
			continue;
		}
		if (hp->home < 0)
			continue; /* cannot happen: flushing resolved every home */
		iv->pages[2 * iv->npages] = pages[i];
		iv->pages[2 * iv->npages + 1] = HLRC_HG(hp->home, hp->gen);
		iv->npages++;
	}
	return iv;
}

/*
 * Pages of the closing interval whose diff another thread is flushing (a
 * notice it learned while this interval was open queued them, see
 * notice()) must reach their homes before this interval's record can
 * announce them: a node that learns the record reads the home's copy.
 * Wait for those flushes, within the request deadline.
 */
static int wait_flushes(struct dsm_node *n, const uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);
	uint64_t ms = n->cfg.timeout_ms > 0 ? (uint64_t)n->cfg.timeout_ms : 10000;
	uint64_t deadline = dsm__now_ns() + 4 * ms * 1000000u;

	for (uint32_t i = 0; i < count; i++) {
		struct dsm_page *pg = &n->region->pages[pages[i]];
		for (;;) {
			uint32_t seq;
			int busy;
			pthread_mutex_lock(&n->region->lock);
			busy = st->pages[pages[i]].flushing;
			seq = atomic_load(&pg->wait_seq);
			pthread_mutex_unlock(&n->region->lock);
			if (!busy)
				break;
			if (dsm__now_ns() > deadline) {
				DSM_ERR(n, "hlrc: page %u's diff is still on its way to node %d "
					"after the request deadline", pages[i],
					st->pages[pages[i]].home);
				return DSM_ETIMEDOUT;
			}
			dsm__page_wait(pg, seq, 1000000u);
		}
	}
	return 0;
}

/*
 * End the open interval if it wrote anything: flush its diffs to their
 * homes (claiming first-touch homes), then record its write notices.
 * Application thread; takes close_mu and the region lock.
 */
int dsm__hlrc_close_interval(struct dsm_node *n)
{
	struct hlrc_state *st = HS(n);
	uint32_t *pages = NULL, *fl = NULL, count, room, nfl = 0;
	struct hlrc_interval *iv;
	int err = 0;

	if (n->count == 1)
		return 0;
	pthread_mutex_lock(&st->close_mu);
	pthread_mutex_lock(&n->region->lock);
	err = dsm__hlrc_wp_collect(n); /* kernel-recorded home writes: listed */
	err = dsm__hlrc_wp_adapt(n) ?: err;
	count = st->ndirty;
	room = count + st->nfresh;
	if (room && (!(pages = malloc(room * 4)) || !(fl = malloc(room * 4))))
		err = -ENOMEM;
	if (room && !err) {
		memcpy(pages, st->dirty, count * 4);
		st->ndirty = 0;
		err = close_pages(n, pages, count, fl, &nfl);
		/* pages opened fresh: the written ones join the record */
		err = dsm__hlrc_close_fresh(n, pages, &count, fl, &nfl) ?: err;
	}
	pthread_mutex_unlock(&n->region->lock);
	if (nfl) /* even after a failed close: the queued pages must not stay flushing */
		err = dsm__hlrc_flush(n, fl, nfl) ?: err;
	if (!err && count)
		err = wait_flushes(n, pages, count);
	if (!err && count) {
		pthread_mutex_lock(&n->region->lock);
		if (!(iv = make_record(st, pages, count)))
			err = -ENOMEM;
		else if (!(err = iv_store(st, iv)))
			st->vc[st->me]++;
		else
			iv_free(iv);
		pthread_mutex_unlock(&n->region->lock);
	}
	pthread_mutex_unlock(&st->close_mu);
	free(pages);
	free(fl);
	return err;
}

/* --- records on the wire --- */

/* Serialise creator's records with after < id <= upto. Region lock held.
 * -ENOENT if one was dropped (a peer asked for history before a barrier). */
static int put_records(struct hlrc_state *st, uint32_t creator, uint32_t after,
		       uint32_t upto, struct dsm_buf *out)
{
	for (uint32_t id = after + 1; id <= upto; id++) {
		struct hlrc_interval *iv = iv_find(st, creator, id);
		int err;
		if (!iv)
			return -ENOENT;
		err = dsm__buf_put_u32(out, iv->creator) ?: dsm__buf_put_u32(out, iv->id) ?:
		      dsm__buf_put_u32(out, iv->npages);
		for (uint32_t k = 0; !err && k < 2 * iv->npages; k++)
			err = dsm__buf_put_u32(out, iv->pages[k]);
		if (err)
			return err;
	}
	return 0;
}

/* Size of the wire record at p (len bytes left), or 0 if malformed. */
static size_t record_size(const struct hlrc_state *st, const unsigned char *p,
			  size_t len, uint32_t *hdr)
{
	if (len < 12)
		return 0;
	hdr[0] = dsm__get_le32(p);
	hdr[1] = dsm__get_le32(p + 4);
	hdr[2] = dsm__get_le32(p + 8);
	if (hdr[0] >= (uint32_t)st->count || hdr[1] == 0 || hdr[2] > st->npages ||
	    (len - 12) / 8 < hdr[2])
		return 0;
	return 12 + 8 * (size_t)hdr[2];
}

/* One notice for page p (home hg: node and generation) from another
 * node: a copy here becomes invalid; our own unflushed changes to it are
 * queued for flushing. A newer home generation replaces the known home. */
static int notice(struct dsm_node *n, uint32_t p, uint32_t hg, uint32_t *inv,
		  uint32_t *ninv, uint32_t *fl, uint32_t *nfl)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	int err;

	if (HLRC_HG_HOME(hg) >= n->count)
		return DSM_EPROTO;
	hlrc_learn_home(hp, HLRC_HG_HOME(hg), HLRC_HG_GEN(hg));
	if (hp->home == st->me)
		return 0; /* the home already has every noticed change */
	if (pg->state == DSM_PAGE_INVALID) {
		hp->stale |= hp->fetching;
		if (hp->tape == HLRC_TAPE_HELD) /* tape hook: prefetched copy stale */
			hp->tape = 0;
		return 0;
	}
	if (pg->state == DSM_PAGE_DIRTY && hp->twinned && !hp->flushing) {
		hp->flushing = 1;
		fl[(*nfl)++] = p;
	}
	if ((err = dsm__hlrc_step(n, p, pg, EV_NOTICE)))
		return err;
	inv[(*ninv)++] = p;
	return 0;
}

/* Apply one wire record (already checked by record_size). */
static int learn_one(struct dsm_node *n, const unsigned char *p, const uint32_t *hdr,
		     uint32_t **inv, uint32_t *ninv, uint32_t **fl, uint32_t *nfl)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_interval *iv = calloc(1, sizeof(*iv));
	uint32_t *v;
	int err = 0;

	if (!iv || !(iv->pages = malloc(8 * (size_t)(hdr[2] ? hdr[2] : 1))))
		goto fail_nomem;
	if (!(v = realloc(*inv, (*ninv + hdr[2] + 1) * 4)))
		goto fail_nomem;
	*inv = v;
	if (!(v = realloc(*fl, (*nfl + hdr[2] + 1) * 4)))
		goto fail_nomem;
	*fl = v;
	iv->creator = hdr[0];
	iv->id = hdr[1];
	iv->npages = hdr[2];
	for (uint32_t k = 0; k < 2 * hdr[2]; k++)
		iv->pages[k] = dsm__get_le32(p + 12 + 4 * (size_t)k);
	for (uint32_t k = 0; k < hdr[2] && !err; k++)
		err = iv->pages[2 * k] >= st->npages ? DSM_EPROTO :
		      notice(n, iv->pages[2 * k], iv->pages[2 * k + 1], *inv, ninv, *fl, nfl);
	if (err || (err = iv_store(st, iv))) {
		iv_free(iv);
		return err;
	}
	st->vc[hdr[0]] = hdr[1];
	return 0;
fail_nomem:
	iv_free(iv);
	return -ENOMEM;
}

/*
 * Learn interval records (sorted by creator and id): records already
 * known and our own are skipped; one that would leave a gap is refused.
 * Copies the records name become invalid (one mprotect per run); our own
 * unflushed changes to them go to their homes first. Application thread.
 */
int dsm__hlrc_learn(struct dsm_node *n, const unsigned char *p, size_t len)
{
	struct hlrc_state *st = HS(n);
	uint32_t *inv = NULL, *fl = NULL, ninv = 0, nfl = 0, hdr[3];
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0, sz; !err && off < len; off += sz) {
		if (!(sz = record_size(st, p + off, len - off, hdr))) {
			err = DSM_EPROTO;
			break;
		}
		if (hdr[0] == (uint32_t)st->me || hdr[1] <= st->vc[hdr[0]])
			continue;
		if (hdr[1] != st->vc[hdr[0]] + 1) {
			DSM_ERR(n, "hlrc: interval %u of node %u cannot be placed: "
				"only %u known here", hdr[1], hdr[0], st->vc[hdr[0]]);
			err = DSM_EPROTO;
			break;
		}
		err = learn_one(n, p + off, hdr, &inv, &ninv, &fl, &nfl);
	}
	if (ninv)
		dsm__hlrc_protect_state(n, inv, ninv);
	DSM_STAT_ADD(n, invalidations_recv, ninv);
	pthread_mutex_unlock(&n->region->lock);
	if (nfl)
		err = dsm__hlrc_flush(n, fl, nfl) ?: err;
	free(inv);
	free(fl);
	return err;
}

/* --- locks --- */

static int put_vc(struct dsm_node *n, struct dsm_buf *out)
{
	struct hlrc_state *st = HS(n);
	uint32_t vc[DSM_MAX_NODES];
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	memcpy(vc, st->vc, sizeof(vc));
	pthread_mutex_unlock(&n->region->lock);
	for (int k = 0; k < st->count && !err; k++)
		err = dsm__buf_put_u32(out, vc[k]);
	return err;
}

/* Release: flush and close the interval; the manager keeps our timestamp. */
int dsm__hlrc_release(struct dsm_node *n, unsigned lock, int mode, struct dsm_buf *out)
{
	int err = dsm__hlrc_close_interval(n);

	(void)lock;
	(void)mode;
	return err ? err : put_vc(n, out);
}

/* Ask creator j for its records (after, upto]; w completes with them. */
static int ask_records(struct dsm_node *n, int j, uint32_t after, uint32_t upto,
		       struct dsm_waiter *w)
{
	struct dsm_msg m = { .type = DSM_MSG_HLRC_INTV_REQ };
	int err;

	dsm__waiter_add(n, w);
	m.arg[0] = after;
	m.arg[1] = upto;
	m.arg[2] = w->token;
	if ((err = dsm__send(n, j, &m)))
		dsm__waiter_complete(n, w->token, err, NULL);
	return err;
}

/*
 * Wait for creator j's answer to a request for (*after, upto]. The creator
 * drops records at a barrier once every node has left the barrier before,
 * and so knows them: if it answers that some are gone (-ENOENT), another
 * thread of this node learned them at that barrier after ours read our
 * timestamp. Then what we still lack is asked again from what we know now
 * (nothing, if that covers upto); only an answer that makes no progress
 * is an error.
 */
static int wait_records(struct dsm_node *n, int j, uint32_t *after, uint32_t upto,
			struct dsm_waiter *w)
{
	struct hlrc_state *st = HS(n);

	for (;;) {
		uint32_t have;
		int e = dsm__waiter_wait_for(n, w, j, "HLRC_INTV_REQ");
		if (!e && w->val[1])
			e = (int)(int64_t)w->val[1];
		if (e != -ENOENT)
			return e;
		free(w->data);
		w->data = NULL;
		w->len = 0;
		pthread_mutex_lock(&n->region->lock);
		have = st->vc[j];
		pthread_mutex_unlock(&n->region->lock);
		if (have >= upto)
			return 0;
		if (have <= *after)
			return e;
		*after = have;
		if ((e = ask_records(n, j, have, upto, w)))
			return e;
	}
}

/* Fetch the records we lack up to want[] from their creators, then learn
 * them as one batch (a set closed under happens-before). */
static int fetch_intervals(struct dsm_node *n, const uint32_t *want)
{
	struct hlrc_state *st = HS(n);
	struct dsm_waiter w[DSM_MAX_NODES];
	struct dsm_buf all = { 0 };
	uint32_t after[DSM_MAX_NODES];
	int asked[DSM_MAX_NODES] = { 0 }, err = 0;

	for (int j = 0; j < n->count && !err; j++) {
		pthread_mutex_lock(&n->region->lock);
		after[j] = st->vc[j];
		pthread_mutex_unlock(&n->region->lock);
		if (j == n->id || want[j] <= after[j])
			continue;
		asked[j] = 1;
		err = ask_records(n, j, after[j], want[j], &w[j]);
	}
	for (int j = 0; j < n->count; j++) {
		int e;
		if (!asked[j])
			continue;
		e = wait_records(n, j, &after[j], want[j], &w[j]);
		if (e && !err)
			DSM_ERR(n, "hlrc: node %d did not send its intervals up to %u: %s",
				j, want[j], dsm_strerror(e));
		if (!e && !err && w[j].len)
			e = dsm__buf_put(&all, w[j].data, w[j].len);
		free(w[j].data);
		err = err ? err : e;
	}
	if (!err)
		err = dsm__hlrc_learn(n, all.data, all.len);
	dsm__buf_free(&all);
	return err;
}

/* Acquire: learn every interval the lock's releasers knew and we don't.
 * No interval ends here: writes before and after an acquire may share one
 * record, since homes, not records, hold the data. */
int dsm__hlrc_acquire(struct dsm_node *n, unsigned lock, int mode, const void *p,
		      size_t len)
{
	uint32_t want[DSM_MAX_NODES];

	(void)lock;
	(void)mode;
	if (len == 0)
		return 0;
	if (len != (size_t)n->count * 4)
		return DSM_EPROTO;
	for (int k = 0; k < n->count; k++)
		want[k] = dsm__get_le32((const unsigned char *)p + 4 * k);
	return fetch_intervals(n, want);
}

/* Service thread: a peer asks for our records (after, upto]. The reply
 * always goes back; arg1 carries the error if they cannot be given. */
int dsm__hlrc_handle_intv(struct dsm_node *n, const struct dsm_msg *m)
{
	struct hlrc_state *st = HS(n);
	struct dsm_buf out = { 0 };
	int err;

	if (m->type == DSM_MSG_HLRC_INTV_REP)
		return dsm__waiter_complete_data(n, m->arg[2], 0, m->arg, m->payload,
						 m->length) ? DSM_EPROTO : 0;
	pthread_mutex_lock(&n->region->lock);
	err = m->arg[1] > st->vc[st->me] || m->arg[0] > m->arg[1]
		? DSM_EPROTO
		: put_records(st, (uint32_t)st->me, (uint32_t)m->arg[0],
			      (uint32_t)m->arg[1], &out);
	pthread_mutex_unlock(&n->region->lock);
	if (err) { /* -ENOENT: dropped at a barrier; the asker may know them */
		dsm__log(n, err == -ENOENT ? DSM_LOG_INFO : DSM_LOG_ERROR,
			 "hlrc: node %u asked for intervals %llu..%llu: %s", m->src,
			 (unsigned long long)m->arg[0] + 1, (unsigned long long)m->arg[1],
			 dsm_strerror(err));
		out.len = 0;
	}
	struct dsm_msg r = { .type = DSM_MSG_HLRC_INTV_REP,
			     .arg = { 0, (uint64_t)(int64_t)err, m->arg[2] },
			     .payload = out.data, .length = (uint32_t)out.len };
	err = dsm__send(n, (int)m->src, &r);
	dsm__buf_free(&out);
	return err;
}

/* --- barriers --- */

struct bar_state {
	uint32_t vcs[DSM_MAX_NODES][DSM_MAX_NODES]; /* each node's timestamp */
	struct dsm_buf recs;                       /* every node's new records */
};

/* Arrival: flush and close the interval; send our timestamp and our own
 * records not sent to a barrier yet (other threads may have closed some
 * since the last barrier: they are included, by id, not by time). */
int dsm__hlrc_barrier_enter(struct dsm_node *n, unsigned barrier, struct dsm_buf *out)
{
	struct hlrc_state *st = HS(n);
	int err = dsm__hlrc_close_interval(n);

	(void)barrier;
	if (err)
		return err;
	pthread_mutex_lock(&n->region->lock);
	for (int k = 0; k < n->count && !err; k++)
		err = dsm__buf_put_u32(out, st->vc[k]);
	if (!err)
		err = put_records(st, (uint32_t)st->me, st->sent_id, st->vc[st->me], out);
	if (!err)
		st->sent_id = st->vc[st->me];
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* Manager: fold one arrival in. */
int dsm__hlrc_barrier_collect(struct dsm_node *n, unsigned barrier, int node,
			      const void *p, size_t len, void **state)
{
	const unsigned char *b = p;
	struct bar_state *bs = *state;
	size_t head = (size_t)n->count * 4;

	(void)barrier;
	if (len < head)
		return DSM_EPROTO;
	if (!bs && !(bs = *state = calloc(1, sizeof(*bs))))
		return -ENOMEM;
	for (int k = 0; k < n->count; k++)
		bs->vcs[node][k] = dsm__get_le32(b + 4 * (size_t)k);
	return dsm__buf_put(&bs->recs, b + head, len - head);
}

/* Manager: node's release: the global timestamp and every record it lacks. */
int dsm__hlrc_barrier_release(struct dsm_node *n, unsigned barrier, int node,
			      void *state, struct dsm_buf *out)
{
	struct bar_state *bs = state;
	uint32_t hdr[3];
	int err = 0;

	(void)barrier;
	for (int k = 0; k < n->count && !err; k++) {
		uint32_t g = 0;
		for (int d = 0; d < n->count; d++)
			g = bs->vcs[d][k] > g ? bs->vcs[d][k] : g;
		err = dsm__buf_put_u32(out, g);
	}
	for (size_t off = 0, sz; !err && off < bs->recs.len; off += sz) {
		if (!(sz = record_size(HS(n), bs->recs.data + off, bs->recs.len - off, hdr)))
			return DSM_EPROTO;
		if (hdr[1] > bs->vcs[node][hdr[0]])
			err = dsm__buf_put(out, bs->recs.data + off, sz);
	}
	return err;
}

void dsm__hlrc_barrier_done(struct dsm_node *n, void *state)
{
	struct bar_state *bs = state;

	(void)n;
	if (bs)
		dsm__buf_free(&bs->recs);
	free(bs);
}

/*
 * Leave: learn what we lacked. The global timestamp may name intervals no
 * arrival carried: closed by another thread of their creator after it
 * arrived, and learned by some node through a lock before it arrived.
 * They happened before the barrier, so fetch them from their creators.
 * Then drop the records every node had learned by the previous barrier
 * (every node has left that one, so no lock acquirer can still ask).
 */
int dsm__hlrc_barrier_leave(struct dsm_node *n, unsigned barrier, const void *p,
			    size_t len)
{
	struct hlrc_state *st = HS(n);
	const unsigned char *b = p;
	size_t head = (size_t)n->count * 4;
	uint32_t g[DSM_MAX_NODES];
	int err, missing = 0;

	(void)barrier;
	if (len < head)
		return DSM_EPROTO;
	if ((err = dsm__hlrc_learn(n, b + head, len - head)))
		return err;
	pthread_mutex_lock(&n->region->lock);
	for (int k = 0; k < n->count; k++) {
		g[k] = dsm__get_le32(b + 4 * (size_t)k);
		missing |= k != st->me && st->vc[k] < g[k];
	}
	pthread_mutex_unlock(&n->region->lock);
	if (missing && (err = fetch_intervals(n, g)))
		return err;
	pthread_mutex_lock(&n->region->lock);
	iv_free_upto(st, st->gc_upto);
	memcpy(st->gc_upto, g, (size_t)n->count * sizeof(*g));
	pthread_mutex_unlock(&n->region->lock);
	return 0;
}
