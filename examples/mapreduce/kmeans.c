/*
 * kmeans.c — k-means clustering of integer points (Phoenix's kmeans): one
 * MapReduce job per iteration until no point changes cluster (at most 20).
 * Map: each task assigns its points to the nearest mean and emits, per
 * cluster, a partial sum (a block from the worker's sub-heap: dim sums and
 * a count). Reduce: adds the partial sums and emits the new mean. The
 * assignment array is in the scope (dsm_det_malloc), so the map tasks
 * update it in place and it reaches the parent through the merge.
 */
#include "common.h"

#define DIM 3
#define K 8
#define MAXIT 20

static int *pts;       /* npts x DIM */
static long npts;
static int *assign_mr; /* in the scope */

static void gen(long n)
{
	uint64_t s = 9;

	npts = n;
	pts = malloc((size_t)n * DIM * sizeof(int));
	for (long i = 0; i < n * DIM; i++)
		pts[i] = (int)(rng_next(&s) % 1000);
}

static int nearest(const int *p, const int means[K][DIM])
{
	long best = -1;
	int bi = 0;

	for (int k = 0; k < K; k++) {
		long d = 0;
		for (int j = 0; j < DIM; j++)
			d += (long)(p[j] - means[k][j]) * (p[j] - means[k][j]);
		if (best < 0 || d < best) {
			best = d;
			bi = k;
		}
	}
	return bi;
}

struct psum { long s[DIM]; long n; };

/* Assign points [lo, hi); accumulate sums; count changes. */
static long assign(long lo, long hi, int *as, const int means[K][DIM], struct psum ps[K])
{
	long changed = 0;

	for (long i = lo; i < hi; i++) {
		int k = nearest(pts + i * DIM, means);
		changed += as[i] != k;
		as[i] = k;
		for (int j = 0; j < DIM; j++)
			ps[k].s[j] += pts[i * DIM + j];
		ps[k].n++;
	}
	return changed;
}

static void new_means(const struct psum ps[K], int means[K][DIM])
{
	for (int k = 0; k < K; k++)
		for (int j = 0; j < DIM; j++)
			if (ps[k].n)
				means[k][j] = (int)(ps[k].s[j] / ps[k].n);
}

static void init_means(int means[K][DIM])
{
	for (int k = 0; k < K; k++)
		memcpy(means[k], pts + (long)k * DIM, sizeof(means[k]));
}

static uint64_t digest(int *as, int means[K][DIM])
{
	return fnv(fnv(0, means, sizeof(int) * K * DIM), as, (size_t)npts * sizeof(int));
}

static uint64_t seq(void)
{
	int means[K][DIM];
	int *as = malloc((size_t)npts * sizeof(int));
	uint64_t d;

	memset(as, 0xff, (size_t)npts * sizeof(int));
	init_means(means);
	for (int it = 0; it < MAXIT; it++) {
		struct psum ps[K] = { 0 };
		long ch = assign(0, npts, as, (const int (*)[DIM])means, ps);
		new_means(ps, means);
		if (!ch)
			break;
	}
	d = digest(as, means);
	free(as);
	return d;
}

static int g_means[K][DIM];
static int *g_as;
static struct psum g_ps[64][K];
static long g_ch[64];
static int nthr;

static void *thr(void *arg)
{
	long w = (long)arg, lo, hi;

	memset(g_ps[w], 0, sizeof(g_ps[w]));
	block_of(npts, nthr, (int)w, &lo, &hi);
	g_ch[w] = assign(lo, hi, g_as, (const int (*)[DIM])g_means, g_ps[w]);
	return NULL;
}

static uint64_t par(int n)
{
	uint64_t d;

	nthr = n;
	g_as = malloc((size_t)npts * sizeof(int));
	memset(g_as, 0xff, (size_t)npts * sizeof(int));
	init_means(g_means);
	for (int it = 0; it < MAXIT; it++) {
		struct psum ps[K] = { 0 };
		long ch = 0;
		run_threads(n, thr);
		for (int w = 0; w < n; w++) {
			ch += g_ch[w];
			for (int k = 0; k < K; k++) {
				for (int j = 0; j < DIM; j++)
					ps[k].s[j] += g_ps[w][k].s[j];
				ps[k].n += g_ps[w][k].n;
			}
		}
		new_means(ps, g_means);
		if (!ch)
			break;
	}
	d = digest(g_as, g_means);
	free(g_as);
	return d;
}

static int m_means[K][DIM];

static void km_map(map_args_t *a)
{
	struct psum ps[K] = { 0 };
	long lo = ((int *)a->data - pts) / DIM;
	long ch = assign(lo, lo + a->length, assign_mr, (const int (*)[DIM])m_means, ps);

	for (intptr_t k = 0; k < K; k++) {
		struct psum *p = dsm_det_malloc(sizeof(*p));
		*p = ps[k];
		emit_intermediate((void *)k, p, sizeof(void *));
	}
	emit_intermediate((void *)(intptr_t)K, (void *)(intptr_t)ch, sizeof(void *));
}

static void km_reduce(void *key, iterator_t *it)
{
	void *v;

	if ((intptr_t)key == K) { /* number of points that changed */
		intptr_t ch = 0;
		while (iter_next(it, &v))
			ch += (intptr_t)v;
		emit(key, (void *)ch);
		return;
	}
	struct psum *sum = dsm_det_calloc(1, sizeof(*sum));
	while (iter_next(it, &v)) {
		const struct psum *p = v;
		for (int j = 0; j < DIM; j++)
			sum->s[j] += p->s[j];
		sum->n += p->n;
	}
	emit(key, sum);
}

static int km_part(int r, void *key, int ks)
{
	(void)ks;
	return (int)((intptr_t)key % r);
}

static uint64_t mr(int n)
{
	uint64_t d;

	assign_mr = dsm_det_malloc((size_t)npts * sizeof(int));
	memset(assign_mr, 0xff, (size_t)npts * sizeof(int));
	init_means(m_means);
	for (int it = 0; it < MAXIT; it++) {
		map_reduce_args_t a;
		final_data_t res;
		struct psum ps[K] = { 0 };
		long ch = 0;

		mr_args(&a, &res, n);
		a.task_data = pts;
		a.data_size = npts * DIM * (off_t)sizeof(int);
		a.unit_size = DIM * sizeof(int);
		a.map = km_map;
		a.reduce = km_reduce;
		a.partition = km_part;
		a.key_cmp = intptr_cmp;
		a.L1_cache_size = chunk(1 << 20);
		if (map_reduce(&a) < 0)
			exit(1);
		for (int i = 0; i < res.length; i++) {
			intptr_t k = (intptr_t)res.data[i].key;
			if (k == K) {
				ch = (long)(intptr_t)res.data[i].val;
				continue;
			}
			ps[k] = *(struct psum *)res.data[i].val;
			dsm_det_free(res.data[i].val);
		}
		free(res.data);
		new_means(ps, m_means);
		if (!ch)
			break;
	}
	d = digest(assign_mr, m_means);
	dsm_det_free(assign_mr);
	return d;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 200000);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("kmeans", &o, seq, par, mr);
	map_reduce_finalize();
	free(pts);
	return rc;
}
