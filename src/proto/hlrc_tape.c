/*
 * hlrc_tape.c — hlrc's side of the tape hooks (src/tape/hooks.h,
 * docs/tapes.md): holes, and batched fetches of whole pages from their
 * homes. The record hooks themselves are single calls in hlrc.c and
 * hlrc_iv.c, marked "tape hook".
 *
 * A hole is a page that is INVALID here: its update is the home's whole
 * copy. A fetch marks the pages it asks for `fetching` (so a fault on one
 * waits for the answer instead of asking again, and a notice meanwhile
 * makes the answer stale, exactly as for a demand fetch) and sends each
 * home one TAPE_REQ per 1024 pages. The home answers every page in one
 * TAPE_REP: its copy (made shared, as for a demand fetch), where the home
 * moved, or a refusal. A tracked fetch installs copies as HELD: still
 * INVALID, so the first access faults locally, validates the copy and
 * counts the prediction as used.
 *
 * TAPE_REQ: arg0 token, arg1 slot | track << 31; payload u32 pages.
 * TAPE_REP: arg0 token, arg1 as asked, arg2 entries; payload per entry
 *   u32 page, u32 what (0 copy follows, 1 moved, 2 refused),
 *   u32 home | gen << 16 (what 1), then the page's bytes (what 0).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "hetero/hooks.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"
#include "tape/hooks.h"

#define BATCH 1024u /* pages per TAPE_REQ */
enum { WHAT_COPY = 0, WHAT_MOVED = 1, WHAT_REFUSED = 2 };

static int tape_init(struct dsm_node *n)
{
	(void)n;
	return 0; /* TAPE_REQ/REP are in core/dispatch.c's request table */
}

/* Can page p be fetched from its home now? Region lock held. */
static int fetchable(struct dsm_node *n, size_t p)
{
	struct hlrc_state *st = HS(n);
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	struct hlrc_page *hp = &st->pages[p];

	return pg->state == DSM_PAGE_INVALID && !hp->tape && !hp->fetching &&
	       !hp->flushing && hp->home >= 0 && hp->home != st->me;
}

static int tape_hole(struct dsm_node *n, const uint32_t *pages, size_t count,
		     struct dsm_tape *out)
{
	struct hlrc_state *st = HS(n);
	int err = 0;

	if (n->count == 1)
		return 0;
	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < count && !err; i++) {
		struct dsm_page *pg;
		if (pages[i] >= st->npages)
			continue;
		pg = dsm__hlrc_pg(n, pages[i]);
		if (pg->state == DSM_PAGE_INVALID && st->pages[pages[i]].tape != HLRC_TAPE_HELD &&
		    st->pages[pages[i]].home >= 0)
			err = dsm__tape_append(out, 0, pages[i],
					       (uint32_t)st->pages[pages[i]].home);
	}
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* One request on its way: pages[0..k) to home. */
struct req {
	int home;
	uint32_t *pages;
	uint32_t k;
	struct dsm_waiter w;
	int sent;
};

/* After the answer (or a failure): the pages of r that the answer did not
 * name (w.data: the u32 pages it named, in order) are still marked asked
 * by us, and only by us (nobody marks a page already marked); make them
 * fetchable on demand again. Pages it named may be marked by another
 * thread's fetch by now: not touched. */
static void release_unanswered(struct dsm_node *n, const struct req *r)
{
	struct hlrc_state *st = HS(n);
	const uint32_t *ans = r->w.data;
	size_t nans = r->w.err ? 0 : r->w.len / 4, j = 0;

	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < r->k; i++) {
		struct hlrc_page *hp = &st->pages[r->pages[i]];
		size_t s = j;
		while (s < nans && ans[s] != r->pages[i])
			s++;
		if (s < nans) { /* answered */
			j = s + 1;
			continue;
		}
		if (hp->tape == HLRC_TAPE_ASKED && hp->fetching) {
			hp->tape = 0;
			hp->fetching = 0;
			hp->stale = 0;
			dsm__page_wake(&n->region->pages[r->pages[i]]);
		}
	}
	pthread_mutex_unlock(&n->region->lock);
}

