/*
 * mn_shared_lock — shared (reader) and exclusive (writer) holders of one
 * lock. Node 0 is the writer: W times it takes LOCK exclusively and
 * rewrites a record of several words spread over two pages, yielding
 * between the words so a reader let in too early would see a half-written
 * record. Every other node is a reader: R times it takes LOCK shared, marks
 * itself inside (its own word of inside[]), reads the record, checks it is
 * consistent and that versions never go backwards, lingers briefly, clears
 * its mark and releases. Asserted (safety only; overlap of readers is
 * timing-dependent and merely reported):
 *  - the writer never sees a reader's inside mark while it holds LOCK;
 *  - a reader never sees a torn record or a version going backwards;
 *  - after a barrier every node reads the final record: version W.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_shared_lock"
#include "mn_util.h"

#define W 40     /* writer rounds */
#define R 60     /* reads per reader */
#define LOCK 1u
#define BAR 1u
#define MAXN 64

/* The record spans two pages: a and b on the first, c and d on the second. */
struct shared {
	uint64_t inside[MAXN];          /* reader k: 1 while inside */
	uint64_t version;               /* first page */
	uint64_t a;
	char gap[8192];
	uint64_t b;                     /* second/third page */
	uint64_t c;
	uint64_t d;
};

static uint64_t fa(uint64_t v) { return v * 0x9e3779b97f4a7c15ull; }
static uint64_t fb(uint64_t v) { return ~v ^ 0x5555aaaa5555aaaaull; }
static uint64_t fc(uint64_t v) { return v * v + 7; }
static uint64_t fd(uint64_t v) { return (v << 32) | (v >> 32) | 1; }

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
}

static void writer(volatile struct shared *s, int n)
{
	for (uint64_t v = 1; v <= W; v++) {
		CHECK(dsm_lock_acquire(LOCK));
		for (int k = 1; k < n; k++)
			if (s->inside[k] != 0)
				FAIL("writer holds the lock exclusively but reader node"
				     " %d is inside (mark %llu)", k,
				     (unsigned long long)s->inside[k]);
		if (s->version != v - 1)
			FAIL("writer: version %llu before round %llu",
			     (unsigned long long)s->version, (unsigned long long)v);
		s->version = v;
		sched_yield();
		s->a = fa(v);
		sched_yield();
		s->b = fb(v);
		sched_yield();
		s->c = fc(v);
		s->d = fd(v);
		CHECK(dsm_lock_release(LOCK));
		pause_us(300);
	}
}

/* Returns how many times another reader's mark was seen (overlap). */
static int reader(volatile struct shared *s, int n)
{
	uint64_t last = 0;
	int overlap = 0;
	for (int r = 0; r < R; r++) {
		CHECK(dsm_lock_acquire_shared(LOCK));
		s->inside[me] = 1;
		for (int k = 1; k < n; k++)
			if (k != me && s->inside[k] != 0)
				overlap++;
		uint64_t v = s->version, a = s->a, b = s->b, c = s->c, d = s->d;
		if (v > W || v < last)
			FAIL("read %d: version %llu (last seen %llu, max %d)", r,
			     (unsigned long long)v, (unsigned long long)last, W);
		if (v == 0) {
			if (a != 0 || b != 0 || c != 0 || d != 0)
				FAIL("read %d: version 0 but record words nonzero"
				     " (%#llx %#llx %#llx %#llx)", r,
				     (unsigned long long)a, (unsigned long long)b,
				     (unsigned long long)c, (unsigned long long)d);
		} else if (a != fa(v) || b != fb(v) || c != fc(v) || d != fd(v)) {
			FAIL("read %d: torn record at version %llu: a %s b %s c %s"
			     " d %s", r, (unsigned long long)v,
			     a == fa(v) ? "ok" : "BAD", b == fb(v) ? "ok" : "BAD",
			     c == fc(v) ? "ok" : "BAD", d == fd(v) ? "ok" : "BAD");
		}
		last = v;
		if (r % 3 == 0)
			pause_us(200); /* linger so readers can overlap */
		s->inside[me] = 0;
		CHECK(dsm_lock_release(LOCK));
		sched_yield();
	}
	return overlap;
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, MAXN);

	struct shared *sh = mn_alloc_collective(sizeof *sh);
	CHECK(dsm_bind(LOCK, sh, sizeof *sh));
	volatile struct shared *s = sh;
	CHECK(dsm_barrier(BAR));

	int overlap = 0;
	if (me == 0)
		writer(s, n);
	else
		overlap = reader(s, n);

	CHECK(dsm_barrier(BAR));
	CHECK(dsm_lock_acquire_shared(LOCK));
	uint64_t v = s->version;
	if (v != W || s->a != fa(v) || s->b != fb(v) || s->c != fc(v) ||
	    s->d != fd(v))
		FAIL("final record: version %llu (expected %d), words %s",
		     (unsigned long long)v, W,
		     (s->a == fa(v) && s->b == fb(v) && s->c == fc(v) &&
		      s->d == fd(v)) ? "consistent" : "TORN");
	for (int k = 0; k < n; k++)
		if (s->inside[k] != 0)
			FAIL("reader node %d still marked inside after the barrier", k);
	CHECK(dsm_lock_release(LOCK));
	if (me != 0 && n >= 3)
		printf("mn_shared_lock: node %d saw another reader inside %d times"
		       " (informational)\n", me, overlap);

	CHECK(dsm_barrier(BAR));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("mn_shared_lock: %d nodes, writer %d rounds, %d reads per"
		       " reader: ok\n", n, W, R);
	return 0;
}
