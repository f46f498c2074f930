/*
 * sync.h — private to src/sync: distributed locks and barriers.
 *
 * Every lock and barrier id has a manager node (id % node count). Lock
 * requests queue at the manager in arrival order; barrier arrivals are
 * counted there. Grants and releases are where protocols hook in.
 */
#ifndef DSM_SYNC_H
#define DSM_SYNC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct dsm_msg;
struct dsm_node;
struct dsm_buf;

/* The head of every record the sync layer keeps by id (a lock's or a
 * barrier's, at the manager or here): records live in a sync_table. */
struct sync_obj {
	unsigned id;
	struct sync_obj *next;
};

/* Records of one kind by id: a hash table of singly linked buckets that
 * doubles when it holds more than two records a bucket (a program with a
 * lock per molecule has tens of thousands of ids: fixed 256 buckets made
 * each lookup walk a chain of 80). Zeroed: empty, no buckets yet. */
#define SYNC_BUCKETS 256 /* initial */
struct sync_table {
	struct sync_obj **bucket;
	size_t nbuckets, count;
};

/* The record named id in t. If there is none: with size != 0 a new
 * zeroed record of size bytes (its struct starts with struct sync_obj)
 * is added and returned, NULL when out of memory; with size 0, NULL.
 * Caller holds dsm_sync.mu. */
void *dsm__sync_lookup(struct sync_table *t, unsigned id, size_t size);
/* Call fn(record, arg) for every record of t until one returns nonzero;
 * returns that value, or 0. Caller holds dsm_sync.mu. */
int dsm__sync_each(struct sync_table *t, int (*fn)(void *obj, void *arg), void *arg);
/* Free every record of t, after fn(record, arg) if fn is not NULL. */
void dsm__sync_clear(struct sync_table *t, void (*fn)(void *obj, void *arg), void *arg);

/* A request waiting at the manager. */
struct lock_req {
	int node;
	int mode;
	uint64_t token;
	struct lock_req *next;
};

/* Manager-side state of one lock. */
struct lock_mgr {
	struct sync_obj obj;
	int excl;            /* an exclusive holder exists */
	int shared;          /* number of shared holders */
	int at;              /* 1 + the node its token is at (lock_token.c),
				0: here (free, or held as excl/shared say) */
	int revoking;        /* a LOCK_REVOKE went to that node */
	struct lock_req *head, *tail;
	void *blob;          /* protocol data folded from releases */
	void *tape;          /* Tapeworm: the last release's tape (wire form) */
	size_t tape_len;
};

/* Holder-side record: which locks this node holds, for release, and
 * the lock's token when it is here (lock_token.c). */
struct lock_held {
	struct sync_obj obj;
	int excl;
	int shared;
	int token;           /* the lock stays here between holds */
	int releasing;       /* a token hold is being released */
	int revoked;         /* the manager wants the token back */
	void *blob;          /* the token's protocol payload: what an acquire
				here applies and a return carries */
	size_t blen;
};

/* Per requesting node at a manager: the stream of lock ids it asks for. */
struct lock_ahead {
	unsigned next;       /* the id a stream asks for next */
	unsigned win;        /* tokens granted ahead last time, 0: none */
};

/* Manager-side state of one barrier. */
struct bar_mgr {
	struct sync_obj obj;
	uint64_t epoch;      /* 1, 2, ...: the epoch arrivals are counted for */
	int arrived;
	uint64_t mask;       /* nodes arrived at this epoch */
	void *pstate;        /* protocol data collected from arrivals */
	struct dsm_buf *fwd; /* per node: pushes to forward in its release
				(DSM_BAR_TAPE), n->count entries or NULL */
};

/* Node-side epoch of one barrier id. */
struct bar_local {
	struct sync_obj obj;
	uint64_t epoch;       /* epochs completed here */
	uint64_t released;    /* highest epoch released by the manager */
	void *payload;        /* the release payload (malloc'd) */
	size_t len;
};

struct bind_rec {
	unsigned id;
	int barrier;
	uintptr_t addr;
	size_t len;
	struct bind_rec *next;
};

struct dsm_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sync_table mgr;      /* struct lock_mgr: locks we manage */
	struct sync_table held;     /* struct lock_held: locks we hold */
	struct sync_table bmgr;     /* struct bar_mgr: barriers we manage */
	struct sync_table blocal;   /* struct bar_local: barriers here */
	struct bind_rec *binds;
	uint64_t fin_mask;   /* nodes known to be in dsm_finalize */
	struct bar_frag *frags; /* barrier payloads arriving in chunks (barrier.c) */
	struct lock_ahead *ahead; /* per node (lock_token.c), NULL until used */
};

