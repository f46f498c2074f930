/*
 * ec.c — entry consistency (Midway): data bound to a lock with dsm_bind
 * moves with the lock, and an acquirer receives only the bound bytes
 * modified since its previous acquire of that lock. This file holds the
 * bound pages: bindings, the fault path (twin on the first write within a
 * critical section), byte-granular diffs of a lock's ranges, their
 * application, and the violation detector (DSM_EC_CHECK). The locks
 * themselves (a probable-owner chain, update logs, Lamport times) are in
 * ec_lock.c; docs/protocols/ec.md has the state machines and flows.
 *
 * Pages that hold no bound byte are hlrc's: ec passes their faults,
 * messages, barriers and the runtime's heap lock to hlrc unchanged, so
 * unbound data is kept under (home-based lazy) release consistency.
 *
 * Bound page states (enum dsm_page_state):
 *   READ_SHARED  valid, read-only: no write here since the last release
 *   DIRTY        valid, writable, twinned: written since
 *   INVALID      DSM_EC_CHECK only: valid contents, but no hold of a lock
 *                bound to the page: every access faults and is checked
 */
#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "ec.h"
#include "hetero/hooks.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"
#include "vm/diff.h"

/* --- checked transitions (docs/protocols/ec.md) --- */

#define I DSM_PAGE_INVALID
#define R DSM_PAGE_READ_SHARED
#define D DSM_PAGE_DIRTY
static const signed char next_state[EC_EV_COUNT_][DSM_PAGE_STATE_COUNT_] = {
	/*                 INVALID READ_SHARED WRITE_EXCL DIRTY */
	[EC_EV_TAKE]  = { R,      R,          R,         R },
	[EC_EV_WRITE] = { -1,     D,          -1,        -1 },
	[EC_EV_CLOSE] = { -1,     R,          -1,        R },
	[EC_EV_GUARD] = { -1,     I,          -1,        -1 },
	[EC_EV_OPEN]  = { R,      -1,         -1,        -1 },
};
#undef I
#undef R
#undef D

static const char *const event_names[EC_EV_COUNT_] = {
	[EC_EV_TAKE] = "TAKE", [EC_EV_WRITE] = "WRITE", [EC_EV_CLOSE] = "CLOSE",
	[EC_EV_GUARD] = "GUARD", [EC_EV_OPEN] = "OPEN",
};
static const struct dsm_page_machine ec_machine = {
	.proto = "ec", .nevents = EC_EV_COUNT_, .event_names = event_names,
	.next = next_state,
};

/* Move bound page p along ev. Region lock held. 0 or DSM_EPROTO. */
int dsm__ec_step(struct dsm_node *n, size_t p, enum ec_event ev)
{
	return dsm__page_step(n, &ec_machine, p, &n->region->pages[p], ev);
}

/* --- locks by id --- */

struct ec_lock *dsm__ec_lock_get(struct dsm_node *n, unsigned id, int create)
{
	struct ec_lock **b = &ES(n)->bucket[id % EC_BUCKETS], *l;

	for (l = *b; l; l = l->next)
		if (l->id == id)
			return l;
	if (!create || !(l = calloc(1, sizeof(*l))))
		return NULL;
	l->id = id;
	l->owner = (int)(id % (unsigned)n->count); /* the first owner */
	l->is_owner = l->owner == n->id;
	l->next = *b;
	*b = l;
	return l;
}

/* Barrier id's record (its ranges), created when create; mu held. */
static struct ec_lock *bar_get(struct dsm_node *n, unsigned id, int create)
{
	struct ec_lock **b = &ES(n)->bbucket[id % EC_BUCKETS], *l;

	for (l = *b; l; l = l->next)
		if (l->id == id)
			return l;
	if (!create || !(l = calloc(1, sizeof(*l))))
		return NULL;
	l->id = id;
	l->barrier = 1;
	l->next = *b;
	*b = l;
	return l;
}

/* The range holding region offset off, or NULL. Region lock held.
 * Async-signal-safe. */
