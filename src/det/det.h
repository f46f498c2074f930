/*
 * det.h — deterministic spaces, private to src/det.
 *
 * Pieces:
 *   scope.c  scope ranges, write tracking (twin on first write through our
 *            SIGSEGV handler), protection of the scope
 *   space.c  dsm_det_open/close/spawn/join: children, their diff sets
 *   merge.c  validation of diff sets, conflict detection, ordered merge
 *   heap.c   the arena: parent heap and per-slot sub-heaps, in the scope
 *
 * Diff set (one memfd per space, created by the parent before fork, grown
 * by the child with ftruncate, read by the parent after the child exited):
 *   struct det_set_hdr, then records: struct det_rec followed by rec.len
 *   bytes of a src/vm/diff.h encoding, padded to 8 bytes.
 */
#ifndef DSM_DET_INTERNAL_H
#define DSM_DET_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dsm_det.h"

#define DET_MAX_RANGES 16      /* arena + explicit ranges */
#define DET_MAX_SLOTS 63       /* spaces per round */
#define DET_SET_MAGIC 0x44455453u /* "DETS" */
#define DET_SET_VERSION 3u
#define DET_AHEAD 16           /* pages twinned per fault by a sequential writer */
#define DET_REC_FULL 0x1u      /* det_rec.flags: whole page, base was zero */
#define DET_REC_BASE 0x2u      /* whole page, base: the parent's page at the
				* round's start (its twin, or the page) */

/* Page states of the tracker. */
enum { DET_PG_CLEAN = 0, DET_PG_BUSY = 1, DET_PG_TWINNED = 2 };

/* One page-rounded scope range with its twin pool and page states. */
struct det_range {
	unsigned char *start;
	size_t len;
	size_t npages;
	unsigned char *twins;     /* npages pages, reserved, backed lazily */
	_Atomic uint8_t *state;   /* DET_PG_* per page */
};

/* Write tracking of one process: which scope pages were twinned. */
struct det_tracker {
	struct det_range *ranges;
	int nranges;
	uint64_t *written;        /* (range << 48) | page, in twin order */
	_Atomic size_t nwritten;
	size_t cap;               /* entries of written[] */
	size_t page;
	int space_id;             /* for messages: space id or -1 */
	/* A child's fresh zone: the part of its own sub-heap no allocation
	 * ever reached, zero in the parent. It stays writable (no fault, no
	 * twin) and is sent as whole pages, its base being zero. Empty in
	 * the parent. */
	unsigned char *fresh_lo, *fresh_hi;
	/* A child's watched range (DSM_DET_F_WATCH_STACK): read-only, outside
	 * the scope; a write there is noted in *note and ends the child. */
	unsigned char *watch_lo, *watch_hi;
	struct det_note *note;
	/* A child whose writes the kernel records (DSM_WRITE_DETECT, vm/wp.h):
	 * one tracker per range; kernel_ok: allowed (the parent had written
	 * nothing of the scope when it forked this child). */
	struct dsm_wp *wp[DET_MAX_RANGES];
	int kernel_ok, kernel;
};

/* Header of a diff set. */
struct det_set_hdr {
	uint32_t magic;
	uint32_t version;
	int32_t space;            /* id of the space that wrote it */
	uint32_t complete;        /* 1 once fn returned and all records written */
	uint64_t nrecs;
	uint64_t used;            /* bytes used, header included */
	uint64_t twinned;         /* pages twinned in the child */
	uint64_t fresh;           /* fresh-zone pages sent whole */
	uint64_t kernel;          /* kernel-recorded pages sent whole (BASE) */
};

/* One page of a diff set. */
struct det_rec {
	uint64_t addr;            /* page address */
	uint32_t len;             /* bytes of the encoded diff that follows
	                           * (DET_REC_FULL: the page size) */
	uint32_t flags;           /* DET_REC_* */
};

/* One space of the current round, as the parent sees it. */
struct det_space {
	int id;
	int slot;
	pid_t pid;
	int fd;                   /* memfd of the diff set */
	int wstatus;
	const unsigned char *set; /* mapped diff set after the child ended */
	size_t setlen;
	int ok;                   /* diff set valid and complete */
};

/* What a space tells its parent besides its diff set, in memory shared
 * with it (written by the child, read after it ended). */
struct det_note {
	uint64_t nomem_size;      /* a sub-heap allocation failed: its size */
	uint64_t heap_size;       /* the size of that sub-heap */
	uint64_t outside_addr;    /* a write outside the scope was caught */
	uint32_t outside_kind;    /* DET_OUTSIDE_* */
	uint32_t pad;
};
#define DET_OUTSIDE_STACK 1u      /* the parent's stack, above the spawn */
#define DET_EXIT_OUTSIDE 124      /* exit status of a space that wrote there */

