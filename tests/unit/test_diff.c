/*
 * test_diff.c — property tests for the twin/diff engine (src/vm/diff.c):
 * round trips for many change patterns and page sizes, run and byte
 * counts against an independent count, byte-exact runs, -ENOSPC and the
 * worst-case size, hostile and fuzzed diffs (checked against a reference
 * parser written here), and conflict detection. Seeded and deterministic.
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
#include "vm/diff.h"

#define MAX_PAGE 65536u
#define GUARD 64u /* bytes after an output buffer that must stay untouched */

/* Deterministic xorshift64 generator. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t rnd_below(uint64_t *s, size_t n)
{
	return (size_t)(rnd(s) % n);
}

static void fill_random(unsigned char *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd(s);
}

/* Buffers shared by the tests (static: 64 KiB pages do not belong on the
 * stack). */
static unsigned char twin[MAX_PAGE], page[MAX_PAGE], copy[MAX_PAGE];
static unsigned char bg[MAX_PAGE], bg_ref[MAX_PAGE];
static unsigned char changed[MAX_PAGE]; /* 1 where the writer changed a byte */
static unsigned char out[MAX_PAGE * 5 + GUARD], out2[MAX_PAGE * 5 + GUARD];

enum pattern {
	P_EMPTY,
	P_BYTE,
	P_WORD,
	P_ODD_BYTES,
	P_ODD_WORDS,
	P_THIRD_BYTES,
	P_SPARSE,
	P_RUNS,
	P_FIRST_LAST,
	P_ALL,
	P_WORST, /* every other byte and the last: the largest encoding */
	P_COUNT
};

static void mark(size_t i)
{
	changed[i] = 1;
}

/* Choose which bytes of an n-byte page pattern p changes. */
static void choose(enum pattern p, size_t n, uint64_t *s)
{
	memset(changed, 0, n);
	switch (p) {
	case P_EMPTY:
		break;
	case P_BYTE:
		mark(rnd_below(s, n));
		break;
	case P_WORD: {
		size_t w = rnd_below(s, n / 8) * 8;

		for (size_t i = 0; i < 8; i++)
			mark(w + i);
		break;
	}
	case P_ODD_BYTES:
		for (size_t i = rnd_below(s, 2); i < n; i += 2)
			mark(i);
		break;
	case P_ODD_WORDS:
		for (size_t i = rnd_below(s, 2) * 8; i < n; i += 16)
			for (size_t k = 0; k < 8 && i + k < n; k++)
				mark(i + k);
		break;
	case P_THIRD_BYTES:
		for (size_t i = rnd_below(s, 3); i < n; i += 3)
			mark(i);
		break;
	case P_SPARSE:
		for (size_t k = rnd_below(s, 40) + 1; k > 0; k--)
			mark(rnd_below(s, n));
		break;
	case P_RUNS:
		for (size_t k = rnd_below(s, 20) + 1; k > 0; k--) {
			size_t at = rnd_below(s, n), len = rnd_below(s, 200) + 1;

			for (size_t i = at; i < n && i < at + len; i++)
				mark(i);
		}
		break;
	case P_FIRST_LAST:
		mark(0);
		mark(n - 1);
		break;
	case P_ALL:
		memset(changed, 1, n);
		break;
	default: /* P_WORST */
		for (size_t i = 0; i < n; i += 2)
			mark(i);
		mark(n - 1);
		break;
	}
}

/* page = twin with every chosen byte given a different value. */
static void make_page(size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		page[i] = changed[i] ? (unsigned char)(twin[i] ^ (1 + rnd_below(s, 255)))
				     : twin[i];
}

/* The runs and bytes of changed[], counted without the engine. */
static void count_changes(size_t n, uint32_t *runs, uint32_t *bytes)
{
	*runs = *bytes = 0;
	for (size_t i = 0; i < n; i++) {
		*bytes += changed[i];
		*runs += changed[i] && (i == 0 || !changed[i - 1]);
	}
}

