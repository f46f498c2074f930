/*
 * lrc_iv.c — lazy release consistency: intervals, vector timestamps and
 * write notices; what locks and barriers carry; garbage collection.
 *
 * Interval record on the wire (little-endian u32s):
 *   creator, id, npages, vc[node_count], pages[npages]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/le.h"
#include "internal.h"
#include "lrc.h"
#include "proto.h"

#define GC_BARRIER 1 /* internal barrier id used by garbage collection */

static size_t iv_size(int count, uint32_t npages)
{
	return sizeof(struct lrc_interval) + (size_t)count * 4 + (size_t)npages * 4;
}

/* Append a record to its creator's table (ids must be consecutive). */
static int iv_store(struct lrc_state *st, struct lrc_interval *iv)
{
	uint32_t j = iv->creator;

	if (iv->id != st->iv_base[j] + st->iv_len[j])
		return DSM_EPROTO;
	if (st->iv_len[j] == st->iv_cap[j]) {
		uint32_t cap = st->iv_cap[j] ? 2 * st->iv_cap[j] : 64;
		struct lrc_interval **v = realloc(st->ivs[j], cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->ivs[j] = v;
		st->iv_cap[j] = cap;
	}
	st->ivs[j][st->iv_len[j]++] = iv;
	st->mem += iv_size(st->count, iv->npages);
	return 0;
}

static struct lrc_interval *iv_find(struct lrc_state *st, uint32_t j, uint32_t id)
{
	if (id < st->iv_base[j] || id - st->iv_base[j] >= st->iv_len[j])
		return NULL;
	return st->ivs[j][id - st->iv_base[j]];
}

int dsm__lrc_wrote_after(struct dsm_node *n, uint32_t p, const uint32_t *vc)
{
	struct lrc_state *st = LS(n);

	for (uint32_t j = 0; j < (uint32_t)st->count; j++)
		for (uint32_t id = vc[j] + 1; id <= st->vc[j]; id++) {
			const struct lrc_interval *iv = iv_find(st, j, id);
			if (!iv)
				return 1; /* collected: cannot tell */
			for (uint32_t k = 0; k < iv->npages; k++)
				if (iv->pages[1 * (size_t)k] == p)
					return 1;
		}
	return 0;
}

/* A new record; pages copied. */
static struct lrc_interval *iv_new(struct lrc_state *st, uint32_t creator,
				   uint32_t id, const uint32_t *vc,
				   const uint32_t *pages, uint32_t npages)
{
	struct lrc_interval *iv = malloc(iv_size(st->count, 0));

	if (!iv || !(iv->pages = malloc((npages ? npages : 1) * sizeof(uint32_t)))) {
		free(iv);
		return NULL;
	}
	iv->creator = creator;
	iv->id = id;
	iv->npages = npages;
	iv->vcsum = 0;
	for (int k = 0; k < st->count; k++) {
		iv->vc[k] = vc[k];
		iv->vcsum += vc[k];
	}
	memcpy(iv->pages, pages, npages * sizeof(uint32_t));
	return iv;
}

/* Free every record with id <= upto[creator] (all if upto is NULL). */
static void iv_free_upto(struct lrc_state *st, const uint32_t *upto)
{
	for (int j = 0; j < DSM_MAX_NODES; j++) {
		uint32_t k = 0;
		while (k < st->iv_len[j] && (!upto || st->ivs[j][k]->id <= upto[j])) {
			st->mem -= iv_size(st->count, st->ivs[j][k]->npages);
			free(st->ivs[j][k]->pages);
			free(st->ivs[j][k]);
			k++;
		}
		if (k && st->iv_len[j] > k)
			memmove(st->ivs[j], st->ivs[j] + k,
				(st->iv_len[j] - k) * sizeof(void *));
		st->iv_len[j] -= k;
		st->iv_base[j] += k;
		if (!upto) {
			free(st->ivs[j]);
			st->ivs[j] = NULL;
			st->iv_cap[j] = 0;
		}
	}
}

void dsm__lrc_iv_free_all(struct lrc_state *st)
{
	iv_free_upto(st, NULL);
}

/*
 * End the open interval if it wrote anything: the dirty pages become its
 * write notices and are write-protected (their twins stay until a diff is
 * asked for). Takes the region lock.
 */
int dsm__lrc_close_interval(struct dsm_node *n)
{
	struct lrc_state *st = LS(n);
	struct lrc_interval *iv;
	uint32_t *w, nw = 0;
	int err;

	if (n->count == 1)
		return 0; /* a one-node job: pages stay writable, no intervals */
	pthread_mutex_lock(&n->region->lock);
	err = dsm__lrc_wp_collect(n); /* kernel-tracked pages written: listed */
	dsm__lrc_tape_closing(n); /* tape hook: what the kernel saw written */
	if (!st->ndirty) {
		pthread_mutex_unlock(&n->region->lock);
		return err;
	}
	w = malloc(st->ndirty * sizeof(*w));
	iv = iv_new(st, (uint32_t)st->me, st->vc[st->me] + 1, st->vc, st->dirty,
		    st->ndirty);
	if (!w || !iv) {
		pthread_mutex_unlock(&n->region->lock);
		free(w);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < st->ndirty; i++) {
		uint32_t p = st->dirty[i];
		st->pages[p].dirty = 0;
		if (st->pages[p].tracked) /* stays writable: diff made now */
			err = dsm__lrc_wp_keep(n, p) ?: err;
		else if (n->region->pages[p].state == DSM_PAGE_DIRTY)
			w[nw++] = p; /* still writable: protect, then close */
	}
	dsm__lrc_protect_list(n, w, nw, PROT_READ); /* revoke writes first */
	for (uint32_t i = 0; i < nw; i++)
		err = dsm__lrc_step(n, w[i], &n->region->pages[w[i]], LRC_EV_CLOSE) ?: err;
	st->vc[st->me]++;
	iv->vc[st->me] = st->vc[st->me];
	iv->vcsum++;
	st->ndirty = 0;
	err = iv_store(st, iv) ?: err;
	pthread_mutex_unlock(&n->region->lock);
	free(w);
	return err;
}

/*
 * Serialise creator's records with after < id <= upto. Caller holds the
 * lock. Records below iv_base were collected, which happens only after
 * every node has learned them (the collection's barrier): an asker whose
 * timestamp predates that (another of its threads learned them at the
 * barrier since) already has them, so they are skipped. -ENOENT if one
 * after them is missing (cannot happen).
 */
int dsm__lrc_put_intervals(struct lrc_state *st, uint32_t creator, uint32_t after,
			   uint32_t upto, struct dsm_buf *out)
{
	uint32_t first = after + 1 > st->iv_base[creator] ? after + 1 : st->iv_base[creator];

	for (uint32_t id = first; id <= upto; id++) {
		struct lrc_interval *iv = iv_find(st, creator, id);
		int err = 0;
		if (!iv)
			return -ENOENT;
		err = dsm__buf_put_u32(out, iv->creator) ?: dsm__buf_put_u32(out, iv->id) ?:
		      dsm__buf_put_u32(out, iv->npages);
		for (int k = 0; !err && k < st->count; k++)
			err = dsm__buf_put_u32(out, iv->vc[k]);
		for (uint32_t k = 0; !err && k < iv->npages; k++)
			err = dsm__buf_put_u32(out, iv->pages[k]);
		if (err)
			return err;
	}
	return 0;
}

/* Add a notice for page p; collect p for invalidation if it is valid. */
static int add_notice(struct dsm_node *n, struct lrc_interval *iv, uint32_t p,
		      uint32_t *inval, uint32_t *ninval)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];
	struct lrc_notice *q = calloc(1, sizeof(*q)), **tail;

	if (!q)
		return -ENOMEM;
	q->iv = iv;
	for (tail = &lp->pending; *tail; tail = &(*tail)->next)
		;
	*tail = q;
	st->mem += sizeof(*q);
	if (dsm__lrc_pg(n, p)->state != DSM_PAGE_INVALID)
		inval[(*ninval)++] = p;
	return 0;
}

