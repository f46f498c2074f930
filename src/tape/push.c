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
 * pages of the regions it consumes (at a barrier arrival these ride in
 * the barrier's own messages instead where they can: dsm__pc_push_via,
 * push_one): this node's vector of known intervals
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
 * Under DSM_TAPEWORM=auto every written page is pushed likewise to the
 * nodes that asked for it, with no region marked; the learning, waste
 * reports and flow control of those pushes are in autopush.c.
 *
 * TAPE_PUSH (39): arg0 pages; payload u32 vc[node count], then per page
 *   u32 page and the page's bytes; arg2: kind << 32 | id of the lock or
 *   barrier an auto push came with (0: none). With arg1 = 16 (PC_WASTE):
 *   a consumer's report, arg0 entries {u32 page, u32 kind << 28 | id}
 *   wasted, arg2 = 1: unsubscribe as a whole.
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

#include "push.h"

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

static void recordings(struct dsm_node *n, struct pc_node *pc, int on);

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
	if (!(pc->waste = malloc(WASTE_MAX * sizeof(*pc->waste))) ||
	    !(pc->pslot = reserve(np * sizeof(*pc->pslot))) ||
	    !(pc->alist = reserve(np * sizeof(*pc->alist))) ||
	    !(pc->aseq = reserve(np * sizeof(*pc->aseq))) || !(pc->inal = reserve(np)))
		return -ENOMEM;
	/* auto pushes: Tapeworm auto, a protocol that takes pushes, no policy */
	if (dsm__tw_mode(n) == DSM_TW_AUTO && n->cfg.tape_policy == DSM_POL_OFF &&
	    dsm__tape_proto(n) && dsm__tape_proto(n)->push_take) {
		pc->cons = reserve(np * sizeof(*pc->cons));
		pc->inlist = reserve(np);
		pc->clist = reserve(np * sizeof(*pc->clist));
		pc->ptag = reserve(np * sizeof(*pc->ptag));
		pc->veto = reserve(np * sizeof(*pc->veto));
		if (!pc->cons || !pc->inlist || !pc->clist || !pc->ptag || !pc->veto)
			return -ENOMEM;
		pc->autop = 1;
		pthread_mutex_lock(&pc->mu);
		recordings(n, pc, 1);
		pthread_mutex_unlock(&pc->mu);
	}
	return 0;
}

void dsm__pc_fini(struct dsm_node *n)
{
	struct pc_node *pc = PC(n);

	if (!pc)
		return;
	dsm__ap_log(n, pc);
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
	if (pc->cons)
		munmap(pc->cons, pc->npages * sizeof(*pc->cons));
	if (pc->inlist)
		munmap(pc->inlist, pc->npages);
	if (pc->clist)
		munmap(pc->clist, pc->npages * sizeof(*pc->clist));
	if (pc->ptag)
		munmap(pc->ptag, pc->npages * sizeof(*pc->ptag));
	if (pc->veto)
		munmap(pc->veto, pc->npages * sizeof(*pc->veto));
	free(pc->waste);
	if (pc->pslot)
		munmap(pc->pslot, pc->npages * sizeof(*pc->pslot));
	if (pc->alist)
		munmap(pc->alist, pc->npages * sizeof(*pc->alist));
	if (pc->aseq)
		munmap(pc->aseq, pc->npages * sizeof(*pc->aseq));
	if (pc->inal)
		munmap(pc->inal, pc->npages);
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
	if ((on || pc->autop) && can_push(n)) {
		if (!pc->wrec) /* atomic: dsm__pc_push peeks without mu */
			__atomic_store_n(&pc->wrec, dsm__tape_record(n, DSM_TAPE_WRITE),
					 __ATOMIC_RELAXED);
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
	__atomic_store_n(&pc->wrec, NULL, __ATOMIC_RELAXED);
	pc->rrec = NULL;
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

/* The pushable copies of pages[0..k) with consumers (mask[i]): *np
 * entries {u32 page, page} after room for the vector, which is filled in;
 * emask, eidx: each entry's consumers and index in pages. Region lock
 * taken here. */
static unsigned char *compose(struct dsm_node *n, const uint32_t *pages, const uint64_t *mask,
			      size_t k, uint64_t *emask, size_t *eidx, size_t *np, int *err)
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
		int rc;
		if (!mask[i])
			continue;
		/* hlrc serves the copy to `to` (only noted as a request, and no
		 * request tape of ours records while we compose) */
		rc = tp->push_copy(n, pages[i], __builtin_ctzll(mask[i]), b + off + 4);
		if (rc < 0)
			*err = rc;
		if (rc != 1)
			continue;
		dsm__put_le32(b + off, pages[i]);
		emask[*np] = mask[i];
		eidx[(*np)++] = i;
		off += 4 + ps;
	}
	pthread_mutex_unlock(&n->region->lock);
	for (int j = 0; j < n->count; j++)
		dsm__put_le32(b + 4 * (size_t)j, vc[j]);
	return b;
}

