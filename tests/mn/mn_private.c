/*
 * mn_private — pages only their writer uses cost nothing after the first
 * iteration (hlrc's private-page classification, issue 10).
 *
 * Each node owns a block of B pages of a collectively allocated array
 * and, for ITERS iterations, rewrites every word of its block (value =
 * f(iteration, index)) and then reads the first word of its right
 * neighbour's block (the neighbour's first page is shared, the rest
 * private); a barrier ends each iteration. Every node checks the values it
 * read against the sequential formula, and at the end the whole array.
 *
 * Under hlrc (DSM_PROTOCOL unset or hlrc; first-touch homes) the write
 * faults of iterations 2..ITERS must be at most one per iteration (the
 * shared first page of the block, write-protected again when the
 * neighbour fetched it), i.e. the B-1 private pages cost zero faults;
 * under the other protocols only the values are checked. Nor may they
 * cost kernel faults (getrusage: fewer than B/4 in those iterations):
 * with the region registered for userfaultfd write-protection while no
 * page was tracked, each private page took one at its first write after
 * the first barrier (the kernel sets no write bit when mprotect restores
 * write access to a registered shared mapping). Not checked in sanitizer
 * builds: 64-72 of their own under ASan at 4 and 8 nodes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dsm.h"

#define MN_PROG "mn_private"
#include "mn_util.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1 /* the runtime faults in its own shadow memory */
#else
#define SANITIZED 0
#endif

#define B 256u       /* pages per node */
#define ITERS 10
#define BAR 1u

static long kernel_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_minflt;
}

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ it;
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL");
	int check_faults = !proto || !*proto || strcmp(proto, "hlrc") == 0;
	size_t words_pp = 4096 / sizeof(uint64_t), per = B * words_pp;
	volatile uint64_t *a = mn_alloc_collective((size_t)n * per * sizeof(uint64_t));
	struct dsm_stats s0, s1;
	long k0 = 0, k1;
	size_t mine = (size_t)me * per, right = (size_t)((me + 1) % n) * per;

	if (check_faults && getenv("DSM_HOME") && strcmp(getenv("DSM_HOME"), "first-touch"))
		check_faults = 0; /* only first touch puts a block's home at its writer */
	for (unsigned it = 1; it <= ITERS; it++) {
		if (it == 2) {
			CHECK(dsm_stats(&s0));
			k0 = kernel_faults();
		}
		for (size_t i = 0; i < per; i++)
			a[mine + i] = f(it, mine + i);
		CHECK(dsm_barrier(BAR));
		if (a[right] != f(it, right))
			FAIL("iteration %u: neighbour's first word %llx, expected %llx", it,
			     (unsigned long long)a[right], (unsigned long long)f(it, right));
		CHECK(dsm_barrier(BAR + 1));
	}
	k1 = kernel_faults();
	CHECK(dsm_stats(&s1));
	for (size_t i = 0; i < (size_t)n * per; i++)
		if (a[i] != f(ITERS, i))
			FAIL("word %zu is %llx, expected %llx", i, (unsigned long long)a[i],
			     (unsigned long long)f(ITERS, i));
	if (check_faults && n > 1) {
		uint64_t wf = s1.write_faults - s0.write_faults;
		if (wf > ITERS - 1)
			FAIL("%llu write faults in iterations 2..%d for %u pages of which "
			     "%u are private: private pages must cost none",
			     (unsigned long long)wf, ITERS, B, B - 1);
		if (!SANITIZED && k1 - k0 >= (long)B / 4)
			FAIL("%ld kernel page faults in iterations 2..%d (%u pages "
			     "written per iteration): private pages must cost none",
			     k1 - k0, ITERS, B);
		printf(MN_PROG ": node %d: %llu write faults and %ld kernel faults "
		       "after the first iteration (%u pages written per iteration)\n",
		       me, (unsigned long long)wf, k1 - k0, B);
	}
	CHECK(dsm_barrier(BAR + 2));
	return dsm_finalize() ? 1 : 0;
}
