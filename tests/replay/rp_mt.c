/*
 * rp_mt.c — racy multi-threaded programs for record and replay with
 * several application threads per node (docs/replay.md, "Several threads
 * per node"; tests/scripts/test_replay_mt.sh).
 *
 *   rp_mt MODE THREADS [ITERS]
 *
 * Every node starts THREADS-1 threads (pthread_create) and runs the
 * kernel in all THREADS of them on shared memory, joins them, and node 0
 * prints the results and a checksum of all shared data. Modes:
 *   counter  racy read-modify-write of counters spread over pages, no lock
 *   hist     racy histogram (bins over several pages), no lock
 *   queue    racy work queue: a shared next index read and written with
 *            plain loads and stores (items done twice or skipped)
 *   sync     race-free, ITERS / 50 rounds: the node's threads synchronise among themselves
 *            with a pthread mutex, a condition (plain and timed waits) and
 *            a pthread barrier, and
 *            across nodes with dsm locks (taken by every thread) and
 *            dsm_barrier; prints the exact sums and ok=1 when they match
 *            the sequential result
 *   jacobi   race-free: ITERS Jacobi sweeps over an N x N grid (RP_N,
 *            default 128) split by rows over all threads; a pthread
 *            barrier, dsm_barrier (thread 0) and a pthread barrier between
 *            sweeps; node 0 compares with the sequential sweeps (ok=1)
 *   prims    race-free, ITERS / 50 rounds: each round every thread takes, in
 *            turn, a POSIX semaphore (sem_wait; sem_timedwait with 1 ms
 *            deadlines in odd rounds), a rwlock (write; timed in odd
 *            rounds, and a read), a spinlock, a mutex with
 *            pthread_mutex_timedlock, and calls pthread_once; inside each
 *            it reads a node counter, enters the runtime (a dsm lock) and
 *            writes it back plus one, so a sibling wanting the object
 *            waits while the holder is away; node 0 checks every node's
 *            counters (ok=1)
 *   spin     thread 1 spins on a flag its node's thread 0 sets after a
 *            dsm_barrier, never entering the runtime: under record/replay
 *            the token holder starves its sibling, which must be reported
 *            (within 4 x DSM_TIMEOUT), not hang; plain runs end
 * RP_PERTURB=1 changes node 1's random sequence (a changed program).
 * RP_TIME=1: node 0 prints the kernel's time (time_s=) on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsm.h"
#include "rp_util.h"

#define PAGE 4096
#define NPAGES 8
#define WORDS (NPAGES * PAGE / 8)
#define MAXT 16

struct shared {
	volatile uint64_t w[WORDS];   /* counters / bins / items */
	volatile uint64_t next;       /* queue index */
	volatile uint64_t done[64];   /* queue: items taken per thread */
	volatile uint64_t total, x;   /* sync: sums under dsm locks */
};

static struct shared *s;
static int id, count, nthreads;
static long iters, rounds; /* sync: ITERS / 50 rounds */
static const char *mode;

/* The node's own synchronisation among its threads (private memory). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static uint64_t local_sum;
static int arrived, failed;
static volatile int flag;
static double *grid[2]; /* jacobi: two N x N grids, shared */
/* prims: the node's objects and counters (private memory) */
static sem_t sem;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin;
static pthread_mutex_t mu2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t c_sem, c_rw, c_spin, c_mtx, c_once, c_read;
static int gn;

static uint64_t seed_of(int g)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(g + 1);

	if (id == 1 && getenv("RP_PERTURB"))
		seed ^= 0x5555; /* the changed program */
	return seed;
}

static void k_counter(int g)
{
	uint64_t seed = seed_of(g);

	for (long i = 0; i < iters; i++) {
		size_t k = (size_t)(rng(&seed) % NPAGES) * (PAGE / 8);
		uint64_t v = s->w[k];
		s->w[k] = v + 1;
	}
}

static void k_hist(int g)
{
	uint64_t seed = seed_of(g);

	for (long i = 0; i < iters; i++) {
		size_t bin = (size_t)(rng(&seed) % (NPAGES * 16)) * 64;
		s->w[bin % WORDS] += 1;
	}
}

