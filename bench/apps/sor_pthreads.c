/*
 * sor_pthreads — Jacobi relaxation with APP_THREADS threads on one
 * machine: contiguous row blocks, first touched by their thread, a barrier
 * after every sweep.   APP_THREADS=P sor_pthreads [N [ITERS]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct sor p;
static double *grid[2];
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t n = p.n, lo, hi;

	app_split(n, k, team.p, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		sor_init_row(grid[0] + i * n, n, i);
		sor_init_row(grid[1] + i * n, n, i);
	}
	lo = lo < 1 ? 1 : lo;
	hi = hi > n - 1 ? n - 1 : hi;
	app_team_start(&team, k);
	for (int it = 0; it < p.iters; it++) {
		const double *s = grid[it % 2];
		for (size_t i = lo; i < hi; i++)
			sor_relax_row(grid[1 - it % 2] + i * n, s + (i - 1) * n, s + i * n,
				      s + (i + 1) * n, n);
		app_team_barrier(&team);
	}
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	sor_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	grid[0] = app_alloc(p.n * p.n * sizeof(double));
	grid[1] = app_alloc(p.n * p.n * sizeof(double));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = sor_seq(&p, &secs);
	ok = app_check_exact("sor", grid[p.iters % 2], ref, p.n * p.n, sizeof(double));
	free(ref);
	app_report("sor", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
