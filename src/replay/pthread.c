/*
 * pthread.c — the program's pthread calls under record/replay with
 * several threads per node (docs/replay.md, "Several threads per node").
 *
 * libdsm defines pthread_create, _join, _exit, the mutex lock calls, the
 * condition calls and the barrier calls; each forwards to the next
 * definition (libc, or a sanitizer's) unless the caller is an application
 * thread of a recording or replaying node that runs program code (holds
 * the run token, outside the runtime): a test of one thread-local pointer
 * otherwise. For those threads a wait never blocks in libc while holding
 * the token: it parks (sched.c) and is woken by the thread that releases
 * the object, which holds the token, so which thread gets a mutex, a
 * signal or a barrier's serial return is decided by the token order that
 * the log records. The runtime's own mutexes and conditions (taken
 * inside the runtime, or not through these calls) go straight to libc.
 */
/* This file defines the program's names (libc_names.h renames them in
 * the rest of libdsm). */
#undef pthread_create
#undef pthread_join
#undef pthread_exit
#undef pthread_mutex_lock
#undef pthread_mutex_trylock
#undef pthread_mutex_unlock
#undef pthread_cond_wait
#undef pthread_cond_timedwait
#undef pthread_cond_signal
#undef pthread_cond_broadcast
#undef pthread_barrier_init
#undef pthread_barrier_wait
#undef pthread_barrier_destroy
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "state.h"
#include "wrap.h"
#include "vm/vm.h"

#ifdef DSM_NO_PTHREAD_WRAP
/*
 * The libFuzzer build (DSM_BUILD_FUZZ): clang links the sanitizer runtime,
 * and with it its pthread interceptors, into the executable, where
 * libdsm's definitions would replace them and dlsym(RTLD_NEXT) would then
 * skip them (threads unknown to the sanitizer: LeakSanitizer reported the
 * objects their stacks held as leaks). Nothing records there: libdsm
 * defines no pthread names and calls libc's directly (CMakeLists.txt
 * leaves out libc_names.h).
 */
void dsm__rp_pthread_arm(struct rp_sched *s)
{
	(void)s;
}

void dsm__rp_started(struct dsm_node *n)
{
	(void)n;
}
#else
static struct rp_sched *_Atomic live;
__thread int dsm__rp_in_wrap; /* inside a wrapper: its own calls go to libc */
#define in_wrap dsm__rp_in_wrap

REAL(int, pthread_create, pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)
REAL(int, pthread_join, pthread_t, void **)
REAL(void, pthread_exit, void *)
REAL(int, pthread_mutex_lock, pthread_mutex_t *)
REAL(int, pthread_mutex_trylock, pthread_mutex_t *)
REAL(int, pthread_mutex_unlock, pthread_mutex_t *)
REAL(int, pthread_cond_wait, pthread_cond_t *, pthread_mutex_t *)
REAL(int, pthread_cond_timedwait, pthread_cond_t *, pthread_mutex_t *, const struct timespec *)
REAL(int, pthread_cond_signal, pthread_cond_t *)
REAL(int, pthread_cond_broadcast, pthread_cond_t *)
REAL(int, pthread_barrier_init, pthread_barrier_t *, const pthread_barrierattr_t *, unsigned)
REAL(int, pthread_barrier_wait, pthread_barrier_t *)
REAL(int, pthread_barrier_destroy, pthread_barrier_t *)

LIBC(int, pthread_create, (pthread_t *a, const pthread_attr_t *b, void *(*c)(void *), void *d),
     (a, b, c, d))
LIBC(int, pthread_join, (pthread_t a, void **b), (a, b))
LIBC(int, pthread_mutex_lock, (pthread_mutex_t *a), (a))
LIBC(int, pthread_mutex_trylock, (pthread_mutex_t *a), (a))
LIBC(int, pthread_mutex_unlock, (pthread_mutex_t *a), (a))
LIBC(int, pthread_cond_wait, (pthread_cond_t *a, pthread_mutex_t *b), (a, b))
LIBC(int, pthread_cond_timedwait,
     (pthread_cond_t *a, pthread_mutex_t *b, const struct timespec *c), (a, b, c))