/* Parse one wire record at p (len bytes left); returns its size or 0. */
static size_t parse_record(struct lrc_state *st, const unsigned char *p, size_t len,
			   size_t npages_region, uint32_t *hdr)
{
	size_t need;

	if (len < 12)
		return 0;
	hdr[0] = dsm__get_le32(p);
	hdr[1] = dsm__get_le32(p + 4);
	hdr[2] = dsm__get_le32(p + 8);
	need = 12 + (size_t)st->count * 4 + (size_t)hdr[2] * 4;
	if (hdr[0] >= (uint32_t)st->count || hdr[1] == 0 || hdr[2] > npages_region ||
	    len < need)
		return 0;
	return need;
}

/* Make one record known: store it and add its notices. */
static int learn_one(struct dsm_node *n, const unsigned char *p, const uint32_t *hdr,
		     uint32_t *inval, uint32_t *ninval)
{
	struct lrc_state *st = LS(n);
	uint32_t vc[DSM_MAX_NODES], *pages = malloc((hdr[2] ? hdr[2] : 1) * 4);
	struct lrc_interval *iv;
	int err = 0;

	if (!pages)
		return -ENOMEM;
	for (int k = 0; k < st->count; k++)
		vc[k] = dsm__get_le32(p + 12 + 4 * (size_t)k);
	for (uint32_t k = 0; k < hdr[2]; k++) {
		pages[k] = dsm__get_le32(p + 12 + 4 * (size_t)st->count + 4 * (size_t)k);
		if (pages[k] >= n->region->npages)
			err = DSM_EPROTO;
	}
	iv = err ? NULL : iv_new(st, hdr[0], hdr[1], vc, pages, hdr[2]);
	free(pages);
	if (!iv)
		return err ? err : -ENOMEM;
	if ((err = iv_store(st, iv))) {
		free(iv->pages);
		free(iv);
		return err;
	}
	st->vc[hdr[0]] = hdr[1];
	for (uint32_t k = 0; k < iv->npages && !err; k++)
		err = add_notice(n, iv, iv->pages[k], inval, ninval);
	return err;
}

