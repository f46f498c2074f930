/*
 * test_det_spaces.c — deterministic spaces: merge, conflicts, sub-heaps,
 * iteration and bad use (include/dsm_det.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dsm_det.h"

#define PAGE ((size_t)sysconf(_SC_PAGESIZE))

static dsm_det_t *open_ctx(int policy, const struct dsm_det_range *r, size_t n)
{
	struct dsm_det_options o = { .ranges = r, .nranges = n, .policy = policy,
				     .heap_size = 256u << 20 };
	dsm_det_t *d = NULL;
	int rc = dsm_det_open(&d, &o);

	if (rc)
		fprintf(stderr, "open: %s: %s\n", dsm_det_strerror(rc),
			dsm_det_errmsg(NULL));
	assert_int_equal(rc, 0);
	return d;
}

/* ---- merge correctness ---- */

struct stripe { volatile unsigned char *buf; size_t len; int k, n; };

static void write_stripe(void *arg)
{
	struct stripe *s = arg;
	for (size_t i = (size_t)s->k; i < s->len; i += (size_t)s->n)
		s->buf[i] = (unsigned char)(i * 7 + 1);
}

static void test_disjoint_bytes(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	size_t len = 3 * PAGE;
	unsigned char *buf = dsm_det_calloc(1, len);
	struct stripe s[4];

	for (int k = 0; k < 4; k++) {
		s[k] = (struct stripe){ buf, len, k, 4 };
		assert_int_equal(dsm_det_spawn(d, write_stripe, &s[k]), k);
	}
	assert_int_equal(dsm_det_join(d), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], (unsigned char)(i * 7 + 1));
	assert_int_equal(dsm_det_conflicts(d, NULL), 0);
	dsm_det_close(d);
	(void)state;
}

struct newpages { void **slot; int k; };

static void alloc_pages(void *arg)
{
	struct newpages *a = arg;
	unsigned char *p = dsm_det_malloc(3 * PAGE);
	for (size_t i = 0; i < 3 * PAGE; i++)
		p[i] = (unsigned char)(a->k + i);
	*a->slot = p;
}

static void test_whole_new_pages(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	void **table = dsm_det_calloc(4, sizeof(void *));
	struct newpages a[4];

	for (int k = 0; k < 4; k++) {
		a[k] = (struct newpages){ &table[k], k };
		assert_true(dsm_det_spawn(d, alloc_pages, &a[k]) >= 0);
	}
	assert_int_equal(dsm_det_join(d), 0);
	for (int k = 0; k < 4; k++) {
		unsigned char *p = table[k];
		assert_non_null(p);
		assert_true(dsm_det_owns(p));
		assert_int_equal((uintptr_t)p % PAGE, 0);
		for (size_t i = 0; i < 3 * PAGE; i++)
			assert_int_equal(p[i], (unsigned char)(k + i));
	}
	dsm_det_close(d);
	(void)state;
}

static void write_first_half(void *arg)
{
	volatile int *v = arg;
	for (int i = 0; i < 8; i++)
		v[i] = 100 + i;
}

static void test_parent_writes_during_round(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	volatile int *v = dsm_det_calloc(16, sizeof(int));

	assert_true(dsm_det_spawn(d, write_first_half, (void *)v) >= 0);
	for (int i = 8; i < 16; i++)
		v[i] = 200 + i; /* the parent, while the space runs */
	assert_int_equal(dsm_det_join(d), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(v[i], i < 8 ? 100 + i : 200 + i);
	dsm_det_close(d);
	(void)state;
}

static void nothing(void *arg)
{
	(void)arg;
}

static void test_child_writes_nothing(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	int *v = dsm_det_calloc(4, sizeof(int));
	struct dsm_det_stats st;

	v[0] = 5;
	assert_true(dsm_det_spawn(d, nothing, NULL) >= 0);
	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(v[0], 5);
	assert_int_equal(dsm_det_stats(d, &st), 0);
	assert_int_equal(st.pages_merged, 0);
	assert_int_equal(dsm_det_join(d), 0); /* an empty round */
	dsm_det_close(d);
	(void)state;
}

struct counter { long *c; int k; };

static void bump_counter(void *arg)
{
	struct counter *a = arg;
	a->c[a->k * 512] += a->k + 1; /* one page each (4 KiB pages) */
}

static void test_iterated_rounds(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	long *c = dsm_det_calloc(4 * 512 + 1, sizeof(long));
	/* a big untouched part of the scope: cost must not depend on it */
	unsigned char *big = dsm_det_calloc(1, 64u << 20);
	struct counter a[4];
	struct dsm_det_stats st;

	memset(big, 1, 64u << 20);
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 4; k++) {
			a[k] = (struct counter){ c, k };
			assert_true(dsm_det_spawn(d, bump_counter, &a[k]) >= 0);
		}
		assert_int_equal(dsm_det_join(d), 0);
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(c[k * 512], 20 * (k + 1));
	assert_int_equal(dsm_det_stats(d, &st), 0);
	assert_int_equal(st.rounds, 20);
	assert_int_equal(st.spaces, 80);
	assert_true(st.pages_twinned <= 80 * 2); /* its counter page (+ one) */
	dsm_det_close(d);
	(void)state;
}

