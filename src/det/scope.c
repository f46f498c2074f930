/*
 * scope.c — the scope of a deterministic context and its write tracking.
 *
 * While a tracker is active, every scope page is read-only (but a child's
 * fresh zone, see det.h); the first write to a page faults into
 * det_segv(), which copies the page into its twin slot, makes the page
 * writable and appends it to the tracker's list, so the cost of a round is
 * proportional to the pages written. A fault on the page after a twinned
 * one (a sequential writer) twins up to DET_AHEAD pages at once. Twins and page
 * states live in reserved mappings (backed lazily), so the handler never
 * allocates. Faults outside the scope, or on a page we already made
 * writable, are chained to the handler installed before ours (libdsm's
 * region handler, ASan's, or the default action), so a real segfault still
 * kills the process with SIGSEGV.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "det/det.h"
#include "vm/wp.h"
#include "vm/vm.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels: EINVAL, ignored */
#endif

static struct sigaction old_segv;
static struct det_tracker *_Atomic active_trk;  /* the tracker faults go to */

static void *map_reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* A range of the scope: [addr, addr+len) widened to whole pages, with a
 * reserved twin pool and page-state array. */
int dsm__det_range_init(struct det_range *r, void *addr, size_t len, size_t page)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(page - 1);
	uintptr_t e = ((uintptr_t)addr + len + page - 1) & ~(uintptr_t)(page - 1);

	memset(r, 0, sizeof(*r));
	r->start = (unsigned char *)a;
	r->len = e - a;
	r->npages = r->len / page;
	r->twins = map_reserve(r->len);
	r->state = map_reserve(r->npages);
	if (!r->twins || !r->state) {
		dsm__det_range_close(r);
		return -ENOMEM;
	}
	return 0;
}

void dsm__det_range_close(struct det_range *r)
{
	if (r->twins)
		munmap(r->twins, r->len);
	if (r->state)
		munmap((void *)r->state, r->npages);
	r->twins = NULL;
	r->state = NULL;
}

int dsm__det_tracker_init(struct det_tracker *t, struct det_range *ranges,
			  int nranges, size_t page)
{
	size_t total = 0;

	for (int i = 0; i < nranges; i++)
		total += ranges[i].npages;
	memset(t, 0, sizeof(*t));
	t->ranges = ranges;
	t->nranges = nranges;
	t->page = page;
	t->cap = total;
	t->space_id = DSM_DET_PARENT;
	t->written = map_reserve(total * sizeof(uint64_t));
	return t->written ? 0 : -ENOMEM;
}

void dsm__det_tracker_close(struct det_tracker *t)
{
	if (t->written)
		munmap(t->written, t->cap * sizeof(uint64_t));
	t->written = NULL;
}

void dsm__det_tracker_reset(struct det_tracker *t)
{
	size_t n = atomic_load(&t->nwritten);

	for (size_t i = 0; i < n; i++) {
		uint64_t w = t->written[i];
		atomic_store(&t->ranges[w >> 48].state[w & 0xffffffffffffull],
			     DET_PG_CLEAN);
	}
	atomic_store(&t->nwritten, 0);
}

int dsm__det_find(const struct det_tracker *t, uintptr_t addr, int *ri, size_t *pi)
{
	for (int i = 0; i < t->nranges; i++) {
		const struct det_range *r = &t->ranges[i];
		if (addr >= (uintptr_t)r->start && addr - (uintptr_t)r->start < r->len) {
			*ri = i;
			*pi = (addr - (uintptr_t)r->start) / t->page;
			return 0;
		}
	}
	return -1;
}


/* Claim clean pages after pi for a sequential writer (the page before pi
 * is twinned already): up to DET_AHEAD in all, stopping at the first page
 * that is not clean, at the range's end or at the fresh zone. Returns how
 * many pages, pi included, the caller twins. */
static size_t claim_ahead(struct det_tracker *t, struct det_range *r, size_t pi)
{
	size_t n = 1;

	if (pi == 0 || atomic_load(&r->state[pi - 1]) != DET_PG_TWINNED)
		return 1;
	while (n < DET_AHEAD && pi + n < r->npages) {
		unsigned char *pg = r->start + (pi + n) * t->page;
		uint8_t expect = DET_PG_CLEAN;
		if ((pg >= t->fresh_lo && pg < t->fresh_hi) ||
		    !atomic_compare_exchange_strong(&r->state[pi + n], &expect, DET_PG_BUSY))
			break;
		n++;
	}
	return n;
}

