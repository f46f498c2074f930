/*
 * mn_tw_push.c — Tapeworm's producer-consumer regions
 * (dsm_tapeworm_region): the producer's writes are pushed to last time's
 * consumers, which then read them without a remote miss; a push that the
 * write notices show stale is dropped, never read.
 *
 * Node 0 is the producer and home of every block (RP pages each). The
 * barriers and the lock are ones node 0 manages (ids multiple of 8), so
 * a push, sent before the producer's arrival or release, reaches a
 * consumer before its barrier release or grant (one connection).
 *
 *  1. Barrier: round i: node 0 writes block Bp; barrier 0; every other
 *     node reads and checks every word; barrier 8. Pass 0 on block B0
 *     (not marked), pass 1 on block B1 (marked on every node).
 *  2. Lock: round i: node 0 writes block Lp twice, in two critical
 *     sections of lock 0 (the first values must never be read); barrier
 *     0; each other node, under lock 0, reads and checks; barrier 8.
 *     Pass 0 on L0 (not marked), pass 1 on L1 (marked).
 *  3. Stale pushes: block S (marked). Round i: node 0 writes the first
 *     half of every page of S; in odd rounds node N-1 (after a pause, so
 *     the producer's push is composed without it) writes the second half
 *     — a write the push does not have; barrier 0; node 1 reads and
 *     checks every word every round, node k >= 2 only in the rounds
 *     (i / 2) mod (N - 1) == k - 1 (the consumer set changes); barrier 8.
 *     A consumer that used the stale copy would read an old second half.
 *
 * Asserted with hooks (hlrc, lrc) and DSM_TAPEWORM=on, per consumer over
 * the rounds after WARM: the marked pass misses at most a quarter of the
 * unmarked one (which must miss at least one page per round, or the test
 * tests nothing), and pushed pages are used. Under auto (record-replay
 * barriers and update locks prefetch in both passes, and every written
 * page is pushed to the nodes that asked for it): pushes are used, in
 * the unmarked barrier pass too.
 * Part 3, node 1: pushed pages were used and dropped. Under off, sc and
 * ec: no push counted anywhere. Every word is checked everywhere against
 * the sequential values.
 */
#define MN_PROG "mn_tw_push"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dsm_tape.h"
#include "dsm_tapeworm.h"
#include "mn_util.h"

#define RP 16    /* pages per block */
#define ROUNDS 10
#define WARM 3   /* rounds before measuring: consumers are learned */
#define BAR_A 0  /* managed by node 0 at 2, 4 and 8 nodes */
#define BAR_B 8
#define LOCK 0

static size_t words, ps;
static int nodes;

static uint64_t val(int part, int round, int k, size_t w)
{
	return ((uint64_t)(part + 1) << 56) ^ ((uint64_t)(round + 1) << 40) ^
	       ((uint64_t)k << 32) ^ (w * 2654435761u);
}

static void write_block(volatile uint64_t *d, int part, int round, int k, size_t from,
			size_t to)
{
	for (size_t w = from; w < to; w++)
		d[w] = val(part, round, k, w);
}

static void check_block(volatile uint64_t *d, int part, int round, int k)
{
	for (size_t w = 0; w < words; w++)
		if (d[w] != val(part, round, k, w))
			FAIL("part %d round %d: word %zu is %#llx, expected %#llx", part, round,
			     w, (unsigned long long)d[w],
			     (unsigned long long)val(part, round, k, w));
}

struct counts {
	uint64_t fetches, msgs, used;
};

static struct counts snap(void)
{
	struct dsm_stats s;

	CHECK(dsm_stats(&s));
	return (struct counts){ s.remote_fetches, s.messages_sent, s.tape_pushed_used };
}

static struct counts minus(struct counts a, struct counts b)
{
	return (struct counts){ a.fetches - b.fetches, a.msgs - b.msgs, a.used - b.used };
}

/* Part 1, one pass: the consumers' counts over the rounds after WARM. */
static struct counts barrier_pass(volatile uint64_t *d, int pass)
{
	struct counts c0 = { 0 };

	for (int i = 0; i < ROUNDS; i++) {
		if (i == WARM)
			c0 = snap();
		if (me == 0)
			write_block(d, pass, i, 0, 0, words);
		CHECK(dsm_barrier(BAR_A));
		struct counts x = snap();
		if (me != 0)
			check_block(d, pass, i, 0);
		if (getenv("MN_DEBUG"))
			fprintf(stderr, "node %d pass %d round %d: fetches %llu\n", me, pass, i,
				(unsigned long long)(snap().fetches - x.fetches));
		CHECK(dsm_barrier(BAR_B));
	}
	return minus(snap(), c0);
}

