/*
 * state.h — the record/replay state of a node, shared by replay.c (the
 * log, boundaries, transitions) and sched.c / pthread.c (the run token
 * that serialises a node's application threads). Private to src/replay.
 */
#ifndef DSM_REPLAY_STATE_H
#define DSM_REPLAY_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "hooks.h"
#include "log.h"

#define RP_MAXT 256  /* application threads of a node over its life */
#define RP_HELD 32   /* program mutexes a thread holds at once */
#define RP_MAXBAR 64 /* program pthread barriers alive at once */
#define RP_MAXONCE 64 /* program pthread_once objects tracked */

struct rec_list {
	struct dsm_rp_rec *v;
	size_t n, cap, i; /* i: the next one replay expects */
};

/* A request or invalidation deferred by replay (service thread only). */
struct rp_req {
	size_t page;
	int type; /* request message type, or 0: an invalidation */
	int from; /* requester, or the writer */
	struct rp_req *next;
};

/* Thread states (docs/replay.md, "Several threads per node"). */
enum rp_tstate {
	RP_T_READY = 1, /* wants the token (new, woken, or yielded) */
	RP_T_RUN,       /* holds it, runs program code */
	RP_T_IN,        /* holds it, inside the runtime */
	RP_T_PARKED,    /* waits without it (park says on what) */
	RP_T_EXITED,
};

/* What a parked thread waits on. */
enum rp_park { RP_P_NONE = 0, RP_P_RUNTIME, RP_P_MUTEX, RP_P_COND, RP_P_BARRIER,
	       RP_P_JOIN, RP_P_SYNC /* semaphores, rwlocks, spinlocks, once */ };

struct rp_sched;

struct rp_thr {
	int idx;               /* creation order: 0 is the thread of dsm_init */
	int state;             /* enum rp_tstate; region lock */
	unsigned depth;        /* runtime visits open (own thread only) */
	int park;              /* enum rp_park; region lock */
	int park_pending;      /* a runtime wait will park (dsm__rp_sync_park) */
	const void *obj;       /* the object parked on */
	uint64_t wseq;         /* order of cond waits (signal wakes the first) */
	int signaled, timed;   /* cond waits */
	uint64_t deadline_ns;  /* timed cond waits, CLOCK_REALTIME */
	pthread_t pt;
	int pt_set;
	const void *held[RP_HELD]; /* program mutexes it holds */
	void *(*start)(void *);
	void *arg;
	struct dsm_node *n;
	struct rp_sched *s;
};

struct rp_bar {
	const void *addr;
	unsigned count, arrived;
};

/* The run token (region lock). */
struct rp_sched {
	struct rp_thr *thr[RP_MAXT];
	int nthr, alive;
	int holder;             /* thread holding the token, -1: free */
	int reserved;           /* replaying: who may take the free token */
	int last;               /* the last holder (round robin) */
	uint64_t tok_ns;        /* when the holder took it */
	_Atomic uint64_t run_ns; /* when the node last left the runtime */
	uint64_t wseq;
	_Atomic uint32_t seq;   /* futex word: the token changed hands */
	struct rp_bar bars[RP_MAXBAR];
	struct { const void *addr; int state; } once[RP_MAXONCE]; /* 1 runs, 2 done */
	uint64_t switches;
};

struct rp_state {
	const struct dsm_rp_proto *proto;
	_Atomic uint64_t boundary; /* written under the region lock */
	int running;               /* region lock: a thread runs program code */
	_Atomic uint32_t progress; /* futex word: a replayed event happened */
	atomic_int diverged;       /* 1: claimed, 2: why is written */
	char why[320];             /* the divergence, once */
	struct rp_sched sched;
	/* recording */
	int fd;
	pthread_mutex_t mu;        /* buf, len, prev */
	unsigned char *buf;        /* block header, then len bytes of records */
	size_t len;
	uint64_t prev;             /* boundary of the last record */
	uint64_t flushed_ns;
	uint64_t bytes, records;
	/* replaying */
	unsigned char *file;
	size_t file_len;
	struct rec_list takes, gds, seq, grants, scheds;
	struct rec_list frees;     /* free GIVEs (free.c), used ones kind 0 */
	unsigned char *done;       /* by order: the TAKE/GIVE/DROP happened */
	uint64_t loaded;           /* records loaded so far (their order) */
	struct rp_req *head;
};

