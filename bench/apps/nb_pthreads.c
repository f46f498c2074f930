/*
 * nb_pthreads — all-pairs forces with APP_THREADS threads, the way
 * SPLASH-2 water does it: each thread computes the pairs of its bodies
 * into a private force array and adds it into the shared forces one page
 * (512 doubles) at a time under that page's mutex, starting at a
 * different page per thread; a barrier; each thread moves its bodies.
 *   APP_THREADS=P nb_pthreads [N [STEPS]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

#define CHUNK (APP_PAGE / sizeof(double))

static struct nb p;
static double *pos, *vel, *force;
static pthread_mutex_t *locks;
static size_t nchunks;
static struct app_team team;

static void merge(const double *mine, int k)
{
	for (size_t c0 = 0; c0 < nchunks; c0++) {
		size_t c = (c0 + nchunks * (size_t)k / (size_t)team.p) % nchunks;
		size_t hi = (c + 1) * CHUNK < 3 * p.n ? (c + 1) * CHUNK : 3 * p.n;
		pthread_mutex_lock(&locks[c]);
		for (size_t x = c * CHUNK; x < hi; x++)
			force[x] += mine[x];
		pthread_mutex_unlock(&locks[c]);
	}
}

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi;
	double *mine = app_alloc(3 * p.n * sizeof(double));

	app_split(p.n, k, team.p, &lo, &hi);
	nb_gen(pos, vel, lo, hi);
	app_team_start(&team, k);
	for (int s = 0; s < p.steps; s++) {
		memset(mine, 0, 3 * p.n * sizeof(double));
		nb_forces(pos, p.n, lo, hi, mine);
		merge(mine, k);
		app_team_barrier(&team);
		nb_move(pos, vel, force, lo, hi);
		app_team_barrier(&team);
	}
	app_team_stop(&team, k);
	free(mine);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	nb_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	pos = app_alloc(3 * p.n * sizeof(double));
	vel = app_alloc(3 * p.n * sizeof(double));
	force = app_alloc(3 * p.n * sizeof(double));
	nchunks = (3 * p.n + CHUNK - 1) / CHUNK;
	locks = app_alloc(nchunks * sizeof(*locks));
	for (size_t c = 0; c < nchunks; c++)
		pthread_mutex_init(&locks[c], NULL);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = nb_seq(&p, &secs);
	ok = app_check_tol("nb", pos, ref, 3 * p.n, NB_TOL);
	free(ref);
	app_report("nb", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
