/*
 * mn_threads_mixed — several application threads per node, each doing a
 * different kind of synchronisation at the same time (issue 9 point 1):
 *
 *   thread A (the main thread) writes its node's slice, calls dsm_barrier
 *     directly (no pthread barrier around it) and checks every node's slice
 *     against the value computed sequentially; a second barrier ends the
 *     round;
 *   thread B takes a lock, increments a shared counter and appends an
 *     entry (node, thread, sequence number) to a shared log, R*K times,
 *     while A's barriers run;
 *   with 3 or more threads: thread C allocates, fills, checks and frees
 *     shared blocks (dsm_malloc/dsm_free);
 *   with 4 threads: a second lock thread B2 on the same lock.
 *
 * The slices straddle pages (false sharing between nodes), so a round
 * needs every node's write notices of the round. At the end the counter
 * must equal the number of increments and the log must hold every
 * node's/thread's entries exactly once, in its own order.
 *
 * Threads per node: argv[1] or MN_THREADS (2..4, default 2). Words per
 * slice: MN_SLICE (default 300; tests/scripts/test_lrc_threads.sh uses
 * enough that DSM_GC_THRESHOLD=1M collects garbage during the run).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_threads_mixed"
#include "mn_util.h"

#define MAXN 64
#define SLICE0 300u  /* uint64 per node: 2400 bytes, straddling pages */
#define ROUNDS 20
#define K 10u        /* locked appends per lock thread per round */
#define LOCK 7u
#define LOCK_ALLOC 8u
#define BAR 1u
#define BAR_END 2u
#define BAR_FIN 3u

static int n, nthreads, nlockers;
static unsigned SLICE = SLICE0; /* MN_SLICE: larger slices make lrc collect */

struct logsh {
	uint64_t counter;
	uint32_t entry[]; /* (node << 20) | (thread << 16) | seq */
};

static volatile uint64_t *slices;      /* [n][SLICE] */
static volatile struct logsh *lg;

static uint64_t expect(int r, int k, unsigned i)
{
	return (uint64_t)r * 1000003u + (uint64_t)k * 10007u + i + 1;
}

/* Thread B (and B2): locked increments and appends. */
static void *locker(void *arg)
{
	unsigned b = (unsigned)(intptr_t)arg;

	for (unsigned it = 0; it < ROUNDS * K; it++) {
		CHECK(dsm_lock_acquire(LOCK));
		uint64_t c = lg->counter;
		lg->entry[c] = (uint32_t)me << 20 | b << 16 | it;
		lg->counter = c + 1;
		CHECK(dsm_lock_release(LOCK));
		if (it % 3 == 0)
			sched_yield();
	}
	return NULL;
}

/* Thread C: use of dsm_malloc'd blocks while the others sync. The block
 * is used under a lock: dsm_free on one node and dsm_malloc of the same
 * memory on another are not ordered by the allocator (no happens-before
 * under lrc), so the previous owner's writes could land on the new
 * owner's; the lock orders them. */
static void *allocator(void *arg)
{
	(void)arg;
	for (unsigned it = 0; it < ROUNDS * 8; it++) {
		size_t len = 64 + (it * 97) % 6000;
		CHECK(dsm_lock_acquire(LOCK_ALLOC));
		volatile unsigned char *p = dsm_malloc(len);
		if (!p)
			FAIL("dsm_malloc(%zu) round %u returned NULL", len, it);
		for (size_t i = 0; i < len; i++)
			p[i] = (unsigned char)(i + it);
		for (size_t i = 0; i < len; i++)
			if (p[i] != (unsigned char)(i + it))
				FAIL("dsm_malloc'd block byte %zu = %u, expected %u", i,
				     p[i], (unsigned char)(i + it));
		dsm_free((void *)p);
		CHECK(dsm_lock_release(LOCK_ALLOC));
		if (it % 4 == 0)
			sched_yield();
	}
	return NULL;
}

/* Thread A: slices and barriers. */
static void barrier_rounds(void)
{
	for (int r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < SLICE; i++)
			slices[(size_t)me * SLICE + i] = expect(r, me, i);
		CHECK(dsm_barrier(BAR));
		for (int k = 0; k < n; k++)
			for (unsigned i = 0; i < SLICE; i++) {
				uint64_t v = slices[(size_t)k * SLICE + i];
				if (v != expect(r, k, i))
					FAIL("round %d: slice of node %d [%u] = %llu,"
					     " expected %llu", r, k, i,
					     (unsigned long long)v,
					     (unsigned long long)expect(r, k, i));
			}
		CHECK(dsm_barrier(BAR_END));
	}
}

/* Every (node, locker) sequence appears once, in order. */
static void check_log(void)
{
	uint64_t want = (uint64_t)n * nlockers * ROUNDS * K;
	uint32_t next[MAXN][2] = { { 0 } };

	CHECK(dsm_lock_acquire_shared(LOCK));
	uint64_t got = lg->counter;
	if (got != want)
		FAIL("counter under lock %u = %llu, expected %llu (lost increments)",
		     LOCK, (unsigned long long)got, (unsigned long long)want);
	for (uint64_t c = 0; c < got; c++) {
		uint32_t e = lg->entry[c], k = e >> 20, b = (e >> 16) & 0xf;
		if (k >= (uint32_t)n || b >= (uint32_t)nlockers ||
		    (e & 0xffff) != next[k][b])
			FAIL("log[%llu] = node %u thread %u seq %u, expected seq %u",
			     (unsigned long long)c, k, b, e & 0xffff,
			     k < (uint32_t)n && b < 2 ? next[k][b] : 0);
		next[k][b]++;
	}
	CHECK(dsm_lock_release(LOCK));
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : getenv("MN_THREADS");
	pthread_t th[3];
	int nth = 0, rc;

	n = mn_init(&argc, &argv, MAXN);
	nthreads = s ? atoi(s) : 2;
	if (nthreads < 2 || nthreads > 4)
		FAIL("threads per node must be 2..4, got %s", s);
	nlockers = nthreads == 4 ? 2 : 1;
	if (getenv("MN_SLICE"))
		SLICE = (unsigned)atoi(getenv("MN_SLICE"));
	if (SLICE < 1 || SLICE > (1u << 24))
		FAIL("MN_SLICE must be 1..2^24, got %s", getenv("MN_SLICE"));

	slices = mn_alloc_collective((size_t)n * SLICE * sizeof(uint64_t));
	lg = mn_alloc_collective(sizeof(struct logsh) +
				 (size_t)n * 2 * ROUNDS * K * sizeof(uint32_t));
	CHECK(dsm_barrier(BAR_FIN));

	for (int b = 0; b < nlockers; b++)
		if ((rc = pthread_create(&th[nth++], NULL, locker, (void *)(intptr_t)b)))
			FAIL("pthread_create: %s", strerror(rc));
	if (nthreads >= 3 && (rc = pthread_create(&th[nth++], NULL, allocator, NULL)))
		FAIL("pthread_create: %s", strerror(rc));
	barrier_rounds();
	for (int t = 0; t < nth; t++)
		if ((rc = pthread_join(th[t], NULL)))
			FAIL("pthread_join: %s", strerror(rc));

	CHECK(dsm_barrier(BAR_FIN));
	check_log();
	CHECK(dsm_barrier(BAR_FIN));
	CHECK(dsm_finalize());
	if (me == 0)
		printf(MN_PROG ": %d nodes x %d threads, %d rounds: ok\n", n,
		       nthreads, ROUNDS);
	return 0;
}