LIBC(int, pthread_cond_signal, (pthread_cond_t *a), (a))
LIBC(int, pthread_cond_broadcast, (pthread_cond_t *a), (a))
LIBC(int, pthread_barrier_init,
     (pthread_barrier_t *a, const pthread_barrierattr_t *b, unsigned c), (a, b, c))
LIBC(int, pthread_barrier_wait, (pthread_barrier_t *a), (a))
LIBC(int, pthread_barrier_destroy, (pthread_barrier_t *a), (a))

void dsm__libc_pthread_exit(void *ret) __attribute__((noreturn));
void dsm__libc_pthread_exit(void *ret)
{
	get_pthread_exit()(ret);
	__builtin_unreachable();
}

/* Resolve every real function at load time, not in a fault handler
 * (dlsym is not async-signal-safe). */
__attribute__((constructor)) static void resolve_all(void)
{
	get_pthread_create();
	get_pthread_join();
	get_pthread_exit();
	get_pthread_mutex_lock();
	get_pthread_mutex_trylock();
	get_pthread_mutex_unlock();
	get_pthread_cond_wait();
	get_pthread_cond_timedwait();
	get_pthread_cond_signal();
	get_pthread_cond_broadcast();
	get_pthread_barrier_init();
	get_pthread_barrier_wait();
	get_pthread_barrier_destroy();
}

void dsm__rp_pthread_arm(struct rp_sched *s)
{
	atomic_store(&live, s);
}

void dsm__rp_started(struct dsm_node *n)
{
	if (n->rp_mode)
		dsm__rp_pthread_arm(&dsm__rp_st(n)->sched);
}

/* The calling thread when it runs program code on a node that records or
 * replays; else NULL (forward to libc). */
struct rp_thr *dsm__rp_app(void)
{
	struct rp_thr *t = dsm__rp_self();
	struct rp_sched *s;

	if (!t || in_wrap || t->depth || dsm__in_fault)
		return NULL;
	s = atomic_load(&live);
	return s == t->s ? t : NULL;
}
#define app dsm__rp_app

static void held_add(struct rp_thr *t, const void *m)
{
	for (int i = 0; i < RP_HELD; i++)
		if (!t->held[i]) {
			t->held[i] = m;
			return;
		}
	/* more held at once than tracked: a waiter on it blocks in libc */
}

static int held_del(struct rp_thr *t, const void *m)
{
	for (int i = 0; i < RP_HELD; i++)
		if (t->held[i] == m) {
			t->held[i] = NULL;
			return 1;
		}
	return 0;
}

/* Does another application thread of the node hold program mutex m? */
static int held_elsewhere(struct rp_thr *t, const void *m)
{
	struct rp_sched *s = t->s;
	int found = 0;

	get_pthread_mutex_lock()(&t->n->region->lock);
	for (int i = 0; i < s->nthr && !found; i++)
		if (s->thr[i] && s->thr[i] != t && s->thr[i]->state != RP_T_EXITED)
			for (int k = 0; k < RP_HELD && !found; k++)
				found = s->thr[i]->held[k] == m;
	get_pthread_mutex_unlock()(&t->n->region->lock);
	return found;
}

/* Lock a program mutex for running thread t (in_wrap set). */
static int lock_app(struct rp_thr *t, pthread_mutex_t *m)
{
	int r;

	for (;;) {
		r = get_pthread_mutex_trylock()(m);
		if (r != EBUSY)
			break;
		if (!held_elsewhere(t, m)) { /* the runtime's, or its own */
			r = get_pthread_mutex_lock()(m);
			break;
		}
		if (dsm__rp_sched_block(t->n, RP_P_MUTEX, m, 0))
			return EDEADLK; /* the job fails: the divergence is reported */
	}
	if (!r)
		held_add(t, m);
	return r;
}

