/*
 * autopush.c — DSM_TAPEWORM=auto's pushes with no region marked
 * (docs/tapes.md, "Auto pushes"): a producer learns each page's
 * consumers from the requests it serves and pushes the pages it wrote
 * to them at its lock releases and barrier arrivals (push.c sends);
 * consumers report wasted pushes (and acknowledge received ones), which
 * veto a page at a lock or barrier, back an object off, and bound what
 * a producer sends unacknowledged. Locks: pc_node.mu, then the region
 * lock, then Tapeworm's (dsm__tw_slot_tag).
 */
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/node.h"
#include "dsm_tapeworm.h"
#include "push.h"
#include "vm/vm.h"

/* The lock or barrier this thread is releasing or arriving at (set by
 * tapeworm.c before the protocol's release, read by dsm__pc_push). */
static __thread int at_kind;
static __thread unsigned at_id;

/* --- auto pushes (DSM_TAPEWORM=auto) --- */

void dsm__pc_at(int kind, unsigned id)
{
	at_kind = kind;
	at_id = id;
}

/* The object pushes are made at now (this thread's), created on first
 * use; NULL when the table is full. mu held. */
struct ap_obj *dsm__ap_obj(struct pc_node *pc)
{
	for (int i = 0; i < pc->nobj; i++)
		if (pc->obj[i].kind == at_kind && pc->obj[i].id == at_id)
			return &pc->obj[i];
	if (pc->nobj == AP_OBJS || !at_kind)
		return NULL;
	pc->obj[pc->nobj] = (struct ap_obj){ .kind = at_kind, .id = at_id };
	return &pc->obj[pc->nobj++];
}

/* Push now at o? Judges o's hit rate: pushed pages and pages consumers
 * reported wasted (never read, superseded, or stale), both decayed by
 * half at each judgement (reports come late and in bursts, so a window
 * of its own would be judged on the wrong pushes; CREDIT bounds what
 * goes out unjudged). More than half wasted
 * (of at least AP_EVAL pages) starts or doubles a backoff of skipped
 * pushes (1, 3, 7, ... 63), as a Tapeworm prefetch's; under a quarter
 * wasted resets it. mu held. */
int dsm__ap_worth(struct ap_obj *o)
{
	uint64_t dp = o->pages - o->snap_pages, dw = o->wasted - o->snap_wasted;

	if (o->skip) {
		o->skip--;
		o->skipped++;
		return 0;
	}
	if (dp < AP_EVAL)
		return 1;
	o->snap_pages = o->pages;
	o->snap_wasted = o->wasted;
	o->dpages = o->dpages / 2 + dp;
	o->dwasted = o->dwasted / 2 + dw;
	if (2 * o->dwasted > o->dpages) {
		o->backoff = o->backoff ? 2 * o->backoff : 2;
		if (o->backoff > AP_BACKOFF)
			o->backoff = AP_BACKOFF;
		o->skip = o->backoff - 1;
		o->skipped++;
		return 0;
	}
	if (4 * o->dwasted < o->dpages)
		o->backoff = 0;
	return 1;
}

/* Learn consumers from the request tape t: page p asked by node c (the
 * requests this node served: who reads its pages). mu held. */
void dsm__ap_learn(struct dsm_node *n, struct pc_node *pc, const struct dsm_tape *t)
{
	for (size_t i = 0; t && i < dsm_tape_count(t); i++) {
		struct dsm_tape_event ev;
		dsm_tape_event(t, i, &ev);
		if (ev.node >= (uint32_t)n->count || (int)ev.node == n->id || ev.page >= pc->npages)
			continue;
		pc->cons[ev.page] |= 1ull << ev.node;
		pc->veto[ev.page] = 0; /* asked again: push it wherever it was wasted */
		if (!pc->inlist[ev.page]) {
			pc->inlist[ev.page] = 1;
			pc->clist[pc->nclist++] = ev.page;
		}
	}
}

/* A consumer stops: drop it from every page (pages: NULL), or the k
 * {u32 page, u32 tag} at pages were wasted there: each counts as wasted
 * at the lock or barrier it was pushed with (tag: dsm__tw_slot_tag) and
 * is not pushed with it again until some node asks for it (veto); the
 * page's consumers stay, so its pushes with other objects go on (a page
 * written in two phases and read after one). Without a known object the
 * consumer is dropped from the page. mu held. */
void dsm__ap_unsub(struct pc_node *pc, int c, const unsigned char *pages, size_t k)
{
	uint64_t bit = 1ull << c;

	if (!pc->autop)
		return;
	if (!pages) {
		for (size_t i = 0; i < pc->nclist; i++)
			pc->cons[pc->clist[i]] &= ~bit;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		uint32_t p = dsm__get_le32(pages + 8 * i), tag = dsm__get_le32(pages + 8 * i + 4);
		int j = 0;
		if (p >= pc->npages)
			continue;
		while (j < pc->nobj && (pc->obj[j].kind != (int)(tag >> 28) ||
					pc->obj[j].id != (tag & 0x0fffffffu)))
			j++;
		if (j < pc->nobj) {
			pc->obj[j].wasted++;
			pc->veto[p] = (uint16_t)(j + 1);
			continue;
		}
		if (pc->ptag[p] && pc->ptag[p] <= pc->nobj) /* no tag: the last pusher */
			pc->obj[pc->ptag[p] - 1].wasted++;
		pc->cons[p] &= ~bit;
	}
}

