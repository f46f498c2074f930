/*
 * lrc.c — lazy release consistency (TreadMarks/CVM): multiple writers with
 * twins and diffs; the fault path and the page service. Intervals, vector
 * timestamps, locks, barriers and garbage collection are in lrc_iv.c.
 * docs/protocols/lrc.md has the state machine and the message flows.
 *
 * Every node keeps a copy of every page; a copy is INVALID when write
 * notices for it have arrived whose diffs are not applied yet (its bytes
 * are otherwise kept: our own changes stay, the others' diffs are applied
 * on top, byte-exact, in happens-before order), or when garbage collection
 * dropped its notices: then it is fetched whole (LRC_PAGE_REQ) from the
 * node the collection designated, before any later notice's diffs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "hetero/hooks.h"
#include "internal.h"
#include "lrc.h"
#include "proto.h"
#include "tape/hooks.h"
#include "vm/diff.h"
#define set_prot dsm__proto_set_prot

/* --- the page state machine (docs/protocols/lrc.md) --- */

static const char *const event_names[LRC_EV_COUNT_] = {
#define XX(name) #name,
	LRC_EVENT_MAP(XX)
#undef XX
};

#define I DSM_PAGE_INVALID
#define R DSM_PAGE_READ_SHARED
#define D DSM_PAGE_DIRTY
static const signed char next_state[LRC_EV_COUNT_][DSM_PAGE_STATE_COUNT_] = {
	/*                   INVALID READ_SHARED WRITE_EXCL DIRTY */
	[LRC_EV_TWIN]   = { -1,     D,          -1,        -1 },
	[LRC_EV_CLOSE]  = { -1,     -1,         -1,        R },
	[LRC_EV_NOTICE] = { I,      I,          -1,        I },
	[LRC_EV_APPLY]  = { R,      -1,         -1,        -1 },
	[LRC_EV_KEEP]   = { -1,     -1,         -1,        D },
};
#undef I
#undef R
#undef D

const struct dsm_page_machine dsm__lrc_machine = {
	.proto = "lrc",
	.nevents = LRC_EV_COUNT_,
	.event_names = event_names,
	.next = next_state,
};

int dsm__lrc_step(struct dsm_node *n, size_t p, struct dsm_page *pg, enum lrc_event ev)
{
	return dsm__page_step(n, &dsm__lrc_machine, p, pg, ev);
}

/* Page entry, initialised on first use: a valid read-only copy (every
 * node starts with the same zero pages). Caller holds the lock. */
struct dsm_page *dsm__lrc_pg(struct dsm_node *n, size_t p)
{
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];

	if (pg->flags & DSM_PGF_INIT)
		return pg;
	pg->flags = DSM_PGF_INIT;
	pg->state = DSM_PAGE_READ_SHARED;
	if (r->map_resets == 0)
		pg->prot = PROT_READ;
	return pg;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Protect a list of pages (sorted here) with one mprotect per run. */
void dsm__lrc_protect_list(struct dsm_node *n, uint32_t *pages, uint32_t count,
			   int prot)
{
	if (!count)
		return;
	qsort(pages, count, sizeof(*pages), cmp_u32);
	for (uint32_t i = 0; i < count;) {
		uint32_t j = i + 1;
		while (j < count && pages[j] == pages[j - 1] + 1)
			j++;
		dsm__vm_protect(n->region, pages[i], j - i, prot);
		i = j;
	}
}

/* Encode page p's changes since its twin into one of our own diffs, for
 * the twin's interval; cur is the page's contents (the page itself, or a
 * snapshot of it). The twin stays. */
