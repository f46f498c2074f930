/*
 * bench_gc.c — the collector's costs (docs/gc.md): per node, L live
 * objects (default 10^5) in lists, one in X of them (default 100) also
 * referring to an object of another node; G garbage objects per node per
 * collection. Reports the median pause of local collections (and of
 * global ones), the list entries each node sent per collection, the
 * exchange rounds and the live objects, so runs at 1, 2, 4, 8 nodes show
 * how the cost grows with the nodes.
 * Usage: dsmrun -n N bench_gc [live per node] [cross every X] [collections]
 */
#define BENCH_NAME "bench_gc"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "dsm_gc.h"

struct obj {
	uint64_t id;
	struct obj *next, *cross;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	static struct obj *head;
	struct dsm_field f[] = {
		DSM_FIELD(struct obj, id, DSM_FIELD_U64),
		DSM_FIELD(struct obj, next, DSM_FIELD_PTR),
		DSM_FIELD(struct obj, cross, DSM_FIELD_PTR),
	};
	uint64_t pl[64], pg[64], sent0, rounds0;
	struct dsm_gc_stats s;
	struct obj **pub;
	int me, nn, L, X, C, err;
	dsm_type_t t;

	if ((err = dsm_init(&argc, &argv)))
		return fprintf(stderr, "bench_gc: dsm_init: %s\n", dsm_strerror(err)), 1;
	me = dsm_node_id();
	nn = dsm_node_count();
	L = argc > 1 ? atoi(argv[1]) : 100000;
	X = argc > 2 ? atoi(argv[2]) : 100;
	C = argc > 3 ? atoi(argv[3]) : 5;
	if (C > 64)
		C = 64;
	if ((err = dsm_gc_init(0)) ||
	    (t = dsm_gc_type_register("obj", sizeof(struct obj), f, 3)) <= 0 ||
	    (err = dsm_gc_root_add((void **)&head)))
		return fprintf(stderr, "bench_gc: setup: %s\n", dsm_strerror(err ? err : t)), 1;
	pub = dsm_alloc_collective((size_t)nn * L * sizeof(*pub) / (size_t)X + 8 * (size_t)nn);
	for (int i = 0; i < L; i++) {
		struct obj *p = dsm_gc_malloc(t, 1);
		if (!p)
			return fprintf(stderr, "bench_gc: dsm_gc_malloc: %s\n", strerror(errno)), 1;
		p->id = (uint64_t)me * L + (uint64_t)i;
		p->next = head;
		head = p;
		if (i % X == 0)
			pub[(size_t)me * (L / X + 1) + (size_t)(i / X)] = p;
	}
	dsm_barrier(1);
	{ /* one in X refers to an object of the next node */
		struct obj *p = head;
		size_t base = (size_t)((me + 1) % nn) * (L / X + 1);
		for (int i = L - 1; p; p = p->next, i--)
			if (i % X == 0)
				p->cross = nn > 1 ? pub[base + (size_t)(i / X)] : NULL;
	}
	dsm_barrier(2);
	dsm_gc_stats(&s);
	sent0 = s.entries_sent;
	rounds0 = s.rounds;
	dsm_gc_collect(); /* the first one sends the whole import list */
	dsm_gc_stats(&s);
	uint64_t first = s.entries_sent - sent0;
	for (int c = 0; c < C; c++) {
		for (int g = 0; g < 10000; g++) /* garbage */
			dsm_gc_malloc(t, 1);
		dsm_gc_collect();
		dsm_gc_stats(&s);
		pl[c] = s.last_pause_ns;
	}
	dsm_gc_stats(&s);
	uint64_t steady = s.entries_sent - sent0 - first, r1 = s.rounds - rounds0;
	for (int c = 0; c < C; c++) {
		dsm_gc_collect_global();
		dsm_gc_stats(&s);
		pg[c] = s.last_pause_ns;
	}
	dsm_gc_stats(&s);
	printf("bench_gc: node %d of %d: %llu live objects; pause local %.2f ms, global %.2f ms "
	       "(medians of %d); entries sent: first collection %llu, then %.1f per local, "
	       "%.1f per global; %.1f exchange rounds per collection\n",
	       me, nn, (unsigned long long)s.live_objects, median(pl, C) / 1e6,
	       median(pg, C) / 1e6, C, (unsigned long long)first, (double)steady / C,
	       (double)(s.entries_sent - sent0 - first - steady) / C,
	       (double)(s.rounds - rounds0) / (2.0 * C + 1));
	(void)r1;
	dsm_gc_fini();
	return dsm_finalize() ? 1 : 0;
}
