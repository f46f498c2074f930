/*
 * test_sync_table.c — the sync layer's tables of lock and barrier records
 * by id (src/sync/sync.c): they grow (a program with a lock per molecule
 * has tens of thousands of ids), every record stays findable across the
 * growth with its contents, ids that collide in every table size stay
 * distinct, iteration visits each record once, and clearing empties the
 * table and calls the release hook once per record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/sync.h"

struct rec {
	struct sync_obj obj;
	unsigned value;
};

#define N 100000u

static int count_each(void *obj, void *arg)
{
	struct rec *r = obj;
	unsigned *seen = arg;

	assert_int_equal(r->value, r->obj.id * 3u + 1u);
	seen[0]++;
	seen[1] += r->obj.id & 1u;
	return 0;
}

static void count_free(void *obj, void *arg)
{
	(void)obj;
	(*(unsigned *)arg)++;
}

static void test_grow(void **state)
{
	struct sync_table t;
	unsigned seen[2] = { 0, 0 }, freed = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_null(dsm__sync_lookup(&t, 7, 0)); /* empty: no record, none made */
	for (unsigned id = 0; id < N; id++) {
		/* ids spaced by a power of two collide in every table size */
		unsigned key = id % 2 ? id : (id / 2) << 16;
		struct rec *r = dsm__sync_lookup(&t, key, sizeof(*r));
		assert_non_null(r);
		assert_int_equal(r->obj.id, key);
		assert_int_equal(r->value, 0); /* new: zeroed */
		r->value = key * 3u + 1u;
		assert_ptr_equal(dsm__sync_lookup(&t, key, sizeof(*r)), r); /* not twice */
	}
	assert_true(t.nbuckets >= N / 2); /* it grew: at most two records a bucket */
	for (unsigned id = 0; id < N; id++) {
		unsigned key = id % 2 ? id : (id / 2) << 16;
		struct rec *r = dsm__sync_lookup(&t, key, 0);
		assert_non_null(r);
		assert_int_equal(r->value, key * 3u + 1u);
	}
	assert_int_equal(dsm__sync_each(&t, count_each, seen), 0);
	assert_int_equal(seen[0], N);
	assert_int_equal(seen[1], N / 2);
	dsm__sync_clear(&t, count_free, &freed);
	assert_int_equal(freed, N);
	assert_int_equal(t.count, 0);
	assert_null(dsm__sync_lookup(&t, 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
