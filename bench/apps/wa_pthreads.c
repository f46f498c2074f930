/*
 * wa_pthreads — water-like n-body with APP_THREADS threads and a mutex
 * per molecule: each thread computes its molecules' pairs into a private
 * force array, adds every molecule it touched into the shared forces
 * under that molecule's mutex, a barrier, moves its molecules (taking
 * their forces under their mutexes), a barrier (apps.h).
 *   APP_THREADS=P wa_pthreads [N [STEPS]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

static struct wa p;
static double *pos, *vel, *force;
static pthread_mutex_t *locks;
static struct app_team team;

/* Molecules [lo, hi) touch themselves and the next n/2 (mod n). */
static void merge(const double *mine, size_t lo, size_t hi)
{
	size_t cnt = hi - lo + p.n / 2 < p.n ? hi - lo + p.n / 2 : p.n;

	for (size_t t = 0; t < cnt; t++) {
		size_t j = (lo + t) % p.n;
		pthread_mutex_lock(&locks[j]);
		for (int c = 0; c < 3; c++)
			force[3 * j + c] += mine[3 * j + c];
		pthread_mutex_unlock(&locks[j]);
	}
}

static void move(double *mf, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		pthread_mutex_lock(&locks[i]);
		for (int c = 0; c < 3; c++) {
			mf[3 * i + c] = force[3 * i + c];
			force[3 * i + c] = 0;
		}
		pthread_mutex_unlock(&locks[i]);
	}
	nb_move(pos, vel, mf, lo, hi);
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
		merge(mine, lo, hi);
		app_team_barrier(&team);
		move(mine, lo, hi);
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

	wa_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	pos = app_alloc(3 * p.n * sizeof(double));
	vel = app_alloc(3 * p.n * sizeof(double));
	force = app_alloc(3 * p.n * sizeof(double));
	locks = app_alloc(p.n * sizeof(*locks));
	for (size_t i = 0; i < p.n; i++)
		pthread_mutex_init(&locks[i], NULL);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = wa_seq(&p, &secs);
	ok = app_check_tol("wa", pos, ref, 3 * p.n, NB_TOL);
	free(ref);
	app_report("wa", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
