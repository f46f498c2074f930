/*
 * dt_track.c — libdsm_dthreads: which pages each thread wrote (the
 * kernel's write detection, or write faults with the program's SIGSEGV
 * handlers kept aside), and the commit: dirty pages at arrival, the
 * parallel copy of single-writer pages, the ordered merge of the others
 * with conflict detection, the commit log and the dropping of stale
 * private copies (dt.h describes the protocol).
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dt.h"

#define DT_AHEAD 16              /* pages made writable per fault */

static struct sigaction old_segv;
static int handler_on;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static int sys_sigaction(int sig, const struct sigaction *a, struct sigaction *o)
{
	if (!real_sigaction)
		real_sigaction = (int (*)(int, const struct sigaction *,
					  struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	return real_sigaction(sig, a, o);
}

/* Restore sig's default action in the kernel (not through the program's
 * view of SIGSEGV below). */
void dt__sig_default(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sys_sigaction(sig, &sa, NULL);
}

/* The program's SIGSEGV handler is kept aside while ours tracks writes:
 * faults that are not ours go to it. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig == SIGSEGV && handler_on) {
		if (old)
			*old = old_segv;
		if (act)
			old_segv = *act;
		return 0;
	}
	return sys_sigaction(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}


/* ----------------------------------------------------------- write faults */

struct dt_region *dt__region_of(uintptr_t a)
{
	for (int i = 0; i < dt.nreg; i++) {
		struct dt_region *r = &dt.reg[i];
		if (a >= (uintptr_t)r->start && a < (uintptr_t)r->start + r->len)
			return r;
	}
	return NULL;
}

/* Record a write to page pi of r and make it (and up to DT_AHEAD - 1 clean
 * pages after it) writable. 1 when recorded, 0 when already writable.
 * Async-signal-safe. */
static int note_write(struct dt_region *r, size_t pi)
{
	if (r->all || r->mark[pi])
		return 0;
	size_t n = 1;
	while (n < DT_AHEAD && pi + n < r->npages && !r->mark[pi + n])
		n++;
	unsigned char *p = r->start + pi * dt.page;
	if (mprotect(p, n * dt.page, PROT_READ | PROT_WRITE) != 0) {
		n = 1;
		if (mprotect(p, dt.page, PROT_READ | PROT_WRITE) != 0) {
			/* out of mappings: the whole region goes writable and
			 * every resident page is compared at the commit */
			mprotect(r->start, r->len, PROT_READ | PROT_WRITE);
			r->all = 1;
			return 1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		r->mark[pi + k] = 1;
		r->list[atomic_fetch_add(&r->nlist, 1)] = (uint32_t)(pi + k);
	}
	return 1;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	struct dt_region *r = dt.multi ? dt__region_of(a) : NULL;
	if (r && r->lazy) {
		dt__lazy_fill(r); /* the write faults again, on the memfd's view */
		return;
	}
	if (r && note_write(r, (a - (uintptr_t)r->start) / dt.page))
		return;
	if (old_segv.sa_flags & SA_SIGINFO && old_segv.sa_sigaction) {
		old_segv.sa_sigaction(sig, si, uc);
		return;
	}
	if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN &&
	    old_segv.sa_handler) {
		old_segv.sa_handler(sig);
		return;
	}
	dt__sig_default(SIGSEGV); /* fault again: crash with the signal */
}

/* Before the kernel writes into [p, p + len) (read(), fstat() ...):
 * a kernel write to a read-only page fails with EFAULT instead of
 * faulting, so the pages are recorded and opened first. */
void dt__prefault(uintptr_t p, size_t len)
{
	if (!dt.multi || !len)
		return;
	uintptr_t a = p & ~(uintptr_t)(dt.page - 1);
	for (; a < p + len; a += dt.page) {
		struct dt_region *r = dt__region_of(a);
		if (r && r->lazy)
			dt__lazy_fill(r);
		if (r && !dt.kernel)
			note_write(r, (a - (uintptr_t)r->start) / dt.page);
	}
}

void dt__install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	if (!handler_on)
		sys_sigaction(SIGSEGV, &sa, &old_segv);
	handler_on = 1;
}

/* ------------------------------------------------------------------ diffs */

/* Kernel write detection (src/vm/wp_uffd.c: userfaultfd WP_ASYNC +
 * PAGEMAP_SCAN): the regions stay writable, the kernel records the first
 * write to each page (a system call's too, so no EFAULT) and the scan at
 * arrival returns and re-arms them. Every process registers its own (a
 * fork does not carry the registration). 0, or -1 (nothing registered). */
int dt__kernel_open_region(struct dt_region *r)
{
	const char *why = "";
	memset(&r->wp, 0, sizeof r->wp);
	r->wp.fd = r->wp.pagemap = -1;
	if (r->lazy)
		return 0; /* the file's view: read-only, registered when filled */
	r->wp.ops = &dsm__wp_uffd;
	r->wp.base = r->start;
	r->wp.len = r->len;
	r->wp.page = dt.page;
	r->wp.npages = r->npages;
	r->wp.flags = DSM_WP_F_PRESENT;
	if (dsm__wp_uffd.open(&r->wp, &why) != 0) {
		r->wp.fd = r->wp.pagemap = -1;
		if (getenv("DSM_WRITE_DETECT") && !strcmp(getenv("DSM_WRITE_DETECT"), "uffd"))
			dt__warn("DSM_WRITE_DETECT=uffd: %s; using write faults", why);
		return -1;
	}
	return 0;
}

int dt__kernel_open(void)
{
	int k;
	for (k = 0; k < dt.nreg; k++)
		if (dt__kernel_open_region(&dt.reg[k]) != 0)
			break;
	if (k == dt.nreg)
		return 0;
	while (k-- > 0)
		if (dt.reg[k].wp.fd >= 0)
			dsm__wp_uffd.close(&dt.reg[k].wp);
	return -1;
}

void dt__kernel_close(void)
{
	if (!dt.kernel)
		return;
	for (int k = 0; k < dt.nreg; k++)
		if (dt.reg[k].wp.fd >= 0)
			dsm__wp_uffd.close(&dt.reg[k].wp);
	dt.kernel = 0;
}

/* A new thread's process: its own registration, or the whole program
 * falls back to faults (it cannot: the others already run without). */
void dt__kernel_child(void)
{
	if (!dt.kernel)
		return;
	for (int k = 0; k < dt.nreg; k++) {
		if (dt.reg[k].wp.fd >= 0)
			close(dt.reg[k].wp.fd);
		if (dt.reg[k].wp.pagemap >= 0)
			close(dt.reg[k].wp.pagemap);
	}
	if (dt__kernel_open() != 0)
		dt__die("a new thread could not register userfaultfd write "
			"detection; run with DSM_WRITE_DETECT=segv");
}

/* Arrival (parallel): the pages this thread really changed (private page
 * differs from the file, which nobody changes before every thread has
 * arrived) go to its dirty list, and each page's writer count of this
 * phase (shared stamp: phase << 8 | count) is raised. */
static void stamp_inc(struct dt_region *r, size_t pi, uint64_t ph)
{
	uint64_t old = atomic_load(&r->stamp[pi]), nw;
	do {
		nw = (old >> 8) == ph ? old + ((old & 0xff) < 0xff) : (ph << 8) | 1;
	} while (!atomic_compare_exchange_weak(&r->stamp[pi], &old, nw));
}

static void dirty_page(struct dt_region *r, size_t pi, uint64_t ph)
{
	/* a kept private copy the kernel reports was written for sure (it was
	 * armed); other reports may be reads or untouched pages ahead */
	if (!(dt.kernel && r->priv[pi]) &&
	    memcmp(r->start + pi * dt.page, r->shared + pi * dt.page, dt.page) == 0) {
		/* unchanged, but perhaps a private copy (a write of the same
		 * bytes): dt__resume() must drop it when another thread commits */
		r->priv[pi] = 1;
		return;
	}
	r->dirty[r->ndirty++] = (uint32_t)pi;
	stamp_inc(r, pi, ph);
}

/* The kernel's record of the pages written in [first, first + count) of
 * r since the last scan (re-armed as they are returned). */
static void kernel_scan(struct dt_region *r, size_t first, size_t count, uint64_t ph)
{
	size_t at = first, end = first + count, next;
	while (at < end) {
		ssize_t n = dsm__wp_uffd.collect(&r->wp, at, end - at, dt.wpbuf, 65536, &next);
		if (n < 0)
			dt__die("PAGEMAP_SCAN failed: %s", strerror((int)-n));
		for (ssize_t q = 0; q < n; q++)
			dirty_page(r, dt.wpbuf[q], ph);
		if (next <= at)
			break;
		at = next;
	}
}

void dt__diff_compute(void)
{
	uint64_t ph = dt.ctl->phase;
	dt.diff_phase = ph;
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		r->ndirty = 0;
		if (r->lazy)
			continue; /* read-only until filled: nothing written */
		if (r->all) {
			size_t chunk = 16384; /* pages per mincore call */
			static unsigned char vec[16384];
			for (size_t pi = 0; pi < r->npages; pi += chunk) {
				size_t n = r->npages - pi < chunk ? r->npages - pi : chunk;
				if (mincore(r->start + pi * dt.page, n * dt.page, vec) != 0)
					continue;
				for (size_t q = 0; q < n; q++)
					if (vec[q] & 1)
						dirty_page(r, pi + q, ph);
			}
			continue;
		}
		if (dt.kernel) {
			static size_t first[DT_SLOTS], count[DT_SLOTS];
			int nr = 1;
			first[0] = 0;
			count[0] = r->npages;
			if (r->start == dt__heap_base)
				nr = dt__heap_ranges(first, count, DT_SLOTS);
			for (int i = 0; i < nr; i++)
				kernel_scan(r, first[i], count[i], ph);
			continue;
		}
		size_t n = atomic_load(&r->nlist);
		for (size_t q = 0; q < n; q++)
			dirty_page(r, r->list[q], ph);
	}
}

