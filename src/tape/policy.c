/*
 * policy.c — update protocols emulated with tapes over lrc
 * (DSM_TAPE_POLICY; Keleher, "Tapes", TOCS 2000, section 6;
 * docs/tapes.md, "Protocols emulated with tapes"). The protocol stays lrc:
 * a policy only moves data earlier, through the tape hooks (fetch, hole,
 * known, wrote_after, push_copy, push_take), so a correct program
 * computes the same.
 *
 * hlrc — home-based LRC. Page p has a home: runs of HOME_RUN pages dealt
 * round-robin (or as DSM_HOME says: cyclic, node0; its default
 * first-touch needs an agreement lrc does not have, so it means block
 * here). At each release and barrier arrival a writer sends the pages it
 * wrote since its last one (a write tape) to their homes with its vector
 * of known intervals (TAPE_PUSH, kind TO_HOME): as a diff against the
 * copy it last sent there when no other node wrote the page since (the
 * protocol's wrote_after), else whole; a page homed at the writer is kept
 * locally. Each home keeps the newest copy of each of its pages (the
 * store) and, through push.c, installs it for itself when current. After an acquire (the grant's tape, Tapeworm's
 * update-lock path) and after a barrier (the last two phases' read tapes,
 * Tapeworm's record-replay path) a node asks the homes for the pages
 * those tapes name that are invalid here (PULL), waits for the answers
 * (PULL_REP: the store's copies, grouped by vector) and installs each
 * copy as a held page if its vector shows it is current (push.c's
 * check); a stale one is dropped and the page is faulted in from its
 * writers as lrc does. What is not emulated: demand misses (a fault
 * asks the writers for diffs, lrc's path: the tape layer cannot redirect
 * a fault); diffs of pages several nodes write, and of pages from the
 * home (whole pages); merging concurrent writers at the home (the newest
 * copy wins, a diff made against a copy the home no longer has is
 * ignored; a reader that knows the missing interval drops the copy).
 *
 * scope — scope consistency as update on acquire: every lock is an
 * update lock (its critical section's write tape goes with the grant;
 * the acquirer of that lock, and only it, fetches those pages' diffs
 * right after the acquire), and at every barrier every node fetches
 * every page the barrier invalidated (one batched diff request per
 * writer). No adaptive stop: a protocol does not back off.
 *
 * Messages are TAPE_PUSH with arg1 the kind (no wire type is left free):
 *   TO_HOME  (3): arg0 pages; u32 vc[count], then per page u32 page,
 *                 u32 dlen and the page (dlen 0) or u32 base[count] (the
 *                 vector of the copy the diff was made against) and a
 *                 diff of dlen bytes (vm/diff.h).
 *   PULL     (1): arg0 pages, arg2 token; payload u32 pages.
 *   PULL_REP (2): arg0 groups, arg2 token; payload per group u32 k,
 *                 u32 vc[count], k x {u32 page, bytes}.
 * Locks: pol_node.mu (the store, the copies sent, the waits), then the
 * region lock; push.c's locks are taken with neither held, and no lock is
 * held while sending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/le.h"
#include "core/node.h"
#include "internal.h"
#include "proto/proto.h"
#include "vm/diff.h"
#include "vm/vm.h"

#define HOME_RUN 16u     /* pages per home run (hlrc's DSM_HOME=block) */
#define BATCH 256u       /* pages per message */
#define CHUNK 4096u      /* pages per hole scan (scope barriers) */
#define WAITS 16         /* pull sets in flight per node */

enum { K_PULL = 1, K_PULL_REP = 2, K_TO_HOME = 3 };

struct home_copy {
	uint32_t *vc;             /* node count entries */
	unsigned char *data;
};

struct pol_wait {
	uint64_t token;           /* 0: free */
	int left;                 /* replies to come */
};

struct pol_node {
	int mode;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dsm_tape *wrec;    /* hlrc: writes since the last release */
	size_t npages;
	struct home_copy **store; /* hlrc: per page homed here (reserved) */
	struct home_copy **snap;  /* hlrc: per page, the copy last sent home */
	uint64_t next_token;
	struct pol_wait w[WAITS];
};

static struct pol_node *POL(struct dsm_node *n)
{
	return n ? n->pol_state : NULL;
}