/* Select the fetchable pages (marking them asked), grouped by home, in
 * requests of BATCH; sel has room for count pages. Returns the number of
 * requests in *out (malloc'd) or an error (nothing marked then). */
static int plan(struct dsm_node *n, const uint32_t *pages, size_t count,
		uint32_t *sel, struct req **out, size_t *nreq)
{
	struct hlrc_state *st = HS(n);
	size_t k = 0, off = 0, nr = 0;
	int16_t *home = malloc(count * sizeof(*home));
	uint32_t *grouped = malloc(count * sizeof(*grouped));
	struct req *rq = calloc(count + (size_t)n->count, sizeof(*rq));

	if (!home || !grouped || !rq) {
		free(home);
		free(grouped);
		free(rq);
		return -ENOMEM;
	}
	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < count; i++) {
		struct hlrc_page *hp;
		if (pages[i] >= st->npages || !fetchable(n, pages[i]))
			continue;
		hp = &st->pages[pages[i]];
		hp->fetching = 1;
		hp->stale = 0;
		hp->asked = hp->home;
		hp->tape = HLRC_TAPE_ASKED;
		home[k] = hp->home;
		sel[k++] = pages[i];
	}
	pthread_mutex_unlock(&n->region->lock);
	for (int h = 0; h < n->count; h++) { /* group by home, sorted within */
		size_t start = off;
		for (size_t i = 0; i < k; i++)
			if (home[i] == h)
				grouped[off++] = sel[i];
		for (size_t s = start; s < off; s += BATCH) {
			rq[nr].home = h;
			rq[nr].pages = sel + s;
			rq[nr].k = (uint32_t)(off - s < BATCH ? off - s : BATCH);
			nr++;
		}
	}
	memcpy(sel, grouped, k * sizeof(*sel));
	free(grouped);
	free(home);
	*out = rq;
	*nreq = nr;
	return 0;
}

static int tape_fetch(struct dsm_node *n, const uint32_t *pages, size_t count,
		      int track, uint32_t slot)
{
	uint32_t *sel;
	struct req *rq = NULL;
	size_t nreq = 0;
	int err = 0, got = 0;

	if (n->count == 1 || !count)
		return 0;
	if (!(sel = malloc(count * sizeof(*sel))))
		return -ENOMEM;
	if ((err = plan(n, pages, count, sel, &rq, &nreq)) < 0) {
		free(sel);
		return err;
	}
	for (size_t i = 0; i < nreq; i++) {
		unsigned char buf[BATCH * 4];
		for (uint32_t j = 0; j < rq[i].k; j++)
			dsm__put_le32(buf + 4 * j, rq[i].pages[j]);
		dsm__waiter_add(n, &rq[i].w);
		rq[i].sent = 1;
		struct dsm_msg m = { .type = DSM_MSG_TAPE_REQ,
				     .arg = { rq[i].w.token,
					      (slot & 0x7fffffffu) | (uint64_t)!!track << 31 },
				     .payload = buf, .length = 4 * rq[i].k };
		int e = dsm__send(n, rq[i].home, &m);
		if (e)
			dsm__waiter_complete(n, rq[i].w.token, e, NULL);
	}
	for (size_t i = 0; i < nreq; i++) {
		int e = dsm__waiter_wait_for(n, &rq[i].w, rq[i].home, "TAPE_REQ");
		if (!e)
			got += (int)rq[i].w.val[2];
		else if (!err)
			err = e;
		rq[i].w.err = e;
		release_unanswered(n, &rq[i]);
		free(rq[i].w.data);
	}
	free(rq);
	free(sel);
	return err ? err : got;
}

