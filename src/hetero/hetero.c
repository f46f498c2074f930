/*
 * hetero.c — the typed shared heap and the conversion hooks
 * (include/dsm_type.h, hooks.h, docs/hetero.md).
 *
 * Every node keeps the same registry of types (registered in the same
 * order) and a table from page number to the typed block that holds it:
 * its type, its first page and the bytes of objects in it. A typed block
 * is a page-aligned allocation of whole pages holding objects of one type
 * only, packed from its start, so the table gives, for any byte of a
 * page, the object and field it belongs to.
 *
 * The allocating node announces a new typed block to every node
 * (TYPE_NOTE, answered with TYPE_ACK) before the allocation returns, so a
 * node always knows a page's type before any of its data can reach it.
 * The note carries the type's layout fingerprint: a node that registered a
 * different layout under that id refuses it and the job fails naming the
 * type.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/node.h"
#include "hetero/hooks.h"
#include "hetero/type.h"
#include "net/net.h"
#include "vm/diff.h"
#include "vm/vm.h"

#define UNTYPED_LOG 1024 /* untyped allocations remembered for messages */
#define SLAB_PAGES 4     /* a size class's typed block (small allocations) */

/* The typed block a page belongs to (type 0: untyped). */
struct ptype {
	uint32_t type;
	uint32_t first;  /* first page of the block */
	uint64_t limit;  /* bytes of objects in the block: count * size */
};

struct untyped {
	uint64_t off, size;
	const char *kind;
	const void *caller;
};

/* A size class of one type on this node: a typed block of SLAB_PAGES
 * pages whose slots small dsm_typed_malloc calls take in order. */
struct slab {
	uint64_t off;                /* the block */
	uint32_t type, nslots;
	uint32_t next;               /* first slot never handed out */
	uint32_t live;               /* allocations not freed yet */
	struct slab *link;
};

struct hetero {
	pthread_mutex_t mu;          /* registry, table, log, slabs */
	struct slab *slabs;
	struct dsm_type_reg reg;
	struct ptype *pages;         /* npages entries, calloc'd at init */
	uint64_t expect_fp[DSM_TYPE_MAX]; /* from notes for ids not registered
					   * here yet: checked at registration */
	struct untyped log[UNTYPED_LOG];
	unsigned log_next;
};

#define H(n) ((struct hetero *)(n)->hetero_state)

int dsm__hetero_init(struct dsm_node *n)
{
	struct hetero *h = calloc(1, sizeof(*h));
	size_t np = n->cfg.heap_size / n->page_size;

	for (int i = 0; i < DSM_MAX_NODES; i++)
		n->byte_order[i] = DSM_ARCH_SELF & 0xff;
	n->hetero_swap = 0;
	if (!h)
		return -ENOMEM;
	h->pages = calloc(np ? np : 1, sizeof(*h->pages)); /* untouched: lazily backed */
	if (!h->pages) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	n->hetero_state = h;
	return 0;
}

void dsm__hetero_fini(struct dsm_node *n)
{
	struct hetero *h = H(n);

	if (!h)
		return;
	dsm__type_reg_free(&h->reg);
	while (h->slabs) {
		struct slab *s = h->slabs;
		h->slabs = s->link;
		free(s);
	}
	free(h->pages);
	pthread_mutex_destroy(&h->mu);
	free(h);
	n->hetero_state = NULL;
}

static const char *order_name(unsigned o)
{
	return o == DSM_ARCH_BE ? "big-endian" : o == DSM_ARCH_LE ? "little-endian" : "?";
}

void dsm__hetero_note_untyped(struct dsm_node *n, uint64_t off, uint64_t size,
			      const char *kind, const void *caller)
{
	struct hetero *h = H(n);

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->log[h->log_next++ % UNTYPED_LOG] = (struct untyped){ off, size, kind, caller };
	pthread_mutex_unlock(&h->mu);
}

/* Refuse data of untyped page p from src: fail the message with a reason
 * naming the page and, if this node made it, the allocation. */