/* An auto push's counts: o's pages and messages (a message per consumer
 * no region counts), each page's last object, what each consumer owes a
 * report for. mu held. */
void dsm__ap_count(struct pc_node *pc, struct ap_obj *o, const uint32_t *pages,
		    const int *ridx, const size_t *eidx, const uint64_t *emask, size_t np)
{
	uint64_t acons = 0, rc = 0; /* consumers of auto entries, of region entries */

	for (size_t i = 0; i < np; i++) {
		if (ridx[eidx[i]] >= 0) {
			rc |= emask[i];
			continue;
		}
		pc->ptag[pages[eidx[i]]] = (uint16_t)(o - pc->obj + 1);
		o->pages += (uint64_t)__builtin_popcountll(emask[i]);
		acons |= emask[i];
		for (uint64_t m = emask[i]; m; m &= m - 1)
			pc->owed[__builtin_ctzll(m)]++;
	}
	o->pushes += (uint64_t)__builtin_popcountll(acons & ~rc);
}

/* A push of page p from producer `from` was wasted here (dropped, or
 * never read before the next push of p): report it at the next sync
 * point, so an auto producer stops pushing p here. mu held. */
void dsm__ap_wasted(struct pc_node *pc, int from, uint32_t p, uint32_t slot)
{
	__atomic_fetch_add(&pc->wasted[from], 1, __ATOMIC_RELAXED);
	if (pc->nwaste < WASTE_MAX)
		pc->waste[pc->nwaste++] = (typeof(*pc->waste)){ (uint32_t)from, p, slot };
	else
		pc->waste_full |= 1ull << from;
}

/* An auto push installed AGE sync points ago and still not used is
 * wasted (a held page the notices dropped, or one nobody reads):
 * reported as such, no longer counted as a push. mu held. */
void dsm__ap_age(struct dsm_node *n, struct pc_node *pc)
{
	size_t j = 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t i = 0; i < pc->nalist; i++) {
		uint32_t p = pc->alist[i];
		uint8_t f = pc->pu[p];
		if (f && f <= DSM_MAX_NODES && pc->syncs - pc->aseq[p] < AGE) {
			pc->alist[j++] = p; /* installed lately */
			continue;
		}
		if (f && f <= DSM_MAX_NODES) {
			dsm__ap_wasted(pc, f - 1, p, pc->pslot[p]);
			pc->pu[p] = 0;
		}
		pc->inal[p] = 0;
	}
	pc->nalist = j;
	pc->syncs++;
	pthread_mutex_unlock(&n->region->lock);
}

/* The wasted pages to report, per producer: {u32 page, u32 tag} lists
 * (pl[i], plen[i] entries), or NULL when none (or no memory: a lost
 * hint). A producer with fewer than WASTE_MIN entries, and not to be
 * unsubscribed from, waits for more (one message for several sync
 * points). Empties the list of what it reports. mu held. */
unsigned char **dsm__ap_report(struct dsm_node *n, struct pc_node *pc, uint64_t unsub,
			       size_t *plen, uint64_t *send)
{
	unsigned char **pl = NULL;
	size_t cnt[DSM_MAX_NODES] = { 0 }, j = 0;
	size_t nc = n->count > 0 && n->count <= DSM_MAX_NODES ? (size_t)n->count : 0;

	memset(plen, 0, nc * sizeof(*plen));
	*send = 0;
	for (size_t i = 0; i < pc->nwaste; i++)
		cnt[pc->waste[i].from]++;
	for (int f = 0; f < n->count; f++) /* a report (maybe empty) acknowledges */
		if (f != n->id && (pc->rcvd[f] >= ACK_PAGES || cnt[f] >= WASTE_MIN ||
				   (unsub >> f & 1 && cnt[f]))) {
			*send |= 1ull << f;
			pc->rcvd[f] = 0;
		}
	if ((pc->nwaste || *send) && nc && (pl = calloc(nc, sizeof(*pl)))) {
		for (size_t i = 0; i < pc->nwaste; i++) {
			uint32_t f = pc->waste[i].from;
			if (f == (uint32_t)n->id)
				continue;
			if (!(*send >> f & 1)) {
				pc->waste[j++] = pc->waste[i]; /* later */
				continue;
			}
			if (!pl[f] && !(pl[f] = malloc(WASTE_MAX * 8)))
				continue;
			dsm__put_le32(pl[f] + 8 * plen[f], pc->waste[i].page);
			dsm__put_le32(pl[f] + 8 * plen[f]++ + 4,
				      dsm__tw_slot_tag(n, pc->waste[i].slot));
		}
	}
	for (int f = 0; pl && f < n->count; f++)
		if (*send >> f & 1 && !pl[f] && !(pl[f] = malloc(8)))
			*send &= ~(1ull << f);
	pc->nwaste = pl ? j : 0;
	if (!pl)
		*send = 0;
	return pl;
}

void dsm__ap_log(struct dsm_node *n, struct pc_node *pc)
{
	for (int i = 0; i < pc->nobj; i++)
		if (pc->obj[i].pages)
			DSM_INFO(n, "tapeworm: auto pushes at %s %u: %llu messages, %llu pages, "
				 "%llu reported wasted, %llu pushes skipped",
				 pc->obj[i].kind == DSM_TW_LOCK ? "lock" : "barrier", pc->obj[i].id,
				 (unsigned long long)pc->obj[i].pushes,
				 (unsigned long long)pc->obj[i].pages,
				 (unsigned long long)pc->obj[i].wasted,
				 (unsigned long long)pc->obj[i].skipped);
}
