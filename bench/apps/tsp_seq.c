/* tsp_seq — sequential branch-and-bound TSP: tsp_seq [N [DEPTH]] */
#include <stdio.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct tsp p;
	uint8_t tour[TSP_MAX];
	char extra[64];
	double secs;
	int32_t len;

	tsp_params(&p, argc, argv);
	len = tsp_seq(&p, tour, &secs);
	snprintf(extra, sizeof extra, "tour=%d", (int)len);
	app_report("tsp", "seq", 1, NULL, secs, 1, extra);
	return 0;
}
