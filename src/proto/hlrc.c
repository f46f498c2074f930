/*
 * hlrc.c — home-based lazy release consistency (Princeton HLRC, JIAJIA):
 * the fault path, whole-page service from the home, diff flushing to
 * homes and first-touch home claims. Intervals, locks and barriers are in
 * hlrc_iv.c; docs/protocols/hlrc.md has the state machine and flows.
 *
 * Every page has a home whose copy is always up to date: a non-home
 * writer diffs its pages against their twins at each release and sends
 * the diffs to the homes, and the release completes only when every home
 * has applied them. So a node that learns a write notice can fetch the
 * whole page from its home in one round trip, and no diff outlives its
 * release. The home writes its own pages in place, without twins, and
 * tracks writes to a page only while another node may hold a copy that no
 * notice covers yet ("shared"); otherwise the page stays writable and
 * costs no fault (private to its home).
 *
 * Page states on a node (enum dsm_page_state):
 *   INVALID          no valid copy (never at the home)
 *   READ_SHARED      valid, read-only; at the home: shared, writes tracked
 *   DIRTY            valid, writable, written in the open interval (a
 *                    non-home page has a twin)
 *   WRITE_EXCLUSIVE  home only: writable, writes not tracked
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"
#include "vm/diff.h"

#define set_prot dsm__proto_set_prot
#define BLOCK_PAGES 16           /* DSM_HOME=block: run length */
#define FLUSH_CHUNK (4u << 20)   /* diff bytes per HLRC_DIFF message */
#define PREFETCH 8               /* pages one HLRC_PAGE_REQ may ask for */

/* --- checked transitions (docs/protocols/hlrc.md) --- */

enum hlrc_event {
	EV_FETCHED,   /* whole page arrived from the home */
	EV_WRITE,     /* first write in the interval (twin, or home tracked) */
	EV_CLOSE,     /* interval closed: non-home write-protected */
	EV_CLOSE_HOME,/* interval closed at the home: stays writable */
	EV_SERVE,     /* home sent a copy: writes must be tracked again */
	EV_NOTICE,    /* a notice from another writer (non-home) */
	EV_CLAIMED,   /* first-touch claim made this node the home */
	EV_COUNT_
};

#define I DSM_PAGE_INVALID
#define R DSM_PAGE_READ_SHARED
#define W DSM_PAGE_WRITE_EXCLUSIVE
#define D DSM_PAGE_DIRTY
static const signed char next_state[EV_COUNT_][DSM_PAGE_STATE_COUNT_] = {
	/*                   INVALID READ_SHARED WRITE_EXCL DIRTY */
	[EV_FETCHED]    = { R,      -1,         -1,        -1 },
	[EV_WRITE]      = { -1,     D,          -1,        -1 },
	[EV_CLOSE]      = { I,      R,          -1,        R },
	[EV_CLOSE_HOME] = { -1,     R,          W,         W },
	[EV_SERVE]      = { -1,     R,          R,         D },
	[EV_NOTICE]     = { I,      I,          -1,        I },
	[EV_CLAIMED]    = { -1,     W,          W,         D },
};
#undef I
#undef R
#undef W
#undef D

/* The table as docs/protocols/hlrc.md names it (test_state_machines). */
static const char *const event_names[EV_COUNT_] = {
	[EV_FETCHED] = "FETCHED", [EV_WRITE] = "WRITE", [EV_CLOSE] = "CLOSE",
	[EV_CLOSE_HOME] = "CLOSE_HOME", [EV_SERVE] = "SERVE",
	[EV_NOTICE] = "NOTICE", [EV_CLAIMED] = "CLAIMED",
};
static const struct dsm_page_machine hlrc_machine = {
	.proto = "hlrc", .nevents = EV_COUNT_, .event_names = event_names,
	.next = next_state,
};

/* Move pg to the state event ev leads to; an illegal event is a broken
 * invariant (trap in debug builds, ignored otherwise). */
