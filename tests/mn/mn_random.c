/*
 * mn_random.c — randomized race-free programs, checked against a
 * sequential reference computed in the same run.
 *
 * For each seed, a program is generated (the same on every node):
 *  - a shared area of NW words in two buffers A and B, every word owned by
 *    a node chosen at random (even seeds: owners interleave within pages,
 *    false sharing; odd seeds: one owner per page, a different one in the
 *    next program, so homes migrate), and K counters on the same pages;
 *  - R rounds; in round r every node rewrites a random subset of its own
 *    words in buffer (r+1)%2 with a value computed from words (of any
 *    owner) it reads in buffer r%2, and adds amounts to random counters
 *    under their locks; then a barrier.
 * Reads and writes never race (double buffering), so the final memory is
 * determined by the seed: a sequential simulation computes it and every
 * node compares the whole area.
 *
 * Usage: mn_random [first_seed [count]] (default 0 200; env MN_RANDOM_SEEDS
 * may give "first:count" too). MN_RANDOM_PUSH=1: every node marks the
 * whole area as a Tapeworm producer-consumer region (dsm_tapeworm_region),
 * so every node pushes what it writes to the nodes that read it last: the
 * memory must still equal the reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "dsm_tapeworm.h"
#include "mn_hash.h"

#define NW 1536      /* words per buffer (3 pages of 4 KiB) */
#define K 8          /* counters, one lock each */
#define R 4          /* rounds per program */
#define MAXN 64

struct area {
	uint64_t buf[2][NW];
	uint64_t counter[K];
};

/* Even seeds: every word's owner at random (false sharing everywhere).
 * Odd seeds: one owner per page (512 words), so pages have a single
 * writer within a program and another in the next one: under hlrc their
 * homes migrate to the writer and away again while other nodes read. */
static int owner(uint64_t seed, int nodes, int w)
{
	if (seed & 1)
		return (int)(mn_hash(seed, 1, (uint64_t)w / 512, 7) % (uint64_t)nodes);
	return (int)(mn_hash(seed, 1, (uint64_t)w, 0) % (uint64_t)nodes);
}

/* One node's work in one round, on any area (shared or the reference). */
static void round_writes(volatile struct area *a, uint64_t seed, int nodes,
			 int node, int r)
{
	const volatile uint64_t *in = a->buf[r % 2];
	volatile uint64_t *out = a->buf[(r + 1) % 2];

	for (int w = 0; w < NW; w++) {
		if (owner(seed, nodes, w) != node)
			continue;
		if (mn_hash(seed, 2, (uint64_t)w, (uint64_t)r) % 4 == 0) {
			out[w] = in[w]; /* keep: the word still moves to the new buffer */
			continue;
		}
		uint64_t v = mn_hash(seed, 3, (uint64_t)w, (uint64_t)r);
		for (int k = 0; k < 3; k++) /* reads of any owner's words */
			v += in[mn_hash(seed, 4 + (uint64_t)k, (uint64_t)w, (uint64_t)r) % NW];
		out[w] = v;
	}
}

/* Amount node adds to counter c in round r (0: none). */
static uint64_t add_amount(uint64_t seed, int node, int r, int c)
{
	uint64_t x = mn_hash(seed, 5, (uint64_t)(node * K + c), (uint64_t)r);
	return (x % 3 == 0) ? x % 1000 + 1 : 0;
}

static int run_seed(volatile struct area *a, struct area *ref, uint64_t seed,
		    int me, int nodes)
{
	int err;

	/* round 0 input: every node fills its own words of buffer 0 */
	for (int w = 0; w < NW; w++)
		if (owner(seed, nodes, w) == me)
			a->buf[0][w] = mn_hash(seed, 6, (uint64_t)w, 0);
	if ((err = dsm_barrier(1)))
		return err;
	for (int r = 0; r < R; r++) {
		round_writes(a, seed, nodes, me, r);
		for (int c = 0; c < K; c++) {
			uint64_t amt = add_amount(seed, me, r, c);
			if (!amt)
				continue;
			if ((err = dsm_lock_acquire((unsigned)c + 1)))
				return err;
			a->counter[c] += amt;
			if ((err = dsm_lock_release((unsigned)c + 1)))
				return err;
		}
		if ((err = dsm_barrier(2)))
			return err;
	}
	/* the reference: all nodes' rounds, sequentially */
	memset(ref, 0, sizeof(*ref));
	for (int w = 0; w < NW; w++)
		ref->buf[0][w] = mn_hash(seed, 6, (uint64_t)w, 0);
	for (int r = 0; r < R; r++)
		for (int nd = 0; nd < nodes; nd++) {
			round_writes(ref, seed, nodes, nd, r);
			for (int c = 0; c < K; c++)
				ref->counter[c] += add_amount(seed, nd, r, c);
		}
	return 0;
}

