/*
 * string_match.c — how many lines of a generated file match each of four
 * keys (Phoenix's string_match, without its toy encryption). Key: the
 * index of the matched key; value: a count.
 */
#include "common.h"

static const char *keys[4] = { "Helloworld", "howareyou", "ferrari", "whotheman" };
static char *text;
static long tlen;

static void gen(long n)
{
	uint64_t s = 5;
	long k = 0;

	text = malloc((size_t)n + 16);
	while (k + 12 < n) {
		int l = 4 + (int)(rng_next(&s) % 8);
		uint64_t r = rng_next(&s) % 16;
		if (r < 4 && k + (long)strlen(keys[r]) + 1 < n) {
			memcpy(text + k, keys[r], strlen(keys[r]));
			k += (long)strlen(keys[r]);
		} else {
			for (int c = 0; c < l; c++)
				text[k++] = (char)('a' + rng_next(&s) % 26);
		}
		text[k++] = '\n';
	}
	tlen = k;
}

/* Count matches of the lines that start in [lo, hi). */
static void count(long lo, long hi, long m[4])
{
	long i = lo;

	if (i > 0 && text[i - 1] != '\n') {
		while (i < tlen && text[i] != '\n')
			i++;
		i++;
	}
	while (i < hi && i < tlen) {
		long s = i;
		while (i < tlen && text[i] != '\n')
			i++;
		for (int k = 0; k < 4; k++)
			if ((size_t)(i - s) == strlen(keys[k]) &&
			    memcmp(text + s, keys[k], (size_t)(i - s)) == 0)
				m[k]++;
		i++;
	}
}

static uint64_t seq(void)
{
	long m[4] = { 0 };

	count(0, tlen, m);
	return fnv(0, m, sizeof(m));
}

static long part[64][4];
static int nthr;

static void *thr(void *arg)
{
	long w = (long)arg, lo, hi;

	memset(part[w], 0, sizeof(part[w]));
	block_of(tlen, nthr, (int)w, &lo, &hi);
	count(lo, hi, part[w]);
	return NULL;
}

static uint64_t par(int n)
{
	long m[4] = { 0 };

	nthr = n;
	run_threads(n, thr);
	for (int w = 0; w < n; w++)
		for (int k = 0; k < 4; k++)
			m[k] += part[w][k];
	return fnv(0, m, sizeof(m));
}

static void sm_map(map_args_t *a)
{
	long m[4] = { 0 }, lo = (char *)a->data - text;

	count(lo, lo + a->length, m);
	for (intptr_t k = 0; k < 4; k++)
		if (m[k])
			emit_intermediate((void *)k, (void *)(intptr_t)m[k], sizeof(void *));
}

static void sm_reduce(void *key, iterator_t *it)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(it, &v))
		s += (intptr_t)v;
	emit(key, (void *)s);
}

static int sm_part(int r, void *key, int ks)
{
	(void)ks;
	return (int)((intptr_t)key % r);
}

static uint64_t mr(int n)
{
	map_reduce_args_t a;
	final_data_t res;
	long m[4] = { 0 };

	mr_args(&a, &res, n);
	a.task_data = text;
	a.data_size = tlen;
	a.unit_size = 1;
	a.map = sm_map;
	a.reduce = sm_reduce; /* no combiner: reduce sees every task's count */
	a.partition = sm_part;
	a.key_cmp = intptr_cmp;
	a.L1_cache_size = chunk(1 << 20);
	if (map_reduce(&a) < 0)
		exit(1);
	for (int i = 0; i < res.length; i++)
		m[(intptr_t)res.data[i].key] = (long)(intptr_t)res.data[i].val;
	free(res.data);
	return fnv(0, m, sizeof(m));
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 16000000);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("string_match", &o, seq, par, mr);
	map_reduce_finalize();
	free(text);
	return rc;
}
