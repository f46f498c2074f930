/*
 * mn_tape_record.c — recording write, read and request tapes, holes,
 * sending a tape (encode, dsm_broadcast, decode) and applying one, end to
 * end (include/dsm_tape.h).
 *
 * A: KP pages whose home is node 1; B: KP pages whose home is node 0.
 *  1. Node 0 records a write tape while it writes A (not its home: every
 *     first write faults): the tape is exactly A's pages, node 0.
 *  2. Node 0 writes B (its own pages); barrier. Node 1 records a read
 *     tape while reading B (invalidated by node 0's notices): B's pages,
 *     from node 0. Node 0 records a request tape meanwhile: B's pages,
 *     asked by node 1 (checked after a barrier).
 *  3. The paper's iteration: node 0 sends node 1 its write tape of the
 *     next round (B again; dsm_tape_send/recv, after a recv that times
 *     out because nothing was sent under its tag); node 1 prunes it to the pages of its read tape,
 *     asks for the hole of those pages (all of B, home node 0), applies
 *     the pruned tape (KP pages fetched) and reads B with no remote fetch
 *     and the new values; the hole is then empty.
 *  4. Hostile requests: a TAPE_REQ naming a page past the region, or of a
 *     length that is not a list of pages, is refused with a NACK that
 *     fails the sender's wait with DSM_EPROTO (the job goes on); node 0
 *     logs why (expected "rejected" lines).
 *  5. Node 0 writes A in five critical sections in a row; the write tape
 *     of the last names all of A (under lrc with DSM_WRITE_DETECT=uffd
 *     those pages are tracked by the kernel by then and cost no fault:
 *     the tape layer asks lrc for them before the recording stops).
 *     A recording spanning a critical section and its close names them
 *     too (the close collects them: noted there).
 *     Asserted under lrc: under hlrc A's home migrates to node 0, whose
 *     writes to its own unshared pages cost no fault and are not seen.
 * Exact assertions under hlrc and lrc (tape hooks; under lrc, which has
 * no homes, node 1 also fetches A's diffs from node 0, so its read tape
 * and node 0's request tape name A's pages too, and the hole names each
 * page's write notice: (interval, page, writer)); under sc the tapes are
 * empty, hole/apply say -ENOTSUP, and the values are checked.
 */
#define MN_PROG "mn_tape_record"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/node.h"
#include "dsm_tape.h"
#include "mn_util.h"
#include "proto/proto.h"

#define KP 6

static size_t ps;

/* t has exactly the pages of [base, base + KP pages) and, if base2 is
 * not NULL, of [base2, base2 + KP pages), each with node. */
static void expect_pages2(const char *what, dsm_tape_t *t, const void *base,
			  const void *base2, uint32_t node)
{
	dsm_extent_t *want = dsm_extent_new(DSM_TAPE_PAGES);
	struct dsm_tape_event e;
	size_t k = base2 ? 2 * KP : KP;

	CHECK(dsm_extent_add_range(want, base, KP * ps));
	if (base2)
		CHECK(dsm_extent_add_range(want, base2, KP * ps));
	if (dsm_tape_count(t) != k)
		FAIL("%s tape has %zu events, expected %zu", what, dsm_tape_count(t), k);
	for (size_t i = 0; i < k; i++) {
		CHECK(dsm_tape_event(t, i, &e));
		if (e.page != dsm_extent_value(want, i) || e.node != node)
			FAIL("%s tape event %zu: page %u node %u, expected page %u node %u",
			     what, i, e.page, e.node, dsm_extent_value(want, i), node);
	}
	dsm_extent_free(want);
}

static void expect_pages(const char *what, dsm_tape_t *t, const void *base, uint32_t node)
{
	expect_pages2(what, t, base, NULL, node);
}

static void fill(volatile uint64_t *p, uint64_t v)
{
	for (size_t w = 0; w < KP * ps / 8; w += 64)
		p[w] = v + w;
}

static void check(volatile uint64_t *p, uint64_t v)
{
	for (size_t w = 0; w < KP * ps / 8; w += 64)
		if (p[w] != v + w)
			FAIL("word %zu is %#llx, expected %#llx", w,
			     (unsigned long long)p[w], (unsigned long long)(v + w));
}