static void hlrc_step(struct dsm_page *pg, enum hlrc_event ev)
{
	int next = next_state[ev][pg->state];

	if (next < 0) {
#ifndef NDEBUG
		dsm__write_str("dsm: hlrc: illegal page transition\n");
		__builtin_trap();
#endif
		return;
	}
	pg->state = (uint8_t)next;
}

/* --- pages --- */

static int16_t policy_home(struct dsm_node *n, size_t p)
{
	if (n->count == 1)
		return 0;
	switch (n->cfg.home_policy) {
	case DSM_HOME_BLOCK:
		return (int16_t)((p / BLOCK_PAGES) % (size_t)n->count);
	case DSM_HOME_CYCLIC:
		return (int16_t)(p % (size_t)n->count);
	case DSM_HOME_NODE0:
		return 0;
	default:
		return HLRC_NO_HOME;
	}
}

/* Page entry, initialised on first use: every node starts with the same
 * valid zero copy, read-only (so the first write is seen), and the home
 * the policy gives (or none yet, for first touch). Caller holds the lock. */
struct dsm_page *dsm__hlrc_pg(struct dsm_node *n, size_t p)
{
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];
	struct hlrc_page *hp = &HS(n)->pages[p];

	if (pg->flags & DSM_PGF_INIT)
		return pg;
	pg->flags = DSM_PGF_INIT;
	hp->home = policy_home(n, p);
	hp->shared = 1; /* every node holds the zero page */
	if (n->count == 1) {
		pg->state = DSM_PAGE_WRITE_EXCLUSIVE;
		hp->shared = 0;
		if (r->map_resets == 0)
			pg->prot = PROT_READ | PROT_WRITE;
		return pg;
	}
	pg->state = DSM_PAGE_READ_SHARED;
	if (r->map_resets == 0)
		pg->prot = PROT_READ;
	return pg;
}

static unsigned char *twin_of(struct hlrc_state *st, size_t p, size_t ps)
{
	return st->twins + p * ps;
}

/* The twin is no longer needed; its memory goes back in release_twins,
 * in runs and outside the region lock. */
static void twin_drop(struct dsm_node *n, size_t p)
{
	HS(n)->pages[p].twinned = 0;
}