int dsm__pol_mode(struct dsm_node *n)
{
	return POL(n) ? POL(n)->mode : DSM_POL_OFF;
}

static int home_of(struct dsm_node *n, uint32_t p)
{
	switch (n->cfg.home_policy) {
	case DSM_HOME_CYCLIC:
		return (int)(p % (uint32_t)n->count);
	case DSM_HOME_NODE0:
		return 0;
	default: /* block; first-touch has no agreement under lrc: block */
		return (int)((p / HOME_RUN) % (uint32_t)n->count);
	}
}

int dsm__pol_init(struct dsm_node *n)
{
	struct pol_node *pl;
	static const char *const names[] = { "off", "hlrc", "scope" };

	if (n->cfg.tape_policy == DSM_POL_OFF)
		return 0;
	if (!dsm__tape_proto(n) || strcmp(n->proto->name, "lrc")) {
		DSM_ERR(n, "DSM_TAPE_POLICY=%s emulates a protocol over lrc, but "
			"DSM_PROTOCOL is %s: set DSM_PROTOCOL=lrc or DSM_TAPE_POLICY=off",
			names[n->cfg.tape_policy], n->proto->name);
		return DSM_ECONFIG;
	}
	if (!(pl = calloc(1, sizeof(*pl))))
		return -ENOMEM;
	pl->mode = n->cfg.tape_policy;
	pl->npages = n->region->npages;
	pl->next_token = 1;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	n->pol_state = pl;
	if (pl->mode == DSM_POL_HLRC) {
		pl->store = mmap(NULL, pl->npages * sizeof(*pl->store), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		pl->snap = mmap(NULL, pl->npages * sizeof(*pl->snap), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (pl->store == MAP_FAILED || pl->snap == MAP_FAILED) {
			if (pl->store != MAP_FAILED)
				munmap(pl->store, pl->npages * sizeof(*pl->store));
			if (pl->snap != MAP_FAILED)
				munmap(pl->snap, pl->npages * sizeof(*pl->snap));
			pl->store = pl->snap = NULL;
			return -ENOMEM;
		}
		if (!(pl->wrec = dsm__tape_record(n, DSM_TAPE_WRITE)))
			return -ENOMEM;
	}
	DSM_INFO(n, "tape policy %s over lrc", names[pl->mode]);
	return 0;
}

void dsm__pol_fini(struct dsm_node *n)
{
	struct pol_node *pl = POL(n);

	if (!pl)
		return;
	if (pl->wrec)
		dsm__tape_stop(n, pl->wrec);
	dsm_tape_free(pl->wrec);
	if (pl->store) {
		for (size_t p = 0; p < pl->npages; p++)
			free(pl->store[p]);
		munmap(pl->store, pl->npages * sizeof(*pl->store));
	}
	if (pl->snap) {
		for (size_t p = 0; p < pl->npages; p++)
			free(pl->snap[p]);
		munmap(pl->snap, pl->npages * sizeof(*pl->snap));
	}
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv);
	free(pl);
	n->pol_state = NULL;
}

/* --- hlrc: the home's store --- */

/* Keep a copy of page p covering vc as the home's, unless the one kept
 * is newer (its vector dominates vc). mu held. */
static int store_put(struct dsm_node *n, struct pol_node *pl, uint32_t p, const uint32_t *vc,
		     const unsigned char *data)
{
	struct home_copy *h = pl->store[p];
	size_t vcn = (size_t)n->count;
	int older = !!h;

	for (size_t j = 0; h && j < vcn; j++)
		older &= vc[j] <= h->vc[j];
	if (older)
		return 0;
	if (!h && !(h = malloc(sizeof(*h) + vcn * 4 + n->page_size)))
		return -ENOMEM;
	h->vc = (uint32_t *)(h + 1);
	h->data = (unsigned char *)(h->vc + vcn);
	memcpy(h->vc, vc, vcn * 4);
	memcpy(h->data, data, n->page_size);
	pl->store[p] = h;
	return 0;
}

/* --- hlrc: the writer's release --- */

/* Per home, the entries of one release (push_home's format), grown. */
struct obuf {
	unsigned char *b;
	size_t len, cap;
	uint32_t k;
};

static int obuf_put(struct obuf *o, const void *x, size_t len)
{
	if (o->len + len > o->cap) {
		size_t cap = 2 * (o->len + len) + 4096;
		unsigned char *b = realloc(o->b, cap);
		if (!b)
			return -ENOMEM;
		o->b = b;
		o->cap = cap;
	}
	memcpy(o->b + o->len, x, len);
	o->len += len;
	return 0;
}

/* Entry e of a TO_HOME payload at d (len left): its size, or 0 if it is
 * malformed. {u32 page, u32 dlen}, then the page (dlen 0) or u32
 * base[count] and a diff of dlen bytes. */
static size_t entry_size(struct dsm_node *n, const unsigned char *d, size_t left)
{
	size_t ps = n->page_size, dlen, sz;

	if (left < 8)
		return 0;
	dlen = dsm__get_le32(d + 4);
	if (dlen > dsm__diff_max_size(ps))
		return 0;
	sz = dlen ? 8 + 4 * (size_t)n->count + dlen : 8 + ps;
	return sz <= left ? sz : 0;
}

/* Send home h its entries (o), BATCH a message, after the vector. */
static int send_home(struct dsm_node *n, int h, const struct obuf *o, const uint32_t *vc)
{
	size_t head = 4 * (size_t)n->count, off = 0;
	unsigned char *m = malloc(head + o->len);
	uint64_t msgs = 0;
	int err = 0;

	if (!m)
		return -ENOMEM;
	for (int j = 0; j < n->count; j++)
		dsm__put_le32(m + 4 * (size_t)j, vc[j]);
	while (off < o->len && !err) {
		size_t at = off, c = 0, sz;
		while (off < o->len && c < BATCH && (sz = entry_size(n, o->b + off, o->len - off)))
			off += sz, c++;
		memcpy(m + head, o->b + at, off - at);
		struct dsm_msg msg = { .type = DSM_MSG_TAPE_PUSH, .arg = { c, K_TO_HOME },
				       .payload = m, .length = (uint32_t)(head + off - at) };
		if (!(err = dsm__send(n, h, &msg)))
			msgs++;
	}
	free(m);
	DSM_STAT_ADD(n, tape_pushes_sent, msgs);
	DSM_STAT_ADD(n, tape_pages_pushed, o->k);
	return err;
}

/*
 * One page for its home h: a diff against the copy last sent there (snap)
 * when no other node wrote the page since (then the home's copy is that
 * one, unless a concurrent writer's replaced it: the home ignores the
 * diff), else the page. The page becomes the new snap. mu and the region
 * lock held.
 */
static int put_page(struct dsm_node *n, struct pol_node *pl, struct obuf *o, uint32_t p,
		    const unsigned char *page, const uint32_t *vc, unsigned char *dbuf)
{
	const struct dsm_tape_proto *tp = dsm__tape_proto(n);
	struct home_copy *sn = pl->snap[p];
	size_t ps = n->page_size, vcn = (size_t)n->count;
	uint32_t v[DSM_MAX_NODES];
	ssize_t dl = -1;
	unsigned char h[8];
	int err;

	if (sn && tp->wrote_after) {
		memcpy(v, sn->vc, vcn * 4);
		v[n->id] = vc[n->id]; /* our own intervals are in the diff */
		if (!tp->wrote_after(n, p, v))
			dl = dsm__diff_encode(sn->data, page, ps, dbuf, ps / 2);
	}
	dsm__put_le32(h, p);
	dsm__put_le32(h + 4, dl > 0 ? (uint32_t)dl : 0);
	if ((err = obuf_put(o, h, 8)))
		return err;
	if (dl > 0) {
		unsigned char b[4 * DSM_MAX_NODES];
		for (size_t j = 0; j < vcn; j++)
			dsm__put_le32(b + 4 * j, sn->vc[j]);
		err = obuf_put(o, b, 4 * vcn) ?: obuf_put(o, dbuf, (size_t)dl);
	} else {
		err = obuf_put(o, page, ps);
	}
	o->k++;
	if (err)
		return err;
	if (!sn && !(sn = pl->snap[p] = malloc(sizeof(*sn) + vcn * 4 + ps)))
		return -ENOMEM;
	sn->vc = (uint32_t *)(sn + 1);
	sn->data = (unsigned char *)(sn->vc + vcn);
	memcpy(sn->vc, vc, vcn * 4);
	memcpy(sn->data, page, ps);
	return 0;
}

int dsm__pol_release(struct dsm_node *n)
{
	struct pol_node *pl = POL(n);
	const struct dsm_tape_proto *tp = dsm__tape_proto(n);
	struct dsm_extent *ex = NULL;
	struct dsm_tape *w;
	struct obuf out[DSM_MAX_NODES];
	uint32_t vc[DSM_MAX_NODES];
	unsigned char *page = NULL, *dbuf = NULL;
	int err = 0;

	if (!pl || pl->mode != DSM_POL_HLRC)
		return 0;
	memset(out, 0, sizeof(out));
	pthread_mutex_lock(&pl->mu);
	w = pl->wrec;
	if (w)
		dsm__tape_stop(n, w);
	pl->wrec = dsm__tape_record(n, DSM_TAPE_WRITE);
	pthread_mutex_unlock(&pl->mu);
	if (!w || !(ex = dsm_tape_project(w, DSM_TAPE_PAGES)) || !dsm_extent_count(ex))
		goto out;
	if (!(page = malloc(n->page_size)) || !(dbuf = malloc(n->page_size / 2))) {
		err = -ENOMEM;
		goto out;
	}
	/* the copies, after the protocol closed the interval: valid here */
	pthread_mutex_lock(&pl->mu);
	pthread_mutex_lock(&n->region->lock);
	tp->known(n, vc);
	for (size_t i = 0; i < dsm_extent_count(ex) && !err; i++) {
		uint32_t p = dsm_extent_value(ex, i);
		int h = home_of(n, p);
		if (p >= pl->npages || tp->push_copy(n, p, h, page) != 1)
			continue;
		if (h == n->id) /* our own page: the store is the home's copy */
			err = store_put(n, pl, p, vc, page);
		else
			err = put_page(n, pl, &out[h], p, page, vc, dbuf);
	}
	pthread_mutex_unlock(&n->region->lock);
	pthread_mutex_unlock(&pl->mu);
	for (int h = 0; h < n->count && !err; h++)
		if (out[h].k)
			err = send_home(n, h, &out[h], vc);
out:
	for (int h = 0; h < n->count; h++)
		free(out[h].b);
	free(page);
	free(dbuf);
	dsm_extent_free(ex);
	dsm_tape_free(w);
	if (err && err != -ENOMEM) /* a hint lost; a dead peer fails the job elsewhere */
		DSM_ERR(n, "tape policy: a push to a home failed: %s", dsm_strerror(err));
	return err == -ENOMEM ? err : 0;
}

/* --- hlrc: pulls from the homes --- */

/* Take a wait slot for `replies` answers; its token, or 0 if none is free. */
static uint64_t wait_begin(struct pol_node *pl, int replies)
{
	uint64_t t = 0;

	pthread_mutex_lock(&pl->mu);
	for (int i = 0; i < WAITS && !t; i++)
		if (!pl->w[i].token) {
			t = pl->w[i].token = pl->next_token++;
			pl->w[i].left = replies;
		}
	pthread_mutex_unlock(&pl->mu);
	return t;
}

/* Wait until token's answers are in (or the job fails, or the deadline
 * passes: the hint is lost, the faults fetch the pages). */
static int wait_end(struct dsm_node *n, struct pol_node *pl, uint64_t token)
{
	uint64_t limit = dsm__now_ns() + dsm__reply_deadline_ns(n);
	int err = 0, i;

	pthread_mutex_lock(&pl->mu);
	for (i = 0; i < WAITS && pl->w[i].token != token; i++)
		;
	while (i < WAITS && pl->w[i].left > 0 && !(err = atomic_load(&n->failed))) {
		struct timespec ts;
		if (dsm__now_ns() > limit)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pl->cv, &pl->mu, &ts);
	}
	if (i < WAITS)
		pl->w[i].token = 0;
	pthread_mutex_unlock(&pl->mu);
	return err;
}