static inline struct rp_state *dsm__rp_st(struct dsm_node *n)
{
	return n->rp_state;
}

/* replay.c */
extern const struct dsm_rp_rec dsm__rp_not_the_log; /* divergence not about the log */
int dsm__rp_diverge(struct dsm_node *n, const char *what, const struct dsm_rp_rec *expect);
int dsm__rp_append(struct rp_state *st, struct dsm_rp_rec *r, const void *data, size_t dlen);
/* Replaying: wait until the current boundary's GIVE/DROP happened, then
 * check no TAKE of it is left (region lock held). */
int dsm__rp_leave_checks(struct dsm_node *n);

/* free.c: free GIVEs (read copies of read-only pages). Region lock. */
/* After loading: each TAKE/GIVE/DROP's previous record of its page. */
int dsm__rp_free_index(struct rp_state *st);
/* Has record r's page's previous record on this node happened? */
int dsm__rp_prev_done(const struct rp_state *st, const struct dsm_rp_rec *r);
/* Is a read request for p from `from` the next free GIVE of p, due now? */
int dsm__rp_free_due(struct dsm_node *n, size_t p, int from);
/* A free GIVE with fields f happened: 1 if it was the one due (now used). */
int dsm__rp_free_note(struct rp_state *st, const uint64_t f[4]);

/* sched.c: the run token. All with the region lock held unless said. */
/* The thread of dsm_init is thread 0 and holds the token. */
int dsm__rp_sched_init(struct dsm_node *n);
void dsm__rp_sched_free(struct dsm_node *n);
/* This thread's record, or NULL. */
struct rp_thr *dsm__rp_self(void);
/* This thread enters the runtime (no lock): 1 when it opens a boundary
 * (then the caller locks and calls dsm__rp_sched_enter), 0 when nested,
 * or DSM_EDIVERGED for a thread not created through pthread_create. */
int dsm__rp_sched_open(struct dsm_node *n);
/* The boundary opened: may hand the token to another thread (yield) and
 * wait to get it back. park: the caller will park (no yield here). */
int dsm__rp_sched_enter(struct dsm_node *n, int park);
/* The caller gives up the token to wait for kind/obj. */
int dsm__rp_sched_park(struct dsm_node *n, int kind, const void *obj);
/* A parked thread's wait ended: wait for the token (as the log says). */
int dsm__rp_sched_take(struct dsm_node *n);
/* Close the runtime visit (the caller holds the token). */
void dsm__rp_sched_close(struct dsm_node *n);
/* More than one live thread: runtime waits park. */
int dsm__rp_sched_parks(struct dsm_node *n);
/* The running thread waits (no lock) on a program object (kind, obj;
 * deadline_ns: CLOCK_REALTIME of a timed wait, or 0): a boundary in which
 * it parks, waits to be woken (dsm__rp_sched_wake), takes the token
 * back. 0 or DSM_EDIVERGED. */
int dsm__rp_sched_block(struct dsm_node *n, int kind, const void *obj, uint64_t deadline_ns);
/* Wake the threads parked on kind/obj (all, or the first to wait). No lock. */
void dsm__rp_sched_wake(struct dsm_node *n, int kind, const void *obj, int all);
/* Threads the program creates (no lock): registered by the running
 * thread before pthread_create, started, ended. */
struct rp_thr *dsm__rp_thread_new(struct dsm_node *n);
int dsm__rp_thread_start(struct rp_thr *t);
void dsm__rp_thread_exit(struct rp_thr *t);
/* pthread.c: the program's pthread calls go through the token from
 * dsm__rp_started to dsm__rp_free. */
void dsm__rp_pthread_arm(struct rp_sched *s);
/* The calling thread when it runs program code on a recording or
 * replaying node, else NULL; set while a wrapper runs (its own calls go
 * to libc). pthread.c. */
struct rp_thr *dsm__rp_app(void);
extern __thread int dsm__rp_in_wrap;
/* Service thread, no lock: a token holder that runs too long. */
void dsm__rp_sched_tick(struct dsm_node *n);

#endif /* DSM_REPLAY_STATE_H */