/* Part 2, one pass. */
static struct counts lock_pass(volatile uint64_t *d, int pass)
{
	struct counts c0 = { 0 };

	for (int i = 0; i < ROUNDS; i++) {
		if (i == WARM)
			c0 = snap();
		if (me == 0)
			for (int k = 0; k < 2; k++) {
				CHECK(dsm_lock_acquire(LOCK));
				write_block(d, 2 + pass, i, k, 0, words);
				CHECK(dsm_lock_release(LOCK));
			}
		CHECK(dsm_barrier(BAR_A));
		if (me != 0) {
			CHECK(dsm_lock_acquire(LOCK));
			check_block(d, 2 + pass, i, 1);
			CHECK(dsm_lock_release(LOCK));
		}
		CHECK(dsm_barrier(BAR_B));
	}
	return minus(snap(), c0);
}

/* Part 3. */
static void stale_part(volatile uint64_t *d)
{
	size_t half = ps / 16; /* words in half a page */
	int x = nodes - 1;

	for (int i = 0; i < ROUNDS; i++) {
		if (me == 0)
			for (int p = 0; p < RP; p++)
				write_block(d + p * 2 * half, 4, i, 0, 0, half);
		if (me == x && i % 2) {
			usleep(20000); /* the producer's push goes without this */
			for (int p = 0; p < RP; p++)
				for (size_t w = half; w < 2 * half; w++)
					d[p * 2 * half + w] = val(5, i, 0, w);
		}
		CHECK(dsm_barrier(BAR_A));
		if (me == 1 || (me >= 2 && (i / 2) % (nodes - 1) == me - 1)) {
			int last = i % 2 ? i : i - 1; /* node x's last write */
			for (int p = 0; p < RP; p++)
				for (size_t w = 0; w < 2 * half; w++) {
					uint64_t want = w < half ? val(4, i, 0, w)
						      : last < 0 ? 0 : val(5, last, 0, w);
					uint64_t got = d[p * 2 * half + w];
					if (got != want)
						FAIL("part 3 round %d: page %d word %zu is %#llx, "
						     "expected %#llx (a stale push was used?)", i, p,
						     w, (unsigned long long)got,
						     (unsigned long long)want);
				}
		}
		CHECK(dsm_barrier(BAR_B));
	}
}

