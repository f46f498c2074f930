/*
 * test_ec_diff.c — ec's update encodings (src/proto/ec_diff.c): for random
 * pages, twins and piece sets, dsm__ec_diff_encode's output applied to the
 * twin gives the page within the pieces and the twin outside them; it is
 * never longer than the run encoding; the mask form is chosen where runs
 * are short (values whose top bytes stay the same) and a changed byte
 * outside the pieces is never sent; truncated, oversized and corrupted
 * mask encodings are rejected without changing the page. Seeded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ec.h"
#include "vm/diff.h"

#define PS 4096u

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random sorted, non-touching pieces; returns how many. */
static unsigned pieces(uint64_t *s, struct ec_piece *pc, unsigned max)
{
	unsigned n = 0;
	uint32_t at = (uint32_t)(rnd(s) % 64);

	while (n < max && at < PS) {
		uint32_t len = 1 + (uint32_t)(rnd(s) % (n % 2 ? 40 : 1500));
		if (len > PS - at)
			len = PS - at;
		pc[n++] = (struct ec_piece){ at, len };
		at += len + 1 + (uint32_t)(rnd(s) % 30);
	}
	return n;
}

/* Change bytes of page: kind 0 sparse bytes, 1 doubles whose two top
 * bytes stay, 2 everything. */
static void scribble(uint64_t *s, unsigned char *page, int kind)
{
	for (uint32_t i = 0; i < PS; i++) {
		if (kind == 0 && rnd(s) % 50)
			continue;
		if (kind == 1 && i % 8 >= 6)
			continue;
		page[i] = (unsigned char)(page[i] + 1 + rnd(s) % 255);
	}
}

static void test_round_trip(void **state)
{
	static unsigned char twin[PS], page[PS], got[PS], out[20000], runs[20000];
	struct ec_piece pc[64];
	uint64_t s = 42;
	int masks = 0;

	(void)state;
	for (int t = 0; t < 600; t++) {
		unsigned npc = 1 + (t % 5 == 0 ? 0 : (unsigned)(rnd(&s) % 63));
		npc = t % 7 == 0 ? 1 : pieces(&s, pc, npc);
		if (t % 7 == 0)
			pc[0] = (struct ec_piece){ 0, PS };
		for (uint32_t i = 0; i < PS; i++)
			twin[i] = (unsigned char)rnd(&s);
		memcpy(page, twin, PS);
		scribble(&s, page, t % 3);
		size_t len = dsm__ec_diff_encode(twin, page, pc, npc, out);
		size_t rl = dsm__ec_diff_runs(twin, page, pc, npc, runs);
		assert_true(len <= rl);
		masks += out[3] == 0xD2;
		/* the choice: the mask exactly when it is smaller and no byte
		 * between the pieces in its span changed (counted here) */
		size_t changed = 0, first = PS, last = 0, outside = 0;
		for (unsigned k = 0; k < npc; k++)
			for (uint32_t i = pc[k].off; i < pc[k].off + pc[k].len; i++)
				if (page[i] != twin[i]) {
					changed++;
					first = i < first ? i : first;
					last = i;
				}
		for (size_t i = first; changed && i <= last; i++)
			outside += page[i] != twin[i];
		outside -= changed;
		size_t msz = changed ? 12 + (last + 1 - first + 7) / 8 + changed : 0;
		if (changed && msz < rl && !outside) {
			assert_int_equal(out[3], 0xD2);
			assert_int_equal(len, msz);
		} else {
			assert_int_equal(len, rl);
			assert_memory_equal(out, runs, rl);
		}
		memcpy(got, twin, PS);
		assert_int_equal(dsm__ec_diff_apply(got, PS, out, len), 0);
		/* inside the pieces: the page; outside: the twin */
		uint32_t at = 0;
		for (unsigned k = 0; k < npc; k++) {
			assert_memory_equal(got + at, twin + at, pc[k].off - at);
			assert_memory_equal(got + pc[k].off, page + pc[k].off, pc[k].len);
			at = pc[k].off + pc[k].len;
		}
		assert_memory_equal(got + at, twin + at, PS - at);
	}
	assert_true(masks > 100); /* doubles and dense changes use the mask */
}

static void test_hostile(void **state)
{
	static unsigned char twin[PS], page[PS], got[PS], out[20000];
	struct ec_piece pc = { 0, PS };
	uint64_t s = 7;

	(void)state;
	for (uint32_t i = 0; i < PS; i++)
		twin[i] = (unsigned char)rnd(&s);
	memcpy(page, twin, PS);
	scribble(&s, page, 1);
	size_t len = dsm__ec_diff_encode(twin, page, &pc, 1, out);
	assert_int_equal(out[3], 0xD2);
	memcpy(got, twin, PS);
	for (size_t cut = 0; cut < len; cut += 1 + cut / 3)
		assert_int_equal(dsm__ec_diff_apply(got, PS, out, cut), -EINVAL);
	out[12] ^= 1; /* one more or one fewer marked byte */
	assert_int_equal(dsm__ec_diff_apply(got, PS, out, len), -EINVAL);
	out[12] ^= 1;
	unsigned char span[4];
	memcpy(span, out + 8, 4);
	out[9] = 0x20; /* span past the page */
	assert_int_equal(dsm__ec_diff_apply(got, PS, out, len), -EINVAL);
	memcpy(out + 8, span, 4);
	assert_memory_equal(got, twin, PS); /* nothing applied on error */
	assert_int_equal(dsm__ec_diff_apply(got, PS, out, len), 0);
	assert_memory_equal(got, page, PS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
