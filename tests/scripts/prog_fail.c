/*
 * prog_fail — helper for test_failure.sh. One mode per run:
 *
 *   kill      (under dsmrun, >= 2 nodes) all nodes loop over lock
 *             operations, page accesses and barriers; node 1 raises SIGKILL
 *             on itself after the barrier of iteration KILL_AT. The others
 *             go on until a call fails, print the error and exit 1 (or die
 *             of SIGBUS in a page access, as documented).
 *             A survivor that sees no error within 60 s exits 2.
 *   segv [unmapped]
 *             after a barrier the last node writes through a NULL pointer
 *             (or, with "unmapped", to a page it has just unmapped): a
 *             fault outside the shared region must kill it with SIGSEGV.
 *             Works standalone (one node) or under dsmrun.
 *   notinit   standalone: every API function called before dsm_init (and
 *             after dsm_finalize) reports DSM_ENOTINIT (NULL + ENOTCONN for
 *             the allocators); dsm_init twice gives -EALREADY. Exit 0 iff
 *             all hold.
 *   init      standalone, with a bad DSM_* variable in the environment:
 *             dsm_init must fail with DSM_ECONFIG. Exit 0 iff it does.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "prog_fail"
#include "../mn/mn_util.h"

#define KILL_AT 20 /* kill mode: node 1 dies after this iteration's barrier */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Node 1 raises sig (SIGKILL: dies; SIGSTOP: hangs without answering)
 * in the middle of lock, page and barrier traffic. */
static int mode_kill(int argc, char **argv, int sig)
{
	CHECK(dsm_init(&argc, &argv));
	me = dsm_node_id();
	int n = dsm_node_count();
	if (n < 2)
		DIE(1, "kill mode needs at least 2 nodes, got %d", n);
	volatile uint64_t *arr = mn_alloc_collective((size_t)n * 4096);
	CHECK(dsm_barrier(1));
	double end = now_s() + 60;
	for (uint64_t it = 0; now_s() < end; it++) {
		CHECK(dsm_lock_acquire(1));
		arr[0]++;                      /* a page every node writes */
		arr[(size_t)me * 512] = it;    /* this node's own page */
		CHECK(dsm_lock_release(1));
		(void)arr[(size_t)((me + 1) % n) * 512]; /* a neighbour's page */
		CHECK(dsm_barrier(2));
		if (me == 1 && it == KILL_AT) {
			fprintf(stderr, "prog_fail: raising %s on myself (id %d)"
				" in iteration %d\n", sig == SIGKILL ? "SIGKILL" : "SIGSTOP",
				me, KILL_AT);
			fflush(stderr);
			raise(sig);
			DIE(3, "survived the signal");
		}
	}
	DIE(2, "no error reported within 60 s after node 1 died");
}

/* The faulting store, hidden from UBSan's null check so a sanitizer build
 * still tests the real SIGSEGV. */
__attribute__((noinline, no_sanitize("undefined")))
static void poke(volatile int *p)
{
	*p = 42;
}

static int mode_segv(int argc, char **argv, int unmapped)
{
	CHECK(dsm_init(&argc, &argv));
	me = dsm_node_id();
	int n = dsm_node_count();
	CHECK(dsm_barrier(1));
	if (me == n - 1) {
		volatile int *volatile p = NULL; /* volatile: no UB-driven trap */
		long ps = sysconf(_SC_PAGESIZE);
		for (int tries = 0;; tries++) {
			if (unmapped) {
				void *q = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (q == MAP_FAILED)
					DIE(1, "mmap: %s", strerror(errno));
				if (munmap(q, (size_t)ps) != 0)
					DIE(1, "munmap: %s", strerror(errno));
				p = q;
			}
			fprintf(stderr, "prog_fail: node %d: writing to %p (outside the"
				" region)\n", me, (void *)p);
			fflush(stderr);
			poke(p);
			/* Survived: another thread (the sanitizer's allocator, the
			 * service thread's) may have mapped the freed page between
			 * munmap and the write; msync fails with ENOMEM only on an
			 * unmapped range. Then take another page. */
			if (!unmapped || tries >= 20 ||
			    msync((void *)((uintptr_t)p & ~(uintptr_t)(ps - 1)), (size_t)ps,
				  MS_ASYNC) != 0)
				break;
		}
		DIE(3, "survived a write to %p", (void *)p);
	}
	CHECK(dsm_barrier(2)); /* cannot complete: node n-1 is dead */
	DIE(4, "barrier completed although node %d died", n - 1);
}

