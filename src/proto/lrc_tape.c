/*
 * lrc_tape.c — lrc's side of the tape hooks (src/tape/hooks.h,
 * docs/tapes.md): holes, and batched fetches of the diffs write notices
 * name. The record hooks are single calls in lrc.c, marked "tape hook".
 *
 * Under lrc every node keeps a copy of every page; a page is INVALID when
 * notices arrived whose diffs are not applied yet. Its hole is one event
 * per such notice: (interval, page, writer). A fetch asks each writer for
 * its diffs of every page in one LRC_DIFF_REQ (the first page in the
 * arguments, the others as {u32 page, u32 after | ONLY_WRITER, u32 upto}
 * entries, at most BATCH pages a message), exactly as a demand fault asks
 * for one page and its batched neighbours; the writer answers every page
 * in one LRC_DIFF_REP, and the service thread applies the diffs as it
 * does for a fault (apply_fetched, in happens-before order). So no new
 * message: only the page's tape flag (lrc_page.tape) tells apply_fetched
 * that the fetch was a prediction, not a miss:
 *
 *   INVALID --fetch--> INVALID+ASKED --all replies, no newer notice-->
 *      untracked: READ_SHARED (readable)
 *      tracked:   INVALID+HELD (copy complete, inaccessible) --first
 *                 access: local fault--> READ_SHARED, a used prediction
 *   a notice on a HELD page leaves it INVALID with a pending notice: its
 *   next fault drops HELD and fetches the newer diffs as usual.
 *
 * A page that garbage collection dropped is fetched whole from its
 * designated node (LRC_PAGE_REQ, one a page, as a fault does; the notices
 * after the collection are then fetched as diffs) under the same flag.
 * Pages in flight or held by a collection are not fetched: their faults
 * wait for them, as before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "internal.h"
#include "lrc.h"
#include "proto.h"
#include "tape/hooks.h"
#include "vm/wp.h"

#define BATCH 256u       /* pages per LRC_DIFF_REQ: 12 bytes an entry after the
			  * first, within its 4096-byte payload (net/msg.c) */
#define SLICE_NS 100000000ull /* a waiting fetch re-checks for job failure */

static int tape_init(struct dsm_node *n)
{
	(void)n;
	return 0;
}

/* Could page p be fetched now: 1 its missing diffs, 2 the whole page
 * (dropped at garbage collection), 0 no. Region lock held. */
static int fetchable(struct dsm_node *n, size_t p)
{
	struct lrc_page *lp = &LS(n)->pages[p];
	uint32_t lo[DSM_MAX_NODES], hi[DSM_MAX_NODES];

	if (dsm__lrc_pg(n, p)->state != DSM_PAGE_INVALID || lp->replies_left ||
	    lp->gc_hold)
		return 0;
	if (lp->whole)
		return 2;
	return lp->pending && dsm__lrc_collect(lp, lo, hi, 0);
}

static int tape_hole(struct dsm_node *n, const uint32_t *pages, size_t count,
		     struct dsm_tape *out)
{
	struct lrc_state *st = LS(n);
	int err = 0;

	if (n->count == 1)
		return 0;
	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < count && !err; i++) {
		struct lrc_page *lp;
		if (pages[i] >= n->region->npages ||
		    dsm__lrc_pg(n, pages[i])->state != DSM_PAGE_INVALID)
			continue;
		lp = &st->pages[pages[i]];
		if (lp->gc_hold)
			continue; /* a collection is dropping its notices */
		if (lp->whole) /* the whole page, then the later notices */
			err = dsm__tape_append(out, 0, pages[i], lp->whole_src);
		for (struct lrc_notice *q = lp->pending; q && !err; q = q->next)
			err = dsm__tape_append(out, q->iv->id, pages[i], q->iv->creator);
	}
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* Per writer: the request entries {page, after, upto} for it. */
struct plan {
	unsigned char *ent[DSM_MAX_NODES]; /* 12 bytes an entry */
	uint32_t k[DSM_MAX_NODES];
	uint32_t *sel;                     /* pages asked */
	size_t nsel;
	uint32_t *whole;                   /* of those, asked whole */
	size_t nwhole;
};

/* Mark page p's notices requested and add an entry for each of its
 * writers; returns the number of writers (replies to expect). */
