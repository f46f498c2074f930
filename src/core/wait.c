/*
 * wait.c — application threads waiting for replies from the service
 * thread. A waiter lives on the waiting thread's stack; its token travels
 * in the request and comes back in the reply.
 *
 * A waiting thread first spins for up to DSM_SPIN_US (0 when nodes
 * outnumber cores) before it sleeps: a reply usually arrives within a
 * round trip, and catching the service thread's store while running saves
 * waking a sleeping thread (25-50 us on a VM, more than the round trip).
 * It stops spinning early when the CPU turns out to be contended, and
 * spins only on credit (spin_ns): while spinning keeps catching replies.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "le.h"
#include "node.h"

#define SLICE_NS 100000000ull /* re-check for job failure every 100 ms */
#define YIELD_SHARE 4          /* a yield longer than budget/4: CPU contended */
#define ASSIST_BUSY_NS 20000ull /* assisting waiter: no yield this long */

#define SCORE_MAX 8   /* spin credit: spins that caught their reply */
#define PROBE_EVERY 32 /* with no credit, every 32nd wait spins anyway */
#define POLL_YIELD_EVERY 16 /* must_poll waiter: idle turns per yield */
#define MUST_POLL_WAIT_NS 1000000ull /* service thread beside a wait (MPI) */

/* DSM_SPIN_US in ns (0: no spinning). */
static uint64_t budget_ns(struct dsm_node *n)
{
	return n->cfg.spin_us > 0 ? (uint64_t)n->cfg.spin_us * 1000 : 0;
}

/*
 * The calling application thread's spin budget in ns (0: sleep at once).
 * Spinning pays when the reply comes within the budget: the peer's
 * service thread had a core. When the peer computes on every core the
 * spin only takes a core from the peer's service thread and the reply
 * comes later (lu, sor, is at real sizes: 2-5x longer fetches). So a
 * node spins on credit: a spin that caught its reply earns one, one that
 * gave up halves it; with none left, every PROBE_EVERY-th wait spins to
 * find out whether spinning pays again. The service thread's busy-poll
 * follows the same credit (dsm__spin_credit).
 */
static uint64_t spin_ns(struct dsm_node *n)
{
	if (n->cfg.spin_us <= 0)
		return 0;
	if (n->spin_adaptive && atomic_load_explicit(&n->spin_score, memory_order_relaxed) <= 0 &&
	    atomic_fetch_add_explicit(&n->spin_probe, 1, memory_order_relaxed) % PROBE_EVERY)
		return 0;
	return budget_ns(n);
}

/* Book a spin's outcome (see spin_ns). */
static void spin_outcome(struct dsm_node *n, int caught)
{
	int s = atomic_load_explicit(&n->spin_score, memory_order_relaxed);

	atomic_store_explicit(&n->spin_score, caught ? (s < SCORE_MAX ? s + 1 : s) : s / 2,
			      memory_order_relaxed);
}

int dsm__spin_credit(struct dsm_node *n)
{
	return atomic_load_explicit(&n->spin_score, memory_order_relaxed) > 0;
}

int dsm__service_polls(struct dsm_node *n)
{
	int faulting = atomic_load(&n->app_faulting) > 0;

	if (n->tp->must_poll)
		return faulting || atomic_load(&n->app_in_barrier) > 0;
	return faulting && dsm__spin_credit(n);
}

/*
 * Does the service thread busy-poll now, idle_ns after its last traffic?
 * For DSM_SPIN_US after traffic; under DSM_SPIN_US=auto only while
 * dsm__service_polls says so. A poll beside a computing application
 * thread takes the core the peers' service threads need
 * (docs/performance.md, "Spinning on credit": lu 2.15 s vs 2.44, sor
 * 1.08 vs 1.24); so does one beside a thread waiting for a lock or in a
 * barrier, whose wait lasts as long as another node computes ("Service
 * threads beside lock and barrier waits": qs 3.17 s vs 2.62). A transport
 * without a descriptor to sleep on (MPI) notices a reply only by polling,
 * and neither a faulting thread nor one in a barrier polls for itself:
 * its service thread polls while one waits (bench_mpi: a lock round trip
 * to a node in a barrier 57 us against 2.4), for MUST_POLL_WAIT_NS after
 * traffic: page requests to a home in a barrier come a fetch apart
 * (85 us), and a 50 us window left each to wait for a backed-off poll
 * (bench_mpi's remote fault 190-240 us median against 85-89). Polling
 * for the whole of such a wait instead made qs and lu slower in 3 of 11
 * runs (qs 6.8-7.0 s against 5.6; the cause was not isolated).
 */
