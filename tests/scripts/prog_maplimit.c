/*
 * prog_maplimit.c — writes every other page of a large shared block, so
 * per-page protections would need more VMAs than vm.max_map_count allows.
 * The run must succeed (the runtime resets protections instead of failing)
 * and every value must read back. Prints the number of map resets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dsm.h"

int main(int argc, char **argv)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t npages = argc > 1 ? strtoul(argv[1], NULL, 0) : 160 * 1024;
	struct dsm_stats s;
	volatile unsigned *a;
	int err;

	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	a = dsm_malloc(npages * ps);
	if (!a) {
		perror("dsm_malloc");
		return 1;
	}
	for (size_t p = 0; p < npages; p += 2)
		a[p * ps / sizeof(unsigned)] = (unsigned)(p * 2654435761u);
	for (size_t p = 0; p < npages; p++) {
		unsigned want = (p % 2) ? 0 : (unsigned)(p * 2654435761u);
		if (a[p * ps / sizeof(unsigned)] != want) {
			fprintf(stderr, "page %zu: read %u, wrote %u\n", p,
				a[p * ps / sizeof(unsigned)], want);
			return 1;
		}
	}
	dsm_stats(&s);
	printf("map_resets=%llu write_faults=%llu\n",
	       (unsigned long long)s.map_resets, (unsigned long long)s.write_faults);
	return dsm_finalize() ? 1 : 0;
}
