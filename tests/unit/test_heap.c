/*
 * test_heap.c — unit tests for the shared-heap offset allocator
 * (src/vm/heap.c): placement, reuse, coalescing, exhaustion, invalid
 * frees, a shadow-model stress run, concurrency, and the figures.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vm/heap.h"

#define PAGE 4096u
#define GRAN 16u

/* Deterministic xorshift64 generator, one state per caller. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform value in [lo, hi]. */
static uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

/* Random request size: mostly small, some pages, a few big runs. */
static uint64_t rnd_size(uint64_t *s, uint64_t max_pages)
{
	uint64_t k = rnd(s) % 100;

	if (k < 80)
		return rnd_range(s, 1, PAGE - 1);
	if (k < 95)
		return rnd_range(s, PAGE, 4 * PAGE);
	return rnd_range(s, PAGE, max_pages * PAGE);
}

/* Usable size the allocator should give a request of n bytes, given that
 * small requests get a class >= n below a page. */
static void check_block(struct dsm_heap *h, uint64_t off, uint64_t n,
			uint64_t heap_size)
{
	uint64_t bs = dsm__heap_block_size(h, off);

	assert_int_equal(off % GRAN, 0);
	assert_true(bs >= n);
	assert_true(off + bs <= heap_size);
	if (((n + GRAN - 1) & ~(uint64_t)(GRAN - 1)) >= PAGE) {
		assert_int_equal(off % PAGE, 0);
		assert_int_equal(bs, (n + PAGE - 1) / PAGE * PAGE);
	} else {
		assert_true(bs < PAGE);
		assert_int_equal(bs % GRAN, 0);
	}
}

/* Bad geometry is rejected; good geometry works and destroy(NULL) is ok. */
static void test_init_args(void **state)
{
	struct dsm_heap *h = NULL;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, 0, PAGE), -EINVAL);
	assert_int_equal(dsm__heap_init(&h, PAGE + 1, PAGE), -EINVAL);
	assert_int_equal(dsm__heap_init(&h, 3 * 1000, 1000), -EINVAL);
	assert_int_equal(dsm__heap_init(&h, 64, 8), -EINVAL);
	assert_int_equal(dsm__heap_init(&h, PAGE, 0), -EINVAL);
	assert_null(h);
	assert_int_equal(dsm__heap_init(&h, PAGE, PAGE), 0);
	dsm__heap_destroy(h);
	/* page_size 16: no small classes, everything is a 16-byte "page". */
	assert_int_equal(dsm__heap_init(&h, 256, 16), 0);
	uint64_t off;
	assert_int_equal(dsm__heap_alloc(h, 1, &off), 0);
	assert_int_equal(dsm__heap_block_size(h, off), 16);
	assert_int_equal(dsm__heap_free(h, off), 0);
	dsm__heap_destroy(h);
	dsm__heap_destroy(NULL);
}

/* Small blocks are 16-aligned; anything rounding to >= a page is page
 * aligned and whole pages; zero and oversized requests are -EINVAL. */
static void test_alignment(void **state)
{
	static const uint64_t sizes[] = { 1, 7, 16, 17, 100, 513, 2000,
					  PAGE - 17, PAGE - 16, PAGE - 1, PAGE,
					  PAGE + 1, 3 * PAGE - 5, 10 * PAGE };
	struct dsm_heap *h;
	uint64_t off;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, 1 << 20, PAGE), 0);
	for (int rep = 0; rep < 3; rep++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			assert_int_equal(dsm__heap_alloc(h, sizes[i], &off), 0);
			check_block(h, off, sizes[i], 1 << 20);
		}
	assert_int_equal(dsm__heap_alloc(h, 0, &off), -EINVAL);
	assert_int_equal(dsm__heap_alloc(h, (1 << 20) + 1, &off), -EINVAL);
	assert_int_equal(dsm__heap_alloc(h, UINT64_MAX, &off), -EINVAL);
	dsm__heap_destroy(h);
}

struct span {
	uint64_t off, size;
};

/* qsort order: by offset. */
static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Thousands of random live blocks, sorted by offset, never overlap, and
 * no page holds both a small and a large block. */
