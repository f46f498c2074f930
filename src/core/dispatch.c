/*
 * dispatch.c — sending with statistics, routing received messages to the
 * layer that owns their type, and failure handling.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "node.h"
#include "proto/proto.h"

/* Send m to dst (never self), counting it. Thread- and signal-safe. */
int dsm__send(struct dsm_node *n, int dst, struct dsm_msg *m)
{
	int err;

	if (dst == n->id || dst < 0 || dst >= n->count)
		return -EINVAL;
	m->src = (uint32_t)n->id;
	dsm__stats_count_sent(n, m);
	err = n->tp->send(n, dst, m);
	return err;
}

/* Record the first failure of the job and wake everything that waits. */
void dsm__fail(struct dsm_node *n, int err, int node, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	/* fail_reason is written before failed is published (first wins). */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&mu);
	if (atomic_load(&n->failed) == 0) {
		va_start(ap, fmt);
		vsnprintf(n->fail_reason, sizeof(n->fail_reason), fmt, ap);
		va_end(ap);
		n->failed_node = node;
		atomic_compare_exchange_strong(&n->failed, &expected, err);
		DSM_ERR(n, "%s", n->fail_reason);
	}
	pthread_mutex_unlock(&mu);
	atomic_fetch_add(&n->fail_seq, 1);
	dsm__futex_wake_all(&n->fail_seq);
	dsm__waiters_kick(n);
}

/* The transport lost a peer: normal after its BYE, a failure otherwise. */
void dsm__peer_lost(struct dsm_node *n, int peer, const char *why)
{
	if (peer >= 0 && peer < DSM_MAX_NODES && n->peer_bye[peer])
		return;
	dsm__fail(n, DSM_EPEERDEAD, peer, "node %d lost: %s", peer, why);
}

/* Route one validated message. */
void dsm__dispatch(struct dsm_node *n, const struct dsm_msg *m)
{
	int err = 0;

	switch (m->type) {
	case DSM_MSG_HEARTBEAT:
		break;
	case DSM_MSG_BYE:
		if (m->src < DSM_MAX_NODES)
			n->peer_bye[m->src] = 1;
		dsm__coll_handle(n, m);
		break;
	case DSM_MSG_ALLOC_REQ: case DSM_MSG_ALLOC_REP: case DSM_MSG_FREE:
	case DSM_MSG_BCAST: case DSM_MSG_FIN:
		err = dsm__coll_handle(n, m);
		break;
	case DSM_MSG_LOCK_REQ: case DSM_MSG_LOCK_GRANT: case DSM_MSG_LOCK_REL:
	case DSM_MSG_BAR_ARRIVE: case DSM_MSG_BAR_RELEASE:
		err = dsm__sync_handle(n, m);
		break;
	case DSM_MSG_ABORT:
		dsm__fail(n, DSM_EPEERDEAD, (int)m->arg[0],
			  "node %u aborted the job", m->src);
		break;
	default:
		err = n->proto->handle_message ? n->proto->handle_message(n, m)
					       : DSM_EPROTO;
		break;
	}
	if (err)
		DSM_ERR(n, "message %s from node %u rejected: %s",
			dsm__msg_type_name(m->type), m->src, dsm_strerror(err));
}

const char *dsm_msg_type_name(int type)
{
	return dsm__msg_type_name((unsigned)type);
}
