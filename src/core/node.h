/*
 * node.h — the one struct that holds a node's state, and the core services
 * every layer uses: configuration, logging, statistics, message dispatch,
 * failure reporting.
 */
#ifndef DSM_CORE_NODE_H
#define DSM_CORE_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsm.h"
#include "../net/net.h"

/* DSM_HOME, in env.c's order. */
enum dsm_home_policy {
	DSM_HOME_FIRST_TOUCH = 0,
	DSM_HOME_BLOCK,
	DSM_HOME_CYCLIC,
	DSM_HOME_NODE0,
};

enum dsm_log_level { DSM_LOG_ERROR = 0, DSM_LOG_WARN, DSM_LOG_INFO, DSM_LOG_DEBUG };

/* Every DSM_* variable, parsed by env.c (which documents the defaults). */
struct dsm_config {
	char protocol[16];       /* DSM_PROTOCOL: sc */
	char transport[16];      /* DSM_TRANSPORT: tcp, or mpi under mpirun/srun */
	char launcher[32];       /* variable that showed mpirun/srun, or "" */
	uint64_t heap_size;      /* DSM_HEAP_SIZE */
	uintptr_t base;          /* DSM_BASE */
	int node_id;             /* DSM_NODE_ID */
	int node_count;          /* DSM_NODE_COUNT */
	char coordinator[256];   /* DSM_COORDINATOR host:port */
	char bind[64];           /* DSM_BIND */
	uint8_t secret[DSM_SECRET_LEN]; /* DSM_SECRET (hex in the env) */
	int timeout_ms;          /* DSM_TIMEOUT */
	char stats_file[512];    /* DSM_STATS */
	int log_level;           /* DSM_LOG */
	int listen_fd;           /* DSM_LISTEN_FD (from dsmrun), -1 if none */
	int spin_us;             /* DSM_SPIN_US */
	int hold_us;             /* DSM_SC_HOLD_US */
	int sc_adapt;            /* DSM_SC_ADAPT: 0 off, 1 on, 2 auto */
	int sc_thrash;           /* DSM_SC_THRASH: transitions/s */
	/* deterministic spaces (src/det), read without dsm_init through
	 * dsm__env_load_one */
	int det_conflict;        /* DSM_DET_CONFLICT: enum dsm_det_policy */
	uint64_t det_heap;       /* DSM_DET_HEAP: arena bytes */
	int det_delay_us;        /* DSM_DET_DELAY_US: test hook */
	int mpi_poll_us;         /* DSM_MPI_POLL_US */
	uint64_t gc_threshold;   /* DSM_GC_THRESHOLD */
	int home_policy;         /* DSM_HOME: enum dsm_home_policy */
	int home_migrate;        /* DSM_HOME_MIGRATE: 1 = on */
	int peer_mem;            /* DSM_PEER_MEM: 1 = on */
	int fresh_run;           /* DSM_FRESH_RUN: pages, 0 = off */
	int lock_ahead;          /* DSM_LOCK_AHEAD: tokens in a run, 0 = off */
	int tapeworm;            /* DSM_TAPEWORM: DSM_TW_OFF/ON/AUTO */
	int tape_policy;         /* DSM_TAPE_POLICY: DSM_POL_* (src/tape/internal.h) */
	int write_detect;        /* DSM_WRITE_DETECT: enum dsm_wp_mode (vm/wp.h) */
	char record_dir[512];    /* DSM_RECORD: log directory, "" = off */
	char replay_dir[512];    /* DSM_REPLAY: log directory, "" = off */
	int ec_check;            /* DSM_EC_CHECK: enum dsm_ec_check */
};

/* DSM_EC_CHECK, in env.c's order. */
enum dsm_ec_check { DSM_EC_CHECK_OFF = 0, DSM_EC_CHECK_REPORT, DSM_EC_CHECK_ERROR };

/* Parse the environment into *c. Returns 0 or DSM_ECONFIG; *why is a
 * static/global message naming the variable, the value and what is
 * accepted (valid until the next call). */
