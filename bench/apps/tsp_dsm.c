/*
 * tsp_dsm — branch-and-bound TSP in libdsm shared memory: a shared task
 * queue (the tasks, written by node 0, and the index of the next one)
 * under lock QLOCK and the best tour under lock BLOCK. A node takes the
 * next task under QLOCK, reads the bound under BLOCK, searches the task
 * with a private copy of the bound and, if it found a shorter tour,
 * publishes it under BLOCK. Node 0 checks the length against the
 * sequential search and the tour.   dsmrun -n P tsp_dsm [N [DEPTH]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define QLOCK 1u
#define BLOCK 2u

struct queue {
	int64_t next, count;
	struct tsp_task t[];
};

struct best {
	int32_t len;
	uint8_t tour[TSP_MAX];
};

/* The next task into *t under QLOCK; 0 when the queue is empty. */
static int take(struct dapp *d, struct queue *q, struct tsp_task *t)
{
	int have = 0;

	dapp_lock(d, QLOCK);
	if (q->next < q->count) {
		*t = q->t[q->next++];
		have = 1;
	}
	dapp_unlock(d, QLOCK);
	return have;
}

static void work(struct dapp *d, const struct tsp_data *data, struct queue *q,
		 struct best *b)
{
	struct tsp_task t;
	uint8_t tour[TSP_MAX];

	while (take(d, q, &t)) {
		int32_t bound, was;
		dapp_lock(d, BLOCK);
		bound = was = b->len;
		dapp_unlock(d, BLOCK);
		tsp_search(data, &t, &bound, tour);
		if (bound >= was)
			continue;
		dapp_lock(d, BLOCK);
		if (bound < b->len) {
			b->len = bound;
			memcpy(b->tour, tour, (size_t)data->n);
		}
		dapp_unlock(d, BLOCK);
	}
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct tsp p;
	struct tsp_data *data = app_alloc(sizeof(*data));
	struct queue *q;
	struct best *b, got;
	size_t nt, qsz;
	int ok = 1;

	dapp_init(&d, "tsp", &argc, &argv);
	tsp_params(&p, argc, argv);
	tsp_gen(&p, data);
	nt = tsp_tasks(&p, data, NULL);
	qsz = sizeof(*q) + nt * sizeof(q->t[0]);
	q = dapp_alloc(&d, qsz);
	b = dapp_alloc(&d, sizeof(*b));
	dapp_bind(&d, QLOCK, q, qsz);
	dapp_bind(&d, BLOCK, b, sizeof(*b));
	if (d.me == 0) {
		dapp_lock(&d, QLOCK);
		tsp_tasks(&p, data, q->t);
		q->count = (int64_t)nt;
		q->next = 0;
		dapp_unlock(&d, QLOCK);
		dapp_lock(&d, BLOCK);
		b->len = tsp_greedy(data, b->tour);
		dapp_unlock(&d, BLOCK);
	}
	dapp_start(&d);
	work(&d, data, q, b);
	dapp_stop(&d);
	if (d.me == 0) {
		uint8_t ref_tour[TSP_MAX];
		double secs;
		int32_t ref = tsp_seq(&p, ref_tour, &secs);
		dapp_lock(&d, BLOCK);
		got = *b;
		dapp_unlock(&d, BLOCK);
		ok = got.len == ref && tsp_valid(data, got.tour, got.len);
		if (!ok)
			fprintf(stderr, "tsp: tour of length %d (valid: %d), sequential %d\n",
				(int)got.len, tsp_valid(data, got.tour, got.len), (int)ref);
	}
	free(data);
	return dapp_finish(&d, ok);
}
