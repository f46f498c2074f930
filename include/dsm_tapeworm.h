/*
 * dsm_tapeworm.h — Tapeworm: synchronisation that moves data before it is
 * asked for, built on tapes (include/dsm_tape.h; CVM's Tapeworm, Keleher,
 * TOCS 2000). docs/tapes.md explains the model and the state machines.
 *
 *  - Update locks: the releaser's write tape for its critical section
 *    travels with the lock to the next acquirer, which fetches the pages
 *    it names (the ones its copy lacks) in one batched request per home
 *    (lrc: per writer) right after the acquire, instead of faulting on
 *    each.
 *  - Record-replay barriers: the pages a node fetched in the phase after
 *    barrier b (until it reaches the next barrier) are fetched, when they
 *    are invalid, in one batched request per home (lrc: per writer) as it
 *    leaves b next time, instead of one fault each.
 *
 * Prefetched pages are installed but kept inaccessible until first used,
 * so the first use is a cheap local fault that counts the prediction as
 * used. A lock or barrier whose prefetches are mostly unused (under half
 * of at least 4 pages) stops prefetching for 2, 4, ... 64 applications
 * and tries again. Tapes are hints: results never depend on them.
 *
 * DSM_TAPEWORM (same value on every node): "on" (the default) — only the
 * locks and barriers marked with the calls below; "auto" — every lock and
 * barrier, no source change; "off" — nothing (the marks are ignored).
 * Implemented under hlrc and lrc; under sc Tapeworm does nothing.
 *
 * Conventions as dsm.h: 0 or a negative errno; after dsm_init; any
 * application thread; not from a signal handler.
 */
#ifndef DSM_TAPEWORM_H
#define DSM_TAPEWORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DSM_TAPEWORM values, as dsm_tapeworm_mode() returns them. */
#define DSM_TW_OFF  0
#define DSM_TW_ON   1
#define DSM_TW_AUTO 2

/* Kinds of synchronisation objects, for dsm_tapeworm_stats. */
#define DSM_TW_LOCK    1
#define DSM_TW_BARRIER 2

/* DSM_TW_OFF/ON/AUTO, or DSM_ENOTINIT. */
int dsm_tapeworm_mode(void);

/* Mark (on = 1) or unmark (0) lock as an update lock on this node: its
 * releases here carry their critical section's write tape. Acquirers
 * apply any tape a grant carries. Marks are per node; mark the lock on
 * every node that writes under it. Returns 0 (also when Tapeworm is off:
 * the mark then has no effect), DSM_ENOTINIT, -ENOMEM. */
int dsm_tapeworm_lock(unsigned lock, int on);

/* Mark (on = 1) or unmark (0) barrier as record-replay on this node. */
int dsm_tapeworm_barrier(unsigned barrier, int on);

/* What Tapeworm did for one lock or barrier on this node (kind
 * DSM_TW_LOCK or DSM_TW_BARRIER, id), or summed over all (kind 0). The
 * node's totals are also in struct dsm_stats (tapes_recorded,
 * tapes_applied, tape_pages_prefetched, tape_pages_used) and the
 * DSM_STATS JSON document. */
struct dsm_tw_stats {
	uint64_t tapes_recorded;   /* phases / critical sections recorded */
	uint64_t tapes_applied;    /* tapes whose prefetch was started */
	uint64_t pages_prefetched; /* pages installed ahead of use */
	uint64_t pages_used;       /* of those, used here: remote misses avoided */
	uint64_t applies_skipped;  /* applications skipped: predictions unused */
};

/* Copy the counters into *out (zeros for an object never seen). 0,
 * -EINVAL, DSM_ENOTINIT. */
int dsm_tapeworm_stats(int kind, unsigned id, struct dsm_tw_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* DSM_TAPEWORM_H */
