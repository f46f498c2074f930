/*
 * km_pthreads — k-means with APP_THREADS threads: each thread assigns its
 * block of points into private sums, adds them to the shared sums under a
 * mutex, and after a barrier every thread computes the same centroids.
 * Three sum buffers rotate so that clearing the next one never races with
 * a reader of the last one.   APP_THREADS=P km_pthreads [N [K [ITERS]]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

static struct km p;
static double *pts, *cent_final;
static int64_t *sums[3];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi, sz = (size_t)p.k * KM_S * sizeof(int64_t);
	double *cent = app_alloc((size_t)p.k * KM_D * sizeof(double));
	int64_t *mine = app_alloc(sz);

	app_split(p.n, k, team.p, &lo, &hi);
	km_gen(pts + lo * KM_D, lo, hi);
	km_first_centroids(cent, p.k);
	app_team_start(&team, k);
	for (int it = 0; it < p.iters; it++) {
		memset(mine, 0, sz);
		km_assign(pts + lo * KM_D, hi - lo, cent, p.k, mine);
		pthread_mutex_lock(&mu);
		for (int s = 0; s < p.k * KM_S; s++)
			sums[it % 3][s] += mine[s];
		pthread_mutex_unlock(&mu);
		if (k == 0)
			memset(sums[(it + 1) % 3], 0, sz);
		app_team_barrier(&team);
		km_update(cent, sums[it % 3], p.k);
	}
	app_team_stop(&team, k);
	if (k == 0)
		cent_final = cent;
	else
		free(cent);
	free(mine);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs, *ref;

	km_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	pts = app_alloc(p.n * KM_D * sizeof(double));
	for (int s = 0; s < 3; s++)
		sums[s] = app_alloc((size_t)p.k * KM_S * sizeof(int64_t));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = km_seq(&p, &secs);
	ok = app_check_exact("km", cent_final, ref, (size_t)p.k * KM_D, sizeof(double));
	free(ref);
	app_report("km", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
