/*
 * dsmdet — run an unmodified pthreads program deterministically
 * (libdsm_dthreads, docs/det-pthreads.md):
 *
 *   dsmdet [--lib PATH] program [args...]
 *
 * Puts libdsm_dthreads first in LD_PRELOAD and executes the program. The
 * library is looked for in $DSMDET_LIB, next to this executable (build
 * tree), then in ../<libdir> relative to it (installed tree).
 *
 * Address randomisation is turned off for the program (personality
 * ADDR_NO_RANDOMIZE, as setarch -R), unless DSM_DET_ASLR=on: the heap,
 * the globals, the libraries and the threads' stacks are then at the same
 * addresses in every run, so a program that prints pointers, or hashes or
 * orders by them, prints the same thing every run (with randomisation the
 * library only makes the offsets the same).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#ifndef DSMDET_LIBDIR
#define DSMDET_LIBDIR "lib"
#endif
#define LIBNAME "libdsm_dthreads.so"

static int find_lib(char *out, size_t len)
{
	char self[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = 0;
	snprintf(out, len, "%s/" LIBNAME, self);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, len, "%s/../" DSMDET_LIBDIR "/" LIBNAME, self);
	if (access(out, R_OK) == 0)
		return 0;
	return -1;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	int a = 1;
	const char *env = getenv("DSMDET_LIB");
	if (a + 1 < argc && !strcmp(argv[a], "--lib")) {
		env = argv[a + 1];
		a += 2;
	}
	if (a >= argc || !strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
		fprintf(stderr, "usage: dsmdet [--lib PATH] program [args...]\n"
				"runs a pthreads program deterministically "
				"(DSM_DET_CONFLICT=error|report|last, DSM_DET_NPROCS=N, "
				"DSM_DET_ASLR=on|off)\n");
		return a >= argc ? 2 : 0;
	}
	if (env) {
		snprintf(lib, sizeof lib, "%s", env);
	} else if (find_lib(lib, sizeof lib) != 0) {
		fprintf(stderr, "dsmdet: cannot find " LIBNAME " next to dsmdet or in "
				"../" DSMDET_LIBDIR "; set DSMDET_LIB\n");
		return 127;
	}
	if (access(lib, R_OK) != 0) {
		fprintf(stderr, "dsmdet: %s: cannot read\n", lib);
		return 127;
	}
	const char *old = getenv("LD_PRELOAD");
	char *pre = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
	if (!pre)
		return 127;
	sprintf(pre, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	const char *aslr = getenv("DSM_DET_ASLR");
	if (aslr && *aslr && strcmp(aslr, "on") && strcmp(aslr, "off")) {
		fprintf(stderr, "dsmdet: DSM_DET_ASLR=%s: expected on or off\n", aslr);
		return 127;
	}
	if (!aslr || strcmp(aslr, "on")) {
		/* the same addresses every run; where the kernel refuses (a
		 * container's seccomp profile), the program still runs, with
		 * randomised addresses (said at DSM_LOG=info) */
		int cur = personality(0xffffffff);
		if (cur == -1 || personality((unsigned long)cur | ADDR_NO_RANDOMIZE) == -1) {
			const char *lg = getenv("DSM_LOG");
			if (lg && (!strcmp(lg, "info") || !strcmp(lg, "debug")))
				fprintf(stderr, "dsmdet: cannot turn off address randomisation: "
						"addresses may differ between runs\n");
		}
	}
	execvp(argv[a], argv + a);
	fprintf(stderr, "dsmdet: cannot execute %s: ", argv[a]);
	perror(NULL);
	return 127;
}
