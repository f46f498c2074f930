/*
 * phx_matrix.c — map tasks that write the program's own heap and globals
 * (issue 11, point 2), as Phoenix's matrix multiply does.
 *
 * C = A x B. The program malloc()s A and the output C before map_reduce
 * and keeps B and a per-row "done" table in globals (bss); each map task
 * multiplies a block of rows, writes them straight into C and marks them
 * in the table; the reduce is the identity over one (row, checksum) pair
 * per row. At 1, 2 and 4 workers, C, the table and the pairs must equal
 * the sequential product. Before the fix those writes stayed in the
 * worker processes: C came back as it was (garbage), silently.
 */
#include <stdint.h>
#include <string.h>

#include "map_reduce.h"
#include "phx_test.h"

#define N 96

static int B[N][N];          /* global, read by the maps */
static char row_done[N];     /* global, written by the maps */

struct mm {
	int *A, *C;
	int next_row, rows_per_task;
};

static int mm_splitter(void *arg, int req_units, map_args_t *out)
{
	struct mm *m = arg;

	(void)req_units;
	if (m->next_row >= N)
		return 0;
	out->data = m;
	out->length = m->next_row; /* first row of the task */
	m->next_row += m->rows_per_task;
	return 1;
}

static void mm_map(map_args_t *args)
{
	struct mm *m = args->data;

	for (intptr_t r = args->length; r < args->length + m->rows_per_task && r < N; r++) {
		long sum = 0;
		for (int c = 0; c < N; c++) {
			int v = 0;
			for (int k = 0; k < N; k++)
				v += m->A[r * N + k] * B[k][c];
			m->C[r * N + c] = v;
			sum += v;
		}
		row_done[r] = 1;
		emit_intermediate((void *)r, (void *)(intptr_t)sum, sizeof(void *));
	}
}

static int int_cmp(const void *a, const void *b)
{
	return ((intptr_t)a > (intptr_t)b) - ((intptr_t)a < (intptr_t)b);
}

static int int_partition(int reduce_tasks, void *key, int key_size)
{
	(void)key_size;
	return (int)((intptr_t)key % reduce_tasks);
}

int main(void)
{
	unsigned long long seed = 5;
	int *want = malloc(N * N * sizeof(int));
	struct mm m;

	phx_skip_if_sanitized("phx_matrix");
	m.A = malloc(N * N * sizeof(int));
	m.C = malloc(N * N * sizeof(int));
	for (int i = 0; i < N * N; i++)
		m.A[i] = (int)(phx_rand(&seed) % 11);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			B[i][j] = (int)(phx_rand(&seed) % 11);
	for (int r = 0; r < N; r++)
		for (int c = 0; c < N; c++) {
			int v = 0;
			for (int k = 0; k < N; k++)
				v += m.A[r * N + k] * B[k][c];
			want[r * N + c] = v;
		}
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	for (int t = 1; t <= 4; t *= 2) {
		map_reduce_args_t a;
		final_data_t res;

		memset(m.C, 0x5a, N * N * sizeof(int)); /* garbage, as after malloc */
		memset(row_done, 0, sizeof(row_done));
		m.next_row = 0;
		m.rows_per_task = 5;
		memset(&a, 0, sizeof(a));
		a.task_data = &m;
		a.data_size = N * N * sizeof(int);
		a.unit_size = N * sizeof(int);
		a.splitter = mm_splitter;
		a.map = mm_map;
		a.key_cmp = int_cmp;
		a.partition = int_partition;
		a.result = &res;
		a.num_map_threads = a.num_reduce_threads = t;
		PHX_CHECK(map_reduce(&a) == 0, "map_reduce, %d workers", t);
		for (int i = 0; i < N * N; i++)
			PHX_CHECK(m.C[i] == want[i], "%d workers: C[%d][%d] = %d, want %d "
				  "(the map's write to malloc'd memory was lost)", t, i / N,
				  i % N, m.C[i], want[i]);
		for (int r = 0; r < N; r++)
			PHX_CHECK(row_done[r] == 1, "%d workers: row_done[%d] = %d (a "
				  "map's write to a global was lost)", t, r, row_done[r]);
		PHX_CHECK(res.length == N, "%d workers: %d pairs", t, res.length);
		for (int r = 0; r < N; r++) {
			long sum = 0;
			for (int c = 0; c < N; c++)
				sum += want[r * N + c];
			PHX_CHECK((intptr_t)res.data[r].key == r &&
				  (intptr_t)res.data[r].val == sum, "%d workers: pair %d", t, r);
		}
		free(res.data);
	}
	map_reduce_finalize();
	free(m.A);
	free(m.C);
	free(want);
	printf("phx_matrix: %dx%d product written by the maps into malloc'd memory "
	       "and globals, equal at 1, 2, 4 workers\n", N, N);
	return 0;
}