static void list_dirty(struct hlrc_state *st, size_t p)
{
	if (!st->pages[p].dirty) {
		st->pages[p].dirty = 1;
		st->dirty[st->ndirty++] = (uint32_t)p;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Give pages[] (sorted here) the protection their states allow, one
 * mprotect per run of neighbours that need the same. Caller holds the
 * region lock. */
void dsm__hlrc_protect_state(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct dsm_page *pt = n->region->pages;

	qsort(pages, count, sizeof(*pages), cmp_u32);
	for (uint32_t i = 0; i < count;) {
		int want = dsm__page_state_prot(pt[pages[i]].state);
		uint32_t j = i + 1;
		while (j < count && pages[j] == pages[j - 1] + 1 &&
		       dsm__page_state_prot(pt[pages[j]].state) == want)
			j++;
		for (uint32_t k = i; k < j; k++)
			if (pt[pages[k]].prot != want) {
				dsm__vm_protect(n->region, pages[i], j - i, want);
				break;
			}
		i = j;
	}
}

/* --- fault path (SIGSEGV handler context) --- */

static int allows(const struct dsm_page *pg, int want_write)
{
	if (want_write == 1)
		return pg->state == DSM_PAGE_DIRTY || pg->state == DSM_PAGE_WRITE_EXCLUSIVE;
	return pg->state != DSM_PAGE_INVALID;
}

static int hlrc_ready(struct dsm_node *n, size_t p, int want_write, int *err)
{
	struct dsm_page *pg = dsm__hlrc_pg(n, p);

	if (!allows(pg, want_write) || HS(n)->pages[p].flushing)
		return 0;
	*err = set_prot(n, p, pg);
	return 1;
}

/* First write in the interval to a valid page: the home just records it;
 * anyone else twins it first. */
static int start_write(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];

	if (hp->home != st->me) {
		memcpy(twin_of(st, p, n->page_size), dsm__page_rt(n->region, p),
		       n->page_size);
		hp->twinned = 1;
		DSM_STAT_ADD(n, twins, 1);
	}
	list_dirty(st, p);
	hlrc_step(pg, EV_WRITE);
	DSM_STAT_ADD(n, local_faults, 1);
	return set_prot(n, p, pg);
}

/* Mark the invalid pages after p that the same home holds and that this
 * node fetched before (so it reads them), up to PREFETCH in all, as
 * fetched with p; returns how many pages (>= 1). A fault on the first page
 * of a boundary row read every iteration then brings the whole row. Pages
 * never read here are not taken: a copy would make them shared at the
 * home and cost its writer a fault per interval. */
static unsigned prefetch_run(struct dsm_node *n, size_t p, int16_t home)
{
	struct hlrc_state *st = HS(n);
	unsigned k = 1;

	for (; k < PREFETCH && p + k < st->npages; k++) {
		struct dsm_page *pg = dsm__hlrc_pg(n, p + k);
		struct hlrc_page *hq = &st->pages[p + k];
		if (pg->state != DSM_PAGE_INVALID || hq->home != home || hq->fetching ||
		    hq->flushing || !hq->used)
			break;
		hq->fetching = 1;
		hq->stale = 0;
	}
	return k;
}

/* An invalid page is fetched whole from its home (with the invalid pages
 * after it); a write to a valid one starts locally. A page whose diff is
 * on its way waits for the ack. */
static int hlrc_advance(struct dsm_node *n, size_t p, int want_write,
			struct dsm_outbox *ob, void *arg)
{
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	struct hlrc_page *hp = &HS(n)->pages[p];
	int err;

	(void)arg;
	(void)want_write;
	if (hp->flushing)
		return DSM_FAULT_WAIT;
	if (pg->state != DSM_PAGE_INVALID)
		return (err = start_write(n, p, pg)) ? err : DSM_FAULT_RETRY;
	if (hp->home < 0 || hp->home == n->id)
		return DSM_EPROTO; /* broken invariant: the home is never invalid */
	if (!hp->fetching) {
		hp->fetching = 1;
		hp->stale = 0;
		dsm__outbox_add(ob, hp->home, DSM_MSG_HLRC_PAGE_REQ, p,
				prefetch_run(n, p, hp->home), 0);
	}
	return DSM_FAULT_WAIT;
}

static const struct dsm_fault_ops hlrc_fault_ops = {
	.ready = hlrc_ready,
	.advance = hlrc_advance,
};

static int hlrc_fault(struct dsm_node *n, size_t p, int want_write)
{
	return dsm__proto_fault_loop(n, p, want_write == 1, &hlrc_fault_ops, NULL);
}

/* --- flushing diffs to homes (application threads) --- */

/* Ask each directory node (page mod count) to make us the home of the
 * unclaimed pages among pages[]; record the answers. The first claim a
 * directory sees wins, so every node learns the same home. */
static int claim_homes(struct dsm_node *n, const uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);
	struct dsm_buf req[DSM_MAX_NODES] = { 0 };
	struct dsm_waiter w[DSM_MAX_NODES];
	int asked[DSM_MAX_NODES] = { 0 }, err = 0;

	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < count && !err; i++) {
		uint32_t p = pages[i], d = p % (uint32_t)n->count;
		if (st->pages[p].home != HLRC_NO_HOME)
			continue;
		if (d == (uint32_t)st->me) /* we are its directory: first wins */
			st->pages[p].home = (int16_t)st->me;
		else
			err = dsm__buf_put_u32(&req[d], p);
	}
	pthread_mutex_unlock(&n->region->lock);
	for (int d = 0; d < n->count && !err; d++) {
		if (!req[d].len)
			continue;
		dsm__waiter_add(n, &w[d]);
		asked[d] = 1;
		struct dsm_msg m = { .type = DSM_MSG_HLRC_CLAIM, .arg = { w[d].token },
				     .payload = req[d].data, .length = (uint32_t)req[d].len };
		if ((err = dsm__send(n, d, &m)))
			dsm__waiter_complete(n, w[d].token, err, NULL);
	}
	for (int d = 0; d < n->count; d++) {
		int e = 0;
		if (asked[d] && !(e = dsm__waiter_wait_for(n, &w[d], d, "HLRC_CLAIM")) &&
		    w[d].len != req[d].len)
			e = DSM_EPROTO;
		pthread_mutex_lock(&n->region->lock);
		for (size_t off = 0; asked[d] && !e && off < req[d].len; off += 4) {
			uint32_t p = dsm__get_le32(req[d].data + off);
			uint32_t h = dsm__get_le32((unsigned char *)w[d].data + off);
			if (h >= (uint32_t)n->count)
				e = DSM_EPROTO;
			else if (st->pages[p].home == HLRC_NO_HOME)
				st->pages[p].home = (int16_t)h;
		}
		pthread_mutex_unlock(&n->region->lock);
		if (asked[d])
			free(w[d].data);
		dsm__buf_free(&req[d]);
		err = err ? err : e;
	}
	return err;
}

