/*
 * mn_fresh — writes to fresh pages (never written by anyone: under hlrc's
 * first touch, no home yet), which hlrc opens in runs with a zero twin
 * (docs/protocols/hlrc.md, "Fresh pages"). Checked against values computed
 * here, under every protocol:
 *
 * 1. Streams. In round k node k alone writes its block of S pages forward:
 *    pages fully written, partly written (one word), written with zeros
 *    only, written and then zeroed again, and untouched ones between them.
 *    Then every node writes its block again, the same way (under hlrc:
 *    without a fault, zero-only pages included), and checks every block.
 * 2. A notice on a page opened fresh. Node 0 holds lock L across a
 *    barrier; node 1 then writes page P0 (which opens P1..P3 fresh with
 *    it) and the odd words of P1; node 0 writes the even words of P1 and
 *    all of P2 and releases L; node 1 acquires L (the notices for P1 and
 *    P2 reach pages it holds open, written and not) and must read both
 *    halves of P1 and node 0's P2.
 * 3. Every node writes its own words (w mod N) of the same fresh pages in
 *    the same interval; all read every word after a barrier.
 *
 * 4. Node 0 writes NB pages; after a barrier every other node reads them
 *    from the last page to the first, one word per page.
 *
 * Under hlrc with first-touch homes the backward read costs at most one
 * read fault and one message received per 4 pages (the readahead window
 * grows backwards too, and a run comes in one reply).
 * Under hlrc with fresh runs on (DSM_FRESH_RUN unset or >= 16, first-touch
 * homes): the streams cost at most one write fault per 8 pages written,
 * and create no diff (a run opened past the end of a node's block must
 * not claim the next node's pages: their writer would then diff them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define MN_PROG "mn_fresh"
#include "mn_util.h"

#define PS 4096u
#define WPP (PS / sizeof(uint64_t)) /* words per page */
#define S 256u                      /* pages per node's block */
#define NQ 4u                       /* pages of part 2 */
#define NC 4u                       /* pages of part 3 */
#define NB 128u                     /* pages of part 4 */
#define BAR 1u
#define L 3u

static uint64_t val(unsigned tag, uint64_t i)
{
	return ((i + 1) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)tag << 56) ^ 1u;
}

/* Part 1: what word w of page j of node k's block holds in the end. */
static uint64_t stream_want(unsigned k, size_t j, size_t w)
{
	uint64_t i = (uint64_t)k * S * WPP + j * WPP + w;

	switch (j % 8) {
	case 3: /* zeros only */
	case 5: /* untouched */
	case 7: /* written, then zeroed again */
		return 0;
	case 6: /* one word */
		return w == (j * 7) % WPP ? val(1, i) : 0;
	default:
		return val(1, i);
	}
}

static void stream_write(volatile uint64_t *b, unsigned k)
{
	for (size_t j = 0; j < S; j++) {
		volatile uint64_t *pg = b + j * WPP;
		uint64_t i0 = (uint64_t)k * S * WPP + j * WPP;
		switch (j % 8) {
		case 5:
			break;
		case 3:
			for (size_t w = 0; w < WPP; w++)
				pg[w] = 0;
			break;
		case 6:
			pg[(j * 7) % WPP] = val(1, i0 + (j * 7) % WPP);
			break;
		case 7:
			for (size_t w = 0; w < 64; w++)
				pg[w] = val(1, i0 + w);
			for (size_t w = 0; w < 64; w++)
				pg[w] = 0;
			break;
		default:
			for (size_t w = 0; w < WPP; w++)
				pg[w] = val(1, i0 + w);
		}
	}
}

/* Part 2: page q's word w in the end (node 1 writes P0 and P1's odd
 * words, node 0 P1's even words and P2; P3 is only opened). */
static uint64_t q_want(size_t q, size_t w)
{
	uint64_t i = q * WPP + w;

	if (q == 0 || (q == 1 && w % 2))
		return val(2, i);
	if ((q == 1 && w % 2 == 0) || q == 2)
		return val(3, i);
	return 0;
}

static void check(const char *what, volatile uint64_t *a, size_t words,
		  uint64_t (*want)(size_t, size_t, const void *), const void *arg)
{
	for (size_t i = 0; i < words; i++) {
		uint64_t v = a[i], x = want(i / WPP, i % WPP, arg);
		if (v != x)
			FAIL("%s: page %zu word %zu is %llx, expected %llx", what, i / WPP,
			     i % WPP, (unsigned long long)v, (unsigned long long)x);
	}
}

static uint64_t want_stream(size_t p, size_t w, const void *arg)
{
	(void)arg;
	return stream_want((unsigned)(p / S), p % S, w);
}

static uint64_t want_q(size_t p, size_t w, const void *arg)
{
	(void)arg;
	return q_want(p, w);
}

static uint64_t want_c(size_t p, size_t w, const void *arg)
{
	(void)arg;
	return val(4, p * WPP + w);
}

static void stats(struct dsm_stats *s)
{
	CHECK(dsm_stats(s));
}

/* hlrc with first-touch homes, more than one node? */
static int first_touch(int n)
{
	const char *proto = getenv("DSM_PROTOCOL"), *home = getenv("DSM_HOME");

	return n > 1 && (!proto || !*proto || strcmp(proto, "hlrc") == 0) &&
	       (!home || !*home || strcmp(home, "first-touch") == 0);
}

