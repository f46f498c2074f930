/*
 * dsm_det.h — deterministic fork-join spaces (libdsm, src/det).
 *
 * A deterministic context owns a *scope*: the memory that parallel tasks
 * ("spaces") share with the program that started them. Each space runs
 * fn(arg) in a forked child process over a copy-on-write snapshot of the
 * parent. In the child, the first write to a scope page makes a twin; when
 * fn returns, the child compares every written page with its twin and hands
 * the resulting diff set to the parent through shared memory. dsm_det_join()
 * merges the diff sets into the parent's scope in space-creation order,
 * never in finish order, so the result does not depend on timing.
 *
 * Scope: the context's own heap (dsm_det_malloc, an arena mapped by
 * dsm_det_open) plus any explicit ranges given at open time; each explicit
 * range is widened to whole pages (objects sharing those pages become part
 * of the scope). Memory outside the scope is private to each child: writes
 * there are lost when the child ends, exactly as after fork().
 *
 * Conflicts: two spaces, or a space and the parent after the round began,
 * writing the same byte with different values. Every conflicting byte range
 * is detected and reported with the ids of both writers; the policy decides
 * what is merged (see enum dsm_det_policy). Writing the same value is not a
 * conflict.
 *
 * Sub-heaps: inside a space, dsm_det_malloc() allocates from a sub-heap
 * reserved for that space's slot (its index in the round), inside the
 * scope, so blocks a child allocates and links into the scope stay valid in
 * the parent after the merge, at addresses that do not depend on timing.
 *
 * Deterministic spaces run on one machine and need no dsm_init(); they
 * coexist with it (their SIGSEGV handler chains to libdsm's for addresses
 * outside the scope). Scope ranges may not lie in the DSM region.
 *
 * Threads: a context is used by one thread at a time (the one that opens
 * it). Other threads of the parent may run during a round; their writes to
 * the scope are tracked as the parent's. No function may be called from a
 * signal handler. Functions return 0 or a negative error (a -errno value or
 * a DSM_EDET* code); dsm_det_strerror() explains it and dsm_det_errmsg()
 * gives the details of the last failure (which space, which signal, which
 * addresses).
 */
#ifndef DSM_DET_H
#define DSM_DET_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h" /* DSM_ECONFIG, dsm_strerror */

