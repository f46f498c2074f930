/*
 * sched.c — the run token: several application threads per node under
 * record/replay (docs/replay.md, "Several threads per node").
 *
 * A node's application threads are serialised: only the thread holding
 * the node's run token runs program code, so the node behaves like one
 * thread whose boundaries interleave its threads', and the rest of
 * src/replay (one boundary counter per node) applies unchanged. The token
 * changes hands only inside a boundary:
 *   - a yield: a thread entering the runtime (a fault, a lock release,
 *     dsm_malloc ...) hands it to a READY thread when it has held it for
 *     a time slice (recording) or when the log has a SCHED record in this
 *     boundary (replaying);
 *   - a park: a thread about to wait (a dsm lock or barrier while other
 *     threads live, a pthread mutex, condition, barrier or join, its
 *     exit) gives it up; it becomes READY when the wait ends (woken by
 *     the token holder, or by the runtime) and takes the token again.
 * Every take of the token after a hand-off is a SCHED record (thread
 * index, threads numbered in creation order) at the node's boundary;
 * replay hands the token only to the thread the next record names.
 * A node with one thread never hands the token off: its log is as before.
 *
 * Every function here runs with the region lock held unless said.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"
#include "vm/vm.h"

#define SLICE_NS 200000ull /* recording: a holder keeps the token this long */

static __thread struct rp_thr *self;

struct rp_thr *dsm__rp_self(void)
{
	return self;
}

static struct rp_sched *S(struct dsm_node *n)
{
	return &dsm__rp_st(n)->sched;
}

static void changed(struct rp_sched *s)
{
	atomic_fetch_add(&s->seq, 1);
	dsm__futex_wake_all(&s->seq);
}

static uint64_t limit_ns(struct dsm_node *n)
{
	return 4ull * (uint64_t)n->cfg.timeout_ms * 1000000ull;
}

int dsm__rp_sched_init(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_thr *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*t = (struct rp_thr){ .idx = 0, .state = RP_T_RUN, .n = n, .s = s,
			      .pt = pthread_self(), .pt_set = 1 };
	s->thr[0] = t;
	s->nthr = s->alive = 1;
	s->holder = 0;
	s->reserved = -1;
	s->tok_ns = dsm__now_ns();
	atomic_store(&s->run_ns, s->tok_ns);
	dsm__rp_st(n)->running = 1;
	self = t;
	return 0;
}

void dsm__rp_sched_free(struct dsm_node *n)
{
	struct rp_sched *s = S(n);

	/* a thread still alive keeps its record (its TLS points to it) */
	for (int i = 0; i < s->nthr; i++)
		if (s->thr[i] && (i == 0 || s->thr[i]->state == RP_T_EXITED)) {
			if (self == s->thr[i])
				self = NULL;
			free(s->thr[i]);
			s->thr[i] = NULL;
		}
}

int dsm__rp_sched_parks(struct dsm_node *n)
{
	return S(n)->alive > 1;
}

int dsm__rp_sched_open(struct dsm_node *n)
{
	struct rp_thr *t = self;

	if (!t || t->s != S(n))
		return dsm__rp_diverge(n, "a thread that was not created with pthread_create "
				       "after dsm_init entered the runtime; record and "
				       "replay serialise the threads the program creates",
				       &dsm__rp_not_the_log);
	return t->depth++ == 0;
}

/* Recording: the token goes to t now. */
static void give(struct dsm_node *n, struct rp_thr *t)
{
	struct rp_sched *s = S(n);
	struct dsm_rp_rec rec = { .kind = DSM_RP_SCHED, .f = { (uint64_t)t->idx } };

	s->holder = t->idx;
	s->tok_ns = dsm__now_ns();
	s->switches++;
	if (dsm__rp_append(dsm__rp_st(n), &rec, NULL, 0))
		dsm__write_str("dsm: record: cannot write the log\n");
}

/* Recording: the next READY thread after `after` in creation order. */
static struct rp_thr *next_ready(struct rp_sched *s, int after)
{
	for (int k = 1; k <= s->nthr; k++) {
		struct rp_thr *t = s->thr[(after + k) % s->nthr];
		if (t && t->idx != after && t->state == RP_T_READY)
			return t;
	}
	return NULL;
}

/* Can t run once given the token (not parked on a program object that
 * only a running thread could release)? */
static int can_run(const struct rp_thr *t)
{
	return t->state == RP_T_READY || (t->state == RP_T_PARKED &&
					  (t->park == RP_P_RUNTIME || t->timed));
}

static int cannot_run(struct dsm_node *n, const char *what, int idx)
{
	char buf[200];
	struct rp_sched *s = S(n);
	const struct dsm_rp_rec *e = NULL;
	struct rp_state *st = dsm__rp_st(n);

	snprintf(buf, sizeof(buf), "%s (thread %d of %d created)", what, idx, s->nthr);
	if (n->rp_mode == DSM_RP_REPLAYING && st->scheds.i < st->scheds.n)
		e = &st->scheds.v[st->scheds.i];
	return dsm__rp_diverge(n, buf, e ? e : &dsm__rp_not_the_log);
}

