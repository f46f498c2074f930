/*
 * dt_sync.c — the pthreads surface of libdsm_dthreads. Every call that
 * changes synchronisation state is a synchronisation point: it enters the
 * fence (dt__sync_enter), acts on the control block during its turn, and
 * leaves (continuing, blocking until woken, or exiting). Objects are found
 * by address in the control block's table; the program's own
 * pthread_mutex_t etc. are only keys (the mutex type is read from it).
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

#include "dt.h"

#define STACK_SLOT (64ull << 20)   /* stack reservation per heap slot */
#define ID(th) ((int)((th) - 1))
#define TH(id) ((pthread_t)(id) + 1)

#define C (dt.ctl)
#define ME (&dt.ctl->t[dt.me])

static void unsupported(const char *what)
{
	dt__warn("%s is not supported under dsmdet (deterministic threads): "
		 "failing the call", what);
}

/* ------------------------------------------------------------ threads */

static unsigned char *stacks;      /* DT_SLOTS * STACK_SLOT, reserved */
static void *(*start_fn)(void *);
static void *start_arg;
static ucontext_t start_uc;
static void *keyval[DT_MAXKEYS];

static pid_t real_fork(void)
{
	static pid_t (*f)(void);
	if (!f)
		f = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
	return f();
}

static void trampoline(void)
{
	dt__thread_exit(start_fn(start_arg));
}

static int free_slot(void)
{
	for (int s = 0; s < DT_SLOTS; s++)
		if (!C->slot_used[s])
			return s;
	return -1;
}

/* Out of ids: the lowest id of a thread that ended and was joined or
 * detached (its pthread_t may be handed out again, as under pthreads). */
