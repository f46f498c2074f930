/*
 * mm_dsm — matrix multiply in libdsm shared memory: A, B and C are
 * allocated collectively and split into page-aligned row blocks; each node
 * generates its rows of A and B, first-touches its rows of C (so the
 * pages are its own before the measured region) and computes them,
 * reading all of B through the shared memory. Node 0 checks C.
 *   dsmrun -n P mm_dsm [N]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

int main(int argc, char **argv)
{
	struct dapp d;
	struct mm p;
	size_t n, lo, hi, bytes;
	double *a, *b, *c;
	int ok = 1;

	dapp_init(&d, "mm", &argc, &argv);
	mm_params(&p, argc, argv);
	n = p.n;
	bytes = n * n * sizeof(double);
	a = dapp_alloc(&d, bytes);
	b = dapp_alloc(&d, bytes);
	c = dapp_alloc(&d, bytes);
	dapp_bind_barrier(&d, b, bytes);
	dapp_bind_barrier(&d, c, bytes);
	app_split_aligned(n, app_page_items(n * sizeof(double)), d.me, d.np, &lo, &hi);
	mm_gen_rows(a + lo * n, n, lo, hi, 1);
	mm_gen_rows(b + lo * n, n, lo, hi, 2);
	memset(c + lo * n, 0, (hi - lo) * n * sizeof(double));
	dapp_start(&d);
	mm_rows(c + lo * n, a + lo * n, b, n, hi - lo);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = mm_seq(&p, &secs);
		ok = app_check_exact("mm", c, ref, n * n, sizeof(double));
		free(ref);
	}
	return dapp_finish(&d, ok);
}
