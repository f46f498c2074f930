/*
 * prog_rp_nested — a page given away inside a boundary that holds a nested
 * synchronisation call (tests/scripts/test_replay_diverge.sh, docs/replay.md).
 *
 * dsm_malloc is one replay boundary; under record/replay it takes the
 * allocator's lock inside it (a nested acquire and release). Node 1 writes
 * a one-page block and frees it (a block after it stays), then (after a barrier) calls dsm_malloc
 * with a test-only pause after its release of the allocator's lock
 * (dsm__test_malloc_pause). Node 0, which asks for the lock after node 1,
 * gets the freed block, writes it and so takes the page from node 1 while
 * node 1 is still inside its dsm_malloc: the GIVE is recorded in node 1's
 * malloc boundary. A replay must let node 1's nested acquire return
 * without waiting for that GIVE (node 0 cannot fault before it has the
 * lock node 1 still holds then); before the fix it waited DSM_TIMEOUT and
 * reported a divergence.
 *
 *   prog_rp_nested   (2 or more nodes; exit 0 with "ok" from every node)
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h" /* dsm__test_malloc_pause: test-only */

#define MN_PROG "prog_rp_nested"
#include "../mn/mn_util.h"

struct shared {
	volatile uint64_t freed; /* node 1's freed block */
	volatile uint64_t got;   /* what node 0's dsm_malloc returned */
};

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 0);
	long ps = sysconf(_SC_PAGESIZE);
	struct shared *s = mn_alloc_collective(sizeof(*s));
	volatile unsigned char *b = NULL;

	if (n < 2)
		DIE(77, "needs 2 or more nodes");
	if (me == 1) {
		volatile unsigned char *a = dsm_malloc((size_t)ps);
		if (!a)
			FAIL("dsm_malloc(%ld): errno %d", ps, errno);
		/* a block after it keeps the freed page a one-page hole */
		if (!dsm_malloc((size_t)ps))
			FAIL("dsm_malloc(%ld): errno %d", ps, errno);
		memset((void *)a, 1, (size_t)ps); /* node 1 owns the page */
		s->freed = (uintptr_t)a;
		dsm_free((void *)a);
	}
	CHECK(dsm_barrier(0));
	if (me == 1) {
		CHECK(dsm__test_malloc_pause(400));
		if (!(b = dsm_malloc(2 * (size_t)ps))) /* not the freed block */
			FAIL("dsm_malloc(%ld): errno %d", 2 * ps, errno);
		b[0] = 2;
	} else if (me == 0) {
		usleep(100000); /* recording: after node 1's request */
		volatile unsigned char *c = dsm_malloc((size_t)ps);
		if (!c)
			FAIL("dsm_malloc(%ld): errno %d", ps, errno);
		c[0] = 7; /* takes the page from node 1 */
		s->got = (uintptr_t)c;
	}
	CHECK(dsm_barrier(0));
	if (s->got != s->freed)
		DIE(77, "node 0's block %#llx is not node 1's freed %#llx: nothing"
		    " to check", (unsigned long long)s->got,
		    (unsigned long long)s->freed);
	if (((volatile unsigned char *)(uintptr_t)s->got)[0] != 7 ||
	    ((volatile unsigned char *)(uintptr_t)s->got)[1] != 1)
		FAIL("the reused block holds %d %d, expected 7 1",
		     ((volatile unsigned char *)(uintptr_t)s->got)[0],
		     ((volatile unsigned char *)(uintptr_t)s->got)[1]);
	CHECK(dsm_barrier(0));
	fprintf(stderr, MN_PROG ": node %d: ok\n", me);
	return dsm_finalize() ? 1 : 0;
}
