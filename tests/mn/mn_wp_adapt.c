/*
 * mn_wp_adapt — under hlrc with DSM_WRITE_DETECT=auto (the default) a home
 * lets the kernel record writes to its shared pages only while many are
 * written per interval close, and goes back to write faults when closes
 * are many and such writes few (docs/write-detection.md, "hlrc"); the data
 * is right throughout.
 *
 * Each node owns a block of B pages of one collectively allocated array
 * (first touch: its home) and its right neighbour reads all of it, so
 * every page of the block is a shared home page.
 *   1. ITERS1 iterations: write the whole block, barrier, the neighbour
 *      checks all of it, barrier. B shared pages written per iteration:
 *      after WARM iterations the kernel records them (auto, where the
 *      kernel can): at most one write fault per iteration. Under segv
 *      each iteration's first write faults, and the walk through the
 *      block opens the pages ahead in doubling runs (home write runs,
 *      docs/write-detection.md): at least 1 and at most HOME_RUNS faults
 *      per iteration (B per iteration without runs).
 *   2. LOCKS lock-protected writes of one word of the block's first page:
 *      a close per release with at most one shared page written, so the
 *      node leaves kernel mode (every tracked page back on the fault path).
 *   3. ITERS3 iterations writing only the block's first page, which the
 *      neighbour reads: back on faults, one write fault per iteration at
 *      least (kernel mode would take none).
 * Claims are made under hlrc at 2+ nodes where the kernel has userfaultfd
 * asynchronous write-protection (probed); elsewhere the data checks only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_wp_adapt"
#include "mn_util.h"
#include "mn_uffd.h"

#define B 64u
#define ITERS1 12
#define WARM 5
#define LOCKS 200
#define ITERS3 12
#define BAR 1u
#define HOME_RUNS 8 /* faults per walk of B pages with runs 2, 4, ..., 32 */
#define WORDS (B * 4096 / sizeof(uint64_t))

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ (it * 7919u);
}

static uint64_t write_faults(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return s.write_faults;
}

/* Check the neighbour's block: word i of block k holds want(i). */
static void check_block(volatile uint64_t *a, int k, const char *phase, unsigned it,
			uint64_t (*want)(unsigned, uint64_t), unsigned arg)
{
	for (size_t i = 0; i < WORDS; i++) {
		uint64_t w = want(arg, (uint64_t)k * WORDS + i);
		if (a[(size_t)k * WORDS + i] != w)
			FAIL("%s %u: node %d's word %zu is %llx, expected %llx", phase, it, k, i,
			     (unsigned long long)a[(size_t)k * WORDS + i], (unsigned long long)w);
	}
}

/* After phase 3 iteration it: page 0 rewritten, word 0 the lock count. */
static uint64_t after3(unsigned it, uint64_t i)
{
	uint64_t in = i % WORDS;

	if (in == 0)
		return it ? f(1000 + it, i) : LOCKS;
	if (in < 4096 / sizeof(uint64_t) && it)
		return f(1000 + it, i);
	return f(ITERS1, i);
}

int main(int argc, char **argv)
{
	const char *wd = getenv("DSM_WRITE_DETECT"), *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	int autowd = !wd || !*wd || strcmp(wd, "auto") == 0;
	int segv = wd && strcmp(wd, "segv") == 0;
	int n = mn_init(&argc, &argv, 0), right = (me + 1) % n;
	int claim = n > 1 && hlrc && (segv || (autowd && mn_kernel_records_writes()));
	volatile uint64_t *a = mn_alloc_collective((size_t)n * WORDS * 8);
	size_t mine = (size_t)me * WORDS;
	uint64_t w0 = 0, wf1, wf3;

	for (unsigned it = 1; it <= ITERS1; it++) { /* 1: many shared pages */
		if (it == WARM)
			w0 = write_faults();
		for (size_t i = 0; i < WORDS; i++)
			a[mine + i] = f(it, mine + i);
		CHECK(dsm_barrier(BAR));
		check_block(a, right, "phase 1 iteration", it, f, it);
		CHECK(dsm_barrier(BAR + 1));
	}
	wf1 = write_faults() - w0;
	for (unsigned k = 0; k < LOCKS; k++) { /* 2: closes without writes */
		CHECK(dsm_lock_acquire((unsigned)me));
		a[mine] = k + 1;
		CHECK(dsm_lock_release((unsigned)me));
	}
	CHECK(dsm_barrier(BAR + 2));
	check_block(a, right, "phase", 2, after3, 0);
	CHECK(dsm_barrier(BAR + 3));
	w0 = write_faults();
	for (unsigned it = 1; it <= ITERS3; it++) { /* 3: one shared page */
		for (size_t i = 0; i < 4096 / sizeof(uint64_t); i++)
			a[mine + i] = f(1000 + it, mine + i);
		CHECK(dsm_barrier(BAR + 4));
		check_block(a, right, "phase 3 iteration", it, after3, it);
		CHECK(dsm_barrier(BAR + 5));
	}
	wf3 = write_faults() - w0;
	printf(MN_PROG ": node %d: write faults %llu in phase 1's last %d iterations "
	       "(%u shared pages each), %llu in phase 3's %d (1 each)\n", me,
	       (unsigned long long)wf1, ITERS1 - WARM + 1, B, (unsigned long long)wf3, ITERS3);
	if (claim && autowd && wf1 > ITERS1 - WARM + 1)
		FAIL("%llu write faults in phase 1: with %u shared home pages written per "
		     "iteration the kernel must record them", (unsigned long long)wf1, B);
	if (claim && segv && wf1 < (uint64_t)(ITERS1 - WARM + 1))
		FAIL("only %llu write faults in phase 1 under segv", (unsigned long long)wf1);
	if (claim && segv && wf1 > (uint64_t)(ITERS1 - WARM + 1) * HOME_RUNS)
		FAIL("%llu write faults in phase 1 under segv: a walk through %u shared home "
		     "pages must open the pages ahead in runs", (unsigned long long)wf1, B);
	if (claim && wf3 < ITERS3)
		FAIL("%llu write faults in phase 3: after the lock phase, one shared page "
		     "per iteration must be back on write faults", (unsigned long long)wf3);
	CHECK(dsm_barrier(BAR + 6));
	return dsm_finalize() ? 1 : 0;
}
