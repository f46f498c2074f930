/*
 * test_wp.c — write detection (src/vm/wp.h) on both implementations: a
 * collect reports exactly the tracked pages written since the last one,
 * re-arms them, pages out of the tracked set are not reported, untracked
 * pages stop being reported, a small output buffer continues where it
 * stopped; and, with writer threads storing while collects run, no write
 * is ever dropped (a write is reported by the collect that starts after
 * it, or by the one before).
 *
 * Usage: test_wp [segv|uffd] (default segv). Under uffd a kernel without
 * asynchronous userfaultfd write-protection is a skip (exit 77).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/internal.h"
#include "vm/wp.h"

#define NPAGES 512
static enum dsm_wp_mode mode = DSM_WP_SEGV;
static struct dsm_wp *wp;
static unsigned char *base;
static size_t psz;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (wp && dsm__wp_fault(wp, si->si_addr) == 1)
		return;
	signal(sig, SIG_DFL);
}

/* Called first in each test: cmocka installs its own SIGSEGV handler
 * around every test function. */
static void own_segv(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
}

/* A shared memfd mapping, as the region's application view is. */
static int setup(void **state)
{
	const char *why;
	int fd = memfd_create("test-wp", MFD_CLOEXEC);

	(void)state;
	psz = (size_t)sysconf(_SC_PAGESIZE);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, NPAGES * psz), 0);
	base = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(base != MAP_FAILED);
	close(fd);
	assert_int_equal(dsm__wp_open(&wp, base, NPAGES * psz, psz, mode, 0, &why), 0);
	assert_string_equal(dsm__wp_name(wp), mode == DSM_WP_UFFD ? "uffd" : "segv");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dsm__wp_close(wp);
	wp = NULL;
	munmap(base, NPAGES * psz);
	return 0;
}

static void poke(size_t p, unsigned char v)
{
	((volatile unsigned char *)base)[p * psz + 7] = v;
}

/* Collect [first, first+count) into out; returns how many. */
static size_t collect_all(size_t first, size_t count, uint32_t *out, size_t cap)
{
	size_t next = 0, n = 0;

	while (first < first + count) {
		ssize_t r = dsm__wp_collect(wp, first, count, out + n, cap - n, &next);
		assert_true(r >= 0);
		n += (size_t)r;
		count -= next - first;
		first = next;
		if (!count || n == cap)
			break;
	}
	return n;
}

static void test_exact(void **state)
{
	uint32_t out[NPAGES];
	size_t n;

	(void)state;
	own_segv();
	assert_int_equal(dsm__wp_track(wp, 16, 200), 0);
	n = collect_all(16, 200, out, NPAGES);
	assert_int_equal(n, 0); /* nothing written since tracking began */
	poke(16, 1);
	poke(17, 1);
	poke(100, 2);
	poke(100, 3); /* twice: reported once */
	poke(215, 4);
	n = collect_all(16, 200, out, NPAGES);
	assert_int_equal(n, 4);
	assert_int_equal(out[0], 16);
	assert_int_equal(out[1], 17);
	assert_int_equal(out[2], 100);
	assert_int_equal(out[3], 215);
	assert_int_equal(collect_all(16, 200, out, NPAGES), 0); /* re-armed */
	poke(17, 5);
	assert_int_equal(collect_all(16, 200, out, NPAGES), 1);
	assert_int_equal(out[0], 17);
	assert_int_equal(base[17 * psz + 7], 5); /* the write itself landed */
	/* untracked: not reported any more */
	assert_int_equal(dsm__wp_untrack(wp, 16, 200), 0);
	poke(18, 6);
	assert_int_equal(collect_all(16, 200, out, NPAGES) == 0 || mode == DSM_WP_UFFD, 1);
}

/* Is page p's PTE write-protected by userfaultfd (pagemap bit 57)? */
static int uffd_armed(size_t p)
{
	uint64_t e = 0;
	FILE *f = fopen("/proc/self/pagemap", "rb");

	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(((uintptr_t)base / psz + p) * 8), SEEK_SET), 0);
	assert_int_equal(fread(&e, sizeof(e), 1, f), 1);
	fclose(f);
	return (int)(e >> 57 & 1);
}

/* The protocols' collect over a list of tracked pages (proto/wp_init.c)
 * reports the written ones, and never arms the untracked pages between
 * them: an armed page nobody tracks costs its next write a kernel fault,
 * every interval (hlrc's interior pages on Jacobi did, before). */
