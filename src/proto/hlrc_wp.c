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
 *
 * Assumed writes: a home page the closes found written each of the last
 * KSTREAK_MIN times it was served (fft's transposes write every plane
 * they share, at every step) is not armed when served again: it stays
 * writable with no kernel record, and a 128-bit hash of it is taken
 * before anyone copies it. The close (or anything that needs the exact
 * state, as for armed pages) compares: changed, it was written; unchanged
 * at a second close, it is write-protected (fault path) and its streak
 * ends. Each armed page
 * costs its first write a kernel fault, ~10 us on a paravirtualised VM
 * (fft: 65k per node per run); a hash costs ~0.5 us. Every KCHECK_EVERY-th
 * serve arms it for real. A write that leaves the page as it was is no
 * write: nothing changed that a notice would announce.
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

#define KSTREAK_MIN 2  /* closes in a row that found it written */
#define KCHECK_EVERY 8 /* an assumed page is armed for real every 8th serve */

/* Serving shareable home page p: may it go unarmed, assumed written?
 * Counts the serve either way. */
static int assume(struct hlrc_page *hp)
{
	if (hp->kstreak < KSTREAK_MIN || hp->kcheck >= KCHECK_EVERY - 1) {
		hp->kcheck = 0;
		return 0;
	}
	hp->kcheck++;
	return 1;
}

static void listed(struct hlrc_state *st, size_t p, int assumed)
{
	st->pages[p].ktrack = 1;
	st->pages[p].kassume = (uint8_t)assumed;
	if (!st->pages[p].klisted) {
		st->pages[p].klisted = 1;
		st->ktracked[st->nktracked++] = (uint32_t)p;
	}
}

/* Two 64-bit lanes over alternate words, each step a bijection of its
 * lane: a change to one word always changes the result; changes to
 * several collide with probability ~2^-128. */
static struct hlrc_khash page_hash(const uint64_t *w, size_t words)
{
	struct hlrc_khash h = { 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full };

	for (size_t i = 0; i + 1 < words; i += 2) {
		h.a = (h.a ^ w[i]) * 0xff51afd7ed558ccdull;
		h.a ^= h.a >> 32;
		h.b = (h.b ^ w[i + 1]) * 0xc4ceb9fe1a85ec53ull;
		h.b ^= h.b >> 29;
	}
	return h;
}

static struct hlrc_khash hash_of(struct dsm_node *n, size_t p)
{
	return page_hash((const void *)dsm__page_rt(n->region, p),
			 n->page_size / sizeof(uint64_t));
}

/* Serving page p unarmed: listed as assumed, with its hash, taken before
 * any copy of it is (so a later difference is a write after the copy). */
static void assumed(struct dsm_node *n, size_t p)
{
	listed(HS(n), p, 1);
	HS(n)->pages[p].kgrace = 0;
	HS(n)->khash[p] = hash_of(n, p);
}

/* Serving home page p, which just became READ_SHARED: arm it and keep it
 * writable. Returns 1 if the kernel tracks it (the caller must not
 * write-protect it), 0 for the fault path. Region lock held. */
int dsm__hlrc_wp_share(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	struct hlrc_page *hp = &HS(n)->pages[p];

	if (hp->ktrack) {
		hp->kstreak = hp->kassume ? hp->kstreak : 0; /* not written since */
		return 1;
	}
	if (!shareable(n, pg))
		return 0;
	if (assume(hp)) {
		assumed(n, p);
		return 1;
	}
	if (dsm__wp_track(n->region->wp, p, 1) < 0)
		return 0;
	listed(HS(n), p, 0);
	return 1;
}

/* Arm list[from, from + len), consecutive pages, with one ioctl; on
 * failure they go to prot[] (the fault path). */
static void arm_run(struct dsm_node *n, const uint32_t *list, uint32_t from, uint32_t len,
		    uint32_t *prot, uint32_t *nprot)
{
	if (!len)
		return;
	if (dsm__wp_track(n->region->wp, list[from], len) < 0) {
		for (uint32_t k = 0; k < len; k++)
			prot[(*nprot)++] = list[from + k];
		return;
	}
	for (uint32_t k = 0; k < len; k++)
		listed(HS(n), list[from + k], 0);
}

/*
 * The same for the pages of a served run, armed with one ioctl per run of
 * neighbours (not one, with its TLB flush, per page): list[] holds the
 * served pages in ascending order; those left for the fault path (not
 * shareable, or their arming failed) are moved to prot[] (*nprot grows).
 * Assumed pages are listed unarmed. The caller write-protects prot[]
 * and only then copies any page.
 */
