/*
 * outbox.c — helpers shared by the protocols: the outbox of messages built
 * under the region lock, and state-derived protection.
 */
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