/* Send one home its diffs (in chunks) and wait for every acknowledgement. */
static int send_diffs(struct dsm_node *n, int home, const struct dsm_buf *b)
{
	size_t off = 0;
	int err = 0;

	while (off < b->len && !err) {
		size_t end = off;
		struct dsm_waiter w;
		while (end < b->len && (end == off || end - off < FLUSH_CHUNK))
			end += 8 + dsm__get_le32(b->data + end + 4);
		dsm__waiter_add(n, &w);
		struct dsm_msg m = { .type = DSM_MSG_HLRC_DIFF, .arg = { w.token },
				     .payload = b->data + off, .length = (uint32_t)(end - off) };
		if ((err = dsm__send(n, home, &m)))
			dsm__waiter_complete(n, w.token, err, NULL);
		err = dsm__waiter_wait_for(n, &w, home, "HLRC_DIFF") ?: err;
		if (!err && w.val[1])
			err = (int)(int64_t)w.val[1];
		off = end;
	}
	return err;
}

/* Diff pages[] against their twins into one buffer per home; pages that
 * turned out to be ours need no diff and become home pages. Region lock
 * held; the pages are write-protected (flushing). */
static int encode_diffs(struct dsm_node *n, const uint32_t *pages, uint32_t count,
			struct dsm_buf *out, unsigned char *scratch, uint32_t *nmine)
{
	struct hlrc_state *st = HS(n);
	size_t max = dsm__diff_max_size(n->page_size);
	int err = 0;

	for (uint32_t i = 0; i < count && !err; i++) {
		uint32_t p = pages[i];
		struct hlrc_page *hp = &st->pages[p];
		struct dsm_page *pg = &n->region->pages[p];
		ssize_t len;
		if (hp->home == st->me) {
			twin_drop(n, p);
			hp->shared = 0; /* our notice will cover every old copy */
			hlrc_step(pg, EV_CLAIMED);
			(*nmine)++;
			continue;
		}
		if (!hp->twinned)
			continue;
		len = dsm__diff_encode(twin_of(st, p, n->page_size),
				       dsm__page_rt(n->region, p), n->page_size,
				       scratch, max);
		if (len < 0) {
			err = (int)len;
			break;
		}
		twin_drop(n, p);
		DSM_STAT_ADD(n, diffs_created, 1);
		if (len == 0)
			continue;
		err = dsm__buf_put_u32(&out[hp->home], p) ?:
		      dsm__buf_put_u32(&out[hp->home], (uint32_t)len) ?:
		      dsm__buf_put(&out[hp->home], scratch, (size_t)len);
	}
	return err;
}

