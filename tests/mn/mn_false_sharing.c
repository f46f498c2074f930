/*
 * mn_false_sharing — every node writes distinct 64-bit words of the same
 * pages, many times, with no synchronisation between the writes. Word w of
 * a WORDS-word array (PAGES pages) belongs to node (w + shift) % N, so every
 * page has words of every node interleaved. In each of ROUNDS rounds a
 * node stores value(w, round) into each of its words, then re-reads its own
 * words and checks them (a page that comes back from another node, or a
 * merged diff, must not roll back this node's own stores), and yields so
 * the nodes interleave. After a barrier every node checks every word's
 * final value. This is done in two phases with different ownership (shift
 * 0 and 1) separated by barriers, so the second phase's writers overwrite
 * words last written by other nodes.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_false_sharing"
#include "mn_util.h"

#define ROUNDS 50
#define PHASES 2
#define BAR 1u      /* the data barrier the array is bound to */
#define BAR_SYNC 2u /* end-of-phase barrier */

static uint64_t value(int phase, uint64_t w, int round)
{
	return ((uint64_t)phase << 56) ^ (w << 20) ^ ((uint64_t)round * 0x10001ull) ^
	       0x0123456789abcdefull;
}

static int owner(int phase, uint64_t w, int n)
{
	return (int)((w + (uint64_t)phase) % (uint64_t)n);
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);

	long ps = sysconf(_SC_PAGESIZE);
	size_t pages = 2, bytes = pages * (size_t)ps;
	uint64_t words = bytes / sizeof(uint64_t);
	uint64_t *arr = mn_alloc_collective(bytes);
	CHECK(dsm_bind_barrier(BAR, arr, bytes));
	volatile uint64_t *va = arr;
	CHECK(dsm_barrier(BAR_SYNC));

	for (int ph = 0; ph < PHASES; ph++) {
		for (int r = 0; r < ROUNDS; r++) {
			for (uint64_t w = 0; w < words; w++)
				if (owner(ph, w, n) == me)
					va[w] = value(ph, w, r);
			for (uint64_t w = 0; w < words; w++)
				if (owner(ph, w, n) == me && va[w] != value(ph, w, r))
					FAIL("phase %d round %d: own word %llu reads %#llx"
					     " right after storing %#llx", ph, r,
					     (unsigned long long)w,
					     (unsigned long long)va[w],
					     (unsigned long long)value(ph, w, r));
			sched_yield();
		}
		CHECK(dsm_barrier(BAR));
		for (uint64_t w = 0; w < words; w++) {
			uint64_t want = value(ph, w, ROUNDS - 1), got = va[w];
			if (got != want)
				FAIL("phase %d: word %llu (page %llu, node %d's) = %#llx,"
				     " expected %#llx", ph, (unsigned long long)w,
				     (unsigned long long)(w * 8 / (uint64_t)ps),
				     owner(ph, w, n), (unsigned long long)got,
				     (unsigned long long)want);
		}
		CHECK(dsm_barrier(BAR_SYNC));
	}

	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_false_sharing: %d nodes, %zu pages, %d phases x %d rounds:"
		       " ok\n", n, pages, PHASES, ROUNDS);
	return 0;
}
