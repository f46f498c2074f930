/*
 * lrc_wp.c — lrc with the kernel recording writes (vm/wp.h, uffd only):
 * a page written in two intervals in a row stops costing a protection
 * fault per interval (or two in a row: a grid written every other
 * iteration). docs/write-detection.md has the design.
 *
 * A tracked page stays DIRTY and writable across intervals and keeps a
 * twin of its contents at the start of the open interval. At each close,
 * one PAGEMAP_SCAN over the tracked pages says which were written: each of
 * those gets a write notice, and its diff is made at once against a
 * snapshot taken after the scan, which becomes the next interval's twin
 * (KEEP). A write landing between the scan and the snapshot goes out with
 * this interval's diff (early, never lost); one after the snapshot is
 * recorded by the kernel for the next close. A tracked page not written in
 * LRC_WP_IDLE intervals in a row leaves tracking: it is write-protected,
 * scanned once more (a write that slipped in before the protection closes
 * normally), and closes as a page of the fault path; before that, an idle
 * close just moves its twin to the next interval. A notice for a tracked page takes
 * it out of tracking the same way before the page is invalidated.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "lrc.h"
#include "vm/wp.h"

/* The tracker is opened by dsm__proto_wp_init (wp_init.c). */
int dsm__lrc_wp_init(struct dsm_node *n)
{
	return dsm__proto_wp_init(n, "lrc");
}

/* Page p was written in two intervals in a row: let the kernel record its
 * writes from now on. Fault path (async-signal-safe); region lock held;
 * the page is DIRTY, twinned and writable. */
void dsm__lrc_wp_track(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];

	if (!n->region->wp || lp->tracked || dsm__wp_track(n->region->wp, p, 1) < 0)
		return;
	lp->tracked = 1;
	if (!lp->tlisted) {
		lp->tlisted = 1;
		st->tracked[st->ntracked++] = (uint32_t)p;
	}
}

/* Drop page p from tracking; not written since the last close, its twin
 * equals the page and goes (no diff), else it closes as a listed page. */
static void untrack(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];

	lp->tracked = 0;
	lp->idle = 0;
	if (!lp->dirty && lp->twin) {
		dsm__lrc_twin_free(st, lp->twin, n->page_size);
		lp->twin = NULL;
	}
}

/* Tracked page p was not written in the closing interval: its twin (equal
 * to the page) becomes the next interval's; no notice, no diff. */
static void rest(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);

	st->pages[p].twin_iv = st->vc[st->me] + 2;
	dsm__lrc_step(n, p, &n->region->pages[p], LRC_EV_KEEP);
}

/* Is listed page p still tracked? If not, it leaves the list. */
static int still_tracked(void *arg, uint32_t p)
{
	struct lrc_page *lp = &((struct lrc_state *)arg)->pages[p];

	if (!lp->tracked)
		lp->tlisted = 0;
	return lp->tracked;
}

/* Tracked pages still tracked, compacted. */
static uint32_t compact(struct lrc_state *st)
{
	return st->ntracked = dsm__proto_wp_compact(st->tracked, st->ntracked,
						    still_tracked, st);
}

/*
 * At the close of an interval (region lock held): list the tracked pages
 * the kernel saw written as dirty; protect, re-scan and untrack the
 * others idle too long. An interval that wrote nothing does not close
 * (no interval id is used) and counts for no page's idleness. Returns 0 or a negative errno (then every tracked page is
 * treated as written: nothing is lost, a diff may be empty).
 */
int dsm__lrc_wp_collect(struct dsm_node *n)
{
	struct lrc_state *st = LS(n);
	struct dsm_wp *wp = n->region->wp;
	uint32_t nu = 0, *buf, *idle;
	ssize_t got;

	if (!wp || !compact(st))
		return 0;
	buf = malloc(2 * (size_t)st->ntracked * sizeof(*buf));
	if (!buf || (got = dsm__proto_wp_collect_list(wp, st->tracked, st->ntracked,
						       buf)) < 0) {
		for (uint32_t i = 0; i < st->ntracked; i++)
			dsm__lrc_list_dirty(st, st->tracked[i]);
		free(buf);
		return buf ? (int)got : -ENOMEM;
	}
	for (ssize_t i = 0; i < got; i++)
		if (st->pages[buf[i]].tracked)
			dsm__lrc_list_dirty(st, buf[i]);
	if (!st->ndirty) { /* nothing written: the interval stays open */
		free(buf);
		return 0;
	}
	idle = buf + st->ntracked;
	for (uint32_t i = 0; i < st->ntracked; i++) {
		uint32_t p = st->tracked[i];
		struct lrc_page *lp = &st->pages[p];
		if (lp->dirty)
			lp->idle = 0;
		else if (++lp->idle < LRC_WP_IDLE)
			rest(n, p); /* stays tracked, unchanged */
		else
			idle[nu++] = p;
	}
	if (nu) {
		dsm__lrc_protect_list(n, idle, nu, PROT_READ);
		got = dsm__proto_wp_collect_list(wp, idle, nu, buf);
		for (ssize_t i = 0; i < got; i++)
			if (st->pages[buf[i]].tracked && !st->pages[buf[i]].dirty)
				dsm__lrc_list_dirty(st, buf[i]); /* slipped in */
		for (uint32_t i = 0; i < nu; i++) {
			size_t p = idle[i];
			int listed = st->pages[p].dirty;
			untrack(n, p);
			if (!listed) /* closes here: not in the dirty list */
				dsm__lrc_step(n, p, &n->region->pages[p], LRC_EV_CLOSE);
		}
	}
	free(buf);
	return got < 0 ? (int)got : 0;
}

/* Close tracked page p, written in the closing interval: its diff against
 * a snapshot, which becomes the twin of the next interval. Region lock
 * held; called before the interval count moves. */
int dsm__lrc_wp_keep(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	unsigned char *snap = dsm__lrc_twin_alloc(st, n->page_size);
	int err;

	if (!snap)
		return -ENOMEM;
	memcpy(snap, dsm__page_rt(n->region, p), n->page_size);
	if ((err = dsm__lrc_diff_against(n, p, snap))) {
		dsm__lrc_twin_free(st, snap, n->page_size);
		return err;
	}
	dsm__lrc_twin_free(st, lp->twin, n->page_size);
	lp->twin = snap;
	lp->wrote_iv = st->vc[st->me] + 1;
	lp->twin_iv = st->vc[st->me] + 2;
	DSM_STAT_ADD(n, twins, 1);
	return dsm__lrc_step(n, p, &n->region->pages[p], LRC_EV_KEEP);
}

/* A notice for page p arrived (its access just revoked): if tracked, learn
 * whether the open interval wrote it and leave tracking, so invalidation
 * treats it as a page of the fault path. Region lock held. */
void dsm__lrc_wp_leave(struct dsm_node *n, size_t p)
{
	struct lrc_state *st = LS(n);
	uint32_t one, page = (uint32_t)p;

	if (!st->pages[p].tracked)
		return;
	if (dsm__proto_wp_collect_list(n->region->wp, &page, 1, &one) != 0)
		dsm__lrc_list_dirty(st, p); /* written (or unknown: assume so) */
	untrack(n, p);
}
