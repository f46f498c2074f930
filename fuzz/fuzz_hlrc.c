/*
 * fuzz_hlrc.c — hlrc's interval-record parser (dsm__hlrc_learn in
 * src/proto/hlrc_iv.c): records of {creator, id, npages, {page, home}...}
 * arrive in lock grants' interval replies and in barrier releases.
 *
 * One node (id 1) of a 4-node job with a 64-page region (mapped once) and
 * a fresh hlrc state per input; the input is the record stream. Nothing
 * is written here, so no page is dirty and learning never sends.
 * Properties (besides ASan/UBSan): the result is 0 or DSM_EPROTO, the
 * known vector timestamp only grows, and this node's own entry never
 * changes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h"
#include "fuzz_node.h"
#include "proto/hlrc.h"
#include "proto/proto.h"
#include "vm/vm.h"

static struct dsm_node node;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t vc0[DSM_MAX_NODES];
	struct hlrc_state *st;
	int err;

	fuzz_node_setup(&node, 1);
	CHECK(dsm__proto_hlrc.init(&node) == 0);
	st = HS(&node);
	memcpy(vc0, st->vc, sizeof(vc0));
	err = dsm__hlrc_learn(&node, data, size);
	CHECK(err == 0 || err == DSM_EPROTO);
	for (int k = 0; k < FUZZ_NODES; k++)
		CHECK(st->vc[k] >= vc0[k]);
	CHECK(st->vc[node.id] == vc0[node.id]);
	dsm__proto_hlrc.fini(&node);
	/* page entries back to "not initialised yet" */
	memset(node.region->pages, 0, FUZZ_PAGES * sizeof(*node.region->pages));
	return 0;
}
