/*
 * dt_core.c — libdsm_dthreads: the control block shared by every thread
 * process, the shared regions (globals, heap), write tracking, diffs,
 * commits and the fence (see dt.h for the protocol).
 */
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dt.h"

struct dt_proc dt;

#define DT_STDIO_BUF (16u << 20)

/* ---------------------------------------------------------------- messages */

void dt__warn(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "dsmdet: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	/* straight to fd 2: diagnostics are not program output */
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
}

/* A broken invariant or a call that cannot be supported: say so and stop
 * the program the way a failed assertion would. */
void dt__die(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	dt__warn("%s", buf);
	if (dt.ctl && !dt.is_main) {
		atomic_store(&dt.ctl->exit_req, 1);
		atomic_store(&dt.ctl->exit_status, 134);
		atomic_fetch_add(&dt.ctl->seq, 1);
		syscall(SYS_futex, &dt.ctl->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
	dt__sig_default(SIGABRT);
	abort();
}

/* ------------------------------------------------------------ futex, lock */

static int futex_wait(_Atomic uint32_t *w, uint32_t v, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return (int)syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void lock_stuck(void);

/* Drepper's "mutex2": 0 free, 1 held, 2 held with (perhaps) sleepers.
 * Once a locker has gone past spinning it only ever takes the lock with
 * the exchange to 2: taking it with 0 -> 1 after a sleep (as this did)
 * hid the other sleepers, whose wake-up the next unlock then skipped
 * (each slept until its 100 ms timeout: the "lost wake-ups"). */
void dt__lock(void)
{
	uint32_t z;
	for (int spin = 0; spin <= 100; spin++) {
		z = 0;
		if (atomic_compare_exchange_weak(&dt.ctl->lock, &z, 1))
			return;
	}
	while (atomic_exchange(&dt.ctl->lock, 2) != 0)
		if (futex_wait(&dt.ctl->lock, 2, 100) != 0 && errno == ETIMEDOUT)
			lock_stuck();
}

void dt__unlock(void)
{
	if (atomic_exchange(&dt.ctl->lock, 0) == 2)
		syscall(SYS_futex, &dt.ctl->lock, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void bump(void)
{
	atomic_fetch_add(&dt.ctl->seq, 1);
	futex_wake_all(&dt.ctl->seq);
}

/* ------------------------------------------------------------------ queues */

void dt__q_push(int32_t *head, int32_t *tail, int id)
{
	dt.ctl->t[id].wnext = -1;
	if (*tail < 0)
		*head = id;
	else
		dt.ctl->t[*tail].wnext = id;
	*tail = id;
}

int dt__q_pop(int32_t *head, int32_t *tail)
{
	int id = *head;
	if (id < 0)
		return -1;
	*head = dt.ctl->t[id].wnext;
	if (*head < 0)
		*tail = -1;
	dt.ctl->t[id].wnext = -1;
	return id;
}

int dt__q_remove(int32_t *head, int32_t *tail, int id)
{
	int prev = -1;
	for (int c = *head; c >= 0; prev = c, c = dt.ctl->t[c].wnext) {
		if (c != id)
			continue;
		int nx = dt.ctl->t[c].wnext;
		if (prev < 0)
			*head = nx;
		else
			dt.ctl->t[prev].wnext = nx;
		if (*tail == id)
			*tail = prev;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------- sync object table */

/* The table entry of the object at addr (kind: what the caller uses it
 * as; an entry left by another kind on reused memory is started again).
 * Caller holds the lock. */
struct dt_obj *dt__obj(const void *addr, int kind, int create)
{
	uintptr_t a = (uintptr_t)addr;
	size_t h = dt__hash(a);
	struct dt_obj *tomb = NULL, *o = NULL;
	for (size_t i = 0; i < DT_NOBJ; i++) {
		o = &dt.ctl->obj[(h + i) & (DT_NOBJ - 1)];
		if (o->addr == a && o->kind != DT_K_DEAD) {
			if (o->kind != kind && o->head < 0 && create)
				goto fresh;
			return o;
		}
		if (o->addr == 0)
			break;
		if (o->kind == DT_K_DEAD && !tomb)
			tomb = o;
		o = NULL;
	}
	if (!create)
		return NULL;
	if (tomb)
		o = tomb;
	if (!o)
		dt__die("more than %d synchronisation objects alive", DT_NOBJ);
fresh:
	memset(o, 0, sizeof *o);
	o->addr = a;
	o->kind = kind;
	o->owner = -1;
	o->head = o->tail = -1;
	return o;
}

void dt__obj_free(const void *addr)
{
	struct dt_obj *o;
	for (size_t i = 0; i < DT_NOBJ; i++) {
		o = &dt.ctl->obj[(dt__hash((uintptr_t)addr) + i) & (DT_NOBJ - 1)];
		if (o->addr == 0)
			return;
		if (o->addr == (uintptr_t)addr && o->kind != DT_K_DEAD) {
			o->kind = DT_K_DEAD;
			return;
		}
	}
}

/* ---------------------------------------------------------------- regions */

void *dt__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

static void *reserve(size_t len)
{
	void *p = dt__mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int dt__region_setup(struct dt_region *r, const char *name, void *start,
		     size_t len, int fd)
{
	r->name = name;
	r->start = start;
	r->len = len;
	r->npages = len / dt.page;
	r->fd = fd;
	r->shared = dt__mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, fd, 0);
	r->mark = reserve(r->npages);
	r->list = reserve(r->npages * sizeof(uint32_t));
	r->dirty = reserve(r->npages * sizeof(uint32_t));
	r->priv = reserve(r->npages);
	r->stamp = dt__mmap(NULL, r->npages * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->shared == MAP_FAILED || !r->mark || !r->list || !r->dirty || !r->priv ||
	    r->stamp == MAP_FAILED)
		return -ENOMEM;
	return 0;
}

int dt__heap_region(unsigned char **base, size_t *len)
{
	*base = dt__heap_base;
	*len = dt__heap_len;
	return 0;
}

struct seg { uintptr_t lo, hi; };

static int find_exe_data(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct seg *s = arg;
	uintptr_t relro = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_GNU_RELRO)
			relro = info->dlpi_addr + p->p_vaddr + p->p_memsz;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || !(p->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + p->p_vaddr;
		uintptr_t hi = lo + p->p_memsz;
		if (relro > lo && relro < hi)
			lo = relro;
		s->lo = lo & ~(uintptr_t)(dt.page - 1);
		s->hi = (hi + dt.page - 1) & ~(uintptr_t)(dt.page - 1);
	}
	return 1; /* the first object is the executable */
}

/* Move the executable's globals into a memfd, mapped shared for now. */
static int globals_setup(void)
{
	struct seg s = { 0, 0 };
	dl_iterate_phdr(find_exe_data, &s);
	if (s.hi <= s.lo)
		return 0;
	size_t len = s.hi - s.lo;
	int fd = (int)syscall(SYS_memfd_create, "dsmdet-globals", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0)
		return -errno;
	void *tmp = dt__mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (tmp == MAP_FAILED)
		return -errno;
	memcpy(tmp, (void *)s.lo, len);
	/* the copy is in place before the mapping moves: nothing runs between */
	if (dt__mmap((void *)s.lo, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED)
		return -errno;
	munmap(tmp, len);
	return dt__region_setup(&dt.reg[dt.nreg++], "globals", (void *)s.lo, len, fd);
}

/* ------------------------------------------------------- init and teardown */

static void on_exit_hook(int status, void *arg);

static void stdio_setup(void)
{
	static char *bo, *be;
	if (!bo)
		bo = reserve(DT_STDIO_BUF), be = reserve(DT_STDIO_BUF);
	/* fully buffered in private memory: written at the thread's turns */
	if (bo)
		setvbuf(stdout, bo, _IOFBF, DT_STDIO_BUF);
	if (be)
		setvbuf(stderr, be, _IOFBF, DT_STDIO_BUF);
}

static void read_env(void)
{
	const char *c = getenv("DSM_DET_CONFLICT");
	dt.policy = DT_CONF_ERROR;
	if (c && !strcmp(c, "report"))
		dt.policy = DT_CONF_REPORT;
	else if (c && (!strcmp(c, "last") || !strcmp(c, "last-writer-wins")))
		dt.policy = DT_CONF_LAST;
	else if (c && *c && strcmp(c, "error"))
		dt__die("DSM_DET_CONFLICT=%s: expected error, report or last", c);
	c = getenv("DSM_WRITE_DETECT");
	dt.wd_segv = c && !strcmp(c, "segv");
	c = getenv("DSM_DET_DELAY_US");
	dt.delay_us = c ? atoi(c) : 0;
	/* DSM_DET_STATS=1: main prints the fences, deferred unlocks and
	 * pages committed on stderr when the program ends (default off) */
	c = getenv("DSM_DET_STATS");
	dt.stats = c ? atoi(c) : 0;
	/* DSM_DET_DEFER=0: every unlock is a synchronisation point (default
	 * 1: an unlock nobody waits for is deferred to the thread's next one,
	 * dt_lock.c); DSM_DET_TAKEBACK=N: locks of a mutex whose release is
	 * pending taken back without a fence, at most N per epoch (default 64,
	 * 0 none; bounded so that a thread polling a flag under a mutex still
	 * reaches fences) */
	c = getenv("DSM_DET_DEFER");
	dt.defer = c ? atoi(c) != 0 : 1;
	c = getenv("DSM_DET_TAKEBACK");
	dt.takeback = c ? atoi(c) : 64;
	if (dt.takeback < 0)
		dt.takeback = 0;
	c = getenv("DSM_DET_CHECK");
	dt.check = c ? atoi(c) : 0;
	c = getenv("DSM_DET_TEST_END_DELAY_US");
	dt.test_end_delay_us = c ? atoi(c) : 0;
	/* DSM_DET_NPROCS=N: the processor count the program sees (unset:
	 * the machine's), read by dt_io.c's dt__nprocs() on first use, as
	 * sysconf() may come before this constructor; a bad value stops the
	 * program here. (DSM_DET_ASLR is dsmdet's own: tools/dsmdet.) */
	dt__nprocs();
}

void dt__init(void)
{
	if (dt.init)
		return;
	dt.init = 1;
	dt.page = (size_t)sysconf(_SC_PAGESIZE);
	if (dt__heap_init() != 0)
		dt__die("cannot map the shared heap");
	read_env();
	dt.ctl = dt__mmap(NULL, sizeof *dt.ctl, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dt.ctl == MAP_FAILED)
		dt__die("cannot map the control block: %s", strerror(errno));
	dt.is_main = 1;
	dt.me = 0;
	dt.ctl->nthreads = 1;
	dt.ctl->live = 1;
	dt.ctl->nrun = 1;
	dt.ctl->turn = -1;
	dt.ctl->main_pid = getpid();
	dt.ctl->t[0].state = DT_RUN;
	dt.ctl->t[0].joiner = -1;
	dt.ctl->t[0].pid = getpid();
	dt.ctl->slot_used[0] = 1;
	for (int i = 1; i < DT_MAXT; i++)
		dt.ctl->t[i].joiner = -1;
	dt.pidfd_main = (int)syscall(SYS_pidfd_open, getpid(), 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (dt__region_setup(&dt.reg[dt.nreg++], "heap", dt__heap_base, dt__heap_len,
			 dt__heap_fd) != 0)
		dt__die("cannot map the heap's shared view");
	if (globals_setup() != 0)
		dt__die("cannot move the executable's globals into shared memory");
	dt.basepool = dt__mmap(NULL, (size_t)DT_NBASE * dt.page, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	dt.log = dt__mmap(NULL, DT_LOG * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (dt.basepool == MAP_FAILED || dt.log == MAP_FAILED)
		dt__die("cannot map the base pages' pool");
	stdio_setup();
	on_exit(on_exit_hook, NULL);
}

/* The regions' application views become private, write-protected copies
 * of the files (the first pthread_create). */
void dt__go_multi(void)
{
	fflush(NULL);
	dt__install_handler();
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		atomic_store(&r->nlist, 0);
		r->all = 0;
		if (r->lazy) {
			mprotect(r->start, r->len, PROT_READ);
			continue;
		}
		if (dt__mmap(r->start, r->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->fd, 0) == MAP_FAILED)
			dt__die("cannot map %s privately: %s", r->name, strerror(errno));
	}
	if (!dt.wpbuf)
		dt.wpbuf = reserve(65536 * sizeof(uint32_t));
	dt.kernel = !dt.wd_segv && dt.wpbuf && dt__kernel_open() == 0;
	if (!dt.kernel)
		for (int k = 0; k < dt.nreg; k++)
			if (!dt.reg[k].lazy)
				mprotect(dt.reg[k].start, dt.reg[k].len, PROT_READ);
	const char *lg = getenv("DSM_LOG");
	if (lg && (!strcmp(lg, "info") || !strcmp(lg, "debug")))
		dt__warn("write detection: %s", dt.kernel ? "uffd (kernel)" : "segv (faults)");
	dt.multi = 1;
}

/* Back to shared views when the main thread is alone again. */
static void go_single(void)
{
	dt__kernel_close();
	dt__lazy_sync();
	for (int k = 0; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		if (r->lazy) { /* nobody wrote it: main's own view again */
			mprotect(r->start, r->len, PROT_READ | PROT_WRITE);
			continue;
		}
		if (dt__mmap(r->start, r->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, r->fd, 0) == MAP_FAILED)
			dt__die("cannot map %s shared: %s", r->name, strerror(errno));
		madvise(r->priv, r->npages, MADV_DONTNEED);
	}
	dt.multi = 0;
}

/* Kill every other thread process and reap the ones we can. */
static void teardown(void)
{
	struct dt_ctl *c = dt.ctl;
	for (int i = 0; i < c->nthreads; i++) {
		if (i == dt.me || c->t[i].pid <= 0 || c->t[i].reaped)
			continue;
		kill(c->t[i].pid, SIGKILL);
	}
	for (int i = 0; i < c->nthreads; i++) {
		if (i == dt.me || c->t[i].pid <= 0 || c->t[i].reaped)
			continue;
		if (waitpid(c->t[i].pid, NULL, __WALL) == c->t[i].pid)
			c->t[i].reaped = 1;
	}
}

static const char *wait_name(int k)
{
	static const char *n[] = { "nothing", "a mutex", "a condition variable",
				   "a barrier", "pthread_join", "a rwlock (read)",
				   "a rwlock (write)", "a semaphore", "pthread_once" };
	return k >= 0 && k < (int)(sizeof n / sizeof *n) ? n[k] : "?";
}

/* Something ended the program (exit from a thread, a crash, a deadlock,
 * a conflict under error): the main process ends it, others just go. */
static void abnormal(void)
{
	struct dt_ctl *c = dt.ctl;
	if (!dt.is_main)
		_exit(0);
	if (atomic_load(&c->exit_req)) {
		teardown();
		_exit(atomic_load(&c->exit_status));
	}
	if (atomic_load(&c->crash_tid) > 0) {
		int st = atomic_load(&c->crash_status);
		int tid = atomic_load(&c->crash_tid);
		teardown();
		fflush(NULL);
		if (WIFSIGNALED(st)) {
			dt__warn("thread %d was killed by signal %d (%s)", tid,
				 WTERMSIG(st), strsignal(WTERMSIG(st)));
			dt__sig_default(WTERMSIG(st));
			raise(WTERMSIG(st));
		}
		dt__warn("thread %d ended without pthread_exit (status %d)", tid,
			 WEXITSTATUS(st));
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	if (atomic_load(&c->deadlock)) {
		teardown();
		dt__warn("deadlock: every thread is blocked; stopping the program");
		dt__sig_default(SIGABRT);
		raise(SIGABRT);
		_exit(134);
	}
}

static int is_abnormal(void)
{
	struct dt_ctl *c = dt.ctl;
	return atomic_load(&c->exit_req) || atomic_load(&c->crash_tid) > 0 ||
	       atomic_load(&c->deadlock);
}

/* Reap thread processes that ended; one that ended without going through
 * pthread_exit crashed. Non-main processes also notice a dead main. */
static void liveness(void)
{
	struct dt_ctl *c = dt.ctl;
	if (!dt.is_main && dt.pidfd_main >= 0) {
		struct pollfd p = { dt.pidfd_main, POLLIN, 0 };
		if (poll(&p, 1, 0) == 1)
			_exit(0);
	}
	for (int i = 1; i < c->nthreads; i++) {
		struct dt_thr *t = &c->t[i];
		int st;
		if (i == dt.me || t->pid <= 0 || t->reaped)
			continue;
		if (waitpid(t->pid, &st, WNOHANG | __WALL) != t->pid)
			continue;
		t->reaped = 1;
		if (t->state != DT_EXITED && !atomic_load(&c->exit_req)) {
			atomic_store(&c->crash_status, st);
			atomic_store(&c->crash_tid, i);
			bump();
		}
	}
}

/* The control lock is still held after a timeout: its holder may have
 * died (killed by a signal inside a turn). Reap and check as a wait
 * does; a dead holder makes the program end (abnormal()). */
static void lock_stuck(void)
{
	liveness();
	if (is_abnormal())
		abnormal();
}

static int pred_turn(void) { return atomic_load(&dt.ctl->turn) == dt.me; }
/* acquire: pairs with end_phase()'s release (the new epoch is visible) */
static int pred_run(void)
{
	return __atomic_load_n(&dt.ctl->t[dt.me].state, __ATOMIC_ACQUIRE) == DT_RUN;
}
static int pred_alone(void) { return dt.ctl->live == 0; }

static void wait_until(int (*pred)(void))
{
	for (;;) {
		uint32_t s = atomic_load(&dt.ctl->seq);
		if (is_abnormal())
			abnormal();
		if (pred())
			return;
		if (futex_wait(&dt.ctl->seq, s, 100) != 0 && errno == ETIMEDOUT) {
			liveness();
		}
	}
}

/* ------------------------------------------------------------------ fence */

/* Every running thread has arrived: the commit stage of the phase
 * starts (each arrived thread commits its single-writer pages at once)
 * and the first turn is given at once. A thread takes its turn after its
 * own commit stage, not after everyone's: the turns touch only the pages
 * several threads changed (merged against a base read from the file,
 * which no single-writer commit changes) and the control block, and the
 * last turn, which ends the phase, comes after every arrived thread's own
 * turn, so after every commit (DSM_DET_CHECK=1 checks it). Waiting for
 * the last committer cost a wake-up of the first thread in turn order per
 * fence (and the others a spurious one). */
static void start_serial(void)
{
	atomic_store(&dt.ctl->nlog, 0);
	atomic_store(&dt.ctl->log_over, 0);
	__atomic_store_n(&dt.ctl->ncommitted, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < dt.ctl->nthreads; i++)
		if (dt.ctl->t[i].state == DT_ARRIVED) {
			atomic_store(&dt.ctl->turn, i);
			break;
		}
	atomic_store(&dt.ctl->commit_phase, dt.ctl->phase + 1);
	atomic_fetch_add_explicit(&dt.ctl->st_fences, 1, memory_order_relaxed);
	bump();
}

static int pred_commit(void)
{
	return atomic_load(&dt.ctl->commit_phase) == dt.ctl->phase + 1;
}

static void diagnose_deadlock(void)
{
	struct dt_ctl *c = dt.ctl;
	dt__warn("deadlock in epoch %llu: no thread can run:",
		 (unsigned long long)c->phase);
	for (int i = 0; i < c->nthreads; i++) {
		struct dt_thr *t = &c->t[i];
		if (t->state == DT_BLOCKED && t->wkind == DT_W_JOIN)
			dt__warn("  thread %d waits in pthread_join for thread %d", i,
				 (int)t->wobj);
		else if (t->state == DT_BLOCKED)
			dt__warn("  thread %d waits on %s at %p", i,
				 wait_name(t->wkind), (void *)(uintptr_t)t->wobj);
	}
}

static int runnable(int s)
{
	return s == DT_DONE || s == DT_WOKEN || s == DT_NEW || s == DT_RUN;
}

/* The serial phase is over: every thread not blocked runs. With none,
 * the earliest timed waiter (lowest id) times out; else a deadlock.
 *
 * The new epoch (phase, narrived, turn) is published BEFORE any thread
 * is made DT_RUN: a thread that sees its state turn DT_RUN runs at once,
 * without the lock, and reads c->phase (the writer-count stamps of its
 * diff, the blocked_in check of dt__sync_leave). With the states set
 * first, a thread that got to run while the last turn's process was
 * between the two (preempted on a loaded machine) stamped its pages with
 * the finished epoch: the writer counts of the new one restarted at 1,
 * two threads each took a page for theirs alone and the later whole-page
 * copy undid the other's commit (dt_cond: "items 1001"). */
static void end_phase(void)
{
	struct dt_ctl *c = dt.ctl;
	int nrun;
	for (;;) {
		nrun = 0;
		for (int i = 0; i < c->nthreads; i++)
			nrun += runnable(c->t[i].state);
		if (nrun > 0 || c->live == 0 || is_abnormal())
			break;
		int timed = -1;
		for (int i = 0; i < c->nthreads && timed < 0; i++)
			if (c->t[i].state == DT_BLOCKED && c->t[i].timed)
				timed = i;
		if (timed < 0) {
			diagnose_deadlock();
			atomic_store(&c->deadlock, 1);
			break;
		}
		dt__timeout(timed);
	}
	if (dt.check && __atomic_load_n(&c->ncommitted, __ATOMIC_ACQUIRE) != c->narrived)
		dt__die("DSM_DET_CHECK: epoch %llu ends with %d of %d threads' commits "
			"done", (unsigned long long)c->phase,
			(int)__atomic_load_n(&c->ncommitted, __ATOMIC_ACQUIRE), c->narrived);
	__atomic_store_n(&c->ncommitted, 0, __ATOMIC_RELAXED);
	c->nrun = nrun;
	c->narrived = 0;
	c->phase++;
	atomic_store(&c->turn, -1);
	/* release: the epoch above is visible to a thread that sees DT_RUN.
	 * Tests (DSM_DET_TEST_END_DELAY_US): sleep once the first thread is
	 * runnable, so that it runs while end_phase has not returned: what
	 * is published after that point is read stale. */
	int slept = dt.test_end_delay_us <= 0;
	for (int i = 0; i < c->nthreads; i++) {
		if (!runnable(c->t[i].state) || c->t[i].state == DT_RUN)
			continue;
		__atomic_store_n(&c->t[i].state, DT_RUN, __ATOMIC_RELEASE);
		if (!slept) {
			slept = 1;
			futex_wake_all(&c->seq); /* let it see DT_RUN now */
			usleep((useconds_t)dt.test_end_delay_us);
		}
	}
	bump();
}

void dt__wake(int id, int r)
{
	struct dt_thr *t = &dt.ctl->t[id];
	t->result = r;
	t->timed = 0;
	t->wkind = DT_W_NONE;
	t->state = DT_WOKEN;
}

static void delay(void)
{
	static unsigned seed;
	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	usleep((useconds_t)(rand_r(&seed) % (unsigned)dt.delay_us));
}

void dt__sync_enter(void)
{
	if (dt.outside)
		dt__die("a pthreads call in a process made by fork(): only exec or "
			"_exit are supported there");
	dt__init();
	if (!dt.multi) {
		dt__lock();
		dt__release_pending();
		return;
	}
	if (dt.delay_us > 0)
		delay();
	dt__diff_compute();
	dt__lock();
	if (is_abnormal()) {
		dt__unlock();
		abnormal();
	}
	if (dt.check && dt.diff_phase != dt.ctl->phase)
		dt__die("DSM_DET_CHECK: thread %d computed its diff in epoch %llu "
			"but arrives in epoch %llu (ran before its epoch began)",
			dt.me, (unsigned long long)dt.diff_phase,
			(unsigned long long)dt.ctl->phase);
	dt.ctl->t[dt.me].state = DT_ARRIVED;
	if (++dt.ctl->narrived == dt.ctl->nrun)
		start_serial();
	dt__unlock();
	wait_until(pred_commit);
	dt__commit_single();
	__atomic_fetch_add(&dt.ctl->ncommitted, 1, __ATOMIC_RELEASE);
	wait_until(pred_turn);
	int stop = dt__diff_apply();
	dt__refresh();
	/* stdout and stderr only (libc's data, outside the regions): the
	 * program's own streams (fopen: in the heap region) are data like any
	 * other, flushed when the program's code does; flushing them here
	 * wrote the heap in the turn (and two threads flushing the same
	 * stream in one phase conflicted) */
	fflush(stdout);
	fflush(stderr);
	if (stop) {
		atomic_store(&dt.ctl->exit_status, 86);
		atomic_store(&dt.ctl->exit_req, 1);
		bump();
		abnormal();
	}
	dt__lock();
	dt__release_pending();
}

/* mode 0: continue; 1: block until woken; 2: the thread exits (no wait). */
int dt__sync_leave(int mode)
{
	struct dt_ctl *c = dt.ctl;
	struct dt_thr *t = &c->t[dt.me];
	uint64_t blocked_in = c->phase;
	/* a page written in the turn (after this thread's commit) misses the
	 * later turns' commits: the runtime must write the program's memory
	 * only outside turns (seen on the fault path only) */
	for (int k = 0; dt.check && dt.multi && !dt.kernel && k < dt.nreg; k++)
		if (atomic_load(&dt.reg[k].nlist))
			dt__die("DSM_DET_CHECK: thread %d wrote %s page %u during "
				"its turn (epoch %llu)", dt.me, dt.reg[k].name,
				dt.reg[k].list[0], (unsigned long long)c->phase);
	if (mode == 1)
		t->state = DT_BLOCKED;
	else if (mode == 0)
		t->state = DT_DONE;
	int next = -1;
	for (int i = dt.me + 1; i < c->nthreads; i++)
		if (c->t[i].state == DT_ARRIVED) {
			next = i;
			break;
		}
	if (next >= 0) {
		atomic_store(&c->turn, next);
		bump();
	} else {
		end_phase();
	}
	if (mode == 0 && dt.multi && dt.is_main && c->live == 1)
		go_single();
	dt__unlock();
	if (mode == 2)
		return 0;
	wait_until(pred_run);
	/* woken at the end of the phase it blocked in: that phase's log says
	 * what changed (a barrier); after more phases, the pages' writer
	 * stamps do */
	if (mode == 1 && dt.multi && c->phase != blocked_in + 1)
		dt__drop_since(blocked_in);
	else
		dt__resume();
	dt__check_kept(mode == 1 ? "woken" : "resumed", mode == 1 ? (int64_t)blocked_in : -1);
	if (dt.multi && dt.is_main && c->live == 1) {
		/* woken alone (joined the last thread): shared views again */
		dt__lock();
		if (c->live == 1)
			go_single();
		dt__unlock();
	}
	return t->result;
}

/* -------------------------------------------------------- thread life */

void dt__thread_start(int id)
{
	dt.me = id;
	dt.is_main = 0;
	dt.in_exit = 0;
	dt__keys_reset();
	if (getppid() == dt.ctl->main_pid)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	wait_until(pred_run);
	dt__drop_all(); /* the creator's private copies may be stale */
	dt__kernel_child();
}

void dt__thread_exit(void *ret)
{
	dt__keys_run_dtors();
	dt__sync_enter();
	struct dt_ctl *c = dt.ctl;
	struct dt_thr *t = &c->t[dt.me];
	t->retval = (uintptr_t)ret;
	t->state = DT_EXITED;
	c->live--;
	if (t->slot >= 0)
		c->slot_used[t->slot] = 0;
	if (t->joiner >= 0)
		dt__wake(t->joiner, 0);
	dt__sync_leave(2);
	if (!dt.is_main)
		_exit(0);
	/* the main thread called pthread_exit: the process ends with the last */
	dt.in_exit = 1;
	wait_until(pred_alone);
	exit(0);
}

/* exit() or a return from main. In the main thread: take a turn (output
 * of earlier turns written), then end every other thread. Elsewhere: the
 * program ends with this status, at this turn. */
static void on_exit_hook(int status, void *arg)
{
	(void)arg;
	if (!dt.init || dt.outside || dt.in_exit)
		return;
	dt.in_exit = 1;
	if (dt.stats && dt.is_main) {
		struct dt_ctl *c = dt.ctl;
		dt__warn("stats: %llu fences, %llu unlocks deferred, %llu taken back, "
			 "%llu pages committed whole, %llu merged",
			 (unsigned long long)atomic_load(&c->st_fences),
			 (unsigned long long)atomic_load(&c->st_defer),
			 (unsigned long long)atomic_load(&c->st_takeback),
			 (unsigned long long)atomic_load(&c->st_single),
			 (unsigned long long)atomic_load(&c->st_merged));
	}
	if (!dt.multi && dt.is_main) {
		/* alone: reap the ended threads (their CPU time counts) */
		for (int i = 1; i < dt.ctl->nthreads; i++) {
			struct dt_thr *t = &dt.ctl->t[i];
			if (t->pid > 0 && !t->reaped && t->state == DT_EXITED &&
			    waitpid(t->pid, NULL, __WALL) == t->pid)
				t->reaped = 1;
		}
		return;
	}
	dt__sync_enter();
	fflush(NULL);
	if (dt.is_main) {
		teardown();
		dt__unlock();
		return;
	}
	atomic_store(&dt.ctl->exit_status, status);
	atomic_store(&dt.ctl->exit_req, 1);
	bump();
	dt__unlock();
	_exit(status);
}

__attribute__((constructor)) static void dt_ctor(void)
{
	dt__init();
}
