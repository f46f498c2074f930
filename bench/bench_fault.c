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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_fault"
#include "bench_util.h"

#define TARGET_RATIO 1.3
#define PAGES_FULL 20000
#define PAGES_QUICK 5000

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
