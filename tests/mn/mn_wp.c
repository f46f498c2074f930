/*
 * mn_wp — pages written interval after interval stop costing a protection
 * fault per interval when the kernel records writes (DSM_WRITE_DETECT=uffd;
 * docs/write-detection.md), and still cost one each under segv; the data
 * is right either way. Under lrc every written page is at stake; under
 * hlrc the home's shared pages (the neighbour reads the first and last
 * page of each block), its private ones costing nothing either way.
 *
 * Two collectively allocated arrays, each node owning a block of B pages
 * of each, written in turns as a Jacobi sweep writes its two grids:
 * iteration it rewrites the node's block of array it % 2 (value =
 * f(it, index)), then a barrier, then each node checks the first and last
 * word of its right neighbour's block against the formula, then a
 * barrier. At the end every node checks both arrays whole.
 *
 * Write faults counted from iteration WARM on (by then every block has
 * been written twice and is tracked): under DSM_WRITE_DETECT=uffd at most
 * one per iteration (slack), under segv at least B (lrc) or 2 (hlrc: the
 * two shared pages of the block written) per iteration.
 * DSM_WRITE_DETECT=uffd on a kernel without it fails dsm_init on every
 * node: a skip (77).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_wp"
#include "mn_util.h"

#define B 48u
#define ITERS 14
#define WARM 5
#define BAR 1u

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ (it * 7919u);
}

/* The value word i of array k holds after iteration it (0: never written). */
static uint64_t expect(unsigned k, unsigned it, uint64_t i)
{
	unsigned last = it % 2 == k ? it : it - 1;
	return last ? f(last, i) : 0;
}

int main(int argc, char **argv)
{
	const char *wd = getenv("DSM_WRITE_DETECT"), *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	int uffd = wd && strcmp(wd, "uffd") == 0, segv = wd && strcmp(wd, "segv") == 0;
	int err = dsm_init(&argc, &argv), n;
	size_t per = B * 4096 / sizeof(uint64_t);
	struct dsm_stats s0, s1;

	if (err == DSM_ECONFIG && uffd) {
		printf("SKIP: " MN_PROG ": DSM_WRITE_DETECT=uffd is not available here\n");
		return 77;
	}
	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	n = dsm_node_count();
	volatile uint64_t *a[2] = { mn_alloc_collective((size_t)n * per * 8),
				    mn_alloc_collective((size_t)n * per * 8) };
	size_t mine = (size_t)me * per, right = (size_t)((me + 1) % n) * per;

	for (unsigned it = 1; it <= ITERS; it++) {
		if (it == WARM)
			CHECK(dsm_stats(&s0));
		for (size_t i = 0; i < per; i++)
			a[it % 2][mine + i] = f(it, mine + i);
		CHECK(dsm_barrier(BAR));
		for (unsigned k = 0; k < 2; k++)
			for (size_t i = right; i < right + per; i += per - 1)
				if (a[k][i] != expect(k, it, i))
					FAIL("iteration %u: array %u word %zu is %llx, expected %llx",
					     it, k, i, (unsigned long long)a[k][i],
					     (unsigned long long)expect(k, it, i));
		CHECK(dsm_barrier(BAR + 1));
	}
	CHECK(dsm_stats(&s1));
	for (unsigned k = 0; k < 2; k++)
		for (size_t i = 0; i < (size_t)n * per; i++)
			if (a[k][i] != expect(k, ITERS, i))
				FAIL("array %u word %zu is %llx, expected %llx", k, i,
				     (unsigned long long)a[k][i],
				     (unsigned long long)expect(k, ITERS, i));
	uint64_t wf = s1.write_faults - s0.write_faults, iters = ITERS - WARM + 1;
	printf(MN_PROG ": node %d: %llu write faults in the last %llu iterations "
	       "(%u pages written per iteration)\n", me, (unsigned long long)wf,
	       (unsigned long long)iters, B);
	if (n > 1 && uffd && wf > iters)
		FAIL("%llu write faults with DSM_WRITE_DETECT=uffd: pages written every "
		     "other interval must cost none", (unsigned long long)wf);
	if (n > 1 && segv && wf < iters * (hlrc ? 2 : B))
		FAIL("only %llu write faults with DSM_WRITE_DETECT=segv: every %s page "
		     "written must fault once per iteration", (unsigned long long)wf,
		     hlrc ? "shared" : "");
	CHECK(dsm_barrier(BAR + 2));
	return dsm_finalize() ? 1 : 0;
}