static int refuse(struct dsm_node *n, int src, size_t p)
{
	struct hetero *h = H(n);
	uint64_t off = (uint64_t)p * n->page_size;
	char alloc[160] = "an untyped allocation made on another node";
	char why[400];

	pthread_mutex_lock(&h->mu);
	for (unsigned k = 1; k <= UNTYPED_LOG && k <= h->log_next; k++) { /* newest first */
		const struct untyped *u = &h->log[(h->log_next - k) % UNTYPED_LOG];
		if (off + n->page_size > u->off && off < u->off + u->size) {
			snprintf(alloc, sizeof(alloc), "%s(%llu) = %p, called from %p",
				 u->kind, (unsigned long long)u->size,
				 (void *)(n->region->app + u->off), u->caller);
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	snprintf(why, sizeof(why), "untyped page %zu (%p) crosses byte orders (node %d, "
		 "%s -> node %d, %s); it belongs to %s: allocate data shared "
		 "between byte orders with dsm_typed_malloc",
		 p, (void *)(n->region->app + off), src, order_name(n->byte_order[src]),
		 n->id, order_name(n->byte_order[n->id]), alloc);
	DSM_ERR(n, "hetero: %s", why);
	dsm__reject(n, "%s", why);
	return DSM_EPROTO;
}

/* The type and block of page p, or NULL if untyped. The entry is written
 * before the allocation's notes are acknowledged, so before any data of
 * the page can arrive: no lock is needed to read it. */
static const struct dsm_ctype *page_type(struct dsm_node *n, size_t p,
					 struct ptype *out)
{
	struct hetero *h = H(n);

	if (p >= n->region->npages)
		return NULL;
	*out = h->pages[p];
	return out->type ? dsm__type_get(&h->reg, (int)out->type) : NULL;
}

int dsm__hetero_conv_page(struct dsm_node *n, int src, size_t p, void *page)
{
	struct ptype pt;
	const struct dsm_ctype *t = page_type(n, p, &pt);

	if (!t)
		return refuse(n, src, p);
	dsm__type_swap(t, (uint64_t)(p - pt.first) * n->page_size, page,
		       n->page_size, pt.limit);
	return 0;
}

int dsm__hetero_conv_diff(struct dsm_node *n, int src, size_t p, const void *diff,
			  size_t len)
{
	struct ptype pt;
	const struct dsm_ctype *t = page_type(n, p, &pt);

	if (!t)
		return refuse(n, src, p);
	/* the diff's bytes are the receive buffer or the caller's copy */
	if (dsm__type_diff_swap(t, (uint64_t)(p - pt.first) * n->page_size, pt.limit,
				(void *)diff, len, n->page_size)) {
		dsm__reject(n, "diff of typed page %zu (type %s) from node %d splits a "
			       "field or is malformed", p, t->name, src);
		return DSM_EPROTO;
	}
	return 0;
}

long dsm__hetero_widen(struct dsm_node *n, size_t p, const void *page, void *diff,
		       size_t len, size_t cap)
{
	/* may run on the fault path (lrc): no malloc for 4 KiB pages */
	static __thread unsigned char tmp[18440]; /* dsm__diff_max_size(4096) */
	struct ptype pt;
	const struct dsm_ctype *t = page_type(n, p, &pt);
	long w;

	if (!t || len <= 4)
		return (long)len; /* untyped: refused by a receiver of the other order */
	if (cap > sizeof(tmp))
		return -ENOSPC; /* mixed jobs support pages up to 4 KiB */
	w = dsm__type_diff_widen(t, (uint64_t)(p - pt.first) * n->page_size, pt.limit,
				 page, n->page_size, diff, len, tmp, cap);
	if (w > 0)
		memcpy(diff, tmp, (size_t)w);
	return w;
}

/* ------------------------------------------------------------------ */
/* registry and typed allocation                                       */

dsm_type_t dsm_type_register(const char *name, size_t size,
			     const struct dsm_field *fields, size_t nfields)
{
	struct dsm_node *n = dsm__get();
	const char *why = NULL;
	int id;

	if (!n || !H(n))
		return DSM_ENOTINIT;
	if (size > n->page_size) {
		DSM_ERR(n, "dsm_type_register(%s): %zu bytes is more than a page",
			name ? name : "?", size);
		return -EINVAL;
	}
	pthread_mutex_lock(&H(n)->mu);
	id = dsm__type_add(&H(n)->reg, name, size, fields, nfields, &why);
	if (id > 0 && H(n)->expect_fp[id] &&
	    H(n)->expect_fp[id] != dsm__type_get(&H(n)->reg, id)->fingerprint) {
		why = "another node allocated this type id with another layout "
		      "(register the same types in the same order everywhere)";
		dsm__type_reg_pop(&H(n)->reg);
		id = -EINVAL;
	}
	pthread_mutex_unlock(&H(n)->mu);
	if (id < 0)
		DSM_ERR(n, "dsm_type_register(%s): %s", name ? name : "?",
			why ? why : dsm_strerror(id));
	return id;
}

/* Record a typed block in the page table. */
static void set_block(struct dsm_node *n, uint32_t type, uint64_t off, uint64_t limit)
{
	struct hetero *h = H(n);
	size_t first = off / n->page_size;
	size_t np = (limit + n->page_size - 1) / n->page_size;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < np && first + i < n->region->npages; i++)
		h->pages[first + i] = (struct ptype){ type, (uint32_t)first, limit };
	pthread_mutex_unlock(&h->mu); /* the release before the notes' acks */
}

/* TYPE_NOTE: arg0 = token, arg1 = first page | type << 32, arg2 = limit;
 * payload = u64 fingerprint (LE). TYPE_ACK: arg0 = token. */
int dsm__hetero_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct hetero *h = H(n);

	if (m->type == DSM_MSG_TYPE_ACK)
		return dsm__waiter_complete(n, m->arg[0], 0, NULL);
	uint32_t type = (uint32_t)(m->arg[1] >> 32), first = (uint32_t)m->arg[1];
	uint64_t limit = m->arg[2], fp;
	if (m->length != 8 || type >= DSM_TYPE_MAX ||
	    (uint64_t)first * n->page_size + limit > n->region->size) {
		dsm__reject(n, "typed block of type %u at page %u: bad type or extent",
			    type, first);
		return DSM_EPROTO;
	}
	fp = dsm__get_le64(m->payload);
	if (type == 0) { /* dsm_typed_free: the block's pages are untyped again */
		set_block(n, 0, (uint64_t)first * n->page_size, limit);
		struct dsm_msg a = { .type = DSM_MSG_TYPE_ACK, .arg = { m->arg[0] } };
		return dsm__send(n, (int)m->src, &a);
	}
	pthread_mutex_lock(&h->mu);
	/* this node may not have registered the type yet: remember its layout */
	const struct dsm_ctype *t = dsm__type_get(&h->reg, (int)type);
	int bad = t ? t->fingerprint != fp || limit % t->size
		    : h->expect_fp[type] && h->expect_fp[type] != fp;
	if (!t && !bad)
		h->expect_fp[type] = fp;
	pthread_mutex_unlock(&h->mu);
	if (bad) {
		dsm__reject(n, "type %u (%s) has another layout on node %u than on "
			       "node %d: register the same types in the same order "
			       "everywhere", type, t ? t->name : "?", m->src, n->id);
		return DSM_EPROTO;
	}
	set_block(n, type, (uint64_t)first * n->page_size, limit);
	struct dsm_msg a = { .type = DSM_MSG_TYPE_ACK, .arg = { m->arg[0] } };
	return dsm__send(n, (int)m->src, &a);
}