/* Invalidate pages that got notices: revoke access first (one mprotect per
 * run), then turn local changes into diffs, then mark them invalid. */
static int invalidate(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	uint32_t k = 0, bad = 0;
	int err, first = 0, illegal = 0;

	dsm__lrc_protect_list(n, pages, count, PROT_NONE);
	for (uint32_t i = 0; i < count; i++) { /* the list may repeat pages */
		struct dsm_page *pg = &n->region->pages[pages[i]];
		if (pg->state == DSM_PAGE_INVALID)
			continue;
		dsm__lrc_wp_leave(n, pages[i]); /* kernel-tracked: back to faults */
		if ((err = dsm__lrc_flush_twin(n, pages[i])) && !first)
			first = err, bad = pages[i];
		if ((err = dsm__lrc_step(n, pages[i], pg, LRC_EV_NOTICE)))
			illegal = err;
		k++;
	}
	DSM_STAT_ADD(n, invalidations_recv, k);
	/* Our changes on that page could not be kept as a diff: peers would
	 * miss them (and a stale twin would later send theirs back as ours). */
	if (first)
		dsm__fail(n, first, n->id, "lrc: node %d: cannot save its changes to"
			  " page %u (interval %u) as a diff: %s", n->id, bad,
			  LS(n)->pages[bad].twin_iv, dsm_strerror(first));
	return first ? first : illegal;
}

/*
 * Learn interval records (sorted by creator and id, as senders emit them):
 * records already known are skipped, our own are never learned from
 * others. Takes the region lock.
 */
