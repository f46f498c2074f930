/*
 * wp_init.c — the kernel write tracker of the application view
 * (vm/wp.h), shared by the protocols that use it (lrc_wp.c, hlrc_wp.c).
 */
#include "internal.h"
#include "vm/wp.h"

/* Open the tracker unless DSM_WRITE_DETECT=segv; under auto a system
 * without uffd leaves the protocol on the fault path (the reason logged at
 * info); under uffd that is a configuration error. auto_ok: whether auto
 * means uffd for this protocol at all (hlrc: no, see write-detection.md). */
int dsm__proto_wp_init(struct dsm_node *n, const char *proto, int auto_ok)
{
	struct dsm_region *r = n->region;
	const char *why;
	int err;

	if (n->count == 1 || n->cfg.write_detect == DSM_WP_SEGV)
		return 0;
	if (n->cfg.write_detect == DSM_WP_AUTO && !auto_ok) {
		DSM_INFO(n, "%s: write detection: segv (auto; DSM_WRITE_DETECT=uffd "
			 "to let the kernel record the home's shared pages)", proto);
		return 0;
	}
	err = dsm__wp_open(&r->wp, r->app, r->size, r->page_size, DSM_WP_UFFD, 0, &why);
	if (err && n->cfg.write_detect == DSM_WP_UFFD) {
		dsm__fail(n, DSM_ECONFIG, n->id, "DSM_WRITE_DETECT=uffd: %s (%s)", why,
			  dsm_strerror(err));
		return DSM_ECONFIG;
	}
	if (err) {
		r->wp = NULL;
		DSM_INFO(n, "%s: write detection: segv (%s)", proto, why);
		return 0;
	}
	DSM_INFO(n, "%s: write detection: uffd", proto);
	return 0;
}

uint32_t dsm__proto_wp_compact(uint32_t *list, uint32_t count,
			       int (*still)(void *arg, uint32_t p), void *arg,
			       uint32_t *lo, uint32_t *hi)
{
	uint32_t k = 0;

	*lo = UINT32_MAX;
	*hi = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t p = list[i];
		if (!still(arg, p))
			continue;
		list[k++] = p;
		*lo = p < *lo ? p : *lo;
		*hi = p > *hi ? p : *hi;
	}
	return k;
}

/* Close the tracker (the protocol's fini: a node may init a protocol
 * again on the same region, as the fuzzers do). */
void dsm__proto_wp_fini(struct dsm_node *n)
{
	dsm__wp_close(n->region->wp);
	n->region->wp = NULL;
}
