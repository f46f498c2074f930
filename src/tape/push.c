/*
 * push.c — Tapeworm's producer-consumer regions (dsm_tapeworm_region in
 * include/dsm_tapeworm.h; docs/tapes.md, "Producer-consumer regions").
 *
 * Producer. While a region is marked here, this node records its writes
 * (a write tape) and the page requests it serves (a request tape). At
 * each of its releases — a lock release or a barrier arrival, after the
 * protocol closed the interval (hlrc: the diffs are at their homes) — the
 * region pages it wrote since its last release are pushed to its
 * consumers, per region: the nodes that asked it for pages of the region
 * since then, and the region's consumers of the last push that did not
 * unsubscribe. One TAPE_PUSH per consumer (per PUSH_BATCH pages) with the
 * pages of the regions it consumes: this node's vector of known intervals
 * and, per page, a copy the protocol lets it push (hlrc: pages it is home
 * of; lrc: valid copies). The copy holds every write of every interval in
 * that vector.
 *
 * Consumer. A push is kept aside until this node knows every interval of
 * its vector (normally after the acquire or barrier that follows the
 * producer's release); then the protocol installs each page as a held
 * copy (inaccessible until first used, as a pulled prefetch) if it is
 * invalid here and no interval known here that wrote it is newer than the
 * push — else the copy is dropped. It is tried on arrival and after every
 * acquire and barrier. A consumer that dropped, or left unused, pushed
 * pages from a producer, and used none of its pushes since its last
 * synchronisation point, sends that producer TAPE_UNSUB; the producer
 * keeps pushing to it only if it asks for region pages again.
 *
 * Locks: pc_node.mu, then the region lock. The fault path (dsm__pc_hit,
 * region lock held) takes neither mu nor malloc: per-page bytes and
 * atomics only. Messages are sent with no lock held.
 *
 * TAPE_PUSH (39): arg0 pages; payload u32 vc[node count], then per page
 *   u32 page and the page's bytes.
 * TAPE_UNSUB (45): no arguments, no payload.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "core/node.h"
#include "dsm_tapeworm.h"
#include "internal.h"
#include "proto/proto.h"
#include "tapeworm.h"
#include "vm/vm.h"

#define PC_MAX 64         /* regions per node */
#define PUSH_BATCH 256u   /* pages per TAPE_PUSH (1 MiB of 4 KiB pages) */

struct pc_region {
	int on;
	size_t first, last;       /* pages */
	uint32_t slot;            /* prefetch slot of pushes received into it */
	uint64_t pushes, pages;   /* sent: messages, pages */
	uint64_t consumers;       /* nodes its last push went to */
};

/* A push waiting until this node knows its vector. */
struct pc_pend {
	int from;
	uint32_t *vc;             /* node count entries, then the page */
	unsigned char *data;
};

struct pc_node {
	pthread_mutex_t mu;
	struct pc_region r[PC_MAX];
	int nreg, non;             /* regions, regions marked on */
	struct dsm_tape *wrec;     /* this node's writes since its last release */
	struct dsm_tape *rrec;     /* requests it served since its last push */
	uint64_t unsub;            /* nodes that unsubscribed since the last push */
	uint32_t slot;             /* pushes into pages of no region marked here */
	size_t npages;
	struct pc_pend **pend;     /* per page (reserved) */
	uint32_t *plist;           /* pages with a pend */
	size_t nplist;
	uint8_t *pu;               /* per page: 1 + producer of a held push not
				      used yet (region lock) */
	uint32_t wasted[DSM_MAX_NODES], used[DSM_MAX_NODES]; /* atomics */
	uint64_t dropped;          /* pushed pages dropped here */
};

static struct pc_node *PC(struct dsm_node *n)
{
	return n ? n->pc_state : NULL;
}

static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int dsm__pc_init(struct dsm_node *n)
{
	struct pc_node *pc = calloc(1, sizeof(*pc));
	size_t np = n->region->npages;

	if (!pc)
		return -ENOMEM;
	pthread_mutex_init(&pc->mu, NULL);
	pc->npages = np;
	n->pc_state = pc;
	pc->pend = reserve(np * sizeof(*pc->pend));
	pc->plist = reserve(np * sizeof(*pc->plist));
	pc->pu = reserve(np);
	if (!pc->pend || !pc->plist || !pc->pu)
		return -ENOMEM;
	pc->slot = dsm__tw_new_slot(n);
	dsm__tape_slot_mark_push(n, pc->slot);
	return 0;
}

