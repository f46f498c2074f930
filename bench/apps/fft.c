/*
 * fft.c — 3-D FFT (NAS FT's evolve loop): generator, line transform,
 * plane transforms, transpose, evolution, sequential reference.
 */
#include <math.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"

#define FFT_ALPHA 1e-6
#define FFT_MAXN 1024

/* exp(-2 pi i k / tw_n), k < tw_n / 2: built by fft_params, before any
 * thread runs, and read only afterwards. */
static struct fft_c tw[FFT_MAXN / 2];
static size_t tw_n;

void fft_params(struct fft *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 64);
	p->iters = (int)app_arg(argc, argv, 2, 4);
	if (p->n < 16 || p->n > FFT_MAXN || (p->n & (p->n - 1)))
		app_die("fft", "N must be a power of two from 16 to 1024");
	tw_n = p->n;
	for (size_t k = 0; k < p->n / 2; k++) {
		double t = -2.0 * M_PI * (double)k / (double)p->n;
		tw[k].re = cos(t);
		tw[k].im = sin(t);
	}
}

void fft_gen(const struct fft *p, struct fft_c *a, size_t x0, size_t x1)
{
	for (size_t i = x0 * p->n * p->n; i < x1 * p->n * p->n; i++) {
		a[i].re = app_unit(61, i) - 0.5;
		a[i].im = app_unit(62, i) - 0.5;
	}
}

/* Iterative radix 2: bit-reversal permutation, then log2(n) stages. */
void fft_line(struct fft_c *v, size_t n, size_t stride, int dir)
{
	for (size_t i = 1, j = 0; i < n; i++) {
		size_t bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j |= bit;
		if (i < j) {
			struct fft_c t = v[i * stride];
			v[i * stride] = v[j * stride];
			v[j * stride] = t;
		}
	}
	for (size_t len = 2; len <= n; len <<= 1) {
		size_t step = tw_n / len;
		for (size_t i = 0; i < n; i += len)
			for (size_t k = 0; k < len / 2; k++) {
				struct fft_c w = tw[k * step];
				struct fft_c *u = &v[(i + k) * stride];
				struct fft_c *x = &v[(i + k + len / 2) * stride];
				double wi = dir < 0 ? w.im : -w.im;
				double xr = x->re * w.re - x->im * wi;
				double xi = x->re * wi + x->im * w.re;
				x->re = u->re - xr;
				x->im = u->im - xi;
				u->re += xr;
				u->im += xi;
			}
	}
}

void fft_yz(const struct fft *p, struct fft_c *a, size_t x0, size_t x1, int dir)
{
	size_t n = p->n;
	double s = 1.0 / ((double)n * (double)n * (double)n);

	for (size_t x = x0; x < x1; x++) {
		struct fft_c *pl = a + x * n * n;
		if (dir < 0)
			for (size_t y = 0; y < n; y++)
				fft_line(pl + y * n, n, 1, dir);
		for (size_t z = 0; z < n; z++)
			fft_line(pl + z, n, n, dir);
		if (dir > 0)
			for (size_t y = 0; y < n; y++) {
				fft_line(pl + y * n, n, 1, dir);
				for (size_t z = 0; z < n; z++) {
					pl[y * n + z].re *= s;
					pl[y * n + z].im *= s;
				}
			}
	}
}

void fft_transpose(const struct fft *p, struct fft_c *dst, const struct fft_c *src,
		   size_t z0, size_t z1)
{
	size_t n = p->n;

	/* src in address order (under DSM, a remote block is read as a
	 * stream: fetched in readahead runs, not a page per fault) */
	for (size_t x = 0; x < n; x++)
		for (size_t y = 0; y < n; y++)
			for (size_t z = z0; z < z1; z++)
				dst[(z * n + y) * n + x] = src[(x * n + y) * n + z];
}

/* Frequency index k in [-n/2, n/2), squared. */
static double k2(size_t k, size_t n)
{
	double f = k < n / 2 ? (double)k : (double)k - (double)n;
	return f * f;
}

void fft_x(const struct fft *p, struct fft_c *b, size_t z0, size_t z1, int it)
{
	size_t n = p->n;
	double c = -4.0 * M_PI * M_PI * FFT_ALPHA * (double)(it + 1);

	for (size_t z = z0; z < z1; z++)
		for (size_t y = 0; y < n; y++) {
			struct fft_c *row = b + (z * n + y) * n;
			double kzy = k2(z, n) + k2(y, n);
			fft_line(row, n, 1, -1);
			for (size_t x = 0; x < n; x++) {
				double e = exp(c * (kzy + k2(x, n)));
				row[x].re *= e;
				row[x].im *= e;
			}
			fft_line(row, n, 1, +1);
		}
}

struct fft_c *fft_seq(const struct fft *p, double *secs)
{
	size_t n = p->n, bytes = n * n * n * sizeof(struct fft_c);
	struct fft_c *a = app_alloc(bytes), *b = app_alloc(bytes);
	double t0;

	fft_gen(p, a, 0, n);
	t0 = app_now();
	for (int it = 0; it < p->iters; it++) {
		fft_yz(p, a, 0, n, -1);
		fft_transpose(p, b, a, 0, n);
		fft_x(p, b, 0, n, it);
		fft_transpose(p, a, b, 0, n);
		fft_yz(p, a, 0, n, +1);
	}
	*secs = app_now() - t0;
	free(b);
	return a;
}
