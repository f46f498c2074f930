/*
 * mpiapp.c — MPI helpers for the application benchmarks (mpiapp.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mpiapp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void count(struct mapp *m, uint64_t msgs, uint64_t bytes)
{
	if (m->counting && m->np > 1) {
		m->msgs += msgs;
		m->bytes += bytes;
	}
}

static uint64_t tsize(MPI_Datatype t)
{
	int s;

	MPI_Type_size(t, &s);
	return (uint64_t)s;
}

void mapp_init(struct mapp *m, const char *app, int *argc, char ***argv)
{
	memset(m, 0, sizeof(*m));
	m->app = app;
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &m->me);
	MPI_Comm_size(MPI_COMM_WORLD, &m->np);
}

void mapp_start(struct mapp *m)
{
	MPI_Barrier(MPI_COMM_WORLD);
	m->t0 = app_now();
	m->counting = 1;
}

void mapp_stop(struct mapp *m)
{
	MPI_Barrier(MPI_COMM_WORLD);
	m->seconds = app_now() - m->t0;
	m->counting = 0;
}

int mapp_finish(struct mapp *m, int ok)
{
	uint64_t mine[2] = { m->msgs, m->bytes }, sum[2];
	char extra[128];

	MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
	MPI_Reduce(mine, sum, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
	if (m->me == 0) {
		snprintf(extra, sizeof extra, "msgs=%llu bytes=%llu",
			 (unsigned long long)sum[0], (unsigned long long)sum[1]);
		app_report(m->app, "mpi", m->np, NULL, m->seconds, ok, extra);
	}
	MPI_Finalize();
	return ok ? 0 : 1;
}

void mapp_send(struct mapp *m, const void *buf, int n, MPI_Datatype t, int to)
{
	count(m, 1, (uint64_t)n * tsize(t));
	MPI_Send(buf, n, t, to, 0, MPI_COMM_WORLD);
}

void mapp_recv(struct mapp *m, void *buf, int n, MPI_Datatype t, int from)
{
	MPI_Recv(buf, n, t, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

void mapp_sendrecv(struct mapp *m, const void *sbuf, int sn, int to,
		   void *rbuf, int rn, int from, MPI_Datatype t)
{
	if (to != MPI_PROC_NULL)
		count(m, 1, (uint64_t)sn * tsize(t));
	MPI_Sendrecv(sbuf, sn, t, to, 0, rbuf, rn, t, from, 0, MPI_COMM_WORLD,
		     MPI_STATUS_IGNORE);
}

void mapp_bcast(struct mapp *m, void *buf, int n, MPI_Datatype t, int root)
{
	if (m->me == root)
		count(m, (uint64_t)m->np - 1, (uint64_t)(m->np - 1) * n * tsize(t));
	MPI_Bcast(buf, n, t, root, MPI_COMM_WORLD);
}

void mapp_allreduce(struct mapp *m, const void *in, void *out, int n,
		    MPI_Datatype t, MPI_Op op)
{
	uint64_t k = m->me == 0 ? (uint64_t)m->np - 1 : 1;

	count(m, k, k * (uint64_t)n * tsize(t));
	MPI_Allreduce(in, out, n, t, op, MPI_COMM_WORLD);
}

void mapp_reduce_scatter(struct mapp *m, const void *in, void *out,
			 const int *counts, MPI_Datatype t, MPI_Op op)
{
	for (int k = 0; k < m->np; k++)
		if (k != m->me)
			count(m, 1, (uint64_t)counts[k] * tsize(t));
	MPI_Reduce_scatter(in, out, counts, t, op, MPI_COMM_WORLD);
}

void mapp_reduce(struct mapp *m, const void *in, void *out, int n,
		 MPI_Datatype t, MPI_Op op)
{
	if (m->me != 0)
		count(m, 1, (uint64_t)n * tsize(t));
	MPI_Reduce(in, out, n, t, op, 0, MPI_COMM_WORLD);
}

void mapp_allgatherv(struct mapp *m, const void *sbuf, int sn, void *rbuf,
		     const int *counts, const int *displs, MPI_Datatype t)
{
	count(m, (uint64_t)m->np - 1, (uint64_t)(m->np - 1) * sn * tsize(t));
	MPI_Allgatherv(sbuf, sn, t, rbuf, counts, displs, t, MPI_COMM_WORLD);
}

void mapp_alltoallv(struct mapp *m, const void *sbuf, const int *scounts,
		    const int *sdispls, void *rbuf, const int *rcounts,
		    const int *rdispls, MPI_Datatype t)
{
	for (int k = 0; k < m->np; k++)
		if (k != m->me && scounts[k] > 0)
			count(m, 1, (uint64_t)scounts[k] * tsize(t));
	MPI_Alltoallv(sbuf, scounts, sdispls, t, rbuf, rcounts, rdispls, t,
		      MPI_COMM_WORLD);
}

void mapp_gatherv(struct mapp *m, const void *sbuf, int sn, void *rbuf,
		  const int *counts, const int *displs, MPI_Datatype t)
{
	MPI_Gatherv(sbuf, sn, t, rbuf, counts, displs, t, 0, MPI_COMM_WORLD);
}

void mapp_blocks(int np, size_t n, size_t mult, int *counts, int *displs)
{
	size_t lo, hi;

	for (int k = 0; k < np; k++) {
		app_split(n, k, np, &lo, &hi);
		counts[k] = (int)((hi - lo) * mult);
		displs[k] = (int)(lo * mult);
	}
}