/* Encode page vs twin into out, checking the guard after cap. */
static ssize_t encode_checked(size_t n, size_t cap)
{
	ssize_t len;

	memset(out + cap, 0xEE, GUARD);
	len = dsm__diff_encode(twin, page, n, out, cap);
	for (size_t i = 0; i < GUARD; i++)
		assert_int_equal(out[cap + i], 0xEE);
	return len;
}

/* One random case: pattern p on an n-byte page. */
static void check_case(enum pattern p, size_t n, uint64_t *s)
{
	size_t max = dsm__diff_max_size(n);
	uint32_t runs, bytes, want_runs, want_bytes;
	ssize_t len;

	fill_random(twin, n, s);
	choose(p, n, s);
	make_page(n, s);
	count_changes(n, &want_runs, &want_bytes);

	len = encode_checked(n, max);
	assert_true(len >= 4 && (size_t)len <= max);
	assert_int_equal((size_t)len, 4 + 8 * (size_t)want_runs + want_bytes);
	if (p == P_WORST)
		assert_int_equal((size_t)len, max);
	assert_int_equal(dsm__diff_stats(out, (size_t)len, n, &runs, &bytes), 0);
	assert_int_equal(runs, want_runs);
	assert_int_equal(bytes, want_bytes);
	assert_int_equal(dsm__diff_same(twin, page, n), want_bytes == 0);

	/* round trip */
	memcpy(copy, twin, n);
	assert_int_equal(dsm__diff_apply(copy, n, out, (size_t)len), 0);
	assert_memory_equal(copy, page, n);

	/* exact runs: on another background only the changed bytes move */
	fill_random(bg, n, s);
	memcpy(bg_ref, bg, n);
	assert_int_equal(dsm__diff_apply(bg, n, out, (size_t)len), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bg[i], changed[i] ? page[i] : bg_ref[i]);

	/* too small a buffer: -ENOSPC, nothing written past cap */
	if (len > 4) {
		size_t cap = rnd_below(s, 2) ? (size_t)len - 1 : rnd_below(s, (size_t)len);

		assert_int_equal(encode_checked(n, cap), -ENOSPC);
	}
	assert_int_equal(encode_checked(n, (size_t)len), len);
}

/* Every pattern on many random 4 KiB pages, a few on bigger ones. */
static void test_patterns(void **st)
{
	uint64_t seed = 0x243F6A8885A308D3ull;
	static const size_t big[] = { 16384, 65536 };

	(void)st;
	for (int iter = 0; iter < 150; iter++)
		for (int p = 0; p < P_COUNT; p++)
			check_case((enum pattern)p, 4096, &seed);
	for (int iter = 0; iter < 4; iter++)
		for (int p = 0; p < P_COUNT; p++)
			check_case((enum pattern)p, big[iter % 2], &seed);
}

/* The masked form (diff_mask.c): its size from an independent count of
 * the words with a changed byte, a round trip, exact bytes on another
 * background (a home writing other bytes of the same words keeps them),
 * -ENOSPC with nothing written past cap, and corruptions rejected with
 * the page untouched. */