static void k_queue(int g)
{
	uint64_t n = (uint64_t)iters * (uint64_t)(count * nthreads) / 2;

	for (;;) {
		uint64_t i = s->next; /* racy: two threads may take one item */
		if (i >= n)
			break;
		s->next = i + 1;
		s->w[(i * 67) % WORDS] += (uint64_t)g + 1;
		s->done[g] += 1;
	}
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "node %d: %s: %s\n", id, what, dsm_strerror(err));
	failed = 1;
}

/* CLOCK_REALTIME 1 ms from now (timed waits). */
static struct timespec in_1ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Race-free: pthread mutex/cond/barrier among the node's threads, dsm
 * locks and barriers across nodes. */
static void k_sync(int t, int g)
{
	int err;

	for (int r = 0; r < rounds; r++) {
		pthread_mutex_lock(&mu);
		local_sum += (uint64_t)g + 1;
		if (t) {
			arrived++;
			pthread_cond_signal(&cv);
		} else {
			while (arrived < nthreads - 1) {
				/* timed, 1 ms: expiries depend on timing and
				 * are recorded (their order), then replayed */
				struct timespec ts = in_1ms();
				if (r & 1)
					pthread_cond_timedwait(&cv, &mu, &ts);
				else
					pthread_cond_wait(&cv, &mu);
			}
			arrived = 0;
		}
		pthread_mutex_unlock(&mu);
		if ((err = dsm_lock_acquire(2)))
			return fail("dsm_lock_acquire", err);
		s->w[g] += 1;
		s->x += 1;
		if ((err = dsm_lock_release(2)))
			return fail("dsm_lock_release", err);
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
			if ((err = dsm_lock_acquire(1)))
				return fail("dsm_lock_acquire", err);
			s->total += local_sum;
			local_sum = 0;
			if ((err = dsm_lock_release(1)))
				return fail("dsm_lock_release", err);
		}
		pthread_barrier_wait(&bar);
		if (t == 0 && (err = dsm_barrier(10 + (unsigned)(r % 8))))
			return fail("dsm_barrier", err);
		pthread_barrier_wait(&bar);
	}
}

/* A C library call failed. */
static void fail_c(const char *what, int err)
{
	fprintf(stderr, "node %d: %s: %s\n", id, what, strerror(err));
	failed = 1;
}

/* prims: *c += 1 across a runtime visit (a dsm lock), so the object
 * protecting it is held while the thread is away in the runtime. */
static void bump(uint64_t *c)
{
	uint64_t v = *c;
	int err;

	if ((err = dsm_lock_acquire(4)) || (err = dsm_lock_release(4)))
		fail("dsm lock", err);
	*c = v + 1;
}


static void once_init(void)
{
	bump(&c_once);
}

static void k_prims(int t, int g)
{
	int err;

	for (int r = 0; r < rounds; r++) {
		struct timespec ts;
		if (r & 1) {
			do
				ts = in_1ms();
			while (sem_timedwait(&sem, &ts) && errno == ETIMEDOUT);
		} else if (sem_wait(&sem)) {
			return fail_c("sem_wait", errno);
		}
		bump(&c_sem);
		sem_post(&sem);
		if (r & 1) {
			do
				ts = in_1ms();
			while ((err = pthread_rwlock_timedwrlock(&rw, &ts)) == ETIMEDOUT);
		} else {
			err = pthread_rwlock_wrlock(&rw);
		}
		if (err)
			return fail_c("rwlock", err);
		bump(&c_rw);
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_rdlock(&rw);
		if (c_rw > (uint64_t)(r + 1) * (uint64_t)nthreads)
			c_read++; /* never: more writes than made */
		pthread_rwlock_unlock(&rw);
		pthread_spin_lock(&spin);
		bump(&c_spin);
		pthread_spin_unlock(&spin);
		do
			ts = in_1ms();
		while ((err = pthread_mutex_timedlock(&mu2, &ts)) == ETIMEDOUT);
		if (err)
			return fail_c("pthread_mutex_timedlock", err);
		bump(&c_mtx);
		pthread_mutex_unlock(&mu2);
		pthread_once(&once, once_init);
		pthread_barrier_wait(&bar);
		if (t == 0 && (err = dsm_barrier(10 + (unsigned)(r % 8))))
			return fail("dsm_barrier", err);
		pthread_barrier_wait(&bar);
	}
	if (t == 0) { /* this node's counters, in its own words of page 0 */
		uint64_t *w = (uint64_t *)s->w + 8 * id;
		w[0] = c_sem, w[1] = c_rw, w[2] = c_spin, w[3] = c_mtx, w[4] = c_once;
		w[5] = c_read;
	}
	(void)g;
}

