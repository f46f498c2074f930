/*
 * mn_tw_barrier.c — Tapeworm's record-replay barrier removes the remote
 * misses of a phase that reads what the same phase read last iteration.
 *
 * Every node owns (is home of) a block of PP pages. Each iteration: every
 * node rewrites its block, barrier A, reads its right neighbour's whole
 * block (checking every word), barrier B. Phase 1 uses barriers 1/2,
 * unmarked: each node faults on the neighbour's pages every iteration.
 * Phase 2 uses barriers 3/4 with 3 marked (dsm_tapeworm_barrier): the
 * pages read after barrier 3 are fetched in one batch per home as the
 * node leaves barrier 3 next time, so the reads only fault locally.
 *
 * Asserted under hlrc and lrc (the protocols with tape hooks): with
 * DSM_TAPEWORM on (the default) phase 1 fetches at least PP pages per
 * iteration and phase 2 at most a tenth of that in all, sends and
 * receives fewer messages besides the barriers' own (lrc: no more diff messages — its faults
 * already batch the diffs of pages used lately into one request per
 * writer), and Tapeworm reports the prefetched pages as used; with auto
 * (every barrier replays, and the writers push their blocks to their
 * readers: pushed pages count as barrier 3's pushed_used and in
 * tape_pushed_used) phase 2 alone is checked; with off, the mark
 * is ignored and phase 2 faults like phase 1. The node's Tapeworm
 * counters in dsm_stats (tapes recorded and applied, pages prefetched and
 * used) cover barrier 3's and are nonzero when Tapeworm works, zero under
 * off and under sc. Every word read is checked in every mode and protocol.
 */
#define MN_PROG "mn_tw_barrier"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/node.h"
#include "dsm_tape.h"
#include "dsm_tapeworm.h"
#include "mn_util.h"
#include "proto/proto.h"

#define PP 16    /* pages per node's block */
#define ITER 12  /* iterations per phase */
#define WARM 2   /* iterations not measured */

static size_t words; /* 64-bit words per block */

static uint64_t val(int node, int phase, int it, size_t w)
{
	return ((uint64_t)node << 48) ^ ((uint64_t)phase << 40) ^ ((uint64_t)it << 24) ^ w;
}

struct counts {
	uint64_t fetches, msgs;
	uint64_t diffmsgs; /* lrc's diff requests and replies, sent and received */
};

/* Messages of a type, sent and received. */
static uint64_t of_type(const struct dsm_stats *s, unsigned t)
{
	return s->msgs_sent_by_type[t] + s->msgs_recv_by_type[t];
}

/* msgs: every message but the barriers' own and heartbeats. A barrier's
 * manager (barrier id mod N) handles 2(N-1) messages per barrier more
 * than the others, and phases 1 and 2 use different barriers, so their
 * managers differ; when every fetched page came in a message of its own
 * that difference was lost in the page traffic, but runs of pages now come
 * in one reply. */
static struct counts snap(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return (struct counts){ s.remote_fetches,
				s.messages_sent + s.messages_recv -
					of_type(&s, DSM_MSG_BAR_ARRIVE) -
					of_type(&s, DSM_MSG_BAR_RELEASE) -
					of_type(&s, DSM_MSG_HEARTBEAT),
				s.msgs_sent_by_type[DSM_MSG_LRC_DIFF_REQ] +
					s.msgs_recv_by_type[DSM_MSG_LRC_DIFF_REQ] +
					s.msgs_sent_by_type[DSM_MSG_LRC_DIFF_REP] +
					s.msgs_recv_by_type[DSM_MSG_LRC_DIFF_REP] };
}

static struct counts phase(volatile uint64_t *data, int nodes, int ph, unsigned a,
			   unsigned b)
{
	int right = (me + 1) % nodes;
	volatile uint64_t *mine = data + (size_t)me * words;
	volatile uint64_t *theirs = data + (size_t)right * words;
	struct counts c0 = { 0 }, c1;

	for (int it = 0; it < ITER; it++) {
		if (it == WARM)
			c0 = snap();
		for (size_t w = 0; w < words; w++)
			mine[w] = val(me, ph, it, w);
		CHECK(dsm_barrier(a));
		for (size_t w = 0; w < words; w++)
			if (theirs[w] != val(right, ph, it, w))
				FAIL("phase %d iteration %d: word %zu of node %d's block "
				     "is %#llx, expected %#llx", ph, it, w, right,
				     (unsigned long long)theirs[w],
				     (unsigned long long)val(right, ph, it, w));
		CHECK(dsm_barrier(b));
	}
	c1 = snap();
	return (struct counts){ c1.fetches - c0.fetches, c1.msgs - c0.msgs,
				c1.diffmsgs - c0.diffmsgs };
}

