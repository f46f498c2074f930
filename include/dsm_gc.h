/*
 * dsm_gc.h — a garbage-collected shared heap with per-node collection,
 * import/export lists and a global collection for cross-node cycles
 * (Java/DSM's distributed collector; docs/gc.md).
 *
 * Objects are records of registered types (dsm_type.h's field
 * descriptions): the collector knows every reference field of an object
 * from its type, so it is precise for objects. Every object is created by
 * one node, its *owner*, in the owner's arena of the region, and only the
 * owner frees it. Each node keeps
 *
 *   - its roots: slots (in private or shared memory) registered with
 *     dsm_gc_root_add, each holding a pointer to an object or NULL;
 *   - its export list: its own objects that objects or roots of other
 *     nodes refer to, each with a reference count (one per importing
 *     node and address); exported objects are roots of its collections;
 *   - its import list: objects of other nodes that its roots and its live
 *     objects refer to.
 *
 * dsm_gc_collect is collective: every node marks from its roots and its
 * export list through the objects it owns, the references to other
 * nodes' objects it meets form its new import list, and the difference
 * with the previous import list is sent to the owners in batches (one
 * mailbox per pair of nodes, exchanged between barriers, so a collection
 * costs a few barriers and no message per reference). Owners count the
 * references up and down; an object is freed when it is neither marked
 * nor exported. Cycles that span nodes keep each other exported; a
 * *global* collection marks from the roots only, across nodes, and frees
 * them. It runs when dsm_gc_collect_global is called, and on its own in a
 * dsm_gc_collect once local collections stop reclaiming (docs/gc.md).
 * dsm_gc_collect_local collects one node alone, with no barrier: it keeps
 * every object whose address left the node (in a page or a diff, which
 * the protocols report) since the last collective collection, and frees
 * the objects that were never published.
 *
 * The contract (what makes the collector sound under every protocol):
 *   - every reference a program keeps across a collection is in a root
 *     slot or in a field of an object reachable from one (on any node);
 *     local variables are not scanned;
 *   - while any node is in a collection, no thread of any node stores
 *     references into objects or root slots (collections are
 *     stop-the-world: dsm_gc_malloc and the root calls of other threads of
 *     the node wait for the collection to end);
 *   - references point to an object (any byte of it) or are NULL; a
 *     reference field holding anything else is ignored.
 *
 * Conventions (as dsm.h): 0 or a negative errno unless documented
 * otherwise. Thread-safe; not for signal handlers. Not supported in a job
 * whose nodes differ in byte order (the arenas are untyped pages).
 */
#ifndef DSM_GC_H
#define DSM_GC_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_type.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Set up the collector. Collective (same arena_bytes on every node; 0
 * for the default, DSM_HEAP_SIZE / (4 * nodes) capped at 64 MiB). Each
 * node gets an arena of arena_bytes (rounded up to 64 KiB) in the region.
 * 0, -EALREADY, -ENOMEM (no room in the region), -ENOTSUP under the ec
 * protocol (data not bound to a lock or barrier is not kept coherent
 * there; docs/gc.md) or in a job of mixed byte order, or a barrier's
 * error.
 */
int dsm_gc_init(size_t arena_bytes);

/* Tear the collector down (collective). Objects become invalid. Also done
 * by dsm_finalize. */
int dsm_gc_fini(void);

/*
 * Register a type whose objects the collector manages: the same call as
 * dsm_type_register (every node, same order, after dsm_gc_init); PTR fields
 * are references; a RECORD field must name a type registered here too.
 * Returns the type id (> 0), or -EINVAL / -ENOSPC / -ENOTCONN.
 */
dsm_type_t dsm_gc_type_register(const char *name, size_t size,
				const struct dsm_field *fields, size_t nfields);

/*
 * Allocate count (>= 1) zeroed objects of type t, owned by this node, as
 * one object (an array). Any thread; no message. NULL with errno set:
 * EINVAL (type not registered with dsm_gc_type_register, count 0),
 * ENOMEM (this node's arena is full: collect), ENOTCONN (no dsm_gc_init).
 */
