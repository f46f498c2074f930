/*
 * dispatch.c — sending with statistics, routing received messages to the
 * layer that owns their type, rejecting requests (NACK) and failure
 * handling.
 *
 * The rule: every request gets its reply or a NACK carrying the error, so
 * an error on a live peer never becomes a hang on the requester. Which
 * types are requests, and what the requester waits on, is the table below.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hetero/hooks.h"
#include "node.h"
#include "proto/proto.h"

/* What the requester of a type waits on, and which argument names it. */
struct req_info {
	uint8_t kind; /* enum dsm_req_kind; 0: not a request */
	uint8_t arg;  /* index of the token / page / id in m->arg */
	uint8_t to;   /* 1 + index of the arg naming the requester when
		       * requests are forwarded; 0: the sender */
};

/* Requests of the core, sync and built-in protocols. A protocol with
 * types of its own adds them with dsm__dispatch_set_request(). */
static struct req_info req_table[DSM_STATS_MSG_TYPES] = {
	[DSM_MSG_ALLOC_REQ] = { DSM_REQ_TOKEN, 1 },
	[DSM_MSG_LOCK_REQ] = { DSM_REQ_TOKEN, 2 },
	[DSM_MSG_LOCK_REL] = { DSM_REQ_JOB, 0 },  /* a lost release blocks the lock */
	[DSM_MSG_BAR_ARRIVE] = { DSM_REQ_JOB, 0 },
	[DSM_MSG_FIN] = { DSM_REQ_JOB, 0 },
	[DSM_MSG_SC_READ_REQ] = { DSM_REQ_PAGE, 0, 2 },  /* forwarded: arg1 */
	[DSM_MSG_SC_WRITE_REQ] = { DSM_REQ_PAGE, 0, 2 },
	[DSM_MSG_SC_INV] = { DSM_REQ_PAGE, 0 },
	[DSM_MSG_LRC_DIFF_REQ] = { DSM_REQ_PAGE, 0 },
	[DSM_MSG_LRC_INTV_REQ] = { DSM_REQ_TOKEN, 2 },
	[DSM_MSG_LRC_PAGE_REQ] = { DSM_REQ_PAGE, 0 },
	[DSM_MSG_HLRC_PAGE_REQ] = { DSM_REQ_PAGE, 0 },
	[DSM_MSG_HLRC_DIFF] = { DSM_REQ_TOKEN, 0 },
	[DSM_MSG_HLRC_CLAIM] = { DSM_REQ_TOKEN, 0 },
	[DSM_MSG_HLRC_INTV_REQ] = { DSM_REQ_TOKEN, 2 },
	[DSM_MSG_TAPE_REQ] = { DSM_REQ_TOKEN, 0 },
	[DSM_MSG_TYPE_NOTE] = { DSM_REQ_TOKEN, 0 }, /* src/hetero */
	[DSM_MSG_TAPE_SEND] = { DSM_REQ_JOB, 0 }, /* a refused tape: the sender's
						     job fails, naming why */
	[DSM_MSG_TAPE_PUSH] = { DSM_REQ_JOB, 0 }, /* a refused push: likewise */
	[DSM_MSG_TAPE_UNSUB] = { DSM_REQ_JOB, 0 },
	/* replies: a thread here waits for them, so one that cannot be used
	 * fails the job here instead of leaving that thread to time out */
	[DSM_MSG_ALLOC_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_LOCK_GRANT] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_BAR_RELEASE] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_SC_PAGE] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_SC_INV_ACK] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_LRC_DIFF_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_LRC_INTV_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_LRC_PAGE_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_HLRC_PAGE] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_HLRC_ACK] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_HLRC_CLAIM_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_HLRC_INTV_REP] = { DSM_REQ_REPLY, 0 },
	[DSM_MSG_TAPE_REP] = { DSM_REQ_REPLY, 0 },
};

int dsm__dispatch_set_request(unsigned type, enum dsm_req_kind kind, unsigned arg)
{
	if (type == 0 || type >= DSM_STATS_MSG_TYPES || arg > 2)
		return -EINVAL;
	__atomic_store_n(&req_table[type].arg, (uint8_t)arg, __ATOMIC_RELAXED);
	__atomic_store_n(&req_table[type].kind, (uint8_t)kind, __ATOMIC_RELEASE);
	return 0;
}

static struct req_info req_of(unsigned type)
{
	struct req_info r = { 0, 0, 0 };

	if (type < DSM_STATS_MSG_TYPES) {
		r.kind = __atomic_load_n(&req_table[type].kind, __ATOMIC_ACQUIRE);
		r.arg = req_table[type].arg;
		r.to = req_table[type].to;
	}
	return r;
}

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
		dsm__set_fail_detail(err, n->fail_reason);
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

void dsm__reject(struct dsm_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->reject_why, sizeof(n->reject_why), fmt, ap);
	va_end(ap);
}

int dsm__send_nack(struct dsm_node *n, int dst, unsigned type, int err,
		   uint64_t arg, const char *why)
{
	struct dsm_msg nack = { .type = DSM_MSG_NACK,
				.arg = { type, (uint64_t)(int64_t)err, arg },
				.payload = why, .length = (uint32_t)strnlen(why, 255) };
	int rc = dsm__send(n, dst, &nack);

	if (rc && rc != DSM_EPEERDEAD)
		DSM_ERR(n, "cannot tell node %d that its %s was rejected (%s): %s",
			dst, dsm__msg_type_name(type), why, dsm_strerror(rc));
	return rc;
}

