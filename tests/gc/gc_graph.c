/*
 * gc_graph.c — the randomized graph test. Every round each node makes M
 * objects; then the edges of the reachable and new objects and the root
 * slots of every node change at random (one writer per object per round,
 * not always its owner), objects are dropped, and the job collects (every
 * third round globally). Every node runs the same sequential model of the
 * graph and checks, after every collection, that
 *   (a) every object the model finds reachable is alive and intact, and a
 *       walk of the shared graph from this node's roots gives the model's
 *       checksum (ids and edges of every object reached);
 *   (b) after a global collection, exactly the reachable objects this
 *       node owns are live (bytes included); after a local one, at least.
 * Non-collective collections (dsm_gc_collect_local) are interleaved: each
 * node makes private garbage after its own mutations and collects alone
 * while the others may still be mutating (the garbage must be freed), and
 * collects alone again right after each collective collection, before
 * the checks. Entries of ptrs (untyped shared memory, which a local
 * collection scans conservatively) are cleared once their object is
 * unreachable, so local collections can free such objects too.
 * The last round drops every root: a global collection leaves nothing.
 * Usage: gc_graph [objects per node per round] [rounds] [seed]
 */
#define MN_PROG "gc_graph"
#include "gc_util.h"

#define NR 6 /* root slots per node */
#define JUNK 64 /* private garbage per node per round */

static int nn, M, ROUNDS;
static int *owner, (*edge)[4], (*roots)[NR];
static unsigned char *reach, *seen;
static int *stack;

static void model_reach(int nobj)
{
	int sp = 0;

	memset(reach, 0, (size_t)nobj);
	for (int i = 0; i < nn; i++)
		for (int s = 0; s < NR; s++)
			if (roots[i][s] >= 0 && !reach[roots[i][s]]) {
				reach[roots[i][s]] = 1;
				stack[sp++] = roots[i][s];
			}
	while (sp) {
		int x = stack[--sp];
		for (int k = 0; k < 4; k++)
			if (edge[x][k] >= 0 && !reach[edge[x][k]]) {
				reach[edge[x][k]] = 1;
				stack[sp++] = edge[x][k];
			}
	}
}

/* Checksum of what is reachable from node i's roots: in the model
 * (shared == NULL) or by walking the shared graph. */
static uint64_t walk(int i, struct obj **slots, int nobj)
{
	uint64_t sum = 0;
	int sp = 0;

	memset(seen, 0, (size_t)nobj);
	for (int s = 0; s < NR; s++) {
		int x = roots[i][s];
		if (slots && (slots[s] ? (int)slots[s]->id : -1) != x)
			FAIL("root %d holds %lld, model %d", s,
			     slots[s] ? (long long)slots[s]->id : -1ll, x);
		if (x >= 0 && !seen[x]) {
			seen[x] = 1;
			stack[sp++] = x;
		}
	}
	/* the shared walk follows the model's ids but reads every edge */
	static struct obj **where;
	if (!where)
		where = calloc((size_t)nobj, sizeof(*where));
	if (slots)
		for (int s = 0; s < NR; s++)
			if (slots[s])
				where[slots[s]->id] = slots[s];
	while (sp) {
		int x = stack[--sp];
		sum += mix((uint64_t)x * 7 + 1);
		if (slots) {
			struct obj *p = where[x];
			if (p->id != (uint64_t)x || p->val != mix((uint64_t)x))
				FAIL("object %d: id %llu val %llx", x, (unsigned long long)p->id,
				     (unsigned long long)p->val);
			for (int k = 0; k < 4; k++) {
				int y = p->e[k] ? (int)p->e[k]->id : -1;
				if (y != edge[x][k])
					FAIL("object %d edge %d: %d, model %d", x, k, y, edge[x][k]);
				if (y >= 0)
					where[y] = p->e[k];
			}
		}
		for (int k = 0; k < 4; k++) {
			int y = edge[x][k];
			if (y >= 0 && !seen[y]) {
				seen[y] = 1;
				stack[sp++] = y;
				sum += (uint64_t)k << 40;
			}
		}
	}
	return sum;
}

