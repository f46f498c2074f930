/*
 * pthread_sync.c — the program's other blocking synchronization under
 * record/replay with several threads per node (docs/replay.md, "Several
 * threads per node"): POSIX semaphores, rwlocks, spinlocks, timed mutex
 * locks and pthread_once.
 *
 * As in pthread.c, a call forwards to the next definition (libc, or a
 * sanitizer's) unless the caller is an application thread of a recording
 * or replaying node running program code. For those, a blocking call
 * never waits in libc while holding the run token (the thread that would
 * release the object could not run): it tries the non-blocking form and,
 * if the object is taken, parks on it (RP_P_SYNC) until the thread that
 * posts or unlocks it, which holds the token, wakes every thread parked
 * there; they try again in the token's order, which the log records. The
 * non-blocking calls (sem_trywait, the try locks, sem_post's count) need
 * no wrapper: under the token they happen in the logged order. A timed
 * wait ends at its CLOCK_REALTIME deadline while recording and where the
 * log says on replay (as condition waits do).
 *
 * Limits: the objects must be used only by the program's threads created
 * after dsm_init on that node (a thread outside the token that posts or
 * unlocks wakes nobody: the waiter ends in the timeout report); process-
 * shared semaphores between nodes are not supported; sem_clockwait and
 * pthread_*_clock* calls are not intercepted.
 */
#undef pthread_mutex_timedlock
#undef pthread_once
#undef pthread_rwlock_rdlock
#undef pthread_rwlock_wrlock
#undef pthread_rwlock_timedrdlock
#undef pthread_rwlock_timedwrlock
#undef pthread_rwlock_unlock
#undef pthread_spin_lock
#undef pthread_spin_unlock
#undef sem_wait
#undef sem_timedwait
#undef sem_post
#undef pthread_mutex_lock
#undef pthread_mutex_unlock
#undef pthread_mutex_trylock /* the wrapper: it records held mutexes */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "state.h"
#include "wrap.h"
#include "vm/vm.h"

#ifndef DSM_NO_PTHREAD_WRAP
REAL(int, pthread_mutex_timedlock, pthread_mutex_t *, const struct timespec *)
REAL(int, pthread_once, pthread_once_t *, void (*)(void))
REAL(int, pthread_rwlock_rdlock, pthread_rwlock_t *)
REAL(int, pthread_rwlock_wrlock, pthread_rwlock_t *)
REAL(int, pthread_rwlock_timedrdlock, pthread_rwlock_t *, const struct timespec *)
REAL(int, pthread_rwlock_timedwrlock, pthread_rwlock_t *, const struct timespec *)
REAL(int, pthread_rwlock_unlock, pthread_rwlock_t *)
REAL(int, pthread_spin_lock, pthread_spinlock_t *)
REAL(int, pthread_spin_unlock, pthread_spinlock_t *)
REAL(int, sem_wait, sem_t *)
REAL(int, sem_timedwait, sem_t *, const struct timespec *)
REAL(int, sem_post, sem_t *)
REAL(int, pthread_mutex_lock, pthread_mutex_t *)
REAL(int, pthread_mutex_unlock, pthread_mutex_t *)

LIBC(int, pthread_mutex_timedlock, (pthread_mutex_t *a, const struct timespec *b), (a, b))
LIBC(int, pthread_once, (pthread_once_t *a, void (*b)(void)), (a, b))
LIBC(int, pthread_rwlock_rdlock, (pthread_rwlock_t *a), (a))
LIBC(int, pthread_rwlock_wrlock, (pthread_rwlock_t *a), (a))
LIBC(int, pthread_rwlock_timedrdlock, (pthread_rwlock_t *a, const struct timespec *b), (a, b))
LIBC(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *a, const struct timespec *b), (a, b))
LIBC(int, pthread_rwlock_unlock, (pthread_rwlock_t *a), (a))
LIBC(int, pthread_spin_lock, (pthread_spinlock_t *a), (a))
LIBC(int, pthread_spin_unlock, (pthread_spinlock_t *a), (a))
LIBC(int, sem_wait, (sem_t *a), (a))
LIBC(int, sem_timedwait, (sem_t *a, const struct timespec *b), (a, b))
LIBC(int, sem_post, (sem_t *a), (a))

