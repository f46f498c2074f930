/*
 * mr.c — libdsm_mapreduce: Phoenix 2.0's MapReduce API on deterministic
 * spaces.
 *
 * One map_reduce call:
 *   split   in the parent, sequentially: the splitter's tasks, in order;
 *   map     one space per map worker; worker w runs a fixed contiguous
 *           block of task groups (MR_GROUPS); emit_intermediate appends
 *           to per-partition scratch vectors; the combiner runs per group
 *           (groups depend on the task count only, so what reduce sees
 *           does not depend on the worker count); each partition is then
 *           stably sorted by key and packed into the worker's sub-heap;
 *   reduce  one space per reduce worker over a contiguous block of the
 *           MR_PARTS partitions: the partition's pairs from every map
 *           worker in worker order (= task order), stably sorted, grouped,
 *           reduced; emit appends to the worker's output vector;
 *   merge   in the parent: all outputs in partition order, stably sorted
 *           by key into a malloc'd array.
 * Workers publish their vectors by storing a pointer into a table the
 * parent allocated in the scope; the spaces merge carries everything back.
 */
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm_det.h"
#include "map_reduce.h"
#include "det/mapreduce/mr.h"

#define MR_PARTS 256             /* reduce tasks: fixed, so output order is too */
#define MR_DEFAULT_CHUNK (64 * 1024)
/* Map tasks are taken in consecutive groups of ceil(tasks / MR_GROUPS):
 * the combiner runs once per group over its tasks' values of a key, and a
 * worker runs whole groups. The grouping depends on the number of tasks
 * only, so the result does not depend on the number of workers; and the
 * pairs that reach reduce are (groups x keys), not (tasks x keys). */
#define MR_GROUPS 128


struct mr_job {
	map_reduce_args_t *args;
	dsm_det_t *det;
	map_args_t *tasks;
	size_t ntasks;
	size_t group;            /* tasks per combine group */
	size_t ngroups;
	int nmap, nred, cpus;
	struct mr_pack **map_out; /* [nmap] -> MR_PARTS runs, in the scope */
	struct mr_pack **red_out; /* [nred] -> one sorted run, in the scope */
	size_t split_pos;        /* array splitter position (units) */
	int input_range;         /* task_data was added to the scope */
};

/* Per-process state of a worker (in a child) or of the parent. */
static struct {
	struct mr_job *job;
	struct mr_vec *parts;       /* map worker: MR_PARTS vectors (scratch) */
	const map_args_t *task;     /* map task running */
	int *touched, ntouched;     /* map: partitions the task emitted to */
	struct mr_vec *out;         /* reduce worker output (scratch) */
	struct mr_keys keys;        /* map: copies of keys inside the input */
	struct mr_group *groups;    /* map with a combiner: MR_PARTS groups */
	struct mr_gvals gvals;      /* ... and their values */
	int oom;
} cw;

/* The executable's data and bss (its globals), in the scope from the
 * first job on. */
#define MR_MAX_GLOBALS 4
static struct dsm_det_range globals[MR_MAX_GLOBALS];
static int nglobals = -1; /* -1: not looked up yet */

/* Opens the process's deterministic context (the first allocation has
 * usually done it already: its arena is the program's heap). */
int map_reduce_init(void)
{
	int err = 0;

	if (!dsm__mr_master(&err)) {
		fprintf(stderr, "map_reduce_init: %s (%s)\n", dsm_det_strerror(err),
			dsm_det_errmsg(NULL));
		return -1;
	}
	return 0;
}

/* Nothing to release: the context's arena is the program's heap, where
 * the results of every job live until the program frees them, after
 * finalize as under Phoenix. */
int map_reduce_finalize(void)
{
	return 0;
}

int iter_next(iterator_t *itr, void **val)
{
	if (!itr || itr->pos >= itr->n)
		return 0;
	*val = itr->kv[itr->pos++].val;
	return 1;
}

int iter_size(iterator_t *itr)
{
	return itr ? itr->n : 0;
}

int default_partition(int reduce_tasks, void *key, int key_size)
{
	unsigned long hash = 5381;
	const unsigned char *s = key;

	for (int i = 0; i < key_size; i++)
		hash = hash * 33 + s[i];
	return (int)(hash % (unsigned long)reduce_tasks);
}

