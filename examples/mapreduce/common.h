/*
 * common.h — harness shared by the MapReduce examples.
 *
 * Every example has an input generator (deterministic for a seed), a
 * sequential version (the reference), a plain pthreads version and a
 * MapReduce version on libdsm_mapreduce. Usage:
 *   app [-m seq|pthreads|mr|check] [-t workers] [-n size] [-r runs]
 * -m check (default) runs all three and compares them. Each run prints
 *   RESULT app=NAME mode=M workers=T time_us=US digest=HEX [extra]
 * where digest is a hash of the result, so runs can be compared byte for
 * byte. Exit status 0 when every version matches the sequential result.
 */
#ifndef MR_EXAMPLE_COMMON_H
#define MR_EXAMPLE_COMMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsm_det.h"
#include "map_reduce.h"

struct opts {
	const char *mode;
	int workers;
	long size;
	int runs;
};

static inline void parse_opts(int argc, char **argv, struct opts *o, long def_size)
{
	int c;

	o->mode = "check";
	o->workers = 2;
	o->size = def_size;
	o->runs = 1;
	while ((c = getopt(argc, argv, "m:t:n:r:")) != -1) {
		switch (c) {
		case 'm': o->mode = optarg; break;
		case 't': o->workers = atoi(optarg); break;
		case 'n': o->size = atol(optarg); break;
		case 'r': o->runs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-m seq|pthreads|mr|check] [-t N] "
				"[-n size] [-r runs]\n", argv[0]);
			exit(2);
		}
	}
	if (o->workers < 1)
		o->workers = 1;
}

static inline uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Deterministic generator for inputs. */
static inline uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* FNV-1a over bytes: the digest of a result. */
static inline uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (!h)
		h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static inline void report(const char *app, const char *mode, int workers,
			  uint64_t us, uint64_t digest)
{
	printf("RESULT app=%s mode=%s workers=%d time_us=%llu digest=%016llx\n",
	       app, mode, workers, (unsigned long long)us,
	       (unsigned long long)digest);
}

/* The MapReduce run's cost in the deterministic context (map_reduce_init
 * opened it): pages twinned in spaces and bytes merged, since *before. */
static inline void report_det(const struct dsm_det_stats *before)
{
	struct dsm_det_stats st;

	if (dsm_det_stats(NULL, &st) < 0)
		return;
	printf("DETSTATS pages_twinned=%llu bytes_merged=%llu pages_merged=%llu "
	       "rounds=%llu\n",
	       (unsigned long long)(st.pages_twinned - before->pages_twinned),
	       (unsigned long long)(st.bytes_merged - before->bytes_merged),
	       (unsigned long long)(st.pages_merged - before->pages_merged),
	       (unsigned long long)(st.rounds - before->rounds));
}

/* Start n threads running fn(i) and join them. */
static inline void run_threads(int n, void *(*fn)(void *))
{
	pthread_t th[64];

	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, fn, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* Block [lo, hi) of worker w among n over len items. */
static inline void block_of(long len, int n, int w, long *lo, long *hi)
{
	*lo = len * w / n;
	*hi = len * (w + 1) / n;
}

/* Run each requested mode; compare digests with the sequential one. */
static inline int run_modes(const char *app, const struct opts *o,
			    uint64_t (*seq)(void), uint64_t (*par)(int),
			    uint64_t (*mr)(int))
{
	int check = strcmp(o->mode, "check") == 0, bad = 0;
	uint64_t ref = 0, d, t;
	struct dsm_det_stats st0;

	for (int r = 0; r < o->runs; r++) {
		if (check || strcmp(o->mode, "seq") == 0) {
			t = now_us();
			ref = seq();
			report(app, "seq", 1, now_us() - t, ref);
		}
		if (check || strcmp(o->mode, "pthreads") == 0) {
			t = now_us();
			d = par(o->workers);
			report(app, "pthreads", o->workers, now_us() - t, d);
			bad |= check && d != ref;
		}
		if (check || strcmp(o->mode, "mr") == 0) {
			memset(&st0, 0, sizeof(st0));
			dsm_det_stats(NULL, &st0);
			t = now_us();
			d = mr(o->workers);
			report(app, "mr", o->workers, now_us() - t, d);
			report_det(&st0);
			bad |= check && d != ref;
		}
	}
	if (bad)
		fprintf(stderr, "%s: MISMATCH with the sequential result\n", app);
	return bad ? 1 : 0;
}

/* Common MapReduce setup: zeroed args with threads and the result. */
static inline void mr_args(map_reduce_args_t *a, final_data_t *res, int workers)
{
	memset(a, 0, sizeof(*a));
	a->result = res;
	a->num_map_threads = workers;
	a->num_reduce_threads = workers;
	a->num_merge_threads = workers;
}

/* Bytes of input per map task: MR_CHUNK from the environment (tests use
 * it to get many tasks out of small inputs), else def. */
static inline int chunk(int def)
{
	const char *s = getenv("MR_CHUNK");
	return s && atoi(s) > 0 ? atoi(s) : def;
}

static inline int intptr_cmp(const void *a, const void *b)
{
	intptr_t x = (intptr_t)a, y = (intptr_t)b;
	return (x > y) - (x < y);
}

#endif /* MR_EXAMPLE_COMMON_H */