int main(int argc, char **argv)
{
	int nodes = mn_init(&argc, &argv, 0);
	dsm_tape_t *t, *h = NULL;
	dsm_extent_t *none = dsm_extent_new(DSM_TAPE_PAGES);
	struct dsm_stats s0, s1;
	int hooks, lrc;

	ps = (size_t)sysconf(_SC_PAGESIZE);
	if (nodes < 2) {
		CHECK(dsm_finalize());
		return 0;
	}
	volatile uint64_t *a = dsm_alloc_collective_hint(KP * ps, 1);
	volatile uint64_t *b = dsm_alloc_collective_hint(KP * ps, 0);
	if (!a || !b)
		FAIL("dsm_alloc_collective_hint");
	hooks = dsm_tape_hole(none, &h) == 0;
	/* lrc: no homes; node 1 also fetches node 0's diffs of A */
	lrc = !strcmp(dsm__get()->proto->name, "lrc");
	dsm_tape_free(h);
	dsm_extent_free(none);

	/* 1. write tape */
	if (me == 0) {
		if (!(t = dsm_tape_record(DSM_TAPE_WRITE)))
			FAIL("dsm_tape_record(WRITE): errno %d", errno);
		fill(a, 100);
		if (dsm_tape_count(t) != 0 || dsm_tape_add_event(t, 0, 0, 0) != -EBUSY)
			FAIL("a recording tape must refuse the algebra");
		CHECK(dsm_tape_stop(t));
		if (hooks)
			expect_pages("write", t, (void *)a, 0);
		dsm_tape_free(t);
		fill(b, 200);
	}
	/* 2. read tape on node 1, request tape on node 0 (started before the
	 * barrier: node 1 may ask as soon as it leaves it) */
	dsm_tape_t *req = me == 0 ? dsm_tape_record(DSM_TAPE_REQUEST) : NULL;
	dsm_tape_t *rd = NULL;
	if (me == 0 && !req)
		FAIL("dsm_tape_record(REQUEST): errno %d", errno);
	CHECK(dsm_barrier(1));
	if (me == 1) {
		if (!(rd = dsm_tape_record(DSM_TAPE_READ)))
			FAIL("dsm_tape_record(READ): errno %d", errno);
		check(b, 200);
		check(a, 100);
		CHECK(dsm_tape_stop(rd));
		if (hooks)
			expect_pages2("read", rd, (void *)b, lrc ? (void *)a : NULL,
				      0); /* hlrc: a's home is here, no fetch */
	}
	CHECK(dsm_barrier(2));
	if (me == 0) {
		CHECK(dsm_tape_stop(req));
		if (hooks)
			expect_pages2("request", req, (void *)b, lrc ? (void *)a : NULL, 1);
		dsm_tape_free(req);
	}
	/* 3. node 0's write tape of the next round travels to node 1 */
	if (me == 0) {
		if (!(t = dsm_tape_record(DSM_TAPE_WRITE)))
			FAIL("dsm_tape_record(WRITE): errno %d", errno);
		fill(b, 300);
		CHECK(dsm_tape_stop(t));
		if (hooks)
			expect_pages("write (home)", t, (void *)b, 0);
		if (dsm_tape_send(t, 0, 7) != -EINVAL || dsm_tape_send(t, nodes, 7) != -EINVAL)
			FAIL("dsm_tape_send to itself or past the job must be refused");
		CHECK(dsm_tape_send(t, 1, 7));
		dsm_tape_free(t);
	}
	CHECK(dsm_barrier(3));
	if (me == 1) {
		dsm_tape_t *w0 = NULL;
		int from = -1, e = dsm_tape_recv(8, 10, &w0, &from);
		if (e != DSM_ETIMEDOUT || w0)
			FAIL("dsm_tape_recv of an unused tag: %s (%d)", dsm_strerror(e), e);
		CHECK(dsm_tape_recv(7, -1, &w0, &from));
		if (from != 0)
			FAIL("dsm_tape_recv: tape from node %d, expected node 0", from);
		dsm_extent_t *pages = dsm_tape_project(rd, DSM_TAPE_PAGES);
		CHECK(dsm_tape_prune(w0, pages)); /* T0 / T1 */
		if (hooks) {
			expect_pages("pruned", w0, (void *)b, 0);
			CHECK(dsm_tape_hole(pages, &h));
			expect_pages("hole", h, (void *)b, 0);
			for (size_t i = 0; lrc && i < KP; i++) { /* the notice's interval */
				struct dsm_tape_event eh, ew;
				CHECK(dsm_tape_event(h, i, &eh));
				CHECK(dsm_tape_event(w0, i, &ew));
				if (eh.interval != ew.interval)
					FAIL("hole event %zu: interval %u, node 0 wrote the "
					     "page in interval %u", i, eh.interval, ew.interval);
			}
			dsm_tape_free(h);
		}
		CHECK(dsm_stats(&s0));
		int got = dsm_tape_apply(w0);
		if (hooks && got != KP)
			FAIL("dsm_tape_apply fetched %d pages, expected %d", got, KP);
		if (!hooks && got != -ENOTSUP)
			FAIL("dsm_tape_apply without tape hooks: %d", got);
		check(b, 300);
		CHECK(dsm_stats(&s1));
		if (hooks && s1.remote_fetches != s0.remote_fetches)
			FAIL("reads after dsm_tape_apply made %llu remote fetches",
			     (unsigned long long)(s1.remote_fetches - s0.remote_fetches));
		if (hooks) {
			CHECK(dsm_tape_hole(pages, &h));
			if (dsm_tape_count(h))
				FAIL("hole after apply has %zu events", dsm_tape_count(h));
			dsm_tape_free(h);
		}
		dsm_extent_free(pages);
		dsm_tape_free(w0);
		dsm_tape_free(rd);
	}
	if (me == 1 && hooks) { /* 4. */
		struct dsm_node *n = dsm__get();
		unsigned char bad[8] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4 };
		for (int k = 0; k < 2; k++) {
			struct dsm_waiter w;
			dsm__waiter_add(n, &w);
			struct dsm_msg m = { .type = DSM_MSG_TAPE_REQ, .arg = { w.token },
					     .payload = bad, .length = k ? 5 : 4 };
			int e = dsm__send(n, 0, &m);
			if (e)
				dsm__waiter_complete(n, w.token, e, NULL);
			e = dsm__waiter_wait_for(n, &w, 0, "TAPE_REQ");
			free(w.data);
			if (e != DSM_EPROTO)
				FAIL("hostile TAPE_REQ %d: %s (%d), expected a refusal", k,
				     dsm_strerror(e), e);
		}
		fprintf(stderr, "mn_tape_record: node 1: two hostile TAPE_REQ refused "
			"as expected\n");
	}
	CHECK(dsm_barrier(4));
	/* 5. a critical section's write tape names every page written, also
	 * pages written in interval after interval (lrc under uffd: tracked
	 * by the kernel, no fault; the tape layer asks for them at the stop) */
	if (me == 0) {
		struct dsm_stats w0, w1;
		for (int r = 0; r < 5; r++) {
			CHECK(dsm_lock_acquire(3));
			if (r == 4) {
				CHECK(dsm_stats(&w0));
				if (!(t = dsm_tape_record(DSM_TAPE_WRITE)))
					FAIL("dsm_tape_record(WRITE): errno %d", errno);
			}
			fill(a, 500 + (uint64_t)r);
			if (r == 4) {
				CHECK(dsm_tape_stop(t));
				CHECK(dsm_stats(&w1));
				printf("mn_tape_record: node 0: a critical section's write tape: "
				       "%zu pages, %llu write faults\n", dsm_tape_count(t),
				       (unsigned long long)(w1.write_faults - w0.write_faults));
				if (lrc) /* hlrc: A's home moved here, its writes cost no fault */
					expect_pages("write (locked, repeated)", t, (void *)a, 0);
				dsm_tape_free(t);
			}
			CHECK(dsm_lock_release(3));
		}
		/* a recording across the close: what the close collects counts */
		if (!(t = dsm_tape_record(DSM_TAPE_WRITE)))
			FAIL("dsm_tape_record(WRITE): errno %d", errno);
		CHECK(dsm_lock_acquire(3));
		fill(a, 505);
		CHECK(dsm_lock_release(3));
		CHECK(dsm_lock_acquire(3));
		CHECK(dsm_lock_release(3));
		CHECK(dsm_tape_stop(t));
		if (lrc)
			expect_pages("write (across a close)", t, (void *)a, 0);
		dsm_tape_free(t);
	}
	CHECK(dsm_barrier(5));
	if (me == 1) {
		CHECK(dsm_lock_acquire(3));
		check(a, 505);
		CHECK(dsm_lock_release(3));
	}
	CHECK(dsm_finalize());
	return 0;
}
