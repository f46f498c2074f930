/*
 * proto.h — the consistency protocol interface (src/proto). One file per
 * protocol fills struct dsm_protocol_ops with designated initializers; the
 * protocol is chosen by name at dsm_init (DSM_PROTOCOL).
 */
#ifndef DSM_PROTO_H
#define DSM_PROTO_H

#include <stddef.h>

#include "vm/vm.h"

struct dsm_node;
struct dsm_msg;
struct dsm_buf;

enum dsm_lock_mode { DSM_LOCK_EXCL = 1, DSM_LOCK_SHARED = 2 };

/*
 * A protocol's page state machine: next[event][state] is the state
 * (enum dsm_page_state) the event leads to, or -1 where the event is
 * illegal. Each protocol has its own, in its own file, and the same table
 * in docs/protocols/<name>.md, which is the source of truth:
 * tests/unit/test_state_machines.c checks that the two are equal.
 * Transitions go through dsm__page_step (internal.h).
 */
struct dsm_page_machine {
	const char *proto;               /* protocol name, for messages */
	unsigned nevents;
	const char *const *event_names;  /* nevents names, as in the doc */
	const signed char (*next)[DSM_PAGE_STATE_COUNT_]; /* [nevents] */
};

struct dsm_protocol_ops {
	const char *name;
	/* The page state machine (its transition table and event names). */
	const struct dsm_page_machine *machine;
	/* Set up per-node protocol state; the region exists, the transport
	 * is connected, the service thread not yet started. */
	int (*init)(struct dsm_node *n);
	void (*fini)(struct dsm_node *n);
	/* A fault on page p the state does not allow. want_write: 1 write,
	 * 0 read, -1 unknown (decide from the state). Called in the SIGSEGV
	 * handler: async-signal-safe, no malloc. Returns 0 when the access
	 * may be retried, or a negative error (the access then raises SIGBUS). */
	int (*fault)(struct dsm_node *n, size_t p, int want_write);
	/* A protocol message (types it owns). Service thread only. Returns 0
	 * or DSM_EPROTO for a message that makes no sense in this state. */
	int (*handle_message)(struct dsm_node *n, const struct dsm_msg *m);
	/* Service-thread housekeeping after each poll (deferred requests);
	 * returns the poll timeout it needs in ms, or -1 for no preference. */
	int (*tick)(struct dsm_node *n);
	/* dsm_alloc_collective_hint: pages [first, first + count) are unused
	 * so far; make their homes follow hint (DSM_PLACE_* or a node id).
	 * Called on every node before an internal barrier. NULL: ignored. */
	int (*place)(struct dsm_node *n, size_t first, size_t count, int hint);
	/*
	 * Synchronisation hooks; any may be NULL (nothing to do). Payloads are
	 * opaque to the sync layer: it carries them in its messages.
	 *  release: before this node's LOCK_REL; append what the manager
	 *    should keep for the lock to out.
	 *  lock_merge: at the manager, fold a release payload into the lock's
	 *    blob (*blob is NULL at first; the protocol allocates it).
	 *  lock_grant: at the manager, the payload of a grant, from the blob.
	 *  lock_free: free a blob when the sync layer shuts down.
	 *  acquire: at the acquirer, after the grant, with its payload.
	 */
	int (*acquire)(struct dsm_node *n, unsigned lock, int mode,
		       const void *payload, size_t len);
	int (*release)(struct dsm_node *n, unsigned lock, int mode,
		       struct dsm_buf *out);
	int (*lock_merge)(struct dsm_node *n, void **blob, const void *payload,
			  size_t len);
	int (*lock_grant)(struct dsm_node *n, void *blob, struct dsm_buf *out);
	void (*lock_free)(void *blob);
	/*
	 *  barrier_enter: this node's arrival payload.
	 *  barrier_collect: at the manager, one arrival (every node's, its
	 *    own included) folded into *state (NULL at first).
	 *  barrier_release: at the manager once all arrived, the release
	 *    payload for node `node`.
	 *  barrier_done: at the manager, free *state.
	 *  barrier_leave: on every node, with its release payload.
	 */
	int (*barrier_enter)(struct dsm_node *n, unsigned barrier, struct dsm_buf *out);
	int (*barrier_collect)(struct dsm_node *n, unsigned barrier, int node,
			       const void *payload, size_t len, void **state);
	int (*barrier_release)(struct dsm_node *n, unsigned barrier, int node,
			       void *state, struct dsm_buf *out);
	void (*barrier_done)(struct dsm_node *n, void *state);
	int (*barrier_leave)(struct dsm_node *n, unsigned barrier,
			     const void *payload, size_t len);
	/*
	 * A protocol that runs its own locks (ec: exclusive ownership on a
	 * probable-owner chain) sets both; the sync layer's dsm_lock_acquire*
	 * and dsm_lock_release then call them instead of the central manager
	 * (whose release/lock_merge/lock_grant/acquire hooks are still used
	 * for the runtime's own heap lock). Application thread. 0, -EPERM
	 * (release of a lock not held) or another error.
	 */
	int (*lock_acquire_own)(struct dsm_node *n, unsigned lock, int mode);
	int (*lock_release_own)(struct dsm_node *n, unsigned lock);
	/*
	 * dsm_bind / dsm_bind_barrier under a protocol that reads bindings
	 * (ec); NULL: the sync layer records them with no effect. The range
	 * is inside the region and len > 0. Application thread.
	 */
	int (*bind)(struct dsm_node *n, unsigned id, int barrier, void *addr,
		    size_t len);
};

extern const struct dsm_protocol_ops dsm__proto_sc;
extern const struct dsm_protocol_ops dsm__proto_lrc;
extern const struct dsm_protocol_ops dsm__proto_hlrc;
extern const struct dsm_protocol_ops dsm__proto_ec;

/* Find a protocol by name; NULL if unknown. */
const struct dsm_protocol_ops *dsm__proto_find(const char *name);

#endif /* DSM_PROTO_H */
