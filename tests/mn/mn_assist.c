/*
 * mn_assist — a thread waiting for a lock reads its grant itself.
 *
 * A thread waiting for a reply polls the transport itself for up to its
 * spin budget (DSM_SPIN_US; auto: 50 us when every node has a core, 0
 * when nodes outnumber cores) instead of sleeping until the service
 * thread hands the reply over (assist: core/wait.c and the transports). Every node passes a token round the ring
 * of nodes ROUNDS times: node k waits for turn k under the lock, so every
 * acquire of a node waits for a grant or release that another node sends.
 * Asserts:
 *  - the token made every round in order (each node saw its turns, and
 *    the final count is N*ROUNDS): the assisting reader delivers every
 *    message once and in order;
 *  - application threads received messages themselves: the nodes' assist
 *    counts add up to more than 0 (one node alone may find its replies
 *    taken by its service thread, which wakes on the same socket). With
 *    assist broken or switched off, every reply comes through the service
 *    threads and the sum stays 0. (Asserted over TCP when the budget is
 *    not 0.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h"

#define MN_PROG "mn_assist"
#include "mn_util.h"

#define ROUNDS 200
#define LOCK 1u
#define BAR 1u

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);
	volatile uint64_t *turn = mn_alloc_collective(4096);
	volatile uint64_t *count = turn + 1; /* count[k]: node k's assists */
	uint64_t total = (uint64_t)n * ROUNDS, mine = 0;

	if (n > 500)
		FAIL("%d nodes: the counts do not fit in one page", n);
	CHECK(dsm_bind(LOCK, (void *)turn, 4096));
	CHECK(dsm_barrier(BAR));
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
	CHECK(dsm_lock_acquire(LOCK));
	if (*turn != total)
		FAIL("final turn %llu, expected N*ROUNDS = %llu",
		     (unsigned long long)*turn, (unsigned long long)total);
	unsigned long got = atomic_load(&dsm__get()->assisted);
	count[me] = got;
	CHECK(dsm_lock_release(LOCK));
	printf("mn_assist: node %d: %lu messages received while waiting\n", me, got);
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_lock_acquire_shared(LOCK));
	uint64_t sum = 0;
	for (int k = 0; k < n; k++)
		sum += count[k];
	CHECK(dsm_lock_release(LOCK));
	/* no spin budget (nodes outnumber cores): nothing to assert; over
	 * MPI the service thread polls without sleeping and usually takes
	 * the reply first (0-13 per node measured), so this is TCP's check */
	if (n > 1 && dsm__get()->cfg.spin_us > 0 && !strcmp(dsm__get()->tp->name, "tcp") &&
	    sum == 0)
		FAIL("no message was received by a waiting application thread "
		     "(%d nodes, %d rounds): every reply came through the "
		     "service threads", n, ROUNDS);
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	return 0;
}
