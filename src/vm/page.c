/*
 * page.c — page states (names, allowed protections) and waiting for a
 * page to change. The transitions are each protocol's own (src/proto).
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
