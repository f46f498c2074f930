/*
 * hlrc_rel.c — the release path of hlrc (see hlrc.c): first-touch home
 * claims, diffing written pages against their twins and flushing the
 * diffs to their homes (following redirects and taking migrated homes),
 * and closing the pages opened fresh. Called by the interval close
 * (hlrc_iv.c) on application threads. docs/protocols/hlrc.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/le.h"
#include "hetero/hooks.h"
#include "hlrc.h"
#include "internal.h"
#include "proto.h"
#include "tape/hooks.h"
#include "vm/diff.h"

#define set_prot dsm__proto_set_prot

/* Ask each directory node (page mod count) to make us the home of the
 * unclaimed pages among pages[]; record the answers. The first claim a
 * directory sees wins, so every node learns the same home. */
static int claim_homes(struct dsm_node *n, const uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);
	struct dsm_buf req[DSM_MAX_NODES] = { 0 };
	struct dsm_waiter w[DSM_MAX_NODES];
	int asked[DSM_MAX_NODES] = { 0 }, err = 0;

	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < count && !err; i++) {
		uint32_t p = pages[i], d = p % (uint32_t)n->count;
		if (st->pages[p].home != HLRC_NO_HOME)
			continue;
		if (d == (uint32_t)st->me) /* we are its directory: first wins */
			st->pages[p].home = (int16_t)st->me;
		else
			err = dsm__buf_put_u32(&req[d], p);
	}
	pthread_mutex_unlock(&n->region->lock);
	for (int d = 0; d < n->count && !err; d++) {
		if (!req[d].len)
			continue;
		dsm__waiter_add(n, &w[d]);
		asked[d] = 1;
		struct dsm_msg m = { .type = DSM_MSG_HLRC_CLAIM, .arg = { w[d].token },
				     .payload = req[d].data, .length = (uint32_t)req[d].len };
		if ((err = dsm__send(n, d, &m)))
			dsm__waiter_complete(n, w[d].token, err, NULL);
	}
	for (int d = 0; d < n->count; d++) {
		int e = 0;
		if (asked[d] && !(e = dsm__waiter_wait_for(n, &w[d], d, "HLRC_CLAIM")) &&
		    w[d].len != req[d].len)
			e = DSM_EPROTO;
		pthread_mutex_lock(&n->region->lock);
		for (size_t off = 0; asked[d] && !e && off < req[d].len; off += 4) {
			uint32_t p = dsm__get_le32(req[d].data + off);
			uint32_t hg = dsm__get_le32((unsigned char *)w[d].data + off);
			if (HLRC_HG_HOME(hg) >= n->count)
				e = DSM_EPROTO;
			else
				hlrc_learn_home(&st->pages[p], HLRC_HG_HOME(hg),
						HLRC_HG_GEN(hg));
		}
		pthread_mutex_unlock(&n->region->lock);
		if (asked[d])
			free(w[d].data);
		dsm__buf_free(&req[d]);
		err = err ? err : e;
	}
	return err;
}

/*
 * Diff batches on their way: entries {u32 page, u32 len, diff} for one
 * home. A home that no longer is one answers with where the page went
 * (a redirect); the entry is sent there next. wait: the redirect named no
 * newer home (the new home has not heard of its migration yet): pause
 * before asking again.
 */
struct diff_job {
	int home;
	int wait;
	struct dsm_buf b;
};

struct diff_jobs {
	struct diff_job *v;
	size_t len, cap;
};

static struct dsm_buf *job_for(struct diff_jobs *q, size_t from, int home, int wait)
{
	for (size_t i = from; i < q->len; i++)
		if (q->v[i].home == home && q->v[i].wait == wait)
			return &q->v[i].b;
	if (q->len == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 4;
		struct diff_job *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->len] = (struct diff_job){ .home = home, .wait = wait };
	return &q->v[q->len++].b;
}

/* The home of page p moved here (gen g), with its current copy: install
 * it. The page is flushing, so no thread here writes it meanwhile, and the
 * copy holds every change the old home applied, ours included. */
