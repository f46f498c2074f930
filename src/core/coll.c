/*
 * coll.c — shared-memory allocation (served by node 0), broadcast of
 * private data, and the finalize handshake (statistics, then BYE).
 *
 * The allocator orders memory reuse like a lock: dsm_free is a release
 * (the node's writes before it are published, through the protocol's
 * release hook, and its payload is folded into the heap's at node 0) and
 * dsm_malloc/dsm_alloc_collective an acquire of what the frees released.
 * So a node that is handed a freed block sees the old contents, and its
 * writes come after them: no late diff of the freeing node can land on
 * the new owner's data (docs/protocols/lrc.md, "Memory reuse").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bcast.h"
#include "gc/hooks.h"
#include "hetero/hooks.h"
#include "node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "vm/heap.h"
#include "vm/vm.h"

#define STATS_BYTES (sizeof(struct dsm_stats))
/* The lock id the protocol's hooks see for the heap (they ignore it). */
#define HEAP_LOCK 0xffffffffu
#define DSM_PLACE_BARRIER 2 /* internal barrier id: placements made */

/* A broadcast arriving at this node, possibly before the local call. */
struct bcast_in {
	uint64_t seq;
	struct dsm_bcast_asm a;     /* chunks received so far (bcast.c) */
	struct bcast_in *next;
};

struct coll {
	struct dsm_heap *heap;      /* node 0 only */
	uint64_t high_water;        /* node 0: end of the highest block ever
				       handed out (memory above it is unused) */
	void *freed;                /* node 0: the frees' release payloads,
				     * folded by the protocol's lock_merge (mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bcast_in *inbox;
	uint64_t bcast_seq;         /* collective calls made here */
	uint64_t bcast_done;        /* last broadcast received and consumed */
	int fin_count;              /* FIN phase 1 received (node 0) */
	int fin_done;               /* FIN phase 2 received */
	int bye_count;
	struct dsm_stats *all;      /* node 0: every node's stats */
};

static struct coll *C(struct dsm_node *n) { return n->coll_state; }

int dsm__coll_init(struct dsm_node *n)
{
	struct coll *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	n->coll_state = c;
	if (n->id == 0) {
		c->all = calloc((size_t)n->count, sizeof(*c->all));
		if (!c->all)
			return -ENOMEM;
		err = dsm__heap_init(&c->heap, n->cfg.heap_size, n->page_size);
		if (err)
			return err;
	}
	return 0;
}

void dsm__coll_fini(struct dsm_node *n)
{
	struct coll *c = C(n);

	if (!c)
		return;
	while (c->inbox) {
		struct bcast_in *b = c->inbox;
		c->inbox = b->next;
		dsm__bcast_asm_fini(&b->a);
		free(b);
	}
	if (c->heap)
		dsm__heap_destroy(c->heap);
	if (c->freed && n->proto && n->proto->lock_free)
		n->proto->lock_free(c->freed);
	free(c->all);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	n->coll_state = NULL;
}

/* ---------------- allocation ---------------- */

/* dsm_free's release: end this node's interval, so every write it made
 * before the free is published, and put in out what the next user of the
 * memory must acquire (the protocol's release payload). */
static int free_release(struct dsm_node *n, struct dsm_buf *out)
{
	if (!n->proto->release)
		return 0;
	return n->proto->release(n, HEAP_LOCK, DSM_LOCK_EXCL, out);
}

/* Node 0: fold a free's release payload into the heap's, before the
 * block can be handed out again. */