int dsm__service_busy(struct dsm_node *n, uint64_t idle_ns)
{
	uint64_t spin = budget_ns(n);

	if (!spin)
		return 0;
	if (idle_ns < spin && (!n->spin_adaptive || dsm__service_polls(n)))
		return 1;
	return n->tp->must_poll && idle_ns < MUST_POLL_WAIT_NS && dsm__service_polls(n);
}

/*
 * Does the busy-polling service thread yield after a turn that received
 * nothing? So that runnable application threads go first; but over MPI,
 * where it polls beside a page or barrier wait, only while a faulting
 * thread of its node spins beside it: a barrier waiter sleeps, and a
 * yield on this VM costs the next message a system call (bench_mpi's
 * lock round trip to a node in a barrier 5.1 us with the yield, 2.5
 * without; raw MPI 1.06).
 */
int dsm__service_yields(struct dsm_node *n)
{
	return !n->tp->must_poll || atomic_load(&n->app_faulting) > 0;
}

/*
 * One turn of a spin that started at t0 and may last budget ns: yield the
 * CPU. Returns 0 when the spin should stop: the budget is spent, or the
 * yield itself took long, which means other threads wanted this CPU (a
 * loaded machine) and a sleeping waiter, woken with the scheduler's boost
 * for sleepers, is served sooner than one that keeps competing. The clock
 * is read on every turn: one yield may last milliseconds.
 */
static int spin_turn(uint64_t t0, uint64_t budget)
{
	uint64_t before = dsm__now_ns(), after;

	sched_yield();
	after = dsm__now_ns();
	return after - t0 <= budget && after - before <= budget / YIELD_SHARE;
}

/*
 * Spin while *word == val, for at most the node's spin budget. Each turn
 * yields the CPU: on a machine with a core per node, the service threads
 * that carry the reply are runnable too, and a thread spinning without
 * yielding delays them (lock hand-off 74-100 us instead of 14-20). Returns
 * 1 if the word changed (or the job failed), 0 when the spin gave up (the
 * caller sleeps then). Async-signal-safe: loads, sched_yield and
 * clock_gettime.
 */
int dsm__spin_while_eq(struct dsm_node *n, _Atomic uint32_t *word, uint32_t val)
{
	uint64_t budget = spin_ns(n), t0;

	if (!budget)
		return 0;
	t0 = dsm__now_ns();
	for (;;) {
		if (atomic_load_explicit(word, memory_order_acquire) != val ||
		    atomic_load_explicit(&n->failed, memory_order_relaxed))
			return spin_outcome(n, 1), 1;
		if (!spin_turn(t0, budget))
			return spin_outcome(n, 0), 0;
	}
}

/*
 * May this assisting wait poll without yielding at first? On credit, as
 * spinning itself: a wait whose reply came in that phase earns one, one
 * whose reply did not halves it; with none left, every PROBE_EVERY-th
 * wait tries again. Polling without yielding pays when the peer's threads
 * run on another CPU; when the scheduler has put the two nodes on one CPU
 * (a loopback wake-up pulls the woken thread to the waker's CPU), it only
 * keeps the peer from sending the reply (lock hand-off 37 us against 14).
 */
static int busy_credit(struct dsm_node *n)
{
	if (atomic_load_explicit(&n->busy_score, memory_order_relaxed) > 0)
		return 1;
	return atomic_fetch_add_explicit(&n->busy_probe, 1, memory_order_relaxed) %
		       PROBE_EVERY == 0;
}