static void test_no_overlap(void **state)
{
	enum { N = 6000 };
	const uint64_t size = 256ull << 20;
	struct span *v = calloc(N, sizeof(*v));
	uint64_t seed = 42;
	struct dsm_heap *h;

	(void)state;
	assert_non_null(v);
	assert_int_equal(dsm__heap_init(&h, size, PAGE), 0);
	for (int i = 0; i < N; i++) {
		uint64_t n = rnd_size(&seed, 32);

		assert_int_equal(dsm__heap_alloc(h, n, &v[i].off), 0);
		check_block(h, v[i].off, n, size);
		v[i].size = dsm__heap_block_size(h, v[i].off);
		/* Free a third again so later blocks land in reused space. */
		if (i % 3 == 2) {
			int j = (int)(rnd(&seed) % (uint64_t)i);

			assert_int_equal(dsm__heap_free(h, v[j].off), 0);
			assert_int_equal(dsm__heap_alloc(h, v[j].size, &v[j].off), 0);
			assert_int_equal(dsm__heap_block_size(h, v[j].off), v[j].size);
		}
	}
	qsort(v, N, sizeof(*v), span_cmp);
	for (int i = 0; i + 1 < N; i++) {
		assert_true(v[i].off + v[i].size <= v[i + 1].off);
		/* A large block owns its pages: the next block starts after. */
		if (v[i].size >= PAGE || v[i + 1].size >= PAGE)
			assert_true((v[i].off + v[i].size - 1) / PAGE <
				    v[i + 1].off / PAGE);
	}
	dsm__heap_destroy(h);
	free(v);
}

/* The space of a freed block comes back for the same request. */
static void test_reuse(void **state)
{
	struct dsm_heap *h;
	uint64_t a, b, c, x;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, 1 << 20, PAGE), 0);
	assert_int_equal(dsm__heap_alloc(h, 100, &a), 0);
	assert_int_equal(dsm__heap_alloc(h, 100, &b), 0);
	assert_int_equal(dsm__heap_free(h, a), 0);
	assert_int_equal(dsm__heap_alloc(h, 100, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(dsm__heap_alloc(h, 5 * PAGE, &a), 0);
	assert_int_equal(dsm__heap_alloc(h, 5 * PAGE, &c), 0);
	assert_int_equal(dsm__heap_free(h, a), 0);
	assert_int_equal(dsm__heap_alloc(h, 5 * PAGE, &x), 0);
	assert_int_equal(x, a);
	/* A smaller large block fits into the same hole, too. */
	assert_int_equal(dsm__heap_free(h, a), 0);
	assert_int_equal(dsm__heap_alloc(h, 2 * PAGE, &x), 0);
	assert_int_equal(x, a);
	(void)b;
	dsm__heap_destroy(h);
}

/* Shuffle v[0..n). */
static void shuffle(uint64_t *v, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(seed) % i;
		uint64_t t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Allocate sizes in [lo, hi] until -ENOMEM (or max); returns the count. */
static size_t fill(struct dsm_heap *h, uint64_t *v, size_t max, uint64_t *seed,
		   uint64_t lo, uint64_t hi)
{
	size_t n = 0;
	int rc;

	while (n < max) {
		rc = dsm__heap_alloc(h, rnd_range(seed, lo, hi), &v[n]);
		if (rc == -ENOMEM)
			break;
		assert_int_equal(rc, 0);
		n++;
	}
	return n;
}

/* Fill with small (then mixed) blocks, free all in random order: the whole
 * heap is one run again and one allocation of all of it succeeds. */
static void test_coalesce(void **state)
{
	const uint64_t size = 4u << 20;
	size_t max = size / 16, n;
	uint64_t *v = malloc(max * sizeof(*v)), seed = 7, off, used, fr, big;
	struct dsm_heap *h;

	(void)state;
	assert_non_null(v);
	assert_int_equal(dsm__heap_init(&h, size, PAGE), 0);
	for (int round = 0; round < 3; round++) {
		/* Round 0: 16-byte blocks only; 1: mixed small; 2: any size. */
		uint64_t ms = round == 0 ? 16 : round == 1 ? PAGE - 1 : 9 * PAGE;

		n = fill(h, v, max, &seed, 1, ms);
		assert_true(n > 0);
		if (round == 0)
			assert_int_equal(n, max); /* 16 B slots pack perfectly */
		shuffle(v, n, &seed);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(dsm__heap_free(h, v[i]), 0);
		dsm__heap_usage(h, &used, &fr, &big);
		assert_int_equal(used, 0);
		assert_int_equal(fr, size);
		assert_int_equal(big, size);
		assert_int_equal(dsm__heap_alloc(h, size, &off), 0);
		assert_int_equal(off, 0);
		assert_int_equal(dsm__heap_free(h, off), 0);
	}
	dsm__heap_destroy(h);
	free(v);
}

/* -ENOMEM when full, for small and large requests; the heap recovers as
 * soon as something is freed. */
static void test_exhaustion(void **state)
{
	const uint64_t size = 64 * PAGE;
	uint64_t whole, off, v[4096], seed = 3, bs;
	struct dsm_heap *h;
	size_t n;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, size, PAGE), 0);
	assert_int_equal(dsm__heap_alloc(h, size, &whole), 0);
	assert_int_equal(dsm__heap_alloc(h, 16, &off), -ENOMEM);
	assert_int_equal(dsm__heap_alloc(h, PAGE, &off), -ENOMEM);
	assert_int_equal(dsm__heap_free(h, whole), 0);
	assert_int_equal(dsm__heap_alloc(h, 16, &off), 0);
	assert_int_equal(dsm__heap_alloc(h, size, &whole), -ENOMEM);
	assert_int_equal(dsm__heap_free(h, off), 0);

	/* Mixed small blocks, then every free page, then every free slot. */
	n = fill(h, v, 4096, &seed, 1, 3000);
	assert_true(n > 0);
	n += fill(h, v + n, 4096 - n, &seed, PAGE, PAGE);
	n += fill(h, v + n, 4096 - n, &seed, 16, 16);
	assert_true(n < 4096);
	assert_int_equal(dsm__heap_alloc(h, PAGE, &off), -ENOMEM);
	bs = dsm__heap_block_size(h, v[n / 2]);
	assert_int_equal(dsm__heap_free(h, v[n / 2]), 0);
	/* The freed space serves the same request again. */
	assert_int_equal(dsm__heap_alloc(h, bs, &off), 0);
	assert_int_equal(off, v[n / 2]);
	for (size_t i = 0; i < n; i++)
		if (i != n / 2)
			assert_int_equal(dsm__heap_free(h, v[i]), 0);
	assert_int_equal(dsm__heap_free(h, off), 0);
	assert_int_equal(dsm__heap_alloc(h, size, &whole), 0);
	dsm__heap_destroy(h);
}

