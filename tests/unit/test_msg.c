/*
 * test_msg.c — the wire codec (src/net/msg.c): header round trips for
 * every message type, rejection of each malformed header field, the HELLO
 * payload codec and the handshake checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dsm.h"
#include "net/net.h"

#define PAGE 4096u
#define COUNT 4u

/* Byte offsets of the header fields on the wire. */
enum { OFF_MAGIC = 0, OFF_VERSION = 4, OFF_TYPE = 6, OFF_LENGTH = 8,
       OFF_SRC = 12, OFF_SEQ = 16, OFF_RESERVED = 20, OFF_ARG0 = 24 };

static const struct dsm_msg_check chk_any = { COUNT, -1, 0, PAGE };

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* A valid encoded header: FREE from node 1, seq 5. */
static void good_hdr(unsigned char out[DSM_WIRE_HDR_SIZE])
{
	struct dsm_msg m = { .type = DSM_MSG_FREE, .src = 1, .seq = 5,
			     .arg = { 1, 2, 3 } };
	dsm__msg_encode_hdr(&m, out);
}

/* Decode must fail with DSM_EPROTO and a why containing `word`. */
static void expect_reject(const unsigned char *h, const struct dsm_msg_check *chk,
			  const char *word)
{
	struct dsm_msg m;
	const char *why = NULL;

	assert_int_equal(dsm__msg_decode_hdr(h, chk, &m, &why), DSM_EPROTO);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

/* Payload length used for the round trip of a type. */
static uint32_t test_len(unsigned type)
{
	uint32_t max = dsm__msg_max_len(type, PAGE);
	return type == DSM_MSG_SC_PAGE ? PAGE : (max < 100 ? max : 100);
}

static void test_roundtrip_every_type(void **state)
{
	(void)state;
	int seen = 0;
	for (unsigned t = 1; t < DSM_MSG_TYPE_MAX_; t++) {
		if (strcmp(dsm__msg_type_name(t), "?") == 0)
			continue;
		struct dsm_msg in = { .type = (uint16_t)t, .src = 3, .seq = 0xfffffffeu,
				      .length = test_len(t),
				      .arg = { ~0ull, 0x0102030405060708ull, t } };
		struct dsm_msg out;
		unsigned char h[DSM_WIRE_HDR_SIZE];
		struct dsm_msg_check chk = { COUNT, 3, 0xfffffffeu, PAGE };
		const char *why = NULL;

		dsm__msg_encode_hdr(&in, h);
		assert_int_equal(dsm__msg_decode_hdr(h, &chk, &out, &why), 0);
		assert_int_equal(out.type, t);
		assert_int_equal(out.src, 3);
		assert_int_equal(out.seq, 0xfffffffeu);
		assert_int_equal(out.length, in.length);
		assert_true(out.arg[0] == in.arg[0] && out.arg[1] == in.arg[1] &&
			    out.arg[2] == in.arg[2]);
		seen++;
	}
	/* every type of the X-macro was seen (the numbering may have gaps) */
#define XX(name, num) +1
	assert_int_equal(seen, 0 DSM_MSG_TYPE_MAP(XX));
#undef XX
}

static void test_wire_layout(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	assert_memory_equal(h + OFF_MAGIC, "DSM1", 4);
	assert_int_equal(h[OFF_VERSION] << 8 | h[OFF_VERSION + 1], DSM_WIRE_VERSION);
	assert_int_equal(h[OFF_TYPE] << 8 | h[OFF_TYPE + 1], DSM_MSG_FREE);
	assert_int_equal(h[OFF_SEQ + 3], 5);
	assert_int_equal(h[OFF_ARG0 + 7], 1);
	for (int i = OFF_RESERVED; i < OFF_RESERVED + 4; i++)
		assert_int_equal(h[i], 0);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(dsm__msg_type_name(DSM_MSG_HELLO), "HELLO");
	assert_string_equal(dsm__msg_type_name(DSM_MSG_SC_PAGE), "SC_PAGE");
	assert_string_equal(dsm__msg_type_name(DSM_MSG_FIN), "FIN");
	assert_string_equal(dsm__msg_type_name(0), "?");
	assert_string_equal(dsm__msg_type_name(DSM_MSG_TYPE_MAX_), "?");
	assert_string_equal(dsm__msg_type_name(60000), "?");
}

static void test_max_len(void **state)
{
	(void)state;
	assert_int_equal(dsm__msg_max_len(DSM_MSG_HELLO, PAGE), 126); /* + u32 arch */
	assert_int_equal(dsm__msg_max_len(DSM_MSG_HEARTBEAT, PAGE), 0);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_SC_INV_ACK, PAGE), 0);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_PEERS, PAGE), DSM_MAX_NODES * 80);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_BCAST, PAGE), 1u << 20);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_STATS, PAGE), 8192);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_LOCK_REQ, PAGE), 4096);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_BAR_RELEASE, PAGE), 64u << 20);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_SC_PAGE, 16384), 16384);
	assert_int_equal(dsm__msg_max_len(DSM_MSG_ABORT, PAGE), 256);
}