int dsm__lrc_learn(struct dsm_node *n, const unsigned char *p, size_t len)
{
	struct lrc_state *st = LS(n);
	uint32_t *inval = NULL, ninval = 0, cap = 0, hdr[3];
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	for (size_t off = 0, sz; !err && off < len; off += sz) {
		if (!(sz = parse_record(st, p + off, len - off, n->region->npages, hdr))) {
			err = DSM_EPROTO;
			break;
		}
		if (hdr[0] == (uint32_t)st->me || hdr[1] <= st->vc[hdr[0]])
			continue;
		if (ninval + hdr[2] > cap) {
			uint32_t *v;
			cap = (ninval + hdr[2]) * 2 + 64;
			if (!(v = realloc(inval, cap * sizeof(*v)))) {
				err = -ENOMEM;
				break;
			}
			inval = v;
		}
		err = learn_one(n, p + off, hdr, inval, &ninval);
	}
	err = invalidate(n, inval, ninval) ?: err;
	pthread_mutex_unlock(&n->region->lock);
	free(inval);
	return err;
}

/* ---------------- locks ---------------- */

/* Our vector timestamp as count little-endian u32s. */
static int put_vc(struct dsm_node *n, struct dsm_buf *out)
{
	struct lrc_state *st = LS(n);
	uint32_t vc[DSM_MAX_NODES];
	int err = 0;

	pthread_mutex_lock(&n->region->lock);
	memcpy(vc, st->vc, sizeof(vc));
	pthread_mutex_unlock(&n->region->lock);
	for (int k = 0; k < st->count && !err; k++)
		err = dsm__buf_put_u32(out, vc[k]);
	return err;
}

/* Release: close the interval; the manager keeps our timestamp. */
static int lrc_release(struct dsm_node *n, unsigned lock, int mode, struct dsm_buf *out)
{
	int err = dsm__lrc_close_interval(n);

	return err ? err : put_vc(n, out);
}

/* Highest id per creator among the wire records in p (0 if none). */
static int records_known(struct dsm_node *n, const unsigned char *p, size_t len,
			 uint32_t *top)
{
	uint32_t hdr[3];

	for (size_t off = 0, sz; off < len; off += sz) {
		if (!(sz = parse_record(LS(n), p + off, len - off, n->region->npages, hdr)))
			return DSM_EPROTO;
		if (hdr[1] > top[hdr[0]])
			top[hdr[0]] = hdr[1];
	}
	return 0;
}

/*
 * Learn the records in pre (may be empty) and, from each creator j, its
 * own records after what we know (or pre holds) up to want[j]: all in one
 * batch, after every reply is in.
 */
static int fetch_intervals(struct dsm_node *n, const uint32_t *want,
			   const unsigned char *pre, size_t pre_len)
{
	struct lrc_state *st = LS(n);
	struct dsm_waiter w[DSM_MAX_NODES];
	uint32_t top[DSM_MAX_NODES] = { 0 };
	int asked[DSM_MAX_NODES] = { 0 }, err = records_known(n, pre, pre_len, top);

	for (int j = 0; j < n->count && !err; j++) {
		uint32_t have;
		pthread_mutex_lock(&n->region->lock);
		have = st->vc[j] > top[j] ? st->vc[j] : top[j];
		pthread_mutex_unlock(&n->region->lock);
		if (j == n->id || want[j] <= have)
			continue;
		dsm__waiter_add(n, &w[j]);
		asked[j] = 1;
		struct dsm_msg m = { .type = DSM_MSG_LRC_INTV_REQ,
				     .arg = { have, want[j], w[j].token } };
		if ((err = dsm__send(n, j, &m)))
			dsm__waiter_complete(n, w[j].token, err, NULL);
	}
	/* Learn all replies as one batch: the set of known intervals must stay
	 * closed under happens-before, or another thread could apply a later
	 * diff before an earlier one it depends on is even known. */
	struct dsm_buf all = { 0 };
	if (!err && pre_len)
		err = dsm__buf_put(&all, pre, pre_len);
	for (int j = 0; j < n->count; j++) {
		int e;
		if (!asked[j])
			continue;
		e = dsm__waiter_wait_for(n, &w[j], j, "LRC_INTV_REQ");
		if (!e && !err)
			e = dsm__buf_put(&all, w[j].data, w[j].len);
		free(w[j].data);
		err = err ? err : e;
	}
	if (!err)
		err = dsm__lrc_learn(n, all.data, all.len);
	dsm__buf_free(&all);
	return err;
}

