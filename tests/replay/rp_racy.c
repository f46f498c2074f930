/*
 * rp_racy.c — racy programs for record and replay (docs/replay.md).
 *
 *   rp_racy MODE [ITERS]
 *
 * Every node runs the same racy kernel on shared memory without locks
 * (except MODE=locked, the race-free control), then node 0 prints the
 * results and a checksum of all shared data. Plain runs may print
 * different things; a replay must print exactly what its recording did
 * (tests/scripts/test_replay.sh). Modes:
 *   counter  racy read-modify-write of counters spread over pages
 *   hist     racy histogram (bins over several pages)
 *   list     linked list appended to with plain stores (lost appends)
 *   queue    racy work queue: a shared next index, items done twice
 *   mc       Monte Carlo with a racy accumulator; the seed is a
 *            nondeterministic input (time) passed through dsm_replay_input
 *   locked   the counter kernel under a lock: race-free, exact result
 *   fshare   write-heavy false sharing: each node increments its own word
 *            of one page (race-free, exact; for adaptive CREW's figures)
 *   phases   barrier-separated rounds: each node rewrites its pages (some
 *            every round, some every other), then reads everyone's and
 *            now and then stores into what it read (read copies of pages
 *            held read-only after a barrier, "free" GIVEs, then racy
 *            upgrades that must invalidate them)
 *   idle     node 0 writes pages of their own, then, after a barrier, computes for
 *            RP_IDLE_MS (default 0) without entering the runtime while
 *            the others read every page: while recording, those read
 *            copies must not wait for node 0's thread (free GIVEs); with
 *            RP_IDLE_MS above 4 x DSM_TIMEOUT a wait would fail the run
 * RP_PERTURB=1 in the environment changes node 1's random sequence (a
 * changed program that takes another path, for the divergence test).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsm.h"
#include "rp_util.h"
#include "dsm_replay.h"

#define PAGE 4096
#define NPAGES 8
#define WORDS (NPAGES * PAGE / 8)

struct shared {
	volatile uint64_t w[WORDS]; /* counters / bins / items */
	volatile uint64_t next;     /* queue index, list tail */
	volatile uint64_t acc[2];   /* Monte Carlo: hits, total */
};

/* Racy increments of counters on different pages: the read and the
 * write of one increment may be separated by a transition. */
static void k_counter(struct shared *s, int id, long iters, int locked)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);

	if (id == 1 && getenv("RP_PERTURB"))
		seed ^= 0x5555; /* the changed program */

	for (long i = 0; i < iters; i++) {
		size_t k = (size_t)(rng(&seed) % NPAGES) * (PAGE / 8);
		if (locked)
			dsm_lock_acquire(1);
		uint64_t v = s->w[k];
		s->w[k] = v + 1;
		if (locked)
			dsm_lock_release(1);
	}
}

static void k_fshare(struct shared *s, int id, long iters)
{
	for (long i = 0; i < iters; i++)
		s->w[id * 8] = s->w[id * 8] + 1;
}

static void k_hist(struct shared *s, int id, long iters)
{
	uint64_t seed = 12345u + (uint64_t)id * 777u;

	for (long i = 0; i < iters; i++) {
		uint64_t x = rng(&seed);
		size_t bin = (size_t)(x % 64) * (WORDS / 64);
		s->w[bin] = s->w[bin] + 1 + (x >> 60);
	}
}

/* Items 1..: w[item] = next item (0 ends); next = tail; plain stores. */
static void k_list(struct shared *s, int id, int count, long iters)
{
	for (long i = 0; i < iters; i++) {
		uint64_t me = 1 + (uint64_t)i * (uint64_t)count + (uint64_t)id;
		if (me >= WORDS)
			break;
		s->w[me] = 0;
		uint64_t tail = s->next;
		s->w[tail] = me; /* w[0] is the head */
		s->next = me;
	}
}

static void k_queue(struct shared *s, int id, long iters)
{
	for (;;) {
		uint64_t i = s->next; /* racy fetch-and-increment */
		s->next = i + 1;
		if (i >= (uint64_t)iters || i >= WORDS)
			break;
		s->w[i] = s->w[i] * 8 + (uint64_t)id + 1; /* done twice shows */
	}
}

static int k_mc(struct shared *s, int id, long iters)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20) ^ (uint64_t)id;
	int err = dsm_replay_input(&seed, sizeof(seed)); /* the run's input */

	if (err)
		return err;
	seed |= 1;
	for (long i = 0; i < iters; i++) {
		double x = (double)(rng(&seed) >> 11) / 9007199254740992.0;
		double y = (double)(rng(&seed) >> 11) / 9007199254740992.0;
		uint64_t h = s->acc[0], t = s->acc[1];
		s->acc[0] = h + (x * x + y * y <= 1.0);
		s->acc[1] = t + 1;
		if (i % 64 == 0) /* touch another page now and then */
			s->w[(size_t)(i / 64 % NPAGES) * (PAGE / 8) + 1] += 1;
	}
	return 0;
}

static int k_phases(struct shared *s, int id, int count, long iters)
{
	uint64_t seed = 777u + (uint64_t)id * 31u, sum = 0;
	long rounds = iters / 100 + 2;
	int err;

	for (long r = 0; r < rounds; r++) {
		for (int k = id; k < NPAGES; k += count)
			if (k % 2 == 0 || r % 2 == 0)
				for (size_t w = 0; w < PAGE / 8; w += 64)
					s->w[(size_t)k * (PAGE / 8) + w] += (uint64_t)r + 1;
		if ((err = dsm_barrier(3)))
			return err;
		for (int i = 0; i < 100; i++) {
			size_t w = (size_t)(rng(&seed) % WORDS);
			sum = sum * 31 + s->w[w];
			if (rng(&seed) % 16 == 0)
				s->w[w] = sum; /* racy: another node may read it now */
		}
		if ((err = dsm_barrier(4)))
			return err;
	}
	s->acc[id % 2] += sum; /* racy when nodes share a slot */
	return 0;
}

