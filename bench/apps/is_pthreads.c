/*
 * is_pthreads — integer sort with APP_THREADS threads: each thread counts
 * its keys per bucket (bucket b = thread b's share of the key range); a
 * barrier; each writes its keys to their places in a bucket-major array;
 * a barrier; each radix-sorts its bucket in place.
 *   APP_THREADS=P is_pthreads [N]
 */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct is p;
static uint32_t *keys, *out, *tmp; /* tmp: radix scratch, by bucket */
static uint64_t *counts; /* [src][bucket] */
static struct app_team team;

static void scatter(int k, size_t lo, size_t hi)
{
	size_t off[256];

	for (int b = 0; b < team.p; b++)
		off[b] = is_chunk(counts, team.p, 1, k, b);
	for (size_t i = lo; i < hi; i++)
		out[off[is_bucket(keys[i], team.p)]++] = keys[i];
}

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi, blo, bhi;

	app_split(p.n, k, team.p, &lo, &hi);
	is_gen(keys + lo, lo, hi);
	app_team_start(&team, k);
	is_count(keys + lo, hi - lo, team.p, counts + k * team.p);
	app_team_barrier(&team);
	scatter(k, lo, hi);
	app_team_barrier(&team);
	blo = is_chunk(counts, team.p, 1, 0, k);
	bhi = is_chunk(counts, team.p, 1, team.p, k);
	is_radix(out + blo, tmp + blo, bhi - blo);
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs;
	uint32_t *ref;

	is_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	keys = app_alloc(p.n * sizeof(uint32_t));
	out = app_alloc(p.n * sizeof(uint32_t));
	tmp = app_alloc(p.n * sizeof(uint32_t));
	counts = app_alloc((size_t)team.p * team.p * sizeof(uint64_t));
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = is_seq(&p, &secs);
	ok = app_check_exact("is", out, ref, p.n, sizeof(uint32_t));
	free(ref);
	app_report("is", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
