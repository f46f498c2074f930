/* hg_seq — sequential histogram: hg_seq [N [BINS [PASSES]]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct hg p;
	double secs;

	hg_params(&p, argc, argv);
	free(hg_seq(&p, &secs));
	app_report("hg", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
