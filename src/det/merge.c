/*
 * merge.c — check diff sets, find write-write conflicts, merge in order.
 *
 * Every record of every space of the round (and the parent's own changes,
 * encoded from its twins) becomes an entry (page, order, diff); entries are
 * sorted by page and then by creation order (parent first), so each page's
 * writers are adjacent and merged in the same order on every run whatever
 * the order in which the children finished. Pages with one writer are
 * applied directly; for pages with several, every pair of diffs is compared
 * byte-exactly (dsm__diff_conflicts: same bytes, different values).
 * Cost: O(R log R) for R written pages, independent of the scope size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det/det.h"
#include "vm/diff.h"

struct entry {
	uintptr_t page;
	int order;          /* 0 = parent, i+1 = space i of the round */
	int id;             /* space id or DSM_DET_PARENT */
	const unsigned char *diff;
	uint32_t len;
	uint32_t full;      /* DET_REC_FULL: diff is the whole page */
};

struct cspan {
	uint32_t off, len;
};

struct page_ctx {       /* conflict callback state for one page */
	struct dsm_det *d;
	uintptr_t page;
	int first, second;
	struct cspan *spans;
	size_t nspans, cap;
	int oom;
};

int dsm__det_set_check(const struct dsm_det *d, const struct det_space *s,
		       const char **why)
{
	const struct det_set_hdr *h = (const void *)s->set;
	size_t off = sizeof(*h);
	uint32_t runs, bytes;
	int ri;
	size_t pi;

	if (!h || s->setlen < sizeof(*h) || h->magic != DET_SET_MAGIC ||
	    h->version != DET_SET_VERSION || h->space != s->id)
		return *why = "bad header", -EPROTO;
	if (h->used > s->setlen)
		return *why = "length beyond the shared area", -EPROTO;
	for (uint64_t i = 0; i < h->nrecs; i++) {
		struct det_rec rec;
		if (h->used - off < sizeof(rec))
			return *why = "truncated record", -EPROTO;
		memcpy(&rec, s->set + off, sizeof(rec));
		off += sizeof(rec);
		if (rec.addr % d->page || dsm__det_find(&d->trk, rec.addr, &ri, &pi) < 0)
			return *why = "page outside the scope", -EPROTO;
		if ((rec.flags & ~(DET_REC_FULL | DET_REC_BASE)) ||
		    rec.flags == (DET_REC_FULL | DET_REC_BASE))
			return *why = "unknown record flags", -EPROTO;
		if (rec.len > h->used - off ||
		    (rec.flags ? rec.len != d->page
		     : dsm__diff_stats(s->set + off, rec.len, d->page, &runs, &bytes) < 0))
			return *why = "invalid page diff", -EPROTO;
		off += ((size_t)rec.len + 7) & ~(size_t)7;
		if (off > h->used)
			return *why = "truncated record", -EPROTO;
	}
	return 0;
}

static int push_entry(struct entry **v, size_t *n, size_t *cap, struct entry e)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct entry *p = realloc(*v, nc * sizeof(**v));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = e;
	return 0;
}

/* The parent's own changes since the round began, as entries whose diffs
 * live in *buf (the caller frees it). Stops parent tracking. */
static int parent_entries(struct dsm_det *d, struct entry **v, size_t *n,
			  size_t *cap, unsigned char **buf)
{
	struct det_tracker *t = &d->trk;
	size_t nw = atomic_load(&t->nwritten), maxd = dsm__diff_max_size(d->page);
	size_t used = 0;
	int rc = 0;

	*buf = NULL;
	if (!d->tracking_parent)
		return 0;
	d->stats.parent_twinned += nw;
	*buf = nw ? malloc(nw * maxd) : NULL;
	if (nw && !*buf)
		rc = -ENOMEM;
	for (size_t i = 0; i < nw && rc == 0; i++) {
		uint64_t w = t->written[i];
		ssize_t len = dsm__diff_encode(dsm__det_twin_addr(t, w),
					       dsm__det_page_addr(t, w), d->page,
					       *buf + used, maxd);
		if (len <= 4)
			continue; /* unchanged */
		rc = push_entry(v, n, cap, (struct entry){
			(uintptr_t)dsm__det_page_addr(t, w), 0, DSM_DET_PARENT,
			*buf + used, (uint32_t)len, 0 });
		used += (size_t)len;
	}
	dsm__det_track_stop(t);
	dsm__det_tracker_reset(t);
	d->tracking_parent = 0;
	return rc;
}

/* A whole page a space wrote whose base is the parent's page at the
 * round's start (DET_REC_BASE: the kernel recorded the space's writes):
 * as a diff against that base, in buf (diff_max_size). The base is the
 * parent's twin if the parent wrote the page in this round, else the page
 * itself: the parent's own changes are still unmerged. Returns the diff's
 * length, <= 4 when the space changed nothing, or a negative errno. */