void dsm__hlrc_wp_share_run(struct dsm_node *n, const uint32_t *list, uint32_t count,
			    uint32_t *prot, uint32_t *nprot)
{
	struct hlrc_state *st = HS(n);
	struct dsm_page *pages = n->region->pages;
	uint32_t from = 0, len = 0;

	for (uint32_t i = 0; i < count; i++) {
		size_t p = list[i];
		if (st->pages[p].ktrack) { /* armed: not written since */
			st->pages[p].kstreak = st->pages[p].kassume ? st->pages[p].kstreak : 0;
			continue;
		}
		if (!shareable(n, &pages[p])) {
			if (pages[p].prot != dsm__page_state_prot(pages[p].state))
				prot[(*nprot)++] = (uint32_t)p;
			continue;
		}
		if (assume(&st->pages[p])) {
			assumed(n, p);
			continue;
		}
		if (len && from + len == i && list[i - 1] + 1 == p) {
			len++;
			continue;
		}
		arm_run(n, list, from, len, prot, nprot);
		from = i;
		len = 1;
	}
	arm_run(n, list, from, len, prot, nprot);
}

/*
 * Home write runs. A write fault on home page p (READ_SHARED on the fault
 * path: shared, write-protected) that continues a walk (the home pages
 * before it, or after it for a walk backwards, were written or opened in
 * this way since) opens twice as many home pages ahead of it as the walk
 * has behind it (2, 4, ... up to HOME_RUN_MAX) as assumed pages: hashed,
 * listed, writable in one mprotect. The close compares each hash, as for
 * a page served assumed: changed, it takes its WRITE step (its notice is
 * the one its fault would have given); unchanged, it stays open through
 * one more interval, then is write-protected again. So a home rewriting
 * the pages another node read (qs partitioning its block after the other
 * node's first pass: 16k pages) takes a fault per run, not per page
 * (~25 us each on a paravirtualised VM: a SIGSEGV and an mprotect with
 * its TLB shootdown). Region lock held; fault path: no allocation.
 */
#define HOME_RUN_MAX 32

/* Was home page q written in the open interval, or opened ahead? */
static int home_walked(struct dsm_node *n, size_t q)
{
	const struct hlrc_state *st = HS(n);
	const struct hlrc_page *hq = &st->pages[q];

	return (n->region->pages[q].flags & DSM_PGF_INIT) && hq->home == st->me &&
	       (n->region->pages[q].state == DSM_PAGE_DIRTY || (hq->ktrack && hq->kassume));
}

/* May home page q be opened ahead: shared, on the fault path, nothing
 * about it in flight? */
static int home_openable(struct dsm_node *n, size_t q)
{
	const struct hlrc_state *st = HS(n);
	const struct hlrc_page *hq = &st->pages[q];
	const struct dsm_page *pg = &n->region->pages[q];

	return (pg->flags & DSM_PGF_INIT) && hq->home == st->me &&
	       pg->state == DSM_PAGE_READ_SHARED && !hq->ktrack && !hq->flushing &&
	       !hq->fetching && !hq->tape && !hq->fresh;
}

unsigned dsm__hlrc_wp_home_run(struct dsm_node *n, size_t p)
{
	size_t first = 0;
	unsigned k = dsm__hlrc_walk_ahead(n, p, HOME_RUN_MAX, home_walked, home_openable,
					  &first);

	for (unsigned i = 0; i < k; i++) /* hashed while still write-protected */
		assumed(n, first + i);
	/* if this fails they stay write-protected: their writes fault */
	if (k)
		(void)dsm__vm_protect(n->region, first, k, PROT_READ | PROT_WRITE);
	return k;
}

/* Page p was written while kernel-tracked: the step its fault would have
 * taken; it leaves kernel tracking (DIRTY is writable anyway). */
static int written(struct dsm_node *n, size_t p)
{
	struct dsm_page *pg = &n->region->pages[p];

	HS(n)->pages[p].ktrack = HS(n)->pages[p].kassume = 0;
	if (pg->state != DSM_PAGE_READ_SHARED)
		return 0;
	HS(n)->kwrites++;
	return dsm__hlrc_home_wrote(n, p, pg);
}

static int changed(struct dsm_node *n, size_t p)
{
	struct hlrc_khash h = hash_of(n, p), *was = &HS(n)->khash[p];

	return h.a != was->a || h.b != was->b;
}

