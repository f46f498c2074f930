/*
 * test_tape.c — the tape algebra (src/tape/tape.c, include/dsm_tape.h):
 * add, subtract, project, prune and the wire form, each checked against a
 * brute-force model on random tapes; the paper's iteration example (the
 * data P1 needs in iteration i+1 is P0's write tape pruned to the pages
 * of P1's read tape); and hostile wire tapes. Pure: no dsm_init.
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
#include "dsm_tape.h"

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A model tape: a bitmap over a small universe of events. */
#define UI 4u /* intervals */
#define UP 16u /* pages */
#define UN 4u /* nodes */
#define U (UI * UP * UN)
static unsigned idx(uint32_t i, uint32_t p, uint32_t n) { return (i * UP + p) * UN + n; }

static dsm_tape_t *random_tape(uint64_t *s, unsigned char *model, unsigned density)
{
	dsm_tape_t *t = dsm_tape_new();

	assert_non_null(t);
	memset(model, 0, U);
	for (unsigned k = 0; k < U; k++)
		if (rnd(s) % 100 < density) {
			uint32_t n = k % UN, p = (k / UN) % UP, i = k / (UN * UP);
			assert_int_equal(dsm_tape_add_event(t, i, p, n), 0);
			model[k] = 1;
		}
	/* duplicates are ignored */
	for (unsigned k = 0; k < U; k++)
		if (model[k] && rnd(s) % 4 == 0)
			assert_int_equal(dsm_tape_add_event(t, k / (UN * UP), (k / UN) % UP,
							    k % UN), 0);
	return t;
}

/* t equals model, and its events come in (page, node, interval) order. */
static void assert_tape_is(const dsm_tape_t *t, const unsigned char *model)
{
	size_t want = 0;
	struct dsm_tape_event prev = { 0 }, e;

	for (unsigned k = 0; k < U; k++)
		want += model[k];
	assert_int_equal(dsm_tape_count(t), want);
	for (size_t i = 0; i < want; i++) {
		assert_int_equal(dsm_tape_event(t, i, &e), 0);
		assert_true(e.interval < UI && e.page < UP && e.node < UN);
		assert_true(model[idx(e.interval, e.page, e.node)]);
		if (i) {
			int order = prev.page != e.page ? prev.page < e.page
				  : prev.node != e.node ? prev.node < e.node
				  : prev.interval < e.interval;
			assert_true(order);
		}
		prev = e;
	}
	assert_int_equal(dsm_tape_event(t, want, &e), -ERANGE);
}

static void test_add_subtract(void **state)
{
	uint64_t s = 0x1234567;
	unsigned char a[U], b[U], m[U];

	(void)state;
	for (int round = 0; round < 200; round++) {
		dsm_tape_t *x = random_tape(&s, a, (unsigned)(round % 60));
		dsm_tape_t *y = random_tape(&s, b, (unsigned)(round * 7 % 60));
		assert_tape_is(x, a);
		assert_int_equal(dsm_tape_add(x, y), 0);
		for (unsigned k = 0; k < U; k++)
			m[k] = a[k] | b[k];
		assert_tape_is(x, m);
		assert_tape_is(y, b); /* src untouched */
		assert_int_equal(dsm_tape_subtract(x, y), 0);
		for (unsigned k = 0; k < U; k++)
			m[k] = (a[k] | b[k]) && !b[k];
		assert_tape_is(x, m);
		/* x \ x = empty; x ∪ empty = x */
		dsm_tape_t *e = dsm_tape_new();
		assert_int_equal(dsm_tape_add(y, e), 0);
		assert_tape_is(y, b);
		assert_int_equal(dsm_tape_subtract(y, y), 0);
		assert_int_equal(dsm_tape_count(y), 0);
		dsm_tape_free(e);
		dsm_tape_free(x);
		dsm_tape_free(y);
	}
}