/* Double frees, interior, misaligned and out-of-range offsets are -EINVAL
 * and change nothing. */
static void test_invalid_free(void **state)
{
	struct dsm_heap *h;
	uint64_t a, b, big, x, u0, f0, l0, u1, f1, l1;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, 1 << 20, PAGE), 0);
	assert_int_equal(dsm__heap_alloc(h, 64, &a), 0);
	assert_int_equal(dsm__heap_alloc(h, 64, &b), 0);
	assert_int_equal(dsm__heap_alloc(h, 3 * PAGE, &big), 0);
	assert_int_equal(dsm__heap_free(h, a), 0);
	dsm__heap_usage(h, &u0, &f0, &l0);

	assert_int_equal(dsm__heap_free(h, a), -EINVAL);   /* double free */
	assert_int_equal(dsm__heap_free(h, b + 16), -EINVAL);  /* interior */
	assert_int_equal(dsm__heap_free(h, b + 1), -EINVAL);   /* misaligned */
	assert_int_equal(dsm__heap_free(h, big + PAGE), -EINVAL);
	assert_int_equal(dsm__heap_free(h, 1 << 20), -EINVAL); /* past end */
	assert_int_equal(dsm__heap_free(h, UINT64_MAX), -EINVAL);
	assert_int_equal(dsm__heap_block_size(h, a), 0);
	assert_int_equal(dsm__heap_block_size(h, big + 16), 0);
	dsm__heap_usage(h, &u1, &f1, &l1);
	assert_int_equal(u0, u1);
	assert_int_equal(f0, f1);
	assert_int_equal(l0, l1);

	/* Still consistent: a's slot comes back once, b is still live. */
	assert_int_equal(dsm__heap_alloc(h, 64, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(dsm__heap_alloc(h, 64, &x), 0);
	assert_true(x != a && x != b);
	assert_int_equal(dsm__heap_free(h, b), 0);
	assert_int_equal(dsm__heap_free(h, b), -EINVAL);
	assert_int_equal(dsm__heap_free(h, big), 0);
	assert_int_equal(dsm__heap_free(h, big), -EINVAL);
	dsm__heap_destroy(h);
}

/* Shadow model for the stress test: one byte per 16-byte granule. */
struct shadow {
	unsigned char *gran;
	struct span *live;
	size_t nlive;
	uint64_t used;
};

/* Record a new block, asserting that none of its granules was taken. */
static void shadow_add(struct shadow *m, uint64_t off, uint64_t size)
{
	assert_null(memchr(m->gran + off / GRAN, 1, size / GRAN));
	memset(m->gran + off / GRAN, 1, size / GRAN);
	m->live[m->nlive].off = off;
	m->live[m->nlive++].size = size;
	m->used += size;
}

/* Forget live block i. */
static void shadow_del(struct shadow *m, size_t i)
{
	memset(m->gran + m->live[i].off / GRAN, 0, m->live[i].size / GRAN);
	m->used -= m->live[i].size;
	m->live[i] = m->live[--m->nlive];
}

/* One random alloc (p ~ 55%) or free, checked against the model. */
static void stress_step(struct dsm_heap *h, struct shadow *m, uint64_t size,
			uint64_t *seed, size_t max_live)
{
	uint64_t off, n;
	int rc;

	if (m->nlive < max_live && (m->nlive == 0 || rnd(seed) % 100 < 55)) {
		n = rnd_size(seed, 64);
		rc = dsm__heap_alloc(h, n, &off);
		if (rc == -ENOMEM)
			return;
		assert_int_equal(rc, 0);
		check_block(h, off, n, size);
		shadow_add(m, off, dsm__heap_block_size(h, off));
		return;
	}
	size_t i = rnd(seed) % m->nlive;

	off = m->live[i].off;
	assert_int_equal(dsm__heap_block_size(h, off), m->live[i].size);
	assert_int_equal(dsm__heap_free(h, off), 0);
	shadow_del(m, i);
	if (rnd(seed) % 64 == 0)
		assert_int_equal(dsm__heap_free(h, off), -EINVAL);
}

/* 200k random operations checked against the shadow model, with periodic
 * checks of the usage figures; everything is freed at the end. */
static void test_stress(void **state)
{
	enum { OPS = 200000, MAX_LIVE = 20000 };
	const uint64_t size = 32u << 20;
	struct shadow m = { 0 };
	uint64_t seed = 0xC0FFEE, used, fr, big;
	struct dsm_heap *h;

	(void)state;
	m.gran = calloc(size / GRAN, 1);
	m.live = calloc(MAX_LIVE, sizeof(*m.live));
	assert_non_null(m.gran);
	assert_non_null(m.live);
	assert_int_equal(dsm__heap_init(&h, size, PAGE), 0);
	for (int op = 0; op < OPS; op++) {
		stress_step(h, &m, size, &seed, MAX_LIVE);
		if (op % 5000 == 0) {
			dsm__heap_usage(h, &used, &fr, &big);
			assert_int_equal(used, m.used);
			assert_true(used + fr <= size);
			assert_true(big <= fr && big % PAGE == 0);
		}
	}
	while (m.nlive > 0) {
		assert_int_equal(dsm__heap_free(h, m.live[0].off), 0);
		shadow_del(&m, 0);
	}
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 0);
	assert_int_equal(fr, size);
	assert_int_equal(big, size);
	dsm__heap_destroy(h);
	free(m.gran);
	free(m.live);
}