/* Home: answer every page asked. */
static int on_req(struct dsm_node *n, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	uint32_t k = m->length / 4;
	size_t ps = n->page_size, len = 0;
	unsigned char *out;
	int err = 0;

	if (m->length % 4 || k > BATCH) {
		dsm__reject(n, "TAPE_REQ of %u bytes: not a list of at most %u pages",
			    m->length, BATCH);
		return DSM_EPROTO;
	}
	for (uint32_t i = 0; i < k; i++)
		if (dsm__get_le32(d + 4 * i) >= n->region->npages) {
			dsm__reject(n, "TAPE_REQ names page %u, past the region",
				    dsm__get_le32(d + 4 * i));
			return DSM_EPROTO;
		}
	if (!(out = malloc((size_t)k * (12 + ps) + 1)))
		return -ENOMEM;
	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < k && !err; i++) {
		uint32_t p = dsm__get_le32(d + 4 * i), hg = 0;
		int rc = dsm__hlrc_serve_copy(n, (int)m->src, p, out + len + 12, &hg);
		dsm__put_le32(out + len, p);
		dsm__put_le32(out + len + 4, rc == 0 ? WHAT_COPY : rc == 1 ? WHAT_MOVED : WHAT_REFUSED);
		dsm__put_le32(out + len + 8, hg);
		len += 12 + (rc == 0 ? ps : 0);
		if (rc == 0)
			DSM_STAT_ADD(n, pages_sent, 1);
		if (rc < 0 && rc != DSM_EPROTO)
			err = rc;
	}
	pthread_mutex_unlock(&n->region->lock);
	if (!err) {
		struct dsm_msg r = { .type = DSM_MSG_TAPE_REP,
				     .arg = { m->arg[0], m->arg[1], k },
				     .payload = out, .length = (uint32_t)len };
		err = dsm__send(n, (int)m->src, &r);
	}
	free(out);
	return err;
}

/* Check one answer entry at d (left bytes): its size, or 0 if malformed. */
static size_t entry_size(struct dsm_node *n, const unsigned char *d, size_t left)
{
	uint32_t what;

	if (left < 12 || dsm__get_le32(d) >= n->region->npages)
		return 0;
	what = dsm__get_le32(d + 4);
	if (what == WHAT_COPY)
		return left - 12 >= n->page_size ? 12 + n->page_size : 0;
	if (what == WHAT_MOVED)
		return HLRC_HG_HOME(dsm__get_le32(d + 8)) < n->count ? 12 : 0;
	return what == WHAT_REFUSED ? 12 : 0;
}

/* Install one answered page; region lock held. 1 if installed. */
static int take_entry(struct dsm_node *n, int src, const unsigned char *d,
		      int track, uint32_t slot, int *err)
{
	struct hlrc_state *st = HS(n);
	uint32_t p = dsm__get_le32(d), what = dsm__get_le32(d + 4), hg = dsm__get_le32(d + 8);
	struct hlrc_page *hp = &st->pages[p];
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	int installed = 0;

	if (hp->tape != HLRC_TAPE_ASKED || !hp->fetching || hp->asked != src ||
	    pg->state != DSM_PAGE_INVALID) {
		*err = DSM_EPROTO; /* not a page we asked this node for */
		return 0;
	}
	hp->tape = 0;
	if (what == WHAT_COPY && !hp->stale) {
		memcpy(dsm__page_rt(n->region, p), d + 12, n->page_size);
		if ((*err = dsm__hetero_page_in(n, src, p, dsm__page_rt(n->region, p))))
			return 0;
		installed = 1;
		if (track) {
			hp->tape = HLRC_TAPE_HELD;
			dsm__tape_held(n, p, slot);
		} else {
			*err = dsm__hlrc_fetched(n, p);
		}
	} else if (what == WHAT_MOVED) {
		hlrc_learn_home(hp, HLRC_HG_HOME(hg), HLRC_HG_GEN(hg));
	}
	hp->fetching = 0;
	hp->stale = 0;
	dsm__page_wake(pg);
	return installed;
}

