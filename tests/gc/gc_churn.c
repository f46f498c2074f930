/*
 * gc_churn.c — memory stays flat over many allocations with 90% garbage.
 * Every round each node allocates A objects: one in ten goes onto the
 * front of its list (rooted, cut to K objects), the rest are garbage
 * (some linked to each other and to the list, so they carry references
 * across nodes too); each node's second root holds the head of the next
 * node's list, so lists are exported and imported. A collection every
 * round; from round 5 on the arena in use must not grow past twice what
 * it was then. The lists are checked against their expected ids every
 * round, and a global collection at the end leaves nothing live.
 * Usage: gc_churn [allocations per node per round] [rounds]
 */
#define MN_PROG "gc_churn"
#include "gc_util.h"

#define K 300

static struct obj *list, *other;

/* Walk a list made by node i: ids decreasing from its head, K at most. */
static void check_list(const struct obj *p, int i, uint64_t n, const char *what)
{
	uint64_t c = 0, prev = UINT64_MAX;

	for (; p; p = p->e[0], c++) {
		if (p->val != mix(p->id) || p->id >= prev || p->id % 1000 != (uint64_t)i)
			FAIL("%s: object %llu of node %d's list: id %llu", what,
			     (unsigned long long)c, i, (unsigned long long)p->id);
		prev = p->id;
	}
	if (c != n)
		FAIL("%s: %llu objects in node %d's list, expected %llu", what,
		     (unsigned long long)c, i, (unsigned long long)n);
}

int main(int argc, char **argv)
{
	struct obj **heads, *garbage = NULL;
	uint64_t used5 = 0, seq = 0, len = 0;
	dsm_type_t t;
	int nn, A, R;

	gc_start(&argc, &argv, 2);
	nn = dsm_node_count();
	A = argc > 1 ? atoi(argv[1]) : 5000;
	R = argc > 2 ? atoi(argv[2]) : 50;
	t = obj_type();
	heads = dsm_alloc_collective((size_t)nn * sizeof(*heads));
	if (!heads)
		FAIL("dsm_alloc_collective");
	CHECK(dsm_gc_root_add((void **)&list));
	CHECK(dsm_gc_root_add((void **)&other));
	for (int round = 0; round < R; round++) {
		for (int a = 0; a < A; a++) {
			struct obj *p = new_obj(t, ++seq * 1000 + (uint64_t)me);
			if (a % 10 == 0) {
				p->e[0] = list;
				list = p;
				len++;
			} else { /* garbage, pointing at the list and at other garbage */
				p->e[1] = list;
				p->e[2] = garbage;
				p->e[3] = other;
				garbage = a % 7 ? p : NULL;
			}
		}
		garbage = NULL;
		/* cut the list to K objects */
		struct obj *q = list;
		for (int i = 1; q && i < K; i++)
			q = q->e[0];
		if (q && q->e[0]) {
			q->e[0] = NULL;
			len = K;
		}
		heads[me] = list;
		CHECK(dsm_barrier(1));
		other = heads[(me + 1) % nn];
		CHECK(dsm_barrier(2));
		heads[me] = NULL;
		CHECK(dsm_gc_collect());
		check_list(list, me, len, "my list");
		check_list(other, (me + 1) % nn, len, "the next node's list");
		struct dsm_gc_stats s = gc_stats();
		if (round == 5)
			used5 = s.arena_used;
		if (round > 5 && s.arena_used > 2 * used5)
			FAIL("round %d: arena in use %llu bytes, %llu at round 5", round,
			     (unsigned long long)s.arena_used, (unsigned long long)used5);
		CHECK(dsm_barrier(3));
	}
	list = other = NULL;
	CHECK(dsm_gc_collect_global());
	struct dsm_gc_stats s = gc_stats();
	if (s.live_objects || s.freed_objects != s.allocated_objects)
		FAIL("at the end: %llu live of %llu allocated", (unsigned long long)s.live_objects,
		     (unsigned long long)s.allocated_objects);
	if (me == 0)
		printf("gc_churn: %d nodes x %llu allocations (90%% garbage); arena in use "
		       "%llu KiB at round 5, last pause %.3f ms, %llu collections (%llu global)\n",
		       nn, (unsigned long long)s.allocated_objects, (unsigned long long)used5 >> 10,
		       s.last_pause_ns / 1e6, (unsigned long long)s.collections,
		       (unsigned long long)s.global_collections);
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
