/*
 * bench_fault.c — cost of a local write fault under libdsm against the
 * machine's raw limit, measured in the same run.
 *
 * Raw limit: a page mapped PROT_READ is written; a SIGSEGV handler calls
 * mprotect(PROT_READ|PROT_WRITE) on it and returns; the store is retried.
 * Ours: in a 1-node job every page is owned locally; each page of a fresh
 * dsm_malloc'd block is read once (first touch: a read fault, reported for
 * information), then after a dsm_barrier (where a release-consistent
 * protocol write-protects pages) written once (a local read->write
 * upgrade). Every access is timed on its own with CLOCK_MONOTONIC; medians
 * and p10/p90 over all pages are reported.
 *
 * The library may avoid a fault altogether (under "sc" node 0 starts as
 * the writable owner of every page, so a 1-node job never faults). The
 * dsm_stats fault counts tell: a figure where fewer than 90% of the
 * accesses faulted is marked valid=0 — it times plain loads or stores,
 * not faults, and says nothing about the fault path. Choose the protocol
 * with DSM_PROTOCOL in the environment.
 *
 * Two more raw figures are printed for diagnosis: the same raw fault on a
 * shared memfd mapping (the kind of mapping the library uses; after a
 * mprotect the kernel may take one more minor fault to make the PTE
 * writable), and the raw fault again after dsm_init (with the library's
 * service thread alive). The ratio is taken against the raw fault on a
 * private mapping measured before dsm_init: the machine alone.
 *
 * Usage: bench_fault [--quick]   (no dsmrun needed: a 1-node job)
 * Exit 0 unless a dsm_ call fails or the library does not behave.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

#define TARGET_RATIO 1.3
#define PAGES_FULL 20000
#define PAGES_QUICK 5000

/* ---- timing and statistics helpers ---- */

/* Microseconds on CLOCK_MONOTONIC. */
static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, p10 and p90 of n samples (sorts v in place). */
struct summary {
	double med, p10, p90;
};

static struct summary summarize(double *v, size_t n)
{
	struct summary s = { 0, 0, 0 };

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	s.med = v[n / 2];
	s.p10 = v[n / 10];
	s.p90 = v[(n * 9) / 10];
	return s;
}

static void print_summary(const char *label, struct summary s, size_t n)
{
	printf("  %-34s median %8.2f us  p10 %8.2f  p90 %8.2f  (n=%zu)\n",
	       label, s.med, s.p10, s.p90, n);
}

/* ---- raw limit: SIGSEGV handler + mprotect ---- */

static char *raw_lo, *raw_hi; /* the area the raw handler serves */
static int raw_grant;         /* protection the handler grants */
static size_t pg;             /* page size */

/* Grant raw_grant to the faulting page; anything else crashes as usual. */
static void raw_handler(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (a < raw_lo || a >= raw_hi) {
		signal(SIGSEGV, SIG_DFL); /* re-fault with the default action */
		return;
	}
	mprotect((void *)((uintptr_t)a & ~(uintptr_t)(pg - 1)), pg, raw_grant);
}

/* Install raw_handler for SIGSEGV, saving the previous action in *old. */
static void raw_handler_install(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = raw_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, old);
}

/* Time the first write to each of n pages at base; each store faults. */
static void time_writes(char *base, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++) {
		volatile char *p = base + i * pg;
		double t0 = now_us();

		*p = 1;
		out[i] = now_us() - t0;
	}
}

/* Time the first read of each of n pages at base; each load faults. */
static int time_reads(char *base, size_t n, double *out)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		volatile char *p = base + i * pg;
		double t0 = now_us();

		sum += *p;
		out[i] = now_us() - t0;
	}
	return sum;
}

/* Kinds of raw fault: what mapping, what access is timed. */
enum raw_kind {
	RAW_ANON_WRITE,  /* private anon page, dirty, PROT_READ -> write */
	RAW_MEMFD_WRITE, /* shared memfd page, read in, PROT_READ -> write */
	RAW_MEMFD_READ,  /* shared memfd page, PROT_NONE -> first read */
};

/* Map n pages for a raw pass of the given kind, pages resident and
 * protected so that the timed access faults once. NULL on failure. */
static char *raw_area(enum raw_kind kind, size_t n, int *fd)
{
	size_t len = n * pg;
	char *a;

	*fd = -1;
	if (kind == RAW_ANON_WRITE) {
		a = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
		for (size_t i = 0; i < n; i++)
			((volatile char *)a)[i * pg] = 0; /* resident, dirty */
		mprotect(a, len, PROT_READ);
		return a;
	}
	*fd = memfd_create("bench_fault", 0);
	if (*fd < 0 || ftruncate(*fd, (off_t)len) < 0)
		return NULL;
	a = mmap(NULL, len, kind == RAW_MEMFD_READ ? PROT_NONE : PROT_READ,
		 MAP_SHARED, *fd, 0);
	if (a == MAP_FAILED)
		return NULL;
	if (kind == RAW_MEMFD_WRITE)
		for (size_t i = 0; i < n; i++)
			(void)((volatile char *)a)[i * pg]; /* read in */
	return a;
}

