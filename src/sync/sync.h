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
#include <stdint.h>

struct dsm_node;

/* A request waiting at the manager. */
struct lock_req {
	int node;
	int mode;
	uint64_t token;
	struct lock_req *next;
};

/* Manager-side state of one lock. */
struct lock_mgr {
	unsigned id;
	int excl;            /* an exclusive holder exists */
	int shared;          /* number of shared holders */
	struct lock_req *head, *tail;
	void *blob;          /* protocol data folded from releases */
	void *tape;          /* Tapeworm: the last release's tape (wire form) */
	size_t tape_len;
	struct lock_mgr *next;
};

/* Holder-side record: which locks this node holds, for release. */
struct lock_held {
	unsigned id;
	int excl;
	int shared;
	struct lock_held *next;
};

/* Manager-side state of one barrier. */
struct bar_mgr {
	unsigned id;
	uint64_t epoch;
	int arrived;
	uint64_t mask;       /* nodes arrived at this epoch */
	void *pstate;        /* protocol data collected from arrivals */
	struct bar_mgr *next;
};

/* Node-side epoch of one barrier id. */
struct bar_local {
	unsigned id;
	uint64_t epoch;       /* epochs completed here */
	uint64_t released;    /* highest epoch released by the manager */
	void *payload;        /* the release payload (malloc'd) */
	size_t len;
	struct bar_local *next;
};

struct bind_rec {
	unsigned id;
	int barrier;
	uintptr_t addr;
	size_t len;
	struct bind_rec *next;
};

#define SYNC_BUCKETS 256

struct dsm_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lock_mgr *mgr[SYNC_BUCKETS];
	struct lock_held *held[SYNC_BUCKETS];
	struct bar_mgr *bmgr[SYNC_BUCKETS];
	struct bar_local *blocal[SYNC_BUCKETS];
	struct bind_rec *binds;
	uint64_t fin_mask;   /* nodes known to be in dsm_finalize */
};

/* Tapeworm (src/tape/tapeworm.h): a LOCK_REL with arg2 = 1, and a
 * LOCK_GRANT with this bit in arg1 (beside the mode), carry a tape after
 * the protocol's payload: {tape bytes, u32 their length}. */
#define DSM_LOCK_TAPE 0x100u

/* Ids from here up are reserved for the runtime's own barriers. */
#define DSM_BARRIER_INTERNAL 0xffffff00u

int dsm__lock_handle(struct dsm_node *n, const struct dsm_msg *m);
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m);

#endif /* DSM_SYNC_H */
