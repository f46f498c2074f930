/*
 * mr.h — libdsm_mapreduce internals (src/det/mapreduce).
 */
#ifndef DSM_DET_MR_H
#define DSM_DET_MR_H

#include <stddef.h>

#include "map_reduce.h"

#define DSM_MR_MAX_WORKERS 63 /* spaces per round */

/* A growable vector of pairs in the caller's (sub-)heap. */
struct mr_vec {
	keyval_t *kv;
	size_t n, cap;
	int mark; /* map: touched by the running task */
};

/* Append (key, val); grows with dsm_det_malloc. 0 or -ENOMEM. */
int dsm__mr_push(struct mr_vec *v, void *key, void *val);

/* Stable sort of n pairs by key (merge sort). Ties keep their order. */
void dsm__mr_sort(keyval_t *kv, size_t n, key_cmp_t cmp);

#endif /* DSM_DET_MR_H */