static void test_project_prune(void **state)
{
	uint64_t s = 99;
	unsigned char a[U], m[U];
	const enum dsm_tape_dim dims[3] = { DSM_TAPE_PAGES, DSM_TAPE_INTERVALS,
					    DSM_TAPE_NODES };
	const unsigned size[3] = { UP, UI, UN };

	(void)state;
	for (int round = 0; round < 200; round++) {
		int d = round % 3;
		dsm_tape_t *t = random_tape(&s, a, 20);
		dsm_extent_t *x = dsm_tape_project(t, dims[d]);
		assert_non_null(x);
		assert_int_equal(dsm_extent_dim(x), dims[d]);
		/* the projection holds exactly the values some event has */
		size_t count = 0;
		for (uint32_t v = 0; v < size[d]; v++) {
			int has = 0;
			for (unsigned k = 0; k < U; k++) {
				uint32_t n = k % UN, p = (k / UN) % UP, i = k / (UN * UP);
				uint32_t kv = d == 0 ? p : d == 1 ? i : n;
				has |= a[k] && kv == v;
			}
			assert_int_equal(dsm_extent_contains(x, v), has);
			count += (size_t)has;
		}
		assert_int_equal(dsm_extent_count(x), count);
		for (size_t i = 1; i < count; i++)
			assert_true(dsm_extent_value(x, i - 1) < dsm_extent_value(x, i));
		/* prune to a random extent of the same dimension */
		dsm_extent_t *e = dsm_extent_new(dims[d]);
		for (uint32_t v = 0; v < size[d]; v++)
			if (rnd(&s) % 2)
				assert_int_equal(dsm_extent_add(e, v), 0);
		assert_int_equal(dsm_tape_prune(t, e), 0);
		for (unsigned k = 0; k < U; k++) {
			uint32_t n = k % UN, p = (k / UN) % UP, i = k / (UN * UP);
			m[k] = a[k] && dsm_extent_contains(e, d == 0 ? p : d == 1 ? i : n);
		}
		assert_tape_is(t, m);
		dsm_extent_free(e);
		dsm_extent_free(x);
		dsm_tape_free(t);
	}
	assert_null(dsm_tape_project(NULL, DSM_TAPE_PAGES));
	assert_null(dsm_extent_new(7));
}

/*
 * The paper's example. Iteration i: P0 writes pages 0..7 (interval 3),
 * P1 reads pages 4..11 (4..7 written by P0, 8..11 its own or read-only).
 * What P1 needs from P0 for iteration i+1 is T0 / T1: P0's write tape
 * pruned to the pages of P1's read tape: pages 4..7, from node 0,
 * interval 3 — and nothing else.
 */
static void test_paper_iteration(void **state)
{
	dsm_tape_t *w0 = dsm_tape_new(), *r1 = dsm_tape_new();
	struct dsm_tape_event e;

	(void)state;
	for (uint32_t p = 0; p < 8; p++)
		assert_int_equal(dsm_tape_add_event(w0, 3, p, 0), 0);
	for (uint32_t p = 4; p < 12; p++)
		assert_int_equal(dsm_tape_add_event(r1, 7, p, p < 8 ? 0 : 1), 0);
	dsm_extent_t *pages = dsm_tape_project(r1, DSM_TAPE_PAGES);
	assert_int_equal(dsm_extent_count(pages), 8);
	assert_int_equal(dsm_tape_prune(w0, pages), 0);
	assert_int_equal(dsm_tape_count(w0), 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(dsm_tape_event(w0, i, &e), 0);
		assert_int_equal(e.page, 4 + i);
		assert_int_equal(e.node, 0);
		assert_int_equal(e.interval, 3);
	}
	/* who to ask: the nodes extent of the pruned tape is {0} */
	dsm_extent_t *nodes = dsm_tape_project(w0, DSM_TAPE_NODES);
	assert_int_equal(dsm_extent_count(nodes), 1);
	assert_int_equal(dsm_extent_value(nodes, 0), 0);
	/* and what P1 read that P0 did not write: r1 - (r1 / pages of w0) */
	dsm_tape_t *rest = dsm_tape_new();
	assert_int_equal(dsm_tape_add(rest, r1), 0);
	dsm_extent_t *wp = dsm_tape_project(w0, DSM_TAPE_PAGES);
	assert_int_equal(dsm_tape_prune(r1, wp), 0);
	assert_int_equal(dsm_tape_subtract(rest, r1), 0);
	assert_int_equal(dsm_tape_count(rest), 4);
	assert_int_equal(dsm_tape_event(rest, 0, &e), 0);
	assert_int_equal(e.page, 8);
	dsm_extent_free(pages);
	dsm_extent_free(nodes);
	dsm_extent_free(wp);
	dsm_tape_free(rest);
	dsm_tape_free(w0);
	dsm_tape_free(r1);
}