static void test_reject_magic(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	h[OFF_MAGIC + 3] ^= 1;
	expect_reject(h, &chk_any, "magic");
}

static void test_reject_version(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	put_be16(h + OFF_VERSION, 7);
	expect_reject(h, &chk_any, "version");
}

static void test_reject_type_zero(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	put_be16(h + OFF_TYPE, 0);
	expect_reject(h, &chk_any, "type");
}

static void test_reject_type_too_big(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	put_be16(h + OFF_TYPE, DSM_MSG_TYPE_MAX_);
	expect_reject(h, &chk_any, "type");
	put_be16(h + OFF_TYPE, 0xffff);
	expect_reject(h, &chk_any, "type");
}

/* Every number below the maximum decodes iff it names a type, so a gap in
 * the numbering would be rejected. */
static void test_reject_type_gap(void **state)
{
	(void)state;
	for (unsigned t = 0; t < DSM_MSG_TYPE_MAX_ + 2; t++) {
		unsigned char h[DSM_WIRE_HDR_SIZE];
		struct dsm_msg m;
		const char *why;
		good_hdr(h);
		put_be16(h + OFF_TYPE, (uint16_t)t);
		int named = strcmp(dsm__msg_type_name(t), "?") != 0;
		if (named)
			put_be32(h + OFF_LENGTH, test_len(t));
		int rc = dsm__msg_decode_hdr(h, &chk_any, &m, &why);
		assert_int_equal(rc, named ? 0 : DSM_EPROTO);
	}
}

static void test_reject_reserved(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	h[OFF_RESERVED + 2] = 0x10;
	expect_reject(h, &chk_any, "reserved");
}

static void test_reject_length(void **state)
{
	(void)state;
	static const struct { uint16_t type; uint32_t len; } bad[] = {
		{ DSM_MSG_HEARTBEAT, 1 },      { DSM_MSG_FREE, 4 * DSM_MAX_NODES + 1 },
		{ DSM_MSG_HELLO, 127 },        { DSM_MSG_ABORT, 257 },
		{ DSM_MSG_BCAST, (1u << 20) + 1 }, { DSM_MSG_LOCK_GRANT, (64u << 20) + 1 },
		{ DSM_MSG_PEERS, DSM_MAX_NODES * 80 + 1 }, { DSM_MSG_STATS, 8193 },
		{ DSM_MSG_LOCK_REQ, 4097 },    { DSM_MSG_FREE, 0xffffffffu },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char h[DSM_WIRE_HDR_SIZE];
		good_hdr(h);
		put_be16(h + OFF_TYPE, bad[i].type);
		put_be32(h + OFF_LENGTH, bad[i].len);
		expect_reject(h, &chk_any, "length");
	}
}

static void test_reject_sc_page_length(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	struct dsm_msg m;
	const char *why;
	good_hdr(h);
	put_be16(h + OFF_TYPE, DSM_MSG_SC_PAGE);
	put_be32(h + OFF_LENGTH, PAGE - 1);
	expect_reject(h, &chk_any, "length");
	put_be32(h + OFF_LENGTH, PAGE + 1);
	expect_reject(h, &chk_any, "length");
	put_be32(h + OFF_LENGTH, 0);
	expect_reject(h, &chk_any, "length");
	put_be32(h + OFF_LENGTH, PAGE);
	assert_int_equal(dsm__msg_decode_hdr(h, &chk_any, &m, &why), 0);
}

static void test_reject_src_out_of_range(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	good_hdr(h);
	put_be32(h + OFF_SRC, COUNT);
	expect_reject(h, &chk_any, "source");
	put_be32(h + OFF_SRC, 0xffffffffu);
	expect_reject(h, &chk_any, "source");
}