/* The last thread that committed page pg in this phase (for reports). */
static int pw_get(uint64_t pg)
{
	size_t h = dt__hash((uintptr_t)pg) & (DT_PW - 1);
	if (dt.ctl->pw[h].page == pg && dt.ctl->pw[h].phase == dt.ctl->phase)
		return dt.ctl->pw[h].tid;
	return -1;
}

static void pw_set(uint64_t pg)
{
	size_t h = dt__hash((uintptr_t)pg) & (DT_PW - 1);
	dt.ctl->pw[h].page = pg;
	dt.ctl->pw[h].phase = dt.ctl->phase;
	dt.ctl->pw[h].tid = dt.me;
}

static void report_conflict(unsigned char *addr, size_t len)
{
	struct dt_region *r = dt__region_of((uintptr_t)addr);
	int other = pw_get((uintptr_t)addr / dt.page);
	dt.ctl->nconflicts++;
	dt__warn("conflict: threads %d and %d wrote the same %zu byte%s at %p "
		 "(%s+0x%zx) with different values in epoch %llu; %s",
		 other, dt.me, len, len == 1 ? "" : "s", (void *)addr,
		 r ? r->name : "?", r ? (size_t)(addr - r->start) : 0,
		 (unsigned long long)dt.ctl->phase,
		 dt.policy == DT_CONF_ERROR ? "stopping (DSM_DET_CONFLICT=error)"
					    : "thread with the later turn wins");
}

