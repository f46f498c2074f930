/*
 * wa.c — water-like n-body with a lock per molecule: parameters and the
 * sequential reference (nb's kernels: the same arithmetic).
 */
#include "apps.h"
#include "common.h"

void wa_params(struct wa *p, int argc, char **argv)
{
	p->n = (size_t)app_arg(argc, argv, 1, 512);
	p->steps = (int)app_arg(argc, argv, 2, 3);
	if (p->n < 2)
		app_die("wa", "N must be at least 2");
}

double *wa_seq(const struct wa *p, double *secs)
{
	struct nb q = {.n = p->n, .steps = p->steps};

	return nb_seq(&q, secs);
}
