/*
 * fuzz_proto.c — the payload parsers every protocol runs at a lock or
 * barrier manager, on data from other nodes: lock_merge/lock_grant (a
 * release's payload folded into the lock's blob) and barrier_collect/
 * barrier_release/barrier_done (every node's arrival folded in, then each
 * node's release built from them).
 *
 * Input: 1 byte choosing the protocol (registry order: sc, lrc, hlrc),
 * then up to 4 arrival payloads, each a 2-byte little-endian length and
 * that many bytes. Node 0 of a 4-node job is the manager. Properties
 * (besides ASan/UBSan): every hook returns 0, DSM_EPROTO or -ENOMEM, and
 * what the manager builds is well formed enough to be built again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h"
#include "fuzz_node.h"
#include "proto/proto.h"
#include "vm/vm.h"

static struct dsm_node node;

static int ok(int err)
{
	return err == 0 || err == DSM_EPROTO || err == -ENOMEM;
}

static void run(const struct dsm_protocol_ops *ops, const uint8_t **part,
		const size_t *len, int nparts)
{
	void *blob = NULL, *bar = NULL;
	int bad = 0;

	if (ops->lock_merge) {
		for (int k = 0; k < nparts; k++)
			CHECK(ok(ops->lock_merge(&node, &blob, part[k], len[k])));
		if (ops->lock_grant) {
			struct dsm_buf out = { 0 };
			CHECK(ok(ops->lock_grant(&node, blob, &out)));
			dsm__buf_free(&out);
		}
		if (blob && ops->lock_free)
			ops->lock_free(blob);
	}
	if (ops->barrier_collect && ops->barrier_release) {
		for (int k = 0; k < nparts; k++) {
			int err = ops->barrier_collect(&node, 1, k, part[k], len[k], &bar);
			CHECK(ok(err));
			bad |= err != 0;
		}
		for (int k = 0; !bad && bar && k < nparts; k++) {
			struct dsm_buf out = { 0 };
			CHECK(ok(ops->barrier_release(&node, 1, k, bar, &out)));
			dsm__buf_free(&out);
		}
		if (ops->barrier_done)
			ops->barrier_done(&node, bar);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dsm_protocol_ops *const protos[] = {
		&dsm__proto_sc, &dsm__proto_lrc, &dsm__proto_hlrc
	};
	const struct dsm_protocol_ops *ops;
	const uint8_t *part[FUZZ_NODES];
	size_t len[FUZZ_NODES];
	int nparts = 0;

	if (size < 1)
		return 0;
	ops = protos[data[0] % 3];
	data++, size--;
	while (nparts < FUZZ_NODES && size >= 2) {
		size_t l = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2, size -= 2;
		if (l > size)
			l = size;
		part[nparts] = data;
		len[nparts++] = l;
		data += l, size -= l;
	}
	fuzz_node_setup(&node, 0);
	CHECK(ops->init(&node) == 0);
	run(ops, part, len, nparts);
	ops->fini(&node);
	memset(node.region->pages, 0, FUZZ_PAGES * sizeof(*node.region->pages));
	return 0;
}
