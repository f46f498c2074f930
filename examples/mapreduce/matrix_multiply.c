/*
 * matrix_multiply.c — C = A x B for n x n integer matrices (Phoenix's
 * matrix_multiply). Each map task computes a block of rows of C and
 * writes them straight into C, which the parent allocated in the scope
 * with dsm_det_malloc: the rows come back through the spaces' merge (the
 * same pages, disjoint bytes). No intermediate pairs.
 */
#include "common.h"

static int *A, *B, *C;
static long N;

static void gen(long n)
{
	uint64_t s = 3;

	N = n;
	A = malloc((size_t)(n * n) * sizeof(int));
	B = malloc((size_t)(n * n) * sizeof(int));
	for (long i = 0; i < n * n; i++) {
		A[i] = (int)(rng_next(&s) % 100);
		B[i] = (int)(rng_next(&s) % 100);
	}
}

static void rows(int *out, long lo, long hi)
{
	for (long i = lo; i < hi; i++)
		for (long j = 0; j < N; j++) {
			int s = 0;
			for (long k = 0; k < N; k++)
				s += A[i * N + k] * B[k * N + j];
			out[i * N + j] = s;
		}
}

static uint64_t seq(void)
{
	int *out = calloc((size_t)(N * N), sizeof(int));
	uint64_t d;

	rows(out, 0, N);
	d = fnv(0, out, (size_t)(N * N) * sizeof(int));
	free(out);
	return d;
}

static int *pout;
static int nthr;

static void *thr(void *arg)
{
	long lo, hi;

	block_of(N, nthr, (int)(long)arg, &lo, &hi);
	rows(pout, lo, hi);
	return NULL;
}

static uint64_t par(int n)
{
	uint64_t d;

	pout = calloc((size_t)(N * N), sizeof(int));
	nthr = n;
	run_threads(n, thr);
	d = fnv(0, pout, (size_t)(N * N) * sizeof(int));
	free(pout);
	return d;
}

/* Tasks are row indices: the array splitter over a dummy array of rows. */
static void mm_map(map_args_t *a)
{
	long first = (long)((char *)a->data - (char *)A) / (long)(N * sizeof(int));

	rows(C, first, first + a->length);
}

static uint64_t mr(int n)
{
	map_reduce_args_t a;
	final_data_t res;
	uint64_t d;

	/* C is in the scope: allocated after map_reduce_init */
	C = dsm_det_calloc((size_t)(N * N), sizeof(int));
	mr_args(&a, &res, n);
	a.task_data = A; /* one unit per row of A */
	a.data_size = N * N * (off_t)sizeof(int);
	a.unit_size = (int)(N * sizeof(int));
	a.map = mm_map;
	a.key_cmp = intptr_cmp;
	a.L1_cache_size = (int)(8 * N * sizeof(int)); /* 8 rows per task */
	if (map_reduce(&a) < 0)
		exit(1);
	d = fnv(0, C, (size_t)(N * N) * sizeof(int));
	free(res.data);
	dsm_det_free(C);
	return d;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 300);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("matrix_multiply", &o, seq, par, mr);
	map_reduce_finalize();
	free(A);
	free(B);
	return rc;
}
