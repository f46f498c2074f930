/* qs_seq — sequential sort of the keys: qs_seq [N [CUTOFF]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct qs p;
	double secs;

	qs_params(&p, argc, argv);
	free(qs_seq(&p, &secs));
	app_report("qs", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