/* The holder gave the token up (its state already says why). */
static int hand_off(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_state *st = dsm__rp_st(n);
	struct rp_thr *me = self, *t;

	s->holder = -1;
	s->last = me->idx;
	changed(s);
	if (n->rp_mode == DSM_RP_RECORDING) {
		if ((t = next_ready(s, me->idx))) {
			give(n, t);
			return 0;
		}
		for (int i = 0; i < s->nthr; i++)
			if (s->thr[i] && can_run(s->thr[i]))
				return 0; /* the first to be ready takes it */
		return cannot_run(n, "every application thread of the node waits on a "
				  "pthread object or has exited: the program deadlocked", me->idx);
	}
	const struct dsm_rp_rec *e = st->scheds.i < st->scheds.n ? &st->scheds.v[st->scheds.i]
								: NULL;
	if (!e || e->boundary != atomic_load(&st->boundary)) {
		char buf[120];
		snprintf(buf, sizeof(buf), "thread %d of this run gives up the run token here",
			 me->idx);
		return dsm__rp_diverge(n, buf, e);
	}
	s->reserved = (int)e->f[0];
	if (s->reserved >= s->nthr || !s->thr[s->reserved] || !can_run(s->thr[s->reserved]))
		return cannot_run(n, "the log gives the run token to a thread that cannot "
				  "run here", s->reserved);
	return 0;
}

int dsm__rp_sched_take(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_state *st = dsm__rp_st(n);
	struct dsm_region *r = n->region;
	struct rp_thr *t = self;
	uint64_t t0 = dsm__now_ns();

	/* park and obj stay until the take: a timed condition waiter that
	 * expired is still a waiter a signal may pick until it runs (as it is
	 * while replaying, where it waits for the log, not the clock) */
	t->state = RP_T_READY;
	for (;;) {
		if (s->holder == t->idx)
			break;
		if (s->holder < 0 && n->rp_mode == DSM_RP_RECORDING) {
			give(n, t);
			break;
		}
		if (s->holder < 0 && s->reserved == t->idx) {
			s->reserved = -1;
			st->scheds.i++;
			s->holder = t->idx;
			s->tok_ns = dsm__now_ns();
			s->switches++;
			break;
		}
		if (atomic_load(&st->diverged) || atomic_load(&n->failed))
			return DSM_EDIVERGED;
		if (n->rp_mode == DSM_RP_REPLAYING && dsm__now_ns() - t0 > limit_ns(n))
			return cannot_run(n, "a thread waited 4 x DSM_TIMEOUT for the run token",
					  t->idx);
		uint32_t seq = atomic_load(&s->seq);
		pthread_mutex_unlock(&r->lock);
		dsm__futex_wait(&s->seq, seq, 10000000ull);
		pthread_mutex_lock(&r->lock);
	}
	t->state = RP_T_IN;
	t->park = RP_P_NONE;
	t->timed = 0;
	changed(s);
	return 0;
}

int dsm__rp_sched_park(struct dsm_node *n, int kind, const void *obj)
{
	struct rp_thr *t = self;

	t->state = kind ? RP_T_PARKED : RP_T_EXITED;
	t->park = kind;
	t->obj = obj;
	return hand_off(n);
}

/* Should the thread that opened this boundary hand the token on first? */
static int yield_due(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_state *st = dsm__rp_st(n);

	if (n->rp_mode == DSM_RP_RECORDING)
		return s->alive > 1 && dsm__now_ns() - s->tok_ns >= SLICE_NS &&
		       next_ready(s, self->idx);
	return st->scheds.i < st->scheds.n &&
	       st->scheds.v[st->scheds.i].boundary == atomic_load(&st->boundary);
}

int dsm__rp_sched_enter(struct dsm_node *n, int park)
{
	struct rp_thr *t = self;
	int err;

	t->state = RP_T_IN;
	if (park || !yield_due(n))
		return 0;
	t->state = RP_T_READY;
	if ((err = hand_off(n)))
		return err;
	return dsm__rp_sched_take(n);
}

void dsm__rp_sched_close(struct dsm_node *n)
{
	struct rp_thr *t = self;

	if (!t || t->s != S(n) || --t->depth)
		return;
	t->state = RP_T_RUN;
	dsm__rp_st(n)->running = 1;
	atomic_store(&S(n)->run_ns, dsm__now_ns());
}

/* Realtime clock in ns (timed condition waits). */
static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A parked thread waits until a running thread (or its deadline) makes
 * it READY. */
static int wait_woken(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_state *st = dsm__rp_st(n);
	struct rp_thr *t = self;

	while (t->state == RP_T_PARKED) {
		if (atomic_load(&st->diverged) || atomic_load(&n->failed))
			return DSM_EDIVERGED;
		if (t->timed && (n->rp_mode == DSM_RP_RECORDING ? real_ns() >= t->deadline_ns
				 : s->holder < 0 && s->reserved == t->idx))
			break; /* timed out (replay: when the log says) */
		uint32_t seq = atomic_load(&s->seq);
		pthread_mutex_unlock(&n->region->lock);
		dsm__futex_wait(&s->seq, seq, 10000000ull);
		pthread_mutex_lock(&n->region->lock);
	}
	return 0;
}

