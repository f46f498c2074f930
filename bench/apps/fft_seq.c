/* fft_seq — sequential 3-D FFT evolution: fft_seq [N [ITERS]] */
#include <stdlib.h>

#include "apps.h"
#include "common.h"

int main(int argc, char **argv)
{
	struct fft p;
	double secs;

	fft_params(&p, argc, argv);
	free(fft_seq(&p, &secs));
	app_report("fft", "seq", 1, NULL, secs, 1, NULL);
	return 0;
}