int main(int argc, char **argv)
{
	dsm_extent_t *none;
	dsm_tape_t *h = NULL;
	struct dsm_tw_stats all, rs;
	struct dsm_stats ds;
	int mode, hooks, id;

	nodes = mn_init(&argc, &argv, 0);
	ps = (size_t)sysconf(_SC_PAGESIZE);
	words = RP * ps / 8;
	mode = dsm_tapeworm_mode();
	none = dsm_extent_new(DSM_TAPE_PAGES);
	hooks = dsm_tape_hole(none, &h) == 0;
	dsm_tape_free(h);
	dsm_extent_free(none);

	volatile uint64_t *b[2], *l[2], *s;
	for (int k = 0; k < 2; k++) {
		b[k] = dsm_alloc_collective_hint(RP * ps, 0);
		l[k] = dsm_alloc_collective_hint(RP * ps, 0);
	}
	s = dsm_alloc_collective_hint(RP * ps, 0);
	if (!b[0] || !b[1] || !l[0] || !l[1] || !s)
		FAIL("dsm_alloc_collective_hint");
	if (dsm_tapeworm_region((void *)b[1], 0, 1) != -EINVAL)
		FAIL("dsm_tapeworm_region of 0 bytes did not fail with -EINVAL");
	if (dsm_tapeworm_region((void *)b[0], RP * ps, 0) != -ENOENT)
		FAIL("unmarking a region never marked did not fail with -ENOENT");

	struct counts bc[2], lc[2];
	bc[0] = barrier_pass(b[0], 0);
	if ((id = dsm_tapeworm_region((void *)b[1], RP * ps, 1)) < 0)
		FAIL("dsm_tapeworm_region: %s", dsm_strerror(id));
	if (dsm_tapeworm_region((void *)b[1], RP * ps, 1) != id)
		FAIL("marking the same range again gave another id");
	bc[1] = barrier_pass(b[1], 1);
	CHECK(dsm_tapeworm_stats(DSM_TW_REGION, (unsigned)id, &rs));
	lc[0] = lock_pass(l[0], 0);
	if (dsm_tapeworm_region((void *)l[1], RP * ps, 1) < 0)
		FAIL("dsm_tapeworm_region (lock block)");
	lc[1] = lock_pass(l[1], 1);

	struct counts s0 = snap();
	if (dsm_tapeworm_region((void *)s, RP * ps, 1) < 0)
		FAIL("dsm_tapeworm_region (stale block)");
	stale_part(s);
	struct counts s1 = minus(snap(), s0);

	CHECK(dsm_tapeworm_stats(0, 0, &all));
	CHECK(dsm_stats(&ds));
	printf("mn_tw_push: node %d (%s, DSM_TAPEWORM=%d): barrier: remote fetches %llu -> "
	       "%llu, messages sent %llu -> %llu; lock: fetches %llu -> %llu, messages "
	       "%llu -> %llu; stale part: fetches %llu; pushes sent %llu, pages pushed "
	       "%llu, pushed used %llu, dropped %llu (region %d: %llu pushes, %llu pages)\n",
	       me, hooks ? "tape hooks" : "no tape hooks", mode,
	       (unsigned long long)bc[0].fetches, (unsigned long long)bc[1].fetches,
	       (unsigned long long)bc[0].msgs, (unsigned long long)bc[1].msgs,
	       (unsigned long long)lc[0].fetches, (unsigned long long)lc[1].fetches,
	       (unsigned long long)lc[0].msgs, (unsigned long long)lc[1].msgs,
	       (unsigned long long)s1.fetches, (unsigned long long)ds.tape_pushes_sent,
	       (unsigned long long)ds.tape_pages_pushed,
	       (unsigned long long)ds.tape_pushed_used,
	       (unsigned long long)ds.tape_pushed_dropped, id,
	       (unsigned long long)rs.pushes_sent, (unsigned long long)rs.pages_pushed);

	if (!hooks || mode == DSM_TW_OFF || nodes == 1) {
		if (ds.tape_pushes_sent || ds.tape_pages_pushed || ds.tape_pushed_used ||
		    ds.tape_pushed_dropped || all.pushes_sent || all.pushed_used)
			FAIL("pushes counted with %s", hooks ? "DSM_TAPEWORM=off" : "no tape hooks");
		CHECK(dsm_finalize());
		return 0;
	}
	if (me == 0 && (!rs.pushes_sent || rs.pages_pushed < RP))
		FAIL("the producer pushed nothing for the barrier's region (%llu pushes, %llu "
		     "pages)", (unsigned long long)rs.pushes_sent,
		     (unsigned long long)rs.pages_pushed);
	if (me == 0 && (ds.tape_pushes_sent < all.pushes_sent ||
			ds.tape_pages_pushed < all.pages_pushed))
		FAIL("dsm_stats counts fewer pushes than dsm_tapeworm_stats");
	if (me != 0) {
		if (!bc[1].used || !lc[1].used)
			FAIL("pushed pages unused (barrier %llu, lock %llu)",
			     (unsigned long long)bc[1].used, (unsigned long long)lc[1].used);
		if (mode != DSM_TW_AUTO && (bc[0].used || lc[0].used))
			FAIL("pushes used in an unmarked pass");
		/* auto pushes every written page to the nodes that asked for it,
		 * marked or not: the unmarked barrier pass uses pushes too */
		if (mode == DSM_TW_AUTO && !bc[0].used)
			FAIL("DSM_TAPEWORM=auto pushed nothing used in the unmarked barrier pass");
		if (ds.tape_pushed_used < all.pushed_used)
			FAIL("dsm_stats counts fewer used pushes than dsm_tapeworm_stats");
	}
	if (me != 0 && mode == DSM_TW_ON) {
		uint64_t min = ROUNDS - WARM; /* a miss per round at least */
		if (bc[0].fetches < min || lc[0].fetches < min)
			FAIL("the unmarked passes missed too little to compare (%llu, %llu)",
			     (unsigned long long)bc[0].fetches, (unsigned long long)lc[0].fetches);
		if (4 * bc[1].fetches > bc[0].fetches)
			FAIL("barrier: remote fetches %llu with pushes, %llu without",
			     (unsigned long long)bc[1].fetches, (unsigned long long)bc[0].fetches);
		if (4 * lc[1].fetches > lc[0].fetches)
			FAIL("lock: remote fetches %llu with pushes, %llu without",
			     (unsigned long long)lc[1].fetches, (unsigned long long)lc[0].fetches);
	}
	if (me == 1 && (!s1.used || !ds.tape_pushed_dropped))
		FAIL("the stale part: %llu pushed pages used, %llu dropped (both must happen)",
		     (unsigned long long)s1.used, (unsigned long long)ds.tape_pushed_dropped);
	CHECK(dsm_finalize());
	return 0;
}