static int unlock_app(struct rp_thr *t, pthread_mutex_t *m)
{
	int r = get_pthread_mutex_unlock()(m);

	if (!r && held_del(t, m))
		dsm__rp_sched_wake(t->n, RP_P_MUTEX, m, 1);
	return r;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	struct rp_thr *t = app();
	int r;

	if (!t)
		return get_pthread_mutex_lock()(m);
	in_wrap = 1;
	r = lock_app(t, m);
	in_wrap = 0;
	return r;
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
	struct rp_thr *t = app();
	int r = get_pthread_mutex_trylock()(m);

	if (t && !r)
		held_add(t, m);
	return r;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	struct rp_thr *t = app();
	int r;

	if (!t) {
		/* a program mutex taken while running, released inside the
		 * runtime: forget it */
		t = dsm__rp_self();
		if (t && atomic_load(&live) == t->s && !in_wrap)
			held_del(t, m);
		return get_pthread_mutex_unlock()(m);
	}
	in_wrap = 1;
	r = unlock_app(t, m);
	in_wrap = 0;
	return r;
}

/* A condition wait: release m, park on c until signalled (or, timed,
 * until the deadline: recording; when the log says: replaying), lock m. */
static int cond_wait(struct rp_thr *t, pthread_cond_t *c, pthread_mutex_t *m, uint64_t dl)
{
	int r, err, signaled;

	in_wrap = 1;
	if ((r = unlock_app(t, m))) {
		in_wrap = 0;
		return r;
	}
	err = dsm__rp_sched_block(t->n, RP_P_COND, c, dl);
	signaled = t->signaled; /* before lock_app, which may park again */
	r = lock_app(t, m);
	in_wrap = 0;
	if (err)
		return EDEADLK;
	return r ? r : dl && !signaled ? ETIMEDOUT : 0;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	struct rp_thr *t = app();

	return t ? cond_wait(t, c, m, 0) : get_pthread_cond_wait()(c, m);
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	struct rp_thr *t = app();
	uint64_t dl;

	if (!t)
		return get_pthread_cond_timedwait()(c, m, ts);
	dl = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
	return cond_wait(t, c, m, dl ? dl : 1);
}

/* Signal: the first waiter (in the token's order) becomes READY; libc's
 * waiters (threads outside the token) are signalled too. */
static int cond_wake(pthread_cond_t *c, int all)
{
	struct rp_thr *t = app();

	if (t) {
		in_wrap = 1;
		dsm__rp_sched_wake(t->n, RP_P_COND, c, all);
		in_wrap = 0;
	}
	return all ? get_pthread_cond_broadcast()(c) : get_pthread_cond_signal()(c);
}

int pthread_cond_signal(pthread_cond_t *c)
{
	return cond_wake(c, 0);
}

int pthread_cond_broadcast(pthread_cond_t *c)
{
	return cond_wake(c, 1);
}

/* The barriers the program initialised while its node records or
 * replays (region lock). */
static struct rp_bar *bar_find(struct rp_sched *s, const void *b)
{
	for (int i = 0; i < RP_MAXBAR; i++)
		if (s->bars[i].addr == b)
			return &s->bars[i];
	return NULL;
}

int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned count)
{
	struct rp_thr *t = app();
	int r = get_pthread_barrier_init()(b, a, count);
	struct rp_bar *e;

	if (!t || r)
		return r;
	in_wrap = 1;
	pthread_mutex_lock(&t->n->region->lock);
	if ((e = bar_find(t->s, b)) || (e = bar_find(t->s, NULL)))
		*e = (struct rp_bar){ .addr = b, .count = count };
	pthread_mutex_unlock(&t->n->region->lock);
	in_wrap = 0;
	return e ? 0 : EAGAIN;
}