/* Requester: the home's answers; the waiting thread gets the count. */
static int on_rep(struct dsm_node *n, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	int track = (int)(m->arg[1] >> 31 & 1), err = 0;
	uint32_t slot = (uint32_t)(m->arg[1] & 0x7fffffffu);
	uint64_t v[3] = { m->arg[0], m->arg[1], 0 };
	uint32_t *named;
	size_t off = 0, sz, k = 0;

	for (off = 0; off < m->length; off += sz, k++)
		if (!(sz = entry_size(n, d + off, m->length - off)))
			break;
	if (off != m->length) {
		dsm__reject(n, "TAPE_REP from node %u: malformed entry at byte %zu",
			    m->src, off);
		err = DSM_EPROTO;
	}
	if (!(named = malloc((k ? k : 1) * sizeof(*named))))
		err = err ? err : -ENOMEM;
	k = 0;
	pthread_mutex_lock(&n->region->lock);
	for (off = 0; !err && off < m->length; off += entry_size(n, d + off, m->length - off)) {
		v[2] += (uint64_t)take_entry(n, (int)m->src, d + off, track, slot, &err);
		if (!err)
			named[k++] = dsm__get_le32(d + off);
	}
	pthread_mutex_unlock(&n->region->lock);
	if (err == DSM_EPROTO)
		dsm__reject(n, "TAPE_REP from node %u answers a page not asked of it",
			    m->src);
	/* the waiting thread learns which pages were answered (named) */
	if (dsm__waiter_complete_data(n, m->arg[0], err, v, named, 4 * k) && !err)
		err = DSM_EPROTO;
	free(named);
	return err;
}

static int tape_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	switch (m->type) {
	case DSM_MSG_TAPE_REQ:
		return on_req(n, m);
	case DSM_MSG_TAPE_REP:
		return on_rep(n, m);
	default:
		return DSM_EPROTO;
	}
}

/* --- producer-consumer pushes (src/tape/push.c) --- */

static void tape_known(struct dsm_node *n, uint32_t *vc)
{
	memcpy(vc, HS(n)->vc, (size_t)n->count * sizeof(*vc));
}

/* Only the home pushes: its copy has every flushed diff, and serving it
 * (as for a fetch) marks the page shared, so the home's next write to it
 * is tracked and noticed. A non-home copy pushed behind the home's back
 * could miss the home's untracked writes. */
static int push_copy(struct dsm_node *n, uint32_t p, int to, unsigned char *buf)
{
	struct hlrc_state *st = HS(n);
	uint32_t hg;
	int rc;

	if (p >= st->npages || st->pages[p].home != st->me)
		return 0;
	rc = dsm__hlrc_serve_copy(n, to, p, buf, &hg);
	if (rc == 0)
		return 1;
	return rc < 0 && rc != DSM_EPROTO ? rc : 0;
}

/* Install a pushed copy as HELD (as a tracked tape fetch would) if it
 * is current here: see hooks.h. Our own unflushed or unnoticed writes
 * (dirty, twinned, flushing) and pages this node is home of are never
 * overwritten; a page with a fetch in flight gets its data from it. */
static int push_take(struct dsm_node *n, uint32_t p, int from, const uint32_t *vc,
		     const unsigned char *data, uint32_t slot)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp;

	(void)from;
	if (p >= st->npages)
		return DSM_PUSH_DROP;
	hp = &st->pages[p];
	if (hp->home == st->me || hp->home < 0 || hp->dirty || hp->twinned ||
	    hp->flushing || hp->fetching || hp->tape ||
	    dsm__hlrc_pg(n, p)->state != DSM_PAGE_INVALID ||
	    dsm__hlrc_wrote_after(n, p, vc))
		return DSM_PUSH_DROP;
	memcpy(dsm__page_rt(n->region, p), data, n->page_size);
	hp->tape = HLRC_TAPE_HELD;
	dsm__tape_held(n, p, slot);
	return DSM_PUSH_TAKEN;
}

const struct dsm_tape_proto dsm__tape_proto_hlrc = {
	.protocol = "hlrc",
	.hole = tape_hole,
	.fetch = tape_fetch,
	.handle = tape_handle,
	.init = tape_init,
	.sync = dsm__hlrc_wp_collect, /* kernel-recorded home writes */
	.known = tape_known,
	.push_copy = push_copy,
	.push_take = push_take,
};
