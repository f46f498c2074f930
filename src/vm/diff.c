/*
 * diff.c — the twin/diff engine (diff.h): encode the byte runs in which a
 * page differs from its twin, validate and apply an encoded diff, and find
 * the bytes two diffs of one page both write with different values.
 *
 * Pure and async-signal-safe: no malloc, no locks, no stdio, no errno;
 * only memcpy/memcmp from libc. The fault path and the service thread may
 * call every function here concurrently on different buffers.
 *
 * Encoding: the page is compared in 64-byte blocks (eight 8-byte words
 * XOR-ed and OR-ed together, which gcc -O2 turns into a few vector ops);
 * identical blocks are skipped. In a differing block each word is XOR-ed
 * with its twin word: a zero word ends an open run, a word whose every byte
 * differs extends or starts one, and only a word with both kinds of bytes
 * is looked at byte by byte (a per-byte "changed" bit, then the edges
 * between changed and unchanged bytes). So runs are byte-exact, cross word
 * and block boundaries freely, and cost a few instructions per word.
 *
 * Everything read from an encoded diff is validated before any byte of a
 * page is written; offsets and lengths are checked by subtraction so a
 * hostile diff cannot overflow the arithmetic.
 */
#include <errno.h>
#include <string.h>

#include "core/le.h"
#include "diff.h"

