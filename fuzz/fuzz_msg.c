/*
 * fuzz_msg.c — the wire decoder (src/net/msg.c): a message header under
 * validation contexts taken from the input, then a HELLO payload and the
 * handshake check against a fixed local HELLO.
 *
 * Input: 4 bytes choosing the context (node count, expected source,
 * expected sequence, page size), 48 header bytes, then the HELLO payload.
 * Properties: a decoded header re-encodes to the same bytes (decoding
 * checks every field, so the encoding is canonical); a decoded HELLO
 * re-encodes to the same fields; the handshake check never accepts a
 * HELLO whose secret, count, page size, heap or version differ.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "net/internal.h"
#include "net/net.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void fuzz_hdr(const uint8_t *ctx, const uint8_t *in)
{
	struct dsm_msg_check chk = {
		.node_count = (uint32_t)(ctx[0] % (DSM_MAX_NODES + 1)),
		.expect_src = ctx[1] & 0x80 ? -1 : (int32_t)(ctx[1] % DSM_MAX_NODES),
		.expect_seq = ctx[2] & 0x80 ? 0 : ctx[2],
		.page_size = (uint32_t)1 << (ctx[3] % 17),
	};
	struct dsm_msg m, m2;
	unsigned char out[DSM_WIRE_HDR_SIZE];
	const char *why = NULL;

	memset(&m, 0xA5, sizeof(m));
	if (dsm__msg_decode_hdr(in, &chk, &m, &why) != 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(m.src < chk.node_count);
	CHECK(m.length <= dsm__msg_max_len(m.type, chk.page_size));
	CHECK(dsm__msg_type_name(m.type)[0] != '?');
	dsm__msg_encode_hdr(&m, out);
	CHECK(memcmp(out, in, DSM_WIRE_HDR_SIZE) == 0);
	CHECK(dsm__msg_decode_hdr(out, &chk, &m2, &why) == 0);
	CHECK(m2.type == m.type && m2.length == m.length && m2.src == m.src &&
	      m2.seq == m.seq && !memcmp(m2.arg, m.arg, sizeof(m.arg)));
}

static void fuzz_hello(const uint8_t *in, size_t len)
{
	struct dsm_hello mine = { .node_id = 0, .node_count = 4, .page_size = 4096,
				  .wire_version = DSM_WIRE_VERSION,
				  .heap_size = 1u << 30, .listen_port = 7000 };
	struct dsm_hello h, h2;
	unsigned char out[DSM_HELLO_WIRE_SIZE];
	const char *why = NULL;

	memset(mine.secret, 0x5A, sizeof(mine.secret));
	if (dsm__hello_decode(in, len, &h, &why) != 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(memchr(h.listen_host, '\0', sizeof(h.listen_host)) != NULL);
	CHECK(dsm__hello_encode(&h, out, sizeof(out)) == DSM_HELLO_WIRE_SIZE);
	CHECK(dsm__hello_decode(out, sizeof(out), &h2, &why) == 0);
	CHECK(h2.node_id == h.node_id && h2.node_count == h.node_count &&
	      h2.page_size == h.page_size && h2.heap_size == h.heap_size &&
	      h2.wire_version == h.wire_version && h2.listen_port == h.listen_port &&
	      !memcmp(h2.secret, h.secret, sizeof(h.secret)) &&
	      !strcmp(h2.listen_host, h.listen_host) && h2.arch == h.arch);
	if (dsm__hello_check(&mine, &h, &why) == 0)
		CHECK(h.wire_version == mine.wire_version &&
		      !memcmp(h.secret, mine.secret, sizeof(h.secret)) &&
		      h.node_count == mine.node_count && h.page_size == mine.page_size &&
		      h.heap_size == mine.heap_size && h.node_id < mine.node_count);
	else
		CHECK(why != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 + DSM_WIRE_HDR_SIZE)
		return 0;
	fuzz_hdr(data, data + 4);
	fuzz_hello(data + 4 + DSM_WIRE_HDR_SIZE, size - 4 - DSM_WIRE_HDR_SIZE);
	return 0;
}
