/*
 * wc_dsm — word count in libdsm shared memory. Each node counts its share
 * of the text (private memory, as if read from a local file) into a
 * private table, then merges it into the shared table group of stripes by
 * group, each group (whole pages) under its own lock, starting at a
 * different group per node: irregular writes under locks, pages migrate.
 * Node 0 checks the table, holding every group's lock shared.
 *   dsmrun -n P wc_dsm [WORDS [VOCAB [PASSES]]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define GROUPS 64
#define LOCK0 200u

static struct wc p;

static size_t per_group(void)
{
	return (p.stripes + GROUPS - 1) / GROUPS;
}

static void merge(struct dapp *d, struct wc_entry *table, const struct wc_entry *mine)
{
	size_t per = per_group();

	for (size_t g0 = 0; g0 < GROUPS; g0++) {
		size_t g = (g0 + GROUPS * (size_t)d->me / (size_t)d->np) % GROUPS;
		if (g * per >= p.stripes)
			continue;
		dapp_lock(d, LOCK0 + (unsigned)g);
		for (size_t s = g * per; s < (g + 1) * per && s < p.stripes; s++)
			wc_merge_stripe(table + s * WC_STRIPE, mine + s * WC_STRIPE);
		dapp_unlock(d, LOCK0 + (unsigned)g);
	}
}

/* Node 0: the table's sorted entries against the sequential count. */
static int check(struct dapp *d, const struct wc_entry *table)
{
	size_t n, nref, per = per_group();
	struct wc_entry *got, *ref;
	double secs;
	int ok;

	for (unsigned g = 0; g < GROUPS && g * per < p.stripes; g++)
		dapp_lock_shared(d, LOCK0 + g);
	got = wc_sorted(table, p.stripes, &n);
	for (unsigned g = 0; g < GROUPS && g * per < p.stripes; g++)
		dapp_unlock(d, LOCK0 + g);
	ref = wc_seq(&p, &nref, &secs);
	ok = n == nref && app_check_exact("wc", got, ref, n, sizeof(*got));
	if (n != nref)
		fprintf(stderr, "wc: %zu distinct words, sequential %zu\n", n, nref);
	free(got);
	free(ref);
	return ok;
}

int main(int argc, char **argv)
{
	struct dapp d;
	size_t lo, hi, len, per;
	struct wc_entry *table, *mine;
	char *text;
	int ok = 1;

	dapp_init(&d, "wc", &argc, &argv);
	wc_params(&p, argc, argv);
	table = dapp_alloc(&d, p.stripes * APP_PAGE);
	per = per_group();
	for (size_t g = 0; g < GROUPS && g * per < p.stripes; g++) {
		size_t ns = (g + 1) * per <= p.stripes ? per : p.stripes - g * per;
		dapp_bind(&d, LOCK0 + (unsigned)g, table + g * per * WC_STRIPE,
			  ns * APP_PAGE);
	}
	mine = app_alloc(p.stripes * APP_PAGE);
	app_split(p.words, d.me, d.np, &lo, &hi);
	text = app_alloc((hi - lo) * WC_LEN + 1);
	len = wc_gen(text, lo, hi, p.vocab);
	dapp_start(&d);
	wc_count(&p, mine, text, len);
	merge(&d, table, mine);
	dapp_stop(&d);
	if (d.me == 0)
		ok = check(&d, table);
	free(text);
	free(mine);
	return dapp_finish(&d, ok);
}
