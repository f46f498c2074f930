/*
 * mn_tw_autopush.c — DSM_TAPEWORM=auto pushes with no region marked: a
 * writer pushes the pages it wrote to the nodes that asked it for them,
 * with its barrier arrival, so a consumer's read costs no request at all;
 * and a push nobody reads any more stops (docs/tapes.md, "Auto pushes").
 *
 * Node 0 writes and is home of every block (PP pages).
 *
 *  1. Round i: node 0 writes block A; barrier 0 (managed by node 0);
 *     every other node reads and checks every word of A; barrier 8.
 *     After WARM rounds, per consumer, asserted under auto (hlrc, lrc):
 *     no remote miss, pushed pages used, and at most MSG_PER_ROUND
 *     messages per round besides the barriers' and heartbeats (sent +
 *     received; the waste reports' acknowledgements, one per ACK_PAGES
 *     pushed pages): the push rides in the barrier's release, no
 *     TAPE_PUSH arrives on its own (docs/tapes.md, "Pushes in barrier
 *     messages"). A push in its own message (as before) is one more a
 *     round; Tapeworm's pull after the barrier a request and a reply;
 *     off the misses' requests and replies: each fails this (checked by
 *     sending the pushes on their own).
 *  1b. The same with the write's barrier managed by another node (3:
 *     node 1 at 2 nodes, 3 at 4), so node 0's pushes ride in its
 *     arrival and the manager forwards them in the releases.
 *  2. The pattern changes: round i: node 0 writes block B (its consumers
 *     learned in BW rounds where node 1 reads it) and no one reads B any
 *     more. Node 0's pushes of B go unread: node 1 reports them wasted
 *     and node 0 stops. Asserted under auto: node 0 sent no push in the
 *     last BQ rounds, barrier 16 (where they were pushed) counts wasted
 *     pages at node 0, and every node then reads B's newest values (held
 *     pushed copies are stale and must be dropped: the data costs
 *     nothing).
 * Under on, off, sc and ec: every value checked; no auto push is sent.
 * The floor (dsm_tapeworm_stats' first_misses), hlrc and lrc under off:
 * each consumer's compulsory misses are exactly its first reads of A and
 * B (2 PP), fewer than its remote fetches (fails if every miss counts:
 * checked).
 */
#define MN_PROG "mn_tw_autopush"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/node.h"
#include "dsm_tape.h"
#include "dsm_tapeworm.h"
#include "mn_util.h"

#define PP 16            /* pages per block */
#define ROUNDS 12
#define WARM 3           /* rounds before measuring: consumers are learned */
#define MSG_PER_ROUND 0.5
#define BW 4             /* part 2: rounds in which node 1 reads B */
#define BR 16            /* part 2: rounds in all */
#define BQ 8             /* part 2: last rounds with no push allowed */
#define BAR_A 0          /* managed by node 0 */
#define BAR_A2 3         /* managed by node 1 (2 nodes) or 3 (4, 8) */
#define BAR_B 8
#define BAR_C 16

static size_t words;

static uint64_t val(int part, int round, size_t w)
{
	return ((uint64_t)(part + 1) << 56) ^ ((uint64_t)(round + 1) << 40) ^ (w * 2654435761u);
}

static void put(volatile uint64_t *d, int part, int round)
{
	for (size_t w = 0; w < words; w++)
		d[w] = val(part, round, w);
}

static void check(volatile uint64_t *d, int part, int round)
{
	for (size_t w = 0; w < words; w++)
		if (d[w] != val(part, round, w))
			FAIL("part %d round %d: word %zu is %#llx, expected %#llx", part, round,
			     w, (unsigned long long)d[w], (unsigned long long)val(part, round, w));
}

static uint64_t of_type(const struct dsm_stats *s, unsigned t)
{
	return s->msgs_sent_by_type[t] + s->msgs_recv_by_type[t];
}

struct counts {
	uint64_t fetches, msgs, used, pushes, alone;
};

/* msgs: sent and received, but the barriers' own and heartbeats */
static struct counts snap(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return (struct counts){ s.remote_fetches,
				s.messages_sent + s.messages_recv -
					of_type(&s, DSM_MSG_BAR_ARRIVE) -
					of_type(&s, DSM_MSG_BAR_RELEASE) -
					of_type(&s, DSM_MSG_HEARTBEAT),
				s.tape_pushed_used, s.tape_pushes_sent,
				s.msgs_recv_by_type[DSM_MSG_TAPE_PUSH] };
}

static struct counts minus(struct counts a, struct counts b)
{
	return (struct counts){ a.fetches - b.fetches, a.msgs - b.msgs, a.used - b.used,
				a.pushes - b.pushes, a.alone - b.alone };
}

