/*
 * dsm_replay.h — record and replay of racy programs (docs/replay.md).
 *
 * Under DSM_PROTOCOL=sc, `dsmrun --record DIR` (DSM_RECORD=DIR) logs, per
 * node, every page ownership transition (page-level CREW: a page is
 * writable on one node or readable on several), with a per-page version
 * carried on the page transfers, plus lock grant order, synchronisation
 * calls, dsm_malloc results and the inputs passed through
 * dsm_replay_input. `dsmrun --replay DIR` (DSM_REPLAY=DIR) runs the same
 * program again and enforces the recorded order, so a program with data
 * races computes the same memory and output; a run that takes another
 * path is reported (node, page, version, boundary) as DSM_EDIVERGED
 * instead of hanging.
 *
 * Conventions as dsm.h: 0 or a negative errno; after dsm_init. Several
 * application threads per node are serialised by a per-node run token
 * while recording or replaying (threads created with pthread_create after
 * dsm_init; the token order is logged and replayed): docs/replay.md.
 */
#ifndef DSM_REPLAY_H
#define DSM_REPLAY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values of dsm_replay_mode(). */
#define DSM_REPLAY_OFF       0
#define DSM_REPLAY_RECORDING 1
#define DSM_REPLAY_REPLAYING 2

/* DSM_REPLAY_OFF/RECORDING/REPLAYING, or DSM_ENOTINIT. */
int dsm_replay_mode(void);

/*
 * A nondeterministic input of the program (time, random numbers, file or
 * socket data it read itself: the runtime cannot see those). Recording:
 * buf[0..len) is appended to this node's log and left as it is.
 * Replaying: buf[0..len) is overwritten with the recorded bytes. Neither:
 * nothing happens. buf must be private memory (not dsm_malloc'd).
 * Returns 0, DSM_ENOTINIT, -EINVAL (buf NULL with len > 0), -ENOMEM, or
 * DSM_EDIVERGED when the log holds no input of this length here.
 */
int dsm_replay_input(void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DSM_REPLAY_H */
