/*
 * mn_migratory.c — migratory data under a lock: a record spread over two
 * pages is updated by each node in turn (a token passed round the ring in
 * the record itself), many times. Each update reads the whole record and
 * writes a new version derived from it, so a stale page or a lost diff
 * shows as a wrong checksum or a version out of sequence. The final record
 * is compared with a sequential replay.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "dsm.h"

#define WORDS 700   /* 5.6 KB: spans two pages */
#define ROUNDS 30
#define LOCK 5

struct rec {
	uint64_t turn;       /* whose turn: version % nodes */
	uint64_t version;
	uint64_t w[WORDS];
	uint64_t sum;        /* checksum of w */
};

static void update(struct rec *r)
{
	uint64_t s = 0;

	for (int i = 0; i < WORDS; i++) {
		r->w[i] = r->w[i] * 6364136223846793005ull + r->version + (uint64_t)i;
		s += r->w[i];
	}
	r->sum = s;
	r->version++;
}

static int verify(const volatile struct rec *r, int me)
{
	uint64_t s = 0;

	for (int i = 0; i < WORDS; i++)
		s += r->w[i];
	if (s != r->sum) {
		fprintf(stderr, "mn_migratory: node %d: FAIL: checksum mismatch at "
			"version %llu\n", me, (unsigned long long)r->version);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	volatile struct rec *r;
	static struct rec ref;
	int err, me, n, done = 0;

	if ((err = dsm_init(&argc, &argv)))
		return 1;
	me = dsm_node_id();
	n = dsm_node_count();
	r = dsm_alloc_collective(sizeof(struct rec));
	if (!r || (err = dsm_barrier(1)))
		return 1;
	while (done < ROUNDS) {
		if ((err = dsm_lock_acquire(LOCK)))
			return 1;
		if (r->version % (uint64_t)n == (uint64_t)me) {
			if (verify(r, me))
				return 1;
			update((struct rec *)r);
			done++;
		}
		if ((err = dsm_lock_release(LOCK)))
			return 1;
	}
	if ((err = dsm_barrier(2)))
		return 1;
	for (int v = 0; v < ROUNDS * n; v++)
		update(&ref);
	if (r->version != ref.version || verify(r, me) || r->sum != ref.sum) {
		fprintf(stderr, "mn_migratory: node %d: FAIL: final version %llu sum %llx,"
			" sequential %llu %llx\n", me, (unsigned long long)r->version,
			(unsigned long long)r->sum, (unsigned long long)ref.version,
			(unsigned long long)ref.sum);
		return 1;
	}
	if (me == 0)
		printf("mn_migratory: %d nodes x %d turns: record matches the "
		       "sequential replay\n", n, ROUNDS);
	return dsm_finalize() ? 1 : 0;
}
