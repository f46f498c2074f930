/*
 * dsm.h — libdsm public API.
 *
 * libdsm lets N processes ("nodes") share one region of memory mapped at the
 * same virtual address on every node. Plain loads and stores work; the
 * runtime catches page faults and keeps the region coherent under the
 * protocol chosen at dsm_init() (DSM_PROTOCOL).
 *
 * Conventions:
 *  - Every function returns 0 or a negative errno value unless documented to
 *    return a pointer or a count. dsm_strerror() turns an error into text.
 *  - Functions may be called from any application thread of a node after
 *    dsm_init() returned 0 and before dsm_finalize(). None of them may be
 *    called from a signal handler.
 *  - Collective calls (dsm_init, dsm_finalize, dsm_alloc_collective,
 *    dsm_broadcast, dsm_barrier) must be called by exactly one thread on
 *    every node, in the same order on every node.
 *  - Each thread gets an alternate signal stack for the fault handler on
 *    its first dsm_* call (dsm_init for the initial thread). A thread that
 *    only loads and stores runs the handler on its own stack, which is
 *    fine unless that stack overflowed.
 *  - A memory access to the shared region that cannot be served (a peer
 *    died, the runtime was shut down) cannot return an error: the runtime
 *    prints a message naming the cause to stderr and the access raises
 *    SIGBUS, as an access to a truncated mmap'd file does.
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSM_VERSION_MAJOR 0
#define DSM_VERSION_MINOR 1

/* Library-specific error codes (negative, beyond the errno range). */
#define DSM_ENOTINIT   (-10001) /* called before dsm_init / after finalize */
#define DSM_EPEERDEAD  (-10002) /* a peer node died or stopped answering */
#define DSM_ECONFIG    (-10003) /* bad DSM_* environment value */
#define DSM_EPROTO     (-10004) /* malformed or unauthenticated message */
#define DSM_EMAPLIMIT  (-10005) /* vm.max_map_count would be exceeded */
#define DSM_ETIMEDOUT  (-10006) /* no answer within DSM_TIMEOUT */
#define DSM_EDIVERGED  (-10007) /* a replay left the recorded run (dsm_replay.h) */

/* Number of message-type slots in struct dsm_stats' per-type arrays. */
#define DSM_STATS_MSG_TYPES 48

/*
 * Per-node counters, returned by dsm_stats(). All counts are since
 * dsm_init() on the calling node. Times are in nanoseconds.
 */
struct dsm_stats {
	uint64_t read_faults;        /* faults that needed read access */
	uint64_t write_faults;       /* faults that needed write access */
	uint64_t local_faults;       /* faults resolved without a message */
	uint64_t remote_fetches;     /* pages (or diffs) fetched from a peer */
	uint64_t pages_sent;         /* pages sent to peers */
	uint64_t invalidations_sent; /* invalidation requests sent */
	uint64_t invalidations_recv; /* invalidations applied to local pages */
	uint64_t forwards;           /* requests forwarded to a probable owner */
	uint64_t twins;              /* twins (page copies) made */
	uint64_t diffs_created;      /* diffs encoded */
	uint64_t diffs_applied;      /* diffs applied */
	uint64_t map_resets;         /* protection resets at vm.max_map_count */
	uint64_t messages_sent;      /* all messages sent */
	uint64_t messages_recv;      /* all messages received */
	uint64_t bytes_sent;         /* wire bytes sent, headers included */
	uint64_t bytes_recv;         /* wire bytes received */
	uint64_t lock_acquires;      /* dsm_lock_acquire*() calls that succeeded */
	uint64_t lock_wait_ns;       /* time spent waiting for lock grants */
	uint64_t barriers;           /* dsm_barrier() calls that succeeded */
	uint64_t barrier_wait_ns;    /* time spent in dsm_barrier() */
	uint64_t fault_wait_ns;      /* time application threads waited in faults */
	/* Tapeworm (include/dsm_tapeworm.h): zero under DSM_TAPEWORM=off, or
	 * under a protocol without tape hooks (sc) */
	uint64_t tapes_recorded;     /* critical sections and barrier phases recorded */
	uint64_t tapes_applied;      /* tapes whose prefetch was started */
	uint64_t tape_pages_prefetched; /* pages installed ahead of use */
	uint64_t tape_pages_used;    /* of those, used here: remote misses avoided */
	uint64_t tape_pushes_sent;   /* producer-consumer pushes sent (TAPE_PUSH
					messages, or riding in a barrier's) */
	uint64_t tape_pages_pushed;  /* pages in them (a page to two nodes: 2) */
	uint64_t tape_pushed_used;   /* pushed pages used here: remote misses avoided */
	uint64_t tape_pushed_dropped; /* pushed pages dropped here: stale or not needed */
	uint64_t msgs_sent_by_type[DSM_STATS_MSG_TYPES]; /* index: wire type */
	uint64_t msgs_recv_by_type[DSM_STATS_MSG_TYPES];
	uint64_t bytes_sent_by_type[DSM_STATS_MSG_TYPES];
	uint64_t bytes_recv_by_type[DSM_STATS_MSG_TYPES];
};
typedef struct dsm_stats dsm_stats_t;