int pthread_barrier_destroy(pthread_barrier_t *b)
{
	struct rp_thr *t = app();
	struct rp_bar *e;

	if (t) {
		in_wrap = 1;
		pthread_mutex_lock(&t->n->region->lock);
		if ((e = bar_find(t->s, b)))
			e->addr = NULL;
		pthread_mutex_unlock(&t->n->region->lock);
		in_wrap = 0;
	}
	return get_pthread_barrier_destroy()(b);
}

int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct rp_thr *t = app();
	struct rp_bar *e;
	int last = 0, r = 0;

	if (!t)
		return get_pthread_barrier_wait()(b);
	in_wrap = 1;
	pthread_mutex_lock(&t->n->region->lock);
	e = bar_find(t->s, b);
	if (e && ++e->arrived == e->count) {
		e->arrived = 0;
		last = 1;
	}
	pthread_mutex_unlock(&t->n->region->lock);
	if (!e) {
		in_wrap = 0;
		dsm__write_str("dsm: record/replay: a pthread barrier initialised before "
			       "dsm_init or by another thread; waiting in libc\n");
		return get_pthread_barrier_wait()(b);
	}
	if (last)
		dsm__rp_sched_wake(t->n, RP_P_BARRIER, b, 1);
	else if (dsm__rp_sched_block(t->n, RP_P_BARRIER, b, 0))
		r = EDEADLK;
	in_wrap = 0;
	return r ? r : last ? PTHREAD_BARRIER_SERIAL_THREAD : 0;
}

static void *trampoline(void *arg)
{
	struct rp_thr *t = arg;
	void *ret;

	in_wrap = 1;
	if (dsm__rp_thread_start(t)) {
		in_wrap = 0;
		return NULL; /* the job fails: the divergence is reported */
	}
	in_wrap = 0;
	ret = t->start(t->arg);
	in_wrap = 1;
	dsm__rp_thread_exit(t);
	return ret;
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*start)(void *),
		   void *arg)
{
	struct rp_thr *t = app(), *nt;
	pthread_t local;
	int r;

	if (!t)
		return get_pthread_create()(th, attr, start, arg);
	in_wrap = 1;
	if (!(nt = dsm__rp_thread_new(t->n))) {
		in_wrap = 0;
		return EAGAIN;
	}
	nt->start = start;
	nt->arg = arg;
	r = get_pthread_create()(&local, attr, trampoline, nt);
	pthread_mutex_lock(&t->n->region->lock);
	if (r) {
		nt->state = RP_T_EXITED;
		t->s->alive--;
	} else {
		nt->pt = local;
		nt->pt_set = 1;
	}
	pthread_mutex_unlock(&t->n->region->lock);
	in_wrap = 0;
	if (!r)
		*th = local; /* may fault: program memory, written by the holder */
	return r;
}

int pthread_join(pthread_t th, void **ret)
{
	struct rp_thr *t = app(), *target = NULL;
	struct rp_sched *s;
	int exited = 0;

	if (!t)
		return get_pthread_join()(th, ret);
	s = t->s;
	in_wrap = 1;
	for (;;) {
		pthread_mutex_lock(&t->n->region->lock);
		for (int i = 1; i < s->nthr && !target; i++)
			if (s->thr[i] && s->thr[i]->pt_set && pthread_equal(s->thr[i]->pt, th))
				target = s->thr[i];
		exited = !target || target->state == RP_T_EXITED;
		pthread_mutex_unlock(&t->n->region->lock);
		if (exited)
			break;
		if (dsm__rp_sched_block(t->n, RP_P_JOIN, target, 0)) {
			in_wrap = 0;
			return EDEADLK;
		}
	}
	in_wrap = 0;
	return get_pthread_join()(th, ret); /* it ended: returns at once */
}

void pthread_exit(void *ret)
{
	struct rp_thr *t = app();

	if (t && t->idx) {
		in_wrap = 1;
		dsm__rp_thread_exit(t);
	}
	get_pthread_exit()(ret);
	__builtin_unreachable();
}
#endif /* DSM_NO_PTHREAD_WRAP */
