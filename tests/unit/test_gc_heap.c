/*
 * test_gc_heap.c — the collector's pure parts (src/gc/heap.c): the arena
 * allocator and object table (classes, large objects, any byte finds its
 * object, reuse keeps a churning heap bounded, the arena runs out), the
 * sweep (marked and exported objects kept, marks cleared), address sets
 * (the import lists: adds and drops between two collections), and the
 * reference layouts of types (pointer fields, arrays, nested records).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gc/gc.h"

#define ARENA (16 * GC_CHUNK)

static struct gc_heap h;
static char *mem;

static int setup(void **st)
{
	(void)st;
	mem = aligned_alloc(GC_CHUNK, ARENA);
	return mem && !gc_heap_init(&h, mem, ARENA) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	gc_heap_fini(&h);
	free(mem);
	return 0;
}

static void test_small_objects(void **st)
{
	long off[100];
	uint64_t start;
	(void)st;

	for (int i = 0; i < 100; i++) {
		size_t bytes = 1 + (size_t)i * 37 % 3000;
		off[i] = gc_heap_alloc(&h, bytes, 7);
		assert_true(off[i] >= 0);
		memset(mem + off[i], i, bytes); /* inside the arena, no overlap (checked below) */
	}
	for (int i = 0; i < 100; i++) {
		size_t bytes = 1 + (size_t)i * 37 % 3000;
		struct gc_obj *o = gc_heap_find(&h, (uint64_t)off[i] + bytes - 1, &start);
		assert_non_null(o);
		assert_int_equal(start, off[i]);
		assert_int_equal(o->bytes, bytes);
		assert_int_equal(o->type, 7);
		assert_int_equal((unsigned char)mem[off[i]], i);
		assert_int_equal((unsigned char)mem[off[i] + bytes - 1], i);
		/* past the object, in its slot's padding: no object */
		if ((bytes & (bytes - 1)) && bytes > 16)
			assert_null(gc_heap_find(&h, (uint64_t)off[i] + bytes, &start));
	}
	assert_int_equal(h.live_objects, 100);
	for (int i = 0; i < 100; i++)
		gc_heap_free(&h, (uint64_t)off[i]);
	assert_int_equal(h.live_objects, 0);
	assert_int_equal(h.live_bytes, 0);
	assert_null(gc_heap_find(&h, (uint64_t)off[5], &start));
}

static void test_large_objects(void **st)
{
	uint64_t start;
	long a, b;
	(void)st;

	a = gc_heap_alloc(&h, 3 * GC_CHUNK + 5, 3);
	b = gc_heap_alloc(&h, GC_CHUNK / 2 + 1, 4);
	assert_true(a >= 0 && b >= 0);
	assert_true(b >= a + 4 * (long)GC_CHUNK || a >= b + (long)GC_CHUNK);
	assert_non_null(gc_heap_find(&h, (uint64_t)a + 2 * GC_CHUNK + 17, &start));
	assert_int_equal(start, a);
	assert_non_null(gc_heap_find(&h, (uint64_t)a + 3 * GC_CHUNK + 4, &start));
	assert_null(gc_heap_find(&h, (uint64_t)a + 3 * GC_CHUNK + 5, &start));
	assert_int_equal(h.chunks_used, 5);
	gc_heap_free(&h, (uint64_t)a);
	assert_null(gc_heap_find(&h, (uint64_t)a + 2 * GC_CHUNK, &start));
	gc_heap_free(&h, (uint64_t)b);
	assert_int_equal(h.chunks_used, 0);
	/* the whole arena in one object, then nothing more fits */
	a = gc_heap_alloc(&h, ARENA, 1);
	assert_int_equal(a, 0);
	assert_int_equal(gc_heap_alloc(&h, 16, 1), -ENOMEM);
	gc_heap_free(&h, 0);
	assert_int_equal(gc_heap_alloc(&h, ARENA + 1, 1), -ENOMEM);
}

/* 10^5 allocations, 90% freed at once: chunks in use stay bounded. */
static void test_churn_bounded(void **st)
{
	static long keep[1000];
	size_t nk = 0;
	uint32_t max_used = 0;
	(void)st;

	for (int r = 0; r < 100; r++) {
		for (int i = 0; i < 1000; i++) {
			long off = gc_heap_alloc(&h, 48 + (size_t)(i % 3) * 100, 1);
			assert_true(off >= 0);
			if (i % 10 == 0 && nk < 1000)
				keep[nk++] = off;
			else
				gc_heap_free(&h, (uint64_t)off);
		}
		if (nk == 1000) { /* the kept ones die too, in batches */
			for (size_t i = 0; i < nk; i++)
				gc_heap_free(&h, (uint64_t)keep[i]);
			nk = 0;
		}
		if (h.chunks_used > max_used)
			max_used = h.chunks_used;
	}
	assert_true(max_used <= 6);
	for (size_t i = 0; i < nk; i++)
		gc_heap_free(&h, (uint64_t)keep[i]);
	assert_int_equal(h.live_objects, 0);
}

