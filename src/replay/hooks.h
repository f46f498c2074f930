/*
 * hooks.h — the interface between record/replay (src/replay,
 * docs/replay.md) and the layers it watches: the sc protocol, the sync
 * layer (locks, barriers), the allocator and dsm_init/dsm_finalize.
 *
 * Every hook costs a load and a branch while nothing records or replays
 * (dsm__rp_on). The protocol knows nothing of the log: it reports its
 * ownership transitions (dsm__rp_note) and asks whether a request or an
 * invalidation may be handled now; the replay layer calls it back through
 * struct dsm_rp_proto to serve what it deferred.
 */
#ifndef DSM_REPLAY_HOOKS_H
#define DSM_REPLAY_HOOKS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "log.h"

struct dsm_outbox;

enum { DSM_RP_OFF = 0, DSM_RP_RECORDING = 1, DSM_RP_REPLAYING = 2 };

/* What a protocol gives the replay layer (sc fills it). Callbacks run
 * with the region lock held, except fault. */
struct dsm_rp_proto {
	/* The protocol's own fault loop (SIGSEGV handler context, no lock). */
	int (*fault)(struct dsm_node *n, size_t p, int want_write);
	/* Does page p's state allow the access now? */
	int (*allowed)(struct dsm_node *n, size_t p, int want_write);
	/* Can page p be served now (owned here at this version, nothing in
	 * flight)? */
	int (*can_serve)(struct dsm_node *n, size_t p, uint32_t version);
	/* Can a read copy of p be served as a free GIVE now (can_serve, and
	 * held read-only here)? */
	int (*can_serve_free)(struct dsm_node *n, size_t p, uint32_t version);
	/* Serve a deferred request (its message type) from node `from`. */
	int (*serve)(struct dsm_node *n, size_t p, int type, int from,
		     struct dsm_outbox *ob);
	/* Apply a deferred invalidation from writer. */
	int (*inv)(struct dsm_node *n, size_t p, int writer, struct dsm_outbox *ob);
	/* A barrier call, inside its boundary, before it waits: pages may
	 * change protection (deterministically: a replay does the same). */
	int (*barrier)(struct dsm_node *n);
	/* Requests the protocol itself holds until a boundary (recording). */
	unsigned (*deferred)(struct dsm_node *n);
	int read_req_type, write_req_type; /* message types of the requests */
};

extern const struct dsm_rp_proto dsm__rp_proto_sc;

/* DSM_RP_OFF, _RECORDING or _REPLAYING. */
static inline int dsm__rp_on(const struct dsm_node *n)
{
	return n->rp_mode;
}

/* dsm_init, after the protocol: open the log (DSM_RECORD) or load it
 * (DSM_REPLAY). 0 or an error with the reason logged; DSM_ECONFIG when the
 * protocol is not sc. dsm__rp_fini at dsm_finalize after the last
 * collective: writes END and closes, or checks the log was used up
 * (returns the divergence). */
int dsm__rp_init(struct dsm_node *n);
int dsm__rp_fini(struct dsm_node *n);
/* End of dsm_init: from here the program's pthread calls of the node's
 * threads go through the run token (src/replay/pthread.c). */
void dsm__rp_started(struct dsm_node *n);
/* Open a boundary (region lock held): boundary + 1, the node is in the
 * runtime. */
void dsm__rp_boundary_open(struct dsm_node *n);
/* Free the state, after the service thread stopped (node_destroy). */
void dsm__rp_free(struct dsm_node *n);
/* Start of dsm_finalize: its last boundary, never left. */
void dsm__rp_finalizing(struct dsm_node *n);

/* --- protocol side (region lock held unless said otherwise) --- */

/* A fault under record/replay: a boundary around the protocol's fault
 * loop (SIGSEGV handler context, no lock). */
int dsm__rp_fault(struct dsm_node *n, size_t p, int want_write);
/* Where to send the request for page p a fault needs: dflt when
 * recording; when replaying the node the log says gave it (n->id for a
 * local upgrade, which needs owner set), DSM_RP_NOT_YET while a GIVE or
 * DROP of p that the log puts before it is still to come (the fault
 * sleeps on the page and asks again), or DSM_EDIVERGED. Fault path. */
#define DSM_RP_NOT_YET (-EAGAIN)
int dsm__rp_route(struct dsm_node *n, size_t p, int want_write, int owner, int dflt);
/* Recording: may this node hand out or drop a page now (its application
 * thread is inside the runtime)? 1 when not recording. */
int dsm__rp_may_give(struct dsm_node *n);
/* Replaying: queue a request instead of serving or forwarding it; the
 * replay layer serves it when the log says so. 0 or -ENOMEM. */
int dsm__rp_defer_request(struct dsm_node *n, size_t p, int type, int from);
/* An invalidation of p from writer: 1 if the replay layer took it (to
 * apply later through dsm_rp_proto.inv), 0 to apply it now. live: the page
 * has or is fetching a copy (else the invalidation changes nothing). */
int dsm__rp_gate_inv(struct dsm_node *n, size_t p, int writer, int live);
/* An ownership transition (DSM_RP_TAKE/GIVE/DROP) of page p: recorded,
 * or checked against the log when replaying (a mismatch is a
 * divergence). mode DSM_RP_READ/WRITE, peer the node it came from or
 * went to. 0 or DSM_EDIVERGED. Async-signal-safe. */
int dsm__rp_note(struct dsm_node *n, int kind, size_t p, int mode, uint32_t version,
		 int peer);
/* Service thread, no lock: serve what is due, flush the log. Returns the
 * poll timeout it needs (ms) or -1. */
int dsm__rp_tick(struct dsm_node *n);

/* --- sync side --- */

/* A synchronisation call (DSM_RP_OP_*, object id) starts and ends: a
 * boundary. enter returns 0 or DSM_EDIVERGED (the log expected another
 * call); leave waits, when replaying, for the transitions the log puts in
 * this boundary. Application thread. */
int dsm__rp_sync_enter(struct dsm_node *n, int op, unsigned id);
int dsm__rp_sync_leave(struct dsm_node *n);
/* Inside a synchronisation call, after its request or arrival was sent
 * (in the run token's order, so a manager queues a node's requests in
 * that order) and before the wait: with other application threads alive
 * on the node, give up the run token for the wait (docs/replay.md).
 * Application thread, no lock. */
void dsm__rp_sync_park(struct dsm_node *n);
/* Lock manager (sync lock held): the node the log says gets lock id
 * next (-1: any, not replaying); and the grant made. */
int dsm__rp_grant_next(struct dsm_node *n, unsigned id);
void dsm__rp_granted(struct dsm_node *n, unsigned id, int mode, int node);
/* dsm_malloc's result (offset into the region): recorded, or compared. */
int dsm__rp_malloc(struct dsm_node *n, uint64_t size, uint64_t off);

#endif /* DSM_REPLAY_HOOKS_H */
