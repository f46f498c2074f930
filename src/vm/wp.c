/*
 * wp.c — choosing a write-detection implementation (wp.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "wp.h"

/* Fill a tracker for one implementation and open it. */
static int try_open(struct dsm_wp **out, const struct dsm_wp_ops *ops, void *base,
		    size_t len, size_t page, unsigned flags, const char **why)
{
	struct dsm_wp *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->ops = ops;
	w->base = base;
	w->len = len;
	w->page = page;
	w->npages = len / page;
	w->flags = flags;
	w->fd = -1;
	w->pagemap = -1;
	if ((err = ops->open(w, why))) {
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

int dsm__wp_open(struct dsm_wp **out, void *base, size_t len, size_t page,
		 enum dsm_wp_mode mode, unsigned flags, const char **why)
{
	const char *uffd_why = "";
	int err;

	*why = "";
	if (!page || len % page || (uintptr_t)base % page)
		return (*why = "write tracking needs a page-aligned range"), -EINVAL;
	if (mode != DSM_WP_SEGV) {
		err = try_open(out, &dsm__wp_uffd, base, len, page, flags, &uffd_why);
		if (!err || mode == DSM_WP_UFFD)
			return (*why = uffd_why), err;
	}
	err = try_open(out, &dsm__wp_segv, base, len, page, flags, why);
	if (!err && mode == DSM_WP_AUTO)
		*why = uffd_why;
	return err;
}

void dsm__wp_close(struct dsm_wp *w)
{
	if (!w)
		return;
	w->ops->close(w);
	free(w);
}
