/*
 * is_dsm — integer sort in libdsm shared memory. Each node counts its
 * (page-aligned, first-touched) block of keys per bucket into its own
 * page of the count matrix; a barrier; each node copies its keys for
 * bucket b into a staging array where every (source, bucket) chunk starts
 * on a fresh page, so no two writers share a page (the all-to-all); a
 * barrier; each node gathers the chunks of its bucket, radix-sorts them
 * privately and writes them to its range of the output. Node 0 checks.
 *   dsmrun -n P is_dsm [N]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define MAXP 64
#define PAD (APP_PAGE / sizeof(uint32_t))
#define ROW (APP_PAGE / sizeof(uint64_t)) /* a count row is one page */

struct shared {
	uint32_t *keys, *stage, *out;
	uint64_t *rows; /* rows[s * ROW + b] */
	uint64_t counts[MAXP * MAXP]; /* private copy, [s * P + b] */
};

static void scatter(struct dapp *d, struct shared *s, size_t lo, size_t hi)
{
	size_t off[MAXP];

	for (int s2 = 0; s2 < d->np; s2++)
		for (int b = 0; b < d->np; b++)
			s->counts[s2 * d->np + b] = s->rows[(size_t)s2 * ROW + (size_t)b];
	for (int b = 0; b < d->np; b++)
		off[b] = is_chunk(s->counts, d->np, PAD, d->me, b);
	for (size_t i = lo; i < hi; i++)
		s->stage[off[is_bucket(s->keys[i], d->np)]++] = s->keys[i];
}

/* Gather my bucket's chunks, sort them, write them to the output. */
static void sort_bucket(struct dapp *d, struct shared *s)
{
	size_t lo = is_chunk(s->counts, d->np, 1, 0, d->me);
	size_t hi = is_chunk(s->counts, d->np, 1, d->np, d->me), n = 0;
	uint32_t *mine = app_alloc((hi - lo + 1) * sizeof(uint32_t));
	uint32_t *tmp = app_alloc((hi - lo + 1) * sizeof(uint32_t));

	for (int src = 0; src < d->np; src++) {
		size_t c = s->counts[src * d->np + d->me];
		memcpy(mine + n, s->stage + is_chunk(s->counts, d->np, PAD, src, d->me),
		       c * sizeof(uint32_t));
		n += c;
	}
	is_radix(mine, tmp, n);
	memcpy(s->out + lo, mine, n * sizeof(uint32_t));
	free(mine);
	free(tmp);
}

/* hint: where the pages' homes go under hlrc (other protocols ignore
 * it). The output is bucket-major: node b writes the b-th part, so a
 * blocked placement makes those pages its own from the start (written
 * without a fault). The staging array is bucket-major too, but written
 * by every source: its homes are left to first touch (the writer), and
 * the bucket's owner fetches them. */
static void *shared_alloc(struct dapp *d, size_t bytes, int hint)
{
	void *p = dapp_alloc_placed(d, bytes, hint);

	dapp_bind_barrier(d, p, bytes);
	return p;
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct is p;
	static struct shared s;
	size_t lo, hi;
	int ok = 1;

	dapp_init(&d, "is", &argc, &argv);
	is_params(&p, argc, argv);
	if (d.np > MAXP)
		app_die("is", "too many nodes");
	s.keys = dapp_alloc(&d, p.n * sizeof(uint32_t));
	s.stage = shared_alloc(&d, (p.n + (size_t)d.np * d.np * PAD) * sizeof(uint32_t),
			       DSM_PLACE_DEFAULT);
	s.out = shared_alloc(&d, p.n * sizeof(uint32_t), DSM_PLACE_BLOCKED);
	s.rows = shared_alloc(&d, (size_t)d.np * APP_PAGE, DSM_PLACE_DEFAULT);
	app_split_aligned(p.n, PAD, d.me, d.np, &lo, &hi);
	is_gen(s.keys + lo, lo, hi);
	dapp_start(&d);
	is_count(s.keys + lo, hi - lo, d.np, s.rows + (size_t)d.me * ROW);
	dapp_barrier(&d);
	scatter(&d, &s, lo, hi);
	dapp_barrier(&d);
	sort_bucket(&d, &s);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs;
		uint32_t *ref = is_seq(&p, &secs);
		ok = app_check_exact("is", s.out, ref, p.n, sizeof(uint32_t));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
