/*
 * bh.c — Barnes-Hut-like tree code (SPLASH-2 barnes' pattern): generator,
 * octree build, centres of mass, per-body force walk, integration step,
 * sequential reference.
 *
 * The tree lives in one array of nodes, rebuilt from the bodies at every
 * step by inserting them in index order, so its shape and every centre of
 * mass depend only on the positions: each version computes the same tree
 * and, walking it with the same code, the same force on every body
 * (bitwise-exact check).
 */
#include <math.h>
#include <stdlib.h>

#include "apps.h"
#include "common.h"

#define BH_EPS2 1e-4 /* softening */
#define BH_DT 1e-3
#define BH_THETA2 0.25 /* opening criterion (size / distance)^2 < theta^2 */
#define BH_MAXDEPTH 60
#define BH_EMPTY (-1) /* node.body of a node without bodies */
#define BH_INNER (-2) /* of an internal node */

void bh_params(struct bh *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 16384);
	p->steps = (int)app_arg(argc, argv, 2, 4);
	if (p->n < 2)
		app_die("bh", "N must be at least 2");
}

size_t bh_max_nodes(size_t n)
{
	return 4 * n + 64;
}

/* Bodies lo..hi-1: uniform in the unit cube, small random velocities. */
void bh_gen(double *pos, double *vel, size_t lo, size_t hi)
{
	for (size_t i = lo * 3; i < hi * 3; i++) {
		pos[i] = app_unit(21, i);
		vel[i] = (app_unit(22, i) - 0.5) * 0.05;
	}
}

static int octant(const struct bh_node *c, const double *x)
{
	return (x[0] >= c->ctr[0]) | (x[1] >= c->ctr[1]) << 1 | (x[2] >= c->ctr[2]) << 2;
}

static int new_node(struct bh_tree *t, const double *ctr, double half)
{
	struct bh_node *c;

	if (t->used >= t->cap)
		app_die("bh", "tree node array full");
	c = &t->nodes[t->used];
	for (int d = 0; d < 3; d++) {
		c->ctr[d] = ctr[d];
		c->com[d] = 0;
	}
	c->half = half;
	c->mass = 0;
	c->body = BH_EMPTY;
	for (int o = 0; o < 8; o++)
		c->child[o] = -1;
	return (int)t->used++;
}

static int child_of(struct bh_tree *t, int at, int o)
{
	double ctr[3], h = t->nodes[at].half / 2;

	for (int d = 0; d < 3; d++)
		ctr[d] = t->nodes[at].ctr[d] + ((o >> d) & 1 ? h : -h);
	return new_node(t, ctr, h);
}

/* Insert body b under node 0; a leaf holds one body (body >= 0, no
 * children); an internal node has body BH_INNER and some children. */
static void insert(struct bh_tree *t, const double *pos, int b)
{
	int at = 0;

	for (int depth = 0; depth < BH_MAXDEPTH; depth++) {
		struct bh_node *c = &t->nodes[at];
		int o;

		if (c->body == BH_EMPTY) {
			c->body = b;
			return;
		}
		if (c->body >= 0) { /* a leaf: push its body one level down */
			int old = c->body;
			int oo = octant(c, pos + 3 * old);
			int k = child_of(t, at, oo);

			c = &t->nodes[at];
			c->child[oo] = k;
			c->body = BH_INNER;
			t->nodes[k].body = old;
		}
		o = octant(c, pos + 3 * b);
		if (c->child[o] < 0) {
			int k = child_of(t, at, o);

			t->nodes[at].child[o] = k;
		}
		at = t->nodes[at].child[o];
	}
	app_die("bh", "two bodies too close for the tree");
}

/* Masses and centres of mass, children before parents: nodes are created
 * after their parent, so a reverse sweep of the array does it. */