/* Shared state of the concurrency test. */
struct mt {
	struct dsm_heap *h;
	uint64_t size;
	atomic_uchar *gran;      /* 1 while a granule is owned by a block */
	atomic_int errors;
	_Atomic uint64_t seed;
};

/* Claim or release the granules of [off, off+size); counts collisions. */
static void mt_mark(struct mt *t, uint64_t off, uint64_t size, unsigned char v)
{
	for (uint64_t g = off / GRAN; g < (off + size) / GRAN; g++)
		if (atomic_exchange(&t->gran[g], v) == v)
			atomic_fetch_add(&t->errors, 1);
}

/* Worker: random allocs/frees of its own blocks, claiming granules. */
static void *mt_worker(void *arg)
{
	enum { OPS = 30000, LIVE = 500 };
	struct mt *t = arg;
	uint64_t seed = atomic_fetch_add(&t->seed, 7919);
	struct span live[LIVE];
	size_t n = 0;

	for (int op = 0; op < OPS; op++) {
		if (n < LIVE && (n == 0 || rnd(&seed) % 2)) {
			uint64_t sz = rnd_size(&seed, 8), off;

			if (dsm__heap_alloc(t->h, sz, &off) != 0)
				continue;
			live[n].off = off;
			live[n].size = dsm__heap_block_size(t->h, off);
			if (live[n].size < sz || off % GRAN)
				atomic_fetch_add(&t->errors, 1);
			mt_mark(t, off, live[n++].size, 1);
		} else {
			size_t i = rnd(&seed) % n;

			mt_mark(t, live[i].off, live[i].size, 0);
			if (dsm__heap_free(t->h, live[i].off) != 0)
				atomic_fetch_add(&t->errors, 1);
			live[i] = live[--n];
		}
	}
	while (n > 0) {
		mt_mark(t, live[n - 1].off, live[n - 1].size, 0);
		if (dsm__heap_free(t->h, live[--n].off) != 0)
			atomic_fetch_add(&t->errors, 1);
	}
	return NULL;
}