static void part1(volatile uint64_t *a, int autop, unsigned bar_w)
{
	struct counts c0 = { 0 }, c;
	uint64_t rounds = ROUNDS - WARM;

	for (int i = 0; i < ROUNDS; i++) {
		if (i == WARM)
			c0 = snap();
		if (me == 0)
			put(a, 1 + 2 * (bar_w != BAR_A), i);
		CHECK(dsm_barrier(bar_w));
		if (me != 0)
			check(a, 1 + 2 * (bar_w != BAR_A), i);
		CHECK(dsm_barrier(BAR_B));
	}
	c = minus(snap(), c0);
	printf("mn_tw_autopush: node %d: part 1 (barrier %u), %llu rounds: %llu remote "
	       "fetches, %llu messages, %llu pushed pages used, %llu pushes sent, %llu "
	       "TAPE_PUSH received\n", me, bar_w,
	       (unsigned long long)rounds, (unsigned long long)c.fetches,
	       (unsigned long long)c.msgs, (unsigned long long)c.used,
	       (unsigned long long)c.pushes, (unsigned long long)c.alone);
	if (!autop || me == 0)
		return;
	if (c.alone)
		FAIL("%llu pushes came in messages of their own in %llu rounds (want 0: "
		     "they ride in barrier %u's messages)", (unsigned long long)c.alone,
		     (unsigned long long)rounds, bar_w);
	if ((double)c.msgs > MSG_PER_ROUND * (double)rounds)
		FAIL("%llu messages in %llu rounds (want <= %.1f a round: the push rides in a barrier message)",
		     (unsigned long long)c.msgs, (unsigned long long)rounds, MSG_PER_ROUND);
	if (c.fetches)
		FAIL("auto pushes left %llu remote fetches in %llu rounds",
		     (unsigned long long)c.fetches, (unsigned long long)rounds);
	if (c.used < rounds * PP)
		FAIL("%llu pushed pages used in %llu rounds (want >= %llu)",
		     (unsigned long long)c.used, (unsigned long long)rounds,
		     (unsigned long long)(rounds * PP));
}

static void part2(volatile uint64_t *b, int autop)
{
	struct counts q0 = { 0 }, q;
	struct dsm_tw_stats st;

	for (int i = 0; i < BR; i++) {
		if (i == BR - BQ)
			q0 = snap();
		if (me == 0)
			put(b, 2, i);
		CHECK(dsm_barrier(BAR_C));
		if (me == 1 && i < BW)
			check(b, 2, i);
		CHECK(dsm_barrier(BAR_B));
	}
	q = minus(snap(), q0);
	check(b, 2, BR - 1); /* every node: the newest values, never a held push */
	CHECK(dsm_tapeworm_stats(DSM_TW_BARRIER, BAR_C, &st));
	printf("mn_tw_autopush: node %d: part 2: %llu pushes in the last %d rounds; "
	       "barrier %d: %llu pages pushed, %llu wasted, %llu pushes skipped\n", me,
	       (unsigned long long)q.pushes, BQ, BAR_C, (unsigned long long)st.pages_pushed,
	       (unsigned long long)st.pushes_wasted, (unsigned long long)st.pushes_skipped);
	if (!autop || me != 0)
		return;
	if (!st.pages_pushed)
		FAIL("barrier %d never pushed: the test tests nothing", BAR_C);
	if (!st.pushes_wasted)
		FAIL("no push reported wasted, yet node 1 stopped reading");
	if (q.pushes)
		FAIL("%llu pushes sent in the last %d rounds, which nobody reads",
		     (unsigned long long)q.pushes, BQ);
}

int main(int argc, char **argv)
{
	int nodes = mn_init(&argc, &argv, 0);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	dsm_extent_t *none = dsm_extent_new(DSM_TAPE_PAGES);
	dsm_tape_t *h = NULL;
	int hooks, autop;

	words = PP * ps / 8;
	volatile uint64_t *a = dsm_alloc_collective_hint(PP * ps, 0); /* home: node 0 */
	volatile uint64_t *b = dsm_alloc_collective_hint(PP * ps, 0);
	if (!a || !b)
		FAIL("dsm_alloc_collective_hint");
	hooks = dsm_tape_hole(none, &h) == 0;
	dsm_tape_free(h);
	dsm_extent_free(none);
	autop = nodes > 1 && hooks && dsm_tapeworm_mode() == DSM_TW_AUTO;
	part1(a, autop, BAR_A);
	part1(a, autop, BAR_A2);
	part2(b, autop);
	struct dsm_stats ds;
	struct dsm_tw_stats tw;
	CHECK(dsm_stats(&ds));
	CHECK(dsm_tapeworm_stats(0, 0, &tw));
	printf("mn_tw_autopush: node %d: %llu remote fetches, %llu compulsory\n", me,
	       (unsigned long long)ds.remote_fetches, (unsigned long long)tw.first_misses);
	/* the floor: a consumer's first reads of A and B, PP pages each, are
	 * its compulsory misses (under off every later read of A misses too,
	 * and is not one) */
	if (hooks && nodes > 1 && me > 0 && dsm_tapeworm_mode() == DSM_TW_OFF &&
	    (tw.first_misses != 2 * PP || ds.remote_fetches <= tw.first_misses))
		FAIL("%llu compulsory misses of %llu remote fetches (want %d, and fewer "
		     "than the fetches)", (unsigned long long)tw.first_misses,
		     (unsigned long long)ds.remote_fetches, 2 * PP);
	if (!autop && ds.tape_pushes_sent)
		FAIL("%llu pushes sent with no region marked and Tapeworm not auto",
		     (unsigned long long)ds.tape_pushes_sent);
	CHECK(dsm_finalize());
	return 0;
}