static int failures;

static void expect(const char *what, int got, int want)
{
	if (got != want) {
		fprintf(stderr, "prog_fail: notinit: %s returned %d (%s), expected %d"
			" (%s)\n", what, got, dsm_strerror(got), want,
			dsm_strerror(want));
		failures++;
	}
}

/* Every entry point of the API while the library is not initialised. */
static void check_uninit(const char *when)
{
	char buf[16] = { 0 };
	struct dsm_stats st;
	char what[96];
#define EXPECT(call)                                                         \
	do {                                                                 \
		snprintf(what, sizeof(what), "%s: %s", when, #call);         \
		expect(what, (call), DSM_ENOTINIT);                          \
	} while (0)
	EXPECT(dsm_node_id());
	EXPECT(dsm_node_count());
	EXPECT(dsm_lock_acquire(1));
	EXPECT(dsm_lock_acquire_shared(1));
	EXPECT(dsm_lock_release(1));
	EXPECT(dsm_barrier(1));
	EXPECT(dsm_broadcast(buf, sizeof(buf), 0));
	EXPECT(dsm_bind(1, buf, sizeof(buf)));
	EXPECT(dsm_bind_barrier(1, buf, sizeof(buf)));
	EXPECT(dsm_stats(&st));
	EXPECT(dsm_finalize());
#undef EXPECT
	errno = 0;
	void *p = dsm_malloc(64);
	if (p != NULL || errno != ENOTCONN) {
		fprintf(stderr, "prog_fail: notinit: %s: dsm_malloc = %p errno %d,"
			" expected NULL/ENOTCONN\n", when, p, errno);
		failures++;
	}
	errno = 0;
	p = dsm_alloc_collective(64);
	if (p != NULL || errno == 0) {
		fprintf(stderr, "prog_fail: notinit: %s: dsm_alloc_collective = %p"
			" errno %d, expected NULL with errno set\n", when, p, errno);
		failures++;
	}
	dsm_free(NULL); /* ignored, never a crash */
}

static int mode_notinit(int argc, char **argv)
{
	const char *s = dsm_strerror(DSM_ENOTINIT);
	if (s == NULL || *s == '\0') {
		fprintf(stderr, "prog_fail: notinit: dsm_strerror(DSM_ENOTINIT) is"
			" empty\n");
		failures++;
	}
	check_uninit("before dsm_init");
	int rc = dsm_init(&argc, &argv);
	if (rc != 0) {
		fprintf(stderr, "prog_fail: notinit: standalone dsm_init failed: %s\n",
			dsm_strerror(rc));
		return 1;
	}
	expect("second dsm_init", dsm_init(&argc, &argv), -EALREADY);
	expect("dsm_node_id (one node)", dsm_node_id(), 0);
	expect("dsm_node_count (one node)", dsm_node_count(), 1);
	expect("dsm_finalize", dsm_finalize(), 0);
	check_uninit("after dsm_finalize");
	if (failures) {
		fprintf(stderr, "prog_fail: notinit: %d check(s) failed\n", failures);
		return 1;
	}
	printf("prog_fail: notinit: every call reported DSM_ENOTINIT (\"%s\")\n", s);
	return 0;
}

static int mode_init(int argc, char **argv)
{
	int rc = dsm_init(&argc, &argv);
	if (rc == DSM_ECONFIG) {
		printf("prog_fail: init: dsm_init failed as expected: %s\n",
		       dsm_strerror(rc));
		return 0;
	}
	if (rc == 0) {
		fprintf(stderr, "prog_fail: init: dsm_init accepted the bad"
			" configuration\n");
		dsm_finalize();
		return 1;
	}
	fprintf(stderr, "prog_fail: init: dsm_init returned %d (%s), expected"
		" DSM_ECONFIG\n", rc, dsm_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "kill") == 0)
		return mode_kill(argc, argv, SIGKILL);
	if (strcmp(mode, "stop") == 0)
		return mode_kill(argc, argv, SIGSTOP);
	if (strcmp(mode, "segv") == 0)
		return mode_segv(argc, argv, argc > 2 && strcmp(argv[2], "unmapped") == 0);
	if (strcmp(mode, "notinit") == 0)
		return mode_notinit(argc, argv);
	if (strcmp(mode, "init") == 0)
		return mode_init(argc, argv);
	fprintf(stderr, "usage: prog_fail kill|segv [unmapped]|notinit|init\n");
	return 2;
}
