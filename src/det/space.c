/*
 * space.c — deterministic contexts and their spaces.
 *
 * A round: dsm_det_spawn() forks one child per space (the parent starts
 * tracking its own scope writes at the first spawn of the round, unless
 * told not to); each child tracks its writes, runs fn, encodes a diff per
 * written page into a memfd the parent created for it and _exit(0)s;
 * dsm_det_join() waits for the children in creation order, maps and checks
 * each diff set, and merges them (merge.c). A child that dies, or exits
 * without having returned from fn, is reported with its id and signal or
 * status and its partial diff set is discarded.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "det/det.h"
#include "core/node.h"
#include "vm/diff.h"
#include "vm/vm.h"
#include "vm/wp.h"

#define SET_INITIAL (64 * 1024)

static char open_errmsg[512];

void dsm__det_errf(struct dsm_det *d, const char *fmt, ...)
{
	va_list ap;
	char *buf = d ? d->errmsg : open_errmsg;
	size_t cap = d ? sizeof(d->errmsg) : sizeof(open_errmsg);

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

const char *dsm_det_errmsg(const dsm_det_t *d)
{
	const char *m = d ? d->errmsg : open_errmsg;
	return m[0] ? m : "no error";
}

const char *dsm_det_strerror(int err)
{
	switch (err) {
	case DSM_EDETCONFLICT:
		return "write-write conflict between deterministic spaces "
		       "(dsm_det_conflicts lists them)";
	case DSM_EDETCHILD:
		return "a deterministic space crashed or exited without "
		       "returning (dsm_det_errmsg names it)";
	default:
		return dsm_strerror(err);
	}
}

/* DSM_DET_* variables, parsed by core/env.c. */
static int load_env(struct dsm_config *c)
{
	static const char *const names[] = { "DSM_DET_CONFLICT", "DSM_DET_HEAP",
					     "DSM_DET_DELAY_US", "DSM_WRITE_DETECT" };
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (dsm__env_load_one(c, names[i], &why) < 0) {
			dsm__det_errf(NULL, "%s", why ? why : names[i]);
			return DSM_ECONFIG;
		}
	return 0;
}

/* An explicit range: not empty, no wrap, mapped, outside the DSM region
 * and the arena, not overlapping an earlier range. */
static int check_range(struct dsm_det *d, const struct dsm_det_range *r)
{
	uintptr_t a = (uintptr_t)r->addr, pg = d->page;
	uintptr_t s = a & ~(pg - 1), e;
	struct dsm_node *n = dsm__node;

	if (!r->addr || r->len == 0 || a + r->len < a)
		return -EINVAL;
	e = (a + r->len + pg - 1) & ~(pg - 1);
	if (msync((void *)s, e - s, MS_ASYNC) < 0)
		return -EFAULT;
	if (n && n->region && (const unsigned char *)s < n->region->app + n->region->size &&
	    (const unsigned char *)e > n->region->app)
		return -EINVAL;
	for (int i = 0; i < d->nranges; i++) {
		uintptr_t rs = (uintptr_t)d->ranges[i].start;
		if (s < rs + d->ranges[i].len && e > rs)
			return -EINVAL;
	}
	return 0;
}

static int open_ranges(struct dsm_det *d, const struct dsm_det_options *o)
{
	int rc = dsm__det_range_init(&d->ranges[0], d->arena, d->arena_size, d->page);

	if (rc < 0)
		return rc;
	d->nranges = 1;
	if (o && o->nranges > DET_MAX_RANGES - 1)
		return -EINVAL;
	for (size_t i = 0; o && i < o->nranges; i++) {
		if ((rc = check_range(d, &o->ranges[i])) < 0) {
			dsm__det_errf(NULL, "scope range %zu [%p, +%zu) is invalid: %s",
				      i, o->ranges[i].addr, o->ranges[i].len,
				      rc == -EFAULT ? "not mapped"
						    : "empty, wrapping, in the DSM region "
						      "or overlapping another range");
			return rc;
		}
		rc = dsm__det_range_init(&d->ranges[d->nranges], o->ranges[i].addr,
					 o->ranges[i].len, d->page);
		if (rc < 0)
			return rc;
		d->nranges++;
	}
	return 0;
}