/* Array splitter: consecutive runs of req_units units of task_data. */
static int array_splitter(void *data, int req_units, map_args_t *out)
{
	struct mr_job *j = cw.job;
	size_t units = (size_t)j->args->data_size / (size_t)j->args->unit_size;

	if (j->split_pos >= units)
		return 0;
	out->data = (char *)data + j->split_pos * (size_t)j->args->unit_size;
	out->length = (intptr_t)(units - j->split_pos < (size_t)req_units
					 ? units - j->split_pos : (size_t)req_units);
	j->split_pos += (size_t)out->length;
	return 1;
}

/* Is key inside the running task's input (the map may have changed it
 * privately)? Then the worker's copy of it (one per distinct key) in the
 * sub-heap is used. */
static void *stable_key(void *key, int key_size)
{
	const map_args_t *t = cw.task;
	size_t span = (size_t)t->length * (size_t)(cw.job->args->unit_size > 0
						   ? cw.job->args->unit_size : 1);
	char *k = key, *d = t->data;
	void *copy;

	if (key_size <= 0 || !d || k < d || k >= d + span || dsm_det_owns(key))
		return key;
	copy = dsm__mr_key_copy(&cw.keys, key, (size_t)key_size);
	if (!copy) {
		cw.oom = 1;
		return key;
	}
	return copy;
}

void emit_intermediate(void *key, void *val, int key_size)
{
	map_reduce_args_t *a;
	int p;

	if (!cw.parts || !cw.task)
		return; /* not in a map task */
	a = cw.job->args;
	p = (a->partition ? a->partition : default_partition)(MR_PARTS, key, key_size);
	p = ((p % MR_PARTS) + MR_PARTS) % MR_PARTS;
	if (!cw.parts[p].mark) {
		cw.parts[p].mark = 1;
		cw.touched[cw.ntouched++] = p;
	}
	key = stable_key(key, key_size);
	if (cw.groups ? dsm__mr_group_add(&cw.groups[p], &cw.gvals, key, val, a->key_cmp) < 0
		      : dsm__mr_push(&cw.parts[p], key, val) < 0)
		cw.oom = 1;
}

void emit(void *key, void *val)
{
	if (cw.out && dsm__mr_push(cw.out, key, val) < 0)
		cw.oom = 1;
}

/* The end of a task group: with a combiner, each touched partition's keys
 * of the group, combined, go to its pair vector. */
static void end_group(struct mr_job *j)
{
	for (int i = 0; i < cw.ntouched; i++) {
		int p = cw.touched[i];
		if (cw.groups && dsm__mr_group_flush(&cw.groups[p], &cw.gvals, &cw.parts[p],
						     j->args->combiner) < 0)
			cw.oom = 1;
		cw.parts[p].mark = 0;
	}
	cw.gvals.n = 0;
	cw.ntouched = 0;
}

/* Zeroed scratch memory (private to the process: never merged). */
static void *scratch_zero(size_t size)
{
	void *p = dsm__mr_scratch(size);

	if (p)
		memset(p, 0, size);
	return p;
}

