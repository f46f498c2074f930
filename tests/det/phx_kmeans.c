/*
 * phx_kmeans.c — iterative jobs (issue 11, point 3), k-means the way
 * Phoenix's k-means is written.
 *
 * The points and their cluster assignment are malloc'd; the means and a
 * "modified" flag are globals. Each round the map assigns its points to
 * the nearest mean, updating the assignment and setting the global flag
 * when one changes; the reduce averages each cluster's points into a
 * malloc'd vector; the program copies the new means into the global
 * array, frees the result and calls map_reduce again while the flag is
 * set. The rounds, means and assignments must equal a sequential run, at
 * 1, 2 and 4 workers. Before the fix the flag and the assignment never
 * reached the program: the loop stopped after one round, silently.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "map_reduce.h"
#include "phx_test.h"

#define DIM 3
#define K 8
#define NPTS 4000

static int means[K][DIM];     /* global: read by the maps */
static int modified;          /* global: set by the maps */
static int *points;           /* NPTS x DIM, malloc'd */
static int *cluster;          /* NPTS, malloc'd, written by the maps */

static int nearest(const int *p)
{
	int best = 0;
	long bestd = LONG_MAX;

	for (int k = 0; k < K; k++) {
		long d = 0;
		for (int j = 0; j < DIM; j++)
			d += (long)(p[j] - means[k][j]) * (p[j] - means[k][j]);
		if (d < bestd)
			bestd = d, best = k;
	}
	return best;
}

/* The map's data is the index of its first point (array splitter over an
 * index array). */
static void km_map(map_args_t *args)
{
	const int *idx = args->data;

	for (intptr_t i = 0; i < args->length; i++) {
		int p = idx[i], c = nearest(points + p * DIM);
		if (cluster[p] != c) {
			cluster[p] = c;
			modified = 1;
		}
		emit_intermediate((void *)(intptr_t)c, points + p * DIM, sizeof(void *));
	}
}

static void km_reduce(void *key, iterator_t *itr)
{
	long sum[DIM] = { 0 };
	int *mean = malloc(DIM * sizeof(int)), n = 0;
	void *v;

	while (iter_next(itr, &v)) {
		for (int j = 0; j < DIM; j++)
			sum[j] += ((int *)v)[j];
		n++;
	}
	for (int j = 0; j < DIM; j++)
		mean[j] = (int)(sum[j] / n);
	emit(key, mean);
}

static int int_cmp(const void *a, const void *b)
{
	return ((intptr_t)a > (intptr_t)b) - ((intptr_t)a < (intptr_t)b);
}

/* Keys are integers cast to pointers: hash the pointer itself. */
static int int_partition(int reduce_tasks, void *key, int key_size)
{
	return default_partition(reduce_tasks, &key, key_size);
}

static void init_means(void)
{
	for (int k = 0; k < K; k++)
		memcpy(means[k], points + k * DIM, sizeof(means[k]));
}

/* The same algorithm, sequentially. */
static int sequential(int *out_means, int *out_cluster)
{
	int rounds = 0, mod;

	init_means();
	for (int i = 0; i < NPTS; i++)
		cluster[i] = -1;
	do {
		long sum[K][DIM] = { { 0 } };
		int n[K] = { 0 };
		mod = 0;
		for (int p = 0; p < NPTS; p++) {
			int c = nearest(points + p * DIM);
			if (cluster[p] != c)
				cluster[p] = c, mod = 1;
			n[c]++;
			for (int j = 0; j < DIM; j++)
				sum[c][j] += points[p * DIM + j];
		}
		for (int k = 0; k < K; k++)
			for (int j = 0; j < DIM && n[k]; j++)
				means[k][j] = (int)(sum[k][j] / n[k]);
		rounds++;
	} while (mod);
	memcpy(out_means, means, sizeof(means));
	memcpy(out_cluster, cluster, NPTS * sizeof(int));
	return rounds;
}

int main(void)
{
	unsigned long long seed = 3;
	int want_means[K * DIM], *want_cluster, *idx, want_rounds;

	phx_skip_if_sanitized("phx_kmeans");
	points = malloc(NPTS * DIM * sizeof(int));
	cluster = malloc(NPTS * sizeof(int));
	want_cluster = malloc(NPTS * sizeof(int));
	idx = malloc(NPTS * sizeof(int));
	for (int i = 0; i < NPTS * DIM; i++)
		points[i] = (int)(phx_rand(&seed) % 1000);
	for (int i = 0; i < NPTS; i++)
		idx[i] = i;
	want_rounds = sequential(want_means, want_cluster);
	PHX_CHECK(want_rounds > 2, "input converges too fast (%d rounds)", want_rounds);
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	for (int t = 1; t <= 4; t *= 2) {
		int rounds = 0;
		init_means();
		for (int i = 0; i < NPTS; i++)
			cluster[i] = -1;
		modified = 1;
		while (modified) {
			map_reduce_args_t a;
			final_data_t res;
			modified = 0;
			memset(&a, 0, sizeof(a));
			a.task_data = idx;
			a.data_size = NPTS * sizeof(int);
			a.unit_size = sizeof(int);
			a.map = km_map;
			a.reduce = km_reduce;
			a.key_cmp = int_cmp;
	a.partition = int_partition;
			a.result = &res;
			a.L1_cache_size = 1024;
			a.num_map_threads = a.num_reduce_threads = t;
			PHX_CHECK(map_reduce(&a) == 0, "map_reduce, %d workers", t);
			for (int i = 0; i < res.length; i++) {
				memcpy(means[(intptr_t)res.data[i].key], res.data[i].val,
				       sizeof(means[0]));
				free(res.data[i].val);
			}
			free(res.data);
			rounds++;
			PHX_CHECK(rounds <= want_rounds, "%d workers: more rounds than the "
				  "sequential run (%d)", t, want_rounds);
		}
		PHX_CHECK(rounds == want_rounds, "%d workers: %d rounds, want %d (the "
			  "maps' global flag was lost)", t, rounds, want_rounds);
		PHX_CHECK(memcmp(means, want_means, sizeof(means)) == 0,
			  "%d workers: means differ", t);
		PHX_CHECK(memcmp(cluster, want_cluster, NPTS * sizeof(int)) == 0,
			  "%d workers: assignments differ", t);
	}
	map_reduce_finalize();
	free(points);
	free(cluster);
	free(want_cluster);
	free(idx);
	printf("phx_kmeans: %d rounds driven by a global flag, same means and "
	       "assignments as the sequential run at 1, 2, 4 workers\n", want_rounds);
	return 0;
}
