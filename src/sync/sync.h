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
	struct lock_req *head, *tail;
	void *blob;          /* protocol data folded from releases */
	void *tape;          /* Tapeworm: the last release's tape (wire form) */
	size_t tape_len;
};

/* Holder-side record: which locks this node holds, for release. */
struct lock_held {
	struct sync_obj obj;
	int excl;
	int shared;
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
};

/* Tapeworm (src/tape/tapeworm.h): a LOCK_REL with arg2 = 1, and a
 * LOCK_GRANT with this bit in arg1 (beside the mode), carry a tape after
 * the protocol's payload: {tape bytes, u32 their length}. */
#define DSM_LOCK_TAPE 0x100u

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
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m);

#endif /* DSM_SYNC_H */
