/*
 * hlrc_twin.c — twinning at a write fault on a page another node is the
 * home of, and twin runs: a write fault that continues a walk through
 * such pages twins the pages ahead of it as well, so the walk's next
 * writes cost no fault. docs/protocols/hlrc.md, "Twin runs".
 *
 * Fault path: the region lock is held, nothing here allocates.
 */
#include <string.h>
#include <sys/mman.h>

#include "hlrc.h"
#include "internal.h"
#include "tape/hooks.h"

#define TWIN_RUN_MAX 32 /* pages twinned ahead at one fault, at most */

int dsm__hlrc_twin(struct dsm_node *n, size_t p, struct dsm_page *pg, int ahead)
{
	struct hlrc_state *st = HS(n);
	struct hlrc_page *hp = &st->pages[p];
	int err = dsm__hlrc_step(n, p, pg, EV_WRITE);

	if (err)
		return err;
	memcpy(twin_of(st, p, n->page_size), dsm__page_rt(n->region, p), n->page_size);
	if (!hp->tres) {
		hp->tres = 1;
		atomic_fetch_add(&st->twin_res, 1);
	}
	hp->twinned = 1;
	hp->ahead = (uint8_t)ahead;
	hp->quiet = 0;
	DSM_STAT_ADD(n, twins, 1);
	list_dirty(st, p);
	/* noted now even if twinned ahead: a release's write tape is taken
	 * before the close finds out (an unwritten page it lists is valid at
	 * the acquirer, which then fetches nothing for it) */
	dsm__tape_note(n, DSM_TAPE_WRITE, (uint32_t)p, (uint32_t)st->me, /* tape hook */
		       dsm__hlrc_cur_interval(st));
	return 0;
}

/* Was page q twinned for a write in the open interval? */
static int walked(struct dsm_node *n, size_t q)
{
	const struct hlrc_page *hq = &HS(n)->pages[q];

	return hq->twinned && hq->dirty && !hq->ztwin;
}

/* May page q be twinned ahead: valid here, read-only, another node's,
 * nothing about it in flight? */
static int twinnable(struct dsm_node *n, size_t q)
{
	struct hlrc_state *st = HS(n);
	const struct hlrc_page *hq = &st->pages[q];

	return dsm__hlrc_pg(n, q)->state == DSM_PAGE_READ_SHARED && hq->home >= 0 &&
	       hq->home != st->me && !hq->twinned && !hq->dirty && !hq->flushing &&
	       !hq->fetching && !hq->tape && !hq->fresh && !hq->ktrack;
}

/* How many pages before p (dir 1) or after it (dir -1) are walked, up to
 * max / 2. */
static unsigned walk_length(struct dsm_node *n, size_t p, int dir, unsigned max,
			    int (*walked)(struct dsm_node *, size_t))
{
	size_t np = HS(n)->npages;
	unsigned k = 0;

	if (dir > 0)
		while (k < max / 2 && k < p && walked(n, p - k - 1))
			k++;
	else
		while (k < max / 2 && p + k + 1 < np && walked(n, p + k + 1))
			k++;
	return k;
}

unsigned dsm__hlrc_walk_ahead(struct dsm_node *n, size_t p, unsigned max,
			      int (*walked)(struct dsm_node *, size_t),
			      int (*ahead)(struct dsm_node *, size_t), size_t *first)
{
	size_t np = HS(n)->npages;
	int dir = 1;
	unsigned back = walk_length(n, p, 1, max, walked), k = 0, win;

	if (!back && (back = walk_length(n, p, -1, max, walked)))
		dir = -1;
	if (!back)
		return 0;
	win = 2 * back > max ? max : 2 * back;
	while (k < win && (dir > 0 ? p + 1 + k < np : p >= k + 1) &&
	       ahead(n, dir > 0 ? p + 1 + k : p - 1 - k))
		k++;
	*first = dir > 0 ? p + 1 : p - k;
	return k;
}

/*
 * Page p was just twinned at a write fault. If the pages before it (or
 * after it: a walk backwards) were twinned in this interval too, twin
 * twice as many pages ahead of it as the walk has behind it (a readahead
 * window: 2, 4, ... up to TWIN_RUN_MAX), as far as they may be. Their
 * twin slots are mapped in one madvise before the copies (a slot never
 * used, or given back, costs a kernel fault otherwise), they become
 * writable in one mprotect, and their page tables are filled in one
 * madvise instead of a kernel fault each. A page twinned ahead that
 * the interval does not write diffs to nothing at the close and is left
 * out of the interval's record (hlrc_rel.c, hlrc_iv.c). Returns the pages
 * twinned.
 */
unsigned dsm__hlrc_twin_run(struct dsm_node *n, size_t p)
{
	struct hlrc_state *st = HS(n);
	size_t first = 0;
	unsigned k = n->hetero_swap ? 0
				    : dsm__hlrc_walk_ahead(n, p, TWIN_RUN_MAX, walked,
							   twinnable, &first);

	if (!k)
		return 0;
	dsm__vm_populate(twin_of(st, first, n->page_size), (size_t)k * n->page_size);
	for (unsigned i = 0; i < k; i++)
		if (dsm__hlrc_twin(n, first + i, dsm__hlrc_pg(n, first + i), 1)) {
			k = i; /* cannot happen: twinnable pages are READ_SHARED */
			break;
		}
	if (k && dsm__vm_protect(n->region, first, k, PROT_READ | PROT_WRITE) == 0)
		dsm__vm_populate(n->region->app + first * n->page_size,
				 (size_t)k * n->page_size);
	return k;
}
