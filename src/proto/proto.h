/*
 * proto.h — the consistency protocol interface (src/proto). One file per
 * protocol fills struct dsm_protocol_ops with designated initializers; the
 * protocol is chosen by name at dsm_init (DSM_PROTOCOL).
 */
#ifndef DSM_PROTO_H
#define DSM_PROTO_H

#include <stddef.h>

struct dsm_node;
struct dsm_msg;

enum dsm_lock_mode { DSM_LOCK_EXCL = 1, DSM_LOCK_SHARED = 2 };

struct dsm_protocol_ops {
	const char *name;
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
	/* Synchronisation hooks: after a lock is granted, before it is
	 * released, on entering and leaving a barrier. NULL = nothing to do. */
	int (*acquire)(struct dsm_node *n, unsigned lock, int mode);
	int (*release)(struct dsm_node *n, unsigned lock, int mode);
	int (*barrier_enter)(struct dsm_node *n, unsigned barrier);
	int (*barrier_leave)(struct dsm_node *n, unsigned barrier);
};

extern const struct dsm_protocol_ops dsm__proto_sc;

/* Find a protocol by name; NULL if unknown. */
const struct dsm_protocol_ops *dsm__proto_find(const char *name);

#endif /* DSM_PROTO_H */