static void check_masked(enum pattern p, size_t n, uint64_t *s)
{
	size_t words = 0, want;
	ssize_t len;

	fill_random(twin, n, s);
	choose(p, n, s);
	make_page(n, s);
	for (size_t w = 0; w < n / 8; w++) {
		int any = 0;
		for (size_t k = 0; k < 8; k++)
			any |= changed[8 * w + k];
		words += any;
	}
	want = 4 + n / 8 + 8 * words;
	memset(out + want, 0xEE, GUARD);
	size_t run_len = 0;
	uint32_t want_runs, want_bytes;
	count_changes(n, &want_runs, &want_bytes);
	len = dsm__diff_mask_encode(twin, page, n, out, want, &run_len);
	assert_int_equal(len, (ssize_t)want);
	assert_int_equal(run_len, 4 + 8 * (size_t)want_runs + want_bytes);
	for (size_t i = 0; i < GUARD; i++)
		assert_int_equal(out[want + i], 0xEE);
	assert_true(want <= dsm__diff_mask_max_size(n));
	assert_true(dsm__diff_is_masked(out, want));
	memcpy(copy, twin, n);
	assert_int_equal(dsm__diff_mask_apply(copy, n, out, want), 0);
	assert_memory_equal(copy, page, n);
	assert_int_equal(dsm__diff_apply(copy, n, out, want), -EINVAL); /* runs only */
	assert_int_equal(dsm__diff_stats(out, want, n, NULL, NULL), -EINVAL);
	for (int portable = 0; portable < 2; portable++) { /* both paths, any machine */
		fill_random(bg, n, s);
		memcpy(bg_ref, bg, n);
		assert_int_equal(portable ? dsm__diff_mask_apply_portable(bg, n, out, want)
					  : dsm__diff_mask_apply(bg, n, out, want), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(bg[i], changed[i] ? page[i] : bg_ref[i]);
	}
	if (words) {
		memset(out2 + want - 1, 0xEE, GUARD);
		assert_int_equal(dsm__diff_mask_encode(twin, page, n, out2, want - 1, NULL), -ENOSPC);
		for (size_t i = 0; i < GUARD; i++)
			assert_int_equal(out2[want - 1 + i], 0xEE);
	}
	/* corrupt: a length off by a word, a mask byte cleared or set, the
	 * count, the magic; each rejected, the page untouched */
	memcpy(bg_ref, bg, n);
	memcpy(out2, out, want);
	assert_int_equal(dsm__diff_mask_apply(bg, n, out2, want + 8), -EINVAL);
	size_t w = rnd_below(s, n / 8);
	out2[4 + w] = out2[4 + w] ? 0 : 1;
	assert_int_equal(dsm__diff_mask_apply(bg, n, out2, want), -EINVAL);
	memcpy(out2, out, want);
	dsm__put_le32(out2, dsm__get_le32(out2) + 1);
	assert_int_equal(dsm__diff_mask_apply(bg, n, out2, want), -EINVAL);
	memcpy(out2, out, want);
	out2[3] = 0xD3;
	assert_int_equal(dsm__diff_mask_apply(bg, n, out2, want), -EINVAL);
	assert_int_equal(dsm__diff_mask_apply(bg, n, out, 3), -EINVAL);
	assert_int_equal(dsm__diff_mask_apply_portable(bg, n, out2, want), -EINVAL);
	assert_memory_equal(bg, bg_ref, n);
	assert_int_equal(dsm__diff_mask_encode(twin, page, n + 1, out, want, NULL), -EINVAL);
}

static void test_masked(void **st)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull;

	(void)st;
	for (int iter = 0; iter < 100; iter++)
		for (int p = 0; p < P_COUNT; p++)
			check_masked((enum pattern)p, 4096, &seed);
	for (int p = 0; p < P_COUNT; p++)
		check_masked((enum pattern)p, 65536, &seed);
	/* the point of the form: its bound is far below the run form's */
	assert_true(dsm__diff_mask_max_size(4096) < dsm__diff_max_size(4096) / 3);
}

/* Sizes that are not a multiple of a block or a word exercise the tail. */
static void test_odd_sizes(void **st)
{
	uint64_t seed = 0x13198A2E03707344ull;
	static const size_t sizes[] = { 1, 2, 3, 7, 8, 9, 63, 64, 65, 100, 255, 4100 };

	(void)st;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (int iter = 0; iter < 5; iter++)
			for (int p = 0; p < P_COUNT; p++)
				if (sizes[k] >= 8 || p != P_WORD)
					check_case((enum pattern)p, sizes[k], &seed);
	assert_int_equal(dsm__diff_max_size(0), 4);
	assert_int_equal(dsm__diff_max_size(1), 13);
	assert_int_equal(dsm__diff_max_size(4), 23); /* X.XX */
	assert_int_equal(dsm__diff_max_size(4096), 5 + 4096 + 7 * 2048);
}

