/*
 * bench_wp — write detection (src/vm/wp.h), each figure as a ratio to the
 * raw limit measured in the same run: the first write to a tracked page
 * under uffd (the kernel resolves it) against the SIGSEGV -> handler ->
 * mprotect round trip the segv path pays, with one thread and with a
 * second thread of the process running (every mprotect then flushes its
 * TLB too); and a collect per tracked page (uffd: one PAGEMAP_SCAN).
 * Targets (issue 15): first write <= 0.4x the round trip and <= 2 us;
 * collect <= 0.1 us per page. Then a deterministic space that writes 50k
 * pages (one byte each), spawn to join, with DSM_WRITE_DETECT=segv and
 * uffd. Single process, no nodes.
 *
 *   bench_wp [--quick]
 */
#define BENCH_NAME "bench_wp"
#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "dsm_det.h"
#include "vm/wp.h"

#define PAGES 20000
static struct dsm_wp *wp;
static atomic_int spin_stop;

static void wp_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!wp || dsm__wp_fault(wp, si->si_addr) != 1)
		signal(sig, SIG_DFL);
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spin_stop))
		__asm__ __volatile__("" ::: "memory");
	return NULL;
}

/* us per first write to n tracked, populated pages; collect us per page. */
static void measure(enum dsm_wp_mode mode, size_t n, double *write_us, double *collect_us)
{
	const char *why;
	int fd = memfd_create("bench-wp", MFD_CLOEXEC);
	uint32_t *out = malloc(n * sizeof(*out));
	char *a;
	size_t next;

	check(fd < 0 || ftruncate(fd, (off_t)(n * pg)) ? -1 : 0, "memfd");
	a = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(a == MAP_FAILED || !out ? -1 : 0, "mmap");
	for (size_t i = 0; i < n; i++)
		a[i * pg] = 1; /* populated: the protocol's pages are */
	check(dsm__wp_open(&wp, a, n * pg, pg, mode, 0, &why), why);
	check(dsm__wp_track(wp, 0, n), "track");
	double t0 = now_us();
	for (size_t i = 0; i < n; i++)
		((volatile char *)a)[i * pg] = 2;
	double t1 = now_us();
	check(dsm__wp_collect(wp, 0, n, out, n, &next) == (ssize_t)n ? 0 : -1, "collect");
	double t2 = now_us();
	*write_us = (t1 - t0) / (double)n;
	*collect_us = (t2 - t1) / (double)n;
	dsm__wp_close(wp);
	wp = NULL;
	munmap(a, n * pg);
	close(fd);
	free(out);
}

static unsigned char *det_buf;
static size_t det_pages;

static void det_child(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < det_pages; i++)
		((volatile unsigned char *)det_buf)[i * pg] = 7;
}

/* Seconds from spawn to join of one space writing det_pages pages. */
static double det_round(const char *mode)
{
	struct dsm_det_range r = { det_buf, det_pages * pg };
	struct dsm_det_options o = { .ranges = &r, .nranges = 1,
				     .heap_size = 256u << 20 };
	struct dsm_det_stats st;
	dsm_det_t *d;
	double t0, t1;

	setenv("DSM_WRITE_DETECT", mode, 1);
	memset(det_buf, 1, det_pages * pg);
	check(dsm_det_open(&d, &o), "dsm_det_open");
	t0 = now_us();
	check(dsm_det_spawn(d, det_child, NULL) < 0 ? -1 : 0, "dsm_det_spawn");
	check(dsm_det_join(d), "dsm_det_join");
	t1 = now_us();
	check(dsm_det_stats(d, &st), "dsm_det_stats");
	check(det_buf[(det_pages - 1) * pg] == 7 ? 0 : -1, "merge");
	printf("  %-4s: %.1f ms (%llu pages twinned, %llu recorded by the kernel)\n",
	       mode, (t1 - t0) / 1e3, (unsigned long long)st.pages_twinned,
	       (unsigned long long)st.pages_kernel);
	dsm_det_close(d);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	int quick = 0;
	size_t n;
	struct sigaction sa, old;
	const char *why;
	struct dsm_wp *probe;

	bench_args(argc, argv, &quick);
	pg = (size_t)sysconf(_SC_PAGESIZE);
	n = quick ? PAGES / 10 : PAGES;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = wp_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, &old);
	{
		char *m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (dsm__wp_open(&probe, m, pg, pg, DSM_WP_UFFD, 0, &why)) {
			printf("bench_wp: uffd unavailable (%s): nothing to compare\n", why);
			return 0;
		}
		dsm__wp_close(probe);
		munmap(m, pg);
	}
	for (int threads = 1; threads <= 2; threads++) {
		pthread_t t;
		double sw, sc, uw, uc;
		if (threads == 2) {
			atomic_store(&spin_stop, 0);
			pthread_create(&t, NULL, spinner, NULL);
			usleep(1000);
		}
		measure(DSM_WP_SEGV, n, &sw, &sc);
		measure(DSM_WP_UFFD, n, &uw, &uc);
		if (threads == 2) {
			atomic_store(&spin_stop, 1);
			pthread_join(t, NULL);
		}
		printf("first write, %d thread%s: uffd %.3f us, segv round trip %.3f us: "
		       "ratio %.2f (target <= 0.40 and <= 2 us)\n", threads,
		       threads == 1 ? "" : "s", uw, sw, uw / sw);
		printf("collect per page, %d thread%s: uffd %.4f us, segv %.4f us "
		       "(target <= 0.1 us)\n", threads, threads == 1 ? "" : "s", uc, sc);
	}
	sigaction(SIGSEGV, &old, NULL);
	det_pages = quick ? 5000 : 50000;
	det_buf = mmap(NULL, det_pages * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(det_buf == MAP_FAILED ? -1 : 0, "mmap");
	printf("deterministic space writing %zu pages, spawn to join:\n", det_pages);
	double ts = det_round("segv"), tu = det_round("uffd");
	printf("  uffd/segv: %.2f\n", tu / ts);
	return 0;
}
