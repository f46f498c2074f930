/*
 * bench_remote.c — remote page fetch under libdsm against the machine's
 * raw limit, measured in the same run. Run with: dsmrun -n 2 bench_remote
 *
 * Raw limit: a 4 KiB request/reply over TCP on loopback between the two
 * processes (node 1 sends 64 bytes, node 0 answers 4096; TCP_NODELAY,
 * blocking sockets, our own connection) PLUS a raw local fault
 * (SIGSEGV -> handler -> mprotect -> return), both measured on node 1.
 * Ours: node 0 writes one byte of each of M pages of a collective block;
 * barrier; node 1 reads one byte of each page, timing each read fault and
 * checking the value. Repeated for several rounds (node 0 rewrites); a
 * block of raw request/replies runs before each round, so slow drift of
 * the machine (CPU placement, frequency) affects both figures alike.
 *
 * Usage: dsmrun -n 2 bench_remote [--quick]
 * Exit 0 unless a dsm_ call fails or node 1 reads a wrong value.
 */
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

#define TARGET "1.5"
#define REQ_BYTES 64
#define REPLY_BYTES 4096

/* ---- timing and statistics helpers ---- */

/* Microseconds on CLOCK_MONOTONIC. */
static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct summary {
	double med, p10, p90;
};

/* Median, p10 and p90 of n samples (sorts v in place). */
static struct summary summarize(double *v, size_t n)
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

static void print_summary(const char *label, struct summary s, size_t n)
{
	printf("  %-34s median %8.2f us  p10 %8.2f  p90 %8.2f  (n=%zu)\n",
	       label, s.med, s.p10, s.p90, n);
	fflush(stdout);
}

/* Report a failed dsm_ call and exit 1 (functional breakage). */
static void check(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench_remote: node %d: %s: %s\n", dsm_node_id(),
			what, dsm_strerror(rc));
		exit(1);
	}
}

/* ---- raw limit 1: TCP request/reply on loopback ---- */

/* Read or write exactly n bytes on a blocking socket. 0 or -1. */
static int io_full(int fd, void *buf, size_t n, int wr)
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

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Listen on 127.0.0.1, port 0; *port gets the chosen port. fd or -1. */
static int tcp_listen(uint32_t *port)
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