/* Runs that cross words and 64-byte blocks stay one run. */
static void test_boundaries(void **st)
{
	static const size_t at[][2] = { { 7, 9 }, { 63, 65 }, { 60, 132 },
					{ 0, 4096 }, { 4095, 4096 }, { 56, 64 } };

	(void)st;
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		uint32_t runs, bytes;
		ssize_t len;

		memset(twin, 0, 4096);
		memset(page, 0, 4096);
		memset(page + at[k][0], 0xFF, at[k][1] - at[k][0]);
		len = dsm__diff_encode(twin, page, 4096, out, sizeof(out));
		assert_int_equal(dsm__diff_stats(out, (size_t)len, 4096, &runs, &bytes), 0);
		assert_int_equal(runs, 1);
		assert_int_equal(bytes, at[k][1] - at[k][0]);
		assert_int_equal(out[4] | out[5] << 8, at[k][0]); /* little-endian */
	}
	assert_int_equal(dsm__diff_encode(twin, page, 4096, out, 3), -ENOSPC);
}

/* ---- hostile diffs ---- */

struct run {
	uint32_t off, len;
};

/* The little-endian helpers every wire field goes through (core/le.h):
 * byte k holds bits 8k..8k+7 whatever the host order, at any alignment. */
static void test_le(void **st)
{
	unsigned char b[11] = { 0 };

	(void)st;
	dsm__put_le16(b + 1, 0x1122);
	assert_memory_equal(b + 1, "\x22\x11", 2);
	assert_int_equal(dsm__get_le16(b + 1), 0x1122);
	dsm__put_le32(b + 1, 0x11223344u);
	assert_memory_equal(b + 1, "\x44\x33\x22\x11", 4);
	assert_int_equal(dsm__get_le32(b + 1), 0x11223344u);
	dsm__put_le64(b + 3, 0x1122334455667788ull);
	assert_memory_equal(b + 3, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_true(dsm__get_le64(b + 3) == 0x1122334455667788ull);
	assert_int_equal(b[0], 0); /* nothing written outside */
}

/* Write a diff of the given runs (data bytes 0xAB, capped to avail bytes
 * of data so huge lengths can be described); returns its length. */
static size_t build(unsigned char *d, uint32_t hdr, const struct run *r, size_t n,
		    size_t avail)
{
	size_t pos = 4;

	dsm__put_le32(d, hdr);
	for (size_t i = 0; i < n; i++) {
		size_t dl = r[i].len < avail ? r[i].len : avail;

		dsm__put_le32(d + pos, r[i].off);
		dsm__put_le32(d + pos + 4, r[i].len);
		memset(d + pos + 8, 0xAB, dl);
		pos += 8 + dl;
	}
	return pos;
}

/* Apply, stats and conflicts all reject d; the page is not touched. */
static void expect_rejected(const unsigned char *d, size_t len, size_t n)
{
	uint32_t runs = 77, bytes = 77;
	unsigned char valid[4];

	fill_random(copy, n, &(uint64_t){ len + 1 });
	memcpy(bg_ref, copy, n);
	assert_int_equal(dsm__diff_apply(copy, n, d, len), -EINVAL);
	assert_memory_equal(copy, bg_ref, n);
	assert_int_equal(dsm__diff_stats(d, len, n, &runs, &bytes), -EINVAL);
	assert_int_equal(runs, 77);
	dsm__put_le32(valid, (uint32_t)DSM_DIFF_MAGIC << 24);
	assert_int_equal(dsm__diff_conflicts(d, len, valid, 4, n, NULL, NULL), -EINVAL);
	assert_int_equal(dsm__diff_conflicts(valid, 4, d, len, n, NULL, NULL), -EINVAL);
}

#define HDR(count) ((uint32_t)DSM_DIFF_MAGIC << 24 | (uint32_t)(count))

static void test_hostile(void **st)
{
	const size_t n = 4096;
	unsigned char *d = out;
	struct run good[] = { { 0, 8 }, { 100, 20 }, { 4000, 96 } };
	size_t len;

	(void)st;
	len = build(d, HDR(3), good, 3, n);
	memcpy(copy, twin, n);
	assert_int_equal(dsm__diff_apply(copy, n, d, len), 0); /* the control */

	expect_rejected(d, 0, n);
	expect_rejected(d, 3, n);
	for (size_t cut = 0; cut < len; cut++) /* every truncation */
		expect_rejected(d, cut, n);
	d[len] = 0;
	expect_rejected(d, len + 1, n); /* trailing garbage */
	dsm__put_le32(d, HDR(3) ^ 0x01000000u);
	expect_rejected(d, len, n); /* bad magic */
	dsm__put_le32(d, 3);
	expect_rejected(d, len, n); /* no magic */
	dsm__put_le32(d, HDR(4));
	expect_rejected(d, len, n); /* count too big */
	dsm__put_le32(d, HDR(0xFFFFFF));
	expect_rejected(d, len, n); /* count far too big */
	dsm__put_le32(d, HDR(2));
	expect_rejected(d, len, n); /* count too small: trailing runs */

	{
		struct run past[] = { { 4090, 7 } }, at_end[] = { { 4096, 1 } },
			   wrap[] = { { 8, 0xFFFFFFFCu } }, wrap2[] = { { 0xFFFFFFF0u, 0x20 } },
			   zero[] = { { 10, 0 } }, over[] = { { 10, 10 }, { 15, 10 } },
			   touch[] = { { 10, 10 }, { 20, 10 } }, unsorted[] = { { 100, 4 }, { 10, 4 } },
			   same[] = { { 10, 4 }, { 10, 4 } }, inside[] = { { 10, 20 }, { 12, 2 } },
			   zero_mid[] = { { 0, 8 }, { 10, 0 }, { 20, 4 } };
		const struct {
			const struct run *r;
			size_t n;
		} cases[] = { { past, 1 },  { at_end, 1 }, { wrap, 1 },	   { wrap2, 1 },
			      { zero, 1 },  { over, 2 },   { touch, 2 },   { unsorted, 2 },
			      { same, 2 },  { inside, 2 }, { zero_mid, 3 } };

		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			len = build(d, HDR(cases[k].n), cases[k].r, cases[k].n, 64);
			expect_rejected(d, len, n);
			/* the same with every data byte present, where it fits */
			len = build(d, HDR(cases[k].n), cases[k].r, cases[k].n, 8192);
			expect_rejected(d, len, n);
		}
	}
	expect_rejected(NULL, 4, n);
	assert_int_equal(dsm__diff_apply(NULL, n, out, 4), -EINVAL);
}

