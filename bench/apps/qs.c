/*
 * qs.c — quicksort: generator, partition, leaf sort, sequential reference.
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

void qs_params(struct qs *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 1 << 22);
	p->cutoff = (size_t)app_arg(argc, argv, 2, 1 << 14);
	if (p->cutoff < 16)
		app_die("qs", "CUTOFF must be at least 16");
}

void qs_gen(uint32_t *v, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		v[i - lo] = (uint32_t)app_hash(51, i);
}

static uint32_t median3(uint32_t a, uint32_t b, uint32_t c)
{
	if (a > b) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

/* Hoare's partition: the pivot is a value of the range, so both scans
 * stop inside it and the split leaves neither side empty. */
size_t qs_partition(uint32_t *v, size_t n)
{
	uint32_t pivot = median3(v[0], v[n / 2], v[n - 1]);
	size_t i = 0, j = n - 1;

	for (;;) {
		while (v[i] < pivot)
			i++;
		while (v[j] > pivot)
			j--;
		if (i >= j)
			return j + 1;
		uint32_t t = v[i];
		v[i++] = v[j];
		v[j--] = t;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void qs_sort_leaf(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
}

uint32_t *qs_seq(const struct qs *p, double *secs)
{
	uint32_t *v = app_alloc(p->n * sizeof(uint32_t));
	double t0;

	qs_gen(v, 0, p->n);
	t0 = app_now();
	qs_sort_leaf(v, p->n);
	*secs = app_now() - t0;
	return v;
}