static int adopt_home(struct dsm_node *n, uint32_t p, uint16_t g,
		      const unsigned char *copy)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp;
	struct dsm_page *pg;
	int err = 0;

	if (p >= st->npages)
		return DSM_EPROTO;
	pthread_mutex_lock(&n->region->lock);
	pg = dsm__hlrc_pg(n, p);
	hp = &st->pages[p];
	if (!hp->flushing || (pg->state != DSM_PAGE_INVALID &&
			      pg->state != DSM_PAGE_READ_SHARED)) {
		err = DSM_EPROTO;
	} else if ((hp->home == HLRC_NO_HOME || g > hp->gen) &&
		   !(err = dsm__hlrc_step(n, p, pg, EV_MIGRATE_IN))) {
		hlrc_learn_home(hp, st->me, g);
		memcpy(dsm__page_rt(n->region, p), copy, n->page_size);
		hp->shared = 1; /* the old home and readers hold copies */
		hp->streak = 0;
		err = set_prot(n, p, pg);
	}
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* Route the chunk's redirected entries (redirects are in entry order) to
 * the homes the redirects name, as new jobs after index i. */
static int route_redirects(struct dsm_node *n, struct diff_jobs *q, size_t i,
			   const unsigned char *chunk, size_t len,
			   const unsigned char *r, uint32_t nredir)
{
	struct hlrc_state *st = HS(n);
	int from = q->v[i].home, err = 0;
	uint32_t k = 0;

	for (size_t off = 0; off < len && k < nredir && !err;) {
		uint32_t p = dsm__get_le32(chunk + off), sz = 8 + dsm__get_le32(chunk + off + 4);
		if (p == dsm__get_le32(r + 8 * (size_t)k)) {
			uint32_t hg = dsm__get_le32(r + 8 * (size_t)k + 4);
			int to, wait = 0;
			struct dsm_buf *b;
			if (HLRC_HG_HOME(hg) >= n->count)
				return DSM_EPROTO;
			pthread_mutex_lock(&n->region->lock);
			if (!hlrc_learn_home(&st->pages[p], HLRC_HG_HOME(hg), HLRC_HG_GEN(hg)))
				wait = st->pages[p].home == from;
			to = st->pages[p].home;
			pthread_mutex_unlock(&n->region->lock);
			k++;
			if (to != st->me) { /* here, the copy has our bytes */
				if (!(b = job_for(q, i + 1, to, wait)))
					return -ENOMEM;
				err = dsm__buf_put(b, chunk + off, sz);
			}
		}
		off += sz;
	}
	return err ? err : k == nredir ? 0 : DSM_EPROTO;
}

/* What a home's acknowledgement carries besides the error: redirects
 * {page, home | gen << 16} for entries it is not the home of, then
 * migrations {page, gen, copy} of pages whose home is now this node. */
static int take_ack(struct dsm_node *n, struct diff_jobs *q, size_t i,
		    const unsigned char *chunk, size_t len, const struct dsm_waiter *w)
{
	uint32_t nredir = (uint32_t)(w->val[2] >> 32), nmig = (uint32_t)w->val[2];
	const unsigned char *d = w->data;
	size_t rl = 8 * (size_t)nredir, ml = (8 + n->page_size) * (size_t)nmig;
	int err = 0;

	if (nredir > len / 8 || nmig > len || w->len != rl + ml)
		return DSM_EPROTO;
	for (uint32_t k = 0; k < nmig && !err; k++) {
		const unsigned char *e = d + rl + (8 + n->page_size) * (size_t)k;
		uint32_t g = dsm__get_le32(e + 4);
		err = g > UINT16_MAX ? DSM_EPROTO : adopt_home(n, dsm__get_le32(e), (uint16_t)g, e + 8);
	}
	if (!err && nredir)
		err = route_redirects(n, q, i, chunk, len, d, nredir);
	return err;
}

/* Job i's chunks in flight: the home applies one while the next travels. */
#define FLUSH_WINDOW 4

struct chunk_ack {
	struct dsm_waiter w;
	size_t off, end; /* the chunk: bytes [off, end) of the job */
};

/* Send the chunk of job i that starts at off (whole entries, up to
 * HLRC_FLUSH_CHUNK bytes); a failed send completes its waiter. */
static int send_chunk(struct dsm_node *n, const struct diff_job *job, size_t off,
		      struct chunk_ack *c)
{
	const unsigned char *data = job->b.data;
	size_t end = off;
	int err;

	while (end < job->b.len && (end == off || end - off < HLRC_FLUSH_CHUNK))
		end += 8 + dsm__get_le32(data + end + 4);
	c->off = off;
	c->end = end;
	dsm__waiter_add(n, &c->w);
	struct dsm_msg m = { .type = DSM_MSG_HLRC_DIFF, .arg = { c->w.token },
			     .payload = data + off, .length = (uint32_t)(end - off) };
	if ((err = dsm__send(n, job->home, &m)))
		dsm__waiter_complete(n, c->w.token, err, NULL);
	return err;
}

