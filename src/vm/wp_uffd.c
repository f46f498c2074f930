/*
 * wp_uffd.c — write detection by the kernel (wp.h): a userfaultfd
 * registered for write-protection in asynchronous mode
 * (UFFD_FEATURE_WP_ASYNC, Linux 6.7): the first write to an armed page is
 * resolved inside the kernel, which clears the page's write-protect bit
 * (no signal, no VMA split); the PAGEMAP_SCAN ioctl on /proc/self/pagemap
 * returns the pages whose bit is clear ("written") and sets it again, all
 * under the page-table lock and with one TLB flush. Debian 12's headers
 * predate both; the ABI constants are defined here when missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#include "wp.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
struct page_region {
	__u64 start;      /* first byte */
	__u64 end;        /* one past the last byte */
	__u64 categories; /* PAGE_IS_* of the run */
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct pm_scan_arg {
	__u64 size;                /* sizeof(struct pm_scan_arg) */
	__u64 flags;               /* PM_SCAN_* */
	__u64 start;               /* range to walk */
	__u64 end;
	__u64 walk_end;            /* out: where the walk stopped */
	__u64 vec;                 /* struct page_region[vec_len] */
	__u64 vec_len;
	__u64 max_pages;           /* 0: no limit */
	__u64 category_inverted;
	__u64 category_mask;       /* all of these */
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#define SCAN_VEC 256 /* runs per PAGEMAP_SCAN call */

/* Register or unregister the whole range (DSM_WP_F_LAZY). Unregistering
 * clears every armed page's write-protect bit: no page is tracked then. */
static int do_register(struct dsm_wp *w)
{
	struct uffdio_register reg = {
		.range = { (uintptr_t)w->base, w->len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(w->fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	w->registered = 1;
	return 0;
}

static void unregister(struct dsm_wp *w)
{
	struct uffdio_range range = { (uintptr_t)w->base, w->len };

	if (ioctl(w->fd, UFFDIO_UNREGISTER, &range) == 0)
		w->registered = 0;
}

static int uffd_open(struct dsm_wp *w, const char **why)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
			    (w->flags & DSM_WP_F_PRESENT ? 0 : UFFD_FEATURE_WP_UNPOPULATED),
	};
	struct pm_scan_arg probe = { .size = sizeof(probe) };
	int err;

	/* User-mode faults only: allowed without privilege whatever
	 * vm.unprivileged_userfaultfd says (Linux 5.11); asynchronous
	 * write-protect faults never reach the descriptor anyway. */
	w->registered = 0;
	w->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (w->fd < 0) {
		err = -errno;
		*why = err == -ENOSYS ? "the kernel has no userfaultfd"
				      : "userfaultfd refused (privileges or vm.unprivileged_userfaultfd)";
		return err;
	}
	if (ioctl(w->fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		*why = "the kernel lacks userfaultfd asynchronous write-protection "
		       "for shared memory (UFFD_FEATURE_WP_ASYNC, Linux >= 6.7)";
		goto fail_fd;
	}
	if ((err = do_register(w))) {
		*why = "userfaultfd cannot write-protect this mapping type";
		goto fail_fd;
	}
	w->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (w->pagemap < 0) {
		err = -errno;
		*why = "cannot open /proc/self/pagemap";
		goto fail_fd;
	}
	probe.start = probe.end = (uintptr_t)w->base;
	if (ioctl(w->pagemap, PAGEMAP_SCAN, &probe) < 0) {
		err = -errno;
		*why = "the kernel lacks the PAGEMAP_SCAN ioctl (Linux >= 6.7)";
		goto fail_pm;
	}
	if (w->flags & DSM_WP_F_LAZY) /* probed: registered at the first track */
		unregister(w);
	return 0;

fail_pm:
	close(w->pagemap);
fail_fd:
	close(w->fd); /* closing the descriptor unregisters the range */
	return err;
}

static void uffd_close(struct dsm_wp *w)
{
	close(w->pagemap);
	close(w->fd);
}

static int set_wp(struct dsm_wp *w, size_t first, size_t count, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { (uintptr_t)(w->base + first * w->page), count * w->page },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	return ioctl(w->fd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

/* DSM_WP_F_PRESENT: arm the mapped pages only, one ioctl per run found
 * by a PAGEMAP_SCAN (which skips unmapped tables whole: 0.1 ms for a
 * 3 TiB range with a few pages, where one UFFDIO_WRITEPROTECT over it
 * walks every page-table slot: seconds). */
static int track_present(struct dsm_wp *w, size_t first, size_t count)
{
	struct page_region vec[SCAN_VEC];
	uintptr_t at = (uintptr_t)(w->base + first * w->page);
	uintptr_t end = (uintptr_t)(w->base + (first + count) * w->page);

	while (at < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = at, .end = end,
			.vec = (uintptr_t)vec, .vec_len = SCAN_VEC,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long r = ioctl(w->pagemap, PAGEMAP_SCAN, &a);
		if (r < 0)
			return -errno;
		for (long i = 0; i < r; i++) {
			int err = set_wp(w, (vec[i].start - (uintptr_t)w->base) / w->page,
					 (vec[i].end - vec[i].start) / w->page, 1);
			if (err)
				return err;
		}
		if (a.walk_end <= at)
			return -EIO;
		at = a.walk_end;
	}
	return 0;
}

static int uffd_track(struct dsm_wp *w, size_t first, size_t count)
{
	int err;

	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	if (!w->registered && (err = do_register(w)))
		return err;
	if (w->flags & DSM_WP_F_PRESENT)
		return track_present(w, first, count);
	return set_wp(w, first, count, 1);
}

static int uffd_untrack(struct dsm_wp *w, size_t first, size_t count)
{
	return w->registered ? set_wp(w, first, count, 0) : 0;
}

static void uffd_rest(struct dsm_wp *w)
{
	if (w->registered && (w->flags & DSM_WP_F_LAZY))
		unregister(w);
}

/* One scan call per SCAN_VEC runs of written pages; each call re-arms what
 * it reports before returning (max_pages keeps it from arming pages that
 * do not fit in out). */
static ssize_t uffd_collect(struct dsm_wp *w, size_t first, size_t count,
			    uint32_t *out, size_t cap, size_t *next)
{
	struct page_region vec[SCAN_VEC];
	uintptr_t end = (uintptr_t)(w->base + (first + count) * w->page);
	uintptr_t at = (uintptr_t)(w->base + first * w->page);
	size_t n = 0;

	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	if (!w->registered) { /* nothing armed, nothing written to report */
		*next = first + count;
		return 0;
	}
	while (at < end && n < cap) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = at, .end = end,
			.vec = (uintptr_t)vec, .vec_len = SCAN_VEC,
			.max_pages = cap - n,
			/* written and mapped (or swapped), not the shared
			 * zero page: an unmapped slot, or one a read mapped to
			 * the zero page, has no write-protect bit, so counts as
			 * "written" to the kernel (and scanning an unmapped
			 * one would arm it, building page tables) */
			.category_inverted = PAGE_IS_PFNZERO,
			.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long r = ioctl(w->pagemap, PAGEMAP_SCAN, &a);
		if (r < 0)
			return -errno;
		for (long i = 0; i < r; i++)
			for (uintptr_t b = vec[i].start; b < vec[i].end && n < cap; b += w->page)
				out[n++] = (uint32_t)((b - (uintptr_t)w->base) / w->page);
		if (a.walk_end <= at)
			return -EIO; /* no progress: should not happen */
		at = a.walk_end;
	}
	*next = (at - (uintptr_t)w->base) / w->page;
	return (ssize_t)n;
}

const struct dsm_wp_ops dsm__wp_uffd = {
	.name = "uffd",
	.open = uffd_open,
	.close = uffd_close,
	.track = uffd_track,
	.untrack = uffd_untrack,
	.collect = uffd_collect,
	.rest = uffd_rest,
};
