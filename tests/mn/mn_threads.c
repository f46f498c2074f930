/*
 * mn_threads — two application threads per node touch the same shared
 * pages at the same time (design rule 3: several application threads per
 * node). Shared: one page of slots, slot[node][thread], and per-thread lock
 * counters. Each phase:
 *   1. both threads of every node increment their own slot I times (one
 *      store each, through volatile, so the page faults and migrates
 *      while the sibling thread of the same node hits the same page), read
 *      the sibling's slot and check it is within this phase's range and
 *      never goes backwards (a page fetch must not roll back local stores),
 *      and increment counter[thread] J times under lock LOCK0 + thread;
 *   2. pthread barrier; the main thread alone calls dsm_barrier(BAR);
 *      pthread barrier;
 *   3. both threads check every slot of every node: (phase+1)*I;
 *   4. pthread barrier; main thread dsm_barrier(BAR_END); pthread barrier.
 * At the end every node checks counter[t] == N*J*PHASES under a shared
 * acquire of each lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_threads"
#include "mn_util.h"

#define NT 2          /* threads per node */
#define PHASES 4
#define I 100u        /* slot increments per thread per phase */
#define J 10u         /* locked increments per thread per phase */
#define LOCK0 10u     /* thread t uses lock LOCK0 + t */
#define BAR 1u
#define BAR_END 2u
#define MAXN 64

static int n;

struct shared {
	uint64_t slot[MAXN][NT];              /* first page: all slots */
	uint64_t counter[NT][512 / NT];       /* own page(s); [t][0] used */
};

static volatile struct shared *sh;
static pthread_barrier_t pb;

static void sync_all(int t, unsigned bar)
{
	int rc = pthread_barrier_wait(&pb);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		FAIL("pthread_barrier_wait: %s", strerror(rc));
	if (t == 0)
		CHECK(dsm_barrier(bar)); /* only the main thread */
	rc = pthread_barrier_wait(&pb);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		FAIL("pthread_barrier_wait: %s", strerror(rc));
}

static void *run(void *arg)
{
	int t = (int)(intptr_t)arg;
	int sib = 1 - t;
	for (int p = 0; p < PHASES; p++) {
		uint64_t base = (uint64_t)p * I, seen_sib = base;
		for (unsigned i = 0; i < I; i++) {
			uint64_t mine = sh->slot[me][t];
			if (mine != base + i)
				FAIL("thread %d phase %d: own slot %llu, expected %llu"
				     " (store lost)", t, p, (unsigned long long)mine,
				     (unsigned long long)(base + i));
			sh->slot[me][t] = mine + 1;
			uint64_t s = sh->slot[me][sib];
			if (s < seen_sib || s > base + I)
				FAIL("thread %d phase %d: sibling slot %llu, expected"
				     " %llu..%llu", t, p, (unsigned long long)s,
				     (unsigned long long)seen_sib,
				     (unsigned long long)(base + I));
			seen_sib = s;
			if (i % (I / J) == 0) {
				CHECK(dsm_lock_acquire(LOCK0 + (unsigned)t));
				sh->counter[t][0]++;
				CHECK(dsm_lock_release(LOCK0 + (unsigned)t));
			}
		}
		sync_all(t, BAR);
		for (int k = 0; k < n; k++)
			for (int u = 0; u < NT; u++)
				if (sh->slot[k][u] != base + I)
					FAIL("thread %d phase %d: slot[node %d][thread %d]"
					     " = %llu, expected %llu", t, p, k, u,
					     (unsigned long long)sh->slot[k][u],
					     (unsigned long long)(base + I));
		sync_all(t, BAR_END);
	}
	uint64_t want = (uint64_t)n * J * PHASES;
	CHECK(dsm_lock_acquire_shared(LOCK0 + (unsigned)t));
	uint64_t got = sh->counter[t][0];
	CHECK(dsm_lock_release(LOCK0 + (unsigned)t));
	if (got != want)
		FAIL("thread %d: counter under lock %u = %llu, expected N*J*PHASES"
		     " = %llu", t, LOCK0 + t, (unsigned long long)got,
		     (unsigned long long)want);
	return NULL;
}

int main(int argc, char **argv)
{
	n = mn_init(&argc, &argv, MAXN);

	struct shared *s = mn_alloc_collective(sizeof *s);
	CHECK(dsm_bind_barrier(BAR, s->slot, sizeof s->slot));
	for (unsigned t = 0; t < NT; t++)
		CHECK(dsm_bind(LOCK0 + t, s->counter[t], sizeof s->counter[t]));
	sh = s;
	int rc = pthread_barrier_init(&pb, NULL, NT);
	if (rc != 0)
		FAIL("pthread_barrier_init: %s", strerror(rc));
	CHECK(dsm_barrier(BAR_END));

	pthread_t th;
	rc = pthread_create(&th, NULL, run, (void *)(intptr_t)1);
	if (rc != 0)
		FAIL("pthread_create: %s", strerror(rc));
	run((void *)(intptr_t)0); /* the main thread is thread 0 */
	rc = pthread_join(th, NULL);
	if (rc != 0)
		FAIL("pthread_join: %s", strerror(rc));
	pthread_barrier_destroy(&pb);

	CHECK(dsm_barrier(BAR_END));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_threads: %d nodes x %d threads, %d phases: ok\n", n, NT,
		       PHASES);
	return 0;
}
