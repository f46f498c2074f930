/*
 * histogram.c — per-channel histogram of an RGB image (Phoenix's
 * histogram): 768 counters. Key: channel * 256 + value (an integer key);
 * value: a count. Input: size pixels of 3 bytes from a generator.
 */
#include "common.h"

static unsigned char *img;
static long npix;

static void gen(long n)
{
	uint64_t s = 42;

	npix = n;
	img = malloc((size_t)n * 3);
	for (long i = 0; i < n * 3; i++)
		img[i] = (unsigned char)(rng_next(&s) % 256);
}

static void count(long lo, long hi, long *h)
{
	for (long i = lo; i < hi; i++)
		for (int c = 0; c < 3; c++)
			h[c * 256 + img[i * 3 + c]]++;
}

static uint64_t seq(void)
{
	long h[768] = { 0 };

	count(0, npix, h);
	return fnv(0, h, sizeof(h));
}

static long part[64][768];
static int nthr;

static void *thr(void *arg)
{
	long w = (long)arg, lo, hi;

	memset(part[w], 0, sizeof(part[w]));
	block_of(npix, nthr, (int)w, &lo, &hi);
	count(lo, hi, part[w]);
	return NULL;
}

static uint64_t par(int n)
{
	long h[768] = { 0 };

	nthr = n;
	run_threads(n, thr);
	for (int w = 0; w < n; w++)
		for (int k = 0; k < 768; k++)
			h[k] += part[w][k];
	return fnv(0, h, sizeof(h));
}

static void hist_map(map_args_t *a)
{
	long h[768] = { 0 };
	long base = ((unsigned char *)a->data - img) / 3;

	count(base, base + a->length, h);
	for (intptr_t k = 0; k < 768; k++)
		if (h[k])
			emit_intermediate((void *)k, (void *)(intptr_t)h[k], sizeof(void *));
}

static void *sum_comb(iterator_t *it)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(it, &v))
		s += (intptr_t)v;
	return (void *)s;
}

static void hist_reduce(void *key, iterator_t *it)
{
	emit(key, sum_comb(it));
}

static int hist_part(int r, void *key, int ks)
{
	(void)ks;
	return (int)((intptr_t)key % r);
}

static uint64_t mr(int n)
{
	map_reduce_args_t a;
	final_data_t res;
	long h[768] = { 0 };

	mr_args(&a, &res, n);
	a.task_data = img;
	a.data_size = npix * 3;
	a.unit_size = 3;
	a.map = hist_map;
	a.reduce = hist_reduce;
	a.combiner = sum_comb;
	a.partition = hist_part;
	a.key_cmp = intptr_cmp;
	a.L1_cache_size = chunk(3 * 262144); /* 256K pixels per task */
	if (map_reduce(&a) < 0)
		exit(1);
	for (int i = 0; i < res.length; i++)
		h[(intptr_t)res.data[i].key] = (long)(intptr_t)res.data[i].val;
	free(res.data);
	return fnv(0, h, sizeof(h));
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 2000000);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("histogram", &o, seq, par, mr);
	map_reduce_finalize();
	free(img);
	return rc;
}
