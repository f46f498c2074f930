/*
 * is.c — integer sort: generator, bucket function, LSD radix sort,
 * sequential reference.
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

void is_params(struct is *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 1 << 21);
}

void is_gen(uint32_t *keys, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		keys[i - lo] = (uint32_t)app_hash(31, i);
}

int is_bucket(uint32_t key, int p)
{
	return (int)(((uint64_t)key * (uint64_t)p) >> 32);
}

/* Four stable counting passes of 8 bits; the result ends in a. */
void is_radix(uint32_t *a, uint32_t *tmp, size_t n)
{
	size_t cnt[256];

	for (int shift = 0; shift < 32; shift += 8) {
		size_t sum = 0;
		memset(cnt, 0, sizeof cnt);
		for (size_t i = 0; i < n; i++)
			cnt[(a[i] >> shift) & 255]++;
		for (int d = 0; d < 256; d++) {
			size_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[cnt[(a[i] >> shift) & 255]++] = a[i];
		uint32_t *t = a;
		a = tmp;
		tmp = t;
	}
}

size_t is_chunk(const uint64_t *counts, int p, size_t pad, int s, int b)
{
	size_t off = 0;

	for (int bb = 0; bb <= b; bb++)
		for (int ss = 0; ss < p && (bb < b || ss < s); ss++)
			off += app_round_up(counts[ss * p + bb], pad);
	return off;
}

void is_count(const uint32_t *keys, size_t n, int p, uint64_t *counts)
{
	for (size_t i = 0; i < n; i++)
		counts[is_bucket(keys[i], p)]++;
}

uint32_t *is_seq(const struct is *p, double *secs)
{
	uint32_t *a = app_alloc(p->n * sizeof(uint32_t));
	uint32_t *tmp = app_alloc(p->n * sizeof(uint32_t));
	double t0;

	is_gen(a, 0, p->n);
	t0 = app_now();
	is_radix(a, tmp, p->n);
	*secs = app_now() - t0;
	free(tmp);
	return a;
}
