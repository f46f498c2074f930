/*
 * is_dsm — integer sort in libdsm shared memory. Each node counts its
 * (page-aligned, first-touched) block of keys per bucket into its own
 * page of the count matrix; a barrier; each node copies its keys for
 * bucket b into a staging array where every (source, bucket) chunk starts
 * on a fresh page, so no two writers share a page (the all-to-all); a
 * barrier; each node radix-sorts its bucket privately, the first pass
 * reading the chunks in the staging array, the last writing its range of
 * the output. Node 0 checks.
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

/* One stable counting pass of 8 bits from shift: the keys of nsrc
 * chunks (src[i], len[i] keys; read in place) into dst, in order. */
static void radix_pass(const uint32_t *const *src, const size_t *len, int nsrc,
		       uint32_t *dst, int shift)
{
	size_t cnt[256] = { 0 }, sum = 0;

	for (int i = 0; i < nsrc; i++)
		for (size_t k = 0; k < len[i]; k++)
			cnt[(src[i][k] >> shift) & 255]++;
	for (int b = 0; b < 256; b++) {
		size_t c = cnt[b];
		cnt[b] = sum;
		sum += c;
	}
	for (int i = 0; i < nsrc; i++)
		for (size_t k = 0; k < len[i]; k++)
			dst[cnt[(src[i][k] >> shift) & 255]++] = src[i][k];
}

/* Sort my bucket: the LSD radix sort of is_radix (four stable 8-bit
 * passes), with the first pass reading the bucket's chunks where the
 * sources left them in the staging array (remote pages fetched once, no
 * gather copy) and the last writing the output (no copy back). a and b:
 * private scratch of cap keys (grown if the bucket is larger). */
static void sort_bucket(struct dapp *d, struct shared *s, uint32_t **a, uint32_t **b,
			size_t *cap)
{
	size_t lo = is_chunk(s->counts, d->np, 1, 0, d->me);
	size_t n = is_chunk(s->counts, d->np, 1, d->np, d->me) - lo;
	const uint32_t *src[MAXP];
	size_t len[MAXP];

	if (n > *cap) { /* a skewed bucket: more scratch */
		free(*a);
		free(*b);
		*a = app_alloc(n * sizeof(uint32_t));
		*b = app_alloc(n * sizeof(uint32_t));
		*cap = n;
	}
	for (int i = 0; i < d->np; i++) {
		src[i] = s->stage + is_chunk(s->counts, d->np, PAD, i, d->me);
		len[i] = s->counts[i * d->np + d->me];
	}
	radix_pass(src, len, d->np, *a, 0);
	radix_pass((const uint32_t *const *)a, &n, 1, *b, 8);
	radix_pass((const uint32_t *const *)b, &n, 1, *a, 16);
	radix_pass((const uint32_t *const *)a, &n, 1, s->out + lo, 24);
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

/* The keys [*lo, *hi) of the output whose pages DSM_PLACE_BLOCKED makes
 * mine: page k of npg is node k * np / npg's. */
static void mine_pages(size_t n, const struct dapp *d, size_t *lo, size_t *hi)
{
	size_t npg = app_round_up(n * sizeof(uint32_t), APP_PAGE) / APP_PAGE;
	size_t np = (size_t)d->np, me = (size_t)d->me;

	*lo = (me * npg + np - 1) / np * PAD;
	*hi = ((me + 1) * npg + np - 1) / np * PAD;
	*lo = *lo < n ? *lo : n;
	*hi = *hi < n ? *hi : n;
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct is p;
	static struct shared s;
	size_t lo, hi, olo, ohi, cap;
	uint32_t *a, *b;
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
	/* as is_pthreads allocates its scratch (and zeroes its output)
	 * before the clock starts: the radix scratch of a bucket's expected
	 * size with some slack, and my part of the output, whose pages are
	 * mine (blocked placement) */
	cap = p.n / (size_t)d.np + p.n / (16 * (size_t)d.np) + PAD;
	a = app_alloc(cap * sizeof(uint32_t));
	b = app_alloc(cap * sizeof(uint32_t));
	mine_pages(p.n, &d, &olo, &ohi);
	memset(s.out + olo, 0, (ohi - olo) * sizeof(uint32_t));
	dapp_start(&d);
	is_count(s.keys + lo, hi - lo, d.np, s.rows + (size_t)d.me * ROW);
	dapp_barrier(&d);
	scatter(&d, &s, lo, hi);
	dapp_barrier(&d);
	sort_bucket(&d, &s, &a, &b, &cap);
	dapp_stop(&d);
	free(a);
	free(b);
	if (d.me == 0) {
		double secs;
		uint32_t *ref = is_seq(&p, &secs);
		ok = app_check_exact("is", s.out, ref, p.n, sizeof(uint32_t));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
