/*
 * rp_threads.c — two application threads on each node write shared
 * memory under a dsm lock, and node 0 prints a checksum of it.
 *
 *   rp_threads          the second thread is created after dsm_init:
 *                       records and replays (docs/replay.md, "Several
 *                       threads per node"), the replay prints what the
 *                       recording did
 *   rp_threads early    the second thread is created before dsm_init, so
 *                       the run token does not know it: when it enters
 *                       the runtime while recording, the run fails with a
 *                       clear message (never a log that cannot replay)
 * Without recording both run normally (exit 0).
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dsm.h"

static volatile uint64_t *data;
static sem_t go;

static void *work(void *arg)
{
	uintptr_t k = (uintptr_t)arg;

	dsm_lock_acquire(1); /* both threads enter the runtime */
	for (int i = 0; i < 1000; i++)
		data[(k * 512 + (uintptr_t)i * 7) % 4096] += 1;
	dsm_lock_release(1);
	return NULL;
}

static void *early(void *arg)
{
	while (sem_wait(&go) != 0)
		;
	return work(arg);
}

int main(int argc, char **argv)
{
	int pre = argc > 1 && !strcmp(argv[1], "early");
	uint64_t h = 1469598103934665603ull;
	pthread_t t;
	int err;

	sem_init(&go, 0, 0);
	if (pre) /* before dsm_init: unknown to the run token */
		pthread_create(&t, NULL, early, NULL);
	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	data = dsm_alloc_collective(4096 * 8);
	if (!data || (err = dsm_barrier(0)))
		return 1;
	if (pre)
		sem_post(&go);
	else
		pthread_create(&t, NULL, work, (void *)(uintptr_t)(2 * dsm_node_id() + 1));
	work((void *)(uintptr_t)(2 * dsm_node_id()));
	pthread_join(t, NULL);
	if ((err = dsm_barrier(1)))
		goto fail;
	if (dsm_node_id() == 0) {
		for (int i = 0; i < 4096; i++)
			h = (h ^ data[i]) * 1099511628211ull;
		printf("checksum %016llx\n", (unsigned long long)h);
		fflush(stdout);
	}
	if ((err = dsm_barrier(2)) || (err = dsm_finalize()))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "node: %s\n", dsm_strerror(err));
	return 1;
}