int dsm__lrc_diff_against(struct dsm_node *n, size_t p, const unsigned char *cur)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	size_t max = dsm__diff_max_size(n->page_size);
	struct lrc_own_diff *d;
	ssize_t len;

	d = dsm__lrc_arena_reserve(st, sizeof(*d) + max);
	if (!d)
		return -ENOMEM;
	dsm__gc_page_out(n, cur, n->page_size);
	len = dsm__diff_encode(lp->twin, cur, n->page_size, d->data, max);
	if (len > 0) /* a mixed job: runs widened to whole fields */
		len = dsm__hetero_diff_out(n, p, cur, d->data, (size_t)len, max);
	if (len < 0)
		return (int)len;
	d->interval = lp->twin_iv;
	d->len = (uint32_t)len;
	d->next = lp->diffs;
	lp->diffs = d;
	dsm__lrc_arena_commit(st, sizeof(*d) + (size_t)len);
	DSM_STAT_ADD(n, diffs_created, 1);
	return 0;
}

/* Turn the twin into one of our own diffs. The page must not be writable
 * by the application (protection revoked first), so no store can slip in
 * between the comparison and the twin's release. */
int dsm__lrc_flush_twin(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	int err;

	if (!lp->twin)
		return 0;
	if ((err = dsm__lrc_diff_against(n, p, dsm__page_rt(n->region, p))))
		return err;
	dsm__lrc_twin_free(st, lp->twin, n->page_size);
	lp->twin = NULL;
	return 0;
}

/* Mark page p's unrequested notices requested; per writer j the range of
 * their intervals is (lo[j], hi[j]] (hi[j] == 0: none). Returns 0 if some
 * notice was already requested (then nothing is marked and all == 0). */
int dsm__lrc_collect(struct lrc_page *lp, uint32_t *lo, uint32_t *hi, int mark)
{
	memset(hi, 0, DSM_MAX_NODES * sizeof(*hi));
	for (struct lrc_notice *q = lp->pending; q; q = q->next) {
		uint32_t j = q->iv->creator, id = q->iv->id;
		if (q->requested) {
			if (!mark)
				return 0;
			continue;
		}
		if (!hi[j] || id - 1 < lo[j])
			lo[j] = id - 1;
		if (id > hi[j])
			hi[j] = id;
	}
	for (struct lrc_notice *q = lp->pending; q && mark; q = q->next)
		q->requested = 1;
	return 1;
}

/* Slot of writer j in the batch, or -1 (not asked for page p, or beyond
 * the first LRC_BATCH_CREATORS writers asked). */
static int slot_of(const uint32_t *hi_p, int j)
{
	int s = 0;

	if (!hi_p[j])
		return -1;
	for (int k = 0; k < j; k++)
		s += hi_p[k] != 0;
	return s < LRC_BATCH_CREATORS ? s : -1;
}

/* Add recently used invalid page q to the requests going to p's writers,
 * if every writer q needs is among them and has room. */
static void batch_page(struct dsm_node *n, size_t q, const uint32_t *hi_p,
		       struct lrc_batch *b)
{
	struct lrc_page *lq = &LS(n)->pages[q];
	uint32_t lo[DSM_MAX_NODES], hi[DSM_MAX_NODES];

	if (lq->replies_left || !lq->pending || lq->whole || lq->gc_hold ||
	    n->region->pages[q].state != DSM_PAGE_INVALID || !dsm__lrc_collect(lq, lo, hi, 0))
		return;
	for (int j = 0; j < n->count; j++) {
		int s = hi[j] ? slot_of(hi_p, j) : 0;
		if (hi[j] && (s < 0 || b->cnt[s] >= LRC_BATCH_PAGES))
			return;
	}
	dsm__lrc_collect(lq, lo, hi, 1);
	int writers = 0;
	for (int j = 0; j < n->count; j++)
		writers += hi[j] != 0;
	for (int j = 0; j < n->count; j++) {
		int s;
		if (!hi[j])
			continue;
		s = slot_of(hi_p, j);
		dsm__put_le32(b->t[s] + 12 * b->cnt[s], (uint32_t)q);
		dsm__put_le32(b->t[s] + 12 * b->cnt[s] + 4,
			 lo[j] | (writers == 1 ? LRC_ONLY_WRITER : 0));
		dsm__put_le32(b->t[s] + 12 * b->cnt[s] + 8, hi[j]);
		b->cnt[s]++;
		lq->replies_left++;
	}
}