/* One push of k pages to c: appended to the barrier arrival's records
 * (via) when c is the barrier's manager, when this node is (its releases
 * carry it at no cost of forwarding), or when the manager can forward it
 * within BAR_FWD bytes; else, or past BAR_RIDE bytes in all (a bounded
 * barrier payload), sent as its own TAPE_PUSH. */
static int push_one(struct dsm_node *n, struct pc_via *via, int c, uint64_t tag,
		    const unsigned char *m, size_t len, size_t k)
{
	struct dsm_msg msg = { .type = DSM_MSG_TAPE_PUSH, .arg = { k, 0, tag },
			       .payload = m, .length = (uint32_t)len };
	unsigned char h[20];
	int err;

	if (!via || !via->out || via->out->len + len > BAR_RIDE ||
	    (c != via->mgr && n->id != via->mgr && via->fwd + len > BAR_FWD))
		return dsm__send(n, c, &msg);
	if (c != via->mgr)
		via->fwd += len;
	/* a record (sync.h, DSM_BAR_TAPE): {u32 node, u32 length} and the
	 * push: {u32 pages, u64 tag, the TAPE_PUSH payload} */
	dsm__put_le32(h, (uint32_t)c);
	dsm__put_le32(h + 4, (uint32_t)(len + 12));
	dsm__put_le32(h + 8, (uint32_t)k);
	dsm__put_le64(h + 12, tag);
	if ((err = dsm__buf_put(via->out, h, 20) ?: dsm__buf_put(via->out, m, len)))
		return err;
	via->rode++;
	return 0;
}

/* Send each consumer its entries (emask), PUSH_BATCH pages a message
 * (through push_one); the messages and pages sent go to *msgs_out and
 * *pages_out. */
static int send_pushes(struct dsm_node *n, const unsigned char *b, size_t np,
		       const uint64_t *emask, uint64_t tag, struct pc_via *via,
		       uint64_t *msgs_out, uint64_t *pages_out)
{
	size_t ps = n->page_size, head = 4 * (size_t)n->count, es = 4 + ps;
	unsigned char *m = malloc(head + PUSH_BATCH * es);
	uint64_t msgs = 0, total = 0;
	int err = 0;

	if (!m)
		return -ENOMEM;
	memcpy(m, b, head);
	for (int c = 0; c < n->count && !err; c++) {
		size_t k = 0;
		for (size_t i = 0; i <= np && !err; i++) {
			if (i < np && (emask[i] >> c & 1))
				memcpy(m + head + k++ * es, b + head + i * es, es);
			if (k && (k == PUSH_BATCH || i == np)) {
				if (!(err = push_one(n, via, c, tag, m, head + k * es, k))) {
					msgs++;
					total += k;
				}
				k = 0;
			}
		}
	}
	free(m);
	DSM_STAT_ADD(n, tape_pushes_sent, msgs);
	DSM_STAT_ADD(n, tape_pages_pushed, total);
	*msgs_out = msgs;
	*pages_out = total;
	return err;
}

/* Per region, the messages and pages a push sent (approximated per
 * region from its entries: a message per consumer of each region). */
static void count_regions(struct pc_node *pc, const int *ridx, const size_t *eidx,
			  const uint64_t *emask, size_t np)
{
	uint64_t cons[PC_MAX] = { 0 };

	for (size_t i = 0; i < np; i++) {
		int r = ridx[eidx[i]];
		if (r < 0)
			continue;
		cons[r] |= emask[i];
		pc->r[r].pages += (uint64_t)__builtin_popcountll(emask[i]);
	}
	for (int r = 0; r < pc->nreg; r++)
		pc->r[r].pushes += (uint64_t)__builtin_popcountll(cons[r]);
}






/* --- producer entry point --- */

/* The pages to push now and their consumers: region pages to their
 * region's consumers, under auto every other written page to the nodes
 * that asked for it. mu held. *o: the auto object, if any pushes. */
