/*
 * mn_tw_wrong.c — a wrong prediction costs data nothing, and Tapeworm
 * stops making it.
 *
 * Node 0 (W) is home of SP pages; node 1 (R) reads them. Iteration i:
 *   W writes v(i, 0); barrier 5 (marked record-replay on every node);
 *   i = 1 mod 4: R reads and checks v(i, 0) right after barrier 5 (so
 *          the phase's tape names the pages, and the next two iterations,
 *          which replay the last two phases' tapes, prefetch them at
 *          barrier 5: held copies of v(i+1, 0) and v(i+2, 0));
 *   barrier 6; W writes v(i, 1); barrier 7 (whose write notices must
 *   drop R's held copies); R reads and checks v(i, 1); barrier 8.
 * In those iterations the prefetched copies are never used before W
 * overwrites them: if a held copy survived the notice, R would read the
 * stale v(i, 0) and fail. The reading iterations get no prefetch (the
 * two phases before them read nothing), so every prediction is wrong: under
 * hlrc with DSM_TAPEWORM on or auto, Tapeworm must report skipped
 * applications (it stopped prefetching) and fewer pages prefetched than
 * one batch per even iteration; the dsm_tape_apply of a hand-made tape
 * naming pages nobody wrote, pages past the region and the caller's own
 * home pages must change nothing either.
 */
#define MN_PROG "mn_tw_wrong"
#include <stdint.h>
#include <unistd.h>

#include "dsm_tape.h"
#include "dsm_tapeworm.h"
#include "mn_util.h"

#define SP 8      /* pages W writes and R reads */
#define ITER 24

static size_t words;

static uint64_t v(int i, int k, size_t w)
{
	return ((uint64_t)(i + 1) << 40) ^ ((uint64_t)k << 32) ^ (w * 40503u);
}

static void check(volatile uint64_t *d, int i, int k)
{
	for (size_t w = 0; w < words; w++)
		if (d[w] != v(i, k, w))
			FAIL("iteration %d: word %zu is %#llx, expected %#llx (%s)", i, w,
			     (unsigned long long)d[w], (unsigned long long)v(i, k, w),
			     k ? "a stale prefetched copy was used" : "prefetch");
}

int main(int argc, char **argv)
{
	int nodes = mn_init(&argc, &argv, 0);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	dsm_extent_t *none = dsm_extent_new(DSM_TAPE_PAGES);
	dsm_tape_t *h = NULL;
	struct dsm_tw_stats st;
	int mode = dsm_tapeworm_mode(), hooks;

	words = SP * ps / 8;
	volatile uint64_t *d = dsm_alloc_collective_hint(SP * ps, 0); /* home: node 0 */
	volatile uint64_t *quiet = dsm_alloc_collective_hint(4 * ps, nodes - 1);
	if (!d || !quiet)
		FAIL("dsm_alloc_collective_hint");
	hooks = dsm_tape_hole(none, &h) == 0;
	dsm_tape_free(h);
	dsm_extent_free(none);
	CHECK(dsm_tapeworm_barrier(5, 1));
	for (int i = 0; i < ITER; i++) {
		if (me == 0)
			for (size_t w = 0; w < words; w++)
				d[w] = v(i, 0, w);
		CHECK(dsm_barrier(5));
		if (me == 1 && i % 4 == 1)
			check(d, i, 0);
		CHECK(dsm_barrier(6));
		if (me == 0)
			for (size_t w = 0; w < words; w++)
				d[w] = v(i, 1, w);
		CHECK(dsm_barrier(7));
		if (me == 1)
			check(d, i, 1);
		CHECK(dsm_barrier(8));
	}
	CHECK(dsm_tapeworm_stats(DSM_TW_BARRIER, 5, &st));
	printf("mn_tw_wrong: node %d (%s, DSM_TAPEWORM=%d): barrier 5 prefetched %llu "
	       "pages, %llu used, %llu applications skipped; pushed %llu pages, %llu "
	       "wasted, %llu used\n", me, hooks ? "tape hooks" : "no tape hooks", mode,
	       (unsigned long long)st.pages_prefetched, (unsigned long long)st.pages_used,
	       (unsigned long long)st.applies_skipped, (unsigned long long)st.pages_pushed,
	       (unsigned long long)st.pushes_wasted, (unsigned long long)st.pushed_used);
	if (me == 1 && nodes > 1 && hooks && mode != DSM_TW_OFF) {
		if (st.pages_prefetched < SP)
			FAIL("barrier 5 never prefetched (%llu pages): the test tests nothing",
			     (unsigned long long)st.pages_prefetched);
		if (st.pages_used)
			FAIL("%llu prefetched pages counted as used; none were",
			     (unsigned long long)st.pages_used);
		if (!st.applies_skipped || st.pages_prefetched >= (uint64_t)SP * ITER / 4)
			FAIL("Tapeworm kept prefetching unused pages: %llu pages, %llu "
			     "applications skipped", (unsigned long long)st.pages_prefetched,
			     (unsigned long long)st.applies_skipped);
	}
	/* A hand-made tape: pages of the last node's untouched block, pages
	 * past the region, and (on node 0) its own home pages. Applying it
	 * must leave every value as it is. */
	dsm_tape_t *t = dsm_tape_new();
	dsm_extent_t *e = dsm_extent_new(DSM_TAPE_PAGES);
	CHECK(dsm_extent_add_range(e, (void *)quiet, 4 * ps));
	CHECK(dsm_extent_add_range(e, (void *)d, SP * ps));
	for (size_t k = 0; k < dsm_extent_count(e); k++)
		CHECK(dsm_tape_add_event(t, 0, dsm_extent_value(e, k), 0));
	CHECK(dsm_tape_add_event(t, 0, 0xfffffff0u, 0));
	int got = dsm_tape_apply(t);
	if (got < 0 && !(got == -ENOTSUP && !hooks))
		FAIL("dsm_tape_apply: %s", dsm_strerror(got));
	if (me == 1)
		check(d, ITER - 1, 1);
	for (size_t w = 0; w < 4 * ps / 8; w++)
		if (quiet[w] != 0)
			FAIL("untouched word %zu is %#llx after dsm_tape_apply", w,
			     (unsigned long long)quiet[w]);
	dsm_tape_free(t);
	dsm_extent_free(e);
	CHECK(dsm_finalize());
	return 0;
}
