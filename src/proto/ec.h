/*
 * ec.h — private to the entry consistency protocol (ec.c, ec_lock.c).
 * See docs/protocols/ec.md.
 *
 * Data bound to a lock (dsm_bind) lives on "bound" pages that ec owns;
 * every other page is left to hlrc, whose state is n->proto_state (ec's is
 * n->ec_state), so unbound data is kept under release consistency exactly
 * as DSM_PROTOCOL=hlrc keeps it.
 *
 * Locking: ec_state.mu guards the locks' ownership, queues, update logs
 * and the Lamport clock; the region lock guards the page fields, the range
 * table and the hold counts the fault path reads. Order: mu, then the
 * region lock; the fault path takes only the region lock. Nothing waits
 * for a message while holding either.
 */
#ifndef DSM_PROTO_EC_H
#define DSM_PROTO_EC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"

/* Per-page data (region lock). */
struct ec_page {
	uint8_t bound;    /* some bytes are bound to a lock: ec owns the page */
	uint8_t twinned;  /* twin at ec_state.twins + p * page_size is live */
	uint16_t open;    /* holds here of locks with ranges on the page */
	uint8_t bar;      /* barrier bindings on the page (saturates) */
	uint8_t idle;     /* barriers in a row that found it unchanged (saturates) */
};

struct ec_lock;

/* A bound byte range in region offsets. */
struct ec_span {
	uint64_t off, len;
};

/* A binding's bytes on one page: offset in the page and length. */
struct ec_piece {
	uint32_t off, len;
};

/* A bound range, in region offsets (the table the fault path searches). */
struct ec_range {
	size_t off, len;
	struct ec_lock *lock;
};

/* A request waiting at the owner (or deferred at a node whose own
 * exclusive request is on its way: it becomes the owner). */
struct ec_req {
	int node;
	int mode;
	uint64_t token;
	uint64_t seen;    /* the requester's newest update time of the lock */
	uint32_t nb;      /* bindings of the lock's list the requester knows */
	uint32_t nhave;   /* bindings it made itself that its list lacks: */
	struct ec_span *have; /* their contents need not come (malloc'd) */
};

/* One lock as this node knows it. */
struct ec_lock {
	struct ec_lock *next;  /* hash chain */
	unsigned id;
	int barrier;           /* a barrier's record (ranges only) */
	/* the lock's ranges, sorted, touching ones merged (mu + region lock) */
	size_t *roff, *rlen;
	unsigned nr, rcap;
	size_t bytes;          /* bound bytes */
	/* bindings travel with the lock: the list in the order the owners
	 * made it (this node knows its first ngl), and the ones made here
	 * that the list does not have yet (joined when the token comes) */
	struct ec_span *gl, *pend;
	unsigned ngl, glcap, npend, pendcap;
	/* holds on this node (region lock: the fault path reads them) */
	int held_excl;
	int held_shared;
	/* ownership (mu) */
	int owner;             /* probable owner (this node when is_owner) */
	int is_owner;          /* the token is here */
	int pending_excl;      /* an exclusive request from here is on its way */
	int granter;           /* node whose shared grants we hold */
	int busy_excl;         /* owner: held exclusively (here) */
	int nshared;           /* owner: shared holds granted, anywhere */
	struct ec_req *q;      /* owner: waiting; else deferred while pending */
	unsigned qlen, qcap;
	void *blob;            /* hlrc's vector timestamp for the lock */
	/* updates (mu) */
	uint64_t time;         /* newest update of the bound data known here */
	uint64_t floor;        /* the log holds every update in (floor, time] */
	unsigned char *log;    /* {u64 time, u32 page, u32 len, diff}... */
	size_t loglen, logcap;
};

#define EC_BUCKETS 4096 /* tens of thousands of locks (wa): short chains */

struct ec_state {
	pthread_mutex_t mu;
	size_t npages, page_size;
	struct ec_page *pages;          /* npages, NORESERVE */
	unsigned char *twins;           /* npages * page_size, NORESERVE */
	struct ec_range *ranges;        /* sorted by offset (region lock) */
	size_t nranges, rcap;
	struct ec_lock *bucket[EC_BUCKETS];
	struct ec_lock *bbucket[EC_BUCKETS]; /* barriers' bindings (ranges only) */
	uint64_t clock;                 /* Lamport clock (mu) */
	unsigned excl_holds;            /* exclusive holds here (region lock) */
	unsigned char *scratch;         /* one page's diff (mu) */
	int check;                      /* DSM_EC_CHECK */
};

