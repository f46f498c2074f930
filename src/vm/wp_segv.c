/*
 * wp_segv.c — write detection by protection faults (wp.h): a tracked page
 * is read-only until its first write, which faults; the caller's SIGSEGV
 * handler hands the fault to dsm__wp_fault, which records the page and
 * makes it writable. Collect write-protects the written pages again. The
 * fallback where userfaultfd's asynchronous write-protection is missing.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "wp.h"

static int segv_open(struct dsm_wp *w, const char **why)
{
	/* One byte per page, reserved and backed lazily (4 TiB regions). */
	void *b = mmap(NULL, w->npages, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (b == MAP_FAILED)
		return (*why = "cannot reserve the write-tracking bitmap"), -ENOMEM;
	w->bits = b;
	return 0;
}

static void segv_close(struct dsm_wp *w)
{
	if (w->bits)
		munmap((void *)w->bits, w->npages);
}

static int protect(struct dsm_wp *w, size_t first, size_t count, int prot)
{
	return mprotect(w->base + first * w->page, count * w->page, prot) < 0 ? -errno : 0;
}

/* Mark first the bits, then protect: a write between the two faults and
 * finds the page tracked, so it is recorded. */
static int segv_track(struct dsm_wp *w, size_t first, size_t count)
{
	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		atomic_store(&w->bits[first + i], DSM_WP_BIT_TRACKED);
	return protect(w, first, count, PROT_READ);
}

static int segv_untrack(struct dsm_wp *w, size_t first, size_t count)
{
	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		atomic_store(&w->bits[first + i], 0);
	return protect(w, first, count, PROT_READ | PROT_WRITE);
}

/* Report written pages and protect them again. The bit is cleared
 * before the page is protected: a write between the two lands in memory
 * before the caller reads the page (it is reported now); a write after
 * the mprotect faults and sets the bit again (reported next time). */
static ssize_t segv_collect(struct dsm_wp *w, size_t first, size_t count,
			    uint32_t *out, size_t cap, size_t *next)
{
	size_t i = first, end = first + count, n = 0;

	if (first > w->npages || count > w->npages - first)
		return -EINVAL;
	for (; i < end && n < cap; i++) {
		if (!(atomic_fetch_and(&w->bits[i], (uint8_t)~DSM_WP_BIT_WRITTEN) &
		      DSM_WP_BIT_WRITTEN))
			continue;
		int err = protect(w, i, 1, PROT_READ);
		if (err)
			return err;
		out[n++] = (uint32_t)i;
	}
	*next = i;
	return (ssize_t)n;
}

int dsm__wp_fault(struct dsm_wp *w, const void *addr)
{
	const unsigned char *a = addr;
	size_t p;
	uint8_t b;

	if (w->ops != &dsm__wp_segv || a < w->base || a >= w->base + w->len)
		return 0;
	p = (size_t)(a - w->base) / w->page;
	b = atomic_load(&w->bits[p]);
	if (!(b & DSM_WP_BIT_TRACKED))
		return 0;
	/* Writable first, then recorded: a collect in between skips the page
	 * (not yet recorded) and leaves it writable; the bit set after it is
	 * seen by the next collect, and the access retries only after that. */
	if (protect(w, p, 1, PROT_READ | PROT_WRITE) < 0)
		return 0;
	atomic_fetch_or(&w->bits[p], DSM_WP_BIT_WRITTEN);
	return 1;
}

const struct dsm_wp_ops dsm__wp_segv = {
	.name = "segv",
	.open = segv_open,
	.close = segv_close,
	.track = segv_track,
	.untrack = segv_untrack,
	.collect = segv_collect,
};
