/* sor_seq — sequential Jacobi relaxation: sor_seq [N [ITERS]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct sor p;
	double secs;

	sor_params(&p, argc, argv);
	free(sor_seq(&p, &secs));
	app_report("sor", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
