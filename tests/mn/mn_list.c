/*
 * mn_list — pointers into the shared region mean the same thing on every
 * node. Node 0 builds a linked list of L items with dsm_malloc (under LOCK)
 * and publishes head/tail/count in collective memory; after a barrier every
 * node walks it (under a shared acquire) and checks each item. Then every
 * node appends A items of its own, one append per exclusive acquire, so the
 * appends interleave. After a barrier every node walks the whole list and
 * checks: length and count, tail pointer, each item's value formula, node
 * 0's initial items first and in order, and each node's appended items in
 * the order that node appended them. Finally node 0 frees every item,
 * blocks allocated by other nodes included (any node may free any block).
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm.h"

#define MN_PROG "mn_list"
#include "mn_util.h"

#define L 100u /* items in node 0's initial list */
#define A 20u  /* items each node appends */
#define LOCK 1u
#define BAR 1u

struct item {
	struct item *next;
	uint64_t owner;    /* node that allocated it */
	uint64_t seq;      /* index among the owner's items (initial: 0..L-1) */
	uint64_t value;    /* value_of(owner, seq, phase) */
	uint64_t phase;    /* 0 = initial list, 1 = appended */
	char pad[24];      /* items are not all the same size as a pointer */
};

struct list {
	struct item *head;
	struct item *tail;
	uint64_t count;
};

static uint64_t value_of(uint64_t owner, uint64_t seq, uint64_t phase)
{
	return (owner << 48) ^ (seq * 0x9e3779b97f4a7c15ull) ^ (phase << 33);
}

static struct item *new_item(uint64_t seq, uint64_t phase)
{
	struct item *it = dsm_malloc(sizeof *it);
	if (it == NULL)
		FAIL("dsm_malloc(%zu): errno %d", sizeof *it, errno);
	if ((uintptr_t)it % 16 != 0)
		FAIL("dsm_malloc returned %p, not 16-byte aligned", (void *)it);
	CHECK(dsm_bind(LOCK, it, sizeof *it));
	volatile struct item *v = it;
	v->next = NULL;
	v->owner = (uint64_t)me;
	v->seq = seq;
	v->phase = phase;
	v->value = value_of((uint64_t)me, seq, phase);
	return it;
}

/* Caller holds LOCK. */
static void append(volatile struct list *l, struct item *it)
{
	if (l->tail == NULL)
		l->head = it;
	else
		((volatile struct item *)l->tail)->next = it;
	l->tail = it;
	l->count++;
}

/* Walk the list (caller holds LOCK shared or exclusive) and check it.
 * appended: whether every node's A appended items are expected. */
static void walk(volatile struct list *l, int n, int appended)
{
	uint64_t want = L + (appended ? (uint64_t)n * A : 0);
	uint64_t *next_seq = calloc((size_t)n, sizeof *next_seq);
	if (next_seq == NULL)
		FAIL("out of memory");
	uint64_t len = 0;
	volatile struct item *last = NULL;
	for (volatile struct item *it = l->head; it != NULL; it = it->next) {
		if (len >= want)
			FAIL("list longer than %llu items (cycle or stray append)",
			     (unsigned long long)want);
		uint64_t owner = it->owner, seq = it->seq, phase = it->phase;
		if (len < L) { /* node 0's initial items, in order */
			if (owner != 0 || phase != 0 || seq != len)
				FAIL("item %llu: owner %llu phase %llu seq %llu, expected"
				     " initial item 0/0/%llu", (unsigned long long)len,
				     (unsigned long long)owner, (unsigned long long)phase,
				     (unsigned long long)seq, (unsigned long long)len);
		} else {
			if (phase != 1 || owner >= (uint64_t)n)
				FAIL("item %llu: owner %llu phase %llu, expected an"
				     " appended item", (unsigned long long)len,
				     (unsigned long long)owner, (unsigned long long)phase);
			if (seq != next_seq[owner])
				FAIL("item %llu: node %llu's append #%llu, expected #%llu"
				     " (appends lost or reordered)", (unsigned long long)len,
				     (unsigned long long)owner, (unsigned long long)seq,
				     (unsigned long long)next_seq[owner]);
			next_seq[owner]++;
		}
		if (it->value != value_of(owner, seq, phase))
			FAIL("item %llu (owner %llu seq %llu) value %#llx, expected %#llx",
			     (unsigned long long)len, (unsigned long long)owner,
			     (unsigned long long)seq, (unsigned long long)it->value,
			     (unsigned long long)value_of(owner, seq, phase));
		last = it;
		len++;
	}
	if (len != want || l->count != want)
		FAIL("walked %llu items, count field %llu, expected %llu",
		     (unsigned long long)len, (unsigned long long)l->count,
		     (unsigned long long)want);
	if ((volatile struct item *)l->tail != last)
		FAIL("tail %p is not the last item %p", (void *)l->tail,
		     (void *)last);
	if (appended)
		for (int i = 0; i < n; i++)
			if (next_seq[i] != A)
				FAIL("found %llu items appended by node %d, expected %u",
				     (unsigned long long)next_seq[i], i, A);
	free(next_seq);
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);

	struct list *list = mn_alloc_collective(sizeof *list);
	CHECK(dsm_bind(LOCK, list, sizeof *list));
	volatile struct list *l = list;

	if (me == 0) {
		CHECK(dsm_lock_acquire(LOCK));
		for (uint64_t s = 0; s < L; s++)
			append(l, new_item(s, 0));
		CHECK(dsm_lock_release(LOCK));
	}
	CHECK(dsm_barrier(BAR));

	CHECK(dsm_lock_acquire_shared(LOCK));
	walk(l, n, 0);
	CHECK(dsm_lock_release(LOCK));
	CHECK(dsm_barrier(BAR));

	for (uint64_t s = 0; s < A; s++) {
		struct item *it = new_item(s, 1); /* filled outside the lock */
		CHECK(dsm_lock_acquire(LOCK));
		append(l, it);
		CHECK(dsm_lock_release(LOCK));
		if (s % 4 == 3)
			sched_yield(); /* mix the appends of different nodes */
	}
	CHECK(dsm_barrier(BAR));

	CHECK(dsm_lock_acquire_shared(LOCK));
	walk(l, n, 1);
	CHECK(dsm_lock_release(LOCK));
	CHECK(dsm_barrier(BAR));

	if (me == 0) { /* any node may free any block */
		CHECK(dsm_lock_acquire(LOCK));
		struct item *it = l->head;
		while (it != NULL) {
			struct item *next = ((volatile struct item *)it)->next;
			dsm_free(it);
			it = next;
		}
		l->head = l->tail = NULL;
		l->count = 0;
		CHECK(dsm_lock_release(LOCK));
	}
	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_list: %d nodes, %u + %d*%u items: ok\n", n, L, n, A);
	return 0;
}
