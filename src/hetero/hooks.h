/*
 * hooks.h — what the protocol files call where data crosses nodes
 * (src/hetero; docs/hetero.md). Receiver makes right: page data and
 * diffs are converted by the node that receives them, only when the
 * sender's byte order differs from ours. In a homogeneous job every hook
 * is one test of n->hetero_swap (0) and returns at once.
 *
 * Service thread or release path; never the fault path.
 */
#ifndef DSM_HETERO_HOOKS_H
#define DSM_HETERO_HOOKS_H

#include <stddef.h>

#include "core/node.h"

int dsm__hetero_conv_page(struct dsm_node *n, int src, size_t p, void *page);
int dsm__hetero_conv_diff(struct dsm_node *n, int src, size_t p, const void *diff,
			  size_t len);
long dsm__hetero_widen(struct dsm_node *n, size_t p, const void *page, void *diff,
		       size_t len, size_t cap);

/* A whole page from node src was written at page (the runtime view):
 * convert it in place. 0, or DSM_EPROTO when the page is untyped (the job
 * is then failed with the page and its allocation named) */
static inline int dsm__hetero_page_in(struct dsm_node *n, int src, size_t p,
				      void *page)
{
	if (__builtin_expect(!(n->hetero_swap >> src & 1), 1))
		return 0;
	return dsm__hetero_conv_page(n, src, p, page);
}

/* A diff of page p from node src, about to be applied: convert its runs
 * in place (the bytes are the transport's receive buffer or a copy the
 * caller owns). 0 or DSM_EPROTO (untyped page, or a run that splits a
 * field). */
static inline int dsm__hetero_diff_in(struct dsm_node *n, int src, size_t p,
				      const void *diff, size_t len)
{
	if (__builtin_expect(!(n->hetero_swap >> src & 1), 1))
		return 0;
	return dsm__hetero_conv_diff(n, src, p, diff, len);
}

/* A diff of page p (len bytes in a buffer of cap >= dsm__diff_max_size)
 * was just encoded from page: in a mixed job, widen its runs to whole
 * fields so the receiver can convert them. Returns the (new) length or a
 * negative error. */
static inline long dsm__hetero_diff_out(struct dsm_node *n, size_t p,
					const void *page, void *diff, size_t len,
					size_t cap)
{
	if (__builtin_expect(!n->hetero_swap, 1))
		return (long)len;
	return dsm__hetero_widen(n, p, page, diff, len, cap);
}

/* dsm_init (before the transport) / node teardown. */
int dsm__hetero_init(struct dsm_node *n);
void dsm__hetero_fini(struct dsm_node *n);
/* TYPE_NOTE / TYPE_ACK (core/dispatch.c). */
int dsm__hetero_handle(struct dsm_node *n, const struct dsm_msg *m);
/* An untyped allocation made here (coll.c): remembered to name it if one
 * of its pages is refused. kind is "dsm_malloc" or "dsm_alloc_collective". */
void dsm__hetero_note_untyped(struct dsm_node *n, uint64_t off, uint64_t size,
			      const char *kind, const void *caller);

#endif /* DSM_HETERO_HOOKS_H */
