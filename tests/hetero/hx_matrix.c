/*
 * hx_matrix.c — a matrix of doubles in a mixed-byte-order job: C = A * B
 * by rows over the nodes, then A += C / 1000 in place (diffs) and C again;
 * every node checks every element of C, bit for bit, against its own
 * sequential computation. Typed pages of doubles (the uniform fast path).
 * C is bound to the barriers after each product (ec: barrier data).
 */
#define MN_PROG "hx_matrix"
#include <stdint.h>
#include <string.h>

#include "../mn/mn_util.h"
#include "dsm_type.h"
#include "hx_wild.h"

#define N 96 /* 96 * 96 doubles: 18 pages per matrix, rows span pages */

static double sa[N][N], sb[N][N], sc[N][N];

static void seq_mul(void)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < N; k++)
				s += sa[i][k] * sb[k][j];
			sc[i][j] = s;
		}
}

static void dsm_mul(double *a, double *b, double *c, int rank, int count)
{
	for (int i = rank; i < N; i += count)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < N; k++)
				s += a[i * N + k] * b[k * N + j];
			c[i * N + j] = s;
		}
}

static void check(const double *c, int round)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (memcmp(&c[i * N + j], &sc[i][j], 8))
				FAIL("round %d: C[%d][%d] = %.17g, sequential %.17g", round,
				     i, j, c[i * N + j], sc[i][j]);
}

int main(int argc, char **argv)
{
	struct dsm_field f[] = { { DSM_FIELD_DOUBLE, 0, 1, 0 } };

	hx_wild_install(); /* registers of a fault outside the region (hx_wild.h) */
	int err = dsm_init(&argc, &argv);

	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();
	dsm_type_t dbl = dsm_type_register("double", sizeof(double), f, 1);
	if (dbl <= 0)
		FAIL("dsm_type_register: %d", dbl);
	double *a = dsm_typed_alloc_collective(dbl, N * N);
	double *b = dsm_typed_alloc_collective(dbl, N * N);
	double *c = dsm_typed_alloc_collective(dbl, N * N);
	if (!a || !b || !c)
		FAIL("dsm_typed_alloc_collective failed");
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			sa[i][j] = (double)((i * 7 + j * 3) % 17) / 7.0 - 1.0;
			sb[i][j] = (double)((i * 5 + j * 11) % 13) / 3.0 + 0.25;
		}
	if (me == 0) {
		memcpy(a, sa, sizeof(sa));
		memcpy(b, sb, sizeof(sb));
	}
	/* ec: C travels with the barriers that end its computation (barrier
	 * data: each node's diffs through the manager, converted) */
	CHECK(dsm_bind_barrier(1, c, N * N * sizeof(double)));
	CHECK(dsm_bind_barrier(4, c, N * N * sizeof(double)));
	CHECK(dsm_barrier(0));
	dsm_mul(a, b, c, me, count);
	CHECK(dsm_barrier(1));
	seq_mul();
	check(c, 1);
	CHECK(dsm_barrier(2));
	/* round 2: every node updates its rows of A in place (diffs) */
	for (int i = me; i < N; i += count)
		for (int j = 0; j < N; j++)
			a[i * N + j] += c[i * N + j] / 1000.0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			sa[i][j] += sc[i][j] / 1000.0;
	CHECK(dsm_barrier(3));
	dsm_mul(a, b, c, me, count);
	CHECK(dsm_barrier(4));
	seq_mul();
	check(c, 2);
	printf("hx_matrix: node %d (%s): %dx%d product matches sequential, 2 rounds\n",
	       me, dsm_node_byte_order(me) == 2 ? "big-endian" : "little-endian", N, N);
	CHECK(dsm_barrier(5));
	return dsm_finalize() ? 1 : 0;
}
