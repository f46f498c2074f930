/*
 * dsm_tape.h — tapes: recordings of shared accesses (CVM's tapes, Keleher,
 * "Tapes: a high-level abstraction of shared accesses", TOCS 2000).
 *
 * A tape is a set of events (interval, page, node). It *names* updates; it
 * does not hold them (the consistency protocol does). Tapes are recorded
 * from this node's writes, its reads (the faults and fetches the protocol
 * sees) or the page requests it serves, combined with a small algebra
 * (union, difference, projection onto one dimension, pruning to an
 * extent), and *applied*: the pages a tape names that are not valid here
 * are fetched before they are needed, in one batched exchange per home.
 *
 * Tapes are only hints. Applying one never changes what a correct
 * (race-free) program computes: a page a tape does not name is still
 * fetched on demand, a page fetched early is invalidated as usual by a
 * later write notice. docs/tapes.md has the model and the state machines.
 *
 * Conventions (as dsm.h): 0 or a negative errno unless documented
 * otherwise; -ENOMEM when memory runs out. The algebra (everything but
 * recording, dsm_tape_hole and dsm_tape_apply) is pure and needs no
 * dsm_init. A tape or extent may be used by one thread at a time;
 * different tapes from different threads. None of this may be called from
 * a signal handler. The caller owns every tape and extent it gets and
 * frees it with dsm_tape_free / dsm_extent_free.
 *
 * Protocols: hlrc (the default) and lrc implement recording, holes and
 * apply; sc does not (recording yields empty tapes, dsm_tape_hole and
 * dsm_tape_apply return -ENOTSUP). See docs/tapes.md.
 */
#ifndef DSM_TAPE_H
#define DSM_TAPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One event: page `page` (index of the page in the shared region) was
 * accessed in interval `interval` (the recording node's interval id, or 0
 * when it does not matter) by or from node `node` (write tapes: this node;
 * read tapes: the node the page came from; request tapes: the requester;
 * holes: the node that holds the update, under hlrc the page's home,
 * under lrc the writer of the diff). */
struct dsm_tape_event {
	uint32_t interval;
	uint32_t page;
	uint32_t node;
};

/* What a recording listens to. */
enum dsm_tape_kind {
	DSM_TAPE_WRITE = 1,   /* this node's first write to a page in an interval */
	DSM_TAPE_READ = 2,    /* pages this node fetched, or used from a prefetch */
	DSM_TAPE_REQUEST = 3, /* page requests this node served (others' reads) */
};

/* A dimension of a tape; an extent is a set of values of one dimension. */
enum dsm_tape_dim {
	DSM_TAPE_PAGES = 1,
	DSM_TAPE_INTERVALS = 2,
	DSM_TAPE_NODES = 3,
};

typedef struct dsm_tape dsm_tape_t;
typedef struct dsm_extent dsm_extent_t;

/* --- tapes --- */

/* A new empty tape (state BUILT), or NULL (errno ENOMEM). */
dsm_tape_t *dsm_tape_new(void);

/* Free a tape (NULL is ignored). A tape still recording stops first. */
void dsm_tape_free(dsm_tape_t *t);

/* Add one event (ignored if already there). -EBUSY while recording. */
int dsm_tape_add_event(dsm_tape_t *t, uint32_t interval, uint32_t page, uint32_t node);

/* Number of distinct events (0 while recording). */
size_t dsm_tape_count(const dsm_tape_t *t);

/* The i-th event in (page, node, interval) order into *ev.
 * -ERANGE when i >= count, -EBUSY while recording. */
int dsm_tape_event(const dsm_tape_t *t, size_t i, struct dsm_tape_event *ev);

/* dst = dst ∪ src (add). -EBUSY if either is recording. */
int dsm_tape_add(dsm_tape_t *dst, const dsm_tape_t *src);

/* dst = dst \ src (subtract): drops dst's events that src has too. */
int dsm_tape_subtract(dsm_tape_t *dst, const dsm_tape_t *src);

/* The set of values dimension dim takes in t (the tape's extent there),
 * or NULL (errno EINVAL for a bad dim or a recording tape, ENOMEM). */
dsm_extent_t *dsm_tape_project(const dsm_tape_t *t, enum dsm_tape_dim dim);

/* Keep only t's events whose value in e's dimension is in e (the paper's
 * T / e; "T0 / T1" is dsm_tape_prune(T0, dsm_tape_project(T1, dim))). */
int dsm_tape_prune(dsm_tape_t *t, const dsm_extent_t *e);

/* --- extents --- */

