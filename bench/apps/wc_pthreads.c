/*
 * wc_pthreads — word count with APP_THREADS threads: each thread counts
 * its share of the text into a private table, then merges it into the
 * shared table stripe group by stripe group, each group under its mutex,
 * starting at a different group per thread.
 *   APP_THREADS=P wc_pthreads [WORDS [VOCAB [PASSES]]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"

#define GROUPS 64

static struct wc p;
static struct wc_entry *table;
static pthread_mutex_t locks[GROUPS];
static struct app_team team;

static void merge(const struct wc_entry *mine, int k)
{
	size_t per = (p.stripes + GROUPS - 1) / GROUPS;

	for (size_t g0 = 0; g0 < GROUPS; g0++) {
		size_t g = (g0 + GROUPS * (size_t)k / (size_t)team.p) % GROUPS;
		pthread_mutex_lock(&locks[g]);
		for (size_t s = g * per; s < (g + 1) * per && s < p.stripes; s++)
			wc_merge_stripe(table + s * WC_STRIPE, mine + s * WC_STRIPE);
		pthread_mutex_unlock(&locks[g]);
	}
}

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi, len;
	char *text;
	struct wc_entry *mine = app_alloc(p.stripes * APP_PAGE);

	app_split(p.words, k, team.p, &lo, &hi);
	text = app_alloc((hi - lo) * WC_LEN + 1);
	len = wc_gen(text, lo, hi, p.vocab);
	app_team_start(&team, k);
	wc_count(&p, mine, text, len);
	merge(mine, k);
	app_team_stop(&team, k);
	free(text);
	free(mine);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs;
	size_t n, nref;
	struct wc_entry *got, *ref;

	wc_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	table = app_alloc(p.stripes * APP_PAGE);
	for (int g = 0; g < GROUPS; g++)
		pthread_mutex_init(&locks[g], NULL);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	got = wc_sorted(table, p.stripes, &n);
	ref = wc_seq(&p, &nref, &secs);
	ok = n == nref && app_check_exact("wc", got, ref, n, sizeof(*got));
	if (n != nref)
		fprintf(stderr, "wc: %zu distinct words, sequential %zu\n", n, nref);
	free(got);
	free(ref);
	app_report("wc", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