/*
 * Ask every writer named in p's unrequested notices for its diffs, one
 * request per writer covering its interval range. With a batch, each
 * request also carries other recently fetched pages that need diffs from
 * the same writers, so a burst of faults costs one round trip. Caller holds
 * the lock.
 */
int dsm__lrc_fetch_start(struct dsm_node *n, size_t p, struct dsm_outbox *ob,
			 struct lrc_batch *b)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	uint32_t lo[DSM_MAX_NODES], hi[DSM_MAX_NODES];
	int sent = 0;

	dsm__lrc_collect(lp, lo, hi, 1);
	int writers = 0;
	for (int j = 0; j < n->count; j++)
		writers += hi[j] != 0;
	if (b) {
		memset(b->cnt, 0, sizeof(b->cnt));
		for (uint32_t i = 0; i < LRC_RECENT; i++)
			if (st->recent[i] != p && st->recent[i] < n->region->npages)
				batch_page(n, st->recent[i], hi, b);
	}
	for (int j = 0; j < n->count; j++) {
		struct dsm_msg *m;
		int s = b ? slot_of(hi, j) : -1;
		if (!hi[j])
			continue;
		m = dsm__outbox_add(ob, j, DSM_MSG_LRC_DIFF_REQ, p,
				    lo[j] | (writers == 1 ? LRC_ONLY_WRITER : 0), hi[j]);
		if (m && s >= 0 && b->cnt[s]) {
			m->payload = b->t[s];
			m->length = 12 * b->cnt[s];
		}
		sent++;
	}
	lp->replies_left = (uint16_t)(lp->replies_left + sent);
	return sent;
}

/* Bring invalid page p up to date: a page dropped at garbage collection
 * is first fetched whole (its notices after that collection are fetched
 * as diffs when the page arrives); otherwise the diffs. Caller holds the
 * lock; nothing may be in flight for p. */
int dsm__lrc_fetch(struct dsm_node *n, size_t p, struct dsm_outbox *ob,
		   struct lrc_batch *b)
{
	struct lrc_page *lp = &LS(n)->pages[p];

	if (!lp->whole)
		return dsm__lrc_fetch_start(n, p, ob, b);
	if (!dsm__outbox_add(ob, lp->whole_src, DSM_MSG_LRC_PAGE_REQ, p, 0, 0))
		return 0;
	lp->replies_left = 1;
	return 1;
}

/* Twin page p for its first write in the open interval and list it
 * dirty; a twin left from an earlier interval becomes that interval's
 * diff first. Caller holds the lock; the page is READ_SHARED (so not
 * writable). */
static int make_twin(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	int err;

	uint32_t open = st->vc[st->me] + 1;
	int again = lp->wrote_iv && lp->wrote_iv + LRC_WP_IDLE >= open;

	if (lp->twin && (err = dsm__lrc_flush_twin(n, p)))
		return err;
	if (!(lp->twin = dsm__lrc_twin_alloc(st, n->page_size)))
		return -ENOMEM;
	memcpy(lp->twin, dsm__page_rt(n->region, p), n->page_size);
	lp->twin_iv = lp->wrote_iv = open;
	dsm__lrc_list_dirty(st, p);
	DSM_STAT_ADD(n, twins, 1);
	if (again) /* written recently too: the kernel takes over */
		dsm__lrc_wp_track(n, p);
	return 0;
}

void dsm__lrc_list_dirty(struct lrc_state *st, size_t p)
{
	if (!st->pages[p].dirty) {
		st->pages[p].dirty = 1;
		st->dirty[st->ndirty++] = (uint32_t)p;
	}
}

/* First write to a valid page in this interval: twin it (not in a
 * one-node job: nobody to be consistent with), make it writable. An
 * illegal state changes nothing: the checked transition says so. */