static void wait_cancel(struct pol_node *pl, uint64_t token)
{
	pthread_mutex_lock(&pl->mu);
	for (int i = 0; i < WAITS; i++)
		if (pl->w[i].token == token)
			pl->w[i].token = 0;
	pthread_mutex_unlock(&pl->mu);
}

/* The pages of t not valid here (the protocol's hole), sorted, unique. */
static uint32_t *invalid_pages(struct dsm_node *n, const uint32_t *pages, size_t count,
			       size_t *k)
{
	struct dsm_tape *h = dsm_tape_new();
	struct dsm_extent *e = NULL;
	uint32_t *v = NULL;

	*k = 0;
	if (h && !dsm__tape_proto(n)->hole(n, pages, count, h) && !dsm__tape_normalize(h) &&
	    (e = dsm_tape_project(h, DSM_TAPE_PAGES)) && dsm_extent_count(e) &&
	    (v = malloc(dsm_extent_count(e) * sizeof(*v))))
		for (size_t i = 0; i < dsm_extent_count(e); i++)
			v[(*k)++] = dsm_extent_value(e, i);
	dsm_extent_free(e);
	dsm_tape_free(h);
	return v;
}

/* Ask the homes for the pages of t invalid here; wait for the answers. */
static int pull(struct dsm_node *n, struct pol_node *pl, const struct dsm_tape *t)
{
	struct dsm_extent *e = dsm_tape_project(t, DSM_TAPE_PAGES);
	uint32_t *all = NULL, *inv = NULL, *req = NULL;
	size_t cnt = e ? dsm_extent_count(e) : 0, k = 0, msgs = 0;
	uint64_t token = 0;
	int err = 0;

	if (!cnt || !(all = malloc(cnt * sizeof(*all))))
		goto out;
	for (size_t i = 0; i < cnt; i++)
		all[i] = dsm_extent_value(e, i);
	if (!(inv = invalid_pages(n, all, cnt, &k)) || !(req = malloc(BATCH * 4)))
		goto out;
	for (size_t i = 0; i < k; i++) /* messages to expect answers for */
		if (home_of(n, inv[i]) != n->id)
			msgs++;
	if (!msgs)
		goto out;
	/* one message per home per BATCH pages: count them exactly */
	msgs = 0;
	for (int h = 0; h < n->count; h++) {
		size_t c = 0;
		for (size_t i = 0; h != n->id && i < k; i++)
			if (home_of(n, inv[i]) == h && ++c == BATCH)
				c = 0, msgs++;
		msgs += c > 0;
	}
	if (!(token = wait_begin(pl, (int)msgs)))
		goto out;
	for (int h = 0; h < n->count && !err; h++) {
		size_t c = 0;
		for (size_t i = 0; h != n->id && i <= k && !err; i++) {
			if (i < k && home_of(n, inv[i]) == h)
				dsm__put_le32((unsigned char *)(req + c++), inv[i]);
			if (c && (c == BATCH || i == k)) {
				struct dsm_msg m = { .type = DSM_MSG_TAPE_PUSH,
						     .arg = { c, K_PULL, token },
						     .payload = req, .length = (uint32_t)(4 * c) };
				err = dsm__send(n, h, &m);
				c = 0;
			}
		}
	}
	if (err) /* answers that will not come: the hint is lost */
		wait_cancel(pl, token);
	else
		err = wait_end(n, pl, token);
out:
	free(all);
	free(inv);
	free(req);
	dsm_extent_free(e);
	return err;
}

