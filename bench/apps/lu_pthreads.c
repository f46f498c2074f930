/*
 * lu_pthreads — blocked LU with APP_THREADS threads: block column J
 * belongs to thread J mod P. Step k: the owner of column k factors the
 * diagonal block and the L blocks below it; a barrier; every thread
 * updates the U block and the trailing blocks of its own columns. The
 * owner of column k+1 updated it itself, so one barrier per step suffices.
 *   APP_THREADS=P lu_pthreads [N [B]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct lu p;
static double *a;
static struct app_team team;

static void update(size_t k, size_t j)
{
	double *akj = lu_block(&p, a, k, j);

	lu_row(akj, lu_block(&p, a, k, k), p.b);
	for (size_t i = k + 1; i < p.nb; i++)
		lu_trail(lu_block(&p, a, i, j), lu_block(&p, a, i, k), akj, p.b);
}

static void *work(void *arg)
{
	int me = *(int *)arg;
	size_t np = (size_t)team.p;

	for (size_t j = (size_t)me; j < p.nb; j += np)
		for (size_t i = 0; i < p.nb; i++)
			lu_gen_block(&p, lu_block(&p, a, i, j), i, j);
	app_team_start(&team, me);
	for (size_t k = 0; k < p.nb; k++) {
		if (k % np == (size_t)me)
			lu_panel(&p, a, k);
		app_team_barrier(&team);
		for (size_t j = k + 1; j < p.nb; j++)
			if (j % np == (size_t)me)
				update(k, j);
	}
	app_team_stop(&team, me);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	lu_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	a = app_alloc(p.n * p.n * sizeof(double));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = lu_seq(&p, &secs);
	ok = app_check_exact("lu", a, ref, p.n * p.n, sizeof(double));
	free(ref);
	app_report("lu", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