/* Announce a typed block to every other node and wait for every ack. */
static int announce(struct dsm_node *n, uint32_t type, uint64_t off, uint64_t limit,
		    uint64_t fp)
{
	struct dsm_waiter w[DSM_MAX_NODES];
	unsigned char pay[8];
	int err = 0;

	dsm__put_le64(pay, fp);
	for (int i = 0; i < n->count; i++) {
		if (i == n->id)
			continue;
		memset(&w[i], 0, sizeof(w[i]));
		dsm__waiter_add(n, &w[i]);
		struct dsm_msg m = { .type = DSM_MSG_TYPE_NOTE, .length = 8, .payload = pay,
			.arg = { w[i].token, off / n->page_size | (uint64_t)type << 32, limit } };
		int e = dsm__send(n, i, &m);
		if (e) { /* never answered: complete it ourselves */
			uint64_t v[3] = { 0, 0, 0 };
			dsm__waiter_complete(n, w[i].token, e, v);
		}
	}
	for (int i = 0; i < n->count; i++) { /* each wait also unlinks its waiter */
		if (i == n->id)
			continue;
		int e = dsm__waiter_wait_for(n, &w[i], i, "a typed allocation's note");
		err = err ? err : e;
	}
	return err;
}

/* Allocate and announce: the common part of both typed allocations. */
static int typed_alloc(struct dsm_node *n, dsm_type_t type, size_t count,
		       uint64_t *off)
{
	const struct dsm_ctype *t = dsm__type_get(&H(n)->reg, type);
	uint64_t limit;
	unsigned char *p;

	if (!t || count == 0 || count > (UINT64_MAX / 2) / t->size)
		return -EINVAL;
	limit = (uint64_t)count * t->size;
	/* at least a page: the heap gives page-aligned whole pages from there */
	p = dsm_malloc(limit < n->page_size ? n->page_size : limit);
	if (!p)
		return errno == ENOMEM ? -ENOMEM : -EIO;
	*off = (uint64_t)(p - n->region->app);
	set_block(n, (uint32_t)type, *off, limit);
	return announce(n, (uint32_t)type, *off, limit, t->fingerprint);
}