/*
 * Reference parser, written independently of diff.c from the encoding in
 * diff.h: 1 and the runs if valid, else 0.
 */
static int ref_parse(const unsigned char *d, size_t len, size_t n, struct run *r,
		     uint32_t *count)
{
	uint64_t pos = 4, prev_end = 0;

	if (len < 4 || (dsm__get_le32(d) >> 24) != DSM_DIFF_MAGIC)
		return 0;
	*count = dsm__get_le32(d) & 0xFFFFFF;
	for (uint32_t i = 0; i < *count; i++) {
		uint64_t off, l;

		if (pos + 8 > len)
			return 0;
		off = dsm__get_le32(d + pos);
		l = dsm__get_le32(d + pos + 4);
		if (l == 0 || off + l > n || pos + 8 + l > len || (i && off <= prev_end))
			return 0;
		r[i].off = (uint32_t)off;
		r[i].len = (uint32_t)l;
		prev_end = off + l;
		pos += 8 + l;
	}
	return pos == len;
}

/* Random mutations of valid diffs: the engine and the reference parser
 * agree on validity, and a valid diff applies exactly as parsed. */
static void test_fuzz(void **st)
{
	static struct run r[4096];
	uint64_t seed = 0xA4093822299F31D0ull;
	const size_t n = 4096;

	(void)st;
	for (int iter = 0; iter < 1500; iter++) {
		uint32_t count = 0, runs, bytes;
		size_t len;
		int ok;

		fill_random(twin, n, &seed);
		choose((enum pattern)(P_BYTE + iter % 3 * 3), n, &seed); /* byte, odd words, runs */
		make_page(n, &seed);
		len = (size_t)dsm__diff_encode(twin, page, n, out, sizeof(out));
		switch (rnd_below(&seed, 4)) {
		case 0: /* flip a random byte */
			out[rnd_below(&seed, len)] ^= (unsigned char)(1 + rnd_below(&seed, 255));
			break;
		case 1: /* overwrite a header field with a small or huge value */
			if (len > 12) {
				size_t at = 4 + 4 * rnd_below(&seed, 2);
				uint32_t v = rnd_below(&seed, 2) ? (uint32_t)rnd(&seed)
								: (uint32_t)rnd_below(&seed, n + 2);

				dsm__put_le32(out + at, v);
			}
			break;
		case 2: /* change the length */
			len = rnd_below(&seed, len + 16);
			break;
		default: /* leave it valid */
			break;
		}
		ok = ref_parse(out, len, n, r, &count);
		memcpy(copy, twin, n);
		memcpy(bg_ref, twin, n);
		assert_int_equal(dsm__diff_stats(out, len, n, &runs, &bytes), ok ? 0 : -EINVAL);
		assert_int_equal(dsm__diff_apply(copy, n, out, len), ok ? 0 : -EINVAL);
		if (ok) {
			size_t pos = 4, total = 0;

			assert_int_equal(runs, count);
			for (uint32_t i = 0; i < count; i++) {
				memcpy(bg_ref + r[i].off, out + pos + 8, r[i].len);
				pos += 8 + r[i].len;
				total += r[i].len;
			}
			assert_int_equal(bytes, total);
		}
		assert_memory_equal(copy, bg_ref, n);
	}
}