/* Resolve at load time, not in a fault handler (dlsym is not
 * async-signal-safe). */
__attribute__((constructor)) static void resolve_sync(void)
{
	get_pthread_mutex_timedlock();
	get_pthread_once();
	get_pthread_rwlock_rdlock();
	get_pthread_rwlock_wrlock();
	get_pthread_rwlock_timedrdlock();
	get_pthread_rwlock_timedwrlock();
	get_pthread_rwlock_unlock();
	get_pthread_spin_lock();
	get_pthread_spin_unlock();
	get_sem_wait();
	get_sem_timedwait();
	get_sem_post();
	get_pthread_mutex_lock();
	get_pthread_mutex_unlock();
}

static uint64_t deadline(const struct timespec *ts)
{
	uint64_t dl = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;

	return dl ? dl : 1;
}

/* An attempt: 0 taken, EBUSY/EAGAIN not now, another error as is. */
typedef int (*try_fn)(void *obj);

/* Take obj for running thread t: try, park until a release wakes the
 * waiters, try again; dl (CLOCK_REALTIME ns, 0: none) ends the wait with
 * ETIMEDOUT after one last try. */
static int take(struct rp_thr *t, void *obj, try_fn try, uint64_t dl)
{
	int r;

	dsm__rp_in_wrap = 1;
	for (;;) {
		r = try(obj);
		if (r != EBUSY && r != EAGAIN)
			break;
		if (dsm__rp_sched_block(t->n, RP_P_SYNC, obj, dl)) {
			r = EDEADLK; /* the job fails: the divergence is reported */
			break;
		}
		if (dl && !t->signaled) {
			r = try(obj);
			if (r == EBUSY || r == EAGAIN)
				r = ETIMEDOUT;
			break;
		}
	}
	dsm__rp_in_wrap = 0;
	return r;
}

/* obj was released by running thread t: its waiters try again. */
static void released(struct rp_thr *t, const void *obj)
{
	dsm__rp_in_wrap = 1;
	dsm__rp_sched_wake(t->n, RP_P_SYNC, obj, 1);
	dsm__rp_in_wrap = 0;
}

static int sem_try(void *obj)
{
	return sem_trywait(obj) ? errno : 0;
}

int sem_wait(sem_t *s)
{
	struct rp_thr *t = dsm__rp_app();
	int r;

	if (!t)
		return get_sem_wait()(s);
	if ((r = take(t, s, sem_try, 0))) {
		errno = r;
		return -1;
	}
	return 0;
}

int sem_timedwait(sem_t *s, const struct timespec *ts)
{
	struct rp_thr *t = dsm__rp_app();
	int r;

	if (!t)
		return get_sem_timedwait()(s, ts);
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
		r = sem_try(s);
		if (r == EAGAIN)
			r = EINVAL;
	} else {
		r = take(t, s, sem_try, deadline(ts));
	}
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

int sem_post(sem_t *s)
{
	struct rp_thr *t = dsm__rp_app();
	int r = get_sem_post()(s);

	if (t && !r)
		released(t, s);
	return r;
}

static int rd_try(void *obj)
{
	return pthread_rwlock_tryrdlock(obj);
}

static int wr_try(void *obj)
{
	return pthread_rwlock_trywrlock(obj);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	struct rp_thr *t = dsm__rp_app();

	return t ? take(t, l, rd_try, 0) : get_pthread_rwlock_rdlock()(l);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	struct rp_thr *t = dsm__rp_app();

	return t ? take(t, l, wr_try, 0) : get_pthread_rwlock_wrlock()(l);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	struct rp_thr *t = dsm__rp_app();

	return t ? take(t, l, rd_try, deadline(ts)) : get_pthread_rwlock_timedrdlock()(l, ts);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	struct rp_thr *t = dsm__rp_app();

	return t ? take(t, l, wr_try, deadline(ts)) : get_pthread_rwlock_timedwrlock()(l, ts);
}

