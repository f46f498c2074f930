/* is_seq — sequential integer sort: is_seq [N] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct is p;
	double secs;

	is_params(&p, argc, argv);
	free(is_seq(&p, &secs));
	app_report("is", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
