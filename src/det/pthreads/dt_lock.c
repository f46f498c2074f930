/*
 * dt_lock.c — mutexes (every type), spinlocks and rwlocks of the pthreads
 * surface of libdsm_dthreads: FIFO queues of blocked threads, granted in
 * turns. See dt_surface.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_surface.h"

/* ------------------------------------------------------------ mutexes */

/* glibc keeps the type in __data.__kind (PTHREAD_MUTEX_*_NP) */
static int mutex_type(const pthread_mutex_t *m)
{
	return m->__data.__kind & 3;
}

int dt__mutex_grant(struct dt_obj *m, int id)
{
	struct dt_thr *t = &C->t[id];
	if (m->owner < 0) {
		m->owner = id;
		m->count = 1;
		t->state = DT_WOKEN;
		t->wkind = DT_W_NONE;
		t->timed = 0;
		return 1;
	}
	dt__q_push(&m->head, &m->tail, id);
	t->wkind = DT_W_MUTEX;
	t->wobj = m->addr;
	return 0;
}

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	int type = PTHREAD_MUTEX_NORMAL;
	if (a)
		pthread_mutexattr_gettype(a, &type);
	memset(m, 0, sizeof *m);
	m->__data.__kind = type & 3;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(m, DT_K_MUTEX, 1);
	o->owner = -1;
	o->count = 0;
	o->type = type & 3;
	dt__sync_leave(0);
	return 0;
}

int dt__obj_destroy(const void *addr, int kind, int (*busy)(const struct dt_obj *))
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(addr, kind, 0);
	int r = o && busy(o) ? EBUSY : 0;
	if (o && !r)
		dt__obj_free(addr);
	dt__sync_leave(0);
	return r;
}

/* Held, or threads wait for it (a mutex; a rwlock also by its readers). */
static int lock_busy(const struct dt_obj *o)
{
	return o->owner >= 0 || o->head >= 0 || (o->kind == DT_K_RWLOCK && o->count);
}

int pthread_mutex_destroy(pthread_mutex_t *m)
{
	return dt__obj_destroy(m, DT_K_MUTEX, lock_busy);
}

/* ------------------------------------------------- deferred unlocks
 *
 * An unlock of a mutex (or spinlock) nobody waits for is not a
 * synchronisation point: the release is kept in this process's list and
 * performed at the start of the thread's next turn, before its operation
 * there (dt__release_pending, from dt__sync_enter). A lock of a mutex whose
 * release is pending takes it back without any fence (at most
 * DSM_DET_TAKEBACK times per epoch, default 64, so that a thread polling a
 * flag under a mutex still reaches a fence and lets the others in).
 *
 * Deterministic: the decision reads the control block, which only
 * changes in turns, i.e. while every running thread, this one included,
 * waits at the fence (frozen while this thread runs), and this thread's
 * own list. Legal: it is the execution in which the thread kept the
 * mutex until its next synchronisation point. The writes of the critical
 * section are committed at that arrival, before the release is performed
 * in the turn. The price: another thread's lock of the mutex waits for
 * that next synchronisation point (its fence needs this thread), i.e.
 * also for what this thread computes after the unlock; with take-backs a
 * task queue's threads take turns by batches of up to DSM_DET_TAKEBACK
 * tasks instead of working side by side (cheaper where fences cost more
 * than tasks: Phoenix pca 13.7x -> 1.6x pthreads' CPU). DSM_DET_DEFER=0
 * turns both off (dt_core.c reads it). */
#define DT_PEND 64
static void *pend[DT_PEND];
static int pend_kind[DT_PEND];
static int npend, nelided;

void dt__release_pending(void)
{
	int n = npend;
	npend = 0;
	nelided = 0;
	for (int i = 0; i < n; i++) {
		struct dt_obj *o = dt__obj(pend[i], pend_kind[i], 0);
		if (!o || o->owner != dt.me || --o->count > 0)
			continue;
		o->owner = -1;
		int w = dt__q_pop(&o->head, &o->tail);
		if (w >= 0)
			dt__mutex_grant(o, w);
	}
}

static int find_pending(const void *m, int kind)
{
	for (int i = 0; i < npend; i++)
		if (pend[i] == m && pend_kind[i] == kind)
			return i;
	return -1;
}

/* unlock without a fence: 1 if deferred */
static int defer_unlock(void *m, int kind)
{
	if (!dt.multi || !dt.defer || npend == DT_PEND || find_pending(m, kind) >= 0)
		return 0;
	/* read only, without the lock: frozen while this thread runs */
	struct dt_obj *o = dt__obj(m, kind, 0);
	if (!o || o->kind != kind || o->owner != dt.me || o->count != 1 || o->head >= 0)
		return 0;
	pend[npend] = m;
	pend_kind[npend++] = kind;
	atomic_fetch_add_explicit(&C->st_defer, 1, memory_order_relaxed);
	return 1;
}

/* lock of a mutex whose release is pending: taken back, 1 */
static int take_back(void *m, int kind)
{
	int i = npend ? find_pending(m, kind) : -1;
	if (i < 0 || nelided >= dt.takeback)
		return 0;
	nelided++;
	atomic_fetch_add_explicit(&C->st_takeback, 1, memory_order_relaxed);
	pend[i] = pend[npend - 1];
	pend_kind[i] = pend_kind[npend - 1];
	npend--;
	return 1;
}

