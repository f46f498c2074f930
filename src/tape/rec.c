/*
 * rec.c — recording tapes, holes and applying them (include/dsm_tape.h,
 * docs/tapes.md): the per-node event logs the protocol's record hooks
 * append to, the prefetch accounting of tracked fetches, and the entry
 * points that hand pages to the protocol's tape hooks.
 *
 * One log per kind. A recording is a window [start, now) of its kind's
 * log, so any number may overlap; a page is logged once per window of the
 * newest recording (a page used a thousand times is one event). The logs
 * live in lazily backed reservations sized from the region's page count,
 * so the hooks, which run in the fault path, never allocate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/node.h"
#include "internal.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "dsm_replay.h"
#include "tapeworm.h"
#include "vm/vm.h"

#define MAX_REC 64 /* recordings running at once, per node */

struct tape_log {
	struct dsm_tape_event *ev; /* cap entries: ev[q - base] is position q */
	uint64_t *seen;            /* per page: position + 1 of its last entry */
	uint64_t cap, base, total; /* total: position of the next entry */
	uint64_t newest;           /* start of the newest running recording */
	uint64_t lost_at;          /* position + 1 of the last dropped event */
	int nrec;                  /* recordings of this kind running */
};

/* A tape received by dsm_tape_send, waiting for dsm_tape_recv. */
struct mail {
	unsigned tag;
	int from;
	struct dsm_tape *t;
	struct mail *next;
};

struct tape_node {
	pthread_mutex_t mb_mu;              /* mailbox */
	pthread_cond_t mb_cv;
	struct mail *mb_head, *mb_tail;
	const struct dsm_tape_proto *proto; /* NULL: the protocol has no hooks */
	size_t npages;
	struct tape_log log[4];             /* by enum dsm_tape_kind */
	struct dsm_tape *rec[MAX_REC];      /* running recordings */
	uint16_t *slot_of;                  /* per page: slot of a held prefetch */
	struct { uint64_t installed, used; } slots[DSM_TAPE_SLOTS];
	uint8_t push_slot[DSM_TAPE_SLOTS];  /* slot receives pushes (push.c) */
	uint8_t *ever;                      /* per page: read here before */
	uint64_t first_misses;              /* misses on pages never read before */
};

static struct tape_node *TN(struct dsm_node *n)
{
	return n ? n->tape_state : NULL;
}

static const struct dsm_tape_proto *const protos[] = { &dsm__tape_proto_hlrc,
							&dsm__tape_proto_lrc };

static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int dsm__tape_init(struct dsm_node *n)
{
	struct tape_node *tn = calloc(1, sizeof(*tn));
	size_t np = n->region->npages;
	int err = 0;

	if (!tn)
		return -ENOMEM;
	n->tape_state = tn;
	tn->npages = np;
	pthread_mutex_init(&tn->mb_mu, NULL);
	pthread_cond_init(&tn->mb_cv, NULL);
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(protos[i]->protocol, n->proto->name))
			tn->proto = protos[i];
	for (int k = DSM_TAPE_WRITE; k <= DSM_TAPE_REQUEST; k++) {
		struct tape_log *l = &tn->log[k];
		l->cap = 2 * (uint64_t)np + 1;
		l->ev = reserve(l->cap * sizeof(*l->ev));
		l->seen = reserve(np * sizeof(*l->seen));
		if (!l->ev || !l->seen)
			return -ENOMEM;
	}
	if (!(tn->slot_of = reserve(np * sizeof(*tn->slot_of))) || !(tn->ever = reserve(np)))
		return -ENOMEM;
	if (tn->proto && tn->proto->init)
		err = tn->proto->init(n);
	return err ? err : dsm__tw_init(n);
}

void dsm__tape_fini(struct dsm_node *n)
{
	struct tape_node *tn = TN(n);

	if (!tn)
		return;
	dsm__tw_fini(n);
	for (int i = 0; i < MAX_REC; i++)
		if (tn->rec[i])
			tn->rec[i]->recording = 0; /* the owner frees it */
	for (int k = DSM_TAPE_WRITE; k <= DSM_TAPE_REQUEST; k++) {
		if (tn->log[k].ev)
			munmap(tn->log[k].ev, tn->log[k].cap * sizeof(*tn->log[k].ev));
		if (tn->log[k].seen)
			munmap(tn->log[k].seen, tn->npages * sizeof(*tn->log[k].seen));
	}
	if (tn->slot_of)
		munmap(tn->slot_of, tn->npages * sizeof(*tn->slot_of));
	if (tn->ever)
		munmap(tn->ever, tn->npages);
	for (struct mail *m = tn->mb_head, *nx; m; m = nx) {
		nx = m->next;
		dsm_tape_free(m->t);
		free(m);
	}
	pthread_mutex_destroy(&tn->mb_mu);
	pthread_cond_destroy(&tn->mb_cv);
	free(tn);
	n->tape_state = NULL;
}