/* One raw pass: n timed faults of the given kind into out. 0 or -1. */
static int raw_pass(enum raw_kind kind, size_t n, double *out)
{
	struct sigaction old;
	int fd;
	char *a = raw_area(kind, n, &fd);

	if (!a) {
		perror("bench_fault: raw area");
		return -1;
	}
	raw_lo = a;
	raw_hi = a + n * pg;
	raw_grant = kind == RAW_MEMFD_READ ? PROT_READ : PROT_READ | PROT_WRITE;
	raw_handler_install(&old);
	if (kind == RAW_MEMFD_READ)
		time_reads(a, n, out);
	else
		time_writes(a, n, out);
	sigaction(SIGSEGV, &old, NULL);
	munmap(a, n * pg);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* ---- ours: libdsm local faults ---- */

/* dsm_malloc *n pages, halving *n on ENOMEM (down to 256). */
static char *dsm_pages(size_t *n)
{
	while (*n >= 256) {
		char *p = dsm_malloc(*n * pg);

		if (p)
			return p;
		if (errno != ENOMEM)
			break;
		*n /= 2;
	}
	return NULL;
}

/* Time a first read then a first write of each page of a fresh block;
 * count from dsm_stats how many of them faulted (*rf, *wf). 0 or -1. */
static int ours_pass(size_t *n, double *rd, double *wr, uint64_t *rf,
		     uint64_t *wf)
{
	struct dsm_stats s0, s1, s2;
	char *p = dsm_pages(n);
	int rc;

	if (!p) {
		fprintf(stderr, "bench_fault: dsm_malloc: %s\n", strerror(errno));
		return -1;
	}
	if ((rc = dsm_stats(&s0)) < 0)
		goto fail_stats;
	time_reads(p, *n, rd);
	if ((rc = dsm_barrier(1)) < 0) {
		fprintf(stderr, "bench_fault: dsm_barrier: %s\n", dsm_strerror(rc));
		return -1;
	}
	if ((rc = dsm_stats(&s1)) < 0)
		goto fail_stats;
	time_writes(p, *n, wr);
	if ((rc = dsm_stats(&s2)) < 0)
		goto fail_stats;
	printf("  dsm_stats: reads: %llu read faults; writes: %llu write "
	       "faults, %llu local faults, %llu messages\n",
	       (unsigned long long)(s1.read_faults - s0.read_faults),
	       (unsigned long long)(s2.write_faults - s1.write_faults),
	       (unsigned long long)(s2.local_faults - s1.local_faults),
	       (unsigned long long)(s2.messages_sent - s0.messages_sent));
	*rf = s1.read_faults - s0.read_faults;
	*wf = s2.write_faults - s1.write_faults;
	if (*rf < *n)
		printf("  note: %llu of %zu first reads did not fault (page "
		       "already readable)\n", (unsigned long long)(*n - *rf), *n);
	if (*wf < *n)
		printf("  note: %llu of %zu writes did not fault (page already "
		       "writable): they time plain stores\n",
		       (unsigned long long)(*n - *wf), *n);
	dsm_free(p);
	return 0;
fail_stats:
	fprintf(stderr, "bench_fault: dsm_stats: %s\n", dsm_strerror(rc));
	return -1;
}

/* Print the machine-readable line for one figure: faults of n accesses
 * were faults; valid=0 if fewer than 90%. */
static void result(const char *name, double ours, double raw,
		   const char *target, uint64_t faults, size_t n)
{
	printf("RESULT name=%s ours_us=%.3f raw_us=%.3f ratio=%.3f target=%s "
	       "faults=%llu accesses=%zu valid=%d\n", name, ours, raw,
	       raw > 0 ? ours / raw : 0.0, target, (unsigned long long)faults,
	       n, faults * 10 >= (uint64_t)n * 9);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	size_t n = quick ? PAGES_QUICK : PAGES_FULL, n_ours;
	uint64_t rf = 0, wf = 0;
	double *raw = calloc(n, sizeof(double)), *v = calloc(n, sizeof(double));
	double *rd = calloc(n, sizeof(double)), *wr = calloc(n, sizeof(double));
	struct summary s_raw, s_rawrd, s;
	char tgt[16];
	int rc;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	if (!raw || !v || !rd || !wr)
		return 1;
	printf("bench_fault: %zu pages of %zu bytes\n", n, pg);

	/* The machine alone, before the library exists in the process. */
	if (raw_pass(RAW_ANON_WRITE, n, raw) < 0)
		return 1;
	s_raw = summarize(raw, n);
	print_summary("raw write fault (anon, alone)", s_raw, n);
	if (raw_pass(RAW_MEMFD_WRITE, n, v) < 0)
		return 1;
	print_summary("raw write fault (memfd, alone)", summarize(v, n), n);
	if (raw_pass(RAW_MEMFD_READ, n, v) < 0)
		return 1;
	s_rawrd = summarize(v, n);
	print_summary("raw read fault (memfd, alone)", s_rawrd, n);

	if ((rc = dsm_init(&argc, &argv)) < 0) {
		fprintf(stderr, "bench_fault: dsm_init: %s\n", dsm_strerror(rc));
		return 1;
	}
	/* Same raw fault with the library's threads alive in the process. */
	if (raw_pass(RAW_ANON_WRITE, n, v) < 0)
		return 1;
	print_summary("raw write fault (anon, after init)", summarize(v, n), n);

	n_ours = n;
	if (ours_pass(&n_ours, rd, wr, &rf, &wf) < 0)
		return 1;
	s = summarize(rd, n_ours);
	print_summary("ours: read fault (first touch)", s, n_ours);
	result("fault_read_info", s.med, s_rawrd.med, "-", rf, n_ours);
	s = summarize(wr, n_ours);
	print_summary("ours: write fault (local upgrade)", s, n_ours);
	snprintf(tgt, sizeof(tgt), "%.1f", TARGET_RATIO);
	result("fault_write", s.med, s_raw.med, tgt, wf, n_ours);

	if ((rc = dsm_finalize()) < 0) {
		fprintf(stderr, "bench_fault: dsm_finalize: %s\n", dsm_strerror(rc));
		return 1;
	}
	free(raw);
	free(v);
	free(rd);
	free(wr);
	return 0;
}
