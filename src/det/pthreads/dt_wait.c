/*
 * dt_wait.c — condition variables, barriers and semaphores of the pthreads
 * surface of libdsm_dthreads, and the deterministic end of timed waits.
 * See dt_surface.h.
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

/* ------------------------------------------------------------ condvars */

int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	(void)a;
	memset(c, 0, sizeof *c);
	return 0;
}

/* Threads wait on it (a condition variable, a semaphore). */
static int has_waiters(const struct dt_obj *o)
{
	return o->head >= 0;
}

int pthread_cond_destroy(pthread_cond_t *c)
{
	return dt__obj_destroy(c, DT_K_COND, has_waiters);
}

static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int timed)
{
	dt__sync_enter();
	struct dt_obj *om = dt__obj(m, DT_K_MUTEX, 1);
	if (om->owner != dt.me) {
		dt__sync_leave(0);
		return EPERM;
	}
	om->owner = -1;
	om->count = 0;
	int w = dt__q_pop(&om->head, &om->tail);
	if (w >= 0)
		dt__mutex_grant(om, w);
	struct dt_obj *oc = dt__obj(c, DT_K_COND, 1);
	dt__q_push(&oc->head, &oc->tail, dt.me);
	ME->wkind = DT_W_COND;
	ME->wobj = (uintptr_t)c;
	ME->wmutex = (uintptr_t)m;
	ME->timed = timed;
	ME->result = 0;
	return dt__sync_leave(1);
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(c, m, 0);
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
			   const struct timespec *ts)
{
	(void)ts;
	return cond_wait(c, m, 1);
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
			   const struct timespec *ts)
{
	(void)k;
	(void)ts;
	return cond_wait(c, m, 1);
}

/* A cond waiter moves to its mutex (granted now or queued there). */
static void cond_release(int w)
{
	struct dt_thr *t = &C->t[w];
	t->timed = 0;
	dt__mutex_grant(dt__obj((void *)(uintptr_t)t->wmutex, DT_K_MUTEX, 1), w);
}

static int cond_signal(pthread_cond_t *c, int all)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(c, DT_K_COND, 1);
	for (int w; (w = dt__q_pop(&o->head, &o->tail)) >= 0;) {
		cond_release(w);
		if (!all)
			break;
	}
	dt__sync_leave(0);
	return 0;
}

int pthread_cond_signal(pthread_cond_t *c)
{
	return cond_signal(c, 0);
}

int pthread_cond_broadcast(pthread_cond_t *c)
{
	return cond_signal(c, 1);
}

/* ------------------------------------------------------------ barriers */

int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a,
			 unsigned n)
{
	(void)a;
	if (n == 0)
		return EINVAL;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(b, DT_K_BARRIER, 1);
	o->type = (int)n;
	o->count = 0;
	dt__sync_leave(0);
	return 0;
}

/* Threads have arrived at it and wait for the rest. */
static int barrier_busy(const struct dt_obj *o)
{
	return o->count != 0;
}

int pthread_barrier_destroy(pthread_barrier_t *b)
{
	return dt__obj_destroy(b, DT_K_BARRIER, barrier_busy);
}

int pthread_barrier_wait(pthread_barrier_t *b)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(b, DT_K_BARRIER, 0);
	if (!o) {
		dt__sync_leave(0);
		return EINVAL;
	}
	if (++o->count == o->type) {
		o->count = 0;
		for (int w; (w = dt__q_pop(&o->head, &o->tail)) >= 0;)
			dt__wake(w, 0);
		dt__sync_leave(0);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	dt__q_push(&o->head, &o->tail, dt.me);
	ME->wkind = DT_W_BARRIER;
	ME->wobj = (uintptr_t)b;
	ME->result = 0;
	return dt__sync_leave(1);
}

/* ------------------------------------------------------------ semaphores */

int sem_init(sem_t *s, int pshared, unsigned v)
{
	(void)pshared;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(s, DT_K_SEM, 1);
	o->value = v;
	dt__sync_leave(0);
	return 0;
}

int sem_destroy(sem_t *s)
{
	int r = dt__obj_destroy(s, DT_K_SEM, has_waiters);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

static int sem_take(sem_t *s, int mode)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(s, DT_K_SEM, 1);
	if (o->value > 0) {
		o->value--;
		dt__sync_leave(0);
		return 0;
	}
	if (mode == 1) {
		dt__sync_leave(0);
		errno = EAGAIN;
		return -1;
	}
	dt__q_push(&o->head, &o->tail, dt.me);
	ME->wkind = DT_W_SEM;
	ME->wobj = (uintptr_t)s;
	ME->timed = mode == 2;
	ME->result = 0;
	int r = dt__sync_leave(1);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

int sem_wait(sem_t *s) { return sem_take(s, 0); }
int sem_trywait(sem_t *s) { return sem_take(s, 1); }

int sem_timedwait(sem_t *s, const struct timespec *ts)
{
	(void)ts;
	return sem_take(s, 2);
}

int sem_clockwait(sem_t *s, clockid_t c, const struct timespec *ts)
{
	(void)c;
	(void)ts;
	return sem_take(s, 2);
}

int sem_post(sem_t *s)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(s, DT_K_SEM, 1);
	int w = dt__q_pop(&o->head, &o->tail);
	if (w >= 0)
		dt__wake(w, 0);
	else
		o->value++;
	dt__sync_leave(0);
	return 0;
}

int sem_getvalue(sem_t *s, int *v)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(s, DT_K_SEM, 1);
	int val = (int)o->value;
	dt__sync_leave(0);
	*v = val; /* after the turn: see pthread_create */
	return 0;
}

sem_t *sem_open(const char *name, int flags, ...)
{
	(void)name;
	(void)flags;
	dt__unsupported("sem_open (named semaphores)");
	errno = ENOSYS;
	return SEM_FAILED;
}

/* ------------------------------------------------------------ timeouts */

/* Thread id's timed wait ends with ETIMEDOUT (no thread could run). */
void dt__timeout(int id)
{
	struct dt_thr *t = &C->t[id];
	static const int kind[] = { [DT_W_MUTEX] = DT_K_MUTEX, [DT_W_COND] = DT_K_COND,
				    [DT_W_RD] = DT_K_RWLOCK, [DT_W_WR] = DT_K_RWLOCK,
				    [DT_W_SEM] = DT_K_SEM };
	int k = t->wkind < (int)(sizeof kind / sizeof *kind) ? kind[t->wkind] : 0;
	struct dt_obj *o = k ? dt__obj((void *)(uintptr_t)t->wobj, k, 0) : NULL;
	if (!o && k == DT_K_MUTEX)
		o = dt__obj((void *)(uintptr_t)t->wobj, DT_K_SPIN, 0);
	if (o)
		dt__q_remove(&o->head, &o->tail, id);
	t->timed = 0;
	if (t->wkind == DT_W_COND) {
		cond_release(id);
		t->result = ETIMEDOUT;
		return;
	}
	dt__wake(id, ETIMEDOUT);
}