void dsm__pc_fini(struct dsm_node *n)
{
	struct pc_node *pc = PC(n);

	if (!pc)
		return;
	if (pc->wrec)
		dsm__tape_stop(n, pc->wrec);
	if (pc->rrec)
		dsm__tape_stop(n, pc->rrec);
	dsm_tape_free(pc->wrec);
	dsm_tape_free(pc->rrec);
	for (size_t i = 0; pc->plist && i < pc->nplist; i++) {
		free(pc->pend[pc->plist[i]]);
	}
	if (pc->pend)
		munmap(pc->pend, pc->npages * sizeof(*pc->pend));
	if (pc->plist)
		munmap(pc->plist, pc->npages * sizeof(*pc->plist));
	if (pc->pu)
		munmap(pc->pu, pc->npages);
	pthread_mutex_destroy(&pc->mu);
	free(pc);
	n->pc_state = NULL;
}

/* Can this node push or take pushes at all? */
static int can_push(struct dsm_node *n)
{
	const struct dsm_tape_proto *tp = dsm__tape_proto(n);

	return tp && tp->push_take &&
	       (dsm__tw_mode(n) != DSM_TW_OFF || dsm__pol_mode(n) != DSM_POL_OFF);
}

/* The region marked on here that holds page p, or NULL; mu held. */
static struct pc_region *region_of(struct pc_node *pc, size_t p)
{
	for (int i = 0; i < pc->nreg; i++)
		if (pc->r[i].on && p >= pc->r[i].first && p <= pc->r[i].last)
			return &pc->r[i];
	return NULL;
}

/* Start (on) or stop the producer's recordings; mu held. */
static void recordings(struct dsm_node *n, struct pc_node *pc, int on)
{
	if (on && can_push(n)) {
		if (!pc->wrec)
			pc->wrec = dsm__tape_record(n, DSM_TAPE_WRITE);
		if (!pc->rrec)
			pc->rrec = dsm__tape_record(n, DSM_TAPE_REQUEST);
		return;
	}
	if (pc->wrec)
		dsm__tape_stop(n, pc->wrec);
	if (pc->rrec)
		dsm__tape_stop(n, pc->rrec);
	dsm_tape_free(pc->wrec);
	dsm_tape_free(pc->rrec);
	pc->wrec = pc->rrec = NULL;
}

int dsm_tapeworm_region(void *addr, size_t len, int on)
{
	struct dsm_node *n = dsm__get();
	struct pc_node *pc = PC(n);
	const unsigned char *a = addr;
	size_t first, last;
	int id = -1;

	if (!pc)
		return DSM_ENOTINIT;
	if (!len || !dsm__region_contains(n->region, addr) ||
	    len > n->region->size - (size_t)(a - n->region->app))
		return -EINVAL;
	first = (size_t)(a - n->region->app) / n->page_size;
	last = (size_t)(a + len - 1 - n->region->app) / n->page_size;
	pthread_mutex_lock(&pc->mu);
	for (int i = 0; i < pc->nreg && id < 0; i++)
		if (pc->r[i].first == first && pc->r[i].last == last)
			id = i;
	if (id < 0 && on && pc->nreg < PC_MAX) {
		id = pc->nreg++;
		pc->r[id] = (struct pc_region){ .first = first, .last = last,
						.slot = dsm__tw_new_slot(n) };
		dsm__tape_slot_mark_push(n, pc->r[id].slot);
	}
	if (id >= 0 && pc->r[id].on != !!on) {
		pc->r[id].on = !!on;
		pc->non += on ? 1 : -1;
		recordings(n, pc, pc->non > 0);
	}
	pthread_mutex_unlock(&pc->mu);
	if (id < 0)
		return on ? -ENOSPC : -ENOENT;
	return id;
}

/* --- producer --- */

