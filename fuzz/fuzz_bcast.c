/*
 * fuzz_bcast.c — broadcast reassembly (src/core/bcast.c), whose totals,
 * offsets and lengths come from the network.
 *
 * Input: 8 bytes of total (kept under 8 chunks unless the top bit is set,
 * then used as is: totals over DSM_BCAST_MAX must be refused, others are
 * allocated, so only up to 1 GiB), then chunk records of 9 bytes:
 * u8 flags, u32 offset (a chunk index unless flags bit 0), u32 length
 * (the chunk's right length unless flags bit 1), with a total that differs
 * when flags bit 2 is set. A chunk's bytes are a pattern of its offset.
 * Properties: done() only once every chunk was accepted, exactly once
 * each; a refused chunk changes nothing; the assembled buffer holds every
 * chunk's pattern.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "core/bcast.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define CH DSM_BCAST_CHUNK

static unsigned char chunkbuf[CH + 64];

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void fill(unsigned char *p, uint32_t len, uint64_t off)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (unsigned char)((off + i) * 31 + 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsm_bcast_asm a;
	uint64_t total = 0;
	uint32_t nchunks, accepted = 0;
	unsigned char got[8] = { 0 }; /* chunk index accepted (small totals) */
	const char *why;
	int err;

	if (size < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		total |= (uint64_t)data[i] << (8 * i);
	if (!(total >> 63))
		total %= 8 * (uint64_t)CH + 1;
	else
		total &= ~(UINT64_C(1) << 63);
	data += 8, size -= 8;
	err = dsm__bcast_asm_init(&a, total);
	if (total > DSM_BCAST_MAX) {
		CHECK(err == -EMSGSIZE);
		return 0;
	}
	if (err == -ENOMEM)
		return 0;
	CHECK(err == 0);
	nchunks = total ? (uint32_t)((total + CH - 1) / CH) : 1;
	CHECK(a.nchunks == nchunks && !dsm__bcast_asm_done(&a));
	for (; size >= 9; data += 9, size -= 9) {
		uint8_t f = data[0];
		uint64_t off = f & 1 ? get32(data + 1) : (uint64_t)(get32(data + 1) % (nchunks + 1)) * CH;
		uint64_t right = off < total ? (total - off < CH ? total - off : CH) : 0;
		uint32_t len = f & 2 ? get32(data + 5) % (CH + 64) : (uint32_t)right;
		uint64_t t = f & 4 ? total + 1 + (f >> 3) : total;
		uint32_t before = a.missing;

		fill(chunkbuf, len, off);
		err = dsm__bcast_asm_add(&a, t, off, chunkbuf, len, &why);
		if (err) {
			CHECK(err == DSM_EPROTO && why && a.missing == before);
			continue;
		}
		/* accepted: a right chunk, not seen before */
		CHECK(t == total && off % CH == 0 && off / CH < nchunks && len == right);
		CHECK(a.missing == before - 1);
		if (nchunks <= 64) {
			uint32_t k = (uint32_t)(off / CH);
			CHECK(!(got[k / 8] & (1u << (k % 8))));
			got[k / 8] |= (unsigned char)(1u << (k % 8));
		}
		accepted++;
	}
	CHECK(dsm__bcast_asm_done(&a) == (accepted == nchunks));
	if (dsm__bcast_asm_done(&a) && total <= 8 * (uint64_t)CH)
		for (uint64_t off = 0; off < total; off += CH) {
			uint32_t len = (uint32_t)(total - off < CH ? total - off : CH);
			fill(chunkbuf, len, off);
			CHECK(memcmp(a.buf + off, chunkbuf, len) == 0);
		}
	dsm__bcast_asm_fini(&a);
	return 0;
}