static int twin_page(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	int err;

	if (n->count > 1 && pg->state == DSM_PAGE_READ_SHARED &&
	    (err = make_twin(n, p)))
		return err;
	if ((err = dsm__lrc_step(n, p, pg, LRC_EV_TWIN)))
		return err;
	dsm__tape_note(n, DSM_TAPE_WRITE, (uint32_t)p, (uint32_t)n->id, /* tape hook */
		       dsm__lrc_cur_interval(LS(n)));
	DSM_STAT_ADD(n, local_faults, 1);
	return set_prot(n, p, pg);
}

static int allows(const struct dsm_page *pg, int want_write)
{
	if (want_write == 1)
		return pg->state == DSM_PAGE_DIRTY;
	return pg->state != DSM_PAGE_INVALID;
}

static int lrc_ready(struct dsm_node *n, size_t p, int want_write, int *err)
{
	struct dsm_page *pg = dsm__lrc_pg(n, p);

	if (!allows(pg, want_write))
		return 0;
	*err = set_prot(n, p, pg);
	return 1;
}

/* A write to a valid page twins it locally; an invalid page asks its
 * writers for the missing diffs (batching other pages in use: arg). */
static int lrc_advance(struct dsm_node *n, size_t p, int want_write,
		       struct dsm_outbox *ob, void *arg)
{
	struct dsm_page *pg = dsm__lrc_pg(n, p);
	int err;

	if (pg->state != DSM_PAGE_INVALID)
		return (err = twin_page(n, p, pg)) ? err : DSM_FAULT_RETRY;
	if (LS(n)->pages[p].tape == LRC_TAPE_HELD && /* tape hook: prefetched */
	    (err = dsm__lrc_tape_use(n, p, pg)))
		return err;
	if (!LS(n)->pages[p].replies_left && !LS(n)->pages[p].gc_hold)
		dsm__lrc_fetch(n, p, ob, arg); /* held: GC wakes us */
	return DSM_FAULT_WAIT;
}

static const struct dsm_fault_ops lrc_fault_ops = {
	.ready = lrc_ready,
	.advance = lrc_advance,
};

/* Resolve a fault (SIGSEGV handler context): the service thread applies
 * the fetched diffs while the faulting thread sleeps on the page. */
int dsm__lrc_fault(struct dsm_node *n, size_t p, int want_write)
{
	struct lrc_batch batch;

	return dsm__proto_fault_loop(n, p, want_write == 1, &lrc_fault_ops, &batch);
}

/* ---------------- service thread ---------------- */

/*
 * Merge cnt diffs (oldest first) of one page into one: the bytes any of
 * them writes, with the last value written. Applied to two scratch pages
 * that differ in every byte, a byte is written iff both end equal; a
 * "twin" that differs from the result exactly there gives the diff.
 */
static int merge_diffs(struct dsm_node *n, struct lrc_own_diff *const *v,
		       size_t cnt, struct dsm_buf *out)
{
	size_t ps = n->page_size, max = dsm__diff_max_size(ps);
	unsigned char *a = malloc(3 * ps + max), *b = a + ps, *t = b + ps, *d = t + ps;
	ssize_t len;
	int err = 0;

	if (!a)
		return -ENOMEM;
	memset(a, 0, ps);
	memset(b, 0xff, ps);
	for (size_t i = 0; i < cnt && !err; i++)
		err = dsm__diff_apply(a, ps, v[i]->data, v[i]->len) ?:
		      dsm__diff_apply(b, ps, v[i]->data, v[i]->len);
	for (size_t i = 0; i < ps; i++)
		t[i] = a[i] == b[i] ? (unsigned char)~a[i] : a[i];
	if (!err && (len = dsm__diff_encode(t, a, ps, d, max)) < 0)
		err = (int)len;
	if (!err)
		err = dsm__buf_put_u32(out, v[cnt - 1]->interval) ?:
		      dsm__buf_put_u32(out, (uint32_t)len) ?:
		      dsm__buf_put(out, d, (size_t)len);
	free(a);
	return err ? (err > 0 ? DSM_EPROTO : err) : 0;
}