static struct ec_range *range_at(struct ec_state *es, size_t off)
{
	size_t lo = 0, hi = es->nranges;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct ec_range *r = &es->ranges[mid];
		if (off < r->off)
			hi = mid;
		else if (off >= r->off + r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* --- the violation detector (fault path: async-signal-safe) --- */

static void say_num(struct dsm_line *l, const char *label, uint64_t v, int base)
{
	dsm__line_put(l, label);
	if (base == 16)
		dsm__line_put(l, "0x");
	dsm__line_num(l, v, base);
}

/* Report an access at addr on this node: what, the binding, a backtrace. */
static void report(struct dsm_node *n, const void *addr, const char *what,
		   const struct ec_range *r)
{
	struct dsm_line l = { .len = 0 };
	void *bt[32];
	int depth;

	say_num(&l, "dsm: ec check: node ", (uint64_t)n->id, 10);
	dsm__line_put(&l, ": ");
	dsm__line_put(&l, what);
	say_num(&l, " at ", (uint64_t)(uintptr_t)addr, 16);
	if (r) {
		say_num(&l, r->lock->barrier ? ", bound to barrier " : ", bound to lock ",
			r->lock->id, 10);
		say_num(&l, " (range ", (uint64_t)(uintptr_t)(n->region->app + r->off), 16);
		say_num(&l, " + ", r->len, 10);
		dsm__line_put(&l, ")");
	}
	dsm__line_put(&l, n->cfg.ec_check == DSM_EC_CHECK_ERROR ? "; stopping\n"
							       : "; continuing\n");
	dsm__line_write(&l);
	depth = backtrace(bt, 32);
	backtrace_symbols_fd(bt, depth, 2);
}

/* Is this access to bound page p a violation? Reports it; returns the
 * error the access must fail with (DSM_EC_CHECK=error) or 0. */
static int check_access(struct dsm_node *n, int want_write)
{
	struct ec_state *es = ES(n);
	void *addr = dsm__fault_addr;
	struct ec_range *r;

	if (!es->check || !dsm__region_contains(n->region, addr))
		return 0;
	r = range_at(es, (size_t)((unsigned char *)addr - n->region->app));
	if (!r || r->lock->barrier)
		return 0; /* an unbound byte of a bound page; barrier data */
	if (want_write == 1 && !r->lock->held_excl)
		report(n, addr, "write to bound data without an exclusive hold", r);
	else if (want_write != 1 && !r->lock->held_excl && !r->lock->held_shared)
		report(n, addr, "read of bound data without a hold", r);
	else
		return 0;
	return es->check == DSM_EC_CHECK_ERROR ? DSM_EPROTO : 0;
}

/* --- fault path --- */

static int ec_fault(struct dsm_node *n, size_t p, int want_write)
{
	struct ec_state *es = ES(n);
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];
	int err = 0, checked = 0;

	if (!__atomic_load_n(&es->pages[p].bound, __ATOMIC_ACQUIRE)) {
		if (es->check && want_write == 1 &&
		    __atomic_load_n(&es->excl_holds, __ATOMIC_RELAXED))
			report(n, dsm__fault_addr, "write to unbound shared data inside"
			       " a critical section (a missing dsm_bind?)", NULL);
		return dsm__proto_hlrc.fault(n, p, want_write);
	}
	pthread_mutex_lock(&r->lock);
	if (pg->state == DSM_PAGE_INVALID) { /* guarded: no hold here */
		if ((err = check_access(n, want_write)))
			goto out;
		if ((err = dsm__ec_step(n, p, EC_EV_OPEN)))
			goto out;
		checked = 1; /* one report per access */
	}
	if (want_write == 1 && pg->state == DSM_PAGE_READ_SHARED) {
		if (!checked && (err = check_access(n, 1)))
			goto out;
		if (!es->pages[p].twinned) { /* (hlrc may have closed it meanwhile) */
			memcpy(es->twins + p * es->page_size, dsm__page_rt(r, p),
			       es->page_size);
			es->pages[p].twinned = 1;
			es->pages[p].idle = 0;
			DSM_STAT_ADD(n, twins, 1);
		}
		if ((err = dsm__ec_step(n, p, EC_EV_WRITE)))
			goto out;
	}
	DSM_STAT_ADD(n, local_faults, 1);
	if (want_write == 1)
		DSM_STAT_ADD(n, write_faults, 1);
	else
		DSM_STAT_ADD(n, read_faults, 1);
	err = dsm__proto_set_prot(n, p, pg);
out:
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* --- a lock's pages --- */

/* Call fn for every page of l's ranges with the ranges' pieces on it
 * (offsets in the page, sorted, not touching). */
#define MAX_PIECES 256
typedef int (*page_fn)(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		       unsigned npc, void *arg);

static int each_page_of(struct dsm_node *n, const size_t *roff, const size_t *rlen,
			unsigned nr, page_fn fn, void *arg)
{
	size_t ps = ES(n)->page_size, cur = (size_t)-1;
	struct ec_piece pc[MAX_PIECES];
	unsigned npc = 0;
	int err;

	for (unsigned i = 0; i < nr; i++) {
		size_t a = roff[i], end = a + rlen[i];
		while (a < end) {
			size_t p = a / ps, b = (p + 1) * ps < end ? (p + 1) * ps : end;
			if (p != cur || npc == MAX_PIECES) {
				if (npc && (err = fn(n, cur, pc, npc, arg)))
					return err;
				cur = p;
				npc = 0;
			}
			pc[npc++] = (struct ec_piece){ (uint32_t)(a - p * ps), (uint32_t)(b - a) };
			a = b;
		}
	}
	return npc ? fn(n, cur, pc, npc, arg) : 0;
}

static int each_page(struct dsm_node *n, struct ec_lock *l, page_fn fn, void *arg)
{
	return each_page_of(n, l->roff, l->rlen, l->nr, fn, arg);
}

/* --- bindings --- */

/* Insert [off, off+len) into l's sorted ranges, merging touching ones.
 * mu and the region lock held. */
static int lock_add_range(struct ec_lock *l, size_t off, size_t len)
{
	unsigned i, j;

	if (l->nr == l->rcap) {
		unsigned cap = l->rcap ? 2 * l->rcap : 4;
		size_t *o = realloc(l->roff, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		l->roff = o;
		if (!(o = realloc(l->rlen, cap * sizeof(*o))))
			return -ENOMEM;
		l->rlen = o;
		l->rcap = cap;
	}
	for (i = 0; i < l->nr && l->roff[i] < off; i++)
		;
	memmove(l->roff + i + 1, l->roff + i, (l->nr - i) * sizeof(size_t));
	memmove(l->rlen + i + 1, l->rlen + i, (l->nr - i) * sizeof(size_t));
	l->roff[i] = off;
	l->rlen[i] = len;
	l->nr++;
	l->bytes += len;
	for (i = 0, j = 0; i < l->nr; i++) { /* merge touching neighbours (and
						  * a barrier's overlapping ones) */
		if (j && l->roff[j - 1] + l->rlen[j - 1] >= l->roff[i]) {
			size_t end = l->roff[i] + l->rlen[i];
			if (end > l->roff[j - 1] + l->rlen[j - 1])
				l->rlen[j - 1] = end - l->roff[j - 1];
			continue;
		}
		l->roff[j] = l->roff[i];
		l->rlen[j++] = l->rlen[i];
	}
	l->nr = j;
	return 0;
}

/* Add the range to the fault path's table. 1 if exactly this binding is
 * there already, -EINVAL if it overlaps another one. Region lock held. */
static int table_add(struct ec_state *es, size_t off, size_t len, struct ec_lock *l)
{
	size_t i;

	for (i = 0; i < es->nranges && es->ranges[i].off < off; i++)
		;
	if (i < es->nranges && es->ranges[i].off == off && es->ranges[i].len == len)
		return es->ranges[i].lock == l ? 1 : -EINVAL;
	if ((i > 0 && es->ranges[i - 1].off + es->ranges[i - 1].len > off) ||
	    (i < es->nranges && off + len > es->ranges[i].off))
		return -EINVAL;
	if (es->nranges == es->rcap) {
		size_t cap = es->rcap ? 2 * es->rcap : 16;
		struct ec_range *t = realloc(es->ranges, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		es->ranges = t;
		es->rcap = cap;
	}
	memmove(es->ranges + i + 1, es->ranges + i, (es->nranges - i) * sizeof(*es->ranges));
	es->ranges[i] = (struct ec_range){ .off = off, .len = len, .lock = l };
	es->nranges++;
	return 0;
}

/* A page becomes bound: what this node holds of it is ec's from now on
 * (hlrc's copy; the bound bytes are made current by the grants). */
static int take_page(struct dsm_node *n, size_t p)
{
	struct ec_state *es = ES(n);
	struct dsm_page *pg = dsm__hlrc_pg(n, p);
	int err;

	if (es->pages[p].bound)
		return 0;
	if ((err = dsm__ec_step(n, p, EC_EV_TAKE)))
		return err;
	__atomic_store_n(&es->pages[p].bound, 1, __ATOMIC_RELEASE);
	HS(n)->pages[p].fetching = 1; /* hlrc's readahead must not install it */
	HS(n)->pages[p].ktrack = 0;   /* nor its kernel tracking report writes:
				       * ec detects them (protection by state) */
	if (es->check && !es->pages[p].open && !es->pages[p].bar &&
	    (err = dsm__ec_step(n, p, EC_EV_GUARD)))
		return err;
	return dsm__proto_set_prot(n, p, pg);
}

int dsm__ec_span_push(struct ec_span **a, unsigned *len, unsigned *cap,
		      const struct ec_span *s)
{
	if (*len == *cap) {
		unsigned c = *cap ? 2 * *cap : 8;
		struct ec_span *g = realloc(*a, c * sizeof(*g));
		if (!g)
			return -ENOMEM;
		*a = g;
		*cap = c;
	}
	(*a)[(*len)++] = *s;
	return 0;
}

static int open_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		     unsigned npc, void *arg);

/* A hold's count on page p is taken back while its lock's pages change. */
static int unopen_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		       unsigned npc, void *arg)
{
	(void)pc;
	(void)npc;
	(void)arg;
	if (ES(n)->pages[p].open)
		ES(n)->pages[p].open--;
	return 0;
}

/* Bind span s to l here: the table, l's ranges, its pages (a hold of l
 * here covers the new pages too). 1: known already. mu and the region
 * lock held. */
static int add_span(struct dsm_node *n, struct ec_lock *l, const struct ec_span *s)
{
	struct ec_state *es = ES(n);
	size_t ps = es->page_size, holds = (size_t)l->held_excl + (size_t)l->held_shared;
	int err;

	if (l->barrier) { /* not checked by the detector; re-binding (memory
			   * reused after dsm_free) only widens the set */
		for (size_t p = s->off / ps; p <= (s->off + s->len - 1) / ps; p++)
			if (es->pages[p].bar < UINT8_MAX)
				es->pages[p].bar++;
		err = lock_add_range(l, s->off, s->len);
		for (size_t p = s->off / ps; !err && p <= (s->off + s->len - 1) / ps; p++)
			err = take_page(n, p);
		return err;
	}
	if ((err = table_add(es, s->off, s->len, l)))
		return err;
	for (size_t h = 0; h < holds; h++)
		each_page(n, l, unopen_page, NULL);
	if ((err = lock_add_range(l, s->off, s->len))) {
		size_t i; /* undo the table entry */
		for (i = 0; es->ranges[i].off != s->off; i++)
			;
		memmove(es->ranges + i, es->ranges + i + 1,
			(es->nranges - i - 1) * sizeof(*es->ranges));
		es->nranges--;
	}
	for (size_t p = s->off / ps; !err && p <= (s->off + s->len - 1) / ps; p++)
		err = take_page(n, p);
	for (size_t h = 0; h < holds; h++)
		each_page(n, l, open_page, NULL);
	return err;
}

int dsm__ec_learn_span(struct dsm_node *n, struct ec_lock *l, const struct ec_span *s)
{
	int err;

	if (s->len == 0 || s->off >= n->region->size || s->len > n->region->size - s->off)
		return DSM_EPROTO;
	pthread_mutex_lock(&n->region->lock);
	err = add_span(n, l, s);
	pthread_mutex_unlock(&n->region->lock);
	if (err == 1) /* bound here too: the list has it now */
		for (unsigned i = 0; i < l->npend; i++)
			if (l->pend[i].off == s->off && l->pend[i].len == s->len) {
				l->pend[i] = l->pend[--l->npend];
				break;
			}
	return err == -EINVAL ? DSM_EPROTO : err < 0 ? err : 0;
}

/*
 * dsm_bind under ec. Bindings travel with the lock: a binding made here
 * joins the lock's list at this node's next exclusive hold of the lock
 * (at once if it holds it), so what this node writes to the range until
 * then is in that hold's release diffs; a grant carries the bindings the
 * acquirer lacks, with their contents. Binding the same range to the same lock again (several
 * nodes binding the same data) is fine; a range that overlaps another
 * binding is -EINVAL. hlrc's open interval is closed and every page of
 * the range made valid here (a read through the application view: hlrc
 * fetches it) before the pages become bound. A barrier binding is
 * collective (every node binds it): at each such barrier every node's
 * changes to its ranges go to all the others (dsm__ec_barrier_*).
 */
static int ec_bind(struct dsm_node *n, unsigned id, int barrier, void *addr, size_t len)
{
	struct ec_state *es = ES(n);
	struct dsm_region *r = n->region;
	struct ec_span s = { (size_t)((unsigned char *)addr - r->app), len };
	size_t ps = r->page_size;
	struct ec_lock *l;
	int err;

	if ((err = dsm__hlrc_close_interval(n)))
		return err;
	for (size_t p = s.off / ps; p <= (s.off + len - 1) / ps; p++)
		if (!__atomic_load_n(&es->pages[p].bound, __ATOMIC_ACQUIRE))
			(void)*(volatile unsigned char *)(r->app + p * ps);
	pthread_mutex_lock(&es->mu);
	pthread_mutex_lock(&r->lock);
	l = barrier ? bar_get(n, id, 1) : dsm__ec_lock_get(n, id, 1);
	err = l ? add_span(n, l, &s) : -ENOMEM;
	pthread_mutex_unlock(&r->lock);
	if (!err && !barrier) /* published at this node's next exclusive hold: what it
		   * writes until then is in that release's diffs */
		err = l->held_excl ? dsm__ec_span_push(&l->gl, &l->ngl, &l->glcap, &s)
				   : dsm__ec_span_push(&l->pend, &l->npend, &l->pendcap, &s);
	pthread_mutex_unlock(&es->mu);
	return err == 1 ? 0 : err;
}

/* --- a lock's pages: diffs, holds, snapshots --- */

/* Append one log entry header; returns where its length goes. */
static int entry_begin(struct dsm_buf *out, uint64_t time, size_t p, size_t *at)
{
	unsigned char h[16];

	dsm__put_le64(h, time);
	dsm__put_le32(h + 8, (uint32_t)p);
	dsm__put_le32(h + 12, 0);
	*at = out->len + 12;
	return dsm__buf_put(out, h, sizeof(h));
}

/* The diff of page p (vs twin) over the pieces into es->scratch; its
 * length (4: no change) or a negative error. mask_ok: the smaller of the
 * run and mask encodings (ec_diff.c) may be used. In a mixed job only
 * runs, widened to whole fields, so that receivers of another byte order
 * can convert them (src/hetero). */
static long diff_out(struct dsm_node *n, size_t p, const unsigned char *twin,
		     const unsigned char *page, const struct ec_piece *pc, unsigned npc,
		     int mask_ok)
{
	struct ec_state *es = ES(n);
	size_t len;

	if (mask_ok && !n->hetero_swap)
		return dsm__diff_same(twin, page, es->page_size) ? 4 :
		       (long)dsm__ec_diff_encode(twin, page, pc, npc, es->scratch);
	len = dsm__ec_diff_runs(twin, page, pc, npc, es->scratch);
	if (len <= 4)
		return (long)len;
	return dsm__hetero_diff_out(n, p, page, es->scratch, len,
				    dsm__diff_max_size(es->page_size));
}

struct close_arg {
	struct ec_lock *lock;
	int excl;
	uint64_t time;
	struct dsm_buf *out;
	int diffs;
};

/* A hold of a lock ends on page p: diff its pieces (exclusive), refresh
 * them in the twin, and when no hold is left drop the twin and write
 * protect (guard, with DSM_EC_CHECK). Region lock held. */
static int close_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		      unsigned npc, void *arg)
{
	struct close_arg *a = arg;
	struct ec_state *es = ES(n);
	struct ec_page *ep = &es->pages[p];
	unsigned char *page = dsm__page_rt(n->region, p);
	unsigned char *twin = es->twins + p * es->page_size;
	int err = 0;

	if (ep->twinned && a->excl) {
		long w = diff_out(n, p, twin, page, pc, npc, 0);
		size_t len = w > 0 ? (size_t)w : 0, at;
		if (w < 0)
			return (int)w;
		if (len > 4) {
			if ((err = entry_begin(a->out, a->time, p, &at)) ||
			    (err = dsm__buf_put(a->out, es->scratch, len)))
				return err;
			dsm__put_le32(a->out->data + at, (uint32_t)len);
			DSM_STAT_ADD(n, diffs_created, 1);
			a->diffs++;
		}
		for (unsigned k = 0; k < npc; k++)
			memcpy(twin + pc[k].off, page + pc[k].off, pc[k].len);
	}
	if (ep->open)
		ep->open--;
	if (ep->open || ep->bar) /* a barrier's data: its twin stays */
		return 0;
	if (ep->twinned) {
		ep->twinned = 0;
		err = dsm__ec_step(n, p, EC_EV_CLOSE);
	}
	if (!err && es->check)
		err = dsm__ec_step(n, p, EC_EV_GUARD);
	return err ?: dsm__proto_set_prot(n, p, &n->region->pages[p]);
}

static int open_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		     unsigned npc, void *arg)
{
	struct ec_page *ep = &ES(n)->pages[p];
	int err = 0;

	(void)pc;
	(void)npc;
	(void)arg;
	if (ep->open++ == 0 && n->region->pages[p].state == DSM_PAGE_INVALID) {
		err = dsm__ec_step(n, p, EC_EV_OPEN);
		err = err ?: dsm__proto_set_prot(n, p, &n->region->pages[p]);
	}
	return err;
}

