/*
 * bench_util.h — what the microbenchmarks share: the clock, median/p10/p90
 * summaries, a failed dsm_ call, and the raw limits they measure against
 * (a TCP request/reply on loopback between nodes 0 and 1, and a SIGSEGV ->
 * handler -> mprotect fault). Each bench/bench_*.c is its own program, so
 * everything here is static: a program uses what it needs.
 *
 * Define BENCH_NAME (the program's name, a string literal) before
 * including; it prefixes every error message. Define BENCH_LABEL_WIDTH to
 * change the label column of print_summary (default 34).
 *
 * Not thread-safe: the raw fault handler and raw_serve/raw_client use
 * static state. Errors exit(1): a benchmark that cannot measure is broken.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif
#ifndef BENCH_LABEL_WIDTH
#define BENCH_LABEL_WIDTH 34
#endif
#define BENCH_RAW_MAX 4096 /* largest raw request or reply, bytes */

/* ---- timing and statistics ---- */

/* Microseconds on CLOCK_MONOTONIC. */
static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* qsort comparator for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct summary {
	double med, p10, p90;
};

/* Median, p10 and p90 of n samples (sorts v in place). */
static inline struct summary summarize(double *v, size_t n)
{
	struct summary s = { 0, 0, 0 };

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	s.med = v[n / 2];
	s.p10 = v[n / 10];
	s.p90 = v[(n * 9) / 10];
	return s;
}

/* One human-readable line: label, median, p10, p90 and the sample count. */
static inline void print_summary(const char *label, struct summary s, size_t n)
{
	printf("  %-*s median %8.2f us  p10 %8.2f  p90 %8.2f  (n=%zu)\n",
	       BENCH_LABEL_WIDTH, label, s.med, s.p10, s.p90, n);
	fflush(stdout);
}

/* Report a failed dsm_ call (rc < 0) and exit 1 (functional breakage). */
static inline void check(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, BENCH_NAME ": node %d: %s: %s\n", dsm_node_id(),
			what, dsm_strerror(rc));
		exit(1);
	}
}

/* ---- raw limit: TCP request/reply on loopback ---- */