/* An explicit range: a page-aligned global, outside the arena. */
static unsigned char global_buf[8192] __attribute__((aligned(4096)));

static void write_global(void *arg)
{
	int k = (int)(intptr_t)arg;
	for (int i = k; i < 8192; i += 2)
		global_buf[i] = (unsigned char)(k + 1);
}

static void test_explicit_range(void **state)
{
	struct dsm_det_range r = { global_buf, sizeof(global_buf) };
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, &r, 1);

	for (int k = 0; k < 2; k++)
		assert_true(dsm_det_spawn(d, write_global, (void *)(intptr_t)k) >= 0);
	assert_int_equal(dsm_det_join(d), 0);
	for (int i = 0; i < 8192; i++)
		assert_int_equal(global_buf[i], i % 2 + 1);
	dsm_det_close(d);
	(void)state;
}

/* ---- conflicts ---- */

struct wr { volatile int *p; int val; volatile int *other; };

static void write_val(void *arg)
{
	struct wr *w = arg;
	*w->p = w->val;
	if (w->other)
		*w->other = w->val;
}

/* Two spaces write v[1] with 11 and 22; each also writes its own cell. */
static dsm_det_t *run_conflict(int policy, volatile int **vp)
{
	dsm_det_t *d = open_ctx(policy, NULL, 0);
	volatile int *v = dsm_det_calloc(8, sizeof(int));
	struct wr a = { &v[1], 11, &v[4] }, b = { &v[1], 22, &v[5] };

	v[1] = 7;
	assert_int_equal(dsm_det_spawn(d, write_val, &a), 0);
	assert_int_equal(dsm_det_spawn(d, write_val, &b), 1);
	*vp = v;
	return d;
}

static void check_one_conflict(dsm_det_t *d, volatile int *v, int first, int second)
{
	const struct dsm_det_conflict *c;
	size_t n = dsm_det_conflicts(d, &c);
	uintptr_t lo = (uintptr_t)&v[1], hi = lo + sizeof(int);

	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		assert_true((uintptr_t)c[i].addr >= lo);
		assert_true((uintptr_t)c[i].addr + c[i].len <= hi);
		assert_int_equal(c[i].first, first);
		assert_int_equal(c[i].second, second);
	}
}

static void test_conflict_error(void **state)
{
	volatile int *v;
	dsm_det_t *d = run_conflict(DSM_DET_POLICY_ERROR, &v);

	assert_int_equal(dsm_det_join(d), DSM_EDETCONFLICT);
	check_one_conflict(d, v, 0, 1);
	assert_int_equal(v[1], 7);    /* none of the conflicting bytes merged */
	assert_int_equal(v[4], 11);   /* everything else merged */
	assert_int_equal(v[5], 22);
	assert_non_null(strstr(dsm_det_errmsg(d), "conflict"));
	dsm_det_close(d);
	(void)state;
}

static void test_conflict_report(void **state)
{
	volatile int *v;
	dsm_det_t *d = run_conflict(DSM_DET_POLICY_REPORT, &v);

	assert_int_equal(dsm_det_join(d), 0);
	check_one_conflict(d, v, 0, 1);
	assert_int_equal(v[1], 22); /* the last writer in creation order */
	dsm_det_close(d);
	(void)state;
}

static void test_conflict_last_env(void **state)
{
	volatile int *v;
	dsm_det_t *d;

	setenv("DSM_DET_CONFLICT", "last", 1);
	d = run_conflict(DSM_DET_POLICY_ENV, &v);
	unsetenv("DSM_DET_CONFLICT");
	assert_int_equal(dsm_det_join(d), 0);
	check_one_conflict(d, v, 0, 1);
	assert_int_equal(v[1], 22);
	dsm_det_close(d);
	(void)state;
}