static inline struct ec_state *ES(struct dsm_node *n) { return n->ec_state; }

/* Page events, checked by one table (ec.c; docs/protocols/ec.md). */
enum ec_event {
	EC_EV_TAKE,   /* dsm_bind: a valid hlrc page becomes a bound page */
	EC_EV_WRITE,  /* first write: twin made */
	EC_EV_CLOSE,  /* the last hold on the page ended: twin dropped */
	EC_EV_GUARD,  /* DSM_EC_CHECK: no hold left, accesses are checked */
	EC_EV_OPEN,   /* DSM_EC_CHECK: a hold (or a reported access) opens it */
	EC_EV_COUNT_
};

/* ec.c */
int dsm__ec_step(struct dsm_node *n, size_t p, enum ec_event ev);
/* Lock id as this node knows it; created (owned first by id % N) when
 * create, else NULL if unknown. mu held. */
struct ec_lock *dsm__ec_lock_get(struct dsm_node *n, unsigned id, int create);
/* Bound pages of lock l: a hold begins (open) or ends (diffs of its
 * ranges appended to out as log entries of time `time` when excl; twins
 * dropped where no hold is left). Caller holds mu, not the region lock. */
void dsm__ec_open(struct dsm_node *n, struct ec_lock *l, int mode);
int dsm__ec_close(struct dsm_node *n, struct ec_lock *l, int mode, uint64_t time,
		  struct dsm_buf *out);
/* Apply log entries to the bound pages (and their twins). Caller holds
 * mu. 0 or DSM_EPROTO for a malformed entry. */
int dsm__ec_apply(struct dsm_node *n, int src, const unsigned char *p, size_t len);
/* Barrier hooks (hlrc's, with the barrier's bound data beside). */
int dsm__ec_barrier_enter(struct dsm_node *n, unsigned barrier, struct dsm_buf *out);
int dsm__ec_barrier_collect(struct dsm_node *n, unsigned barrier, int node,
			    const void *payload, size_t len, void **state);
int dsm__ec_barrier_release(struct dsm_node *n, unsigned barrier, int node,
			    void *state, struct dsm_buf *out);
void dsm__ec_barrier_done(struct dsm_node *n, void *state);
int dsm__ec_barrier_leave(struct dsm_node *n, unsigned barrier, const void *payload,
			  size_t len);
/* Append a snapshot of l's bound data (entries of time `time`). mu held. */
int dsm__ec_snapshot(struct dsm_node *n, struct ec_lock *l, uint64_t time,
		     struct dsm_buf *out);
/* The same for one span. mu held. */
int dsm__ec_snapshot_span(struct dsm_node *n, const struct ec_span *s, uint64_t time,
			  struct dsm_buf *out);
/* A binding of l arrived with a grant: bind it here (its pages become
 * bound) unless it is known already. mu held. 0, DSM_EPROTO (overlaps
 * another binding) or -ENOMEM. */
int dsm__ec_learn_span(struct dsm_node *n, struct ec_lock *l, const struct ec_span *s);
/* Append s to a span array. */
int dsm__ec_span_push(struct ec_span **a, unsigned *len, unsigned *cap,
		      const struct ec_span *s);

/* ec_diff.c: encodings of updates (pure; docs/protocols/ec.md). The run
 * encoding (src/vm/diff.h's) of the bytes of page that differ from twin
 * within the pieces; the smaller of it and a byte-mask encoding (for
 * barrier updates); either one applied to a page. out holds
 * dsm__diff_max_size(page size) bytes; the length is returned (4: no
 * change, run encoding). Apply: 0 or -EINVAL (nothing changed). */
size_t dsm__ec_diff_runs(const unsigned char *twin, const unsigned char *page,
			 const struct ec_piece *pc, unsigned npc, unsigned char *out);
size_t dsm__ec_diff_encode(const unsigned char *twin, const unsigned char *page,
			   const struct ec_piece *pc, unsigned npc, unsigned char *out);
int dsm__ec_diff_apply(void *page, size_t page_size, const void *diff, size_t len);

/* ec_lock.c */
int dsm__ec_lock_acquire(struct dsm_node *n, unsigned lock, int mode);
int dsm__ec_lock_release(struct dsm_node *n, unsigned lock);
int dsm__ec_lock_handle(struct dsm_node *n, const struct dsm_msg *m);
void dsm__ec_lock_free_all(struct ec_state *es);
void dsm__ec_lock_free_table(struct ec_lock **bucket);

#endif /* DSM_PROTO_EC_H */
