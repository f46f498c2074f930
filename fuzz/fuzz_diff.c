/*
 * fuzz_diff.c — the diff decoder and applier (src/vm/diff.c): diffs come
 * from peers (lrc diff replies) and are applied to pages.
 *
 * The masked form (diff_mask.c, hlrc's releases) is fed the same bytes:
 * refused, it leaves the page unchanged.
 * Input: 2 bytes choosing the page size (1..8192 bytes), 2 bytes giving the
 * length of the first diff, then the first diff, then a second diff.
 * Properties: stats and apply agree on validity; a refused diff leaves the
 * page unchanged; an applied diff changes only bytes inside its runs, and
 * re-encoding the page against its old contents gives a diff that
 * reproduces it; conflicts() accepts exactly the pairs of valid diffs and
 * never reports more conflicting bytes than either diff changes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "vm/diff.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define MAX_PAGE 8192

static unsigned char page[MAX_PAGE], before[MAX_PAGE], again[MAX_PAGE];
static unsigned char enc[4 + 9 * MAX_PAGE];

static void on_conflict(uint32_t off, uint32_t len, void *arg)
{
	size_t ps = *(size_t *)arg;
	CHECK(len > 0 && (size_t)off + len <= ps);
}

/* One diff against a page filled from the seed byte. */
static void one(const uint8_t *d, size_t len, size_t ps, uint8_t seed)
{
	uint32_t runs = 0, bytes = 0;
	int ok_stats, ok_apply;

	for (size_t i = 0; i < ps; i++)
		page[i] = (unsigned char)(seed + i * 13);
	memcpy(before, page, ps);
	/* the masked form (hlrc's release): a refused one changes nothing,
	 * an accepted one is never also a valid run-form diff */
	if (dsm__diff_mask_apply(page, ps, d, len) != 0)
		CHECK(memcmp(page, before, ps) == 0);
	else
		CHECK(dsm__diff_stats(d, len, ps, NULL, NULL) != 0);
	memcpy(page, before, ps);
	ok_stats = dsm__diff_stats(d, len, ps, &runs, &bytes) == 0;
	ok_apply = dsm__diff_apply(page, ps, d, len) == 0;
	CHECK(ok_stats == ok_apply);
	if (!ok_apply) {
		CHECK(memcmp(page, before, ps) == 0);
		return;
	}
	CHECK(bytes <= ps && runs <= bytes);
	/* at most `bytes` bytes changed */
	size_t changed = 0;
	for (size_t i = 0; i < ps; i++)
		changed += page[i] != before[i];
	CHECK(changed <= bytes);
	/* encode(before -> page) reproduces page from before */
	ssize_t n = dsm__diff_encode(before, page, ps, enc, sizeof(enc));
	CHECK(n >= 4 && (size_t)n <= dsm__diff_max_size(ps));
	memcpy(again, before, ps);
	CHECK(dsm__diff_apply(again, ps, enc, (size_t)n) == 0);
	CHECK(memcmp(again, page, ps) == 0);
	CHECK(dsm__diff_same(before, page, ps) == (changed == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ps, alen, blen;
	const uint8_t *a, *b;

	if (size < 4)
		return 0;
	ps = 1 + ((size_t)data[0] | (size_t)data[1] << 8) % MAX_PAGE;
	alen = (size_t)data[2] | (size_t)data[3] << 8;
	data += 4, size -= 4;
	if (alen > size)
		alen = size;
	a = data, b = data + alen, blen = size - alen;
	one(a, alen, ps, 0x11);
	one(b, blen, ps, 0x77);
	uint32_t ra, ba, rb, bb;
	int va = dsm__diff_stats(a, alen, ps, &ra, &ba) == 0;
	int vb = dsm__diff_stats(b, blen, ps, &rb, &bb) == 0;
	ssize_t c = dsm__diff_conflicts(a, alen, b, blen, ps, on_conflict, &ps);
	CHECK((c >= 0) == (va && vb));
	if (c >= 0)
		CHECK((size_t)c <= ba && (size_t)c <= bb);
	return 0;
}