static ssize_t base_diff(struct dsm_det *d, uintptr_t addr, const unsigned char *page,
			 unsigned char *buf)
{
	const struct det_tracker *t = &d->trk;
	const unsigned char *base = (const unsigned char *)addr;
	int ri;
	size_t pi;

	if (dsm__det_find(t, addr, &ri, &pi) == 0 && d->tracking_parent &&
	    atomic_load(&t->ranges[ri].state[pi]) == DET_PG_TWINNED)
		base = t->ranges[ri].twins + pi * d->page;
	return dsm__diff_encode(base, page, d->page, buf, dsm__diff_max_size(d->page));
}

/* Entries of space s; its DET_REC_BASE pages become diffs in *buf (the
 * caller frees it), so this runs before parent_entries drops the
 * parent's twins. */
static int space_entries(struct dsm_det *d, const struct det_space *s,
			 int order, struct entry **v, size_t *n, size_t *cap,
			 unsigned char **buf)
{
	const struct det_set_hdr *h = (const void *)s->set;
	size_t off = sizeof(*h), maxd = dsm__diff_max_size(d->page), used = 0;

	*buf = NULL;
	for (uint64_t i = 0; i < h->nrecs; i++) {
		struct det_rec rec;
		struct entry e;
		memcpy(&rec, s->set + off, sizeof(rec));
		off += sizeof(rec);
		e = (struct entry){ (uintptr_t)rec.addr, order, s->id, s->set + off,
				    rec.len, rec.flags & DET_REC_FULL };
		off += ((size_t)rec.len + 7) & ~(size_t)7;
		if (rec.flags & DET_REC_BASE) {
			ssize_t len;
			if (!*buf && !(*buf = malloc((size_t)h->nrecs * maxd)))
				return -ENOMEM;
			len = base_diff(d, e.page, e.diff, *buf + used);
			if (len < 0)
				return (int)len;
			if (len <= 4)
				continue; /* written back unchanged */
			e.diff = *buf + used;
			e.len = (uint32_t)len;
			used += (size_t)len;
		}
		if (push_entry(v, n, cap, e) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static int add_conflict(struct dsm_det *d, struct dsm_det_conflict c)
{
	if (d->nconf == d->confcap) {
		size_t nc = d->confcap ? d->confcap * 2 : 16;
		struct dsm_det_conflict *p = realloc(d->conf, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		d->conf = p;
		d->confcap = nc;
	}
	d->conf[d->nconf++] = c;
	d->stats.conflicts++;
	return 0;
}

static void on_conflict(uint32_t off, uint32_t len, void *arg)
{
	struct page_ctx *pc = arg;
	struct dsm_det_conflict c = { (void *)(pc->page + off), len, pc->first,
				      pc->second };

	if (add_conflict(pc->d, c) < 0)
		pc->oom = 1;
	if (pc->d->policy == DSM_DET_POLICY_REPORT)
		fprintf(stderr, "dsm_det: conflict at %p (%u bytes) between %s %d "
			"and space %d; space %d's value kept\n", c.addr, len,
			c.first < 0 ? "the parent" : "space", c.first, c.second,
			c.second);
	if (pc->nspans == pc->cap) {
		size_t nc = pc->cap ? pc->cap * 2 : 8;
		struct cspan *p = realloc(pc->spans, nc * sizeof(*p));
		if (!p) {
			pc->oom = 1;
			return;
		}
		pc->spans = p;
		pc->cap = nc;
	}
	pc->spans[pc->nspans++] = (struct cspan){ off, len };
}

/* Apply one writer's entry to page pg and count it. */
static void apply_entry(struct dsm_det *d, unsigned char *pg, const struct entry *e)
{
	uint32_t runs, bytes = (uint32_t)d->page;

	if (e->full) {
		memcpy(pg, e->diff, d->page);
	} else {
		dsm__diff_apply(pg, d->page, e->diff, e->len);
		dsm__diff_stats(e->diff, e->len, d->page, &runs, &bytes);
	}
	d->stats.pages_merged++;
	d->stats.bytes_merged += bytes;
}

/* A whole-page entry of a page with several writers, as a diff against
 * zero (its base: a whole page is sent only from a fresh zone, zero in
 * the parent and in every space's snapshot), in buf (diff_max_size). */
static int full_as_diff(struct dsm_det *d, struct entry *e, unsigned char *buf)
{
	static unsigned char zero[1 << 16];
	ssize_t len;

	if (d->page > sizeof(zero))
		return -EINVAL;
	len = dsm__diff_encode(zero, e->diff, d->page, buf, dsm__diff_max_size(d->page));
	if (len < 0)
		return (int)len;
	e->diff = buf;
	e->len = (uint32_t)len;
	e->full = 0;
	return 0;
}

/* Check every pair of writers e[0..k) of one page for conflicts (into pc),
 * then apply them in creation order. 0 or -ENOMEM. */
static int merge_writers(struct dsm_det *d, struct entry *e, size_t k,
			  struct page_ctx *pc)
{
	size_t maxd = dsm__diff_max_size(d->page);
	unsigned char *buf = NULL;
	int rc = 0;

	for (size_t i = 0; i < k && rc == 0; i++) {
		if (!e[i].full)
			continue;
		if (!buf && !(buf = malloc(k * maxd)))
			return -ENOMEM;
		rc = full_as_diff(d, &e[i], buf + i * maxd);
	}
	for (size_t i = 0; i + 1 < k && rc == 0; i++)
		for (size_t j = i + 1; j < k; j++) {
			pc->first = e[i].id;
			pc->second = e[j].id;
			dsm__diff_conflicts(e[i].diff, e[i].len, e[j].diff, e[j].len,
					    d->page, on_conflict, pc);
		}
	for (size_t i = 0; i < k && rc == 0; i++)
		if (e[i].id != DSM_DET_PARENT) /* already in the parent's memory */
			apply_entry(d, (unsigned char *)e[0].page, &e[i]);
	free(buf);
	return rc;
}

/* Merge the writers e[0..k) of one page. Returns 1 if it had conflicts. */
static int merge_page(struct dsm_det *d, struct entry *e, size_t k)
{
	struct page_ctx pc = { .d = d, .page = e[0].page };
	unsigned char *pg = (unsigned char *)e[0].page, saved[1 << 16];
	int rc;

	if (k == 1) {
		if (e[0].id != DSM_DET_PARENT)
			apply_entry(d, pg, &e[0]);
		return 0;
	}
	if (d->policy == DSM_DET_POLICY_ERROR && d->page <= sizeof(saved))
		memcpy(saved, pg, d->page);
	rc = merge_writers(d, e, k, &pc);
	if (d->policy == DSM_DET_POLICY_ERROR && d->page <= sizeof(saved))
		for (size_t i = 0; i < pc.nspans; i++)
			memcpy(pg + pc.spans[i].off, saved + pc.spans[i].off,
			       pc.spans[i].len);
	free(pc.spans);
	if (rc < 0)
		return rc;
	return pc.oom ? -ENOMEM : pc.nspans > 0;
}

/* Name the first few conflicts in d->errmsg. */
static void describe_conflicts(struct dsm_det *d)
{
	size_t len = (size_t)snprintf(d->errmsg, sizeof(d->errmsg),
				      "%zu write-write conflict(s):", d->nconf);

	for (size_t i = 0; i < d->nconf && len < sizeof(d->errmsg); i++) {
		const struct dsm_det_conflict *c = &d->conf[i];
		len += (size_t)snprintf(d->errmsg + len, sizeof(d->errmsg) - len,
					" [%p +%zu: %d vs %d]", c->addr, c->len,
					c->first, c->second);
	}
}

static int merge_entries(struct dsm_det *d, struct entry *v, size_t n)
{
	int any = 0, rc;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_entry);
	for (size_t i = 0, k; i < n; i += k) {
		for (k = 1; i + k < n && v[i + k].page == v[i].page; k++)
			;
		if ((rc = merge_page(d, v + i, k)) < 0)
			return rc;
		any |= rc;
	}
	if (any && d->policy == DSM_DET_POLICY_ERROR) {
		describe_conflicts(d);
		return DSM_EDETCONFLICT;
	}
	return 0;
}

int dsm__det_merge(struct dsm_det *d)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	unsigned char *pbuf = NULL, *sbuf[DET_MAX_SLOTS] = { 0 };
	int rc = 0;

	/* spaces first: their kernel-recorded pages need the parent's twins */
	for (int i = 0; i < d->nspaces && rc == 0; i++)
		if (d->spaces[i].ok)
			rc = space_entries(d, &d->spaces[i], i + 1, &v, &n, &cap, &sbuf[i]);
	if (rc == 0)
		rc = parent_entries(d, &v, &n, &cap, &pbuf);
	else if (d->tracking_parent) /* as parent_entries would have */
		parent_entries(d, &v, &n, &cap, &pbuf);
	if (rc == 0)
		rc = merge_entries(d, v, n);
	free(v);
	free(pbuf);
	for (int i = 0; i < d->nspaces; i++)
		free(sbuf[i]);
	return rc;
}