/* Wait for chunk c's acknowledgement and take what it carries. */
static int wait_chunk(struct dsm_node *n, struct diff_jobs *q, size_t i, struct chunk_ack *c)
{
	const unsigned char *data = q->v[i].b.data; /* take_ack may move q->v */
	int err = dsm__waiter_wait_for(n, &c->w, q->v[i].home, "HLRC_DIFF"), e;

	if (!err && c->w.val[1])
		err = (int)(int64_t)c->w.val[1];
	/* even a refused batch may have moved homes here: take them */
	if (!c->w.err && (e = take_ack(n, q, i, data + c->off, c->end - c->off, &c->w)))
		err = err ? err : e;
	free(c->w.data);
	return err;
}

/* Send job i in chunks, up to FLUSH_WINDOW of them unacknowledged; take
 * every acknowledgement (in order), even after an error. */
static int send_job(struct dsm_node *n, struct diff_jobs *q, size_t i)
{
	struct chunk_ack c[FLUSH_WINDOW];
	size_t off = 0;
	unsigned sent = 0, acked = 0;
	int err = 0, e;

	while ((off < q->v[i].b.len && !err) || acked < sent) {
		if (off < q->v[i].b.len && !err && sent - acked < FLUSH_WINDOW) {
			err = send_chunk(n, &q->v[i], off, &c[sent % FLUSH_WINDOW]);
			off = c[sent++ % FLUSH_WINDOW].end;
			continue;
		}
		if ((e = wait_chunk(n, q, i, &c[acked++ % FLUSH_WINDOW])))
			err = err ? err : e;
	}
	return err;
}

/* Send jobs from, from + 1, ... (those added meanwhile too) and wait for
 * every acknowledgement, following redirects to where pages' homes
 * moved, within the peer timeout. */
static int send_jobs(struct dsm_node *n, struct diff_jobs *q, size_t from)
{
	uint64_t ms = n->cfg.timeout_ms > 0 ? (uint64_t)n->cfg.timeout_ms : 10000;
	uint64_t deadline = dsm__now_ns() + ms * 1000000u;
	int err = 0;

	for (size_t i = from; i < q->len && !err; i++) {
		if (q->v[i].wait) {
			if (dsm__now_ns() > deadline) {
				DSM_ERR(n, "hlrc: node %d keeps redirecting diffs to itself",
					q->v[i].home);
				err = DSM_EPROTO;
				break;
			}
			usleep(200);
		}
		err = send_job(n, q, i);
	}
	return err;
}

/*
 * One home's side of a flush. Batches of diffs for it go in two buffers
 * used in turn: while the home applies the batch in one (job 0 of q
 * borrows it; its acknowledgement pending in ack), the next is encoded
 * into the other. Entries the home redirects become jobs 1, 2, ... of q,
 * sent once every batch is acknowledged.
 */
struct home_flush {
	struct diff_jobs q;
	struct dsm_buf b[2];
	struct chunk_ack ack;
	int busy; /* ack pending */
};

/* Send home h the batch in b (one chunk: encode_diffs keeps a batch
 * within HLRC_FLUSH_CHUNK), not waiting for its acknowledgement. */
static int batch_start(struct dsm_node *n, int h, struct home_flush *f, struct dsm_buf *b)
{
	if (!f->q.len && !job_for(&f->q, 0, h, 0))
		return -ENOMEM;
	f->q.v[0].b = *b; /* borrowed: not freed with the jobs */
	f->busy = 1;
	return send_chunk(n, &f->q.v[0], 0, &f->ack);
}

/* Wait for the acknowledgement of the batch in flight, if any. */
static int batch_done(struct dsm_node *n, struct home_flush *f)
{
	if (!f->busy)
		return 0;
	f->busy = 0;
	return wait_chunk(n, &f->q, 0, &f->ack);
}

/* The last batch's acknowledgement, then the redirected entries; frees
 * everything of f. */
