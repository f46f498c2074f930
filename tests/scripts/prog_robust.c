/*
 * prog_robust — helper for test_robust.sh: errors from a live peer and
 * mismatched collectives must end the job with a message naming the node
 * and what happened, within DSM_TIMEOUT. Run under dsmrun -n 2; one mode
 * per run:
 *
 *   nack lock    node 0 (manager of lock 0) rejects node 1's LOCK_REQ
 *                (dsm__test_nack, a test-only hook): node 1's
 *                dsm_lock_acquire returns the error, node 1 exits 3.
 *   nack alloc   node 0 rejects node 1's ALLOC_REQ: dsm_malloc returns
 *                NULL, node 1 exits 3.
 *   nack barrier node 1 (manager of barrier 5) rejects node 0's
 *                BAR_ARRIVE: node 0's dsm_barrier fails naming node 1.
 *   nack page    node 0 writes a page, then rejects node 1's request for
 *                it (SC_READ_REQ under sc, LRC_DIFF_REQ under lrc): node
 *                1's read dies of SIGBUS with the reason on stderr.
 *   finalize M   node 1 calls dsm_finalize while node 0 waits in
 *                dsm_barrier(M) (manager node M % 2): both fail naming
 *                node 1 and node 0.
 *   flood N      node 1 opens N connections to node 0's listening address
 *                (DSM_COORDINATOR), each sending garbage; both nodes then
 *                keep running 2.5 s (so node 0 can summarise) and finish
 *                normally (exit 0). test_robust.sh counts node 0's lines.
 *   altstack x   a thread created after dsm_init has no alternate signal
 *                stack until its first dsm_* call, then has one; its
 *                faults on the region are served (any node count).
 *   svcfault x   node 1 marks its main thread as the service thread (in the
 *                node's internal state) and reads a page it does not hold:
 *                the handler must refuse at once (SIGBUS, "BUG: the
 *                service thread faulted"), not serve the fault.
 * Every node prints "prog_robust: node N: <call>: <dsm_strerror>" when a
 * call fails and exits 3; a node that sees no error within 60 s exits 2.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h" /* dsm__test_nack: test-only fault injection */

#define MN_PROG "prog_robust"
#include "../mn/mn_util.h"

/* Report a failed call (the behaviour under test) and exit 3. */
static void failed(const char *what, int err)
{
	fprintf(stderr, MN_PROG ": node %d: %s: %s\n", me, what, dsm_strerror(err));
	fflush(stderr);
	exit(3);
}

/* Node `who` arms the rejection of the next request of type it receives,
 * then both meet at barrier `who ^ 1` (managed by the other node, so this
 * meeting is not what gets rejected, and every later request is). */
static void arm(int who, unsigned type)
{
	if (me == who)
		CHECK(dsm__test_nack(type));
	CHECK(dsm_barrier((unsigned)(who ^ 1)));
}

/* The rejecting node waits for the other one to go: its barrier fails
 * when the peer's link closes. */
static void linger(void)
{
	int err = dsm_barrier(6);

	if (err)
		failed("dsm_barrier(6)", err);
	DIE(1, "FAIL: dsm_barrier(6) returned 0");
}

static int mode_nack(const char *what)
{
	int err;

	if (!strcmp(what, "lock")) {
		arm(0, DSM_MSG_LOCK_REQ);
		if (me == 1 && (err = dsm_lock_acquire(0)))
			failed("dsm_lock_acquire(0)", err);
	} else if (!strcmp(what, "alloc")) {
		arm(0, DSM_MSG_ALLOC_REQ);
		if (me == 1 && !dsm_malloc(4096))
			failed("dsm_malloc", -errno);
	} else if (!strcmp(what, "barrier")) {
		arm(1, DSM_MSG_BAR_ARRIVE);
		if (me == 0 && (err = dsm_barrier(5)))
			failed("dsm_barrier(5)", err);
		if (me == 0)
			DIE(1, "FAIL: the rejected barrier arrival succeeded");
		linger();
	} else if (!strcmp(what, "page")) {
		volatile uint64_t *p = mn_alloc_collective(4096);
		const char *proto = dsm__get()->cfg.protocol;
		if (me == 0)
			p[0] = 42;
		arm(0, !strcmp(proto, "lrc") ? DSM_MSG_LRC_DIFF_REQ : DSM_MSG_SC_READ_REQ);
		if (me == 1) {
			uint64_t v = p[0]; /* SIGBUS expected */
			DIE(1, "FAIL: read %llu from a page whose request was rejected",
			    (unsigned long long)v);
		}
	} else {
		DIE(1, "unknown nack case '%s'", what);
	}
	if (me == 1)
		DIE(1, "FAIL: the rejected %s request succeeded", what);
	linger();
	return 0;
}

