/*
 * gc_cycle.c — the lists and the cross-node cycle. A ring A_0 -> A_1 ->
 * ... -> A_{N-1} -> A_0 (A_i made by node i) and a chain C_0 -> ... ->
 * C_{N-1}, both rooted at node 0. Checks the export and import lists
 * exactly; after the roots are dropped, local collections free the chain
 * (one hop per collection) but never the ring; local collections that
 * stop reclaiming start a global one on their own, which frees the ring.
 * A second ring is freed by an explicit dsm_gc_collect_global.
 */
#define MN_PROG "gc_cycle"
#include "gc_util.h"

static struct obj *ring, *chain; /* node 0's root slots */

/* Build a ring (and optionally the chain) and root it at node 0. */
static void build(dsm_type_t t, struct obj **tab, int nn, int with_chain)
{
	tab[me] = new_obj(t, (uint64_t)me);
	if (with_chain)
		tab[nn + me] = new_obj(t, 100 + (uint64_t)me);
	CHECK(dsm_barrier(1));
	tab[me]->e[0] = tab[(me + 1) % nn];
	if (with_chain && me + 1 < nn)
		tab[nn + me]->e[0] = tab[nn + me + 1];
	if (me == 0) {
		ring = tab[0];
		chain = with_chain ? tab[nn] : NULL;
	}
	CHECK(dsm_barrier(2));
	for (int i = 0; i < 2 * nn; i++) /* the table is not a root: clear it */
		if (i % nn == me)
			tab[i] = NULL;
}

static void expect_live(uint64_t objects, const char *when)
{
	struct dsm_gc_stats s = gc_stats();
	if (s.live_objects != objects || s.live_bytes != objects * sizeof(struct obj))
		FAIL("%s: %llu objects, %llu bytes live, expected %llu", when,
		     (unsigned long long)s.live_objects, (unsigned long long)s.live_bytes,
		     (unsigned long long)objects);
}

int main(int argc, char **argv)
{
	struct obj **tab;
	struct dsm_gc_stats s;
	dsm_type_t t;
	int nn;

	gc_start(&argc, &argv, 2);
	nn = dsm_node_count();
	t = obj_type();
	tab = dsm_alloc_collective((size_t)2 * nn * sizeof(*tab));
	if (!tab)
		FAIL("dsm_alloc_collective");
	if (me == 0) {
		CHECK(dsm_gc_root_add((void **)&ring));
		CHECK(dsm_gc_root_add((void **)&chain));
	}
	build(t, tab, nn, 1);
	CHECK(dsm_gc_collect());
	expect_live(2, "rooted");
	/* Lists: A_i is imported by node i-1 (node 0's A_0 by node N-1), C_i
	 * by node i-1 for i > 0. */
	s = gc_stats();
	if (s.exported != (me == 0 ? 1u : 2u))
		FAIL("export list: %llu entries, expected %d", (unsigned long long)s.exported,
		     me == 0 ? 1 : 2);
	if (s.imported != (me == nn - 1 ? 1u : 2u))
		FAIL("import list: %llu entries, expected %d", (unsigned long long)s.imported,
		     me == nn - 1 ? 1 : 2);
	/* the data is intact: walk the ring and the chain from node 0 */
	if (me == 0) {
		struct obj *p = ring;
		for (int i = 0; i < nn; i++, p = p->e[0])
			if (p->id != (uint64_t)i || p->val != mix((uint64_t)i))
				FAIL("ring object %d: id %llu", i, (unsigned long long)p->id);
		if (p != ring)
			FAIL("ring not closed");
		p = chain;
		for (int i = 0; i < nn; i++, p = p->e[0])
			if (p->id != 100 + (uint64_t)i)
				FAIL("chain object %d: id %llu", i, (unsigned long long)p->id);
		if (p)
			FAIL("chain not ended");
		ring = chain = NULL; /* drop both */
	}
	/* N local collections free the chain, one hop each; the ring stays. */
	for (int c = 0; c < nn; c++) {
		CHECK(dsm_gc_collect());
		if (gc_stats().global_collections)
			FAIL("a global collection ran while local ones still reclaimed");
	}
	expect_live(1, "chain dropped, after local collections");
	if (gc_stats().exported != 1)
		FAIL("the ring is no longer exported");
	/* Two local collections that reclaim nothing; the third is global. */
	CHECK(dsm_gc_collect());
	CHECK(dsm_gc_collect());
	expect_live(1, "local collections that reclaim nothing");
	if (gc_stats().global_collections)
		FAIL("global collection too early");
	CHECK(dsm_gc_collect());
	s = gc_stats();
	if (s.global_collections != 1)
		FAIL("no automatic global collection (%llu)",
		     (unsigned long long)s.global_collections);
	expect_live(0, "after the automatic global collection");
	if (s.exported || s.imported)
		FAIL("lists not empty: %llu exported, %llu imported",
		     (unsigned long long)s.exported, (unsigned long long)s.imported);

	/* A second ring, freed by the explicit global collection. */
	build(t, tab, nn, 0);
	CHECK(dsm_gc_collect());
	expect_live(1, "second ring rooted");
	if (me == 0)
		ring = NULL;
	CHECK(dsm_gc_collect());
	expect_live(1, "second ring after a local collection");
	CHECK(dsm_gc_collect_global());
	expect_live(0, "second ring after dsm_gc_collect_global");
	s = gc_stats();
	if (me == 0)
		printf("gc_cycle: %d nodes: %llu collections (%llu global), %llu rounds, "
		       "%llu list entries sent by node 0\n", nn,
		       (unsigned long long)s.collections, (unsigned long long)s.global_collections,
		       (unsigned long long)s.rounds, (unsigned long long)s.entries_sent);
	if (dsm_gc_init(0) != -EALREADY)
		FAIL("a second dsm_gc_init was not refused");
	/* Down and up again: the arenas' region space is given back and taken
	 * again (fresh, empty lists). */
	CHECK(dsm_gc_fini());
	if (dsm_gc_collect() != -ENOTCONN)
		FAIL("dsm_gc_collect after dsm_gc_fini");
	CHECK(dsm_gc_init(0));
	t = obj_type();
	if (me == 0)
		CHECK(dsm_gc_root_add((void **)&ring));
	build(t, tab, nn, 0);
	CHECK(dsm_gc_collect_global());
	expect_live(1, "after dsm_gc_fini and dsm_gc_init");
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
