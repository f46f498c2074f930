/*
 * bench_lock.c — lock hand-off under libdsm against the machine's raw
 * limit, measured in the same run. Run with: dsmrun -n 2 bench_lock
 *
 * Raw limit: a 64-byte TCP round trip (ping-pong) on loopback between the
 * two processes (TCP_NODELAY, blocking sockets, our own connection).
 * Ours (lock_handoff): a chain of three locks forces strict alternation
 * with no shared data: event t (node t % 2) acquires lock t % 3, which the
 * other node released at event t-1, then releases lock (t+1) % 3, which it
 * took at event t-2 and the other node waits for. Every event is one
 * hand-off from one node to the other. Time per hand-off = round time /
 * events; the median over rounds is reported.
 * A block of raw round trips runs before each chain round, so slow drift
 * of the machine affects both figures alike.
 * Info (lock_handoff_data): the two nodes alternate holding one lock and
 * a shared turn counter (bound to the lock, for entry consistency) says
 * whose turn it is; the holder advances it only on its turn. This adds
 * moving the counter's page to the hand-off, as an application would.
 * Each node counts its own advances: a lost update means the lock does
 * not protect the data, and the benchmark fails.
 *
 * Two raw round trips are measured: with blocking sockets (raw_us, ratio)
 * and busy-polling (raw_spin_us, ratio_spin: the floor for a runtime that
 * busy-polls after traffic); the target applies to ratio_spin.
 *
 * Usage: dsmrun -n 2 bench_lock [--quick] [--protocol P]
 * Exit 0 unless a dsm_ call fails or the turn counter is wrong.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_lock"
#include "bench_util.h"

#define TARGET "2"
#define MSG_BYTES 64
#define LOCK_ID 7u    /* the turn counter's lock */
#define CHAIN_ID 100u /* the chain's locks: CHAIN_ID + 0, 1, 2 */
#define WARMUP 64     /* untimed hand-offs before the first round (even) */
#define MAX_ROUNDS 16

/* ---- ours: lock hand-off through a chain of three locks ---- */

/* One timed round on node me (0 or 1): it does events me, me+2, ... below
 * 2k. Before event t its node holds lock (t+1) % 3 (taken at event t-2,
 * or at the start); event t takes lock t % 3, which the other node
 * released at event t-1, and releases (t+1) % 3, which the other node is
 * waiting for. Returns us per hand-off, clocked from the start barrier. */
static double chain_round(int me, uint64_t k)
{
	unsigned held = (unsigned)(me + 1) % 3;
	double t0;

	check(dsm_lock_acquire(CHAIN_ID + held), "dsm_lock_acquire");
	check(dsm_barrier(30), "dsm_barrier");
	t0 = now_us();
	for (uint64_t t = (uint64_t)me; t < 2 * k; t += 2) {
		unsigned want = (unsigned)(t % 3);

		check(dsm_lock_acquire(CHAIN_ID + want), "dsm_lock_acquire");
		check(dsm_lock_release(CHAIN_ID + held), "dsm_lock_release");
		held = want;
	}
	t0 = (now_us() - t0) / (double)(2 * k);
	check(dsm_lock_release(CHAIN_ID + held), "dsm_lock_release");
	return t0;
}

/* rounds chain rounds of 2k hand-offs into per[], each after a block of
 * ipr raw round trips on fd (node 1 records them in rtt); nodes beyond 1
 * only join the barriers. */
static void chain_rounds(int me, int rounds, uint64_t k, double *per,
			 int fd, int ipr, double *rtt)
{
	for (int r = 0; r < rounds; r++) {
		raw_block(fd, me, ipr, MSG_BYTES, MSG_BYTES,
			  rtt + (size_t)r * (size_t)ipr);
		if (me <= 1)
			per[r] = chain_round(me, k);
		else
			check(dsm_barrier(30), "dsm_barrier");
		check(dsm_barrier(31), "dsm_barrier");
	}
}

/* ---- info: lock hand-off with the data it protects ---- */

/* Take and release the lock until *turn reaches end; on this node's turn
 * (parity of *turn) advance it. Counts this node's advances and its
 * acquires that found the other node's turn. */
static void handoff_round(volatile uint64_t *turn, int me, uint64_t end,
			  uint64_t *mine, uint64_t *wasted)
{
	for (;;) {
		uint64_t t;

		check(dsm_lock_acquire(LOCK_ID), "dsm_lock_acquire");
		t = *turn;
		if (t >= end) {
			check(dsm_lock_release(LOCK_ID), "dsm_lock_release");
			return;
		}
		if ((int)(t % 2) == me) {
			*turn = t + 1;
			(*mine)++;
		} else {
			(*wasted)++;
		}
		check(dsm_lock_release(LOCK_ID), "dsm_lock_release");
	}
}

/* Timed rounds of k hand-offs each (nodes 0 and 1; others only join the
 * barriers); per[r] gets us per hand-off. Returns this node's advances. */
