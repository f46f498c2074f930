/*
 * sor.c — Jacobi relaxation on a 2-D grid: the kernel shared by every
 * version and the sequential reference (see apps.h).
 */
#include "apps.h"
#include "common.h"

#include <stdlib.h>

void sor_params(struct sor *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 1024);
	p->iters = (int)app_arg(argc, argv, 2, 50);
	if (p->n < 3)
		app_die("sor", "N must be at least 3");
}

/* Fixed boundary: hot top edge, warm left edge; the interior starts at 0. */
void sor_init_row(double *row, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		row[j] = i == 0 ? 100.0 : j == 0 ? 50.0 * (double)(n - i) / (double)n : 0.0;
}

/* out[1..n-2] = mean of the four neighbours; out[0], out[n-1] untouched. */
void sor_relax_row(double *out, const double *up, const double *row,
		   const double *down, size_t n)
{
	for (size_t j = 1; j + 1 < n; j++)
		out[j] = 0.25 * (up[j] + down[j] + row[j - 1] + row[j + 1]);
}

double *sor_seq(const struct sor *p, double *secs)
{
	double t0;
	size_t n = p->n;
	double *a = app_alloc(n * n * sizeof(double));
	double *b = app_alloc(n * n * sizeof(double));

	for (size_t i = 0; i < n; i++) {
		sor_init_row(a + i * n, n, i);
		sor_init_row(b + i * n, n, i);
	}
	t0 = app_now();
	for (int it = 0; it < p->iters; it++) {
		for (size_t i = 1; i + 1 < n; i++)
			sor_relax_row(b + i * n, a + (i - 1) * n, a + i * n,
				      a + (i + 1) * n, n);
		double *t = a;
		a = b;
		b = t;
	}
	*secs = app_now() - t0;
	free(b);
	return a;
}
