/*
 * hlrc.h — private to the home-based lazy release consistency protocol
 * (hlrc*.c). See docs/protocols/hlrc.md.
 *
 * Locking: the page fields here are guarded by the region lock
 * (n->region->lock), like the page table; the interval tables too.
 * close_mu serialises whole interval closes (threads of one node releasing
 * at the same time). Twins live at a fixed place per page in one lazily
 * backed mapping, so the fault path never allocates.
 */
#ifndef DSM_PROTO_HLRC_H
#define DSM_PROTO_HLRC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "vm/vm.h"

#define HLRC_NO_HOME (-1)

/* Per-page protocol data. */
struct hlrc_page {
	int16_t home;      /* home node, or HLRC_NO_HOME (first touch, unclaimed) */
	uint8_t twinned;   /* twin at hlrc_state.twins + p * page_size is live */
	uint8_t dirty;     /* listed in the open interval's dirty list */
	uint8_t flushing;  /* our diff for it is on its way to the home */
	uint8_t fetching;  /* a whole-page request to the home is in flight */
	uint8_t stale;     /* a notice arrived while fetching: refetch */
	uint8_t shared;    /* home: a copy may exist elsewhere that no notice
			      covers yet, so writes must be tracked */
	uint8_t used;      /* fetched here on demand before: worth prefetching */
	uint8_t streak;    /* home: consecutive flushes by last_writer alone */
	int16_t last_writer; /* home: node whose diffs came last, or -1 */
	int16_t asked;     /* node the in-flight whole-page request went to */
	uint16_t gen;      /* home generation: +1 at each migration */
	uint16_t bounce;   /* redirects in a row without a newer home */
	uint8_t tape;      /* tape hooks (hlrc_tape.c): HLRC_TAPE_* */
	uint8_t ktrack;    /* home, shared: writable, writes recorded by the
			      kernel (hlrc_wp.c) instead of by a fault */
	uint8_t klisted;   /* in hlrc_state.ktracked */
	uint8_t kassume : 1, /* with ktrack: not armed, taken as written at
				the close (hlrc_wp.c, "assumed writes") */
		kstreak : 2, /* home: closes in a row, up to 3, that found
				the served page written */
		kcheck : 3,  /* assumed serves since the last armed one */
		kgrace : 1;  /* assumed, and a close found it unchanged */
	uint8_t fresh;     /* opened fresh (hlrc_state.fresh lists it, not
			      dirty): DIRTY, zero twin; HLRC_FRESH_RUN: not
			      known to be written (the close decides),
			      HLRC_FRESH_HIT: its own write fault opened it */
	uint8_t ztwin;     /* twinned, and the twin is all zeros: the page
			      was fresh (no home, never written here) */
	uint8_t ahead;     /* twinned ahead of a walk (hlrc_twin.c): not
			      known to be written until its close */
	uint8_t quiet;     /* twinned ahead and not written: left out of
			      the closing interval's record */
	uint8_t tres;      /* its twin slot's memory is resident (counted in
			      hlrc_state.twin_res; see release_twins) */
};

/* hlrc_page.tape: HELD: INVALID, but the runtime view holds a valid copy
 * a tracked prefetch installed; the first access validates it. ASKED: a
 * tape fetch for it is in flight (with fetching set). */
#define HLRC_FRESH_RUN 1
#define HLRC_FRESH_HIT 2

#define HLRC_TAPE_HELD 1
#define HLRC_TAPE_ASKED 2

/* A home on the wire and in records: node | generation << 16. A home of a
 * higher generation replaces what a node knows (homes migrate). */
#define HLRC_HG(home, gen) ((uint32_t)(uint16_t)(home) | (uint32_t)(gen) << 16)
#define HLRC_HG_HOME(v) ((int)((v) & 0xffffu))
#define HLRC_HG_GEN(v) ((uint16_t)((v) >> 16))