/* Take count slots of type t from a slab with room; 0 with *off, or 1 if
 * none has room. mu held. */
static int slab_take(struct hetero *h, const struct dsm_ctype *t, uint32_t type,
		     size_t count, uint64_t *off)
{
	for (struct slab *s = h->slabs; s; s = s->link)
		if (s->type == type && s->nslots - s->next >= count) {
			*off = s->off + (uint64_t)s->next * t->size;
			s->next += (uint32_t)count;
			s->live++;
			return 0;
		}
	return 1;
}

/* A small allocation (under half a page): from this node's size class of
 * the type, a new typed block (announced once) when it is full. */
static int slab_alloc(struct dsm_node *n, dsm_type_t type, const struct dsm_ctype *t,
		      size_t count, uint64_t *off)
{
	struct hetero *h = H(n);
	uint32_t nslots = (uint32_t)(SLAB_PAGES * n->page_size / t->size);
	struct slab *s;
	int err;

	pthread_mutex_lock(&h->mu);
	err = slab_take(h, t, (uint32_t)type, count, off);
	pthread_mutex_unlock(&h->mu);
	if (err == 0)
		return 0;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	/* not under mu: the announcement waits for the service threads */
	if ((err = typed_alloc(n, type, nslots, &s->off))) {
		free(s);
		return err;
	}
	s->type = (uint32_t)type;
	s->nslots = nslots;
	pthread_mutex_lock(&h->mu);
	s->link = h->slabs;
	h->slabs = s;
	err = slab_take(h, t, (uint32_t)type, count, off);
	pthread_mutex_unlock(&h->mu);
	return err ? -ENOMEM : 0;
}

void *dsm_typed_malloc(dsm_type_t type, size_t count)
{
	struct dsm_node *n = dsm__get();
	const struct dsm_ctype *t;
	uint64_t off;
	int err;

	if (!n || !H(n)) {
		errno = ENOTCONN;
		return NULL;
	}
	t = dsm__type_get(&H(n)->reg, type);
	if (t && count > 0 && count <= n->page_size / 2 / t->size)
		err = slab_alloc(n, type, t, count, &off);
	else
		err = typed_alloc(n, type, count, &off);
	if (err) {
		errno = err == -ENOMEM ? ENOMEM : err == -EINVAL ? EINVAL : EIO;
		return NULL;
	}
	return n->region->app + off;
}