/* A home answers a pull from its store: the copies it has, grouped by
 * vector (a copy from each writer's release), in one PULL_REP. */
static int on_pull(struct dsm_node *n, struct pol_node *pl, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	size_t k = m->arg[0], ps = n->page_size, vcn = (size_t)n->count, off = 0, groups = 0;
	unsigned char *b;
	uint8_t *done;
	int err;

	if (k == 0 || k > BATCH || m->length != 4 * k) {
		dsm__reject(n, "tape policy: a pull from node %u: %u bytes for %zu pages",
			    m->src, m->length, k);
		return DSM_EPROTO;
	}
	if (!(b = malloc(k * (4 + ps) + k * (4 + 4 * vcn))) || !(done = calloc(k, 1))) {
		free(b);
		return -ENOMEM;
	}
	pthread_mutex_lock(&pl->mu);
	for (size_t i = 0; i < k; i++) {
		struct home_copy *h;
		uint32_t p = dsm__get_le32(d + 4 * i);
		size_t at, c = 0;
		if (done[i] || p >= pl->npages || !(h = pl->store[p]))
			continue;
		at = off; /* a group: every later page whose copy has the same vector */
		off += 4 + 4 * vcn;
		for (size_t j = 0; j < vcn; j++)
			dsm__put_le32(b + at + 4 + 4 * j, h->vc[j]);
		for (size_t q = i; q < k; q++) {
			uint32_t pq = dsm__get_le32(d + 4 * q);
			struct home_copy *hq = pq < pl->npages ? pl->store[pq] : NULL;
			if (done[q] || !hq || memcmp(hq->vc, h->vc, 4 * vcn))
				continue;
			done[q] = 1;
			dsm__put_le32(b + off, pq);
			memcpy(b + off + 4, hq->data, ps);
			off += 4 + ps;
			c++;
		}
		dsm__put_le32(b + at, (uint32_t)c);
		groups++;
	}
	pthread_mutex_unlock(&pl->mu);
	struct dsm_msg r = { .type = DSM_MSG_TAPE_PUSH, .arg = { groups, K_PULL_REP, m->arg[2] },
			     .payload = b, .length = (uint32_t)off };
	err = dsm__send(n, (int)m->src, &r);
	free(b);
	free(done);
	return err;
}