/* Tell the sender of request m that it was rejected with err. */
static void send_nack(struct dsm_node *n, const struct dsm_msg *m,
		      struct req_info r, int err)
{
	const char *why = n->reject_why[0] ? n->reject_why
			  : err == -EMSGSIZE ? "the reply is larger than the message "
					       "size cap for its type"
					     : dsm_strerror(err);
	uint64_t dst = r.to ? m->arg[r.to - 1] : m->src;

	if (dst >= (uint64_t)n->count || dst == (uint64_t)n->id)
		dst = m->src;
	dsm__send_nack(n, (int)dst, m->type, err, m->arg[r.arg], why);
}

/* A peer rejected one of our requests: complete what waits for it with
 * the error, or fail the job naming the peer, the request and the reason. */
static void on_nack(struct dsm_node *n, const struct dsm_msg *m)
{
	unsigned type = (unsigned)m->arg[0];
	int err = (int)(int64_t)m->arg[1];
	struct req_info r = req_of(type);
	const char *name = dsm__msg_type_name(type);
	char why[256];
	size_t len = m->length < sizeof(why) - 1 ? m->length : sizeof(why) - 1;

	memcpy(why, m->payload ? m->payload : "", len);
	why[len] = '\0';
	for (size_t i = 0; i < len; i++) /* peer text: printable only */
		if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] > 0x7e)
			why[i] = '?';
	if (err >= 0 || err < -20000)
		err = DSM_EPROTO;
	switch (r.kind) {
	case DSM_REQ_TOKEN:
		DSM_ERR(n, "node %u rejected %s: %s", m->src, name, why);
		if (dsm__waiter_complete(n, m->arg[2], err, NULL) == 0)
			return;
		break;
	case DSM_REQ_PAGE:
		dsm__fail(n, DSM_EPROTO, (int)m->src, "node %u rejected %s for page %llu: %s",
			  m->src, name, (unsigned long long)m->arg[2], why);
		return;
	default:
		break;
	}
	dsm__fail(n, DSM_EPROTO, (int)m->src, "node %u rejected %s (%llu): %s",
		  m->src, name, (unsigned long long)m->arg[2], why);
}

int dsm__test_nack(unsigned type)
{
	struct dsm_node *n = dsm__get();

	if (!n)
		return DSM_ENOTINIT;
	if (type && (req_of(type).kind == DSM_REQ_NONE ||
		     req_of(type).kind == DSM_REQ_REPLY))
		return -EINVAL;
	atomic_store(&n->test_nack_type, (int)type);
	return 0;
}

/* The fault injected by dsm__test_nack(): reject the next request of that
 * type with -EIO instead of serving it. */
static int test_nack(struct dsm_node *n, const struct dsm_msg *m)
{
	int want = (int)m->type;

	if (req_of(m->type).kind == DSM_REQ_REPLY ||
	    atomic_load_explicit(&n->test_nack_type, memory_order_relaxed) != want ||
	    !atomic_compare_exchange_strong(&n->test_nack_type, &want, 0))
		return 0;
	dsm__reject(n, "test fault injection (dsm__test_nack)");
	return -EIO;
}

/* Route one validated message. Service thread. */
void dsm__dispatch(struct dsm_node *n, const struct dsm_msg *m)
{
	struct req_info r;
	int err = 0;

	n->reject_why[0] = '\0';
	if ((err = test_nack(n, m)))
		goto out;
	switch (m->type) {
	case DSM_MSG_HEARTBEAT:
		break;
	case DSM_MSG_BYE:
		if (m->src < DSM_MAX_NODES)
			n->peer_bye[m->src] = 1;
		dsm__coll_handle(n, m);
		break;
	case DSM_MSG_NACK:
		on_nack(n, m);
		break;
	case DSM_MSG_FIN:
		if (m->arg[0] == 0) /* phase 0: the sender entered dsm_finalize */
			err = dsm__sync_peer_finalizing(n, (int)m->src);
		else
			err = dsm__coll_handle(n, m);
		break;
	case DSM_MSG_ALLOC_REQ: case DSM_MSG_ALLOC_REP: case DSM_MSG_FREE:
	case DSM_MSG_BCAST:
		err = dsm__coll_handle(n, m);
		break;
	case DSM_MSG_LOCK_REQ: case DSM_MSG_LOCK_GRANT: case DSM_MSG_LOCK_REL:
	case DSM_MSG_BAR_ARRIVE: case DSM_MSG_BAR_RELEASE:
		err = dsm__sync_handle(n, m);
		break;
	case DSM_MSG_TAPE_REQ: case DSM_MSG_TAPE_REP: case DSM_MSG_TAPE_SEND:
	case DSM_MSG_TAPE_PUSH: case DSM_MSG_TAPE_UNSUB:
		err = dsm__tape_handle(n, m);
		break;
	case DSM_MSG_TYPE_NOTE: case DSM_MSG_TYPE_ACK:
		err = dsm__hetero_handle(n, m);
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
out:
	if (!err)
		return;
	r = req_of(m->type);
	if (r.kind == DSM_REQ_REPLY) {
		dsm__fail(n, err, (int)m->src, "%s from node %u (%llu) cannot be used: %s",
			  dsm__msg_type_name(m->type), m->src,
			  (unsigned long long)m->arg[0],
			  n->reject_why[0] ? n->reject_why : dsm_strerror(err));
		return;
	}
	DSM_ERR(n, "%s from node %u rejected: %s%s", dsm__msg_type_name(m->type),
		m->src, n->reject_why[0] ? n->reject_why : dsm_strerror(err),
		r.kind ? " (NACK sent)" : "");
	if (r.kind)
		send_nack(n, m, r, err);
}

const char *dsm_msg_type_name(int type)
{
	return dsm__msg_type_name((unsigned)type);
}
