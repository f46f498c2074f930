/*
 * map_reduce.h — libdsm_mapreduce: the Phoenix 2.0 MapReduce API on
 * deterministic spaces (include/dsm_det.h).
 *
 * Same names, types and fields as Phoenix 2.0's map_reduce.h, so a Phoenix
 * program compiles and links unchanged (-ldsm_mapreduce). What differs is
 * how it runs: every map worker and every reduce worker is a space (a
 * forked child over the context's scope); tasks are assigned to workers in
 * fixed contiguous blocks, values reach reduce in task order, and the
 * result is sorted by key_cmp with ties in task order, so the result array
 * is identical across runs and across thread counts.
 *
 * Memory: the program's heap and its globals are the scope, as under
 * Phoenix's threads. The library interposes malloc/calloc/realloc/free
 * (and the aligned variants): the whole heap of the process lives in the
 * arena of its deterministic context, so writes that map, reduce,
 * combiner, splitter, locator and partition functions make to memory the
 * program allocated before or between map_reduce() calls, and to the
 * executable's global and static variables, are merged back in a fixed
 * order (two workers writing different values to the same bytes: an
 * error). Memory a task allocates (keys, values) is ordinary heap memory
 * afterwards. Outside the scope: the parent's stack (a task writing a
 * local variable of the program through a pointer makes the job fail
 * with the address named), memory from raw mmap other than the array
 * splitter's input, shared libraries' globals: writes there are private
 * to the task. Keys that point into the map task's input chunk (outside
 * the heap) are copied by emit_intermediate (key_size bytes). Under a
 * sanitizer that owns malloc the heap is not in the scope (docs/det.md).
 * Result keys and values stay valid after map_reduce_finalize(); free()
 * them (or not) as with Phoenix.
 *
 * Threads: map_reduce is not thread-safe (as in Phoenix). emit and
 * emit_intermediate may only be called from reduce and map functions.
 */
#ifndef MAP_REDUCE_H_
#define MAP_REDUCE_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Argument of a map function, filled by the splitter: length elements
 * (of unit_size bytes for the default splitter) starting at data. */
typedef struct {
	intptr_t length;
	void *data;
} map_args_t;

/* One key/value pair of the result. */
typedef struct {
	void *key;
	void *val;
} keyval_t;

/* The result: length pairs in data, sorted by key_cmp. data is allocated
 * with malloc by map_reduce; the caller frees it with free(). */
typedef struct {
	int length;
	keyval_t *data;
} final_data_t;

/* Map: process one task; call emit_intermediate for each pair. */
typedef void (*map_t)(map_args_t *);

/* Iterator over the values of one key (reduce and combiner). */
struct iterator_t;
typedef struct iterator_t iterator_t;

/* Next value into *val: 1, or 0 at the end. */
int iter_next(iterator_t *itr, void **val);
/* Number of values the iterator visits in all. */
int iter_size(iterator_t *itr);

/* Reduce: one key and its values; call emit for each result pair. NULL
 * selects the identity reduce (one pair per value). */
typedef void (*reduce_t)(void *, iterator_t *itr);

/* Combiner: reduce the values of one key of one map task to one value
 * (same operation as reduce, returning the value). Optional. */
typedef void *(*combiner_t)(iterator_t *itr);

/* Splitter: fill map_args_t with the next task of about req_units units
 * of data; return 1, or 0 when no data is left. NULL: the array splitter
 * (task_data is an array of data_size bytes in units of unit_size). */
typedef int (*splitter_t)(void *, int, map_args_t *);

/* Locator: the address a map task mostly accesses (a placement hint). */
typedef void *(*locator_t)(map_args_t *);

/* Partition: the reduce task (0..reduce_tasks-1) of a key of key_size
 * bytes; equal keys must get the same task. */
typedef int (*partition_t)(int, void *, int);

/* key_cmp(a, b): 0 if a == b, > 0 if a > b, < 0 if a < b. */
typedef int (*key_cmp_t)(const void *, const void *);

/* Arguments of map_reduce(). Optional fields are 0 when unused. */
typedef struct {
	void *task_data;        /* input: an array if splitter is NULL, else
	                         * passed to the splitter */
	off_t data_size;        /* bytes of input */
	int unit_size;          /* bytes of one element (on average) */

	map_t map;              /* required */
	reduce_t reduce;        /* NULL: identity reduce */
	combiner_t combiner;    /* NULL: none */
	splitter_t splitter;    /* NULL: array splitter */
	locator_t locator;      /* NULL: task data address */
	key_cmp_t key_cmp;      /* required */

	final_data_t *result;   /* required; filled by map_reduce */

	/*** Optional arguments: zero if not used ***/
	partition_t partition;  /* NULL: default_partition */
	bool use_one_queue_per_task; /* one output queue per reduce task
	                              * (results are identical either way) */
	int L1_cache_size;      /* bytes of input per map task (default 64K) */
	int num_map_threads;    /* map workers (default: MR_NUMTHREADS, else
	                         * one per CPU) */
	int num_reduce_threads; /* reduce workers (same default) */
	int num_merge_threads;  /* workers sorting the final result */
	int num_procs;          /* CPUs to use at most (error if more than
	                         * the machine has) */
	int proc_offset;        /* first CPU workers are bound to */
	float key_match_factor; /* expected values per key (buffer sizing) */
} map_reduce_args_t;

/* Once per process before map_reduce. Returns 0 or -1. */
int map_reduce_init(void);

/* Once per process at the end. Releases nothing: the results of every
 * job stay valid, owned by the program (free() them, or not). Returns 0. */
int map_reduce_finalize(void);

/* Run a MapReduce job; fills args->result. Returns 0, or < 0 on error
 * with args->result untouched (the reason is printed to stderr: a worker
 * out of memory names the limit and DSM_DET_HEAP; a conflict names the
 * bytes and workers; a write to the parent's stack names the address).
 * Workers: num_map_threads / num_reduce_threads, else MR_NUMTHREADS, else
 * num_procs, else one per CPU (at most 63). Not thread-safe. */
int map_reduce(map_reduce_args_t *args);

/* From a map function: add a pair for the reduce phase. */
void emit_intermediate(void *key, void *val, int key_size);

/* From a reduce function: add a pair to the result. */
void emit(void *key, void *val);

/* The default partition: a hash of key_size bytes of key, modulo
 * reduce_tasks. */
int default_partition(int reduce_tasks, void *key, int key_size);

#ifdef __cplusplus
}
#endif
#endif /* MAP_REDUCE_H_ */
