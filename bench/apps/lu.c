/*
 * lu.c — blocked LU factorisation without pivoting: generator, the four
 * block kernels, sequential reference (right-looking, block by block).
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

void lu_params(struct lu *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 512);
	p->b = (size_t)app_arg(argc, argv, 2, 32);
	if (p->n % p->b)
		app_die("lu", "N must be a multiple of B");
	p->nb = p->n / p->b;
}

/* Blocks are stored column by column: block column J (owned by one node
 * or rank in the parallel versions) and the step-k panel are contiguous. */
double *lu_block(const struct lu *p, double *a, size_t bi, size_t bj)
{
	return a + (bj * p->nb + bi) * p->b * p->b;
}

/* Uniform [0,1) entries, n added on the diagonal: no pivoting needed. */
void lu_gen_block(const struct lu *p, double *blk, size_t bi, size_t bj)
{
	for (size_t i = 0; i < p->b; i++)
		for (size_t j = 0; j < p->b; j++) {
			size_t gi = bi * p->b + i, gj = bj * p->b + j;
			blk[i * p->b + j] = app_unit(21, gi * p->n + gj) +
					    (gi == gj ? (double)p->n : 0.0);
		}
}

void lu_diag(double *a, size_t b)
{
	for (size_t k = 0; k < b; k++)
		for (size_t i = k + 1; i < b; i++) {
			double l = a[i * b + k] /= a[k * b + k];
			for (size_t j = k + 1; j < b; j++)
				a[i * b + j] -= l * a[k * b + j];
		}
}

/* A_ik := A_ik U_kk^-1 (a block of L below the diagonal). */
void lu_col(double *a, const double *u, size_t b)
{
	for (size_t k = 0; k < b; k++)
		for (size_t i = 0; i < b; i++) {
			double l = a[i * b + k] /= u[k * b + k];
			for (size_t j = k + 1; j < b; j++)
				a[i * b + j] -= l * u[k * b + j];
		}
}

/* A_kj := L_kk^-1 A_kj (a block of U right of the diagonal). */
void lu_row(double *a, const double *l, size_t b)
{
	for (size_t k = 0; k < b; k++)
		for (size_t i = k + 1; i < b; i++) {
			double lik = l[i * b + k];
			for (size_t j = 0; j < b; j++)
				a[i * b + j] -= lik * a[k * b + j];
		}
}

void lu_trail(double *c, const double *a, const double *u, size_t b)
{
	for (size_t i = 0; i < b; i++)
		for (size_t k = 0; k < b; k++) {
			double aik = a[i * b + k];
			for (size_t j = 0; j < b; j++)
				c[i * b + j] -= aik * u[k * b + j];
		}
}

void lu_panel(const struct lu *p, double *a, size_t k)
{
	double *akk = lu_block(p, a, k, k);

	lu_diag(akk, p->b);
	for (size_t i = k + 1; i < p->nb; i++)
		lu_col(lu_block(p, a, i, k), akk, p->b);
}

double *lu_seq(const struct lu *p, double *secs)
{
	double *a = app_alloc(p->n * p->n * sizeof(double));
	double t0;

	for (size_t bi = 0; bi < p->nb; bi++)
		for (size_t bj = 0; bj < p->nb; bj++)
			lu_gen_block(p, lu_block(p, a, bi, bj), bi, bj);
	t0 = app_now();
	for (size_t k = 0; k < p->nb; k++) {
		double *akk = lu_block(p, a, k, k);
		lu_panel(p, a, k);
		for (size_t j = k + 1; j < p->nb; j++) {
			double *akj = lu_block(p, a, k, j);
			lu_row(akj, akk, p->b);
			for (size_t i = k + 1; i < p->nb; i++)
				lu_trail(lu_block(p, a, i, j), lu_block(p, a, i, k), akj, p->b);
		}
	}
	*secs = app_now() - t0;
	return a;
}
