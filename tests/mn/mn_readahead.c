/*
 * mn_readahead.c — hlrc fetches a stream of reads in runs that grow to
 * DSM_HLRC_RUN_MAX pages, each installed and unprotected at once.
 *
 * Node 0 writes NP pages whose home it is (placement hint 0); barrier;
 * every other node reads one word of each page in order and checks it.
 * Under hlrc every page is fetched exactly once (remote_fetches grows by
 * NP), and the readahead window doubles with each fault that follows the
 * last run (1, 2, 4, ... pages) up to the run limit: 2048 pages take
 * about 22 faults with runs of up to 128 pages (68 with 32), so more than
 * NP / 64 read faults, or as many messages received, fail the test.
 *
 * Then a partition's walk (quicksort's Hoare partition): node 0 writes NP
 * more pages; every other node reads them from both ends at once, a page
 * from the front, then one from the back, moving inward. The two walks
 * each keep their own window (hlrc.c, prefetch_run): 23 faults. More
 * than NP / 48 (42) fail: with one window for both, each walk's fault
 * restarts the other's, and it took 65. The other protocols only check
 * the values.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MN_PROG "mn_readahead"
#include "mn_util.h"

#define NP 2048u

static uint64_t val(size_t p)
{
	return p * 0x9e3779b97f4a7c15ull + 1;
}

/* Page p of b holds val(p + base) at word p % wpp: FAIL if not. */
static void check_page(volatile uint64_t *b, size_t p, size_t wpp, size_t base)
{
	if (b[p * wpp + p % wpp] != val(p + base))
		FAIL("page %zu (+%zu): read %llx, node 0 wrote %llx", p, base,
		     (unsigned long long)b[p * wpp + p % wpp],
		     (unsigned long long)val(p + base));
}

/* NP pages homed at node 0, which writes val(p + base) into page p;
 * then barrier bar. */
static volatile uint64_t *written(size_t ps, size_t wpp, size_t base, unsigned bar)
{
	volatile uint64_t *b = dsm_alloc_collective_hint(NP * ps, 0);

	if (!b)
		FAIL("dsm_alloc_collective_hint: errno %d", errno);
	if (me == 0)
		for (size_t p = 0; p < NP; p++)
			b[p * wpp + p % wpp] = val(p + base);
	CHECK(dsm_barrier(bar));
	return b;
}

/* Node 0 writes NP pages; the others read them from both ends inward. */
static void two_ends(int hlrc, size_t ps, size_t wpp)
{
	volatile uint64_t *b = written(ps, wpp, NP, 3);
	struct dsm_stats s0, s1;

	CHECK(dsm_stats(&s0));
	for (size_t i = 0; me != 0 && i < NP / 2; i++) {
		check_page(b, i, wpp, NP);
		check_page(b, NP - 1 - i, wpp, NP);
	}
	CHECK(dsm_stats(&s1));
	if (hlrc && me != 0) {
		unsigned long long f = s1.read_faults - s0.read_faults;
		unsigned long long got = s1.remote_fetches - s0.remote_fetches;
		if (got != NP)
			FAIL("two ends: %llu pages fetched reading %u (want each once)",
			     got, NP);
		if (f * 48 > NP)
			FAIL("two ends: %llu read faults reading %u pages from both "
			     "ends: the walks share one readahead window", f, NP);
		if (me == 1)
			printf("mn_readahead: %u pages from both ends: %llu faults: ok\n",
			       NP, f);
	}
	CHECK(dsm_barrier(4));
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL");
	int hlrc = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), wpp = ps / sizeof(uint64_t);
	volatile uint64_t *a = written(ps, wpp, 0, 1);
	struct dsm_stats s0, s1;

	CHECK(dsm_stats(&s0));
	for (size_t p = 0; me != 0 && p < NP; p++)
		check_page(a, p, wpp, 0);
	CHECK(dsm_stats(&s1));
	if (hlrc && me != 0) {
		unsigned long long f = s1.read_faults - s0.read_faults;
		unsigned long long r = s1.messages_recv - s0.messages_recv;
		unsigned long long got = s1.remote_fetches - s0.remote_fetches;
		if (got != NP)
			FAIL("%llu pages fetched reading %u (want each once)", got, NP);
		if (f * 64 > NP)
			FAIL("%llu read faults reading %u pages in order: runs too short",
			     f, NP);
		if (r * 64 > NP)
			FAIL("%llu messages received for %u pages: runs too short", r, NP);
		if (me == 1)
			printf("mn_readahead: %u pages: %llu faults, %llu messages: ok\n",
			       NP, f, r);
	}
	CHECK(dsm_barrier(2));
	two_ends(hlrc, ps, wpp);
	(void)n;
	return dsm_finalize() ? 1 : 0;
}
