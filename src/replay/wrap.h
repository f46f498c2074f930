/*
 * wrap.h — how src/replay/pthread.c and pthread_sync.c reach the C
 * library's definitions of the names libdsm defines for the program
 * (docs/replay.md, "Several threads per node").
 */
#ifndef DSM_REPLAY_WRAP_H
#define DSM_REPLAY_WRAP_H

#include <dlfcn.h>

/* get_NAME(): the next definition of NAME after libdsm's (libc's, or a
 * sanitizer's), looked up once. */
#define REAL(ret, name, ...)                                                  \
	static ret (*real_##name)(__VA_ARGS__);                               \
	static ret (*get_##name(void))(__VA_ARGS__)                           \
	{                                                                     \
		if (!real_##name)                                             \
			real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
		return real_##name;                                           \
	}

/* dsm__libc_NAME: the runtime's own calls (libc_names.h), straight to
 * the C library. */
#define LIBC(ret, name, params, args)                                         \
	ret dsm__libc_##name params;                                          \
	ret dsm__libc_##name params { return get_##name() args; }

#endif /* DSM_REPLAY_WRAP_H */