static void busy_outcome(struct dsm_node *n, int caught)
{
	int s = atomic_load_explicit(&n->busy_score, memory_order_relaxed);

	atomic_store_explicit(&n->busy_score, caught ? (s < SCORE_MAX ? s + 1 : s) : s / 2,
			      memory_order_relaxed);
}

/*
 * A transport with no descriptor to sleep on (MPI): poll until w is
 * completed or limit_ns (0: none) passes, as a blocking MPI call does. A
 * thread that slept would be served by the service thread, which polls
 * with pauses while nobody waits (bench_mpi: 700 us a round trip against
 * 2.4 when the waiter stopped polling after DSM_SPIN_US). Every
 * POLL_YIELD_EVERY-th turn that moved nothing yields: under mpirun's
 * binding the service thread shares this core, and it may hold the
 * transport, preempted, while we poll (a yield on every such turn: round
 * trip 2.55 us against 2.0).
 */
static int poll_for_waiter(struct dsm_node *n, struct dsm_waiter *w,
			   int (*assist)(struct dsm_node *), uint64_t limit_ns)
{
	uint64_t t0 = dsm__now_ns();
	unsigned idle = 0;

	for (;;) {
		if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) ||
		    atomic_load_explicit(&n->failed, memory_order_relaxed))
			return 1;
		if (assist(n))
			continue;
		if (limit_ns && dsm__now_ns() - t0 > limit_ns)
			return 0;
		if (++idle % POLL_YIELD_EVERY == 0)
			sched_yield();
	}
}

/*
 * Spin (as above) until w is completed. A transport that can makes
 * progress on this thread meanwhile (assist), so the reply is received
 * right here, without a hand-off from the service thread. Over MPI the
 * thread polls until the reply comes (poll_for_waiter). Over TCP it
 * polls without yielding for the first ASSIST_BUSY_NS (on credit, see
 * busy_credit), the time a responsive peer takes to answer: a yield then
 * would mostly hand the CPU to this node's service thread, woken by the
 * very reply the waiter is about to read (lock hand-off 13-16 us against
 * 15-57 with a yield per turn, docs/performance.md). After that the peer
 * is busy, and the thread yields on every turn so the peer's threads can
 * have the CPU. 1 if w was completed, 0 otherwise.
 */
static int spin_for_waiter(struct dsm_node *n, struct dsm_waiter *w, uint64_t limit_ns)
{
	/* not under record/replay: its run token orders the threads */
	int (*assist)(struct dsm_node *) = n->rp_mode ? NULL : n->tp->assist;
	uint64_t budget = budget_ns(n), t0, busy_ns = 0, spun = 0;

	if (!budget) /* replies: no spin credit needed */
		return 0;
	if (assist && n->tp->must_poll)
		return poll_for_waiter(n, w, assist, limit_ns);
	if (assist && busy_credit(n))
		busy_ns = ASSIST_BUSY_NS;
	t0 = dsm__now_ns();
	for (;;) {
		if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) ||
		    atomic_load_explicit(&n->failed, memory_order_relaxed)) {
			if (busy_ns && spun < busy_ns)
				busy_outcome(n, 1);
			return 1;
		}
		if (assist)
			assist(n);
		uint64_t was = spun;
		spun = dsm__now_ns() - t0;
		if (spun < busy_ns) {
			if (spun > budget)
				return 0;
			continue;
		}
		if (was < busy_ns) /* busy phase over */
			busy_outcome(n, 0);
		if (!spin_turn(t0, budget))
			return 0;
	}
}

void dsm__waitq_init(struct dsm_waitq *q)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	q->head = NULL;
	q->next_token = 1;
}

void dsm__waitq_destroy(struct dsm_waitq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
}

void dsm__waiter_add(struct dsm_node *n, struct dsm_waiter *w)
{
	struct dsm_waitq *q = &n->waitq;

	pthread_mutex_lock(&q->mu);
	w->token = q->next_token++;
	__atomic_store_n(&w->done, 0, __ATOMIC_RELAXED);
	w->err = 0;
	w->data = NULL;
	w->len = 0;
	w->next = q->head;
	q->head = w;
	pthread_mutex_unlock(&q->mu);
}

