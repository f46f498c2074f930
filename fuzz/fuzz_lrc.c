/*
 * fuzz_lrc.c — lrc's interval-record parser (dsm__lrc_learn in
 * src/proto/lrc_iv.c): records arrive in lock grants' interval replies and
 * in barrier releases, from peers.
 *
 * One node of a 4-node job with a 64-page region (mapped once) and a fresh
 * lrc state per input; the input is the record stream. Properties (besides
 * ASan/UBSan): a malformed stream is refused with DSM_EPROTO, the known
 * vector timestamp only grows, never past an id the input named, and this
 * node's own entry never changes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h"
#include "fuzz_node.h"
#include "proto/lrc.h"
#include "vm/vm.h"

static struct dsm_node node;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t vc0[DSM_MAX_NODES];
	struct lrc_state *st;
	int err;

	fuzz_node_setup(&node, 1);
	CHECK(dsm__lrc_init(&node) == 0);
	st = LS(&node);
	memcpy(vc0, st->vc, sizeof(vc0));
	err = dsm__lrc_learn(&node, data, size);
	CHECK(err == 0 || err == DSM_EPROTO);
	for (int k = 0; k < FUZZ_NODES; k++)
		CHECK(st->vc[k] >= vc0[k]);
	CHECK(st->vc[node.id] == vc0[node.id]);
	dsm__lrc_fini(&node);
	/* page entries back to "not initialised yet" (dsm__lrc_pg) */
	memset(node.region->pages, 0, FUZZ_PAGES * sizeof(*node.region->pages));
	return 0;
}
