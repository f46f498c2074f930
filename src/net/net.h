/*
 * net.h — wire messages and the transport interface (src/net).
 *
 * Every message is a fixed 48-byte header in network byte order followed by
 * `length` payload bytes. The codec (msg.c) is pure: it encodes/decodes and
 * validates headers and handshake payloads and knows nothing about sockets.
 * A transport (tcp.c, mpi.c) fills struct dsm_transport_ops.
 */
#ifndef DSM_NET_H
#define DSM_NET_H

#include <stddef.h>
#include <stdint.h>

struct dsm_node;

#define DSM_WIRE_MAGIC   0x44534d31u /* "DSM1" */
#define DSM_WIRE_VERSION 1u
#define DSM_WIRE_HDR_SIZE 48u
#define DSM_SECRET_LEN   32u  /* bytes of the job secret on the wire */
#define DSM_MAX_NODES    64   /* copysets are 64-bit masks */
#define DSM_HLRC_RUN_MAX 128  /* pages in one HLRC_PAGE run (hlrc.c) */

/*
 * Message types with their numbers (never 0) — one X-macro generates the
 * enum and the name table. Max type must stay < DSM_STATS_MSG_TYPES (48).
 * Columns: name, number, max payload kind (see dsm__msg_max_len()).
 */
#define DSM_MSG_TYPE_MAP(XX)                                                  \
	XX(HELLO, 1)       /* handshake: struct dsm_hello payload */          \
	XX(HELLO_ACK, 2)   /* handshake accepted; arg0 = acceptor id */        \
	XX(PEERS, 3)       /* coordinator -> node: peer address table */       \
	XX(HEARTBEAT, 4)   /* liveness when a link is otherwise idle */       \
	XX(BYE, 5)         /* orderly close follows */                         \
	XX(ALLOC_REQ, 6)   /* arg0 = size, arg1 = request token */             \
	XX(ALLOC_REP, 7)   /* arg0 = offset or ~0, arg1 = token, arg2 = err;  \
			      payload = what to acquire (vector timestamp) */ \
	XX(FREE, 8)        /* arg0 = offset; payload = the release's vc */    \
	XX(BCAST, 9)       /* arg0 = collective seq, arg1 = offset, arg2 = total; payload = chunk */ \
	XX(STATS, 10)      /* payload = struct dsm_stats as 64-bit BE words */ \
	XX(LOCK_REQ, 11)   /* arg0 = lock, arg1 = mode, arg2 = token */        \
	XX(LOCK_GRANT, 12) /* arg0 = lock, arg1 = mode, arg2 = token; payload = protocol data */ \
	XX(LOCK_REL, 13)   /* arg0 = lock, arg1 = mode; payload = protocol data */ \
	XX(BAR_ARRIVE, 14) /* arg0 = barrier, arg1 = epoch; payload = protocol data */ \
	XX(BAR_RELEASE, 15) /* arg0 = barrier, arg1 = epoch; payload = protocol data */ \
	XX(SC_READ_REQ, 16) /* arg0 = page, arg1 = requester */                \
	XX(SC_WRITE_REQ, 17) /* arg0 = page, arg1 = requester */               \
	XX(SC_PAGE, 18)    /* arg0 = page, arg1 = mode, arg2 = copyset; payload = page */ \
	XX(SC_INV, 19)     /* arg0 = page, arg1 = new owner */                 \
	XX(SC_INV_ACK, 20) /* arg0 = page */                                   \
	XX(ABORT, 21)      /* arg0 = failed node; payload = reason text */     \
	XX(FIN, 22)        /* finalize step: arg0 = phase */                  \
	XX(LRC_DIFF_REQ, 23) /* arg0 = page, arg1 = after interval, arg2 = up to interval */ \
	XX(LRC_DIFF_REP, 24) /* arg0 = page; payload = {u32 interval, u32 len, diff}... */ \
	XX(LRC_INTV_REQ, 25) /* arg0 = after interval, arg1 = up to, arg2 = token */ \
	XX(LRC_INTV_REP, 26) /* arg2 = token; payload = interval records */ \
	XX(NACK, 27)       /* request rejected: arg0 = its type, arg1 = error (negative, two's complement), arg2 = its token/page/id; payload = reason text */ \
	XX(HLRC_DIFF, 28)  /* arg0 = token; payload = {u32 page, u32 len, diff}... */ \
	XX(HLRC_ACK, 29)   /* arg0 = token, arg1 = error (two's complement), arg2 = redirects << 32 | migrations; payload = {u32 page, u32 home|gen<<16}..., {u32 page, u32 gen, page}... */ \
	XX(HLRC_PAGE_REQ, 30) /* arg0 = page, arg1 = pages from it, arg2 = 1: answer by reference (vm/peermem.h) */ \
	XX(HLRC_PAGE, 31)  /* arg0 = page; payload = the page, or arg1 = 1: moved to arg2 = home|gen<<16, or arg1 = 2: payload = pages from arg0, or arg1 = 3: arg2 pages from arg0 in the sender's region */ \
	XX(HLRC_CLAIM, 32) /* arg0 = token; payload = u32 pages to be home of */ \
	XX(HLRC_CLAIM_REP, 33) /* arg0 = token; payload = u32 home|gen<<16 per page */ \
	XX(HLRC_INTV_REQ, 34) /* arg0 = after interval, arg1 = up to, arg2 = token */ \
	XX(HLRC_INTV_REP, 35) /* arg2 = token; payload = interval records */ \
	XX(TAPE_REQ, 36)   /* arg0 = token, arg1 = slot | track << 31; payload = u32 pages (src/tape) */ \
	XX(TAPE_REP, 37)   /* arg0 = token, arg1 = as asked; payload = {u32 page, u32 what, u32 home|gen<<16, page?}... */ \
	XX(TAPE_SEND, 38)  /* arg0 = tag; payload = a tape (dsm_tape_send) */ \
	XX(TAPE_PUSH, 39)  /* arg0 = pages; payload = u32 vc[count], {u32 page, page}... (src/tape/push.c) */ \
	XX(LRC_PAGE_REQ, 40) /* arg0 = page: send the whole page */            \
	XX(LRC_PAGE_REP, 41) /* arg0 = page; payload = the page */             \
	XX(EC_LOCK_REQ, 42) /* arg0 = lock, arg1 = mode | node << 8, arg2 = token; payload = u64 time seen */ \
	XX(EC_LOCK_GRANT, 43) /* arg0 = lock, arg1 = mode | flags, arg2 = token; payload = src/proto/ec_lock.c */ \
	XX(EC_LOCK_REL, 44) /* arg0 = lock (a shared hold ends); payload = protocol data */ \
	XX(TAPE_UNSUB, 45) /* no args: stop pushing to the sender (src/tape/push.c) */ \
	XX(TYPE_NOTE, 46)  /* arg0 = token, arg1 = first page | type << 32, arg2 = bytes of objects; payload = u64 layout fingerprint (src/hetero) */ \
	XX(TYPE_ACK, 47)   /* arg0 = token */