static void fatal_mprotect(void)
{
	static const char msg[] = "dsm_det: cannot make a scope page "
				  "writable (vm.max_map_count?)\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* Twin page pi of range ri and make it writable; a writer going through
 * the range in order gets its next pages twinned in the same fault, with
 * one mprotect and their copy-on-write broken in one madvise. 0 = retry
 * the access, -1 = not ours to fix (already writable: a genuine fault). A
 * second thread faulting on the same page waits for the first. */
static int twin_page(struct det_tracker *t, int ri, size_t pi)
{
	struct det_range *r = &t->ranges[ri];
	uint8_t expect = DET_PG_CLEAN;
	unsigned char *pg = r->start + pi * t->page;
	size_t n;

	if (!atomic_compare_exchange_strong(&r->state[pi], &expect, DET_PG_BUSY)) {
		if (expect == DET_PG_TWINNED)
			return -1;
		while (atomic_load(&r->state[pi]) != DET_PG_TWINNED)
			dsm__cpu_relax();
		return 0;
	}
	n = claim_ahead(t, r, pi);
	memcpy(r->twins + pi * t->page, pg, n * t->page);
	if (mprotect(pg, n * t->page, PROT_READ | PROT_WRITE) < 0)
		fatal_mprotect();
	if (n > 1)
		(void)madvise(pg, n * t->page, MADV_POPULATE_WRITE);
	for (size_t i = 0; i < n; i++) {
		t->written[atomic_fetch_add(&t->nwritten, 1)] = ((uint64_t)ri << 48) | (pi + i);
		atomic_store(&r->state[pi + i], DET_PG_TWINNED);
	}
	return 0;
}

/* A child wrote to its watched range (outside the scope): note where,
 * say so, end the child (async-signal-safe). */
static void outside_write(struct det_tracker *t, void *addr)
{
	static const char msg[] = "dsm_det: a space wrote to the parent's stack, "
				  "outside the scope; the space fails\n";

	if (t->note) {
		t->note->outside_addr = (uint64_t)(uintptr_t)addr;
		t->note->outside_kind = DET_OUTSIDE_STACK;
	}
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(DET_EXIT_OUTSIDE);
}

static void det_segv(int sig, siginfo_t *si, void *uc)
{
	struct det_tracker *t = atomic_load(&active_trk);
	int saved_errno = errno, ri;
	size_t pi;

	if (t && (unsigned char *)si->si_addr >= t->watch_lo &&
	    (unsigned char *)si->si_addr < t->watch_hi)
		outside_write(t, si->si_addr);

	if (!t || dsm__det_find(t, (uintptr_t)si->si_addr, &ri, &pi) < 0 ||
	    twin_page(t, ri, pi) < 0)
		dsm__segv_chain(&old_segv, sig, si, uc);
	errno = saved_errno;
}

/* Install det_segv unless it is already the SIGSEGV handler (someone may
 * have replaced it since: a test framework, a library), chaining to the
 * handler it replaces. */
int dsm__det_handler_install(void)
{
	struct sigaction cur;

	if (sigaction(SIGSEGV, NULL, &cur) < 0)
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == det_segv)
		return 0;
	return dsm__segv_install(det_segv, &old_segv);
}

/* In a child: faults outside the scope take the default action, so a
 * crashing space dies with SIGSEGV and its parent reports it (the handlers
 * the parent had, libdsm's or a test framework's, must not run there). */
void dsm__det_handler_child(void)
{
	memset(&old_segv, 0, sizeof(old_segv));
	old_segv.sa_handler = SIG_DFL;
}

static int protect_all(struct det_tracker *t, int prot)
{
	for (int i = 0; i < t->nranges; i++)
		if (mprotect(t->ranges[i].start, t->ranges[i].len, prot) < 0)
			return -errno;
	return 0;
}

int dsm__det_track_start(struct det_tracker *t)
{
	int rc = dsm__det_handler_install();

	if (rc < 0)
		return rc;
	atomic_store(&active_trk, t);
	rc = protect_all(t, PROT_READ);
	if (rc == 0 && t->fresh_hi > t->fresh_lo &&
	    mprotect(t->fresh_lo, (size_t)(t->fresh_hi - t->fresh_lo),
		     PROT_READ | PROT_WRITE) < 0)
		rc = -errno;
	if (rc < 0) {
		protect_all(t, PROT_READ | PROT_WRITE);
		atomic_store(&active_trk, NULL);
	}
	return rc;
}

int dsm__det_track_start_kernel(struct det_tracker *t)
{
	const char *why;
	int rc = dsm__det_handler_install(), i;

	if (rc < 0)
		return rc;
	for (i = 0; i < t->nranges; i++) {
		struct det_range *r = &t->ranges[i];
		if (mprotect(r->start, r->len, PROT_READ | PROT_WRITE) < 0) {
			rc = -errno;
			break;
		}
		rc = dsm__wp_open(&t->wp[i], r->start, r->len, t->page, DSM_WP_UFFD,
				  DSM_WP_F_PRESENT, &why);
		if (rc < 0)
			break;
		if ((rc = dsm__wp_track(t->wp[i], 0, r->npages)) < 0) {
			i++; /* opened: closed below */
			break;
		}
	}
	if (rc < 0) {
		while (i-- > 0) {
			dsm__wp_close(t->wp[i]);
			t->wp[i] = NULL;
		}
		return rc;
	}
	t->kernel = 1;
	atomic_store(&active_trk, t); /* the watched stack still faults */
	return 0;
}

int dsm__det_track_stop(struct det_tracker *t)
{
	int rc = protect_all(t, PROT_READ | PROT_WRITE);

	atomic_store(&active_trk, NULL);
	return rc;
}
