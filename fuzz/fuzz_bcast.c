/*
 * fuzz_bcast.c — broadcast reassembly (src/core/bcast.c), whose totals,
 * offsets and lengths come from the network.
 *
 * Input: 1 byte choosing a chunk size of 1..64 bytes (the logic does not
 * depend on the size, and small chunks keep the fuzzer fast), 8 bytes of
 * total (kept under 8 chunks unless the top bit is set: then the real
 * chunk size and up to 4 chunks, or with bit 62 set too a total of 2^62
 * or more, which must be refused; the exact cap is a unit test), then
 * records of 9 bytes:
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
#include "core/le.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
static unsigned char chunkbuf[DSM_BCAST_CHUNK + 64];


/* A chunk's contents: a byte and its offset, from its offset (memset, so
 * a 1 MiB chunk stays cheap under ASan). */
static void fill(unsigned char *p, uint32_t len, uint64_t off)
{
	memset(p, (int)((off * 31 + 7) & 0xff), len);
	memcpy(p, &off, len < 8 ? len : 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsm_bcast_asm a;
	uint64_t total = 0, CH;
	uint32_t nchunks, accepted = 0;
	unsigned char got[8] = { 0 }; /* chunk index accepted (small totals) */
	const char *why;
	int err;

	if (size < 9)
		return 0;
	CH = 1 + data[0] % 64;
	for (int i = 0; i < 8; i++)
		total |= (uint64_t)data[1 + i] << (8 * i);
	if (!(total >> 63)) {
		total %= 8 * CH + 1;
	} else if (total >> 62 & 1) {
		total &= ~(UINT64_C(1) << 63);
		CH = DSM_BCAST_CHUNK;
	} else {
		CH = DSM_BCAST_CHUNK;
		total %= 4 * CH + 1;
	}
	data += 9, size -= 9;
	err = dsm__bcast_asm_init(&a, total, (uint32_t)CH);
	if (total > DSM_BCAST_MAX) {
		CHECK(err == -EMSGSIZE);
		return 0;
	}
	CHECK(err == 0);
	nchunks = total ? (uint32_t)((total + CH - 1) / CH) : 1;
	CHECK(a.nchunks == nchunks && !dsm__bcast_asm_done(&a));
	for (; size >= 9; data += 9, size -= 9) {
		uint8_t f = data[0];
		uint64_t off = f & 1 ? dsm__get_le32(data + 1) : (uint64_t)(dsm__get_le32(data + 1) % (nchunks + 1)) * CH;
		uint64_t right = off < total ? (total - off < CH ? total - off : CH) : 0;
		uint32_t len = f & 2 ? (uint32_t)(dsm__get_le32(data + 5) % (CH + 64)) : (uint32_t)right;
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
	if (dsm__bcast_asm_done(&a) && total <= 8 * CH)
		for (uint64_t off = 0; off < total; off += CH) {
			uint32_t len = (uint32_t)(total - off < CH ? total - off : CH);
			fill(chunkbuf, len, off);
			CHECK(memcmp(a.buf + off, chunkbuf, len) == 0);
		}
	dsm__bcast_asm_fini(&a);
	return 0;
}