#ifdef __cplusplus
extern "C" {
#endif

/* Errors specific to deterministic spaces (negative, beyond errno). */
#define DSM_EDETCONFLICT (-10201) /* write-write conflicts under policy error */
#define DSM_EDETCHILD    (-10202) /* a space crashed or exited without returning */

/* Id reported for the parent in conflicts. Spaces are numbered 0, 1, 2...
 * in creation order over the context's lifetime. */
#define DSM_DET_PARENT (-1)

/* What dsm_det_join() does with conflicting bytes. */
enum dsm_det_policy {
	DSM_DET_POLICY_ENV = -1,   /* take DSM_DET_CONFLICT (default: error) */
	DSM_DET_POLICY_ERROR = 0,  /* merge none of the conflicting bytes (the
	                            * parent keeps its value); join returns
	                            * DSM_EDETCONFLICT and lists them */
	DSM_DET_POLICY_REPORT = 1, /* log each conflict to stderr; the last
	                            * writer in creation order wins (the parent
	                            * counts as first); join returns 0 */
	DSM_DET_POLICY_LAST = 2,   /* like report, silently */
};

/* One explicit scope range. */
struct dsm_det_range {
	void *addr;
	size_t len;
};

/* Options of dsm_det_open(); a zeroed struct (or NULL) means defaults. */
struct dsm_det_options {
	const struct dsm_det_range *ranges; /* explicit ranges, or NULL */
	size_t nranges;
	int policy;        /* enum dsm_det_policy; 0 is ERROR, so set
	                    * DSM_DET_POLICY_ENV to follow the environment */
	size_t heap_size;  /* arena bytes (virtual); 0: DSM_DET_HEAP */
	unsigned flags;    /* DSM_DET_F_* */
};

/* Do not track the parent's own writes during a round (saves protecting the
 * scope in the parent; parent-vs-space conflicts are then not detected and
 * a space's write wins over the parent's). For drivers like MapReduce
 * whose parent is idle during rounds. */
#define DSM_DET_F_NO_PARENT_TRACKING 0x1u

/* In each space, keep the spawning thread's stack above dsm_det_spawn's
 * frame read-only: it is outside the scope, so a space's write there (to
 * a local variable of the parent reached through a pointer) would be lost
 * silently. Such a write makes the space fail instead, and join's error
 * (dsm_det_errmsg) names the address. The space must not return into
 * those frames (it never does: fn runs below them). */
#define DSM_DET_F_WATCH_STACK 0x2u

/* One write-write conflict: bytes [addr, addr+len) written with different
 * values by space `first` and space `second` (first < second in creation
 * order; DSM_DET_PARENT is the parent). */
struct dsm_det_conflict {
	void *addr;
	size_t len;
	int first;
	int second;
};

/* Cumulative counters of a context. */
struct dsm_det_stats {
	uint64_t rounds;          /* joins that merged something or not */
	uint64_t spaces;          /* spaces started */
	uint64_t pages_twinned;   /* pages twinned in children */
	uint64_t parent_twinned;  /* pages twinned in the parent during rounds */
	uint64_t pages_merged;    /* page diffs applied to the parent */
	uint64_t bytes_merged;    /* changed bytes applied to the parent */
	uint64_t diff_bytes;      /* bytes of encoded diff sets received */
	uint64_t conflicts;       /* conflict records found */
	uint64_t pages_fresh;     /* pages of never-allocated sub-heap memory
	                           * written in children: no fault, no twin,
	                           * merged whole (counted in pages_merged and
	                           * bytes_merged too) */
	uint64_t pages_kernel;    /* pages written in children whose writes the
	                           * kernel recorded (DSM_WRITE_DETECT: no
	                           * fault, no twin; sent whole, diffed by the
	                           * parent against the round's base) */
};

typedef struct dsm_det dsm_det_t;

/*
 * Open a context: map its arena (reserved, backed lazily), check and
 * page-round the explicit ranges, install the SIGSEGV handler (once per
 * process, chaining to the previous one).
 *   out: receives the context.  opt: options or NULL.
 * Returns 0, -EINVAL (a range is empty, wraps, overlaps the DSM region or
 * the arena, or an option is out of range), -EFAULT (a range is not
 * mapped), DSM_ECONFIG (bad DSM_DET_* variable; dsm_det_errmsg(NULL) says
 * which), -ENOMEM.
 */
int dsm_det_open(dsm_det_t **out, const struct dsm_det_options *opt);

/* Close a context: wait for and discard running spaces, unmap the arena
 * (pointers into it become invalid). d may be NULL. Returns 0. */
int dsm_det_close(dsm_det_t *d);

/*
 * Add an explicit range to the scope, or remove one (by the address it was
 * added with), between rounds. Same rules as the ranges of dsm_det_open.
 * Returns 0, -EBUSY (a round is in progress), -ENOSPC (15 explicit ranges
 * already), -EINVAL, -EFAULT, -ENOENT (remove: no such range), -ENOMEM.
 */
int dsm_det_add_range(dsm_det_t *d, void *addr, size_t len);
int dsm_det_remove_range(dsm_det_t *d, void *addr);

/*
 * Start a space running fn(arg) in a child process. Spaces started before
 * the next dsm_det_join() form one round; at most 63 per round. The child
 * sees the scope as it is now; stdio is flushed first. In the child, fn may
 * use dsm_det_malloc()/dsm_det_free() and any other memory; when fn returns
 * the child's scope changes are sent to the parent and the child exits
 * with _exit(0). If fn calls exit(), or the child dies, join reports it.
 * Returns the space id (>= 0) or -EBUSY (63 spaces already in this round),
 * -EAGAIN/-ENOMEM (fork or memfd failed).
 */
int dsm_det_spawn(dsm_det_t *d, void (*fn)(void *), void *arg);

/*
 * End the round: wait for every space of the round, then merge their diff
 * sets (and check them against each other and against the parent's own
 * writes) in creation order. Spaces that failed are discarded whole.
 * Returns 0 (also under policies report/last with conflicts),
 * DSM_EDETCONFLICT (policy error; everything but the conflicting bytes was
 * merged), DSM_EDETCHILD (a space crashed or exited without returning from
 * fn; the others were merged), -EPROTO (a diff set was malformed), or
 * -EINVAL (no round in progress is not an error: returns 0).
 */
int dsm_det_join(dsm_det_t *d);

/* Conflicts found by the last join: *list is owned by d, valid until the
 * next join or close. Returns the count. */
size_t dsm_det_conflicts(const dsm_det_t *d, const struct dsm_det_conflict **list);

/* Counters of d since open; d NULL: of the current context (the one
 * dsm_det_malloc uses, e.g. the one map_reduce_init opened). Returns 0, or
 * -EINVAL (out NULL, or d NULL and no context is open). */
int dsm_det_stats(const dsm_det_t *d, struct dsm_det_stats *out);

/* Text of the last failure of d (or of the last dsm_det_open when d is
 * NULL): names spaces, signals, conflicting addresses. Never NULL. */
const char *dsm_det_errmsg(const dsm_det_t *d);

/* Text for any error returned by a dsm_det_ function. Never NULL. */
const char *dsm_det_strerror(int err);

/*
 * Allocate size bytes in the scope: from the parent heap outside spaces,
 * from the calling space's sub-heap inside one. 16-byte aligned; blocks of
 * a page or more are page aligned. Addresses depend only on the sequence
 * of allocations, never on timing. Returns NULL with errno ENOMEM when the
 * (sub-)heap is full, EINVAL when no context is open.
 * Not thread-safe within one process (a space is one thread of a child).
 */
void *dsm_det_malloc(size_t size);
void *dsm_det_calloc(size_t n, size_t size);

/* Free a block of dsm_det_malloc; NULL is ignored. In the parent, any
 * block (do not free blocks of a slot whose space is running). In a space,
 * only blocks of its own sub-heap are freed; a block of another heap stays
 * allocated (freeing it would change that heap's metadata in several
 * spaces at once: a conflict). */
void dsm_det_free(void *ptr);

/* Usable size of a dsm_det_malloc block; 0 for NULL. */
size_t dsm_det_usable_size(const void *ptr);

/* 1 if ptr lies in the arena of the open context, else 0. */
int dsm_det_owns(const void *ptr);

/* The id of the calling space (>= 0) in a child, DSM_DET_PARENT outside. */
int dsm_det_self(void);

#ifdef __cplusplus
}
#endif
#endif /* DSM_DET_H */
