/*
 * hooks.h — what the core and the protocols call (src/gc; docs/gc.md).
 */
#ifndef DSM_GC_HOOKS_H
#define DSM_GC_HOOKS_H

#include <stddef.h>

#include "core/node.h"

/* Node teardown (dsm_finalize): free the collector's private state. */
void dsm__gc_fini(struct dsm_node *n);

/*
 * Page content is leaving this node: data (len bytes, 8-byte aligned) is
 * either the copy of a page about to be sent (sc, lrc and hlrc page
 * serves, hlrc home migration, tape pushes) or the whole page a diff is
 * being encoded from (lrc, hlrc), or dsm_broadcast's buffer. Every
 * aligned word pointing into a live object of this node's arena marks
 * that object *escaped*, so the node's non-collective collections
 * (dsm_gc_collect_local) keep it. The whole
 * page, not the diff: a diff carries only changed bytes (docs/gc.md).
 * Only the 8-byte aligned words of data are read.
 * Any thread: the service thread, the release path, and the write-fault
 * path (lrc turns an old twin into a diff there), so it never takes the
 * collector mutex, only a lock no holder ever faults under, and never
 * allocates. One load and a return
 * without a collector.
 */
void dsm__gc_escape_scan(struct dsm_node *n, const void *data, size_t len);
static inline void dsm__gc_page_out(struct dsm_node *n, const void *data, size_t len)
{
	if (__builtin_expect(!__atomic_load_n(&n->gc_state, __ATOMIC_RELAXED), 1))
		return;
	dsm__gc_escape_scan(n, data, len);
}

#endif /* DSM_GC_HOOKS_H */