/* 8 threads allocate and free concurrently: no block ever overlaps another
 * live block, and the heap is whole again afterwards. */
static void test_threads(void **state)
{
	enum { T = 8 };
	struct mt t = { .size = 128u << 20 };
	pthread_t th[T];
	uint64_t used, fr, big;

	(void)state;
	t.gran = calloc(t.size / GRAN, 1);
	assert_non_null(t.gran);
	atomic_init(&t.errors, 0);
	atomic_init(&t.seed, 12345);
	assert_int_equal(dsm__heap_init(&t.h, t.size, PAGE), 0);
	for (int i = 0; i < T; i++)
		assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &t), 0);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&t.errors), 0);
	dsm__heap_usage(t.h, &used, &fr, &big);
	assert_int_equal(used, 0);
	assert_int_equal(big, t.size);
	dsm__heap_destroy(t.h);
	free(t.gran);
}

/* block_size and usage figures follow the documented rules exactly. */
static void test_figures(void **state)
{
	const uint64_t size = 1 << 20;
	struct dsm_heap *h;
	uint64_t a, b, c, used, fr, big, slab_free;

	(void)state;
	assert_int_equal(dsm__heap_init(&h, size, PAGE), 0);
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 0);
	assert_int_equal(fr, size);
	assert_int_equal(big, size);

	assert_int_equal(dsm__heap_alloc(h, 100, &a), 0);
	assert_int_equal(dsm__heap_block_size(h, a), 112);
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 112);
	/* One slab of one page: 36 slots of 112 bytes, 35 of them free. */
	slab_free = (PAGE / 112 - 1) * 112;
	assert_int_equal(fr, size - PAGE + slab_free);
	assert_int_equal(big, size - PAGE);

	assert_int_equal(dsm__heap_alloc(h, 10000, &b), 0);
	assert_int_equal(dsm__heap_block_size(h, b), 3 * PAGE);
	assert_int_equal(dsm__heap_alloc(h, PAGE, &c), 0);
	assert_int_equal(dsm__heap_block_size(h, c), PAGE);
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 112 + 4 * PAGE);
	assert_int_equal(fr, size - 5 * PAGE + slab_free);
	assert_int_equal(big, size - 5 * PAGE);

	/* Freeing b leaves a 3-page hole below the tail run. */
	assert_int_equal(dsm__heap_free(h, b), 0);
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 112 + PAGE);
	assert_int_equal(fr, size - 2 * PAGE + slab_free);
	assert_int_equal(big, size - 5 * PAGE);
	assert_int_equal(dsm__heap_block_size(h, b), 0);

	assert_int_equal(dsm__heap_free(h, a), 0);
	assert_int_equal(dsm__heap_free(h, c), 0);
	dsm__heap_usage(h, &used, &fr, &big);
	assert_int_equal(used, 0);
	assert_int_equal(fr, size);
	assert_int_equal(big, size);
	dsm__heap_destroy(h);
}

/* 100k live blocks in a 1 GiB abstract heap, freed in random order: must
 * finish quickly (the per-operation cost does not grow with the count). */
static void test_scale(void **state)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 99, used;
	struct dsm_heap *h;

	(void)state;
	assert_non_null(v);
	assert_int_equal(dsm__heap_init(&h, 1ull << 30, PAGE), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(dsm__heap_alloc(h, rnd_size(&seed, 4), &v[i]), 0);
	shuffle(v, N, &seed);
	for (int i = 0; i < N; i++)
		assert_int_equal(dsm__heap_free(h, v[i]), 0);
	dsm__heap_usage(h, &used, NULL, NULL);
	assert_int_equal(used, 0);
	dsm__heap_destroy(h);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_coalesce),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_invalid_free),
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
