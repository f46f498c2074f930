/*
 * phx_stack.c — a task writing outside the scope is reported, not lost
 * (issue 11, point 2: what is outside the scope).
 *
 * The program's local variables live on its stack, which is not in the
 * scope: a map task may read them through the pointers it is given, but
 * a write there could never reach the program. A first job whose maps
 * only read a struct on main's stack must work; a second whose maps also
 * write a field of it must fail, with an error that names the parent's
 * stack, instead of returning with the write silently lost.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "map_reduce.h"
#include "phx_test.h"

struct job {
	const int *data;
	int n, pos, scale;
	int writes;     /* the second job's maps write max here */
	int max;
};

static int splitter(void *arg, int req_units, map_args_t *out)
{
	struct job *j = arg;

	if (j->pos >= j->n)
		return 0;
	out->data = j;
	out->length = j->pos;
	j->pos += req_units;
	return 1;
}

static void map(map_args_t *args)
{
	struct job *j = args->data;
	long sum = 0;

	for (intptr_t i = args->length; i < args->length + 1000 && i < j->n; i++) {
		sum += (long)j->data[i] * j->scale;
		if (j->writes && j->data[i] > j->max)
			j->max = j->data[i]; /* the parent's stack */
	}
	emit_intermediate((void *)(intptr_t)1, (void *)(intptr_t)sum, sizeof(void *));
}

static void reduce(void *key, iterator_t *itr)
{
	intptr_t s = 0;
	void *v;

	while (iter_next(itr, &v))
		s += (intptr_t)v;
	emit(key, (void *)s);
}

static int int_cmp(const void *a, const void *b)
{
	return ((intptr_t)a > (intptr_t)b) - ((intptr_t)a < (intptr_t)b);
}

static int int_partition(int reduce_tasks, void *key, int key_size)
{
	return default_partition(reduce_tasks, &key, key_size);
}

static int run(struct job *j, final_data_t *res)
{
	map_reduce_args_t a;

	memset(&a, 0, sizeof(a));
	a.task_data = j;
	a.data_size = (off_t)j->n * (off_t)sizeof(int);
	a.unit_size = sizeof(int);
	a.L1_cache_size = 1000 * sizeof(int);
	a.splitter = splitter;
	a.map = map;
	a.reduce = reduce;
	a.key_cmp = int_cmp;
	a.partition = int_partition;
	a.result = res;
	a.num_map_threads = a.num_reduce_threads = 2;
	return map_reduce(&a);
}

int main(void)
{
	struct job j; /* on main's stack: outside the scope */
	final_data_t res = { 0, NULL };
	int *data = malloc(20000 * sizeof(int));
	long want = 0;
	char msg[4096];
	FILE *tmp;
	int saved, rc;
	size_t n;

	phx_skip_if_sanitized("phx_stack");
	for (int i = 0; i < 20000; i++) {
		data[i] = (i * 7919) % 10007;
		want += 3L * data[i];
	}
	memset(&j, 0, sizeof(j));
	j.data = data;
	j.n = 20000;
	j.scale = 3;
	PHX_CHECK(map_reduce_init() == 0, "map_reduce_init");
	PHX_CHECK(run(&j, &res) == 0, "maps that only read the parent's stack");
	PHX_CHECK(res.length == 1 && (intptr_t)res.data[0].val == want,
		  "sum %ld, want %ld", (long)(intptr_t)res.data[0].val, want);
	free(res.data);

	j.pos = 0;
	j.writes = 1;
	tmp = tmpfile();
	saved = dup(2);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = run(&j, &res);
	fflush(stderr);
	dup2(saved, 2);
	rewind(tmp);
	n = fread(msg, 1, sizeof(msg) - 1, tmp);
	msg[n] = '\0';
	fclose(tmp);
	PHX_CHECK(rc < 0, "maps wrote to the parent's stack and map_reduce "
		  "succeeded (max = %d: the writes were lost silently)", j.max);
	PHX_CHECK(strstr(msg, "parent's stack") && strstr(msg, "outside the scope"),
		  "the error does not say what happened: %s", msg);
	map_reduce_finalize();
	free(data);
	printf("phx_stack: reads of the parent's stack work; a write there fails "
	       "the job:\n%s", msg);
	return 0;
}
