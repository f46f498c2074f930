/*
 * flush_batches.c — hlrc releases whose diffs run to many megabytes for
 * one home (src/proto/hlrc_rel.c encodes and sends them a batch of
 * HLRC_FLUSH_BATCH bytes at a time, the region lock free in between).
 * Node 0 first-touches 24 MiB, so it is home of every page; then, round
 * after round, the other nodes rewrite every byte of their slices (a
 * whole-page diff per page: 6 or more batches per release at 2 nodes).
 * In the first rounds node 0 also writes the first word of every page
 * (diffs merge at the home with its own writes); in the last ones it
 * does not, so the homes of the slices may migrate to their writers
 * while a release is still sending later batches. After every barrier
 * every node checks every word against the round's values; the diffs
 * node 1 sent in the first round are counted from dsm_stats (at least
 * 24 MiB / (count - 1) of whole-page diffs), so a batch left unsent fails.
 *   dsmrun -n N --protocol hlrc flush_batches
 */
#define MN_PROG "flush_batches"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "mn_util.h"

#define BYTES ((size_t)24 << 20)
#define WORDS (BYTES / 8)
#define ROUNDS 4

static size_t page_words;

/* Node 0 writes word 0 of every page in rounds 1 and 2. */
static int zero_writes(size_t i, int round)
{
	return round <= 2 && i % page_words == 0;
}

static uint64_t val(size_t i, int round)
{
	/* every byte changes from round to round: the diffs are whole pages */
	return ((uint64_t)i * 2654435761u + 7) ^ ((uint64_t)round * 0x0101010101010101ull);
}

static uint64_t diff_bytes_sent(void)
{
	struct dsm_stats s;
	uint64_t t = 0;

	CHECK(dsm_stats(&s));
	for (int i = 0; i < DSM_STATS_MSG_TYPES; i++)
		if (!strcmp(dsm_msg_type_name(i), "HLRC_DIFF"))
			t += s.bytes_sent_by_type[i];
	return t;
}

static void write_round(uint64_t *w, int count, int round)
{
	size_t lo = WORDS * (size_t)(me - 1) / (size_t)(count - 1);
	size_t hi = WORDS * (size_t)me / (size_t)(count - 1);

	if (me == 0) {
		for (size_t i = 0; i < WORDS; i += page_words)
			if (zero_writes(i, round))
				w[i] = val(i, round);
		return;
	}
	for (size_t i = lo; i < hi; i++)
		if (!zero_writes(i, round))
			w[i] = val(i, round);
}

int main(int argc, char **argv)
{
	int count = mn_init(&argc, &argv, 8);
	uint64_t *w = mn_alloc_collective(BYTES);
	const char *proto = getenv("DSM_PROTOCOL");
	uint64_t before = 0, sent = 0;

	page_words = (size_t)sysconf(_SC_PAGESIZE) / 8;
	if (count < 2)
		DIE(77, "needs 2 or more nodes");
	if (me == 0)
		for (size_t i = 0; i < WORDS; i++)
			w[i] = val(i, 0);
	CHECK(dsm_barrier(0));
	for (int r = 1; r <= ROUNDS; r++) {
		before = diff_bytes_sent();
		write_round(w, count, r);
		CHECK(dsm_barrier(0));
		if (r == 1)
			sent = diff_bytes_sent() - before;
		for (size_t i = 0; i < WORDS; i++)
			if (w[i] != val(i, r))
				FAIL("round %d: word %zu is %llx, not %llx", r, i,
				     (unsigned long long)w[i], (unsigned long long)val(i, r));
		CHECK(dsm_barrier(0));
	}
	if (proto && !strcmp(proto, "hlrc") && me == 1 && sent < BYTES / (size_t)(count - 1))
		FAIL("round 1: %llu diff bytes sent for a %zu MiB slice",
		     (unsigned long long)sent, (BYTES / (size_t)(count - 1)) >> 20);
	printf(MN_PROG ": node %d: %d rounds of %zu MiB correct; round 1: %llu diff bytes sent\n",
	       me, ROUNDS, BYTES >> 20, (unsigned long long)sent);
	return dsm_finalize() ? 1 : 0;
}
