/*
 * phoenix_compat.c — a program written exactly as for Phoenix 2.0: map
 * functions calloc their values and the caller free()s them; keys are
 * integers cast to pointers or point into the input, which the map
 * modifies (upper-casing, NUL-terminating words) as Phoenix's word_count
 * does. Checks the results against a direct computation. Exits 77 (skip)
 * when the allocator is not interposed (a sanitizer runtime owns malloc).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_det.h"
#include "map_reduce.h"

static int interposed = 1;

static int intcmp(const void *a, const void *b)
{
	return (int)((intptr_t)a - (intptr_t)b);
}

/* Sum of bytes per residue mod 5, values calloc'd as in Phoenix's lreg. */
static void sum_map(map_args_t *args)
{
	unsigned char *d = args->data;
	for (intptr_t k = 0; k < 5; k++) {
		long long *v = calloc(1, sizeof(long long));
		if (!dsm_det_owns(v))
			interposed = 0;
		for (intptr_t i = 0; i < args->length; i++)
			if ((uintptr_t)(d + i) % 5 == (uintptr_t)k)
				*v += d[i];
		emit_intermediate((void *)k, v, sizeof(void *));
	}
}

/* As Phoenix's linear_regression: hash the integer key itself. */
static int int_partition(int reduce_tasks, void *key, int key_size)
{
	return default_partition(reduce_tasks, &key, key_size);
}

static void sum_reduce(void *key, iterator_t *itr)
{
	long long *sum = calloc(1, sizeof(long long));
	void *v;

	while (iter_next(itr, &v)) {
		*sum += *(long long *)v;
		free(v);
	}
	emit(key, sum);
}

/* Word count the Phoenix way: upper-case in place, NUL-terminate, emit a
 * key pointing into the input. */
static void wc_map(map_args_t *args)
{
	char *d = args->data;
	intptr_t i = 0, n = args->length;

	while (i < n) {
		while (i < n && !isalpha((unsigned char)d[i]))
			i++;
		intptr_t s = i;
		while (i < n && isalpha((unsigned char)d[i])) {
			d[i] = (char)toupper((unsigned char)d[i]);
			i++;
		}
		if (i > s && i < n) {
			d[i] = '\0';
			emit_intermediate(d + s, (void *)1, (int)(i - s + 1));
		}
	}
}

static void wc_reduce(void *key, iterator_t *itr)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(itr, &v))
		s += (intptr_t)v;
	emit(key, (void *)s);
}

static int strkeycmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int run_sums(unsigned char *data, size_t n, int threads)
{
	map_reduce_args_t a;
	final_data_t res;
	long long want[5] = { 0 };

	for (size_t i = 0; i < n; i++)
		want[(uintptr_t)(data + i) % 5] += data[i];
	memset(&a, 0, sizeof(a));
	a.task_data = data;
	a.data_size = (off_t)n;
	a.unit_size = 1;
	a.map = sum_map;
	a.reduce = sum_reduce;
	a.partition = int_partition;
	a.key_cmp = intcmp;
	a.result = &res;
	a.L1_cache_size = 4096;
	a.num_map_threads = a.num_reduce_threads = threads;
	if (map_reduce(&a) < 0 || res.length != 5) {
		fprintf(stderr, "sums, %d threads: %d pairs\n", threads, res.length);
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		if ((intptr_t)res.data[i].key != i || *(long long *)res.data[i].val != want[i]) {
			fprintf(stderr, "sums, %d threads: key %ld = %lld, want %lld\n",
				threads, (long)(intptr_t)res.data[i].key,
				*(long long *)res.data[i].val, want[i]);
			return 1;
		}
		free(res.data[i].val);
	}
	free(res.data);
	return 0;
}

static int run_words(int threads)
{
	/* the map changes its input, and the change is merged back: start
	 * from a fresh copy every run */
	static char text[64];
	map_reduce_args_t a;
	final_data_t res;
	const char *want[] = { "AND", "BIRD", "CAT", "DOG", "THE" };
	const intptr_t cnt[] = { 2, 1, 1, 1, 3 };

	strcpy(text, "the cat and the dog and THE bird ");
	memset(&a, 0, sizeof(a));
	a.task_data = text;
	a.data_size = (off_t)strlen(text);
	a.unit_size = 1;
	a.map = wc_map;
	a.reduce = wc_reduce;
	a.key_cmp = strkeycmp;
	a.result = &res;
	a.num_map_threads = a.num_reduce_threads = threads;
	if (map_reduce(&a) < 0 || res.length != 5) {
		fprintf(stderr, "words, %d threads: %d pairs\n", threads, res.length);
		return 1;
	}
	for (int i = 0; i < 5; i++)
		if (strcmp(res.data[i].key, want[i]) || (intptr_t)res.data[i].val != cnt[i]) {
			fprintf(stderr, "words, %d threads: %s = %ld\n", threads,
				(char *)res.data[i].key, (long)(intptr_t)res.data[i].val);
			return 1;
		}
	free(res.data);
	if (strncmp(text, "THE", 4) != 0) { /* the map's own change came back */
		fprintf(stderr, "words: the map's change to its input was lost\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	size_t n = 1 << 16;
	unsigned char *data = malloc(n);
	int bad = 0;

#if defined(__SANITIZE_ADDRESS__)
	/* ASan's malloc interposes before ours: blocks a map mallocs die with
	 * its space, as the program would find out the hard way. */
	printf("SKIP: malloc is not interposed under AddressSanitizer\n");
	free(data);
	return 77;
#endif
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	if (map_reduce_init() < 0)
		return 1;
	for (int t = 1; t <= 4; t *= 2) {
		bad |= run_sums(data, n, t);
		if (!interposed) {
			printf("SKIP: malloc is not interposed (sanitizer runtime)\n");
			return 77;
		}
		bad |= run_words(t);
	}
	map_reduce_finalize();
	free(data);
	printf("phoenix_compat: %s\n", bad ? "FAILED" : "ok");
	return bad;
}
