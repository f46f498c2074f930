/*
 * mn_halves.c — several writers of the same pages between barriers.
 *
 * Every node writes its own segment (1/N) of each of P pages, W words per
 * segment, every iteration; after a barrier every node checks every
 * segment of every page. All writes must survive. Under lrc (multiple
 * writers) a page must not move on every write: each node takes at most one
 * write fault per page per iteration (one twin per interval), and fetches
 * each page at most once per iteration.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_halves"
#include "mn_util.h"

#define P 4
#define ITER 60

static int n;

static uint64_t val(int node, int page, int w, int it)
{
	return ((uint64_t)it << 40) | ((uint64_t)node << 24) | ((uint64_t)page << 16) |
	       (uint64_t)w;
}

/* Every segment of every page holds iteration it's values. */
static int check_all(volatile uint64_t *a, size_t words_per_page, size_t seg, int it)
{
	for (int p = 0; p < P; p++)
		for (int k = 0; k < n; k++)
			for (size_t w = 0; w < seg; w++) {
				uint64_t got = a[p * words_per_page + k * seg + w];
				if (got != val(k, p, (int)w, it)) {
					fprintf(stderr, "mn_halves: node %d: FAIL: iteration %d page "
						"%d node %d's word %zu = %llx, want %llx\n", me, it,
						p, k, w, (unsigned long long)got,
						(unsigned long long)val(k, p, (int)w, it));
					return 1;
				}
			}
	return 0;
}

int main(int argc, char **argv)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), wpp = ps / 8, seg;
	const char *proto = getenv("DSM_PROTOCOL");
	struct dsm_stats s0, s1;
	volatile uint64_t *a;
	int err;

	if ((err = dsm_init(&argc, &argv)))
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	n = dsm_node_count();
	seg = wpp / (size_t)n;
	a = dsm_alloc_collective(P * ps);
	if (!a)
		return fail_err("dsm_alloc_collective", -12);
	dsm_stats(&s0);
	for (int it = 0; it < ITER; it++) {
		for (int p = 0; p < P; p++)
			for (size_t w = 0; w < seg; w++)
				a[p * wpp + (size_t)me * seg + w] = val(me, p, (int)w, it);
		if ((err = dsm_barrier(1)))
			return fail_err("dsm_barrier", err);
		if (check_all(a, wpp, seg, it))
			return 1;
		if ((err = dsm_barrier(2)))
			return fail_err("dsm_barrier", err);
	}
	dsm_stats(&s1);
	if (!proto || strcmp(proto, "lrc") == 0) {
		uint64_t wf = s1.write_faults - s0.write_faults;
		uint64_t rf = s1.remote_fetches - s0.remote_fetches;
		if (wf > (uint64_t)ITER * P || rf > (uint64_t)ITER * P) {
			fprintf(stderr, "mn_halves: node %d: FAIL: %llu write faults and %llu "
				"fetches for %d iterations x %d pages (%zu writes each): "
				"pages move on every write\n", me, (unsigned long long)wf,
				(unsigned long long)rf, ITER, P, seg);
			return 1;
		}
	}
	if (me == 0)
		printf("mn_halves: %d nodes x %d pages x %d iterations: all writes "
		       "survived; node 0: %llu write faults, %llu fetches, %llu messages\n",
		       n, P, ITER, (unsigned long long)(s1.write_faults - s0.write_faults),
		       (unsigned long long)(s1.remote_fetches - s0.remote_fetches),
		       (unsigned long long)(s1.messages_sent - s0.messages_sent));
	return dsm_finalize() ? 1 : 0;
}
