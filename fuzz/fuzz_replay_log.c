/*
 * fuzz_replay_log.c — the record/replay log reader (src/replay/log.c):
 * DSM_REPLAY reads logs from a directory a user names, so a damaged or
 * hostile file must be rejected, never read out of bounds.
 *
 * Input: a log file. Properties: the result is 0, -ENODATA or DSM_EPROTO;
 * the reported offset lies within the input; every record handed out has
 * a known kind, nondecreasing boundaries and, for INPUT, bytes inside the
 * input; re-encoding the records of an accepted log reproduces it byte for
 * byte when it was written in one block.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "replay/log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct ctx {
	const uint8_t *buf;
	size_t len;
	uint64_t prev;
	unsigned char out[1 << 16];
	size_t olen;
	int fits;
};

static int on_rec(void *arg, const struct dsm_rp_rec *r)
{
	struct ctx *c = arg;

	CHECK(r->kind > 0 && r->kind < DSM_RP_KIND_END_);
	CHECK(r->boundary >= c->prev);
	if (r->kind == DSM_RP_INPUT)
		CHECK(r->data >= c->buf && r->data + r->f[0] <= c->buf + c->len);
	if (c->olen + DSM_RP_REC_MAX + (r->kind == DSM_RP_INPUT ? r->f[0] : 0) >
	    sizeof(c->out)) {
		c->fits = 0;
	} else {
		c->olen += dsm__rp_rec_encode(c->out + c->olen, r, c->prev);
		if (r->kind == DSM_RP_INPUT) {
			memcpy(c->out + c->olen, r->data, r->f[0]);
			c->olen += r->f[0];
		}
	}
	c->prev = r->boundary;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	struct dsm_rp_header h;
	unsigned char hdr[DSM_RP_HDR_MAX], blk[DSM_RP_BLOCK_HDR];
	const char *why = NULL;
	size_t bad = 0, hl;
	int rc;

	c.buf = data;
	c.len = size;
	c.prev = 0;
	c.olen = 0;
	c.fits = 1;
	rc = dsm__rp_parse(data, size, &h, on_rec, &c, &bad, &why);
	CHECK(rc == 0 || rc == -ENODATA || rc == DSM_EPROTO);
	CHECK(bad <= size);
	CHECK(rc == 0 || why != NULL);
	if (rc != 0 || !c.fits)
		return 0;
	/* One block of canonical varints re-encodes to the same bytes. */
	hl = dsm__rp_header_encode(hdr, &h);
	dsm__rp_block_header(blk, c.out, (uint32_t)c.olen);
	if (size == hl + DSM_RP_BLOCK_HDR + c.olen && !memcmp(data, hdr, hl) &&
	    !memcmp(data + hl + DSM_RP_BLOCK_HDR, c.out, c.olen))
		CHECK(!memcmp(data + hl, blk, DSM_RP_BLOCK_HDR));
	return 0;
}
