/*
 * phx_counter.c — globals updated by reduce (issue 11, point 2), and what
 * conflict detection does with a counter shared by several workers.
 *
 * Histogram of byte values: the maps count their task's bytes per value
 * (a malloc'd count per value emitted); each reduce call stores its
 * key's total in a global table and adds one to a global counter of keys
 * reduced. With one reduce worker (any number of map workers) the table
 * and the counter must be exact. With two reduce workers both change the
 * same counter from the same start to different values: map_reduce must
 * fail and name the write-write conflict, never return a wrong count.
 * Before the fix the table and the counter stayed zero, silently.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "map_reduce.h"
#include "phx_test.h"

#define NBYTES (256 * 1024)

static long totals[256];     /* global, written by reduce (one slot per key) */
static long keys_reduced;    /* global, incremented by every reduce call */

static void hist_map(map_args_t *args)
{
	const unsigned char *d = args->data;
	long *cnt = calloc(256, sizeof(long));

	for (intptr_t i = 0; i < args->length; i++)
		cnt[d[i]]++;
	for (intptr_t v = 0; v < 256; v++)
		if (cnt[v]) {
			long *c = malloc(sizeof(*c));
			*c = cnt[v];
			emit_intermediate((void *)v, c, sizeof(void *));
		}
	free(cnt);
}

static void hist_reduce(void *key, iterator_t *itr)
{
	long sum = 0;
	void *v;

	while (iter_next(itr, &v))
		sum += *(long *)v;
	totals[(intptr_t)key] = sum;
	keys_reduced++;
	emit(key, (void *)(intptr_t)sum);
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

static int run(unsigned char *data, int maps, int reduces, final_data_t *res)
{
	map_reduce_args_t a;

	memset(&a, 0, sizeof(a));
	a.task_data = data;
	a.data_size = NBYTES;
	a.unit_size = 1;
	a.map = hist_map;
	a.reduce = hist_reduce;
	a.key_cmp = int_cmp;
	a.partition = int_partition;
	a.result = res;
	a.L1_cache_size = 8192;
	a.num_map_threads = maps;
	a.num_reduce_threads = reduces;
	return map_reduce(&a);
}

/* Run with stderr in a temporary file; its first bytes into msg. */
static int run_captured(unsigned char *data, final_data_t *res, char *msg, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = run(data, 2, 2, res);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(msg, 1, cap - 1, tmp);
	msg[n] = '\0';
	fclose(tmp);
	return rc;
}

int main(void)
{
	unsigned long long seed = 9;
	unsigned char *data = malloc(NBYTES);
	long want[256] = { 0 };
	int nkeys = 0;
	final_data_t res;
	char msg[4096];

	phx_skip_if_sanitized("phx_counter");
	for (int i = 0; i < NBYTES; i++) {
		data[i] = (unsigned char)(phx_rand(&seed) % 200); /* 200 keys */
		want[data[i]]++;
	}
	for (int v = 0; v < 256; v++)
		nkeys += want[v] != 0;
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	for (int maps = 1; maps <= 4; maps *= 2) {
		memset(totals, 0, sizeof(totals));
		keys_reduced = 0;
		PHX_CHECK(run(data, maps, 1, &res) == 0, "%d map workers", maps);
		PHX_CHECK(res.length == nkeys, "%d keys, want %d", res.length, nkeys);
		PHX_CHECK(keys_reduced == nkeys, "%d map workers: the reduce counted "
			  "%ld keys, want %d (its global counter was lost)", maps,
			  keys_reduced, nkeys);
		for (int v = 0; v < 256; v++)
			PHX_CHECK(totals[v] == want[v], "%d map workers: totals[%d] = %ld, "
				  "want %ld", maps, v, totals[v], want[v]);
		free(res.data);
	}
	/* two reduce workers, one counter: a conflict, reported */
	keys_reduced = 0;
	PHX_CHECK(run_captured(data, &res, msg, sizeof(msg)) < 0,
		  "two reduce workers incrementing one global: map_reduce succeeded "
		  "(keys_reduced = %ld)", keys_reduced);
	PHX_CHECK(strstr(msg, "conflict") && strstr(msg, "reduce phase"),
		  "the error does not name the conflict: %s", msg);
	map_reduce_finalize();
	free(data);
	printf("phx_counter: globals updated by reduce exact with one reduce "
	       "worker; a counter shared by two is reported as a conflict\n");
	return 0;
}