static void test_list_runs(void **state)
{
	uint32_t list[] = { 40, 10, 11 }, out[3];

	(void)state;
	own_segv();
	for (size_t p = 10; p <= 40; p++)
		poke(p, 1); /* present, so a scan over them would arm them */
	assert_int_equal(dsm__wp_track(wp, 10, 2), 0);
	assert_int_equal(dsm__wp_track(wp, 40, 1), 0);
	poke(11, 2);
	poke(25, 2); /* untracked, between */
	poke(40, 2);
	assert_int_equal(dsm__proto_wp_collect_list(wp, list, 3, out), 2);
	assert_int_equal(list[0], 10); /* sorted */
	assert_int_equal(out[0], 11);
	assert_int_equal(out[1], 40);
	assert_int_equal(dsm__proto_wp_collect_list(wp, list, 3, out), 0); /* re-armed */
	if (mode != DSM_WP_UFFD)
		return;
	assert_int_equal(uffd_armed(11), 1);
	assert_int_equal(uffd_armed(40), 1);
	for (size_t p = 12; p < 40; p++)
		assert_int_equal(uffd_armed(p), 0);
}

static void test_small_buffer(void **state)
{
	uint32_t out[3], all[64];
	size_t next = 0, n = 0, first = 0;

	(void)state;
	own_segv();
	assert_int_equal(dsm__wp_track(wp, 0, 64), 0);
	for (size_t p = 0; p < 64; p += 5)
		poke(p, 9); /* 13 pages */
	while (first < 64) {
		ssize_t r = dsm__wp_collect(wp, first, 64 - first, out, 3, &next);
		assert_true(r >= 0 && r <= 3);
		assert_true(next > first || r > 0);
		memcpy(all + n, out, (size_t)r * sizeof(*out));
		n += (size_t)r;
		first = next;
	}
	assert_int_equal(n, 13);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(all[i], 5 * i);
	assert_int_equal(collect_all(0, 64, all, 64), 0);
}

/* Does a read of untouched private anonymous memory map the kernel's
 * shared zero page? Its Rss in /proc/self/smaps says: 0 kB then. A guest
 * booted with pvm_no_zero_page (a paravirtualised VM) maps a fresh page. */
static int reads_map_zero_page(void)
{
	volatile unsigned char *m = mmap(NULL, psz, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[256], want[32];
	int found = 0, rss = -1;
	FILE *f;

	assert_true(m != MAP_FAILED);
	(void)m[0];
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)m);
	assert_non_null(f = fopen("/proc/self/smaps", "r"));
	while (rss < 0 && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			found = 1;
		else if (found && !strncmp(line, "Rss:", 4))
			rss = atoi(line + 4);
	}
	fclose(f);
	munmap((void *)m, psz);
	assert_true(rss >= 0);
	return rss == 0;
}

/* Private anonymous memory armed with DSM_WP_F_PRESENT (what the
 * deterministic spaces use): pages never mapped are not reported, but one
 * first written after tracking began is. A page first read after tracking
 * began is not, where reads map the zero page; where they map a fresh
 * page, it is (a notice too many, never one too few). */
static void test_present(void **state)
{
	size_t n = 4096, next;
	uint32_t out[8];
	struct dsm_wp *w, *keep = wp;
	const char *why;
	unsigned char *m = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)state;
	own_segv();
	assert_true(m != MAP_FAILED);
	m[3 * psz] = 1; /* mapped before tracking */
	assert_int_equal(dsm__wp_open(&w, m, n * psz, psz, mode, DSM_WP_F_PRESENT, &why), 0);
	wp = w; /* segv: the handler passes faults to it */
	assert_int_equal(dsm__wp_track(w, 0, n), 0);
	assert_int_equal(dsm__wp_collect(w, 0, n, out, 8, &next), 0);
	assert_int_equal(next, n);
	((volatile unsigned char *)m)[3 * psz] = 2;
	((volatile unsigned char *)m)[4000 * psz] = 3; /* never mapped before */
	(void)((volatile unsigned char *)m)[100 * psz]; /* read only */
	if (mode == DSM_WP_SEGV || reads_map_zero_page()) {
		assert_int_equal(dsm__wp_collect(w, 0, n, out, 8, &next), 2);
		assert_int_equal(out[1], 4000);
	} else {
		assert_int_equal(dsm__wp_collect(w, 0, n, out, 8, &next), 3);
		assert_int_equal(out[1], 100);
		assert_int_equal(out[2], 4000);
	}
	assert_int_equal(out[0], 3);
	assert_int_equal(dsm__wp_collect(w, 0, n, out, 8, &next), 0);
	wp = keep;
	dsm__wp_close(w);
	munmap(m, n * psz);
}

/* Kernel page faults of this process so far. */
static long minor_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/* Write-protect all pages, make them writable again and write each:
 * the kernel faults taken by the writes. */
static long reopen_and_write(unsigned char *m, size_t n)
{
	long f0;

	assert_int_equal(mprotect(m, n * psz, PROT_READ), 0);
	assert_int_equal(mprotect(m, n * psz, PROT_READ | PROT_WRITE), 0);
	f0 = minor_faults();
	for (size_t p = 0; p < n; p++)
		((volatile unsigned char *)m)[p * psz] = (unsigned char)p;
	return minor_faults() - f0;
}

