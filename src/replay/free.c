/*
 * free.c — replaying free GIVEs: read copies a node handed out of pages
 * it held read-only (docs/replay.md, "Free read copies").
 *
 * While recording, such a copy may leave while the giver's thread
 * computes: the page's contents are fixed while it is read-only, and
 * another reader changes nothing the giver's thread can see (only its
 * copyset). So a free GIVE is not tied to a boundary; what a replay must
 * keep is its order among the giver's other transitions of the same
 * page: it happens after the page's previous TAKE/GIVE/DROP on this node
 * and before the next one (an upgrade must invalidate the copy it gave).
 *
 * Each TAKE/GIVE/DROP record knows the previous record of its page on
 * this node (rec->prev, set once the log is loaded); st->done marks the
 * records that happened. A free GIVE is due when its page's previous
 * record is done and the page is read-only here at the recorded version;
 * a record that follows a free GIVE of its page waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* Merge-walk position over the three ordered lists. */
static struct dsm_rp_rec *next_by_order(struct rec_list *ls[3], size_t pos[3])
{
	struct dsm_rp_rec *best = NULL;
	int k = -1;

	for (int i = 0; i < 3; i++)
		if (pos[i] < ls[i]->n && (!best || ls[i]->v[pos[i]].order < best->order)) {
			best = &ls[i]->v[pos[i]];
			k = i;
		}
	if (k >= 0)
		pos[k]++;
	return best;
}

int dsm__rp_free_index(struct rp_state *st)
{
	struct rec_list *ls[3] = { &st->takes, &st->gds, &st->frees };
	size_t pos[3] = { 0, 0, 0 }, cap = 64, total = st->takes.n + st->gds.n + st->frees.n;
	struct dsm_rp_rec *r;
	struct { uint64_t page, last; } *tab; /* open addressing, last = order + 1 */

	while (cap < 2 * total)
		cap *= 2;
	if (!(st->done = calloc(st->loaded ? st->loaded : 1, 1)) ||
	    !(tab = calloc(cap, sizeof(*tab))))
		return -ENOMEM;
	while ((r = next_by_order(ls, pos))) {
		size_t h = (size_t)(r->f[0] * 0x9e3779b97f4a7c15ull) & (cap - 1);
		while (tab[h].last && tab[h].page != r->f[0])
			h = (h + 1) & (cap - 1);
		r->prev = tab[h].last;
		tab[h].page = r->f[0];
		tab[h].last = r->order + 1;
	}
	free(tab);
	return 0;
}

int dsm__rp_prev_done(const struct rp_state *st, const struct dsm_rp_rec *r)
{
	return !r->prev || st->done[r->prev - 1];
}

/* The first free GIVE of page p not yet replayed, or NULL. */
static struct dsm_rp_rec *first_free(struct rp_state *st, size_t p)
{
	for (size_t i = st->frees.i; i < st->frees.n; i++)
		if (st->frees.v[i].kind && st->frees.v[i].f[0] == p)
			return &st->frees.v[i];
	return NULL;
}

int dsm__rp_free_due(struct dsm_node *n, size_t p, int from)
{
	struct rp_state *st = dsm__rp_st(n);
	const struct dsm_rp_rec *e = first_free(st, p);

	return e && e->f[3] == (uint64_t)from && dsm__rp_prev_done(st, e) &&
	       st->proto->can_serve_free(n, p, (uint32_t)e->f[2]);
}

int dsm__rp_free_note(struct rp_state *st, const uint64_t f[4])
{
	struct dsm_rp_rec *e = first_free(st, (size_t)f[0]);

	if (!e || memcmp(e->f, f, sizeof(e->f)) || !dsm__rp_prev_done(st, e))
		return 0;
	st->done[e->order] = 1;
	e->kind = 0; /* used */
	while (st->frees.i < st->frees.n && !st->frees.v[st->frees.i].kind)
		st->frees.i++;
	return 1;
}