struct dsm_det {
	size_t page;
	struct det_range ranges[DET_MAX_RANGES]; /* [0] is the arena */
	int nranges;
	struct det_tracker trk;
	int policy;
	unsigned flags;
	int delay_us;             /* DSM_DET_DELAY_US: test hook */
	int write_detect;         /* DSM_WRITE_DETECT: enum dsm_wp_mode */
	unsigned char *arena;
	size_t arena_size;
	size_t slot_size;
	struct det_space spaces[DET_MAX_SLOTS];
	int nspaces;              /* spaces of the current round */
	int next_id;
	int tracking_parent;
	struct dsm_det_conflict *conf;
	size_t nconf, confcap;
	struct dsm_det_stats stats;
	struct det_note *notes;   /* [DET_MAX_SLOTS], MAP_SHARED */
	size_t heap_arg;          /* arena size asked for (0: automatic) */
	unsigned long stack_thread; /* DSM_DET_F_WATCH_STACK: the thread whose */
	unsigned char *stack_hi;    /* stack's top this is (cached) */
	char errmsg[1024];
	struct dsm_det *next_open; /* list of open contexts (heap.c) */
};

/* --- scope.c --- */
int dsm__det_range_init(struct det_range *r, void *addr, size_t len, size_t page);
void dsm__det_range_close(struct det_range *r);
int dsm__det_tracker_init(struct det_tracker *t, struct det_range *ranges,
			  int nranges, size_t page);
void dsm__det_tracker_close(struct det_tracker *t);
/* Forget every twinned page (state back to clean). */
void dsm__det_tracker_reset(struct det_tracker *t);
/* Install the process-wide SIGSEGV handler unless it is in place
 * (chaining to the one it replaces); in a child, chain to the default. */
int dsm__det_handler_install(void);
void dsm__det_handler_child(void);
/* Start/stop tracking t: protect every range read-only and route scope
 * faults to t / make every range writable and stop routing. */
int dsm__det_track_start(struct det_tracker *t);
/* In a child (kernel_ok): make every range writable and let the kernel
 * record its writes instead. 0, or <0 (nothing changed that
 * dsm__det_track_start does not redo). */
int dsm__det_track_start_kernel(struct det_tracker *t);
int dsm__det_track_stop(struct det_tracker *t);
/* Range and page of addr, or -1. */
int dsm__det_find(const struct det_tracker *t, uintptr_t addr, int *ri, size_t *pi);
static inline unsigned char *dsm__det_page_addr(const struct det_tracker *t,
						uint64_t w)
{
	return t->ranges[w >> 48].start + (w & 0xffffffffffffull) * t->page;
}
static inline unsigned char *dsm__det_twin_addr(const struct det_tracker *t,
						uint64_t w)
{
	return t->ranges[w >> 48].twins + (w & 0xffffffffffffull) * t->page;
}

/* --- merge.c --- */
/* Validate a space's mapped diff set. 0 or -EPROTO (*why says why). */
int dsm__det_set_check(const struct dsm_det *d, const struct det_space *s,
		       const char **why);
/* Merge the parent's own changes (tracker) and every ok space of the round
 * in creation order under d->policy. 0, DSM_EDETCONFLICT or -ENOMEM. */
int dsm__det_merge(struct dsm_det *d);

/* --- heap.c --- */
/* Current context for dsm_det_malloc and the slot the caller allocates
 * from (-1: the parent heap). Binding a slot in a space also fixes its
 * fresh zone (dsm__det_heap_fresh). */
void dsm__det_heap_bind(struct dsm_det *d, int slot, int space_id);
void dsm__det_heap_unbind(struct dsm_det *d);
/* Add to / remove from the list of open contexts (dsm_det_free and
 * dsm_det_owns find a block's context there). Not thread-safe. */
void dsm__det_register(struct dsm_det *d);
void dsm__det_unregister(struct dsm_det *d);
unsigned char *dsm__det_slot_base(const struct dsm_det *d, int slot);
/* The bound slot's fresh zone: from its first page no allocation ever
 * reached (when bound) to the slot's end; *top: the page-rounded end of
 * what is allocated now. NULL/empty when not bound to a slot. */
void dsm__det_heap_fresh(unsigned char **lo, unsigned char **hi, unsigned char **top);
/* The context dsm_det_malloc uses, or NULL. */
struct dsm_det *dsm__det_current(void);

/* --- space.c --- */
/* In a space: its sub-heap (size heap bytes) could not serve size bytes;
 * the parent names the limit when it reports the space. */
void dsm__det_note_nomem(struct dsm_det *d, int slot, size_t size, size_t heap);
__attribute__((format(printf, 2, 3)))
void dsm__det_errf(struct dsm_det *d, const char *fmt, ...);

#endif /* DSM_DET_INTERNAL_H */
