/*
 * page.c — the page state machine (names, allowed protections, legal
 * transitions) and waiting for a page to change.
 */
#include <errno.h>
#include <sys/mman.h>

#include "vm.h"
#include "core/node.h"

static const char *const state_names[] = {
#define XX(name, num) [num] = #name,
	DSM_PAGE_STATE_MAP(XX)
#undef XX
};

/* Name of a page state for logs. */
const char *dsm__page_state_name(unsigned state)
{
	if (state >= DSM_PAGE_STATE_COUNT_)
		return "?";
	return state_names[state];
}

/* The most the application view may allow in a state. */
int dsm__page_state_prot(unsigned state)
{
	switch (state) {
	case DSM_PAGE_READ_SHARED:
		return PROT_READ;
	case DSM_PAGE_WRITE_EXCLUSIVE:
	case DSM_PAGE_DIRTY:
		return PROT_READ | PROT_WRITE;
	default:
		return PROT_NONE;
	}
}

/*
 * The page state machines (docs/protocols/sc.md for the CREW events,
 * docs/protocols/lrc.md for the multiple-writer ones): the next state for
 * an event, or -1 if the event is illegal in that state. Debug builds assert
 * every transition the protocol makes against this table.
 */
#define I DSM_PAGE_INVALID
#define R DSM_PAGE_READ_SHARED
#define W DSM_PAGE_WRITE_EXCLUSIVE
#define D DSM_PAGE_DIRTY
static const signed char next_state[DSM_PAGE_EVENT_COUNT_][DSM_PAGE_STATE_COUNT_] = {
	/*                        INVALID READ_SHARED WRITE_EXCL DIRTY */
	[DSM_PEV_FETCH_READ]  = { R,      -1,         -1,        -1 },
	[DSM_PEV_FETCH_WRITE] = { W,      W,          -1,        -1 },
	[DSM_PEV_UPGRADE]     = { -1,     W,          -1,        -1 },
	[DSM_PEV_SERVE_READ]  = { -1,     R,          R,         -1 },
	[DSM_PEV_SERVE_WRITE] = { -1,     I,          I,         -1 },
	[DSM_PEV_INVALIDATE]  = { I,      I,          -1,        -1 },
	[DSM_PEV_TWIN]        = { -1,     D,          -1,        -1 },
	[DSM_PEV_CLOSE]       = { -1,     -1,         -1,        R },
	[DSM_PEV_NOTICE]      = { I,      I,          -1,        I },
	[DSM_PEV_APPLY]       = { R,      -1,         -1,        -1 },
};
#undef I
#undef R
#undef W
#undef D

int dsm__page_next(unsigned state, unsigned event)
{
	if (state >= DSM_PAGE_STATE_COUNT_ || event >= DSM_PAGE_EVENT_COUNT_)
		return -1;
	return next_state[event][state];
}

static const char *const event_names[] = {
#define XX(name, num) [num] = #name,
	DSM_PAGE_EVENT_MAP(XX)
#undef XX
};

const char *dsm__page_event_name(unsigned event)
{
	return event < DSM_PAGE_EVENT_COUNT_ ? event_names[event] : "?";
}

/* Sleep on the page's futex word until it changes (or timeout_ns). */
int dsm__page_wait(struct dsm_page *pg, uint32_t seq, uint64_t timeout_ns)
{
	return dsm__futex_wait(&pg->wait_seq, seq, timeout_ns);
}

/* Bump the page's futex word and wake every waiter. */
void dsm__page_wake(struct dsm_page *pg)
{
	atomic_fetch_add_explicit(&pg->wait_seq, 1, memory_order_release);
	dsm__futex_wake_all(&pg->wait_seq);
}