static int mode_finalize(unsigned barrier)
{
	int err;

	CHECK(dsm_barrier(0));
	if (me == 1) {
		if ((err = dsm_finalize()))
			failed("dsm_finalize", err);
		DIE(1, "FAIL: dsm_finalize returned 0 while node 0 waits in a barrier");
	}
	if ((err = dsm_barrier(barrier)))
		failed("dsm_barrier", err);
	DIE(1, "FAIL: dsm_barrier returned 0 while node 1 is in dsm_finalize");
}

/* Connect to host:port, send 16 bytes of garbage, close. 0 or -1. */
static int foreign_once(const struct addrinfo *ai)
{
	static const char junk[16] = "JUNKJUNKJUNKJUNK";
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		return -1;
	}
	(void)!send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	close(fd);
	return 0;
}

static int mode_flood(int count)
{
	const char *coord = getenv("DSM_COORDINATOR");
	char host[256];
	const char *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int ok = 0;

	CHECK(dsm_barrier(0));
	if (me == 1) {
		if (!coord || !(colon = strrchr(coord, ':')) ||
		    (size_t)(colon - coord) >= sizeof(host))
			DIE(1, "FAIL: DSM_COORDINATOR missing or not host:port");
		memcpy(host, coord, (size_t)(colon - coord));
		host[colon - coord] = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &ai))
			DIE(1, "FAIL: cannot resolve %s", coord);
		for (int i = 0; i < count; i++)
			ok += foreign_once(ai) == 0;
		freeaddrinfo(ai);
		printf(MN_PROG ": node 1: %d of %d foreign connections made\n", ok, count);
		fflush(stdout);
	}
	CHECK(dsm_barrier(1));
	usleep(2500000); /* node 0 logs its summary within about a second */
	CHECK(dsm_barrier(0));
	CHECK(dsm_finalize());
	return 0;
}

static volatile uint64_t *alt_page;

static int has_altstack(void)
{
	stack_t ss;

	return sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE);
}

static void *alt_thread(void *arg)
{
	int *result = arg;

	if (has_altstack()) {
		*result = 1; /* nothing to prove: the libc gave it one */
		return NULL;
	}
	(void)dsm_node_id(); /* first dsm_* call on this thread */
	if (!has_altstack()) {
		*result = 2;
		return NULL;
	}
	alt_page[me] = (uint64_t)me + 1; /* a fault, handled on that stack */
	*result = alt_page[me] == (uint64_t)me + 1 ? 0 : 3;
	return NULL;
}

static int mode_altstack(void)
{
	pthread_t th;
	int result = -1;

	alt_page = mn_alloc_collective(4096);
	CHECK(dsm_barrier(0));
	if (pthread_create(&th, NULL, alt_thread, &result) || pthread_join(th, NULL))
		DIE(1, "FAIL: pthread_create/join");
	if (result > 1)
		DIE(1, "FAIL: late thread: %s", result == 2 ? "no alternate stack after "
		    "its first dsm_* call" : "its store to the region was lost");
	if (result == 1) /* e.g. ASan gives every thread one */
		printf(MN_PROG ": node %d: late thread had an alternate stack "
		       "already (runtime-provided); nothing to check\n", me);
	else
		printf(MN_PROG ": node %d: late thread got its alternate stack\n", me);
	CHECK(dsm_barrier(0));
	CHECK(dsm_finalize());
	return 0;
}

static int mode_svcfault(void)
{
	volatile uint64_t *p = mn_alloc_collective(4096);

	if (me == 0)
		p[0] = 7;
	CHECK(dsm_barrier(0));
	if (me == 1) {
		dsm__get()->service_tid = (int)syscall(SYS_gettid);
		uint64_t v = p[0]; /* SIGBUS expected */
		DIE(1, "FAIL: a fault on the service thread was served (%llu)",
		    (unsigned long long)v);
	}
	linger();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		DIE(1, "usage: prog_robust nack lock|alloc|barrier|page | finalize BARRIER");
	CHECK(dsm_init(&argc, &argv));
	me = dsm_node_id();
	if (!strcmp(argv[1], "altstack"))
		return mode_altstack();
	if (dsm_node_count() != 2)
		DIE(1, "run with dsmrun -n 2");
	if (!strcmp(argv[1], "nack"))
		return mode_nack(argv[2]);
	if (!strcmp(argv[1], "svcfault"))
		return mode_svcfault();
	if (!strcmp(argv[1], "flood"))
		return mode_flood(atoi(argv[2]));
	if (!strcmp(argv[1], "finalize"))
		return mode_finalize((unsigned)atoi(argv[2]));
	DIE(1, "unknown mode '%s'", argv[1]);
}