/* The region pages of t (a write tape), sorted; *k of them. */
static uint32_t *region_pages(struct pc_node *pc, const struct dsm_tape *t, size_t *k)
{
	struct dsm_extent *e = dsm_tape_project(t, DSM_TAPE_PAGES);
	uint32_t *v = NULL;

	*k = 0;
	if (!e)
		return NULL;
	if (dsm_extent_count(e) && (v = malloc(dsm_extent_count(e) * sizeof(*v))))
		for (size_t i = 0; i < dsm_extent_count(e); i++) {
			uint32_t p = dsm_extent_value(e, i);
			if (region_of(pc, p))
				v[(*k)++] = p;
		}
	dsm_extent_free(e);
	return v;
}

/* Learn each region's consumers from the request tape t: the nodes that
 * asked for its pages, and the last push's consumers that did not
 * unsubscribe; into rcons (per region). mu held. */
static void learn(struct dsm_node *n, struct pc_node *pc, const struct dsm_tape *t,
		  uint64_t *rcons)
{
	uint64_t got[PC_MAX] = { 0 };

	for (size_t i = 0; t && i < dsm_tape_count(t); i++) {
		struct dsm_tape_event ev;
		struct pc_region *rg;
		dsm_tape_event(t, i, &ev);
		if (ev.node < (uint32_t)n->count && (int)ev.node != n->id &&
		    (rg = region_of(pc, ev.page)))
			got[rg - pc->r] |= 1ull << ev.node;
	}
	for (int i = 0; i < pc->nreg; i++) {
		pc->r[i].consumers = got[i] | (pc->r[i].consumers & ~pc->unsub);
		rcons[i] = pc->r[i].on ? pc->r[i].consumers : 0;
	}
	pc->unsub = 0;
}

/* The pushable copies of pages[0..k) (those with consumers): *np entries
 * {u32 page, page} after room for the vector, which is filled in; ridx:
 * each entry's region. Region lock taken here. */
static unsigned char *compose(struct dsm_node *n, struct pc_node *pc, const uint32_t *pages,
			      size_t k, const uint64_t *rcons, int *ridx, size_t *np, int *err)
{
	const struct dsm_tape_proto *tp = dsm__tape_proto(n);
	size_t ps = n->page_size, head = 4 * (size_t)n->count, off = head;
	unsigned char *b = malloc(head + k * (4 + ps));
	uint32_t vc[DSM_MAX_NODES];

	*np = 0;
	if (!b) {
		*err = -ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&n->region->lock);
	tp->known(n, vc);
	for (size_t i = 0; i < k && !*err; i++) {
		int r = (int)(region_of(pc, pages[i]) - pc->r), rc;
		if (!rcons[r])
			continue;
		/* hlrc serves the copy to `to` (only noted as a request, and no
		 * request tape of ours records while we compose) */
		rc = tp->push_copy(n, pages[i], __builtin_ctzll(rcons[r]), b + off + 4);
		if (rc < 0)
			*err = rc;
		if (rc != 1)
			continue;
		dsm__put_le32(b + off, pages[i]);
		ridx[(*np)++] = r;
		off += 4 + ps;
	}
	pthread_mutex_unlock(&n->region->lock);
	for (int j = 0; j < n->count; j++)
		dsm__put_le32(b + 4 * (size_t)j, vc[j]);
	return b;
}

/* Send each consumer the entries of the regions it consumes, PUSH_BATCH
 * pages a message; count messages and pages, per region too (mu taken). */
