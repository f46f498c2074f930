/*
 * hlrc_wp.c — the home's shared pages with the kernel recording writes
 * (vm/wp.h, uffd only). docs/write-detection.md has the design.
 *
 * A home writes a private page in place, untracked (WRITE_EXCLUSIVE).
 * When it serves a copy the page becomes shared and its writes must be
 * tracked again: on the fault path it is write-protected (READ_SHARED)
 * and the next write faults (WRITE: twinless, listed dirty). Here it is
 * armed in the kernel instead and stays writable (ktrack): at each close
 * one PAGEMAP_SCAN says which such pages were written, and each of those
 * takes the same WRITE step the fault would have, before the dirty list
 * is closed. Anything that needs the page's exact state first (a home
 * migration decision) takes it out of kernel tracking: write-protect,
 * rescan, WRITE if it was written.
 *
 * A scan costs an ioctl per run of tracked pages at every close, a fault
 * costs ~2-6 us per page written: under DSM_WRITE_DETECT=auto the node
 * arms pages in the kernel only while many shared home pages are first
 * written per close (fft's transposes: thousands between barriers), and
 * stays on faults while closes are many and such writes few (a lock per
 * molecule: 92k closes, ~1k faults). dsm__hlrc_wp_adapt decides. The
 * range is registered with the kernel only while pages are armed
 * (DSM_WP_F_LAZY): registered, every page made writable again by an
 * mprotect faults in the kernel at its next write (sor at 4096^2 on a
 * paravirtualised VM: 0.55 s of write-notify faults in its first two
 * iterations).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "hlrc.h"
#include "internal.h"
#include "vm/wp.h"

/* May serving home page p, which just became READ_SHARED, leave it
 * writable with the kernel recording its writes? Region lock held. */
static int shareable(struct dsm_node *n, struct dsm_page *pg)
{
	return HS(n)->kmode && n->region->wp && pg->state == DSM_PAGE_READ_SHARED &&
	       pg->prot == (PROT_READ | PROT_WRITE);
}

static void listed(struct hlrc_state *st, size_t p)
{
	st->pages[p].ktrack = 1;
	if (!st->pages[p].klisted) {
		st->pages[p].klisted = 1;
		st->ktracked[st->nktracked++] = (uint32_t)p;
	}
}

/* Serving home page p, which just became READ_SHARED: arm it and keep it
 * writable. Returns 1 if the kernel tracks it (the caller must not
 * write-protect it), 0 for the fault path. Region lock held. */
int dsm__hlrc_wp_share(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	if (HS(n)->pages[p].ktrack)
		return 1;
	if (!shareable(n, pg) || dsm__wp_track(n->region->wp, p, 1) < 0)
		return 0;
	listed(HS(n), p);
	return 1;
}

/*
 * The same for the pages of a served run, armed with one ioctl per run of
 * neighbours (not one, with its TLB flush, per page): list[] holds the
 * served pages in ascending order; those left for the fault path (not
 * shareable, or their arming failed) are moved to prot[] (*nprot grows).
 * The caller write-protects prot[] and only then copies any page.
 */
void dsm__hlrc_wp_share_run(struct dsm_node *n, const uint32_t *list, uint32_t count,
			    uint32_t *prot, uint32_t *nprot)
{
	struct hlrc_state *st = HS(n);
	struct dsm_page *pages = n->region->pages;

	for (uint32_t i = 0, j; i < count; i = j) {
		size_t p = list[i];
		if (st->pages[p].ktrack || !shareable(n, &pages[p])) {
			if (!st->pages[p].ktrack &&
			    pages[p].prot != dsm__page_state_prot(pages[p].state))
				prot[(*nprot)++] = (uint32_t)p;
			j = i + 1;
			continue;
		}
		for (j = i + 1; j < count && list[j] == list[j - 1] + 1 &&
		     !st->pages[list[j]].ktrack && shareable(n, &pages[list[j]]); j++)
			;
		if (dsm__wp_track(n->region->wp, p, j - i) < 0) {
			for (uint32_t k = i; k < j; k++)
				prot[(*nprot)++] = list[k];
			continue;
		}
		for (uint32_t k = i; k < j; k++)
			listed(st, list[k]);
	}
}

/* Page p was written while kernel-tracked: the step its fault would have
 * taken; it leaves kernel tracking (DIRTY is writable anyway). */