/* Our diffs of page p for intervals in (lo, hi], oldest first, as
 * {u32 interval, u32 len, bytes}... A pending twin in range becomes a
 * diff first (its interval is closed, so the page is write-protected). */
static int serve_diffs(struct dsm_node *n, size_t p, uint32_t lo, uint32_t hi,
		       int merge, struct dsm_buf *out)
{
	struct lrc_page *lp = &LS(n)->pages[p];
	struct lrc_own_diff *list[256], **v = list;
	size_t cnt = 0, cap = 256;
	int err = 0;

	if (lp->twin && lp->twin_iv > lo && lp->twin_iv <= hi &&
	    (err = dsm__lrc_flush_twin(n, p))) {
		dsm__fail(n, err, n->id, "lrc: node %d: cannot make the diff of page"
			  " %zu (interval %u): %s", n->id, p, lp->twin_iv,
			  dsm_strerror(err));
		return err;
	}
	for (struct lrc_own_diff *d = lp->diffs; d; d = d->next) {
		if (d->interval <= lo || d->interval > hi)
			continue;
		if (cnt == cap) {
			struct lrc_own_diff **nv = malloc(2 * cap * sizeof(*nv));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			memcpy(nv, v, cnt * sizeof(*nv));
			if (v != list)
				free(v);
			v = nv;
			cap *= 2;
		}
		v[cnt++] = d;
	}
	if (!err && merge && cnt > 1) { /* oldest first for the merge */
		for (size_t i = 0; i < cnt / 2; i++) {
			struct lrc_own_diff *x = v[i];
			v[i] = v[cnt - 1 - i];
			v[cnt - 1 - i] = x;
		}
		err = merge_diffs(n, v, cnt, out);
		cnt = 0;
	}
	for (size_t i = cnt; i-- > 0 && !err;) /* the list is newest first */
		err = dsm__buf_put_u32(out, v[i]->interval) ?:
		      dsm__buf_put_u32(out, v[i]->len) ?:
		      dsm__buf_put(out, v[i]->data, v[i]->len);
	if (v != list)
		free(v);
	return err;
}

/* One block of a diff reply: {u32 page, u32 bytes} then page's entries. */
static int serve_block(struct dsm_node *n, uint32_t p, uint32_t lo, uint32_t hi,
		       struct dsm_buf *out)
{
	size_t at = out->len;
	int err, merge = !!(lo & LRC_ONLY_WRITER);

	lo &= ~LRC_ONLY_WRITER;
	if (p >= n->region->npages || lo >= hi || hi > LS(n)->vc[n->id])
		return DSM_EPROTO;
	dsm__lrc_pg(n, p);
	if ((err = dsm__buf_put_u32(out, p)) || (err = dsm__buf_put_u32(out, 0)) ||
	    (err = serve_diffs(n, p, lo, hi, merge, out)))
		return err;
	dsm__put_le32(out->data + at + 4, (uint32_t)(out->len - at - 8));
	return 0;
}

/* A writer's side: the requested page, then every batched page, each as a
 * block (always one per page asked for, empty if there is no diff). */
static int on_diff_req(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	const unsigned char *x = m->payload;
	struct dsm_buf out = { 0 };
	struct dsm_msg rep = { .type = DSM_MSG_LRC_DIFF_REP, .arg = { p } };
	int err;

	if (m->length % 12)
		return DSM_EPROTO;
	pthread_mutex_lock(&n->region->lock);
	err = serve_block(n, (uint32_t)p, (uint32_t)m->arg[1], (uint32_t)m->arg[2], &out);
	for (size_t off = 0; !err && off < m->length; off += 12)
		err = serve_block(n, dsm__get_le32(x + off), dsm__get_le32(x + off + 4),
				  dsm__get_le32(x + off + 8), &out);
	if (!err)
		dsm__lrc_tape_served(n, m); /* tape hook */
	pthread_mutex_unlock(&n->region->lock);
	if (!err) {
		rep.payload = out.data;
		rep.length = (uint32_t)out.len;
		err = dsm__send(n, (int)m->src, &rep);
	}
	dsm__buf_free(&out);
	return err;
}


