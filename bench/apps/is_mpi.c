/*
 * is_mpi — integer sort with MPI: each rank counts its keys per bucket
 * (bucket r = rank r's share of the key range), exchanges the counts and
 * then the keys with all-to-alls, and radix-sorts what it received. Rank
 * 0 gathers the sorted buckets afterwards and checks them.
 *   mpirun -n P is_mpi [N]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

#define MAXP 1024

static int sc[MAXP], sd[MAXP], rc[MAXP], rd[MAXP], ones[MAXP], idx[MAXP];

/* Counts per destination, exchanged; displacements on both sides. */
static size_t exchange_counts(struct mapp *m, const uint32_t *keys, size_t n)
{
	uint64_t mine[MAXP] = { 0 }, theirs[MAXP];
	size_t total = 0;

	is_count(keys, n, m->np, mine);
	for (int k = 0; k < m->np; k++)
		ones[k] = 1, idx[k] = k;
	mapp_alltoallv(m, mine, ones, idx, theirs, ones, idx, MPI_UINT64_T);
	for (int k = 0; k < m->np; k++) {
		sc[k] = (int)mine[k];
		sd[k] = k ? sd[k - 1] + sc[k - 1] : 0;
		rc[k] = (int)theirs[k];
		rd[k] = k ? rd[k - 1] + rc[k - 1] : 0;
		total += (size_t)rc[k];
	}
	return total;
}

static uint32_t *sort(struct mapp *m, const uint32_t *keys, size_t n, size_t *got)
{
	uint32_t *send = app_alloc(n * sizeof(uint32_t)), *recv, *tmp;
	int off[MAXP];

	*got = exchange_counts(m, keys, n);
	for (int k = 0; k < m->np; k++)
		off[k] = sd[k];
	for (size_t i = 0; i < n; i++)
		send[off[is_bucket(keys[i], m->np)]++] = keys[i];
	recv = app_alloc(*got * sizeof(uint32_t));
	tmp = app_alloc(*got * sizeof(uint32_t));
	mapp_alltoallv(m, send, sc, sd, recv, rc, rd, MPI_UINT32_T);
	is_radix(recv, tmp, *got);
	free(send);
	free(tmp);
	return recv;
}

int main(int argc, char **argv)
{
	struct mapp m;
	struct is p;
	size_t lo, hi, got;
	int ok = 1, mine, counts[MAXP], displs[MAXP];
	uint32_t *keys, *sorted, *all = NULL;
	double secs;

	mapp_init(&m, "is", &argc, &argv);
	is_params(&p, argc, argv);
	if (m.np > MAXP)
		app_die("is", "too many ranks");
	app_split(p.n, m.me, m.np, &lo, &hi);
	keys = app_alloc((hi - lo) * sizeof(uint32_t));
	is_gen(keys, lo, hi);
	mapp_start(&m);
	sorted = sort(&m, keys, hi - lo, &got);
	mapp_stop(&m);
	mine = (int)got;
	MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
	for (int k = 0; k < m.np; k++)
		displs[k] = k ? displs[k - 1] + counts[k - 1] : 0;
	if (m.me == 0)
		all = app_alloc(p.n * sizeof(uint32_t));
	mapp_gatherv(&m, sorted, mine, all, counts, displs, MPI_UINT32_T);
	if (m.me == 0) {
		uint32_t *ref = is_seq(&p, &secs);
		ok = app_check_exact("is", all, ref, p.n, sizeof(uint32_t));
		free(ref);
	}
	free(keys);
	free(sorted);
	free(all);
	return mapp_finish(&m, ok);
}
