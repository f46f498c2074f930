/*
 * mn_util.h — failure reporting shared by the multi-node test programs
 * (tests/mn/mn_*.c) and the script helpers (tests/scripts/prog_*.c).
 *
 * Define MN_PROG (the program's name, a string literal) before including.
 * Every message names the program and the node: "MN_PROG: node N: ...".
 * The node id is the static `me` defined here: -1 until the program sets
 * it (mn_init does) after dsm_init.
 *
 *   DIE(code, fmt, ...)  print "MN_PROG: node N: <message>", exit(code)
 *   FAIL(fmt, ...)       DIE(1, "FAIL: <message>")
 *   CHECK(call)          FAIL if the dsm_ call returns nonzero
 *   fail_err(what, err)  print a FAIL line for a dsm_ error, return 1
 *   mn_init(...)         dsm_init, set me, check the node count
 *   mn_alloc_collective  dsm_alloc_collective, FAIL on NULL
 *
 * Usable from any thread (stderr is flushed before exit).
 */
#ifndef MN_UTIL_H
#define MN_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm.h"

#ifndef MN_PROG
#error "define MN_PROG before including mn_util.h"
#endif

static int me = -1; /* this node's id, once known */

#define MN_REPORT_(code, tag, ...)                                     \
	do {                                                           \
		fprintf(stderr, MN_PROG ": node %d: %s", me, tag);     \
		fprintf(stderr, __VA_ARGS__);                          \
		fputc('\n', stderr);                                   \
		fflush(stderr);                                        \
		exit(code);                                            \
	} while (0)
#define DIE(code, ...) MN_REPORT_(code, "", __VA_ARGS__)
#define FAIL(...) MN_REPORT_(1, "FAIL: ", __VA_ARGS__)
#define CHECK(call)                                                    \
	do {                                                           \
		int err_ = (call);                                     \
		if (err_ != 0)                                         \
			FAIL("%s: %s (%d)", #call, dsm_strerror(err_), \
			     err_);                                    \
	} while (0)

/* Print a FAIL line for what, which returned the error err; returns 1,
 * for main to return. */
static inline int fail_err(const char *what, int err)
{
	fprintf(stderr, MN_PROG ": node %d: FAIL: %s: %s\n", me, what,
		dsm_strerror(err));
	return 1;
}

/* dsm_alloc_collective(size) (collective); FAIL if it returns NULL. */
static inline void *mn_alloc_collective(size_t size)
{
	void *p = dsm_alloc_collective(size);

	if (p == NULL)
		FAIL("dsm_alloc_collective(%zu): errno %d", size, errno);
	return p;
}

/* dsm_init, then set me; FAIL unless the node id and count make sense
 * and (if maxn > 0) the count is at most maxn, the most the test
 * supports. Returns the node count. */
static inline int mn_init(int *argc, char ***argv, int maxn)
{
	int n;

	CHECK(dsm_init(argc, argv));
	me = dsm_node_id();
	n = dsm_node_count();
	if (me < 0 || n < 1)
		FAIL("dsm_node_id/count returned %d/%d", me, n);
	if (maxn > 0 && n > maxn)
		FAIL("dsm_node_id/count returned %d/%d (test supports <= %d)", me,
		     n, maxn);
	return n;
}

#endif /* MN_UTIL_H */
