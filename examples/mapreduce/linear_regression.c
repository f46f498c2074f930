/*
 * linear_regression.c — least-squares fit of y = a + b x over points of
 * two signed bytes (Phoenix's linear_regression). Keys 0..4 name the sums
 * SX, SY, SXX, SYY, SXY; values are the sums themselves (integers).
 */
#include "common.h"

typedef struct { signed char x, y; } point_t;
static point_t *pts;
static long npts;

static void gen(long n)
{
	uint64_t s = 7;

	npts = n;
	pts = malloc((size_t)n * sizeof(*pts));
	for (long i = 0; i < n; i++) {
		long x = (long)(rng_next(&s) % 200) - 100;
		pts[i].x = (signed char)x;
		pts[i].y = (signed char)(x / 2 + (long)(rng_next(&s) % 21) - 10);
	}
}

static void sums(const point_t *p, long n, long long s[5])
{
	for (long i = 0; i < n; i++) {
		long long x = p[i].x, y = p[i].y;
		s[0] += x; s[1] += y; s[2] += x * x; s[3] += y * y; s[4] += x * y;
	}
}

static uint64_t digest(const long long s[5])
{
	double n = (double)npts;
	double b = (n * s[4] - (double)s[0] * s[1]) / (n * s[2] - (double)s[0] * s[0]);
	double a = (s[1] - b * s[0]) / n;

	printf("linear_regression: a=%.6f b=%.6f\n", a, b);
	return fnv(0, s, 5 * sizeof(long long));
}

static uint64_t seq(void)
{
	long long s[5] = { 0 };

	sums(pts, npts, s);
	return digest(s);
}

static long long part[64][5];
static int nthr;

static void *thr(void *arg)
{
	long w = (long)arg, lo, hi;

	memset(part[w], 0, sizeof(part[w]));
	block_of(npts, nthr, (int)w, &lo, &hi);
	sums(pts + lo, hi - lo, part[w]);
	return NULL;
}

static uint64_t par(int n)
{
	long long s[5] = { 0 };

	nthr = n;
	run_threads(n, thr);
	for (int w = 0; w < n; w++)
		for (int k = 0; k < 5; k++)
			s[k] += part[w][k];
	return digest(s);
}

static void lr_map(map_args_t *a)
{
	long long s[5] = { 0 };

	sums(a->data, a->length, s);
	for (intptr_t k = 0; k < 5; k++)
		emit_intermediate((void *)k, (void *)(intptr_t)s[k], sizeof(void *));
}

static void *lr_comb(iterator_t *it)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(it, &v))
		s += (intptr_t)v;
	return (void *)s;
}

static void lr_reduce(void *key, iterator_t *it)
{
	emit(key, lr_comb(it));
}

static int lr_part(int r, void *key, int ks)
{
	return default_partition(r, &key, ks);
}

static uint64_t mr(int n)
{
	map_reduce_args_t a;
	final_data_t res;
	long long s[5] = { 0 };

	mr_args(&a, &res, n);
	a.task_data = pts;
	a.data_size = npts * (off_t)sizeof(point_t);
	a.unit_size = sizeof(point_t);
	a.map = lr_map;
	a.reduce = lr_reduce;
	a.combiner = lr_comb;
	a.partition = lr_part;
	a.key_cmp = intptr_cmp;
	a.L1_cache_size = chunk(1 << 20);
	if (map_reduce(&a) < 0)
		exit(1);
	for (int i = 0; i < res.length; i++)
		s[(intptr_t)res.data[i].key] = (long long)(intptr_t)res.data[i].val;
	free(res.data);
	return digest(s);
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 4000000);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("linear_regression", &o, seq, par, mr);
	map_reduce_finalize();
	free(pts);
	return rc;
}
