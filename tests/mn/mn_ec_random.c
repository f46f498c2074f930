/*
 * mn_ec_random.c — randomized lock-based programs whose every lock guards
 * a bound random set of byte ranges (entry consistency, issue 13),
 * checked against a sequential reference computed in the same run.
 *
 * For each seed (the same program on every node):
 *  - a fresh area of SIZE bytes (4 pages) is cut into random segments of
 *    1..300 bytes, each bound with dsm_bind to one of L locks chosen at
 *    random (so ranges cross pages, several locks share a page, a lock
 *    has many ranges, neighbours of one lock touch); the first L words
 *    are each lock's counter, bound to it too;
 *  - every node runs OPS critical sections on random locks: exclusive
 *    ones add random amounts to random bytes of the lock's ranges and the
 *    total to its counter, and increment an unbound word (release
 *    consistency under ec); shared ones only read. Every critical section
 *    first checks that the bytes of the lock's ranges sum, mod 256, to
 *    the counter's low byte: a holder that missed an update, or saw half
 *    of one, fails here;
 *  - at the end every node reads every lock's data under a shared hold
 *    and compares it with the sequential sum of all nodes' additions
 *    (additions commute, so the result does not depend on lock order).
 * Under protocols other than ec the bindings have no effect and the
 * program is an ordinary race-free lock-based one.
 *
 * Usage: mn_ec_random [first_seed [count]]. MN_EC_NOBIND=1 skips the
 * bindings (all data then under release consistency through the locks).
 */
#define MN_PROG "mn_ec_random"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"
#include "mn_hash.h"
#include "mn_util.h"

#define SIZE 16384   /* bytes per area */
#define L 6          /* locks per seed */
#define OPS 60       /* critical sections per node per seed */
#define MAXSEG 400

struct seg {
	uint32_t off, len;
	int lock;
};

static struct seg segs[MAXSEG];
static int nseg;

static unsigned lock_id(uint64_t seed, int c)
{
	return (unsigned)(1000 + seed * L + (uint64_t)c);
}

/* The seed's segments (after the L counters). */
static void layout(uint64_t seed)
{
	uint32_t off = L * 8;

	nseg = 0;
	while (off < SIZE && nseg < MAXSEG) {
		uint32_t len = 1 + (uint32_t)(mn_hash(seed, 1, nseg, 0) % 300);
		if (len > SIZE - off || nseg == MAXSEG - 1)
			len = SIZE - off;
		segs[nseg++] = (struct seg){ off, len, (int)(mn_hash(seed, 2, nseg, 0) % L) };
		off += len;
	}
}

/* Critical section op of node on lock c: excl (1) or shared (0). */
static int op_lock(uint64_t seed, int node, int op)
{
	return (int)(mn_hash(seed, 3, (uint64_t)node, (uint64_t)op) % L);
}

static int op_excl(uint64_t seed, int node, int op)
{
	return mn_hash(seed, 4, (uint64_t)node, (uint64_t)op) % 5 != 0;
}

/* The additions of one exclusive op: to byte k of segment s, amount v. */
static int op_adds(uint64_t seed, int node, int op, int c, uint32_t *at, uint8_t *v,
		   int max)
{
	int n = 0;

	for (int i = 0; i < nseg && n < max; i++) {
		if (segs[i].lock != c || mn_hash(seed, 5, (uint64_t)(node * OPS + op), (uint64_t)i) % 3)
			continue;
		uint64_t x = mn_hash(seed, 6, (uint64_t)(node * OPS + op), (uint64_t)i);
		at[n] = segs[i].off + (uint32_t)(x % segs[i].len);
		v[n++] = (uint8_t)(1 + (x >> 32) % 255);
	}
	return n;
}

/* Sum mod 256 of lock c's bytes. */
static uint8_t lock_sum(volatile uint8_t *a, int c)
{
	uint8_t s = 0;

	for (int i = 0; i < nseg; i++)
		if (segs[i].lock == c)
			for (uint32_t k = 0; k < segs[i].len; k++)
				s = (uint8_t)(s + a[segs[i].off + k]);
	return s;
}

static void check_sum(volatile uint8_t *a, uint64_t seed, int c, const char *mode)
{
	volatile uint64_t *cnt = (volatile uint64_t *)a;
	uint8_t s = lock_sum(a, c);

	if (s != (uint8_t)cnt[c])
		FAIL("seed %llu lock %d (%s hold): its bytes sum to %u mod 256, its "
		     "counter says %u: an update is missing", (unsigned long long)seed,
		     c, mode, s, (unsigned)(uint8_t)cnt[c]);
}

