/* lu_seq — sequential blocked LU factorisation: lu_seq [N [B]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct lu p;
	double secs;

	lu_params(&p, argc, argv);
	free(lu_seq(&p, &secs));
	app_report("lu", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