static void test_reject_src_unexpected(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	struct dsm_msg m;
	const char *why;
	struct dsm_msg_check chk = { COUNT, 2, 0, PAGE };
	good_hdr(h); /* src 1 */
	expect_reject(h, &chk, "source");
	chk.expect_src = 1;
	assert_int_equal(dsm__msg_decode_hdr(h, &chk, &m, &why), 0);
}

static void test_reject_seq(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	struct dsm_msg m;
	const char *why;
	struct dsm_msg_check chk = { COUNT, 1, 6, PAGE };
	good_hdr(h); /* seq 5 */
	expect_reject(h, &chk, "sequence");
	chk.expect_seq = 5;
	assert_int_equal(dsm__msg_decode_hdr(h, &chk, &m, &why), 0);
	chk.expect_seq = 0; /* unchecked */
	assert_int_equal(dsm__msg_decode_hdr(h, &chk, &m, &why), 0);
}

/* A rejected header leaves the output message untouched. */
static void test_reject_leaves_msg(void **state)
{
	(void)state;
	unsigned char h[DSM_WIRE_HDR_SIZE];
	struct dsm_msg m, before;
	const char *why;
	memset(&m, 0xab, sizeof(m));
	before = m;
	good_hdr(h);
	h[0] = 0;
	assert_int_equal(dsm__msg_decode_hdr(h, &chk_any, &m, &why), DSM_EPROTO);
	assert_memory_equal(&m, &before, sizeof(m));
}

/* ---- HELLO ---- */

static struct dsm_hello sample_hello(void)
{
	struct dsm_hello h;
	memset(&h, 0, sizeof(h));
	h.node_id = 2;
	h.node_count = COUNT;
	h.page_size = PAGE;
	h.wire_version = DSM_WIRE_VERSION;
	h.heap_size = 0x123456789ull;
	for (unsigned i = 0; i < DSM_SECRET_LEN; i++)
		h.secret[i] = (uint8_t)(i * 7 + 1);
	h.listen_port = 54321;
	strcpy(h.listen_host, "fe80::1");
	return h;
}

static void test_hello_roundtrip(void **state)
{
	(void)state;
	struct dsm_hello in = sample_hello(), out;
	unsigned char buf[256];
	const char *why = NULL;
	size_t len = dsm__hello_encode(&in, buf, sizeof(buf));

	assert_int_equal(len, dsm__msg_max_len(DSM_MSG_HELLO, PAGE));
	assert_int_equal(dsm__hello_decode(buf, len, &out, &why), 0);
	assert_int_equal(out.node_id, in.node_id);
	assert_int_equal(out.node_count, in.node_count);
	assert_int_equal(out.page_size, in.page_size);
	assert_int_equal(out.wire_version, in.wire_version);
	assert_true(out.heap_size == in.heap_size);
	assert_memory_equal(out.secret, in.secret, DSM_SECRET_LEN);
	assert_int_equal(out.listen_port, in.listen_port);
	assert_string_equal(out.listen_host, in.listen_host);
	/* the node id is the first big-endian word */
	assert_int_equal(buf[3], 2);
	assert_int_equal(dsm__hello_encode(&in, buf, len - 1), 0);
}

static void test_hello_truncated(void **state)
{
	(void)state;
	struct dsm_hello in = sample_hello(), out;
	unsigned char buf[256];
	const char *why = NULL;
	size_t len = dsm__hello_encode(&in, buf, sizeof(buf));

	assert_int_equal(dsm__hello_decode(buf, len - 1, &out, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "length"));
	assert_int_equal(dsm__hello_decode(buf, 0, &out, &why), DSM_EPROTO);
	assert_int_equal(dsm__hello_decode(buf, len + 1, &out, &why), DSM_EPROTO);
}

static void test_hello_unterminated_host(void **state)
{
	(void)state;
	struct dsm_hello in = sample_hello(), out;
	unsigned char buf[256];
	const char *why = NULL;
	size_t len = dsm__hello_encode(&in, buf, sizeof(buf));

	memset(buf + len - sizeof(in.listen_host), 'A', sizeof(in.listen_host));
	assert_int_equal(dsm__hello_decode(buf, len, &out, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "host"));
}