static int home_finish(struct dsm_node *n, struct home_flush *f, int err)
{
	int e = batch_done(n, f);

	err = err ? err : e;
	if (!err && f->q.len > 1)
		err = send_jobs(n, &f->q, 1);
	for (size_t i = 1; i < f->q.len; i++)
		dsm__buf_free(&f->q.v[i].b);
	free(f->q.v);
	dsm__buf_free(&f->b[0]);
	dsm__buf_free(&f->b[1]);
	return err;
}

/* A page opened fresh got a notice before the close decided it and has
 * just been diffed against zeros: a written one joins the open interval's
 * dirty list (its record must announce our bytes at the home), an
 * unwritten one is forgotten. Region lock held. */
static void fresh_noticed(struct dsm_node *n, size_t p, int written)
{
	struct hlrc_state *st = HS(n);

	st->pages[p].fresh = 0;
	if (!written)
		return;
	list_dirty(st, p);
	dsm__tape_note(n, DSM_TAPE_WRITE, (uint32_t)p, (uint32_t)st->me, /* tape hook */
		       dsm__hlrc_cur_interval(st));
}

/* Page against twin into out (max bytes): the masked form where runs
 * would take more (many scattered bytes changed: a partition's swaps),
 * else the run form. The mask pass is cheap and tells the run form's size
 * without encoding it. A mixed job converts runs: the run form only. */
static ssize_t encode_one(struct dsm_node *n, const unsigned char *twin,
			  const unsigned char *page, unsigned char *out, size_t max)
{
	size_t run_len;
	ssize_t len;

	if (n->hetero_swap || n->page_size % 8)
		return dsm__diff_encode(twin, page, n->page_size, out, max);
	len = dsm__diff_mask_encode(twin, page, n->page_size, out, max, &run_len);
	if (len < 0 || run_len <= (size_t)len)
		return dsm__diff_encode(twin, page, n->page_size, out, max);
	return len;
}

/* Diff pages[*next ...] against their twins into one buffer per home,
 * until the pages end or one buffer might not take another page's entry
 * within HLRC_FLUSH_BATCH bytes (a batch fits one chunk); *next
 * moves past the pages done. Pages that turned out to be ours need no
 * diff and become home pages. Region lock held; the pages are
 * write-protected (flushing). */
static int encode_diffs(struct dsm_node *n, const uint32_t *pages, uint32_t count,
			uint32_t *next, struct dsm_buf *out, unsigned char *scratch,
			uint32_t *nmine)
{
	struct hlrc_state *st = HS(n);
	size_t max = dsm__diff_max_size(n->page_size), full = 0;
	int err = 0;

	for (uint32_t i; (i = *next) < count && !err && full + 8 + max <= HLRC_FLUSH_BATCH;) {
		uint32_t p = pages[i];
		struct hlrc_page *hp = &st->pages[p];
		struct dsm_page *pg = &n->region->pages[p];
		ssize_t len;
		(*next)++;
		if (hp->home == st->me) {
			if ((err = dsm__hlrc_step(n, p, pg, EV_CLAIMED)))
				break;
			twin_drop(n, p);
			hp->ahead = 0;
			hp->shared = 0; /* our notice will cover every old copy */
			(*nmine)++;
			continue;
		}
		if (!hp->twinned)
			continue;
		dsm__gc_page_out(n, dsm__page_rt(n->region, p), n->page_size);
		len = encode_one(n, hp->ztwin ? st->zero : twin_of(st, p, n->page_size),
				 dsm__page_rt(n->region, p), scratch, max);
		if (len > 0) /* a mixed job: runs widened to whole fields */
			len = dsm__hetero_diff_out(n, p, dsm__page_rt(n->region, p),
						   scratch, (size_t)len, max);
		if (len < 0) {
			err = (int)len;
			break;
		}
		twin_drop(n, p);
		if (hp->ahead) { /* twinned ahead of a walk: written after all? */
			hp->ahead = 0;
			hp->quiet = len <= 4; /* the header alone: nothing changed */
			if (hp->quiet)
				continue;
		}
		DSM_STAT_ADD(n, diffs_created, 1);
		if (hp->fresh) /* opened fresh, flushed for a notice: announced if written */
			fresh_noticed(n, p, len > 0 || hp->fresh == HLRC_FRESH_HIT);
		if (len == 0)
			continue;
		err = dsm__buf_put_u32(&out[hp->home], p) ?:
		      dsm__buf_put_u32(&out[hp->home], (uint32_t)len) ?:
		      dsm__buf_put(&out[hp->home], scratch, (size_t)len);
		full = out[hp->home].len > full ? out[hp->home].len : full;
	}
	return err;
}

