/*
 * lrc.h — private to the lazy release consistency protocol (lrc*.c).
 * See docs/protocols/lrc.md.
 *
 * Locking: every field here is guarded by the region lock
 * (n->region->lock), like the page table. Memory used in the fault path
 * (twins, own diffs) comes from mmap'd pools, never malloc.
 */
#ifndef DSM_PROTO_LRC_H
#define DSM_PROTO_LRC_H

#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "vm/vm.h"

/* Events of the page state machine (docs/protocols/lrc.md); the table
 * is in lrc.c, every state change goes through dsm__lrc_step. */
#define LRC_EVENT_MAP(XX)                                                  \
	XX(TWIN)    /* first write in an interval: twin made */            \
	XX(CLOSE)   /* interval closed: page write-protected */            \
	XX(NOTICE)  /* a write notice arrived: access revoked */           \
	XX(APPLY)   /* every noticed diff (or the whole page) applied */  \
	XX(KEEP)    /* interval closed, page tracked by the kernel: its   \
		       diff made now, stays writable (lrc_wp.c) */

enum lrc_event {
#define XX(name) LRC_EV_##name,
	LRC_EVENT_MAP(XX)
#undef XX
	LRC_EV_COUNT_
};

/* An interval record: one node's execution between two synchronisation
 * points, with its vector timestamp and write notices (pages written). */
struct lrc_interval {
	uint32_t creator;
	uint32_t id;            /* 1, 2, ... per creator */
	uint64_t vcsum;         /* sum of vc: a linear extension of happens-before */
	uint32_t npages;
	uint32_t *pages;
	uint32_t vc[];          /* node_count entries */
};

/* A write notice not yet applied to a page here. */
struct lrc_notice {
	struct lrc_interval *iv;
	int requested;          /* a diff request covering it is in flight */
	unsigned char *diffs;   /* fetched: {u32 len, diff}... (malloc) */
	size_t dlen;
	struct lrc_notice *next;
};

/* A diff of one of this node's own intervals (in the diff arena). */
struct lrc_own_diff {
	uint32_t interval;
	uint32_t len;
	struct lrc_own_diff *next; /* older ones follow */
	unsigned char data[];
};

/* Per-page protocol data. */
struct lrc_page {
	unsigned char *twin;      /* copy before the first write, or NULL */
	uint32_t twin_iv;         /* the interval the twin belongs to */
	uint32_t wrote_iv;        /* our last interval that wrote it */
	uint16_t replies_left;    /* diff replies still expected */
	uint8_t dirty;            /* listed in the open interval's dirty list */
	uint8_t tracked;          /* writes seen by the kernel (lrc_wp.c) */
	uint8_t tlisted;          /* in lrc_state.tracked */
	uint8_t idle;             /* tracked, closes in a row not written */
	uint8_t gc_hold;          /* GC drops its notices: faults wait */
	uint8_t whole;            /* fetch the whole page from whole_src first */
	uint16_t whole_src;       /* a node whose copy has every write <= the
				   * GC that dropped this page's notices */
	uint8_t tape;             /* tape hooks (lrc_tape.c): LRC_TAPE_* */
	uint16_t tape_from;       /* HELD: the newest writer whose diff it has */
	struct lrc_own_diff *diffs;
	struct lrc_notice *pending; /* unapplied notices, oldest first */
};

/* lrc_page.tape: ASKED(_TRACK): a tape fetch of the page's diffs is in
 * flight (replies_left counts it); HELD: INVALID and inaccessible, but
 * every noticed diff is applied: the first access validates it locally
 * (a used prediction). A notice arriving meanwhile makes it a plain
 * invalid page again (lrc_tape.c, docs/tapes.md). */
enum { LRC_TAPE_ASKED = 1, LRC_TAPE_ASKED_TRACK = 2, LRC_TAPE_HELD = 3 };

/* In a diff request's "after" interval: this writer is the page's only one
 * in the requested notices, so its diffs may be merged into one (nothing
 * of another writer's can fall between them). Interval ids stay below. */