static int heap_merge(struct dsm_node *n, const void *p, size_t len)
{
	struct coll *c = C(n);
	int err;

	if (!n->proto->lock_merge)
		return 0;
	pthread_mutex_lock(&c->mu);
	err = n->proto->lock_merge(n, &c->freed, p, len);
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* Node 0: what an allocation must acquire (every free's payload so far;
 * the block it got was freed, and merged, before it was allocated). */
static int heap_grant(struct dsm_node *n, struct dsm_buf *out)
{
	struct coll *c = C(n);
	int err;

	if (!n->proto->lock_grant)
		return 0;
	pthread_mutex_lock(&c->mu);
	err = n->proto->lock_grant(n, c->freed, out);
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* Record/replay (docs/replay.md): allocations and frees reach node 0's
 * heap in the order of a lock that node 0 manages (an id near the top, a
 * multiple of the node count), recorded and enforced like any lock, so a
 * replay gets the recorded addresses. take: 1 acquire, 0 release. */
static int heap_order(struct dsm_node *n, int take)
{
	unsigned id = 0xffffff00u / (unsigned)n->count * (unsigned)n->count;

	if (!dsm__rp_on(n))
		return 0;
	return take ? dsm_lock_acquire(id) : dsm_lock_release(id);
}

/* After an allocation: acquire what the frees before it released. */
static int alloc_acquire(struct dsm_node *n, const void *p, size_t len)
{
	if (!n->proto->acquire)
		return 0;
	return n->proto->acquire(n, HEAP_LOCK, DSM_LOCK_EXCL, p, len);
}

/* Node 0: allocate and say what the allocator must acquire. */
static int heap_alloc(struct dsm_node *n, uint64_t size, uint64_t *off,
		      struct dsm_buf *acq)
{
	struct coll *c = C(n);
	int err = dsm__heap_alloc(c->heap, size, off);

	if (!err && (err = heap_grant(n, acq))) {
		dsm__heap_free(c->heap, *off);
		*off = ~0ull;
	}
	pthread_mutex_lock(&c->mu);
	if (!err && *off + size > c->high_water)
		c->high_water = *off + size;
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* Node 0 serves an allocation request from a peer; the reply carries
 * what the peer must acquire. */
static void serve_alloc(struct dsm_node *n, const struct dsm_msg *m)
{
	uint64_t off = ~0ull;
	struct dsm_buf acq = { 0 };
	int err = heap_alloc(n, m->arg[0], &off, &acq);
	struct dsm_msg r = { .type = DSM_MSG_ALLOC_REP,
			     .arg = { err ? ~0ull : off, m->arg[1], (uint64_t)-err },
			     .payload = acq.data, .length = (uint32_t)acq.len };

	dsm__send(n, (int)m->src, &r);
	dsm__buf_free(&acq);
}

/* Allocate on node 0, locally or by request, then acquire what the frees
 * before it released. Returns 0 and *off. */
static int alloc_offset(struct dsm_node *n, size_t size, uint64_t *off)
{
	struct dsm_waiter w;
	struct dsm_msg m = { .type = DSM_MSG_ALLOC_REQ };
	struct dsm_buf acq = { 0 };
	int err;

	if (n->id == 0) {
		err = heap_alloc(n, size, off, &acq) ?: alloc_acquire(n, acq.data, acq.len);
		dsm__buf_free(&acq);
		return err;
	}
	dsm__waiter_add(n, &w);
	m.arg[0] = size;
	m.arg[1] = w.token;
	err = dsm__send(n, 0, &m);
	if (!err)
		err = dsm__waiter_wait_for(n, &w, 0, "ALLOC_REQ");
	else
		dsm__waiter_complete(n, w.token, err, NULL), dsm__waiter_wait(n, &w, 0);
	if (!err && w.val[0] == ~0ull)
		err = -(int)w.val[2];
	if (!err) {
		*off = w.val[0];
		err = alloc_acquire(n, w.data, w.len);
	}
	free(w.data);
	return err;
}

/* errno from a dsm error for the pointer-returning calls. */
static void set_errno(int err)
{
	errno = (err == -ENOMEM || err == -EINVAL) ? ENOMEM : (err == DSM_ENOTINIT) ? ENOTCONN
		: (err < 0 && err > -4096) ? -err : EIO;
}

/* dsm__test_malloc_pause: the pause armed for this node's next malloc. */
static void test_pause(struct dsm_node *n)
{
	unsigned ms = atomic_exchange(&n->test_malloc_pause_ms, 0);

	if (ms)
		usleep(ms * 1000u);
}

int dsm__test_malloc_pause(unsigned ms)
{
	struct dsm_node *n = dsm__get();

	if (!n)
		return DSM_ENOTINIT;
	atomic_store(&n->test_malloc_pause_ms, ms);
	return 0;
}

void *dsm_malloc(size_t size)
{
	struct dsm_node *n = dsm__get();
	uint64_t off;
	int err;

	if (!n) {
		set_errno(DSM_ENOTINIT);
		return NULL;
	}
	if (size == 0)
		size = 1;
	if (!(err = dsm__rp_sync_enter(n, 0, 0))) { /* record/replay: a boundary */
		if (!(err = heap_order(n, 1))) {
			err = alloc_offset(n, size, &off);
			err = heap_order(n, 0) ?: err;
		}
		test_pause(n);
		if (!err && dsm__rp_on(n))
			err = dsm__rp_malloc(n, size, off);
		err = dsm__rp_sync_leave(n) ?: err;
	}
	if (err) {
		set_errno(err);
		return NULL;
	}
	if (n->hetero_swap) /* a mixed job: name it if a page is refused */
		dsm__hetero_note_untyped(n, off, size, "dsm_malloc",
					 __builtin_return_address(0));
	return n->region->app + off;
}

/* The release comes first: the block may be handed out as soon as node 0
 * has freed it. A release that fails (the job failed) frees nothing. */
void dsm_free(void *ptr)
{
	struct dsm_node *n = dsm__get();
	struct dsm_msg m = { .type = DSM_MSG_FREE };
	struct dsm_buf rel = { 0 };
	uint64_t off;
	int err;

	if (!ptr || !n)
		return;
	if (!dsm__region_contains(n->region, ptr)) {
		DSM_ERR(n, "dsm_free(%p): not a shared-memory pointer", ptr);
		return;
	}
	off = (uint64_t)((unsigned char *)ptr - n->region->app);
	if ((err = heap_order(n, 1))) {
		DSM_ERR(n, "dsm_free(%p): %s; the block stays allocated", ptr,
			dsm_strerror(err));
		return;
	}
	if ((err = free_release(n, &rel))) {
		DSM_ERR(n, "dsm_free(%p): the writes before it cannot be published "
			   "(%s); the block stays allocated", ptr, dsm_strerror(err));
	} else if (n->id == 0) {
		if ((err = heap_merge(n, rel.data, rel.len)))
			DSM_ERR(n, "dsm_free(%p): %s; the block stays allocated", ptr,
				dsm_strerror(err));
		else if (dsm__heap_free(C(n)->heap, off))
			DSM_ERR(n, "dsm_free(%p): not an allocated block "
				   "(double free?)", ptr);
	} else {
		m.arg[0] = off;
		m.payload = rel.data;
		m.length = (uint32_t)rel.len;
		dsm__send(n, 0, &m); /* before the release: node 0 frees first */
	}
	dsm__buf_free(&rel);
	heap_order(n, 0);
}

/*
 * Collective allocation, with a placement hint for the pages of the block
 * that no block ever used (above node 0's high-water mark before this
 * one). Node 0 allocates and broadcasts the offset, the first unused byte
 * and what to acquire (the frees before it); every node acquires it, hands
 * the hint for the unused whole pages to the protocol, and an internal
 * barrier makes sure every node has before any writes them. Reused pages
 * keep their homes (hlrc migrates them to their writers).
 */
void *dsm_alloc_collective_hint(size_t size, int hint)
{
	struct dsm_node *n = dsm__get();
	struct {
		uint64_t off, err, len, unused;
		unsigned char acq[4 * DSM_MAX_NODES];
	} msg = { 0 };
	int err;

	if (!n) {
		set_errno(DSM_ENOTINIT);
		return NULL;
	}
	if (hint < DSM_PLACE_CYCLIC || hint >= n->count) {
		DSM_ERR(n, "dsm_alloc_collective_hint: placement %d is neither a node "
			"id (0..%d) nor DSM_PLACE_*", hint, n->count - 1);
		errno = EINVAL;
		return NULL;
	}
	size = size ? size : 1;
	if (n->id == 0 && (err = heap_order(n, 1))) {
		msg.err = (uint64_t)-err;
	} else if (n->id == 0) {
		struct dsm_buf acq = { 0 };
		pthread_mutex_lock(&C(n)->mu);
		msg.unused = C(n)->high_water;
		pthread_mutex_unlock(&C(n)->mu);
		err = heap_alloc(n, size, &msg.off, &acq);
		if (!err && acq.len > sizeof(msg.acq)) {
			dsm__heap_free(C(n)->heap, msg.off);
			err = -EMSGSIZE;
		}
		if (!err && acq.len) {
			memcpy(msg.acq, acq.data, acq.len);
			msg.len = acq.len;
		}
		msg.err = (uint64_t)-err;
		dsm__buf_free(&acq);
		heap_order(n, 0);
	}
	/* the words travel little-endian: nodes may differ in byte order */
	msg.off = htole64(msg.off);
	msg.err = htole64(msg.err);
	msg.len = htole64(msg.len);
	msg.unused = htole64(msg.unused);
	err = dsm_broadcast(&msg, sizeof(msg), 0);
	msg.off = le64toh(msg.off);
	msg.err = le64toh(msg.err);
	msg.len = le64toh(msg.len);
	msg.unused = le64toh(msg.unused);
	if (!err && msg.err)
		err = -(int)msg.err;
	if (!err)
		err = msg.len > sizeof(msg.acq) ? DSM_EPROTO
						 : alloc_acquire(n, msg.acq, msg.len);
	if (!err && hint != DSM_PLACE_DEFAULT && n->proto->place) {
		uint64_t ps = n->page_size, end = msg.off + size;
		uint64_t first = ((msg.unused > msg.off ? msg.unused : msg.off) + ps - 1) / ps;
		if (first < end / ps)
			err = n->proto->place(n, first, end / ps - first, hint);
		err = dsm__barrier_internal(n, DSM_PLACE_BARRIER) ?: err;
	}
	if (err) {
		set_errno(err);
		return NULL;
	}
	if (n->hetero_swap)
		dsm__hetero_note_untyped(n, msg.off, size, "dsm_alloc_collective",
					 __builtin_return_address(0));
	return n->region->app + msg.off;
}

void *dsm_alloc_collective(size_t size)
{
	return dsm_alloc_collective_hint(size, DSM_PLACE_DEFAULT);
}

/* ---------------- broadcast ---------------- */

/* Find or create the inbox entry for a broadcast of total bytes (the
 * total is checked against DSM_BCAST_MAX before it is allocated); caller
 * holds c->mu. 0 or -EMSGSIZE/-ENOMEM. */
static int inbox_get(struct coll *c, uint64_t seq, uint64_t total,
		     struct bcast_in **out)
{
	struct bcast_in *b;
	int err;

	for (b = c->inbox; b; b = b->next)
		if (b->seq == seq) {
			*out = b;
			return 0;
		}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if ((err = dsm__bcast_asm_init(&b->a, total, DSM_BCAST_CHUNK))) {
		free(b);
		return err;
	}
	b->seq = seq;
	b->next = c->inbox;
	c->inbox = b;
	*out = b;
	return 0;
}

/* A broadcast chunk arrived: file it. arg = { seq, offset, total }. */
static int recv_bcast(struct dsm_node *n, const struct dsm_msg *m)
{
	struct coll *c = C(n);
	struct bcast_in *b = NULL;
	const char *why = NULL;
	int err;

	pthread_mutex_lock(&c->mu);
	if (m->arg[0] <= c->bcast_done) {
		why = "chunk of a broadcast that already completed";
		err = DSM_EPROTO;
	} else if ((err = inbox_get(c, m->arg[0], m->arg[2], &b))) {
		why = err == -EMSGSIZE ? "total over the broadcast limit (1 GiB)"
				       : "no memory for the broadcast";
	} else if (!(err = dsm__bcast_asm_add(&b->a, m->arg[2], m->arg[1],
					      m->payload, m->length, &why))) {
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (err)
		DSM_ERR(n, "broadcast %llu from node %u: chunk at offset %llu, %u "
			   "bytes, total %llu refused: %s",
			(unsigned long long)m->arg[0], m->src,
			(unsigned long long)m->arg[1], m->length,
			(unsigned long long)m->arg[2], why);
	return err;
}

/* Root: send len bytes to every peer in chunks. */
static int send_bcast(struct dsm_node *n, const void *buf, size_t len, uint64_t seq)
{
	dsm__gc_page_out(n, buf, len); /* references in it escape (docs/gc.md) */
	for (int dst = 0; dst < n->count; dst++) {
		size_t off = 0;
		if (dst == n->id)
			continue;
		do {
			size_t chunk = len - off < DSM_BCAST_CHUNK ? len - off : DSM_BCAST_CHUNK;
			struct dsm_msg m = { .type = DSM_MSG_BCAST, .length = (uint32_t)chunk,
					     .arg = { seq, off, len },
					     .payload = (const unsigned char *)buf + off };
			int err = dsm__send(n, dst, &m);
			if (err)
				return err;
			off += chunk;
		} while (off < len);
	}
	return 0;
}

/* Receiver: wait for broadcast seq, copy it out (no lock held while
 * copying: buf may be shared memory and fault). */
static int wait_bcast(struct dsm_node *n, void *buf, size_t len, uint64_t seq)
{
	struct coll *c = C(n);
	struct bcast_in *b = NULL, **pp;
	int err = 0;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		for (b = c->inbox; b && b->seq != seq; b = b->next)
			;
		if (b && dsm__bcast_asm_done(&b->a))
			break;
		if ((err = atomic_load(&n->failed)))
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	if (b && !err) {
		for (pp = &c->inbox; *pp; pp = &(*pp)->next)
			if (*pp == b) {
				*pp = b->next;
				break;
			}
		c->bcast_done = seq;
	}
	pthread_mutex_unlock(&c->mu);
	if (err)
		return err;
	if (b->a.total == len)
		memcpy(buf, b->a.buf, len);
	else
		err = -EINVAL;
	dsm__bcast_asm_fini(&b->a);
	free(b);
	return err;
}

static int broadcast(struct dsm_node *n, void *buf, size_t len, int root);

/* A collective: a record/replay boundary around it. */
int dsm_broadcast(void *buf, size_t len, int root)
{
	struct dsm_node *n = dsm__get();
	int err;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = dsm__rp_sync_enter(n, DSM_RP_OP_COLLECTIVE, (unsigned)root)))
		return err;
	err = broadcast(n, buf, len, root);
	return dsm__rp_sync_leave(n) ?: err;
}

static int broadcast(struct dsm_node *n, void *buf, size_t len, int root)
{
	uint64_t seq;

	if (!n)
		return DSM_ENOTINIT;
	if (root < 0 || root >= n->count || (!buf && len))
		return -EINVAL;
	if (len > DSM_BCAST_MAX)
		return -EMSGSIZE;
	if (atomic_load(&n->failed))
		return atomic_load(&n->failed);
	seq = ++C(n)->bcast_seq;
	if (n->count == 1)
		return 0;
	if (n->id != root)
		return wait_bcast(n, buf, len, seq);
	/* From here on a chunk of this broadcast arriving here is stale. */
	pthread_mutex_lock(&C(n)->mu);
	C(n)->bcast_done = seq;
	pthread_mutex_unlock(&C(n)->mu);
	return send_bcast(n, buf, len, seq);
}

/* ---------------- finalize ---------------- */

/* Wait on c->cv until *counter reaches target or the job fails; bounded by
 * timeout_ms when nonzero. Caller holds c->mu. */
static int wait_count(struct dsm_node *n, int *counter, int target, int timeout_ms)
{
	struct coll *c = C(n);
	uint64_t start = dsm__now_ns();
	int err;

	while (*counter < target) {
		if ((err = atomic_load(&n->failed)))
			return err;
		if (timeout_ms && dsm__now_ns() - start > (uint64_t)timeout_ms * 1000000)
			return DSM_ETIMEDOUT;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	return 0;
}

/* Phase 1: every node's statistics reach node 0, which writes DSM_STATS;
 * phase 2: node 0 tells everyone that all nodes have finished. */
static int fin_stats(struct dsm_node *n)
{
	struct coll *c = C(n);
	unsigned char buf[STATS_BYTES];
	struct dsm_msg m = { .type = DSM_MSG_FIN };
	int err = 0;

	n->stats.map_resets = n->region->map_resets;
	if (n->id != 0) {
		dsm__stats_pack(&n->stats, buf);
		m.arg[0] = 1;
		m.length = sizeof(buf);
		m.payload = buf;
		if ((err = dsm__send(n, 0, &m)))
			return err;
		pthread_mutex_lock(&c->mu);
		err = wait_count(n, &c->fin_done, 1, 0);
		pthread_mutex_unlock(&c->mu);
		return err;
	}
	pthread_mutex_lock(&c->mu);
	err = wait_count(n, &c->fin_count, n->count - 1, 0);
	pthread_mutex_unlock(&c->mu);
	if (err)
		return err;
	memcpy(&c->all[0], &n->stats, sizeof(n->stats));
	if (n->cfg.stats_file[0] &&
	    (err = dsm__stats_write_json(n->cfg.stats_file, n->cfg.protocol,
					 c->all, n->count)))
		DSM_ERR(n, "DSM_STATS=%s: cannot write: %s", n->cfg.stats_file,
			dsm_strerror(err));
	m.arg[0] = 2;
	for (int d = 1; d < n->count; d++)
		if ((err = dsm__send(n, d, &m)))
			return err;
	return 0;
}

/* Tell every peer we are closing and wait for theirs (bounded). */
static int fin_bye(struct dsm_node *n)
{
	struct coll *c = C(n);
	struct dsm_msg m = { .type = DSM_MSG_BYE };
	int err;

	atomic_store(&n->finalizing, 1);
	for (int d = 0; d < n->count; d++)
		if (d != n->id && (err = dsm__send(n, d, &m)))
			return err;
	pthread_mutex_lock(&c->mu);
	err = wait_count(n, &c->bye_count, n->count - 1, n->cfg.timeout_ms);
	pthread_mutex_unlock(&c->mu);
	return err;
}

int dsm__coll_finalize(struct dsm_node *n)
{
	int err = atomic_load(&n->failed);

	if (err)
		return err;
	if (n->count == 1) {
		if (n->cfg.stats_file[0]) {
			n->stats.map_resets = n->region->map_resets;
			return dsm__stats_write_json(n->cfg.stats_file,
						     n->cfg.protocol, &n->stats, 1);
		}
		return 0;
	}
	err = fin_stats(n);
	if (!err)
		err = fin_bye(n);
	if (err)
		DSM_ERR(n, "dsm_finalize: %s", dsm_strerror(err));
	return err;
}

/* Node 0 files a node's final statistics. */
static int recv_fin(struct dsm_node *n, const struct dsm_msg *m)
{
	struct coll *c = C(n);

	pthread_mutex_lock(&c->mu);
	if (m->arg[0] == 1 && n->id == 0 && m->length == STATS_BYTES) {
		dsm__stats_unpack(m->payload, &c->all[m->src]);
		c->fin_count++;
	} else if (m->arg[0] == 2 && m->src == 0) {
		c->fin_done = 1;
	} else {
		pthread_mutex_unlock(&c->mu);
		return DSM_EPROTO;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Messages owned by this file. Service thread. */
int dsm__coll_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct coll *c = C(n);
	const uint64_t val[3] = { m->arg[0], m->arg[1], m->arg[2] };

	switch (m->type) {
	case DSM_MSG_ALLOC_REQ:
		if (n->id != 0)
			return DSM_EPROTO;
		serve_alloc(n, m);
		return 0;
	case DSM_MSG_ALLOC_REP:
		dsm__waiter_complete_data(n, m->arg[1], 0, val, m->payload, m->length);
		return 0;
	case DSM_MSG_FREE: {
		int err;
		if (n->id != 0)
			return DSM_EPROTO;
		if ((err = heap_merge(n, m->payload, m->length))) {
			dsm__reject(n, "dsm_free from node %u: its release data is"
				    " malformed; the block stays allocated", m->src);
			return err;
		}
		if (dsm__heap_free(c->heap, m->arg[0]))
			DSM_ERR(n, "dsm_free from node %u: offset 0x%llx is not an "
				   "allocated block (double free?)", m->src,
				(unsigned long long)m->arg[0]);
		return 0;
	}
	case DSM_MSG_BCAST:
		return recv_bcast(n, m);
	case DSM_MSG_FIN:
		return recv_fin(n, m);
	case DSM_MSG_BYE:
		pthread_mutex_lock(&c->mu);
		c->bye_count++;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		return 0;
	default:
		return DSM_EPROTO;
	}
}
