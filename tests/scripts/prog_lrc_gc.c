/*
 * prog_lrc_gc.c — a long iterative lrc run: every node rewrites part of
 * every shared page each iteration and reads the others' parts after a
 * barrier (a second barrier ends the iteration), so every iteration
 * creates intervals, twins and diffs. Prints
 * the resident set size after the warm-up and at the end, and checks the
 * data every iteration. Usage: prog_lrc_gc ITERATIONS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define PAGES 64

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), wpp = ps / 8, seg;
	long iters = argc > 1 ? atol(argv[1]) : 2000, warm = iters / 10, rss0 = 0;
	volatile uint64_t *a;
	int me, n, err;

	if ((err = dsm_init(&argc, &argv)))
		return 1;
	me = dsm_node_id();
	n = dsm_node_count();
	seg = wpp / (size_t)n;
	if (!(a = dsm_alloc_collective(PAGES * ps)))
		return 1;
	for (long it = 0; it < iters; it++) {
		for (size_t p = 0; p < PAGES; p++)
			for (size_t w = 0; w < seg; w += 2)
				a[p * wpp + (size_t)me * seg + w] = (uint64_t)it * 1000 + p;
		if ((err = dsm_barrier(1)))
			return 1;
		for (size_t p = 0; p < PAGES; p++)
			for (int k = 0; k < n; k++)
				if (a[p * wpp + (size_t)k * seg] != (uint64_t)it * 1000 + p) {
					fprintf(stderr, "prog_lrc_gc: node %d: FAIL: iteration %ld "
						"page %zu node %d's part is stale\n", me, it, p, k);
					return 1;
				}
		/* the next iteration's writes must not race with the peers'
		 * reads of this one (the program must be data-race-free: a
		 * page fetched whole may be newer than the notices ask) */
		if ((err = dsm_barrier(2)))
			return 1;
		if (it == warm)
			rss0 = rss_kib();
	}
	printf("node %d: rss_warm_kib=%ld rss_end_kib=%ld iterations=%ld\n", me, rss0,
	       rss_kib(), iters);
	return dsm_finalize() ? 1 : 0;
}
