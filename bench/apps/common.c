/*
 * common.c — helpers shared by every application benchmark (see common.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double app_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t app_hash(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double app_unit(uint64_t seed, uint64_t i)
{
	return (double)(app_hash(seed, i) >> 11) * 0x1.0p-53;
}

long app_arg(int argc, char **argv, int idx, long def)
{
	char *end;
	long v;

	if (idx >= argc)
		return def;
	errno = 0;
	v = strtol(argv[idx], &end, 10);
	if (errno || *end || v <= 0) {
		fprintf(stderr, "%s: argument %d ('%s') must be a positive integer\n",
			argv[0], idx, argv[idx]);
		exit(2);
	}
	return v;
}

void app_split(size_t n, int k, int p, size_t *lo, size_t *hi)
{
	*lo = n * (size_t)k / (size_t)p;
	*hi = n * (size_t)(k + 1) / (size_t)p;
}

void app_split_aligned(size_t n, size_t align, int k, int p, size_t *lo,
		       size_t *hi)
{
	size_t units = (n + align - 1) / align;

	app_split(units, k, p, lo, hi);
	*lo = *lo * align < n ? *lo * align : n;
	*hi = *hi * align < n ? *hi * align : n;
}

size_t app_page_items(size_t item_bytes)
{
	size_t a = item_bytes, b = APP_PAGE;

	while (b) { /* gcd */
		size_t t = a % b;
		a = b;
		b = t;
	}
	return APP_PAGE / a;
}

size_t app_round_up(size_t n, size_t m)
{
	return (n + m - 1) / m * m;
}

void *app_alloc(size_t bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, APP_PAGE, app_round_up(bytes ? bytes : 1, APP_PAGE))) {
		fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
		exit(1);
	}
	memset(p, 0, bytes);
	return p;
}

/* APP_DIGEST=1: a 64-bit FNV-1a hash of the last checked result, printed
 * on the APP line as digest=... (bench/det_repeat.sh compares the bytes of
 * the results across runs, not only ok=1). */
static int digest_set;
static uint64_t digest;

static void take_digest(const void *got, size_t bytes)
{
	const unsigned char *g = got;
	const char *e = getenv("APP_DIGEST");
	uint64_t h = 0xcbf29ce484222325ull;

	if (!e || !*e || !strcmp(e, "0"))
		return;
	for (size_t i = 0; i < bytes; i++)
		h = (h ^ g[i]) * 0x100000001b3ull;
	digest = h;
	digest_set = 1;
}

int app_check_exact(const char *app, const void *got, const void *want,
		    size_t n, size_t sz)
{
	const unsigned char *g = got, *w = want;

	take_digest(got, n * sz);
	if (memcmp(g, w, n * sz) == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (memcmp(g + i * sz, w + i * sz, sz) != 0) {
			fprintf(stderr, "%s: MISMATCH at item %zu of %zu (exact check"
				" against the sequential computation)\n", app, i, n);
			break;
		}
	return 0;
}

int app_check_tol(const char *app, const double *got, const double *want,
		  size_t n, double tol)
{
	double scale = 1.0;

	take_digest(got, n * sizeof *got);
	for (size_t i = 0; i < n; i++)
		if (fabs(want[i]) > scale)
			scale = fabs(want[i]);
	for (size_t i = 0; i < n; i++)
		if (!(fabs(got[i] - want[i]) <= tol * scale)) {
			fprintf(stderr, "%s: MISMATCH at item %zu of %zu: %.17g vs"
				" sequential %.17g (tolerance %g x %g)\n", app, i, n,
				got[i], want[i], tol, scale);
			return 0;
		}
	return 1;
}

void app_report(const char *app, const char *version, int nodes,
		const char *protocol, double seconds, int ok, const char *extra)
{
	char d[32] = "";

	if (digest_set)
		snprintf(d, sizeof d, " digest=%016llx", (unsigned long long)digest);
	printf("APP name=%s version=%s nodes=%d protocol=%s time_s=%.6f ok=%d%s%s%s\n",
	       app, version, nodes, protocol ? protocol : "-", seconds, ok,
	       extra ? " " : "", extra ? extra : "", d);
	fflush(stdout);
	if (!ok)
		fprintf(stderr, "%s (%s, %d nodes): result differs from the"
			" sequential computation\n", app, version, nodes);
}

void app_die(const char *app, const char *what)
{
	fprintf(stderr, "%s: %s\n", app, what);
	exit(1);
}

int app_threads(void)
{
	const char *s = getenv("APP_THREADS");
	int p = s ? atoi(s) : 2;

	if (p < 1 || p > 256) {
		fprintf(stderr, "APP_THREADS must be 1..256\n");
		exit(2);
	}
	return p;
}

void app_run_threads(int p, void *(*fn)(void *), void *args, size_t argsz)
{
	pthread_t tid[256];

	for (int k = 0; k < p; k++)
		if (pthread_create(&tid[k], NULL, fn, (char *)args + (size_t)k * argsz))
			app_die("pthreads", "pthread_create failed");
	for (int k = 0; k < p; k++)
		pthread_join(tid[k], NULL);
}

void app_team_init(struct app_team *t, int p)
{
	t->p = p;
	t->t0 = t->t1 = 0;
	if (pthread_barrier_init(&t->bar, NULL, (unsigned)p))
		app_die("pthreads", "pthread_barrier_init failed");
}

void app_team_barrier(struct app_team *t)
{
	pthread_barrier_wait(&t->bar);
}

void app_team_start(struct app_team *t, int k)
{
	pthread_barrier_wait(&t->bar);
	if (k == 0)
		t->t0 = app_now();
}

void app_team_stop(struct app_team *t, int k)
{
	pthread_barrier_wait(&t->bar);
	if (k == 0)
		t->t1 = app_now();
}
