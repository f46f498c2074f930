/*
 * hg_pthreads — histogram with APP_THREADS threads: each thread counts
 * its block of values into a private histogram and adds it into the
 * shared one under a mutex.   APP_THREADS=P hg_pthreads [N [BINS [PASSES]]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct hg p;
static uint32_t *vals;
static uint64_t *hist;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi;
	uint64_t *mine = app_alloc(p.bins * sizeof(uint64_t));

	app_split(p.n, k, team.p, &lo, &hi);
	hg_gen(vals + lo, lo, hi, p.bins);
	app_team_start(&team, k);
	hg_count(vals + lo, hi - lo, mine, p.passes);
	pthread_mutex_lock(&mu);
	for (size_t b = 0; b < p.bins; b++)
		hist[b] += mine[b];
	pthread_mutex_unlock(&mu);
	app_team_stop(&team, k);
	free(mine);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs;
	uint64_t *ref;

	hg_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	vals = app_alloc(p.n * sizeof(uint32_t));
	hist = app_alloc(p.bins * sizeof(uint64_t));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = hg_seq(&p, &secs);
	ok = app_check_exact("hg", hist, ref, p.bins, sizeof(uint64_t));
	free(ref);
	app_report("hg", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