int dsm__tape_supported(struct dsm_node *n)
{
	return TN(n) && TN(n)->proto;
}

const struct dsm_tape_proto *dsm__tape_proto(struct dsm_node *n)
{
	return TN(n) ? TN(n)->proto : NULL;
}

void dsm__tape_slot_mark_push(struct dsm_node *n, uint32_t slot)
{
	if (TN(n) && slot && slot < DSM_TAPE_SLOTS)
		__atomic_store_n(&TN(n)->push_slot[slot], 1, __ATOMIC_RELAXED); /* read by faults */
}

static int on_send(struct dsm_node *n, const struct dsm_msg *m);

int dsm__tape_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct tape_node *tn = TN(n);

	if (tn && m->type == DSM_MSG_TAPE_SEND)
		return on_send(n, m);
	if (tn && (m->type == DSM_MSG_TAPE_PUSH || m->type == DSM_MSG_TAPE_UNSUB))
		return dsm__pc_handle(n, m);
	if (!tn || !tn->proto) {
		dsm__reject(n, "%s: this node's protocol (%s) has no tape hooks",
			    dsm__msg_type_name(m->type), n->proto->name);
		return DSM_EPROTO;
	}
	return tn->proto->handle(n, m);
}

/* --- record hooks (fault path: region lock held, no malloc) --- */

/* Drop log entries older than every running recording. */
static void compact(struct tape_log *l, uint64_t oldest)
{
	if (oldest <= l->base || oldest > l->total)
		return;
	memmove(l->ev, l->ev + (oldest - l->base),
		(size_t)(l->total - oldest) * sizeof(*l->ev));
	l->base = oldest;
}

static uint64_t oldest_start(struct tape_node *tn, int kind)
{
	uint64_t o = UINT64_MAX;

	for (int i = 0; i < MAX_REC; i++)
		if (tn->rec[i] && tn->rec[i]->kind == kind && tn->rec[i]->start < o)
			o = tn->rec[i]->start;
	return o;
}

static void note(struct tape_node *tn, int kind, uint32_t page, uint32_t node,
		 uint32_t interval)
{
	struct tape_log *l = &tn->log[kind];

	if (!l->nrec || page >= tn->npages)
		return; /* nothing records */
	if (l->seen[page] > l->newest) { /* the newest recording has the page */
		uint64_t q = l->seen[page] - 1;
		/* a request tape names every requester: a page asked by one
		 * node after another is an event per change of requester */
		if (kind != DSM_TAPE_REQUEST || q < l->base || l->ev[q - l->base].node == node)
			return;
	}
	if (l->total - l->base >= l->cap)
		compact(l, oldest_start(tn, kind));
	if (l->total - l->base >= l->cap) {
		l->lost_at = l->total + 1;
		return;
	}
	l->ev[l->total - l->base] = (struct dsm_tape_event){ interval, page, node };
	l->seen[page] = ++l->total;
}

/* A protocol's READ note is a remote miss (every call site counts
 * remote_fetches with it): the first on a page never read here before is
 * a compulsory miss, which no history of this node's reads can predict
 * (docs/tapes.md, "The floor"). Counted whether or not anything records. */
void dsm__tape_note(struct dsm_node *n, int kind, uint32_t page, uint32_t node,
		    uint32_t interval)
{
	struct tape_node *tn = TN(n);

	if (!tn || kind < DSM_TAPE_WRITE || kind > DSM_TAPE_REQUEST)
		return;
	if (kind == DSM_TAPE_READ && page < tn->npages && !tn->ever[page]) {
		tn->ever[page] = 1;
		__atomic_fetch_add(&tn->first_misses, 1, __ATOMIC_RELAXED);
	}
	note(tn, kind, page, node, interval);
}

uint64_t dsm__tape_first_misses(struct dsm_node *n)
{
	return TN(n) ? __atomic_load_n(&TN(n)->first_misses, __ATOMIC_RELAXED) : 0;
}

void dsm__tape_held(struct dsm_node *n, uint32_t page, uint32_t slot)
{
	struct tape_node *tn = TN(n);

	if (tn && page < tn->npages)
		tn->slot_of[page] = (uint16_t)(slot < DSM_TAPE_SLOTS ? slot : 0);
}

