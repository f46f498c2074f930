/*
 * fuzz_lock.c — the lock messages a node handles from its peers
 * (dsm__lock_handle in src/sync/lock.c and lock_token.c): requests,
 * grants (plain and token grants with runs), releases, token returns
 * (DSM_REL_RUN) and revokes, in any order and from any node.
 *
 * Node 1 of a 4-node job (the manager of locks 1, 5, 9, ...) with fresh
 * sync state per input, vector-timestamp lock payloads (hlrc's and lrc's
 * hooks) and a transport that takes every message it sends. Input: up to
 * 64 messages, each {u8 type (0 request, 1 grant, 2 release, else
 * revoke), u8 source node, u8 lock id (0..255), u8 arg1 flags byte, u8
 * arg2, u16 payload length (little-endian), payload}. Properties
 * (besides ASan/UBSan): every message returns 0, DSM_EPROTO or -ENOMEM;
 * afterwards no lock this node manages is both away as a token and held
 * here, and no token is away at this node itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "core/node.h"
#include "fuzz_node.h"
#include "net/net.h"
#include "proto/internal.h"
#include "proto/proto.h"
#include "sync/sync.h"

static struct dsm_node node;

static int take(struct dsm_node *n, int dst, const struct dsm_msg *m)
{
	(void)n;
	(void)dst;
	(void)m;
	return 0;
}

static const struct dsm_transport_ops tp = { .send = take };
static const struct dsm_protocol_ops proto = {
	.name = "fuzz",
	.lock_merge = dsm__proto_vc_lock_merge,
	.lock_grant = dsm__proto_vc_lock_grant,
	.lock_free = free,
};

static int check_mgr(void *obj, void *arg)
{
	const struct lock_mgr *l = obj;

	(void)arg;
	CHECK(l->at >= 0 && l->at <= FUZZ_NODES && l->at != node.id + 1);
	CHECK(!(l->at && (l->excl || l->shared)));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DSM_MSG_LOCK_REQ, DSM_MSG_LOCK_GRANT,
					  DSM_MSG_LOCK_REL };
	size_t off = 0;

	fuzz_node_setup(&node, 1);
	node.tp = &tp;
	node.proto = &proto;
	node.cfg.lock_ahead = 4;
	CHECK(dsm__sync_init(&node) == 0);
	for (int k = 0; k < 64 && size - off >= 7; k++) {
		const uint8_t *h = data + off;
		size_t len = (size_t)h[5] | (size_t)h[6] << 8;
		struct dsm_msg m = { 0 };
		int err;
		if (len > size - off - 7)
			len = size - off - 7;
		m.type = h[0] < 3 ? types[h[0]] : DSM_MSG_LOCK_REQ;
		m.src = h[1] % FUZZ_NODES;
		m.arg[0] = h[2];
		m.arg[1] = (uint64_t)(h[3] & 3) | (uint64_t)(h[3] >> 2) << 8;
		if (h[0] >= 3)
			m.arg[1] = DSM_LOCK_EXCL | DSM_LOCK_REVOKE;
		m.arg[2] = h[4];
		m.length = (uint32_t)len;
		m.payload = h + 7;
		if (m.src == (uint32_t)node.id)
			m.src = 0;
		err = dsm__lock_handle(&node, &m);
		CHECK(err == 0 || err == DSM_EPROTO || err == -ENOMEM);
		off += 7 + len;
	}
	pthread_mutex_lock(&node.sync->mu);
	dsm__sync_each(&node.sync->mgr, check_mgr, NULL);
	pthread_mutex_unlock(&node.sync->mu);
	dsm__sync_fini(&node);
	return 0;
}