static int send_pushes(struct dsm_node *n, struct pc_node *pc, const unsigned char *b,
		       size_t np, const int *ridx, const uint64_t *rcons)
{
	size_t ps = n->page_size, head = 4 * (size_t)n->count, es = 4 + ps;
	unsigned char *m = malloc(head + PUSH_BATCH * es);
	uint64_t pages[PC_MAX] = { 0 }, pushes[PC_MAX] = { 0 }, msgs = 0, total = 0;
	int err = 0;

	if (!m)
		return -ENOMEM;
	memcpy(m, b, head);
	for (int c = 0; c < n->count && !err; c++) {
		uint8_t in[PC_MAX] = { 0 };
		size_t k = 0;
		for (size_t i = 0; i <= np && !err; i++) {
			if (i < np && (rcons[ridx[i]] >> c & 1)) {
				memcpy(m + head + k * es, b + head + i * es, es);
				k++;
				in[ridx[i]] = 1;
				pages[ridx[i]]++;
			}
			if (k && (k == PUSH_BATCH || i == np)) {
				struct dsm_msg msg = { .type = DSM_MSG_TAPE_PUSH, .arg = { k },
						       .payload = m,
						       .length = (uint32_t)(head + k * es) };
				if (!(err = dsm__send(n, c, &msg))) {
					msgs++;
					total += k;
				}
				k = 0;
			}
		}
		for (int r = 0; r < PC_MAX; r++)
			pushes[r] += in[r];
	}
	free(m);
	DSM_STAT_ADD(n, tape_pushes_sent, msgs);
	DSM_STAT_ADD(n, tape_pages_pushed, total);
	pthread_mutex_lock(&pc->mu);
	for (int r = 0; r < pc->nreg; r++) {
		pc->r[r].pushes += pushes[r];
		pc->r[r].pages += pages[r];
	}
	pthread_mutex_unlock(&pc->mu);
	return err;
}

int dsm__pc_push(struct dsm_node *n)
{
	struct pc_node *pc = PC(n);
	struct dsm_tape *w, *r;
	uint64_t rcons[PC_MAX] = { 0 };
	uint32_t *pages;
	unsigned char *b = NULL;
	size_t k = 0, np = 0;
	int *ridx = NULL, err = dsm__pol_release(n); /* a policy's pushes to homes */

	if (err || !pc || !__atomic_load_n(&pc->wrec, __ATOMIC_RELAXED))
		return err;
	pthread_mutex_lock(&pc->mu);
	if (!(w = pc->wrec)) {
		pthread_mutex_unlock(&pc->mu);
		return 0;
	}
	dsm__tape_stop(n, w);
	pc->wrec = dsm__tape_record(n, DSM_TAPE_WRITE);
	pages = region_pages(pc, w, &k);
	dsm_tape_free(w);
	if (k && pc->rrec) { /* something to push: who consumes it? */
		r = pc->rrec;
		pc->rrec = NULL;
		dsm__tape_stop(n, r);
		learn(n, pc, r, rcons);
		dsm_tape_free(r);
		if (!(ridx = malloc(k * sizeof(*ridx))))
			err = -ENOMEM;
		else /* serving copies notes requests: not recorded (restarted after) */
			b = compose(n, pc, pages, k, rcons, ridx, &np, &err);
		pc->rrec = dsm__tape_record(n, DSM_TAPE_REQUEST);
	}
	pthread_mutex_unlock(&pc->mu);
	if (b && np && !err)
		err = send_pushes(n, pc, b, np, ridx, rcons);
	free(b);
	free(ridx);
	free(pages);
	if (err && err != -ENOMEM) /* a hint lost; a dead peer fails the job elsewhere */
		DSM_ERR(n, "tapeworm: a push failed: %s", dsm_strerror(err));
	return err == -ENOMEM ? err : 0;
}

/* --- consumer --- */

static int covered(const struct dsm_node *n, const uint32_t *vc, const uint32_t *mine)
{
	for (int j = 0; j < n->count; j++)
		if (vc[j] > mine[j])
			return 0;
	return 1;
}

/* Hand page p's push to the protocol; region lock held. */
static void take(struct dsm_node *n, struct pc_node *pc, uint32_t p, int from,
		 const uint32_t *vc, const unsigned char *data)
{
	struct pc_region *rg = region_of(pc, p);
	int judged = from < DSM_MAX_NODES; /* a policy's copies (+ DSM_MAX_NODES) are not */
	int rc;

	from %= DSM_MAX_NODES;
	rc = dsm__tape_proto(n)->push_take(n, p, from, vc, data, rg ? rg->slot : pc->slot);
	if (pc->pu[p] && pc->pu[p] <= DSM_MAX_NODES) /* an earlier push of p, never used */
		__atomic_fetch_add(&pc->wasted[pc->pu[p] - 1], 1, __ATOMIC_RELAXED);
	pc->pu[p] = 0;
	if (rc == DSM_PUSH_TAKEN) {
		pc->pu[p] = (uint8_t)(from + 1 + (judged ? 0 : DSM_MAX_NODES));
		dsm__tape_slot_installed(n, rg ? rg->slot : pc->slot, 1);
		return;
	}
	if (judged)
		__atomic_fetch_add(&pc->wasted[from], 1, __ATOMIC_RELAXED);
	pc->dropped++;
	DSM_STAT_ADD(n, tape_pushed_dropped, 1);
}