/* Adopt home h of generation g if it is newer than what is known. */
static inline int hlrc_learn_home(struct hlrc_page *hp, int h, uint16_t g)
{
	if (hp->home != HLRC_NO_HOME && g <= hp->gen)
		return 0;
	hp->home = (int16_t)h;
	hp->gen = g;
	return 1;
}

/* An interval record: the pages one node wrote between two releases, each
 * with its home (so a node that never heard of the page can fetch it). */
struct hlrc_interval {
	uint32_t creator;
	uint32_t id;        /* 1, 2, ... per creator */
	uint32_t npages;
	uint32_t *pages;    /* {page, home} pairs: 2 * npages entries */
};

/* One readahead stream: faults walking forward from next or backward
 * from lo - 1 extend it (hlrc.c, prefetch_run). */
#define HLRC_RA_STREAMS 4
struct hlrc_ra {
	size_t next;        /* the page after its last run */
	size_t lo;          /* the first page of its last run */
	unsigned win;       /* its window, pages */
	unsigned used;      /* ra_clock when last extended or started */
};

struct hlrc_state {
	int me, count;
	int migrate;                         /* DSM_HOME_MIGRATE */
	size_t npages;
	struct hlrc_page *pages;
	unsigned char *twins;                /* npages * page_size, NORESERVE */
	_Atomic size_t twin_res;             /* twin slots resident (tres) */
	uint32_t *dirty;                     /* pages written in the open interval */
	struct hlrc_ra ra[HLRC_RA_STREAMS];  /* readahead streams (prefetch_run) */
	unsigned ra_clock;                   /* stamps streams as they are used */
	uint32_t ndirty;
	uint32_t *fresh;                     /* pages opened fresh (hlrc_page.fresh;
					      * may list pages no longer fresh) */
	uint32_t nfresh;
	unsigned fresh_max;                  /* DSM_FRESH_RUN: 0 = off */
	unsigned char *zero;                 /* a zero page: fresh pages' twin */
	uint32_t *ktracked;                  /* pages with ktrack (may list
					      * pages no longer tracked) */
	uint32_t nktracked;
	struct hlrc_khash { uint64_t a, b; } *khash; /* per page: an assumed
						       page's hash when served */
	uint8_t kmode;                       /* serve arms shared home pages in
					      * the kernel (hlrc_wp.c) */
	uint8_t kadapt;                      /* auto: kmode follows kload */
	uint32_t kwrites;                    /* shared home pages first written
					      * in the open interval (faults or
					      * scan reports) */
	float kload;                         /* their mean per close (EWMA) */
	pthread_mutex_t close_mu;            /* one interval close at a time */
	uint32_t vc[DSM_MAX_NODES];          /* intervals known, per creator */
	uint32_t sent_id;                    /* own records sent to a barrier */
	uint32_t gc_upto[DSM_MAX_NODES];     /* previous barrier's global vc */
	struct hlrc_interval **ivs[DSM_MAX_NODES]; /* known records by creator */
	uint32_t iv_base[DSM_MAX_NODES];     /* id of ivs[j][0] */
	uint32_t iv_len[DSM_MAX_NODES], iv_cap[DSM_MAX_NODES];
};

static inline struct hlrc_state *HS(struct dsm_node *n) { return n->proto_state; }

/* Diff bytes per HLRC_DIFF message (and the most pages one ack migrates). */
#define HLRC_FLUSH_CHUNK (4u << 20)
/* Diff bytes for one home encoded before they are sent (a flush's batch:
 * reused, so resident; 1-16 MiB tried on qs, 4 best). */
#define HLRC_FLUSH_BATCH HLRC_FLUSH_CHUNK

/* Twin memory kept resident for the next twins of the same pages, at
 * most (hlrc_rel.c, release_twins). */
#define HLRC_TWIN_KEEP (64u << 20)

/* Page p's twin, at a fixed place in the twins mapping. */
static inline unsigned char *twin_of(struct hlrc_state *st, size_t p, size_t ps)
{
	return st->twins + p * ps;
}