static int written(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = &n->region->pages[p];

	HS(n)->pages[p].ktrack = 0;
	if (pg->state != DSM_PAGE_READ_SHARED)
		return 0;
	HS(n)->kwrites++;
	return dsm__hlrc_home_wrote(n, p, pg);
}

/* Is listed page p still kernel-tracked? If not, it leaves the list. */
static int still_tracked(void *arg, uint32_t p)
{
	struct hlrc_page *hp = &((struct hlrc_state *)arg)->pages[p];

	if (!hp->ktrack)
		hp->klisted = 0;
	return hp->ktrack;
}

/* Kernel-tracked pages, compacted. */
static uint32_t compact(struct hlrc_state *st)
{
	return st->nktracked = dsm__proto_wp_compact(st->ktracked, st->nktracked,
						     still_tracked, st);
}

/*
 * Before the open interval closes (region lock held): every kernel-tracked
 * page written since the last close takes its WRITE step, so the close
 * lists it. On a scan error every tracked page is taken as written (a
 * notice too many, never one too few).
 */
int dsm__hlrc_wp_collect(struct dsm_node *n)
{
	struct hlrc_state *st = HS(n);
	struct dsm_wp *wp = n->region->wp;
	uint32_t *buf;
	ssize_t got = -ENOMEM;
	int err = 0;

	if (!wp || !compact(st))
		return 0;
	if ((buf = malloc((size_t)st->nktracked * sizeof(*buf))))
		got = dsm__proto_wp_collect_list(wp, st->ktracked, st->nktracked, buf);
	for (ssize_t i = 0; i < got; i++)
		if (st->pages[buf[i]].ktrack)
			err = written(n, buf[i]) ?: err;
	if (got < 0)
		for (uint32_t i = 0; i < st->nktracked; i++)
			if (st->pages[st->ktracked[i]].ktrack)
				err = written(n, st->ktracked[i]) ?: err;
	free(buf);
	return err ? err : (got < 0 ? (int)got : 0);
}

/* Take home page p out of kernel tracking, into the fault path's exact
 * state: write-protect it (its state is READ_SHARED), then rescan: a write
 * before the protection is found and takes its WRITE step (the page is
 * then DIRTY and writable again). Region lock held. */
int dsm__hlrc_wp_leave(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = &n->region->pages[p];
	uint32_t one;
	size_t next;
	int err;

	if (!HS(n)->pages[p].ktrack)
		return 0;
	HS(n)->pages[p].ktrack = 0;
	if ((err = dsm__proto_set_prot(n, p, pg)))
		return err;
	if (dsm__wp_collect(n->region->wp, p, 1, &one, 1, &next) != 0)
		return written(n, p); /* written (or unknown: assume so) */
	return 0;
}

/* Mean shared home pages first written per close above which the kernel
 * records them, and below which faults do again (hysteresis). */
#define KLOAD_ON 16.0f
#define KLOAD_OFF 2.0f

/*
 * At each close, after the collect (region lock held): fold the open
 * interval's first writes to shared home pages into the mean and, under
 * auto, switch. Leaving kernel mode takes every tracked page back to the
 * fault path (protect, rescan), so closes scan nothing afterwards.
 */
int dsm__hlrc_wp_adapt(struct dsm_node *n)
{
	struct hlrc_state *st = HS(n);
	int err = 0;

	st->kload += ((float)st->kwrites - st->kload) / 8;
	st->kwrites = 0;
	if (!st->kadapt || !n->region->wp)
		return 0;
	if (!st->kmode && st->kload >= KLOAD_ON) {
		st->kmode = 1;
		DSM_DEBUG(n, "hlrc: %.1f shared home pages written per close: "
			  "the kernel records them", (double)st->kload);
	} else if (st->kmode && st->kload < KLOAD_OFF) {
		st->kmode = 0;
		DSM_DEBUG(n, "hlrc: %.1f shared home pages written per close: "
			  "back to write faults", (double)st->kload);
		for (uint32_t i = 0; i < st->nktracked; i++)
			err = dsm__hlrc_wp_leave(n, st->ktracked[i]) ?: err;
		/* none tracked: unregister, or every mprotect that makes a
		 * page writable again costs its next write a kernel fault */
		if (!compact(st) && !err)
			dsm__wp_rest(n->region->wp);
	}
	return err;
}