static size_t plan(struct pc_node *pc, const struct dsm_tape *w, const uint64_t *rcons,
		   uint32_t **pages, uint64_t **mask, int **ridx, struct ap_obj **o)
{
	struct dsm_extent *e = dsm_tape_project(w, DSM_TAPE_PAGES);
	size_t c = e ? dsm_extent_count(e) : 0, k = 0;
	int go = 0;

	uint64_t nocredit = 0; /* consumers that owe a report */

	*o = NULL;
	if (pc->autop && c && (*o = dsm__ap_obj(pc)))
		go = dsm__ap_worth(*o);
	for (int j = 0; j < DSM_MAX_NODES; j++)
		if (pc->owed[j] >= CREDIT)
			nocredit |= 1ull << j;
	*pages = malloc((c ? c : 1) * sizeof(**pages));
	*mask = malloc((c ? c : 1) * sizeof(**mask));
	*ridx = malloc((c ? c : 1) * sizeof(**ridx));
	if (!*pages || !*mask || !*ridx) {
		dsm_extent_free(e);
		return 0;
	}
	for (size_t i = 0; i < c; i++) {
		uint32_t p = dsm_extent_value(e, i);
		struct pc_region *rg = region_of(pc, p);
		uint64_t m = rg				     ? rcons[rg - pc->r]
			     : go && p < pc->npages && pc->veto[p] != *o - pc->obj + 1 ? pc->cons[p]
										  : 0;
		if (!rg)
			m &= ~nocredit;
		if (!m)
			continue;
		(*pages)[k] = p;
		(*mask)[k] = m;
		(*ridx)[k++] = rg ? (int)(rg - pc->r) : -1;
	}
	dsm_extent_free(e);
	return k;
}


int dsm__pc_push(struct dsm_node *n)
{
	return dsm__pc_push_via(n, NULL);
}