enum dsm_msg_type {
#define XX(name, num) DSM_MSG_##name = num,
	DSM_MSG_TYPE_MAP(XX)
#undef XX
	DSM_MSG_TYPE_MAX_ = 48 /* one past the highest type (<= DSM_STATS_MSG_TYPES) */
};

/* Host form of a message. payload points to `length` bytes: when decoded by
 * a transport it is owned by the transport and valid only during dispatch. */
struct dsm_msg {
	uint16_t type;
	uint32_t src;
	uint32_t seq;
	uint32_t length;
	uint64_t arg[3];
	const void *payload;
};

/* Validation context for dsm__msg_decode_hdr(). */
struct dsm_msg_check {
	uint32_t node_count;   /* src must be < node_count */
	int32_t  expect_src;   /* required src, or -1 for any */
	uint32_t expect_seq;   /* required seq, or 0 to skip the check */
	uint32_t page_size;    /* exact length of SC_PAGE payloads */
};

/* Handshake payload (HELLO). */
struct dsm_hello {
	uint32_t node_id;
	uint32_t node_count;
	uint32_t page_size;
	uint32_t wire_version;
	uint64_t heap_size;
	uint8_t  secret[DSM_SECRET_LEN];
	uint16_t listen_port;  /* the sender's listening port, host order */
	char     listen_host[64]; /* NUL-terminated numeric address */
	uint32_t arch;         /* DSM_ARCH_*: byte order | word size << 8 |
				* alignof(double) << 16 | alignof(int64_t) << 24 */
};

