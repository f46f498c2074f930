/*
 * gc_threads.c — several application threads per node. T threads each
 * allocate objects, link them into their own list and register and
 * remove root slots concurrently; some lists hold references to objects
 * of other nodes. Then the threads stop, the job collects, and every node
 * checks that exactly the rooted lists survive (global collection) and
 * are intact; then half the threads drop their roots concurrently and the
 * next collection frees their lists exactly.
 */
#define MN_PROG "gc_threads"
#include <pthread.h>

#include "gc_util.h"

#define T 3
#define N 2000

static dsm_type_t type;
static struct obj *head[T], *extra[T][8];
static struct obj **pub; /* one object per node, for cross-node references */

static void *thread_main(void *arg)
{
	int k = (int)(intptr_t)arg;

	CHECK(dsm_gc_root_add((void **)&head[k]));
	for (int i = 0; i < N; i++) {
		/* allocate, then link: the node's roots see the list at once */
		struct obj *p = new_obj(type, ((uint64_t)me * T + (uint64_t)k) << 32 | (uint64_t)i);
		p->e[0] = head[k];
		p->e[1] = pub[(me + 1 + i) % dsm_node_count()];
		head[k] = p;
		/* temporary roots added and removed concurrently with the others */
		CHECK(dsm_gc_root_add((void **)&extra[k][i % 8]));
		if (i >= 7)
			CHECK(dsm_gc_root_remove((void **)&extra[k][(i - 7) % 8]));
	}
	for (int i = N - 7; i < N; i++)
		CHECK(dsm_gc_root_remove((void **)&extra[k][i % 8]));
	if (dsm_gc_root_remove((void **)&extra[k][0]) != -ENOENT)
		FAIL("removing a slot not registered");
	return NULL;
}

static void *dropper(void *arg)
{
	int k = (int)(intptr_t)arg;

	CHECK(dsm_gc_root_remove((void **)&head[k]));
	return NULL;
}

static void check(int k)
{
	uint64_t i = N;
	int nn = dsm_node_count();

	for (struct obj *p = head[k]; p; p = p->e[0]) {
		i--;
		if (p->id != (((uint64_t)me * T + (uint64_t)k) << 32 | i) || p->val != mix(p->id))
			FAIL("thread %d's list: object %llu has id %llx", k,
			     (unsigned long long)i, (unsigned long long)p->id);
		if (p->e[1] != pub[(me + 1 + (int)i) % nn] || p->e[1]->id != 1000000u + (uint64_t)((me + 1 + (int)i) % nn))
			FAIL("thread %d's list: object %llu's reference to another node", k,
			     (unsigned long long)i);
	}
	if (i)
		FAIL("thread %d's list is %llu objects short", k, (unsigned long long)i);
}

int main(int argc, char **argv)
{
	static struct obj *mine;
	pthread_t th[T];
	int nn;

	gc_start(&argc, &argv, 2);
	nn = dsm_node_count();
	type = obj_type();
	pub = dsm_alloc_collective((size_t)nn * sizeof(*pub));
	if (!pub)
		FAIL("dsm_alloc_collective");
	mine = new_obj(type, 1000000u + (uint64_t)me);
	CHECK(dsm_gc_root_add((void **)&mine));
	pub[me] = mine;
	CHECK(dsm_barrier(1));
	for (int k = 0; k < T; k++)
		if (pthread_create(&th[k], NULL, thread_main, (void *)(intptr_t)k))
			FAIL("pthread_create");
	for (int k = 0; k < T; k++)
		pthread_join(th[k], NULL);
	CHECK(dsm_gc_root_remove((void **)&mine)); /* now alive through the other nodes' lists */
	CHECK(dsm_barrier(2));
	CHECK(dsm_gc_collect_global());
	for (int k = 0; k < T; k++)
		check(k);
	struct dsm_gc_stats s = gc_stats();
	if (s.live_objects != (uint64_t)T * N + 1)
		FAIL("%llu objects live, expected %d", (unsigned long long)s.live_objects, T * N + 1);
	/* threads 0 and 2 drop their lists, concurrently */
	pthread_create(&th[0], NULL, dropper, (void *)0);
	pthread_create(&th[2], NULL, dropper, (void *)2);
	pthread_join(th[0], NULL);
	pthread_join(th[2], NULL);
	head[0] = head[2] = NULL;
	CHECK(dsm_gc_collect_global());
	check(1);
	s = gc_stats();
	if (s.live_objects != (uint64_t)N + 1)
		FAIL("after the drop: %llu objects live, expected %d",
		     (unsigned long long)s.live_objects, N + 1);
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