/* The twin is no longer needed; its memory goes back in release_twins
 * (hlrc_rel.c), in runs and outside the region lock. */
static inline void twin_drop(struct dsm_node *n, size_t p)
{
	HS(n)->pages[p].twinned = 0;
	HS(n)->pages[p].ztwin = 0;
}

/* List page p in the open interval's dirty list (once). */
static inline void list_dirty(struct hlrc_state *st, size_t p)
{
	if (!st->pages[p].dirty) {
		st->pages[p].dirty = 1;
		st->dirty[st->ndirty++] = (uint32_t)p;
	}
}

/* qsort order of page numbers. */
static inline int hlrc_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Page events, checked by one table (hlrc.c; docs/protocols/hlrc.md). */
enum hlrc_event {
	EV_FETCHED,   /* whole page arrived from the home */
	EV_WRITE,     /* first write in the interval (twin, or home tracked) */
	EV_CLOSE,     /* interval closed: non-home write-protected */
	EV_CLOSE_HOME,/* interval closed at the home: stays writable */
	EV_SERVE,     /* home sent a copy: writes must be tracked again */
	EV_NOTICE,    /* a notice from another writer (non-home) */
	EV_CLAIMED,   /* first-touch claim made this node the home */
	EV_MIGRATE_IN,/* the home moved here with its copy */
	EV_PLACED_HOME,/* placement hint: an unused page is ours, writable */
	EV_PLACED_AWAY,/* placement hint: an unused page's home is elsewhere */
	EV_OPEN_FRESH,/* a fresh page (no home: zero) opened writable, zero twin */
	EV_COUNT_
};

/* hlrc.c */
int dsm__hlrc_step(struct dsm_node *n, size_t p, struct dsm_page *pg,
		   enum hlrc_event ev);
struct dsm_page *dsm__hlrc_pg(struct dsm_node *n, size_t p);
int dsm__hlrc_handle(struct dsm_node *n, const struct dsm_msg *m);
/* Set pages[] (sorted in place, duplicates allowed) to the protection
 * their states allow, in runs. Caller holds the region lock. */
void dsm__hlrc_protect_state(struct dsm_node *n, uint32_t *pages, uint32_t count);

/* The page arrived (a fetch, or a tape prefetch used): INVALID ->
 * READ_SHARED, readable. Region lock held. */
int dsm__hlrc_fetched(struct dsm_node *n, size_t p);
/* The home's first write to page p (READ_SHARED) in the open interval:
 * WRITE, listed dirty, noted; no protection change. Region lock held. */
int dsm__hlrc_home_wrote(struct dsm_node *n, size_t p, struct dsm_page *pg);
/* Kernel-recorded writes to the home's shared pages (hlrc_wp.c). */
int dsm__hlrc_wp_share(struct dsm_node *n, size_t p, struct dsm_page *pg);
int dsm__hlrc_wp_collect(struct dsm_node *n);
void dsm__hlrc_wp_share_run(struct dsm_node *n, const uint32_t *list, uint32_t count,
			    uint32_t *prot, uint32_t *nprot);
int dsm__hlrc_wp_leave(struct dsm_node *n, size_t p);
/* After a write fault on home page p: open the home pages ahead of the
 * walk it continues, if any, as assumed (hlrc_wp.c, "home write runs").
 * Returns the pages opened. Region lock held. */
unsigned dsm__hlrc_wp_home_run(struct dsm_node *n, size_t p);
int dsm__hlrc_wp_adapt(struct dsm_node *n);
/* Home: copy page p into copy for node `to`, making it shared (its next
 * write here is tracked). 0; 1 when p's home is elsewhere (*hg: where);
 * DSM_EPROTO when we hold no valid copy. Region lock held. */
int dsm__hlrc_serve_copy(struct dsm_node *n, int to, size_t p, unsigned char *copy,
			 uint32_t *hg);