static uint64_t handoff_rounds(volatile uint64_t *turn, int me, int rounds,
			       uint64_t k, double *per, uint64_t *wasted)
{
	uint64_t mine = 0;

	if (me <= 1)
		handoff_round(turn, me, WARMUP, &mine, wasted);
	for (int r = 0; r < rounds; r++) {
		uint64_t end = WARMUP + (uint64_t)(r + 1) * k;
		double t0;

		check(dsm_barrier(10), "dsm_barrier");
		t0 = now_us();
		if (me <= 1)
			handoff_round(turn, me, end, &mine, wasted);
		per[r] = (now_us() - t0) / (double)k;
	}
	check(dsm_barrier(11), "dsm_barrier");
	return mine;
}

/* Each of nodes 0 and 1 must have advanced the counter exactly half the
 * time. Exits 1 otherwise. */
static void check_turns(uint64_t mine, uint64_t total, int me)
{
	if (me <= 1 && mine != total / 2) {
		fprintf(stderr, "bench_lock: node %d advanced the turn %llu "
			"times, expected %llu: the lock lost updates\n", me,
			(unsigned long long)mine, (unsigned long long)(total / 2));
		exit(1);
	}
}

/* Print one figure on node 1 (the node that measured the raw limit). */
static void report(const char *name, const char *label, double *per,
		   int rounds, double raw, double raw_spin, const char *target,
		   const char *proto)
{
	struct summary s = summarize(per, (size_t)rounds);

	print_summary(label, s, (size_t)rounds);
	printf("RESULT name=%s ours_us=%.3f raw_us=%.3f ratio=%.3f target=%s "
	       "raw_spin_us=%.3f ratio_spin=%.3f protocol=%s\n", name, s.med, raw,
	       s.med / raw, target, raw_spin, s.med / raw_spin, proto);
	fflush(stdout);
}

/* Messages and acquires per hand-off on this node between two snapshots. */
static void print_per_handoff(const char *what, const struct dsm_stats *a,
			      const struct dsm_stats *b, double handoffs)
{
	printf("  %s: per hand-off, node 1 made %.2f acquires, sent %.2f "
	       "messages\n", what,
	       (double)(b->lock_acquires - a->lock_acquires) / handoffs,
	       (double)(b->messages_sent - a->messages_sent) / handoffs);
}

int main(int argc, char **argv)
{
	int quick;
	const char *proto = bench_args(argc, argv, &quick);
	int ipr = quick ? 300 : 700, rounds = quick ? 3 : 9;
	int iters = ipr * rounds; /* raw round trips in all */
	int drounds = quick ? 3 : 5;
	uint64_t k = quick ? 300 : 1000, dk = quick ? 100 : 400, mine, wasted = 0;
	double *rtt = calloc((size_t)iters, sizeof(double));
	double *spin = calloc((size_t)iters, sizeof(double));
	double per[MAX_ROUNDS], dper[MAX_ROUNDS], raw = 0, raw_spin = 0;
	struct dsm_stats st0, st1, st2;
	volatile uint64_t *turn;
	int me, fd;

	if (!rtt || !spin)
		return 1;
	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	need_two_nodes(me);

	fd = raw_pair(me);
	turn = dsm_alloc_collective(sizeof(uint64_t));
	if (!turn) {
		fprintf(stderr, "bench_lock: dsm_alloc_collective: %s\n",
			strerror(errno));
		return 1;
	}
	check(dsm_bind(LOCK_ID, (void *)turn, sizeof(uint64_t)), "dsm_bind");
	check(dsm_barrier(12), "dsm_barrier");
	check(dsm_stats(&st0), "dsm_stats");
	chain_rounds(me, rounds, k, per, fd, ipr, rtt);
	check(dsm_stats(&st1), "dsm_stats");
	raw_block_spin(fd, me, iters, MSG_BYTES, MSG_BYTES, spin);
	if (fd >= 0)
		close(fd);
	if (me == 1) {
		raw = summarize(rtt, (size_t)iters).med;
		raw_spin = summarize(spin, (size_t)iters).med;
	}
	mine = handoff_rounds(turn, me, drounds, dk, dper, &wasted);
	check(dsm_stats(&st2), "dsm_stats");
	check_turns(mine, WARMUP + (uint64_t)drounds * dk, me);

	if (me == 1) {
		printf("bench_lock: protocol %s; chain: %d rounds of %llu hand-offs; with data: "
		       "%d rounds of %llu; %d raw round trips\n", proto, rounds,
		       (unsigned long long)(2 * k), drounds,
		       (unsigned long long)dk, iters);
		printf("  %-34s median %8.2f us\n", "raw 64 B TCP round trip", raw);
		printf("  %-34s median %8.2f us\n", "raw round trip, busy-polling", raw_spin);
		report("lock_handoff", "ours: lock hand-off (3-lock chain)", per,
		       rounds, raw, raw_spin, TARGET, proto);
		print_per_handoff("chain", &st0, &st1, (double)(rounds * 2 * k));
		report("lock_handoff_data", "info: hand-off + turn counter", dper,
		       drounds, raw, raw_spin, "-", proto);
		print_per_handoff("with data", &st1, &st2,
				  (double)(WARMUP + drounds * dk));
		printf("  with data: %llu acquires on node 1 found the other's "
		       "turn\n", (unsigned long long)wasted);
		fflush(stdout);
	}
	check(dsm_finalize(), "dsm_finalize");
	return 0;
}