void dsm__tape_hit(struct dsm_node *n, uint32_t page, uint32_t node, uint32_t interval)
{
	struct tape_node *tn = TN(n);

	if (!tn || page >= tn->npages)
		return;
	__atomic_fetch_add(&tn->slots[tn->slot_of[page]].used, 1, __ATOMIC_RELAXED);
	/* only tracked (Tapeworm) copies are held: pulled or pushed */
	if (__atomic_load_n(&tn->push_slot[tn->slot_of[page]], __ATOMIC_RELAXED) &&
	    dsm__pc_hit(n, page))
		DSM_STAT_ADD(n, tape_pushed_used, 1);
	else
		DSM_STAT_ADD(n, tape_pages_used, 1);
	tn->ever[page] = 1; /* read here, but not a miss */
	note(tn, DSM_TAPE_READ, page, node, interval);
}

/* --- recording --- */

struct dsm_tape *dsm__tape_record(struct dsm_node *n, int kind)
{
	struct tape_node *tn = TN(n);
	struct dsm_tape *t;
	struct tape_log *l;
	int slot = -1;

	if (!tn) {
		errno = ENOTCONN;
		return NULL;
	}
	if (kind < DSM_TAPE_WRITE || kind > DSM_TAPE_REQUEST) {
		errno = EINVAL;
		return NULL;
	}
	if (!(t = dsm_tape_new()))
		return NULL;
	l = &tn->log[kind];
	pthread_mutex_lock(&n->region->lock);
	if (kind == DSM_TAPE_WRITE && tn->proto && tn->proto->sync)
		tn->proto->sync(n); /* earlier writes: noted before we record */
	for (int i = 0; i < MAX_REC && slot < 0; i++)
		if (!tn->rec[i])
			slot = i;
	if (slot >= 0) {
		if (!l->nrec) /* nothing records this kind: the log starts over */
			l->base = l->total;
		t->recording = 1;
		t->kind = kind;
		t->rec_slot = slot;
		t->start = l->newest = l->total;
		tn->rec[slot] = t;
		l->nrec++;
	}
	pthread_mutex_unlock(&n->region->lock);
	if (slot < 0) {
		dsm_tape_free(t);
		errno = EAGAIN;
		return NULL;
	}
	return t;
}

/* Take t off the running recordings; region lock held. */
static void rec_remove(struct tape_node *tn, struct dsm_tape *t)
{
	struct tape_log *l = &tn->log[t->kind];

	tn->rec[t->rec_slot] = NULL;
	t->recording = 0;
	l->nrec--;
	l->newest = 0;
	for (int i = 0; i < MAX_REC; i++)
		if (tn->rec[i] && tn->rec[i]->kind == t->kind && tn->rec[i]->start > l->newest)
			l->newest = tn->rec[i]->start;
}

int dsm__tape_stop(struct dsm_node *n, struct dsm_tape *t)
{
	struct tape_node *tn = TN(n);
	struct tape_log *l;
	int err = 0, lost;

	if (!tn || !t || !t->recording)
		return -EINVAL;
	l = &tn->log[t->kind];
	pthread_mutex_lock(&n->region->lock);
	if (t->kind == DSM_TAPE_WRITE && tn->proto && tn->proto->sync &&
	    (err = tn->proto->sync(n))) { /* writes so far: in this tape */
		pthread_mutex_unlock(&n->region->lock);
		return err;
	}
	uint64_t from = t->start > l->base ? t->start : l->base, k = l->total - from;
	lost = l->lost_at > t->start;
	if (k > t->cap) {
		struct dsm_tape_event *v = realloc(t->ev, (size_t)k * sizeof(*v));
		if (v) {
			t->ev = v;
			t->cap = (size_t)k;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err && k)
		memcpy(t->ev, l->ev + (from - l->base), (size_t)k * sizeof(*t->ev));
	if (!err)
		t->n = (size_t)k;
	rec_remove(tn, t);
	pthread_mutex_unlock(&n->region->lock);
	if (err)
		return err;
	dsm__tape_normalize(t);
	return lost;
}

void dsm__tape_rec_cancel(struct dsm_tape *t)
{
	struct dsm_node *n = __atomic_load_n(&dsm__node, __ATOMIC_ACQUIRE);
	struct tape_node *tn = TN(n);

	if (!tn) {
		t->recording = 0;
		return;
	}
	pthread_mutex_lock(&n->region->lock);
	if (t->recording && tn->rec[t->rec_slot] == t)
		rec_remove(tn, t);
	t->recording = 0;
	pthread_mutex_unlock(&n->region->lock);
}

dsm_tape_t *dsm_tape_record(enum dsm_tape_kind kind)
{
	return dsm__tape_record(dsm__get(), (int)kind);
}

int dsm_tape_stop(dsm_tape_t *t)
{
	struct dsm_node *n = dsm__get();

	return n ? dsm__tape_stop(n, t) : DSM_ENOTINIT;
}

/* --- holes and applying --- */

int dsm_extent_add_range(dsm_extent_t *e, const void *addr, size_t len)
{
	struct dsm_node *n = dsm__get();
	const unsigned char *a = addr;
	size_t first, last;
	int err = 0;

	if (!n)
		return DSM_ENOTINIT;
	if (!e || e->dim != DSM_TAPE_PAGES || !len || !dsm__region_contains(n->region, addr) ||
	    len > n->region->size - (size_t)(a - n->region->app))
		return -EINVAL;
	first = (size_t)(a - n->region->app) / n->page_size;
	last = (size_t)(a + len - 1 - n->region->app) / n->page_size;
	for (size_t p = first; p <= last && !err; p++)
		err = dsm_extent_add(e, (uint32_t)p);
	return err;
}

int dsm_tape_hole(const dsm_extent_t *e, dsm_tape_t **out)
{
	struct dsm_node *n = dsm__get();
	struct dsm_tape *t;
	int err;

	if (!n)
		return DSM_ENOTINIT;
	if (!e || !out || e->dim != DSM_TAPE_PAGES)
		return -EINVAL;
	if (!dsm__tape_supported(n))
		return -ENOTSUP;
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i] >= n->region->npages)
			return -EINVAL;
	if (!(t = dsm_tape_new()))
		return -ENOMEM;
	if ((err = TN(n)->proto->hole(n, e->v, e->n, t))) {
		dsm_tape_free(t);
		return err;
	}
	dsm__tape_normalize(t);
	*out = t;
	return 0;
}