/* Tapeworm (src/tape/tapeworm.h): a LOCK_REL with arg2 = 1, and a
 * LOCK_GRANT with this bit in arg1 (beside the mode), carry a tape after
 * the protocol's payload: {tape bytes, u32 their length}. */
#define DSM_LOCK_TAPE 0x100u

/*
 * Lock tokens (lock_token.c, docs/locks.md). A LOCK_GRANT with
 * DSM_LOCK_TOKEN in arg1 hands the lock's token: the lock stays at the
 * acquirer after its release until the manager revokes it, and more
 * tokens of the same manager may come with it. Payload: {u32 length,
 * the protocol's grant payload, then per extra token {u32 lock, u32
 * length, its grant payload}}. A LOCK_REQ with DSM_LOCK_REVOKE in arg1
 * goes from the manager to the node holding the token. A LOCK_REL's
 * arg2 is a set of DSM_REL_* bits: TAPE (a tape trailer), TOKEN (the
 * token comes back with this release) or RUN (tokens come back:
 * payload {u32 lock, u32 length, release payload}...; with BUSY: one,
 * revoked while in use, and the sender gets no more runs for now).
 */
#define DSM_LOCK_TOKEN 0x200u
#define DSM_LOCK_REVOKE 0x400u
#define DSM_REL_TAPE 1u
#define DSM_REL_TOKEN 2u
#define DSM_REL_RUN 4u
#define DSM_REL_BUSY 8u /* with RUN: the token was revoked while in use */

/* Tapeworm (src/tape/tapeworm.h, struct pc_via): a BAR_ARRIVE or
 * BAR_RELEASE with this bit in arg1 (beside the epoch) carries pushes
 * after the protocol's payload: {records, u32 their length}, each record
 * {u32 node, u32 length, length bytes}; node is the push's consumer in
 * an arrival (the manager takes its own and forwards the others in the
 * releases) and its producer in a release. */
#define DSM_BAR_TAPE (UINT64_C(1) << 63)

/* Ids from here up are reserved for the runtime's own barriers. */
#define DSM_BARRIER_INTERNAL 0xffffff00u

/* Free the partial chunked barrier payloads (dsm__sync_fini). */
void dsm__barrier_frags_free(struct dsm_sync *s);
/* Free a manager's pushes to forward (n->count buffers; NULL: none). */
void dsm__barrier_fwd_free(struct dsm_node *n, struct dsm_buf *fwd);
int dsm__lock_handle(struct dsm_node *n, const struct dsm_msg *m);
/* The manager of lock id (id % node count). */
int dsm__lock_manager(const struct dsm_node *n, unsigned id);

/* lock_token.c. Manager side, caller holds mu: */
/* How many tokens ahead a grant of l to r may carry: -1 for a plain
 * grant (no token), else 0.. (the lock's own token and that many more). */
int dsm__lock_ahead_for(struct dsm_node *n, struct lock_mgr *l, const struct lock_req *r);
/* Wrap the grant payload *pay as a token grant of l to node, with up to
 * ahead free locks after it (ids l+N, l+2N, ...), which are marked at
 * node. On error nothing is marked. */
int dsm__lock_token_pack(struct dsm_node *n, struct lock_mgr *l, int node, int ahead,
			 struct dsm_buf *pay);
/* Node walks in step with another: no runs for it until it streams
 * again. */
void dsm__lock_ahead_stop(struct dsm_node *n, int node);
/* The token went back (a send failed): unmark what pack marked. */
void dsm__lock_token_unpack(struct dsm_node *n, struct lock_mgr *l, int node, int ahead);
/* Ask the token's node for it back, once. */
void dsm__lock_revoke(struct dsm_node *n, struct lock_mgr *l);
/* Holder side: */
/* The service thread got a token grant: record the tokens; *main,
 * *main_len: the lock's own grant payload (within m's payload). */
int dsm__lock_token_granted(struct dsm_node *n, const struct dsm_msg *m,
			    const void **main, size_t *main_len);
/* The manager revokes lock id's token. */
int dsm__lock_token_revoke(struct dsm_node *n, int mgr, unsigned id);
/* Take lock id here if its token is here and idle: 1 (with a copy of the
 * payload to apply in *blob, *blen), 0 if not, or -ENOMEM. */
int dsm__lock_token_take(struct dsm_node *n, unsigned id, void **blob, size_t *blen);
/* A token hold's release is done: keep pay as the token's payload (taken
 * over), and give the token back if it was revoked meanwhile. */
int dsm__lock_token_released(struct dsm_node *n, unsigned id, struct dsm_buf *pay);
/* Free a held record's token payload (dsm__sync_fini). */
void dsm__lock_held_free(void *obj, void *arg);
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m);

#endif /* DSM_SYNC_H */
