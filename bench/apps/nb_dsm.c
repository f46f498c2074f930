/*
 * nb_dsm — all-pairs forces in libdsm shared memory, written like SPLASH-2
 * water: positions, velocities and forces are shared. Each node computes
 * the pairs of its bodies into a private force array and adds it into the
 * shared forces one page at a time under that page's lock, starting at a
 * different page per node, so force pages migrate from node to node; a
 * barrier; each node moves the bodies whose pages it owns (page-aligned
 * blocks, first-touched by it), reading their forces under the locks; a
 * barrier. Node 0 checks the positions.   dsmrun -n P nb_dsm [N [STEPS]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define CHUNK (APP_PAGE / sizeof(double)) /* doubles per lock */
#define LOCK0 100u

struct shared {
	double *pos, *vel, *force;
	size_t nchunks;
};

/* Add my forces into the shared ones, page by page under page locks. */
static void merge(struct dapp *d, struct shared *s, const double *mine, size_t n3)
{
	for (size_t c0 = 0; c0 < s->nchunks; c0++) {
		size_t c = (c0 + s->nchunks * (size_t)d->me / (size_t)d->np) % s->nchunks;
		size_t hi = (c + 1) * CHUNK < n3 ? (c + 1) * CHUNK : n3;
		dapp_lock(d, LOCK0 + (unsigned)c);
		for (size_t x = c * CHUNK; x < hi; x++)
			s->force[x] += mine[x];
		dapp_unlock(d, LOCK0 + (unsigned)c);
	}
}

/* Move bodies [lo, hi) (whole force pages) holding their pages' locks. */
static void move(struct dapp *d, struct shared *s, size_t lo, size_t hi)
{
	size_t c0 = 3 * lo / CHUNK, c1 = (3 * hi + CHUNK - 1) / CHUNK;

	for (size_t c = c0; c < c1; c++)
		dapp_lock(d, LOCK0 + (unsigned)c);
	nb_move(s->pos, s->vel, s->force, lo, hi);
	for (size_t c = c0; c < c1; c++)
		dapp_unlock(d, LOCK0 + (unsigned)c);
}

static void simulate(struct dapp *d, const struct nb *p, struct shared *s)
{
	size_t lo, hi, mlo, mhi, n3 = 3 * p->n;
	double *mine = app_alloc(n3 * sizeof(double));

	app_split(p->n, d->me, d->np, &lo, &hi);
	app_split_aligned(p->n, app_page_items(3 * sizeof(double)), d->me, d->np,
			  &mlo, &mhi);
	for (int step = 0; step < p->steps; step++) {
		memset(mine, 0, n3 * sizeof(double));
		nb_forces(s->pos, p->n, lo, hi, mine);
		merge(d, s, mine, n3);
		dapp_barrier(d);
		move(d, s, mlo, mhi);
		dapp_barrier(d);
	}
	free(mine);
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct nb p;
	struct shared s;
	size_t lo, hi, bytes;
	int ok = 1;

	dapp_init(&d, "nb", &argc, &argv);
	nb_params(&p, argc, argv);
	bytes = 3 * p.n * sizeof(double);
	s.pos = dapp_alloc(&d, bytes);
	s.vel = dapp_alloc(&d, bytes);
	s.force = dapp_alloc(&d, bytes);
	s.nchunks = (3 * p.n + CHUNK - 1) / CHUNK;
	dapp_bind_barrier(&d, s.pos, bytes);
	dapp_bind_barrier(&d, s.vel, bytes);
	for (size_t c = 0; c < s.nchunks; c++)
		dapp_bind(&d, LOCK0 + (unsigned)c, s.force + c * CHUNK, APP_PAGE);
	app_split_aligned(p.n, app_page_items(3 * sizeof(double)), d.me, d.np, &lo, &hi);
	nb_gen(s.pos, s.vel, lo, hi);
	dapp_start(&d);
	simulate(&d, &p, &s);
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = nb_seq(&p, &secs);
		ok = app_check_tol("nb", s.pos, ref, 3 * p.n, NB_TOL);
		free(ref);
	}
	return dapp_finish(&d, ok);
}