int dsm__pc_push_via(struct dsm_node *n, struct pc_via *via)
{
	struct pc_node *pc = PC(n);
	struct dsm_tape *w, *r;
	struct ap_obj *o = NULL;
	uint64_t rcons[PC_MAX] = { 0 }, *mask = NULL, *emask = NULL, msgs = 0, sent = 0;

	uint32_t *pages = NULL;
	unsigned char *b = NULL;
	size_t k = 0, np = 0, *eidx = NULL;
	int *ridx = NULL, err = dsm__pol_release(n); /* a policy's pushes to homes */

	if (err || !pc || !__atomic_load_n(&pc->wrec, __ATOMIC_RELAXED))
		return err;
	pthread_mutex_lock(&pc->mu);
	if (!(w = pc->wrec)) {
		pthread_mutex_unlock(&pc->mu);
		return 0;
	}
	dsm__tape_stop(n, w);
	__atomic_store_n(&pc->wrec, dsm__tape_record(n, DSM_TAPE_WRITE), __ATOMIC_RELAXED);
	if ((r = pc->rrec)) { /* who consumes what? */
		pc->rrec = NULL;
		dsm__tape_stop(n, r);
		learn(n, pc, r, rcons);
		if (pc->autop)
			dsm__ap_learn(n, pc, r);
		dsm_tape_free(r);
	}
	k = plan(pc, w, rcons, &pages, &mask, &ridx, &o);
	dsm_tape_free(w);
	if (k && (!(emask = malloc(k * sizeof(*emask))) || !(eidx = malloc(k * sizeof(*eidx)))))
		err = -ENOMEM;
	else if (k) /* serving copies notes requests: not recorded (restarted after) */
		b = compose(n, pages, mask, k, emask, eidx, &np, &err);
	pc->rrec = dsm__tape_record(n, DSM_TAPE_REQUEST);
	pthread_mutex_unlock(&pc->mu);
	if (b && np && !err)
		err = send_pushes(n, b, np, emask,
				  o ? (uint64_t)o->kind << 32 | o->id : 0, via, &msgs, &sent);
	pthread_mutex_lock(&pc->mu);
	count_regions(pc, ridx, eidx, emask, np);
	if (o && msgs)
		dsm__ap_count(pc, o, pages, ridx, eidx, emask, np);
	pthread_mutex_unlock(&pc->mu);
	free(b);
	free(ridx);
	free(mask);
	free(emask);
	free(eidx);
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


/* Hand page p's push to the protocol; mu and the region lock held. */
static void take(struct dsm_node *n, struct pc_node *pc, uint32_t p, int from,
		 const uint32_t *vc, const unsigned char *data, uint32_t slot)
{
	struct pc_region *rg = region_of(pc, p);
	int judged = from < DSM_MAX_NODES; /* a policy's copies (+ DSM_MAX_NODES) are not */
	int rc, aged;

	from %= DSM_MAX_NODES;
	aged = slot && !rg; /* an auto push (it came with a lock or barrier) */
	slot = rg ? rg->slot : slot ? slot : pc->slot;
	rc = dsm__tape_proto(n)->push_take(n, p, from, vc, data, slot);
	if (pc->pu[p] && pc->pu[p] <= DSM_MAX_NODES) /* an earlier push of p, never used */
		dsm__ap_wasted(pc, pc->pu[p] - 1, p, pc->pslot[p]);
	pc->pu[p] = 0;
	if (rc == DSM_PUSH_TAKEN) {
		pc->pu[p] = (uint8_t)(from + 1 + (judged ? 0 : DSM_MAX_NODES));
		pc->pslot[p] = (uint16_t)slot;
		if (aged && judged) {
			pc->aseq[p] = pc->syncs;
			if (!pc->inal[p]) {
				pc->inal[p] = 1;
				pc->alist[pc->nalist++] = p;
			}
		}
		dsm__tape_slot_installed(n, slot, 1);
		return;
	}
	if (judged)
		dsm__ap_wasted(pc, from, p, slot);
	pc->dropped++;
	DSM_STAT_ADD(n, tape_pushed_dropped, 1);
}

/* A waiting push of p is superseded by a newer one, never installed: an
 * auto push (it came with a lock or barrier) counts as wasted. mu held. */
static void superseded(struct pc_node *pc, uint32_t p)
{
	struct pc_pend *e = pc->pend[p];

	if (e->slot && e->from < DSM_MAX_NODES && !region_of(pc, p))
		dsm__ap_wasted(pc, e->from, p, e->slot);
	free(e);
	pc->pend[p] = NULL;
}

/* Keep page p's push until its vector is known here; mu held. */
static int keep(struct pc_node *pc, size_t vcn, uint32_t p, int from, const uint32_t *vc,
		const unsigned char *data, size_t ps, uint32_t slot)
{
	struct pc_pend *e = malloc(sizeof(*e) + vcn * 4 + ps);

	if (!e)
		return -ENOMEM;
	e->from = from;
	e->slot = slot;
	e->vc = (uint32_t *)(e + 1);
	e->data = (unsigned char *)(e->vc + vcn);
	memcpy(e->vc, vc, vcn * 4);
	memcpy(e->data, data, ps);
	if (pc->pend[p])
		superseded(pc, p);
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
		    const unsigned char *d, size_t k, uint32_t slot)
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
		if (pc->pend[p]) /* an older push of p waiting: superseded */
			superseded(pc, p);
		take(n, pc, p, from, vc, e + 4, slot);
	}
	pthread_mutex_unlock(&n->region->lock);
	for (size_t i = 0; !now && i < k && !err; i++) {
		const unsigned char *e = d + i * (4 + ps);
		err = keep(pc, (size_t)n->count, dsm__get_le32(e), from, vc, e + 4, ps, slot);
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
	uint32_t vc[DSM_MAX_NODES], slot = 0;
	int err;

	if ((err = check_push(n, m)))
		return err;
	for (int j = 0; j < n->count; j++)
		vc[j] = dsm__get_le32((const unsigned char *)m->payload + 4 * (size_t)j);
	/* an auto push names the lock or barrier it came with: its hits count
	 * for that object's prefetch slot here (its hit rate) */
	if (m->arg[2] >> 32 == DSM_TW_LOCK || m->arg[2] >> 32 == DSM_TW_BARRIER) {
		slot = dsm__tw_obj_slot(n, (int)(m->arg[2] >> 32), (unsigned)m->arg[2]);
		pthread_mutex_lock(&PC(n)->mu);
		PC(n)->rcvd[m->src] += m->arg[0];
		pthread_mutex_unlock(&PC(n)->mu);
	}
	return dsm__pc_receive(n, (int)m->src, vc,
			       (const unsigned char *)m->payload + 4 * (size_t)n->count,
			       (size_t)m->arg[0], slot);
}



int dsm__pc_take_rec(struct dsm_node *n, int from, const void *rec, size_t len)
{
	const unsigned char *d = rec;
	struct dsm_msg m = { .type = DSM_MSG_TAPE_PUSH, .src = (uint32_t)from };

	if (!PC(n) || from < 0 || from >= n->count || from == n->id || len < 12) {
		dsm__reject(n, "a push of %zu bytes from node %d in a barrier message", len,
			    from);
		return DSM_EPROTO;
	}
	m.arg[0] = dsm__get_le32(d);
	m.arg[2] = dsm__get_le64(d + 4);
	m.payload = d + 12;
	m.length = (uint32_t)(len - 12);
	return on_push(n, &m);
}