/* The page's content at the phase's start, for a page several threads
 * changed: the first of them to commit saves it (the file is still
 * unchanged then). In memory shared by all threads. */
static const unsigned char *base_of(const unsigned char *file, uintptr_t addr)
{
	struct dt_ctl *c = dt.ctl;
	size_t h = dt__hash(addr) & (DT_NBASE - 1);
	for (size_t i = 0; i < DT_NBASE; i++, h = (h + 1) & (DT_NBASE - 1)) {
		if (c->base[h].phase == c->phase + 1 && c->base[h].addr == addr)
			return dt.basepool + h * dt.page;
		if (c->base[h].phase != c->phase + 1) {
			c->base[h].phase = c->phase + 1;
			c->base[h].addr = addr;
			memcpy(dt.basepool + h * dt.page, file, dt.page);
			return dt.basepool + h * dt.page;
		}
	}
	dt__die("more than %d pages written by several threads in one epoch", DT_NBASE);
}

/* Commit one page several threads changed: the bytes this thread changed
 * (private vs base); a byte an earlier committer changed to another value
 * is a conflict. 1 if the program must stop. */
static int merge_page(unsigned char *priv, unsigned char *file, const unsigned char *base)
{
	int stop = 0;
	size_t i = 0;
	while (i < dt.page) {
		if (i % 8 == 0 && *(const uint64_t *)(priv + i) == *(const uint64_t *)(base + i)) {
			i += 8;
			continue;
		}
		if (priv[i] == base[i]) {
			i++;
			continue;
		}
		if (file[i] == base[i] || file[i] == priv[i]) {
			file[i] = priv[i];
			i++;
			continue;
		}
		size_t j = i;
		while (j < dt.page && priv[j] != base[j] && file[j] != base[j] &&
		       file[j] != priv[j])
			j++;
		if (dt.policy != DT_CONF_LAST)
			report_conflict(priv + i, j - i);
		if (dt.policy == DT_CONF_ERROR)
			stop = 1;
		else
			memcpy(file + i, priv + i, j - i);
		i = j;
	}
	return stop;
}

