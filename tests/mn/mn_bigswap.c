/*
 * mn_bigswap.c — every node fetches large amounts of data from the others
 * at the same moment, so service threads send large replies to each other
 * at once (under lrc: batched diff replies carrying many intervals' diffs).
 * A transport whose service thread stops reading while it waits to send
 * deadlocks here until the timeout breaks the links.
 *
 * Each node owns PAGES pages and rewrites all of them in ROUNDS intervals
 * (barriers) that nobody reads; then all nodes read every other node's
 * pages at once and check the values of the last round. Twice: the second
 * time the pages are known to be in use, so lrc batches many pages'
 * accumulated diffs into each reply (megabytes each way at once).
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "dsm.h"

#define PAGES 40
#define ROUNDS 150

int main(int argc, char **argv)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), w = ps / 8;
	volatile uint64_t *a;
	int me, n, err;

	if ((err = dsm_init(&argc, &argv)))
		return 1;
	me = dsm_node_id();
	n = dsm_node_count();
	if (!(a = dsm_alloc_collective((size_t)n * PAGES * ps)))
		return 1;
	for (int epoch = 0; epoch < 2; epoch++) {
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t p = 0; p < PAGES; p++)
			for (size_t k = 0; k < w; k++) /* every word: full-page diffs */
				a[((size_t)me * PAGES + p) * w + k] = (uint64_t)r << 32 | p << 16 | k;
		if ((err = dsm_barrier(1))) {
			fprintf(stderr, "mn_bigswap: node %d: FAIL: barrier: %s\n", me,
				dsm_strerror(err));
			return 1;
		}
	}
	for (int d = 1; d < n; d++) { /* everyone reads the others at once */
		int o = (me + d) % n;
		for (size_t p = 0; p < PAGES; p++)
			for (size_t k = 0; k < w; k += 61) {
				uint64_t want = (uint64_t)(ROUNDS - 1) << 32 | p << 16 | k;
				uint64_t got = a[((size_t)o * PAGES + p) * w + k];
				if (got != want) {
					fprintf(stderr, "mn_bigswap: node %d: FAIL: node %d page "
						"%zu word %zu = %llx, want %llx\n", me, o, p, k,
						(unsigned long long)got, (unsigned long long)want);
					return 1;
				}
			}
	}
	if ((err = dsm_barrier(3)))
		return 1;
	}
	if ((err = dsm_barrier(2)))
		return 1;
	if (me == 0)
		printf("mn_bigswap: %d nodes swapped %d pages x %d rounds each: ok\n", n,
		       PAGES, ROUNDS);
	return dsm_finalize() ? 1 : 0;
}
