/*
 * msg.c — the wire codec: message header and HELLO payload.
 *
 * Pure code: no sockets, no allocation, no core services, so it can be
 * unit-tested in-process and called from the SIGSEGV handler (encode).
 * Everything on the wire is big-endian (network byte order).
 */
#include <assert.h>
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dsm.h"
#include "internal.h"

/* The 48-byte header as it appears on the wire (fields big-endian). */
struct dsm_wire_hdr {
	uint32_t magic;    /* DSM_WIRE_MAGIC, "DSM1" */
	uint16_t version;  /* DSM_WIRE_VERSION */
	uint16_t type;     /* enum dsm_msg_type, never 0 */
	uint32_t length;   /* payload bytes following the header */
	uint32_t src;      /* sending node id */
	uint32_t seq;      /* per link and direction, starts at 1 */
	uint32_t reserved; /* must be 0 */
	uint64_t arg0;     /* type-specific arguments (see net.h) */
	uint64_t arg1;
	uint64_t arg2;
};

static_assert(offsetof(struct dsm_wire_hdr, magic) == 0, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, version) == 4, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, type) == 6, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, length) == 8, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, src) == 12, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, seq) == 16, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, reserved) == 20, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, arg0) == 24, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, arg1) == 32, "wire layout");
static_assert(offsetof(struct dsm_wire_hdr, arg2) == 40, "wire layout");
static_assert(sizeof(struct dsm_wire_hdr) == DSM_WIRE_HDR_SIZE, "wire size");
static_assert(DSM_MSG_TYPE_MAX_ <= DSM_STATS_MSG_TYPES, "stats slots");

/* Offsets of the HELLO payload fields (all big-endian). */
enum {
	HELLO_OFF_ID = 0,       /* u32 node_id */
	HELLO_OFF_COUNT = 4,    /* u32 node_count */
	HELLO_OFF_PAGE = 8,     /* u32 page_size */
	HELLO_OFF_VERSION = 12, /* u32 wire_version */
	HELLO_OFF_HEAP = 16,    /* u64 heap_size */
	HELLO_OFF_SECRET = 24,  /* DSM_SECRET_LEN bytes */
	HELLO_OFF_PORT = 24 + DSM_SECRET_LEN, /* u16 listen_port */
	HELLO_OFF_HOST = 26 + DSM_SECRET_LEN, /* 64 bytes, NUL-terminated */
	HELLO_OFF_ARCH = 90 + DSM_SECRET_LEN, /* u32 arch (DSM_ARCH_*) */
};
static_assert(HELLO_OFF_ARCH + 4 == DSM_HELLO_WIRE_SIZE,
	      "hello layout");

#define MiB (1024u * 1024u)

/* Name table indexed by type number; NULL marks a gap. */
static const char *const type_names[DSM_MSG_TYPE_MAX_] = {
#define XX(name, num) [num] = #name,
	DSM_MSG_TYPE_MAP(XX)
#undef XX
};

/* Name of a message type for logs; "?" for a number that is not a type. */
const char *dsm__msg_type_name(unsigned type)
{
	if (type >= DSM_MSG_TYPE_MAX_ || type_names[type] == NULL)
		return "?";
	return type_names[type];
}

/* True when type is a defined message type (not 0, not past the end, not
 * a gap in the numbering). */
static int type_valid(unsigned type)
{
	return type > 0 && type < DSM_MSG_TYPE_MAX_ && type_names[type] != NULL;
}

/* Largest payload a message of this type may carry; the receiver uses it
 * to bound its buffer before reading the payload. SC_PAGE is exact. */