int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	struct rp_thr *t = dsm__rp_app();
	int r = get_pthread_rwlock_unlock()(l);

	if (t && !r)
		released(t, l);
	return r;
}

static int spin_try(void *obj)
{
	return pthread_spin_trylock(obj);
}

int pthread_spin_lock(pthread_spinlock_t *l)
{
	struct rp_thr *t = dsm__rp_app();

	return t ? take(t, (void *)l, spin_try, 0) : get_pthread_spin_lock()(l);
}

int pthread_spin_unlock(pthread_spinlock_t *l)
{
	struct rp_thr *t = dsm__rp_app();
	int r = get_pthread_spin_unlock()(l);

	if (t && !r)
		released(t, (void *)l);
	return r;
}

/*
 * A timed mutex lock: the program's mutex is taken through
 * pthread_mutex_lock's wrapper logic when no deadline applies; with one,
 * it is tried and parked on like the objects above. The wrapper's own
 * bookkeeping of held mutexes (pthread.c) wakes RP_P_MUTEX waiters, so a
 * timed locker parks there.
 */
static int mutex_try(void *obj)
{
	return pthread_mutex_trylock(obj);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
	struct rp_thr *t = dsm__rp_app();
	uint64_t dl;
	int r;

	if (!t)
		return get_pthread_mutex_timedlock()(m, ts);
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return EINVAL;
	dl = deadline(ts);
	for (;;) {
		r = mutex_try(m); /* the wrapper: records the mutex as held */
		if (r != EBUSY)
			return r;
		dsm__rp_in_wrap = 1;
		r = dsm__rp_sched_block(t->n, RP_P_MUTEX, m, dl);
		dsm__rp_in_wrap = 0;
		if (r)
			return EDEADLK;
		if (!t->signaled) {
			r = mutex_try(m);
			return r == EBUSY ? ETIMEDOUT : r;
		}
	}
}

/* The slot of once object o (region lock): its entry, else a free one
 * (state 0), else RP_MAXONCE. */
static int once_slot(struct rp_sched *s, const void *o)
{
	int fr = RP_MAXONCE;

	for (int i = 0; i < RP_MAXONCE; i++) {
		if (s->once[i].addr == o)
			return i;
		if (fr == RP_MAXONCE && !s->once[i].addr)
			fr = i;
	}
	return fr;
}

/* pthread_once: the first caller runs init (and may enter the runtime,
 * handing the token on); a sibling calling meanwhile parks until it is
 * done instead of waiting in libc with the token. Objects beyond
 * RP_MAXONCE go to libc. An object is known by its address: memory of
 * a finished once object reused for a new one is not supported. */
int pthread_once(pthread_once_t *o, void (*init)(void))
{
	struct rp_thr *t = dsm__rp_app();
	struct rp_sched *s;
	int i, r, state;

	if (!t)
		return get_pthread_once()(o, init);
	s = t->s;
	dsm__rp_in_wrap = 1;
	for (;;) {
		get_pthread_mutex_lock()(&t->n->region->lock);
		i = once_slot(s, o);
		state = i < RP_MAXONCE ? s->once[i].state : 0;
		if (i < RP_MAXONCE && !state)
			s->once[i] = (typeof(s->once[0])){ .addr = o, .state = 1 };
		get_pthread_mutex_unlock()(&t->n->region->lock);
		if (state != 1)
			break;
		if (dsm__rp_sched_block(t->n, RP_P_SYNC, o, 0)) { /* init runs */
			dsm__rp_in_wrap = 0;
			return EDEADLK;
		}
	}
	dsm__rp_in_wrap = 0;
	if (state == 2)
		return 0;
	r = get_pthread_once()(o, init); /* init runs as program code */
	if (i < RP_MAXONCE) {
		dsm__rp_in_wrap = 1;
		get_pthread_mutex_lock()(&t->n->region->lock);
		s->once[i].state = 2;
		get_pthread_mutex_unlock()(&t->n->region->lock);
		dsm__rp_in_wrap = 0;
		released(t, o);
	}
	return r;
}
#endif /* DSM_NO_PTHREAD_WRAP */
