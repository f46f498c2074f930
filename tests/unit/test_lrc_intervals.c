/*
 * test_lrc_intervals.c — lrc's answer to a request for a creator's
 * interval records after a garbage collection dropped the oldest.
 *
 * The bug this guards against (CI, test_lrc_threads, 2 nodes x 2 threads
 * with DSM_GC_THRESHOLD=1M, about one run in a few hundred): a thread of
 * node 1 acquiring a lock read its timestamp, then another of its threads
 * left a barrier that collected garbage (learning every record up to the
 * barrier's timestamp first); node 0 dropped those records, and the lock
 * thread's request (after its old timestamp) got "No such file or
 * directory" and failed the run. Records below the creator's base were
 * collected only after every node learned them, so the answer skips them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/le.h"
#include "core/node.h"
#include "proto/lrc.h"

#define NODES 2
#define RECORD_BYTES(npages) (12 + 4 * NODES + 4 * (npages))

/* Creator 0 holds records 5 and 6 (1..4 collected), one page each. */
static struct lrc_state *state_after_gc(void)
{
	struct lrc_state *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	st->count = NODES;
	st->ivs[0] = calloc(2, sizeof(*st->ivs[0]));
	assert_non_null(st->ivs[0]);
	for (uint32_t k = 0; k < 2; k++) {
		struct lrc_interval *iv = calloc(1, sizeof(*iv) + NODES * sizeof(uint32_t));
		assert_non_null(iv);
		iv->id = 5 + k;
		iv->npages = 1;
		iv->pages = calloc(1, sizeof(uint32_t));
		iv->pages[0] = 7 + k;
		iv->vc[0] = iv->id;
		st->ivs[0][k] = iv;
	}
	st->iv_base[0] = 5;
	st->iv_len[0] = 2;
	st->iv_cap[0] = 2;
	st->vc[0] = 6;
	return st;
}

static void state_free(struct lrc_state *st)
{
	for (uint32_t k = 0; k < st->iv_len[0]; k++) {
		free(st->ivs[0][k]->pages);
		free(st->ivs[0][k]);
	}
	free(st->ivs[0]);
	free(st);
}

/* An asker whose timestamp predates the collection gets what is left. */
static void test_collected_records_are_skipped(void **unused)
{
	struct lrc_state *st = state_after_gc();
	struct dsm_buf out = { 0 };

	(void)unused;
	assert_int_equal(dsm__lrc_put_intervals(st, 0, 2, 6, &out), 0);
	assert_int_equal(out.len, 2 * RECORD_BYTES(1));
	assert_int_equal(dsm__get_le32(out.data + 4), 5); /* first: id 5 */
	assert_int_equal(dsm__get_le32(out.data + RECORD_BYTES(1) + 4), 6);
	dsm__buf_free(&out);
	/* all collected: nothing to send, no error */
	assert_int_equal(dsm__lrc_put_intervals(st, 0, 0, 4, &out), 0);
	assert_int_equal(out.len, 0);
	dsm__buf_free(&out);
	state_free(st);
}

/* The ordinary case and a record that is missing after the base. */
static void test_range_and_missing(void **unused)
{
	struct lrc_state *st = state_after_gc();
	struct dsm_buf out = { 0 };

	(void)unused;
	assert_int_equal(dsm__lrc_put_intervals(st, 0, 5, 6, &out), 0);
	assert_int_equal(out.len, RECORD_BYTES(1));
	assert_int_equal(dsm__get_le32(out.data + 12 + 4 * NODES), 8); /* its page */
	dsm__buf_free(&out);
	assert_int_equal(dsm__lrc_put_intervals(st, 0, 4, 7, &out), -ENOENT);
	dsm__buf_free(&out);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collected_records_are_skipped),
		cmocka_unit_test(test_range_and_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
