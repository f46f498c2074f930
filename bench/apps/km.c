/*
 * km.c — k-means: generator, assignment and update steps, sequential
 * reference.
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

void km_params(struct km *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 200000);
	p->k = (int)app_arg(argc, argv, 2, 16);
	p->iters = (int)app_arg(argc, argv, 3, 10);
	if ((size_t)p->k > p->n || p->k > 1024)
		app_die("km", "need K <= N and K <= 1024");
}

/* Integer coordinates in [0, 10000): 32 blobs of radius ~500. */
void km_gen(double *pts, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		uint64_t blob = app_hash(7, i) % 32;
		for (int d = 0; d < KM_D; d++) {
			uint64_t c = app_hash(8, blob * KM_D + (uint64_t)d) % 9000;
			uint64_t off = app_hash(9, i * KM_D + (uint64_t)d) % 1000;
			pts[(i - lo) * KM_D + (size_t)d] = (double)(c + off);
		}
	}
}

void km_first_centroids(double *cent, int k)
{
	km_gen(cent, 0, (size_t)k);
}

static int nearest(const double *x, const double *cent, int k)
{
	int best = 0;
	double bd = 0;

	for (int c = 0; c < k; c++) {
		double dist = 0;
		for (int d = 0; d < KM_D; d++) {
			double t = x[d] - cent[c * KM_D + d];
			dist += t * t;
		}
		if (c == 0 || dist < bd) {
			bd = dist;
			best = c;
		}
	}
	return best;
}

void km_assign(const double *pts, size_t cnt, const double *cent, int k,
	       int64_t *sums)
{
	for (size_t i = 0; i < cnt; i++) {
		const double *x = pts + i * KM_D;
		int64_t *s = sums + nearest(x, cent, k) * KM_S;
		for (int d = 0; d < KM_D; d++)
			s[d] += (int64_t)x[d];
		s[KM_D]++;
	}
}

void km_update(double *cent, const int64_t *sums, int k)
{
	for (int c = 0; c < k; c++) {
		const int64_t *s = sums + c * KM_S;
		if (s[KM_D] == 0)
			continue; /* an empty cluster keeps its centroid */
		for (int d = 0; d < KM_D; d++)
			cent[c * KM_D + d] = (double)s[d] / (double)s[KM_D];
	}
}

double *km_seq(const struct km *p, double *secs)
{
	double *pts = app_alloc(p->n * KM_D * sizeof(double));
	double *cent = app_alloc((size_t)p->k * KM_D * sizeof(double));
	int64_t *sums = app_alloc((size_t)p->k * KM_S * sizeof(int64_t));
	double t0;

	km_gen(pts, 0, p->n);
	km_first_centroids(cent, p->k);
	t0 = app_now();
	for (int it = 0; it < p->iters; it++) {
		memset(sums, 0, (size_t)p->k * KM_S * sizeof(int64_t));
		km_assign(pts, p->n, cent, p->k, sums);
		km_update(cent, sums, p->k);
	}
	*secs = app_now() - t0;
	free(pts);
	free(sums);
	return cent;
}
