/*
 * tsp.c — branch-and-bound travelling salesman: generator, task list,
 * search kernel and sequential reference (apps.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"

void tsp_params(struct tsp *p, int argc, char **argv)
{
	p->n = (int)app_arg(argc, argv, 1, 17);
	p->depth = (int)app_arg(argc, argv, 2, 3);
	if (p->n < 3 || p->n > TSP_MAX)
		app_die("tsp", "need 3 <= N <= 32");
	if (p->depth < 1 || p->depth >= p->n)
		app_die("tsp", "need 1 <= DEPTH < N");
}

/* Cities are points of a 1000 x 1000 square; distances rounded. */
void tsp_gen(const struct tsp *p, struct tsp_data *d)
{
	int n = p->n, x[TSP_MAX], y[TSP_MAX];

	memset(d, 0, sizeof(*d));
	d->n = n;
	for (int i = 0; i < n; i++) {
		x[i] = (int)(app_hash(21, (uint64_t)i) % 1000);
		y[i] = (int)(app_hash(22, (uint64_t)i) % 1000);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			double dx = x[i] - x[j], dy = y[i] - y[j];
			d->dist[i * TSP_MAX + j] = (int32_t)lround(sqrt(dx * dx + dy * dy));
		}
	for (int i = 0; i < n; i++) {
		uint8_t *o = d->order + i * TSP_MAX;
		int k = 0;
		for (int j = 0; j < n; j++)
			if (j != i)
				o[k++] = (uint8_t)j;
		/* insertion sort by (distance, city): n is small */
		for (int a = 1; a < k; a++)
			for (int b = a; b > 0; b--) {
				int32_t db = d->dist[i * TSP_MAX + o[b]];
				int32_t da = d->dist[i * TSP_MAX + o[b - 1]];
				if (da < db || (da == db && o[b - 1] < o[b]))
					break;
				uint8_t t = o[b];
				o[b] = o[b - 1];
				o[b - 1] = t;
			}
		d->minout[i] = d->dist[i * TSP_MAX + o[0]];
	}
}

/* Paths of depth cities from city 0, nearest city first at each level. */
static size_t gen_tasks(const struct tsp *p, const struct tsp_data *d,
			struct tsp_task *cur, struct tsp_task *t, size_t k)
{
	int last = cur->path[cur->len - 1];

	if (cur->len == p->depth) {
		if (t)
			t[k] = *cur;
		return k + 1;
	}
	for (int i = 0; i < p->n - 1; i++) {
		int c = d->order[last * TSP_MAX + i], seen = 0;
		for (int j = 0; j < cur->len; j++)
			seen |= cur->path[j] == c;
		if (seen)
			continue;
		cur->path[cur->len++] = (uint8_t)c;
		cur->cost += d->dist[last * TSP_MAX + c];
		k = gen_tasks(p, d, cur, t, k);
		cur->cost -= d->dist[last * TSP_MAX + c];
		cur->len--;
	}
	return k;
}

size_t tsp_tasks(const struct tsp *p, const struct tsp_data *d, struct tsp_task *t)
{
	struct tsp_task cur = { .len = 1 };

	return gen_tasks(p, d, &cur, t, 0);
}

int32_t tsp_greedy(const struct tsp_data *d, uint8_t *tour)
{
	uint32_t seen = 1;
	int32_t len = 0;
	int last = 0;

	tour[0] = 0;
	for (int k = 1; k < d->n; k++) {
		for (int i = 0; i < d->n - 1; i++) {
			int c = d->order[last * TSP_MAX + i];
			if (seen >> c & 1)
				continue;
			tour[k] = (uint8_t)c;
			len += d->dist[last * TSP_MAX + c];
			seen |= 1u << c;
			last = c;
			break;
		}
	}
	return len + d->dist[last * TSP_MAX];
}

struct search {
	const struct tsp_data *d;
	int32_t *bound;
	uint8_t *tour;
	uint8_t path[TSP_MAX];
	uint64_t nodes;
};

/* path[0..depth) is set; left: cities not on it; rest: the sum of their
 * shortest outgoing edges. */
static void dfs(struct search *s, int depth, int32_t cost, uint32_t left, int32_t rest)
{
	const struct tsp_data *d = s->d;
	int last = s->path[depth - 1];

	s->nodes++;
	if (depth == d->n) {
		int32_t total = cost + d->dist[last * TSP_MAX];
		if (total < *s->bound) {
			*s->bound = total;
			memcpy(s->tour, s->path, (size_t)d->n);
		}
		return;
	}
	if (cost + d->minout[last] + rest >= *s->bound)
		return; /* every completion is at least as long as the best */
	for (int i = 0; i < d->n - 1; i++) {
		int c = d->order[last * TSP_MAX + i];
		if (!(left >> c & 1))
			continue;
		s->path[depth] = (uint8_t)c;
		dfs(s, depth + 1, cost + d->dist[last * TSP_MAX + c], left & ~(1u << c),
		    rest - d->minout[c]);
	}
}

uint64_t tsp_search(const struct tsp_data *d, const struct tsp_task *t,
		    int32_t *bound, uint8_t *tour)
{
	struct search s = { .d = d, .bound = bound, .tour = tour };
	uint32_t left = 0;
	int32_t rest = 0;

	for (int c = 0; c < d->n; c++)
		left |= 1u << c;
	for (int j = 0; j < t->len; j++) {
		s.path[j] = t->path[j];
		left &= ~(1u << t->path[j]);
	}
	for (int c = 0; c < d->n; c++)
		if (left >> c & 1)
			rest += d->minout[c];
	dfs(&s, t->len, t->cost, left, rest);
	return s.nodes;
}

int tsp_valid(const struct tsp_data *d, const uint8_t *tour, int32_t len)
{
	uint32_t seen = 0;
	int32_t sum = 0;

	if (tour[0] != 0)
		return 0;
	for (int k = 0; k < d->n; k++) {
		if (tour[k] >= d->n || (seen >> tour[k] & 1))
			return 0;
		seen |= 1u << tour[k];
		sum += d->dist[tour[k] * TSP_MAX + tour[(k + 1) % d->n]];
	}
	return sum == len;
}

int32_t tsp_seq(const struct tsp *p, uint8_t *tour, double *secs)
{
	struct tsp_data *d = app_alloc(sizeof(*d));
	struct tsp_task *t;
	size_t nt;
	int32_t bound;
	double t0;

	tsp_gen(p, d);
	nt = tsp_tasks(p, d, NULL);
	t = app_alloc(nt * sizeof(*t));
	tsp_tasks(p, d, t);
	t0 = app_now();
	bound = tsp_greedy(d, tour);
	for (size_t i = 0; i < nt; i++)
		tsp_search(d, &t[i], &bound, tour);
	*secs = app_now() - t0;
	free(t);
	free(d);
	return bound;
}
