/*
 * test_vm.c — page states and the shared region:
 * fixed-address mapping, two views of one memfd, and protection changes
 * that survive vm.max_map_count by resetting the view.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/tsan.h"
#include "vm/vm.h"

#define BASE DSM_TEST_FIXED_BASE /* core/tsan.h */

/* State names for logs and the protection each state allows. (The
 * transitions are each protocol's: test_state_machines.c.) */
static void test_page_states(void **st)
{
	const int I = DSM_PAGE_INVALID, R = DSM_PAGE_READ_SHARED,
		  W = DSM_PAGE_WRITE_EXCLUSIVE, D = DSM_PAGE_DIRTY;

	(void)st;
	assert_string_equal(dsm__page_state_name(R), "READ_SHARED");
	assert_string_equal(dsm__page_state_name(42), "?");
	assert_int_equal(dsm__page_state_prot(I), PROT_NONE);
	assert_int_equal(dsm__page_state_prot(R), PROT_READ);
	assert_int_equal(dsm__page_state_prot(W), PROT_READ | PROT_WRITE);
	assert_int_equal(dsm__page_state_prot(D), PROT_READ | PROT_WRITE);
}

/* Both views show the same bytes; the app view is at the fixed base. */
static void test_two_views(void **st)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct dsm_region *r;
	const char *why;

	(void)st;
	assert_int_equal(dsm__region_init(&r, BASE, 64 * ps, ps, PROT_READ, &why), 0);
	assert_ptr_equal(r->app, (void *)BASE);
	assert_int_equal(r->npages, 64);
	strcpy((char *)r->rt + 5 * ps, "through the runtime view");
	assert_string_equal((char *)r->app + 5 * ps, "through the runtime view");
	dsm__region_close(r);
}

/* A taken address is refused with -EEXIST and a reason naming DSM_BASE. */
static void test_address_taken(void **st)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct dsm_region *r = NULL;
	const char *why = "";
	void *blocker = mmap((void *)(BASE + 8 * ps), ps, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	(void)st;
	assert_ptr_equal(blocker, (void *)(BASE + 8 * ps));
	assert_int_equal(dsm__region_init(&r, BASE, 64 * ps, ps, PROT_NONE, &why),
			 -EEXIST);
	assert_non_null(strstr(why, "DSM_BASE"));
	munmap(blocker, ps);
	assert_int_equal(dsm__region_init(&r, BASE + 1, 64 * ps, ps, PROT_NONE, &why),
			 -EINVAL);
}

/* Alternating protections on many pages exceed vm.max_map_count; the
 * region resets the view instead of failing, and the requested change
 * still takes effect. */
static void test_map_limit(void **st)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t npages = 160 * 1024; /* 80k islands > 65,530 maps */
	struct dsm_region *r;
	const char *why;
	long limit = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	(void)st;
	if (f) {
		if (fscanf(f, "%ld", &limit) != 1)
			limit = 65530;
		fclose(f);
	}
	if ((size_t)limit * 2 > npages)
		npages = (size_t)limit * 2 + 4096;
	assert_int_equal(dsm__region_init(&r, BASE, npages * ps, ps, PROT_NONE, &why), 0);
	for (size_t p = 0; p < npages; p += 2)
		assert_int_equal(dsm__vm_protect(r, p, 1, PROT_READ), 0);
	assert_true(r->map_resets > 0);
	/* the last change survived the reset, an earlier one was reset */
	assert_int_equal(r->pages[npages - 2].prot, PROT_READ);
	assert_int_equal(r->pages[0].prot, PROT_NONE);
	/* the table matches the kernel: reading the last page works */
	assert_int_equal(((volatile char *)r->app)[(npages - 2) * ps], 0);
	dsm__region_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_states),
		cmocka_unit_test(test_two_views),
		cmocka_unit_test(test_address_taken),
		cmocka_unit_test(test_map_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
