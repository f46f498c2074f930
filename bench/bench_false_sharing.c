/*
 * bench_false_sharing.c — N nodes write disjoint, interleaved words of the
 * same pages (word i belongs to node i % N: the worst false sharing), then
 * a barrier, for ITER iterations. Reports time and messages per iteration
 * and per node, for the protocol of the run (bench/run.sh runs it under sc
 * and lrc). Raw limit: the same stores to private memory plus the
 * barrier's own cost (measured with an empty iteration).
 * Prints: RESULT name=false_sharing_<proto>_n<N> ours_us=<per iteration>
 *   raw_us=<private stores + empty barrier> ratio=... target=-
 *   msgs_per_iter=<per node> bytes_per_iter=<per node>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_false_sharing"
#include "bench_util.h"

#define PAGES 8

/* Every node stores its words of all pages, `reps` times over. */
static void store_all(volatile uint64_t *a, size_t words, int me, int n, int it,
		      int reps)
{
	for (int r = 0; r < reps; r++)
		for (size_t w = (size_t)me; w < words; w += (size_t)n)
			a[w] = (uint64_t)it * 131 + w + (uint64_t)r;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "bench_false_sharing: %s: %s\n", what, dsm_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int iters = quick ? 20 : 100, reps = 4, me, n, err;
	size_t words = PAGES * (size_t)sysconf(_SC_PAGESIZE) / 8;
	const char *proto = getenv("DSM_PROTOCOL");
	struct dsm_stats s0, s1;
	volatile uint64_t *a;
	uint64_t *priv;
	double t0, t_ours, t_raw, t_bar;

	if ((err = dsm_init(&argc, &argv)))
		return die("dsm_init", err);
	me = dsm_node_id();
	n = dsm_node_count();
	a = dsm_alloc_collective(words * 8);
	priv = calloc(words, 8);
	if (!a || !priv)
		return die("allocation", -12);
	/* raw: the same stores to private memory, and empty barriers */
	t0 = now_us();
	for (int it = 0; it < iters; it++)
		store_all(priv, words, me, n, it, reps);
	t_raw = (now_us() - t0) / iters;
	dsm_barrier(1);
	t0 = now_us();
	for (int it = 0; it < iters; it++)
		dsm_barrier(1);
	t_bar = (now_us() - t0) / iters;
	dsm_stats(&s0);
	t0 = now_us();
	for (int it = 0; it < iters; it++) {
		store_all(a, words, me, n, it, reps);
		if ((err = dsm_barrier(2)))
			return die("dsm_barrier", err);
	}
	t_ours = (now_us() - t0) / iters;
	dsm_stats(&s1);
	for (size_t w = 0; w < words; w++) /* every node's last values */
		if (a[w] != (uint64_t)(iters - 1) * 131 + w + (uint64_t)(reps - 1))
			return die("wrong final value", -5);
	if (me == 0) {
		double msgs = (double)(s1.messages_sent - s0.messages_sent) / iters;
		double bytes = (double)(s1.bytes_sent - s0.bytes_sent) / iters;
		printf("bench_false_sharing: %d nodes, %d pages, %zu words each written "
		       "%d times per iteration, %d iterations\n", n, PAGES, words / (size_t)n,
		       reps, iters);
		printf("  per iteration: %.1f us (private stores %.2f us + empty barrier "
		       "%.1f us); node 0 sends %.1f messages, %.0f bytes\n",
		       t_ours, t_raw, t_bar, msgs, bytes);
		printf("RESULT name=false_sharing_%s_n%d ours_us=%.3f raw_us=%.3f ratio=%.3f "
		       "target=- msgs_per_iter=%.1f bytes_per_iter=%.0f nodes=%d "
		       "oversubscribed=%d\n", proto ? proto : "lrc", n, t_ours, t_raw + t_bar,
		       t_ours / (t_raw + t_bar), msgs, bytes, n,
		       n > (int)sysconf(_SC_NPROCESSORS_ONLN));
	}
	free(priv);
	return dsm_finalize() ? 1 : 0;
}
