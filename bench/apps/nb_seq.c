/* nb_seq — sequential n-body all-pairs forces: nb_seq [N [STEPS]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct nb p;
	double secs;

	nb_params(&p, argc, argv);
	free(nb_seq(&p, &secs));
	app_report("nb", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
