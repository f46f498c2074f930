/* wc_seq — sequential word count: wc_seq [WORDS [VOCAB [PASSES]]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct wc p;
	double secs;
	size_t cnt;

	wc_params(&p, argc, argv);
	free(wc_seq(&p, &cnt, &secs));
	app_report("wc", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
