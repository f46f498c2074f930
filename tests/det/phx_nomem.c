/*
 * phx_nomem.c — a worker that runs out of its sub-heap, on purpose
 * (issue 11, point 4).
 *
 * With DSM_DET_HEAP=256M (the program re-executes itself with it: the
 * arena is opened at the first allocation) each of the 63 sub-heaps has
 * 2 MiB. A word count over 4 MB whose keys point into the input (each
 * copied into the worker's sub-heap, as emit_intermediate does for keys
 * inside the task's data) needs far more: map_reduce must return an
 * error, produce no output, and say on stderr that a worker ran out of
 * memory, naming the limit and DSM_DET_HEAP. A small job afterwards must
 * still work. Uses no malloc in the maps, so it runs under ASan too.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map_reduce.h"
#include "phx_test.h"

#define INPUT (4 << 20)
#define WLEN 8 /* 7 letters and a NUL */

static void wc_map(map_args_t *args)
{
	char *d = args->data;

	for (intptr_t i = 0; i < args->length; i++) /* length: in units */
		emit_intermediate(d + i * WLEN, (void *)1, WLEN);
}

static void wc_reduce(void *key, iterator_t *itr)
{
	intptr_t n = 0;
	void *v;

	while (iter_next(itr, &v))
		n += (intptr_t)v;
	emit(key, (void *)n);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int run(char *text, size_t len, final_data_t *res)
{
	map_reduce_args_t a;

	memset(&a, 0, sizeof(a));
	a.task_data = text;
	a.data_size = (off_t)len;
	a.unit_size = WLEN;
	a.map = wc_map;
	a.reduce = wc_reduce;
	a.key_cmp = str_cmp;
	a.result = res;
	a.L1_cache_size = 64 * 1024;
	a.num_map_threads = a.num_reduce_threads = 2;
	return map_reduce(&a);
}

int main(int argc, char **argv)
{
	unsigned long long seed = 4;
	final_data_t res = { -1, NULL };
	char msg[4096];
	FILE *tmp;
	int saved, rc;
	size_t n;
	char *text;

	(void)argc;
	if (!getenv("DSM_DET_HEAP") || strcmp(getenv("DSM_DET_HEAP"), "256M")) {
		setenv("DSM_DET_HEAP", "256M", 1);
		execv("/proc/self/exe", argv);
		PHX_CHECK(0, "cannot re-execute with DSM_DET_HEAP=256M");
	}
	text = mmap(NULL, INPUT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	PHX_CHECK(text != MAP_FAILED, "mmap");
	for (size_t i = 0; i < INPUT; i += WLEN) {
		for (int c = 0; c < WLEN - 1; c++)
			text[i + (size_t)c] = (char)('a' + phx_rand(&seed) % 26);
		text[i + WLEN - 1] = '\0';
	}
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");

	tmp = tmpfile();
	saved = dup(2);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = run(text, INPUT, &res);
	fflush(stderr);
	dup2(saved, 2);
	rewind(tmp);
	n = fread(msg, 1, sizeof(msg) - 1, tmp);
	msg[n] = '\0';
	fclose(tmp);
	fprintf(stderr, "(captured) %s", msg);
	PHX_CHECK(rc < 0, "map_reduce succeeded with 2 MiB sub-heaps (%d pairs)",
		  res.length);
	PHX_CHECK(res.length == -1 && res.data == NULL, "a failed job produced output");
	PHX_CHECK(strstr(msg, "out of memory") && strstr(msg, "DSM_DET_HEAP") &&
		  strstr(msg, "2 MiB"), "the error does not name the limit: %s", msg);

	/* a small job still works */
	PHX_CHECK(run(text, 64 * 1024, &res) == 0, "small job after the failure");
	PHX_CHECK(res.length == 64 * 1024 / WLEN, "%d pairs", res.length);
	free(res.data);
	map_reduce_finalize();
	munmap(text, INPUT);
	printf("phx_nomem: a worker out of sub-heap memory fails the job with the "
	       "limit named; the next job works\n");
	return 0;
}