static void run_seed(uint64_t seed, int nodes)
{
	const char *proto = getenv("DSM_PROTOCOL");
	int ec = proto && strcmp(proto, "ec") == 0;
	volatile uint8_t *a = mn_alloc_collective(SIZE);
	volatile uint64_t *unb = mn_alloc_collective(4096); /* unbound: RC */
	volatile uint64_t *cnt = (volatile uint64_t *)a;
	static uint8_t ref[SIZE];
	uint64_t uref[L] = { 0 };
	uint32_t at[MAXSEG];
	uint8_t v[MAXSEG];

	layout(seed);
	if (getenv("MN_EC_NOBIND"))
		goto nobind;
	for (int c = 0; c < L; c++)
		CHECK(dsm_bind(lock_id(seed, c), (void *)(a + 8 * c), 8));
	for (int i = 0; i < nseg; i++)
		CHECK(dsm_bind(lock_id(seed, segs[i].lock), (void *)(a + segs[i].off),
			       segs[i].len));
	if (ec && dsm_bind(lock_id(seed, 0), (void *)(a + 8), 4) != -22)
		FAIL("binding a range twice was accepted");
nobind:
	for (int op = 0; op < OPS; op++) {
		int c = op_lock(seed, me, op), excl = op_excl(seed, me, op);
		unsigned id = lock_id(seed, c);
		CHECK(excl ? dsm_lock_acquire(id) : dsm_lock_acquire_shared(id));
		check_sum(a, seed, c, excl ? "exclusive" : "shared");
		if (excl) {
			int n = op_adds(seed, me, op, c, at, v, MAXSEG);
			for (int k = 0; k < n; k++) {
				a[at[k]] = (uint8_t)(a[at[k]] + v[k]);
				cnt[c] += v[k];
			}
			unb[c]++;
		}
		CHECK(dsm_lock_release(id));
	}
	CHECK(dsm_barrier(1));
	/* the reference: every node's additions */
	memset(ref, 0, sizeof(ref));
	for (int nd = 0; nd < nodes; nd++)
		for (int op = 0; op < OPS; op++) {
			int c = op_lock(seed, nd, op);
			if (!op_excl(seed, nd, op))
				continue;
			int n = op_adds(seed, nd, op, c, at, v, MAXSEG);
			uint64_t *rc = (uint64_t *)(void *)ref;
			for (int k = 0; k < n; k++) {
				ref[at[k]] = (uint8_t)(ref[at[k]] + v[k]);
				rc[c] += v[k];
			}
			uref[c]++;
		}
	for (int c = 0; c < L; c++) {
		CHECK(dsm_lock_acquire_shared(lock_id(seed, c)));
		if (cnt[c] != ((uint64_t *)(void *)ref)[c])
			FAIL("seed %llu: counter of lock %d = %llu, reference %llu",
			     (unsigned long long)seed, c, (unsigned long long)cnt[c],
			     (unsigned long long)((uint64_t *)(void *)ref)[c]);
		for (int i = 0; i < nseg; i++)
			for (uint32_t k = 0; segs[i].lock == c && k < segs[i].len; k++)
				if (a[segs[i].off + k] != ref[segs[i].off + k])
					FAIL("seed %llu: byte %u (lock %d) = %u, reference %u",
					     (unsigned long long)seed, segs[i].off + k, c,
					     a[segs[i].off + k], ref[segs[i].off + k]);
		if (unb[c] != uref[c])
			FAIL("seed %llu: unbound word %d = %llu, reference %llu",
			     (unsigned long long)seed, c, (unsigned long long)unb[c],
			     (unsigned long long)uref[c]);
		CHECK(dsm_lock_release(lock_id(seed, c)));
	}
	CHECK(dsm_barrier(2));
}

int main(int argc, char **argv)
{
	uint64_t first = 0, count;
	int nodes = mn_init(&argc, &argv, 0);

	count = nodes >= 8 ? 3 : 6;
	if (argc > 1)
		first = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		count = strtoull(argv[2], NULL, 0);
	for (uint64_t s = first; s < first + count; s++)
		run_seed(s, nodes);
	if (me == 0)
		printf(MN_PROG ": %d nodes, seeds %llu..%llu: every critical section saw "
		       "its lock's data whole; memory equals the sequential reference\n",
		       nodes, (unsigned long long)first,
		       (unsigned long long)(first + count - 1));
	CHECK(dsm_finalize());
	return 0;
}
