/* wa_seq — sequential water-like n-body: wa_seq [N [STEPS]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct wa p;
	double secs;

	wa_params(&p, argc, argv);
	free(wa_seq(&p, &secs));
	app_report("wa", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
