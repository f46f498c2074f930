/*
 * log.h — the record/replay log format (docs/replay.md, "Log format"):
 * encoding and decoding of records and blocks. A pure module: no node, no
 * I/O; unit-tested (tests/unit/test_replay_log.c) and fuzzed
 * (fuzz/fuzz_replay_log.c).
 *
 * A log is one file per node: an 8-byte magic with the format version,
 * three varints (node id, node count, page size), then blocks. A block is
 * a marker byte, the payload length and an FNV-1a checksum of the payload
 * (both 32-bit little-endian), and the payload: records, each a kind byte,
 * the varint distance of its boundary from the previous record's, and the
 * kind's varint fields (an INPUT record then its bytes).
 */
#ifndef DSM_REPLAY_LOG_H
#define DSM_REPLAY_LOG_H

#include <stddef.h>
#include <stdint.h>

#define DSM_RP_MAGIC "DSMRLOG"   /* 7 bytes, then the version byte */
#define DSM_RP_VERSION 1
#define DSM_RP_BLOCK 0xB7        /* a block starts with this byte */
#define DSM_RP_BLOCK_HDR 9       /* marker, u32 length, u32 checksum */
#define DSM_RP_HDR_MAX (8 + 3 * 10)
#define DSM_RP_REC_MAX (2 + 5 * 10) /* largest record but INPUT's bytes */

/* Record kinds, with the meaning of fields a..d. Kinds do not start at 0. */
#define DSM_RP_KIND_MAP(XX)                                                 \
	XX(TAKE, 1, 4)    /* page, mode, version, from: this node got it */  \
	XX(GIVE, 2, 4)    /* page, mode, version, to: this node served it */ \
	XX(DROP, 3, 2)    /* page, version: this node's read copy dropped */ \
	XX(GRANT, 4, 3)   /* lock, mode, node: this manager granted it */    \
	XX(SYNC, 5, 2)    /* op (DSM_RP_OP_*), id: a synchronisation call */ \
	XX(MALLOC, 6, 2)  /* size, offset: dsm_malloc's result */            \
	XX(INPUT, 7, 1)   /* length, then the bytes: dsm_replay_input */      \
	XX(END, 8, 0)     /* the node finished (dsm_finalize) */          \
	XX(SCHED, 9, 1)   /* thread: it took the node's run token here */

enum dsm_rp_kind {
#define XX(name, num, nf) DSM_RP_##name = num,
	DSM_RP_KIND_MAP(XX)
#undef XX
	DSM_RP_KIND_END_
};

/* SYNC ops */
enum { DSM_RP_OP_BARRIER = 1, DSM_RP_OP_ACQUIRE, DSM_RP_OP_RELEASE,
       DSM_RP_OP_COLLECTIVE, DSM_RP_OP_FREE, DSM_RP_OP_TAPE_RECV };

/* Modes of TAKE/GIVE (sc's MODE_READ/MODE_WRITE). */
/* TAKE/GIVE modes; a GIVE of a read copy of a page the giver holds
 * read-only is marked FREE (READ | FREE): it may happen while the giver's
 * thread computes (docs/replay.md, "Free read copies"). */
enum { DSM_RP_READ = 1, DSM_RP_WRITE = 2, DSM_RP_FREE = 4 };

struct dsm_rp_rec {
	uint8_t kind;              /* enum dsm_rp_kind */
	uint64_t boundary;         /* the node's boundary (docs/replay.md) */
	uint64_t f[4];             /* the kind's fields, unused ones 0 */
	const unsigned char *data; /* INPUT: f[0] bytes, inside the parsed buffer */
	uint64_t order;            /* reader's use: position in the log */
	uint64_t prev;             /* replay's use: order + 1 of the previous
				    * TAKE/GIVE/DROP of the same page, or 0 */
};

struct dsm_rp_header {
	uint32_t node, count, page_size;
};

const char *dsm__rp_kind_name(unsigned kind);

/* Write the file header into out (DSM_RP_HDR_MAX bytes); returns its size. */
size_t dsm__rp_header_encode(unsigned char *out, const struct dsm_rp_header *h);

/* Encode r (without INPUT's bytes, which the caller appends) after a
 * record at boundary prev into out (DSM_RP_REC_MAX bytes); returns the
 * size. Async-signal-safe. */
size_t dsm__rp_rec_encode(unsigned char *out, const struct dsm_rp_rec *r, uint64_t prev);

/* Fill a block header for payload[0..len) into hdr[DSM_RP_BLOCK_HDR]. */
void dsm__rp_block_header(unsigned char *hdr, const unsigned char *payload, uint32_t len);

/*
 * Parse a whole log: the header into *h, then every record in order to
 * fn(arg, rec) (rec->data points into buf). Returns 0 when the log is
 * well formed and ends with END; -ENODATA when it is well formed up to a
 * missing END (a log cut at a block boundary); DSM_EPROTO otherwise, or
 * what fn returned if not 0. On failure *bad is the byte offset of the
 * fault and *why a static text.
 */
int dsm__rp_parse(const unsigned char *buf, size_t len, struct dsm_rp_header *h,
		  int (*fn)(void *arg, const struct dsm_rp_rec *r), void *arg,
		  size_t *bad, const char **why);

#endif /* DSM_REPLAY_LOG_H */