/* Assumed page p leaves tracking: written (its WRITE step; it stays
 * writable) if it changed since it was served; else write-protected,
 * with a second look for a write that came before the protection. Its
 * streak ends if it was not written. Region lock held. */
static int settle(struct dsm_node *n, size_t p)
{
	struct hlrc_page *hp = &HS(n)->pages[p];
	int err;

	if (changed(n, p))
		return written(n, p);
	hp->ktrack = 0;
	if ((err = dsm__proto_set_prot(n, p, &n->region->pages[p])))
		return err;
	if (changed(n, p))
		return written(n, p);
	hp->kassume = hp->kstreak = 0;
	return 0;
}

/* At a close: an assumed page that changed was written; one unchanged
 * stays assumed through one more interval (fft writes a plane in the
 * interval after the one its readers fetch it in, as an armed page
 * stays armed), then settles: it leaves tracking and is appended to
 * out[*nout] for settle_all. */
static int close_assumed(struct dsm_node *n, uint32_t p, uint32_t *out, uint32_t *nout)
{
	struct hlrc_page *hp = &HS(n)->pages[p];

	if (changed(n, p))
		return written(n, p);
	if (!hp->kgrace) {
		hp->kgrace = 1;
		return 0;
	}
	hp->ktrack = 0;
	out[(*nout)++] = p;
	return 0;
}

/* settle() for the pages[] a close let go, with one mprotect per run of
 * neighbours instead of one per page: a downgrade flushes the other
 * CPUs' TLBs, 28-46 us a call on a paravirtualised VM, and fft settles
 * 4,000 pages a node (docs/performance.md). Then the second look, page
 * by page. Region lock held. */
static int settle_all(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	int err = 0;

	dsm__hlrc_protect_state(n, pages, count);
	for (uint32_t i = 0; i < count; i++) {
		struct hlrc_page *hp = &HS(n)->pages[pages[i]];
		if (changed(n, pages[i]))
			err = written(n, pages[i]) ?: err;
		else
			hp->kassume = hp->kstreak = 0;
	}
	return err;
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

/* The kernel reports armed pages out[0, got) written: each extends its
 * streak (written before it was served again) and takes its WRITE step.
 * The streak ends where an armed page is served again or leaves tracking
 * unwritten. */
static int verdict(struct dsm_node *n, const uint32_t *out, ssize_t got)
{
	struct hlrc_state *st = HS(n);
	int err = 0;

	for (ssize_t i = 0; i < got; i++) {
		struct hlrc_page *hp = &st->pages[out[i]];
		if (!hp->ktrack)
			continue;
		hp->kstreak += hp->kstreak < 3;
		err = written(n, out[i]) ?: err;
	}
	return err;
}

/*
 * Before the open interval closes (region lock held): every kernel-tracked
 * page written since the last close takes its WRITE step, so the close
 * lists it; so does every assumed one that changed. On a scan error every
 * tracked page is taken as written (a notice too many, never one too
 * few).
 */
int dsm__hlrc_wp_collect(struct dsm_node *n)
{
	struct hlrc_state *st = HS(n);
	struct dsm_wp *wp = n->region->wp;
	uint32_t *buf, nscan = 0;
	ssize_t got = -ENOMEM;
	int err = 0;

	if (!compact(st))
		return 0;
	if ((buf = malloc((size_t)st->nktracked * 3 * sizeof(*buf)))) {
		uint32_t *scan = buf + st->nktracked, *settled = scan + st->nktracked;
		uint32_t nsettled = 0;
		for (uint32_t i = 0; i < st->nktracked; i++) {
			uint32_t p = st->ktracked[i];
			if (st->pages[p].kassume)
				err = close_assumed(n, p, settled, &nsettled) ?: err;
			else
				scan[nscan++] = p;
		}
		err = settle_all(n, settled, nsettled) ?: err;
		/* armed pages need the kernel's record; assumed ones (home
		 * runs, under DSM_WRITE_DETECT=segv too) only their hashes */
		got = !nscan ? 0 : wp ? dsm__proto_wp_collect_list(wp, scan, nscan, buf) : -EINVAL;
		if (got >= 0)
			err = verdict(n, buf, got) ?: err;
	}
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
	if (HS(n)->pages[p].kassume)
		return settle(n, p);
	if (dsm__wp_collect(n->region->wp, p, 1, &one, 1, &next) != 0)
		return written(n, p); /* written (or unknown: assume so) */
	HS(n)->pages[p].kstreak = 0;
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
