/*
 * mn_assist — a thread waiting for a lock reads its grant itself.
 *
 * A thread waiting for a reply polls the transport itself for up to its
 * spin budget (DSM_SPIN_US; auto: 50 us when every node has a core, 0
 * when nodes outnumber cores) instead of sleeping until the service
 * thread hands the reply over (assist: core/wait.c and the transports).
 *
 * Phase 1: every node passes a token round the ring of nodes ROUNDS
 * times under one lock. Asserts that the token made every round in
 * order (each node saw its turns, the final count is N*ROUNDS): the
 * messages an assisting thread reads are delivered once and in order.
 *
 * Phase 2: nodes 0 and 1 hand locks to each other in strict alternation
 * (a chain of three locks: event t, on node t % 2, acquires lock t % 3,
 * which the other node released at event t-1, and releases lock
 * (t+1) % 3, which the other node waits for), so every acquire waits for
 * a message from the other node. Asserts that the two nodes' waiting
 * threads received some of those messages themselves (their assist
 * counts add up to more than 0; one node alone may find its replies
 * taken by its service thread, which wakes on the same socket). With
 * assist switched off the sum is 0. The two nodes' application threads
 * are pinned to different CPUs for this phase (pin_apart). Asserted over
 * TCP when the spin budget is not 0, outside record/replay (which
 * switches assist off) and in a build without sanitizers (5-15x slower:
 * the replies do not come within a 50 us spin). Over MPI a waiting
 * thread polls until its reply comes (wait.c, poll_for_waiter): there the
 * two nodes must have received at least one message per four hand-offs
 * themselves (seen: 600-660 messages in 400 hand-offs; 0-13 when the
 * waiter stopped polling after DSM_SPIN_US).
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h"

#define MN_PROG "mn_assist"
#include "mn_util.h"

#define ROUNDS 100
#define EVENTS 400 /* phase 2 hand-offs */
#define LOCK 1u
#define CHAIN 10u  /* locks CHAIN, CHAIN+1, CHAIN+2 */
#define BAR 1u

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static void token_ring(int n, volatile uint64_t *turn)
{
	uint64_t total = (uint64_t)n * ROUNDS, mine = 0;

	while (mine < ROUNDS) {
		CHECK(dsm_lock_acquire(LOCK));
		uint64_t t = *turn;
		if (t > total)
			FAIL("the turn counter is %llu, past N*ROUNDS = %llu",
			     (unsigned long long)t, (unsigned long long)total);
		if (t % (uint64_t)n == (uint64_t)me) {
			if (t / (uint64_t)n != mine)
				FAIL("turn %llu is this node's round %llu, expected %llu",
				     (unsigned long long)t, (unsigned long long)(t / n),
				     (unsigned long long)mine);
			*turn = t + 1;
			mine++;
		}
		CHECK(dsm_lock_release(LOCK));
	}
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_lock_acquire_shared(LOCK));
	if (*turn != total)
		FAIL("final turn %llu, expected N*ROUNDS = %llu",
		     (unsigned long long)*turn, (unsigned long long)total);
	CHECK(dsm_lock_release(LOCK));
}

/* Nodes 0 and 1: the chain of three locks. Node 0 starts holding lock
 * CHAIN+1, node 1 lock CHAIN+2 (the ones their first events release). */
static void chain(void)
{
	if (me < 2)
		CHECK(dsm_lock_acquire(CHAIN + 1 + (unsigned)me));
	CHECK(dsm_barrier(BAR));
	if (me < 2) {
		for (unsigned t = (unsigned)me; t < EVENTS; t += 2) {
			CHECK(dsm_lock_acquire(CHAIN + t % 3));
			CHECK(dsm_lock_release(CHAIN + (t + 1) % 3));
		}
		/* the lock taken at this node's last event */
		CHECK(dsm_lock_release(CHAIN + (EVENTS - 2 + (unsigned)me) % 3));
	}
	CHECK(dsm_barrier(BAR));
}

/* Nodes 0 and 1 run their application threads on different CPUs, when
 * there are two: on one CPU (where a loopback wake-up can pull the woken
 * node) the waiter's spin keeps the other node from sending the reply,
 * and every reply comes after the waiter went to sleep (hand-off 37-46
 * us, 1-2 messages read by the waiters, in 2 of 22 runs unpinned). */
static void pin_apart(void)
{
	cpu_set_t cs;

	if (me > 1 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&cs);
	CPU_SET(me, &cs);
	if (sched_setaffinity(0, sizeof(cs), &cs) != 0)
		perror("mn_assist: sched_setaffinity (going on unpinned)");
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);
	volatile uint64_t *turn = mn_alloc_collective(4096);
	volatile uint64_t *count = turn + 1; /* count[k]: node k's assists */
	struct dsm_node *node = dsm__get();

	CHECK(dsm_bind(LOCK, (void *)turn, 4096));
	CHECK(dsm_barrier(BAR));
	token_ring(n, turn);
	pin_apart();
	if (n < 2) {
		CHECK(dsm_finalize());
		return 0;
	}
	unsigned long before = atomic_load(&node->assisted);
	uint64_t c0 = dsm__now_ns();
	chain();
	double us = (double)(dsm__now_ns() - c0) / 1e3 / EVENTS;
	unsigned long got = atomic_load(&node->assisted) - before;
	CHECK(dsm_lock_acquire(LOCK));
	count[me] = got;
	CHECK(dsm_lock_release(LOCK));
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_lock_acquire_shared(LOCK));
	uint64_t sum = count[0] + count[1];
	CHECK(dsm_lock_release(LOCK));
	if (me < 2)
		printf("mn_assist: node %d: %lu messages received while waiting "
		       "in %d hand-offs (%.1f us each)\n", me, got, EVENTS / 2, us);
	if (node->cfg.spin_us > 0 && !strcmp(node->tp->name, "tcp") && !SANITIZED &&
	    !node->rp_mode && sum == 0)
		FAIL("no message was received by a waiting application thread "
		     "in %d hand-offs: every reply came through the service "
		     "threads", EVENTS);
	if (node->cfg.spin_us > 0 && node->tp->must_poll && !SANITIZED &&
	    !node->rp_mode && sum < EVENTS / 4)
		FAIL("waiting application threads received only %llu messages "
		     "themselves in %d hand-offs over %s: a waiter must poll "
		     "until its reply comes", (unsigned long long)sum, EVENTS,
		     node->tp->name);
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	return 0;
}