int dsm__tape_fetch(struct dsm_node *n, const struct dsm_tape *t, int track, uint32_t slot)
{
	struct dsm_extent *e;
	int k;

	if (!dsm__tape_supported(n))
		return -ENOTSUP;
	if (!t || t->recording)
		return -EINVAL;
	if (!t->n)
		return 0;
	if (!(e = dsm_tape_project(t, DSM_TAPE_PAGES)))
		return -ENOMEM;
	while (e->n && e->v[e->n - 1] >= n->region->npages)
		e->n--; /* a hand-made tape may name pages past the region */
	k = TN(n)->proto->fetch(n, e->v, e->n, track, slot);
	dsm_extent_free(e);
	if (k > 0)
		dsm__tape_slot_installed(n, track ? slot : 0, (uint64_t)k);
	return k;
}

int dsm_tape_apply(const dsm_tape_t *t)
{
	struct dsm_node *n = dsm__get();
	int err;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = atomic_load(&n->failed)))
		return err;
	return dsm__tape_fetch(n, t, 0, 0);
}

void dsm__tape_slot_installed(struct dsm_node *n, uint32_t slot, uint64_t k)
{
	struct tape_node *tn = TN(n);

	if (tn && slot < DSM_TAPE_SLOTS)
		__atomic_fetch_add(&tn->slots[slot].installed, k, __ATOMIC_RELAXED);
}

void dsm__tape_slot_counts(struct dsm_node *n, uint32_t slot, uint64_t *installed,
			   uint64_t *used)
{
	struct tape_node *tn = TN(n);

	*installed = *used = 0;
	if (!tn || slot >= DSM_TAPE_SLOTS)
		return;
	*installed = __atomic_load_n(&tn->slots[slot].installed, __ATOMIC_RELAXED);
	*used = __atomic_load_n(&tn->slots[slot].used, __ATOMIC_RELAXED);
}

/* --- sending tapes between nodes --- */

#define SEND_MAX_EVENTS 5000000u /* 60 MB on the wire, under the 64 MiB cap */

int dsm_tape_send(const dsm_tape_t *t, int node, unsigned tag)
{
	struct dsm_node *n = dsm__get();
	unsigned char *buf;
	size_t len;
	int err;

	if (!n)
		return DSM_ENOTINIT;
	if (!t || t->recording || node < 0 || node >= n->count || node == n->id)
		return -EINVAL;
	if (t->n > SEND_MAX_EVENTS)
		return -EMSGSIZE;
	len = dsm_tape_encode(t, NULL, 0);
	if (!(buf = malloc(len)))
		return -ENOMEM;
	dsm_tape_encode(t, buf, len);
	struct dsm_msg m = { .type = DSM_MSG_TAPE_SEND, .arg = { tag },
			     .payload = buf, .length = (uint32_t)len };
	err = dsm__send(n, node, &m);
	free(buf);
	return err;
}

