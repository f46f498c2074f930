/*
 * gc.c — the distributed collector (include/dsm_gc.h, docs/gc.md).
 *
 * Every node owns an arena of the region (node i: pool + i * arena) and
 * the private object table of its arena (heap.c). A collection is
 * collective and runs between barriers, so every node sees every write
 * made before it (under sc, lrc and hlrc a barrier orders all earlier
 * writes before all later reads):
 *
 *   1. barrier;
 *   2. mark from the roots (and, in a local collection, from the export
 *      list: own objects with rc > 0) through own objects; a reference to
 *      another node's object goes on this collection's import set and, if
 *      new (local) or first met (global), into the outgoing batch for its
 *      owner: ADD (local) or MARK (global);
 *   3. rounds: write the batches into the shared mailboxes (row me, one
 *      box per destination), barrier, read the boxes addressed to me and
 *      apply them (ADD: rc++ and mark; MARK: rc++ and mark), mark further,
 *      barrier; until a round in which no node sent anything;
 *   4. local only: the imports of the last collection not met this time
 *      are sent as DROP (rc--) in more rounds;
 *   5. sweep: free own objects neither marked nor exported; write the
 *      node's status, barrier, and decide from every node's status
 *      whether the next collection is global.
 *
 * dsm_gc_collect_local is none of that: one node marks from its roots,
 * ranges, export list, escaped objects (the page-out hook,
 * dsm__gc_escape_scan, sets their esc byte when page content pointing to
 * them leaves the node) and the words it stored outside its arena
 * (scan_pending), and sweeps; no barrier, no entry (docs/gc.md).
 *
 * The mutex serialises the public calls of the node's threads; a
 * collection holds it throughout (stop-the-world for allocation and
 * roots). The service thread never takes it, so the collector may fault
 * on shared pages while holding it.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/node.h"
#include "dsm.h"
#include "dsm_gc.h"
#include "gc/gc.h"
#include "gc/hooks.h"
#include "vm/vm.h"

#define GC_BARRIER 0xfffffe00u      /* below DSM_BARRIER_INTERNAL: a full barrier */
#define BOX_BYTES ((size_t)8192)
#define BOX_CAP (BOX_BYTES / 8 - 1)
#define ARENA_DEFAULT_MAX ((size_t)64 << 20)
#define GLOBAL_AFTER 2              /* poor local collections before a global one */
#define PENDING_STEP ((size_t)64 * 1024) /* bytes scanned per hold of the region lock */

/* List entries (kind in the top 4 bits of an address) and the phases of
 * a collection (docs/gc.md), with their names for the log. */
#define GC_ENTRY_MAP(XX) XX(ADD, 1) XX(DROP, 2) XX(MARK, 3)
#define GC_PHASE_MAP(XX) \
	XX(IDLE, 0) XX(SYNC, 1) XX(MARK, 2) XX(EXCHANGE, 3) XX(DROPS, 4) XX(SWEEP, 5) XX(STATUS, 6)
enum gc_entry {
#define XX(name, v) E_##name = v,
	GC_ENTRY_MAP(XX)
#undef XX
};
enum gc_phase {
#define XX(name, v) P_##name = v,
	GC_PHASE_MAP(XX)
#undef XX
};

static const char *entry_name(unsigned k)
{
	switch (k) {
#define XX(name, v) case v: return #name;
	GC_ENTRY_MAP(XX)
#undef XX
	}
	return "?";
}

static const char *phase_name(enum gc_phase p)
{
	switch (p) {
#define XX(name, v) case P_##name: return #name;
	GC_PHASE_MAP(XX)
#undef XX
	}
	return "?";
}
#define E_KIND(e) ((unsigned)((e) >> 60))
#define E_ADDR(e) ((e) & ((1ull << 60) - 1))

/* Shared, row i homed at node i: a status page, then one box per
 * destination. */
struct box {
	uint64_t n;
	uint64_t ent[BOX_CAP];
};
struct status {
	uint64_t sent;        /* entries written into this node's boxes this round */
	uint64_t freed_bytes; /* by the last collection */
	uint64_t live_bytes;
	uint64_t exported;
};

struct vec {
	uint64_t *v;
	size_t n, cap, at; /* at: first entry not sent yet */
};

