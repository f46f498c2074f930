/*
 * hg.c — histogram: generator, counting kernel, sequential reference.
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

void hg_params(struct hg *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 1 << 23);
	p->bins = (size_t)app_arg(argc, argv, 2, 4096);
	p->passes = (int)app_arg(argc, argv, 3, 1);
	if (p->passes < 1)
		app_die("hg", "PASSES must be at least 1");
}

/* Skewed values: the product of two uniforms piles up at low bins. */
void hg_gen(uint32_t *v, size_t lo, size_t hi, size_t bins)
{
	for (size_t i = lo; i < hi; i++) {
		double u = app_unit(41, i) * app_unit(42, i);
		v[i - lo] = (uint32_t)(u * (double)bins);
	}
}

void hg_count(const uint32_t *v, size_t cnt, uint64_t *h, int passes)
{
	for (int r = 0; r < passes; r++)
		for (size_t i = 0; i < cnt; i++)
			h[v[i]]++;
}

uint64_t *hg_seq(const struct hg *p, double *secs)
{
	uint32_t *v = app_alloc(p->n * sizeof(uint32_t));
	uint64_t *h = app_alloc(p->bins * sizeof(uint64_t));
	double t0;

	hg_gen(v, 0, p->n, p->bins);
	t0 = app_now();
	hg_count(v, p->n, h, p->passes);
	*secs = app_now() - t0;
	free(v);
	return h;
}
