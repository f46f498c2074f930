/*
 * wc_mpi — word count with MPI: each rank counts its share of the text
 * into a private table; the table's stripes are partitioned over the
 * ranks, and each rank sends every (word, count) entry to the rank owning
 * its stripe (all-to-all), which merges them. Rank 0 gathers the entries
 * afterwards and checks them.   mpirun -n P wc_mpi [WORDS [VOCAB [PASSES]]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

#define MAXP 1024
#define ESZ ((int)sizeof(struct wc_entry))

static struct wc p;
static int sc[MAXP], sd[MAXP], rc[MAXP], rd[MAXP], ones[MAXP], idx[MAXP];

/* Pack the used entries of rank r's stripes, in rank order; fill sc/sd. */
static struct wc_entry *pack(struct mapp *m, const struct wc_entry *t)
{
	struct wc_entry *out = app_alloc(p.stripes * APP_PAGE);
	size_t n = 0, slo, shi;

	for (int r = 0; r < m->np; r++) {
		sd[r] = (int)n * ESZ;
		app_split(p.stripes, r, m->np, &slo, &shi);
		for (size_t e = slo * WC_STRIPE; e < shi * WC_STRIPE; e++)
			if (t[e].w[0])
				out[n++] = t[e];
		sc[r] = (int)n * ESZ - sd[r];
	}
	return out;
}

/* Exchange the entries; merge what this rank owns into part. */
static void shuffle(struct mapp *m, const struct wc_entry *t, struct wc_entry *part)
{
	struct wc_entry *send = pack(m, t), *recv;
	size_t total = 0;

	for (int k = 0; k < m->np; k++)
		ones[k] = 1, idx[k] = k;
	mapp_alltoallv(m, sc, ones, idx, rc, ones, idx, MPI_INT);
	for (int k = 0; k < m->np; k++) {
		rd[k] = (int)total;
		total += (size_t)rc[k];
	}
	recv = app_alloc(total + 1);
	mapp_alltoallv(m, send, sc, sd, recv, rc, rd, MPI_BYTE);
	for (size_t e = 0; e < total / sizeof(*recv); e++)
		wc_add(part + wc_stripe_of(&p, recv[e].w) * WC_STRIPE, recv[e].w,
		       recv[e].count);
	free(send);
	free(recv);
}

/* Rank 0: every rank's entries, sorted (not counted). */
static struct wc_entry *collect(struct mapp *m, const struct wc_entry *part,
				size_t *cnt)
{
	size_t n;
	struct wc_entry *mine = wc_sorted(part, p.stripes, &n), *all = NULL;
	int bytes = (int)n * ESZ, counts[MAXP], displs[MAXP];

	MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
	*cnt = 0;
	for (int k = 0; m->me == 0 && k < m->np; k++) {
		displs[k] = (int)*cnt * ESZ;
		*cnt += (size_t)counts[k] / sizeof(*all);
	}
	if (m->me == 0)
		all = app_alloc(*cnt * sizeof(*all) + 1);
	mapp_gatherv(m, mine, bytes, all, counts, displs, MPI_BYTE);
	if (m->me == 0)
		wc_sort(all, *cnt);
	free(mine);
	return all;
}

int main(int argc, char **argv)
{
	struct mapp m;
	size_t lo, hi, len, n, nref;
	int ok = 1;
	char *text;
	struct wc_entry *t, *part, *all, *ref;
	double secs;

	mapp_init(&m, "wc", &argc, &argv);
	wc_params(&p, argc, argv);
	if (m.np > MAXP)
		app_die("wc", "too many ranks");
	app_split(p.words, m.me, m.np, &lo, &hi);
	text = app_alloc((hi - lo) * WC_LEN + 1);
	t = app_alloc(p.stripes * APP_PAGE);
	part = app_alloc(p.stripes * APP_PAGE);
	len = wc_gen(text, lo, hi, p.vocab);
	mapp_start(&m);
	wc_count(&p, t, text, len);
	shuffle(&m, t, part);
	mapp_stop(&m);
	all = collect(&m, part, &n);
	if (m.me == 0) {
		ref = wc_seq(&p, &nref, &secs);
		ok = n == nref && app_check_exact("wc", all, ref, n, sizeof(*all));
		if (n != nref)
			fprintf(stderr, "wc: %zu distinct words, sequential %zu\n", n, nref);
		free(ref);
	}
	free(text);
	free(t);
	free(part);
	free(all);
	return mapp_finish(&m, ok);
}
