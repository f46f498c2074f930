/*
 * mn_home_run — a home walking through the shared pages it serves takes
 * a write fault per run of pages, not per page, and the pages a run
 * opened that the home did not write are not announced (hlrc, "Home
 * write runs" in docs/write-detection.md, issue 10).
 *
 * Each node owns a block of B pages of one collectively allocated array
 * (first touch: its home); its right neighbour reads all of it, so every
 * page of the block is a shared home page, write-protected again after
 * each serve when the node is on the fault path.
 *   1. ITERS iterations: write the whole block forwards, barrier, the
 *      neighbour checks all of it, barrier. From the second iteration on
 *      at most RUNS write faults per iteration (B without runs; none where
 *      the kernel records the writes instead).
 *   2. The same backwards (a walk down through memory: qs's partition
 *      scans its range from both ends).
 *   3. ITERS iterations writing only the first half of the block, forwards
 *      (a run opens pages of the second half too), the neighbour checking
 *      all of it: it fetches at most B/2 (+ 1/8) pages per iteration after
 *      the first (B/2 + 32 or more if an opened page were taken as
 *      written).
 * Claims are made under hlrc at 2+ nodes, with every write detection;
 * elsewhere the data is checked only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_home_run"
#include "mn_util.h"

#define B 128u
#define ITERS 6
#define RUNS 8 /* faults per walk of B pages with runs 2, 4, ..., 32 */
#define BAR 1u
#define PAGE_WORDS (4096 / sizeof(uint64_t))
#define WORDS (B * PAGE_WORDS)

static struct dsm_stats stats(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return s;
}

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ (it * 7919u);
}

/* Word i (global index) after iteration it of phase 3 (0: before it). */
static uint64_t want3(unsigned it, uint64_t i)
{
	return it && i % WORDS < WORDS / 2 ? f(100 + it, i) : f(50 + ITERS, i);
}

static void check_block(volatile uint64_t *a, int k, unsigned phase, unsigned it)
{
	for (size_t i = 0; i < WORDS; i++) {
		uint64_t g = (uint64_t)k * WORDS + i;
		uint64_t w = phase == 3 ? want3(it, g) : f(phase == 2 ? 50 + it : it, g);
		if (a[g] != w)
			FAIL("phase %u iteration %u: node %d's word %zu is %llx, expected %llx",
			     phase, it, k, i, (unsigned long long)a[g], (unsigned long long)w);
	}
}

/* Phases 1 and 2: write the block forwards or backwards each iteration;
 * returns the write faults of iterations 2.. */
static uint64_t walk(volatile uint64_t *a, int right, unsigned phase)
{
	size_t mine = (size_t)me * WORDS;
	uint64_t w0 = 0;

	for (unsigned it = 1; it <= ITERS; it++) {
		unsigned v = phase == 2 ? 50 + it : it;
		if (it == 2)
			w0 = stats().write_faults;
		for (size_t j = 0; j < WORDS; j++) {
			size_t i = phase == 2 ? WORDS - 1 - j : j;
			a[mine + i] = f(v, mine + i);
		}
		CHECK(dsm_barrier(BAR));
		check_block(a, right, phase, it);
		CHECK(dsm_barrier(BAR + 1));
	}
	return stats().write_faults - w0;
}

int main(int argc, char **argv)
{
	const char *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	int n = mn_init(&argc, &argv, 0), right = (me + 1) % n;
	int claim = n > 1 && hlrc;
	volatile uint64_t *a = mn_alloc_collective((size_t)n * WORDS * 8);
	size_t mine = (size_t)me * WORDS;
	uint64_t wf1, wf2, f0 = 0, f3;

	wf1 = walk(a, right, 1);
	wf2 = walk(a, right, 2);
	for (unsigned it = 1; it <= ITERS; it++) { /* 3: the first half */
		if (it == 2)
			f0 = stats().remote_fetches;
		for (size_t i = 0; i < WORDS / 2; i++)
			a[mine + i] = want3(it, mine + i);
		CHECK(dsm_barrier(BAR + 2));
		check_block(a, right, 3, it);
		CHECK(dsm_barrier(BAR + 3));
	}
	f3 = stats().remote_fetches - f0;
	printf(MN_PROG ": node %d: write faults %llu forwards, %llu backwards in %d "
	       "iterations (%u shared pages each); %llu pages fetched in phase 3's last %d "
	       "(%u written each)\n", me, (unsigned long long)wf1, (unsigned long long)wf2,
	       ITERS - 1, B, (unsigned long long)f3, ITERS - 1, B / 2);
	if (claim && wf1 > (uint64_t)(ITERS - 1) * RUNS)
		FAIL("%llu write faults walking forwards through %u shared home pages %d "
		     "times: the pages ahead must open in runs", (unsigned long long)wf1, B,
		     ITERS - 1);
	if (claim && wf2 > (uint64_t)(ITERS - 1) * RUNS)
		FAIL("%llu write faults walking backwards through %u shared home pages %d "
		     "times: the pages ahead must open in runs", (unsigned long long)wf2, B,
		     ITERS - 1);
	if (claim && f3 > (uint64_t)(ITERS - 1) * (B / 2 + B / 8))
		FAIL("%llu pages fetched in phase 3's last %d iterations with %u written "
		     "per iteration: pages opened ahead and not written were announced",
		     (unsigned long long)f3, ITERS - 1, B / 2);
	CHECK(dsm_barrier(BAR + 4));
	return dsm_finalize() ? 1 : 0;
}