/* Keep page p's push until its vector is known here; mu held. */
static int keep(struct pc_node *pc, size_t vcn, uint32_t p, int from, const uint32_t *vc,
		const unsigned char *data, size_t ps)
{
	struct pc_pend *e = malloc(sizeof(*e) + vcn * 4 + ps);

	if (!e)
		return -ENOMEM;
	e->from = from;
	e->vc = (uint32_t *)(e + 1);
	e->data = (unsigned char *)(e->vc + vcn);
	memcpy(e->vc, vc, vcn * 4);
	memcpy(e->data, data, ps);
	if (pc->pend[p])
		free(pc->pend[p]); /* superseded */
	else
		pc->plist[pc->nplist++] = p;
	pc->pend[p] = e;
	return 0;
}

/* Check a TAPE_PUSH: 0, or DSM_EPROTO after rejecting it. */
static int check_push(struct dsm_node *n, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	size_t ps = n->page_size, head = 4 * (size_t)n->count, k = m->arg[0];

	if (!can_push(n)) {
		dsm__reject(n, "TAPE_PUSH from node %u: Tapeworm is off or the protocol (%s) "
			    "cannot take pushes here", m->src, n->proto->name);
		return DSM_EPROTO;
	}
	if (k == 0 || k > PUSH_BATCH || m->length != head + k * (4 + ps)) {
		dsm__reject(n, "TAPE_PUSH from node %u: %u bytes for %llu pages", m->src,
			    m->length, (unsigned long long)m->arg[0]);
		return DSM_EPROTO;
	}
	for (size_t i = 0; i < k; i++)
		if (dsm__get_le32(d + head + i * (4 + ps)) >= PC(n)->npages) {
			dsm__reject(n, "TAPE_PUSH from node %u names page %u, past the region",
				    m->src, dsm__get_le32(d + head + i * (4 + ps)));
			return DSM_EPROTO;
		}
	return 0;
}

int dsm__pc_receive(struct dsm_node *n, int from, const uint32_t *vc,
		    const unsigned char *d, size_t k)
{
	struct pc_node *pc = PC(n);
	size_t ps = n->page_size;
	uint32_t mine[DSM_MAX_NODES];
	int err = 0, now;

	pthread_mutex_lock(&pc->mu);
	pthread_mutex_lock(&n->region->lock);
	dsm__tape_proto(n)->known(n, mine);
	now = covered(n, vc, mine);
	for (size_t i = 0; now && i < k; i++) {
		const unsigned char *e = d + i * (4 + ps);
		uint32_t p = dsm__get_le32(e);
		if (pc->pend[p]) { /* an older push of p waiting: superseded */
			free(pc->pend[p]);
			pc->pend[p] = NULL;
		}
		take(n, pc, p, from, vc, e + 4);
	}
	pthread_mutex_unlock(&n->region->lock);
	for (size_t i = 0; !now && i < k && !err; i++) {
		const unsigned char *e = d + i * (4 + ps);
		err = keep(pc, (size_t)n->count, dsm__get_le32(e), from, vc, e + 4, ps);
	}
	if (now) { /* drop the superseded entries from the list */
		size_t j = 0;
		for (size_t i = 0; i < pc->nplist; i++)
			if (pc->pend[pc->plist[i]])
				pc->plist[j++] = pc->plist[i];
		pc->nplist = j;
	}
	pthread_mutex_unlock(&pc->mu);
	return err;
}

