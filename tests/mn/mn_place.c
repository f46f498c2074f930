/*
 * mn_place — dsm_alloc_collective_hint puts homes where the hint says
 * (hlrc, issue 10).
 *
 * Array A (DSM_PLACE_BLOCKED, N runs of B pages): node 0 first writes all
 * of it (under first touch node 0 would become the home of every page),
 * then for ROUNDS rounds each node rewrites its own run and every node
 * checks all of A. Block C (hint = node N-1) is written by node 0 only, in
 * the first round.
 *
 * Under hlrc: no node creates a diff for A in any round (each writes only
 * pages whose home it is, from the start: without the hint the first two
 * rounds would send diffs to node 0 until the homes migrated), while node
 * 0 creates at least B diffs in the round it writes C (C's home is node
 * N-1, not its first writer); and in a fresh blocked array each owner
 * writes its run without a single fault (a placed page starts writable at
 * its home). Under every protocol: the values, and that
 * a hint that is neither DSM_PLACE_* nor a node id fails with EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_place"
#include "mn_util.h"

#define B 8u
#define ROUNDS 3u
#define BAR 1u

static uint64_t f(unsigned r, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)r << 48) ^ (r * 131u);
}

static uint64_t diffs_now(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return s.diffs_created;
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL");
	int hlrc = n > 1 && (!proto || !*proto || strcmp(proto, "hlrc") == 0);
	size_t wpp = 4096 / sizeof(uint64_t), per = B * wpp, words = (size_t)n * per;
	volatile uint64_t *a, *c;
	uint64_t d0, d1;

	errno = 0;
	if (dsm_alloc_collective_hint(4096, n) || errno != EINVAL)
		FAIL("hint %d (no such node): expected NULL with EINVAL, errno %d", n, errno);
	errno = 0;
	if (dsm_alloc_collective_hint(4096, DSM_PLACE_CYCLIC - 1) || errno != EINVAL)
		FAIL("hint %d: expected NULL with EINVAL, errno %d", DSM_PLACE_CYCLIC - 1,
		     errno);
	a = dsm_alloc_collective_hint(words * sizeof(uint64_t), DSM_PLACE_BLOCKED);
	c = dsm_alloc_collective_hint(per * sizeof(uint64_t), n - 1);
	if (!a || !c)
		FAIL("dsm_alloc_collective_hint: %s", strerror(errno));
	if (me == 0)
		for (size_t i = 0; i < words; i++)
			a[i] = f(0, i);
	CHECK(dsm_barrier(BAR));
	d0 = diffs_now();
	for (unsigned r = 1; r <= ROUNDS; r++) {
		for (size_t i = (size_t)me * per; i < (size_t)(me + 1) * per; i++)
			a[i] = f(r, i);
		CHECK(dsm_barrier(BAR));
		for (size_t i = 0; i < words; i++)
			if (a[i] != f(r, i))
				FAIL("round %u: word %zu is %llx, expected %llx", r, i,
				     (unsigned long long)a[i], (unsigned long long)f(r, i));
		CHECK(dsm_barrier(BAR));
	}
	d1 = diffs_now();
	if (hlrc && d1 != d0)
		FAIL("%llu diffs for the blocked array: every node writes only pages "
		     "the hint made its own", (unsigned long long)(d1 - d0));
	if (me == 0)
		for (size_t i = 0; i < per; i++)
			c[i] = f(9, i);
	CHECK(dsm_barrier(BAR));
	d0 = diffs_now() - d1;
	for (size_t i = 0; i < per; i++)
		if (c[i] != f(9, i))
			FAIL("block C word %zu is %llx", i, (unsigned long long)c[i]);
	if (hlrc && me == 0 && n > 1 && d0 < B)
		FAIL("%llu diffs for %u pages written by node 0 whose home is node %d: "
		     "expected one per page", (unsigned long long)d0, B, n - 1);
	if (hlrc)
		printf(MN_PROG ": node %d: %llu diffs for C\n", me, (unsigned long long)d0);
	{ /* a fresh blocked array: each owner writes its run without a fault */
		volatile uint64_t *e = dsm_alloc_collective_hint(words * sizeof(uint64_t),
								 DSM_PLACE_BLOCKED);
		struct dsm_stats s0, s1;
		if (!e)
			FAIL("dsm_alloc_collective_hint: %s", strerror(errno));
		CHECK(dsm_stats(&s0));
		for (size_t i = (size_t)me * per; i < (size_t)(me + 1) * per; i++)
			e[i] = f(7, i);
		CHECK(dsm_stats(&s1));
		if (hlrc && s1.write_faults + s1.read_faults != s0.write_faults + s0.read_faults)
			FAIL("%llu faults writing this node's run of a placed block: its "
			     "pages start writable at their home",
			     (unsigned long long)(s1.write_faults + s1.read_faults -
						  s0.write_faults - s0.read_faults));
		CHECK(dsm_barrier(BAR));
		for (size_t i = 0; i < words; i++)
			if (e[i] != f(7, i))
				FAIL("placed block word %zu is %llx", i, (unsigned long long)e[i]);
		CHECK(dsm_barrier(BAR));
	}
	CHECK(dsm_barrier(BAR + 1));
	return dsm_finalize() ? 1 : 0;
}