/* ---- conflicts ---- */

struct found {
	size_t n;
	uint32_t off[4096], len[4096];
};

static void record(uint32_t off, uint32_t len, void *arg)
{
	struct found *f = arg;

	assert_true(f->n < 4096);
	f->off[f->n] = off;
	f->len[f->n] = len;
	f->n++;
}

static unsigned char page_b[MAX_PAGE], changed_a[MAX_PAGE];

/*
 * Writers a and b change random bytes of one twin; where both write, b
 * writes a's value with probability 1/2. Conflicts are exactly the bytes
 * both wrote with different values, reported as maximal ranges in order;
 * mode 1: disjoint writes (no conflict), mode 2: same values (none).
 */
static void check_conflicts(size_t n, int mode, uint64_t *s)
{
	static struct found f;
	static unsigned char want[MAX_PAGE], got[MAX_PAGE];
	ssize_t alen, blen, c;
	size_t want_bytes = 0;

	fill_random(twin, n, s);
	choose((enum pattern)(P_BYTE + rnd_below(s, P_ALL - P_BYTE)), n, s);
	make_page(n, s);
	memcpy(changed_a, changed, n);
	memcpy(page_b, page, n); /* keep a's page */
	choose((enum pattern)(P_BYTE + rnd_below(s, P_ALL - P_BYTE)), n, s);
	if (mode == 1)
		for (size_t i = 0; i < n; i++)
			changed[i] &= (unsigned char)!changed_a[i];
	/* page_b now holds a's page; build b's page in page */
	for (size_t i = 0; i < n; i++) {
		unsigned char v = twin[i];

		if (changed[i]) {
			v = (unsigned char)(twin[i] ^ (1 + rnd_below(s, 255)));
			if (changed_a[i] && (mode == 2 || rnd_below(s, 2)))
				v = page_b[i];
		}
		page[i] = v;
		want[i] = changed[i] && changed_a[i] && page[i] != page_b[i];
		want_bytes += want[i];
	}
	alen = dsm__diff_encode(twin, page_b, n, out, sizeof(out));
	blen = dsm__diff_encode(twin, page, n, out2, sizeof(out2));
	assert_true(alen >= 4 && blen >= 4);
	f.n = 0;
	c = dsm__diff_conflicts(out, (size_t)alen, out2, (size_t)blen, n, record, &f);
	assert_int_equal(c, want_bytes);
	if (mode)
		assert_int_equal(c, 0);
	memset(got, 0, n);
	for (size_t k = 0; k < f.n; k++) {
		assert_true(f.len[k] > 0 && f.off[k] + (size_t)f.len[k] <= n);
		if (k > 0) /* in order, maximal: never touching */
			assert_true(f.off[k] > f.off[k - 1] + f.len[k - 1]);
		memset(got + f.off[k], 1, f.len[k]);
	}
	assert_memory_equal(got, want, n);
	/* symmetric, and a NULL callback only counts */
	assert_int_equal(dsm__diff_conflicts(out2, (size_t)blen, out, (size_t)alen, n,
					     NULL, NULL),
			 want_bytes);
}

