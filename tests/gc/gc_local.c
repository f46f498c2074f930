/*
 * gc_local.c — dsm_gc_collect_local, the non-collective collection
 * (docs/gc.md "Local collection without barriers").
 *
 * Part 1, private churn: every node, with no barrier between nodes, runs
 * R rounds of A allocations: one in ten goes onto its rooted list (cut to
 * K objects), the rest is garbage pointing at the list and at other
 * garbage; a local collection every round. Nothing was ever published,
 * so after each one exactly the list is live, every garbage object is
 * freed (the collector's counts), nothing is escaped, and from round 5 on
 * the arena in use does not grow.
 *
 * Part 2, published objects: node 0 (the owner) makes X -> X2, stores X
 * into holder object H of another node, drops its own reference and
 * collects locally at once (the store has not left node 0: found by the
 * pending scan). After a barrier the reader (node 1) reads X intact, moves
 * it into an object node 0 never sees and clears H; node 0 re-reads H, so
 * X is now held only by the reader and only its escape bit (set when the
 * page holding it left node 0) keeps it through the owner's local
 * collections; the reader reads it intact again. A collective collection
 * puts it on the reader's import list (rc 1); the reader drops it; after
 * one more collective collection (DROP) the owner's next local collection
 * frees X and X2. Done twice with 3+ nodes: H owned by the reader, then by
 * node 2 (under hlrc H's home is node 2: the reference travels through a
 * third node's page).
 * Usage: gc_local [allocations per round] [rounds]
 */
#define MN_PROG "gc_local"
#include "gc_util.h"

#define K 50

static struct obj *list, *held, *mine;

static void churn(dsm_type_t t, int A, int R)
{
	uint64_t seq = 0, len = 0, used5 = 0;
	struct dsm_gc_stats s0 = gc_stats(), s = s0;

	for (int round = 0; round < R; round++) {
		struct obj *garbage = NULL;
		for (int a = 0; a < A; a++) {
			struct obj *p = new_obj(t, ++seq * 1000 + (uint64_t)me);
			if (a % 10 == 0) {
				p->e[0] = list;
				list = p;
				len++;
			} else {
				p->e[1] = list;
				p->e[2] = garbage;
				garbage = a % 7 ? p : NULL;
			}
		}
		garbage = NULL;
		struct obj *q = list;
		for (int i = 1; q && i < K; i++)
			q = q->e[0];
		if (q && q->e[0]) {
			q->e[0] = NULL;
			len = K;
		}
		CHECK(dsm_gc_collect_local());
		s = gc_stats();
		if (s.live_objects != len || s.escaped ||
		    s.freed_objects - s0.freed_objects != s.allocated_objects - s0.allocated_objects - len)
			FAIL("churn round %d: %llu live (list %llu), %llu escaped, %llu freed of %llu",
			     round, (unsigned long long)s.live_objects, (unsigned long long)len,
			     (unsigned long long)s.escaped,
			     (unsigned long long)(s.freed_objects - s0.freed_objects),
			     (unsigned long long)(s.allocated_objects - s0.allocated_objects));
		uint64_t c = 0;
		for (const struct obj *p = list; p; p = p->e[0], c++)
			if (p->val != mix(p->id) || p->id % 1000 != (uint64_t)me)
				FAIL("churn round %d: list object %llu damaged", round,
				     (unsigned long long)c);
		if (round == 5)
			used5 = s.arena_used;
		if (round > 5 && s.arena_used > used5)
			FAIL("churn round %d: arena in use %llu, %llu at round 5", round,
			     (unsigned long long)s.arena_used, (unsigned long long)used5);
	}
	if (s.local_collections - s0.local_collections != (uint64_t)R || s.collections != s0.collections)
		FAIL("churn: %llu local collections, %llu collective",
		     (unsigned long long)(s.local_collections - s0.local_collections),
		     (unsigned long long)(s.collections - s0.collections));
	printf("gc_local: node %d: churn %d x %d allocations, %llu freed by local collections, "
	       "arena in use %llu KiB, last pause %.3f ms\n", me, R, A,
	       (unsigned long long)(s.freed_objects - s0.freed_objects),
	       (unsigned long long)s.arena_used >> 10, s.last_pause_ns / 1e6);
}

static void expect_live(const struct obj *p, const char *name, int want, const char *when)
{
	int l = dsm_gc_live(p);
	if (l != want)
		FAIL("%s: %s is %s", when, name, l == 1 ? "live" : "freed");
}

static void check_x(const struct obj *x, const char *when)
{
	if (!x || x->id != 7001 || x->val != mix(7001) || !x->e[0] || x->e[0]->id != 7002 ||
	    x->e[0]->val != mix(7002))
		FAIL("%s: X not intact (id %llu)", when, x ? (unsigned long long)x->id : 0ull);
}