/* Compare the shared area with the reference; print the first mismatch. */
static int check(volatile struct area *a, const struct area *ref, uint64_t seed,
		 int me)
{
	for (int b = 0; b < 2; b++)
		for (int w = 0; w < NW; w++)
			if (a->buf[b][w] != ref->buf[b][w]) {
				fprintf(stderr, "mn_random: node %d: FAIL: seed %llu buf %d "
					"word %d = %llu, reference %llu\n", me,
					(unsigned long long)seed, b, w,
					(unsigned long long)a->buf[b][w],
					(unsigned long long)ref->buf[b][w]);
				return 1;
			}
	for (int c = 0; c < K; c++)
		if (a->counter[c] != ref->counter[c]) {
			fprintf(stderr, "mn_random: node %d: FAIL: seed %llu counter %d = "
				"%llu, reference %llu\n", me, (unsigned long long)seed, c,
				(unsigned long long)a->counter[c],
				(unsigned long long)ref->counter[c]);
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t first = 0, count = 200;
	const char *env = getenv("MN_RANDOM_SEEDS");
	static struct area ref;
	volatile struct area *a;
	int err, me, nodes, bad = 0;

	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "mn_random: dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	if (argc > 1)
		first = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		count = strtoull(argv[2], NULL, 0);
	if (env && sscanf(env, "%llu:%llu", (unsigned long long *)&first,
			  (unsigned long long *)&count) != 2)
		fprintf(stderr, "mn_random: MN_RANDOM_SEEDS=%s ignored\n", env);
	me = dsm_node_id();
	nodes = dsm_node_count();
	if (argc <= 2 && !env && nodes >= 8)
		count = 50; /* 8 nodes oversubscribe 2 cores: fewer seeds in make test */
	a = dsm_alloc_collective(sizeof(struct area));
	if (!a)
		return 1;
	if (getenv("MN_RANDOM_PUSH") && atoi(getenv("MN_RANDOM_PUSH")) &&
	    (err = dsm_tapeworm_region((void *)a, sizeof(struct area), 1)) < 0) {
		fprintf(stderr, "mn_random: dsm_tapeworm_region: %s\n", dsm_strerror(err));
		return 1;
	}
	for (uint64_t s = first; s < first + count && !bad; s++) {
		if ((err = run_seed(a, &ref, s, me, nodes))) {
			fprintf(stderr, "mn_random: node %d: seed %llu: %s\n", me,
				(unsigned long long)s, dsm_strerror(err));
			return 1;
		}
		bad = check(a, &ref, s, me);
		/* everyone checked before the next seed overwrites the area */
		if ((err = dsm_barrier(3)))
			return 1;
		if (me == 0) /* reset the counters for the next seed */
			for (int c = 0; c < K; c++)
				a->counter[c] = 0;
		if ((err = dsm_barrier(4)))
			return 1;
	}
	if (!bad && me == 0)
		printf("mn_random: %d nodes, seeds %llu..%llu: memory equals the "
		       "sequential reference\n", nodes, (unsigned long long)first,
		       (unsigned long long)(first + count - 1));
	struct dsm_stats st;
	if (!bad && getenv("MN_RANDOM_PUSH") && !dsm_stats(&st))
		printf("mn_random: node %d: %llu remote fetches, %llu pushes sent, %llu "
		       "pages pushed, %llu pushed pages used, %llu dropped\n", me,
		       (unsigned long long)st.remote_fetches,
		       (unsigned long long)st.tape_pushes_sent,
		       (unsigned long long)st.tape_pages_pushed,
		       (unsigned long long)st.tape_pushed_used,
		       (unsigned long long)st.tape_pushed_dropped);
	return (dsm_finalize() || bad) ? 1 : 0;
}
