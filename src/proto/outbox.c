/*
 * outbox.c — helpers shared by the protocols: the outbox of messages built
 * under the region lock, state-derived protection, the fault loop, and the
 * vector-timestamp lock hooks of lrc and hlrc.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/le.h"
#include "internal.h"

struct dsm_msg *dsm__outbox_add(struct dsm_outbox *ob, int dst, uint16_t type,
				uint64_t a0, uint64_t a1, uint64_t a2)
{
	if (ob->len >= DSM_OUTBOX_MAX)
		return NULL;
	ob->e[ob->len].dst = dst;
	ob->e[ob->len].m = (struct dsm_msg){ .type = type, .arg = { a0, a1, a2 } };
	return &ob->e[ob->len++].m;
}

int dsm__outbox_flush(struct dsm_node *n, struct dsm_outbox *ob)
{
	int err = 0;

	for (int i = 0; i < ob->len; i++) {
		int e = dsm__send(n, ob->e[i].dst, &ob->e[i].m);
		if (e && !err)
			err = e;
	}
	ob->len = 0;
	return err;
}

int dsm__proto_set_prot(struct dsm_node *n, size_t p, struct dsm_page *pg)
{
	int want = dsm__page_state_prot(pg->state);

	return pg->prot == want ? 0 : dsm__vm_protect(n->region, p, 1, want);
}

#define SLICE_NS 100000000ull /* a sleeping fault re-checks for job failure */

int dsm__proto_fault_loop(struct dsm_node *n, size_t p, int want_write,
			  const struct dsm_fault_ops *ops, void *arg)
{
	struct dsm_region *r = n->region;
	struct dsm_page *pg = &r->pages[p];
	struct dsm_outbox ob = { 0 };
	uint64_t t0 = dsm__now_ns(), limit = (uint64_t)n->cfg.timeout_ms * 4000000ull;
	int err = 0, counted = 0, rc;

	pthread_mutex_lock(&r->lock);
	while (!(err = atomic_load(&n->failed)) && !ops->ready(n, p, want_write, &err)) {
		uint32_t seq;
		if (!counted++ && want_write == 1)
			DSM_STAT_ADD(n, write_faults, 1);
		else if (counted == 1)
			DSM_STAT_ADD(n, read_faults, 1);
		if ((rc = ops->advance(n, p, want_write, &ob, arg)) < 0) {
			err = rc;
			break;
		}
		if (rc == DSM_FAULT_RETRY)
			continue;
		seq = atomic_load(&pg->wait_seq);
		pthread_mutex_unlock(&r->lock);
		if ((err = dsm__outbox_flush(n, &ob)))
			return err;
		atomic_fetch_add(&n->app_faulting, 1);
		if (!dsm__spin_while_eq(n, &pg->wait_seq, seq))
			dsm__page_wait(pg, seq, SLICE_NS);
		atomic_fetch_sub(&n->app_faulting, 1);
		if (dsm__now_ns() - t0 > limit)
			return DSM_ETIMEDOUT;
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	if (counted)
		DSM_STAT_ADD(n, fault_wait_ns, dsm__now_ns() - t0);
	return err;
}

int dsm__proto_vc_lock_merge(struct dsm_node *n, void **blob, const void *p, size_t len)
{
	uint32_t *vc = *blob;

	if (len != (size_t)n->count * 4)
		return len ? DSM_EPROTO : 0;
	if (!vc && !(vc = *blob = calloc((size_t)n->count, 4)))
		return -ENOMEM;
	for (int k = 0; k < n->count; k++) {
		uint32_t v = dsm__get_le32((const unsigned char *)p + 4 * k);
		if (v > vc[k])
			vc[k] = v;
	}
	return 0;
}

int dsm__proto_vc_lock_grant(struct dsm_node *n, void *blob, struct dsm_buf *out)
{
	const uint32_t *vc = blob;
	int err = 0;

	for (int k = 0; vc && k < n->count && !err; k++)
		err = dsm__buf_put_u32(out, vc[k]);
	return err;
}