#define BLOCK 64u
#define WORD 8u
#define HDR_SIZE 4u  /* u32 magic_and_count */
#define RUN_HDR 8u   /* u32 offset, u32 length */
#define COUNT_MASK 0xFFFFFFu
#define MAX_PAGE (1u << 24) /* keeps the run count inside 24 bits */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Native-order 8 bytes at p (p need not be aligned). */
static inline uint64_t load_raw(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The first n (< 8) bytes at p, byte k in bits 8k..8k+7, the rest zero. */
static uint64_t load_le_partial(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t k = 0; k < n; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

/* Nonzero iff the nw words (nw a multiple of 4) at a and b differ.
 * Four independent accumulators and no early exit: gcc -O2 turns it into
 * a few vector loads, XORs and ORs per 64 bytes. */
static inline uint64_t span_diff(const unsigned char *a, const unsigned char *b,
				 unsigned nw)
{
	uint64_t acc[4] = { 0, 0, 0, 0 };

	for (unsigned i = 0; i < nw; i += 4)
		for (unsigned j = 0; j < 4; j++)
			acc[j] |= load_raw(a + (i + j) * WORD) ^
				  load_raw(b + (i + j) * WORD);
	return (acc[0] | acc[1]) | (acc[2] | acc[3]);
}

/* Nonzero iff the 64-byte blocks at a and b differ. */
static inline uint64_t block_diff(const unsigned char *a, const unsigned char *b)
{
	return span_diff(a, b, BLOCK / WORD);
}

/* The first offset in [off, end) (a multiple of BLOCK apart) whose block
 * differs, or end. Identical memory is checked 256 bytes per branch,
 * which brings the scan close to memcmp's speed. */
static size_t skip_same(const unsigned char *a, const unsigned char *b,
			size_t off, size_t end)
{
	while (end - off >= 4 * BLOCK &&
	       span_diff(a + off, b + off, 4 * BLOCK / WORD) == 0)
		off += 4 * BLOCK;
	while (off < end && block_diff(a + off, b + off) == 0)
		off += BLOCK;
	return off;
}

/* memcpy for non-overlapping buffers, inline for the short runs most
 * diffs are made of (a call per 8-byte run costs more than the copy). */
static inline void copy_bytes(unsigned char *d, const unsigned char *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t x = load_raw(s), y = load_raw(s + n - 8);

		memcpy(d, &x, 8);
		memcpy(d + n - 8, &y, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t x, y;

		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n < 4) {
		if (n == 0)
			return;
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	} else {
		memcpy(d, s, n);
	}
}

/* Worst case: as many runs as fit with one unchanged byte between them,
 * i.e. (n+1)/2 runs, holding together n+1-runs bytes (every other byte
 * changed, plus the last byte when n is even). */
size_t dsm__diff_max_size(size_t page_size)
{
	size_t runs = (page_size + 1) / 2;

	if (page_size == 0)
		return HDR_SIZE;
	return HDR_SIZE + RUN_HDR * runs + (page_size + 1 - runs);
}

/* ---- encoding ---- */

struct enc {
	const unsigned char *page;
	unsigned char *out;
	size_t cap;   /* bytes of out */
	size_t pos;   /* bytes of out written, <= cap */
	size_t start; /* first byte of the open run */
	uint32_t runs;
	int open;     /* a run is open: the byte before the cursor changed */
};

/* Close the open run at end (exclusive) and write it out. */
static int emit(struct enc *e, size_t end)
{
	size_t len = end - e->start;

	e->open = 0;
	if (e->cap - e->pos < RUN_HDR || e->cap - e->pos - RUN_HDR < len)
		return -ENOSPC;
	dsm__put_le32(e->out + e->pos, (uint32_t)e->start);
	dsm__put_le32(e->out + e->pos + 4, (uint32_t)len);
	copy_bytes(e->out + e->pos + RUN_HDR, e->page + e->start, len);
	e->pos += RUN_HDR + len;
	e->runs++;
	return 0;
}

/* A word (at page offset base, x = page ^ twin in byte-k-at-bits-8k order)
 * with both changed and unchanged bytes: find the edges between them. */
static int word_mixed(struct enc *e, size_t base, uint64_t x)
{
	uint64_t t = x | (x >> 4);
	uint64_t changed, edges;
	int rc;

	t |= t >> 2;
	t |= t >> 1;
	changed = t & ONES; /* bit 8k set iff byte k differs */
	/* bit 8k of edges: byte k differs from byte k-1 in being changed */
	edges = changed ^ ((changed << 8) | (uint64_t)e->open);
	while (edges) {
		size_t off = base + ((unsigned)__builtin_ctzll(edges) >> 3);

		if (e->open) {
			rc = emit(e, off);
			if (rc)
				return rc;
		} else {
			e->open = 1;
			e->start = off;
		}
		edges &= edges - 1;
	}
	return 0;
}

/* One word of a differing block (see word_mixed for base and x). */
static inline int word(struct enc *e, size_t base, uint64_t x)
{
	if (x == 0)
		return e->open ? emit(e, base) : 0;
	if (((x - ONES) & ~x & HIGHS) == 0) { /* no zero byte: all changed */
		if (!e->open) {
			e->open = 1;
			e->start = base;
		}
		return 0;
	}
	return word_mixed(e, base, x);
}

/* Scan [off, end) word by word (end - off < BLOCK, the page's tail). */
static int scan_tail(struct enc *e, const unsigned char *t, size_t off,
		     size_t end)
{
	int rc;

	for (; end - off >= WORD; off += WORD) {
		rc = word(e, off, dsm__get_le64(e->page + off) ^ dsm__get_le64(t + off));
		if (rc)
			return rc;
	}
	if (off < end) {
		rc = word_mixed(e, off,
				load_le_partial(e->page + off, end - off) ^
					load_le_partial(t + off, end - off));
		if (rc)
			return rc;
	}
	return e->open ? emit(e, end) : 0;
}

/* A differing block at page offset off: all bytes changed (the common case
 * of a page rewritten whole) extends the open run; else word by word. */
static int scan_block(struct enc *e, const unsigned char *t, size_t off)
{
	uint64_t x[BLOCK / WORD], zero = 0;
	int rc;

	for (unsigned i = 0; i < BLOCK / WORD; i++) {
		x[i] = dsm__get_le64(e->page + off + i * WORD) ^ dsm__get_le64(t + off + i * WORD);
		zero |= (x[i] - ONES) & ~x[i] & HIGHS; /* some byte of x[i] is 0 */
	}
	if (zero == 0) {
		if (!e->open) {
			e->open = 1;
			e->start = off;
		}
		return 0;
	}
	for (unsigned i = 0; i < BLOCK / WORD; i++) {
		rc = word(e, off + i * WORD, x[i]);
		if (rc)
			return rc;
	}
	return 0;
}

ssize_t dsm__diff_encode(const void *twin, const void *page, size_t page_size,
			 void *out, size_t cap)
{
	const unsigned char *t = twin;
	struct enc e = { .page = page, .out = out, .cap = cap, .pos = HDR_SIZE };
	size_t off = 0, nblk = page_size & ~(size_t)(BLOCK - 1);
	int rc;

	if (page_size > MAX_PAGE)
		return -EINVAL;
	if (cap < HDR_SIZE)
		return -ENOSPC;
	while (off < nblk) {
		if (block_diff(t + off, e.page + off)) {
			rc = scan_block(&e, t, off);
			if (rc)
				return rc;
			off += BLOCK;
			continue;
		}
		if (e.open && (rc = emit(&e, off)))
			return rc;
		off = skip_same(t, e.page, off + BLOCK, nblk);
	}
	rc = scan_tail(&e, t, off, page_size);
	if (rc)
		return rc;
	dsm__put_le32(e.out, (uint32_t)DSM_DIFF_MAGIC << 24 | e.runs);
	return (ssize_t)e.pos;
}

int dsm__diff_same(const void *twin, const void *page, size_t page_size)
{
	const unsigned char *a = twin, *b = page;
	size_t off, nblk = page_size & ~(size_t)(BLOCK - 1);

	off = skip_same(a, b, 0, nblk);
	if (off < nblk)
		return 0;
	return memcmp(a + off, b + off, page_size - off) == 0;
}

/* ---- decoding ---- */

/* A cursor over the runs of a diff that validate() accepted. */
struct cursor {
	const unsigned char *d;
	size_t pos;
	uint32_t left; /* runs not yet read */
	uint32_t off, len;
	const unsigned char *data;
};

static void cursor_init(struct cursor *c, const void *diff)
{
	c->d = diff;
	c->pos = HDR_SIZE;
	c->left = dsm__get_le32(c->d) & COUNT_MASK;
}

/* Read the next run into c; 0 when there is none. */
static int cursor_next(struct cursor *c)
{
	if (c->left == 0)
		return 0;
	c->off = dsm__get_le32(c->d + c->pos);
	c->len = dsm__get_le32(c->d + c->pos + 4);
	c->data = c->d + c->pos + RUN_HDR;
	c->pos += RUN_HDR + c->len;
	c->left--;
	return 1;
}

/*
 * Check everything about an encoded diff: magic, a run header and its
 * bytes inside len for every counted run, each run non-empty and inside
 * the page, runs sorted and neither overlapping nor touching, nothing
 * after the last run. Each comparison is a subtraction from a bound
 * already checked, so no sum can overflow. 0 or -EINVAL.
 */
static int validate(const void *diff, size_t len, size_t page_size,
		    uint32_t *runs, uint32_t *bytes)
{
	const unsigned char *d = diff;
	size_t pos = HDR_SIZE, end = 0, total = 0;
	uint32_t hdr, count;

	if (!d || len < HDR_SIZE || page_size > MAX_PAGE)
		return -EINVAL;
	hdr = dsm__get_le32(d);
	count = hdr & COUNT_MASK;
	if (hdr >> 24 != DSM_DIFF_MAGIC)
		return -EINVAL;
	if ((uint64_t)count * (RUN_HDR + 1) > len - pos)
		return -EINVAL; /* cannot hold count runs: reject early */
	for (uint32_t i = 0; i < count; i++) {
		uint32_t off, rlen;

		if (len - pos < RUN_HDR)
			return -EINVAL;
		off = dsm__get_le32(d + pos);
		rlen = dsm__get_le32(d + pos + 4);
		pos += RUN_HDR;
		if (rlen == 0 || rlen > len - pos)
			return -EINVAL;
		if (off >= page_size || rlen > page_size - off)
			return -EINVAL;
		if (i > 0 && off <= end)
			return -EINVAL; /* unsorted, overlapping or touching */
		end = (size_t)off + rlen;
		pos += rlen;
		total += rlen;
	}
	if (pos != len)
		return -EINVAL;
	if (runs)
		*runs = count;
	if (bytes)
		*bytes = (uint32_t)total; /* <= page_size <= MAX_PAGE */
	return 0;
}

int dsm__diff_apply(void *page, size_t page_size, const void *diff, size_t len)
{
	unsigned char *p = page;
	struct cursor c;

	if (!p || validate(diff, len, page_size, NULL, NULL))
		return -EINVAL;
	cursor_init(&c, diff);
	while (cursor_next(&c))
		copy_bytes(p + c.off, c.data, c.len);
	return 0;
}

int dsm__diff_stats(const void *diff, size_t len, size_t page_size,
		    uint32_t *runs, uint32_t *bytes)
{
	return validate(diff, len, page_size, runs, bytes);
}

/* ---- conflicts ---- */

/* The conflicting range being grown: [start, end), open if end > start. */
struct pending {
	size_t start, end;
	dsm_diff_conflict_cb cb;
	void *arg;
};

static void pending_flush(struct pending *p)
{
	if (p->end > p->start && p->cb)
		p->cb((uint32_t)p->start, (uint32_t)(p->end - p->start), p->arg);
	p->start = p->end = 0;
}

/* Add the conflicting byte range [lo, hi) (ranges arrive in order). */
static void pending_add(struct pending *p, size_t lo, size_t hi)
{
	if (p->end > p->start && p->end == lo) {
		p->end = hi;
		return;
	}
	pending_flush(p);
	p->start = lo;
	p->end = hi;
}

/* Compare x[0..n) with y[0..n) (the same page bytes from page offset
 * base), adding each maximal range of differing bytes; the byte count. */
static size_t compare_overlap(struct pending *p, size_t base,
			      const unsigned char *x, const unsigned char *y,
			      size_t n)
{
	size_t i = 0, count = 0;

	while (i < n) {
		size_t j;

		/* skip equal words quickly, then equal bytes */
		while (n - i >= WORD && load_raw(x + i) == load_raw(y + i))
			i += WORD;
		while (i < n && x[i] == y[i])
			i++;
		for (j = i; j < n && x[j] != y[j]; j++)
			;
		if (j > i) {
			pending_add(p, base + i, base + j);
			count += j - i;
		}
		i = j;
	}
	return count;
}

/* Walk the runs of both diffs in offset order; where a run of a overlaps a
 * run of b, the bytes they write differently are conflicts. */
ssize_t dsm__diff_conflicts(const void *a, size_t alen, const void *b, size_t blen,
			    size_t page_size, dsm_diff_conflict_cb cb, void *arg)
{
	struct pending p = { .cb = cb, .arg = arg };
	struct cursor ca, cb_;
	size_t total = 0;
	int has_a, has_b;

	if (validate(a, alen, page_size, NULL, NULL) ||
	    validate(b, blen, page_size, NULL, NULL))
		return -EINVAL;
	cursor_init(&ca, a);
	cursor_init(&cb_, b);
	has_a = cursor_next(&ca);
	has_b = cursor_next(&cb_);
	while (has_a && has_b) {
		size_t a_end = (size_t)ca.off + ca.len, b_end = (size_t)cb_.off + cb_.len;
		size_t lo = ca.off > cb_.off ? ca.off : cb_.off;
		size_t hi = a_end < b_end ? a_end : b_end;

		if (lo < hi)
			total += compare_overlap(&p, lo, ca.data + (lo - ca.off),
						 cb_.data + (lo - cb_.off), hi - lo);
		if (a_end <= b_end)
			has_a = cursor_next(&ca);
		if (b_end <= a_end)
			has_b = cursor_next(&cb_);
	}
	pending_flush(&p);
	return (ssize_t)total;
}
