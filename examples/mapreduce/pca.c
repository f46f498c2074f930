/*
 * pca.c — the two MapReduce jobs of Phoenix's pca: the mean of every row
 * of an integer matrix, then the covariance of every pair of rows
 * (i <= j). Keys are integers (row, or i * rows + j); values are integers
 * (integer arithmetic throughout, so every version agrees exactly).
 */
#include "common.h"

static int *mat;
static long rows, cols = 1024;
static long *mean_mr;

static void gen(long n)
{
	uint64_t s = 13;

	rows = n;
	mat = malloc((size_t)(rows * cols) * sizeof(int));
	for (long i = 0; i < rows * cols; i++)
		mat[i] = (int)(rng_next(&s) % 256);
}

static long row_mean(long r)
{
	long s = 0;

	for (long c = 0; c < cols; c++)
		s += mat[r * cols + c];
	return s / cols;
}

static long cov(long i, long j, const long *mean)
{
	long s = 0;

	for (long c = 0; c < cols; c++)
		s += (long)(mat[i * cols + c] - mean[i]) * (mat[j * cols + c] - mean[j]);
	return s / (cols - 1);
}

/* Covariances of the row pairs (i, j>=i) for i in [lo, hi). */
static void cov_rows(long lo, long hi, const long *mean, long *out)
{
	for (long i = lo; i < hi; i++)
		for (long j = i; j < rows; j++)
			out[i * rows + j] = cov(i, j, mean);
}

static uint64_t digest(const long *mean, const long *c)
{
	return fnv(fnv(0, mean, (size_t)rows * sizeof(long)), c,
		   (size_t)(rows * rows) * sizeof(long));
}

static uint64_t seq(void)
{
	long *mean = malloc((size_t)rows * sizeof(long));
	long *c = calloc((size_t)(rows * rows), sizeof(long));
	uint64_t d;

	for (long r = 0; r < rows; r++)
		mean[r] = row_mean(r);
	cov_rows(0, rows, mean, c);
	d = digest(mean, c);
	free(mean);
	free(c);
	return d;
}

static long *g_mean, *g_cov;
static int nthr, g_phase;

/* Row i costs about rows - i: split by equal work for the covariances. */
static long work_split(int w, int n)
{
	double total = (double)rows * (rows + 1) / 2, acc = 0;
	long i = 0;

	while (i < rows && acc < total * w / n)
		acc += (double)(rows - i++);
	return i;
}

static void *thr(void *arg)
{
	int w = (int)(long)arg;
	long lo, hi;

	if (g_phase == 0) {
		block_of(rows, nthr, w, &lo, &hi);
		for (long r = lo; r < hi; r++)
			g_mean[r] = row_mean(r);
	} else {
		cov_rows(work_split(w, nthr), work_split(w + 1, nthr), g_mean, g_cov);
	}
	return NULL;
}

static uint64_t par(int n)
{
	uint64_t d;

	nthr = n;
	g_mean = malloc((size_t)rows * sizeof(long));
	g_cov = calloc((size_t)(rows * rows), sizeof(long));
	g_phase = 0;
	run_threads(n, thr);
	g_phase = 1;
	run_threads(n, thr);
	d = digest(g_mean, g_cov);
	free(g_mean);
	free(g_cov);
	return d;
}

static long row_of(map_args_t *a)
{
	return ((int *)a->data - mat) / cols;
}

static void mean_map(map_args_t *a)
{
	for (intptr_t r = row_of(a); r < row_of(a) + a->length; r++)
		emit_intermediate((void *)r, (void *)(intptr_t)row_mean(r), sizeof(void *));
}

static void cov_map(map_args_t *a)
{
	for (intptr_t i = row_of(a); i < row_of(a) + a->length; i++)
		for (intptr_t j = i; j < rows; j++)
			emit_intermediate((void *)(i * rows + j),
					  (void *)(intptr_t)cov(i, j, mean_mr), sizeof(void *));
}

static int int_part(int r, void *key, int ks)
{
	(void)ks;
	return (int)((intptr_t)key % r);
}

static void run_job(int n, map_t map, int rows_per_task, final_data_t *res)
{
	map_reduce_args_t a;

	mr_args(&a, res, n);
	a.task_data = mat;
	a.data_size = rows * cols * (off_t)sizeof(int);
	a.unit_size = (int)(cols * sizeof(int));
	a.map = map;
	a.partition = int_part;
	a.key_cmp = intptr_cmp; /* identity reduce */
	a.L1_cache_size = rows_per_task * a.unit_size;
	if (map_reduce(&a) < 0)
		exit(1);
}

static uint64_t mr(int n)
{
	final_data_t res;
	long *c = calloc((size_t)(rows * rows), sizeof(long));
	uint64_t d;

	mean_mr = malloc((size_t)rows * sizeof(long));
	run_job(n, mean_map, 16, &res);
	for (int i = 0; i < res.length; i++)
		mean_mr[(intptr_t)res.data[i].key] = (long)(intptr_t)res.data[i].val;
	free(res.data);
	run_job(n, cov_map, 2, &res);
	for (int i = 0; i < res.length; i++)
		c[(intptr_t)res.data[i].key] = (long)(intptr_t)res.data[i].val;
	free(res.data);
	d = digest(mean_mr, c);
	free(mean_mr);
	free(c);
	return d;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 256);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("pca", &o, seq, par, mr);
	map_reduce_finalize();
	free(mat);
	return rc;
}
