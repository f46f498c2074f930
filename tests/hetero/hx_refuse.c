/*
 * hx_refuse.c — in a mixed-byte-order job, an untyped page that crosses
 * byte orders is refused: node 0 writes a dsm_malloc'd (untyped) array,
 * the last node (the other byte order in the tests) reads it. The job
 * must fail with a message naming the page and the allocation (the test
 * script checks it). In a homogeneous job the program simply passes.
 */
#define MN_PROG "hx_refuse"
#include <stdint.h>

#include "../mn/mn_util.h"

int main(int argc, char **argv)
{
	int err = dsm_init(&argc, &argv);

	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();
	volatile int64_t *v = dsm_alloc_collective(8192);
	if (!v)
		FAIL("dsm_alloc_collective failed");
	if (me == 0)
		for (int i = 0; i < 1024; i++)
			v[i] = i;
	CHECK(dsm_barrier(0));
	if (me == count - 1) {
		int64_t s = 0;
		for (int i = 0; i < 1024; i++)
			s += v[i];
		if (s != 1023 * 1024 / 2)
			FAIL("sum %lld", (long long)s);
		printf("hx_refuse: node %d read the untyped page (a homogeneous job)\n", me);
	}
	CHECK(dsm_barrier(1));
	return dsm_finalize() ? 1 : 0;
}
