/*
 * phx_oneworker.c — one worker on a large input (issue 11, point 4).
 *
 * Word count over 24 MB of generated text with one map and one reduce
 * worker, values calloc'd per word as in Phoenix's linear regression, no
 * combiner: the single worker's sub-heap must hold about 7 times the
 * input. MR_NUMTHREADS=1 (read as Phoenix programs read it) picks the
 * worker count. The counts must equal a direct count. Before the fix the
 * worker ran out of its 128 MiB sub-heap (16 GiB / 128) and map_reduce
 * failed with "space 0 ... exited with status 1 without returning".
 */
#include <stdint.h>
#include <string.h>

#include "map_reduce.h"
#include "phx_test.h"

#define NWORDS 64
#define TEXT_MB 24

static const char *vocab[NWORDS];
static long want[NWORDS];



/* Keys are the vocabulary's strings (static), values calloc'd. */
static void wc_map(map_args_t *args)
{
	const char *d = args->data;
	intptr_t i = 0, n = args->length;

	while (i < n) {
		while (i < n && d[i] == ' ')
			i++;
		if (i >= n)
			break;
		int w = (d[i] - 'a') * 8 + (d[i + 1] - '0'); /* "<letter><digit>..." */
		long *one = calloc(1, sizeof(long));
		*one = 1;
		emit_intermediate((void *)vocab[w], one, (int)strlen(vocab[w]) + 1);
		while (i < n && d[i] != ' ')
			i++;
	}
}

static void wc_reduce(void *key, iterator_t *itr)
{
	long *sum = calloc(1, sizeof(long));
	void *v;

	while (iter_next(itr, &v))
		*sum += *(long *)v;
	emit(key, sum);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int main(void)
{
	unsigned long long seed = 1;
	struct text t = { 0 };
	map_reduce_args_t a;
	final_data_t res;
	long words = 0;
	static char names[NWORDS][8];

	phx_skip_if_sanitized("phx_oneworker");
	setenv("MR_NUMTHREADS", "1", 1);
	for (int w = 0; w < NWORDS; w++) {
		snprintf(names[w], sizeof(names[w]), "%c%dxyz", 'a' + w / 8, w % 8);
		vocab[w] = names[w];
	}
	t.buf = malloc((size_t)TEXT_MB << 20);
	while (t.len + 16 < ((size_t)TEXT_MB << 20)) {
		int w = (int)(phx_rand(&seed) % NWORDS);
		memcpy(t.buf + t.len, vocab[w], 6);
		t.buf[t.len + 6] = ' ';
		t.len += 7;
		want[w]++;
		words++;
	}
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	memset(&a, 0, sizeof(a));
	a.task_data = &t;
	a.data_size = (off_t)t.len;
	a.unit_size = 7;
	a.splitter = text_splitter;
	a.map = wc_map;
	a.reduce = wc_reduce;
	a.key_cmp = str_cmp;
	a.result = &res;
	a.L1_cache_size = 1 << 20;
	PHX_CHECK(map_reduce(&a) == 0, "map_reduce with one worker on %d MB",
		  TEXT_MB);
	map_reduce_finalize();
	PHX_CHECK(res.length == NWORDS, "%d keys, want %d", res.length, NWORDS);
	for (int i = 0; i < NWORDS; i++) {
		int w = (((char *)res.data[i].key)[0] - 'a') * 8 +
			(((char *)res.data[i].key)[1] - '0');
		PHX_CHECK(w == i && *(long *)res.data[i].val == want[w],
			  "%s = %ld, want %ld", (char *)res.data[i].key,
			  *(long *)res.data[i].val, want[w]);
		free(res.data[i].val);
	}
	free(res.data);
	free(t.buf);
	printf("phx_oneworker: %ld words (%d MB) counted by one worker\n", words,
	       TEXT_MB);
	return 0;
}