int dsm__rp_sched_block(struct dsm_node *n, int kind, const void *obj, uint64_t deadline_ns)
{
	struct rp_sched *s = S(n);
	struct rp_thr *t = self;
	int err, open;

	if ((open = dsm__rp_sched_open(n)) < 0)
		return open;
	pthread_mutex_lock(&n->region->lock);
	if (open)
		dsm__rp_boundary_open(n);
	t->state = RP_T_IN;
	t->timed = deadline_ns != 0;
	t->deadline_ns = deadline_ns;
	t->signaled = 0;
	t->wseq = ++s->wseq;
	err = dsm__rp_sched_park(n, kind, obj);
	if (!err)
		err = wait_woken(n);
	if (!err)
		err = dsm__rp_sched_take(n);
	if (!err)
		err = dsm__rp_leave_checks(n);
	dsm__rp_sched_close(n);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

void dsm__rp_sched_wake(struct dsm_node *n, int kind, const void *obj, int all)
{
	struct rp_sched *s = S(n);
	struct rp_thr *first = NULL;

	pthread_mutex_lock(&n->region->lock);
	for (int i = 0; i < s->nthr; i++) {
		struct rp_thr *t = s->thr[i];
		if (!t || t->park != kind || t->obj != obj ||
		    !(t->state == RP_T_PARKED || (t->state == RP_T_READY && t->timed)))
			continue; /* (an expired timed wait is still a waiter) */
		if (all) {
			t->state = RP_T_READY;
			t->signaled = 1;
		} else if (!first || t->wseq < first->wseq) {
			first = t;
		}
	}
	if (first) {
		first->state = RP_T_READY;
		first->signaled = 1;
	}
	changed(s);
	pthread_mutex_unlock(&n->region->lock);
}

/* A thread the program created ends (it returned or called
 * pthread_exit): a last boundary, the token handed on. No lock. */
void dsm__rp_thread_exit(struct rp_thr *t)
{
	struct dsm_node *n = t->n;
	struct rp_sched *s = t->s;

	if (dsm__rp_sched_open(n) <= 0)
		return;
	pthread_mutex_lock(&n->region->lock);
	dsm__rp_boundary_open(n);
	s->alive--;
	pthread_mutex_unlock(&n->region->lock);
	dsm__rp_sched_wake(n, RP_P_JOIN, t, 1);
	pthread_mutex_lock(&n->region->lock);
	dsm__rp_sched_park(n, 0, NULL); /* RP_T_EXITED; a divergence is reported */
	pthread_mutex_unlock(&n->region->lock);
}

/* A new thread (no lock): wait for the token, then run program code.
 * Its depth is 1 from its creation. */
int dsm__rp_thread_start(struct rp_thr *t)
{
	struct dsm_node *n = t->n;
	int err;

	self = t;
	pthread_mutex_lock(&n->region->lock);
	err = dsm__rp_sched_take(n);
	if (!err)
		err = dsm__rp_leave_checks(n);
	dsm__rp_sched_close(n);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* Register a thread about to be created by the running thread (no lock). */
struct rp_thr *dsm__rp_thread_new(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct rp_thr *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_lock(&n->region->lock);
	if (s->nthr == RP_MAXT) {
		pthread_mutex_unlock(&n->region->lock);
		free(t);
		return NULL;
	}
	*t = (struct rp_thr){ .idx = s->nthr, .state = RP_T_READY, .depth = 1, .n = n, .s = s };
	s->thr[s->nthr++] = t;
	s->alive++;
	pthread_mutex_unlock(&n->region->lock);
	return t;
}

void dsm__rp_sched_tick(struct dsm_node *n)
{
	struct rp_sched *s = S(n);
	struct dsm_region *r = n->region;
	/* run_ns first, then the clock: the other order lets a run that
	 * starts in between look 2^64 ns long (a false report, seen in CI) */
	uint64_t since = atomic_load(&s->run_ns), now = dsm__now_ns();
	uint64_t ran = now > since ? now - since : 0;
	int waiting = -1, h;

	if (ran < limit_ns(n) || atomic_load(&dsm__rp_st(n)->diverged))
		return;
	pthread_mutex_lock(&r->lock);
	h = s->holder;
	if (h >= 0 && s->thr[h] && s->thr[h]->state == RP_T_RUN)
		for (int i = 0; i < s->nthr && waiting < 0; i++)
			if (s->thr[i] && s->thr[i]->state == RP_T_READY)
				waiting = i;
	pthread_mutex_unlock(&r->lock);
	if (atomic_load(&s->run_ns) != since)
		return; /* the holder entered the runtime meanwhile: not stuck */
	if (waiting >= 0) {
		char buf[300];
		snprintf(buf, sizeof(buf), "thread %d ran %llu ms without entering the runtime "
			 "while thread %d waited for the node's run token (a thread that spins "
			 "on memory another thread of its node writes never lets it run; "
			 "docs/replay.md, Limits)", h, (unsigned long long)(ran / 1000000), waiting);
		dsm__rp_diverge(n, buf, &dsm__rp_not_the_log);
	}
}