void dsm__ec_open(struct dsm_node *n, struct ec_lock *l, int mode)
{
	pthread_mutex_lock(&n->region->lock);
	if (mode == DSM_LOCK_EXCL) {
		l->held_excl = 1;
		ES(n)->excl_holds++;
	} else {
		l->held_shared++;
	}
	each_page(n, l, open_page, NULL);
	pthread_mutex_unlock(&n->region->lock);
}

int dsm__ec_close(struct dsm_node *n, struct ec_lock *l, int mode, uint64_t time,
		  struct dsm_buf *out)
{
	struct close_arg a = { .lock = l, .excl = mode == DSM_LOCK_EXCL, .time = time,
			       .out = out };
	int err;

	pthread_mutex_lock(&n->region->lock);
	err = each_page(n, l, close_page, &a);
	if (mode == DSM_LOCK_EXCL) {
		l->held_excl = 0;
		ES(n)->excl_holds--;
	} else {
		l->held_shared--;
	}
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* src: the node whose byte order the diffs are in (a grant's sender: it
 * logs what it applied in its own order; a barrier's manager: it converted
 * every arrival to its own order). */
static int apply(struct dsm_node *n, int src, const unsigned char *p, size_t len,
		 int take)
{
	struct ec_state *es = ES(n);
	struct dsm_region *r = n->region;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	while (!err && len) {
		uint32_t page, dl;
		if (len < 16 || (dl = dsm__get_le32(p + 12)) > len - 16 ||
		    (page = dsm__get_le32(p + 8)) >= es->npages ||
		    (!es->pages[page].bound && (!take || take_page(n, page)))) {
			err = DSM_EPROTO;
			break;
		}
		if ((err = dsm__hetero_diff_in(n, src, page, p + 16, dl)))
			break;
		err = dsm__ec_diff_apply(dsm__page_rt(r, page), es->page_size, p + 16, dl);
		if (!err && es->pages[page].twinned)
			err = dsm__ec_diff_apply(es->twins + (size_t)page * es->page_size,
					      es->page_size, p + 16, dl);
		if (!err)
			DSM_STAT_ADD(n, diffs_applied, 1);
		else
			err = DSM_EPROTO;
		p += 16 + dl;
		len -= 16 + dl;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

int dsm__ec_apply(struct dsm_node *n, int src, const unsigned char *p, size_t len)
{
	return apply(n, src, p, len, 0);
}

/* --- barriers: each node's changes to the barrier's data go to all --- */

/* Diffs of barrier b's ranges on twinned pages, twins refreshed. A
 * twinned page stays writable until EC_BAR_IDLE barriers in a row found
 * it unchanged: phase codes (a transpose, a sweep) write the same pages in
 * every phase or every other one, often with the values they had (a
 * relaxation's still regions), and a fault, a twin copy and two
 * protection changes per page and phase cost more than comparing the page
 * with its twin at each barrier (0.2 us unchanged). Then, if no hold keeps
 * it open and no other barrier shares it, it loses its twin and is write
 * protected again. */
#define EC_BAR_IDLE 8
static int bar_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		    unsigned npc, void *arg)
{
	struct ec_state *es = ES(n);
	struct ec_page *ep = &es->pages[p];
	struct dsm_buf *out = arg;
	unsigned char *page = dsm__page_rt(n->region, p);
	unsigned char *twin = es->twins + p * es->page_size;
	size_t len, at;
	long w;
	int err;

	if (!ep->twinned)
		return 0;
	if ((w = diff_out(n, p, twin, page, pc, npc, 1)) < 0)
		return (int)w;
	if ((len = (size_t)w) > 4) {
		if ((err = entry_begin(out, 0, p, &at)) ||
		    (err = dsm__buf_put(out, es->scratch, len)))
			return err;
		dsm__put_le32(out->data + at, (uint32_t)len);
		DSM_STAT_ADD(n, diffs_created, 1);
		ep->idle = 0;
		for (unsigned k = 0; k < npc; k++)
			memcpy(twin + pc[k].off, page + pc[k].off, pc[k].len);
	} else if (ep->idle < EC_BAR_IDLE) {
		ep->idle++;
	}
	if (ep->open || ep->bar > 1 || ep->idle < EC_BAR_IDLE)
		return 0;
	ep->twinned = 0;
	return dsm__ec_step(n, p, EC_EV_CLOSE) ?:
	       dsm__proto_set_prot(n, p, &n->region->pages[p]);
}

/* A payload: {u32 len, hlrc's part, ec's part}; split it. */
static int split(const void *payload, size_t len, const unsigned char **h,
		 size_t *hl, const unsigned char **e, size_t *el)
{
	const unsigned char *p = payload;

	if (len < 4 || (*hl = dsm__get_le32(p)) > len - 4)
		return DSM_EPROTO;
	*h = p + 4;
	*e = p + 4 + *hl;
	*el = len - 4 - *hl;
	return 0;
}

int dsm__ec_barrier_enter(struct dsm_node *n, unsigned barrier, struct dsm_buf *out)
{
	struct ec_state *es = ES(n);
	struct dsm_buf h = { 0 };
	struct ec_lock *b;
	int err = dsm__hlrc_barrier_enter(n, barrier, &h);

	err = err ?: dsm__buf_put_u32(out, (uint32_t)h.len) ?: dsm__buf_put(out, h.data, h.len);
	pthread_mutex_lock(&es->mu);
	if (!err && (b = bar_get(n, barrier, 0))) {
		pthread_mutex_lock(&n->region->lock);
		err = each_page(n, b, bar_page, out);
		pthread_mutex_unlock(&n->region->lock);
	}
	pthread_mutex_unlock(&es->mu);
	dsm__buf_free(&h);
	return err;
}

/* The manager's state: hlrc's, and every node's barrier data. */
struct bar_state {
	void *h;
	struct dsm_buf part[DSM_MAX_NODES];
};

int dsm__ec_barrier_collect(struct dsm_node *n, unsigned barrier, int node,
			    const void *payload, size_t len, void **state)
{
	struct bar_state *st = *state;
	const unsigned char *h, *e;
	size_t hl, el;
	int err;

	if (node < 0 || node >= DSM_MAX_NODES || split(payload, len, &h, &hl, &e, &el))
		return DSM_EPROTO;
	if (!st && !(st = *state = calloc(1, sizeof(*st))))
		return -ENOMEM;
	err = dsm__hlrc_barrier_collect(n, barrier, node, hl ? h : NULL, hl, &st->h);
	st->part[node].len = 0;
	err = err ?: dsm__buf_put(&st->part[node], e, el);
	/* a mixed job: every part in the manager's byte order (the receivers
	 * convert from it) */
	for (size_t at = 0; !err && (n->hetero_swap >> node & 1) &&
			    at < st->part[node].len;) {
		unsigned char *x = st->part[node].data + at;
		size_t left = st->part[node].len - at;
		uint32_t dl;
		if (left < 16 || (dl = dsm__get_le32(x + 12)) > left - 16)
			return DSM_EPROTO;
		err = dsm__hetero_diff_in(n, node, dsm__get_le32(x + 8), x + 16, dl);
		at += 16 + (size_t)dl;
	}
	return err;
}

int dsm__ec_barrier_release(struct dsm_node *n, unsigned barrier, int node,
			    void *state, struct dsm_buf *out)
{
	struct bar_state *st = state;
	struct dsm_buf h = { 0 };
	int err;

	if (!st)
		return dsm__buf_put_u32(out, 0);
	err = dsm__hlrc_barrier_release(n, barrier, node, st->h, &h);
	err = err ?: dsm__buf_put_u32(out, (uint32_t)h.len) ?: dsm__buf_put(out, h.data, h.len);
	for (int k = 0; k < n->count && !err; k++)
		if (k != node)
			err = dsm__buf_put(out, st->part[k].data, st->part[k].len);
	dsm__buf_free(&h);
	return err;
}

void dsm__ec_barrier_done(struct dsm_node *n, void *state)
{
	struct bar_state *st = state;

	if (!st)
		return;
	if (st->h)
		dsm__hlrc_barrier_done(n, st->h);
	for (int k = 0; k < DSM_MAX_NODES; k++)
		dsm__buf_free(&st->part[k]);
	free(st);
}

int dsm__ec_barrier_leave(struct dsm_node *n, unsigned barrier, const void *payload,
			  size_t len)
{
	struct ec_state *es = ES(n);
	const unsigned char *h, *e;
	size_t hl, el;
	int err;

	if (split(payload, len, &h, &hl, &e, &el))
		return DSM_EPROTO;
	if ((err = dsm__hlrc_barrier_leave(n, barrier, hl ? h : NULL, hl)))
		return err;
	pthread_mutex_lock(&es->mu);
	err = apply(n, (int)(barrier % (unsigned)n->count), e, el, 1); /* the manager */
	pthread_mutex_unlock(&es->mu);
	return err;
}

struct snap_arg {
	uint64_t time;
	struct dsm_buf *out;
};

/* Page p's pieces as they are now: one entry whose runs are the pieces. */
static int snap_page(struct dsm_node *n, size_t p, const struct ec_piece *pc,
		     unsigned npc, void *arg)
{
	struct snap_arg *a = arg;
	const unsigned char *page = dsm__page_rt(n->region, p);
	unsigned char h[8];
	size_t at, start;
	int err;

	if ((err = entry_begin(a->out, a->time, p, &at)))
		return err;
	start = a->out->len;
	dsm__put_le32(h, npc | DSM_DIFF_MAGIC << 24);
	if ((err = dsm__buf_put(a->out, h, 4)))
		return err;
	for (unsigned k = 0; k < npc; k++) {
		dsm__put_le32(h, pc[k].off);
		dsm__put_le32(h + 4, pc[k].len);
		if ((err = dsm__buf_put(a->out, h, 8)) ||
		    (err = dsm__buf_put(a->out, page + pc[k].off, pc[k].len)))
			return err;
	}
	dsm__put_le32(a->out->data + at, (uint32_t)(a->out->len - start));
	return 0;
}

int dsm__ec_snapshot_span(struct dsm_node *n, const struct ec_span *s, uint64_t time,
			  struct dsm_buf *out)
{
	struct snap_arg a = { .time = time, .out = out };
	size_t off = (size_t)s->off, len = (size_t)s->len;
	int err;

	pthread_mutex_lock(&n->region->lock);
	err = each_page_of(n, &off, &len, 1, snap_page, &a);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

int dsm__ec_snapshot(struct dsm_node *n, struct ec_lock *l, uint64_t time,
		     struct dsm_buf *out)
{
	struct snap_arg a = { .time = time, .out = out };
	int err;

	pthread_mutex_lock(&n->region->lock);
	err = each_page(n, l, snap_page, &a);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* --- setup, messages --- */

static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void ec_fini(struct dsm_node *n)
{
	struct ec_state *es = ES(n);

	if (es) {
		dsm__ec_lock_free_all(es);
		if (es->pages)
			munmap(es->pages, es->npages * sizeof(*es->pages));
		if (es->twins)
			munmap(es->twins, es->npages * es->page_size);
		free(es->ranges);
		free(es->scratch);
		pthread_mutex_destroy(&es->mu);
		free(es);
		n->ec_state = NULL;
	}
	if (n->proto_state)
		dsm__proto_hlrc.fini(n);
}

static int ec_init(struct dsm_node *n)
{
	struct ec_state *es;
	void *bt[4];
	int err;

	if ((err = dsm__proto_hlrc.init(n)))
		return err;
	/* hlrc's fresh runs would open pages ec may bind: off */
	HS(n)->fresh_max = 0;
	if (!(es = calloc(1, sizeof(*es))))
		return -ENOMEM;
	n->ec_state = es;
	pthread_mutex_init(&es->mu, NULL);
	es->npages = n->region->npages;
	es->page_size = n->region->page_size;
	es->check = n->cfg.ec_check;
	es->pages = reserve(es->npages * sizeof(*es->pages));
	es->twins = reserve(es->npages * es->page_size);
	es->scratch = malloc(dsm__diff_max_size(es->page_size));
	if (!es->pages || !es->twins || !es->scratch)
		return -ENOMEM;
	if (es->check) /* load the unwinder now: the fault path may not malloc */
		(void)backtrace(bt, 4);
	if ((err = dsm__dispatch_set_request(DSM_MSG_EC_LOCK_REQ, DSM_REQ_JOB, 0)) ||
	    (err = dsm__dispatch_set_request(DSM_MSG_EC_LOCK_REL, DSM_REQ_JOB, 0)))
		return err;
	return dsm__dispatch_set_request(DSM_MSG_EC_LOCK_GRANT, DSM_REQ_REPLY, 0);
}

static int ec_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	switch (m->type) {
	case DSM_MSG_EC_LOCK_REQ: case DSM_MSG_EC_LOCK_GRANT: case DSM_MSG_EC_LOCK_REL:
		return dsm__ec_lock_handle(n, m);
	default:
		return dsm__hlrc_handle(n, m);
	}
}

static int ec_place(struct dsm_node *n, size_t first, size_t count, int hint)
{
	return dsm__proto_hlrc.place(n, first, count, hint);
}

/* Unbound data and the runtime's heap lock: hlrc's hooks; barriers carry
 * hlrc's payloads with the barriers' bound data beside. */
const struct dsm_protocol_ops dsm__proto_ec = {
	.name = "ec",
	.machine = &ec_machine,
	.init = ec_init,
	.fini = ec_fini,
	.fault = ec_fault,
	.handle_message = ec_handle,
	.place = ec_place,
	.acquire = dsm__hlrc_acquire,
	.release = dsm__hlrc_release,
	.lock_merge = dsm__proto_vc_lock_merge,
	.lock_grant = dsm__proto_vc_lock_grant,
	.lock_free = free,
	.barrier_enter = dsm__ec_barrier_enter,
	.barrier_collect = dsm__ec_barrier_collect,
	.barrier_release = dsm__ec_barrier_release,
	.barrier_done = dsm__ec_barrier_done,
	.barrier_leave = dsm__ec_barrier_leave,
	.lock_acquire_own = dsm__ec_lock_acquire,
	.lock_release_own = dsm__ec_lock_release,
	.bind = ec_bind,
};
