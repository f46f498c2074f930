/*
 * nb_mpi — all-pairs forces with MPI: every rank holds all positions,
 * computes the pairs of its block of bodies into a full-size force array;
 * a reduce-scatter leaves each rank the summed forces of its own bodies,
 * which it moves; an all-gather shares the new positions.
 *   mpirun -n P nb_mpi [N [STEPS]]
 */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "common.h"
#include "mpiapp.h"

int main(int argc, char **argv)
{
	struct mapp m;
	struct nb p;
	size_t lo, hi, n3;
	int ok = 1, counts[1024], displs[1024];
	double *pos, *vel, *f, *fmine, secs;

	mapp_init(&m, "nb", &argc, &argv);
	nb_params(&p, argc, argv);
	if (m.np > 1024)
		app_die("nb", "too many ranks");
	n3 = 3 * p.n;
	app_split(p.n, m.me, m.np, &lo, &hi);
	mapp_blocks(m.np, p.n, 3, counts, displs);
	pos = app_alloc(n3 * sizeof(double));
	vel = app_alloc(n3 * sizeof(double));
	f = app_alloc(n3 * sizeof(double));
	fmine = app_alloc(n3 * sizeof(double));
	nb_gen(pos, vel, 0, p.n); /* all positions; velocities of all, used: own */
	mapp_start(&m);
	for (int s = 0; s < p.steps; s++) {
		memset(f, 0, n3 * sizeof(double));
		nb_forces(pos, p.n, lo, hi, f);
		mapp_reduce_scatter(&m, f, fmine + 3 * lo, counts, MPI_DOUBLE, MPI_SUM);
		nb_move(pos, vel, fmine, lo, hi);
		mapp_allgatherv(&m, MPI_IN_PLACE, counts[m.me], pos, counts, displs,
				MPI_DOUBLE);
	}
	mapp_stop(&m);
	if (m.me == 0) {
		double *ref = nb_seq(&p, &secs);
		ok = app_check_tol("nb", pos, ref, n3, NB_TOL);
		free(ref);
	}
	free(pos);
	free(vel);
	free(f);
	free(fmine);
	return mapp_finish(&m, ok);
}