/* Read or write exactly n bytes on a blocking socket. 0 or -1. */
static inline int io_full(int fd, void *buf, size_t n, int wr)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = wr ? write(fd, p, n) : read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Listen on 127.0.0.1, port 0; *port gets the chosen port. fd or -1. */
static inline int tcp_listen(uint32_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* Connect to 127.0.0.1:port. fd or -1. */
static inline int tcp_connect(uint32_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

/* Connect node 0 (server) and node 1 (client) with a private TCP socket
 * (TCP_NODELAY, blocking); the port travels by dsm_broadcast. Collective.
 * Returns the fd on nodes 0 and 1, -1 elsewhere; exits on failure. */
static inline int raw_pair(int me)
{
	uint32_t port = 0;
	int lfd = -1, fd = -1, one = 1;

	if (me == 0 && (lfd = tcp_listen(&port)) < 0) {
		perror(BENCH_NAME ": listen");
		exit(1);
	}
	check(dsm_broadcast(&port, sizeof(port), 0), "dsm_broadcast");
	if (me == 0)
		fd = accept(lfd, NULL, NULL);
	else if (me == 1)
		fd = tcp_connect(port);
	if (me <= 1 && fd < 0) {
		perror(BENCH_NAME ": connect/accept");
		exit(1);
	}
	if (lfd >= 0)
		close(lfd);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Node 0: answer iters requests of req bytes with rep bytes (each at
 * most BENCH_RAW_MAX). */
static inline void raw_serve(int fd, int iters, size_t req, size_t rep)
{
	static char buf[BENCH_RAW_MAX];

	for (int i = 0; i < iters; i++)
		if (io_full(fd, buf, req, 0) < 0 || io_full(fd, buf, rep, 1) < 0) {
			fprintf(stderr, BENCH_NAME ": raw serve: I/O error\n");
			exit(1);
		}
}

/* Node 1: iters timed request/replies into out. */
static inline void raw_client(int fd, int iters, size_t req, size_t rep,
			      double *out)
{
	static char buf[BENCH_RAW_MAX];

	for (int i = 0; i < iters; i++) {
		double t0 = now_us();

		if (io_full(fd, buf, req, 1) < 0 || io_full(fd, buf, rep, 0) < 0) {
			fprintf(stderr, BENCH_NAME ": raw client: I/O error\n");
			exit(1);
		}
		out[i] = now_us() - t0;
	}
}

/* One block of n raw request/replies (req -> rep bytes) between nodes 0
 * and 1 on fd from raw_pair; node 1 records the times in out. Nodes
 * beyond 1 do nothing. */
static inline void raw_block(int fd, int me, int n, size_t req, size_t rep,
			     double *out)
{
	if (me == 0)
		raw_serve(fd, n, req, rep);
	else if (me == 1)
		raw_client(fd, n, req, rep, out);
}

/* Busy-polling variant: reads spin on a non-blocking recv instead of
 * sleeping, as libdsm's service thread does for DSM_SPIN_US after traffic.
 * This is the fair floor for a runtime that busy-polls. */
static inline int io_full_spin(int fd, void *buf, size_t n, int wr)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = wr ? write(fd, p, n) : recv(fd, p, n, MSG_DONTWAIT);

		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* n busy-polled request/replies between nodes 0 and 1 (node 1 times them
 * into out), like raw_block. */
static inline void raw_block_spin(int fd, int me, int n, size_t req, size_t rep,
				  double *out)
{
	static char buf[BENCH_RAW_MAX];

	for (int i = 0; i < n && me <= 1; i++) {
		double t0 = now_us();
		int bad = me == 0 ? io_full_spin(fd, buf, req, 0) || io_full_spin(fd, buf, rep, 1)
				  : io_full_spin(fd, buf, req, 1) || io_full_spin(fd, buf, rep, 0);
		if (bad) {
			fprintf(stderr, BENCH_NAME ": raw spin: I/O error\n");
			exit(1);
		}
		if (me == 1)
			out[i] = now_us() - t0;
	}
}

/* ---- raw limit: SIGSEGV handler + mprotect ---- */

static char *raw_lo, *raw_hi; /* the area the raw handler serves */
static int raw_grant;         /* protection the handler grants */
static size_t pg;             /* page size: set it before any raw pass */

/* Grant raw_grant to the faulting page; anything else crashes as usual. */
static inline void raw_handler(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (a < raw_lo || a >= raw_hi) {
		signal(SIGSEGV, SIG_DFL); /* re-fault with the default action */
		return;
	}
	mprotect((void *)((uintptr_t)a & ~(uintptr_t)(pg - 1)), pg, raw_grant);
}

/* Install raw_handler for SIGSEGV, saving the previous action in *old. */
static inline void raw_handler_install(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = raw_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, old);
}

/* Time the first write to each of n pages at base; each store faults. */
static inline void time_writes(char *base, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++) {
		volatile char *p = base + i * pg;
		double t0 = now_us();

		*p = 1;
		out[i] = now_us() - t0;
	}
}

/* Time the first read of each of n pages at base; each load faults. */
static inline int time_reads(char *base, size_t n, double *out)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		volatile char *p = base + i * pg;
		double t0 = now_us();

		sum += *p;
		out[i] = now_us() - t0;
	}
	return sum;
}

/* Kinds of raw fault: what mapping, what access is timed. */
enum raw_kind {
	RAW_ANON_WRITE,  /* private anon page, dirty, PROT_READ -> write */
	RAW_MEMFD_WRITE, /* shared memfd page, read in, PROT_READ -> write */
	RAW_MEMFD_READ,  /* shared memfd page, PROT_NONE -> first read */
};

/* Map n pages for a raw pass of the given kind, pages resident and
 * protected so that the timed access faults once. NULL on failure. */
static inline char *raw_area(enum raw_kind kind, size_t n, int *fd)
{
	size_t len = n * pg;
	char *a;

	*fd = -1;
	if (kind == RAW_ANON_WRITE) {
		a = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
		for (size_t i = 0; i < n; i++)
			((volatile char *)a)[i * pg] = 0; /* resident, dirty */
		mprotect(a, len, PROT_READ);
		return a;
	}
	*fd = memfd_create(BENCH_NAME, 0);
	if (*fd < 0 || ftruncate(*fd, (off_t)len) < 0)
		return NULL;
	a = mmap(NULL, len, kind == RAW_MEMFD_READ ? PROT_NONE : PROT_READ,
		 MAP_SHARED, *fd, 0);
	if (a == MAP_FAILED)
		return NULL;
	if (kind == RAW_MEMFD_WRITE)
		for (size_t i = 0; i < n; i++)
			(void)((volatile char *)a)[i * pg]; /* read in */
	return a;
}

