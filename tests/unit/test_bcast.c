/*
 * test_bcast.c — broadcast reassembly (src/core/bcast.c) and its use by
 * the BCAST handler (src/core/coll.c), which takes its lengths from the
 * network: a total over the cap is refused before anything is allocated,
 * a duplicate chunk cannot complete a broadcast with a hole, chunks with
 * another total or off the chunk grid are refused, and chunks of a
 * broadcast that already completed are refused.
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
#include "core/bcast.h"
#include "core/node.h"

#define CH DSM_BCAST_CHUNK

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	return p;
}

/* In order and out of order, every size class completes with the data. */
static void test_complete(void **state)
{
	const uint64_t sizes[] = { 0, 1, CH - 1, CH, CH + 1, 3 * CH + 17 };
	const char *why;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t total = sizes[s];
		struct dsm_bcast_asm a;
		unsigned char *src = pattern(total);
		uint32_t nch = total ? (uint32_t)((total + CH - 1) / CH) : 1;

		assert_int_equal(dsm__bcast_asm_init(&a, total, CH), 0);
		for (uint32_t i = 0; i < nch; i++) {
			uint32_t k = nch - 1 - i; /* backwards */
			uint64_t off = (uint64_t)k * CH;
			uint32_t len = (uint32_t)(total - off < CH ? total - off : CH);
			assert_false(dsm__bcast_asm_done(&a));
			assert_int_equal(dsm__bcast_asm_add(&a, total, off, src + off,
							    len, &why), 0);
		}
		assert_true(dsm__bcast_asm_done(&a));
		assert_memory_equal(a.buf, src, total ? total : 0);
		dsm__bcast_asm_fini(&a);
		free(src);
	}
}

/* The same chunk twice is refused and does not count towards the total. */
static void test_duplicate(void **state)
{
	struct dsm_bcast_asm a;
	unsigned char *src = pattern(2 * CH);
	const char *why = NULL;

	assert_int_equal(dsm__bcast_asm_init(&a, 2 * CH, CH), 0);
	assert_int_equal(dsm__bcast_asm_add(&a, 2 * CH, 0, src, CH, &why), 0);
	assert_int_equal(dsm__bcast_asm_add(&a, 2 * CH, 0, src, CH, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "duplicate"));
	assert_false(dsm__bcast_asm_done(&a));
	assert_int_equal(dsm__bcast_asm_add(&a, 2 * CH, CH, src + CH, CH, &why), 0);
	assert_true(dsm__bcast_asm_done(&a));
	dsm__bcast_asm_fini(&a);
	free(src);
}

/* Totals, offsets and lengths that do not fit the chunk grid. */
static void test_malformed(void **state)
{
	struct dsm_bcast_asm a;
	unsigned char *src = pattern(2 * CH);
	const char *why;

	assert_int_equal(dsm__bcast_asm_init(&a, DSM_BCAST_MAX + 1, CH), -EMSGSIZE);
	assert_int_equal(dsm__bcast_asm_init(&a, UINT64_MAX, CH), -EMSGSIZE);
	assert_int_equal(dsm__bcast_asm_init(&a, CH + 10, CH), 0);
	/* another total */
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 11, 0, src, CH, &why), DSM_EPROTO);
	/* offset off the grid, past the end, wrapping */
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, 10, src, 10, &why), DSM_EPROTO);
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, 2 * CH, src, 0, &why), DSM_EPROTO);
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, UINT64_MAX - CH + 1, src, 10,
					    &why), DSM_EPROTO);
	/* wrong lengths: short first chunk, long or short last chunk */
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, 0, src, CH - 1, &why), DSM_EPROTO);
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, CH, src, 11, &why), DSM_EPROTO);
	assert_int_equal(dsm__bcast_asm_add(&a, CH + 10, CH, src, 9, &why), DSM_EPROTO);
	assert_int_equal(a.missing, 2);
	dsm__bcast_asm_fini(&a);
	free(src);
}

/* ---- through the BCAST handler of a node (no network) ---- */

static int node_setup(void **state)
{
	struct dsm_node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	n->id = 1;
	n->count = 2;
	n->cfg.log_level = DSM_LOG_ERROR;
	assert_int_equal(dsm__coll_init(n), 0);
	*state = n;
	return 0;
}

static int node_teardown(void **state)
{
	struct dsm_node *n = *state;
	dsm__coll_fini(n);
	free(n);
	return 0;
}

static int chunk(struct dsm_node *n, uint64_t seq, uint64_t off, uint64_t total,
		 const void *data, uint32_t len)
{
	struct dsm_msg m = { .type = DSM_MSG_BCAST, .src = 0, .length = len,
			     .arg = { seq, off, total }, .payload = data };
	return dsm__coll_handle(n, &m);
}

/* A total from the network over the cap is a protocol error, refused
 * before allocating it (not -ENOMEM from trying). */
static void test_handler_cap(void **state)
{
	struct dsm_node *n = *state;
	unsigned char b[16] = { 0 };

	assert_int_equal(chunk(n, 1, 0, UINT64_C(1) << 62, b, sizeof(b)), -EMSGSIZE);
	assert_int_equal(chunk(n, 2, 0, DSM_BCAST_MAX + 1, b, sizeof(b)), -EMSGSIZE);
}

/* The duplicate of the first chunk of a two-chunk broadcast is refused
 * (it used to complete the broadcast with the second chunk missing). */
static void test_handler_duplicate(void **state)
{
	struct dsm_node *n = *state;
	unsigned char *src = pattern(2 * CH);

	assert_int_equal(chunk(n, 1, 0, 2 * CH, src, CH), 0);
	assert_int_equal(chunk(n, 1, 0, 2 * CH, src, CH), DSM_EPROTO);
	/* another total for the same broadcast */
	assert_int_equal(chunk(n, 1, CH, 2 * CH + 1, src, CH), DSM_EPROTO);
	assert_int_equal(chunk(n, 1, CH, 2 * CH, src + CH, CH), 0);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test_setup_teardown(test_handler_cap, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_handler_duplicate, node_setup,
						node_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