/* DSM_DET_HEAP=auto: 128 sub-heap sizes of at least the machine's RAM
 * (so one space may fill the memory: the slots take half, 63 of 64), at
 * least 16G, at most 32T of address space; only what is used is backed.
 * 16G under ThreadSanitizer. */
static size_t auto_arena(size_t page)
{
	const size_t gib = (size_t)1 << 30, max = (size_t)32 << 40;
	long pages = sysconf(_SC_PHYS_PAGES);
	size_t mem = pages > 0 ? (size_t)pages * page : 16 * gib;
	size_t slot = (mem + gib - 1) / gib * gib;

#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer dies on a mapping outside its application ranges
	 * (and shadows what is mapped): keep the arena small under it */
	return 16 * gib;
#endif
	if (slot > max / 128)
		slot = max / 128;
	return slot * 128 < 16 * gib ? 16 * gib : slot * 128;
}

static int open_arena(struct dsm_det *d, const struct dsm_det_options *o,
		      const struct dsm_config *c)
{
	size_t size = o && o->heap_size ? o->heap_size : c->det_heap;
	size_t unit = 128 * d->page;

	d->heap_arg = size;
	if (size == 0) /* auto: as big as the address space lets us (a
			* sanitizer's may be smaller): arena, twins, page
			* states and the written list, reserved together */
		for (size = auto_arena(d->page); size > ((size_t)16 << 30); size /= 2) {
			size_t all = 2 * size + size / d->page * 9;
			void *probe = mmap(NULL, all, PROT_NONE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (probe != MAP_FAILED) {
				munmap(probe, all);
				break;
			}
		}

	size = (size + unit - 1) / unit * unit;
	if (size < unit)
		return -EINVAL;
	d->arena = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->arena == MAP_FAILED) {
		d->arena = NULL;
		return -ENOMEM;
	}
	d->arena_size = size;
	d->slot_size = size / 2 / (DET_MAX_SLOTS + 1);
	d->slot_size &= ~(d->page - 1);
	d->notes = mmap(NULL, DET_MAX_SLOTS * sizeof(*d->notes), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->notes == MAP_FAILED) {
		d->notes = NULL;
		return -ENOMEM;
	}
	return 0;
}

void dsm__det_note_nomem(struct dsm_det *d, int slot, size_t size, size_t heap)
{
	if (!d->notes || slot < 0 || slot >= DET_MAX_SLOTS || d->notes[slot].nomem_size)
		return;
	d->notes[slot].heap_size = heap;
	d->notes[slot].nomem_size = size ? size : 1;
}

static void free_ctx(struct dsm_det *d)
{
	dsm__det_tracker_close(&d->trk);
	for (int i = 0; i < d->nranges; i++)
		dsm__det_range_close(&d->ranges[i]);
	if (d->arena)
		munmap(d->arena, d->arena_size);
	if (d->notes)
		munmap(d->notes, DET_MAX_SLOTS * sizeof(*d->notes));
	free(d->conf);
	munmap(d, sizeof(*d));
}

/* The context gets pages of its own: the SIGSEGV handler writes to it, so
 * it must never share a page with a scope range (an explicit range widened
 * to pages could cover a malloc'd context). */