int main(int argc, char **argv)
{
	int nodes = mn_init(&argc, &argv, 0);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	dsm_extent_t *none = dsm_extent_new(DSM_TAPE_PAGES);
	dsm_tape_t *h = NULL;
	struct dsm_tw_stats st;
	int mode = dsm_tapeworm_mode(), hooks, herr, lrc;

	words = PP * ps / 8;
	volatile uint64_t *data = dsm_alloc_collective_hint((size_t)nodes * PP * ps,
							    DSM_PLACE_BLOCKED);
	if (!data)
		FAIL("dsm_alloc_collective_hint");
	herr = dsm_tape_hole(none, &h);
	hooks = herr == 0;
	lrc = !strcmp(dsm__get()->proto->name, "lrc");
	if (herr && herr != -ENOTSUP)
		FAIL("dsm_tape_hole(empty): %s", dsm_strerror(herr));
	dsm_tape_free(h);
	dsm_extent_free(none);
	CHECK(dsm_tapeworm_barrier(3, 1));
	struct counts without = phase(data, nodes, 1, 1, 2);
	struct counts with = phase(data, nodes, 2, 3, 4);
	CHECK(dsm_tapeworm_stats(DSM_TW_BARRIER, 3, &st));
	printf("mn_tw_barrier: node %d (%s, DSM_TAPEWORM=%d): %d iterations: "
	       "without: %llu remote fetches, %llu messages (%llu diff); with: %llu "
	       "remote fetches, %llu messages (%llu diff); prefetched %llu, used %llu\n", me,
	       hooks ? "tape hooks" : "no tape hooks", mode, ITER - WARM,
	       (unsigned long long)without.fetches, (unsigned long long)without.msgs,
	       (unsigned long long)without.diffmsgs, (unsigned long long)with.fetches,
	       (unsigned long long)with.msgs, (unsigned long long)with.diffmsgs,
	       (unsigned long long)st.pages_prefetched, (unsigned long long)st.pages_used);
	uint64_t base = (uint64_t)(ITER - WARM) * PP;
	if (nodes > 1 && hooks && mode != DSM_TW_OFF) {
		if (with.fetches * 10 > base)
			FAIL("record-replay barrier left %llu remote fetches in %d "
			     "iterations (want <= %llu)", (unsigned long long)with.fetches,
			     ITER - WARM, (unsigned long long)base / 10);
		if (st.pages_used + st.pushed_used < base - PP ||
		    st.pages_prefetched < st.pages_used)
			FAIL("Tapeworm reports %llu pages prefetched, %llu used (want "
			     ">= %llu used)", (unsigned long long)st.pages_prefetched,
			     (unsigned long long)st.pages_used,
			     (unsigned long long)(base - PP));
	}
	if (nodes > 1 && hooks && mode == DSM_TW_ON) {
		if (without.fetches < base)
			FAIL("unmarked barrier: %llu remote fetches, expected >= %llu",
			     (unsigned long long)without.fetches, (unsigned long long)base);
		if (!lrc && with.msgs >= without.msgs)
			FAIL("messages did not drop: %llu with, %llu without",
			     (unsigned long long)with.msgs, (unsigned long long)without.msgs);
		if (lrc && with.diffmsgs > without.diffmsgs)
			FAIL("diff messages grew: %llu with, %llu without",
			     (unsigned long long)with.diffmsgs,
			     (unsigned long long)without.diffmsgs);
	}
	/* The node's Tapeworm counters in dsm_stats (and DSM_STATS' JSON):
	 * at least barrier 3's share when Tapeworm works, zero when off. */
	struct dsm_stats ds;
	CHECK(dsm_stats(&ds));
	printf("mn_tw_barrier: node %d: dsm_stats: %llu tapes recorded, %llu applied, "
	       "%llu pages prefetched, %llu used\n", me,
	       (unsigned long long)ds.tapes_recorded, (unsigned long long)ds.tapes_applied,
	       (unsigned long long)ds.tape_pages_prefetched,
	       (unsigned long long)ds.tape_pages_used);
	/* under auto, pushes (tape_pushed_used, barrier 3's pushed_used)
	 * replace most pulls */
	uint64_t dused = ds.tape_pages_used + (mode == DSM_TW_AUTO ? ds.tape_pushed_used : 0);
	if (nodes > 1 && hooks && mode != DSM_TW_OFF &&
	    (!ds.tapes_recorded || ds.tapes_recorded < st.tapes_recorded ||
	     !ds.tapes_applied || ds.tapes_applied < st.tapes_applied || !dused ||
	     (mode != DSM_TW_AUTO && ds.tape_pages_prefetched < st.pages_prefetched) ||
	     dused < st.pages_used + st.pushed_used))
		FAIL("dsm_stats' Tapeworm counters (%llu recorded, %llu applied, %llu "
		     "prefetched, %llu used) miss barrier 3's (%llu, %llu, %llu, %llu)",
		     (unsigned long long)ds.tapes_recorded, (unsigned long long)ds.tapes_applied,
		     (unsigned long long)ds.tape_pages_prefetched,
		     (unsigned long long)ds.tape_pages_used,
		     (unsigned long long)st.tapes_recorded, (unsigned long long)st.tapes_applied,
		     (unsigned long long)st.pages_prefetched, (unsigned long long)st.pages_used);
	if ((mode == DSM_TW_OFF || !hooks) &&
	    (ds.tapes_recorded || ds.tapes_applied || ds.tape_pages_prefetched ||
	     ds.tape_pages_used))
		FAIL("Tapeworm off or no tape hooks, yet dsm_stats counts %llu tapes "
		     "recorded, %llu applied, %llu pages prefetched, %llu used",
		     (unsigned long long)ds.tapes_recorded, (unsigned long long)ds.tapes_applied,
		     (unsigned long long)ds.tape_pages_prefetched,
		     (unsigned long long)ds.tape_pages_used);
	if (nodes > 1 && hooks && mode == DSM_TW_OFF &&
	    (with.fetches < base || st.pages_prefetched))
		FAIL("DSM_TAPEWORM=off, yet the marked barrier prefetched %llu pages",
		     (unsigned long long)st.pages_prefetched);
	CHECK(dsm_finalize());
	return 0;
}
