/*
 * tapeworm.h — what the sync layer (src/sync) and the core call in
 * Tapeworm (src/tape/tapeworm.c, docs/tapes.md). Each entry point does
 * nothing (and costs a branch) when DSM_TAPEWORM=off or the protocol has
 * no tape hooks.
 */
#ifndef DSM_TAPE_TAPEWORM_H
#define DSM_TAPE_TAPEWORM_H

#include <stddef.h>

struct dsm_node;
struct dsm_buf;

/* Set up / tear down (called by the tape layer's init and fini). */
int dsm__tw_init(struct dsm_node *n);
void dsm__tw_fini(struct dsm_node *n);

/* dsm_barrier: before the protocol's barrier_enter (ends the phase's
 * recording), and after its barrier_leave (applies the barrier's tape,
 * starts recording the next phase). Application thread. */
void dsm__tw_barrier_enter(struct dsm_node *n, unsigned barrier);
int dsm__tw_barrier_leave(struct dsm_node *n, unsigned barrier);

/* Locks. acquired: after the protocol's acquire, with the tape bytes the
 * grant carried (NULL, 0: none); prefetches what it names and starts
 * recording the critical section. release: before the protocol's
 * release; appends the critical section's write tape to out and returns 1
 * (the release carries a tape), 0 when there is none, or an error. A
 * malformed tape is logged with the lock's id and ignored (a lost hint:
 * the lock is held and its protocol data was fine). */
int dsm__tw_lock_acquired(struct dsm_node *n, unsigned lock, const void *tape,
			  size_t len);
int dsm__tw_lock_release(struct dsm_node *n, unsigned lock, struct dsm_buf *out);
/* May this lock's grants and releases carry tapes here (a lock that does
 * cannot move as a token: src/sync/lock_token.c)? */
int dsm__tw_lock_active(struct dsm_node *n, unsigned lock);

/* Producer-consumer regions (push.c). push: at a release or barrier
 * arrival, after the protocol closed the interval: push the region pages
 * written since the last one to their consumers (0 or -ENOMEM; a push
 * that cannot be sent is a lost hint, logged). sync: after an acquire or
 * a barrier, before the Tapeworm prefetch: install the pushes this node
 * now knows enough to check, and unsubscribe from producers whose pushes
 * go unused. Application thread, no lock held. */
int dsm__pc_push(struct dsm_node *n);
int dsm__pc_sync(struct dsm_node *n);

/* Pushes that ride in a barrier's own messages (src/sync/barrier.c,
 * docs/tapes.md, "Pushes in barrier messages"). At an arrival,
 * dsm__pc_push_via appends to out, instead of sending them, the pushes
 * for the barrier's manager mgr and, up to BAR_FWD bytes, those for the
 * other consumers, which the manager forwards in their releases (all of
 * them when this node is mgr), BAR_RIDE bytes in all; the rest are sent
 * as TAPE_PUSH. Each record: {u32 node, u32 length, the
 * push (length bytes)}, node its consumer (the sync layer routes it and
 * writes the producer there in a release). dsm__pc_take_rec takes one
 * push from `from` (0 or DSM_EPROTO after rejecting it; service
 * thread). */
#define BAR_FWD (256u << 10)
#define BAR_RIDE (16u << 20) /* bytes of pushes in one arrival, at most */
struct pc_via {
	int mgr;              /* the barrier's manager */
	struct dsm_buf *out;  /* the records */
	size_t fwd;           /* bytes for others than mgr so far */
	unsigned rode;        /* pushes in out */
};
int dsm__pc_push_via(struct dsm_node *n, struct pc_via *via);
int dsm__pc_take_rec(struct dsm_node *n, int from, const void *rec, size_t len);

#endif /* DSM_TAPE_TAPEWORM_H */