/* Acquire: a new interval starts; learn every interval the lock's last
 * releases knew and we don't, and invalidate the pages they wrote. */
static int lrc_acquire(struct dsm_node *n, unsigned lock, int mode,
		       const void *p, size_t len)
{
	uint32_t want[DSM_MAX_NODES];
	int err = dsm__lrc_close_interval(n);

	if (err || len == 0)
		return err;
	if (len != (size_t)n->count * 4)
		return DSM_EPROTO;
	for (int k = 0; k < n->count; k++)
		want[k] = dsm__get_le32((const unsigned char *)p + 4 * k);
	return fetch_intervals(n, want, NULL, 0);
}

/* Service thread: a peer asks for our own records (after, upto]. */
int dsm__lrc_handle_intv(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dsm_buf out = { 0 };
	int err;

	if (m->type == DSM_MSG_LRC_INTV_REP)
		return dsm__waiter_complete_data(n, m->arg[2], 0, m->arg, m->payload,
						 m->length) ? DSM_EPROTO : 0;
	pthread_mutex_lock(&n->region->lock);
	err = m->arg[1] > LS(n)->vc[n->id] || m->arg[0] > m->arg[1]
		? DSM_EPROTO
		: dsm__lrc_put_intervals(LS(n), (uint32_t)n->id, (uint32_t)m->arg[0],
					 (uint32_t)m->arg[1], &out);
	pthread_mutex_unlock(&n->region->lock);
	if (!err) {
		struct dsm_msg r = { .type = DSM_MSG_LRC_INTV_REP, .arg = { 0, 0, m->arg[2] },
				     .payload = out.data, .length = (uint32_t)out.len };
		err = dsm__send(n, (int)m->src, &r);
	}
	dsm__buf_free(&out);
	return err;
}

/* ---------------- barriers ---------------- */

struct bar_state {
	uint32_t vcs[DSM_MAX_NODES][DSM_MAX_NODES]; /* each node's timestamp */
	uint64_t maxmem;                           /* most memory any node holds */
	struct dsm_buf recs;                       /* every node's new records */
};

/* Arrival: close the interval; send our memory use, our timestamp and
 * our own records since the last barrier. */
