/*
 * bench_barrier.c — dsm_barrier cost and messages per barrier, per node
 * count. Run with: dsmrun -n N bench_barrier   (N = 2, 4, 8)
 *
 * Ours: time per dsm_barrier over many back-to-back barriers (median over
 * rounds, p10/p90), and messages per barrier: the messages_sent counters of
 * every node (dsm_stats, before and after the timed loops) summed over
 * nodes with dsm_broadcast, divided by the number of barriers; also split
 * by wire message type.
 * Raw limit for comparison: a 64-byte TCP round trip on loopback between
 * nodes 0 and 1 (TCP_NODELAY, blocking sockets, our own connection).
 * Above 2 nodes this 2-core machine is oversubscribed: the times are not
 * meaningful there, the message counts are.
 *
 * Usage: dsmrun -n N bench_barrier [--quick]
 * Exit 0 unless a dsm_ call fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_barrier"
#include "bench_util.h"

#define MSG_BYTES 64
#define MAX_ROUNDS 16
#define CORES_HINT 2 /* this machine; above it times are not meaningful */

/* ---- ours: barrier loops ---- */

/* This node's messages sent between two snapshots, added to acc: [0] all,
 * [1 + t] of wire type t. */
static void add_sent(const struct dsm_stats *a, const struct dsm_stats *b,
		     uint64_t *acc)
{
	acc[0] += b->messages_sent - a->messages_sent;
	for (int t = 0; t < DSM_STATS_MSG_TYPES; t++)
		acc[1 + t] += b->msgs_sent_by_type[t] - a->msgs_sent_by_type[t];
}

/* Timed rounds of iters barriers; per[r] gets us per barrier, acc the
 * messages this node sent inside the loops. Node 0 stops after budget_us
 * of total time (the decision is broadcast, outside the counted loops, so
 * all nodes run the same number of barriers). Returns the rounds run. */
static int barrier_rounds(int iters, int max_rounds, double budget_us,
			  double *per, uint64_t *acc)
{
	double start = now_us();
	struct dsm_stats s0, s1;
	int r;

	for (r = 0; r < max_rounds; r++) {
		double t0;
		int more;

		check(dsm_stats(&s0), "dsm_stats");
		t0 = now_us();
		for (int i = 0; i < iters; i++)
			check(dsm_barrier(21), "dsm_barrier");
		per[r] = (now_us() - t0) / (double)iters;
		check(dsm_stats(&s1), "dsm_stats");
		add_sent(&s0, &s1, acc);
		more = now_us() - start < budget_us;
		check(dsm_broadcast(&more, sizeof(more), 0), "dsm_broadcast");
		if (!more)
			return r + 1;
	}
	return r;
}

/* Sum a vector of counters over all nodes (collective, by broadcasts);
 * the result is in sum on every node. */
static void sum_over_nodes(const uint64_t *mine, uint64_t *sum, size_t n)
{
	uint64_t v[DSM_STATS_MSG_TYPES + 1];

	memset(sum, 0, n * sizeof(*sum));
	for (int root = 0; root < dsm_node_count(); root++) {
		if (root == dsm_node_id())
			memcpy(v, mine, n * sizeof(*v));
		check(dsm_broadcast(v, n * sizeof(*v), root), "dsm_broadcast");
		for (size_t i = 0; i < n; i++)
			sum[i] += v[i];
	}
}

/* Print messages per barrier by wire type (node 0). */
static void print_by_type(const uint64_t *sum, double barriers)
{
	printf("  messages per barrier by type:");
	for (int t = 0; t < DSM_STATS_MSG_TYPES; t++)
		if (sum[1 + t])
			printf(" %s=%.2f", dsm_msg_type_name(t),
			       (double)sum[1 + t] / barriers);
	printf("\n");
}

/* Raw 64-byte round trip between nodes 0 and 1; the median on every
 * node (0 if fewer than 2 nodes). */
static double raw_rtt(int me, int iters)
{
	double *rtt = calloc((size_t)iters, sizeof(double)), med = 0;
	int fd;

	if (!rtt)
		exit(1);
	if (dsm_node_count() < 2) {
		free(rtt);
		return 0;
	}
	fd = raw_pair(me);
	raw_block(fd, me, iters, MSG_BYTES, MSG_BYTES, rtt);
	if (me == 1)
		med = summarize(rtt, (size_t)iters).med;
	if (fd >= 0)
		close(fd);
	check(dsm_broadcast(&med, sizeof(med), 1), "dsm_broadcast");
	free(rtt);
	return med;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	uint64_t mine[DSM_STATS_MSG_TYPES + 1], sum[DSM_STATS_MSG_TYPES + 1];
	double per[MAX_ROUNDS], raw, barriers;
	struct summary s;
	int me, n, iters, rounds;

	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	n = dsm_node_count();
	raw = raw_rtt(me, quick ? 1000 : 5000);

	/* Fewer barriers when oversubscribed: each one costs scheduler slices. */
	iters = n <= CORES_HINT ? (quick ? 300 : 1000) : (quick ? 50 : 200);
	memset(mine, 0, sizeof(mine));
	check(dsm_barrier(20), "dsm_barrier");
	rounds = barrier_rounds(iters, quick ? 3 : 9, quick ? 3e6 : 10e6, per,
				mine);
	sum_over_nodes(mine, sum, DSM_STATS_MSG_TYPES + 1);

	if (me == 0) {
		barriers = (double)iters * rounds;
		s = summarize(per, (size_t)rounds);
		printf("bench_barrier: %d nodes, %d rounds of %d barriers%s\n", n,
		       rounds, iters, n > CORES_HINT ?
		       " (oversubscribed: times not meaningful)" : "");
		printf("  %-34s median %8.2f us\n",
		       "raw 64 B TCP round trip (0<->1)", raw);
		print_summary("ours: dsm_barrier (per round)", s, (size_t)rounds);
		printf("  messages per barrier, all nodes: %.2f\n",
		       (double)sum[0] / barriers);
		print_by_type(sum, barriers);
		printf("RESULT name=barrier_n%d ours_us=%.3f raw_us=%.3f ratio=%.3f "
		       "target=- msgs_per_barrier=%.2f nodes=%d oversubscribed=%d\n",
		       n, s.med, raw, raw > 0 ? s.med / raw : 0.0,
		       (double)sum[0] / barriers, n, n > CORES_HINT);
		fflush(stdout);
	}
	check(dsm_finalize(), "dsm_finalize");
	return 0;
}