int dsm__env_load(struct dsm_config *c, const char **why);
/* Remember why the configuration was refused, for dsm_strerror. */
void dsm__set_config_error(const char *why);
/* Print every DSM_* variable with its default and meaning to f. */
void dsm__env_usage(FILE *f);
/* Parse one variable (its default, then its value if set) into *c, for
 * code that runs without dsm_init (deterministic spaces). 0, -ENOENT (no
 * such variable) or DSM_ECONFIG with *why set. */
int dsm__env_load_one(struct dsm_config *c, const char *name, const char **why);
/* Parse "64K", "1G", "4096" etc. into *out. 0 or -EINVAL. */
int dsm__parse_size(const char *s, uint64_t *out);

/* Application threads waiting for a reply (lock grant, allocation, ...):
 * each registers a waiter with a token the reply carries back. */
struct dsm_waiter {
	uint64_t token;
	int done;
	int err;
	uint64_t val[3];
	void *data;      /* reply payload (malloc'd copy), owner: the waiter */
	size_t len;
	struct dsm_waiter *next;
};

/* A growable byte buffer for message payloads. */
struct dsm_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};
int dsm__buf_put(struct dsm_buf *b, const void *p, size_t len);
int dsm__buf_put_u32(struct dsm_buf *b, uint32_t v); /* little-endian */
void dsm__buf_free(struct dsm_buf *b);

struct dsm_waitq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dsm_waiter *head;
	uint64_t next_token;
};

struct dsm_region;
struct dsm_protocol_ops;
struct dsm_sync;

struct dsm_node {
	struct dsm_config cfg;
	int id;
	int count;
	size_t page_size;

	struct dsm_region *region;               /* src/vm */
	const struct dsm_protocol_ops *proto;    /* src/proto */
	void *proto_state;
	const struct dsm_transport_ops *tp;      /* src/net */
	void *tp_state;
	struct dsm_sync *sync;                   /* src/sync */
	void *alloc_state;                       /* core/alloc glue */
	void *coll_state;                        /* core/collective */
	void *tape_state;                        /* src/tape: logs, prefetch slots */
	void *tw_state;                          /* src/tape/tapeworm.c */
	void *pol_state;                         /* src/tape/policy.c */
	void *pc_state;                          /* src/tape/push.c */
	void *rp_state;                          /* src/replay */
	int rp_mode;                             /* src/replay: DSM_RP_OFF/... */
	void *ec_state;                          /* src/proto/ec*.c (proto_state
						  * is hlrc's, for unbound data) */

	struct dsm_waitq waitq;
	pthread_mutex_t serve_mu;  /* held by the service thread around the
				    * protocol's tick, and by an application
				    * thread that dispatches messages itself
				    * (the transport's assist): handlers and
				    * ticks never run at once */
	atomic_ulong assisted;     /* messages an application thread moved
				    * itself while it waited (the transport's
				    * assist; TCP: received and dispatched) */
	pthread_t service;
	int service_started;
	atomic_int stopping;       /* service thread should exit */
	atomic_int finalizing;     /* dsm_finalize in progress: EOF after BYE ok */
	atomic_int failed;         /* 0 or a DSM_E* code: the job is broken */
	int failed_node;           /* node named in fail_reason, or -1 */
	char fail_reason[256];     /* written once, before failed is set */
	_Atomic uint32_t fail_seq; /* futex word bumped on failure */
	atomic_int app_faulting;   /* application threads waiting for a
				    * page: the service thread may busy-poll
				    * on spin credit (init.c, wait.c) */
	atomic_int app_in_barrier; /* application threads waiting in a
				    * barrier: over MPI the service thread
				    * polls meanwhile (init.c) */
	int spin_adaptive;         /* DSM_SPIN_US=auto: spin on credit */
	atomic_int spin_score;     /* spin credit (wait.c) */
	atomic_uint spin_probe;    /* waits without credit, for probing */
	atomic_int busy_score;     /* assisting waits whose reply came while
				    * they polled without yielding (wait.c) */
	atomic_uint busy_probe;    /* waits without that credit, for probing */
	uint8_t peer_bye[DSM_MAX_NODES]; /* BYE seen from peer */
	int service_tid;           /* kernel tid of the service thread, 0 before */
	char reject_why[160];      /* service thread: why the handler running now
				    * rejects its message (dsm__reject), "" if unset */
	atomic_int test_nack_type; /* dsm__test_nack(): reject next request of it */
	atomic_uint test_malloc_pause_ms; /* dsm__test_malloc_pause() */
	struct dsm_peermem *peermem; /* same-machine peers' regions (vm/peermem.h) */

