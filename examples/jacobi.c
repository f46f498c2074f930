/*
 * jacobi — 2-D Jacobi relaxation on an N x N grid of doubles in libdsm
 * shared memory, the demo `make run` starts on one node per core.
 *
 *   dsmrun -n 4 ./jacobi_demo [N [ITERATIONS]]     (default 2048 200)
 *
 * The default size takes about 1-2 s sequentially on a current x86-64 core,
 * large enough that the parallel run can beat it.
 *
 * Two grids are allocated with dsm_alloc_collective, so they have the same
 * address on every node. The interior rows are split into contiguous
 * blocks, one per node; in each iteration a node computes its rows of the
 * new grid from the old one (reading its neighbours' boundary rows through
 * the shared memory) and all nodes meet at a barrier before the grids swap.
 * Node 0 then recomputes the same relaxation sequentially in private memory
 * and compares cell by cell; both use the same function for a row, so the
 * results must be bit-identical. Every node exits non-zero on a mismatch.
 * Node 0 times that sequential relaxation (the iterations only, like the
 * parallel timing) and prints the speedup of the parallel run over it.
 *
 * It uses only the public header, as an application would.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dsm.h>

#define BAR 1u

struct summary { /* one per node, in shared memory, printed by node 0 */
	double seconds;
	struct dsm_stats st;
};

static int me = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "jacobi: node %d: %s: %s\n", me, what, dsm_strerror(err));
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fixed boundary: a hot top edge, a warm left edge, the rest cold. The
 * interior starts at zero. Both grids get the same boundary. */
static double initial(size_t n, size_t i, size_t j)
{
	if (i == 0)
		return 100.0;
	if (j == 0)
		return 50.0 * (double)(n - i) / (double)n;
	return 0.0;
}

/* One row of one sweep: dst[i][1..n-2] from src. Shared by the parallel
 * and the sequential version so their arithmetic is identical. */
static void relax_row(double *dst, const double *src, size_t n, size_t i)
{
	const double *up = src + (i - 1) * n, *row = src + i * n,
		     *down = src + (i + 1) * n;
	double *out = dst + i * n;
	for (size_t j = 1; j + 1 < n; j++)
		out[j] = 0.25 * (up[j] + down[j] + row[j - 1] + row[j + 1]);
}

/* Rows [lo, hi) of the interior 1..n-2 belong to node k of count. */
static void my_rows(size_t n, int k, int count, size_t *lo, size_t *hi)
{
	size_t interior = n - 2;
	*lo = 1 + interior * (size_t)k / (size_t)count;
	*hi = 1 + interior * (size_t)(k + 1) / (size_t)count;
}

