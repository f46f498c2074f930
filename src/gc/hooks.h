/*
 * hooks.h — what the core calls (src/gc; docs/gc.md).
 */
#ifndef DSM_GC_HOOKS_H
#define DSM_GC_HOOKS_H

#include "core/node.h"

/* Node teardown (dsm_finalize): free the collector's private state. */
void dsm__gc_fini(struct dsm_node *n);

#endif /* DSM_GC_HOOKS_H */
