/*
 * dt.h — deterministic execution of unmodified pthreads programs
 * (libdsm_dthreads, dthreads-style), private to src/det/pthreads.
 *
 * Every thread is a process. The executable's globals (its writable
 * PT_LOAD minus RELRO) and the heap (our allocator, dt_heap.c) live in
 * memfds. While the program has one thread they are mapped MAP_SHARED;
 * from the first pthread_create on, every thread maps them MAP_PRIVATE
 * (copy on write) read-only, records the pages it writes (SIGSEGV), and at
 * each synchronisation point:
 *   1. computes its diff (private page vs the file) while others still run;
 *   2. arrives at the fence; when every running thread has arrived, the
 *      serial phase starts: the arrived threads take turns in thread-id
 *      (creation) order;
 *   3. in its turn: applies its diff to the file (conflict check), drops
 *      its private pages, re-protects, flushes stdio, performs its
 *      synchronisation operation on the shared control block (may block);
 *   4. when the last turn ends, the new epoch (phase number, arrival
 *      count, turn) is published, THEN every thread not blocked is made
 *      DT_RUN: it runs at once, without the lock, and reads the epoch.
 * The runtime never writes the program's memory during a turn (a page
 * copied then misses the later turns' commits). DSM_DET_CHECK=1/2 checks
 * these invariants and the kept private copies (docs/det-pthreads.md).
 * Nothing is committed during a parallel phase, so every thread's view is
 * a function of the commit order only.
 *
 * Files: dt_core.c (control block, regions, init, fence, thread life),
 *        dt_track.c (write detection, diffs, commits), dt_map.c (the
 *        program's shared and file mappings), dt_heap.c (malloc family),
 *        and the pthreads surface (dt_surface.h): dt_thread.c (threads,
 *        keys, once), dt_lock.c (mutexes, spinlocks, rwlocks), dt_wait.c
 *        (condition variables, barriers, semaphores, timeouts), dt_io.c
 *        (fork, stdio, system calls writing into the program's memory).
 */
#ifndef DSM_DT_H
#define DSM_DT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vm/wp.h"

#define DT_MAXT 1024      /* threads over the program's life (ids) */
#define DT_SLOTS 256      /* heap slots = threads alive at once */
#define DT_NOBJ 16384     /* synchronisation objects alive at once */
#define DT_MAXKEYS 1024   /* pthread keys */
#define DT_PW 65536       /* page -> last committer, for conflict reports */
#define DT_NBASE 65536    /* pages written by several threads per epoch */
#define DT_MAXREG 16      /* shared regions (4 bits in a commit log entry) */
#define DT_LOG (1u << 22) /* commits logged per phase (beyond: drop all) */

/* Thread states (in the control block). */
enum dt_state {
	DT_FREE = 0,
	DT_NEW,        /* created in this serial phase: runs at its end */
	DT_RUN,        /* computing (parallel phase) */
	DT_ARRIVED,    /* at the fence, waiting for its turn */
	DT_DONE,       /* had its turn, runs at the phase's end */
	DT_BLOCKED,    /* waits on a synchronisation object */
	DT_WOKEN,      /* was blocked, runs at the phase's end */
	DT_EXITED,
};

/* What a blocked thread waits on. */
enum dt_wait {
	DT_W_NONE = 0, DT_W_MUTEX, DT_W_COND, DT_W_BARRIER, DT_W_JOIN,
	DT_W_RD, DT_W_WR, DT_W_SEM, DT_W_ONCE,
};

/* Synchronisation object kinds. */
enum dt_kind {
	DT_K_NONE = 0, DT_K_DEAD, DT_K_MUTEX, DT_K_COND, DT_K_BARRIER,
	DT_K_RWLOCK, DT_K_SEM, DT_K_ONCE, DT_K_SPIN,
};

struct dt_thr {
	int32_t state;       /* enum dt_state */
	int32_t slot;        /* heap slot */
	int32_t pid;
	int32_t detached;
	int32_t joiner;      /* id of the thread joining it, or -1 */
	int32_t reaped;
	uint64_t retval;
	int32_t wnext;       /* next in the wait queue, or -1 */
	int32_t wkind;       /* enum dt_wait */
	uint64_t wobj;       /* address of the object waited on */
	uint64_t wmutex;     /* cond wait: the mutex to take again */
	int32_t timed;       /* a timed wait: may end with ETIMEDOUT */
	int32_t result;      /* what the blocking call returns */
	int32_t creator;
	int32_t pad;
};

