/*
 * hlrc.c — home-based lazy release consistency (Princeton HLRC, JIAJIA):
 * the fault path, whole-page service from the home and applying writers'
 * diffs there. The release path (first-touch home claims, diff flushing to
 * homes, closing fresh pages) is in hlrc_rel.c; intervals, locks and
 * barriers are in hlrc_iv.c; docs/protocols/hlrc.md has the state machine and flows.
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
#include <unistd.h>

#include "core/le.h"
#include "hetero/hooks.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"
#include "vm/wp.h"
#include "tape/hooks.h"
#include "vm/diff.h"
#include "vm/peermem.h"

#define set_prot dsm__proto_set_prot
#define BLOCK_PAGES 16           /* DSM_HOME=block: run length */
#define PREFETCH DSM_HLRC_RUN_MAX /* pages one HLRC_PAGE_REQ may ask for */
#define USED_RUN 8               /* of which pages read before, at most */
#define MIGRATE_AFTER 2          /* flushes by one writer alone: home moves */
#define BOUNCE_MAX 60000         /* redirects to a home that is not one yet */
#define FRESH_FIRST 4            /* fresh run at a fault not following one */

/* --- checked transitions (docs/protocols/hlrc.md) --- */


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
	[EV_MIGRATE_IN] = { R,      R,          -1,        -1 },
	[EV_PLACED_HOME] = { -1,    W,          -1,        -1 },
	[EV_PLACED_AWAY] = { -1,    I,          -1,        -1 },
	[EV_OPEN_FRESH] = { -1,     D,          -1,        -1 },
};
#undef I
#undef R
#undef W
#undef D

/* The table as docs/protocols/hlrc.md names it (test_state_machines). */
static const char *const event_names[EV_COUNT_] = {
	[EV_FETCHED] = "FETCHED", [EV_WRITE] = "WRITE", [EV_CLOSE] = "CLOSE",
	[EV_CLOSE_HOME] = "CLOSE_HOME", [EV_SERVE] = "SERVE",
	[EV_NOTICE] = "NOTICE", [EV_CLAIMED] = "CLAIMED", [EV_MIGRATE_IN] = "MIGRATE_IN",
	[EV_PLACED_HOME] = "PLACED_HOME", [EV_PLACED_AWAY] = "PLACED_AWAY",
	[EV_OPEN_FRESH] = "OPEN_FRESH",
};
static const struct dsm_page_machine hlrc_machine = {
	.proto = "hlrc", .nevents = EV_COUNT_, .event_names = event_names,
	.next = next_state,
};

/* Move page p along ev (dsm__page_step with hlrc's table): 0, or
 * DSM_EPROTO for an illegal event (reported; the page is left as it was
 * and the operation fails). */