static void test_same_value_no_conflict(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	volatile int *v = dsm_det_calloc(4, sizeof(int));
	struct wr a = { &v[2], 9, NULL }, b = { &v[2], 9, NULL };

	assert_true(dsm_det_spawn(d, write_val, &a) >= 0);
	assert_true(dsm_det_spawn(d, write_val, &b) >= 0);
	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(dsm_det_conflicts(d, NULL), 0);
	assert_int_equal(v[2], 9);
	dsm_det_close(d);
	(void)state;
}

static void test_conflict_with_parent(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	volatile int *v = dsm_det_calloc(4, sizeof(int));
	struct wr a = { &v[0], 5, NULL };

	assert_int_equal(dsm_det_spawn(d, write_val, &a), 0);
	v[0] = 6; /* the parent writes the same int after the fork */
	assert_int_equal(dsm_det_join(d), DSM_EDETCONFLICT);
	check_one_conflict(d, v - 1, DSM_DET_PARENT, 0);
	assert_int_equal(v[0], 6);
	dsm_det_close(d);
	(void)state;
}

static void test_conflict_ids_later_round(void **state)
{
	volatile int *v;
	dsm_det_t *d = run_conflict(DSM_DET_POLICY_LAST, &v);
	struct wr a = { &v[2], 1, NULL }, b = { &v[2], 2, NULL }, c = { &v[2], 3, NULL };
	const struct dsm_det_conflict *cl;
	size_t n;

	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(dsm_det_spawn(d, write_val, &a), 2);
	assert_int_equal(dsm_det_spawn(d, nothing, NULL), 3);
	assert_int_equal(dsm_det_spawn(d, write_val, &b), 4);
	assert_int_equal(dsm_det_spawn(d, write_val, &c), 5);
	assert_int_equal(dsm_det_join(d), 0);
	n = dsm_det_conflicts(d, &cl);
	assert_int_equal(n, 3); /* pairs (2,4) (2,5) (4,5), one byte each */
	assert_int_equal(cl[0].first, 2);
	assert_int_equal(cl[0].second, 4);
	assert_int_equal(cl[2].first, 4);
	assert_int_equal(cl[2].second, 5);
	assert_ptr_equal(cl[0].addr, (void *)&v[2]);
	assert_int_equal(cl[0].len, 1);
	assert_int_equal(v[2], 3);
	dsm_det_close(d);
	(void)state;
}

/* ---- sub-heaps ---- */

struct node { long key; struct node *left, *right, *next; };

static struct node *insert(struct node *t, long key)
{
	struct node *n;

	if (t) {
		if (key < t->key)
			t->left = insert(t->left, key);
		else
			t->right = insert(t->right, key);
		return t;
	}
	n = dsm_det_calloc(1, sizeof(*n));
	n->key = key;
	return n;
}

struct build { struct node **lists, **trees; int k; };

static void build(void *arg)
{
	struct build *b = arg;
	struct node *head = NULL, *tree = NULL;
	unsigned long x = 12345 + (unsigned long)b->k;

	for (int i = 0; i < 2000; i++) {
		struct node *n = dsm_det_malloc(sizeof(*n));
		n->key = i;
		n->next = head;
		head = n;
		x = x * 6364136223846793005ul + 1442695040888963407ul;
		tree = insert(tree, (long)(x >> 33));
		if (i % 3 == 0)
			dsm_det_free(dsm_det_malloc(100)); /* churn */
	}
	b->lists[b->k] = head;
	b->trees[b->k] = tree;
}

static long walk_tree(const struct node *t, long *prev, int *sorted)
{
	if (!t)
		return 0;
	long n = walk_tree(t->left, prev, sorted);
	if (t->key < *prev)
		*sorted = 0;
	*prev = t->key;
	return n + 1 + walk_tree(t->right, prev, sorted);
}

static uintptr_t run_subheaps(void)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	struct node **lists = dsm_det_calloc(4, sizeof(void *));
	struct node **trees = dsm_det_calloc(4, sizeof(void *));
	struct build b[4];
	uintptr_t sig = 0;

	for (int k = 0; k < 4; k++) {
		b[k] = (struct build){ lists, trees, k };
		assert_true(dsm_det_spawn(d, build, &b[k]) >= 0);
	}
	assert_int_equal(dsm_det_join(d), 0);
	for (int k = 0; k < 4; k++) {
		long i = 1999, prev = -1;
		int sorted = 1;
		for (struct node *n = lists[k]; n; n = n->next, i--)
			assert_int_equal(n->key, i);
		assert_int_equal(i, -1);
		assert_int_equal(walk_tree(trees[k], &prev, &sorted), 2000);
		assert_true(sorted);
		sig = sig * 31 + ((uintptr_t)lists[k] - (uintptr_t)lists) +
		      ((uintptr_t)trees[k] - (uintptr_t)lists);
	}
	/* the parent may free and reuse what the children allocated */
	dsm_det_free(lists[0]);
	assert_non_null(dsm_det_malloc(64));
	dsm_det_close(d);
	return sig;
}

