/*
 * fuzz_tape.c — the tape wire decoder (src/tape/tape.c): tapes travel in
 * lock grants (Tapeworm's update locks), so a peer's bytes reach
 * dsm_tape_decode.
 *
 * Input: 2 bytes giving the length of the first tape, the first tape's
 * bytes, then a second tape's bytes; page limit 4096, node limit 8.
 * Properties: a decoded tape has only in-range, sorted, distinct events;
 * encoding it and decoding again gives the same tape; union and
 * difference of two decoded tapes obey |a ∪ b| = |a| + |b \ a| and
 * (a ∪ b) \ b ⊆ a; pruning to a's own page extent changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_tape.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define MAXP 4096u
#define MAXN 8u

static int ev_less(const struct dsm_tape_event *a, const struct dsm_tape_event *b)
{
	if (a->page != b->page)
		return a->page < b->page;
	if (a->node != b->node)
		return a->node < b->node;
	return a->interval < b->interval;
}

static void check_tape(const dsm_tape_t *t)
{
	struct dsm_tape_event prev, e;

	for (size_t i = 0; i < dsm_tape_count(t); i++) {
		CHECK(dsm_tape_event(t, i, &e) == 0);
		CHECK(e.page < MAXP && e.node < MAXN);
		CHECK(i == 0 || ev_less(&prev, &e));
		prev = e;
	}
}

static int same(const dsm_tape_t *a, const dsm_tape_t *b)
{
	struct dsm_tape_event x, y;

	if (dsm_tape_count(a) != dsm_tape_count(b))
		return 0;
	for (size_t i = 0; i < dsm_tape_count(a); i++) {
		CHECK(dsm_tape_event(a, i, &x) == 0 && dsm_tape_event(b, i, &y) == 0);
		if (memcmp(&x, &y, sizeof(x)))
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t l1;
	dsm_tape_t *a, *b;

	if (size < 2)
		return 0;
	l1 = (size_t)data[0] | (size_t)data[1] << 8;
	if (l1 > size - 2)
		l1 = size - 2;
	a = dsm_tape_decode(data + 2, l1, MAXP, MAXN);
	b = dsm_tape_decode(data + 2 + l1, size - 2 - l1, MAXP, MAXN);
	if (a) {
		check_tape(a);
		size_t need = dsm_tape_encode(a, NULL, 0);
		unsigned char *buf = malloc(need);
		CHECK(buf && dsm_tape_encode(a, buf, need) == need);
		dsm_tape_t *r = dsm_tape_decode(buf, need, MAXP, MAXN);
		CHECK(r && same(a, r));
		dsm_extent_t *pages = dsm_tape_project(a, DSM_TAPE_PAGES);
		CHECK(pages && dsm_tape_prune(r, pages) == 0 && same(a, r));
		dsm_extent_free(pages);
		dsm_tape_free(r);
		free(buf);
	}
	if (a && b) {
		dsm_tape_t *u = dsm_tape_new(), *d = dsm_tape_new();
		CHECK(u && d);
		CHECK(dsm_tape_add(u, a) == 0 && dsm_tape_add(u, b) == 0);
		check_tape(u);
		CHECK(dsm_tape_add(d, b) == 0 && dsm_tape_subtract(d, a) == 0);
		CHECK(dsm_tape_count(u) == dsm_tape_count(a) + dsm_tape_count(d));
		CHECK(dsm_tape_subtract(u, b) == 0);
		dsm_tape_t *chk = dsm_tape_new();
		CHECK(chk && dsm_tape_add(chk, u) == 0 && dsm_tape_subtract(chk, a) == 0);
		CHECK(dsm_tape_count(chk) == 0); /* (a ∪ b) \ b ⊆ a */
		dsm_tape_free(chk);
		dsm_tape_free(u);
		dsm_tape_free(d);
	}
	dsm_tape_free(a);
	dsm_tape_free(b);
	return 0;
}