/* The phase's commit log (shared): which thread committed which page, so
 * that every thread drops its private copies of pages others changed. */
static void log_commit(int k, size_t pi)
{
	uint64_t i = atomic_fetch_add(&dt.ctl->nlog, 1);
	if (i >= DT_LOG) {
		atomic_store(&dt.ctl->log_over, 1);
		return;
	}
	dt.log[i] = ((uint64_t)dt.me << 41) | ((uint64_t)k << 37) | pi;
}

/* Drop every private page of this thread (its view becomes the files). */
void dt__drop_all(void)
{
	dt__lazy_sync();
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		if (r->lazy)
			continue; /* the file's view holds no writes of this phase */
		madvise(r->start, r->len, MADV_DONTNEED);
		madvise(r->priv, r->npages, MADV_DONTNEED);
	}
}

/* A thread woken later than the end of the phase it blocked in (phase
 * b): the commit logs of the phases it missed are gone, but every page
 * committed in a phase carries that phase in its writer stamp (raised by
 * each committer at arrival), so the kept copies of the pages stamped b
 * or later are dropped (its own single-writer commits of phase b too:
 * conservative), the others stay. Dropping all of them (as before) made
 * a thread that waited on a mutex read its whole working set again
 * (Phoenix reverse_index: ~100,000 page faults). */
void dt__drop_since(uint64_t b)
{
	static size_t first[DT_SLOTS], count[DT_SLOTS];
	dt__lazy_sync();
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		if (r->lazy)
			continue; /* the file's view holds no writes of this phase */
		int nr = 1;
		first[0] = 0;
		count[0] = r->npages;
		if (r->start == dt__heap_base)
			nr = dt__heap_ranges(first, count, DT_SLOTS);
		for (int i = 0; i < nr; i++)
			for (size_t pi = first[i]; pi < first[i] + count[i]; pi++) {
				if (!r->priv[pi] || (atomic_load(&r->stamp[pi]) >> 8) < b)
					continue;
				madvise(r->start + pi * dt.page, dt.page, MADV_DONTNEED);
				r->priv[pi] = 0;
			}
	}
}

/* After a serial phase this thread took part in: drop its private copies
 * of the pages other threads committed in it. */
void dt__resume(void)
{
	if (!dt.multi)
		return;
	dt__lazy_sync();
	if (atomic_load(&dt.ctl->log_over)) {
		dt__drop_all();
		return;
	}
	uint64_t n = atomic_load(&dt.ctl->nlog);
	for (uint64_t i = 0; i < n && i < DT_LOG; i++) {
		uint64_t e = dt.log[i];
		if ((int)(e >> 41) == dt.me)
			continue;
		struct dt_region *r = &dt.reg[(e >> 37) & 15];
		size_t pi = e & ((1ull << 37) - 1);
		if (r->priv[pi]) {
			madvise(r->start + pi * dt.page, dt.page, MADV_DONTNEED);
			r->priv[pi] = 0;
		}
	}
}

/* DSM_DET_CHECK=2: at a resume, every kept private copy (priv set, not
 * written since the turn's refresh) must equal the file: nobody changes
 * the files before this thread arrives again, so a difference is a stale
 * view the commit log failed to drop. Aborts with the page's location. */