static void test_subheap_lists_trees(void **state)
{
	uintptr_t a = run_subheaps();

	setenv("DSM_DET_DELAY_US", "3000", 1);
	assert_true(a == run_subheaps()); /* same addresses, any timing */
	unsetenv("DSM_DET_DELAY_US");
	(void)state;
}

/* ---- determinism under random delays ---- */

static void write_all(void *arg)
{
	struct stripe *s = arg;
	for (size_t i = 0; i < s->len; i++)
		if ((i + (size_t)s->k) % 3 != 0)
			s->buf[i] = (unsigned char)((s->k * 40 + i) % 255 + 1);
}

/* ---- fresh sub-heap memory: no twins, temporaries not merged ---- */

struct fresh_out { unsigned char *a, *b, *z; };

static void fill_and_free(void *arg)
{
	struct fresh_out *o = arg;
	unsigned char *t, *c;

	o->a = dsm_det_malloc(3 * PAGE);
	memset(o->a, 0xab, 3 * PAGE);
	t = dsm_det_malloc(5 * PAGE);         /* a temporary, freed mid-heap */
	memset(t, 0xcd, 5 * PAGE);
	o->b = dsm_det_malloc(2 * PAGE);
	memset(o->b, 0x11, 2 * PAGE);
	dsm_det_free(t);
	c = dsm_det_malloc(4 * PAGE);         /* a temporary at the top */
	memset(c, 0xef, 4 * PAGE);
	dsm_det_free(c);
}

static void calloc_after_reuse(void *arg)
{
	struct fresh_out *o = arg;

	o->z = dsm_det_calloc(1, 9 * PAGE);   /* over freed memory */
	o->z[5] = 7;
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void test_fresh_subheap(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	struct fresh_out *o = dsm_det_calloc(1, sizeof(*o));
	struct dsm_det_stats st;

	assert_int_equal(dsm_det_spawn(d, fill_and_free, o), 0);
	assert_int_equal(dsm_det_join(d), 0);
	assert_true(all_bytes(o->a, 3 * PAGE, 0xab));
	assert_true(all_bytes(o->b, 2 * PAGE, 0x11));
	assert_int_equal(dsm_det_stats(d, &st), 0);
	assert_true(st.pages_fresh >= 5);       /* a and b, sent whole */
	assert_true(st.pages_twinned <= 2);     /* the pointers' page */
	assert_true(st.pages_merged <= 10);     /* not the temporaries */
	dsm_det_free(o->b);                     /* top block: given back */
	assert_int_equal(dsm_det_spawn(d, calloc_after_reuse, o), 1);
	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(o->z[5], 7);
	o->z[5] = 0;
	assert_true(all_bytes(o->z, 9 * PAGE, 0)); /* no stale bytes in the parent */
	assert_int_equal(dsm_det_stats(NULL, &st), 0);
	dsm_det_close(d);
	(void)state;
}

static void test_delayed_children(void **state)
{
	unsigned char ref[2048];

	setenv("DSM_DET_DELAY_US", "5000", 1);
	for (int run = 0; run < 5; run++) {
		dsm_det_t *d = open_ctx(DSM_DET_POLICY_LAST, NULL, 0);
		unsigned char *buf = dsm_det_calloc(1, sizeof(ref));
		struct stripe s[4];
		for (int k = 0; k < 4; k++) {
			s[k] = (struct stripe){ buf, sizeof(ref), k, 4 };
			assert_true(dsm_det_spawn(d, write_all, &s[k]) >= 0);
		}
		assert_int_equal(dsm_det_join(d), 0);
		if (run == 0)
			memcpy(ref, buf, sizeof(ref));
		assert_memory_equal(ref, buf, sizeof(ref));
		dsm_det_close(d);
	}
	unsetenv("DSM_DET_DELAY_US");
	for (size_t i = 0; i < sizeof(ref); i++) {
		int last = -1; /* the last space in creation order wins */
		for (int k = 0; k < 4; k++)
			if ((i + (size_t)k) % 3 != 0)
				last = k;
		assert_int_equal(ref[i], (unsigned char)((last * 40 + i) % 255 + 1));
	}
	(void)state;
}

/* ---- bad use ---- */

static void test_invalid_scope(void **state)
{
	dsm_det_t *d = NULL;
	struct dsm_det_range r = { NULL, 10 };
	struct dsm_det_options o = { .ranges = &r, .nranges = 1 };
	void *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_int_equal(dsm_det_open(&d, &o), -EINVAL);
	r = (struct dsm_det_range){ global_buf, 0 };
	assert_int_equal(dsm_det_open(&d, &o), -EINVAL);
	munmap(m, 4 * PAGE);
	r = (struct dsm_det_range){ m, 2 * PAGE };
	assert_int_equal(dsm_det_open(&d, &o), -EFAULT);
	assert_non_null(strstr(dsm_det_errmsg(NULL), "not mapped"));
	struct dsm_det_range two[2] = { { global_buf, 100 }, { global_buf + 50, 10 } };
	o = (struct dsm_det_options){ .ranges = two, .nranges = 2 };
	assert_int_equal(dsm_det_open(&d, &o), -EINVAL);
	setenv("DSM_DET_CONFLICT", "sometimes", 1);
	o = (struct dsm_det_options){ .policy = DSM_DET_POLICY_ENV };
	assert_int_equal(dsm_det_open(&d, &o), DSM_ECONFIG);
	assert_non_null(strstr(dsm_det_errmsg(NULL), "DSM_DET_CONFLICT"));
	unsetenv("DSM_DET_CONFLICT");
	assert_null(d);
	(void)state;
}

static void crash(void *arg)
{
	volatile int *v = arg;
	volatile int *volatile bad = NULL;

	v[0] = 99; /* a partial change that must be discarded */
	bad[4] = 1;
}

static void test_child_crash(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	volatile int *v = dsm_det_calloc(4, sizeof(int));
	struct wr ok = { &v[1], 3, NULL };
	char want[64];

	assert_int_equal(dsm_det_spawn(d, write_val, &ok), 0);
	assert_int_equal(dsm_det_spawn(d, crash, (void *)v), 1);
	assert_int_equal(dsm_det_join(d), DSM_EDETCHILD);
	snprintf(want, sizeof(want), "signal %d", SIGSEGV);
	assert_non_null(strstr(dsm_det_errmsg(d), "space 1"));
	assert_non_null(strstr(dsm_det_errmsg(d), want));
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 3);
	dsm_det_close(d);
	(void)state;
}