#define LRC_ONLY_WRITER 0x80000000u

struct lrc_chunk {
	struct lrc_chunk *next;
	size_t size;
	size_t used;
};

/* Pages fetched lately (a ring): the candidates for batching diff
 * requests, since they are in use here. */
#define LRC_RECENT 256
/* A diff request may carry up to LRC_BATCH_PAGES more pages for each of
 * the first LRC_BATCH_CREATORS writers it goes to. Lives on the stack of
 * the faulting thread, next to its outbox. */
#define LRC_BATCH_CREATORS 8
#define LRC_BATCH_PAGES 31
struct lrc_batch {
	uint32_t cnt[LRC_BATCH_CREATORS];
	unsigned char t[LRC_BATCH_CREATORS][LRC_BATCH_PAGES * 12];
};

struct lrc_state {
	int me, count;
	uint32_t recent[LRC_RECENT];
	uint32_t recent_pos;
	uint32_t vc[DSM_MAX_NODES];       /* intervals known, per creator */
	uint32_t barrier_id;              /* own intervals every node knows (the
					   * last barrier's global vc[me]) */
	struct lrc_interval **ivs[DSM_MAX_NODES]; /* known intervals by creator */
	uint32_t iv_base[DSM_MAX_NODES];  /* id of ivs[j][0] */
	uint32_t iv_len[DSM_MAX_NODES], iv_cap[DSM_MAX_NODES];
	struct lrc_page *pages;           /* npages, lazily zero */
	uint32_t *dirty;                  /* pages written in the open interval */
	uint32_t ndirty;
	uint32_t *tracked;                /* pages with lrc_page.tracked (may
					   * list pages no longer tracked) */
	uint32_t ntracked;
	unsigned char *twin_free;         /* free list through the first word */
	struct lrc_chunk *twin_chunks;
	struct lrc_chunk *arena;          /* own diffs; freed whole at GC */
	uint64_t mem;                     /* twins + diffs + records + notices */
};

static inline struct lrc_state *LS(struct dsm_node *n) { return n->proto_state; }

/* lrc_mem.c — pools usable in the fault path (caller holds the lock). */
unsigned char *dsm__lrc_twin_alloc(struct lrc_state *st, size_t page_size);
void dsm__lrc_twin_free(struct lrc_state *st, unsigned char *t, size_t page_size);
void *dsm__lrc_arena_reserve(struct lrc_state *st, size_t size);
void dsm__lrc_arena_commit(struct lrc_state *st, size_t used);
void dsm__lrc_arena_reset(struct lrc_state *st);
void dsm__lrc_pools_free(struct lrc_state *st, size_t page_size);

/* lrc.c — pages */
extern const struct dsm_page_machine dsm__lrc_machine;
struct dsm_page *dsm__lrc_pg(struct dsm_node *n, size_t p);
/* Move page p along ev (dsm__page_step with lrc's table): 0, or
 * DSM_EPROTO with the page unchanged if ev is illegal in its state.
 * Caller holds the region lock. Async-signal-safe. */
int dsm__lrc_step(struct dsm_node *n, size_t p, struct dsm_page *pg, enum lrc_event ev);
/* Kernel write tracking (lrc_wp.c; docs/write-detection.md): a page
 * written within LRC_WP_IDLE intervals of its last write is tracked; one
 * not written for LRC_WP_IDLE closes in a row leaves tracking (a grid
 * written every other iteration stays tracked). */
#define LRC_WP_IDLE 2
int dsm__lrc_wp_init(struct dsm_node *n);
void dsm__lrc_wp_track(struct dsm_node *n, size_t p);
int dsm__lrc_wp_collect(struct dsm_node *n);
int dsm__lrc_wp_keep(struct dsm_node *n, size_t p);
void dsm__lrc_wp_leave(struct dsm_node *n, size_t p);
void dsm__lrc_list_dirty(struct lrc_state *st, size_t p);

/* Append page p's changes since its twin (to cur, a copy of the page) to
 * its own diffs, under the twin's interval. */