/* Give the twin memory of pages[] (sorted here) back to the kernel, one
 * madvise per run of neighbours. Their faults still wait (flushing), so
 * no thread twins them meanwhile. */
static void release_twins(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);

	qsort(pages, count, sizeof(*pages), cmp_u32);
	for (uint32_t i = 0; i < count;) {
		uint32_t j = i + 1;
		while (j < count && pages[j] <= pages[j - 1] + 1)
			j++;
		madvise(twin_of(st, pages[i], n->page_size),
			(size_t)(pages[j - 1] - pages[i] + 1) * n->page_size, MADV_DONTNEED);
		i = j;
	}
}

/* The flush itself (see hlrc.h). Faults on the pages wait meanwhile. */
int dsm__hlrc_flush(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);
	struct dsm_buf out[DSM_MAX_NODES] = { 0 };
	unsigned char *scratch = malloc(dsm__diff_max_size(n->page_size));
	uint32_t nmine = 0;
	int err = scratch ? 0 : -ENOMEM;

	if (!err)
		err = claim_homes(n, pages, count);
	pthread_mutex_lock(&n->region->lock);
	if (!err)
		err = encode_diffs(n, pages, count, out, scratch, &nmine);
	if (nmine) /* pages now ours: writable again, in runs */
		dsm__hlrc_protect_state(n, pages, count);
	pthread_mutex_unlock(&n->region->lock);
	for (int h = 0; h < n->count; h++) {
		if (!err && out[h].len)
			err = send_diffs(n, h, &out[h]);
		dsm__buf_free(&out[h]);
	}
	release_twins(n, pages, count);
	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < count; i++) {
		st->pages[pages[i]].flushing = 0;
		if (err) /* the home may lack these bytes: fail their readers */
			twin_drop(n, pages[i]);
		dsm__page_wake(&n->region->pages[pages[i]]);
	}
	pthread_mutex_unlock(&n->region->lock);
	free(scratch);
	if (err)
		dsm__fail(n, err < 0 ? err : DSM_EPROTO, n->id,
			  "hlrc: node %d could not flush its changes to their homes: %s",
			  n->id, dsm_strerror(err));
	return err;
}

/* --- service thread --- */

/* A peer asks for whole pages we are home of (arg1 of them from arg0).
 * A private page becomes shared: write-protect it first, so every later
 * write is tracked, then copy it. One reply per page. */
static int serve_page(struct dsm_node *n, int to, size_t p, unsigned char *copy)
{
	struct hlrc_state *st = HS(n);
	struct dsm_page *pg;
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	pg = dsm__hlrc_pg(n, p);
	if (st->pages[p].home != st->me || pg->state == DSM_PAGE_INVALID) {
		DSM_ERR(n, "hlrc: node %d asked for page %zu, whose home is node %d",
			to, p, st->pages[p].home);
		err = DSM_EPROTO;
	} else {
		hlrc_step(pg, EV_SERVE);
		st->pages[p].shared = 1;
		err = set_prot(n, p, pg);
		memcpy(copy, dsm__page_rt(n->region, p), n->page_size);
	}
	pthread_mutex_unlock(&n->region->lock);
	if (!err) {
		struct dsm_msg r = { .type = DSM_MSG_HLRC_PAGE, .arg = { p },
				     .payload = copy, .length = (uint32_t)n->page_size };
		DSM_STAT_ADD(n, pages_sent, 1);
		err = dsm__send(n, to, &r);
	}
	return err;
}

static int on_page_req(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	unsigned char *copy;
	uint64_t k = m->arg[1] ? m->arg[1] : 1;
	int err = 0;

	if (k > PREFETCH || p + k > n->region->npages)
		return DSM_EPROTO;
	if (!(copy = malloc(n->page_size)))
		return -ENOMEM;
	for (uint64_t i = 0; i < k && !err; i++)
		err = serve_page(n, (int)m->src, p + i, copy);
	free(copy);
	return err;
}

/* The home's copy arrived: install it through the runtime view, unless a
 * newer notice came meanwhile (then the faulting thread asks again). */