static int plan_diffs(struct dsm_node *n, uint32_t p, struct plan *pl)
{
	uint32_t lo[DSM_MAX_NODES], hi[DSM_MAX_NODES];
	int writers = 0;

	dsm__lrc_collect(&LS(n)->pages[p], lo, hi, 1);
	for (int j = 0; j < n->count; j++)
		writers += hi[j] != 0;
	for (int j = 0; j < n->count; j++) {
		unsigned char *e;
		if (!hi[j])
			continue;
		e = pl->ent[j] + 12 * (size_t)pl->k[j]++;
		dsm__put_le32(e, p);
		dsm__put_le32(e + 4, lo[j] | (writers == 1 ? LRC_ONLY_WRITER : 0));
		dsm__put_le32(e + 8, hi[j]);
	}
	return writers;
}

/* Mark the fetchable pages asked and list what to ask: per writer its
 * diff entries, and the pages to fetch whole. Region lock held. */
static void plan_pages(struct dsm_node *n, const uint32_t *pages, size_t count,
		       int track, uint32_t slot, struct plan *pl)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t p = pages[i];
		struct lrc_page *lp = &LS(n)->pages[p < n->region->npages ? p : 0];
		int replies, how;
		if (p >= n->region->npages || !(how = fetchable(n, p)))
			continue;
		if (how == 2) {
			pl->whole[pl->nwhole++] = p;
			replies = 1; /* one LRC_PAGE_REP */
		} else {
			replies = plan_diffs(n, p, pl);
		}
		lp->replies_left = (uint16_t)(lp->replies_left + replies);
		lp->tape = track ? LRC_TAPE_ASKED_TRACK : LRC_TAPE_ASKED;
		if (track) /* the slot its first use will be counted for */
			dsm__tape_held(n, p, slot);
		pl->sel[pl->nsel++] = p;
	}
}

/* Send writer j its entries, BATCH pages a message. A request that
 * cannot be sent leaves pages waiting for replies that never come: the
 * job fails (as when a demand fault cannot send). */
static int send_plan(struct dsm_node *n, int j, const unsigned char *ent, uint32_t k)
{
	for (uint32_t s = 0; s < k; s += BATCH) {
		uint32_t c = k - s < BATCH ? k - s : BATCH;
		const unsigned char *e = ent + 12 * (size_t)s;
		struct dsm_msg m = { .type = DSM_MSG_LRC_DIFF_REQ,
				     .arg = { dsm__get_le32(e), dsm__get_le32(e + 4),
					      dsm__get_le32(e + 8) },
				     .payload = (void *)(e + 12), .length = 12 * (c - 1) };
		int err = dsm__send(n, j, &m);
		if (err) {
			dsm__fail(n, err, j, "lrc: node %d: cannot send a tape's diff "
				  "request to node %d: %s", n->id, j, dsm_strerror(err));
			return err;
		}
	}
	return 0;
}

/* Ask for the whole pages, one LRC_PAGE_REQ each (as a fault does). */
static int send_whole(struct dsm_node *n, const struct plan *pl)
{
	for (size_t i = 0; i < pl->nwhole; i++) {
		int src, err;
		pthread_mutex_lock(&n->region->lock);
		src = LS(n)->pages[pl->whole[i]].whole_src;
		pthread_mutex_unlock(&n->region->lock);
		struct dsm_msg m = { .type = DSM_MSG_LRC_PAGE_REQ, .arg = { pl->whole[i] } };
		if ((err = dsm__send(n, src, &m))) {
			dsm__fail(n, err, src, "lrc: node %d: cannot send a tape's page "
				  "request to node %d: %s", n->id, src, dsm_strerror(err));
			return err;
		}
	}
	return 0;
}

/* Wait until every page asked is answered (or the job fails, or the
 * reply deadline passes); count the pages installed. */
static int wait_plan(struct dsm_node *n, const struct plan *pl, int track)
{
	struct lrc_state *st = LS(n);
	uint64_t t0 = dsm__now_ns(), limit = dsm__reply_deadline_ns(n);
	int err = 0, got = 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < pl->nsel && !err; i++) {
		struct dsm_page *pg = &n->region->pages[pl->sel[i]];
		struct lrc_page *lp = &st->pages[pl->sel[i]];
		while (lp->replies_left && !(err = atomic_load(&n->failed))) {
			uint32_t seq = atomic_load(&pg->wait_seq);
			if (dsm__now_ns() - t0 > limit) {
				err = DSM_ETIMEDOUT;
				break;
			}
			pthread_mutex_unlock(&n->region->lock);
			dsm__page_wait(pg, seq, SLICE_NS);
			pthread_mutex_lock(&n->region->lock);
		}
		if (err)
			break;
		/* held, or already valid (untracked, or used in the meantime) */
		got += track ? lp->tape == LRC_TAPE_HELD || pg->state != DSM_PAGE_INVALID
			     : pg->state != DSM_PAGE_INVALID;
	}
	pthread_mutex_unlock(&n->region->lock);
	return err ? err : got;
}

