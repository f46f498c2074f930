/*
 * mn_counter — every node increments one shared counter K times, each time
 * under the exclusive lock LOCK. Asserts:
 *  - mutual exclusion: each increment sees a value no other increment saw
 *    (a "seen" table indexed by the old value, filled under the lock);
 *  - no lost update: after a barrier every node reads N*K (under a shared
 *    acquire of the same lock, so the read is ordered by the lock even under
 *    entry consistency), every slot of the table is set, and each node
 *    appears exactly K times;
 *  - dsm_lock_release() of a lock this node does not hold returns -EPERM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm.h"

#define MN_PROG "mn_counter"
#include "mn_util.h"

#define K 200          /* increments per node */
#define LOCK 1u
#define BAR 1u

struct shared {
	uint64_t counter;
	uint32_t seen[]; /* seen[v] = 1 + id of the node that saw old value v */
};

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);
	uint64_t total = (uint64_t)n * K;

	size_t sz = sizeof(struct shared) + total * sizeof(uint32_t);
	struct shared *sh = mn_alloc_collective(sz);
	CHECK(dsm_bind(LOCK, sh, sz));
	volatile struct shared *vs = sh;

	/* Releasing a lock we do not hold is an error, not a silent no-op. */
	int rc = dsm_lock_release(777);
	if (rc != -EPERM)
		FAIL("dsm_lock_release(777) without holding it returned %d (%s),"
		     " expected -EPERM", rc, dsm_strerror(rc));

	CHECK(dsm_barrier(BAR));

	for (int k = 0; k < K; k++) {
		CHECK(dsm_lock_acquire(LOCK));
		uint64_t v = vs->counter;
		if (v >= total)
			FAIL("increment %d saw counter %llu >= N*K = %llu", k,
			     (unsigned long long)v, (unsigned long long)total);
		if (vs->seen[v] != 0)
			FAIL("increment %d saw counter %llu, already seen by node"
			     " %u: mutual exclusion or coherence broken", k,
			     (unsigned long long)v, vs->seen[v] - 1);
		vs->seen[v] = (uint32_t)me + 1;
		vs->counter = v + 1;
		CHECK(dsm_lock_release(LOCK));
	}

	CHECK(dsm_barrier(BAR));

	/* Check under a shared acquire: the lock orders the reads. */
	CHECK(dsm_lock_acquire_shared(LOCK));
	uint64_t final = vs->counter;
	if (final != total)
		FAIL("final counter %llu, expected N*K = %d*%d = %llu",
		     (unsigned long long)final, n, K, (unsigned long long)total);
	uint64_t *per_node = calloc((size_t)n, sizeof *per_node);
	if (per_node == NULL)
		FAIL("out of memory");
	for (uint64_t v = 0; v < total; v++) {
		uint32_t s = vs->seen[v];
		if (s == 0 || s > (uint32_t)n)
			FAIL("seen[%llu] = %u: value never observed by an increment",
			     (unsigned long long)v, s);
		per_node[s - 1]++;
	}
	CHECK(dsm_lock_release(LOCK));
	for (int i = 0; i < n; i++)
		if (per_node[i] != K)
			FAIL("node %d performed %llu increments, expected %d", i,
			     (unsigned long long)per_node[i], K);
	free(per_node);

	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_counter: %d nodes x %d increments = %llu: ok\n", n, K,
		       (unsigned long long)total);
	return 0;
}