/*
 * Join the job. Reads the DSM_* environment set by dsmrun (or mpirun),
 * maps the shared region at DSM_BASE, connects to every peer and starts
 * this node's service thread. Collective.
 *   argc, argv: the program's arguments; may be NULL. Left unchanged today.
 * Returns 0, DSM_ECONFIG for a bad DSM_* value (the log says which and
 * what is accepted), -EEXIST if the region's address is taken,
 * -EALREADY if already initialised, DSM_EPEERDEAD/DSM_ETIMEDOUT if a peer
 * could not be reached, or another negative errno.
 */
int dsm_init(int *argc, char ***argv);

/*
 * Leave the job: a final barrier, statistics (DSM_STATS), then every
 * connection is closed and the region unmapped. Collective. After it
 * returns, pointers into the region are invalid.
 * Returns 0, DSM_ENOTINIT, or the first error seen (e.g. DSM_EPEERDEAD).
 */
int dsm_finalize(void);

/* This node's id, 0..count-1, or DSM_ENOTINIT. */
int dsm_node_id(void);

/* Number of nodes in the job, or DSM_ENOTINIT. */
int dsm_node_count(void);

/*
 * Allocate size bytes of shared memory; callable on any node and any
 * thread, not collective. The pointer is valid on every node. Memory is
 * 16-byte aligned; blocks of a page or more are page aligned. Contents
 * of reused memory are unspecified (fresh memory is zero).
 * Returns NULL on failure with errno set (ENOMEM when the region is full,
 * ENOTCONN before dsm_init).
 */
void *dsm_malloc(size_t size);

/* Return a block from dsm_malloc/dsm_alloc_collective; NULL is ignored.
 * Any node may free any block, once. Memory reuse is ordered as in one
 * process: dsm_free is a release (under lrc and hlrc it publishes this
 * node's writes made before it) and the dsm_malloc or
 * dsm_alloc_collective that gets the memory again acquires it, so the new
 * owner sees the old contents and its writes come after them. */
void dsm_free(void *ptr);

/*
 * Collective allocation: every node calls it with the same size and gets
 * the same pointer. Returns NULL with errno set on failure.
 */
void *dsm_alloc_collective(size_t size);

/*
 * Placement hints for dsm_alloc_collective_hint: which node is the home
 * of each page under hlrc (the node that holds its master copy, writes it
 * without diffs and serves it to readers). Other protocols ignore them.
 * A hint >= 0 is a node id: every page's home is that node.
 */
#define DSM_PLACE_DEFAULT (-1) /* as DSM_HOME says (first touch by default) */
#define DSM_PLACE_BLOCKED (-2) /* N contiguous runs of pages: node i homes the
				  i-th (matches a block distribution of rows) */
#define DSM_PLACE_CYCLIC  (-3) /* page k of the block on node k mod N */

/*
 * dsm_alloc_collective with a placement hint (collective: the same size
 * and hint on every node). The hint applies to the block's whole pages
 * that no earlier block used; pages reused from freed blocks keep their
 * homes (and hlrc moves a home to a page's single writer anyway). With a
 * hint other than DSM_PLACE_DEFAULT the call ends with a barrier among
 * the runtime's own. Returns NULL with errno set on failure (EINVAL for a
 * hint that is neither DSM_PLACE_* nor a node id).
 */
void *dsm_alloc_collective_hint(size_t size, int hint);

/*
 * Copy len bytes of private memory from root's buf to buf on every other
 * node. Collective; len and root must agree on all nodes. len is at most
 * 1 GiB (receivers allocate it before the data arrives).
 * Returns 0, -EINVAL (bad root, len mismatch), -EMSGSIZE (len over 1 GiB),
 * DSM_EPEERDEAD, ...
 */
int dsm_broadcast(void *buf, size_t len, int root);

/*
 * Distributed locks. Any unsigned id names a lock; no setup needed.
 * Exclusive acquires are granted in FIFO order of arrival at the lock's
 * manager node; shared holders coexist, and an exclusive request waits for
 * them (and shared requests behind it wait for it: no writer starvation).
 * Lock operations are where consistency protocols move data: acquire and
 * release are the synchronisation points of release/entry consistency.
 * Returns 0, DSM_ENOTINIT, DSM_EPEERDEAD, -EPERM (release of a lock this
 * node does not hold).
 */
int dsm_lock_acquire(unsigned lock);
int dsm_lock_acquire_shared(unsigned lock);
int dsm_lock_release(unsigned lock);

/*
 * Barrier across all nodes; any id, reusable. Collective (one thread per
 * node). Returns 0, DSM_ENOTINIT, DSM_EPEERDEAD.
 */
int dsm_barrier(unsigned barrier);

/*
 * Entry consistency: bind [addr, addr+len) to a lock or a barrier, so the
 * data travels with that synchronisation object. Under protocols other than
 * "ec" the binding is recorded and has no effect on coherence.
 * Returns 0, -EINVAL (range outside the region or len 0), DSM_ENOTINIT.
 */
int dsm_bind(unsigned lock, void *addr, size_t len);
int dsm_bind_barrier(unsigned barrier, void *addr, size_t len);

/* Copy this node's counters into *out. Returns 0, -EINVAL, DSM_ENOTINIT. */
int dsm_stats(struct dsm_stats *out);

/* Name of a wire message type for the per-type counters ("?" if unused). */
const char *dsm_msg_type_name(int type);

/* Text for an error returned by any dsm_ function (never NULL). Once the
 * job has failed, the failure's own code gives the failure's own text,
 * naming the node and what happened ("node 1 rejected ...: reason").
 * Thread-safe; the string is static. */
const char *dsm_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* DSM_H */
