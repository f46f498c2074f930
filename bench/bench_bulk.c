/*
 * bench_bulk.c — bulk page traffic under libdsm against the machine's raw
 * limits, measured in the same run (issue 10's floors: what moving an
 * array between two nodes can cost on this machine at best).
 *   dsmrun -n 2 bench_bulk [--quick] [--protocol P]
 *
 * Raw limits, between nodes 0 and 1 over their own TCP loopback socket
 * (TCP_NODELAY, blocking):
 *   stream  node 0 writes MB megabytes in 128 KiB writes, node 1 reads
 *           them into one buffer (a one-way copy: the bandwidth floor);
 *   run     a 64 B request answered by 128 KiB (a 32-page run), timed
 *           per round trip on node 1;
 *   memcpy  MB megabytes copied in one process (the local floor).
 * Ours: node 0 writes every byte of an MB-megabyte collective block whose
 * pages node 0 is home of; barrier; node 1 reads one word of every page in
 * order (faults, runs fetched by readahead) and checks it; then node 1
 * reads the block again with every page valid (the same loop, no fault:
 * its cost is subtracted). Printed per page and as MB/s, with node 1's
 * fault and fetch counts; RESULT: ours_us and raw_us per page (raw: the
 * stream). Exit 0 unless a dsm_ call fails or a value is wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_bulk"
#include "bench_util.h"

#define RUN_BYTES (128u << 10)

static void raw_stream(int fd, int me, size_t bytes, char *buf)
{
	for (size_t off = 0; off < bytes && me <= 1; off += RUN_BYTES)
		if (io_full(fd, buf + off, RUN_BYTES, me == 0) < 0) {
			fprintf(stderr, BENCH_NAME ": stream: I/O error\n");
			exit(1);
		}
	if (me <= 1 && io_full(fd, buf, 1, me == 1) < 0) /* the reader's ack */
		exit(1);
}

static void raw_runs(int fd, int me, int n, char *buf, double *out)
{
	for (int i = 0; i < n && me <= 1; i++) {
		double t0 = now_us();
		int bad = me == 0 ? io_full(fd, buf, 64, 0) || io_full(fd, buf, RUN_BYTES, 1)
				  : io_full(fd, buf, 64, 1) || io_full(fd, buf, RUN_BYTES, 0);
		if (bad) {
			fprintf(stderr, BENCH_NAME ": runs: I/O error\n");
			exit(1);
		}
		if (me == 1)
			out[i] = now_us() - t0;
	}
}

/* Node 1 reads one word per page of blk; returns seconds. */
static double read_pages(const char *blk, size_t npg, int r)
{
	double t0 = now_us();

	for (size_t i = 0; i < npg; i++) {
		unsigned v = ((const volatile unsigned *)(blk + i * pg))[0];
		if (v != (unsigned)(i * 31 + (size_t)r)) {
			fprintf(stderr, BENCH_NAME ": page %zu: %u\n", i, v);
			exit(1);
		}
	}
	return (now_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	int quick, me, fd, nruns;
	const char *proto = bench_args(argc, argv, &quick);
	size_t mb = quick ? 64 : 256, bytes = mb << 20, npg;
	double t0, s_stream = 1e9, s_copy = 1e9, s_ours = 1e9, s_warm = 1e9;
	double *runs;
	struct dsm_stats st0, st1;
	char *buf, *dst, *blk;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	npg = bytes / pg;
	nruns = quick ? 200 : 1000;
	buf = malloc(bytes);
	dst = malloc(bytes);
	runs = calloc((size_t)nruns, sizeof(double));
	if (!buf || !dst || !runs)
		return 1;
	memset(buf, 1, bytes);
	memset(dst, 2, bytes);
	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	need_two_nodes(me);
	fd = raw_pair(me);
	for (int r = 0; r < 3; r++) {
		check(dsm_barrier(1), "dsm_barrier");
		t0 = now_us();
		raw_stream(fd, me, bytes, buf);
		s_stream = (now_us() - t0) / 1e6 < s_stream ? (now_us() - t0) / 1e6 : s_stream;
		t0 = now_us();
		memcpy(dst, buf, bytes);
		s_copy = (now_us() - t0) / 1e6 < s_copy ? (now_us() - t0) / 1e6 : s_copy;
	}
	check(dsm_barrier(1), "dsm_barrier");
	raw_runs(fd, me, nruns, buf, runs);
	blk = dsm_alloc_collective_hint(bytes, 0); /* node 0 is every page's home */
	if (!blk) {
		fprintf(stderr, BENCH_NAME ": dsm_alloc_collective_hint: %s\n", strerror(errno));
		return 1;
	}
	check(dsm_stats(&st0), "dsm_stats");
	for (int r = 0; r < 3; r++) {
		double s;
		if (me == 0)
			for (size_t i = 0; i < npg; i++) {
				memset(blk + i * pg, (int)r, pg);
				((unsigned *)(blk + i * pg))[0] = (unsigned)(i * 31 + (size_t)r);
			}
		check(dsm_barrier(2), "dsm_barrier");
		if (me == 1) {
			s = read_pages(blk, npg, r);
			s_ours = s < s_ours ? s : s_ours;
			s = read_pages(blk, npg, r);
			s_warm = s < s_warm ? s : s_warm;
		}
		check(dsm_barrier(3), "dsm_barrier");
	}
	check(dsm_stats(&st1), "dsm_stats");
	if (me == 1) {
		struct summary sr = summarize(runs, (size_t)nruns);
		double ours = s_ours - s_warm;
		printf("bench_bulk: protocol %s, %zu MB, %zu pages of %zu B (min of 3)\n",
		       proto, mb, npg, pg);
		printf("  raw TCP stream (128 KiB writes)  %8.3f s  %7.0f MB/s  %6.2f us/page\n",
		       s_stream, (double)mb / s_stream, s_stream * 1e6 / (double)npg);
		printf("  raw memcpy                       %8.3f s  %7.0f MB/s  %6.2f us/page\n",
		       s_copy, (double)mb / s_copy, s_copy * 1e6 / (double)npg);
		print_summary("raw 64 B -> 128 KiB request/reply", sr, (size_t)nruns);
		printf("  ours: pages fetched in order     %8.3f s  %7.0f MB/s  %6.2f us/page\n",
		       ours, (double)mb / ours, ours * 1e6 / (double)npg);
		printf("  node 1 dsm_stats (3 rounds): %llu read faults, %llu remote "
		       "fetches, %llu messages sent, %llu received\n",
		       (unsigned long long)(st1.read_faults - st0.read_faults),
		       (unsigned long long)(st1.remote_fetches - st0.remote_fetches),
		       (unsigned long long)(st1.messages_sent - st0.messages_sent),
		       (unsigned long long)(st1.messages_recv - st0.messages_recv));
		printf("RESULT name=bulk ours_us=%.2f raw_us=%.2f ratio=%.3f target=- "
		       "stream_mbs=%.0f memcpy_mbs=%.0f run_us=%.1f ours_mbs=%.0f "
		       "protocol=%s\n", ours * 1e6 / (double)npg, s_stream * 1e6 / (double)npg,
		       ours / s_stream, (double)mb / s_stream, (double)mb / s_copy, sr.med,
		       (double)mb / ours, proto);
		fflush(stdout);
	}
	if (fd >= 0)
		close(fd);
	check(dsm_finalize(), "dsm_finalize");
	return 0;
}
