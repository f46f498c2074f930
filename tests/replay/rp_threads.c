/*
 * rp_threads.c — two application threads on each node write shared
 * memory. Record and replay support one application thread per node
 * (docs/replay.md, "Limits"): under --record this must fail with a clear
 * message, never record a log that cannot replay. Without recording it
 * runs normally (exit 0).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "dsm.h"

static volatile uint64_t *data;

static void *work(void *arg)
{
	uintptr_t k = (uintptr_t)arg;

	dsm_lock_acquire(1); /* both threads enter the runtime */
	for (int i = 0; i < 1000; i++)
		data[(k * 512 + (uintptr_t)i * 7) % 4096] += 1;
	dsm_lock_release(1);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int err;

	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	data = dsm_alloc_collective(4096 * 8);
	if (!data || (err = dsm_barrier(0)))
		return 1;
	pthread_create(&t, NULL, work, (void *)(uintptr_t)(2 * dsm_node_id() + 1));
	work((void *)(uintptr_t)(2 * dsm_node_id()));
	pthread_join(t, NULL);
	if ((err = dsm_barrier(1)) || (err = dsm_finalize())) {
		fprintf(stderr, "node: %s\n", dsm_strerror(err));
		return 1;
	}
	return 0;
}