static int reuse_id(void)
{
	for (int i = 1; i < C->nthreads; i++) {
		struct dt_thr *t = &C->t[i];
		if (t->state != DT_EXITED || (t->joiner != -2 && !t->detached))
			continue;
		if (!t->reaped && t->pid > 0)
			waitpid(t->pid, NULL, WNOHANG | __WALL);
		return i;
	}
	return -1;
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	int detached = 0;
	if (attr)
		pthread_attr_getdetachstate(attr, &detached);
	dt__sync_enter();
	if (!stacks) {
		stacks = dt__mmap(NULL, DT_SLOTS * STACK_SLOT, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (stacks == MAP_FAILED)
			dt__die("cannot reserve the threads' stacks");
	}
	int slot = free_slot();
	int id = C->nthreads < DT_MAXT ? C->nthreads : reuse_id();
	if (slot < 0 || id < 0) {
		dt__warn("pthread_create: too many threads (%d alive at most, %d ids, "
			 "reused once joined or detached and ended)", DT_SLOTS, DT_MAXT);
		dt__sync_leave(0);
		return EAGAIN;
	}
	if (!dt.multi)
		dt__go_multi();
	if (id == C->nthreads)
		C->nthreads++;
	struct dt_thr *t = &C->t[id];
	memset(t, 0, sizeof *t);
	t->state = DT_NEW;
	t->slot = slot;
	t->joiner = -1;
	t->wnext = -1;
	t->detached = detached == PTHREAD_CREATE_DETACHED;
	t->creator = dt.me;
	C->slot_used[slot] = 1;
	C->live++;
	/* the child must not inherit buffered output (the program's own
	 * streams are in the regions: the child sees their committed state) */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = real_fork();
	if (pid < 0) {
		int e = errno;
		t->state = DT_FREE;
		if (id == C->nthreads - 1)
			C->nthreads--;
		C->slot_used[slot] = 0;
		C->live--;
		dt__sync_leave(0);
		return e;
	}
	if (pid == 0) {
		/* the child: the creator holds the lock and ends the turn */
		dt__heap_slot = slot;
		start_fn = fn;
		start_arg = arg;
		dt__thread_start(id);
		dt__heap_slot_init(slot);
		unsigned char *st = stacks + (size_t)slot * STACK_SLOT;
		madvise(st, STACK_SLOT, MADV_DONTNEED);
		getcontext(&start_uc);
		start_uc.uc_stack.ss_sp = st;
		start_uc.uc_stack.ss_size = STACK_SLOT;
		start_uc.uc_link = NULL;
		makecontext(&start_uc, trampoline, 0);
		setcontext(&start_uc);
		dt__die("setcontext failed");
	}
	t->pid = pid;
	dt__sync_leave(0);
	/* written after the turn, like any write of the thread's next epoch:
	 * a private copy made in the turn (after this thread's commit) misses
	 * what later turns commit to the page, and dt__resume() does not drop
	 * it (not marked private yet) or drops it with this write (marked) */
	*th = TH(id);
	return 0;
}

void pthread_exit(void *ret)
{
	dt__init();
	dt__thread_exit(ret);
}

pthread_t pthread_self(void)
{
	return TH(dt.me);
}

int pthread_join(pthread_t th, void **ret)
{
	int id = ID(th);
	dt__init();
	if (id < 0 || id >= C->nthreads || C->t[id].state == DT_FREE)
		return ESRCH;
	if (id == dt.me)
		return EDEADLK;
	dt__sync_enter();
	struct dt_thr *t = &C->t[id];
	int r = 0;
	if (t->detached || (t->joiner != -1 && t->joiner != dt.me) || t->reaped == 2) {
		dt__sync_leave(0);
		return EINVAL;
	}
	if (t->state == DT_EXITED) {
		dt__sync_leave(0);
	} else {
		t->joiner = dt.me;
		ME->wkind = DT_W_JOIN;
		ME->wobj = (uint64_t)id;
		ME->result = 0;
		r = dt__sync_leave(1);
	}
	if (ret)
		*ret = (void *)(uintptr_t)t->retval;
	t->joiner = -2;
	return r;
}

int pthread_detach(pthread_t th)
{
	int id = ID(th);
	dt__init();
	if (id < 0 || id >= C->nthreads || C->t[id].state == DT_FREE)
		return ESRCH;
	dt__sync_enter();
	int r = C->t[id].detached ? EINVAL : 0;
	C->t[id].detached = 1;
	dt__sync_leave(0);
	return r;
}

int pthread_cancel(pthread_t th)
{
	(void)th;
	unsupported("pthread_cancel");
	return ENOTSUP;
}

int pthread_kill(pthread_t th, int sig)
{
	int id = ID(th);
	dt__init();
	if (id < 0 || id >= C->nthreads || C->t[id].state == DT_FREE)
		return ESRCH;
	if (sig == 0)
		return C->t[id].state == DT_EXITED ? ESRCH : 0;
	unsupported("pthread_kill with a signal");
	return ENOTSUP;
}

int pthread_setname_np(pthread_t th, const char *name)
{
	(void)th;
	(void)name;
	return 0;
}

int pthread_getname_np(pthread_t th, char *buf, size_t len)
{
	(void)th;
	snprintf(buf, len, "dsmdet");
	return 0;
}

int pthread_setaffinity_np(pthread_t th, size_t n, const cpu_set_t *set)
{
	int id = ID(th);
	dt__init();
	if (id < 0 || id >= C->nthreads)
		return ESRCH;
	return sched_setaffinity(C->t[id].pid, n, set) ? errno : 0;
}

int pthread_getaffinity_np(pthread_t th, size_t n, cpu_set_t *set)
{
	int id = ID(th);
	dt__init();
	if (id < 0 || id >= C->nthreads)
		return ESRCH;
	return sched_getaffinity(C->t[id].pid, n, set) ? errno : 0;
}

int sched_yield(void)
{
	dt__sync_enter();
	dt__sync_leave(0);
	return 0;
}

/* ------------------------------------------------------------ keys, once */

void dt__keys_reset(void)
{
	memset(keyval, 0, sizeof keyval);
}

void dt__keys_run_dtors(void)
{
	for (int round = 0; round < 4; round++) {
		int any = 0;
		for (int k = 0; k < DT_MAXKEYS; k++) {
			void *v = keyval[k];
			void (*d)(void *) = (void (*)(void *))(uintptr_t)C->key_dtor[k];
			if (!v || !C->key_used[k] || !d)
				continue;
			keyval[k] = NULL;
			d(v);
			any = 1;
		}
		if (!any)
			break;
	}
}

int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	dt__sync_enter();
	int r = EAGAIN, got = -1;
	for (int k = 0; k < DT_MAXKEYS; k++)
		if (!C->key_used[k]) {
			C->key_used[k] = 1;
			C->key_dtor[k] = (uintptr_t)dtor;
			keyval[k] = NULL;
			got = k;
			r = 0;
			break;
		}
	dt__sync_leave(0);
	if (got >= 0)
		*key = (pthread_key_t)got; /* after the turn: see pthread_create */
	return r;
}

int pthread_key_delete(pthread_key_t key)
{
	if (key >= DT_MAXKEYS)
		return EINVAL;
	dt__sync_enter();
	int r = C->key_used[key] ? 0 : EINVAL;
	C->key_used[key] = 0;
	dt__sync_leave(0);
	return r;
}

void *pthread_getspecific(pthread_key_t key)
{
	return key < DT_MAXKEYS ? keyval[key] : NULL;
}

int pthread_setspecific(pthread_key_t key, const void *v)
{
	if (key >= DT_MAXKEYS)
		return EINVAL;
	keyval[key] = (void *)v;
	return 0;
}

#define ONCE_DONE 0x5a5a0001