static int tape_fetch(struct dsm_node *n, const uint32_t *pages, size_t count,
		      int track, uint32_t slot)
{
	struct plan pl = { 0 };
	int err = 0, writers = n->count;

	if (n->count == 1 || !count)
		return 0;
	pl.sel = malloc(count * sizeof(*pl.sel));
	pl.whole = malloc(count * sizeof(*pl.whole));
	for (int j = 0; j < writers && pl.sel; j++)
		if (!(pl.ent[j] = malloc(12 * count)))
			err = -ENOMEM;
	if (!pl.sel || !pl.whole)
		err = -ENOMEM;
	if (!err) {
		pthread_mutex_lock(&n->region->lock);
		plan_pages(n, pages, count, track, slot, &pl);
		pthread_mutex_unlock(&n->region->lock);
		for (int j = 0; j < writers && !err; j++)
			if (pl.k[j])
				err = send_plan(n, j, pl.ent[j], pl.k[j]);
		if (!err)
			err = send_whole(n, &pl);
		if (!err)
			err = wait_plan(n, &pl, track);
	}
	for (int j = 0; j < writers; j++)
		free(pl.ent[j]);
	free(pl.sel);
	free(pl.whole);
	return err;
}

int dsm__lrc_tape_applied(struct dsm_node *n, size_t p, struct dsm_page *pg,
			  uint32_t from, int err)
{
	struct lrc_page *lp = &LS(n)->pages[p];
	int track = lp->tape == LRC_TAPE_ASKED_TRACK, miss = lp->tape == LRC_TAPE_HELD;

	lp->tape = 0;
	if (miss) { /* a stale held page, fetched with a demand fault's batch */
		DSM_STAT_ADD(n, remote_fetches, 1);
		dsm__tape_note(n, DSM_TAPE_READ, (uint32_t)p, from,
			       dsm__lrc_cur_interval(LS(n)));
	}
	if (!err && !lp->pending) { /* no newer notice arrived meanwhile */
		if (track) {
			lp->tape = LRC_TAPE_HELD;
			lp->tape_from = (uint16_t)from;
		} else if (!(err = dsm__lrc_step(n, p, pg, LRC_EV_APPLY))) {
			err = dsm__proto_set_prot(n, p, pg);
		}
	}
	dsm__page_wake(pg);
	return err;
}

int dsm__lrc_tape_use(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	int err;

	lp->tape = 0;
	if (lp->pending || lp->whole || lp->gc_hold || lp->replies_left)
		return 0; /* a newer notice: the held copy is stale */
	if ((err = dsm__lrc_step(n, p, pg, LRC_EV_APPLY)) ||
	    (err = dsm__proto_set_prot(n, p, pg)))
		return err;
	dsm__tape_hit(n, (uint32_t)p, lp->tape_from, dsm__lrc_cur_interval(st));
	DSM_STAT_ADD(n, local_faults, 1);
	return DSM_FAULT_RETRY;
}

void dsm__lrc_tape_served(struct dsm_node *n, const struct dsm_msg *m)
{
	const unsigned char *x = m->payload;
	uint32_t iv = dsm__lrc_cur_interval(LS(n));

	dsm__tape_note(n, DSM_TAPE_REQUEST, (uint32_t)m->arg[0], m->src, iv);
	for (size_t off = 0; off + 12 <= m->length; off += 12)
		dsm__tape_note(n, DSM_TAPE_REQUEST, dsm__get_le32(x + off), m->src, iv);
}

void dsm__lrc_tape_closing(struct dsm_node *n)
{
	struct lrc_state *st = LS(n);

	for (uint32_t i = 0; n->region->wp && i < st->ndirty; i++)
		dsm__tape_note(n, DSM_TAPE_WRITE, st->dirty[i], (uint32_t)n->id,
			       dsm__lrc_cur_interval(st));
}

/*
 * A write recording starts or stops (a lock's critical section ends
 * before the release closes the interval): the kernel-tracked pages
 * written so far would only be learned at the close. Collect them now, as
 * the close does first (listed dirty: the close diffs them as usual; the
 * collect re-arms them, and a write racing it is reported by the next
 * one), and note them. Region lock held. Always 0: if the collect fails
 * the close collects them, and only the tape's events are lost (a hint).
 */