/* Unlink w; caller holds q->mu. */
static void unlink_waiter(struct dsm_waitq *q, struct dsm_waiter *w)
{
	for (struct dsm_waiter **pp = &q->head; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* Absolute CLOCK_MONOTONIC time slice_ns from now. */
static struct timespec deadline_in(uint64_t ns)
{
	uint64_t t = dsm__now_ns() + ns;
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };
	return ts;
}

int dsm__waiter_wait(struct dsm_node *n, struct dsm_waiter *w, uint64_t timeout_ns)
{
	struct dsm_waitq *q = &n->waitq;
	uint64_t start = dsm__now_ns();
	int err = 0;

	spin_for_waiter(n, w, timeout_ns);
	pthread_mutex_lock(&q->mu);
	while (!w->done) {
		struct timespec ts = deadline_in(SLICE_NS);
		if ((err = atomic_load(&n->failed)))
			break;
		if (timeout_ns && dsm__now_ns() - start > timeout_ns) {
			err = DSM_ETIMEDOUT;
			break;
		}
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
	}
	if (w->done)
		err = w->err;
	unlink_waiter(q, w);
	pthread_mutex_unlock(&q->mu);
	return err;
}

uint64_t dsm__reply_deadline_ns(struct dsm_node *n)
{
	uint64_t ms = n->cfg.timeout_ms > 0 ? (uint64_t)n->cfg.timeout_ms : 10000;

	return 4 * ms * 1000000ull;
}

int dsm__waiter_wait_for(struct dsm_node *n, struct dsm_waiter *w, int peer,
			 const char *what)
{
	uint64_t tmo = dsm__reply_deadline_ns(n);
	int err = dsm__waiter_wait(n, w, tmo);

	if (err == DSM_ETIMEDOUT) {
		dsm__fail(n, DSM_ETIMEDOUT, peer, "no answer from node %d to %s within "
			  "%llu ms although its link is alive", peer, what,
			  (unsigned long long)(tmo / 1000000));
		err = atomic_load(&n->failed);
	}
	return err;
}

int dsm__waiter_complete(struct dsm_node *n, uint64_t token, int err,
			 const uint64_t val[3])
{
	return dsm__waiter_complete_data(n, token, err, val, NULL, 0);
}

int dsm__waiter_complete_data(struct dsm_node *n, uint64_t token, int err,
			      const uint64_t val[3], const void *data, size_t len)
{
	struct dsm_waitq *q = &n->waitq;
	struct dsm_waiter *w;
	void *copy = NULL;

	if (len && !(copy = malloc(len)))
		err = -ENOMEM, len = 0;
	else if (len)
		memcpy(copy, data, len);

	pthread_mutex_lock(&q->mu);
	for (w = q->head; w; w = w->next)
		if (w->token == token && !w->done)
			break;
	if (w) {
		w->err = err;
		w->data = copy;
		w->len = len;
		copy = NULL;
		for (int i = 0; i < 3 && val; i++)
			w->val[i] = val[i];
		/* a spinning waiter reads the fields above once it sees done */
		__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	free(copy);
	return w ? 0 : -ENOENT;
}

void dsm__waiters_kick(struct dsm_node *n)
{
	pthread_mutex_lock(&n->waitq.mu);
	pthread_cond_broadcast(&n->waitq.cv);
	pthread_mutex_unlock(&n->waitq.mu);
}

/* Append len bytes to a growable buffer. 0 or -ENOMEM. */
int dsm__buf_put(struct dsm_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *d;
		while (cap < b->len + len)
			cap *= 2;
		if (!(d = realloc(b->data, cap)))
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

int dsm__buf_put_u32(struct dsm_buf *b, uint32_t v)
{
	unsigned char le[4];

	dsm__put_le32(le, v);
	return dsm__buf_put(b, le, 4);
}

void dsm__buf_free(struct dsm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

