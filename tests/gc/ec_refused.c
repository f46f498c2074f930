/* ec_refused.c — under ec, dsm_gc_init refuses with -ENOTSUP and the
 * other calls report that the collector is not set up (docs/gc.md). */
#define MN_PROG "gc_ec_refused"
#include <errno.h>

#include "../mn/mn_util.h"
#include "dsm_gc.h"

int main(int argc, char **argv)
{
	int err = dsm_init(&argc, &argv);

	if (err)
		DIE(1, "dsm_init: %s", dsm_strerror(err));
	me = dsm_node_id();
	if ((err = dsm_gc_init(0)) != -ENOTSUP)
		FAIL("dsm_gc_init under ec: %d, expected -ENOTSUP", err);
	if (dsm_gc_malloc(1, 1) || errno != ENOTCONN)
		FAIL("dsm_gc_malloc without the collector");
	if (dsm_gc_collect() != -ENOTCONN)
		FAIL("dsm_gc_collect without the collector");
	CHECK(dsm_finalize());
	return 0;
}
