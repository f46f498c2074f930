/*
 * mm.c — dense matrix multiply: generator, kernel, sequential reference.
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

void mm_params(struct mm *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 512);
}

void mm_gen_rows(double *m, size_t n, size_t lo, size_t hi, uint64_t seed)
{
	for (size_t i = lo; i < hi; i++)
		for (size_t j = 0; j < n; j++)
			m[(i - lo) * n + j] = app_unit(seed, i * n + j) - 0.5;
}

/* i-k-j order: streams rows of B, vectorises over j. */
void mm_rows(double *c, const double *a, const double *b, size_t n, size_t rows)
{
	for (size_t i = 0; i < rows; i++) {
		double *ci = c + i * n;
		memset(ci, 0, n * sizeof(double));
		for (size_t k = 0; k < n; k++) {
			double aik = a[i * n + k];
			const double *bk = b + k * n;
			for (size_t j = 0; j < n; j++)
				ci[j] += aik * bk[j];
		}
	}
}

double *mm_seq(const struct mm *p, double *secs)
{
	size_t n = p->n;
	double *a = app_alloc(n * n * sizeof(double));
	double *b = app_alloc(n * n * sizeof(double));
	double *c = app_alloc(n * n * sizeof(double));
	double t0;

	mm_gen_rows(a, n, 0, n, 1);
	mm_gen_rows(b, n, 0, n, 2);
	t0 = app_now();
	mm_rows(c, a, b, n, n);
	*secs = app_now() - t0;
	free(a);
	free(b);
	return c;
}