/* File one received diff under its notice (several may share one). */
static int attach_diff(struct lrc_page *lp, uint32_t creator, uint32_t id,
		       const unsigned char *d, uint32_t len)
{
	struct lrc_notice *q;
	unsigned char *nd;

	for (q = lp->pending; q; q = q->next)
		if (q->requested && q->iv->creator == creator && q->iv->id == id)
			break;
	if (!q)
		return DSM_EPROTO;
	if (!(nd = realloc(q->diffs, q->dlen + 4 + len)))
		return -ENOMEM;
	dsm__put_le32(nd + q->dlen, len);
	memcpy(nd + q->dlen + 4, d, len);
	q->diffs = nd;
	q->dlen += 4 + len;
	return 0;
}

static int cmp_notice(const void *a, const void *b)
{
	const struct lrc_interval *x = (*(struct lrc_notice *const *)a)->iv;
	const struct lrc_interval *y = (*(struct lrc_notice *const *)b)->iv;

	if (x->vcsum != y->vcsum)
		return x->vcsum < y->vcsum ? -1 : 1;
	if (x->creator != y->creator)
		return x->creator < y->creator ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Apply one notice's diffs (in the order the writer made them). A diff
 * that fails validation fails the job (naming node, page and interval);
 * the caller leaves the page invalid, so the access fails too. */
static int apply_notice(struct dsm_node *n, size_t p, struct lrc_notice *q)
{
	unsigned char *page = dsm__page_rt(n->region, p);

	for (size_t off = 0; off + 4 <= q->dlen;) {
		uint32_t len = dsm__get_le32(q->diffs + off);
		if (len > q->dlen - off - 4 ||
		    dsm__diff_apply(page, n->page_size, q->diffs + off + 4, len)) {
			dsm__fail(n, DSM_EPROTO, (int)q->iv->creator,
				  "lrc: node %d: invalid diff from node %u for page %zu"
				  " (interval %u); the page stays invalid",
				  n->id, q->iv->creator, p, q->iv->id);
			return DSM_EPROTO;
		}
		off += 4 + (size_t)len;
		DSM_STAT_ADD(n, diffs_applied, 1);
	}
	return 0;
}

/* Every writer answered: apply the fetched notices in happens-before
 * order (vector timestamp sum), drop them, and validate the page if no
 * newer notice arrived meanwhile. Caller holds the lock. */
static int apply_fetched(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	struct lrc_notice **v, **pp, *q;
	size_t cnt = 0, i = 0;
	int err = 0;

	for (q = lp->pending; q; q = q->next)
		cnt += q->requested;
	if (!(v = malloc((cnt ? cnt : 1) * sizeof(*v))))
		return -ENOMEM;
	for (pp = &lp->pending; (q = *pp);) {
		if (!q->requested) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		v[i++] = q;
	}
	qsort(v, cnt, sizeof(*v), cmp_notice);
	uint32_t from = cnt ? v[cnt - 1]->iv->creator : (uint32_t)st->me;
	for (i = 0; i < cnt; i++) {
		if (!err)
			err = apply_notice(n, p, v[i]);
		st->mem -= sizeof(*v[i]) + v[i]->dlen;
		free(v[i]->diffs);
		free(v[i]);
	}
	free(v);
	st->recent[st->recent_pos++ % LRC_RECENT] = (uint32_t)p;
	if (lp->tape) /* tape hook: a prefetch (lrc_tape.c), not a miss */
		return dsm__lrc_tape_applied(n, p, pg, from, err);
	DSM_STAT_ADD(n, remote_fetches, 1);
	dsm__tape_note(n, DSM_TAPE_READ, (uint32_t)p, from, /* tape hook */
		       dsm__lrc_cur_interval(st));
	if (!lp->pending && !err && !(err = dsm__lrc_step(n, p, pg, LRC_EV_APPLY)))
		err = set_prot(n, p, pg);
	dsm__page_wake(pg);
	return err;
}

/* One block of a reply: file its diffs; apply when the page's last
 * reply is in. */
static int recv_block(struct dsm_node *n, uint32_t src, uint32_t p,
		      const unsigned char *d, size_t len)
{
	struct lrc_page *lp = &LS(n)->pages[p];
	struct dsm_page *pg = dsm__lrc_pg(n, p);
	int err = 0;

	if (!lp->replies_left || pg->state != DSM_PAGE_INVALID)
		return DSM_EPROTO;
	for (size_t off = 0; !err && off < len;) {
		uint32_t id, dl;
		if (len - off < 8 || (dl = dsm__get_le32(d + off + 4)) > len - off - 8)
			return DSM_EPROTO;
		id = dsm__get_le32(d + off);
		err = dsm__hetero_diff_in(n, (int)src, p, d + off + 8, dl) ?:
		      attach_diff(lp, src, id, d + off + 8, dl);
		LS(n)->mem += dl + 4;
		off += 8 + (size_t)dl;
	}
	if (--lp->replies_left == 0)
		err = apply_fetched(n, p, pg) ?: err;
	return err;
}

static int on_diff_rep(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	const unsigned char *d = m->payload;
	int err = 0;

	(void)p;
	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0; !err && off < m->length;) {
		uint32_t q, blen;
		if (m->length - off < 8 || (q = dsm__get_le32(d + off)) >= n->region->npages ||
		    (blen = dsm__get_le32(d + off + 4)) > m->length - off - 8) {
			err = DSM_EPROTO;
			break;
		}
		err = recv_block(n, m->src, q, d + off + 8, blen);
		off += 8 + (size_t)blen;
	}
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* A node whose copy of page p is complete up to a collection that
 * dropped p elsewhere: send it whole. Our copy never loses a write once
 * complete (it only gains diffs, our stores, or a newer whole copy). While
 * we write it in the open interval, the twin is sent instead: the page as
 * of our last closed interval, without half-done stores. */
static int on_page_req(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	unsigned char *buf = malloc(n->page_size);
	struct dsm_msg rep = { .type = DSM_MSG_LRC_PAGE_REP, .arg = { p },
			       .payload = buf, .length = (uint32_t)n->page_size };
	int err;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&n->region->lock);
	if (dsm__lrc_pg(n, p)->state == DSM_PAGE_DIRTY && LS(n)->pages[p].twin)
		memcpy(buf, LS(n)->pages[p].twin, n->page_size);
	else
		memcpy(buf, dsm__page_rt(n->region, p), n->page_size);
	dsm__gc_page_out(n, buf, n->page_size);
	pthread_mutex_unlock(&n->region->lock);
	err = dsm__send(n, (int)m->src, &rep);
	if (!err)
		DSM_STAT_ADD(n, pages_sent, 1);
	free(buf);
	return err;
}