static int on_page(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	struct hlrc_page *hp = &HS(n)->pages[p];
	struct dsm_page *pg;
	int err = 0;

	if (m->length != n->page_size)
		return DSM_EPROTO;
	pthread_mutex_lock(&n->region->lock);
	pg = dsm__hlrc_pg(n, p);
	if (!hp->fetching || pg->state != DSM_PAGE_INVALID || (int)m->src != hp->home) {
		err = DSM_EPROTO;
	} else if (!hp->stale) {
		memcpy(dsm__page_rt(n->region, p), m->payload, n->page_size);
		hlrc_step(pg, EV_FETCHED);
		hp->used = 1;
		err = set_prot(n, p, pg);
		DSM_STAT_ADD(n, remote_fetches, 1);
	}
	hp->fetching = 0;
	hp->stale = 0;
	dsm__page_wake(pg);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* A writer's diffs for pages we are home of: apply them all, then ack
 * (with the error if one was refused: the writer's release fails). */
static int on_diff(struct dsm_node *n, const struct dsm_msg *m)
{
	struct hlrc_state *st = HS(n);
	const unsigned char *d = m->payload;
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0; !err && off < m->length;) {
		uint32_t p, len;
		if (m->length - off < 8 || (p = dsm__get_le32(d + off)) >= n->region->npages ||
		    (len = dsm__get_le32(d + off + 4)) > m->length - off - 8) {
			err = DSM_EPROTO;
			break;
		}
		dsm__hlrc_pg(n, p);
		/* Our claim's answer may still be on its way from the directory
		 * while a writer that was told after us already sends diffs. */
		if (st->pages[p].home == HLRC_NO_HOME)
			st->pages[p].home = (int16_t)st->me;
		if (st->pages[p].home != st->me) {
			DSM_ERR(n, "hlrc: node %u sent a diff for page %u, whose home "
				"is node %d", m->src, p, st->pages[p].home);
			err = DSM_EPROTO;
		} else if (dsm__diff_apply(dsm__page_rt(n->region, p), n->page_size,
					   d + off + 8, len)) {
			DSM_ERR(n, "hlrc: node %u sent a malformed diff for page %u",
				m->src, p);
			err = DSM_EPROTO;
		} else {
			DSM_STAT_ADD(n, diffs_applied, 1);
		}
		off += 8 + (size_t)len;
	}
	pthread_mutex_unlock(&n->region->lock);
	if (err)
		DSM_ERR(n, "hlrc: diffs from node %u refused: %s", m->src,
			dsm_strerror(err));
	struct dsm_msg r = { .type = DSM_MSG_HLRC_ACK,
			     .arg = { m->arg[0], (uint64_t)(int64_t)err } };
	return dsm__send(n, (int)m->src, &r);
}

/* Directory: the first claim of a page makes its sender the home. */
static int on_claim(struct dsm_node *n, const struct dsm_msg *m)
{
	struct hlrc_state *st = HS(n);
	const unsigned char *d = m->payload;
	struct dsm_buf out = { 0 };
	int err = m->length % 4 ? DSM_EPROTO : 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0; !err && off < m->length; off += 4) {
		uint32_t p = dsm__get_le32(d + off);
		if (p >= n->region->npages || p % (uint32_t)n->count != (uint32_t)n->id) {
			err = DSM_EPROTO;
			break;
		}
		dsm__hlrc_pg(n, p);
		if (st->pages[p].home == HLRC_NO_HOME)
			st->pages[p].home = (int16_t)m->src;
		err = dsm__buf_put_u32(&out, (uint32_t)st->pages[p].home);
	}
	pthread_mutex_unlock(&n->region->lock);
	if (!err) {
		struct dsm_msg r = { .type = DSM_MSG_HLRC_CLAIM_REP, .arg = { m->arg[0] },
				     .payload = out.data, .length = (uint32_t)out.len };
		err = dsm__send(n, (int)m->src, &r);
	}
	dsm__buf_free(&out);
	return err;
}