static void summarise(struct bh_tree *t, const double *pos, double m)
{
	for (size_t k = t->used; k-- > 0;) {
		struct bh_node *c = &t->nodes[k];

		if (c->body >= 0) {
			c->mass = m;
			for (int d = 0; d < 3; d++)
				c->com[d] = pos[3 * c->body + d];
			continue;
		}
		double s[3] = {0, 0, 0}, ms = 0;
		for (int o = 0; o < 8; o++) {
			const struct bh_node *ch;

			if (c->child[o] < 0)
				continue;
			ch = &t->nodes[c->child[o]];
			ms += ch->mass;
			for (int d = 0; d < 3; d++)
				s[d] += ch->com[d] * ch->mass;
		}
		c->mass = ms;
		for (int d = 0; d < 3; d++)
			c->com[d] = ms > 0 ? s[d] / ms : c->ctr[d];
	}
}

void bh_build(struct bh_tree *t, const double *pos, size_t n)
{
	double lo[3], hi[3], ctr[3], half = 0;

	for (int d = 0; d < 3; d++)
		lo[d] = hi[d] = pos[d];
	for (size_t i = 1; i < n; i++)
		for (int d = 0; d < 3; d++) {
			lo[d] = fmin(lo[d], pos[3 * i + d]);
			hi[d] = fmax(hi[d], pos[3 * i + d]);
		}
	for (int d = 0; d < 3; d++) {
		ctr[d] = (lo[d] + hi[d]) / 2;
		half = fmax(half, (hi[d] - lo[d]) / 2);
	}
	t->used = 0;
	new_node(t, ctr, half * 1.000001 + 1e-12);
	for (size_t i = 0; i < n; i++)
		insert(t, pos, (int)i);
	summarise(t, pos, 1.0 / (double)n);
}

/* Acceleration of bodies lo..hi-1: depth-first walk from the root,
 * children in octant order; a cell far enough away counts as its centre
 * of mass. */
void bh_forces(const struct bh_tree *t, const double *pos, size_t lo,
	       size_t hi, double *acc)
{
	int stack[8 * BH_MAXDEPTH + 8];

	for (size_t i = lo; i < hi; i++) {
		const double *pi = pos + 3 * i;
		double a[3] = {0, 0, 0};
		int sp = 0;

		stack[sp++] = 0;
		while (sp > 0) {
			const struct bh_node *c = &t->nodes[stack[--sp]];
			double dx = c->com[0] - pi[0], dy = c->com[1] - pi[1],
			       dz = c->com[2] - pi[2];
			double r2 = dx * dx + dy * dy + dz * dz;
			double size = 2 * c->half;

			if (c->body == (int)i || c->mass == 0)
				continue;
			if (c->body < 0 && size * size >= BH_THETA2 * r2) {
				for (int o = 7; o >= 0; o--)
					if (c->child[o] >= 0)
						stack[sp++] = c->child[o];
				continue;
			}
			r2 += BH_EPS2;
			double s = c->mass / (r2 * sqrt(r2));
			a[0] += dx * s;
			a[1] += dy * s;
			a[2] += dz * s;
		}
		for (int d = 0; d < 3; d++)
			acc[3 * i + d] = a[d];
	}
}

void bh_move(double *pos, double *vel, const double *acc, size_t lo, size_t hi)
{
	for (size_t i = 3 * lo; i < 3 * hi; i++) {
		vel[i] += acc[i] * BH_DT;
		pos[i] += vel[i] * BH_DT;
	}
}

void bh_tree_init(struct bh_tree *t, size_t n)
{
	t->cap = bh_max_nodes(n);
	t->used = 0;
	t->nodes = app_alloc(t->cap * sizeof *t->nodes);
}

double *bh_seq(const struct bh *p, double *secs)
{
	double *pos = app_alloc(3 * p->n * sizeof(double));
	double *vel = app_alloc(3 * p->n * sizeof(double));
	double *acc = app_alloc(3 * p->n * sizeof(double));
	struct bh_tree t;
	double t0;

	bh_tree_init(&t, p->n);
	bh_gen(pos, vel, 0, p->n);
	t0 = app_now();
	for (int s = 0; s < p->steps; s++) {
		bh_build(&t, pos, p->n);
		bh_forces(&t, pos, 0, p->n, acc);
		bh_move(pos, vel, acc, 0, p->n);
	}
	*secs = app_now() - t0;
	free(t.nodes);
	free(vel);
	free(acc);
	return pos;
}