static int lrc_barrier_enter(struct dsm_node *n, unsigned barrier, struct dsm_buf *out)
{
	struct lrc_state *st = LS(n);
	int err = dsm__lrc_close_interval(n);

	if (err)
		return err;
	pthread_mutex_lock(&n->region->lock);
	err = dsm__buf_put_u32(out, (uint32_t)st->mem) ?:
	      dsm__buf_put_u32(out, (uint32_t)(st->mem >> 32));
	for (int k = 0; k < n->count && !err; k++)
		err = dsm__buf_put_u32(out, st->vc[k]);
	if (!err)
		err = dsm__lrc_put_intervals(st, (uint32_t)st->me, st->barrier_id,
					     st->vc[st->me], out);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* Manager: fold one arrival in. */
static int lrc_barrier_collect(struct dsm_node *n, unsigned barrier, int node,
			       const void *p, size_t len, void **state)
{
	const unsigned char *b = p;
	struct bar_state *bs = *state;
	size_t head = 8 + (size_t)n->count * 4;
	uint64_t mem;

	if (len < head)
		return DSM_EPROTO;
	if (!bs && !(bs = *state = calloc(1, sizeof(*bs))))
		return -ENOMEM;
	mem = dsm__get_le32(b) | (uint64_t)dsm__get_le32(b + 4) << 32;
	if (mem > bs->maxmem)
		bs->maxmem = mem;
	for (int k = 0; k < n->count; k++)
		bs->vcs[node][k] = dsm__get_le32(b + 8 + 4 * (size_t)k);
	return dsm__buf_put(&bs->recs, b + head, len - head);
}

/* Manager: node's release: GC decision, the global timestamp, and every
 * record it lacks. */
static int lrc_barrier_release(struct dsm_node *n, unsigned barrier, int node,
			       void *state, struct dsm_buf *out)
{
	struct bar_state *bs = state;
	struct lrc_state *st = LS(n);
	uint32_t hdr[3];
	int err = dsm__buf_put_u32(out, bs->maxmem > n->cfg.gc_threshold);

	for (int k = 0; k < n->count && !err; k++) {
		uint32_t g = 0;
		for (int d = 0; d < n->count; d++)
			g = bs->vcs[d][k] > g ? bs->vcs[d][k] : g;
		err = dsm__buf_put_u32(out, g);
	}
	for (size_t off = 0, sz; !err && off < bs->recs.len; off += sz) {
		sz = parse_record(st, bs->recs.data + off, bs->recs.len - off,
				  n->region->npages, hdr);
		if (!sz)
			return DSM_EPROTO;
		if (hdr[1] > bs->vcs[node][hdr[0]])
			err = dsm__buf_put(out, bs->recs.data + off, sz);
	}
	return err;
}

static void lrc_barrier_done(struct dsm_node *n, void *state)
{
	struct bar_state *bs = state;

	if (bs)
		dsm__buf_free(&bs->recs);
	free(bs);
}

/*
 * Leave: learn what we lacked; collect garbage if the manager says so.
 *
 * Other threads of this node may close intervals (lock releases) and
 * learn others' (lock acquires) between our arrival and now, and so may
 * other nodes: the global timestamp g (max over the arrivals) can name
 * intervals that no arrival carried (a peer learned them by a lock after
 * its creator arrived). Those are fetched from their creators and learned
 * in the same batch as the barrier's records. Afterwards every node knows
 * every interval <= g, so the next barrier sends our own intervals after
 * g[me] — including those closed by other threads since our arrival.
 */
static int lrc_barrier_leave(struct dsm_node *n, unsigned barrier, const void *p,
			     size_t len)
{
	struct lrc_state *st = LS(n);
	const unsigned char *b = p;
	size_t head = 4 + (size_t)n->count * 4;
	uint32_t g[DSM_MAX_NODES];
	int err;

	if (len < head)
		return DSM_EPROTO;
	for (int k = 0; k < n->count; k++)
		g[k] = dsm__get_le32(b + 4 + 4 * (size_t)k);
	if ((err = fetch_intervals(n, g, b + head, len - head)))
		return err;
	pthread_mutex_lock(&n->region->lock);
	for (int k = 0; k < n->count && !err; k++)
		if (st->vc[k] < g[k]) {
			DSM_ERR(n, "lrc: barrier %u: node %d's intervals known up to %u,"
				" the barrier's timestamp has %u", barrier, k,
				st->vc[k], g[k]);
			err = DSM_EPROTO;
		}
	if (!err && g[st->me] > st->barrier_id)
		st->barrier_id = g[st->me];
	pthread_mutex_unlock(&n->region->lock);
	if (!err && dsm__get_le32(b))
		err = dsm__lrc_gc(n, g);
	return err;
}

/* ---------------- garbage collection ---------------- */

/* Does page p have a notice of an interval <= upto (collected now)? */
static int has_old_notice(const struct lrc_page *lp, const uint32_t *upto)
{
	for (const struct lrc_notice *q = lp->pending; q; q = q->next)
		if (q->iv->id <= upto[q->iv->creator])
			return 1;
	return 0;
}

/* The lowest-id writer of each page over the records <= upto (every node
 * holds the same ones: those since the last collection), or 0xffff. */
static uint16_t *lowest_writers(struct dsm_node *n, const uint32_t *upto)
{
	struct lrc_state *st = LS(n);
	uint16_t *low = malloc(n->region->npages * sizeof(*low));

	if (!low)
		return NULL;
	memset(low, 0xff, n->region->npages * sizeof(*low));
	for (int j = n->count - 1; j >= 0; j--)
		for (uint32_t k = 0; k < st->iv_len[j]; k++) {
			struct lrc_interval *iv = st->ivs[j][k];
			if (iv->id > upto[j])
				break;
			for (uint32_t i = 0; i < iv->npages; i++)
				low[iv->pages[i]] = (uint16_t)j;
		}
	return low;
}

/* May this node drop page p's old notices and refetch it whole? Not if it
 * is the page's designated writer, or holds changes of its own that the
 * designated copy may lack (a twin, or a diff of an interval after upto). */
static int can_drop(struct dsm_node *n, size_t p, const uint32_t *upto,
		    const uint16_t *low)
{
	struct lrc_state *st = LS(n);
	struct lrc_page *lp = &st->pages[p];

	if (low[p] == st->me || low[p] >= n->count || lp->twin)
		return 0;
	for (struct lrc_own_diff *d = lp->diffs; d; d = d->next)
		if (d->interval > upto[st->me])
			return 0;
	return 1;
}

/*
 * First phase of a collection: every page with notices <= upto is either
 * brought up to date here (the designated node: its lowest-id writer, or
 * a node with changes of its own on it) or held for dropping (faults on
 * it wait). Loops until no such page is left or in flight, since other
 * threads may be fetching pages meanwhile.
 */
static int gc_settle(struct dsm_node *n, const uint32_t *upto, const uint16_t *low)
{
	struct lrc_state *st = LS(n);
	int err = 0, again = 1;

	while (again && !err) {
		struct dsm_outbox ob = { 0 };
		again = 0;
		pthread_mutex_lock(&n->region->lock);
		for (size_t p = 0; p < n->region->npages && !err; p++) {
			struct lrc_page *lp = &st->pages[p];
			if (!lp->pending || lp->gc_hold || !has_old_notice(lp, upto))
				continue;
			again = 1;
			if (lp->replies_left)
				continue; /* in flight: wait below, look again */
			if (can_drop(n, p, upto, low)) {
				lp->gc_hold = 1;
				continue;
			}
			if (ob.len + n->count >= DSM_OUTBOX_MAX) {
				pthread_mutex_unlock(&n->region->lock);
				err = dsm__outbox_flush(n, &ob);
				pthread_mutex_lock(&n->region->lock);
				ob.len = 0;
			}
			dsm__lrc_fetch(n, p, &ob, NULL);
		}
		pthread_mutex_unlock(&n->region->lock);
		err = dsm__outbox_flush(n, &ob) ?: err;
		for (size_t p = 0; p < n->region->npages && !err && again; p++) {
			pthread_mutex_lock(&n->region->lock);
			while (st->pages[p].replies_left && !(err = atomic_load(&n->failed))) {
				uint32_t seq = atomic_load(&n->region->pages[p].wait_seq);
				pthread_mutex_unlock(&n->region->lock);
				dsm__page_wait(&n->region->pages[p], seq, 100000000ull);
				pthread_mutex_lock(&n->region->lock);
			}
			pthread_mutex_unlock(&n->region->lock);
		}
	}
	return err;
}

/* Held pages: drop the notices <= upto; the page is fetched whole from
 * its designated node on next access (which every node has brought up to
 * date before the collection's barrier). Caller holds the lock. */
static void gc_drop_held(struct dsm_node *n, const uint32_t *upto, const uint16_t *low)
{
	struct lrc_state *st = LS(n);

	for (size_t p = 0; p < n->region->npages; p++) {
		struct lrc_page *lp = &st->pages[p];
		struct lrc_notice **pp = &lp->pending, *q;
		if (!lp->gc_hold)
			continue;
		while ((q = *pp)) {
			if (q->iv->id > upto[q->iv->creator]) {
				pp = &q->next;
				continue;
			}
			*pp = q->next;
			st->mem -= sizeof(*q) + q->dlen;
			free(q->diffs);
			free(q);
		}
		lp->gc_hold = 0;
		lp->whole = 1;
		lp->whole_src = low[p];
		dsm__page_wake(&n->region->pages[p]);
	}
}

/* Drop own diffs of intervals <= upto[me] (all of the arena); the later
 * ones are copied into a fresh arena. Caller holds the lock. */
static int gc_own_diffs(struct dsm_node *n, uint32_t upto_me)
{
	struct lrc_state *st = LS(n);
	struct lrc_own_diff *keep = NULL;
	int err = 0;

	for (size_t p = 0; p < n->region->npages; p++) {
		struct lrc_page *lp = &st->pages[p];
		for (struct lrc_own_diff *d = lp->diffs; d; d = d->next) {
			struct lrc_own_diff *c;
			if (d->interval <= upto_me)
				continue;
			if (!(c = malloc(sizeof(*c) + d->len + sizeof(uint32_t)))) {
				err = -ENOMEM;
				break;
			}
			memcpy(c, d, sizeof(*c) + d->len);
			memcpy(c->data + c->len, &(uint32_t){ (uint32_t)p }, sizeof(uint32_t));
			c->next = keep;
			keep = c;
		}
		lp->diffs = NULL;
		if (lp->twin && lp->twin_iv <= upto_me) {
			dsm__lrc_twin_free(st, lp->twin, n->page_size);
			lp->twin = NULL;
		}
	}
	dsm__lrc_arena_reset(st);
	/* keep holds each page's survivors oldest first: adding each at the
	 * head leaves the page's list newest first again */
	struct lrc_own_diff *rev = keep;
	while (rev) {
		struct lrc_own_diff *nx = rev->next, *d;
		uint32_t p;
		memcpy(&p, rev->data + rev->len, sizeof(p));
		if (!err && (d = dsm__lrc_arena_reserve(st, sizeof(*d) + rev->len))) {
			memcpy(d, rev, sizeof(*d) + rev->len);
			d->next = st->pages[p].diffs;
			st->pages[p].diffs = d;
			dsm__lrc_arena_commit(st, sizeof(*d) + rev->len);
		} else if (!err) {
			err = -ENOMEM;
		}
		free(rev);
		rev = nx;
	}
	return err;
}

/*
 * Garbage collection at a barrier with global timestamp upto (every node
 * knows every interval <= upto). For each page with notices <= upto, its
 * lowest-id writer among those intervals brings its copy up to date (it
 * fetches the other writers' diffs); every other node drops those notices
 * and marks the page to be fetched whole from that writer on next access,
 * unless it has changes of its own there (then it validates too). Then a
 * barrier (after it nobody asks for a diff <= upto), and every node drops
 * its twins and diffs of intervals <= upto[me] and the records <= upto.
 * Intervals after upto (closed or learned by other threads meanwhile) keep
 * their diffs, records and notices. A page nobody reads is never fetched.
 */
int dsm__lrc_gc(struct dsm_node *n, const uint32_t *upto)
{
	struct lrc_state *st = LS(n);
	uint16_t *low;
	int err;

	pthread_mutex_lock(&n->region->lock);
	low = lowest_writers(n, upto);
	pthread_mutex_unlock(&n->region->lock);
	if (!low)
		return -ENOMEM;
	if ((err = gc_settle(n, upto, low)) ||
	    (err = dsm__barrier_internal(n, GC_BARRIER))) {
		free(low);
		return err;
	}
	pthread_mutex_lock(&n->region->lock);
	gc_drop_held(n, upto, low);
	err = gc_own_diffs(n, upto[st->me]);
	iv_free_upto(st, upto);
	pthread_mutex_unlock(&n->region->lock);
	free(low);
	DSM_INFO(n, "lrc: garbage collected; %llu bytes still held",
		 (unsigned long long)st->mem);
	return err;
}

/* Fault path, page service and setup are in lrc.c. */
const struct dsm_protocol_ops dsm__proto_lrc = {
	.name = "lrc",
	.machine = &dsm__lrc_machine,
	.init = dsm__lrc_init,
	.fini = dsm__lrc_fini,
	.fault = dsm__lrc_fault,
	.handle_message = dsm__lrc_handle,
	.acquire = lrc_acquire,
	.release = lrc_release,
	.lock_merge = dsm__proto_vc_lock_merge,
	.lock_grant = dsm__proto_vc_lock_grant,
	.lock_free = free,
	.barrier_enter = lrc_barrier_enter,
	.barrier_collect = lrc_barrier_collect,
	.barrier_release = lrc_barrier_release,
	.barrier_done = lrc_barrier_done,
	.barrier_leave = lrc_barrier_leave,
};
