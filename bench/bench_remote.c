/*
 * bench_remote.c — remote page fetch under libdsm against the machine's
 * raw limit, measured in the same run. Run with: dsmrun -n 2 bench_remote
 *
 * Raw limit: a 4 KiB request/reply over TCP on loopback between the two
 * processes (node 1 sends 64 bytes, node 0 answers 4096; TCP_NODELAY,
 * blocking sockets, our own connection) PLUS a raw local fault
 * (SIGSEGV -> handler -> mprotect -> return), both measured on node 1.
 * Ours: node 0 writes one byte of each of M pages of a collective block
 * (every other page: see FETCH_STRIDE); barrier; node 1 reads one byte of
 * each page, timing each read fault and checking the value. Repeated for several rounds (node 0 rewrites); a
 * block of raw request/replies runs before each round, so slow drift of
 * the machine (CPU placement, frequency) affects both figures alike.
 *
 * Two raw round trips are measured: with blocking sockets (raw_us, ratio:
 * each reply wakes a sleeping thread) and busy-polling (raw_spin_us,
 * ratio_spin: the floor for a runtime that busy-polls after traffic, as
 * libdsm does for DSM_SPIN_US); the target applies to ratio_spin.
 *
 * Usage: dsmrun -n 2 bench_remote [--quick] [--protocol P]
 * Exit 0 unless a dsm_ call fails or node 1 reads a wrong value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_remote"
#include "bench_util.h"

#define TARGET "1.5"
#define REQ_BYTES 64
#define REPLY_BYTES 4096

int main(int argc, char **argv)
{
	int quick;
	const char *proto = bench_args(argc, argv, &quick);
	int ipr = quick ? 500 : 1000, rounds = quick ? 3 : 8;
	int iters = ipr * rounds; /* raw round trips in all */
	size_t m = quick ? 1000 : 2000, nf = quick ? 2000 : 10000;
	double *tcp = calloc((size_t)iters, sizeof(double));
	double *spin = calloc((size_t)iters, sizeof(double));
	double *flt = calloc(nf, sizeof(double));
	double *ours = calloc(m * (size_t)rounds, sizeof(double));
	struct summary s_tcp, s_flt, s, s_spin;
	struct dsm_stats st0, st1;
	int me, fd;
	char *blk;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	if (!tcp || !flt || !ours || !spin)
		return 1;
	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	need_two_nodes(me);

	fd = raw_pair(me);
	if (me == 1)
		raw_faults(nf, flt);
	check(dsm_barrier(3), "dsm_barrier");

	blk = dsm_alloc_collective(m * FETCH_STRIDE * pg);
	if (!blk) {
		fprintf(stderr, "bench_remote: dsm_alloc_collective: %s\n",
			strerror(errno));
		return 1;
	}
	check(dsm_stats(&st0), "dsm_stats");
	for (int r = 0; r < rounds; r++) {
		raw_block(fd, me, ipr, REQ_BYTES, REPLY_BYTES,
			  tcp + (size_t)r * (size_t)ipr);
		fetch_round(blk, m, r, me, ours + (size_t)r * m);
	}
	check(dsm_stats(&st1), "dsm_stats");
	raw_block_spin(fd, me, iters, REQ_BYTES, REPLY_BYTES, spin);
	if (fd >= 0)
		close(fd);

	if (me == 1) {
		printf("bench_remote: protocol %s, %zu pages x %d rounds, %d raw "
		       "round trips\n", proto, m, rounds, iters);
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
		s_spin = summarize(spin, (size_t)iters);
		print_summary("raw request/reply, busy-polling", s_spin, (size_t)iters);
		printf("RESULT name=remote_fetch ours_us=%.3f raw_us=%.3f "
		       "ratio=%.3f target=%s raw_spin_us=%.3f ratio_spin=%.3f "
		       "protocol=%s\n", s.med, s_tcp.med + s_flt.med,
		       s.med / (s_tcp.med + s_flt.med), TARGET, s_spin.med + s_flt.med,
		       s.med / (s_spin.med + s_flt.med), proto);
		fflush(stdout);
	}
	check(dsm_finalize(), "dsm_finalize");
	return 0;
}
