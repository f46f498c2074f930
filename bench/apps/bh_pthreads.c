/*
 * bh_pthreads — Barnes-Hut-like tree code with APP_THREADS threads: at
 * every step thread 0 rebuilds the octree in the shared node array; a
 * barrier; each thread walks it for its block of bodies and stores their
 * accelerations; a barrier; each thread moves its bodies; a barrier.
 *   APP_THREADS=P bh_pthreads [N [STEPS]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct bh p;
static double *pos, *vel, *acc;
static struct bh_tree tree;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi;

	app_split(p.n, k, team.p, &lo, &hi);
	bh_gen(pos, vel, lo, hi);
	app_team_start(&team, k);
	for (int s = 0; s < p.steps; s++) {
		if (k == 0)
			bh_build(&tree, pos, p.n);
		app_team_barrier(&team);
		bh_forces(&tree, pos, lo, hi, acc);
		app_team_barrier(&team);
		bh_move(pos, vel, acc, lo, hi);
		app_team_barrier(&team);
	}
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	bh_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	pos = app_alloc(3 * p.n * sizeof(double));
	vel = app_alloc(3 * p.n * sizeof(double));
	acc = app_alloc(3 * p.n * sizeof(double));
	bh_tree_init(&tree, p.n);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = bh_seq(&p, &secs);
	ok = app_check_exact("bh", pos, ref, 3 * p.n, sizeof(double));
	free(ref);
	free(tree.nodes);
	app_report("bh", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