struct gc {
	pthread_mutex_t mu;
	/* The object table's shape (chunks, slots, live) against the
	 * page-out hook, which reads it from any thread: taken by the hook,
	 * by allocation and by the sweep, never across a fault. */
	pthread_mutex_t tab_mu;
	int me, nn, err;
	char *pool;          /* the arenas: node i's at pool + i * arena */
	size_t arena;
	char *rows;          /* status pages and mailboxes */
	size_t row_bytes, page;
	struct gc_heap heap;
	struct gc_layout lay[GC_MAX_TYPES];
	void ***roots;
	size_t nroots, caproots;
	struct range { const char *addr; size_t len; } *ranges; /* conservative roots */
	size_t nranges, capranges;
	struct gc_set imp;   /* import list: after the last collection */
	struct gc_set cur;   /* import set of this collection */
	struct vec out[DSM_MAX_NODES];
	uint64_t *stack;     /* mark stack: arena offsets */
	size_t sn, scap;
	int global_next;
	unsigned poor;
	int marking_global;
	int solo;            /* in dsm_gc_collect_local: no lists, no barriers */
	enum gc_phase phase;
	struct dsm_gc_stats st;
};

#define G(n) ((struct gc *)(n)->gc_state)

static struct status *status_of(struct gc *g, int node)
{
	return (struct status *)(g->rows + (size_t)node * g->row_bytes);
}

static struct box *box_of(struct gc *g, int src, int dst)
{
	return (struct box *)(g->rows + (size_t)src * g->row_bytes + g->page +
			      (size_t)dst * BOX_BYTES);
}