/* Service thread: a tape for our mailbox. */
static int on_send(struct dsm_node *n, const struct dsm_msg *m)
{
	struct tape_node *tn = TN(n);
	struct dsm_tape *t = dsm_tape_decode(m->payload, m->length,
					     (uint32_t)n->region->npages, (uint32_t)n->count);
	struct mail *ml;

	if (!t) {
		dsm__reject(n, "TAPE_SEND (tag %llu, %u bytes): malformed tape",
			    (unsigned long long)m->arg[0], m->length);
		return errno == ENOMEM ? -ENOMEM : DSM_EPROTO;
	}
	if (!(ml = calloc(1, sizeof(*ml)))) {
		dsm_tape_free(t);
		return -ENOMEM;
	}
	*ml = (struct mail){ .tag = (unsigned)m->arg[0], .from = (int)m->src, .t = t };
	pthread_mutex_lock(&tn->mb_mu);
	if (tn->mb_tail)
		tn->mb_tail->next = ml;
	else
		tn->mb_head = ml;
	tn->mb_tail = ml;
	pthread_cond_broadcast(&tn->mb_cv);
	pthread_mutex_unlock(&tn->mb_mu);
	return 0;
}

/* Unlink the oldest mail with tag (from node `from`, or any when -1);
 * mb_mu held. */
static struct mail *take_mail(struct tape_node *tn, unsigned tag, int from)
{
	struct mail **pp = &tn->mb_head, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->next)
		if ((*pp)->tag == tag && (from < 0 || (*pp)->from == from)) {
			struct mail *m = *pp;
			*pp = m->next;
			if (tn->mb_tail == m)
				tn->mb_tail = prev;
			return m;
		}
	return NULL;
}

/* Wait for mail with tag from `want` (-1: any) until limit ns. */
static struct mail *wait_mail(struct dsm_node *n, unsigned tag, int want, uint64_t limit,
			      int *errp)
{
	struct tape_node *tn = TN(n);
	uint64_t t0 = dsm__now_ns();
	struct mail *m = NULL;
	int err = 0;

	pthread_mutex_lock(&tn->mb_mu);
	while (!(m = take_mail(tn, tag, want)) && !(err = atomic_load(&n->failed))) {
		struct timespec ts;
		if (dsm__now_ns() - t0 >= limit) {
			err = DSM_ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000; /* re-check the job and the deadline */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&tn->mb_cv, &tn->mb_mu, &ts);
	}
	pthread_mutex_unlock(&tn->mb_mu);
	*errp = err;
	return m;
}

/* Record/replay (docs/replay.md): a receive is a boundary (the pages this
 * node holds can move while it waits), and which sender's tape it took,
 * or that it timed out, is an input of the run: recorded after the wait,
 * read before it when replaying (then only that sender's tape is taken,
 * and a recorded timeout returns at once). The wait keeps the node's run
 * token. */
static int rp_outcome(int *want, int *err)
{
	int64_t v[2] = { *want, *err };
	int e = dsm_replay_input(v, sizeof(v)); /* records, or returns the record */

	*want = (int)v[0];
	*err = (int)v[1];
	return e;
}

int dsm_tape_recv(unsigned tag, int timeout_ms, dsm_tape_t **out, int *from)
{
	struct dsm_node *n = dsm__get();
	struct tape_node *tn = TN(n);
	uint64_t limit;
	struct mail *m = NULL;
	int err = 0, want = -1, rp, e = 0;

	if (!tn)
		return DSM_ENOTINIT;
	if (!out)
		return -EINVAL;
	limit = timeout_ms < 0 ? dsm__reply_deadline_ns(n) : (uint64_t)timeout_ms * 1000000u;
	if ((rp = dsm__rp_on(n)) && (err = dsm__rp_sync_enter(n, DSM_RP_OP_TAPE_RECV, tag)))
		return err;
	if (rp == DSM_RP_REPLAYING && !(err = rp_outcome(&want, &e)) && e)
		err = e; /* the recording timed out here */
	if (!err)
		m = wait_mail(n, tag, want, limit, &err);
	if (rp == DSM_RP_RECORDING) {
		want = m ? m->from : -1;
		e = rp_outcome(&want, &err);
		err = err ? err : e;
	}
	if (rp && (e = dsm__rp_sync_leave(n)) && !err)
		err = e;
	if (!m)
		return err;
	if (err) { /* the replay diverged: the tape stays unread */
		dsm_tape_free(m->t);
		free(m);
		return err;
	}
	*out = m->t;
	if (from)
		*from = m->from;
	free(m);
	return 0;
}
