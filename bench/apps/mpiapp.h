/*
 * mpiapp.h — the MPI side of the application benchmarks: start-up, the
 * measured region, and communication wrappers that count the bytes and
 * messages each rank sends, so bytes moved can be compared with libdsm's.
 *
 * Counting convention (payload bytes, no headers): a point-to-point send
 * counts its size; a collective counts what a plain point-to-point
 * implementation would send: bcast (P-1)*n at the root; allreduce a
 * reduce to rank 0 and a bcast back (n per non-root, (P-1)*n at the root);
 * reduce n per non-root; reduce-scatter every block to its rank;
 * allgatherv each rank's block to P-1 others; alltoallv every block sent
 * to another rank. Only the measured region is reported.
 */
#ifndef APPS_MPIAPP_H
#define APPS_MPIAPP_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

struct mapp {
	const char *app;
	int me, np;
	uint64_t bytes, msgs; /* sent by this rank, measured region only */
	int counting;
	double t0, seconds;
};

void mapp_init(struct mapp *m, const char *app, int *argc, char ***argv);
void mapp_start(struct mapp *m);  /* barrier, clock, counting on */
void mapp_stop(struct mapp *m);   /* barrier, clock, counting off */

/* Rank 0's verdict goes to every rank; rank 0 prints the APP line with the
 * summed counters; MPI_Finalize. Returns the exit status. */
int mapp_finish(struct mapp *m, int ok);

void mapp_send(struct mapp *m, const void *buf, int n, MPI_Datatype t, int to);
void mapp_recv(struct mapp *m, void *buf, int n, MPI_Datatype t, int from);
void mapp_sendrecv(struct mapp *m, const void *sbuf, int sn, int to,
		   void *rbuf, int rn, int from, MPI_Datatype t);
void mapp_bcast(struct mapp *m, void *buf, int n, MPI_Datatype t, int root);
void mapp_allreduce(struct mapp *m, const void *in, void *out, int n,
		    MPI_Datatype t, MPI_Op op);
/* Sum in[] over ranks; rank k receives the counts[k] items of block k
 * (blocks in rank order) in out. Counts every block sent to another rank. */
void mapp_reduce_scatter(struct mapp *m, const void *in, void *out,
			 const int *counts, MPI_Datatype t, MPI_Op op);
/* Sum to root only: n per non-root rank. */
void mapp_reduce(struct mapp *m, const void *in, void *out, int n,
		 MPI_Datatype t, MPI_Op op);
void mapp_allgatherv(struct mapp *m, const void *sbuf, int sn, void *rbuf,
		     const int *counts, const int *displs, MPI_Datatype t);
void mapp_alltoallv(struct mapp *m, const void *sbuf, const int *scounts,
		    const int *sdispls, void *rbuf, const int *rcounts,
		    const int *rdispls, MPI_Datatype t);

/* Uncounted: collecting the result on rank 0 for the check. */
void mapp_gatherv(struct mapp *m, const void *sbuf, int sn, void *rbuf,
		  const int *counts, const int *displs, MPI_Datatype t);

/* counts[k], displs[k] of rank k's block of n items split by app_split,
 * times mult (items per row). */
void mapp_blocks(int np, size_t n, size_t mult, int *counts, int *displs);

#endif /* APPS_MPIAPP_H */