struct dt_obj {
	uint64_t addr;       /* the object's address (0: free slot) */
	int32_t kind;        /* enum dt_kind */
	int32_t type;        /* mutex type; barrier count */
	int32_t owner;       /* mutex/spin/once/rwlock writer: id or -1 */
	int32_t count;       /* recursion depth; barrier arrivals; readers */
	int64_t value;       /* semaphore value */
	int32_t head, tail;  /* wait queue (thread ids) */
};

struct dt_ctl {
	_Atomic uint32_t lock;
	_Atomic uint32_t seq;   /* futex word: bumped at every turn change */
	int32_t nthreads;       /* ids handed out */
	int32_t nrun, narrived;
	_Atomic int32_t turn;   /* id whose turn it is, or -1 */
	uint64_t phase;
	int32_t live;           /* threads not exited */
	int32_t main_pid;
	_Atomic int32_t exit_req, exit_status;
	_Atomic int32_t crash_tid, crash_status;
	_Atomic int32_t deadlock;
	_Atomic int32_t conflict_stop;
	uint64_t nconflicts;
	_Atomic uint64_t nlog;
	_Atomic uint64_t commit_phase; /* phase + 1 once its commit stage began */
	int32_t ncommitted;
	/* DSM_DET_STATS: fences (phases with a commit stage), deferred
	 * unlocks, take-backs, pages committed whole, pages merged */
	_Atomic uint64_t st_fences, st_defer, st_takeback, st_single, st_merged;
	_Atomic int32_t log_over;
	int32_t slot_used[DT_SLOTS];
	int32_t key_used[DT_MAXKEYS];
	uint64_t key_dtor[DT_MAXKEYS];
	struct { uint64_t page, phase; int32_t tid, pad; } pw[DT_PW];
	struct { uint64_t addr, phase; } base[DT_NBASE]; /* phase + 1 */
	struct dt_thr t[DT_MAXT];
	struct dt_obj obj[DT_NOBJ];
};

/* A shared range: the executable's globals or the heap. */
struct dt_region {
	const char *name;
	unsigned char *start;
	size_t len, npages;
	int fd;
	unsigned char *shared;   /* MAP_SHARED view (the file) */
	uint8_t *mark;           /* per page: 1 written this phase */
	uint32_t *list;          /* written pages, in fault order */
	_Atomic size_t nlist;
	int all;                 /* protection failed: every resident page */
	uint32_t *dirty;         /* pages changed this phase (arrival) */
	size_t ndirty;
	_Atomic uint64_t *stamp; /* shared, per page: phase << 8 | writers */
	uint8_t *priv;           /* per page: this thread holds a private copy */
	struct dsm_wp wp;        /* kernel write detection (uffd), when on */
	int lazy;                /* a file mapping this process still sees as
				  * the file (read-only while threads run) */
	_Atomic int *filled;     /* shared: the memfd holds the mapping's bytes */
	size_t fill_len;         /* bytes of the view the file backs (beyond:
				  * SIGBUS natively, zeros in the memfd) */
};

enum { DT_CONF_ERROR = 0, DT_CONF_REPORT, DT_CONF_LAST };

struct dt_proc {
	int init, multi, me, is_main, outside; /* outside: a fork()ed child */
	size_t page;
	struct dt_ctl *ctl;
	struct dt_region reg[DT_MAXREG]; /* [0] heap, [1] globals, then the
				  * program's shared anonymous mappings */
	int nreg;
	int policy;               /* DT_CONF_* */
	int delay_us;
	int pidfd_main;
	unsigned char *basepool;  /* shared: DT_NBASE base pages */
	uint64_t *log;            /* shared: DT_LOG commits of the phase */
	int in_exit;
	int wd_segv;              /* DSM_WRITE_DETECT=segv */
	int kernel;               /* writes recorded by the kernel (uffd) */
	uint32_t *wpbuf;          /* collect buffer */
	int stats;                /* DSM_DET_STATS: counts on stderr at the end */
	int defer;                /* DSM_DET_DEFER: deferred unlocks (dt_lock.c) */
	int takeback;             /* DSM_DET_TAKEBACK: take-backs per epoch */
	int check;                /* DSM_DET_CHECK: 1 epoch at arrival, 2 also
				   * every kept private copy at resume */
	uint64_t diff_phase;      /* the epoch dt__diff_compute() stamped */
	int test_end_delay_us;    /* DSM_DET_TEST_END_DELAY_US (tests only) */
};