static void test_conflicts(void **st)
{
	uint64_t seed = 0x082EFA98EC4E6C89ull;

	(void)st;
	for (int iter = 0; iter < 600; iter++)
		check_conflicts(4096, iter % 3, &seed);
	for (int iter = 0; iter < 6; iter++)
		check_conflicts(iter % 2 ? 65536 : 16384, iter % 3, &seed);
}

/* Two writers of different bytes of the same words: both diffs apply in
 * either order and give both writes (runs are byte-exact). */
static void test_merge(void **st)
{
	uint64_t seed = 0x452821E638D01377ull;
	const size_t n = 4096;

	(void)st;
	for (int iter = 0; iter < 50; iter++) {
		ssize_t alen, blen;

		fill_random(twin, n, &seed);
		memcpy(page, twin, n);
		memcpy(page_b, twin, n);
		memcpy(bg_ref, twin, n); /* the merged result */
		for (size_t i = 0; i < n; i++) {
			unsigned char v = (unsigned char)(twin[i] ^ (1 + rnd_below(&seed, 255)));

			if (rnd_below(&seed, 3) == 0)
				page[i] = bg_ref[i] = v;
			else if (rnd_below(&seed, 2) == 0)
				page_b[i] = bg_ref[i] = v;
		}
		alen = dsm__diff_encode(twin, page, n, out, sizeof(out));
		blen = dsm__diff_encode(twin, page_b, n, out2, sizeof(out2));
		assert_int_equal(dsm__diff_conflicts(out, (size_t)alen, out2, (size_t)blen,
						     n, NULL, NULL),
				 0);
		memcpy(copy, twin, n);
		assert_int_equal(dsm__diff_apply(copy, n, out, (size_t)alen), 0);
		assert_int_equal(dsm__diff_apply(copy, n, out2, (size_t)blen), 0);
		assert_memory_equal(copy, bg_ref, n);
		memcpy(copy, twin, n);
		assert_int_equal(dsm__diff_apply(copy, n, out2, (size_t)blen), 0);
		assert_int_equal(dsm__diff_apply(copy, n, out, (size_t)alen), 0);
		assert_memory_equal(copy, bg_ref, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),  cmocka_unit_test(test_odd_sizes),
		cmocka_unit_test(test_boundaries), cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_fuzz),	  cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_merge), cmocka_unit_test(test_le),
		cmocka_unit_test(test_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