static void test_wire(void **state)
{
	uint64_t s = 5;
	unsigned char a[U], buf[4 + 12 * U];

	(void)state;
	for (int round = 0; round < 50; round++) {
		dsm_tape_t *t = random_tape(&s, a, (unsigned)round);
		size_t need = dsm_tape_encode(t, NULL, 0);
		assert_int_equal(need, 4 + 12 * dsm_tape_count(t));
		assert_int_equal(dsm_tape_encode(t, buf, sizeof(buf)), need);
		dsm_tape_t *u = dsm_tape_decode(buf, need, UP, UN);
		assert_non_null(u);
		assert_tape_is(u, a);
		/* truncated, padded, out-of-range pages or nodes: refused */
		errno = 0;
		assert_null(dsm_tape_decode(buf, need - 1, UP, UN));
		assert_int_equal(errno, EPROTO);
		assert_null(dsm_tape_decode(buf, need + 4, UP, UN));
		if (dsm_tape_count(t)) { /* the largest page or node is the limit */
			uint32_t maxp = 0, maxn = 0;
			struct dsm_tape_event e;
			for (size_t i = 0; i < dsm_tape_count(t); i++) {
				assert_int_equal(dsm_tape_event(t, i, &e), 0);
				maxp = e.page > maxp ? e.page : maxp;
				maxn = e.node > maxn ? e.node : maxn;
			}
			if (maxp)
				assert_null(dsm_tape_decode(buf, need, maxp, UN));
			if (maxn)
				assert_null(dsm_tape_decode(buf, need, UP, maxn));
			dsm_tape_t *v = dsm_tape_decode(buf, need, maxp + 1, maxn + 1);
			assert_non_null(v);
			dsm_tape_free(v);
		}
		dsm_tape_free(u);
		dsm_tape_free(t);
	}
	/* a count that claims more events than bytes */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0xff;
	buf[1] = 0xff;
	buf[2] = 0xff;
	buf[3] = 0x3f;
	assert_null(dsm_tape_decode(buf, 16, 0, 0));
	/* an event naming page 16 of a 16-page region */
	dsm_tape_t *t = dsm_tape_new();
	assert_int_equal(dsm_tape_add_event(t, 0, UP, 0), 0);
	size_t need = dsm_tape_encode(t, buf, sizeof(buf));
	assert_null(dsm_tape_decode(buf, need, UP, UN));
	dsm_tape_t *ok = dsm_tape_decode(buf, need, UP + 1, UN);
	assert_non_null(ok);
	dsm_tape_free(ok);
	dsm_tape_free(t);
}

/* Recording and the protocol need dsm_init: without it they say so. */
static void test_not_init(void **state)
{
	dsm_extent_t *e = dsm_extent_new(DSM_TAPE_PAGES);
	dsm_tape_t *t = dsm_tape_new(), *h = NULL;

	(void)state;
	errno = 0;
	assert_null(dsm_tape_record(DSM_TAPE_READ));
	assert_int_equal(errno, ENOTCONN);
	assert_int_not_equal(dsm_tape_apply(t), 0);
	assert_int_not_equal(dsm_tape_hole(e, &h), 0);
	assert_null(h);
	assert_int_equal(dsm_tape_stop(t), DSM_ENOTINIT);
	assert_int_equal(dsm_tape_add_event(t, 1, 2, 3), 0); /* still usable */
	dsm_extent_free(e);
	dsm_tape_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_subtract), cmocka_unit_test(test_project_prune),
		cmocka_unit_test(test_paper_iteration), cmocka_unit_test(test_wire),
		cmocka_unit_test(test_not_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