static int tcp_connect(uint32_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

/* Connect node 0 (server) and node 1 (client) with a private TCP socket;
 * the port travels by dsm_broadcast. Collective. Returns the fd on nodes
 * 0 and 1, -1 elsewhere; exits on failure. */
static int raw_pair(int me)
{
	uint32_t port = 0;
	int lfd = -1, fd = -1;

	if (me == 0 && (lfd = tcp_listen(&port)) < 0) {
		perror("bench_remote: listen");
		exit(1);
	}
	check(dsm_broadcast(&port, sizeof(port), 0), "dsm_broadcast");
	if (me == 0)
		fd = accept(lfd, NULL, NULL);
	else if (me == 1)
		fd = tcp_connect(port);
	if (me <= 1 && fd < 0) {
		perror("bench_remote: connect/accept");
		exit(1);
	}
	if (lfd >= 0)
		close(lfd);
	if (fd >= 0)
		set_nodelay(fd);
	return fd;
}

/* Node 0: answer iters requests of req bytes with rep bytes. */
static void raw_serve(int fd, int iters, size_t req, size_t rep)
{
	static char buf[REPLY_BYTES];

	for (int i = 0; i < iters; i++)
		if (io_full(fd, buf, req, 0) < 0 || io_full(fd, buf, rep, 1) < 0) {
			fprintf(stderr, "bench_remote: raw serve: I/O error\n");
			exit(1);
		}
}

/* Node 1: iters timed request/replies into out. */
static void raw_client(int fd, int iters, size_t req, size_t rep, double *out)
{
	static char buf[REPLY_BYTES];

	for (int i = 0; i < iters; i++) {
		double t0 = now_us();

		if (io_full(fd, buf, req, 1) < 0 || io_full(fd, buf, rep, 0) < 0) {
			fprintf(stderr, "bench_remote: raw client: I/O error\n");
			exit(1);
		}
		out[i] = now_us() - t0;
	}
}

/* One block of n raw 4 KiB request/replies between nodes 0 and 1; node 1
 * records the times in out. Nodes beyond 1 do nothing. */
static void raw_block(int fd, int me, int n, double *out)
{
	if (me == 0)
		raw_serve(fd, n, REQ_BYTES, REPLY_BYTES);
	else if (me == 1)
		raw_client(fd, n, REQ_BYTES, REPLY_BYTES, out);
}

/* ---- raw limit 2: SIGSEGV handler + mprotect ---- */

static char *raw_lo, *raw_hi;
static size_t pg;

/* Make the faulting page writable; anything else crashes as usual. */
static void raw_handler(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (a < raw_lo || a >= raw_hi) {
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	mprotect((void *)((uintptr_t)a & ~(uintptr_t)(pg - 1)), pg,
		 PROT_READ | PROT_WRITE);
}

/* n timed raw write faults on dirty private pages into out. */
static void raw_faults(size_t n, double *out)
{
	struct sigaction sa, old;
	char *a = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (a == MAP_FAILED) {
		perror("bench_remote: mmap");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		((volatile char *)a)[i * pg] = 0;
	mprotect(a, n * pg, PROT_READ);
	raw_lo = a;
	raw_hi = a + n * pg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = raw_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	for (size_t i = 0; i < n; i++) {
		volatile char *p = a + i * pg;
		double t0 = now_us();

		*p = 1;
		out[i] = now_us() - t0;
	}
	sigaction(SIGSEGV, &old, NULL);
	munmap(a, n * pg);
}

/* ---- ours: remote read faults ---- */

/* The byte node 0 writes into page i in round r. */
static unsigned char page_val(size_t i, int r)
{
	return (unsigned char)(i * 7 + (size_t)r * 13 + 1);
}

/* One round: node 0 writes a byte of each page, barrier, node 1 times a
 * read of each page into out and checks it. Exits on a wrong value. */
static void ours_round(char *blk, size_t m, int r, int me, double *out)
{
	if (me == 0)
		for (size_t i = 0; i < m; i++)
			((volatile char *)blk)[i * pg] = (char)page_val(i, r);
	check(dsm_barrier(1), "dsm_barrier");
	if (me == 1)
		for (size_t i = 0; i < m; i++) {
			volatile unsigned char *p =
				(volatile unsigned char *)blk + i * pg;
			double t0 = now_us();
			unsigned char v = *p;

			out[i] = now_us() - t0;
			if (v != page_val(i, r)) {
				fprintf(stderr, "bench_remote: page %zu round %d: "
					"read %u, node 0 wrote %u\n", i, r, v,
					page_val(i, r));
				exit(1);
			}
		}
	check(dsm_barrier(2), "dsm_barrier");
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int ipr = quick ? 500 : 1000, rounds = quick ? 3 : 8;
	int iters = ipr * rounds; /* raw round trips in all */
	size_t m = quick ? 1000 : 2000, nf = quick ? 2000 : 10000;
	double *tcp = calloc((size_t)iters, sizeof(double));
	double *flt = calloc(nf, sizeof(double));
	double *ours = calloc(m * (size_t)rounds, sizeof(double));
	struct summary s_tcp, s_flt, s;
	struct dsm_stats st0, st1;
	int me, fd;
	char *blk;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	if (!tcp || !flt || !ours)
		return 1;
	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	if (dsm_node_count() < 2) {
		fprintf(stderr, "bench_remote: needs 2 nodes: dsmrun -n 2 bench_remote\n");
		dsm_finalize();
		return 2;
	}
	if (dsm_node_count() > 2 && me == 0)
		printf("bench_remote: meant for 2 nodes; nodes 2.. only join barriers\n");

	fd = raw_pair(me);
	if (me == 1)
		raw_faults(nf, flt);
	check(dsm_barrier(3), "dsm_barrier");

	blk = dsm_alloc_collective(m * pg);
	if (!blk) {
		fprintf(stderr, "bench_remote: dsm_alloc_collective: %s\n",
			strerror(errno));
		return 1;
	}
	check(dsm_stats(&st0), "dsm_stats");
	for (int r = 0; r < rounds; r++) {
		raw_block(fd, me, ipr, tcp + (size_t)r * (size_t)ipr);
		ours_round(blk, m, r, me, ours + (size_t)r * m);
	}
	check(dsm_stats(&st1), "dsm_stats");
	if (fd >= 0)
		close(fd);

	if (me == 1) {
		printf("bench_remote: %zu pages x %d rounds, %d raw round trips\n",
		       m, rounds, iters);
		s_tcp = summarize(tcp, (size_t)iters);
		print_summary("raw 64 B -> 4 KiB TCP request/reply", s_tcp, (size_t)iters);
		s_flt = summarize(flt, nf);
		print_summary("raw SIGSEGV + mprotect", s_flt, nf);
		s = summarize(ours, m * (size_t)rounds);
		print_summary("ours: remote read fault", s, m * (size_t)rounds);
		printf("  node 1 dsm_stats: %llu read faults, %llu remote fetches, "
		       "%llu messages sent, %llu received\n",
		       (unsigned long long)(st1.read_faults - st0.read_faults),
		       (unsigned long long)(st1.remote_fetches - st0.remote_fetches),
		       (unsigned long long)(st1.messages_sent - st0.messages_sent),
		       (unsigned long long)(st1.messages_recv - st0.messages_recv));
		printf("RESULT name=remote_fetch ours_us=%.3f raw_us=%.3f "
		       "ratio=%.3f target=%s\n", s.med, s_tcp.med + s_flt.med,
		       s.med / (s_tcp.med + s_flt.med), TARGET);
		fflush(stdout);
	}
	check(dsm_finalize(), "dsm_finalize");
	return 0;
}
