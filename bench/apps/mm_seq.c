/* mm_seq — sequential dense matrix multiply: mm_seq [N] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct mm p;
	double secs;

	mm_params(&p, argc, argv);
	free(mm_seq(&p, &secs));
	app_report("mm", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
