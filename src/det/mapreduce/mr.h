/*
 * mr.h — libdsm_mapreduce internals (src/det/mapreduce).
 */
#ifndef DSM_DET_MR_H
#define DSM_DET_MR_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_det.h"
#include "map_reduce.h"

#define DSM_MR_MAX_WORKERS 63 /* spaces per round */

/* A growable vector of pairs in scratch memory (private to the process,
 * outside the scope: mr_scratch.c), so building it inside a space costs
 * no fault, twin or merge; what must reach the parent is packed into the
 * sub-heap at the end (struct mr_pack). */
struct mr_vec {
	keyval_t *kv;
	size_t n, cap;
	int mark; /* map: touched by the running task */
};

/* Pairs published by a worker: one sub-heap block, written once and in
 * order (its pages are fresh: no faults beyond the first touch, merged as
 * whole pages). Run r is kv[off[r] .. off[r + 1]). */
struct mr_pack {
	size_t nruns;
	size_t *off;              /* nruns + 1 offsets, inside the block */
	keyval_t *kv;
};

/* The process's deterministic context, whose arena is the program's heap
 * (mr_malloc.c): opened at the first call (the first allocation), never
 * closed. NULL while it is being opened or if opening failed (*err, if
 * not NULL, receives the error). */
dsm_det_t *dsm__mr_master(int *err);

/* A map worker's copies of keys that point into its tasks' input: one
 * sub-heap copy per distinct byte string (a word emitted a million times
 * is copied once). The table is scratch memory. */
struct mr_keys {
	struct mr_key_ent *ent;
	size_t cap, n;
};

/* The worker's copy of key's size bytes (made now if new), or NULL when
 * out of memory. */
void *dsm__mr_key_copy(struct mr_keys *kc, const void *key, size_t size);

/* The iterator given to reduce and combiner functions: n values in
 * kv[0..n), from pos on. */
struct iterator_t {
	const keyval_t *kv;
	int n, pos;
};

/* One partition's keys in the current task group (mr_group.c), and the
 * values of all of a worker's partitions in it, in emit order. */
struct mr_group {
	struct mr_gkey *k;
	size_t nk, capk;
};
struct mr_gvals {
	struct { void *val; uint32_t next; } *v;
	size_t n, cap;
	keyval_t *tmp;    /* one key's values, for the combiner's iterator */
	size_t tmpcap;
};

/* Add (key, val) to g (values to gv), keeping g's keys sorted and each
 * key's values in order. 0 or -ENOMEM. */
int dsm__mr_group_add(struct mr_group *g, struct mr_gvals *gv, void *key, void *val,
		      key_cmp_t cmp);
/* Push (key, comb(values)) for each key of g, in key order, onto out;
 * empty g. The caller empties gv once every partition is flushed. */
int dsm__mr_group_flush(struct mr_group *g, struct mr_gvals *gv, struct mr_vec *out,
			combiner_t comb);

/* Append (key, val) to a scratch vector. 0 or -ENOMEM. */
int dsm__mr_push(struct mr_vec *v, void *key, void *val);
/* Free a scratch vector's pairs and empty it. */
void dsm__mr_vec_free(struct mr_vec *v);

/* Pack nruns scratch vectors into one sub-heap block (dsm_det_malloc).
 * NULL when out of memory. */
struct mr_pack *dsm__mr_pack(const struct mr_vec *runs, size_t nruns);

/* Merge the sorted runs kv[bnd[r] .. bnd[r + 1]) (r < nruns) into one
 * sorted array in place, stably (earlier runs first on ties), on up to
 * threads threads; bnd is clobbered. 0 or -ENOMEM (kv unchanged). */
int dsm__mr_merge_runs(keyval_t *kv, size_t *bnd, size_t nruns, key_cmp_t cmp,
		       int threads);

/* Scratch memory (mr_scratch.c): private to the process even inside a
 * space, never in the scope, never near it. Thread-safe. */
void *dsm__mr_scratch(size_t size);
void *dsm__mr_scratch_realloc(void *p, size_t size);
void dsm__mr_scratch_free(void *p);

/* Stable sort of n pairs by key (merge sort). Ties keep their order. */
void dsm__mr_sort(keyval_t *kv, size_t n, key_cmp_t cmp);

#endif /* DSM_DET_MR_H */
