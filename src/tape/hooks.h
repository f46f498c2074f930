/*
 * hooks.h — the interface between the tape layer (src/tape) and the
 * consistency protocols (docs/tapes.md, "Protocol hooks").
 *
 * A protocol that supports tapes calls the record hooks where it sees
 * accesses and fills struct dsm_tape_proto (holes, batched fetch, its tape
 * messages). It knows nothing of Tapeworm: locks and barriers reach the
 * tape layer through the sync layer, never through a protocol file.
 * Implemented by hlrc (src/proto/hlrc_tape.c) and lrc (src/proto/lrc_tape.c:
 * holes name (interval, page, writer) per notice; fetches are batched diff
 * requests, one per writer); sc: not at all
 * (its single-writer pages move on every access; a prefetched copy would
 * only be invalidated by the next writer's fault, docs/tapes.md).
 */
#ifndef DSM_TAPE_HOOKS_H
#define DSM_TAPE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_tape.h"

struct dsm_node;
struct dsm_msg;

/*
 * Record hooks. The caller holds the region lock; async-signal-safe (they
 * run in the fault path): no malloc, no other lock. They cost a load and
 * a branch while nothing records.
 *  note: an event of kind (enum dsm_tape_kind) on page, with node and the
 *        caller's current interval id.
 *  held: page was installed by a tracked prefetch for slot and is kept
 *        inaccessible until used (the protocol's own flag says so).
 *  hit:  such a page was used (its first access faulted locally): counts
 *        a used prefetch for its slot and records a READ event from node.
 */
void dsm__tape_note(struct dsm_node *n, int kind, uint32_t page, uint32_t node,
		    uint32_t interval);
void dsm__tape_held(struct dsm_node *n, uint32_t page, uint32_t slot);
void dsm__tape_hit(struct dsm_node *n, uint32_t page, uint32_t node, uint32_t interval);

/* What a protocol implements. */
struct dsm_tape_proto {
	const char *protocol; /* the protocol's name (struct dsm_protocol_ops) */
	/* Append the updates each of pages[0..count) that is not valid here
	 * lacks and could be fetched to out (dsm__tape_append): hlrc one
	 * (0, page, home) per page, lrc one (interval, page, writer) per
	 * write notice, after (0, page, node) for a page to fetch whole.
	 * Application thread, no lock held. */
	int (*hole)(struct dsm_node *n, const uint32_t *pages, size_t count,
		    struct dsm_tape *out);
	/* Fetch those of pages[0..count) (sorted) that are not valid here, one
	 * batched exchange per node that holds them, and wait for the
	 * answers. track: install them inaccessible (dsm__tape_held(slot))
	 * so the first use is a local fault (dsm__tape_hit); else readable.
	 * Returns the number of pages installed, or an error. Application
	 * thread, no lock held. */
	int (*fetch)(struct dsm_node *n, const uint32_t *pages, size_t count,
		     int track, uint32_t slot);
	/* The protocol's tape messages (DSM_MSG_TAPE_*). Service thread. */
	int (*handle)(struct dsm_node *n, const struct dsm_msg *m);
	/* Called once at dsm__tape_init (declare request types), may be NULL. */
	int (*init)(struct dsm_node *n);
	/* Note now (through dsm__tape_note) every first write made so far
	 * that the protocol has not seen yet (writes the kernel records,
	 * vm/wp.h), so a write recording starts and stops exactly. Region
	 * lock held. May be NULL. */
	int (*sync)(struct dsm_node *n);

	/* Producer-consumer pushes (src/tape/push.c; docs/tapes.md). All
	 * three run with the region lock held; NULL: the protocol cannot push.
	 *  known: this node's vector of known intervals (count entries).
	 *  push_copy: copy page p into buf if this node may push it (hlrc:
	 *    its home is here, served to `to` as for a fetch so the home's next
	 *    write is tracked; lrc: the copy here is valid). 1 copied, 0 not,
	 *    or an error.
	 *  push_take: a copy of p from node `from` that holds every write of
	 *    every interval (j, i <= vc[j]); the caller checked that this node
	 *    knows every interval of vc. Install it as a held copy for slot if
	 *    p is invalid here and no interval known here that wrote p (nor
	 *    this node's open interval) is newer than vc: PUSH_TAKEN; else
	 *    PUSH_DROP (stale, or not needed). */
	void (*known)(struct dsm_node *n, uint32_t *vc);
	/* Does an interval known here that is newer than vc (some (j, i >
	 * vc[j])) write page p? 1 also when such a record is no longer kept.
	 * Region lock held. NULL: unknown (src/tape/policy.c then sends
	 * whole pages instead of diffs). */
	int (*wrote_after)(struct dsm_node *n, uint32_t p, const uint32_t *vc);
	int (*push_copy)(struct dsm_node *n, uint32_t p, int to, unsigned char *buf);
	int (*push_take)(struct dsm_node *n, uint32_t p, int from, const uint32_t *vc,
			 const unsigned char *data, uint32_t slot);
};

enum { DSM_PUSH_DROP = 0, DSM_PUSH_TAKEN = 1 };

extern const struct dsm_tape_proto dsm__tape_proto_hlrc;
extern const struct dsm_tape_proto dsm__tape_proto_lrc;

/* Append an event without keeping a tape's order (rec.c sorts later). */
int dsm__tape_append(struct dsm_tape *t, uint32_t interval, uint32_t page,
		     uint32_t node);

#endif /* DSM_TAPE_HOOKS_H */