/*
 * DSM_WP_F_LAZY (what hlrc and lrc open the region with): the range is
 * registered with the kernel only from the first track until the next
 * rest. A registered shared mapping takes a kernel fault at each page's
 * first write after an mprotect restores write access, tracked or not;
 * so before the first track and after a rest, none may (hlrc under auto
 * spent 0.55 s of sor's --large run in such faults). Tracking still
 * reports exactly, before the rest and after the range comes back.
 */
static void test_lazy(void **state)
{
	size_t n = 64, next;
	uint32_t out[64];
	struct dsm_wp *w, *keep = wp;
	const char *why;
	int fd = memfd_create("test-wp-lazy", MFD_CLOEXEC);
	unsigned char *m;

	(void)state;
	own_segv();
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(n * psz)), 0);
	m = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	memset(m, 1, n * psz); /* every page mapped and dirty */
	assert_int_equal(dsm__wp_open(&w, m, n * psz, psz, mode, DSM_WP_F_LAZY, &why), 0);
	wp = w;
	assert_int_equal(dsm__wp_collect(w, 0, n, out, n, &next), 0); /* nothing tracked */
	assert_int_equal(next, n);
	if (mode == DSM_WP_UFFD)
		assert_int_equal(reopen_and_write(m, n), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(dsm__wp_track(w, 8, 4), 0);
		((volatile unsigned char *)m)[9 * psz] = 7;
		((volatile unsigned char *)m)[20 * psz] = 7; /* untracked */
		assert_int_equal(dsm__wp_collect(w, 8, 4, out, n, &next), 1);
		assert_int_equal(out[0], 9);
		assert_int_equal(dsm__wp_untrack(w, 8, 4), 0);
		dsm__wp_rest(w);
		if (mode == DSM_WP_UFFD)
			assert_int_equal(reopen_and_write(m, n), 0);
	}
	wp = keep;
	dsm__wp_close(w);
	munmap(m, n * psz);
}

/* --- writers against collects --- */

/*
 * Writers store increasing counts, each in its own slot of random pages,
 * while the collector loops: collect, then copy each reported page's
 * slots to a shadow (the way a protocol diffs a reported page after the
 * collect). When the writers have stopped and a last collect is done, the
 * shadow must equal memory: a write never reported after it landed leaves
 * its slot stale there.
 */
#define WRITERS 3
#define ROUNDS 400
static atomic_int stop;

static void *writer(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg, seed = w + 1;
	uint64_t count = 0;

	while (!atomic_load(&stop)) {
		size_t p = rand_r(&seed) % NPAGES;
		((volatile uint64_t *)(base + p * psz))[w] = ++count;
	}
	return NULL;
}

static void test_stress(void **state)
{
	static uint64_t shadow[NPAGES][WRITERS];
	uint32_t out[NPAGES];
	pthread_t t[WRITERS];
	size_t total = 0;

	(void)state;
	own_segv();
	assert_int_equal(dsm__wp_track(wp, 0, NPAGES), 0);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(uintptr_t)i), 0);
	for (int round = 0; round <= ROUNDS; round++) {
		if (round == ROUNDS) {
			atomic_store(&stop, 1);
			for (int i = 0; i < WRITERS; i++)
				pthread_join(t[i], NULL);
		} else {
			usleep(100); /* let the writers store */
		}
		size_t n = collect_all(0, NPAGES, out, NPAGES);
		for (size_t i = 0; i < n; i++)
			memcpy(shadow[out[i]], base + out[i] * psz, sizeof(shadow[0]));
		total += n;
	}
	assert_true(total > NPAGES); /* the writers did run */
	for (size_t p = 0; p < NPAGES; p++)
		for (int w = 0; w < WRITERS; w++)
			if (shadow[p][w] != ((uint64_t *)(base + p * psz))[w])
				fail_msg("page %zu, writer %d: write %llu never reported "
					 "(last seen %llu)", p, w,
					 (unsigned long long)((uint64_t *)(base + p * psz))[w],
					 (unsigned long long)shadow[p][w]);
	assert_int_equal(collect_all(0, NPAGES, out, NPAGES), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
	};
	if (argc > 1 && strcmp(argv[1], "uffd") == 0) {
		struct dsm_wp *probe;
		const char *why;
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		mode = DSM_WP_UFFD;
		if (dsm__wp_open(&probe, m, 4096, 4096, DSM_WP_UFFD, 0, &why) < 0) {
			printf("skip: %s\n", why);
			return 77;
		}
		dsm__wp_close(probe);
		munmap(m, 4096);
	}
	return cmocka_run_group_tests_name(mode == DSM_WP_UFFD ? "wp.uffd" : "wp.segv",
					   tests, NULL, NULL);
}
