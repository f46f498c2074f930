/*
 * test_det_wp.c — deterministic spaces whose writes the kernel records
 * (DSM_WRITE_DETECT, docs/write-detection.md): the children's pages are
 * sent whole and diffed by the parent against the round's base, which
 * must give exactly what the fault path gives. Run with
 * DSM_WRITE_DETECT=uffd (a skip, 77, where the kernel lacks it) and segv
 * (ctest: unit.test_det_wp.uffd / .segv).
 *
 * - disjoint writers of the same pages merge to the sequential result, and
 *   under uffd every written page went the kernel's way (pages_kernel);
 * - the parent writes a page between two spawns: the first child (forked
 *   before, kernel-recorded) writes other bytes of it, and the merge keeps
 *   both, with no conflict (its base is the parent's twin); the second
 *   child (forked after) takes the fault path;
 * - two children writing one byte differently: a conflict, as on the
 *   fault path; a byte written back with its old value changes nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dsm_det.h"
#include "vm/wp.h"

#define PAGES 64
static unsigned char area[PAGES * 65536] __attribute__((aligned(65536)));
static size_t pg;
static int uffd;

static dsm_det_t *open_ctx(void)
{
	struct dsm_det_range r = { area, sizeof(area) };
	struct dsm_det_options o = { .ranges = &r, .nranges = 1,
				     .policy = DSM_DET_POLICY_REPORT, .heap_size = 256u << 20 };
	dsm_det_t *d = NULL;

	assert_int_equal(dsm_det_open(&d, &o), 0);
	return d;
}

static void writer(void *arg)
{
	int k = (int)(intptr_t)arg;

	for (size_t p = 0; p < PAGES; p++)
		for (size_t i = (size_t)k; i < pg; i += 97)
			((volatile unsigned char *)area)[p * pg + i] = (unsigned char)(k + 1 + p);
}

static void test_disjoint(void **state)
{
	dsm_det_t *d = open_ctx();
	struct dsm_det_stats st;

	(void)state;
	memset(area, 0, PAGES * pg);
	for (int k = 0; k < 3; k++)
		assert_int_equal(dsm_det_spawn(d, writer, (void *)(intptr_t)k), k);
	assert_int_equal(dsm_det_join(d), 0);
	for (size_t p = 0; p < PAGES; p++)
		for (size_t i = 0; i < pg; i++) {
			size_t k = i % 97;
			unsigned char want = k < 3 ? (unsigned char)(k + 1 + p) : 0;
			if (area[p * pg + i] != want)
				fail_msg("page %zu byte %zu: %u, expected %u", p, i,
					 area[p * pg + i], want);
		}
	assert_int_equal(dsm_det_stats(d, &st), 0);
	if (uffd)
		assert_true(st.pages_kernel >= 3 * PAGES);
	else
		assert_int_equal(st.pages_kernel, 0);
	assert_int_equal(st.conflicts, 0);
	dsm_det_close(d);
}

static void write_byte(void *arg)
{
	size_t at = (size_t)(uintptr_t)arg;

	((volatile unsigned char *)area)[at] = 0xA0;
}

static void test_parent_between_forks(void **state)
{
	dsm_det_t *d = open_ctx();
	struct dsm_det_stats st;

	(void)state;
	memset(area, 0x11, 2 * pg);
	assert_int_equal(dsm_det_spawn(d, write_byte, (void *)(uintptr_t)10), 0);
	area[20] = 0x55; /* the parent, between the spawns */
	assert_int_equal(dsm_det_spawn(d, write_byte, (void *)(uintptr_t)(pg + 30)), 1);
	assert_int_equal(dsm_det_join(d), 0);
	assert_int_equal(area[10], 0xA0);
	assert_int_equal(area[20], 0x55); /* not reverted by the first child */
	assert_int_equal(area[pg + 30], 0xA0);
	for (size_t i = 0; i < 2 * pg; i++)
		if (i != 10 && i != 20 && i != pg + 30 && area[i] != 0x11)
			fail_msg("byte %zu changed to %x", i, area[i]);
	assert_int_equal(dsm_det_stats(d, &st), 0);
	assert_int_equal(st.conflicts, 0);
	assert_int_equal(st.pages_kernel, uffd ? 1 : 0); /* the first child only */
	dsm_det_close(d);
}

struct byte_val { size_t at; unsigned char v; };

static void put_val(void *arg)
{
	const struct byte_val *b = arg;

	((volatile unsigned char *)area)[b->at] = b->v;
}

static void test_conflict_and_same_value(void **state)
{
	dsm_det_t *d = open_ctx();
	struct byte_val a = { 100, 1 }, b = { 100, 2 }, same = { 3 * 4096, 0x33 };
	struct dsm_det_stats st;
	const struct dsm_det_conflict *list;

	(void)state;
	memset(area, 0x33, 8 * pg);
	assert_int_equal(dsm_det_spawn(d, put_val, &a), 0);
	assert_int_equal(dsm_det_spawn(d, put_val, &b), 1);
	assert_int_equal(dsm_det_spawn(d, put_val, &same), 2);
	assert_int_equal(dsm_det_join(d), 0); /* policy report */
	assert_int_equal(dsm_det_conflicts(d, &list), 1);
	assert_int_equal(dsm_det_stats(d, &st), 0);
	assert_int_equal(st.pages_merged, 2); /* page 0 twice; the same value: none */
	assert_int_equal(area[3 * 4096], 0x33);
	dsm_det_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disjoint),
		cmocka_unit_test(test_parent_between_forks),
		cmocka_unit_test(test_conflict_and_same_value),
	};
	const char *wd = getenv("DSM_WRITE_DETECT");

	pg = (size_t)sysconf(_SC_PAGESIZE);
	uffd = !wd || strcmp(wd, "segv") != 0;
	if (uffd) {
		struct dsm_wp *w;
		const char *why;
		if (dsm__wp_open(&w, area, pg, pg, DSM_WP_UFFD, DSM_WP_F_PRESENT, &why) < 0) {
			printf("skip: %s\n", why);
			return 77;
		}
		dsm__wp_close(w);
	}
	return cmocka_run_group_tests_name(uffd ? "det_wp.uffd" : "det_wp.segv", tests,
					   NULL, NULL);
}