static void k_spin(int t)
{
	int err;

	if (t == 1) {
		while (!flag)
			; /* spins on memory thread 0 writes, outside the runtime */
		return;
	}
	if (t == 0) {
		if ((err = dsm_barrier(9)))
			return fail("dsm_barrier", err);
		flag = 1;
	}
}

/* One sweep of rows [lo, hi) from src into dst. */
static void sweep(const double *src, double *dst, int n, int lo, int hi)
{
	for (int i = lo < 1 ? 1 : lo; i < hi && i < n - 1; i++)
		for (int j = 1; j < n - 1; j++)
			dst[i * n + j] = (src[(i - 1) * n + j] + src[(i + 1) * n + j] +
					  src[i * n + j - 1] + src[i * n + j + 1]) / 4;
}

static void k_jacobi(int t, int g)
{
	int all = count * nthreads, rows = (gn + all - 1) / all, err;

	for (long it = 0; it < iters; it++) {
		sweep(grid[it & 1], grid[!(it & 1)], gn, g * rows, (g + 1) * rows);
		pthread_barrier_wait(&bar);
		if (t == 0 && (err = dsm_barrier(20)))
			return fail("dsm_barrier", err);
		pthread_barrier_wait(&bar);
	}
}

static void *work(void *arg)
{
	int t = (int)(intptr_t)arg, g = id * nthreads + t;

	if (!strcmp(mode, "counter"))
		k_counter(g);
	else if (!strcmp(mode, "hist"))
		k_hist(g);
	else if (!strcmp(mode, "queue"))
		k_queue(g);
	else if (!strcmp(mode, "sync"))
		k_sync(t, g);
	else if (!strcmp(mode, "prims"))
		k_prims(t, g);
	else if (!strcmp(mode, "spin"))
		k_spin(t);
	else if (!strcmp(mode, "jacobi"))
		k_jacobi(t, g);
	return NULL;
}

static void report(void)
{
	uint64_t sum = 0, nz = 0, done = 0;
	uint64_t all = (uint64_t)count * (uint64_t)nthreads;

	for (size_t i = 0; i < WORDS; i++) {
		sum += s->w[i];
		nz += s->w[i] != 0;
	}
	for (uint64_t g = 0; g < all; g++)
		done += s->done[g];
	printf("mode %s nodes %d threads %d iters %ld\n", mode, count, nthreads, iters);
	if (!strcmp(mode, "counter") || !strcmp(mode, "hist"))
		printf("sum %llu of %llu (lost %llu)\n", (unsigned long long)sum,
		       (unsigned long long)(all * (uint64_t)iters),
		       (unsigned long long)(all * (uint64_t)iters - sum));
	if (!strcmp(mode, "queue"))
		printf("items taken %llu, next %llu, nonzero %llu\n",
		       (unsigned long long)done, (unsigned long long)s->next,
		       (unsigned long long)nz);
	if (!strcmp(mode, "sync")) {
		uint64_t want = (uint64_t)rounds * all * (all + 1) / 2;
		int ok = s->total == want && s->x == (uint64_t)rounds * all;
		for (uint64_t g = 0; g < all; g++)
			ok = ok && s->w[g] == (uint64_t)rounds;
		printf("total %llu (want %llu), x %llu, ok=%d\n", (unsigned long long)s->total,
		       (unsigned long long)want, (unsigned long long)s->x, ok);
	}
	if (!strcmp(mode, "prims")) {
		int ok = 1;
		for (int k = 0; k < count; k++) {
			const volatile uint64_t *w = s->w + 8 * k;
			for (int c = 0; c < 4; c++)
				ok = ok && w[c] == (uint64_t)rounds * (uint64_t)nthreads;
			ok = ok && w[4] == 1 && w[5] == 0;
		}
		printf("prims: sem %llu rw %llu spin %llu mutex %llu once %llu per node, ok=%d\n",
		       (unsigned long long)s->w[0], (unsigned long long)s->w[1],
		       (unsigned long long)s->w[2], (unsigned long long)s->w[3],
		       (unsigned long long)s->w[4], ok);
	}
	if (!strcmp(mode, "jacobi")) {
		size_t sz = (size_t)gn * (size_t)gn * sizeof(double);
		double *a = malloc(sz), *b = malloc(sz), *c;
		memcpy(a, grid[0], sz); /* the borders, never written */
		memcpy(b, grid[0], sz);
		for (int i = 1; i < gn - 1; i++)
			for (int j = 1; j < gn - 1; j++)
				a[i * gn + j] = b[i * gn + j] = 0;
		for (long it = 0; it < iters; it++) {
			sweep(a, b, gn, 0, gn);
			c = a, a = b, b = c;
		}
		printf("grid %d, ok=%d, grid checksum %016llx\n", gn,
		       !memcmp(a, grid[iters & 1], sz), (unsigned long long)fnv(a, sz));
		free(a);
		free(b);
	}
	printf("checksum %016llx\n", (unsigned long long)fnv(s, sizeof(*s)));
}

