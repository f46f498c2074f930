/*
 * internal.h — helpers shared by the protocols in src/proto.
 */
#ifndef DSM_PROTO_INTERNAL_H
#define DSM_PROTO_INTERNAL_H

#include <stdint.h>

#include "core/node.h"
#include "gc/hooks.h" /* dsm__gc_page_out: where page content leaves the node */
#include "proto.h"
#include "vm/vm.h"

/*
 * Move page p (entry pg) along event ev of machine m (the protocol's own
 * table, see struct dsm_page_machine in proto.h). Every state change a
 * protocol makes goes through here. An event that is illegal in the page's
 * state leaves the page as it is, writes to stderr what happened (node,
 * protocol, page, state, event) and returns DSM_EPROTO, which the caller
 * passes on: the faulting access fails (SIGBUS), the message is rejected,
 * or the synchronisation call returns the error. Caller holds the region
 * lock. Async-signal-safe.
 */
int dsm__page_step(struct dsm_node *n, const struct dsm_page_machine *m, size_t p,
		   struct dsm_page *pg, unsigned ev);

/* Messages built under the region lock and sent after it is dropped, so a
 * full socket never blocks a thread that holds the page table. Lives on
 * the stack: usable in the fault path (no malloc). */
#define DSM_OUTBOX_MAX (DSM_MAX_NODES + 4)
struct dsm_outbox {
	int len;
	struct {
		int dst;
		struct dsm_msg m;
	} e[DSM_OUTBOX_MAX];
};

/* Queue a message with three arguments; returns the entry (payload unset)
 * or NULL when full (callers flush before a fan-out could overflow). */
struct dsm_msg *dsm__outbox_add(struct dsm_outbox *ob, int dst, uint16_t type,
				uint64_t a0, uint64_t a1, uint64_t a2);
/* Send everything queued; the first error is returned. Async-signal-safe. */
int dsm__outbox_flush(struct dsm_node *n, struct dsm_outbox *ob);
/* Set page p's protection to what its state allows. Caller holds the
 * region lock. 0 or a negative errno. */
int dsm__proto_set_prot(struct dsm_node *n, size_t p, struct dsm_page *pg);

/*
 * The fault loop every protocol shares (SIGSEGV handler context): under
 * the region lock, ready() says whether the access is allowed now (and
 * fixes the protection, *err set); if not, the fault is counted once and
 * advance() either resolves it locally (DSM_FAULT_RETRY) or queues the
 * requests the page needs into ob (DSM_FAULT_WAIT; nothing queued means a
 * fetch is already in flight); the loop sends them after dropping the lock
 * and sleeps on the page until it changes. arg is the protocol's scratch.
 */
enum { DSM_FAULT_RETRY = 1, DSM_FAULT_WAIT = 2 };
struct dsm_fault_ops {
	int (*ready)(struct dsm_node *n, size_t p, int want_write, int *err);
	int (*advance)(struct dsm_node *n, size_t p, int want_write,
		       struct dsm_outbox *ob, void *arg);
};
int dsm__proto_fault_loop(struct dsm_node *n, size_t p, int want_write,
			  const struct dsm_fault_ops *ops, void *arg);

/* Lock hooks of the protocols whose locks carry a vector timestamp (lrc,
 * hlrc): the manager keeps the entry-wise max over the releases' stamps
 * (count little-endian u32s) and grants it. */
int dsm__proto_vc_lock_merge(struct dsm_node *n, void **blob, const void *payload,
			     size_t len);
int dsm__proto_vc_lock_grant(struct dsm_node *n, void *blob, struct dsm_buf *out);

/* Open the application view's kernel write tracker (n->region->wp) as
 * DSM_WRITE_DETECT says (wp_init.c); proto names the caller in the log.
 * 0 (tracker open, or
 * none: the fault path), or DSM_ECONFIG. */
int dsm__proto_wp_init(struct dsm_node *n, const char *proto);
void dsm__proto_wp_fini(struct dsm_node *n);
/* A protocol's list of kernel-tracked pages without those still(arg, p)
 * says are no longer tracked (still() also unmarks them as listed), in
 * place; returns the new count. */
uint32_t dsm__proto_wp_compact(uint32_t *list, uint32_t count,
			       int (*still)(void *arg, uint32_t p), void *arg);
/* The pages of list[0..count) (sorted here) the kernel saw written since
 * the last collect, into out (room for count), re-armed: one scan per run
 * of neighbours, never over the pages between, which would arm pages
 * nobody tracks (each would then cost its next write a kernel fault, every
 * interval: what made hlrc slower with uffd, docs/write-detection.md).
 * The count, or a negative errno. */
struct dsm_wp;
ssize_t dsm__proto_wp_collect_list(struct dsm_wp *wp, uint32_t *list, uint32_t count,
				   uint32_t *out);

#endif /* DSM_PROTO_INTERNAL_H */