static void test_sweep(void **st)
{
	long off[6];
	uint64_t fo = 0, fb = 0, start;
	struct gc_obj *o;
	(void)st;

	for (int i = 0; i < 6; i++)
		off[i] = gc_heap_alloc(&h, i == 5 ? GC_CHUNK : 100, 1);
	gc_heap_find(&h, (uint64_t)off[0], &start)->mark = 1;
	gc_heap_find(&h, (uint64_t)off[2], &start)->rc = 2;          /* exported */
	gc_heap_find(&h, (uint64_t)off[3], &start)->esc = 1;         /* escaped */
	gc_heap_find(&h, (uint64_t)off[5], &start)->mark = 1;        /* large */
	gc_heap_sweep(&h, &fo, &fb);
	assert_int_equal(fo, 2);
	assert_int_equal(fb, 200);
	assert_int_equal(h.live_objects, 4);
	assert_non_null(o = gc_heap_find(&h, (uint64_t)off[3], &start));
	assert_int_equal(o->esc, 1); /* only a collective collection clears it */
	assert_non_null(o = gc_heap_find(&h, (uint64_t)off[0], &start));
	assert_int_equal(o->mark, 0); /* cleared for the next collection */
	assert_non_null(o = gc_heap_find(&h, (uint64_t)off[2], &start));
	assert_int_equal(o->rc, 2);
	assert_null(gc_heap_find(&h, (uint64_t)off[1], &start));
	assert_non_null(gc_heap_find(&h, (uint64_t)off[5] + 10, &start));
	/* next sweep: nothing marked, only the exported and escaped ones stay */
	fo = fb = 0;
	gc_heap_sweep(&h, &fo, &fb);
	assert_int_equal(fo, 2);
	assert_int_equal(h.live_objects, 2);
	gc_heap_find(&h, (uint64_t)off[2], &start)->rc = 0;
	gc_heap_find(&h, (uint64_t)off[3], &start)->esc = 0;
	gc_heap_sweep(&h, &fo, &fb);
	assert_int_equal(h.live_objects, 0);
}

/* Import lists: the set of one collection against the last one gives the
 * ADDs (new) and the DROPs (gone) sent to the owners. */
static void test_sets(void **st)
{
	struct gc_set prev = { 0 }, cur = { 0 };
	uint64_t x;
	size_t adds = 0, drops = 0, n = 0;
	(void)st;

	for (uint64_t i = 1; i <= 5000; i++)
		assert_int_equal(gc_set_add(&prev, i * 4096 + 8), 1);
	assert_int_equal(gc_set_add(&prev, 4096 + 8), 0);
	assert_int_equal(prev.n, 5000);
	for (uint64_t i = 2501; i <= 7500; i++)
		gc_set_add(&cur, i * 4096 + 8);
	for (size_t i = 0; gc_set_next(&cur, &i, &x);)
		adds += !gc_set_has(&prev, x);
	for (size_t i = 0; gc_set_next(&prev, &i, &x);) {
		drops += !gc_set_has(&cur, x);
		n++;
	}
	assert_int_equal(adds, 2500);
	assert_int_equal(drops, 2500);
	assert_int_equal(n, 5000);
	gc_set_clear(&prev);
	assert_int_equal(prev.n, 0);
	assert_false(gc_set_has(&prev, 4096 + 8));
	gc_set_free(&prev);
	gc_set_free(&cur);
}

struct leaf { int32_t a; void *p; double d; void *q[3]; };
struct outer { char c[3]; struct leaf l[2]; void *tail; int64_t k; };

static void test_layout(void **st)
{
	struct gc_layout tab[8] = { 0 }, bad;
	struct dsm_field lf[] = {
		DSM_FIELD(struct leaf, a, DSM_FIELD_I32),
		DSM_FIELD(struct leaf, p, DSM_FIELD_PTR),
		DSM_FIELD(struct leaf, d, DSM_FIELD_DOUBLE),
		DSM_FIELD_N(struct leaf, q, DSM_FIELD_PTR, 3),
	};
	struct dsm_field of[] = {
		DSM_FIELD_N(struct outer, c, DSM_FIELD_CHAR, 3),
		DSM_FIELD_REC_N(struct outer, l, 1, 2),
		DSM_FIELD(struct outer, tail, DSM_FIELD_PTR),
		DSM_FIELD(struct outer, k, DSM_FIELD_I64),
	};
	(void)st;

	assert_int_equal(gc_layout_build(&tab[1], sizeof(struct leaf), lf, 4, tab, 8), 0);
	assert_int_equal(tab[1].nptr, 4);
	assert_int_equal(tab[1].ptr[0], offsetof(struct leaf, p));
	assert_int_equal(tab[1].ptr[3], offsetof(struct leaf, q) + 16);
	assert_int_equal(gc_layout_build(&tab[2], sizeof(struct outer), of, 4, tab, 8), 0);
	assert_int_equal(tab[2].nptr, 9);
	assert_int_equal(tab[2].ptr[0], offsetof(struct outer, l) + offsetof(struct leaf, p));
	assert_int_equal(tab[2].ptr[4], offsetof(struct outer, l) + sizeof(struct leaf) +
					offsetof(struct leaf, p));
	assert_int_equal(tab[2].ptr[8], offsetof(struct outer, tail));
	/* a nested type the collector does not know */
	of[1].record = 5;
	assert_int_equal(gc_layout_build(&bad, sizeof(struct outer), of, 4, tab, 8), -EINVAL);
	gc_layout_free(&tab[1]);
	gc_layout_free(&tab[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