/* The whole page arrived: it replaces our (stale) copy; notices that came
 * after the collection are then fetched as diffs, or the page is valid. */
static int on_page_rep(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	struct lrc_page *lp = &LS(n)->pages[p];
	struct dsm_page *pg;
	struct dsm_outbox ob = { 0 };
	int err = 0;

	if (m->length != n->page_size)
		return DSM_EPROTO;
	pthread_mutex_lock(&n->region->lock);
	pg = dsm__lrc_pg(n, p);
	if (!lp->whole || lp->replies_left != 1 || m->src != lp->whole_src ||
	    pg->state != DSM_PAGE_INVALID) {
		pthread_mutex_unlock(&n->region->lock);
		return DSM_EPROTO;
	}
	memcpy(dsm__page_rt(n->region, p), m->payload, n->page_size);
	if ((err = dsm__hetero_page_in(n, (int)m->src, p, dsm__page_rt(n->region, p)))) {
		pthread_mutex_unlock(&n->region->lock);
		return err; /* untyped page across byte orders: the job fails */
	}
	lp->whole = 0;
	lp->replies_left = 0;
	if (!lp->tape) { /* tape hook: a tape's prefetch is not a miss */
		DSM_STAT_ADD(n, remote_fetches, 1);
		dsm__tape_note(n, DSM_TAPE_READ, (uint32_t)p, m->src,
			       dsm__lrc_cur_interval(LS(n)));
	}
	if (lp->pending) {
		dsm__lrc_fetch_start(n, p, &ob, NULL);
	} else if (lp->tape) { /* tape hook: hold or validate it (lrc_tape.c) */
		err = dsm__lrc_tape_applied(n, p, pg, m->src, 0);
	} else if (!(err = dsm__lrc_step(n, p, pg, LRC_EV_APPLY))) {
		err = set_prot(n, p, pg);
		LS(n)->recent[LS(n)->recent_pos++ % LRC_RECENT] = (uint32_t)p;
	}
	dsm__page_wake(pg);
	pthread_mutex_unlock(&n->region->lock);
	return dsm__outbox_flush(n, &ob) ?: err;
}