int main(int argc, char **argv)
{
	pthread_t th[MAXT];
	int err;

	mode = argc > 1 ? argv[1] : "counter";
	nthreads = argc > 2 ? atoi(argv[2]) : 2;
	iters = argc > 3 ? atol(argv[3]) : 1000;
	rounds = iters >= 50 ? iters / 50 : 1;
	if (nthreads < 1 || nthreads > MAXT) {
		fprintf(stderr, "THREADS: 1..%d\n", MAXT);
		return 2;
	}
	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	id = dsm_node_id();
	count = dsm_node_count();
	if (count * nthreads > 64) {
		fprintf(stderr, "at most 64 threads in all\n");
		return 2;
	}
	s = dsm_alloc_collective(sizeof(*s));
	if (!s) {
		fprintf(stderr, "dsm_alloc_collective failed\n");
		return 1;
	}
	pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
	sem_init(&sem, 0, 1);
	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	if (!strcmp(mode, "jacobi")) {
		gn = getenv("RP_N") ? atoi(getenv("RP_N")) : 128;
		for (int k = 0; k < 2; k++)
			if (!(grid[k] = dsm_alloc_collective((size_t)gn * (size_t)gn * 8))) {
				fprintf(stderr, "dsm_alloc_collective failed\n");
				return 1;
			}
		if (id == 0) /* hot borders, cold inside */
			for (int i = 0; i < gn; i++)
				for (int j = 0; j < gn; j++)
					grid[0][i * gn + j] = grid[1][i * gn + j] =
						i == 0 || j == 0 || i == gn - 1 || j == gn - 1 ?
						100.0 + i - j : 0.0;
	}
	/* Deal the pages out, so every node faults on pages the others hold. */
	for (int k = id; k < NPAGES; k += count)
		s->w[(size_t)k * (PAGE / 8) + 3] = 0;
	if ((err = dsm_barrier(0)))
		goto out;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 1; t < nthreads; t++)
		if ((err = pthread_create(&th[t], NULL, work, (void *)(intptr_t)t))) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			return 1;
		}
	work((void *)(intptr_t)0);
	for (int t = 1; t < nthreads; t++)
		pthread_join(th[t], NULL);
	if (failed)
		return 1;
	if ((err = dsm_barrier(1)))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (id == 0 && getenv("RP_TIME"))
		fprintf(stderr, "time_s=%.6f\n",
			(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (id == 0)
		report();
	fflush(stdout);
	if ((err = dsm_barrier(2)))
		goto out;
	pthread_barrier_destroy(&bar);
	if ((err = dsm_finalize())) {
		fprintf(stderr, "node %d: dsm_finalize: %s\n", id, dsm_strerror(err));
		return 1;
	}
	return 0;
out:
	fprintf(stderr, "node %d: %s\n", id, dsm_strerror(err));
	return 1;
}
