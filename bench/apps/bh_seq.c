/* bh_seq — sequential Barnes-Hut-like tree code: bh_seq [N [STEPS]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct bh p;
	double secs;

	bh_params(&p, argc, argv);
	free(bh_seq(&p, &secs));
	app_report("bh", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
