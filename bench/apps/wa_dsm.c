/*
 * wa_dsm — water-like n-body in libdsm shared memory with a lock per
 * molecule (SPLASH-2 water-nsquared's pattern). Positions are shared and
 * bound to the barrier (each node writes its molecules' between two
 * barriers); forces are shared, each molecule's three doubles bound to
 * that molecule's lock (under entry consistency the acquirer of a lock
 * receives only that molecule's changed bytes); velocities are private
 * to the molecule's owner. Each step: my molecules' pairs into a private
 * array; every molecule I touched (mine and the next n/2) added into the
 * shared forces under its lock, starting at my first molecule; a
 * barrier; my molecules' forces taken and zeroed under their locks and
 * my molecules moved; a barrier. Node 0 checks the positions.
 *   dsmrun -n P wa_dsm [N [STEPS]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "dsmapp.h"

#define LOCK0 1000u

struct shared {
	double *pos, *force, *vel, *mine; /* vel, mine: private */
	size_t lo, hi;                    /* my molecules */
};

static void merge(struct dapp *d, const struct wa *p, struct shared *s)
{
	size_t cnt = s->hi - s->lo + p->n / 2;

	if (cnt > p->n)
		cnt = p->n;
	for (size_t t = 0; t < cnt; t++) {
		size_t j = (s->lo + t) % p->n;
		dapp_lock(d, LOCK0 + (unsigned)j);
		for (int c = 0; c < 3; c++)
			s->force[3 * j + c] += s->mine[3 * j + c];
		dapp_unlock(d, LOCK0 + (unsigned)j);
	}
}

static void move(struct dapp *d, struct shared *s)
{
	for (size_t i = s->lo; i < s->hi; i++) {
		dapp_lock(d, LOCK0 + (unsigned)i);
		for (int c = 0; c < 3; c++) {
			s->mine[3 * i + c] = s->force[3 * i + c];
			s->force[3 * i + c] = 0;
		}
		dapp_unlock(d, LOCK0 + (unsigned)i);
	}
	nb_move(s->pos, s->vel, s->mine, s->lo, s->hi);
}

int main(int argc, char **argv)
{
	struct dapp d;
	struct wa p;
	struct shared s;
	size_t bytes;
	int ok = 1;

	dapp_init(&d, "wa", &argc, &argv);
	wa_params(&p, argc, argv);
	bytes = 3 * p.n * sizeof(double);
	s.pos = dapp_alloc(&d, bytes);
	s.force = dapp_alloc(&d, bytes);
	s.vel = app_alloc(bytes);
	s.mine = app_alloc(bytes);
	dapp_bind_barrier(&d, s.pos, bytes);
	for (size_t j = 0; j < p.n; j++)
		dapp_bind(&d, LOCK0 + (unsigned)j, s.force + 3 * j, 3 * sizeof(double));
	app_split(p.n, d.me, d.np, &s.lo, &s.hi);
	nb_gen(s.pos, s.vel, s.lo, s.hi);
	dapp_start(&d);
	for (int step = 0; step < p.steps; step++) {
		memset(s.mine, 0, bytes);
		nb_forces(s.pos, p.n, s.lo, s.hi, s.mine);
		merge(&d, &p, &s);
		dapp_barrier(&d);
		move(&d, &s);
		dapp_barrier(&d);
	}
	dapp_stop(&d);
	if (d.me == 0) {
		double secs, *ref = wa_seq(&p, &secs);
		ok = app_check_tol("wa", s.pos, ref, 3 * p.n, NB_TOL);
		free(ref);
	}
	free(s.vel);
	free(s.mine);
	return dapp_finish(&d, ok);
}
