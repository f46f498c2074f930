/*
 * mn_fetch_once.c — several application threads faulting on the same
 * pages wait for one fetch, not one each.
 *
 * Node 0 writes M pages; after a barrier every other node starts THREADS
 * threads that all read every page at once (released together by a
 * pthread barrier). Reads only, so each page is fetched exactly once per
 * node whatever the timing: remote_fetches must grow by exactly M, and
 * every thread must see node 0's values.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_fetch_once"
#include "mn_util.h"

#define M 64
#define THREADS 4

static volatile unsigned char *pages;
static size_t ps;
static pthread_barrier_t start;
static int bad;

static void *reader(void *arg)
{
	long t = (long)arg;

	pthread_barrier_wait(&start);
	for (size_t k = 0; k < M; k++) {
		size_t p = (k + (size_t)t * 7) % M; /* threads collide on pages */
		if (pages[p * ps] != (unsigned char)(p + 1) ||
		    pages[p * ps + ps - 1] != (unsigned char)(p * 3))
			__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct dsm_stats before, after;
	pthread_t th[THREADS];
	int err;

	if ((err = dsm_init(&argc, &argv)))
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	ps = (size_t)sysconf(_SC_PAGESIZE);
	pages = dsm_alloc_collective(M * ps);
	if (!pages)
		return fail_err("dsm_alloc_collective", -12);
	if (me == 0)
		for (size_t p = 0; p < M; p++) {
			pages[p * ps] = (unsigned char)(p + 1);
			pages[p * ps + ps - 1] = (unsigned char)(p * 3);
		}
	if ((err = dsm_barrier(1)))
		return fail_err("dsm_barrier", err);
	if (me != 0) {
		dsm_stats(&before);
		pthread_barrier_init(&start, NULL, THREADS);
		for (long t = 0; t < THREADS; t++)
			pthread_create(&th[t], NULL, reader, (void *)t);
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		dsm_stats(&after);
		if (bad) {
			fprintf(stderr, "mn_fetch_once: node %d: FAIL: %d wrong reads\n", me, bad);
			return 1;
		}
		if (after.remote_fetches - before.remote_fetches != M) {
			fprintf(stderr, "mn_fetch_once: node %d: FAIL: %llu fetches for %d "
				"pages read by %d threads (want exactly %d)\n", me,
				(unsigned long long)(after.remote_fetches - before.remote_fetches),
				M, THREADS, M);
			return 1;
		}
	}
	if ((err = dsm_barrier(2)))
		return fail_err("dsm_barrier", err);
	if (me == 1)
		printf("mn_fetch_once: %d threads x %d pages: one fetch per page: ok\n",
		       THREADS, M);
	return dsm_finalize() ? 1 : 0;
}
