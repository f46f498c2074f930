/*
 * wc.c — word count: text generator, striped hash table, sequential
 * reference.
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

_Static_assert(sizeof(struct wc_entry) * WC_STRIPE == APP_PAGE,
	       "a stripe is one page");

void wc_params(struct wc *p, int argc, char **argv)
{
	size_t cap;

	p->words = (size_t)app_arg(argc, argv, 1, 2000000);
	p->vocab = (size_t)app_arg(argc, argv, 2, 20000);
	p->passes = (int)app_arg(argc, argv, 3, 1);
	if (p->passes < 1)
		app_die("wc", "PASSES must be at least 1");
	if (p->vocab > 400000)
		app_die("wc", "VOCAB must be at most 400000");
	for (cap = WC_STRIPE; cap < 3 * p->vocab; cap *= 2)
		;
	p->stripes = cap / WC_STRIPE;
}

/* Word id for text position i: cubed uniform, so low ids are frequent. */
static size_t word_id(size_t i, size_t vocab)
{
	double u = app_unit(51, i);
	return (size_t)(u * u * u * (double)vocab);
}

/* Four base-26 letters encode the id (so words are distinct), then 0..5
 * letters chosen by a hash of the id. */
static size_t spell(char *out, size_t id)
{
	uint64_t h = app_hash(52, id);
	size_t len = 4 + (size_t)(h % 6), x = id;

	for (size_t k = 0; k < 4; k++, x /= 26)
		out[k] = (char)('a' + x % 26);
	for (size_t k = 4; k < len; k++)
		out[k] = (char)('a' + (h >> (8 + 5 * k)) % 26);
	return len;
}

size_t wc_gen(char *buf, size_t lo, size_t hi, size_t vocab)
{
	size_t len = 0;

	for (size_t i = lo; i < hi; i++) {
		len += spell(buf + len, word_id(i, vocab));
		buf[len++] = ' ';
	}
	return len;
}

static uint64_t hash_word(const char *w)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *w; w++)
		h = (h ^ (unsigned char)*w) * 1099511628211ull;
	return h;
}

size_t wc_stripe_of(const struct wc *p, const char *w)
{
	return (size_t)(hash_word(w) >> 32) % p->stripes;
}

void wc_add(struct wc_entry *stripe, const char *w, uint64_t count)
{
	size_t s = (size_t)hash_word(w) % WC_STRIPE;

	for (size_t probe = 0; probe < WC_STRIPE; probe++) {
		struct wc_entry *e = &stripe[(s + probe) % WC_STRIPE];
		if (e->w[0] == 0) {
			strcpy(e->w, w);
			e->count = count;
			return;
		}
		if (strcmp(e->w, w) == 0) {
			e->count += count;
			return;
		}
	}
	app_die("wc", "a hash table stripe is full");
}

static void count_once(const struct wc *p, struct wc_entry *t, const char *text,
		       size_t len)
{
	char w[WC_LEN];

	for (size_t i = 0; i < len;) {
		size_t k = 0;
		while (i < len && text[i] != ' ' && k + 1 < WC_LEN)
			w[k++] = text[i++];
		w[k] = 0;
		i++; /* the space */
		if (k)
			wc_add(t + wc_stripe_of(p, w) * WC_STRIPE, w, 1);
	}
}

void wc_count(const struct wc *p, struct wc_entry *t, const char *text, size_t len)
{
	for (int r = 0; r < p->passes; r++)
		count_once(p, t, text, len);
}

void wc_merge_stripe(struct wc_entry *dst, const struct wc_entry *src)
{
	for (size_t e = 0; e < WC_STRIPE; e++)
		if (src[e].w[0])
			wc_add(dst, src[e].w, src[e].count);
}

static int by_word(const void *a, const void *b)
{
	return strcmp(((const struct wc_entry *)a)->w, ((const struct wc_entry *)b)->w);
}

void wc_sort(struct wc_entry *e, size_t n)
{
	qsort(e, n, sizeof(*e), by_word);
}

struct wc_entry *wc_sorted(const struct wc_entry *t, size_t nstripes, size_t *cnt)
{
	size_t n = 0, cap = nstripes * WC_STRIPE;
	struct wc_entry *out = app_alloc(cap * sizeof(*out));

	for (size_t e = 0; e < cap; e++)
		if (t[e].w[0])
			out[n++] = t[e];
	wc_sort(out, n);
	*cnt = n;
	return out;
}

struct wc_entry *wc_seq(const struct wc *p, size_t *cnt, double *secs)
{
	char *text = app_alloc(p->words * WC_LEN);
	struct wc_entry *t = app_alloc(p->stripes * APP_PAGE), *out;
	size_t len = wc_gen(text, 0, p->words, p->vocab);
	double t0 = app_now();

	wc_count(p, t, text, len);
	*secs = app_now() - t0;
	out = wc_sorted(t, p->stripes, cnt);
	free(text);
	free(t);
	return out;
}
