/*
 * mn_migrate — data written by a node that is not a page's home survives
 * the home's migration to it, and a migrated page costs its writer no
 * diffs (hlrc, DSM_HOME_MIGRATE=on, issue 10).
 *
 * Node 0 first writes the whole array (under first touch it becomes the
 * home of every page). Then, for ROUNDS rounds, each node rewrites the
 * block of B pages it owns in that round and one word of its own in a
 * page every node writes (false sharing: that page has no single writer);
 * a barrier; every node checks every block and the shared page against
 * the sequential formula; a barrier. Block ownership shifts by one node
 * halfway, so each block's home migrates twice (0 -> owner -> next
 * owner).
 *
 * Under hlrc with migration on, the diffs a node creates in the last two
 * rounds of each half must be at most one per round (the false-shared
 * page): its block's pages are its own by then. With DSM_HOME_MIGRATE=off
 * it would be B + 1 per round. Other protocols: values only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_migrate"
#include "mn_util.h"

#define B 16u        /* pages per block */
#define ROUNDS 8u    /* ownership shifts after ROUNDS / 2 */
#define BAR 1u

static uint64_t f(unsigned r, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)r << 44) ^ (r * 7919u);
}

static int owner(unsigned r, int block, int n)
{
	return (block + (r > ROUNDS / 2 ? 1 : 0)) % n;
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL"), *mig = getenv("DSM_HOME_MIGRATE");
	int check = n > 1 && (!proto || !*proto || strcmp(proto, "hlrc") == 0) &&
		    !(mig && strcmp(mig, "off") == 0); /* on by default */
	size_t wpp = 4096 / sizeof(uint64_t), per = B * wpp, words = (size_t)n * per;
	volatile uint64_t *a = mn_alloc_collective((words + wpp) * sizeof(uint64_t));
	volatile uint64_t *fs = a + words; /* the false-shared page */
	uint64_t diffs = 0, d0 = 0;
	struct dsm_stats s;

	if (me == 0)
		for (size_t i = 0; i < words; i++)
			a[i] = f(0, i);
	CHECK(dsm_barrier(BAR));
	for (unsigned r = 1; r <= ROUNDS; r++) {
		int measured = r % (ROUNDS / 2) == 3 || r % (ROUNDS / 2) == 0;
		if (measured) {
			CHECK(dsm_stats(&s));
			d0 = s.diffs_created;
		}
		for (int b = 0; b < n; b++)
			if (owner(r, b, n) == me)
				for (size_t i = (size_t)b * per; i < (size_t)(b + 1) * per; i++)
					a[i] = f(r, i);
		fs[me] = f(r, words + (size_t)me);
		CHECK(dsm_barrier(BAR));
		if (measured) {
			CHECK(dsm_stats(&s));
			diffs += s.diffs_created - d0;
		}
		for (size_t i = 0; i < words; i++)
			if (a[i] != f(r, i))
				FAIL("round %u: word %zu (block %zu) is %llx, expected %llx", r,
				     i, i / per, (unsigned long long)a[i],
				     (unsigned long long)f(r, i));
		for (int k = 0; k < n; k++)
			if (fs[k] != f(r, words + (size_t)k))
				FAIL("round %u: node %d's word of the shared page is %llx", r, k,
				     (unsigned long long)fs[k]);
		CHECK(dsm_barrier(BAR));
	}
	if (check) {
		printf(MN_PROG ": node %d: %llu diffs in the 4 measured rounds\n", me,
		       (unsigned long long)diffs);
		if (diffs > 4)
			FAIL("%llu diffs in 4 rounds after migration: at most one per "
			     "round (the false-shared page) expected; the %u pages this "
			     "node alone writes should have moved their home here",
			     (unsigned long long)diffs, B);
	}
	CHECK(dsm_barrier(BAR + 1));
	return dsm_finalize() ? 1 : 0;
}