int dsm__pc_sync(struct dsm_node *n)
{
	struct pc_node *pc = PC(n);
	uint32_t mine[DSM_MAX_NODES];
	unsigned char **pl;
	size_t plen[DSM_MAX_NODES];
	uint64_t unsub = 0, rep = 0;
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
			take(n, pc, p, e->from, e->vc, e->data, e->slot);
			free(e);
			pc->pend[p] = NULL;
		}
		pc->nplist = j;
		pthread_mutex_unlock(&n->region->lock);
	}
	dsm__ap_age(n, pc);
	/* judge the producers: wasted pushes and none used since last time */
	for (int i = 0; i < n->count; i++) {
		uint32_t w = __atomic_exchange_n(&pc->wasted[i], 0, __ATOMIC_RELAXED);
		uint32_t u = __atomic_exchange_n(&pc->used[i], 0, __ATOMIC_RELAXED);
		if (w && !u && i != n->id)
			unsub |= 1ull << i;
	}
	unsub |= pc->waste_full & ~(1ull << n->id);
	pc->waste_full = 0;
	pl = dsm__ap_report(n, pc, unsub, plen, &rep);
	pthread_mutex_unlock(&pc->mu);
	for (int i = 0; i < n->count && !err; i++) {
		struct dsm_msg m = { .type = DSM_MSG_TAPE_UNSUB };
		if (rep >> i & 1) { /* the wasted pages, and (arg2) stop all */
			m.type = DSM_MSG_TAPE_PUSH;
			m.arg[0] = plen[i];
			m.arg[1] = PC_WASTE;
			m.arg[2] = unsub >> i & 1;
			m.payload = pl[i];
			m.length = (uint32_t)(8 * plen[i]);
			err = dsm__send(n, i, &m);
		} else if (unsub >> i & 1) {
			err = dsm__send(n, i, &m);
		}
	}
	for (int i = 0; pl && i < n->count; i++)
		free(pl[i]);
	free(pl);
	return err;
}

int dsm__pc_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct pc_node *pc = PC(n);

	if (!pc)
		return DSM_EPROTO;
	if (m->type == DSM_MSG_TAPE_PUSH && m->arg[1] && m->arg[1] != PC_WASTE)
		return dsm__pol_handle(n, m); /* a policy's (policy.c) */
	if (m->type == DSM_MSG_TAPE_PUSH && !m->arg[1])
		return on_push(n, m);
	if (m->type == DSM_MSG_TAPE_UNSUB ? m->length != 0 :
	    m->arg[0] > WASTE_MAX || m->length != 8 * m->arg[0]) {
		dsm__reject(n, "%s from node %u: %u bytes for %llu pages",
			    m->type == DSM_MSG_TAPE_UNSUB ? "TAPE_UNSUB" : "TAPE_PUSH (wasted)",
			    m->src, m->length, (unsigned long long)m->arg[0]);
		return DSM_EPROTO;
	}
	if (m->src >= (uint32_t)n->count)
		return DSM_EPROTO;
	pthread_mutex_lock(&pc->mu);
	if (m->type == DSM_MSG_TAPE_PUSH) { /* the wasted pages, counted; a report */
		dsm__ap_unsub(pc, (int)m->src, m->payload, (size_t)m->arg[0]);
		pc->owed[m->src] = 0;
	}
	if (m->type == DSM_MSG_TAPE_UNSUB || m->arg[2]) { /* stop all */
		pc->unsub |= 1ull << m->src;
		dsm__ap_unsub(pc, (int)m->src, NULL, 0);
	}
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

	if (!pc)
		return;
	pthread_mutex_lock(&pc->mu);
	for (int i = 0; i < pc->nobj; i++) /* auto pushes, per lock or barrier */
		if (!kind || (pc->obj[i].kind == kind && pc->obj[i].id == id)) {
			out->pushes_sent += pc->obj[i].pushes;
			out->pages_pushed += pc->obj[i].pages;
			out->pushes_wasted += pc->obj[i].wasted;
			out->pushes_skipped += pc->obj[i].skipped;
		}
	if (kind && kind != DSM_TW_REGION) {
		pthread_mutex_unlock(&pc->mu);
		return;
	}
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
