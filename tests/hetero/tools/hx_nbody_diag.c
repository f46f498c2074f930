/*
 * hx_nbody_diag.c — a diagnostic build of ../hx_nbody.c (not built by
 * CMake; docs/hetero.md, "qemu-user"). The same shared-memory program,
 * so it runs as node 0 beside the ordinary host hx_nbody; for the first
 * body of its slice (the one during which it takes its read faults) it
 * records every input it read, recomputes the body once the pages are
 * present, and prints "hx_diag:" lines if the result or any input
 * differs; a fault outside the region dumps the registers (hx_wild.h).
 *   s390x-linux-gnu-gcc -O2 -g -D_GNU_SOURCE -ffp-contract=off -std=gnu11 \
 *     -Iinclude -Isrc -Itests/hetero tests/hetero/tools/hx_nbody_diag.c \
 *     -o hx_nbody_diag build/tests/hetero/s390x/libdsm_internal.a -lm -lpthread
 *   build/dsmrun -n 3 --protocol sc --node-prefix "0=qemu-s390x -L /usr/s390x-linux-gnu" \
 *     --node-program 0=./hx_nbody_diag build/tests/hetero/hx_nbody
 */
#define HX_NBODY_DIAG 1
#include "../hx_nbody.c"

static double rec[NB][5]; /* what the last body computed read */
static int again_pass;     /* diag_done's recomputation: not recorded */

static void diag_read(const struct body *in, int i, int j, double r2)
{
	(void)i;
	if (again_pass)
		return;
	rec[j][0] = in[j].pos[0];
	rec[j][1] = in[j].pos[1];
	rec[j][2] = in[j].pos[2];
	rec[j][3] = in[j].mass;
	rec[j][4] = r2;
}

/* The first body of the slice: computed again now that its pages are
 * present, and its inputs compared with what the first pass read. */
static void diag_done(const struct body *in, struct body *out, int i, int lo)
{
	struct body again;

	if (i != lo || out == seq[0] || out == seq[1])
		return;
	again_pass = 1;
	step_one(in, &again - i, i); /* no faults now */
	again_pass = 0;
	if (memcmp(&again, &out[i], sizeof(again)))
		printf("hx_diag: node %d step %d: body %d first %.17g second %.17g\n", me,
		       cur_step, i, out[i].pos[0], again.pos[0]);
	for (int j = 0; j < NB; j++)
		if (j != i && (rec[j][0] != in[j].pos[0] || rec[j][1] != in[j].pos[1] ||
			       rec[j][2] != in[j].pos[2] || rec[j][3] != in[j].mass))
			printf("hx_diag: node %d step %d: body %d read %.17g %.17g %.17g m %.17g,"
			       " now %.17g %.17g %.17g m %.17g\n", me, cur_step, j, rec[j][0],
			       rec[j][1], rec[j][2], rec[j][3], in[j].pos[0], in[j].pos[1],
			       in[j].pos[2], in[j].mass);
	fflush(stdout);
}