int main(int argc, char **argv)
{
	static struct obj *slot[NR];
	struct obj **ptrs;
	struct rng r = { 12345 };
	dsm_type_t t;
	int nobj, *cand, nc;

	gc_start(&argc, &argv, 2);
	nn = dsm_node_count();
	M = argc > 1 ? atoi(argv[1]) : 150;
	ROUNDS = argc > 2 ? atoi(argv[2]) : 9;
	r.s = argc > 3 ? strtoull(argv[3], NULL, 0) : r.s;
	nobj = nn * M * (ROUNDS + 1);
	t = obj_type();
	owner = calloc((size_t)nobj, sizeof(*owner));
	edge = malloc((size_t)nobj * sizeof(*edge));
	roots = malloc((size_t)nn * sizeof(*roots));
	reach = calloc((size_t)nobj, 1);
	seen = calloc((size_t)nobj, 1);
	stack = malloc((size_t)nobj * sizeof(*stack));
	cand = malloc((size_t)nobj * sizeof(*cand));
	ptrs = dsm_alloc_collective((size_t)nobj * sizeof(*ptrs));
	if (!owner || !edge || !roots || !reach || !seen || !stack || !cand || !ptrs)
		FAIL("out of memory");
	memset(edge, 0xff, (size_t)nobj * sizeof(*edge));
	memset(roots, 0xff, (size_t)nn * sizeof(*roots));
	for (int s = 0; s < NR; s++)
		CHECK(dsm_gc_root_add((void **)&slot[s]));

	for (int round = 0; round <= ROUNDS; round++) {
		int last = round == ROUNDS, global = last || round % 3 == 2;
		int base = round * nn * M;
		uint64_t mine = 0;

		/* 1. new objects */
		for (int i = 0; i < nn * M; i++)
			owner[base + i] = i / M;
		if (!last)
			for (int j = 0; j < M; j++)
				ptrs[base + me * M + j] = new_obj(t, (uint64_t)(base + me * M + j));
		CHECK(dsm_barrier(1));
		/* 2. mutation: candidates are the reachable and the new objects */
		nc = 0;
		for (int x = 0; x < nobj; x++)
			if (reach[x] || (!last && x >= base && x < base + nn * M))
				cand[nc++] = x;
		for (int c = 0; c < nc && !last; c++) {
			int x = cand[c], writer = (int)((uint64_t)x * 31 + (uint64_t)round) % nn;
			for (int k = 0; k < 4; k++) {
				if (rnd(&r) % 3)
					continue;
				int y = rnd(&r) % 4 == 0 ? -1 : cand[rnd(&r) % (uint64_t)nc];
				edge[x][k] = y;
				if (writer == me)
					ptrs[x]->e[k] = y >= 0 ? ptrs[y] : NULL;
			}
		}
		for (int i = 0; i < nn; i++)
			for (int s = 0; s < NR; s++) {
				if (!last && rnd(&r) % 3)
					continue;
				int y = last || rnd(&r) % 5 == 0 ? -1 : cand[rnd(&r) % (uint64_t)nc];
				roots[i][s] = y;
				if (i == me)
					slot[s] = y >= 0 ? ptrs[y] : NULL;
			}
		/* 2b. private garbage, a local collection: no barrier */
		if (!last) {
			struct dsm_gc_stats s0 = gc_stats(), s1;
			struct obj *junk[JUNK];
			for (int i = 0; i < JUNK; i++) {
				/* arrays of 3: a size class only junk uses, so no stale
				 * word in a page (a freed object's old address, which a
				 * local collection's conservative scan would keep) can
				 * point at it */
				if (!(junk[i] = dsm_gc_malloc(t, 3)))
					FAIL("dsm_gc_malloc: %s", strerror(errno));
				junk[i]->e[1] = slot[i % NR];
				junk[i]->e[2] = ptrs[cand[(size_t)i * 7 % (size_t)nc]];
			}
			CHECK(dsm_gc_collect_local());
			for (int i = 0; i < JUNK; i++)
				if (dsm_gc_live(junk[i]) != 0)
					FAIL("round %d: private garbage %d survived a local collection",
					     round, i);
			s1 = gc_stats();
			if (s1.freed_objects - s0.freed_objects < JUNK)
				FAIL("round %d: a local collection freed %llu objects", round,
				     (unsigned long long)(s1.freed_objects - s0.freed_objects));
		}
		CHECK(dsm_barrier(2));
		/* 3. collect (and alone, at once) */
		CHECK(global ? dsm_gc_collect_global() : dsm_gc_collect());
		struct dsm_gc_stats sg = gc_stats();
		CHECK(dsm_gc_collect_local());
		/* 4. check against the model */
		model_reach(nobj);
		for (int x = 0; x < nobj; x++) {
			if (!reach[x] || owner[x] != me)
				continue;
			mine++;
			if (dsm_gc_live(ptrs[x]) != 1)
				FAIL("round %d: reachable object %d was freed", round, x);
		}
		if (walk(me, slot, nobj) != walk(me, NULL, nobj))
			FAIL("round %d: checksum of the graph from my roots", round);
		struct dsm_gc_stats s = gc_stats();
		if (s.live_objects < mine || (global && sg.live_objects != mine) ||
		    s.live_bytes != s.live_objects * sizeof(struct obj))
			FAIL("round %d (%s): %llu objects live (%llu after the collective "
			     "collection), %llu reachable", round, global ? "global" : "local",
			     (unsigned long long)s.live_objects,
			     (unsigned long long)sg.live_objects, (unsigned long long)mine);
		for (int x = 0; x < nobj; x++)
			if (owner[x] == me && !reach[x] && x < base + nn * M && ptrs[x])
				ptrs[x] = NULL;
		CHECK(dsm_barrier(3));
	}
	struct dsm_gc_stats s = gc_stats();
	if (me == 0)
		printf("gc_graph: %d nodes, %d rounds of %d objects: %llu allocated, %llu freed "
		       "by node 0; %llu rounds, %llu list entries sent; last pause %.3f ms\n",
		       nn, ROUNDS, M, (unsigned long long)s.allocated_objects,
		       (unsigned long long)s.freed_objects, (unsigned long long)s.rounds,
		       (unsigned long long)s.entries_sent, s.last_pause_ns / 1e6);
	if (s.live_objects || s.freed_objects != s.allocated_objects)
		FAIL("at the end: %llu live", (unsigned long long)s.live_objects);
	free(cand);
	free(stack);
	free(seen);
	free(reach);
	free(roots);
	free(edge);
	free(owner);
	CHECK(dsm_gc_fini());
	CHECK(dsm_finalize());
	return 0;
}
