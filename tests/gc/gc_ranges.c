/*
 * gc_ranges.c — conservative root ranges. Node 0 registers a shared table
 * as a range; every node puts into it an exact and an interior reference
 * to two of its objects and an integer; every node registers a private
 * range holding a third object's reference and, at an unaligned offset, a
 * fourth's (not seen: only aligned words count). Checks exactly which
 * objects survive global collections as entries are cleared and the
 * ranges removed.
 */
#define MN_PROG "gc_ranges"
#include "gc_util.h"

static void expect(uint64_t n, const char *when)
{
	struct dsm_gc_stats s = gc_stats();
	if (s.live_objects != n)
		FAIL("%s: %llu objects live, expected %llu", when,
		     (unsigned long long)s.live_objects, (unsigned long long)n);
}

int main(int argc, char **argv)
{
	static uint64_t priv[4];
	static char unaligned[24];
	struct obj *o[4];
	uint64_t *tab;
	dsm_type_t t;
	int nn;

	gc_start(&argc, &argv, 2);
	nn = dsm_node_count();
	t = obj_type();
	tab = dsm_alloc_collective((size_t)3 * nn * sizeof(*tab));
	if (!tab)
		FAIL("dsm_alloc_collective");
	for (int k = 0; k < 4; k++)
		o[k] = new_obj(t, (uint64_t)me * 10 + (uint64_t)k);
	tab[3 * me] = (uintptr_t)o[0];
	tab[3 * me + 1] = (uintptr_t)o[1] + 20; /* inside o[1] */
	tab[3 * me + 2] = 12345;
	priv[1] = (uintptr_t)o[2];
	memcpy(unaligned + 4, &o[3], sizeof(o[3]));
	if (me == 0)
		CHECK(dsm_gc_root_add_range(tab, (size_t)3 * nn * sizeof(*tab)));
	CHECK(dsm_gc_root_add_range(priv, sizeof(priv)));
	CHECK(dsm_gc_root_add_range(unaligned, sizeof(unaligned)));
	CHECK(dsm_barrier(1));
	CHECK(dsm_gc_collect_global());
	expect(3, "all ranges");
	if (dsm_gc_live(o[0]) != 1 || dsm_gc_live(o[1]) != 1 || dsm_gc_live(o[2]) != 1 ||
	    dsm_gc_live(o[3]) != 0)
		FAIL("the wrong objects survived");
	if (o[1]->id != (uint64_t)me * 10 + 1)
		FAIL("interior-referenced object damaged");
	/* a local collection keeps them too (the table's references to other
	 * nodes are node 0's imports) */
	CHECK(dsm_gc_collect());
	expect(3, "all ranges, local collection");
	CHECK(dsm_barrier(2));
	if (me == 0)
		for (int i = 0; i < nn; i += 2)
			tab[3 * i] = tab[3 * i + 1] = 0;
	CHECK(dsm_gc_collect_global());
	expect(me % 2 ? 3 : 1, "even nodes' entries cleared");
	if (me == 0) {
		CHECK(dsm_gc_root_remove_range(tab));
		if (dsm_gc_root_remove_range(tab) != -ENOENT)
			FAIL("removing a range twice");
	}
	CHECK(dsm_gc_collect_global());
	expect(1, "shared range removed");
	CHECK(dsm_gc_root_remove_range(priv));
	CHECK(dsm_gc_root_remove_range(unaligned));
	CHECK(dsm_gc_collect_global());
	expect(0, "every range removed");
	if (dsm_gc_root_add_range(NULL, 8) != -EINVAL || dsm_gc_root_add_range(priv, 0) != -EINVAL)
		FAIL("bad ranges accepted");
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