int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	/* the flag in the program's memory is part of every thread's view,
	 * which is deterministic, so the fast path is too */
	if (*(volatile int *)once == ONCE_DONE)
		return 0;
	dt__sync_enter();
	struct dt_obj *o = dt__obj(once, DT_K_ONCE, 1);
	if (o->count == 2) {
		dt__sync_leave(0);
		return 0;
	}
	if (o->count == 1) {
		dt__q_push(&o->head, &o->tail, dt.me);
		ME->wkind = DT_W_ONCE;
		ME->wobj = (uintptr_t)once;
		ME->result = 0;
		dt__sync_leave(1);
		return 0;
	}
	o->count = 1;
	o->owner = dt.me;
	dt__sync_leave(0);
	fn();
	*(volatile int *)once = ONCE_DONE;
	dt__sync_enter();
	o = dt__obj(once, DT_K_ONCE, 1);
	o->count = 2;
	for (int w; (w = dt__q_pop(&o->head, &o->tail)) >= 0;)
		dt__wake(w, 0);
	dt__sync_leave(0);
	return 0;
}

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

int pthread_mutex_destroy(pthread_mutex_t *m)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(m, DT_K_MUTEX, 0);
	int r = 0;
	if (o && (o->owner >= 0 || o->head >= 0))
		r = EBUSY;
	else if (o)
		dt__obj_free(m);
	dt__sync_leave(0);
	return r;
}

static int lock_common(void *m, int kind, int type, int mode /* 0 lock, 1 try, 2 timed */)
{
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
	unsupported("pthread_mutex_consistent (robust mutexes)");
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

/* ------------------------------------------------------------ condvars */

int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	(void)a;
	memset(c, 0, sizeof *c);
	return 0;
}

int pthread_cond_destroy(pthread_cond_t *c)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(c, DT_K_COND, 0);
	int r = o && o->head >= 0 ? EBUSY : 0;
	if (o && !r)
		dt__obj_free(c);
	dt__sync_leave(0);
	return r;
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

int pthread_barrier_destroy(pthread_barrier_t *b)
{
	dt__sync_enter();
	struct dt_obj *o = dt__obj(b, DT_K_BARRIER, 0);
	int r = o && o->count ? EBUSY : 0;
	if (o && !r)
		dt__obj_free(b);
	dt__sync_leave(0);
	return r;
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
	dt__sync_enter();
	struct dt_obj *o = dt__obj(l, DT_K_RWLOCK, 0);
	int r = o && (o->owner >= 0 || o->count || o->head >= 0) ? EBUSY : 0;
	if (o && !r)
		dt__obj_free(l);
	dt__sync_leave(0);
	return r;
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
	dt__sync_enter();
	struct dt_obj *o = dt__obj(s, DT_K_SEM, 0);
	int busy = o && o->head >= 0;
	if (o && !busy)
		dt__obj_free(s);
	dt__sync_leave(0);
	if (busy) {
		errno = EBUSY;
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
	unsupported("sem_open (named semaphores)");
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

/* ------------------------------------------------------------ process, stdio */

pid_t fork(void)
{
	pid_t p = real_fork();
	if (p == 0 && dt.init) {
		/* a process of its own: private copies, no part in the fence;
		 * output buffered by the thread is not its to write */
		__fpurge(stdout);
		__fpurge(stderr);
		for (int k = 0; k < dt.nreg; k++) {
			struct dt_region *r = &dt.reg[k];
			if (r->lazy) /* still the file's view: keep it, writable */
				mprotect(r->start, r->len, PROT_READ | PROT_WRITE);
			else
				dt__mmap(r->start, r->len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->fd, 0);
		}
		dt.multi = 0;
		dt.outside = 1;
	}
	return p;
}

int setvbuf(FILE *f, char *buf, int mode, size_t size)
{
	static int (*real)(FILE *, char *, int, size_t);
	if (dt.init && (f == stdout || f == stderr))
		return 0; /* stays fully buffered: written at the thread's turns */
	if (!real)
		real = (int (*)(FILE *, char *, int, size_t))dlsym(RTLD_NEXT, "setvbuf");
	return real(f, buf, mode, size);
}

void setbuf(FILE *f, char *buf)
{
	setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ);
}

void setlinebuf(FILE *f)
{
	setvbuf(f, NULL, _IOLBF, 0);
}

/* The kernel cannot fault on a write-protected page: open them first. */
ssize_t read(int fd, void *buf, size_t n)
{
	dt__prefault((uintptr_t)buf, n);
	return syscall(SYS_read, fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	dt__prefault((uintptr_t)buf, n);
	return syscall(SYS_pread64, fd, buf, n, off);
}

size_t fread(void *buf, size_t sz, size_t n, FILE *f)
{
	static size_t (*real)(void *, size_t, size_t, FILE *);
	if (!real)
		real = (size_t(*)(void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fread");
	dt__prefault((uintptr_t)buf, sz * n);
	return real(buf, sz, n, f);
}

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	if (!real)
		real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
	FILE *f = real(path, mode);
	if (f && dt.init) {
		/* its buffer in private memory: the kernel writes it */
		void *b = dt__mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b != MAP_FAILED)
			setvbuf(f, b, _IOFBF, 65536);
	}
	return f;
}

int fstat(int fd, struct stat *st)
{
	dt__prefault((uintptr_t)st, sizeof *st);
	return (int)syscall(SYS_fstat, fd, st);
}

int stat(const char *path, struct stat *st)
{
	dt__prefault((uintptr_t)st, sizeof *st);
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}