/*
 * Did this node touch page p of the region since it was last fresh? A
 * page of the memfd that no view ever wrote (or read) is a hole: never
 * written, so all zeros, and nothing here to claim. A page that is not a
 * hole was written, perhaps with zeros only (Jacobi's interior starts at
 * 0.0: such a page must become its writer's, as any written page), or
 * read: it counts as written. Swapped-out pages of a memfd are data to
 * SEEK_DATA, so a written page is never taken for a hole. Pages are asked
 * in increasing order; *s remembers the extent of the last answer, so a
 * run costs one or two lseek calls, not one per page. If lseek fails, the
 * page counts as written.
 */
struct seen {
	size_t to;  /* offsets below this one are known ... */
	int data;   /* ... to be data (1) or a hole (0) */
};

static int touched(struct dsm_region *r, size_t p, struct seen *s)
{
	off_t off = (off_t)(p * r->page_size), d, h;

	if ((size_t)off < s->to)
		return s->data;
	d = lseek(r->fd, off, SEEK_DATA);
	if (d < 0 && errno == ENXIO) { /* no data from off to the end */
		s->to = r->size;
		return s->data = 0;
	}
	if (d < 0)
		return 1;
	if (d > off) {
		s->to = (size_t)d;
		return s->data = 0;
	}
	h = lseek(r->fd, off, SEEK_HOLE);
	s->to = h > off ? (size_t)h : (size_t)off + r->page_size;
	return s->data = 1;
}

/* A page opened fresh that this node never touched: fresh again (no home), or,
 * if a placement hint gave it a home meanwhile, placed as it would have
 * been (here: private; elsewhere: invalid, so the home's untracked writes
 * are fetched). No claim, no notice. Region lock held. */
static int fresh_unused(struct dsm_node *n, size_t p)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	struct dsm_page *pg = &n->region->pages[p];
	int err = 0;

	twin_drop(n, p);
	hp->flushing = 0;
	if (hp->home == st->me) {
		err = dsm__hlrc_step(n, p, pg, EV_PLACED_HOME);
		hp->shared = 0;
	} else if (hp->home != HLRC_NO_HOME) {
		err = dsm__hlrc_step(n, p, pg, EV_PLACED_AWAY);
	}
	dsm__page_wake(pg);
	return err ?: set_prot(n, p, pg);
}

int dsm__hlrc_close_fresh(struct dsm_node *n, uint32_t *pages, uint32_t *count,
			  uint32_t *fl, uint32_t *nfl)
{
	struct hlrc_state *st = HS(n);
	uint32_t *cand = fl + *nfl, nc = 0;
	struct seen seen = { 0, 0 };
	int err = 0;

	for (uint32_t i = 0; i < st->nfresh && !err; i++) {
		uint32_t p = st->fresh[i];
		struct hlrc_page *hp = &st->pages[p];
		struct dsm_page *pg = &n->region->pages[p];
		if (!hp->fresh)
			continue; /* decided at a notice already */
		if (pg->state != DSM_PAGE_DIRTY) {
			hp->fresh = 0;
			/* a notice queued its flush, still on its way (another
			 * thread): whatever it holds, our record announces it
			 * once that flush is done (wait_flushes) */
			pages[(*count)++] = p;
			continue;
		}
		if (!(err = dsm__hlrc_step(n, p, pg, EV_CLOSE))) {
			hp->flushing = 1;
			cand[nc++] = p;
		}
	}
	st->nfresh = 0;
	dsm__hlrc_protect_state(n, cand, nc); /* revoke writes before looking */
	/* written pages are appended to fl in place of the candidates:
	 * never past the one being read */
	for (uint32_t i = 0; i < nc; i++) {
		uint32_t p = cand[i];
		struct hlrc_page *hp = &st->pages[p];
		int e, hit = hp->fresh == HLRC_FRESH_HIT;
		hp->fresh = 0;
		if (!hit && !touched(n->region, p, &seen)) {
			if ((e = fresh_unused(n, p)))
				err = err ?: e;
			continue;
		}
		fl[(*nfl)++] = p;
		pages[(*count)++] = p;
		dsm__tape_note(n, DSM_TAPE_WRITE, p, (uint32_t)st->me, /* tape hook */
			       dsm__hlrc_cur_interval(st));
	}
	return err;
}