static int vec_push(struct vec *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 256;
		uint64_t *p = realloc(v->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

/* ---- setup ---------------------------------------------------------------- */

int dsm_gc_init(size_t arena_bytes)
{
	struct dsm_node *n = dsm__get();
	struct gc *g;
	size_t page;

	if (!n)
		return -ENOTCONN;
	if (n->gc_state)
		return -EALREADY;
	if (!strcmp(n->cfg.protocol, "ec"))
		return -ENOTSUP; /* unbound data is not coherent under ec: docs/gc.md */
	if (n->hetero_swap)
		return -ENOTSUP; /* the arenas are untyped pages: docs/gc.md */
	if (!(g = calloc(1, sizeof(*g))))
		return -ENOMEM;
	page = n->page_size;
	g->me = dsm_node_id();
	g->nn = dsm_node_count();
	if (!arena_bytes) {
		arena_bytes = n->cfg.heap_size / (4 * (size_t)g->nn);
		if (arena_bytes > ARENA_DEFAULT_MAX)
			arena_bytes = ARENA_DEFAULT_MAX;
	}
	g->arena = (arena_bytes + GC_CHUNK - 1) / GC_CHUNK * GC_CHUNK;
	g->page = page;
	g->row_bytes = (page + (size_t)g->nn * BOX_BYTES + page - 1) / page * page;
	pthread_mutex_init(&g->mu, NULL);
	pthread_mutex_init(&g->tab_mu, NULL);
	g->rows = dsm_alloc_collective_hint((size_t)g->nn * g->row_bytes, DSM_PLACE_BLOCKED);
	g->pool = g->rows ? dsm_alloc_collective_hint((size_t)g->nn * g->arena,
						      DSM_PLACE_BLOCKED) : NULL;
	if (!g->rows || !g->pool ||
	    gc_heap_init(&g->heap, g->pool + (size_t)g->me * g->arena, g->arena)) {
		/* the collective allocations are freed with the region */
		pthread_mutex_destroy(&g->mu);
		pthread_mutex_destroy(&g->tab_mu);
		gc_heap_fini(&g->heap);
		free(g);
		return -ENOMEM;
	}
	g->st.arena_bytes = g->arena;
	__atomic_store_n(&n->gc_state, g, __ATOMIC_RELEASE);
	return 0;
}

void dsm__gc_fini(struct dsm_node *n)
{
	struct gc *g = G(n);

	if (!g)
		return;
	/* A page-out hook that saw the state keeps it until it leaves
	 * (dsm__gc_escape_scan: count up, then look). */
	__atomic_store_n(&n->gc_state, NULL, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&n->gc_hooks, __ATOMIC_SEQ_CST))
		sched_yield();
	gc_heap_fini(&g->heap);
	for (int i = 0; i < GC_MAX_TYPES; i++)
		gc_layout_free(&g->lay[i]);
	for (int i = 0; i < DSM_MAX_NODES; i++)
		free(g->out[i].v);
	gc_set_free(&g->imp);
	gc_set_free(&g->cur);
	free(g->roots);
	free(g->ranges);
	free(g->stack);
	pthread_mutex_destroy(&g->mu);
	pthread_mutex_destroy(&g->tab_mu);
	free(g);
}

int dsm_gc_fini(void)
{
	struct dsm_node *n = dsm__get();
	int err;

	if (!n || !G(n))
		return -ENOTCONN;
	const struct gc *g = G(n);
	char *rows = g->rows, *pool = g->pool;
	int me = g->me;

	err = dsm_barrier(GC_BARRIER); /* nobody touches the arenas or boxes after it */
	dsm__gc_fini(n);
	if (!err && me == 0) { /* the region space, for a later dsm_gc_init */
		dsm_free(pool);
		dsm_free(rows);
	}
	return err;
}

/* The node's state, locked; NULL (and *err) if there is none. */
static struct gc *enter(int *err)
{
	struct dsm_node *n = dsm__get();
	struct gc *g = n ? __atomic_load_n(&n->gc_state, __ATOMIC_ACQUIRE) : NULL;

	if (!g) {
		*err = -ENOTCONN;
		return NULL;
	}
	pthread_mutex_lock(&g->mu);
	if (g->err) {
		*err = g->err;
		pthread_mutex_unlock(&g->mu);
		return NULL;
	}
	return g;
}

dsm_type_t dsm_gc_type_register(const char *name, size_t size,
				const struct dsm_field *fields, size_t nfields)
{
	struct gc_layout l;
	struct gc *g;
	int err, id;

	if (!(g = enter(&err)))
		return err;
	/* Check the nested types first: the registry keeps what it accepts. */
	if ((err = gc_layout_build(&l, size, fields, nfields, g->lay, GC_MAX_TYPES)))
		goto out_unlock;
	id = dsm_type_register(name, size, fields, nfields);
	if (id <= 0 || id >= GC_MAX_TYPES) {
		gc_layout_free(&l);
		err = id <= 0 ? id : -ENOSPC;
		goto out_unlock;
	}
	gc_layout_free(&g->lay[id]);
	g->lay[id] = l;
	err = id;
out_unlock:
	pthread_mutex_unlock(&g->mu);
	return err;
}

void *dsm_gc_malloc(dsm_type_t t, size_t count)
{
	struct gc *g;
	size_t bytes;
	long off;
	int err;
	void *p;

	if (!(g = enter(&err))) {
		errno = -err;
		return NULL;
	}
	if (t <= 0 || t >= GC_MAX_TYPES || !g->lay[t].size || !count ||
	    __builtin_mul_overflow(count, (size_t)g->lay[t].size, &bytes)) {
		pthread_mutex_unlock(&g->mu);
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&g->tab_mu);
	off = gc_heap_alloc(&g->heap, bytes, (uint16_t)t);
	pthread_mutex_unlock(&g->tab_mu); /* before the memset: it may fault */
	if (off < 0) {
		pthread_mutex_unlock(&g->mu);
		errno = ENOMEM;
		return NULL;
	}
	p = g->heap.base + off;
	memset(p, 0, bytes); /* under the lock: a collection must not see old references */
	g->st.allocated_objects++;
	pthread_mutex_unlock(&g->mu);
	return p;
}

int dsm_gc_root_add(void **slot)
{
	struct gc *g;
	int err = 0;

	if (!slot)
		return -EINVAL;
	if (!(g = enter(&err)))
		return err;
	if (g->nroots == g->caproots) {
		size_t cap = g->caproots ? 2 * g->caproots : 64;
		void ***r = realloc(g->roots, cap * sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out_unlock;
		}
		g->roots = r;
		g->caproots = cap;
	}
	g->roots[g->nroots++] = slot;
out_unlock:
	pthread_mutex_unlock(&g->mu);
	return err;
}

int dsm_gc_root_remove(void **slot)
{
	struct gc *g;
	int err = -ENOENT;

	if (!slot)
		return -EINVAL;
	if (!(g = enter(&err)))
		return err;
	err = -ENOENT;
	for (size_t i = g->nroots; i-- > 0;)
		if (g->roots[i] == slot) {
			g->roots[i] = g->roots[--g->nroots];
			err = 0;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	return err;
}

int dsm_gc_root_add_range(const void *addr, size_t len)
{
	struct gc *g;
	int err = 0;

	if (!addr || !len)
		return -EINVAL;
	if (!(g = enter(&err)))
		return err;
	if (g->nranges == g->capranges) {
		size_t cap = g->capranges ? 2 * g->capranges : 16;
		struct range *r = realloc(g->ranges, cap * sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out_unlock;
		}
		g->ranges = r;
		g->capranges = cap;
	}
	g->ranges[g->nranges++] = (struct range){ addr, len };
out_unlock:
	pthread_mutex_unlock(&g->mu);
	return err;
}

int dsm_gc_root_remove_range(const void *addr)
{
	struct gc *g;
	int err;

	if (!addr)
		return -EINVAL;
	if (!(g = enter(&err)))
		return err;
	err = -ENOENT;
	for (size_t i = g->nranges; i-- > 0;)
		if (g->ranges[i].addr == addr) {
			g->ranges[i] = g->ranges[--g->nranges];
			err = 0;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	return err;
}

int dsm_gc_owner(const void *addr)
{
	struct dsm_node *n = dsm__get();
	struct gc *g = n ? __atomic_load_n(&n->gc_state, __ATOMIC_ACQUIRE) : NULL;
	uintptr_t a = (uintptr_t)addr;

	if (!g || a < (uintptr_t)g->pool || a >= (uintptr_t)g->pool + (size_t)g->nn * g->arena)
		return -EINVAL;
	return (int)((a - (uintptr_t)g->pool) / g->arena);
}

int dsm_gc_live(const void *addr)
{
	struct gc *g;
	uint64_t start;
	uintptr_t a = (uintptr_t)addr;
	int err;

	if (!(g = enter(&err)))
		return err;
	if (a < (uintptr_t)g->heap.base || a >= (uintptr_t)g->heap.base + g->arena)
		err = -EINVAL;
	else
		err = gc_heap_find(&g->heap, a - (uintptr_t)g->heap.base, &start) != NULL;
	pthread_mutex_unlock(&g->mu);
	return err;
}

static void count_escaped(void *arg, uint64_t off, struct gc_obj *o)
{
	(void)off;
	*(uint64_t *)arg += __atomic_load_n(&o->esc, __ATOMIC_RELAXED) != 0;
}

int dsm_gc_stats(struct dsm_gc_stats *out)
{
	struct gc *g;
	int err;

	if (!out)
		return -EINVAL;
	if (!(g = enter(&err)))
		return err;
	*out = g->st;
	out->live_objects = g->heap.live_objects;
	out->live_bytes = g->heap.live_bytes;
	out->imported = g->imp.n;
	out->arena_used = (uint64_t)g->heap.chunks_used * GC_CHUNK;
	out->escaped = 0;
	gc_heap_each(&g->heap, count_escaped, &out->escaped);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/* ---- phases -------------------------------------------------------------- */

/* The legal transitions (docs/gc.md): IDLE -> SYNC -> MARK -> EXCHANGE
 * (-> DROPS, local only) -> SWEEP -> STATUS -> IDLE; non-collective:
 * IDLE -> MARK -> SWEEP -> IDLE; any phase -> IDLE on an error. Checked
 * always (logged), asserted in debug builds. */
static int legal(enum gc_phase from, enum gc_phase to, int global, int solo)
{
	if (solo) /* dsm_gc_collect_local: IDLE -> MARK -> SWEEP -> IDLE */
		return to == P_IDLE || (to == P_MARK && from == P_IDLE) ||
		       (to == P_SWEEP && from == P_MARK);
	switch (to) {
	case P_IDLE: return 1;
	case P_SYNC: return from == P_IDLE;
	case P_MARK: return from == P_SYNC;
	case P_EXCHANGE: return from == P_MARK;
	case P_DROPS: return from == P_EXCHANGE && !global;
	case P_SWEEP: return from == (global ? P_EXCHANGE : P_DROPS);
	case P_STATUS: return from == P_SWEEP;
	}
	return 0;
}

static void set_phase(struct gc *g, enum gc_phase to)
{
	if (!legal(g->phase, to, g->marking_global, g->solo)) { /* a broken invariant */
		DSM_ERR(dsm__get(), "gc: illegal phase transition %s -> %s",
			phase_name(g->phase), phase_name(to));
		assert(!"illegal gc phase transition");
	}
	g->phase = to;
}

/* ---- marking ------------------------------------------------------------ */

static int push_obj(struct gc *g, uint64_t start)
{
	if (g->sn == g->scap) {
		size_t cap = g->scap ? 2 * g->scap : 1024;
		uint64_t *s = realloc(g->stack, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		g->stack = s;
		g->scap = cap;
	}
	g->stack[g->sn++] = start;
	return 0;
}

/* A reference value v met while marking (in a root or a field). */
static int consider(struct gc *g, uint64_t v)
{
	uintptr_t pool = (uintptr_t)g->pool;
	uint64_t start;
	struct gc_obj *o;
	int owner, r;

	if (v < pool || v >= pool + (uint64_t)g->nn * g->arena)
		return 0;
	owner = (int)((v - pool) / g->arena);
	if (owner == g->me || g->solo) {
		if (owner != g->me)
			return 0; /* non-collective: the import list stays as it is */
		o = gc_heap_find(&g->heap, v - (uintptr_t)g->heap.base, &start);
		if (!o || o->mark)
			return 0; /* NULL-like garbage in a field, or done */
		o->mark = 1;
		return push_obj(g, start);
	}
	if ((r = gc_set_add(&g->cur, v)) <= 0)
		return r;
	if (g->marking_global)
		return vec_push(&g->out[owner], (uint64_t)E_MARK << 60 | v);
	if (!gc_set_has(&g->imp, v))
		return vec_push(&g->out[owner], (uint64_t)E_ADD << 60 | v);
	return 0;
}

/* The conservative roots: every aligned word of every registered range. */
static int scan_ranges(struct gc *g)
{
	int err = 0;

	for (size_t i = 0; !err && i < g->nranges; i++) {
		uintptr_t a = ((uintptr_t)g->ranges[i].addr + 7) & ~(uintptr_t)7;
		uintptr_t end = (uintptr_t)g->ranges[i].addr + g->ranges[i].len;
		for (; !err && a + 8 <= end; a += 8)
			err = consider(g, *(volatile const uint64_t *)a);
	}
	return err;
}

/* Scan the marked objects on the stack: their reference fields, read
 * through the application view (the barrier made them current). */
static int drain(struct gc *g)
{
	int err = 0;

	while (!err && g->sn) {
		uint64_t start = g->stack[--g->sn], s;
		struct gc_obj *o = gc_heap_find(&g->heap, start, &s);
		const struct gc_layout *l = &g->lay[o->type];
		const char *p = g->heap.base + start;

		for (uint64_t e = 0; !err && l->nptr && e < o->bytes / l->size; e++)
			for (uint32_t k = 0; !err && k < l->nptr; k++)
				err = consider(g, *(volatile const uint64_t *)(p + e * l->size +
									  l->ptr[k]));
	}
	return err;
}

static void mark_exported(void *arg, uint64_t off, struct gc_obj *o)
{
	struct gc *g = arg;

	if (o->rc && !o->mark) {
		o->mark = 1;
		if (push_obj(g, off))
			g->err = -ENOMEM;
	}
}

static void clear_rc(void *arg, uint64_t off, struct gc_obj *o)
{
	(void)arg;
	(void)off;
	o->rc = 0;
}

/* A collective collection's lists are exact (docs/gc.md): the escapes
 * recorded before it are no longer needed. */
static void clear_esc(void *arg, uint64_t off, struct gc_obj *o)
{
	(void)arg;
	(void)off;
	__atomic_store_n(&o->esc, 0, __ATOMIC_RELAXED);
}

static void mark_escaped(void *arg, uint64_t off, struct gc_obj *o)
{
	struct gc *g = arg;

	if (__atomic_load_n(&o->esc, __ATOMIC_RELAXED) && !o->mark) {
		o->mark = 1;
		if (push_obj(g, off))
			g->err = -ENOMEM;
	}
}

/* Non-collective collection: the references this node stored into memory
 * it does not trace and has not sent yet (its copies of other arenas and
 * of untyped shared memory) may still leave it. Every aligned word of
 * the region's data outside this node's arena, read through the runtime
 * view (no fault), is a conservative root. Holes of the memfd (never
 * touched here) are skipped. */
static int scan_pending(struct gc *g, struct dsm_region *r)
{
	size_t own0 = (size_t)(g->heap.base - (char *)r->app), own1 = own0 + g->arena;
	off_t off = 0;
	int err = 0;

	while (!err && (size_t)off < r->size) {
		off_t d = lseek(r->fd, off, SEEK_DATA), e;

		if (d < 0 && errno == ENXIO)
			break; /* no data after off */
		if (d < 0)
			d = off; /* no SEEK_DATA here: everything is data */
		e = lseek(r->fd, d, SEEK_HOLE);
		if (e < 0 || (size_t)e > r->size)
			e = (off_t)r->size;
		for (size_t a = (size_t)d & ~(size_t)7; !err && a + 8 <= (size_t)e;) {
			size_t stop = a + PENDING_STEP < (size_t)e ? a + PENDING_STEP : (size_t)e;

			if (a >= own0 && a < own1) {
				a = own1;
				continue;
			}
			if (a < own0 && stop > own0)
				stop = own0;
			/* the region lock orders the reads after incoming data
			 * written through the runtime view; a step at a time */
			pthread_mutex_lock(&r->lock);
			for (; !err && a + 8 <= stop; a += 8)
				err = consider(g, *(const uint64_t *)(r->rt + a));
			pthread_mutex_unlock(&r->lock);
		}
		off = e;
	}
	return err;
}

static void unmark(void *arg, uint64_t off, struct gc_obj *o)
{
	(void)arg;
	(void)off;
	o->mark = 0;
}

static void count_exported(void *arg, uint64_t off, struct gc_obj *o)
{
	(void)off;
	*(uint64_t *)arg += o->rc != 0;
}

/* One entry addressed to this node. */
static int apply(struct gc *g, uint64_t e)
{
	uint64_t v = E_ADDR(e), start;
	struct gc_obj *o;

	if (v < (uintptr_t)g->heap.base || v >= (uintptr_t)g->heap.base + g->arena ||
	    !E_KIND(e) || E_KIND(e) > E_MARK || (E_KIND(e) == E_MARK) != g->marking_global) {
		DSM_ERR(dsm__get(), "gc: a %s entry for %#llx is not for this node's arena "
			"or this collection (phase %s)", entry_name(E_KIND(e)),
			(unsigned long long)v, phase_name(g->phase));
		return -EPROTO;
	}
	o = gc_heap_find(&g->heap, v - (uintptr_t)g->heap.base, &start);
	if (!o)
		return 0; /* a stale word that looked like a reference: nothing to keep */
	switch (E_KIND(e)) {
	case E_DROP:
		if (o->rc)
			o->rc--;
		return 0;
	case E_ADD:
	case E_MARK:
		o->rc++;
		if (o->mark)
			return 0;
		o->mark = 1;
		return push_obj(g, start);
	default:
		return -EPROTO;
	}
}

/* Exchange rounds until no node sends anything. */
static int rounds(struct gc *g)
{
	for (;;) {
		uint64_t sent = 0, all = 0;
		int err;

		for (int d = 0; d < g->nn; d++) {
			struct vec *v = &g->out[d];
			struct box *b;
			size_t k;

			if (d == g->me)
				continue;
			b = box_of(g, g->me, d);
			k = v->n - v->at < BOX_CAP ? v->n - v->at : BOX_CAP;
			if (k) /* v->v is NULL while nothing was ever queued */
				memcpy(b->ent, v->v + v->at, k * 8);
			b->n = k;
			v->at += k;
			if (v->at == v->n)
				v->at = v->n = 0;
			sent += k;
		}
		status_of(g, g->me)->sent = sent;
		g->st.entries_sent += sent;
		g->st.rounds++;
		if ((err = dsm_barrier(GC_BARRIER)))
			return err;
		for (int s = 0; s < g->nn; s++)
			all += status_of(g, s)->sent;
		for (int s = 0; !err && all && s < g->nn; s++) {
			const struct box *b = box_of(g, s, g->me);
			if (s == g->me)
				continue;
			for (uint64_t i = 0; !err && i < b->n && i < BOX_CAP; i++)
				err = apply(g, b->ent[i]);
		}
		if (err || (err = drain(g)) || (err = dsm_barrier(GC_BARRIER)))
			return err;
		if (!all)
			return 0;
	}
}

static int queue_drops(struct gc *g)
{
	uint64_t x;
	int err = 0;

	for (size_t i = 0; !err && gc_set_next(&g->imp, &i, &x);)
		if (!gc_set_has(&g->cur, x))
			err = vec_push(&g->out[(x - (uintptr_t)g->pool) / g->arena],
				       (uint64_t)E_DROP << 60 | x);
	return err;
}

/* Decide, identically on every node, whether the next collection is
 * global: local collections that reclaim less than 1/16 of the live bytes
 * while objects are exported, GLOBAL_AFTER times in a row. */
static void decide(struct gc *g, int global)
{
	uint64_t freed = 0, live = 0, exported = 0;

	for (int s = 0; s < g->nn; s++) {
		const struct status *st = status_of(g, s);
		freed += st->freed_bytes;
		live += st->live_bytes;
		exported += st->exported;
	}
	if (global || !exported || freed * 16 > live)
		g->poor = 0;
	else
		g->poor++;
	g->global_next = g->poor >= GLOBAL_AFTER;
}

static int collect(struct gc *g, int global)
{
	struct timespec t0, t1;
	uint64_t fo = 0, fb = 0, exported = 0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	global |= g->global_next;
	g->marking_global = global;
	set_phase(g, P_SYNC);
	if ((err = dsm_barrier(GC_BARRIER)))
		return err;
	set_phase(g, P_MARK);
	gc_set_clear(&g->cur);
	if (global)
		gc_heap_each(&g->heap, clear_rc, g);
	for (size_t i = 0; i < g->nroots; i++)
		if ((err = consider(g, (uint64_t)(uintptr_t)*(void *volatile *)g->roots[i])))
			return err;
	if ((err = scan_ranges(g)))
		return err;
	if (!global)
		gc_heap_each(&g->heap, mark_exported, g);
	if (g->err || (err = drain(g)))
		return g->err ? g->err : err;
	set_phase(g, P_EXCHANGE);
	if ((err = rounds(g)))
		return err;
	if (!global) {
		set_phase(g, P_DROPS);
		if ((err = queue_drops(g)) || (err = rounds(g)))
			return err;
	}
	{ /* the import list is this collection's import set */
		struct gc_set t = g->imp;
		g->imp = g->cur;
		g->cur = t;
	}
	set_phase(g, P_SWEEP);
	/* The lists are exact (docs/gc.md): escapes recorded up to here are
	 * not needed, and this sweep frees what is neither marked nor
	 * exported. Hooks wait on tab_mu meanwhile; the escapes they record
	 * after it (pages served before the STATUS barrier hold what they
	 * held at SYNC) only retain. */
	pthread_mutex_lock(&g->tab_mu);
	gc_heap_each(&g->heap, clear_esc, g);
	gc_heap_sweep(&g->heap, &fo, &fb);
	pthread_mutex_unlock(&g->tab_mu);
	gc_heap_each(&g->heap, count_exported, &exported);
	g->st.freed_objects += fo;
	g->st.freed_bytes += fb;
	g->st.exported = exported;
	g->st.collections++;
	g->st.global_collections += global;
	set_phase(g, P_STATUS);
	*status_of(g, g->me) = (struct status){ .freed_bytes = fb,
		.live_bytes = g->heap.live_bytes, .exported = exported };
	if ((err = dsm_barrier(GC_BARRIER)))
		return err;
	decide(g, global);
	set_phase(g, P_IDLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->st.last_pause_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
			      (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	return 0;
}

static int collect_entry(int global)
{
	struct gc *g;
	int err;

	if (!(g = enter(&err)))
		return err;
	if ((err = collect(g, global))) {
		DSM_ERR(dsm__get(), "gc: collection failed in phase %s: %s", phase_name(g->phase),
			dsm_strerror(err));
		g->err = err; /* the nodes' lists no longer agree: refuse further calls */
		set_phase(g, P_IDLE);
	}
	pthread_mutex_unlock(&g->mu);
	return err;
}

int dsm_gc_collect(void)
{
	return collect_entry(0);
}

int dsm_gc_collect_global(void)
{
	return collect_entry(1);
}

/* dsm_gc_collect_local: mark from the roots, the ranges, the export list,
 * the escaped objects and the pending words (scan_pending) through this
 * node's objects; sweep. No barrier, no message, no list change. */
static int collect_solo(struct gc *g)
{
	struct timespec t0, t1;
	uint64_t fo = 0, fb = 0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	g->solo = 1;
	g->marking_global = 0;
	set_phase(g, P_MARK);
	for (size_t i = 0; i < g->nroots; i++)
		if ((err = consider(g, (uint64_t)(uintptr_t)*(void *volatile *)g->roots[i])))
			return err;
	if ((err = scan_ranges(g)) || (err = scan_pending(g, dsm__get()->region)))
		return err;
	gc_heap_each(&g->heap, mark_exported, g);
	gc_heap_each(&g->heap, mark_escaped, g);
	if (g->err || (err = drain(g)))
		return g->err ? g->err : err;
	set_phase(g, P_SWEEP);
	/* Under tab_mu: an object the hook marks escaped before this keeps
	 * its bit through the sweep; one it finds after was in a page all
	 * along, so scan_pending or the marking saw it (docs/gc.md). */
	pthread_mutex_lock(&g->tab_mu);
	gc_heap_sweep(&g->heap, &fo, &fb);
	pthread_mutex_unlock(&g->tab_mu);
	g->st.freed_objects += fo;
	g->st.freed_bytes += fb;
	g->st.local_collections++;
	set_phase(g, P_IDLE);
	g->solo = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->st.last_pause_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
			      (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	return 0;
}

int dsm_gc_collect_local(void)
{
	struct gc *g;
	int err;

	if (!(g = enter(&err)))
		return err;
	if ((err = collect_solo(g))) {
		/* Nothing was freed (a failure comes before the sweep) and no
		 * list changed: the node may go on. */
		DSM_ERR(dsm__get(), "gc: local collection failed in phase %s: %s",
			phase_name(g->phase), dsm_strerror(err));
		g->sn = 0;
		gc_heap_each(&g->heap, unmark, g);
		set_phase(g, P_IDLE);
		g->solo = 0;
	}
	pthread_mutex_unlock(&g->mu);
	return err;
}

/* ---- the page-out hook (hooks.h) ------------------------------------------ */

/* Mark escaped every live object of this node that a word of data points
 * into. A first pass without the lock finds whether any word does. */
static void escape_words(struct gc *g, const uint64_t *w, size_t nw)
{
	uintptr_t lo = (uintptr_t)g->heap.base;
	size_t i = 0;

	while (i < nw && __atomic_load_n(&w[i], __ATOMIC_RELAXED) - lo >= g->arena)
		i++;
	if (i == nw)
		return;
	pthread_mutex_lock(&g->tab_mu);
	for (; i < nw; i++) {
		uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED) - lo, start;
		struct gc_obj *o;

		if (v < g->arena && (o = gc_heap_find(&g->heap, v, &start)) &&
		    !__atomic_load_n(&o->esc, __ATOMIC_RELAXED))
			__atomic_store_n(&o->esc, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&g->tab_mu);
}

void dsm__gc_escape_scan(struct dsm_node *n, const void *data, size_t len)
{
	struct gc *g;

	/* Count up, then look: dsm__gc_fini clears the state, then waits for
	 * the count to fall to 0 before it frees anything. */
	__atomic_add_fetch(&n->gc_hooks, 1, __ATOMIC_SEQ_CST);
	g = __atomic_load_n(&n->gc_state, __ATOMIC_SEQ_CST);
	if (g) { /* references are stored aligned: the aligned words only */
		uintptr_t a = ((uintptr_t)data + 7) & ~(uintptr_t)7, e = (uintptr_t)data + len;
		if (a < e)
			escape_words(g, (const uint64_t *)a, (e - a) / 8);
	}
	__atomic_sub_fetch(&n->gc_hooks, 1, __ATOMIC_RELEASE);
}