static struct dsm_det *alloc_ctx(void)
{
	void *p = mmap(NULL, sizeof(struct dsm_det), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int dsm_det_open(dsm_det_t **out, const struct dsm_det_options *opt)
{
	struct dsm_config cfg;
	struct dsm_det *d;
	int rc;

	open_errmsg[0] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	if (!out)
		return -EINVAL;
	if ((rc = load_env(&cfg)) < 0)
		return rc;
	if (!(d = alloc_ctx()))
		return -ENOMEM;
	d->page = (size_t)sysconf(_SC_PAGESIZE);
	d->policy = opt && opt->policy != DSM_DET_POLICY_ENV ? opt->policy : cfg.det_conflict;
	d->flags = opt ? opt->flags : 0;
	d->delay_us = cfg.det_delay_us;
	d->write_detect = cfg.write_detect;
	if (d->policy < DSM_DET_POLICY_ERROR || d->policy > DSM_DET_POLICY_LAST)
		rc = -EINVAL;
	else if ((rc = open_arena(d, opt, &cfg)) == 0 && (rc = open_ranges(d, opt)) == 0 &&
		 (rc = dsm__det_tracker_init(&d->trk, d->ranges, d->nranges, d->page)) == 0)
		rc = dsm__det_handler_install();
	if (rc < 0) {
		free_ctx(d);
		return rc;
	}
	dsm__det_heap_bind(d, -1, DSM_DET_PARENT);
	dsm__det_register(d);
	*out = d;
	return 0;
}

/* Child side: make room for need more bytes in the mapped diff set. */
static int set_reserve(int fd, unsigned char **map, size_t *cap, size_t used,
		       size_t need)
{
	size_t ncap = *cap;
	void *p;

	if (used + need <= *cap)
		return 0;
	while (ncap < used + need)
		ncap *= 2;
	if (ftruncate(fd, (off_t)ncap) < 0)
		return -errno;
	p = mremap(*map, *cap, ncap, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	*cap = ncap;
	return 0;
}

/* Child side: the mapped diff set being written. */
struct set_out {
	int fd;
	unsigned char *map;
	size_t cap, used;
	uint64_t nrecs, fresh;
};

/* Append a record for page pg: its diff against twin, or (twin NULL) the
 * whole page, with flags (DET_REC_FULL or DET_REC_BASE). */
static int put_rec(struct set_out *o, struct det_tracker *t, unsigned char *pg,
		   const unsigned char *twin, uint32_t flags)
{
	size_t maxd = twin ? dsm__diff_max_size(t->page) : t->page;
	struct det_rec rec = { (uint64_t)(uintptr_t)pg, 0, twin ? 0 : flags };
	ssize_t len = (ssize_t)t->page;

	if (set_reserve(o->fd, &o->map, &o->cap, o->used, sizeof(rec) + maxd + 8) < 0)
		return -ENOMEM;
	if (twin)
		len = dsm__diff_encode(twin, pg, t->page, o->map + o->used + sizeof(rec), maxd);
	else
		memcpy(o->map + o->used + sizeof(rec), pg, t->page);
	if (len < 0)
		return (int)len;
	rec.len = (uint32_t)len;
	memcpy(o->map + o->used, &rec, sizeof(rec));
	o->used += (sizeof(rec) + (size_t)len + 7) & ~(size_t)7;
	o->nrecs++;
	return 0;
}

/* Child side: the fresh zone's pages up to the allocated top, whole; pages
 * never touched (not resident) or all zero are equal to the parent's and
 * skipped. */
static int put_fresh(struct set_out *o, struct det_tracker *t, unsigned char *top)
{
	static unsigned char zero[1 << 16];
	unsigned char vec[256];
	size_t pg = t->page;

	for (unsigned char *p = t->fresh_lo; p < top; p += sizeof(vec) * pg) {
		size_t n = (size_t)(top - p) / pg;
		if (n > sizeof(vec))
			n = sizeof(vec);
		if (mincore(p, n * pg, vec) < 0)
			memset(vec, 1, n);
		for (size_t i = 0; i < n; i++) {
			int rc;
			if (!(vec[i] & 1) || (pg <= sizeof(zero) && dsm__diff_same(zero, p + i * pg, pg)))
				continue;
			if ((rc = put_rec(o, t, p + i * pg, NULL, DET_REC_FULL)) < 0)
				return rc;
			o->fresh++;
		}
	}
	return 0;
}

/* Child side, kernel-recorded writes: every written page of the scope
 * (not the fresh zone: put_fresh sends it), whole, its base being the
 * parent's page at the round's start; *n counts them. */
static int put_kernel(struct set_out *o, struct det_tracker *t, size_t *n)
{
	uint32_t buf[1024];

	for (int i = 0; i < t->nranges; i++) {
		struct det_range *r = &t->ranges[i];
		size_t at = 0, next;
		while (at < r->npages) {
			ssize_t got = dsm__wp_collect(t->wp[i], at, r->npages - at, buf,
						      sizeof(buf) / sizeof(buf[0]), &next);
			if (got < 0)
				return (int)got;
			for (ssize_t k = 0; k < got; k++) {
				unsigned char *pg = r->start + (size_t)buf[k] * t->page;
				int rc;
				if (pg >= t->fresh_lo && pg < t->fresh_hi)
					continue;
				if ((rc = put_rec(o, t, pg, NULL, DET_REC_BASE)) < 0)
					return rc;
				(*n)++;
			}
			at = next;
		}
	}
	return 0;
}

/* Child side: encode a diff of every written page into the memfd, then the
 * fresh zone's pages. */
static int write_set(struct det_tracker *t, int fd, int id, unsigned char *top)
{
	struct set_out o = { fd, NULL, SET_INITIAL, sizeof(struct det_set_hdr), 0, 0 };
	size_t n = atomic_load(&t->nwritten), kernel = 0;
	struct det_set_hdr *h;
	int rc;

	if (ftruncate(fd, (off_t)o.cap) < 0)
		return -errno;
	o.map = mmap(NULL, o.cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (o.map == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		uint64_t w = t->written[i];
		if (dsm__diff_same(dsm__det_twin_addr(t, w), dsm__det_page_addr(t, w), t->page))
			continue;
		if ((rc = put_rec(&o, t, dsm__det_page_addr(t, w), dsm__det_twin_addr(t, w), 0)) < 0)
			return rc;
	}
	if (t->kernel && (rc = put_kernel(&o, t, &kernel)) < 0)
		return rc;
	if ((rc = put_fresh(&o, t, top)) < 0)
		return rc;
	h = (struct det_set_hdr *)o.map;
	*h = (struct det_set_hdr){ DET_SET_MAGIC, DET_SET_VERSION, id, 0, o.nrecs,
				   o.used, n, o.fresh, kernel };
	__atomic_store_n(&h->complete, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Test hook: sleep a pseudo-random time so children finish in any order. */
static void random_delay(int max_us)
{
	struct timespec ts;
	uint64_t x;

	if (max_us <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	usleep((useconds_t)(x % (uint64_t)max_us));
}

/* The child's work: track, run fn, send the diff set, _exit. */
static void child_run(struct dsm_det *d, struct det_space *s, void (*fn)(void *),
		      void *arg)
{
	struct det_tracker *t = &d->trk;
	unsigned char *top;

	dsm__det_heap_fresh(&t->fresh_lo, &t->fresh_hi, &top);
	if (!(t->kernel_ok && dsm__det_track_start_kernel(t) == 0) &&
	    dsm__det_track_start(t) < 0)
		_exit(121);
	random_delay(d->delay_us);
	fn(arg);
	/* no dsm__det_track_stop: the scope is only read from here on, and
	 * making it writable again would cost a pass over its page tables */
	dsm__det_heap_fresh(&t->fresh_lo, &t->fresh_hi, &top);
	_exit(write_set(t, s->fd, s->id, top) < 0 ? 122 : 0);
}

/* DSM_DET_F_WATCH_STACK: the child leaves the stack it was forked on for
 * a stack of its own, then makes the whole old one read-only, from the
 * page it left it at to the top: nothing of the child's own is there any
 * more, so any write there is a write to the parent's frames. */
static struct {
	struct dsm_det *d;
	struct det_space *s;
	void (*fn)(void *);
	void *arg;
	uintptr_t old_sp;
} fresh_stack_args;

static void child_on_own_stack(void)
{
	struct dsm_det *d = fresh_stack_args.d;
	struct det_tracker *t = &d->trk;
	unsigned char *lo = (unsigned char *)(fresh_stack_args.old_sp & ~(uintptr_t)(d->page - 1));

	if (d->stack_hi > lo &&
	    mprotect(lo, (size_t)(d->stack_hi - lo), PROT_READ) == 0) {
		t->watch_lo = lo;
		t->watch_hi = d->stack_hi;
	}
	child_run(d, fresh_stack_args.s, fresh_stack_args.fn, fresh_stack_args.arg);
}

/* The child's own stack: as big as the stack limit (at least 8 MiB). */
static void *child_stack(size_t *size)
{
	struct rlimit rl;
	void *stack;

	*size = 8u << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > *size)
		*size = (size_t)rl.rlim_cur;
	stack = mmap(NULL, *size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	return stack == MAP_FAILED ? NULL : stack;
}

static void switch_stack(struct dsm_det *d, struct det_space *s, void (*fn)(void *),
			 void *arg)
{
	static ucontext_t uc, here; /* the child's: not on the stack it leaves */
	static size_t size;
	static void *stack;

	if (!(stack = child_stack(&size)) || getcontext(&uc) < 0)
		return; /* no watch: run on the old stack */
	uc.uc_stack.ss_sp = stack;
	uc.uc_stack.ss_size = size;
	uc.uc_link = NULL;
	fresh_stack_args.d = d;
	fresh_stack_args.s = s;
	fresh_stack_args.fn = fn;
	fresh_stack_args.arg = arg;
	fresh_stack_args.old_sp = (uintptr_t)__builtin_frame_address(0);
	makecontext(&uc, child_on_own_stack, 0);
	swapcontext(&here, &uc); /* never comes back */
}

static void child_main(struct dsm_det *d, struct det_space *s,
		       void (*fn)(void *), void *arg)
{
	struct det_tracker *t = &d->trk;

	dsm__det_handler_child();
	/* The kernel may record this child's writes when the parent tracks its
	 * own and had written nothing of the scope yet: the child's pages at
	 * fork are then the round's base, which the parent still has at the
	 * merge (its twin, or the page). Untracked, a parent may have written
	 * between this fork and the merge (MapReduce's does): the fault path
	 * keeps the child's own twins. */
	t->kernel_ok = d->write_detect != DSM_WP_SEGV && d->tracking_parent &&
		       atomic_load(&t->nwritten) == 0;
	dsm__det_tracker_reset(t); /* forget the parent's twins */
	t->space_id = s->id;
	t->note = &d->notes[s->slot];
	/* stdout's buffer is the parent's (maybe in the scope): unbuffered,
	 * what the space prints goes out at once and nothing is merged */
	setvbuf(stdout, NULL, _IONBF, 0);
	dsm__det_heap_bind(d, s->slot, s->id);
	if (d->stack_hi)
		switch_stack(d, s, fn, arg);
	child_run(d, s, fn, arg);
}

/* DSM_DET_F_WATCH_STACK: the top of the calling thread's stack (cached
 * per thread); NULL when not watching. ASan does not follow a child onto
 * another stack (swapcontext): no watch under it. */
static void watch_stack(struct dsm_det *d)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

#if defined(__SANITIZE_ADDRESS__)
	d->flags &= ~DSM_DET_F_WATCH_STACK;
#endif
	if (!(d->flags & DSM_DET_F_WATCH_STACK)) {
		d->stack_hi = NULL;
		return;
	}
	if (d->stack_thread == (unsigned long)pthread_self() && d->stack_hi)
		return;
	d->stack_hi = NULL;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
		d->stack_hi = (unsigned char *)addr + size;
		d->stack_thread = (unsigned long)pthread_self();
	}
	pthread_attr_destroy(&attr);
}

/* Parent side: start tracking its own writes at the first spawn. */
static int round_begin(struct dsm_det *d)
{
	int rc;

	d->nconf = 0;
	d->errmsg[0] = '\0';
	if ((d->flags & DSM_DET_F_NO_PARENT_TRACKING) || d->tracking_parent)
		return 0;
	dsm__det_tracker_reset(&d->trk);
	if ((rc = dsm__det_track_start(&d->trk)) < 0)
		return rc;
	d->tracking_parent = 1;
	return 0;
}

int dsm_det_spawn(dsm_det_t *d, void (*fn)(void *), void *arg)
{
	struct det_space *s;
	int rc;

	if (!d || !fn)
		return -EINVAL;
	if (d->nspaces >= DET_MAX_SLOTS)
		return -EBUSY;
	if (d->nspaces == 0 && (rc = round_begin(d)) < 0)
		return rc;
	if (d->nspaces == 0)
		watch_stack(d);
	s = &d->spaces[d->nspaces];
	memset(s, 0, sizeof(*s));
	s->id = d->next_id;
	s->slot = d->nspaces;
	memset(&d->notes[s->slot], 0, sizeof(d->notes[0]));
	s->fd = memfd_create("dsm_det_space", MFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0) {
		rc = -errno;
		close(s->fd);
		return rc;
	}
	if (s->pid == 0)
		child_main(d, s, fn, arg);
	d->nspaces++;
	d->next_id++;
	d->stats.spaces++;
	return s->id;
}

/* Describe how a child ended if it did not complete; 0 if it did. */
static int child_failed(struct dsm_det *d, const struct det_space *s, char *buf,
			size_t cap)
{
	const struct det_set_hdr *h = (const void *)s->set;
	int complete = s->setlen >= sizeof(*h) && h->magic == DET_SET_MAGIC &&
		       __atomic_load_n(&h->complete, __ATOMIC_ACQUIRE) == 1;

	if (WIFSIGNALED(s->wstatus)) {
		snprintf(buf, cap, "space %d (pid %d) was killed by signal %d (%s)",
			 s->id, (int)s->pid, WTERMSIG(s->wstatus),
			 strsignal(WTERMSIG(s->wstatus)));
		return 1;
	}
	if (!complete || WEXITSTATUS(s->wstatus) != 0) {
		snprintf(buf, cap, "space %d (pid %d) exited with status %d without "
			 "returning from its function", s->id, (int)s->pid,
			 WEXITSTATUS(s->wstatus));
		return 1;
	}
	return 0;
}

/* What the space noted before it failed, after buf's first len bytes. */
static void add_note(const struct dsm_det *d, const struct det_space *s, char *buf,
		     size_t cap)
{
	const struct det_note *n = &d->notes[s->slot];
	size_t len = strlen(buf);
	char heap[32];

	if (n->nomem_size) {
		if (d->heap_arg)
			snprintf(heap, sizeof(heap), "%zuM", d->heap_arg >> 20);
		else
			snprintf(heap, sizeof(heap), "auto = %zuG", d->arena_size >> 30);
		snprintf(buf + len, cap - len, ": out of memory: its sub-heap (%zu MiB, "
			 "1/128 of the arena, DSM_DET_HEAP=%s) could not serve %llu "
			 "bytes; raise DSM_DET_HEAP (e.g. DSM_DET_HEAP=%zuG)",
			 (size_t)(n->heap_size >> 20), heap,
			 (unsigned long long)n->nomem_size,
			 ((d->arena_size >> 30) + 1) * 4);
	} else if (n->outside_kind == DET_OUTSIDE_STACK) {
		snprintf(buf + len, cap - len, ": it wrote to %p, on the parent's "
			 "stack, which is outside the scope (the write would be lost; "
			 "pass heap memory or globals instead, docs/det.md)",
			 (void *)(uintptr_t)n->outside_addr);
	}
}

/* Parent side: wait for space s and map its diff set. */
static int collect(struct dsm_det *d, struct det_space *s, char *why, size_t cap)
{
	struct stat st;
	const char *bad = NULL;

	while (waitpid(s->pid, &s->wstatus, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (fstat(s->fd, &st) == 0 && st.st_size > 0) {
		s->setlen = (size_t)st.st_size;
		s->set = mmap(NULL, s->setlen, PROT_READ, MAP_SHARED, s->fd, 0);
		if (s->set == MAP_FAILED) {
			s->set = NULL;
			s->setlen = 0;
		}
	}
	if (child_failed(d, s, why, cap)) {
		add_note(d, s, why, cap);
		return DSM_EDETCHILD;
	}
	if (dsm__det_set_check(d, s, &bad) < 0) {
		snprintf(why, cap, "space %d sent a malformed diff set: %s", s->id, bad);
		return -EPROTO;
	}
	s->ok = 1;
	d->stats.diff_bytes += ((const struct det_set_hdr *)s->set)->used;
	d->stats.pages_twinned += ((const struct det_set_hdr *)s->set)->twinned;
	d->stats.pages_fresh += ((const struct det_set_hdr *)s->set)->fresh;
	d->stats.pages_kernel += ((const struct det_set_hdr *)s->set)->kernel;
	return 0;
}

static void release_spaces(struct dsm_det *d)
{
	for (int i = 0; i < d->nspaces; i++) {
		struct det_space *s = &d->spaces[i];
		if (s->set)
			munmap((void *)s->set, s->setlen);
		close(s->fd);
	}
	d->nspaces = 0;
}

int dsm_det_join(dsm_det_t *d)
{
	int rc = 0, mrc;
	char why[1024];

	if (!d)
		return -EINVAL;
	for (int i = 0; i < d->nspaces; i++) {
		int r = collect(d, &d->spaces[i], why, sizeof(why));
		if (r < 0 && rc == 0) {
			rc = r;
			dsm__det_errf(d, "%s", why);
		}
	}
	mrc = dsm__det_merge(d);
	release_spaces(d);
	d->stats.rounds++;
	return rc ? rc : mrc;
}

int dsm_det_close(dsm_det_t *d)
{
	if (!d)
		return 0;
	for (int i = 0; i < d->nspaces; i++) {
		int st;
		kill(d->spaces[i].pid, SIGKILL);
		waitpid(d->spaces[i].pid, &st, 0);
	}
	release_spaces(d);
	if (d->tracking_parent)
		dsm__det_track_stop(&d->trk);
	dsm__det_unregister(d);
	dsm__det_heap_unbind(d);
	free_ctx(d);
	return 0;
}

/* Resize the tracker after the ranges changed (between rounds). */
static int retrack(struct dsm_det *d)
{
	dsm__det_tracker_close(&d->trk);
	return dsm__det_tracker_init(&d->trk, d->ranges, d->nranges, d->page);
}

int dsm_det_add_range(dsm_det_t *d, void *addr, size_t len)
{
	struct dsm_det_range r = { addr, len };
	int rc;

	if (!d)
		return -EINVAL;
	if (d->nspaces || d->tracking_parent)
		return -EBUSY;
	if (d->nranges == DET_MAX_RANGES)
		return -ENOSPC;
	if ((rc = check_range(d, &r)) < 0)
		return rc;
	rc = dsm__det_range_init(&d->ranges[d->nranges], addr, len, d->page);
	if (rc < 0)
		return rc;
	d->nranges++;
	return retrack(d);
}

int dsm_det_remove_range(dsm_det_t *d, void *addr)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(d ? d->page - 1 : 0);

	if (!d)
		return -EINVAL;
	if (d->nspaces || d->tracking_parent)
		return -EBUSY;
	for (int i = 1; i < d->nranges; i++) {
		if ((uintptr_t)d->ranges[i].start != a)
			continue;
		dsm__det_range_close(&d->ranges[i]);
		memmove(&d->ranges[i], &d->ranges[i + 1],
			(size_t)(d->nranges - i - 1) * sizeof(d->ranges[0]));
		d->nranges--;
		return retrack(d);
	}
	return -ENOENT;
}

size_t dsm_det_conflicts(const dsm_det_t *d, const struct dsm_det_conflict **list)
{
	if (list)
		*list = d ? d->conf : NULL;
	return d ? d->nconf : 0;
}

int dsm_det_stats(const dsm_det_t *d, struct dsm_det_stats *out)
{
	if (!d)
		d = dsm__det_current();
	if (!d || !out)
		return -EINVAL;
	*out = d->stats;
	return 0;
}