/* hello_check on a copy of the sample with one field changed. */
static void expect_hello_reject(void (*mutate)(struct dsm_hello *), const char *word)
{
	struct dsm_hello mine = sample_hello(), theirs = sample_hello();
	const char *why = NULL;

	mutate(&theirs);
	assert_int_equal(dsm__hello_check(&mine, &theirs, &why), DSM_EPROTO);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

static void m_secret(struct dsm_hello *h) { h->secret[DSM_SECRET_LEN - 1] ^= 0x80; }
static void m_version(struct dsm_hello *h) { h->wire_version++; }
static void m_page(struct dsm_hello *h) { h->page_size = 16384; }
static void m_count(struct dsm_hello *h) { h->node_count = COUNT + 1; }
static void m_heap(struct dsm_hello *h) { h->heap_size++; }
static void m_id(struct dsm_hello *h) { h->node_id = COUNT; }

static void test_hello_check_ok(void **state)
{
	(void)state;
	struct dsm_hello mine = sample_hello(), theirs = sample_hello();
	const char *why = NULL;
	theirs.node_id = COUNT - 1;
	theirs.listen_port = 1;
	assert_int_equal(dsm__hello_check(&mine, &theirs, &why), 0);
}

static void test_hello_check_secret(void **state)
{
	(void)state;
	expect_hello_reject(m_secret, "secret");
}
static void test_hello_check_version(void **state)
{
	(void)state;
	expect_hello_reject(m_version, "version");
}
static void test_hello_check_page(void **state)
{
	(void)state;
	expect_hello_reject(m_page, "page size");
}
static void test_hello_check_count(void **state)
{
	(void)state;
	expect_hello_reject(m_count, "node count");
}
static void test_hello_check_heap(void **state)
{
	(void)state;
	expect_hello_reject(m_heap, "heap size");
}
static void test_hello_check_id(void **state)
{
	(void)state;
	expect_hello_reject(m_id, "node id");
}

/* The arch word (src/hetero): it round-trips; another byte order is
 * accepted (a mixed job), another word size or alignment is refused. */
static void test_hello_arch(void **state)
{
	struct dsm_hello mine = sample_hello(), theirs, out;
	unsigned char buf[256];
	const char *why = NULL;

	(void)state;
	mine.arch = DSM_ARCH_LE | 8u << 8 | 8u << 16 | 8u << 24;
	theirs = mine;
	theirs.arch = DSM_ARCH_BE | 8u << 8 | 8u << 16 | 8u << 24;
	assert_int_equal(dsm__hello_encode(&theirs, buf, sizeof(buf)), 126);
	assert_int_equal(dsm__hello_decode(buf, 126, &out, &why), 0);
	assert_int_equal(out.arch, theirs.arch);
	assert_int_equal(buf[125], DSM_ARCH_BE); /* big-endian u32 */
	assert_int_equal(dsm__hello_check(&mine, &out, &why), 0);
	theirs.arch = DSM_ARCH_BE | 4u << 8 | 8u << 16 | 8u << 24;
	assert_int_equal(dsm__hello_check(&mine, &theirs, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "word size"));
	theirs.arch = DSM_ARCH_LE | 8u << 8 | 4u << 16 | 8u << 24;
	assert_int_equal(dsm__hello_check(&mine, &theirs, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "alignment"));
	theirs.arch = 3u | 8u << 8 | 8u << 16 | 8u << 24;
	assert_int_equal(dsm__hello_check(&mine, &theirs, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "byte order"));
	assert_true((DSM_ARCH_SELF & 0xff) == DSM_ARCH_LE || (DSM_ARCH_SELF & 0xff) == DSM_ARCH_BE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_hello_arch),
		cmocka_unit_test(test_wire_layout),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_max_len),
		cmocka_unit_test(test_reject_magic),
		cmocka_unit_test(test_reject_version),
		cmocka_unit_test(test_reject_type_zero),
		cmocka_unit_test(test_reject_type_too_big),
		cmocka_unit_test(test_reject_type_gap),
		cmocka_unit_test(test_reject_reserved),
		cmocka_unit_test(test_reject_length),
		cmocka_unit_test(test_reject_sc_page_length),
		cmocka_unit_test(test_reject_src_out_of_range),
		cmocka_unit_test(test_reject_src_unexpected),
		cmocka_unit_test(test_reject_seq),
		cmocka_unit_test(test_reject_leaves_msg),
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_hello_truncated),
		cmocka_unit_test(test_hello_unterminated_host),
		cmocka_unit_test(test_hello_check_ok),
		cmocka_unit_test(test_hello_check_secret),
		cmocka_unit_test(test_hello_check_version),
		cmocka_unit_test(test_hello_check_page),
		cmocka_unit_test(test_hello_check_count),
		cmocka_unit_test(test_hello_check_heap),
		cmocka_unit_test(test_hello_check_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