uint32_t dsm__msg_max_len(unsigned type, uint32_t page_size)
{
	switch (type) {
	case DSM_MSG_HELLO:
		return DSM_HELLO_WIRE_SIZE;
	case DSM_MSG_PEERS:
		return DSM_MAX_NODES * DSM_PEER_REC_SIZE;
	case DSM_MSG_BCAST:
		return 1 * MiB;
	case DSM_MSG_STATS:
	case DSM_MSG_FIN:
		return 8192;
	case DSM_MSG_LOCK_REQ:
	case DSM_MSG_EC_LOCK_REQ:
	case DSM_MSG_LRC_DIFF_REQ: /* batched pages: 12 bytes each */
		return 4096;
	case DSM_MSG_TAPE_REQ: /* up to 1024 u32 pages */
		return 4096;
	case DSM_MSG_LOCK_GRANT:
	case DSM_MSG_LOCK_REL:
	case DSM_MSG_EC_LOCK_GRANT:
	case DSM_MSG_EC_LOCK_REL:
	case DSM_MSG_BAR_ARRIVE:
	case DSM_MSG_BAR_RELEASE:
	case DSM_MSG_LRC_DIFF_REP:
	case DSM_MSG_LRC_INTV_REP:
	case DSM_MSG_HLRC_DIFF:
	case DSM_MSG_HLRC_ACK: /* redirects and migrated pages */
	case DSM_MSG_HLRC_CLAIM:
	case DSM_MSG_HLRC_CLAIM_REP:
	case DSM_MSG_HLRC_INTV_REP:
	case DSM_MSG_TAPE_REP: /* up to 1024 pages with 12-byte headers */
	case DSM_MSG_TAPE_SEND:
	case DSM_MSG_TAPE_PUSH: /* vc, then up to 256 pages with 4-byte headers */
		return 64 * MiB;
	case DSM_MSG_HLRC_PAGE: /* a run of pages (hlrc.c PREFETCH) */
		return DSM_HLRC_RUN_MAX * page_size;
	case DSM_MSG_SC_PAGE:
	case DSM_MSG_LRC_PAGE_REP:
		return page_size;
	case DSM_MSG_ABORT:
	case DSM_MSG_NACK:
		return 256;
	case DSM_MSG_TYPE_NOTE: /* a layout fingerprint */
		return 8;
	case DSM_MSG_ALLOC_REP: /* what to acquire: a vector timestamp */
	case DSM_MSG_FREE:      /* the free's release: a vector timestamp */
		return 4 * DSM_MAX_NODES;
	default: /* HELLO_ACK, HEARTBEAT, BYE, ALLOC_REQ, SC_* requests */
		return 0;
	}
}

/* Write m's header fields to out in wire order. Async-signal-safe. */
void dsm__msg_encode_hdr(const struct dsm_msg *m, unsigned char out[DSM_WIRE_HDR_SIZE])
{
	struct dsm_wire_hdr w = {
		.magic = htobe32(DSM_WIRE_MAGIC),
		.version = htobe16(DSM_WIRE_VERSION),
		.type = htobe16(m->type),
		.length = htobe32(m->length),
		.src = htobe32(m->src),
		.seq = htobe32(m->seq),
		.reserved = 0,
		.arg0 = htobe64(m->arg[0]),
		.arg1 = htobe64(m->arg[1]),
		.arg2 = htobe64(m->arg[2]),
	};
	memcpy(out, &w, sizeof(w));
}

/* Check the length field against the type's limit (exact for SC_PAGE). */
static const char *check_length(unsigned type, uint32_t len, uint32_t page_size)
{
	if (type == DSM_MSG_SC_PAGE)
		return len == page_size ? NULL : "SC_PAGE length is not the page size";
	if (len > dsm__msg_max_len(type, page_size))
		return "length too large for the message type";
	return NULL;
}

/* Validate the fixed fields of a raw header; NULL when they are fine. */
static const char *check_fields(const struct dsm_wire_hdr *w,
				const struct dsm_msg_check *chk)
{
	unsigned type = be16toh(w->type);
	uint32_t src = be32toh(w->src);

	if (be32toh(w->magic) != DSM_WIRE_MAGIC)
		return "bad magic";
	if (be16toh(w->version) != DSM_WIRE_VERSION)
		return "unsupported wire version";
	if (!type_valid(type))
		return "unknown message type";
	if (w->reserved != 0)
		return "reserved field not zero";
	const char *why = check_length(type, be32toh(w->length), chk->page_size);
	if (why)
		return why;
	if (src >= chk->node_count)
		return "source node id out of range";
	if (chk->expect_src >= 0 && src != (uint32_t)chk->expect_src)
		return "unexpected source node id";
	if (chk->expect_seq != 0 && be32toh(w->seq) != chk->expect_seq)
		return "unexpected sequence number";
	return NULL;
}

/* Decode and validate a header. On success fills every field of m except
 * payload and returns 0; otherwise returns DSM_EPROTO with *why naming the
 * first bad field (a static string) and leaves m untouched. */
int dsm__msg_decode_hdr(const unsigned char in[DSM_WIRE_HDR_SIZE],
			const struct dsm_msg_check *chk, struct dsm_msg *m,
			const char **why)
{
	struct dsm_wire_hdr w;
	const char *bad;

	memcpy(&w, in, sizeof(w));
	bad = check_fields(&w, chk);
	if (bad) {
		if (why)
			*why = bad;
		return DSM_EPROTO;
	}
	m->type = be16toh(w.type);
	m->length = be32toh(w.length);
	m->src = be32toh(w.src);
	m->seq = be32toh(w.seq);
	m->arg[0] = be64toh(w.arg0);
	m->arg[1] = be64toh(w.arg1);
	m->arg[2] = be64toh(w.arg2);
	return 0;
}

/* Big-endian stores and loads at byte offsets (no alignment assumed). */
static void put32(unsigned char *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return be64toh(v);
}