static int on_push(struct dsm_node *n, const struct dsm_msg *m)
{
	uint32_t vc[DSM_MAX_NODES];
	int err;

	if ((err = check_push(n, m)))
		return err;
	for (int j = 0; j < n->count; j++)
		vc[j] = dsm__get_le32((const unsigned char *)m->payload + 4 * (size_t)j);
	return dsm__pc_receive(n, (int)m->src, vc,
			       (const unsigned char *)m->payload + 4 * (size_t)n->count,
			       (size_t)m->arg[0]);
}

int dsm__pc_sync(struct dsm_node *n)
{
	struct pc_node *pc = PC(n);
	uint32_t mine[DSM_MAX_NODES];
	uint64_t unsub = 0;
	size_t j = 0;
	int err = 0;

	if (!pc || !dsm__tape_proto(n) || !dsm__tape_proto(n)->push_take)
		return 0;
	pthread_mutex_lock(&pc->mu);
	if (pc->nplist) {
		pthread_mutex_lock(&n->region->lock);
		dsm__tape_proto(n)->known(n, mine);
		for (size_t i = 0; i < pc->nplist; i++) {
			uint32_t p = pc->plist[i];
			struct pc_pend *e = pc->pend[p];
			if (!covered(n, e->vc, mine)) {
				pc->plist[j++] = p;
				continue;
			}
			take(n, pc, p, e->from, e->vc, e->data);
			free(e);
			pc->pend[p] = NULL;
		}
		pc->nplist = j;
		pthread_mutex_unlock(&n->region->lock);
	}
	/* judge the producers: wasted pushes and none used since last time */
	for (int i = 0; i < n->count; i++) {
		uint32_t w = __atomic_exchange_n(&pc->wasted[i], 0, __ATOMIC_RELAXED);
		uint32_t u = __atomic_exchange_n(&pc->used[i], 0, __ATOMIC_RELAXED);
		if (w && !u && i != n->id)
			unsub |= 1ull << i;
	}
	pthread_mutex_unlock(&pc->mu);
	for (int i = 0; i < n->count && !err; i++)
		if (unsub >> i & 1) {
			struct dsm_msg m = { .type = DSM_MSG_TAPE_UNSUB };
			err = dsm__send(n, i, &m);
		}
	return err;
}

int dsm__pc_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct pc_node *pc = PC(n);

	if (!pc)
		return DSM_EPROTO;
	if (m->type == DSM_MSG_TAPE_PUSH && m->arg[1]) /* a policy's (policy.c) */
		return dsm__pol_handle(n, m);
	if (m->type == DSM_MSG_TAPE_PUSH)
		return on_push(n, m);
	if (m->length || m->src >= (uint32_t)n->count) {
		dsm__reject(n, "TAPE_UNSUB from node %u with a payload", m->src);
		return DSM_EPROTO;
	}
	pthread_mutex_lock(&pc->mu);
	pc->unsub |= 1ull << m->src;
	pthread_mutex_unlock(&pc->mu);
	return 0;
}

int dsm__pc_hit(struct dsm_node *n, uint32_t page)
{
	struct pc_node *pc = PC(n);
	uint8_t f;

	if (!pc || page >= pc->npages || !(f = pc->pu[page]))
		return 0;
	pc->pu[page] = 0;
	if (f <= DSM_MAX_NODES)
		__atomic_fetch_add(&pc->used[f - 1], 1, __ATOMIC_RELAXED);
	return 1;
}

void dsm__pc_stats(struct dsm_node *n, int kind, unsigned id, struct dsm_tw_stats *out)
{
	struct pc_node *pc = PC(n);
	uint64_t inst, used;

	if (!pc || (kind && kind != DSM_TW_REGION))
		return;
	pthread_mutex_lock(&pc->mu);
	if (!kind) {
		dsm__tape_slot_counts(n, pc->slot, &inst, &used);
		out->pushed_used += used;
		out->pushed_dropped += pc->dropped;
	}
	for (int i = 0; i < pc->nreg; i++) {
		if (kind && (unsigned)i != id)
			continue;
		dsm__tape_slot_counts(n, pc->r[i].slot, &inst, &used);
		out->pushes_sent += pc->r[i].pushes;
		out->pages_pushed += pc->r[i].pages;
		out->pushed_used += used;
	}
	pthread_mutex_unlock(&pc->mu);
}
