/*
 * hx_nbody.c — an n-body step loop over an array of body structs in a
 * mixed-byte-order job: each node advances its slice of the bodies from
 * the previous step's array into the next (double-buffered, a barrier per
 * step); every node checks every body, bit for bit, against its own
 * sequential run. Bodies are 72 bytes: some span page boundaries.
 * tools/hx_nbody_diag.c includes this file with HX_NBODY_DIAG defined and
 * fills in the hooks below (a diagnostic build under qemu-user).
 */
#define MN_PROG "hx_nbody"
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../mn/mn_util.h"
#include "dsm_type.h"
#include "hx_wild.h"

#define NB 150
#define STEPS 6

struct body {
	double pos[3];
	double vel[3];
	double mass;
	int32_t id;
	float radius;
	int64_t steps;
};

static struct body seq[2][NB];
static int cur_step; /* the step being computed (the diagnostic reports it) */

#ifdef HX_NBODY_DIAG
/* body i read body j (its r2); body i of [lo, hi) is done */
static void diag_read(const struct body *in, int i, int j, double r2);
static void diag_done(const struct body *in, struct body *out, int i, int lo);
#else
#define diag_read(in, i, j, r2) ((void)0)
#define diag_done(in, out, i, lo) ((void)0)
#endif

static void init(struct body *b)
{
	for (int i = 0; i < NB; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		for (int k = 0; k < 3; k++) {
			b[i].pos[k] = (double)((i * 37 + k * 11) % 101) - 50.0;
			b[i].vel[k] = (double)((i * 13 + k * 7) % 9) * 0.01;
		}
		b[i].mass = 1.0 + (double)(i % 7);
		b[i].id = i;
		b[i].radius = 0.5f + (float)(i % 3);
	}
}

static void step_one(const struct body *in, struct body *out, int i)
{
	const double dt = 0.01, soft = 0.1;
	double a[3] = { 0, 0, 0 };

	for (int j = 0; j < NB; j++) {
		if (j == i)
			continue;
		double d[3], r2 = soft;
		for (int k = 0; k < 3; k++) {
			d[k] = in[j].pos[k] - in[i].pos[k];
			r2 += d[k] * d[k];
		}
		diag_read(in, i, j, r2);
		double inv = 1.0 / (sqrt(r2) * r2);
		for (int k = 0; k < 3; k++)
			a[k] += in[j].mass * d[k] * inv;
	}
	/* field by field, not `out[i] = in[i]`: gcc makes that one MVC,
	 * which qemu-user emulates racily against another thread's
	 * mprotect (docs/hetero.md, "qemu-user") */
	out[i].mass = in[i].mass;
	out[i].id = in[i].id;
	out[i].radius = in[i].radius;
	for (int k = 0; k < 3; k++) {
		out[i].vel[k] = in[i].vel[k] + a[k] * dt;
		out[i].pos[k] = in[i].pos[k] + out[i].vel[k] * dt;
	}
	out[i].steps = in[i].steps + 1;
}

static void step_bodies(const struct body *in, struct body *out, int lo, int hi)
{
	for (int i = lo; i < hi; i++) {
		step_one(in, out, i);
		diag_done(in, out, i, lo);
	}
}

int main(int argc, char **argv)
{
	hx_wild_install(); /* registers of a fault outside the region (hx_wild.h) */
	int err = dsm_init(&argc, &argv);

	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();
	struct dsm_field f[] = {
		DSM_FIELD_N(struct body, pos, DSM_FIELD_DOUBLE, 3),
		DSM_FIELD_N(struct body, vel, DSM_FIELD_DOUBLE, 3),
		DSM_FIELD(struct body, mass, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct body, id, DSM_FIELD_I32),
		DSM_FIELD(struct body, radius, DSM_FIELD_FLOAT),
		DSM_FIELD(struct body, steps, DSM_FIELD_I64),
	};
	dsm_type_t tb = dsm_type_register("body", sizeof(struct body), f, 6);
	if (tb <= 0)
		FAIL("dsm_type_register: %d", tb);
	struct body *b[2] = { dsm_typed_alloc_collective(tb, NB),
			      dsm_typed_alloc_collective(tb, NB) };
	if (!b[0] || !b[1])
		FAIL("dsm_typed_alloc_collective failed");
	if (me == 0)
		init(b[0]);
	init(seq[0]);
	CHECK(dsm_barrier(0));
	int lo = NB * me / count, hi = NB * (me + 1) / count;
	for (int s = 0; s < STEPS; s++) {
		cur_step = s;
		step_bodies(b[s & 1], b[(s + 1) & 1], lo, hi);
		step_bodies(seq[s & 1], seq[(s + 1) & 1], 0, NB);
		CHECK(dsm_barrier(1 + (unsigned)s));
	}
	for (int i = 0; i < NB; i++)
		if (memcmp(&b[STEPS & 1][i], &seq[STEPS & 1][i], sizeof(struct body)))
			FAIL("body %d differs from sequential: pos %.17g %.17g %.17g / %.17g "
			     "%.17g %.17g, steps %lld", i, b[STEPS & 1][i].pos[0],
			     b[STEPS & 1][i].pos[1], b[STEPS & 1][i].pos[2],
			     seq[STEPS & 1][i].pos[0], seq[STEPS & 1][i].pos[1],
			     seq[STEPS & 1][i].pos[2], (long long)b[STEPS & 1][i].steps);
	printf("hx_nbody: node %d (%s): %d bodies after %d steps match sequential\n", me,
	       dsm_node_byte_order(me) == 2 ? "big-endian" : "little-endian", NB, STEPS);
	CHECK(dsm_barrier(100));
	return dsm_finalize() ? 1 : 0;
}
