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
 *  - Producer-consumer regions (dsm_tapeworm_region): at each release or
 *    barrier arrival of a node that marked a region, the region pages it
 *    wrote since its last release are pushed — one message per consumer
 *    — to the nodes that consumed them last time (asked it for them, or
 *    used its last push). The consumer finds them installed after its
 *    acquire or barrier, instead of pulling them then.
 *
 * Prefetched pages are installed but kept inaccessible until first used,
 * so the first use is a cheap local fault that counts the prediction as
 * used. A lock or barrier whose prefetches are mostly unused (under half
 * of at least 4 pages) stops prefetching for 2, 4, ... 64 applications
 * and tries again. Tapes are hints: results never depend on them.
 *
 * DSM_TAPEWORM (same value on every node): "on" (the default) — only the
 * locks and barriers marked with the calls below; "auto" — every lock and
 * barrier, no source change, and auto pushes: at each lock release and
 * barrier arrival a node pushes every page it wrote since its last one
 * to the nodes that asked it for that page (the requests it served), one
 * message per consumer, unless that consumer reported the page's push
 * with this lock or barrier wasted (until it asks for the page again),
 * or more than half of this lock's or barrier's recent pushed pages were
 * wasted (backoff, as for prefetches); "off" — nothing (the marks are
 * ignored).
 * Implemented under hlrc and lrc; under sc Tapeworm does nothing.
 * DSM_TAPE_POLICY=hlrc|scope (lrc only: an update protocol emulated with
 * tapes, docs/tapes.md) acts on every lock and barrier whatever
 * DSM_TAPEWORM says, without the adaptive stop; its prefetches count in
 * the statistics below.
 *
 * Conventions as dsm.h: 0 or a negative errno; after dsm_init; any
 * application thread; not from a signal handler.
 */
#ifndef DSM_TAPEWORM_H
#define DSM_TAPEWORM_H

#include <stddef.h>
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
#define DSM_TW_REGION  3

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

/*
 * Mark (on = 1) or unmark (0) [addr, addr + len) — rounded out to whole
 * pages, inside the shared region — as a producer-consumer region on
 * this node. While marked, at each of this node's lock releases and
 * barrier arrivals (after the protocol published its writes) the pages
 * of the region it wrote since its previous release are pushed to their
 * consumers, one message per consumer (per 256 pages): the nodes that
 * asked this node for pages of the region since its last push, plus the
 * consumers of that push that did not unsubscribe. A consumer installs a
 * pushed page as a held copy (as a Tapeworm prefetch: its first use is a
 * local fault, counted as a used push) only if its protocol's write
 * notices show that the copy has every write it must see; a stale copy
 * is dropped, never read. A consumer whose pushes from a producer go
 * unused (dropped, or overwritten unread) tells it to stop
 * (TAPE_UNSUB); it is pushed to again after it asks for region pages.
 *
 * Mark the region on the nodes that write it (marking it on every node
 * is simplest; consumers need no mark). hlrc: only pages this node is
 * home of are pushed (so a producer should touch its region first, or
 * homes should migrate to it); lrc: any page valid here. Consumers are
 * learned from requests the producer serves: hlrc, at the home; lrc,
 * diff requests to the writer. Results never depend on pushes.
 *
 * Returns the region's id (>= 0; the same id for the same range marked
 * again) for dsm_tapeworm_stats(DSM_TW_REGION, id), DSM_ENOTINIT, -EINVAL
 * (len 0, or outside the shared region), -ENOSPC (64 regions marked on
 * this node), -ENOENT (unmarking a range never marked). Under sc and
 * under DSM_TAPEWORM=off the mark is kept and has no effect (nothing is
 * pushed; the call still succeeds, so one program runs under any
 * protocol).
 */
int dsm_tapeworm_region(void *addr, size_t len, int on);

/* What Tapeworm did for one lock, barrier or region on this node (kind
 * DSM_TW_LOCK, DSM_TW_BARRIER or DSM_TW_REGION, id), or summed over all
 * (kind 0, which also counts pushes received into pages of no region
 * marked here). The node's totals are also in struct dsm_stats
 * (tapes_recorded, tapes_applied, tape_pages_prefetched, tape_pages_used,
 * tape_pushes_sent, tape_pages_pushed, tape_pushed_used,
 * tape_pushed_dropped) and the DSM_STATS JSON document. */
struct dsm_tw_stats {
	uint64_t tapes_recorded;   /* phases / critical sections recorded */
	uint64_t tapes_applied;    /* tapes whose prefetch was started */
	uint64_t pages_prefetched; /* pages installed ahead of use */
	uint64_t pages_used;       /* of those, used here: remote misses avoided */
	uint64_t applies_skipped;  /* applications skipped: predictions unused */
	/* regions (a producer's counts, and a consumer's for pushes into
	 * the region's pages when it marked the region too) */
	uint64_t pushes_sent;      /* push messages sent */
	uint64_t pages_pushed;     /* pages in them, per consumer */
	uint64_t pushed_used;      /* pushed pages used here: remote misses avoided */
	uint64_t pushed_dropped;   /* kind 0 only: pushed pages dropped here */
	/* kind 0 only, counted under every DSM_TAPEWORM value: remote misses
	 * on pages this node had never read before in the run (the first
	 * miss on each page: compulsory, no history of its reads predicts
	 * them; docs/tapes.md, "The floor") */
	uint64_t first_misses;
	/* DSM_TAPEWORM=auto's pushes (no region marked), a producer's counts
	 * per lock or barrier (kind 0: all): pages its consumers reported
	 * wasted (dropped, or pushed again before being read), and pushes
	 * skipped because more than half of the last ones were wasted */
	uint64_t pushes_wasted;
	uint64_t pushes_skipped;
};

/* Copy the counters into *out (zeros for an object never seen). 0,
 * -EINVAL, DSM_ENOTINIT. */
int dsm_tapeworm_stats(int kind, unsigned id, struct dsm_tw_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* DSM_TAPEWORM_H */