int dsm__hlrc_step(struct dsm_node *n, size_t p, struct dsm_page *pg,
		   enum hlrc_event ev)
{
	return dsm__page_step(n, &hlrc_machine, p, pg, ev);
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

/* Give pages[] (sorted here) the protection their states allow, one
 * mprotect per run of neighbours that need the same. Caller holds the
 * region lock. */
void dsm__hlrc_protect_state(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct dsm_page *pt = n->region->pages;

	qsort(pages, count, sizeof(*pages), hlrc_cmp_u32);
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

/* Is page p fresh: no home known (first touch, unclaimed), so nobody's
 * write has reached this node and its copy is the zero page; nothing of
 * ours pending on it. Region lock held. */
static int is_fresh(struct hlrc_state *st, const struct dsm_page *pg, size_t p)
{
	const struct hlrc_page *hp = &st->pages[p];

	return pg->state == DSM_PAGE_READ_SHARED && hp->home == HLRC_NO_HOME &&
	       !hp->twinned && !hp->dirty && !hp->fresh && !hp->flushing &&
	       !hp->fetching && !hp->tape && !hp->ktrack;
}

/*
 * A write fault on fresh page p: open it and the fresh pages after it
 * writable at once, each DIRTY with a zero twin (its copy is all zeros,
 * so no copy is taken) and listed fresh, not dirty: the close diffs the
 * written ones against zeros and leaves those never touched fresh,
 * unclaimed and unannounced (dsm__hlrc_close_fresh). The run is
 * FRESH_FIRST pages, or twice the run of pages opened fresh just before p
 * (a stream of writes walking forward: each fault doubles the run, as a
 * readahead window; interleaved streams each keep their own), at most
 * DSM_FRESH_RUN. One mprotect. Region lock held (fault path: no
 * allocation).
 */
static int open_fresh(struct dsm_node *n, size_t p)
{
	struct hlrc_state *st = HS(n);
	unsigned back = 0, win, k = 0;

	while (back < st->fresh_max / 2 && back < p && st->pages[p - back - 1].fresh)
		back++;
	win = back ? 2 * back : FRESH_FIRST;
	win = win > st->fresh_max ? st->fresh_max : win;
	for (; k < win && p + k < st->npages; k++) {
		struct dsm_page *pg = dsm__hlrc_pg(n, p + k);
		struct hlrc_page *hq = &st->pages[p + k];
		int err;
		if (!is_fresh(st, pg, p + k))
			break;
		if ((err = dsm__hlrc_step(n, p + k, pg, EV_OPEN_FRESH)))
			return err;
		hq->fresh = k ? HLRC_FRESH_RUN : HLRC_FRESH_HIT;
		hq->twinned = 1;
		hq->ztwin = 1;
		st->fresh[st->nfresh++] = (uint32_t)(p + k);
	}
	DSM_STAT_ADD(n, local_faults, 1);
	return dsm__vm_protect(n->region, p, k, PROT_READ | PROT_WRITE);
}

/* First write in the interval to a valid page: the home just records it;
 * anyone else twins it first (a fresh page and its run: a zero twin). */
static int start_write(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	int err;

	if (st->fresh_max && is_fresh(st, pg, p))
		return open_fresh(n, p);
	if (hp->home == st->me) {
		hp->ktrack = 0; /* a fault now: back on the fault path */
		st->kwrites += pg->state == DSM_PAGE_READ_SHARED;
		if (!(err = dsm__hlrc_home_wrote(n, p, pg)))
			dsm__hlrc_wp_home_run(n, p);
	} else if (!(err = dsm__hlrc_twin(n, p, pg, 0))) {
		dsm__hlrc_twin_run(n, p);
	}
	if (err)
		return err;
	DSM_STAT_ADD(n, local_faults, 1);
	return set_prot(n, p, pg);
}

int dsm__hlrc_home_wrote(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct hlrc_state *st = HS(n);
	int err = dsm__hlrc_step(n, p, pg, EV_WRITE);

	if (err)
		return err;
	st->pages[p].streak = 0; /* the home writes it too: no single writer */
	list_dirty(st, p);
	dsm__tape_note(n, DSM_TAPE_WRITE, (uint32_t)p, (uint32_t)st->me, /* tape hook */
		       dsm__hlrc_cur_interval(st));
	return 0;
}

/* May page q join a whole-page request to home? Region lock held. */
static int fetchable(struct dsm_node *n, size_t q, int16_t home)
{
	struct dsm_page *pg = dsm__hlrc_pg(n, q);
	struct hlrc_page *hq = &HS(n)->pages[q];

	return pg->state == DSM_PAGE_INVALID && hq->home == home && !hq->fetching &&
	       !hq->flushing && !hq->tape /* tape hook: held or asked */;
}

static void mark_fetching(struct hlrc_page *hq, int16_t home)
{
	hq->fetching = 1;
	hq->stale = 0;
	hq->asked = home;
}

/* The readahead stream fault p extends (*dir 1 forward, -1 backward),
 * or the least recently used one, restarted (*dir 0). */
static struct hlrc_ra *ra_stream(struct hlrc_state *st, size_t p, int *dir)
{
	struct hlrc_ra *lru = &st->ra[0];

	for (int i = 0; i < HLRC_RA_STREAMS; i++) {
		struct hlrc_ra *s = &st->ra[i];
		*dir = p == s->next ? 1 : p + 1 == s->lo ? -1 : 0;
		if (*dir)
			return s;
		if (s->used < lru->used)
			lru = s;
	}
	lru->win = 0;
	return lru;
}

/*
 * Mark the invalid pages next to *p that the same home holds, as fetched
 * with *p; returns how many pages (>= 1) from *first on. Two kinds are
 * taken: pages this node fetched before (so it reads them: a fault on the
 * first page of a boundary row read every iteration then brings the whole
 * row), up to USED_RUN after p; and, when the faults walk through memory
 * (this fault is on the page after the last run fetched, or on the page
 * before it: glibc's memcpy copies large blocks backwards when source and
 * destination alias within a page), a readahead window in that direction
 * that doubles with each such fault up to PREFETCH, as a file system reads
 * ahead. Up to HLRC_RA_STREAMS walks are followed at once, each with its
 * own window (a partition scanning a range from both ends is two). Other
 * pages are not taken: a copy makes a page shared at its home and costs
 * its writer a fault per interval.
 */
static unsigned prefetch_run(struct dsm_node *n, size_t p, int16_t home, size_t *first)
{
	struct hlrc_state *st = HS(n);
	int dir;
	struct hlrc_ra *s = ra_stream(st, p, &dir);
	unsigned k = 1, win;

	win = dir ? (s->win ? 2 * s->win : 2) : 1;
	s->win = win = win > PREFETCH ? PREFETCH : win;
	s->used = ++st->ra_clock;
	*first = p;
	for (; k < PREFETCH && p + k < st->npages; k++) {
		if (!fetchable(n, p + k, home) ||
		    !((st->pages[p + k].used && k < USED_RUN) || (dir >= 0 && k < win)))
			break;
		mark_fetching(&st->pages[p + k], home);
	}
	if (k == 1 && dir < 0) /* walking backwards: the window before p */
		for (; k < win && *first > 0 && fetchable(n, *first - 1, home); k++)
			mark_fetching(&st->pages[--*first], home);
	s->next = *first + k;
	s->lo = *first;
	return k;
}

/* May home answer our page requests with "read it from my memory"? A
 * mixed job converts pages on the way in: never. */
static int by_ref(struct dsm_node *n, int home)
{
	return !n->hetero_swap && dsm__peermem_get(n, home) != NULL;
}

/* An invalid page is fetched whole from its home (with the invalid pages
 * after it); a write to a valid one starts locally. A page whose diff is
 * on its way waits for the ack. */
static int hlrc_advance(struct dsm_node *n, size_t p, int want_write,
			struct dsm_outbox *ob, void *arg)
{
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	struct hlrc_page *hp = &HS(n)->pages[p];
	size_t first;
	unsigned k;
	int err;

	(void)arg;
	(void)want_write;
	if (hp->flushing)
		return DSM_FAULT_WAIT;
	if (pg->state != DSM_PAGE_INVALID)
		return (err = start_write(n, p, pg)) ? err : DSM_FAULT_RETRY;
	if (hp->tape == HLRC_TAPE_HELD) { /* tape hook: prefetched, first used now */
		hp->tape = 0;
		hp->used = 1; /* demanded */
		dsm__tape_hit(n, (uint32_t)p, (uint32_t)hp->home,
			      dsm__hlrc_cur_interval(HS(n)));
		DSM_STAT_ADD(n, local_faults, 1);
		return (err = dsm__hlrc_fetched(n, p)) ? err : DSM_FAULT_RETRY;
	}
	if (hp->home < 0 || hp->home == n->id)
		return DSM_EPROTO; /* broken invariant: the home is never invalid */
	if (hp->bounce > BOUNCE_MAX)
		return DSM_EPROTO; /* redirected in a circle: no node is its home */
	if (!hp->fetching) {
		hp->fetching = 1;
		hp->stale = 0;
		hp->used = 1; /* demanded: read here (prefetched pages are not) */
		hp->asked = hp->home;
		k = prefetch_run(n, p, hp->home, &first);
		dsm__outbox_add(ob, hp->home, DSM_MSG_HLRC_PAGE_REQ, first, k,
				by_ref(n, hp->home));
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

/* --- service thread --- */

/* Serving page p to node `to`, first half (see dsm__hlrc_serve_copy): 0
 * when p is READ_SHARED now, its later writes to be tracked (the caller
 * arms or write-protects it before its copy is taken); 1 and *hg when its
 * home moved; DSM_EPROTO when we hold no valid copy. */
static int serve_begin(struct dsm_node *n, size_t p, uint32_t *hg)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	int err;

	if (hp->home != st->me && hp->home != HLRC_NO_HOME) {
		*hg = HLRC_HG(hp->home, hp->gen);
		return 1;
	}
	if (hp->home != st->me || pg->state == DSM_PAGE_INVALID)
		return DSM_EPROTO;
	if ((err = dsm__hlrc_step(n, p, pg, EV_SERVE)))
		return err;
	hp->shared = 1;
	return 0;
}

/* Second half, once p is write-protected: the copy itself (none when
 * the peer reads our memory: copy NULL). */
static void serve_end(struct dsm_node *n, int to, size_t p, unsigned char *copy)
{
	if (copy)
		memcpy(copy, dsm__page_rt(n->region, p), n->page_size);
	dsm__gc_page_out(n, copy ? copy : dsm__page_rt(n->region, p), n->page_size);
	dsm__tape_note(n, DSM_TAPE_REQUEST, (uint32_t)p, (uint32_t)to, /* tape hook */
		       dsm__hlrc_cur_interval(HS(n)));
}

/* Serve page p we are home of to node `to` (see on_page_req): a private
 * page becomes shared: write-protect it first, so every later write is
 * tracked, then copy it. For a page whose home moved away, 1 and *hg:
 * where it went (the reply says arg1 = 1, arg2 = home | gen << 16). */
int dsm__hlrc_serve_copy(struct dsm_node *n, int to, size_t p, unsigned char *copy,
			 uint32_t *hg)
{
	struct dsm_page *pg = &n->region->pages[p];
	int err = serve_begin(n, p, hg);

	if (err)
		return err;
	/* later writes are tracked by the kernel, or by write-protecting */
	if (!dsm__hlrc_wp_share(n, p, pg) && pg->prot != dsm__page_state_prot(pg->state))
		err = set_prot(n, p, pg);
	serve_end(n, to, p, copy);
	return err;
}

/*
 * Serve up to k pages from p in one go, as dsm__hlrc_serve_copy each, but
 * with one mprotect (or one arming in the kernel) for the run, before any
 * copy is taken: a write after it faults and waits for the region lock,
 * held here (or is recorded for the next close). Stops before a page
 * whose home moved (returns 1, *hg) or on an error (returned, reported);
 * *run: the pages copied. Region lock held.
 */
static int serve_run(struct dsm_node *n, int to, size_t p, size_t k,
		     unsigned char *copies, size_t *run, uint32_t *hg)
{
	uint32_t served[PREFETCH], prot[PREFETCH], nprot = 0;
	int err = 0;

	for (*run = 0; *run < k; ++*run) {
		if ((err = serve_begin(n, p + *run, hg)))
			break;
		served[*run] = (uint32_t)(p + *run);
	}
	dsm__hlrc_wp_share_run(n, served, (uint32_t)*run, prot, &nprot);
	if (err < 0 || err > 1)
		DSM_ERR(n, "hlrc: node %d asked for page %zu, whose home is node %d",
			to, p + *run, HS(n)->pages[p + *run].home);
	if (nprot)
		dsm__hlrc_protect_state(n, prot, nprot);
	for (size_t i = 0; i < *run; i++)
		serve_end(n, to, p + i, copies ? copies + i * n->page_size : NULL);
	return err;
}

/* Send the copies of count pages from first (copies: count pages) in one
 * HLRC_PAGE: arg1 = 0 for one page, 2 for a run; copies NULL: arg1 = 3,
 * arg2 = count, no payload (the peer reads them from our memory). */
static int send_copies(struct dsm_node *n, int to, size_t first, size_t count,
		       const unsigned char *copies)
{
	struct dsm_msg r = { .type = DSM_MSG_HLRC_PAGE, .arg = { first, count > 1 ? 2 : 0 },
			     .payload = copies, .length = (uint32_t)(count * n->page_size) };

	if (!count)
		return 0;
	if (!copies) {
		r.arg[1] = 3;
		r.arg[2] = count;
		r.length = 0;
	}
	DSM_STAT_ADD(n, pages_sent, count);
	return dsm__send(n, to, &r);
}

/* A peer asks for arg1 pages from p: copy each (serve_run) and answer
 * the run in one message, as TAPE_REP does: one send instead of one per
 * page. A page whose home moved away gets its own reply saying where
 * (the run is sent up to it first, and goes on after it). */
static int on_page_req(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	size_t ps = n->page_size, i = 0;
	uint64_t k = m->arg[1] ? m->arg[1] : 1;
	int to = (int)m->src, err = 0;
	unsigned char *copies = NULL;

	if (k > PREFETCH || p + k > n->region->npages || m->arg[2] > 1)
		return DSM_EPROTO;
	/* arg2 = 1: the peer maps our region (vm/peermem.h) */
	if ((m->arg[2] == 0 || n->hetero_swap) && !(copies = malloc(k * ps)))
		return -ENOMEM;
	while (i < k && !err) {
		size_t run = 0;
		uint32_t hg = 0;
		pthread_mutex_lock(&n->region->lock);
		err = serve_run(n, to, p + i, k - i, copies, &run, &hg);
		pthread_mutex_unlock(&n->region->lock);
		/* after an error too: the pages copied before it were asked for */
		err = send_copies(n, to, p + i, run, copies) ?: err;
		i += run;
		if (err == 1) { /* moved: then where it went */
			struct dsm_msg r = { .type = DSM_MSG_HLRC_PAGE,
					     .arg = { p + i, 1, hg } };
			err = dsm__send(n, to, &r);
			i++;
		}
	}
	free(copies);
	return err;
}

int dsm__hlrc_fetched(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = &n->region->pages[p];

	return dsm__hlrc_step(n, p, pg, EV_FETCHED) ?: set_prot(n, p, pg);
}

/* Page p's copy (or, with data NULL, where its home moved: hg) arrived
 * from src: install it through the runtime view, unless a newer notice
 * came meanwhile (then the faulting thread asks again); *installed: it
 * is READ_SHARED now, its protection left to the caller (one mprotect per
 * run). Region lock held. */
static int install_copy(struct dsm_node *n, int src, size_t p, const unsigned char *data,
			uint64_t hg, int *installed)
{
	struct hlrc_page *hp = &HS(n)->pages[p];
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	int err = 0;

	if (!hp->fetching || pg->state != DSM_PAGE_INVALID || src != hp->asked) {
		err = DSM_EPROTO;
	} else if (!data) { /* moved: the faulting thread asks again */
		if (hlrc_learn_home(hp, HLRC_HG_HOME(hg), HLRC_HG_GEN(hg)))
			hp->bounce = 0;
		else
			hp->bounce += hp->bounce < UINT16_MAX;
	} else if (!hp->stale) {
		hp->bounce = 0;
		memcpy(dsm__page_rt(n->region, p), data, n->page_size);
		err = dsm__hetero_page_in(n, src, p, dsm__page_rt(n->region, p)) ?:
		      dsm__hlrc_step(n, p, pg, EV_FETCHED);
		*installed = !err;
		dsm__tape_note(n, DSM_TAPE_READ, (uint32_t)p, (uint32_t)src, /* tape hook */
			       dsm__hlrc_cur_interval(HS(n)));
		DSM_STAT_ADD(n, remote_fetches, 1);
	}
	hp->fetching = 0;
	hp->stale = 0;
	return err; /* the caller wakes the faulting thread, unlocked */
}

/* HLRC_PAGE: arg1 = 0: one page's copy; 1: its home moved to arg2; 2: the
 * copies of length / page_size pages from arg0 (at most PREFETCH); 3:
 * arg2 pages from arg0, to be read from the sender's region, mapped here
 * (vm/peermem.h). */
static int on_page(struct dsm_node *n, const struct dsm_msg *m, size_t p)
{
	size_t ps = n->page_size, k = m->arg[1] == 2 ? m->length / ps : 1;
	const unsigned char *data = m->payload;
	uint32_t done[PREFETCH], ndone = 0;
	int err = 0;

	if (m->arg[1] == 3) { /* by reference: no payload */
		k = m->arg[2] <= PREFETCH ? (size_t)m->arg[2] : 0;
		data = dsm__peermem_get(n, (int)m->src);
		if (!data || m->length || k == 0 || p + k > n->region->npages)
			return DSM_EPROTO;
		data += p * ps;
	} else if (m->arg[1] > 2 ||
		   (m->arg[1] == 1 && (m->length || HLRC_HG_HOME(m->arg[2]) >= n->count)) ||
		   (m->arg[1] != 1 && (m->length != k * ps || k == 0 || k > PREFETCH ||
				       p + k > n->region->npages))) {
		return DSM_EPROTO;
	}
	if (k > 1 && m->arg[1] != 1) /* one call maps the run's runtime view */
		dsm__vm_populate(dsm__page_rt(n->region, p), k * ps);
	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < k; i++) {
		int in = 0, e = install_copy(n, (int)m->src, p + i,
					     m->arg[1] == 1 ? NULL : data + i * ps,
					     m->arg[2], &in);
		err = err ?: e;
		if (in)
			done[ndone++] = (uint32_t)(p + i);
	}
	dsm__hlrc_protect_state(n, done, ndone);
	pthread_mutex_unlock(&n->region->lock);
	/* woken once the lock is free: a thread woken while we held it would
	 * sleep again on the lock, a second wake-up on every fetch */
	for (size_t i = 0; i < k; i++)
		dsm__page_wake(&n->region->pages[p + i]);
	return err;
}

/* Home, after applying src's diff to page p: a page written by src alone
 * in MIGRATE_AFTER consecutive flushes (not by us meanwhile) moves its
 * home to src, with our copy (appended to mig). Region lock held. */
static int consider_migration(struct dsm_node *n, uint32_t p, int src,
			      struct dsm_buf *mig, uint32_t *nmig)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	struct dsm_page *pg = &n->region->pages[p];
	int err;

	/* another node writes it: its writes are no longer assumed ours
	 * (hlrc_wp.c), and the check below needs to know whether we wrote */
	hp->kstreak = 0;
	/* a migrating page travels unconverted: never in a mixed job */
	if (!st->migrate || hp->gen == UINT16_MAX || n->hetero_swap)
		return 0;
	if ((err = dsm__hlrc_wp_leave(n, p))) /* exact: did we write it? */
		return err;
	/* we write it too; or our own first-touch write is still being
	 * flushed (our claim's answer was on its way when this diff came): its
	 * twin predates the diffs just applied, and once the home had moved
	 * our diff against it would undo them */
	if (pg->state != DSM_PAGE_READ_SHARED || hp->dirty || hp->twinned ||
	    hp->flushing) {
		hp->streak = 0;
		return 0;
	}
	if (hp->streak == 0 || hp->last_writer != src) {
		hp->last_writer = (int16_t)src;
		hp->streak = 1;
		return 0;
	}
	if (hp->streak < MIGRATE_AFTER)
		hp->streak++;
	if (hp->streak < MIGRATE_AFTER || *nmig >= HLRC_FLUSH_CHUNK / n->page_size)
		return 0;
	dsm__gc_page_out(n, dsm__page_rt(n->region, p), n->page_size);
	err = dsm__buf_put_u32(mig, p) ?: dsm__buf_put_u32(mig, hp->gen + 1u) ?:
	      dsm__buf_put(mig, dsm__page_rt(n->region, p), n->page_size);
	if (err)
		return err;
	hp->home = (int16_t)src; /* our copy stays valid, read-only */
	hp->gen++;
	hp->streak = 0;
	(*nmig)++;
	return 0;
}

/* Apply a writer's diff of page p in either form (hlrc_rel.c picks). */
static int apply_diff(struct dsm_node *n, size_t p, const unsigned char *d, size_t len)
{
	unsigned char *page = dsm__page_rt(n->region, p);

	return dsm__diff_is_masked(d, len) ? dsm__diff_mask_apply(page, n->page_size, d, len)
					   : dsm__diff_apply(page, n->page_size, d, len);
}

/* Before diffs are applied: map the runtime view of each run of two or
 * more neighbouring pages they are for in one call (dsm__vm_populate),
 * instead of a kernel fault per page at its first write through that
 * view. Entries are checked by on_diff; a bad one ends this walk. */
static void populate_diff_runs(struct dsm_node *n, const unsigned char *d, size_t length)
{
	size_t lo = 0, hi = 0, npages = n->region->npages;

	for (size_t off = 0; off + 8 <= length;) {
		size_t p = dsm__get_le32(d + off), len = dsm__get_le32(d + off + 4);
		if (p >= npages || len > length - off - 8)
			break;
		if (p != hi) {
			if (hi - lo > 1)
				dsm__vm_populate(dsm__page_rt(n->region, lo),
						 (hi - lo) * n->page_size);
			lo = p;
		}
		hi = p + 1;
		off += 8 + len;
	}
	if (hi - lo > 1)
		dsm__vm_populate(dsm__page_rt(n->region, lo), (hi - lo) * n->page_size);
}

/* A writer's diffs for pages we are home of: apply them all, then ack
 * with the error if one was refused (the writer's release fails), where
 * the pages we are no longer home of went, and the pages whose home moves
 * to the writer now (see take_ack). */
static int on_diff(struct dsm_node *n, const struct dsm_msg *m)
{
	struct hlrc_state *st = HS(n);
	const unsigned char *d = m->payload;
	struct dsm_buf redir = { 0 }, mig = { 0 };
	uint32_t nredir = 0, nmig = 0;
	int err = 0;

	populate_diff_runs(n, d, m->length);
	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0; !err && off < m->length;) {
		uint32_t p, len;
		struct hlrc_page *hp;
		if (m->length - off < 8 || (p = dsm__get_le32(d + off)) >= n->region->npages ||
		    (len = dsm__get_le32(d + off + 4)) > m->length - off - 8) {
			err = DSM_EPROTO;
			break;
		}
		dsm__hlrc_pg(n, p);
		hp = &st->pages[p];
		/* Our claim's answer may still be on its way from the directory
		 * while a writer that was told after us already sends diffs. */
		if (hp->home == HLRC_NO_HOME)
			hp->home = (int16_t)st->me;
		if (hp->home != st->me) {
			err = dsm__buf_put_u32(&redir, p) ?:
			      dsm__buf_put_u32(&redir, HLRC_HG(hp->home, hp->gen));
			nredir++;
		} else if ((err = dsm__hetero_diff_in(n, (int)m->src, p, d + off + 8,
						      len))) {
			break; /* refused: the reason is in reject_why */
		} else if (hp->kassume && (err = dsm__hlrc_wp_leave(n, p))) {
			break; /* assumed (hlrc_wp.c): its hash must see our writes only */
		} else if (apply_diff(n, p, d + off + 8, len)) {
			DSM_ERR(n, "hlrc: node %u sent a malformed diff for page %u",
				m->src, p);
			err = DSM_EPROTO;
		} else {
			DSM_STAT_ADD(n, diffs_applied, 1);
			err = consider_migration(n, p, (int)m->src, &mig, &nmig);
		}
		off += 8 + (size_t)len;
	}
	pthread_mutex_unlock(&n->region->lock);
	if (err)
		DSM_ERR(n, "hlrc: diffs from node %u refused: %s", m->src,
			dsm_strerror(err));
	int e = dsm__buf_put(&redir, mig.data, mig.len);
	struct dsm_msg r = { .type = DSM_MSG_HLRC_ACK,
			     .arg = { m->arg[0], (uint64_t)(int64_t)(err ? err : e),
				      (uint64_t)nredir << 32 | nmig },
			     .payload = redir.data, .length = e ? 0 : (uint32_t)redir.len };
	if (e) /* out of memory: the writer fails; its pages keep no home */
		r.arg[2] = 0;
	e = dsm__send(n, (int)m->src, &r);
	dsm__buf_free(&redir);
	dsm__buf_free(&mig);
	return e;
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
		err = dsm__buf_put_u32(&out, HLRC_HG(st->pages[p].home, st->pages[p].gen));
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
		return dsm__waiter_complete_data(n, m->arg[0], 0, v, m->payload,
						 m->length) ? DSM_EPROTO : 0;
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

/* --- placement hints (dsm_alloc_collective_hint) --- */

/*
 * Pages nobody has used yet get the homes the hint names; every node does
 * the same before the allocation's barrier, so all agree. Since no node
 * has anything of them but the zero page, the home's copy starts
 * writable and untracked (private, as after a home's close) and every
 * other copy starts invalid: the owner's writes cost no fault, a reader
 * fetches from the home (which makes the page shared). A page some node
 * already used (its state is not the initial one) only gets its home.
 */
static int hlrc_place(struct dsm_node *n, size_t first, size_t count, int hint)
{
	struct hlrc_state *st = HS(n);
	size_t N = (size_t)n->count;
	uint32_t *prot = NULL, nprot = 0;
	int err = 0;

	if (n->count == 1)
		return 0;
	if (first >= st->npages)
		return 0;
	if (count > st->npages - first)
		count = st->npages - first;
	if (!(prot = malloc((count ? count : 1) * sizeof(*prot))))
		return -ENOMEM;
	pthread_mutex_lock(&n->region->lock);
	for (size_t k = 0; k < count && !err; k++) {
		struct hlrc_page *hp = &st->pages[first + k];
		struct dsm_page *pg = dsm__hlrc_pg(n, first + k);
		int16_t h;
		if (hint == DSM_PLACE_BLOCKED)
			h = (int16_t)(k * N / count);
		else if (hint == DSM_PLACE_CYCLIC)
			h = (int16_t)(k % N);
		else
			h = (int16_t)hint;
		hp->home = h;
		hp->gen = 0;
		if (pg->state != DSM_PAGE_READ_SHARED || hp->dirty || hp->fetching ||
		    hp->flushing || hp->twinned)
			continue; /* used already: keep its copy, tracked */
		err = dsm__hlrc_step(n, first + k, pg,
				     h == st->me ? EV_PLACED_HOME : EV_PLACED_AWAY);
		if (!err && h == st->me)
			hp->shared = 0;
		if (!err)
			prot[nprot++] = (uint32_t)(first + k);
	}
	if (nprot)
		dsm__hlrc_protect_state(n, prot, nprot);
	pthread_mutex_unlock(&n->region->lock);
	free(prot);
	return err;
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
	dsm__proto_wp_fini(n);
	dsm__hlrc_iv_free_all(st);
	if (st->twins)
		munmap(st->twins, st->npages * n->page_size);
	if (st->pages)
		munmap(st->pages, st->npages * sizeof(*st->pages));
	if (st->dirty)
		munmap(st->dirty, st->npages * sizeof(*st->dirty));
	if (st->ktracked)
		munmap(st->ktracked, st->npages * sizeof(*st->ktracked));
	if (st->fresh)
		munmap(st->fresh, st->npages * sizeof(*st->fresh));
	if (st->khash)
		munmap(st->khash, st->npages * sizeof(*st->khash));
	free(st->zero);
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
	st->migrate = n->cfg.home_migrate;
	for (int i = 0; i < HLRC_RA_STREAMS; i++)
		st->ra[i].next = st->ra[i].lo = SIZE_MAX;
	st->fresh_max = n->count > 1 ? (unsigned)n->cfg.fresh_run : 0;
	st->npages = np;
	pthread_mutex_init(&st->close_mu, NULL);
	/* Per-page tables and twins reserved, backed only where pages are
	 * used: a 16 TiB region costs what the program touches. */
	st->pages = reserve(np * sizeof(*st->pages));
	st->dirty = reserve(np * sizeof(*st->dirty));
	st->ktracked = reserve(np * sizeof(*st->ktracked));
	st->fresh = reserve(np * sizeof(*st->fresh));
	st->khash = reserve(np * sizeof(*st->khash));
	st->zero = calloc(1, n->page_size);
	st->twins = reserve(np * n->page_size);
	if (!st->pages || !st->dirty || !st->ktracked || !st->fresh || !st->khash ||
	    !st->zero || !st->twins)
		return -ENOMEM;
	for (int j = 0; j < DSM_MAX_NODES; j++)
		st->iv_base[j] = 1;
	if (mprotect(n->region->app, n->region->size,
		     n->count == 1 ? PROT_READ | PROT_WRITE : PROT_READ) < 0)
		return -errno;
	/* uffd: the kernel records every shared home page's writes; auto:
	 * only while they are many per close (hlrc_wp.c, dsm__hlrc_wp_adapt) */
	st->kmode = n->cfg.write_detect == DSM_WP_UFFD;
	st->kadapt = n->cfg.write_detect == DSM_WP_AUTO;
	return dsm__proto_wp_init(n, "hlrc");
}

/* Intervals, locks and barriers are in hlrc_iv.c. */
const struct dsm_protocol_ops dsm__proto_hlrc = {
	.name = "hlrc",
	.machine = &hlrc_machine,
	.init = hlrc_init,
	.fini = hlrc_fini,
	.fault = hlrc_fault,
	.handle_message = dsm__hlrc_handle,
	.place = hlrc_place,
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