int dsm__hlrc_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	size_t p = (size_t)m->arg[0];
	uint64_t v[3] = { m->arg[0], m->arg[1], m->arg[2] };

	switch (m->type) {
	case DSM_MSG_HLRC_PAGE_REQ:
		return p < n->region->npages ? on_page_req(n, m, p) : DSM_EPROTO;
	case DSM_MSG_HLRC_PAGE:
		return p < n->region->npages ? on_page(n, m, p) : DSM_EPROTO;
	case DSM_MSG_HLRC_DIFF:
		return on_diff(n, m);
	case DSM_MSG_HLRC_ACK:
		return dsm__waiter_complete(n, m->arg[0], 0, v) ? DSM_EPROTO : 0;
	case DSM_MSG_HLRC_CLAIM:
		return on_claim(n, m);
	case DSM_MSG_HLRC_CLAIM_REP:
		return dsm__waiter_complete_data(n, m->arg[0], 0, v, m->payload,
						 m->length) ? DSM_EPROTO : 0;
	case DSM_MSG_HLRC_INTV_REQ:
	case DSM_MSG_HLRC_INTV_REP:
		return dsm__hlrc_handle_intv(n, m);
	default:
		return DSM_EPROTO;
	}
}

/* --- setup --- */

/* Zeroed memory reserved without commitment; NULL on failure. */
static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void hlrc_fini(struct dsm_node *n)
{
	struct hlrc_state *st = HS(n);

	if (!st)
		return;
	dsm__hlrc_iv_free_all(st);
	if (st->twins)
		munmap(st->twins, st->npages * n->page_size);
	if (st->pages)
		munmap(st->pages, st->npages * sizeof(*st->pages));
	if (st->dirty)
		munmap(st->dirty, st->npages * sizeof(*st->dirty));
	pthread_mutex_destroy(&st->close_mu);
	free(st);
	n->proto_state = NULL;
}

/* Every node starts with a valid zero copy of every page, read-only. */
static int hlrc_init(struct dsm_node *n)
{
	struct hlrc_state *st = calloc(1, sizeof(*st));
	size_t np = n->region->npages;

	if (!st)
		return -ENOMEM;
	n->proto_state = st;
	st->me = n->id;
	st->count = n->count;
	st->npages = np;
	pthread_mutex_init(&st->close_mu, NULL);
	/* Per-page tables and twins reserved, backed only where pages are
	 * used: a 16 TiB region costs what the program touches. */
	st->pages = reserve(np * sizeof(*st->pages));
	st->dirty = reserve(np * sizeof(*st->dirty));
	st->twins = reserve(np * n->page_size);
	if (!st->pages || !st->dirty || !st->twins)
		return -ENOMEM;
	for (int j = 0; j < DSM_MAX_NODES; j++)
		st->iv_base[j] = 1;
	if (mprotect(n->region->app, n->region->size,
		     n->count == 1 ? PROT_READ | PROT_WRITE : PROT_READ) < 0)
		return -errno;
	return 0;
}

/* Intervals, locks and barriers are in hlrc_iv.c. */
const struct dsm_protocol_ops dsm__proto_hlrc = {
	.name = "hlrc",
	.machine = &hlrc_machine,
	.init = hlrc_init,
	.fini = hlrc_fini,
	.fault = hlrc_fault,
	.handle_message = dsm__hlrc_handle,
	.acquire = dsm__hlrc_acquire,
	.release = dsm__hlrc_release,
	.lock_merge = dsm__proto_vc_lock_merge,
	.lock_grant = dsm__proto_vc_lock_grant,
	.lock_free = free,
	.barrier_enter = dsm__hlrc_barrier_enter,
	.barrier_collect = dsm__hlrc_barrier_collect,
	.barrier_release = dsm__hlrc_barrier_release,
	.barrier_done = dsm__hlrc_barrier_done,
	.barrier_leave = dsm__hlrc_barrier_leave,
};