/* A new empty extent of dimension dim, or NULL (errno EINVAL, ENOMEM). */
dsm_extent_t *dsm_extent_new(enum dsm_tape_dim dim);
void dsm_extent_free(dsm_extent_t *e);
/* Add one value (ignored if present). */
int dsm_extent_add(dsm_extent_t *e, uint32_t v);
/* A pages extent: add the pages [addr, addr + len) of the shared region
 * covers. -EINVAL if e is not a pages extent or the range is not inside
 * the region; DSM_ENOTINIT before dsm_init. */
int dsm_extent_add_range(dsm_extent_t *e, const void *addr, size_t len);
/* Dimension, size, i-th smallest value (0 when i is out of range) and
 * membership (1 or 0). */
enum dsm_tape_dim dsm_extent_dim(const dsm_extent_t *e);
size_t dsm_extent_count(const dsm_extent_t *e);
uint32_t dsm_extent_value(const dsm_extent_t *e, size_t i);
int dsm_extent_contains(const dsm_extent_t *e, uint32_t v);

/* --- recording (needs dsm_init) --- */

/*
 * Start recording events of one kind on this node into a new tape (state
 * RECORDING): every thread's accesses count, as the protocol sees them
 * (hlrc: a write is seen at the first write to a page in an interval,
 * except pages private to their home, which cost no fault; lrc: at the
 * first write to a page in an interval; both: a read is seen when a page
 * is fetched, or first used after a prefetch). Any number of
 * recordings may run at once, of any kinds. Returns the tape or NULL
 * (errno ENOTCONN before dsm_init, EINVAL for a bad kind, ENOMEM).
 */
dsm_tape_t *dsm_tape_record(enum dsm_tape_kind kind);

/* Stop a recording: the tape holds what was seen since dsm_tape_record
 * (state BUILT). 1 if some events were lost (more events than the
 * region's page count per recording overlap: the tape is incomplete,
 * still a valid hint), 0, -EINVAL if t is not recording. */
int dsm_tape_stop(dsm_tape_t *t);

/* --- the protocol (needs dsm_init) --- */

/* The hole tape of a pages extent: the updates the pages of e that are
 * not valid here lack, naming the node to fetch each from: under hlrc one
 * event (0, page, home) per page; under lrc one (interval, page, writer)
 * per write notice whose diff is not applied here, after (0, page, node)
 * for a page garbage collection dropped, fetched whole from that node).
 * *out is a new tape. -ENOTSUP under a protocol without tape hooks, -EINVAL. */
int dsm_tape_hole(const dsm_extent_t *e, dsm_tape_t **out);

/* Apply t: fetch every page t names that is not valid here, one batched
 * request per home (hlrc) or per writer of a missing diff (lrc), and wait
 * for the answers; the pages are readable when
 * it returns (until a later write notice invalidates them). Returns the
 * number of pages fetched (>= 0) or an error (-ENOTSUP, DSM_EPEERDEAD,
 * ...). Application thread. */
int dsm_tape_apply(const dsm_tape_t *t);

/* Send a copy of t to node `node` (another node) under tag: it waits in
 * node's mailbox for dsm_tape_recv. Returns once the bytes are handed to
 * the transport: 0, -EINVAL (bad node, this node, t recording),
 * -EMSGSIZE (over 5 million events), DSM_EPEERDEAD, DSM_ENOTINIT. Works
 * under every protocol. */
int dsm_tape_send(const dsm_tape_t *t, int node, unsigned tag);

/* Take the oldest tape sent to this node under tag (from any node; *from
 * gets the sender, may be NULL), waiting at most timeout_ms (< 0: 4 x
 * DSM_TIMEOUT). *out is the caller's. 0, DSM_ETIMEDOUT (none arrived;
 * the job goes on), the job's failure, -EINVAL, DSM_ENOTINIT. */
int dsm_tape_recv(unsigned tag, int timeout_ms, dsm_tape_t **out, int *from);

/* Encode t for a message (little-endian u32 count, then interval, page,
 * node per event) into buf of cap bytes; returns the size needed (nothing
 * written when cap is smaller). */
size_t dsm_tape_encode(const dsm_tape_t *t, void *buf, size_t cap);
/* Decode what dsm_tape_encode wrote; pages must be < max_page and nodes <
 * max_node (0: unchecked). A new tape, or NULL (errno EPROTO for a
 * malformed tape, ENOMEM). */
dsm_tape_t *dsm_tape_decode(const void *buf, size_t len, uint32_t max_page,
			    uint32_t max_node);

#ifdef __cplusplus
}
#endif
#endif /* DSM_TAPE_H */
