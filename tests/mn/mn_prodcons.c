/*
 * mn_prodcons — a bounded ring buffer in shared memory protected by one
 * exclusive lock. Node 0 produces M items (id, value, ~value); every other
 * node consumes until the producer is done and the ring is empty. A
 * consumer validates each item it takes and records it in a per-item flag
 * array and in its own count and sum. After a barrier every node checks,
 * under a shared acquire: every item was consumed exactly once, the ring is
 * empty, counts and sums over the consumers match the sequential sum of
 * the values, and node 0 consumed nothing. With one node the test only
 * produces and drains the ring itself.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dsm.h"

#define MN_PROG "mn_prodcons"
#include "mn_util.h"

#define M 300u   /* items */
#define CAP 8u   /* ring slots */
#define LOCK 1u
#define BAR 1u

struct item {
	uint64_t id;
	uint64_t value;
	uint64_t check; /* ~value: a torn slot is detected */
};

struct ring {
	uint64_t head;          /* next slot to take */
	uint64_t tail;          /* next slot to fill */
	uint64_t count;         /* items in the ring */
	uint64_t produced;      /* items put so far */
	uint64_t done;          /* producer finished */
	struct item slot[CAP];
	uint64_t sum[64];       /* per consumer node: sum of values taken */
	uint64_t taken[64];     /* per consumer node: items taken */
	uint32_t consumed[M];   /* per item: times consumed */
};

static uint64_t value_of(uint64_t id)
{
	return id * 1000003ull + (id << 40) + 17;
}

static void backoff(void)
{
	struct timespec ts = { 0, 100 * 1000 }; /* 100 us */
	nanosleep(&ts, NULL);
}

/* Take one item if the ring has one (caller holds LOCK). Returns 1 if an
 * item was taken, 0 if the ring is empty. */
static int take_one(volatile struct ring *r)
{
	if (r->count > CAP || r->count != r->tail - r->head)
		FAIL("ring corrupt: count %llu head %llu tail %llu",
		     (unsigned long long)r->count, (unsigned long long)r->head,
		     (unsigned long long)r->tail);
	if (r->count == 0)
		return 0;
	volatile struct item *s = &r->slot[r->head % CAP];
	uint64_t id = s->id, v = s->value, c = s->check;
	if (id >= M || v != value_of(id) || c != ~v)
		FAIL("slot %llu holds a bad item: id %llu value %#llx check %#llx",
		     (unsigned long long)(r->head % CAP), (unsigned long long)id,
		     (unsigned long long)v, (unsigned long long)c);
	if (r->consumed[id] != 0)
		FAIL("item %llu consumed twice (already %u times)",
		     (unsigned long long)id, r->consumed[id]);
	r->consumed[id]++;
	r->sum[me] += v;
	r->taken[me]++;
	r->head++;
	r->count--;
	return 1;
}

/* Take items until the producer is done and the ring is empty. */
static void consume(volatile struct ring *r, int n)
{
	for (;;) {
		CHECK(dsm_lock_acquire(LOCK));
		int took = take_one(r);
		int finished = !took && r->done;
		CHECK(dsm_lock_release(LOCK));
		if (finished)
			return;
		if (!took)
			backoff();
		else if (n > 2)
			sched_yield(); /* let the other consumers compete */
	}
}

/* Put M items; a one-node job drains the ring itself when it is full. */
static void produce(volatile struct ring *r, int n)
{
	uint64_t id = 0;
	while (id < M) {
		CHECK(dsm_lock_acquire(LOCK));
		int put = 0;
		while (r->count < CAP && id < M) {
			volatile struct item *s = &r->slot[r->tail % CAP];
			s->id = id;
			s->value = value_of(id);
			s->check = ~value_of(id);
			r->tail++;
			r->count++;
			r->produced++;
			id++;
			put++;
			if (put == 3)
				break; /* let consumers in between batches */
		}
		if (id == M)
			r->done = 1;
		if (put == 0 && n == 1)
			put = take_one(r);
		CHECK(dsm_lock_release(LOCK));
		if (put == 0)
			backoff();
	}
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);

	struct ring *ring = mn_alloc_collective(sizeof *ring);
	CHECK(dsm_bind(LOCK, ring, sizeof *ring));
	volatile struct ring *r = ring;
	CHECK(dsm_barrier(BAR));

	if (me == 0) {
		produce(r, n);
		if (n == 1)
			consume(r, n); /* a one-node job drains its own ring */
	} else {
		consume(r, n);
	}

	CHECK(dsm_barrier(BAR));

	/* Sequential reference. */
	uint64_t want_sum = 0;
	for (uint64_t id = 0; id < M; id++)
		want_sum += value_of(id);

	CHECK(dsm_lock_acquire_shared(LOCK));
	if (r->produced != M || !r->done)
		FAIL("produced %llu items (done=%llu), expected %u",
		     (unsigned long long)r->produced, (unsigned long long)r->done, M);
	if (r->count != 0 || r->head != M || r->tail != M)
		FAIL("ring not drained: count %llu head %llu tail %llu (M=%u)",
		     (unsigned long long)r->count, (unsigned long long)r->head,
		     (unsigned long long)r->tail, M);
	for (uint64_t id = 0; id < M; id++)
		if (r->consumed[id] != 1)
			FAIL("item %llu consumed %u times, expected exactly once",
			     (unsigned long long)id, r->consumed[id]);
	uint64_t sum = 0, taken = 0;
	for (int i = 0; i < n; i++) {
		if (i == 0 && n > 1 && (r->taken[0] != 0 || r->sum[0] != 0))
			FAIL("producer node 0 recorded %llu consumed items",
			     (unsigned long long)r->taken[0]);
		sum += r->sum[i];
		taken += r->taken[i];
	}
	CHECK(dsm_lock_release(LOCK));
	if (taken != M)
		FAIL("consumers took %llu items in total, expected %u",
		     (unsigned long long)taken, M);
	if (sum != want_sum)
		FAIL("sum of consumed values %#llx, expected %#llx",
		     (unsigned long long)sum, (unsigned long long)want_sum);

	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_prodcons: %d nodes, %u items through a %u-slot ring: ok\n",
		       n, M, CAP);
	return 0;
}