/* A home's answer: each group through push.c (installed if current). */
static int on_pull_rep(struct dsm_node *n, struct pol_node *pl, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	size_t off = 0, ps = n->page_size, vcn = (size_t)n->count;
	uint32_t vc[DSM_MAX_NODES];
	int err = 0;

	for (uint64_t g = 0; g < m->arg[0] && !err; g++) {
		size_t k;
		if (m->length - off < 4 + 4 * vcn)
			goto bad;
		k = dsm__get_le32(d + off);
		if (!k || k > BATCH || (m->length - off - 4 - 4 * vcn) / (4 + ps) < k)
			goto bad;
		for (size_t j = 0; j < vcn; j++)
			vc[j] = dsm__get_le32(d + off + 4 + 4 * j);
		off += 4 + 4 * vcn;
		for (size_t i = 0; i < k; i++)
			if (dsm__get_le32(d + off + i * (4 + ps)) >= pl->npages)
				goto bad;
		err = dsm__pc_receive(n, (int)m->src + DSM_MAX_NODES, vc, d + off, k, 0);
		off += k * (4 + ps);
	}
	if (off != m->length)
		goto bad;
	pthread_mutex_lock(&pl->mu);
	for (int i = 0; i < WAITS; i++)
		if (pl->w[i].token && pl->w[i].token == m->arg[2])
			pl->w[i].left--;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	return err;
bad:
	dsm__reject(n, "tape policy: a malformed pull answer from node %u (%u bytes)",
		    m->src, m->length);
	return DSM_EPROTO;
}