/* Are fresh runs expected (and DSM_FRESH_RUN >= 16)? */
static int fresh_expected(int n)
{
	const char *run = getenv("DSM_FRESH_RUN");

	return first_touch(n) && (!run || !*run || atoi(run) >= 16);
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	int fresh = fresh_expected(n), hlrc = first_touch(n);
	volatile uint64_t *a = mn_alloc_collective((size_t)n * S * PS);
	volatile uint64_t *q = mn_alloc_collective(NQ * PS);
	volatile uint64_t *c = mn_alloc_collective(NC * PS);
	volatile uint64_t *flag = mn_alloc_collective(PS);
	volatile uint64_t *r = mn_alloc_collective(NB * PS);
	struct dsm_stats s0, s1;
	size_t written = 0;

	/* 1: streams, one node per round */
	CHECK(dsm_barrier(BAR));
	stats(&s0);
	for (int k = 0; k < n; k++) {
		if (k == me)
			stream_write(a + (size_t)k * S * WPP, (unsigned)k);
		CHECK(dsm_barrier(BAR));
	}
	stats(&s1);
	for (size_t j = 0; j < S; j++)
		written += j % 8 != 5;
	if (fresh && (s1.write_faults - s0.write_faults) * 8 > written)
		FAIL("%llu write faults for %zu fresh pages written: fresh runs not opened",
		     (unsigned long long)(s1.write_faults - s0.write_faults), written);
	if (hlrc && s1.diffs_created != s0.diffs_created)
		FAIL("%llu diffs for pages only this node wrote: another node claimed them",
		     (unsigned long long)(s1.diffs_created - s0.diffs_created));
	/* the same writes again: every page written before (zeros included)
	 * is its writer's now, private (nobody read it yet): no fault */
	stats(&s0);
	stream_write(a + (size_t)me * S * WPP, (unsigned)me);
	CHECK(dsm_barrier(BAR));
	stats(&s1);
	if (hlrc && s1.write_faults != s0.write_faults)
		FAIL("%llu write faults rewriting pages this node wrote (zeros are "
		     "writes too)", (unsigned long long)(s1.write_faults - s0.write_faults));
	check("streams", a, (size_t)n * S * WPP, want_stream, NULL);

	/* 2: notices reach pages held open fresh */
	if (me == 0)
		CHECK(dsm_lock_acquire(L));
	CHECK(dsm_barrier(BAR));
	if (me == 1) {
		for (size_t w = 0; w < WPP; w++)
			q[w] = val(2, w);
		for (size_t w = 1; w < WPP; w += 2)
			q[WPP + w] = val(2, WPP + w);
		CHECK(dsm_lock_acquire(L)); /* after node 0's release */
		if (flag[0] != 1)
			FAIL("lock %u granted before node 0 released it", L);
		check("after the notice (node 1)", q, NQ * WPP, want_q, NULL);
		CHECK(dsm_lock_release(L));
	} else if (me == 0) {
		for (size_t w = 0; w < WPP; w += 2)
			q[WPP + w] = val(3, WPP + w);
		for (size_t w = 0; w < WPP; w++)
			q[2 * WPP + w] = val(3, 2 * WPP + w);
		flag[0] = 1;
		CHECK(dsm_lock_release(L));
	}
	CHECK(dsm_barrier(BAR));
	if (n >= 2)
		check("after the notice", q, NQ * WPP, want_q, NULL);

	/* 3: every node writes its words of the same fresh pages */
	for (size_t i = (size_t)me; i < NC * WPP; i += (size_t)n)
		c[i] = val(4, i);
	CHECK(dsm_barrier(BAR));
	check("shared fresh pages", c, NC * WPP, want_c, NULL);
	CHECK(dsm_barrier(BAR));

	/* 4: a backward read of another node's pages */
	if (me == 0)
		for (size_t i = 0; i < NB * WPP; i++)
			r[i] = val(5, i);
	CHECK(dsm_barrier(BAR));
	stats(&s0);
	for (size_t j = NB; me != 0 && j-- > 0;)
		if (r[j * WPP + j % WPP] != val(5, j * WPP + j % WPP))
			FAIL("backward read: page %zu word %zu is %llx", j, j % WPP,
			     (unsigned long long)r[j * WPP + j % WPP]);
	stats(&s1);
	if (hlrc && me != 0 && (s1.read_faults - s0.read_faults) * 4 > NB)
		FAIL("%llu read faults reading %u pages backwards: no readahead",
		     (unsigned long long)(s1.read_faults - s0.read_faults), NB);
	if (hlrc && me != 0 && (s1.messages_recv - s0.messages_recv) * 4 > NB)
		FAIL("%llu messages received for %u pages: a reply per page",
		     (unsigned long long)(s1.messages_recv - s0.messages_recv), NB);
	CHECK(dsm_barrier(BAR));
	if (me == 0)
		printf("mn_fresh: ok (%d nodes, fresh runs %s)\n", n,
		       fresh ? "expected" : "not expected");
	return dsm_finalize() ? 1 : 0;
}