/* Byte orders in the low byte of dsm_hello.arch (and of the PEERS table);
 * nodes of both may be in one job (src/hetero: typed pages converted). */
#define DSM_ARCH_LE 1u
#define DSM_ARCH_BE 2u
/* This machine's arch word. */
#define DSM_ARCH_SELF                                                          \
	((__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? DSM_ARCH_BE : DSM_ARCH_LE) |   \
	 (uint32_t)sizeof(void *) << 8 | (uint32_t)_Alignof(double) << 16 |       \
	 (uint32_t)_Alignof(int64_t) << 24)

const char *dsm__msg_type_name(unsigned type);
/* Largest payload allowed for a type (page_size used for SC_PAGE). */
uint32_t dsm__msg_max_len(unsigned type, uint32_t page_size);
void dsm__msg_encode_hdr(const struct dsm_msg *m, unsigned char out[DSM_WIRE_HDR_SIZE]);
/* Decode and validate; on error returns DSM_EPROTO and sets *why to a
 * static string naming the bad field. Does not touch m->payload. */
int dsm__msg_decode_hdr(const unsigned char in[DSM_WIRE_HDR_SIZE],
			const struct dsm_msg_check *chk, struct dsm_msg *m,
			const char **why);
/* HELLO payload codec; decode returns DSM_EPROTO with *why on bad input. */
size_t dsm__hello_encode(const struct dsm_hello *h, unsigned char *out, size_t cap);
int dsm__hello_decode(const unsigned char *in, size_t len, struct dsm_hello *h,
		      const char **why);
/* Check a decoded HELLO against our own parameters; DSM_EPROTO + *why. */
int dsm__hello_check(const struct dsm_hello *mine, const struct dsm_hello *theirs,
		     const char **why);

/*
 * Transport. All functions take the node; the transport keeps its own state
 * in node->tp_state. Received messages are passed to dsm__dispatch() (core)
 * from within poll(). A lost peer is reported with dsm__peer_lost().
 */
struct dsm_transport_ops {
	const char *name;
	/* Optional, called first in dsm_init, before the region and anything
	 * that uses the node id or count: a transport whose launcher assigns
	 * them (MPI ranks) sets n->cfg.node_id/node_count here. May leave
	 * state in n->tp_state (close() frees it, also on failure). */
	int (*setup)(struct dsm_node *n);
	/* Connect to every peer and run the handshake. Called once from
	 * dsm_init before the service thread starts. */
	int (*init)(struct dsm_node *n);
	/* Send one message to node dst (!= self). Thread-safe, may be called
	 * from the SIGSEGV handler (no malloc). Blocks until the bytes are
	 * handed to the kernel. m->payload/m->length give the payload. */
	int (*send)(struct dsm_node *n, int dst, const struct dsm_msg *m);
	/* Wait up to timeout_ms for traffic, dispatch every complete message,
	 * accept and vet foreign connections. Only the service thread calls it. */
	int (*poll)(struct dsm_node *n, int timeout_ms);
	/* Make a blocked poll() return soon (async-signal-safe). */
	void (*wake)(struct dsm_node *n);
	/* Optional: an application thread that spins for a reply (not in a
	 * signal handler, holding no libdsm lock) makes one round of the service thread's progress itself,
	 * if no other thread is doing so right now: it then receives its
	 * reply without a hand-off between threads. Returns nonzero if a
	 * message moved. */
	int (*assist)(struct dsm_node *n);
	/* Nonzero: poll() has no descriptor to sleep on (MPI): traffic is
	 * noticed only by polling, so a thread waiting for a reply polls
	 * until it comes (wait.c), as a blocking MPI call does, and the
	 * service thread polls while a thread of its node waits for a page
	 * or in a barrier (init.c). */
	int must_poll;
	/* Close every link and free the state. */
	void (*close)(struct dsm_node *n);
};

extern const struct dsm_transport_ops dsm__transport_tcp;
/* mpi.c, or mpi_none.c (refuses to start) when built without MPI. */
extern const struct dsm_transport_ops dsm__transport_mpi;

#endif /* DSM_NET_H */
