/*
 * qs_pthreads — quicksort with APP_THREADS threads sharing a task queue
 * under a mutex (see apps.h).   APP_THREADS=P qs_pthreads [N [CUTOFF]]
 */
#include <sched.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"

static struct qs p;
static uint32_t *keys;
static struct qs_queue q;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct app_team team;

/* Sort [lo, hi): partition, queue right parts, sort the rest here. */
static void task(size_t lo, size_t hi)
{
	while (hi - lo > p.cutoff) {
		size_t k = lo + qs_partition(keys + lo, hi - lo);
		pthread_mutex_lock(&mu);
		int queued = q.ntask < QS_MAXTASK;
		if (queued) {
			q.lo[q.ntask] = k;
			q.hi[q.ntask++] = hi;
			q.outstanding++;
		}
		pthread_mutex_unlock(&mu);
		if (!queued)
			break;
		hi = k;
	}
	qs_sort_leaf(keys + lo, hi - lo);
}

static void *work(void *arg)
{
	int k = *(int *)arg;
	size_t lo, hi;

	app_split(p.n, k, team.p, &lo, &hi);
	qs_gen(keys + lo, lo, hi);
	app_team_start(&team, k);
	for (;;) {
		int got = 0, done = 0;
		pthread_mutex_lock(&mu);
		if (q.ntask) {
			got = 1;
			q.ntask--;
			lo = q.lo[q.ntask];
			hi = q.hi[q.ntask];
		} else {
			done = q.outstanding == 0;
		}
		pthread_mutex_unlock(&mu);
		if (done)
			break;
		if (!got) {
			sched_yield();
			continue;
		}
		task(lo, hi);
		pthread_mutex_lock(&mu);
		q.outstanding--;
		pthread_mutex_unlock(&mu);
	}
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	double secs;
	uint32_t *ref;

	qs_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	keys = app_alloc(p.n * sizeof(uint32_t));
	q.lo[0] = 0;
	q.hi[0] = p.n;
	q.ntask = q.outstanding = 1;
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = qs_seq(&p, &secs);
	ok = app_check_exact("qs", keys, ref, p.n, sizeof(uint32_t));
	free(ref);
	app_report("qs", "pthreads", team.p, NULL, team.t1 - team.t0, ok, NULL);
	return ok ? 0 : 1;
}
