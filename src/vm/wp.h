/*
 * wp.h — write detection for a range of pages (src/vm): which pages were
 * written since the last look, without a fault per page where the kernel
 * can tell us.
 *
 * A tracker covers one range (the application view of the region, or any
 * page-aligned mapping). Pages in it are either untracked (the caller
 * learns of writes its own way, e.g. by write-protecting and taking the
 * fault) or tracked: writable, and every write to them is remembered until
 * the next collect, which returns the written pages and re-arms them in
 * the same step. A write that races a collect is reported by that collect
 * or by the next one, never dropped.
 *
 * Two implementations, chosen once when the tracker is opened
 * (DSM_WRITE_DETECT=auto|uffd|segv):
 *  - uffd (wp_uffd.c): a userfaultfd registered for write-protection with
 *    UFFD_FEATURE_WP_ASYNC; the kernel resolves the first write to an
 *    armed page itself (no signal) and the PAGEMAP_SCAN ioctl returns the
 *    written pages and re-arms them (Linux >= 6.7);
 *  - segv (wp_segv.c): tracked pages are made read-only; the caller's
 *    SIGSEGV handler passes write faults on them to dsm__wp_fault, which
 *    records the page and makes it writable; collect re-protects.
 * Under uffd the caller's protections are its own business (a tracked page
 * must simply be left writable); under segv the tracker owns the
 * protection of its tracked pages.
 *
 * Thread-safety: track/untrack/collect are serialised by the caller (one
 * lock per tracker user); writes and dsm__wp_fault may run concurrently
 * with all of them. dsm__wp_fault is async-signal-safe.
 */
#ifndef DSM_VM_WP_H
#define DSM_VM_WP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdatomic.h>

enum dsm_wp_mode { DSM_WP_AUTO = 0, DSM_WP_UFFD, DSM_WP_SEGV };

struct dsm_wp;

struct dsm_wp_ops {
	const char *name; /* "uffd", "segv" */
	/* Set up w (base, len, page and fd fields filled by dsm__wp_open).
	 * 0, or a negative errno with *why saying what the system lacks. */
	int (*open)(struct dsm_wp *w, const char **why);
	void (*close)(struct dsm_wp *w);
	int (*track)(struct dsm_wp *w, size_t first, size_t count);
	int (*untrack)(struct dsm_wp *w, size_t first, size_t count);
	ssize_t (*collect)(struct dsm_wp *w, size_t first, size_t count,
			   uint32_t *out, size_t cap, size_t *next);
	void (*rest)(struct dsm_wp *w); /* NULL: nothing to undo */
};

struct dsm_wp {
	const struct dsm_wp_ops *ops;
	unsigned char *base;   /* first byte of the range */
	size_t len;            /* bytes, a multiple of page */
	size_t page;           /* page size */
	size_t npages;
	unsigned flags;        /* DSM_WP_F_* */
	int fd;                /* uffd: the userfaultfd */
	int pagemap;           /* uffd: /proc/self/pagemap */
	int registered;        /* uffd: the range is registered now */
	_Atomic uint8_t *bits; /* segv: per page DSM_WP_BIT_* */
};

/* dsm__wp_open flags. PRESENT: arm only pages mapped now (no
 * UFFD_FEATURE_WP_UNPOPULATED, so a huge mostly unmapped range costs no
 * page tables); in private anonymous memory a write to a page not mapped
 * when armed is reported as written all the same (it gets a fresh,
 * unprotected page). */
#define DSM_WP_F_PRESENT 0x1u
/* LAZY (uffd): register the range at the first track, not at open, and
 * let dsm__wp_rest unregister it. While a shared mapping is registered,
 * the kernel sets no PTE's write bit when an mprotect restores write
 * access: every page's next write takes a kernel fault (write-notify),
 * tracked or not (13.5 us a page on a paravirtualised VM; docs/
 * write-detection.md). A user that tracks pages only some of the time
 * pays that only while it does. */
#define DSM_WP_F_LAZY 0x2u

/* segv: per-page bits */
#define DSM_WP_BIT_TRACKED 0x01
#define DSM_WP_BIT_WRITTEN 0x02

/*
 * Open a tracker for [base, base + len) (page-aligned; the mapping must
 * exist). mode AUTO tries uffd, then segv; UFFD fails if the kernel, the
 * mapping type or the privileges do not allow it. On success *out is set
 * and *why names why uffd was not used under AUTO ("" when it was). On
 * failure returns a negative errno with *why saying what is missing.
 */
int dsm__wp_open(struct dsm_wp **out, void *base, size_t len, size_t page,
		 enum dsm_wp_mode mode, unsigned flags, const char **why);
void dsm__wp_close(struct dsm_wp *w);

/* "uffd" or "segv". */
static inline const char *dsm__wp_name(const struct dsm_wp *w)
{
	return w->ops->name;
}

/* Start tracking pages [first, first + count) (indices from base): writes
 * from now on are reported by collect. Under uffd the pages must be
 * writable in the caller's protections. 0 or a negative errno. */
static inline int dsm__wp_track(struct dsm_wp *w, size_t first, size_t count)
{
	return w->ops->track(w, first, count);
}

/* Stop tracking (writes no longer reported; under segv the pages are made
 * writable). 0 or a negative errno. */
static inline int dsm__wp_untrack(struct dsm_wp *w, size_t first, size_t count)
{
	return w->ops->untrack(w, first, count);
}

/*
 * Collect the tracked pages in [first, first + count) written since they
 * were last collected or tracked, and re-arm them: up to cap page indices
 * go to out, in ascending order. Returns how many, or a negative errno.
 * *next is where to continue: first + count when the range is done, less
 * when out filled up. Under uffd, pages in the range that are present but
 * were never tracked are reported too (the kernel cannot tell them
 * apart) and become armed: filter them out by what you track, and scan
 * only runs of tracked pages (dsm__proto_wp_collect_list): an armed page
 * nobody tracks costs its next write a kernel fault. The caller
 * reads a reported page's contents only after this returns: a write that
 * lands after that point is reported by the next collect.
 */
static inline ssize_t dsm__wp_collect(struct dsm_wp *w, size_t first, size_t count,
				      uint32_t *out, size_t cap, size_t *next)
{
	return w->ops->collect(w, first, count, out, cap, next);
}

/* Nothing is tracked now (every tracked page was untracked or left
 * through the caller's own protections): under DSM_WP_F_LAZY, unregister
 * the range until the next track. Harmless otherwise. */
static inline void dsm__wp_rest(struct dsm_wp *w)
{
	if (w->ops->rest)
		w->ops->rest(w);
}

/* segv only: a write fault at addr. Returns 1 when addr is in a tracked
 * page (now recorded and writable: retry the access), 0 when the fault is
 * not the tracker's. Async-signal-safe. */
int dsm__wp_fault(struct dsm_wp *w, const void *addr);

extern const struct dsm_wp_ops dsm__wp_uffd;
extern const struct dsm_wp_ops dsm__wp_segv;

#endif /* DSM_VM_WP_H */
