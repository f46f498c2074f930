/*
 * phx_test.h — helpers of the Phoenix-style test programs (tests/det).
 *
 * Each program is written the way Phoenix 2.0 programs are: plain malloc,
 * free and globals, map_reduce_init / map_reduce / map_reduce_finalize,
 * nothing from libdsm. They check their results against a sequential
 * computation and exit 0 (pass), 1 (fail) or 77 (skip).
 */
#ifndef PHX_TEST_H
#define PHX_TEST_H

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "map_reduce.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PHX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PHX_SANITIZER 1
#endif
#endif

/* The program's heap is the scope only when libdsm_mapreduce's malloc is
 * the process's malloc; a sanitizer runtime (ASan, TSan) interposes
 * first. */
static inline void phx_skip_if_sanitized(const char *name)
{
#ifdef PHX_SANITIZER
	printf("SKIP: %s: malloc is the sanitizer's, not libdsm_mapreduce's, "
	       "so the program's heap cannot be the scope\n", name);
	exit(77);
#else
	(void)name;
#endif
}

#define PHX_CHECK(cond, ...)                                                  \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			exit(1);                                              \
		}                                                             \
	} while (0)

/* Deterministic pseudo-random numbers for inputs. */
static inline unsigned phx_rand(unsigned long long *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(*s >> 33);
}

/* Text input split into tasks of about req_units bytes that end at a
 * space (the usual Phoenix splitter for word-based programs). */
struct text {
	char *buf;
	size_t len, pos;
};

static inline int text_splitter(void *arg, int req_units, map_args_t *out)
{
	struct text *t = arg;
	size_t end = t->pos + (size_t)req_units;

	if (t->pos >= t->len)
		return 0;
	if (end >= t->len)
		end = t->len;
	while (end < t->len && t->buf[end] != ' ')
		end++;
	out->data = t->buf + t->pos;
	out->length = (intptr_t)(end - t->pos);
	t->pos = end;
	return 1;
}

#endif /* PHX_TEST_H */
