/*
 * mn_tw_lock.c — Tapeworm's update lock removes the acquirer's remote
 * misses on the data its predecessor wrote under the lock.
 *
 * A record of LP pages is handed round: in round r, node r mod N acquires
 * the lock, checks every word the previous holder wrote, rewrites every
 * word, releases; then all meet at a barrier. Phase 1 uses lock 2 + N
 * (the same manager as lock 2), unmarked: each acquirer faults on every
 * page. Phase 2 uses lock 2, marked on every node (dsm_tapeworm_lock):
 * the release carries its critical section's write tape, and the
 * acquirer fetches those pages in one batch per home (lrc: per writer)
 * right after the grant.
 *
 * Asserted under hlrc and lrc with DSM_TAPEWORM=on or auto, on every node
 * whose unmarked acquires fetched at least LP pages each after the first
 * (under hlrc the pages' home never misses): phase 2 fetches at most a
 * quarter of phase 1, with fewer messages (lrc: no more — its demand
 * faults already batch the diffs of pages used lately into one request
 * per writer, so the prefetch saves the misses, not the round trip), and
 * Tapeworm counts the prefetched pages as used. With off, phase 2 misses
 * like phase 1. Every word is checked.
 */
#define MN_PROG "mn_tw_lock"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/node.h"
#include "dsm_tape.h"
#include "dsm_tapeworm.h"
#include "mn_util.h"
#include "proto/proto.h"

#define LP 8        /* pages written under the lock */
#define TURNS 6     /* acquires per node per phase */

static size_t words;

static uint64_t val(int phase, int round, size_t w)
{
	return ((uint64_t)phase << 56) ^ ((uint64_t)(round + 1) << 32) ^ (w * 2654435761u);
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

/* msgs: every message but barriers' and heartbeats. Barrier 9's manager
 * (9 mod N) receives the others' arrivals for the round's barrier while
 * its own critical section is being counted, more or fewer of them by
 * timing (a flake at 8 nodes: 90 with, 85 without). */
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

/* One phase; counts cover this node's critical sections after its first. */
static struct counts phase(volatile uint64_t *rec, int nodes, int ph, unsigned lock)
{
	struct counts sum = { 0 };
	int mine = 0;

	for (int r = 0; r < TURNS * nodes; r++) {
		if (r % nodes == me) {
			struct counts c0 = snap(), c1;
			CHECK(dsm_lock_acquire(lock));
			for (size_t w = 0; w < words && r > 0; w++)
				if (rec[w] != val(ph, r - 1, w))
					FAIL("phase %d round %d: word %zu is %#llx, expected "
					     "%#llx", ph, r, w, (unsigned long long)rec[w],
					     (unsigned long long)val(ph, r - 1, w));
			for (size_t w = 0; w < words; w++)
				rec[w] = val(ph, r, w);
			CHECK(dsm_lock_release(lock));
			c1 = snap();
			if (mine++) {
				sum.fetches += c1.fetches - c0.fetches;
				sum.msgs += c1.msgs - c0.msgs;
				sum.diffmsgs += c1.diffmsgs - c0.diffmsgs;
			}
		}
		CHECK(dsm_barrier(9));
	}
	return sum;
}

int main(int argc, char **argv)
{
	int nodes = mn_init(&argc, &argv, 0);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	dsm_extent_t *none = dsm_extent_new(DSM_TAPE_PAGES);
	dsm_tape_t *h = NULL;
	struct dsm_tw_stats st;
	int mode = dsm_tapeworm_mode(), hooks, lrc;

	words = LP * ps / 8;
	volatile uint64_t *rec = mn_alloc_collective(LP * ps);
	hooks = dsm_tape_hole(none, &h) == 0;
	lrc = !strcmp(dsm__get()->proto->name, "lrc");
	dsm_tape_free(h);
	dsm_extent_free(none);
	CHECK(dsm_tapeworm_lock(2, 1));
	/* lock 2 + nodes: the same manager as lock 2, so the messages differ
	 * only by what Tapeworm does */
	struct counts without = phase(rec, nodes, 1, 2 + (unsigned)nodes);
	struct counts with = phase(rec, nodes, 2, 2);
	CHECK(dsm_tapeworm_stats(DSM_TW_LOCK, 2, &st));
	printf("mn_tw_lock: node %d (%s, DSM_TAPEWORM=%d): %d critical sections: "
	       "without: %llu remote fetches, %llu messages (%llu diff); with: %llu "
	       "remote fetches, %llu messages (%llu diff); prefetched %llu, used %llu\n", me,
	       hooks ? "tape hooks" : "no tape hooks", mode, TURNS - 1,
	       (unsigned long long)without.fetches, (unsigned long long)without.msgs,
	       (unsigned long long)without.diffmsgs, (unsigned long long)with.fetches,
	       (unsigned long long)with.msgs, (unsigned long long)with.diffmsgs,
	       (unsigned long long)st.pages_prefetched, (unsigned long long)st.pages_used);
	uint64_t base = (uint64_t)(TURNS - 1) * LP;
	int judged = nodes > 1 && hooks && without.fetches >= base;
	if (judged && mode != DSM_TW_OFF) {
		if (with.fetches * 4 > without.fetches)
			FAIL("update lock left %llu remote fetches (without: %llu)",
			     (unsigned long long)with.fetches,
			     (unsigned long long)without.fetches);
		if (!lrc && with.msgs >= without.msgs)
			FAIL("messages did not drop: %llu with, %llu without",
			     (unsigned long long)with.msgs, (unsigned long long)without.msgs);
		if (lrc && with.diffmsgs > without.diffmsgs)
			FAIL("diff messages grew: %llu with, %llu without",
			     (unsigned long long)with.diffmsgs,
			     (unsigned long long)without.diffmsgs);
		if (st.pages_used < base - LP)
			FAIL("Tapeworm reports %llu of %llu prefetched pages used "
			     "(want >= %llu)", (unsigned long long)st.pages_used,
			     (unsigned long long)st.pages_prefetched,
			     (unsigned long long)(base - LP));
	}
	if (judged && mode == DSM_TW_OFF && (with.fetches < base || st.pages_prefetched))
		FAIL("DSM_TAPEWORM=off, yet the marked lock prefetched %llu pages",
		     (unsigned long long)st.pages_prefetched);
	CHECK(dsm_finalize());
	return 0;
}
