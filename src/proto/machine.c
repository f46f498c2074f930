/*
 * machine.c — the checked page transition every protocol's state changes
 * go through (each protocol brings its own table: sc.c, lrc.c, hlrc.c).
 */
#include "internal.h"

/* Append "<label><name>" to l. Async-signal-safe. */
static void say(struct dsm_line *l, const char *label, const char *name)
{
	dsm__line_put(l, label);
	dsm__line_put(l, name);
}

/* Say which transition a protocol's table refuses (cold path: the line is
 * built here, not in every step). */
static int illegal(struct dsm_node *n, const struct dsm_page_machine *m, size_t p,
		   const struct dsm_page *pg, unsigned ev)
{
	struct dsm_line l = { .len = 0 };
	char num[24];

	say(&l, "dsm: node ", dsm__utoa((uint64_t)n->id, num, 10));
	say(&l, ": ", m->proto);
	say(&l, ": illegal page transition: page ", dsm__utoa((uint64_t)p, num, 10));
	say(&l, " in state ", dsm__page_state_name(pg->state));
	say(&l, " on event ", ev < m->nevents ? m->event_names[ev] : "?");
	dsm__line_put(&l, " (a protocol invariant is broken; the page is left as it"
		      " was and the operation fails)\n");
	dsm__line_write(&l);
	return DSM_EPROTO;
}

int dsm__page_step(struct dsm_node *n, const struct dsm_page_machine *m, size_t p,
		   struct dsm_page *pg, unsigned ev)
{
	int next = -1;

	if (ev < m->nevents && pg->state < DSM_PAGE_STATE_COUNT_)
		next = m->next[ev][pg->state];
	if (next < 0)
		return illegal(n, m, p, pg, ev);
	pg->state = (uint8_t)next;
	return 0;
}