/* The interval this node's writes belong to now (tape events). */
static inline uint32_t dsm__hlrc_cur_interval(struct hlrc_state *st)
{
	return st->vc[st->me] + 1;
}

/* hlrc_twin.c */
/* Twin page p (valid, another node's) for a write in the open interval:
 * WRITE, twin copied, listed dirty; ahead: twinned ahead of a walk, not
 * known to be written. No protection change. Region lock held. */
int dsm__hlrc_twin(struct dsm_node *n, size_t p, struct dsm_page *pg, int ahead);
/* After a write fault twinned p: twin the pages ahead of the walk it
 * continues, if any, and make them writable. Region lock held. */
unsigned dsm__hlrc_twin_run(struct dsm_node *n, size_t p);
/* A write fault on p continues a walk when the pages just before it (or
 * just after it: a walk backwards) are walked(); then the pages ahead
 * that may join, as many as twice the walk behind, up to max, from
 * *first on (the count; 0 if p continues no walk). Twin runs and home
 * write runs (hlrc_wp.c). Region lock held. */
unsigned dsm__hlrc_walk_ahead(struct dsm_node *n, size_t p, unsigned max,
			      int (*walked)(struct dsm_node *, size_t),
			      int (*ahead)(struct dsm_node *, size_t), size_t *first);

/* hlrc_rel.c */
/* Flush the diffs of pages (marked flushing, twinned) to their homes,
 * resolving unknown homes first; wait for every home's acknowledgement.
 * Application thread, region lock not held. */
int dsm__hlrc_flush(struct dsm_node *n, uint32_t *pages, uint32_t count);
/* Fresh pages (opened at a write fault with a zero twin, see hlrc.c):
 * the close's part. Write-protect every page opened fresh in the open
 * interval; those never touched (memfd holes) go back to fresh (no claim,
 * no notice), the others join pages[] (the record; *count grows) and fl[]
 * (to be flushed, diffed against zero). Both arrays have room for nfresh
 * more. Region lock held. */
int dsm__hlrc_close_fresh(struct dsm_node *n, uint32_t *pages, uint32_t *count,
			  uint32_t *fl, uint32_t *nfl);

/* hlrc_iv.c */
/* Does an interval known here that is newer than vc (some (j, i > vc[j]))
 * write page p? 1 also when such a record is no longer kept. Region lock
 * held. (Tape pushes: hlrc_tape.c.) */
int dsm__hlrc_wrote_after(struct dsm_node *n, uint32_t p, const uint32_t *vc);
/* End the open interval: flush diffs to homes, record write notices. */
int dsm__hlrc_close_interval(struct dsm_node *n);
/* Learn wire records (creator, id, npages, {page, home}...): invalidate
 * what they wrote. Application thread. */
int dsm__hlrc_learn(struct dsm_node *n, const unsigned char *p, size_t len);
int dsm__hlrc_handle_intv(struct dsm_node *n, const struct dsm_msg *m);
void dsm__hlrc_iv_free_all(struct hlrc_state *st);
/* Synchronisation hooks (struct dsm_protocol_ops). */
struct dsm_buf;
int dsm__hlrc_acquire(struct dsm_node *n, unsigned lock, int mode,
		      const void *payload, size_t len);
int dsm__hlrc_release(struct dsm_node *n, unsigned lock, int mode,
		      struct dsm_buf *out);
int dsm__hlrc_barrier_enter(struct dsm_node *n, unsigned barrier,
			    struct dsm_buf *out);
int dsm__hlrc_barrier_collect(struct dsm_node *n, unsigned barrier, int node,
			      const void *payload, size_t len, void **state);
int dsm__hlrc_barrier_release(struct dsm_node *n, unsigned barrier, int node,
			      void *state, struct dsm_buf *out);
void dsm__hlrc_barrier_done(struct dsm_node *n, void *state);
int dsm__hlrc_barrier_leave(struct dsm_node *n, unsigned barrier,
			    const void *payload, size_t len);

#endif /* DSM_PROTO_HLRC_H */
