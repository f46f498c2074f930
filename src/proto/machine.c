/*
 * machine.c — the checked page transition every protocol's state changes
 * go through (each protocol brings its own table: sc.c, lrc.c, hlrc.c).
 */
#include "internal.h"

/* Write "<label><name>" to stderr. Async-signal-safe. */
static void say(const char *label, const char *name)
{
	dsm__write_str(label);
	dsm__write_str(name);
}

int dsm__page_step(struct dsm_node *n, const struct dsm_page_machine *m, size_t p,
		   struct dsm_page *pg, unsigned ev)
{
	char num[24];
	int next = -1;

	if (ev < m->nevents && pg->state < DSM_PAGE_STATE_COUNT_)
		next = m->next[ev][pg->state];
	if (next >= 0) {
		pg->state = (uint8_t)next;
		return 0;
	}
	say("dsm: node ", dsm__utoa((uint64_t)n->id, num, 10));
	say(": ", m->proto);
	say(": illegal page transition: page ", dsm__utoa((uint64_t)p, num, 10));
	say(" in state ", dsm__page_state_name(pg->state));
	say(" on event ", ev < m->nevents ? m->event_names[ev] : "?");
	dsm__write_str(" (a protocol invariant is broken; the page is left as it"
		       " was and the operation fails)\n");
	return DSM_EPROTO;
}
