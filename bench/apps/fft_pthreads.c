/*
 * fft_pthreads — 3-D FFT with APP_THREADS threads: each transforms its
 * x-planes of a, a barrier, transposes its z-planes of b from all of a
 * and transforms them, a barrier, transposes its x-planes of a back from
 * all of b (apps.h).   APP_THREADS=P fft_pthreads [N [ITERS]]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct fft p;
static struct fft_c *a, *b;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi;

	app_split(p.n, k, team.p, &lo, &hi);
	fft_gen(&p, a, lo, hi);
	app_team_start(&team, k);
	for (int it = 0; it < p.iters; it++) {
		fft_yz(&p, a, lo, hi, -1);
		app_team_barrier(&team);
		fft_transpose(&p, b, a, lo, hi);
		fft_x(&p, b, lo, hi, it);
		app_team_barrier(&team);
		fft_transpose(&p, a, b, lo, hi);
		fft_yz(&p, a, lo, hi, +1);
	}
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	size_t bytes;
	double secs;
	struct fft_c *ref;

	fft_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	bytes = p.n * p.n * p.n * sizeof(struct fft_c);
	a = app_alloc(bytes);
	b = app_alloc(bytes);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = fft_seq(&p, &secs);
	ok = app_check_exact("fft", a, ref, p.n * p.n * p.n, sizeof(struct fft_c));
	free(ref);
	app_report("fft", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