int dsm__lrc_diff_against(struct dsm_node *n, size_t p, const unsigned char *cur);
/* Turn the page's twin into an own diff (page must not be writable). */
int dsm__lrc_flush_twin(struct dsm_node *n, size_t p);
/* Send diff requests for page p's pending notices (caller holds the lock;
 * messages are sent after it drops it: ob). Returns requests queued. */
struct dsm_outbox;
/* b: scratch for batching other recently used invalid pages into the
 * same requests (NULL: page p alone). */
int dsm__lrc_fetch_start(struct dsm_node *n, size_t p, struct dsm_outbox *ob,
			 struct lrc_batch *b);
/* Start bringing invalid page p up to date: the whole page from
 * whole_src if the page was dropped at GC, else the diffs (batched: b).
 * Returns requests queued. Caller holds the lock. */
int dsm__lrc_fetch(struct dsm_node *n, size_t p, struct dsm_outbox *ob,
		   struct lrc_batch *b);
void dsm__lrc_protect_list(struct dsm_node *n, uint32_t *pages, uint32_t count,
			   int prot);
/* Mark page p's unrequested notices requested (mark) and give, per writer
 * j, the range (lo[j], hi[j]] of their intervals (hi[j] == 0: none).
 * Returns 0 if some notice was already requested (then, without mark,
 * nothing is marked). Caller holds the lock. */
int dsm__lrc_collect(struct lrc_page *lp, uint32_t *lo, uint32_t *hi, int mark);

/* lrc_tape.c — tape hooks (src/tape/hooks.h); region lock held.
 *  applied: p's fetched diffs are applied and its tape flag is set
 *    (apply_fetched; from: the newest writer): hold or validate a tape
 *    fetch's page; a stale HELD page (fetched by a demand batch) is
 *    validated as a miss. Wakes the page.
 *  use: a fault on a HELD page: validate the held copy (DSM_FAULT_RETRY),
 *    or 0 if a later notice made it stale (flag cleared: fetch as usual).
 *  served: note the pages of a diff request served (REQUEST events).
 *  closing: the interval closes, its written pages listed (after the
 *    kernel-tracked ones are collected): note them (WRITE events). */
int dsm__lrc_tape_applied(struct dsm_node *n, size_t p, struct dsm_page *pg,
			  uint32_t from, int err);
int dsm__lrc_tape_use(struct dsm_node *n, size_t p, struct dsm_page *pg);
void dsm__lrc_tape_served(struct dsm_node *n, const struct dsm_msg *m);
void dsm__lrc_tape_closing(struct dsm_node *n);
/* The interval this node's writes belong to now (tape events). */
static inline uint32_t dsm__lrc_cur_interval(const struct lrc_state *st)
{
	return st->vc[st->me] + 1;
}

/* lrc_iv.c — intervals */
/* Does an interval known here that is newer than vc (some (j, i > vc[j]))
 * write page p? 1 also when such a record is no longer kept. Region lock
 * held. (Tape pushes: lrc_tape.c.) */
int dsm__lrc_wrote_after(struct dsm_node *n, uint32_t p, const uint32_t *vc);
int dsm__lrc_close_interval(struct dsm_node *n);
int dsm__lrc_put_intervals(struct lrc_state *st, uint32_t creator, uint32_t after,
			   uint32_t upto, struct dsm_buf *out);
int dsm__lrc_learn(struct dsm_node *n, const unsigned char *p, size_t len);
/* Garbage collection at a barrier whose global timestamp is upto. */
int dsm__lrc_gc(struct dsm_node *n, const uint32_t *upto);
void dsm__lrc_iv_free_all(struct lrc_state *st);
int dsm__lrc_handle_intv(struct dsm_node *n, const struct dsm_msg *m);

int dsm__lrc_fault(struct dsm_node *n, size_t p, int want_write);
int dsm__lrc_handle(struct dsm_node *n, const struct dsm_msg *m);
int dsm__lrc_init(struct dsm_node *n);
void dsm__lrc_fini(struct dsm_node *n);

#endif /* DSM_PROTO_LRC_H */
