/*
 * log.c — encoding and decoding of the record/replay log (log.h).
 */
#include <errno.h>
#include <string.h>

#include "core/le.h"
#include "dsm.h"
#include "log.h"

static const char *const kind_names[DSM_RP_KIND_END_] = {
#define XX(name, num, nf) [num] = #name,
	DSM_RP_KIND_MAP(XX)
#undef XX
};

static const uint8_t kind_fields[DSM_RP_KIND_END_] = {
#define XX(name, num, nf) [num] = nf,
	DSM_RP_KIND_MAP(XX)
#undef XX
};

const char *dsm__rp_kind_name(unsigned kind)
{
	if (kind >= DSM_RP_KIND_END_ || !kind_names[kind])
		return "?";
	return kind_names[kind];
}

/* LEB128: 7 bits a byte, low first; at most 10 bytes. */
static size_t put_varint(unsigned char *out, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		out[i++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	out[i++] = (unsigned char)v;
	return i;
}

/* Decode a varint from [*p, end); 0 or -1 (truncated or over 64 bits). */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

size_t dsm__rp_header_encode(unsigned char *out, const struct dsm_rp_header *h)
{
	size_t len = 8;

	memcpy(out, DSM_RP_MAGIC, 7);
	out[7] = DSM_RP_VERSION;
	len += put_varint(out + len, h->node);
	len += put_varint(out + len, h->count);
	len += put_varint(out + len, h->page_size);
	return len;
}

size_t dsm__rp_rec_encode(unsigned char *out, const struct dsm_rp_rec *r, uint64_t prev)
{
	size_t len = 0;

	out[len++] = r->kind;
	len += put_varint(out + len, r->boundary - prev);
	for (unsigned i = 0; i < kind_fields[r->kind]; i++)
		len += put_varint(out + len, r->f[i]);
	return len;
}

void dsm__rp_block_header(unsigned char *hdr, const unsigned char *payload, uint32_t len)
{
	hdr[0] = DSM_RP_BLOCK;
	dsm__put_le32(hdr + 1, len);
	dsm__put_le32(hdr + 5, fnv1a(payload, len));
}

/* Parse the records of one block's payload [p, end). */
static int parse_block(const unsigned char *buf, const unsigned char *p,
		       const unsigned char *end, uint64_t *boundary, int *ended,
		       int (*fn)(void *, const struct dsm_rp_rec *), void *arg,
		       size_t *bad, const char **why)
{
	while (p < end) {
		struct dsm_rp_rec r = { .kind = *p };
		uint64_t delta;
		int err;

		*bad = (size_t)(p - buf);
		if (*ended) {
			*why = "a record after END";
			return DSM_EPROTO;
		}
		if (r.kind == 0 || r.kind >= DSM_RP_KIND_END_) {
			*why = "unknown record kind";
			return DSM_EPROTO;
		}
		p++;
		if (get_varint(&p, end, &delta) || *boundary + delta < *boundary) {
			*why = "bad boundary varint";
			return DSM_EPROTO;
		}
		r.boundary = *boundary += delta;
		for (unsigned i = 0; i < kind_fields[r.kind]; i++)
			if (get_varint(&p, end, &r.f[i])) {
				*why = "truncated or overlong field varint";
				return DSM_EPROTO;
			}
		if (r.kind == DSM_RP_INPUT) {
			if (r.f[0] > (uint64_t)(end - p)) {
				*why = "INPUT longer than its block";
				return DSM_EPROTO;
			}
			r.data = p;
			p += r.f[0];
		}
		*ended = r.kind == DSM_RP_END;
		if ((err = fn(arg, &r))) {
			*why = "rejected by the reader";
			return err;
		}
	}
	return 0;
}

int dsm__rp_parse(const unsigned char *buf, size_t len, struct dsm_rp_header *h,
		  int (*fn)(void *arg, const struct dsm_rp_rec *r), void *arg,
		  size_t *bad, const char **why)
{
	const unsigned char *p = buf + 8, *end = buf + len;
	uint64_t v[3], boundary = 0;
	int ended = 0, err;

	*bad = 0;
	if (len < 8 || memcmp(buf, DSM_RP_MAGIC, 7) != 0) {
		*why = "not a libdsm replay log (bad magic)";
		return DSM_EPROTO;
	}
	if (buf[7] != DSM_RP_VERSION) {
		*bad = 7;
		*why = "unsupported log format version";
		return DSM_EPROTO;
	}
	for (int i = 0; i < 3; i++)
		if (get_varint(&p, end, &v[i]) || v[i] > UINT32_MAX) {
			*bad = (size_t)(p - buf);
			*why = "bad header varint";
			return DSM_EPROTO;
		}
	*h = (struct dsm_rp_header){ (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2] };
	while (p < end) {
		uint32_t blen;

		*bad = (size_t)(p - buf);
		if (*p != DSM_RP_BLOCK) {
			*why = "bad block marker";
			return DSM_EPROTO;
		}
		if ((size_t)(end - p) < DSM_RP_BLOCK_HDR) {
			*why = "truncated block header";
			return DSM_EPROTO;
		}
		blen = dsm__get_le32(p + 1);
		if (blen > (size_t)(end - p) - DSM_RP_BLOCK_HDR) {
			*why = "truncated block (shorter than its length)";
			return DSM_EPROTO;
		}
		if (fnv1a(p + DSM_RP_BLOCK_HDR, blen) != dsm__get_le32(p + 5)) {
			*why = "block checksum mismatch (corrupted log)";
			return DSM_EPROTO;
		}
		p += DSM_RP_BLOCK_HDR;
		if ((err = parse_block(buf, p, p + blen, &boundary, &ended, fn, arg, bad, why)))
			return err;
		p += blen;
	}
	if (!ended) {
		*bad = len;
		*why = "the log ends without END (the run was cut short)";
		return -ENODATA;
	}
	return 0;
}
