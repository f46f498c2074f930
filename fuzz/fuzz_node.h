/*
 * fuzz_node.h — shared by the protocol fuzz targets: one node of a
 * FUZZ_NODES-node job with a FUZZ_PAGES-page region, mapped once per
 * process at the tests' fixed base, logging nothing (the inputs are
 * refused on purpose).
 */
#ifndef DSM_FUZZ_NODE_H
#define DSM_FUZZ_NODE_H

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/node.h"
#include "core/tsan.h"
#include "vm/vm.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define FUZZ_NODES 4
#define FUZZ_PAGES 64

/* Make n node `id` of the job, with its region, unless already done. */
static inline void fuzz_node_setup(struct dsm_node *n, int id)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	const char *why;

	if (n->region)
		return;
	n->id = id;
	n->count = FUZZ_NODES;
	n->page_size = ps;
	n->cfg.log_level = -1;
	if (dsm__region_init(&n->region, DSM_TEST_FIXED_BASE, FUZZ_PAGES * ps, ps,
			     PROT_READ, &why) != 0)
		abort();
}

#endif /* DSM_FUZZ_NODE_H */
