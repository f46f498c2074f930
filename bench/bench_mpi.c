/*
 * bench_mpi.c — the MPI transport against raw MPI, measured in the same
 * run. Run with: mpirun -n 2 bench_mpi [--quick] [--protocol P]
 *
 * The program initialises MPI itself (MPI_THREAD_MULTIPLE) before
 * dsm_init, as an MPI application would; libdsm then uses its own
 * duplicate of MPI_COMM_WORLD.
 *
 * Raw limits, between ranks 0 and 1 on MPI_COMM_WORLD from the
 * application thread (MPI_Send / MPI_Recv, which busy-poll):
 *  - a 64-byte ping-pong round trip;
 *  - a 64 B -> 4 KiB request/reply, plus a raw local fault (SIGSEGV ->
 *    handler -> mprotect -> return), the cost any page fetch adds.
 * Ours:
 *  - mpi_roundtrip: node 1 acquires lock 0, managed by node 0 (LOCK_REQ
 *    -> LOCK_GRANT: one small-message round trip through both service
 *    threads), timed; then releases it (one-way, untimed);
 *  - mpi_page_fetch: node 0 writes a byte of each of M pages; barrier;
 *    node 1 times a read fault on each page and checks the value.
 * A block of raw operations runs before each round of ours, so drift of
 * the machine affects both alike. RESULT lines as in bench/run.sh.
 *
 * Exit 0 unless a dsm_ or MPI call fails or a wrong value is read.
 */
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_NAME "bench_mpi"
#define BENCH_LABEL_WIDTH 36
#include "bench_util.h"

#define TARGET "1.2"       /* page fetch */
#define TARGET_RT "2"      /* small round trip (issue 10) */
#define REQ_BYTES 64
#define REPLY_BYTES 4096

/* ---- raw: MPI ping-pong between ranks 0 and 1 ---- */

/* n request/replies of req -> rep bytes; rank 1 times them into out. */
static void mpi_block(int me, int n, int req, int rep, double *out)
{
	static char buf[REPLY_BYTES];

	for (int i = 0; i < n && me <= 1; i++) {
		double t0 = now_us();
		int rc;

		if (me == 1) {
			rc = MPI_Send(buf, req, MPI_BYTE, 0, 7, MPI_COMM_WORLD);
			if (rc == MPI_SUCCESS)
				rc = MPI_Recv(buf, rep, MPI_BYTE, 0, 8, MPI_COMM_WORLD,
					      MPI_STATUS_IGNORE);
			out[i] = now_us() - t0;
		} else {
			rc = MPI_Recv(buf, req, MPI_BYTE, 1, 7, MPI_COMM_WORLD,
				      MPI_STATUS_IGNORE);
			if (rc == MPI_SUCCESS)
				rc = MPI_Send(buf, rep, MPI_BYTE, 1, 8, MPI_COMM_WORLD);
		}
		if (rc != MPI_SUCCESS) {
			fprintf(stderr, "bench_mpi: raw MPI ping-pong failed\n");
			exit(1);
		}
	}
}

/* ---- ours ---- */

/* n timed acquisitions of lock 0 (manager: node 0) by node 1. */
static void lock_round(int me, int n, double *out)
{
	for (int i = 0; i < n && me == 1; i++) {
		double t0 = now_us();

		check(dsm_lock_acquire(0), "dsm_lock_acquire");
		out[i] = now_us() - t0;
		check(dsm_lock_release(0), "dsm_lock_release");
	}
	check(dsm_barrier(4), "dsm_barrier");
}

/* Samples of every figure, filled by node 1. */
struct samples {
	double *rt, *req, *flt, *lock, *fetch;
	int ipr, rounds;
	size_t m, nf;
};

static void run_rounds(struct samples *s, char *blk, int me)
{
	for (int r = 0; r < s->rounds; r++) {
		size_t o = (size_t)r * (size_t)s->ipr;

		MPI_Barrier(MPI_COMM_WORLD);
		mpi_block(me, s->ipr, REQ_BYTES, REQ_BYTES, s->rt + o);
		mpi_block(me, s->ipr, REQ_BYTES, REPLY_BYTES, s->req + o);
		MPI_Barrier(MPI_COMM_WORLD);
		lock_round(me, s->ipr, s->lock + o);
		fetch_round(blk, s->m, r, me, s->fetch + (size_t)r * s->m);
	}
}

static void report(struct samples *s, const char *proto)
{
	size_t ni = (size_t)s->ipr * (size_t)s->rounds, nm = s->m * (size_t)s->rounds;
	struct summary rt = summarize(s->rt, ni), rq = summarize(s->req, ni);
	struct summary fl = summarize(s->flt, s->nf), lk = summarize(s->lock, ni);
	struct summary fe = summarize(s->fetch, nm);

	printf("bench_mpi: %d rounds; %d round trips and %zu pages per round\n",
	       s->rounds, s->ipr, s->m);
	print_summary("raw MPI 64 B round trip", rt, ni);
	print_summary("raw MPI 64 B -> 4 KiB request/reply", rq, ni);
	print_summary("raw SIGSEGV + mprotect", fl, s->nf);
	print_summary("ours: lock acquire (REQ -> GRANT)", lk, ni);
	print_summary("ours: remote read fault (4 KiB)", fe, nm);
	printf("RESULT name=mpi_roundtrip ours_us=%.3f raw_us=%.3f ratio=%.3f "
	       "target=%s protocol=%s\n", lk.med, rt.med, lk.med / rt.med,
	       TARGET_RT, proto);
	printf("RESULT name=mpi_page_fetch ours_us=%.3f raw_us=%.3f ratio=%.3f "
	       "target=%s raw_mpi_4k_us=%.3f raw_fault_us=%.3f protocol=%s\n",
	       fe.med, rq.med + fl.med, fe.med / (rq.med + fl.med), TARGET, rq.med,
	       fl.med, proto);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int quick;
	const char *proto = bench_args(argc, argv, &quick);
	struct samples s = { .ipr = quick ? 500 : 2000, .rounds = quick ? 3 : 6,
			     .m = quick ? 500 : 1000, .nf = quick ? 2000 : 10000 };
	size_t ni = (size_t)s.ipr * (size_t)s.rounds;
	int provided, me;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
		return 1;
	s.rt = calloc(ni, sizeof(double));
	s.req = calloc(ni, sizeof(double));
	s.lock = calloc(ni, sizeof(double));
	s.flt = calloc(s.nf, sizeof(double));
	s.fetch = calloc(s.m * (size_t)s.rounds, sizeof(double));
	if (!s.rt || !s.req || !s.lock || !s.flt || !s.fetch)
		return 1;
	check(dsm_init(&argc, &argv), "dsm_init");
	me = dsm_node_id();
	if (dsm_node_count() < 2) {
		fprintf(stderr, "bench_mpi: needs 2 ranks: mpirun -n 2 bench_mpi\n");
		dsm_finalize();
		MPI_Finalize();
		return 2;
	}
	char *blk = dsm_alloc_collective(s.m * FETCH_STRIDE * pg);
	if (!blk) {
		fprintf(stderr, "bench_mpi: dsm_alloc_collective: %s\n", strerror(errno));
		return 1;
	}
	if (me == 1)
		raw_faults(s.nf, s.flt);
	run_rounds(&s, blk, me);
	if (me == 1)
		report(&s, proto);
	check(dsm_finalize(), "dsm_finalize");
	MPI_Finalize();
	return 0;
}
