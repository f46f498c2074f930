/*
 * ec_diff.c — encodings of ec's updates (pure: no locks, no malloc).
 *
 * A lock's log entries use src/vm/diff.h's run encoding (u32 magic and
 * run count, then {u32 offset, u32 length, bytes} per run), restricted to
 * the lock's pieces of the page: ec_lock.c compares entries run by run.
 *
 * A barrier's updates may instead use a byte mask, which costs one bit
 * per byte of the span from the first to the last changed byte instead of
 * 8 bytes per run. Array codes rewrite values whose top bytes often stay
 * the same (doubles of one magnitude keep their exponent), so their runs
 * are a few bytes long and the run encoding costs 1.6 times the changed
 * bytes (3-D FFT); the mask costs 1.125 times at most. Both are
 * byte-exact: bytes that did not change are never sent, so the updates of
 * several writers of one page merge in any order.
 *
 * Mask encoding (little-endian header fields):
 *   u32 magic      high 8 bits EC_MASK_MAGIC, low 24 bits 0
 *   u32 start      byte offset in the page of the span
 *   u32 span       bytes in the span (> 0)
 *   (span + 7) / 8 bytes: bit b of byte i set = byte start + 8i + b changed
 *   the changed bytes, in order (as many as bits set)
 */
#include <errno.h>
#include <string.h>

#include "core/le.h"
#include "ec.h"
#include "vm/diff.h"

#define EC_MASK_MAGIC 0xD2u

size_t dsm__ec_diff_runs(const unsigned char *twin, const unsigned char *page,
			 const struct ec_piece *pc, unsigned npc, unsigned char *out)
{
	size_t o = 4;
	uint32_t runs = 0;

	for (unsigned k = 0; k < npc; k++) {
		uint32_t i = pc[k].off, end = pc[k].off + pc[k].len;
		while (i < end) {
			if (page[i] == twin[i]) {
				i++;
				continue;
			}
			uint32_t s = i;
			while (i < end && page[i] != twin[i])
				i++;
			dsm__put_le32(out + o, s);
			dsm__put_le32(out + o + 4, i - s);
			memcpy(out + o + 8, page + s, i - s);
			o += 8 + (i - s);
			runs++;
		}
	}
	dsm__put_le32(out, runs | DSM_DIFF_MAGIC << 24);
	return o;
}

/* Bit 8i of the result set iff byte i of the (little-endian) word x is
 * not zero: the bytes of two words that differ, from their xor. */
static inline uint64_t byte_flags(uint64_t x)
{
	x |= x >> 4;
	x |= x >> 2;
	x |= x >> 1;
	return x & 0x0101010101010101ull;
}

/* The number of flags of a byte_flags word (one multiply: every byte's
 * 0 or 1 summed into the top byte; no popcount instruction needed). */
static inline uint32_t flag_count(uint64_t t)
{
	return (uint32_t)((t * 0x0101010101010101ull) >> 56);
}

/* The xor of 8 bytes of page and twin at i, as a little-endian word. */
static inline uint64_t word_xor(const unsigned char *page, const unsigned char *twin,
				uint32_t i)
{
	return dsm__get_le64(page + i) ^ dsm__get_le64(twin + i);
}

/* The mask encoding of the changed bytes in [first, last]. */
static size_t mask_encode(const unsigned char *twin, const unsigned char *page,
			  uint32_t first, uint32_t last, unsigned char *out)
{
	uint32_t span = last + 1 - first, nm = (span + 7) / 8;
	unsigned char *mask = out + 12, *data = mask + nm;

	dsm__put_le32(out, EC_MASK_MAGIC << 24);
	dsm__put_le32(out + 4, first);
	dsm__put_le32(out + 8, span);
	memset(mask, 0, nm);
	for (uint32_t i = 0; i < span; i++) {
		if (i % 8 == 0 && span - i >= 8) {
			uint64_t t = byte_flags(word_xor(page, twin, first + i));
			if (t == 0 || t == 0x0101010101010101ull) {
				if (t) { /* a whole changed word */
					mask[i / 8] = 0xFFu;
					memcpy(data, page + first + i, 8);
					data += 8;
				}
				i += 7;
				continue;
			}
		}
		if (page[first + i] != twin[first + i]) {
			mask[i / 8] |= (unsigned char)(1u << (i % 8));
			*data++ = page[first + i];
		}
	}
	return (size_t)(data - out);
}