static void bind_cpu(struct mr_job *j, int w)
{
	cpu_set_t set;

	if (j->args->proc_offset <= 0 && j->args->num_procs <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((j->args->proc_offset + w) % j->cpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void block(size_t n, int workers, int w, size_t *lo, size_t *hi)
{
	*lo = n * (size_t)w / (size_t)workers;
	*hi = n * (size_t)(w + 1) / (size_t)workers;
}

/* A map worker (in its space). */
static void map_worker(void *arg)
{
	struct mr_job *j = cw.job;
	int w = (int)(intptr_t)arg;
	size_t lo, hi;

	bind_cpu(j, w);
	cw.parts = scratch_zero(MR_PARTS * sizeof(*cw.parts));
	cw.touched = scratch_zero(MR_PARTS * sizeof(*cw.touched));
	if (j->args->combiner)
		cw.groups = scratch_zero(MR_PARTS * sizeof(*cw.groups));
	if (!cw.parts || !cw.touched || (j->args->combiner && !cw.groups))
		_exit(1);
	block(j->ngroups, j->nmap, w, &lo, &hi);
	lo *= j->group;
	hi = hi * j->group < j->ntasks ? hi * j->group : j->ntasks;
	for (size_t t = lo; t < hi; t++) {
		map_args_t task = j->tasks[t];
		cw.task = &task;
		j->args->map(&task);
		if ((t + 1) % j->group == 0 || t + 1 == hi)
			end_group(j);
	}
	cw.task = NULL;
	for (int p = 0; p < MR_PARTS; p++)
		dsm__mr_sort(cw.parts[p].kv, cw.parts[p].n, j->args->key_cmp);
	if (cw.oom || !(j->map_out[w] = dsm__mr_pack(cw.parts, MR_PARTS)))
		_exit(1);
}

/* Every map worker's pairs of partition p, in worker order, sorted, in
 * the scratch vector all (emptied first). */
static int gather(struct mr_job *j, int p, struct mr_vec *all)
{
	all->n = 0;
	for (int w = 0; w < j->nmap; w++) {
		const struct mr_pack *pk = j->map_out[w];
		for (size_t i = pk->off[p]; i < pk->off[p + 1]; i++)
			if (dsm__mr_push(all, pk->kv[i].key, pk->kv[i].val) < 0)
				return -ENOMEM;
	}
	dsm__mr_sort(all->kv, all->n, j->args->key_cmp);
	return 0;
}

static void reduce_partition(struct mr_job *j, const struct mr_vec *all)
{
	for (size_t i = 0, k; i < all->n; i += k) {
		struct iterator_t it;
		for (k = 1; i + k < all->n &&
			    j->args->key_cmp(all->kv[i].key, all->kv[i + k].key) == 0; k++)
			;
		it = (struct iterator_t){ all->kv + i, (int)k, 0 };
		if (j->args->reduce) {
			j->args->reduce(all->kv[i].key, &it);
		} else {
			void *v;
			while (iter_next(&it, &v))
				emit(all->kv[i].key, v);
		}
	}
}

/* A reduce worker (in its space). */
static void reduce_worker(void *arg)
{
	struct mr_job *j = cw.job;
	int w = (int)(intptr_t)arg;
	size_t lo, hi;
	struct mr_vec all = { 0 }, out = { 0 };

	bind_cpu(j, w);
	cw.out = &out;
	block(MR_PARTS, j->nred, w, &lo, &hi);
	for (size_t p = lo; p < hi; p++) {
		if (gather(j, (int)p, &all) < 0)
			_exit(1);
		reduce_partition(j, &all);
	}
	/* sorted here, in parallel: the parent only merges the runs */
	dsm__mr_sort(out.kv, out.n, j->args->key_cmp);
	if (cw.oom || !(j->red_out[w] = dsm__mr_pack(&out, 1)))
		_exit(1);
	dsm__mr_vec_free(&all);
	dsm__mr_vec_free(&out);
}

static int run_round(struct mr_job *j, int n, void (*fn)(void *), const char *what)
{
	int rc = 0;

	for (int w = 0; w < n && rc >= 0; w++)
		rc = dsm_det_spawn(j->det, fn, (void *)(intptr_t)w);
	if (rc >= 0 || rc == -EBUSY)
		rc = dsm_det_join(j->det);
	else
		dsm_det_join(j->det);
	if (rc == DSM_EDETCHILD) /* the message names the worker and why */
		fprintf(stderr, "map_reduce: %s phase failed: %s worker %s\n", what,
			what, dsm_det_errmsg(j->det));
	else if (rc < 0)
		fprintf(stderr, "map_reduce: %s phase failed: %s (%s)\n", what,
			dsm_det_strerror(rc), dsm_det_errmsg(j->det));
	return rc;
}

/* All reduce outputs (each sorted by its worker), merged stably in worker
 * order (= partition order) into result: the stable sort of the outputs
 * in partition order, on num_merge_threads threads. */
static int final_merge(struct mr_job *j)
{
	size_t bnd[DSM_MR_MAX_WORKERS + 1], total = 0;
	keyval_t *res;

	for (int w = 0; w < j->nred; w++) {
		bnd[w] = total;
		total += j->red_out[w] ? j->red_out[w]->off[1] : 0;
	}
	bnd[j->nred] = total;
	res = malloc((total ? total : 1) * sizeof(*res));
	if (!res)
		return -ENOMEM;
	for (int w = 0; w < j->nred; w++)
		if (bnd[w + 1] > bnd[w])
			memcpy(res + bnd[w], j->red_out[w]->kv, (bnd[w + 1] - bnd[w]) * sizeof(*res));
	if (dsm__mr_merge_runs(res, bnd, (size_t)j->nred, j->args->key_cmp,
			       j->args->num_merge_threads) < 0) {
		free(res);
		return -ENOMEM;
	}
	j->args->result->data = res;
	j->args->result->length = (int)total;
	return 0;
}

static int split(struct mr_job *j)
{
	map_reduce_args_t *a = j->args;
	splitter_t sp = a->splitter ? a->splitter : array_splitter;
	int chunk = (a->L1_cache_size > 0 ? a->L1_cache_size : MR_DEFAULT_CHUNK) /
		    a->unit_size;
	size_t cap = 0;
	map_args_t t;

	if (chunk <= 0)
		chunk = 1;
	while (memset(&t, 0, sizeof(t)), sp(a->task_data, chunk, &t)) {
		if (j->ntasks == cap) {
			map_args_t *p = realloc(j->tasks, (cap = cap ? 2 * cap : 64) * sizeof(t));
			if (!p)
				return -ENOMEM;
			j->tasks = p;
		}
		if (a->locator)
			(void)a->locator(&t); /* one locality group: a hint only */
		j->tasks[j->ntasks++] = t;
	}
	return 0;
}

/* Workers of a phase: the field, else MR_NUMTHREADS (as Phoenix's own
 * programs read it), else num_procs, else one per CPU; at most 63. */
static int workers(int asked, int cpus, int procs)
{
	const char *env = getenv("MR_NUMTHREADS");
	int n = asked > 0 ? asked : (env && atoi(env) > 0 ? atoi(env)
				     : procs > 0 ? procs : cpus);

	return n > DSM_MR_MAX_WORKERS ? DSM_MR_MAX_WORKERS : n;
}

struct phdr_walk {
	int n;
	const void *marker;
};

/* The executable's writable PT_LOAD segments minus its RELRO part (made
 * read-only after relocation). The executable is the first object. */
static int find_globals(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct phdr_walk *w = arg;
	uintptr_t relro_lo = 0, relro_hi = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
			relro_lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			relro_hi = relro_lo + info->dlpi_phdr[i].p_memsz;
		}
	for (int i = 0; i < info->dlpi_phnum && w->n < MR_MAX_GLOBALS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		if (lo >= relro_lo && lo < relro_hi)
			lo = relro_hi;
		if (lo >= hi)
			continue;
		/* linked statically with us: our own state is in there and
		 * must stay private to each space; no globals in the scope */
		if ((uintptr_t)w->marker >= lo && (uintptr_t)w->marker < hi)
			return w->n = 0, 1;
		globals[w->n++] = (struct dsm_det_range){ (void *)lo, hi - lo };
	}
	return 1; /* the first object only */
}

/* Put the executable's globals in the scope (once). */
static int add_globals(dsm_det_t *d)
{
	struct phdr_walk w = { 0, &cw };
	int rc;

	if (nglobals >= 0)
		return 0;
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's redzones between globals: twinning and diffing whole pages
	 * of them reads the redzones (and its malloc keeps the heap out of
	 * the scope anyway): no globals in the scope under it */
	nglobals = 0;
	return 0;
#endif
	dl_iterate_phdr(find_globals, &w);
	for (int i = 0; i < w.n; i++)
		if ((rc = dsm_det_add_range(d, globals[i].addr, globals[i].len)) < 0) {
			fprintf(stderr, "map_reduce: cannot put the program's globals "
				"[%p, +%zu) in the scope: %s\n", globals[i].addr,
				globals[i].len, dsm_det_strerror(rc));
			while (i-- > 0)
				dsm_det_remove_range(d, globals[i].addr);
			return rc;
		}
	nglobals = w.n;
	return 0;
}

/* Is [p, p+len) inside the scope already (the heap or the globals)? */
static int in_scope(const void *p, size_t len)
{
	const char *c = p;

	if (dsm_det_owns(p))
		return 1;
	for (int i = 0; i < nglobals; i++)
		if (c >= (char *)globals[i].addr &&
		    c + len <= (char *)globals[i].addr + globals[i].len)
			return 1;
	return 0;
}

/* The process's context, with the executable's globals in the scope and,
 * for this job, the input array when the array splitter is used and it
 * lies elsewhere (a raw mmap: a map may write to its input). */
static int open_ctx(struct mr_job *j)
{
	map_reduce_args_t *a = j->args;
	int rc = 0;

	if (!(j->det = dsm__mr_master(&rc)))
		return rc ? rc : -EAGAIN;
	if ((rc = add_globals(j->det)) < 0)
		return rc;
	if (!a->splitter && a->task_data && a->data_size > 0 &&
	    !in_scope(a->task_data, (size_t)a->data_size)) {
		if ((rc = dsm_det_add_range(j->det, a->task_data,
					    (size_t)a->data_size)) < 0)
			return rc;
		j->input_range = 1;
	}
	return 0;
}

/* Give the job's intermediate blocks back to their sub-heaps. */
static void release_job(struct mr_job *j)
{
	for (int w = 0; j->map_out && w < j->nmap; w++)
		dsm_det_free(j->map_out[w]);
	for (int w = 0; j->red_out && w < j->nred; w++)
		dsm_det_free(j->red_out[w]);
	dsm_det_free(j->map_out);
	dsm_det_free(j->red_out);
	if (j->input_range)
		dsm_det_remove_range(j->det, j->args->task_data);
}

static int check_args(map_reduce_args_t *a, int cpus)
{
	if (!a || !a->map || !a->key_cmp || a->unit_size <= 0 || !a->result)
		return -EINVAL;
	if (!a->splitter && (!a->task_data || a->data_size < 0))
		return -EINVAL;
	if (a->num_procs > cpus)
		return -EINVAL;
	return 0;
}

static int run_job(struct mr_job *j)
{
	int rc;

	if ((rc = open_ctx(j)) < 0 || (rc = split(j)) < 0)
		return rc;
	j->group = (j->ntasks + MR_GROUPS - 1) / MR_GROUPS;
	if (j->group == 0)
		j->group = 1;
	j->ngroups = (j->ntasks + j->group - 1) / j->group;
	j->nmap = workers(j->args->num_map_threads, j->cpus, j->args->num_procs);
	if ((size_t)j->nmap > j->ngroups)
		j->nmap = j->ngroups ? (int)j->ngroups : 1;
	j->nred = workers(j->args->num_reduce_threads, j->cpus, j->args->num_procs);
	j->map_out = dsm_det_calloc((size_t)j->nmap, sizeof(*j->map_out));
	j->red_out = dsm_det_calloc((size_t)j->nred, sizeof(*j->red_out));
	if (!j->map_out || !j->red_out)
		return -ENOMEM;
	if ((rc = run_round(j, j->nmap, map_worker, "map")) < 0)
		return rc;
	for (int w = 0; w < j->nmap; w++)
		if (!j->map_out[w])
			return -EPROTO;
	if ((rc = run_round(j, j->nred, reduce_worker, "reduce")) < 0)
		return rc;
	return final_merge(j);
}

int map_reduce(map_reduce_args_t *args)
{
	struct mr_job j;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	memset(&j, 0, sizeof(j));
	j.args = args;
	j.cpus = cpus > 0 ? (int)cpus : 1;
	if ((rc = check_args(args, j.cpus)) < 0) {
		fprintf(stderr, "map_reduce: invalid arguments (map, key_cmp, "
			"unit_size > 0, result and task_data are required; "
			"num_procs <= %d)\n", j.cpus);
		return rc;
	}
	memset(&cw, 0, sizeof(cw));
	cw.job = &j;
	rc = run_job(&j);
	release_job(&j);
	if (rc < 0 && rc != DSM_EDETCONFLICT && rc != DSM_EDETCHILD)
		fprintf(stderr, "map_reduce: %s\n", dsm_det_strerror(rc));
	free(j.tasks);
	memset(&cw, 0, sizeof(cw));
	return rc < 0 ? -1 : 0;
}
