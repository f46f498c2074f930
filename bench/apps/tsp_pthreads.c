/*
 * tsp_pthreads — branch-and-bound TSP with APP_THREADS threads: a task
 * queue (the next task's index) and the best tour, each under its mutex.
 * A thread takes the next task, reads the bound, searches the task with
 * a private copy of the bound and publishes a shorter tour if it found
 * one.   APP_THREADS=P tsp_pthreads [N [DEPTH]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

static struct tsp p;
static struct tsp_data data;
static struct tsp_task *tasks;
static size_t ntasks, next;
static int32_t best;
static uint8_t best_tour[TSP_MAX];
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER, bmu = PTHREAD_MUTEX_INITIALIZER;
static struct app_team team;

static void *work(void *arg)
{
	int k = *(int *)arg;
	uint8_t tour[TSP_MAX];

	app_team_start(&team, k);
	for (;;) {
		struct tsp_task t;
		int32_t bound;
		int have = 0;
		pthread_mutex_lock(&qmu);
		if (next < ntasks) {
			t = tasks[next++];
			have = 1;
		}
		pthread_mutex_unlock(&qmu);
		if (!have)
			break;
		pthread_mutex_lock(&bmu);
		bound = best;
		pthread_mutex_unlock(&bmu);
		int32_t was = bound;
		tsp_search(&data, &t, &bound, tour);
		if (bound < was) {
			pthread_mutex_lock(&bmu);
			if (bound < best) {
				best = bound;
				memcpy(best_tour, tour, (size_t)p.n);
			}
			pthread_mutex_unlock(&bmu);
		}
	}
	app_team_stop(&team, k);
	return NULL;
}

int main(int argc, char **argv)
{
	int ids[256], ok;
	uint8_t ref_tour[TSP_MAX];
	char extra[64];
	double secs;
	int32_t ref;

	tsp_params(&p, argc, argv);
	app_team_init(&team, app_threads());
	tsp_gen(&p, &data);
	ntasks = tsp_tasks(&p, &data, NULL);
	tasks = app_alloc(ntasks * sizeof(*tasks));
	tsp_tasks(&p, &data, tasks);
	best = tsp_greedy(&data, best_tour);
	for (int k = 0; k < team.p; k++)
		ids[k] = k;
	app_run_threads(team.p, work, ids, sizeof ids[0]);
	ref = tsp_seq(&p, ref_tour, &secs);
	ok = best == ref && tsp_valid(&data, best_tour, best);
	if (!ok)
		fprintf(stderr, "tsp: tour of length %d (valid: %d), sequential %d\n",
			(int)best, tsp_valid(&data, best_tour, best), (int)ref);
	snprintf(extra, sizeof extra, "tour=%d", (int)best);
	free(tasks);
	app_report("tsp", "pthreads", team.p, NULL, team.t1 - team.t0, ok, extra);
	return ok ? 0 : 1;
}