size_t dsm__ec_diff_encode(const unsigned char *twin, const unsigned char *page,
			   const struct ec_piece *pc, unsigned npc, unsigned char *out)
{
	uint32_t first = 0, last = 0, runs = 0, changed = 0;
	int prev = 0;

	/* Count the changed bytes and their runs, a word at a time. */
	for (unsigned k = 0; k < npc; k++) {
		uint32_t i = pc[k].off, end = pc[k].off + pc[k].len;
		prev = 0;
		for (; end - i >= 8; i += 8) {
			uint64_t t = byte_flags(word_xor(page, twin, i));
			if (t) {
				uint64_t starts = t & ~((t << 8) | (uint64_t)prev);
				if (!changed)
					first = i + (uint32_t)__builtin_ctzll(t) / 8;
				last = i + (uint32_t)(63 - __builtin_clzll(t)) / 8;
				changed += flag_count(t);
				runs += flag_count(starts);
			}
			prev = (int)(t >> 56);
		}
		for (; i < end; i++) {
			int d = page[i] != twin[i];
			if (d) {
				if (!changed)
					first = i;
				last = i;
				changed++;
				runs += !prev;
			}
			prev = d;
		}
	}
	/* The mask spans the bytes between the pieces too: it may be used
	 * only if none of those changed (they are not this binding's to
	 * send), i.e. if it marks exactly the bytes counted here. */
	if (changed && 12 + (last + 1 - first + 7) / 8 + (size_t)changed <
			       4 + 8 * (size_t)runs + changed) {
		size_t len = mask_encode(twin, page, first, last, out);
		if (len == 12 + (last + 1 - first + 7) / 8 + (size_t)changed)
			return len;
	}
	return dsm__ec_diff_runs(twin, page, pc, npc, out);
}

/* Validate and apply a mask encoding. */
static int mask_apply(unsigned char *page, size_t ps, const unsigned char *d, size_t len)
{
	uint32_t start, span, nm;
	size_t bits = 0;

	if (len < 12)
		return -EINVAL;
	start = dsm__get_le32(d + 4);
	span = dsm__get_le32(d + 8);
	if (dsm__get_le32(d) != EC_MASK_MAGIC << 24 || span == 0 || start >= ps ||
	    span > ps - start)
		return -EINVAL;
	nm = (span + 7) / 8;
	if (len < 12 + (size_t)nm)
		return -EINVAL;
	static const unsigned char nib[16] = { 0, 1, 1, 2, 1, 2, 2, 3,
					       1, 2, 2, 3, 2, 3, 3, 4 };
	for (uint32_t k = 0; k < nm; k++)
		bits += nib[d[12 + k] & 15u] + nib[d[12 + k] >> 4];
	if ((span % 8) && (d[12 + nm - 1] >> (span % 8))) /* bits past the span */
		return -EINVAL;
	if (len != 12 + (size_t)nm + bits)
		return -EINVAL;
	const unsigned char *src = d + 12 + nm;
	for (uint32_t k = 0; k < nm; k++) {
		unsigned m = d[12 + k];
		unsigned char *dst = page + start + 8 * (size_t)k;
		if (m == 0xFFu) { /* a whole word */
			memcpy(dst, src, 8);
			src += 8;
			continue;
		}
		for (unsigned b = 0; m; b++, m >>= 1)
			if (m & 1u)
				dst[b] = *src++;
	}
	return 0;
}

int dsm__ec_diff_apply(void *page, size_t ps, const void *diff, size_t len)
{
	const unsigned char *d = diff;

	if (len >= 4 && d[3] == EC_MASK_MAGIC)
		return mask_apply(page, ps, d, len);
	return dsm__diff_apply(page, ps, diff, len);
}