static int tape_sync(struct dsm_node *n)
{
	struct lrc_state *st = LS(n);
	struct dsm_wp *wp = n->region->wp;
	uint32_t lo = UINT32_MAX, hi = 0, buf[256];

	if (!wp)
		return 0;
	for (uint32_t i = 0; i < st->ntracked; i++) {
		uint32_t p = st->tracked[i];
		if (!st->pages[p].tracked || st->pages[p].dirty)
			continue;
		lo = p < lo ? p : lo;
		hi = p > hi ? p : hi;
	}
	for (size_t at = lo, next; lo <= hi && at <= hi; at = next) {
		ssize_t got = dsm__wp_collect(wp, at, hi + 1 - at, buf, 256, &next);
		if (got < 0)
			return 0; /* the close collects them: only the events are lost */
		for (ssize_t i = 0; i < got; i++) {
			if (!st->pages[buf[i]].tracked)
				continue;
			dsm__lrc_list_dirty(st, buf[i]);
			dsm__tape_note(n, DSM_TAPE_WRITE, buf[i], (uint32_t)n->id,
				       dsm__lrc_cur_interval(st));
		}
	}
	return 0;
}

/* lrc has no tape messages of its own: its fetches are diff requests. */
static int tape_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	dsm__reject(n, "%s: lrc fetches tapes with diff requests",
		    dsm__msg_type_name(m->type));
	return DSM_EPROTO;
}

/* --- producer-consumer pushes (src/tape/push.c) --- */

static void tape_known(struct dsm_node *n, uint32_t *vc)
{
	memcpy(vc, LS(n)->vc, (size_t)n->count * sizeof(*vc));
}

/* A valid copy here has every diff of every interval known here. */
static int push_copy(struct dsm_node *n, uint32_t p, int to, unsigned char *buf)
{
	(void)to;
	if (p >= n->region->npages || dsm__lrc_pg(n, p)->state == DSM_PAGE_INVALID ||
	    LS(n)->pages[p].whole || LS(n)->pages[p].gc_hold)
		return 0;
	memcpy(buf, dsm__page_rt(n->region, p), n->page_size);
	dsm__gc_page_out(n, buf, n->page_size);
	return 1;
}

/* Install a pushed copy as HELD if it is current here (hooks.h): every
 * pending notice is then covered by the copy and dropped, as if its diff
 * had been applied. Not over our own writes the pusher did not know
 * (wrote_iv), a fetch in flight, or a page a collection handles. */
static int push_take(struct dsm_node *n, uint32_t p, int from, const uint32_t *vc,
		     const unsigned char *data, uint32_t slot)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp;

	if (p >= n->region->npages)
		return DSM_PUSH_DROP;
	lp = &st->pages[p];
	if (dsm__lrc_pg(n, p)->state != DSM_PAGE_INVALID || lp->twin || lp->dirty ||
	    lp->wrote_iv > vc[st->me] || lp->replies_left || lp->gc_hold || lp->whole ||
	    (lp->tape && lp->tape != LRC_TAPE_HELD) || (lp->tape && !lp->pending))
		return DSM_PUSH_DROP;
	for (struct lrc_notice *q = lp->pending; q; q = q->next)
		if (q->requested)
			return DSM_PUSH_DROP;
	if (dsm__lrc_wrote_after(n, p, vc))
		return DSM_PUSH_DROP;
	memcpy(dsm__page_rt(n->region, p), data, n->page_size);
	for (struct lrc_notice *q = lp->pending, *nx; q; q = nx) {
		nx = q->next;
		st->mem -= sizeof(*q) + q->dlen;
		free(q->diffs);
		free(q);
	}
	lp->pending = NULL;
	lp->tape = LRC_TAPE_HELD;
	lp->tape_from = (uint16_t)from;
	dsm__tape_held(n, p, slot);
	return DSM_PUSH_TAKEN;
}

const struct dsm_tape_proto dsm__tape_proto_lrc = {
	.protocol = "lrc",
	.hole = tape_hole,
	.fetch = tape_fetch,
	.handle = tape_handle,
	.init = tape_init,
	.sync = tape_sync, /* kernel-tracked writes */
	.known = tape_known,
	.wrote_after = dsm__lrc_wrote_after,
	.push_copy = push_copy,
	.push_take = push_take,
};
