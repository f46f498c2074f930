/*
 * mn_lock_stream.c — locks taken in streams (a lock per element, taken
 * in order: SPLASH water's pattern), which move as tokens in runs
 * (src/sync/lock_token.c, docs/locks.md):
 *  1. every node walks all NL locks ROUNDS times from its own starting
 *     point (the streams cross), two threads per node walking in
 *     opposite directions, every 5th hold shared and only reading; each
 *     exclusive hold checks and advances a pair of counters written at
 *     both ends of a short critical section (a second holder would see
 *     them differ) and counts the hold in the element; the counters and
 *     counts are then checked against the sequential count everywhere;
 *     then every node walks them once more from lock 0, all in step
 *     (a revoked token is often in use: it goes back alone);
 *  2. (hlrc, lrc, sc; DSM_LOCK_AHEAD not 0; not recording or replaying,
 *     no Tapeworm on every lock) node 1 walks STREAM locks
 *     node 0 manages, writing under each: it receives under STREAM / 8
 *     grants; node 0 then walks them and sees every write, receiving the
 *     tokens back in under STREAM / 8 messages.
 */
#define MN_PROG "mn_lock_stream"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "mn_util.h"

#define NL 384
#define ROUNDS 3
#define BASE 1000u
#define STREAM 1024
#define SBASE 100000u

struct elem {
	uint32_t a, b; /* equal outside a hold */
	uint32_t holds;
};

static struct elem *el;
static int nodes;

static void walk_from(int start, int dir)
{
	for (int r = 0; r < ROUNDS; r++)
		for (int t = 0; t < NL; t++) {
			int j = (start + (dir > 0 ? t : NL - t)) % NL;
			volatile struct elem *e = &el[j];
			int shared = (t % 5) == 4;
			CHECK(shared ? dsm_lock_acquire_shared(BASE + j)
				     : dsm_lock_acquire(BASE + j));
			if (e->a != e->b)
				FAIL("lock %u: a = %u, b = %u inside a hold", BASE + j,
				     e->a, e->b);
			if (!shared) {
				e->a++;
				for (volatile int k = 0; k < 50; k++)
					;
				e->b++;
				e->holds++;
			}
			CHECK(dsm_lock_release(BASE + j));
		}
}

static void walk(int dir)
{
	walk_from(me * NL / nodes, dir);
}

static void *walker(void *arg)
{
	walk(*(int *)arg);
	return NULL;
}

/* Messages of one type this node received. */
static uint64_t recv_count(const char *type)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	for (int i = 0; i < DSM_STATS_MSG_TYPES; i++)
		if (strcmp(dsm_msg_type_name(i), type) == 0)
			return s.msgs_recv_by_type[i];
	FAIL("no message type %s", type);
}

static void stream_claim(uint32_t *x)
{
	const char *proto = getenv("DSM_PROTOCOL"), *ahead = getenv("DSM_LOCK_AHEAD");
	uint64_t g0, r0;

	const char *tw = getenv("DSM_TAPEWORM"), *pol = getenv("DSM_TAPE_POLICY");

	/* No runs: ec's own locks, turned off, while recording or replaying
	 * (the manager orders every grant), and for locks Tapeworm acts on. */
	if ((proto && strcmp(proto, "ec") == 0) || (ahead && strcmp(ahead, "0") == 0) ||
	    getenv("DSM_RECORD") || getenv("DSM_REPLAY") || (tw && strcmp(tw, "auto") == 0) ||
	    (pol && strcmp(pol, "off") != 0))
		return;
	if (me == 1) {
		g0 = recv_count("LOCK_GRANT");
		for (uint32_t k = 0; k < STREAM; k++) {
			unsigned id = SBASE + k * (unsigned)nodes; /* managed by node 0 */
			CHECK(dsm_lock_acquire(id));
			x[k] = k + 1;
			CHECK(dsm_lock_release(id));
		}
		g0 = recv_count("LOCK_GRANT") - g0;
		if (g0 >= STREAM / 8)
			FAIL("%u locks in a stream took %llu grants (want < %u)", STREAM,
			     (unsigned long long)g0, STREAM / 8);
	}
	CHECK(dsm_barrier(2));
	if (me == 0) {
		r0 = recv_count("LOCK_REL");
		for (uint32_t k = 0; k < STREAM; k++) {
			unsigned id = SBASE + k * (unsigned)nodes;
			CHECK(dsm_lock_acquire(id));
			if (x[k] != k + 1)
				FAIL("x[%u] = %u under lock %u, want %u", k, x[k], id, k + 1);
			CHECK(dsm_lock_release(id));
		}
		r0 = recv_count("LOCK_REL") - r0;
		if (r0 >= STREAM / 8)
			FAIL("%u tokens came back in %llu messages (want < %u)", STREAM,
			     (unsigned long long)r0, STREAM / 8);
	}
}

int main(int argc, char **argv)
{
	pthread_t th;
	int fwd = 1, back = -1;
	uint32_t *x;

	nodes = mn_init(&argc, &argv, 0);
	el = mn_alloc_collective(NL * sizeof(*el));
	x = mn_alloc_collective(STREAM * sizeof(*x));
	CHECK(dsm_barrier(0));
	if (pthread_create(&th, NULL, walker, &back))
		FAIL("pthread_create");
	walk(fwd);
	pthread_join(th, NULL);
	CHECK(dsm_barrier(4));
	walk_from(0, 1); /* every node from lock 0, in step: runs stop */
	CHECK(dsm_barrier(1));
	for (int j = 0; j < NL; j++)
		if (el[j].a != el[j].b || el[j].a != el[j].holds)
			FAIL("element %d: a = %u, b = %u, holds = %u", j, el[j].a, el[j].b,
			     el[j].holds);
	/* Exclusive holds: each of 2 * nodes walkers makes ROUNDS * NL holds,
	 * a fifth of them shared (t % 5 == 4): count them the same way. */
	uint64_t sum = 0, want = 0;
	for (int j = 0; j < NL; j++)
		sum += el[j].holds;
	for (int t = 0; t < NL; t++)
		want += (t % 5) != 4;
	want *= (uint64_t)3 * nodes * ROUNDS; /* 2 walkers, then 1, per node */
	if (sum != want)
		FAIL("%llu exclusive holds counted, want %llu", (unsigned long long)sum,
		     (unsigned long long)want);
	if (nodes > 1)
		stream_claim(x);
	CHECK(dsm_barrier(3));
	dsm_finalize();
	return 0;
}