/* Protocol messages. Service thread. */
int dsm__lrc_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	size_t p = (size_t)m->arg[0];

	switch (m->type) {
	case DSM_MSG_LRC_DIFF_REQ:
		return p < n->region->npages ? on_diff_req(n, m, p) : DSM_EPROTO;
	case DSM_MSG_LRC_DIFF_REP:
		return p < n->region->npages ? on_diff_rep(n, m, p) : DSM_EPROTO;
	case DSM_MSG_LRC_PAGE_REQ:
		return p < n->region->npages ? on_page_req(n, m, p) : DSM_EPROTO;
	case DSM_MSG_LRC_PAGE_REP:
		return p < n->region->npages ? on_page_rep(n, m, p) : DSM_EPROTO;
	case DSM_MSG_LRC_INTV_REQ:
	case DSM_MSG_LRC_INTV_REP:
		return dsm__lrc_handle_intv(n, m);
	default:
		return DSM_EPROTO;
	}
}

/* Every node starts with a valid, read-only copy of every (zero) page. */
int dsm__lrc_init(struct dsm_node *n)
{
	struct lrc_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	n->proto_state = st;
	st->me = n->id;
	st->count = n->count;
	st->pages = calloc(n->region->npages, sizeof(*st->pages));
	st->dirty = calloc(n->region->npages, sizeof(*st->dirty));
	st->tracked = calloc(n->region->npages, sizeof(*st->tracked));
	if (!st->pages || !st->dirty || !st->tracked)
		return -ENOMEM;
	for (int j = 0; j < DSM_MAX_NODES; j++)
		st->iv_base[j] = 1;
	if (mprotect(n->region->app, n->region->size, PROT_READ) < 0)
		return -errno;
	return dsm__lrc_wp_init(n);
}

void dsm__lrc_fini(struct dsm_node *n)
{
	struct lrc_state *st = LS(n);

	if (!st)
		return;
	dsm__proto_wp_fini(n);
	for (size_t p = 0; st->pages && p < n->region->npages; p++) {
		struct lrc_notice *q = st->pages[p].pending;
		while (q) {
			struct lrc_notice *nx = q->next;
			free(q->diffs);
			free(q);
			q = nx;
		}
	}
	dsm__lrc_iv_free_all(st);
	dsm__lrc_pools_free(st, n->page_size);
	free(st->pages);
	free(st->dirty);
	free(st->tracked);
	free(st);
	n->proto_state = NULL;
}
