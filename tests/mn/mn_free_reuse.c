/*
 * mn_free_reuse — a freed block's old contents must never come back over
 * its next owner's (issue 9, point D).
 *
 * Each round, with no lock or barrier between the steps that matter:
 *   1. node 0 dsm_mallocs a block, fills it with its pattern and
 *      dsm_frees it (node 0 holds the heap: the free takes effect at
 *      once);
 *   2. node 0 broadcasts the address (dsm_broadcast carries no
 *      consistency data); node 1 then dsm_mallocs a block of the same size
 *      (the allocator's first fit hands it the one node 0 freed), fills it
 *      with its own pattern and releases an unrelated lock, so its writes
 *      are published first (under hlrc: flushed to the page's home);
 *   3. node 1 broadcasts the address; node 0 then releases another
 *      unrelated lock: under release consistency, the writes it made to
 *      the block before freeing it would be published now, after node 1's;
 *   4. a barrier; every node reads the whole block and must find node 1's
 *      pattern: node 1 allocated the block after node 0 freed it, so node
 *      0's writes came before node 1's (the allocator orders them, as
 *      malloc and free do for threads). The failure message says whether
 *      a word holds node 0's stale write.
 * Rounds alternate a page-level block (2 pages + 64 bytes) and a slab
 * block (200 bytes, sharing its page with other slots). Node 1 frees its
 * block at the end of the round and broadcasts, so node 0's next
 * allocation comes after that free. The test fails if the allocator
 * reused node 0's block in fewer than half the rounds (it would show
 * nothing).
 *
 * Before dsm_free released and dsm_malloc acquired (src/core/coll.c),
 * node 0's stale writes overwrote node 1's: under lrc on node 1 (which
 * applied node 0's diff over its own copy), under hlrc at the home.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_free_reuse"
#include "mn_util.h"

#define ROUNDS 40
#define LOCK_A 11u
#define LOCK_B 12u
#define BAR 1u

static uint64_t pattern(int who, int r, size_t i)
{
	return (uint64_t)(who + 1) << 56 | (uint64_t)r << 32 | (uint64_t)i;
}

/* Node 0's step 1: a block written and freed; returns its address. */
static uint64_t write_and_free(size_t words, int r)
{
	volatile uint64_t *p = dsm_malloc(words * 8);

	if (!p)
		FAIL("round %d: dsm_malloc(%zu) returned NULL", r, words * 8);
	for (size_t i = 0; i < words; i++)
		p[i] = pattern(0, r, i);
	dsm_free((void *)p);
	return (uint64_t)(uintptr_t)p;
}

/* Node 1's step 2: a block allocated after node 0's free, written, and
 * the writes published by a release. Returns its address. */
static uint64_t allocate_and_write(size_t words, int r)
{
	volatile uint64_t *q = dsm_malloc(words * 8);

	if (!q)
		FAIL("round %d: dsm_malloc(%zu) returned NULL", r, words * 8);
	for (size_t i = 0; i < words; i++)
		q[i] = pattern(1, r, i);
	CHECK(dsm_lock_acquire(LOCK_B));
	CHECK(dsm_lock_release(LOCK_B));
	return (uint64_t)(uintptr_t)q;
}

/* Step 4 on every node: the block holds node 1's pattern, word by word. */
static void check_block(uint64_t addr, size_t words, int r, uint64_t freed)
{
	volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)addr;

	for (size_t i = 0; i < words; i++) {
		uint64_t v = q[i];
		if (v == pattern(1, r, i))
			continue;
		FAIL("round %d: word %zu of the %zu-byte block node 1 allocated at "
		     "%#llx holds %#llx, expected %#llx (%s)", r, i, words * 8,
		     (unsigned long long)addr, (unsigned long long)v,
		     (unsigned long long)pattern(1, r, i),
		     v == pattern(0, r, i) && addr == freed
			     ? "node 0's write from before it freed the block"
			     : "neither node's write");
	}
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	int reused = 0;

	if (n < 2) {
		printf("SKIP: " MN_PROG " needs at least 2 nodes\n");
		dsm_finalize();
		return 77;
	}
	for (int r = 0; r < ROUNDS; r++) {
		size_t words = (r % 2 ? 200 : 2 * ps + 64) / 8;
		uint64_t pa = 0, pb = 0, done = 0;

		if (me == 0)
			pa = write_and_free(words, r);
		CHECK(dsm_broadcast(&pa, sizeof(pa), 0));
		if (me == 1) {
			pb = allocate_and_write(words, r);
			reused += pb == pa;
		}
		CHECK(dsm_broadcast(&pb, sizeof(pb), 1));
		if (me == 0) { /* publishes what node 0 wrote this round */
			CHECK(dsm_lock_acquire(LOCK_A));
			CHECK(dsm_lock_release(LOCK_A));
		}
		CHECK(dsm_barrier(BAR));
		check_block(pb, words, r, pa);
		CHECK(dsm_barrier(BAR));
		if (me == 1)
			dsm_free((void *)(uintptr_t)pb);
		CHECK(dsm_broadcast(&done, sizeof(done), 1)); /* after that free */
	}
	if (me == 1 && reused < ROUNDS / 2)
		FAIL("the allocator gave node 1 the block node 0 had just freed in "
		     "only %d of %d rounds: the test shows nothing", reused, ROUNDS);
	if (me == 1)
		printf(MN_PROG ": %d rounds, the freed block reused in %d\n", ROUNDS,
		       reused);
	CHECK(dsm_finalize());
	return 0;
}
