/*
 * diff_mask.c — the masked form of a diff (diff.h): for pages where many
 * scattered bytes changed, which the run form spends 8 header bytes on
 * every few changed bytes for (up to 4.5x a page, and a loop turn per
 * run). The masked form is one mask byte per 8-byte word (bit k: byte k
 * of the word changed) and the new contents of every word with a changed
 * byte: at most 1.125x the page, encoded and applied a word at a time.
 *
 * Applying stores exactly the changed bytes (a whole word, one half of
 * it, or byte by byte), never an unchanged one: the home of a page may be
 * writing other bytes of the same word while a writer's diff is applied
 * (false sharing), and a read-modify-write of the word would undo them.
 *
 * Pure and async-signal-safe, as diff.c.
 */
#include <errno.h>
#include <string.h>

#include "core/le.h"
#include "diff.h"

#define HDR_SIZE 4u
#define WORD 8u
#define COUNT_MASK 0xFFFFFFu
#define MAX_PAGE (1u << 24)
#define LOWS 0x7f7f7f7f7f7f7f7full
#define HIGHS 0x8080808080808080ull
#define GATHER 0x0102040810204080ull /* bit 8k -> bit 56 + k */

size_t dsm__diff_mask_max_size(size_t page_size)
{
	return HDR_SIZE + page_size / WORD + page_size;
}

/* Set bits of a byte (no popcount instruction in the baseline ISA: the
 * builtin would be a libgcc call per word). */
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
static const unsigned char bits_set[256] = { B6(0), B6(1), B6(1), B6(2) };

/* Bit k set iff byte k (memory order) of the word x (little-endian
 * value) is nonzero. */
static inline unsigned nonzero_bytes(uint64_t x)
{
	uint64_t t = (((x & LOWS) + LOWS) | x) & HIGHS;

	return (unsigned)(((t >> 7) * GATHER) >> 56);
}

ssize_t dsm__diff_mask_encode(const void *twin, const void *page, size_t page_size,
			      void *out, size_t cap, size_t *run_len)
{
	const unsigned char *t = twin, *p = page;
	unsigned char *o = out;
	size_t nw = page_size / WORD, pos = HDR_SIZE + nw, runs = 0, bytes = 0;
	unsigned last = 0; /* the previous byte changed (bit 0) */
	uint32_t count = 0;

	if (page_size % WORD || page_size > MAX_PAGE)
		return -EINVAL;
	if (cap < pos)
		return -ENOSPC;
	for (size_t w = 0; w < nw; w++) {
		unsigned m = nonzero_bytes(dsm__get_le64(t + WORD * w) ^
					   dsm__get_le64(p + WORD * w));
		o[HDR_SIZE + w] = (unsigned char)m;
		if (!m) {
			last = 0;
			continue;
		}
		/* a run starts at each changed byte after an unchanged one */
		runs += bits_set[m & ~(m << 1 | last) & 0xff];
		bytes += bits_set[m];
		last = m >> 7;
		if (cap - pos < WORD)
			return -ENOSPC;
		memcpy(o + pos, p + WORD * w, WORD);
		pos += WORD;
		count++;
	}
	dsm__put_le32(o, (uint32_t)DSM_DIFF_MASK_MAGIC << 24 | count);
	if (run_len)
		*run_len = HDR_SIZE + 8 * runs + bytes;
	return (ssize_t)pos;
}

int dsm__diff_is_masked(const void *diff, size_t len)
{
	return diff && len >= HDR_SIZE && dsm__get_le32(diff) >> 24 == DSM_DIFF_MASK_MAGIC;
}

/* Header, length and word count agree with the mask. 0 or -EINVAL. */
static int mask_validate(const unsigned char *d, size_t len, size_t page_size)
{
	size_t nw = page_size / WORD;
	uint32_t count = 0;

	if (!d || page_size % WORD || page_size > MAX_PAGE || len < HDR_SIZE + nw ||
	    dsm__get_le32(d) >> 24 != DSM_DIFF_MASK_MAGIC)
		return -EINVAL;
	for (size_t w = 0; w < nw; w++)
		count += d[HDR_SIZE + w] != 0;
	if (count != (dsm__get_le32(d) & COUNT_MASK) ||
	    len - HDR_SIZE - nw != (size_t)count * WORD)
		return -EINVAL;
	return 0;
}

/* Store the bytes of src that mask m names at dst. */
static inline void store_masked(unsigned char *dst, const unsigned char *src, unsigned m)
{
	if (m == 0xff) {
		memcpy(dst, src, WORD);
	} else if (m == 0x0f || m == 0xf0) {
		size_t off = m == 0x0f ? 0 : 4;
		memcpy(dst + off, src + off, 4);
	} else {
		for (; m; m &= m - 1) {
			unsigned k = (unsigned)__builtin_ctz(m);
			dst[k] = src[k];
		}
	}
}

/* The portable loop: a branch per word. */
static void apply_words(unsigned char *p, const unsigned char *mask,
			const unsigned char *src, size_t nw)
{
	for (size_t w = 0; w < nw; w++) {
		if (!mask[w])
			continue;
		store_masked(p + WORD * w, src, mask[w]);
		src += WORD;
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_PATH 1

/*
 * 64 bytes at a time: the block's eight mask bytes are the byte mask of
 * one masked store (which writes the named bytes only, as the loop does),
 * its changed words are expanded into place by one load. No branch on the
 * data: a page whose words changed at random costs what an unchanged one
 * does (0.1 us against 2-3 us for the loop, hot).
 */
__attribute__((target("avx512f,avx512bw,popcnt")))
static void apply_avx512(unsigned char *p, const unsigned char *mask,
			 const unsigned char *src, size_t nw)
{
	size_t nb = nw / 8;

	for (size_t b = 0; b < nb; b++) {
		uint64_t m = dsm__get_le64(mask + 8 * b);
		unsigned words = nonzero_bytes(m);
		__m512i v = _mm512_maskz_expandloadu_epi64((__mmask8)words, src);
		_mm512_mask_storeu_epi8(p + 64 * b, (__mmask64)m, v);
		src += WORD * (size_t)__builtin_popcount(words);
	}
	apply_words(p + 64 * nb, mask + 8 * nb, src, nw - 8 * nb);
}

static int have_avx512(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#endif

static int mask_apply(void *page, size_t page_size, const void *diff, size_t len, int simd)
{
	const unsigned char *d = diff;
	size_t nw = page_size / WORD;

	if (!page || mask_validate(d, len, page_size))
		return -EINVAL;
#ifdef HAVE_AVX512_PATH
	if (simd && have_avx512()) {
		apply_avx512(page, d + HDR_SIZE, d + HDR_SIZE + nw, nw);
		return 0;
	}
#endif
	(void)simd;
	apply_words(page, d + HDR_SIZE, d + HDR_SIZE + nw, nw);
	return 0;
}

int dsm__diff_mask_apply_portable(void *page, size_t page_size, const void *diff, size_t len)
{
	return mask_apply(page, page_size, diff, len, 0);
}

int dsm__diff_mask_apply(void *page, size_t page_size, const void *diff, size_t len)
{
	return mask_apply(page, page_size, diff, len, 1);
}
