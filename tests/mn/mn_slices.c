/*
 * mn_slices — a dsm_alloc_collective array of E words is split into N
 * slices whose boundaries fall inside pages (E is not a multiple of the
 * words per page), so neighbouring writers share pages. For several rounds
 * each node fills the elements it is assigned with a round-specific
 * formula, then a barrier, then every node checks the whole array against
 * the same formula computed locally, then another barrier (with a
 * round-specific id) before the next round overwrites anything. The
 * assignment changes per round (own slice, rotated slices, interleaved
 * words), so page ownership moves between nodes. Asserts every element of
 * every round on every node, and that fresh collective memory is zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm.h"

#define MN_PROG "mn_slices"
#include "mn_util.h"

#define E 3001u         /* elements; deliberately not page-aligned slices */
#define ROUNDS 5
#define BAR_DATA 1u     /* the barrier the array is bound to */
#define BAR_ROUND 100u  /* + round: end-of-check barriers */

/* The value element i holds after round r. */
static uint64_t formula(int r, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)r * 0xbf58476d1ce4e5b9ull;
	switch (r % 3) {
	case 0: return x ^ (x >> 31);
	case 1: return i * i + (uint64_t)r;
	default: return ~x + (i << 7);
	}
}

/* Which node writes element i in round r (n nodes). */
static int writer(int r, uint64_t i, int n)
{
	switch (r) {
	case 2: /* interleaved words: false sharing on every page */
		return (int)(i % (uint64_t)n);
	default: { /* contiguous slices, rotated by r */
		int slice = (int)((i * (uint64_t)n) / E);
		while ((uint64_t)(slice + 1) * E / (uint64_t)n <= i)
			slice++; /* exact inverse of lo = s*E/n */
		while ((uint64_t)slice * E / (uint64_t)n > i)
			slice--;
		return (slice + r) % n;
	}
	}
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);

	uint64_t *arr = mn_alloc_collective(E * sizeof(uint64_t));
	CHECK(dsm_bind_barrier(BAR_DATA, arr, E * sizeof(uint64_t)));
	volatile uint64_t *va = arr;

	for (uint64_t i = 0; i < E; i++)
		if (va[i] != 0)
			FAIL("fresh collective memory not zero: arr[%llu] = %llu",
			     (unsigned long long)i, (unsigned long long)va[i]);
	CHECK(dsm_barrier(BAR_ROUND + ROUNDS));

	uint64_t mine_total = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (uint64_t i = 0; i < E; i++)
			if (writer(r, i, n) == me) {
				va[i] = formula(r, i);
				mine_total++;
			}
		CHECK(dsm_barrier(BAR_DATA));
		for (uint64_t i = 0; i < E; i++) {
			uint64_t want = formula(r, i), got = va[i];
			if (got != want)
				FAIL("round %d: arr[%llu] (written by node %d) = %#llx,"
				     " expected %#llx", r, (unsigned long long)i,
				     writer(r, i, n), (unsigned long long)got,
				     (unsigned long long)want);
		}
		CHECK(dsm_barrier(BAR_ROUND + (unsigned)r));
	}
	if (mine_total == 0 && n <= (int)E)
		FAIL("this node was assigned no elements (test bug)");

	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_slices: %d nodes, %u elements, %d rounds: ok\n", n, E,
		       ROUNDS);
	return 0;
}
