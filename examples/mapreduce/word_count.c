/*
 * word_count.c — occurrences of every word of a generated text (Phoenix's
 * word_count). Each map task counts its words in a private hash table and
 * emits each distinct word once (key: the word, copied into the worker's
 * sub-heap; value: its count); reduce sums. Result sorted by word.
 */
#include <ctype.h>

#include "common.h"

#define VOCAB 3000
static char *text;
static long tlen;

static void gen(long n)
{
	uint64_t s = 11;
	char vocab[VOCAB][12];
	long k = 0;

	for (int i = 0; i < VOCAB; i++) {
		int l = 2 + (int)(rng_next(&s) % 9);
		for (int c = 0; c < l; c++)
			vocab[i][c] = (char)('a' + rng_next(&s) % 26);
		vocab[i][l] = '\0';
	}
	text = malloc((size_t)n + 16);
	while (k < n) {
		/* Zipf-like: low indices are frequent */
		uint64_t r = rng_next(&s) % VOCAB;
		const char *w = vocab[(r * r) / VOCAB];
		size_t l = strlen(w);
		if (k + (long)l + 1 > n)
			break;
		memcpy(text + k, w, l);
		k += (long)l;
		text[k++] = (rng_next(&s) % 10) ? ' ' : '\n';
	}
	tlen = k;
}

/* A tiny open-addressing table of (word, count). */
struct wc { const char *w[8192]; int len[8192]; long cnt[8192]; int n; };

static unsigned hash(const char *w, int l)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < l; i++)
		h = (h ^ (unsigned char)w[i]) * 16777619u;
	return h;
}

static void add(struct wc *t, const char *w, int l, long c)
{
	unsigned i = hash(w, l) & 8191;

	while (t->w[i] && (t->len[i] != l || memcmp(t->w[i], w, (size_t)l)))
		i = (i + 1) & 8191;
	if (!t->w[i]) {
		t->w[i] = w;
		t->len[i] = l;
		t->n++;
	}
	t->cnt[i] += c;
}

/* Count the words that start in [lo, hi) (a word crossing hi is ours). */
static void count(struct wc *t, long lo, long hi)
{
	long i = lo;

	if (i > 0 && !isspace((unsigned char)text[i - 1]))
		while (i < tlen && !isspace((unsigned char)text[i]))
			i++;
	while (i < hi) {
		long s;
		while (i < tlen && isspace((unsigned char)text[i]))
			i++;
		if (i >= hi)
			break;
		s = i;
		while (i < tlen && !isspace((unsigned char)text[i]))
			i++;
		add(t, text + s, (int)(i - s), 1);
	}
}

struct pair { char w[16]; long c; };

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->w, ((const struct pair *)b)->w);
}

static uint64_t digest_table(struct wc *t)
{
	struct pair *p = calloc((size_t)t->n + 1, sizeof(*p));
	int k = 0;
	uint64_t d = 0;

	for (int i = 0; i < 8192; i++)
		if (t->w[i]) {
			memcpy(p[k].w, t->w[i], (size_t)t->len[i]);
			p[k++].c = t->cnt[i];
		}
	qsort(p, (size_t)k, sizeof(*p), pair_cmp);
	for (int i = 0; i < k; i++) {
		d = fnv(d, p[i].w, strlen(p[i].w) + 1);
		d = fnv(d, &p[i].c, sizeof(long));
	}
	free(p);
	return d;
}

static uint64_t seq(void)
{
	struct wc *t = calloc(1, sizeof(*t));
	uint64_t d;

	count(t, 0, tlen);
	d = digest_table(t);
	free(t);
	return d;
}

static struct wc *tabs[64];
static int nthr;

static void *thr(void *arg)
{
	long w = (long)arg, lo, hi;

	tabs[w] = calloc(1, sizeof(struct wc));
	block_of(tlen, nthr, (int)w, &lo, &hi);
	count(tabs[w], lo, hi);
	return NULL;
}

static uint64_t par(int n)
{
	struct wc *t = calloc(1, sizeof(*t));
	uint64_t d;

	nthr = n;
	run_threads(n, thr);
	for (int w = 0; w < n; w++) {
		for (int i = 0; i < 8192; i++)
			if (tabs[w]->w[i])
				add(t, tabs[w]->w[i], tabs[w]->len[i], tabs[w]->cnt[i]);
		free(tabs[w]);
	}
	d = digest_table(t);
	free(t);
	return d;
}

static void wc_map(map_args_t *a)
{
	struct wc *t = calloc(1, sizeof(*t));
	long lo = (char *)a->data - text;

	count(t, lo, lo + a->length);
	for (int i = 0; i < 8192; i++)
		if (t->w[i]) {
			char *k = dsm_det_malloc((size_t)t->len[i] + 1);
			memcpy(k, t->w[i], (size_t)t->len[i]);
			k[t->len[i]] = '\0';
			emit_intermediate(k, (void *)(intptr_t)t->cnt[i], t->len[i] + 1);
		}
	free(t);
}

static void *wc_comb(iterator_t *it)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(it, &v))
		s += (intptr_t)v;
	return (void *)s;
}

static void wc_reduce(void *key, iterator_t *it)
{
	emit(key, wc_comb(it));
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static uint64_t mr(int n)
{
	map_reduce_args_t a;
	final_data_t res;
	uint64_t d = 0;

	mr_args(&a, &res, n);
	a.task_data = text;
	a.data_size = tlen;
	a.unit_size = 1;
	a.map = wc_map;
	a.reduce = wc_reduce;
	a.combiner = wc_comb;
	a.key_cmp = str_cmp;
	a.L1_cache_size = chunk(1 << 20);
	if (map_reduce(&a) < 0)
		exit(1);
	for (int i = 0; i < res.length; i++) {
		long c = (long)(intptr_t)res.data[i].val;
		d = fnv(d, res.data[i].key, strlen(res.data[i].key) + 1);
		d = fnv(d, &c, sizeof(long));
	}
	free(res.data);
	return d;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	parse_opts(argc, argv, &o, 8000000);
	gen(o.size);
	map_reduce_init();
	rc = run_modes("word_count", &o, seq, par, mr);
	map_reduce_finalize();
	free(text);
	return rc;
}
