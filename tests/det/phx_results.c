/*
 * phx_results.c — results that outlive map_reduce_finalize (issue 11,
 * point 1), in a program written as for Phoenix 2.0.
 *
 * Word frequencies: the map strdup()s each word it emits and calloc()s its
 * count; reduce sums the counts into a new malloc'd value and frees the
 * ones it was given. Three jobs (1, 2 and 4 workers) run between one
 * map_reduce_init and one map_reduce_finalize; only after finalize does
 * the program read the three results, compare them with a direct count
 * and with each other, and free() every key, value and result array, as
 * Phoenix programs do. Before the fix finalize unmapped the keys and
 * values, and the first read or free() crashed.
 */
#include <stdint.h>
#include <string.h>

#include "map_reduce.h"
#include "phx_test.h"

#define NWORDS 400
#define NTEXT 60000 /* words of input */

static char vocab[NWORDS][12];
static long want[NWORDS];



static void words_map(map_args_t *args)
{
	char *d = args->data;
	intptr_t i = 0, n = args->length;

	while (i < n) {
		while (i < n && d[i] == ' ')
			i++;
		intptr_t s = i;
		while (i < n && d[i] != ' ')
			i++;
		if (i > s) {
			char *w = malloc((size_t)(i - s) + 1);
			long *one = calloc(1, sizeof(*one));
			memcpy(w, d + s, (size_t)(i - s));
			w[i - s] = '\0';
			*one = 1;
			emit_intermediate(w, one, (int)(i - s) + 1);
		}
	}
}

static void words_reduce(void *key, iterator_t *itr)
{
	long *sum = malloc(sizeof(*sum));
	void *v;

	*sum = 0;
	while (iter_next(itr, &v)) {
		*sum += *(long *)v;
		free(v);
	}
	emit(key, sum);
}

static int strkey_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int vocab_cmp(const void *a, const void *b)
{
	return strcmp(vocab[*(const int *)a], vocab[*(const int *)b]);
}

int main(void)
{
	unsigned long long seed = 11;
	struct text t = { 0 };
	final_data_t res[3];
	int order[NWORDS];

	phx_skip_if_sanitized("phx_results");
	for (int w = 0; w < NWORDS; w++) {
		int len = 3 + w % 8;
		for (int c = 0; c < len; c++)
			vocab[w][c] = (char)('a' + phx_rand(&seed) % 26);
		snprintf(vocab[w] + len, sizeof(vocab[w]) - (size_t)len, "%d", w % 10);
	}
	t.buf = malloc(NTEXT * 12);
	for (int i = 0; i < NTEXT; i++) {
		int w = (int)(phx_rand(&seed) % NWORDS);
		want[w]++;
		t.len += (size_t)sprintf(t.buf + t.len, "%s ", vocab[w]);
	}
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	for (int r = 0; r < 3; r++) {
		map_reduce_args_t a;
		memset(&a, 0, sizeof(a));
		t.pos = 0;
		a.task_data = &t;
		a.data_size = (off_t)t.len;
		a.unit_size = 8;
		a.splitter = text_splitter;
		a.map = words_map;
		a.reduce = words_reduce;
		a.key_cmp = strkey_cmp;
		a.result = &res[r];
		a.L1_cache_size = 16 * 1024;
		a.num_map_threads = a.num_reduce_threads = 1 << r;
		PHX_CHECK(map_reduce(&a) == 0, "map_reduce with %d workers", 1 << r);
	}
	PHX_CHECK(map_reduce_finalize() == 0, "map_reduce_finalize");

	/* after finalize: read, compare, free, as a Phoenix program does */
	for (int w = 0; w < NWORDS; w++)
		order[w] = w;
	qsort(order, NWORDS, sizeof(order[0]), vocab_cmp);
	for (int r = 0; r < 3; r++) {
		PHX_CHECK(res[r].length == NWORDS, "job %d: %d keys, want %d", r,
			  res[r].length, NWORDS);
		for (int i = 0; i < NWORDS; i++) {
			const char *k = res[r].data[i].key;
			long v = *(long *)res[r].data[i].val;
			PHX_CHECK(strcmp(k, vocab[order[i]]) == 0 && v == want[order[i]],
				  "job %d, pair %d: %s=%ld, want %s=%ld", r, i, k, v,
				  vocab[order[i]], want[order[i]]);
		}
	}
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < res[r].length; i++) {
			free(res[r].data[i].key);
			free(res[r].data[i].val);
		}
		free(res[r].data);
	}
	free(t.buf);
	printf("phx_results: 3 jobs (1, 2, 4 workers), %d keys each, read and "
	       "freed after map_reduce_finalize\n", NWORDS);
	return 0;
}