/* Encode a HELLO payload into out. Returns the encoded size, or 0 when cap
 * is too small. listen_host is copied up to its first NUL and always
 * terminated on the wire. */
size_t dsm__hello_encode(const struct dsm_hello *h, unsigned char *out, size_t cap)
{
	uint16_t port = htobe16(h->listen_port);
	size_t host_len = strnlen(h->listen_host, sizeof(h->listen_host) - 1);

	if (cap < DSM_HELLO_WIRE_SIZE)
		return 0;
	memset(out, 0, DSM_HELLO_WIRE_SIZE);
	put32(out + HELLO_OFF_ID, h->node_id);
	put32(out + HELLO_OFF_COUNT, h->node_count);
	put32(out + HELLO_OFF_PAGE, h->page_size);
	put32(out + HELLO_OFF_VERSION, h->wire_version);
	put64(out + HELLO_OFF_HEAP, h->heap_size);
	memcpy(out + HELLO_OFF_SECRET, h->secret, DSM_SECRET_LEN);
	memcpy(out + HELLO_OFF_PORT, &port, 2);
	memcpy(out + HELLO_OFF_HOST, h->listen_host, host_len);
	put32(out + HELLO_OFF_ARCH, h->arch);
	return DSM_HELLO_WIRE_SIZE;
}

/* Decode a HELLO payload of exactly DSM_HELLO_WIRE_SIZE bytes whose host
 * field is NUL-terminated. Returns 0 or DSM_EPROTO with *why. */
int dsm__hello_decode(const unsigned char *in, size_t len, struct dsm_hello *h,
		      const char **why)
{
	uint16_t port;

	if (len != DSM_HELLO_WIRE_SIZE) {
		*why = "bad HELLO payload length";
		return DSM_EPROTO;
	}
	if (memchr(in + HELLO_OFF_HOST, '\0', sizeof(h->listen_host)) == NULL) {
		*why = "HELLO listen host not NUL-terminated";
		return DSM_EPROTO;
	}
	memset(h, 0, sizeof(*h));
	h->node_id = get32(in + HELLO_OFF_ID);
	h->node_count = get32(in + HELLO_OFF_COUNT);
	h->page_size = get32(in + HELLO_OFF_PAGE);
	h->wire_version = get32(in + HELLO_OFF_VERSION);
	h->heap_size = get64(in + HELLO_OFF_HEAP);
	memcpy(h->secret, in + HELLO_OFF_SECRET, DSM_SECRET_LEN);
	memcpy(&port, in + HELLO_OFF_PORT, 2);
	h->listen_port = be16toh(port);
	memcpy(h->listen_host, in + HELLO_OFF_HOST, sizeof(h->listen_host));
	h->arch = get32(in + HELLO_OFF_ARCH);
	return 0;
}

/* Compare two secrets in time independent of where they differ, so a
 * remote prober learns nothing from response timing. */
static int secret_equal(const uint8_t *a, const uint8_t *b)
{
	volatile uint8_t acc = 0;

	for (size_t i = 0; i < DSM_SECRET_LEN; i++)
		acc |= a[i] ^ b[i];
	return acc == 0;
}

/* Check a peer's HELLO against our parameters: same wire version, job
 * secret, node count, page size and heap size, an id inside the job, and
 * the same word size and alignment rules (the byte order may differ: a
 * mixed job converts typed pages, src/hetero). Returns 0 or DSM_EPROTO with *why naming the mismatch. */
int dsm__hello_check(const struct dsm_hello *mine, const struct dsm_hello *theirs,
		     const char **why)
{
	const char *bad = NULL;

	if (theirs->wire_version != mine->wire_version)
		bad = "wire version mismatch";
	else if (!secret_equal(mine->secret, theirs->secret))
		bad = "wrong job secret";
	else if (theirs->node_count != mine->node_count)
		bad = "node count mismatch";
	else if (theirs->page_size != mine->page_size)
		bad = "page size mismatch";
	else if (theirs->heap_size != mine->heap_size)
		bad = "heap size mismatch";
	else if (theirs->node_id >= mine->node_count)
		bad = "node id out of range";
	else if ((theirs->arch >> 8 & 0xff) != (mine->arch >> 8 & 0xff))
		bad = "word size mismatch (pointers differ in size)";
	else if (theirs->arch >> 16 != mine->arch >> 16)
		bad = "alignment rules mismatch (double or int64_t)";
	else if ((mine->arch & 0xff) &&
		 (theirs->arch & 0xff) != DSM_ARCH_LE && (theirs->arch & 0xff) != DSM_ARCH_BE)
		bad = "unknown byte order";
	if (bad) {
		*why = bad;
		return DSM_EPROTO;
	}
	return 0;
}
