/*
 * wp_init.c — the kernel write tracker of the application view
 * (vm/wp.h), shared by the protocols that use it (lrc_wp.c, hlrc_wp.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "vm/wp.h"

/* Open the tracker unless DSM_WRITE_DETECT=segv; under auto a system
 * without uffd leaves the protocol on the fault path (the reason logged at
 * info); under uffd that is a configuration error. */
int dsm__proto_wp_init(struct dsm_node *n, const char *proto)
{
	struct dsm_region *r = n->region;
	const char *why;
	int err;

	if (n->count == 1 || n->cfg.write_detect == DSM_WP_SEGV)
		return 0;
	/* registered only while pages are tracked (DSM_WP_F_LAZY, vm/wp.h) */
	err = dsm__wp_open(&r->wp, r->app, r->size, r->page_size, DSM_WP_UFFD,
			   DSM_WP_F_LAZY, &why);
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
			       int (*still)(void *arg, uint32_t p), void *arg)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < count; i++)
		if (still(arg, list[i]))
			list[k++] = list[i];
	return k;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Is list ascending? (A tracked list mostly stays sorted between
 * collects: a release under a lock per molecule collects every time.) */
static int ascending(const uint32_t *list, uint32_t count)
{
	for (uint32_t i = 1; i < count; i++)
		if (list[i] < list[i - 1])
			return 0;
	return 1;
}

ssize_t dsm__proto_wp_collect_list(struct dsm_wp *wp, uint32_t *list, uint32_t count,
				   uint32_t *out)
{
	size_t got = 0;

	if (!ascending(list, count))
		qsort(list, count, sizeof(*list), cmp_u32);
	for (uint32_t i = 0, j; i < count; i = j) {
		size_t at = list[i], next, end;
		for (j = i + 1; j < count && list[j] == list[j - 1] + 1; j++)
			;
		end = (size_t)list[j - 1] + 1;
		while (at < end) { /* a run's reports fit: they are its pages */
			ssize_t r = dsm__wp_collect(wp, at, end - at, out + got,
						    count - got, &next);
			if (r < 0)
				return r;
			if (next <= at) /* no progress: cannot happen, never spin */
				return -EIO;
			got += (size_t)r;
			at = next;
		}
	}
	return (ssize_t)got;
}

/* Close the tracker (the protocol's fini: a node may init a protocol
 * again on the same region, as the fuzzers do). */
void dsm__proto_wp_fini(struct dsm_node *n)
{
	dsm__wp_close(n->region->wp);
	n->region->wp = NULL;
}