static int lock_common(void *m, int kind, int type, int mode /* 0 lock, 1 try, 2 timed */)
{
	if (take_back(m, kind))
		return 0;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(m, kind, 1);
	if (o->count == 0 && o->owner < 0)
		o->type = type;
	if (o->owner < 0) {
		o->owner = dt.me;
		o->count = 1;
		dt__sync_leave(0);
		return 0;
	}
	if (o->owner == dt.me) {
		if (o->type == PTHREAD_MUTEX_RECURSIVE) {
			o->count++;
			dt__sync_leave(0);
			return 0;
		}
		if (o->type == PTHREAD_MUTEX_ERRORCHECK || mode == 1) {
			dt__sync_leave(0);
			return mode == 1 ? EBUSY : EDEADLK;
		}
	}
	if (mode == 1) {
		dt__sync_leave(0);
		return EBUSY;
	}
	dt__q_push(&o->head, &o->tail, dt.me);
	ME->wkind = DT_W_MUTEX;
	ME->wobj = (uintptr_t)m;
	ME->timed = mode == 2;
	ME->result = 0;
	return dt__sync_leave(1);
}

static int unlock_common(void *m, int kind)
{
	if (defer_unlock(m, kind))
		return 0;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(m, kind, 1);
	if (o->owner != dt.me) {
		dt__sync_leave(0);
		return EPERM;
	}
	if (--o->count > 0) {
		dt__sync_leave(0);
		return 0;
	}
	o->owner = -1;
	int w = dt__q_pop(&o->head, &o->tail);
	if (w >= 0)
		dt__mutex_grant(o, w);
	dt__sync_leave(0);
	return 0;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	return lock_common(m, DT_K_MUTEX, mutex_type(m), 0);
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
	return lock_common(m, DT_K_MUTEX, mutex_type(m), 1);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
	(void)ts;
	return lock_common(m, DT_K_MUTEX, mutex_type(m), 2);
}

int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *ts)
{
	(void)c;
	(void)ts;
	return lock_common(m, DT_K_MUTEX, mutex_type(m), 2);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	return unlock_common(m, DT_K_MUTEX);
}

int pthread_mutex_consistent(pthread_mutex_t *m)
{
	(void)m;
	dt__unsupported("pthread_mutex_consistent (robust mutexes)");
	return ENOTSUP;
}

int pthread_spin_init(pthread_spinlock_t *s, int pshared)
{
	(void)pshared;
	*s = 0;
	return 0;
}

int pthread_spin_destroy(pthread_spinlock_t *s)
{
	(void)s;
	return 0;
}

int pthread_spin_lock(pthread_spinlock_t *s)
{
	return lock_common((void *)s, DT_K_SPIN, PTHREAD_MUTEX_NORMAL, 0);
}

int pthread_spin_trylock(pthread_spinlock_t *s)
{
	return lock_common((void *)s, DT_K_SPIN, PTHREAD_MUTEX_NORMAL, 1);
}

int pthread_spin_unlock(pthread_spinlock_t *s)
{
	return unlock_common((void *)s, DT_K_SPIN);
}

/* ------------------------------------------------------------ rwlocks */

/* owner: the writer or -1; count: readers. Waiters in FIFO order; a
 * waiting writer holds back readers that come after it. */
static void rw_grant(struct dt_obj *o)
{
	while (o->head >= 0) {
		int h = o->head;
		if (C->t[h].wkind == DT_W_WR) {
			if (o->owner < 0 && o->count == 0) {
				dt__q_pop(&o->head, &o->tail);
				o->owner = h;
				dt__wake(h, 0);
			}
			return;
		}
		if (o->owner >= 0)
			return;
		dt__q_pop(&o->head, &o->tail);
		o->count++;
		dt__wake(h, 0);
	}
}

int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
	(void)a;
	memset(l, 0, sizeof *l);
	return 0;
}

int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	return dt__obj_destroy(l, DT_K_RWLOCK, lock_busy);
}

static int rw_lock(pthread_rwlock_t *l, int wr, int mode)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(l, DT_K_RWLOCK, 1);
	int ok = wr ? (o->owner < 0 && o->count == 0) : (o->owner < 0 && o->head < 0);
	if (ok) {
		if (wr)
			o->owner = dt.me;
		else
			o->count++;
		dt__sync_leave(0);
		return 0;
	}
	if (o->owner == dt.me) {
		dt__sync_leave(0);
		return EDEADLK;
	}
	if (mode == 1) {
		dt__sync_leave(0);
		return EBUSY;
	}
	dt__q_push(&o->head, &o->tail, dt.me);
	ME->wkind = wr ? DT_W_WR : DT_W_RD;
	ME->wobj = (uintptr_t)l;
	ME->timed = mode == 2;
	ME->result = 0;
	return dt__sync_leave(1);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l) { return rw_lock(l, 0, 0); }
int pthread_rwlock_wrlock(pthread_rwlock_t *l) { return rw_lock(l, 1, 0); }
int pthread_rwlock_tryrdlock(pthread_rwlock_t *l) { return rw_lock(l, 0, 1); }
int pthread_rwlock_trywrlock(pthread_rwlock_t *l) { return rw_lock(l, 1, 1); }

int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	(void)ts;
	return rw_lock(l, 0, 2);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	(void)ts;
	return rw_lock(l, 1, 2);
}

int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(l, DT_K_RWLOCK, 1);
	int r = 0;
	if (o->owner == dt.me)
		o->owner = -1;
	else if (o->count > 0)
		o->count--;
	else
		r = EPERM;
	rw_grant(o);
	dt__sync_leave(0);
	return r;
}
