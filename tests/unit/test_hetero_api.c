/*
 * test_hetero_api.c — include/dsm_type.h in a one-node job (no dsmrun):
 * calls before dsm_init, registration errors, typed allocations and the
 * page table they fill (dsm_type_of), small allocations packed in a size
 * class, dsm_typed_free (blocks, slots, a full size class freed, bad
 * pointers), dsm_broadcast_typed's checks, the byte order of the node.
 * The conversions themselves: test_hetero_type and tests/hetero.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsm.h"
#include "dsm_type.h"

struct pt {
	double x, y;
	int32_t id;
	float w;
};

static const struct dsm_field pt_fields[] = {
	DSM_FIELD(struct pt, x, DSM_FIELD_DOUBLE),
	DSM_FIELD(struct pt, y, DSM_FIELD_DOUBLE),
	DSM_FIELD(struct pt, id, DSM_FIELD_I32),
	DSM_FIELD(struct pt, w, DSM_FIELD_FLOAT),
};

static void test_before_init(void **state)
{
	(void)state;
	assert_int_equal(dsm_type_register("pt", sizeof(struct pt), pt_fields, 4),
			 DSM_ENOTINIT);
	assert_null(dsm_typed_malloc(1, 1));
	assert_int_equal(dsm_type_of(NULL), DSM_ENOTINIT);
	assert_int_equal(dsm_node_byte_order(0), DSM_ENOTINIT);
}

static void test_one_node(void **state)
{
	int argc = 1;
	char *args[] = { "test_hetero_api", NULL }, **argv = args;
	struct dsm_field bad[] = { { DSM_FIELD_I32, 2, 1, 0 } };

	(void)state;
	unsetenv("DSM_NODE_ID");
	unsetenv("DSM_NODE_COUNT");
	assert_int_equal(dsm_init(&argc, &argv), 0);
	unsigned x = 1;
	assert_int_equal(dsm_node_byte_order(0), *(unsigned char *)&x ? 1 : 2);
	assert_int_equal(dsm_node_byte_order(1), -EINVAL);

	dsm_type_t t = dsm_type_register("pt", sizeof(struct pt), pt_fields, 4);
	assert_int_equal(t, 1);
	assert_int_equal(dsm_type_register("bad", 8, bad, 1), -EINVAL);
	assert_int_equal(dsm_type_register("huge", 1u << 20, pt_fields, 4), -EINVAL);

	/* a block: whole pages of its own */
	size_t big = 1000;
	struct pt *b = dsm_typed_malloc(t, big);
	assert_non_null(b);
	assert_int_equal((uintptr_t)b % 4096, 0);
	assert_int_equal(dsm_type_of(b), t);
	assert_int_equal(dsm_type_of(&b[big - 1]), t);
	b[big - 1].id = 7; /* usable */
	void *u = dsm_malloc(64);
	assert_non_null(u);
	assert_int_equal(dsm_type_of(u), 0);
	assert_int_equal(dsm_type_of(&x), -EINVAL);
	assert_null(dsm_typed_malloc(t, 0));
	assert_null(dsm_typed_malloc(99, 1));

	/* small ones: packed in the size class, one slab of 4 pages */
	struct pt *s[4];
	for (int i = 0; i < 4; i++) {
		s[i] = dsm_typed_malloc(t, 2);
		assert_non_null(s[i]);
		assert_int_equal(dsm_type_of(s[i]), t);
		if (i)
			assert_ptr_equal(s[i], s[i - 1] + 2);
	}
	/* a slot frees nothing (the class is not full); a pointer inside a
	 * block or the heap is refused */
	assert_int_equal(dsm_typed_free(s[1]), 0);
	assert_int_equal(dsm_type_of(s[1]), t);
	assert_int_equal(dsm_typed_free(&b[1]), -EINVAL);
	assert_int_equal(dsm_typed_free(u), -EINVAL);
	assert_int_equal(dsm_typed_free(NULL), 0);

	/* a block: its pages untyped again */
	assert_int_equal(dsm_typed_free(b), 0);
	assert_int_equal(dsm_type_of(b), 0);

	/* fill the size class (s[] took 8 slots), free everything: its pages
	 * are untyped again; the next small allocation opens a new class */
	size_t slots = 4 * 4096 / sizeof(struct pt), nc = 0;
	static struct pt *c[4096 / sizeof(struct pt) * 4];
	for (size_t used = 8; used < slots; used++) {
		c[nc] = dsm_typed_malloc(t, 1);
		assert_non_null(c[nc]);
		assert_ptr_equal(c[nc], s[0] + used);
		nc++;
	}
	for (size_t i = 0; i < nc; i++)
		assert_int_equal(dsm_typed_free(c[i]), 0);
	assert_int_equal(dsm_type_of(s[0]), t); /* s[0], s[2], s[3] live */
	for (int i = 0; i < 4; i++)
		if (i != 1)
			assert_int_equal(dsm_typed_free(s[i]), 0);
	assert_int_equal(dsm_type_of(s[0]), 0);
	assert_int_equal(dsm_type_of(c[nc - 1]), 0);
	struct pt *again = dsm_typed_malloc(t, 1);
	assert_non_null(again);
	assert_int_equal(dsm_type_of(again), t);
	assert_int_equal(dsm_typed_free(again), 0);

	/* typed broadcast: one node, checks only */
	struct pt p = { 1, 2, 3, 4 };
	assert_int_equal(dsm_broadcast_typed(&p, t, 1, 0), 0);
	assert_true(p.x == 1 && p.id == 3);
	assert_int_equal(dsm_broadcast_typed(&p, 42, 1, 0), -EINVAL);
	assert_int_equal(dsm_broadcast_typed(&p, t, 1, 1), -EINVAL);

	dsm_free(u);
	assert_int_equal(dsm_finalize(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_init),
		cmocka_unit_test(test_one_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
