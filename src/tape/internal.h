/*
 * internal.h — private to src/tape: the tape and extent structs, the
 * per-node recording logs and prefetch accounting, Tapeworm's entry
 * points for the sync layer.
 */
#ifndef DSM_TAPE_INTERNAL_H
#define DSM_TAPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_tape.h"
#include "hooks.h"

struct dsm_tape {
	struct dsm_tape_event *ev; /* sorted by (page, node, interval), unique */
	size_t n, cap;
	/* while recording (state RECORDING) */
	int recording;
	int kind;
	int rec_slot;              /* index in the node's active recordings */
	uint64_t start;            /* log position at dsm_tape_record */
};

struct dsm_extent {
	enum dsm_tape_dim dim;
	uint32_t *v;               /* sorted, unique */
	size_t n, cap;
};

/* tape.c */
int dsm__tape_normalize(struct dsm_tape *t);

/* rec.c */
struct dsm_node;
struct dsm_msg;
int dsm__tape_init(struct dsm_node *n);
void dsm__tape_fini(struct dsm_node *n);
/* Route a DSM_MSG_TAPE_* message to the protocol (core/dispatch.c). */
int dsm__tape_handle(struct dsm_node *n, const struct dsm_msg *m);
void dsm__tape_rec_cancel(struct dsm_tape *t);
/* Start/stop a recording for node n (dsm_tape_record without dsm__get). */
struct dsm_tape *dsm__tape_record(struct dsm_node *n, int kind);
int dsm__tape_stop(struct dsm_node *n, struct dsm_tape *t);
/* Fetch the pages t names (protocol's fetch); track/slot as there.
 * -ENOTSUP without protocol hooks. */
int dsm__tape_fetch(struct dsm_node *n, const struct dsm_tape *t, int track,
		    uint32_t slot);
/* Prefetch accounting per slot (slot 0: dsm_tape_apply). */
#define DSM_TAPE_SLOTS 1024
void dsm__tape_slot_counts(struct dsm_node *n, uint32_t slot, uint64_t *installed,
			   uint64_t *used);
void dsm__tape_slot_installed(struct dsm_node *n, uint32_t slot, uint64_t k);
/* Remote misses on pages this node had never read (compulsory). */
uint64_t dsm__tape_first_misses(struct dsm_node *n);
/* The protocol has tape hooks (hlrc, lrc). */
int dsm__tape_supported(struct dsm_node *n);
/* The protocol's tape hooks, or NULL. */
const struct dsm_tape_proto *dsm__tape_proto(struct dsm_node *n);
/* Slot receives pushes: its hits count tape_pushed_used (push.c). */
void dsm__tape_slot_mark_push(struct dsm_node *n, uint32_t slot);

/* tapeworm.c */
uint32_t dsm__tw_new_slot(struct dsm_node *n); /* 0 when none is left */
int dsm__tw_mode(struct dsm_node *n);          /* DSM_TW_* */
/* The slot of the auto pushes that come with lock or barrier (kind, id)
 * here (a push slot of its own: judged apart from its pulls); 0 when
 * none is left. Takes Tapeworm's lock: call with no lock or pc_node.mu. */
uint32_t dsm__tw_obj_slot(struct dsm_node *n, int kind, unsigned id);
/* The lock or barrier whose push slot is slot, as kind << 28 | (id & 0x0fffffff);
 * 0 when slot is no lock's or barrier's. Takes Tapeworm's lock. */
uint32_t dsm__tw_slot_tag(struct dsm_node *n, uint32_t slot);

/* push.c: producer-consumer regions (dsm_tapeworm_region) */
struct dsm_tw_stats;
int dsm__pc_init(struct dsm_node *n);
void dsm__pc_fini(struct dsm_node *n);
/* TAPE_PUSH and TAPE_UNSUB. Service thread. */
int dsm__pc_handle(struct dsm_node *n, const struct dsm_msg *m);
/* A held page was used (fault path, region lock held): 1 if it was a
 * push, counted for its producer. */
int dsm__pc_hit(struct dsm_node *n, uint32_t page);
/* The lock or barrier (DSM_TW_LOCK/BARRIER, id) this thread releases or
 * arrives at: the next dsm__pc_push's auto pushes count for it. */
void dsm__pc_at(int kind, unsigned id);
/* Add the region counters (kind 0: all, with the consumer's) to out. */
void dsm__pc_stats(struct dsm_node *n, int kind, unsigned id, struct dsm_tw_stats *out);
/* Take (install as held, or drop) or keep until vc is known here the k
 * pushed entries {u32 page, page} at d, copies covering vc from node
 * `from` (+ DSM_MAX_NODES: a policy's copy, never judged for
 * unsubscribing). Service or application thread, no lock held. */
int dsm__pc_receive(struct dsm_node *n, int from, const uint32_t *vc,
		    const unsigned char *d, size_t k, uint32_t slot);

/* policy.c: update protocols emulated with tapes (DSM_TAPE_POLICY) */
enum { DSM_POL_OFF = 0, DSM_POL_HLRC = 1, DSM_POL_SCOPE = 2 }; /* env.c's order */
int dsm__pol_init(struct dsm_node *n);
void dsm__pol_fini(struct dsm_node *n);
int dsm__pol_mode(struct dsm_node *n);
/* At a release or barrier arrival, after the protocol closed the
 * interval (hlrc: push the pages written since the last one to their
 * homes). Application thread. */
int dsm__pol_release(struct dsm_node *n);
/* After an acquire (t: the grant's tape) or a barrier (t: the last
 * phases' read tapes; scope ignores it): bring in what the policy says.
 * slot: the lock's or barrier's prefetch slot. Returns the pages
 * prefetched into slot (scope; hlrc's pulls count as pushes: 0) or an
 * error. Application thread. */
int dsm__pol_acquired(struct dsm_node *n, const struct dsm_tape *t, uint32_t slot);
int dsm__pol_barrier(struct dsm_node *n, const struct dsm_tape *t, uint32_t slot);
/* TAPE_PUSH with arg1 != 0 (a policy's message). Service thread. */
int dsm__pol_handle(struct dsm_node *n, const struct dsm_msg *m);

#endif /* DSM_TAPE_INTERNAL_H */
