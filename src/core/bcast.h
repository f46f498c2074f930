/*
 * bcast.h — reassembly of one broadcast from its chunks (coll.c). Pure:
 * no node, no locking, no I/O, so it can be unit-tested and fuzzed
 * (fuzz/fuzz_bcast.c).
 *
 * The root sends a broadcast of total bytes as chunks of DSM_BCAST_CHUNK
 * bytes at offsets 0, DSM_BCAST_CHUNK, ... (the last one shorter; a
 * zero-byte broadcast is one empty chunk at offset 0). Every chunk carries
 * the total. The receiver accepts exactly that: a chunk with another
 * total, a misaligned offset, a wrong length or an offset it already has
 * is refused, so duplicates cannot complete a broadcast with holes.
 */
#ifndef DSM_CORE_BCAST_H
#define DSM_CORE_BCAST_H

#include <stdbool.h>
#include <stdint.h>

/* Chunk size on the wire (one message's payload). */
#define DSM_BCAST_CHUNK (UINT32_C(1) << 20)
/* Largest broadcast: the receiver allocates the total before the data
 * arrives, so a total from the network is capped (dsm_broadcast refuses
 * larger lengths with -EMSGSIZE). */
#define DSM_BCAST_MAX (UINT64_C(1) << 30)

struct dsm_bcast_asm {
	uint64_t total;       /* bytes announced by the first chunk */
	uint32_t chunk;       /* chunk size (DSM_BCAST_CHUNK; smaller in tests) */
	uint32_t nchunks;     /* chunks expected */
	uint32_t missing;     /* chunks not received yet */
	unsigned char *buf;   /* total bytes (malloc'd) */
	unsigned char *seen;  /* one bit per chunk received (malloc'd) */
};

/* Prepare *a for a broadcast of total bytes sent in chunks of chunk bytes
 * (DSM_BCAST_CHUNK on the wire; the fuzzer uses small ones). 0, -EMSGSIZE
 * (total over DSM_BCAST_MAX, or more than 2^32 - 1 chunks), -EINVAL
 * (chunk 0) or -ENOMEM. */
int dsm__bcast_asm_init(struct dsm_bcast_asm *a, uint64_t total, uint32_t chunk);
/* File one chunk: len bytes at offset off of a broadcast announcing
 * total. 0 or DSM_EPROTO with *why saying what was wrong (static text);
 * *a is unchanged on error. */
int dsm__bcast_asm_add(struct dsm_bcast_asm *a, uint64_t total, uint64_t off,
		       const void *data, uint32_t len, const char **why);
/* Every chunk has arrived. */
bool dsm__bcast_asm_done(const struct dsm_bcast_asm *a);
/* Free the buffers; *a may then be initialised again. */
void dsm__bcast_asm_fini(struct dsm_bcast_asm *a);

#endif
