/*
 * fft_dsm — 3-D FFT in libdsm shared memory. a (x-planes) and b
 * (z-planes) are shared, each node owns a page-aligned block of planes of
 * both (first-touched by it) and both arrays are bound to the barrier
 * (under entry consistency each barrier carries what was written since
 * the last one; other protocols fetch on fault). Per iteration: the y, z
 * transforms of my a-planes; a barrier; my b-planes transposed from all
 * of a and transformed along x; a barrier; my a-planes transposed back
 * from all of b. Node 0 checks a.   dsmrun -n P fft_dsm [N [ITERS]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

int main(int argc, char **argv)
{
	struct dapp d;
	struct fft p;
	struct fft_c *a, *b;
	size_t n, plane, bytes, lo, hi;
	int ok = 1;

	dapp_init(&d, "fft", &argc, &argv);
	fft_params(&p, argc, argv);
	n = p.n;
	plane = n * n * sizeof(struct fft_c);
	bytes = n * plane;
	a = dapp_alloc(&d, bytes);
	b = dapp_alloc(&d, bytes);
	dapp_bind_barrier(&d, a, bytes);
	dapp_bind_barrier(&d, b, bytes);
	app_split_aligned(n, app_page_items(plane), d.me, d.np, &lo, &hi);
	fft_gen(&p, a, lo, hi);
	for (size_t i = lo * n * n; i < hi * n * n; i++) /* first touch of b */
		b[i].re = b[i].im = 0;
	dapp_start(&d);
	for (int it = 0; it < p.iters; it++) {
		fft_yz(&p, a, lo, hi, -1);
		dapp_barrier(&d);
		fft_transpose(&p, b, a, lo, hi);
		fft_x(&p, b, lo, hi, it);
		dapp_barrier(&d);
		fft_transpose(&p, a, b, lo, hi);
		fft_yz(&p, a, lo, hi, +1);
	}
	dapp_stop(&d);
	if (d.me == 0) {
		double secs;
		struct fft_c *ref = fft_seq(&p, &secs);
		ok = app_check_exact("fft", a, ref, n * n * n, sizeof(struct fft_c));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
