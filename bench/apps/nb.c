/*
 * nb.c — n-body / water-like all-pairs forces: generator, pair forces,
 * integration step, sequential reference.
 */
#include <math.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"

#define NB_EPS2 1e-2 /* softening */
#define NB_DT 1e-3

void nb_params(struct nb *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 2048);
	p->steps = (int)app_arg(argc, argv, 2, 5);
	if (p->n < 2)
		app_die("nb", "N must be at least 2");
}

void nb_gen(double *pos, double *vel, size_t lo, size_t hi)
{
	for (size_t i = lo * 3; i < hi * 3; i++) {
		pos[i] = app_unit(11, i);
		vel[i] = (app_unit(12, i) - 0.5) * 0.1;
	}
}

/* Body i owns the pairs (i, i+m mod n) for m = 1..n/2 (for even n the
 * m = n/2 pair only when i < n/2): every pair exactly once, and the work
 * of each body is the same. */
void nb_forces(const double *pos, size_t n, size_t lo, size_t hi, double *f)
{
	for (size_t i = lo; i < hi; i++) {
		const double *pi = pos + 3 * i;
		double fx = 0, fy = 0, fz = 0;
		for (size_t m = 1; m <= n / 2; m++) {
			size_t j = (i + m) % n;
			if (2 * m == n && i >= n / 2)
				break;
			const double *pj = pos + 3 * j;
			double dx = pj[0] - pi[0], dy = pj[1] - pi[1], dz = pj[2] - pi[2];
			double r2 = dx * dx + dy * dy + dz * dz + NB_EPS2;
			double s = 1.0 / (r2 * sqrt(r2));
			fx += dx * s;
			fy += dy * s;
			fz += dz * s;
			f[3 * j] -= dx * s;
			f[3 * j + 1] -= dy * s;
			f[3 * j + 2] -= dz * s;
		}
		f[3 * i] += fx;
		f[3 * i + 1] += fy;
		f[3 * i + 2] += fz;
	}
}

void nb_move(double *pos, double *vel, double *f, size_t lo, size_t hi)
{
	for (size_t i = 3 * lo; i < 3 * hi; i++) {
		vel[i] += f[i] * NB_DT;
		pos[i] += vel[i] * NB_DT;
		f[i] = 0;
	}
}

double *nb_seq(const struct nb *p, double *secs)
{
	double *pos = app_alloc(3 * p->n * sizeof(double));
	double *vel = app_alloc(3 * p->n * sizeof(double));
	double *f = app_alloc(3 * p->n * sizeof(double));
	double t0;

	nb_gen(pos, vel, 0, p->n);
	t0 = app_now();
	for (int s = 0; s < p->steps; s++) {
		nb_forces(pos, p->n, 0, p->n, f);
		nb_move(pos, vel, f, 0, p->n);
	}
	*secs = app_now() - t0;
	free(vel);
	free(f);
	return pos;
}
