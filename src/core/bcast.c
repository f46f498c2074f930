/*
 * bcast.c — reassembly of one broadcast from its chunks (bcast.h): the
 * lengths and offsets come from the network, so each is checked before it
 * sizes an allocation or a copy, and each chunk is accepted once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "bcast.h"

int dsm__bcast_asm_init(struct dsm_bcast_asm *a, uint64_t total, uint32_t chunk)
{
	uint64_t nchunks;

	memset(a, 0, sizeof(*a));
	if (chunk == 0)
		return -EINVAL;
	nchunks = total ? (total - 1) / chunk + 1 : 1;
	if (total > DSM_BCAST_MAX || nchunks > UINT32_MAX)
		return -EMSGSIZE;
	a->total = total;
	a->chunk = chunk;
	a->nchunks = (uint32_t)nchunks;
	a->missing = a->nchunks;
	a->buf = malloc(total ? total : 1);
	a->seen = calloc((a->nchunks + 7) / 8, 1);
	if (!a->buf || !a->seen) {
		dsm__bcast_asm_fini(a);
		return -ENOMEM;
	}
	return 0;
}

int dsm__bcast_asm_add(struct dsm_bcast_asm *a, uint64_t total, uint64_t off,
		       const void *data, uint32_t len, const char **why)
{
	uint64_t k, want;

	if (total != a->total) {
		*why = "chunk announces a different total than the broadcast";
		return DSM_EPROTO;
	}
	if (off % a->chunk || off / a->chunk >= a->nchunks) {
		*why = "chunk offset is not a chunk boundary inside the broadcast";
		return DSM_EPROTO;
	}
	k = off / a->chunk;
	want = total - off < a->chunk ? total - off : a->chunk;
	if (len != want) {
		*why = "chunk length does not match its place in the broadcast";
		return DSM_EPROTO;
	}
	if (a->seen[k / 8] & (1u << (k % 8))) {
		*why = "duplicate chunk";
		return DSM_EPROTO;
	}
	if (len)
		memcpy(a->buf + off, data, len);
	a->seen[k / 8] |= (unsigned char)(1u << (k % 8));
	a->missing--;
	return 0;
}

bool dsm__bcast_asm_done(const struct dsm_bcast_asm *a)
{
	return a->buf && a->missing == 0;
}

void dsm__bcast_asm_fini(struct dsm_bcast_asm *a)
{
	free(a->buf);
	free(a->seen);
	memset(a, 0, sizeof(*a));
}