/* A writer's pages for this home: into the store (a diff applies only
 * to the copy it was made against), then (push.c) for this node's own
 * copy when current. */
static int on_to_home(struct dsm_node *n, struct pol_node *pl, const struct dsm_msg *m)
{
	const unsigned char *d = m->payload;
	size_t ps = n->page_size, vcn = (size_t)n->count, head = 4 * vcn, off = head, sz;
	uint32_t vc[DSM_MAX_NODES];
	unsigned char *mine, *x;
	size_t k = 0;
	int err = 0;

	if (m->length < head || m->arg[0] == 0 || m->arg[0] > BATCH)
		goto bad;
	for (uint64_t i = 0; i < m->arg[0]; i++, off += sz)
		if (!(sz = entry_size(n, d + off, m->length - off)) ||
		    dsm__get_le32(d + off) >= pl->npages)
			goto bad;
	if (off != m->length)
		goto bad;
	for (size_t j = 0; j < vcn; j++)
		vc[j] = dsm__get_le32(d + 4 * j);
	if (!(mine = malloc(m->arg[0] * (4 + ps))))
		return -ENOMEM;
	x = mine;
	pthread_mutex_lock(&pl->mu);
	for (off = head; off < m->length && !err; off += sz) {
		uint32_t p = dsm__get_le32(d + off), dl = dsm__get_le32(d + off + 4);
		struct home_copy *h = pl->store[p];
		sz = entry_size(n, d + off, m->length - off);
		if (home_of(n, p) != n->id)
			continue; /* DSM_HOME differs between nodes: a lost hint */
		if (!dl) {
			err = store_put(n, pl, p, vc, d + off + 8);
		} else {
			int base = !!h;
			for (size_t j = 0; h && j < vcn; j++)
				base &= h->vc[j] == dsm__get_le32(d + off + 8 + 4 * j);
			if (!base) /* another writer's copy replaced it: stale */
				continue;
			if (dsm__diff_apply(h->data, ps, d + off + 8 + head, dl)) {
				pthread_mutex_unlock(&pl->mu);
				free(mine);
				goto bad;
			}
			memcpy(h->vc, vc, head);
		}
		if (!err && (h = pl->store[p]) && !memcmp(h->vc, vc, head)) {
			dsm__put_le32(x, p);
			memcpy(x + 4, h->data, ps);
			x += 4 + ps;
			k++;
		}
	}
	pthread_mutex_unlock(&pl->mu);
	if (!err && k)
		err = dsm__pc_receive(n, (int)m->src + DSM_MAX_NODES, vc, mine, k, 0);
	free(mine);
	return err;
bad:
	dsm__reject(n, "tape policy: a malformed push to a home from node %u (%u bytes, "
		    "%llu pages)", m->src, m->length, (unsigned long long)m->arg[0]);
	return DSM_EPROTO;
}