/* Part 2 with H owned by node hn (!= 0); node 1 reads. */
static void publish(dsm_type_t t, struct obj *volatile *slots, int hn, unsigned b)
{
	static struct obj *h, *h2;
	struct obj *x = NULL, *x2 = NULL;

	if (me == hn)
		slots[0] = h = new_obj(t, 9000 + (uint64_t)hn);
	if (me == 1) {
		/* rooted: the reader's own object, an array of 2 so that it lies
		 * in another chunk than H (node 0 reads H's page) */
		mine = h2 = dsm_gc_malloc(t, 2);
		if (!h2)
			FAIL("dsm_gc_malloc");
		if (hn == 1)
			h2->e[1] = h;
	}
	if (me == hn && hn != 1)
		held = h; /* the holder node roots H */
	if (me == 1 && hn == 1)
		held = h;
	CHECK(dsm_barrier(b));
	if (me == 0) {
		struct obj *hh = slots[0];
		x = held = new_obj(t, 7001);
		x2 = x->e[0] = new_obj(t, 7002);
		hh->e[0] = x;
		held = NULL;
		/* the store into H has not left this node: pending scan */
		CHECK(dsm_gc_collect_local());
		expect_live(x, "X", 1, "unsent store");
		expect_live(x2, "X2", 1, "unsent store");
	}
	CHECK(dsm_barrier(b + 1));
	if (me == 1) {
		struct obj *hh = slots[0];
		check_x(hh->e[0], "reader, first read");
		h2->e[0] = hh->e[0];
		hh->e[0] = NULL;
	}
	CHECK(dsm_barrier(b + 2));
	if (me == 0) {
		struct obj *hh = slots[0];
		if (hh->e[0])
			FAIL("H still holds X after the reader cleared it");
		struct dsm_gc_stats s = gc_stats();
		if (!s.escaped)
			FAIL("nothing escaped after X was read by node 1");
		/* only X's escape bit keeps it now */
		for (int i = 0; i < 3; i++) {
			CHECK(dsm_gc_collect_local());
			expect_live(x, "X", 1, "held by the reader only");
			expect_live(x2, "X2", 1, "held by the reader only");
			for (int j = 0; j < 64; j++) /* a freed slot would be reused */
				new_obj(t, 8000 + (uint64_t)j);
		}
	}
	CHECK(dsm_barrier(b + 3));
	if (me == 1)
		check_x(h2->e[0], "reader, after the owner's local collections");
	CHECK(dsm_gc_collect()); /* collective: X goes on the reader's import list */
	if (me == 0) {
		struct dsm_gc_stats s = gc_stats();
		CHECK(dsm_gc_collect_local());
		expect_live(x, "X", 1, "exported");
		if (s.exported < 1)
			FAIL("X is not exported after a collective collection");
	}
	CHECK(dsm_barrier(b + 4));
	if (me == 1) {
		check_x(h2->e[0], "reader, after the collective collection");
		h2->e[0] = NULL; /* the reader drops X */
	}
	CHECK(dsm_barrier(b + 5));
	CHECK(dsm_gc_collect()); /* DROP: rc 0 */
	if (me == 0) {
		CHECK(dsm_gc_collect_local());
		expect_live(x, "X", 0, "dropped by the reader");
		expect_live(x2, "X2", 0, "dropped by the reader");
	}
	held = mine = NULL;
	if (me == hn)
		slots[0] = NULL;
	CHECK(dsm_barrier(b + 6));
}

int main(int argc, char **argv)
{
	struct obj *volatile *slots;
	dsm_type_t t;
	int A, R;

	gc_start(&argc, &argv, 2);
	A = argc > 1 ? atoi(argv[1]) : 2000;
	R = argc > 2 ? atoi(argv[2]) : 100;
	t = obj_type();
	slots = dsm_alloc_collective(16 * sizeof(*slots));
	if (!slots)
		FAIL("dsm_alloc_collective");
	CHECK(dsm_gc_root_add((void **)&list));
	CHECK(dsm_gc_root_add((void **)&held));
	CHECK(dsm_gc_root_add((void **)&mine));
	churn(t, A, R);
	CHECK(dsm_barrier(1));
	publish(t, slots, 1, 10);
	if (dsm_node_count() >= 3)
		publish(t, slots, 2, 20);
	list = NULL;
	CHECK(dsm_gc_collect_global());
	struct dsm_gc_stats s = gc_stats();
	if (s.live_objects || s.freed_objects != s.allocated_objects)
		FAIL("at the end: %llu live of %llu allocated", (unsigned long long)s.live_objects,
		     (unsigned long long)s.allocated_objects);
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