void *dsm_typed_alloc_collective(dsm_type_t type, size_t count)
{
	struct dsm_node *n = dsm__get();
	const struct dsm_ctype *t;
	unsigned char msg[24] = { 0 }; /* LE: offset, error, fingerprint */
	uint64_t off = 0;
	int err = 0;

	if (!n || !H(n)) {
		errno = ENOTCONN;
		return NULL;
	}
	if (n->id == 0)
		err = typed_alloc(n, type, count, &off);
	t = dsm__type_get(&H(n)->reg, type);
	dsm__put_le64(msg, off);
	dsm__put_le64(msg + 8, (uint64_t)-err);
	dsm__put_le64(msg + 16, t ? t->fingerprint : 0);
	if ((err = dsm_broadcast(msg, sizeof(msg), 0)) == 0)
		err = -(int)dsm__get_le64(msg + 8);
	if (!err && (!t || dsm__get_le64(msg + 16) != t->fingerprint)) {
		DSM_ERR(n, "dsm_typed_alloc_collective: type %d differs from node 0's",
			type);
		err = -EINVAL;
	}
	if (err) {
		errno = err == -ENOMEM ? ENOMEM : err == -EINVAL ? EINVAL : EIO;
		return NULL;
	}
	return n->region->app + dsm__get_le64(msg);
}

/* A small typed allocation at off in one of this node's slabs: 0 if the
 * slab stays, 1 if it is now empty and full (removed; *blk = its block),
 * 2 if off is in none of them. */
static int slab_free(struct dsm_node *n, uint64_t off, unsigned char **blk)
{
	struct hetero *h = H(n);
	int rc = 2;

	pthread_mutex_lock(&h->mu);
	for (struct slab **sp = &h->slabs; *sp; sp = &(*sp)->link) {
		struct slab *s = *sp;
		const struct dsm_ctype *t = dsm__type_get(&h->reg, (int)s->type);
		if (off < s->off || off >= s->off + (uint64_t)s->nslots * t->size)
			continue;
		rc = 0;
		if (s->live > 0)
			s->live--;
		if (s->live == 0 && s->next == s->nslots) { /* nothing more to give */
			*blk = n->region->app + s->off;
			*sp = s->link;
			free(s);
			rc = 1;
		}
		break;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int dsm_typed_free(void *ptr)
{
	struct dsm_node *n = dsm__get();
	unsigned char *a = ptr;
	struct ptype pt;
	int err;

	if (!n || !H(n))
		return DSM_ENOTINIT;
	if (!a)
		return 0;
	if (a < n->region->app || a >= n->region->app + n->region->size)
		return -EINVAL;
	switch ((err = slab_free(n, (uint64_t)(a - n->region->app), &a))) {
	case 0:
		return 0;       /* a slot of a slab still in use */
	case 1:
		break;          /* a whole slab to free: a is its block */
	case 2:
		if ((size_t)(a - n->region->app) % n->page_size == 0)
			break;  /* not in a slab of this node: a block? */
		/* fall through */
	default:
		return -EINVAL;
	}
	ptr = a;
	size_t p = (size_t)(a - n->region->app) / n->page_size;
	pt = H(n)->pages[p];
	if (!pt.type || pt.first != p)
		return -EINVAL; /* not the start of a typed block */
	set_block(n, 0, (uint64_t)p * n->page_size, pt.limit);
	if ((err = announce(n, 0, (uint64_t)p * n->page_size, pt.limit, 0)))
		return err;
	dsm_free(ptr);
	return 0;
}

int dsm_broadcast_typed(void *buf, dsm_type_t type, size_t count, int root)
{
	struct dsm_node *n = dsm__get();
	const struct dsm_ctype *t;
	int err;

	if (!n || !H(n))
		return DSM_ENOTINIT;
	if (!(t = dsm__type_get(&H(n)->reg, type)) || root < 0 || root >= n->count ||
	    count > SIZE_MAX / t->size)
		return -EINVAL;
	err = dsm_broadcast(buf, count * t->size, root);
	if (!err && (n->hetero_swap >> root & 1)) /* receiver makes right */
		dsm__type_swap(t, 0, buf, count * t->size, (uint64_t)count * t->size);
	return err;
}

int dsm_type_of(const void *addr)
{
	struct dsm_node *n = dsm__get();
	const unsigned char *a = addr;

	if (!n || !H(n))
		return DSM_ENOTINIT;
	if (a < n->region->app || a >= n->region->app + n->region->size)
		return -EINVAL;
	return (int)H(n)->pages[(size_t)(a - n->region->app) / n->page_size].type;
}

int dsm_node_byte_order(int node)
{
	struct dsm_node *n = dsm__get();

	if (!n)
		return DSM_ENOTINIT;
	if (node < 0 || node >= n->count)
		return -EINVAL;
	return n->byte_order[node];
}