int dsm__pol_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	struct pol_node *pl = POL(n);

	if (!pl || pl->mode != DSM_POL_HLRC || m->arg[1] > K_TO_HOME) {
		dsm__reject(n, "TAPE_PUSH kind %llu from node %u: no tape policy here (%s) "
			    "takes it", (unsigned long long)m->arg[1], m->src,
			    pl ? "scope" : "off");
		return DSM_EPROTO;
	}
	switch (m->arg[1]) {
	case K_PULL:
		return on_pull(n, pl, m);
	case K_PULL_REP:
		return on_pull_rep(n, pl, m);
	default:
		return on_to_home(n, pl, m);
	}
}

/* --- scope: every page a barrier invalidated --- */

static int fetch_all_invalid(struct dsm_node *n, uint32_t slot)
{
	const struct dsm_tape_proto *tp = dsm__tape_proto(n);
	uint32_t *idx = malloc(CHUNK * sizeof(*idx)), *all = NULL;
	size_t nall = 0, cap = 0;
	int k = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t base = 0; base < n->region->npages && k >= 0; base += CHUNK) {
		size_t c = n->region->npages - base < CHUNK ? n->region->npages - base : CHUNK, got;
		uint32_t *v;
		for (size_t i = 0; i < c; i++)
			idx[i] = (uint32_t)(base + i);
		if (!(v = invalid_pages(n, idx, c, &got)))
			continue;
		if (nall + got > cap) {
			uint32_t *a = realloc(all, (cap = 2 * (nall + got)) * sizeof(*a));
			if (!a) {
				free(v);
				k = -ENOMEM;
				break;
			}
			all = a;
		}
		memcpy(all + nall, v, got * sizeof(*v));
		nall += got;
		free(v);
	}
	if (k >= 0 && nall)
		k = tp->fetch(n, all, nall, 1, slot);
	free(idx);
	free(all);
	if (k > 0)
		dsm__tape_slot_installed(n, slot, (uint64_t)k);
	return k;
}

/* --- entry points (tapeworm.c) --- */

int dsm__pol_acquired(struct dsm_node *n, const struct dsm_tape *t, uint32_t slot)
{
	struct pol_node *pl = POL(n);

	if (!pl || !t || !dsm_tape_count(t))
		return 0;
	if (pl->mode == DSM_POL_HLRC)
		return pull(n, pl, t);
	/* scope: the lock's own tape, from its writers (update on acquire) */
	return dsm__tape_fetch(n, t, 1, slot); /* counts the slot's pages */
}

int dsm__pol_barrier(struct dsm_node *n, const struct dsm_tape *t, uint32_t slot)
{
	struct pol_node *pl = POL(n);

	if (!pl)
		return 0;
	if (pl->mode == DSM_POL_SCOPE)
		return fetch_all_invalid(n, slot);
	return t && dsm_tape_count(t) ? pull(n, pl, t) : 0;
}
