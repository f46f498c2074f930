/*
 * bar_chunks.c — barrier payloads longer than one message (src/sync/
 * barrier.c sends them in 16 MiB chunks): under ec, 36 MiB bound to a
 * barrier, every node rewrites its slice each round, so each arrival and
 * each release carries up to 36 MiB of barrier data (over 16 MiB at 2
 * nodes both ways, and releases at 3). After every barrier every node
 * checks every word against what the round wrote; the messages each node
 * sent in the last barrier are counted from dsm_stats, so a payload sent
 * whole (no chunks) or lost fails the test. Before chunking, payloads over 64 MiB
 * failed the job ("Message too long": `is` at 200 M keys under ec).
 *   dsmrun -n N --protocol ec bar_chunks
 */
#define MN_PROG "bar_chunks"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "mn_util.h"

#define BYTES ((size_t)36 << 20)
#define WORDS (BYTES / 8)
#define ROUNDS 3
#define BAR 5u

static uint64_t val(size_t i, int round)
{
	/* every byte changes from round to round: the diffs are whole pages */
	return ((uint64_t)i * 2654435761u + 1) ^ ((uint64_t)round * 0x0101010101010101ull);
}

/* BAR_ARRIVE + BAR_RELEASE messages this node sent. (Not those it
 * received: a barrier's manager may receive a peer's arrival for the next
 * round before it reads the count, while it still writes its slice.) */
static uint64_t bar_msgs(void)
{
	struct dsm_stats s;
	uint64_t t = 0;

	CHECK(dsm_stats(&s));
	for (int i = 0; i < DSM_STATS_MSG_TYPES; i++)
		if (!strcmp(dsm_msg_type_name(i), "BAR_ARRIVE") ||
		    !strcmp(dsm_msg_type_name(i), "BAR_RELEASE"))
			t += s.msgs_sent_by_type[i];
	return t;
}

int main(int argc, char **argv)
{
	int count = mn_init(&argc, &argv, 8);
	uint64_t *w = mn_alloc_collective(BYTES);
	size_t lo = WORDS * (size_t)me / (size_t)count;
	size_t hi = WORDS * (size_t)(me + 1) / (size_t)count;
	uint64_t before = 0;

	CHECK(dsm_bind_barrier(BAR, w, BYTES));
	CHECK(dsm_barrier(BAR));
	for (int r = 1; r <= ROUNDS; r++) {
		for (size_t i = lo; i < hi; i++)
			w[i] = val(i, r);
		before = bar_msgs();
		CHECK(dsm_barrier(BAR));
		for (size_t i = 0; i < WORDS; i++)
			if (w[i] != val(i, r))
				FAIL("round %d: word %zu is %llu, not %llu", r, i,
				     (unsigned long long)w[i], (unsigned long long)val(i, r));
	}
	/* The last barrier: a manager sends N-1 releases, the others one
	 * arrival each; a payload over 16 MiB goes as two or more messages.
	 * Under ec at 2 nodes both carry about 18 MiB of data. */
	uint64_t got = bar_msgs() - before;
	const char *proto = getenv("DSM_PROTOCOL");
	if (proto && !strcmp(proto, "ec") && count == 2 && got < 2)
		FAIL("the last barrier's payload went in %llu message(s): payloads of "
		     "18 MiB must go in chunks (at least 2)", (unsigned long long)got);
	printf(MN_PROG ": node %d: %d rounds of %zu MiB bound to barrier %u correct; "
	       "last barrier: %llu messages sent\n", me, ROUNDS, BYTES >> 20, BAR,
	       (unsigned long long)got);
	CHECK(dsm_barrier(BAR + 1));
	return dsm_finalize() ? 1 : 0;
}