static int k_idle(int id)
{
	const char *ms = getenv("RP_IDLE_MS");
	/* its own pages: written once before the barrier, as an input or a
	 * matrix is (a page rewritten after a barrier write-protected it is
	 * kept writable from then on: docs/replay.md, "Free read copies") */
	volatile uint64_t *w = dsm_alloc_collective(WORDS * 8);
	uint64_t sum = 0;
	int err;

	if (!w)
		return -ENOMEM;
	if (id == 0)
		for (size_t i = 0; i < WORDS; i += 8)
			w[i] = i * 3 + 1;
	if ((err = dsm_barrier(3)))
		return err;
	if (id == 0) { /* computing, no runtime call: no boundary */
		struct timespec t = { 0, 0 };
		long v = ms ? atol(ms) : 0;
		t.tv_sec = v / 1000;
		t.tv_nsec = (v % 1000) * 1000000L;
		nanosleep(&t, NULL);
	} else {
		for (size_t i = 0; i < WORDS; i += 8)
			sum += w[i];
		if (sum != (uint64_t)(WORDS / 8) * (WORDS / 8 - 1) / 2 * 24 + WORDS / 8) {
			fprintf(stderr, "node %d: idle: sum %llu\n", id, (unsigned long long)sum);
			return DSM_EPROTO;
		}
	}
	return 0;
}

static void report(struct shared *s, const char *mode)
{
	printf("mode %s\n", mode);
	if (!strcmp(mode, "fshare")) {
		uint64_t sum = 0;
		for (int k = 0; k < dsm_node_count(); k++)
			sum += s->w[k * 8];
		printf("sum %llu\n", (unsigned long long)sum);
	} else if (!strcmp(mode, "counter") || !strcmp(mode, "locked")) {
		uint64_t sum = 0;
		for (int k = 0; k < NPAGES; k++)
			sum += s->w[k * (PAGE / 8)];
		printf("sum %llu\n", (unsigned long long)sum);
	} else if (!strcmp(mode, "hist")) {
		for (int b = 0; b < 64; b++)
			printf("%llu%c", (unsigned long long)s->w[b * (WORDS / 64)],
			       b % 16 == 15 ? '\n' : ' ');
	} else if (!strcmp(mode, "list")) {
		int len = 0;
		printf("list");
		for (uint64_t i = s->w[0]; i && len < WORDS; i = s->w[i], len++)
			if (len < 40)
				printf(" %llu", (unsigned long long)i);
		printf("\nlength %d\n", len);
	} else if (!strcmp(mode, "queue")) {
		printf("next %llu first", (unsigned long long)s->next);
		for (int i = 0; i < 24; i++)
			printf(" %llo", (unsigned long long)s->w[i]);
		printf("\n");
	} else if (!strcmp(mode, "mc") || !strcmp(mode, "phases")) {
		printf("%s %llu of %llu\n", mode[0] == 'm' ? "hits" : "sums",
		       (unsigned long long)s->acc[0], (unsigned long long)s->acc[1]);
	}
	printf("checksum %016llx\n", (unsigned long long)fnv(s, sizeof(*s)));
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "counter";
	long iters = argc > 2 ? atol(argv[2]) : 2000;
	struct shared *s;
	int err, id, count;

	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	id = dsm_node_id();
	count = dsm_node_count();
	s = dsm_alloc_collective(sizeof(*s));
	if (!s) {
		fprintf(stderr, "dsm_alloc_collective failed\n");
		return 1;
	}
	/* Deal the pages out, so every node faults on pages the others hold
	 * (a node that owns all it touches never enters the runtime). */
	for (int k = id; k < NPAGES; k += count)
		s->w[(size_t)k * (PAGE / 8) + 3] = (uint64_t)id;
	if ((err = dsm_barrier(0)))
		goto fail;
	if (!strcmp(mode, "counter"))
		k_counter(s, id, iters, 0);
	else if (!strcmp(mode, "locked"))
		k_counter(s, id, iters, 1);
	else if (!strcmp(mode, "hist"))
		k_hist(s, id, iters);
	else if (!strcmp(mode, "fshare"))
		k_fshare(s, id, iters);
	else if (!strcmp(mode, "list"))
		k_list(s, id, count, iters);
	else if (!strcmp(mode, "queue"))
		k_queue(s, id, iters);
	else if (!strcmp(mode, "mc"))
		err = k_mc(s, id, iters);
	else if (!strcmp(mode, "phases"))
		err = k_phases(s, id, count, iters);
	else if (!strcmp(mode, "idle"))
		err = k_idle(id);
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	if (err)
		goto fail;
	if ((err = dsm_barrier(1)))
		goto fail;
	if (id == 0)
		report(s, mode);
	fflush(stdout);
	if ((err = dsm_barrier(2)))
		goto fail;
	if ((err = dsm_finalize())) {
		fprintf(stderr, "node %d: dsm_finalize: %s\n", id, dsm_strerror(err));
		return 1;
	}
	return 0;
fail:
	fprintf(stderr, "node %d: %s\n", id, dsm_strerror(err));
	return 1;
}
