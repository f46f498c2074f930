/*
 * mm_pthreads — matrix multiply with APP_THREADS threads: each thread
 * generates and computes a block of rows.   APP_THREADS=P mm_pthreads [N]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct mm p;
static double *a, *b, *c;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t n = p.n, lo, hi;

	app_split(n, k, team.p, &lo, &hi);
	mm_gen_rows(a + lo * n, n, lo, hi, 1);
	mm_gen_rows(b + lo * n, n, lo, hi, 2);
	app_team_start(&team, k);
	mm_rows(c + lo * n, a + lo * n, b, n, hi - lo);
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	mm_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	a = app_alloc(p.n * p.n * sizeof(double));
	b = app_alloc(p.n * p.n * sizeof(double));
	c = app_alloc(p.n * p.n * sizeof(double));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = mm_seq(&p, &secs);
	ok = app_check_exact("mm", c, ref, p.n * p.n, sizeof(double));
	free(ref);
	app_report("mm", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