static void leave(void *arg)
{
	volatile int *v = arg;
	v[0] = 42;
	_exit(3);
}

static void test_child_exits(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	volatile int *v = dsm_det_calloc(4, sizeof(int));

	assert_int_equal(dsm_det_spawn(d, leave, (void *)v), 0);
	assert_int_equal(dsm_det_join(d), DSM_EDETCHILD);
	assert_non_null(strstr(dsm_det_errmsg(d), "space 0"));
	assert_non_null(strstr(dsm_det_errmsg(d), "without returning"));
	assert_int_equal(v[0], 0);
	dsm_det_close(d);
	(void)state;
}

static void test_too_many_spaces(void **state)
{
	dsm_det_t *d = open_ctx(DSM_DET_POLICY_ERROR, NULL, 0);
	int i;

	for (i = 0; i < 63; i++)
		assert_int_equal(dsm_det_spawn(d, nothing, NULL), i);
	assert_int_equal(dsm_det_spawn(d, nothing, NULL), -EBUSY);
	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(dsm_det_spawn(d, nothing, NULL), 63);
	assert_int_equal(dsm_det_join(d), 0);
	dsm_det_close(d);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disjoint_bytes),
		cmocka_unit_test(test_whole_new_pages),
		cmocka_unit_test(test_parent_writes_during_round),
		cmocka_unit_test(test_child_writes_nothing),
		cmocka_unit_test(test_iterated_rounds),
		cmocka_unit_test(test_explicit_range),
		cmocka_unit_test(test_conflict_error),
		cmocka_unit_test(test_conflict_report),
		cmocka_unit_test(test_conflict_last_env),
		cmocka_unit_test(test_same_value_no_conflict),
		cmocka_unit_test(test_conflict_with_parent),
		cmocka_unit_test(test_conflict_ids_later_round),
		cmocka_unit_test(test_subheap_lists_trees),
		cmocka_unit_test(test_fresh_subheap),
		cmocka_unit_test(test_delayed_children),
		cmocka_unit_test(test_invalid_scope),
		cmocka_unit_test(test_child_crash),
		cmocka_unit_test(test_child_exits),
		cmocka_unit_test(test_too_many_spaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