	struct dsm_stats stats;    /* updated with relaxed atomics */

	/* src/hetero: byte order per node (DSM_ARCH_LE/BE, set by the
	 * transport) and the peers whose order differs from ours: 0 in a
	 * homogeneous job, so receiving costs one test of this word */
	uint8_t byte_order[DSM_MAX_NODES];
	uint64_t hetero_swap;
	void *hetero_state;        /* src/hetero/hetero.c: types, page types */
	void *gc_state;            /* src/gc/gc.c: the collector (dsm_gc_init) */
	int gc_hooks;              /* src/gc/gc.c: page-out hooks running (__atomic) */
};

/* Record node's byte order (a transport, after its handshake). */
static inline void dsm__node_set_byte_order(struct dsm_node *n, int node,
					    unsigned order)
{
	n->byte_order[node] = (uint8_t)order;
	if (order && n->byte_order[n->id] && order != n->byte_order[n->id])
		n->hetero_swap |= 1ull << node;
}

/* The node, for the signal handler and the public API; NULL outside
 * dsm_init..dsm_finalize. */
extern struct dsm_node *dsm__node;

/* --- logging (not async-signal-safe; never from the fault path) --- */
void dsm__log(struct dsm_node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define DSM_ERR(n, ...)   dsm__log((n), DSM_LOG_ERROR, __VA_ARGS__)
#define DSM_WARN(n, ...)  dsm__log((n), DSM_LOG_WARN, __VA_ARGS__)
#define DSM_INFO(n, ...)  dsm__log((n), DSM_LOG_INFO, __VA_ARGS__)
#define DSM_DEBUG(n, ...) dsm__log((n), DSM_LOG_DEBUG, __VA_ARGS__)
/* Async-signal-safe: write a NUL-terminated string to stderr. */
void dsm__write_str(const char *s);
/* Async-signal-safe: format an unsigned number in base 10/16 into buf. */
char *dsm__utoa(uint64_t v, char *buf, int base);
/* Async-signal-safe: a stderr message built on the stack, then written
 * with one write() (dsm__line_write), so that another thread's message
 * cannot land inside it. Text past the buffer is cut. */
struct dsm_line {
	char text[640];
	size_t len;
};
void dsm__line_put(struct dsm_line *l, const char *s);
void dsm__line_num(struct dsm_line *l, uint64_t v, int base); /* no "0x" */
void dsm__line_write(const struct dsm_line *l);

/* --- time --- */
uint64_t dsm__now_ns(void); /* CLOCK_MONOTONIC, async-signal-safe */

/* --- statistics --- */
#define DSM_STAT_ADD(n, field, v) \
	__atomic_fetch_add(&(n)->stats.field, (uint64_t)(v), __ATOMIC_RELAXED)
void dsm__stats_count_sent(struct dsm_node *n, const struct dsm_msg *m);
void dsm__stats_count_recv(struct dsm_node *n, const struct dsm_msg *m);
/* Serialise stats to 64-bit big-endian words (for the STATS message) and
 * back; n_words = sizeof(struct dsm_stats)/8. */
void dsm__stats_pack(const struct dsm_stats *s, unsigned char *out);
void dsm__stats_unpack(const unsigned char *in, struct dsm_stats *s);
/* Write the job's JSON document from every node's stats. */
int dsm__stats_write_json(const char *path, const char *protocol,
			  const struct dsm_stats *per_node, int count);

/* --- messaging (core/dispatch.c) --- */
/* Send with statistics; dst may not be self. Thread- and signal-safe. */
int dsm__send(struct dsm_node *n, int dst, struct dsm_msg *m);
/* Called by the transport for every validated incoming message. */
void dsm__dispatch(struct dsm_node *n, const struct dsm_msg *m);
/* A transport lost the link to peer (EOF, reset, timeout). */
void dsm__peer_lost(struct dsm_node *n, int peer, const char *why);
/* Mark the job failed (first caller wins), wake every waiter. The text
 * says what happened and names the node ("node 1 rejected ...: reason",
 * "node 2 lost: ..."); dsm_strerror(err) returns it from then on. */
void dsm__fail(struct dsm_node *n, int err, int node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Remember the job's failure text for dsm_strerror (errors.c); NULL clears. */
void dsm__set_fail_detail(int err, const char *why);

/*
 * Requests and NACKs. A message type that expects an answer is a request;
 * when its handler returns an error, dispatch answers with NACK (arg0 =
 * type, arg1 = error, arg2 = the request's argument named below, payload =
 * the reason) instead of leaving the requester waiting. On a NACK:
 *   DSM_REQ_TOKEN: the waiter with that token completes with the error;
 *   DSM_REQ_PAGE:  the job fails: "node N rejected T for page P: reason";
 *   DSM_REQ_JOB:   the job fails: "node N rejected T (arg): reason".
 * A reply (DSM_REQ_REPLY) whose handler fails cannot be answered; a thread
 * of this node waits for it, so the job fails here: "T from node N (arg0)
 * cannot be used: reason".
 */
enum dsm_req_kind { DSM_REQ_NONE = 0, DSM_REQ_TOKEN, DSM_REQ_PAGE, DSM_REQ_JOB,
		    DSM_REQ_REPLY };
/* Declare type (< 48) a request whose m->arg[arg] names what waits (for a
 * protocol's own types; call from its init). 0 or -EINVAL. */
int dsm__dispatch_set_request(unsigned type, enum dsm_req_kind kind, unsigned arg);
/* From a message handler (service thread), before returning an error:
 * the reason the NACK carries (defaults to dsm_strerror of the error). */
void dsm__reject(struct dsm_node *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Send NACK(type, err, arg, why) to dst unasked (e.g. a reply that could
 * not be built or sent). 0 or the send error. */
int dsm__send_nack(struct dsm_node *n, int dst, unsigned type, int err,
		   uint64_t arg, const char *why);
/* Test-only fault injection (internal, not in dsm.h): this node rejects
 * the next request of the given type it receives with -EIO and the reason
 * "test fault injection". 0 disarms. 0, -EINVAL (not a request type) or
 * DSM_ENOTINIT. */
int dsm__test_nack(unsigned type);
/* Test-only (internal): this node's next dsm_malloc waits ms after it
 * releases the allocator's lock and before it returns, with its replay
 * boundary open (tests/scripts/prog_rp_nested.c). 0 or DSM_ENOTINIT. */
int dsm__test_malloc_pause(unsigned ms);

/* --- waiters (core/wait.c) --- */
void dsm__waitq_init(struct dsm_waitq *q);
void dsm__waitq_destroy(struct dsm_waitq *q);
/* Register w (assigns w->token) before sending the request. */
void dsm__waiter_add(struct dsm_node *n, struct dsm_waiter *w);
/* Block until completed or the job fails; removes w. timeout_ns 0 = none.
 * Returns w->err, the job's failure, or DSM_ETIMEDOUT. */
int dsm__waiter_wait(struct dsm_node *n, struct dsm_waiter *w, uint64_t timeout_ns);
/*
 * Deadlines. A request/reply wait (allocation, interval fetch) is bounded
 * by dsm__reply_deadline_ns (4 x DSM_TIMEOUT): the peer is alive (its
 * heartbeats arrive, else the job already failed) but did not answer, a
 * bug worth failing the job over, naming the peer and the request. Lock
 * and barrier waits legitimately last as long as other nodes compute;
 * they are bounded by liveness (heartbeats, DSM_TIMEOUT), NACKs and the
 * mismatched-collective check instead of a deadline of their own.
 */
uint64_t dsm__reply_deadline_ns(struct dsm_node *n);
/* dsm__waiter_wait with the reply deadline; on expiry the job fails with
 * "no answer from node <peer> to <what> within N ms". */
int dsm__waiter_wait_for(struct dsm_node *n, struct dsm_waiter *w, int peer,
			 const char *what);
/* Complete the waiter with token; -ENOENT if there is none. */
int dsm__waiter_complete(struct dsm_node *n, uint64_t token, int err,
			 const uint64_t val[3]);
/* Same, handing over a copy of a payload (freed by the waiter's owner). */
int dsm__waiter_complete_data(struct dsm_node *n, uint64_t token, int err,
			      const uint64_t val[3], const void *data, size_t len);
/* Wake every waiter (after a failure). */
void dsm__waiters_kick(struct dsm_node *n);
/* Before sleeping on a futex word for a reply: spin while *word == val,
 * at most DSM_SPIN_US (none when nodes outnumber cores). 1 if the word
 * changed or the job failed, 0 if the budget ran out. Async-signal-safe. */
int dsm__spin_while_eq(struct dsm_node *n, _Atomic uint32_t *word, uint32_t val);
/* 1 while spinning has caught replies lately: the service thread may
 * busy-poll after traffic (wait.c). */
int dsm__spin_credit(struct dsm_node *n);
/* Under DSM_SPIN_US=auto, does the service thread busy-poll after
 * traffic now? While a thread of its node waits for a page, on spin
 * credit; over a transport that must poll (MPI), also without credit
 * and while a thread waits in a barrier: neither polls for itself. */
int dsm__service_polls(struct dsm_node *n);
/* Does the service thread busy-poll now, idle_ns after its last
 * traffic (DSM_SPIN_US, dsm__service_polls; over MPI longer beside a
 * page or barrier wait)? */
int dsm__service_busy(struct dsm_node *n, uint64_t idle_ns);
/* Does the busy-polling service thread yield after an empty turn? */
int dsm__service_yields(struct dsm_node *n);

/* --- subsystems dispatched to (core/coll.c, sync/) --- */
int dsm__coll_init(struct dsm_node *n);
void dsm__coll_fini(struct dsm_node *n);
int dsm__coll_handle(struct dsm_node *n, const struct dsm_msg *m);
int dsm__coll_finalize(struct dsm_node *n);
int dsm__sync_init(struct dsm_node *n);
void dsm__sync_fini(struct dsm_node *n);
int dsm__sync_handle(struct dsm_node *n, const struct dsm_msg *m);
/* src/tape (rec.c): set up after the protocol, torn down before it;
 * DSM_MSG_TAPE_* go to the protocol's tape hooks. */
int dsm__tape_init(struct dsm_node *n);
void dsm__tape_fini(struct dsm_node *n);
int dsm__tape_handle(struct dsm_node *n, const struct dsm_msg *m);
/* Node `node` (maybe this one) entered dsm_finalize: a barrier that other
 * nodes wait in and it has not reached is a mismatched collective. */
int dsm__sync_peer_finalizing(struct dsm_node *n, int node);
/* A barrier without protocol hooks (runtime-internal; id 0..255). */
int dsm__barrier_internal(struct dsm_node *n, unsigned id);

/* Set once a thread has its alternate signal stack (vm/fault.c). */
extern __thread int dsm__thread_ready __attribute__((tls_model("initial-exec")));
/* Nonzero while this thread runs the SIGSEGV handler's fault path: what it
 * calls (dsm__send included) must be async-signal-safe (vm/fault.c). */
extern __thread int dsm__in_fault __attribute__((tls_model("initial-exec")));
int dsm__fault_thread_init(void);

/* Public entry check: the node, or NULL if not initialised. The first call
 * on a thread gives it an alternate signal stack (threads created after
 * dsm_init). Not for the signal handler. */
static inline struct dsm_node *dsm__get(void)
{
	if (__builtin_expect(!dsm__thread_ready, 0))
		dsm__fault_thread_init();
	return __atomic_load_n(&dsm__node, __ATOMIC_ACQUIRE);
}

/* --- futex helpers (async-signal-safe) --- */
/* Wait while *addr == val, at most timeout_ns (0 = forever).
 * Returns 0 on wake/mismatch, -ETIMEDOUT, -EINTR. */
int dsm__futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns);
void dsm__futex_wake_all(_Atomic uint32_t *addr);

#endif /* DSM_CORE_NODE_H */