/* The relaxation in private memory; *secs gets the time of its iterations. */
static double *sequential(size_t n, int iters, double *secs)
{
	double *a = malloc(n * n * sizeof(double));
	double *b = malloc(n * n * sizeof(double));
	if (a == NULL || b == NULL) {
		fprintf(stderr, "jacobi: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			a[i * n + j] = b[i * n + j] = initial(n, i, j);
	double t0 = now();
	for (int it = 0; it < iters; it++) {
		for (size_t i = 1; i + 1 < n; i++)
			relax_row(b, a, n, i);
		double *t = a;
		a = b;
		b = t;
	}
	*secs = now() - t0;
	free(b);
	return a;
}

int main(int argc, char **argv)
{
	int err = dsm_init(&argc, &argv);
	if (err)
		die("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();

	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	int iters = argc > 2 ? atoi(argv[2]) : 200;
	if (n < 3 || iters < 0) {
		fprintf(stderr, "usage: %s [N >= 3 [ITERATIONS]]\n", argv[0]);
		dsm_finalize();
		return 2;
	}
	size_t bytes = n * n * sizeof(double);
	double *grid[2];
	for (int g = 0; g < 2; g++) {
		grid[g] = dsm_alloc_collective(bytes);
		if (grid[g] == NULL)
			die("dsm_alloc_collective", -errno);
		if ((err = dsm_bind_barrier(BAR, grid[g], bytes)) != 0)
			die("dsm_bind_barrier", err);
	}
	struct summary *sum = dsm_alloc_collective((size_t)count * sizeof *sum);
	if (sum == NULL)
		die("dsm_alloc_collective", -errno);
	if ((err = dsm_bind_barrier(BAR, sum, (size_t)count * sizeof *sum)) != 0)
		die("dsm_bind_barrier", err);

	/* Each node initialises its own rows of both grids; node 0 and the
	 * last node also the fixed top and bottom rows. */
	size_t lo, hi;
	my_rows(n, me, count, &lo, &hi);
	size_t ilo = me == 0 ? 0 : lo, ihi = me == count - 1 ? n : hi;
	for (size_t i = ilo; i < ihi; i++)
		for (size_t j = 0; j < n; j++)
			grid[0][i * n + j] = grid[1][i * n + j] = initial(n, i, j);
	if ((err = dsm_barrier(BAR)) != 0)
		die("dsm_barrier", err);

	double t0 = now();
	int cur = 0;
	for (int it = 0; it < iters; it++) {
		for (size_t i = lo; i < hi; i++)
			relax_row(grid[1 - cur], grid[cur], n, i);
		if ((err = dsm_barrier(BAR)) != 0)
			die("dsm_barrier", err);
		cur = 1 - cur;
	}
	double par_s = now() - t0;

	/* Node 0 checks against the sequential computation; everyone learns
	 * the verdict. */
	int32_t verdict[2] = { 1, 0 }; /* match, first bad cell (row) */
	double seq_s = 0;
	if (me == 0) {
		double *ref = sequential(n, iters, &seq_s);
		for (size_t c = 0; c < n * n && verdict[0]; c++)
			if (memcmp(&ref[c], &grid[cur][c], sizeof(double)) != 0) {
				fprintf(stderr, "jacobi: cell (%zu,%zu) = %.17g, sequential"
					" %.17g\n", c / n, c % n, grid[cur][c], ref[c]);
				verdict[0] = 0;
				verdict[1] = (int32_t)(c / n);
			}
		free(ref);
	}
	if ((err = dsm_broadcast(verdict, sizeof verdict, 0)) != 0)
		die("dsm_broadcast", err);

	sum[me].seconds = par_s;
	if ((err = dsm_stats(&sum[me].st)) != 0)
		die("dsm_stats", err);
	if ((err = dsm_barrier(BAR)) != 0)
		die("dsm_barrier", err);
	if (me == 0) {
		printf("jacobi: %d nodes, grid %zux%zu, %d iterations, matches"
		       " sequential: %s\n", count, n, n, iters,
		       verdict[0] ? "yes" : "NO");
		printf("jacobi: parallel %.3f s, sequential (node 0) %.3f s\n", par_s,
		       seq_s);
		printf("jacobi: speedup over sequential: %.2fx on %d nodes\n",
		       par_s > 0 ? seq_s / par_s : 0.0, count);
		printf("%-5s %9s %9s %9s %9s %9s %9s %12s %9s\n", "node", "rd-flt",
		       "wr-flt", "fetches", "pg-sent", "inval", "msgs", "bytes", "time/s");
		for (int k = 0; k < count; k++) {
			const struct dsm_stats *s = &sum[k].st;
			printf("%-5d %9llu %9llu %9llu %9llu %9llu %9llu %12llu %9.3f\n",
			       k, (unsigned long long)s->read_faults,
			       (unsigned long long)s->write_faults,
			       (unsigned long long)s->remote_fetches,
			       (unsigned long long)s->pages_sent,
			       (unsigned long long)s->invalidations_sent,
			       (unsigned long long)(s->messages_sent + s->messages_recv),
			       (unsigned long long)(s->bytes_sent + s->bytes_recv),
			       sum[k].seconds);
		}
		fflush(stdout);
	}
	if ((err = dsm_finalize()) != 0)
		die("dsm_finalize", err);
	if (!verdict[0]) {
		fprintf(stderr, "jacobi: node %d: result differs from the sequential"
			" computation (first bad row %d)\n", me, verdict[1]);
		return 1;
	}
	return 0;
}