/* One raw pass: n timed faults of the given kind into out. 0 or -1. */
static inline int raw_pass(enum raw_kind kind, size_t n, double *out)
{
	struct sigaction old;
	int fd;
	char *a = raw_area(kind, n, &fd);

	if (!a) {
		perror(BENCH_NAME ": raw area");
		return -1;
	}
	raw_lo = a;
	raw_hi = a + n * pg;
	raw_grant = kind == RAW_MEMFD_READ ? PROT_READ : PROT_READ | PROT_WRITE;
	raw_handler_install(&old);
	if (kind == RAW_MEMFD_READ)
		time_reads(a, n, out);
	else
		time_writes(a, n, out);
	sigaction(SIGSEGV, &old, NULL);
	munmap(a, n * pg);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* n timed raw write faults on dirty private pages into out; exits on
 * failure. */
static inline void raw_faults(size_t n, double *out)
{
	if (raw_pass(RAW_ANON_WRITE, n, out) < 0)
		exit(1);
}

/* ---- command line ---- */

/* Options of the multi-node benchmarks: --quick, --protocol P (sets
 * DSM_PROTOCOL before dsm_init; dsmrun --protocol does the same for every
 * node). Call before dsm_init. Returns the protocol's name for the RESULT
 * lines: P, else DSM_PROTOCOL, else "hlrc" (the library's default). Exits
 * 2 with usage on anything else. */
static inline const char *bench_args(int argc, char **argv, int *quick)
{
	const char *proto = getenv("DSM_PROTOCOL");

	*quick = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			*quick = 1;
		} else if (strcmp(argv[i], "--protocol") == 0 && i + 1 < argc) {
			proto = argv[++i];
			setenv("DSM_PROTOCOL", proto, 1);
		} else {
			fprintf(stderr, "usage: " BENCH_NAME " [--quick] [--protocol P]\n");
			exit(2);
		}
	}
	return proto && *proto ? proto : "hlrc";
}

/* ---- ours: remote page fetch ---- */

/* Node 1 reads every FETCH_STRIDE-th page of the block: hlrc fetches,
 * with a faulting page, the following pages of the same home that this
 * node read before (prefetch), so reading neighbours would time faults
 * that never happen. A block for m timed pages has m * FETCH_STRIDE. */
#define FETCH_STRIDE 2

/* The byte node 0 writes into page i in round r. */
static inline unsigned char page_val(size_t i, int r)
{
	return (unsigned char)(i * 7 + (size_t)r * 13 + 1);
}

/* One round of m remote read faults on the collective block blk (m *
 * FETCH_STRIDE pages): node 0 writes a byte of every FETCH_STRIDE-th page,
 * barrier, node 1 times a read of each of them into out and checks it.
 * Exits on a wrong value. Collective. */
static inline void fetch_round(char *blk, size_t m, int r, int me,
			       double *out)
{
	const size_t step = FETCH_STRIDE * pg;

	if (me == 0)
		for (size_t i = 0; i < m; i++)
			((volatile char *)blk)[i * step] = (char)page_val(i, r);
	check(dsm_barrier(1), "dsm_barrier");
	for (size_t i = 0; i < m && me == 1; i++) {
		volatile unsigned char *p = (volatile unsigned char *)blk + i * step;
		double t0 = now_us();
		unsigned char v = *p;

		out[i] = now_us() - t0;
		if (v != page_val(i, r)) {
			fprintf(stderr, BENCH_NAME ": page %zu round %d: read %u, "
				"node 0 wrote %u\n", i, r, v, page_val(i, r));
			exit(1);
		}
	}
	check(dsm_barrier(2), "dsm_barrier");
}

/* A two-node benchmark: exit 2 (after dsm_finalize) with usage if the job
 * has fewer than 2 nodes; say that nodes beyond 1 only join barriers. */
static inline void need_two_nodes(int me)
{
	if (dsm_node_count() < 2) {
		fprintf(stderr, BENCH_NAME ": needs 2 nodes: dsmrun -n 2 "
			BENCH_NAME "\n");
		dsm_finalize();
		exit(2);
	}
	if (dsm_node_count() > 2 && me == 0)
		printf(BENCH_NAME ": meant for 2 nodes; nodes 2.. only join "
		       "barriers\n");
}

#endif /* BENCH_UTIL_H */