extern struct dt_proc dt;

/* --- dt_core.c --- */
/* mmap without the interposer (the runtime's own mappings). */
void *dt__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void dt__init(void);
void dt__die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void dt__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dt__lock(void);
void dt__unlock(void);
/* Enter a synchronisation point: on return it is this thread's turn
 * (or the program is single-threaded); the ctl lock is held. */
void dt__sync_enter(void);
/* End the turn; block: wait until woken. Releases the lock. Returns the
 * thread's result field (0 when not blocked). */
int dt__sync_leave(int block);
/* Make thread id runnable at the phase's end with result r. */
void dt__wake(int id, int r);
/* First pthread_create: switch the regions to private views. */
void dt__go_multi(void);
/* A lazy file region (dt_core.c): make this process's view the memfd,
 * filling it first if nobody has. Async-signal-safe. */
void dt__lazy_fill(struct dt_region *r);
/* Every lazy region some thread filled: switch this process's view. */
void dt__lazy_sync(void);
/* Kernel write detection for one region of this process: 0 or -1. */
int dt__kernel_open_region(struct dt_region *r);
/* Region r: name, the application view [start, start + len) and the memfd
 * behind it; maps the runtime's shared view and the tracking arrays.
 * 0 or -ENOMEM. */
int dt__region_setup(struct dt_region *r, const char *name, void *start,
		     size_t len, int fd);
/* The heap region (dt_heap.c asks for it before the rest is set up). */
int dt__heap_region(unsigned char **base, size_t *len);
void dt__thread_start(int id);
_Noreturn void dt__thread_exit(void *ret);
/* Queues. */
void dt__q_push(int32_t *head, int32_t *tail, int id);
int dt__q_pop(int32_t *head, int32_t *tail);
int dt__q_remove(int32_t *head, int32_t *tail, int id);
struct dt_obj *dt__obj(const void *addr, int kind, int create);
void dt__obj_free(const void *addr);

static inline size_t dt__hash(uintptr_t a)
{
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ull;
	a ^= a >> 32;
	return (size_t)a & (DT_NOBJ - 1);
}

/* --- dt_track.c --- */
void dt__sig_default(int sig);
struct dt_region *dt__region_of(uintptr_t a);
void dt__install_handler(void);
/* Kernel write detection for every region of this process: 0 or -1. */
int dt__kernel_open(void);
void dt__kernel_close(void);
void dt__kernel_child(void);
/* Arrival: this epoch's changed pages, writer counts raised. */
void dt__diff_compute(void);
/* Commit stage: single-writer pages, in parallel. */
void dt__commit_single(void);
/* Turn: multi-writer pages merged; 1 if a conflict stops the program. */
int dt__diff_apply(void);
void dt__refresh(void);
void dt__drop_all(void);
/* Woken after more phases than the one it blocked in (b): drop the kept
 * copies of the pages committed since b (their writer stamps). */
void dt__drop_since(uint64_t b);
void dt__resume(void);
/* DSM_DET_CHECK=2: abort if a kept private copy differs from the file. */
void dt__check_kept(const char *where, uint64_t blocked_in);

/* --- dt_lock.c --- */
/* In the turn (control lock held), before the thread's operation: the
 * unlocks it deferred since its last synchronisation point (dt_lock.c). */
void dt__release_pending(void);

/* --- dt_io.c --- */
/* DSM_DET_NPROCS: the processor count the program sees, 0 when unset. */
int dt__nprocs(void);

/* --- dt_heap.c --- */
int dt__heap_init(void);
void dt__heap_slot_init(int slot);
extern int dt__heap_slot;   /* this process's slot */
extern unsigned char *dt__heap_base;
extern size_t dt__heap_len;
extern int dt__heap_fd;
/* The heap's pages [first, first + count) (region page numbers) that can
 * hold data: one range per slot ever used, up to its high-water mark
 * (rounded up to 64 KiB). Returns the number of ranges (at most max). */
int dt__heap_ranges(size_t *first, size_t *count, int max);
void dt__prefault(uintptr_t p, size_t len);

/* --- dt_thread.c --- */
void dt__keys_reset(void);
void dt__keys_run_dtors(void);
/* --- dt_lock.c --- */
/* Give mutex m to thread id or queue it; 1 when granted. */
int dt__mutex_grant(struct dt_obj *m, int id);
/* --- dt_wait.c --- */
/* Thread id's timed wait ends with ETIMEDOUT (no thread could run). */
void dt__timeout(int id);

#endif
