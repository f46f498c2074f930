/*
 * mn_twin_run.c — under hlrc a walk of writes through pages another node
 * is the home of twins the pages ahead of it at each fault (hlrc_twin.c),
 * and pages twinned ahead but never written are not announced.
 *
 * Node 1 writes NP pages whose home it is (placement hint 1); every other
 * node reads them all. Then node 0 writes one word of each page of the
 * first half walking forward, and of the last quarter walking backward
 * (a partition's two ends), between two barriers. Every node checks every
 * page against the values it must hold. Under hlrc:
 *  - node 0 takes at most (NP / 2 + NP / 4) / 8 write faults for the 768
 *    pages (about 30 with runs of up to 32; one per page without runs);
 *  - node 2 (4 or more nodes) reads the untouched third quarter, which
 *    both walks twinned ahead into, without fetching a page: a page
 *    twinned ahead and not written is left out of the interval's record,
 *    so no copy of it is invalidated.
 * The other protocols only check the values.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MN_PROG "mn_twin_run"
#include "mn_util.h"

#define NP 1024u

static uint64_t val(size_t p, int round)
{
	return (p + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)round;
}

/* Did node 0 write page p in round 1? */
static int walked(size_t p)
{
	return p < NP / 2 || p >= 3 * NP / 4;
}

/* Check pages [lo, hi) of b: FAIL if one does not hold what it must. */
static void check(volatile uint64_t *b, size_t wpp, size_t lo, size_t hi)
{
	for (size_t p = lo; p < hi; p++) {
		uint64_t want = val(p, walked(p));
		if (b[p * wpp + p % wpp] != want)
			FAIL("page %zu: read %llx, want %llx", p,
			     (unsigned long long)b[p * wpp + p % wpp],
			     (unsigned long long)want);
	}
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), wpp = ps / sizeof(uint64_t);
	volatile uint64_t *b = dsm_alloc_collective_hint(NP * ps, 1);
	struct dsm_stats s0, s1;

	if (!b)
		FAIL("dsm_alloc_collective_hint: errno %d", errno);
	for (size_t p = 0; me == 1 && p < NP; p++)
		b[p * wpp + p % wpp] = val(p, 0);
	CHECK(dsm_barrier(1));
	for (size_t p = 0; me != 1 && p < NP; p++)
		if (b[p * wpp + p % wpp] != val(p, 0))
			FAIL("page %zu: not node 1's value", p);
	CHECK(dsm_barrier(2));
	CHECK(dsm_stats(&s0));
	if (me == 0) {
		for (size_t p = 0; p < NP / 2; p++)
			b[p * wpp + p % wpp] = val(p, 1);
		for (size_t p = NP; p-- > 3 * NP / 4;)
			b[p * wpp + p % wpp] = val(p, 1);
	}
	CHECK(dsm_stats(&s1));
	CHECK(dsm_barrier(3));
	if (hlrc && me == 0) {
		unsigned long long f = s1.write_faults - s0.write_faults;
		if (f * 8 > NP / 2 + NP / 4)
			FAIL("%llu write faults writing %u pages in two walks: no twin runs",
			     f, NP / 2 + NP / 4);
		printf("mn_twin_run: %u pages written in two walks: %llu write faults: ok\n",
		       NP / 2 + NP / 4, f);
	}
	CHECK(dsm_stats(&s0));
	check(b, wpp, NP / 2, 3 * NP / 4);
	CHECK(dsm_stats(&s1));
	if (hlrc && me == 2 && s1.remote_fetches != s0.remote_fetches)
		FAIL("%llu pages fetched reading pages node 0 never wrote: pages "
		     "twinned ahead were announced",
		     (unsigned long long)(s1.remote_fetches - s0.remote_fetches));
	check(b, wpp, 0, NP / 2);
	check(b, wpp, 3 * NP / 4, NP);
	CHECK(dsm_barrier(4));
	(void)n;
	return dsm_finalize() ? 1 : 0;
}