void *dsm_gc_malloc(dsm_type_t t, size_t count);

/*
 * Register / unregister a root: a slot (private or shared memory) holding
 * a reference or NULL, read at every collection of this node. A slot may
 * be added several times (and is then removed as many times). 0,
 * -EINVAL (NULL slot), -ENOENT (remove: not registered), -ENOMEM.
 */
int dsm_gc_root_add(void **slot);
int dsm_gc_root_remove(void **slot);

/*
 * Register / unregister a range scanned conservatively at every
 * collection of this node: every 8-byte aligned word in [addr, addr + len)
 * (private or shared memory) that points into a live object keeps it
 * alive, whatever the word really is (an integer that happens to look
 * like a reference only retains an object: it never frees one). For
 * tables of references the program keeps outside objects. Removal takes
 * the addr given to add. 0, -EINVAL (NULL, len 0), -ENOENT, -ENOMEM.
 */
int dsm_gc_root_add_range(const void *addr, size_t len);
int dsm_gc_root_remove_range(const void *addr);

/*
 * A collection (collective: every node calls it; see the header comment
 * for the contract). Local collections plus import/export exchange; a
 * global one if local collections stopped reclaiming (docs/gc.md). 0 or a
 * negative error (a barrier failed: a peer died).
 */
int dsm_gc_collect(void);

/* A global collection (collective): marks from the roots only, across
 * nodes, so cycles of garbage that span nodes are freed. */
int dsm_gc_collect_global(void);

/*
 * A non-collective collection of this node alone: no barrier, no message,
 * other nodes run on. Marks from this node's roots and ranges, its export
 * list (rc > 0), its *escaped* objects (those whose address left the node
 * in a page or a diff since the last collective collection: the
 * protocols' page-out hook records it) and the words it stored into
 * memory it does not trace (its copies of other arenas and of untyped
 * shared memory, read conservatively), through its own objects; frees
 * its objects not met. Objects never published are freed this way. The
 * import and export lists do not change (dsm_gc_collect exchanges them).
 *
 * Contract: while it runs, no thread of this node stores references
 * (other threads calling the collector wait); other nodes may do
 * anything. References must leave a node only through the shared region
 * or dsm_broadcast (not through files or sockets) — docs/gc.md. 0,
 * -ENOTCONN (no dsm_gc_init; under ec dsm_gc_init refused with
 * -ENOTSUP), -ENOMEM (nothing freed).
 */
int dsm_gc_collect_local(void);

/* Counters of this node (bytes are object bytes, count * size). */
struct dsm_gc_stats {
	uint64_t live_objects, live_bytes;   /* owned here, after the last collection */
	uint64_t allocated_objects;          /* ever, here */
	uint64_t freed_objects, freed_bytes; /* ever, here */
	uint64_t exported;                   /* objects on the export list */
	uint64_t imported;                   /* references on the import list */
	uint64_t collections, global_collections; /* collective ones */
	uint64_t rounds;                     /* mailbox exchanges, all collections */
	uint64_t entries_sent;               /* list entries sent, all collections */
	uint64_t last_pause_ns;              /* wall time of the last collection */
	uint64_t arena_bytes, arena_used;    /* arena size; bytes in chunks in use */
	uint64_t local_collections;          /* dsm_gc_collect_local calls, done */
	uint64_t escaped;                    /* live objects marked escaped now */
};
int dsm_gc_stats(struct dsm_gc_stats *out);

/* Whether addr lies in a live object owned by this node: 1, 0 (freed or
 * never allocated), -EINVAL (not in this node's arena), -ENOTCONN. For
 * tests and assertions. */
int dsm_gc_live(const void *addr);

/* The node that owns the object holding addr, or -EINVAL if addr is not in
 * a collector arena. */
int dsm_gc_owner(const void *addr);

#ifdef __cplusplus
}
#endif
#endif /* DSM_GC_H */