void dt__check_kept(const char *where, uint64_t blocked_in)
{
	if (dt.check < 2 || !dt.multi)
		return;
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		/* only the resident pages of the priv array can hold a mark */
		size_t step = dt.page, nvec = (r->npages + step - 1) / step;
		unsigned char vec[4096];
		for (size_t v0 = 0; v0 < nvec; v0 += sizeof vec) {
		size_t nv = nvec - v0 < sizeof vec ? nvec - v0 : sizeof vec;
		size_t lo = v0 * step, hi = (v0 + nv) * step;
		if (hi > r->npages)
			hi = r->npages;
		if (mincore(r->priv + lo, hi - lo, vec) != 0)
			memset(vec, 1, nv);
		for (size_t pi = lo; pi < hi; pi++) {
			if (!(vec[(pi - lo) / step] & 1)) {
				pi = lo + ((pi - lo) / step + 1) * step - 1;
				continue;
			}
			if (!r->priv[pi] || r->mark[pi])
				continue;
			if (memcmp(r->start + pi * dt.page, r->shared + pi * dt.page,
				   dt.page) == 0)
				continue;
			size_t b = 0;
			while (r->start[pi * dt.page + b] == r->shared[pi * dt.page + b])
				b++;
			dt__die("DSM_DET_CHECK: thread %d (%s, blocked in epoch %lld, "
				"now epoch %llu): kept private copy of %s page %zu "
				"differs from the file at byte %zu",
				dt.me, where, (long long)blocked_in,
				(unsigned long long)dt.ctl->phase, r->name, pi, b);
		}
		}
	}
}

static int single_writer(struct dt_region *r, size_t pi, uint64_t ph)
{
	uint64_t st = atomic_load(&r->stamp[pi]);
	return (st >> 8) != ph || (st & 0xff) <= 1;
}

/* Once every thread has arrived (writer counts final), before the turns
 * and in parallel with the other threads: the pages only this thread
 * changed are copied whole into the file (their result does not depend on
 * any order) and its private copies kept (equal to the file now). */
void dt__commit_single(void)
{
	uint64_t ph = dt.ctl->phase, n = 0;
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		for (size_t q = 0; q < r->ndirty; q++) {
			size_t pi = r->dirty[q];
			if (!single_writer(r, pi, ph))
				continue;
			memcpy(r->shared + pi * dt.page, r->start + pi * dt.page, dt.page);
			r->priv[pi] = 1;
			log_commit(k, pi);
			n++;
		}
	}
	if (n)
		atomic_fetch_add_explicit(&dt.ctl->st_single, n, memory_order_relaxed);
}

/* Turn: merge the pages several threads changed, byte by byte against
 * the saved base, in turn order. 1 if a conflict stops the program. */
int dt__diff_apply(void)
{
	int stop = 0;
	uint64_t ph = dt.ctl->phase;
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		for (size_t q = 0; q < r->ndirty; q++) {
			size_t pi = r->dirty[q];
			if (single_writer(r, pi, ph))
				continue;
			unsigned char *priv = r->start + pi * dt.page;
			unsigned char *file = r->shared + pi * dt.page;
			stop |= merge_page(priv, file, base_of(file, (uintptr_t)priv));
			madvise(priv, dt.page, MADV_DONTNEED);
			r->priv[pi] = 0;
			pw_set((uintptr_t)priv / dt.page);
			log_commit(k, pi);
			atomic_fetch_add_explicit(&dt.ctl->st_merged, 1, memory_order_relaxed);
		}
		r->ndirty = 0;
	}
	return stop;
}

/* After the commit: forget the epoch's written pages and write-protect
 * the regions for the next one (private copies equal to the file stay;
 * dt__resume() drops those others change). */
void dt__refresh(void)
{
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		size_t n = atomic_load(&r->nlist);
		for (size_t q = 0; q < n; q++)
			r->mark[r->list[q]] = 0;
		if (r->all) {
			madvise(r->start, r->len, MADV_DONTNEED);
			madvise(r->priv, r->npages, MADV_DONTNEED);
		}
		if ((r->all || n) && !dt.kernel)
			mprotect(r->start, r->len, PROT_READ);
		r->all = 0;
		atomic_store(&r->nlist, 0);
	}
}