/* Give the twin memory of pages[] (sorted here) back to the kernel, one
 * madvise per run of neighbours, once more than HLRC_TWIN_KEEP of twin
 * memory is resident; below that it stays for the pages' next twins: a
 * slot given back costs its next twin a kernel fault that maps and
 * clears a page (10 us on a paravirtualised VM; qs at --large twins 25k
 * pages on its partitioning node). Their faults still wait (flushing),
 * so no thread twins them meanwhile. */
static void release_twins(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);

	if (atomic_load(&st->twin_res) <= HLRC_TWIN_KEEP / n->page_size)
		return;
	qsort(pages, count, sizeof(*pages), hlrc_cmp_u32);
	for (uint32_t i = 0; i < count;) {
		uint32_t j = i + 1;
		while (j < count && pages[j] <= pages[j - 1] + 1)
			j++;
		madvise(twin_of(st, pages[i], n->page_size),
			(size_t)(pages[j - 1] - pages[i] + 1) * n->page_size, MADV_DONTNEED);
		for (uint32_t k = i; k < j; k++)
			if (st->pages[pages[k]].tres) {
				st->pages[pages[k]].tres = 0;
				atomic_fetch_sub(&st->twin_res, 1);
			}
		i = j;
	}
}

/*
 * Encode the pages' diffs and send them, a batch at a time, each home's
 * batch in one of its two buffers (struct home_flush) while the home
 * applies the previous one. Reused buffers stay resident, where one
 * buffer for the whole flush (qs's first release: 54 MB) cost a kernel
 * fault per page of it as it grew (150 of the 190 ms its encoding took on
 * a paravirtualised VM). Between batches the region lock is free: the
 * pages still to be encoded keep their twins and stay flushing (their
 * faults wait); a notice may invalidate one meanwhile, which leaves its
 * bytes and twin as they were, or name a newer home, which its diff then
 * goes to.
 */
static int flush_batches(struct dsm_node *n, uint32_t *pages, uint32_t count,
			 unsigned char *scratch)
{
	struct home_flush *f = calloc((size_t)n->count, sizeof(*f));
	struct dsm_buf out[DSM_MAX_NODES];
	uint32_t nmine = 0, next = 0;
	int err = f ? 0 : -ENOMEM, e;

	for (unsigned k = 0; !err && next < count; k++) {
		for (int h = 0; h < n->count; h++) {
			out[h] = f[h].b[k & 1];
			out[h].len = 0;
		}
		pthread_mutex_lock(&n->region->lock);
		err = encode_diffs(n, pages, count, &next, out, scratch, &nmine);
		pthread_mutex_unlock(&n->region->lock);
		for (int h = 0; h < n->count; h++) {
			f[h].b[k & 1] = out[h];
			if ((e = batch_done(n, &f[h])))
				err = err ? err : e;
			if (!err && out[h].len)
				err = batch_start(n, h, &f[h], &f[h].b[k & 1]);
		}
	}
	for (int h = 0; f && h < n->count; h++)
		err = home_finish(n, &f[h], err);
	free(f);
	pthread_mutex_lock(&n->region->lock);
	if (nmine) /* pages now ours: writable again, in runs */
		dsm__hlrc_protect_state(n, pages, count);
	pthread_mutex_unlock(&n->region->lock);
	return err;
}

/* The flush itself (see hlrc.h). Faults on the pages wait meanwhile. */
int dsm__hlrc_flush(struct dsm_node *n, uint32_t *pages, uint32_t count)
{
	struct hlrc_state *st = HS(n);
	unsigned char *scratch = malloc(dsm__diff_max_size(n->page_size));
	int err = scratch ? 0 : -ENOMEM;

	if (!err)
		err = claim_homes(n, pages, count);
	if (!err)
		err = flush_batches(n, pages, count, scratch);
	release_twins(n, pages, count);
	pthread_mutex_lock(&n->region->lock);
	for (uint32_t i = 0; i < count; i++) {
		st->pages[pages[i]].flushing = 0;
		if (err) /* the home may lack these bytes: fail their readers */
			twin_drop(n, pages[i]);
		dsm__page_wake(&n->region->pages[pages[i]]);
	}
	pthread_mutex_unlock(&n->region->lock);
	free(scratch);
	if (err)
		dsm__fail(n, err < 0 ? err : DSM_EPROTO, n->id,
			  "hlrc: node %d could not flush its changes to their homes: %s",
			  n->id, dsm_strerror(err));
	return err;
}
