/*
 * dt_thread.c — the threads of the pthreads surface of libdsm_dthreads:
 * create (a fork onto a stack slot of its own), join, detach, exit,
 * self, yield; keys and once. See dt_surface.h.
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

#define STACK_SLOT (64ull << 20)   /* stack reservation per heap slot */

void dt__unsupported(const char *what)
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

pid_t dt__real_fork(void)
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
	pid_t pid = dt__real_fork();
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
	dt__unsupported("pthread_cancel");
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
	dt__unsupported("pthread_kill with a signal");
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
