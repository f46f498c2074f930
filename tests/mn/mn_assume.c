/*
 * mn_assume — a home page written every time it is shared costs no kernel
 * fault once its writes are assumed, and a page no longer written is no
 * longer announced (hlrc with the kernel recording writes: "Assumed
 * writes" in docs/write-detection.md, issue 10).
 *
 * Each node owns a block of B pages of one collectively allocated array
 * (first touch: its home); its right neighbour reads all of it.
 *   1. ITERS1 iterations: write the whole block, barrier, the neighbour
 *      checks all of it, barrier (fft's transposes: every shared plane
 *      rewritten at every step). Once the kernel records the block's
 *      writes and two closes found each page written, the pages are
 *      served unarmed (every 8th serve armed): in the last 8 iterations
 *      fewer than 3 B kernel faults (getrusage; measured 2 B), against one
 *      per page per iteration when every serve arms (8 B; measured 512).
 *   2. ITERS2 iterations writing only the first half of the block, the
 *      neighbour still checking all of it: the unchanged half must not be
 *      announced, so the neighbour fetches at most B/2 pages (+ 1/8) per
 *      iteration after the first (B each if an unarmed page were taken
 *      as written at every close).
 * Claims are made under hlrc at 2+ nodes where the kernel has userfaultfd
 * asynchronous write-protection (probed) and DSM_WRITE_DETECT is auto or
 * uffd, not in sanitizer builds (their own faults); elsewhere the data is
 * checked only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_assume"
#include "mn_util.h"
#include "mn_uffd.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define B 64u
#define ITERS1 16
#define LAST 8 /* phase 1's measured iterations */
#define ITERS2 8
#define BAR 1u
#define PAGE_WORDS (4096 / sizeof(uint64_t))
#define WORDS (B * PAGE_WORDS)

static long kernel_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_minflt;
}

static uint64_t fetches(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return s.remote_fetches;
}

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ (it * 7919u);
}

/* Word i (global index) after phase 2 iteration it (0: after phase 1). */
static uint64_t want(unsigned it, uint64_t i)
{
	return it && i % WORDS < WORDS / 2 ? f(100 + it, i) : f(ITERS1, i);
}

static void check_block(volatile uint64_t *a, int k, const char *phase, unsigned it,
			int two)
{
	for (size_t i = 0; i < WORDS; i++) {
		uint64_t g = (uint64_t)k * WORDS + i, w = two ? want(it, g) : f(it, g);
		if (a[g] != w)
			FAIL("%s %u: node %d's word %zu is %llx, expected %llx", phase, it, k, i,
			     (unsigned long long)a[g], (unsigned long long)w);
	}
}

int main(int argc, char **argv)
{
	const char *wd = getenv("DSM_WRITE_DETECT"), *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	int kwd = !wd || !*wd || strcmp(wd, "auto") == 0 || strcmp(wd, "uffd") == 0;
	int n = mn_init(&argc, &argv, 0), right = (me + 1) % n;
	int claim = n > 1 && hlrc && kwd && !SANITIZED && mn_kernel_records_writes();
	volatile uint64_t *a = mn_alloc_collective((size_t)n * WORDS * 8);
	size_t mine = (size_t)me * WORDS;
	long k0 = 0, k1;
	uint64_t f0 = 0, f2;

	for (unsigned it = 1; it <= ITERS1; it++) { /* 1: the whole block */
		if (it == ITERS1 - LAST + 1)
			k0 = kernel_faults();
		for (size_t i = 0; i < WORDS; i++)
			a[mine + i] = f(it, mine + i);
		CHECK(dsm_barrier(BAR));
		check_block(a, right, "phase 1 iteration", it, 0);
		CHECK(dsm_barrier(BAR + 1));
	}
	k1 = kernel_faults() - k0;
	for (unsigned it = 1; it <= ITERS2; it++) { /* 2: its first half */
		if (it == 2)
			f0 = fetches();
		for (size_t i = 0; i < WORDS / 2; i++)
			a[mine + i] = want(it, mine + i);
		CHECK(dsm_barrier(BAR + 2));
		check_block(a, right, "phase 2 iteration", it, 1);
		CHECK(dsm_barrier(BAR + 3));
	}
	f2 = fetches() - f0;
	printf(MN_PROG ": node %d: %ld kernel faults in phase 1's last %d iterations (%u "
	       "shared pages written each); %llu pages fetched in phase 2's last %d "
	       "(%u written each)\n", me, k1, LAST, B, (unsigned long long)f2, ITERS2 - 1,
	       B / 2);
	if (claim && k1 >= (long)(3 * B))
		FAIL("%ld kernel faults in phase 1's last %d iterations: a page written "
		     "every time it is shared must be served unarmed", k1, LAST);
	if (claim && f2 > (uint64_t)(ITERS2 - 1) * (B / 2 + B / 8))
		FAIL("%llu pages fetched in phase 2's last %d iterations with %u written "
		     "per iteration: unchanged pages were announced",
		     (unsigned long long)f2, ITERS2 - 1, B / 2);
	CHECK(dsm_barrier(BAR + 4));
	return dsm_finalize() ? 1 : 0;
}
