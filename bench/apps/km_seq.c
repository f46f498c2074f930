/* km_seq — sequential k-means: km_seq [N [K [ITERS]]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct km p;
	double secs;

	km_params(&p, argc, argv);
	free(km_seq(&p, &secs));
	app_report("km", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
