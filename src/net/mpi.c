/*
 * mpi.c — the MPI transport: one node per rank of the library's own
 * duplicate of MPI_COMM_WORLD, two-sided messages, the same wire format as
 * TCP (48-byte header + payload, one MPI message per wire message).
 *
 * Design: every MPI call of ours after init is made under one mutex, t->mu,
 * by whichever thread holds it; the fault handler never takes it.
 *
 *  - send() from an application thread posts its MPI_Isend itself, under
 *    t->mu (after whatever the ring below holds, so order is kept), if
 *    t->mu is free, else it queues the message in the ring below.
 *    (Asynchronous signals are not blocked meanwhile: a signal handler
 *    that touches the shared region while its thread is inside libdsm is
 *    not supported anyway, the fault path takes the region lock that call
 *    may hold, and blocking them costs two system calls, 1.6 us here.)
 *  - send() from the SIGSEGV handler copies the message into a
 *    preallocated bounded ring (a multi-producer queue with a sequence
 *    number per cell, no lock, no allocation for payloads up to two pages)
 *    and kicks a futex; it blocks only while the ring is full. Whoever
 *    holds t->mu next drains the ring in order and posts MPI_Isend. MPI is
 *    not async-signal-safe, and the interrupted thread may be inside MPI.
 *  - send() from a thread that holds t->mu (the service thread, or an
 *    application thread making progress, from dsm__dispatch) drains the
 *    ring first, so a message never overtakes one whose send() returned
 *    earlier, then posts its MPI_Isend at once.
 *  - Receiving is MPI_Improbe + MPI_Mrecv on any source; sends complete via
 *    MPI_Testsome. This progress is made by the service thread, and by an
 *    application thread that spins for a reply (assist(): lock waits,
 *    allocations), which then receives its reply itself instead of being
 *    handed it by the service thread (a thread hand-off costs more than an
 *    MPI round trip in shared memory). Nobody blocks inside MPI: a
 *    blocking MPI_Send could deadlock two nodes sending rendezvous-sized
 *    pages to each other, and Open MPI blocks by busy-polling anyway.
 *  - MPI has no descriptor to sleep on, so an idle service thread polls:
 *    busy after traffic (when and how long, and whether it yields:
 *    dsm__service_busy and dsm__service_yields in core/wait.c), then every
 *    5 us, doubling the pause up to DSM_MPI_POLL_US, sleeping on the ring's
 *    futex so a send from the fault handler wakes it at once. Incoming
 *    traffic is noticed within one pause.
 *
 * Why not passive-target RMA for pages: Open MPI over TCP does not progress
 * it unless the target calls MPI (measured: an MPI_Get waits for the
 * target's next MPI call).
 *
 * Thread level: our calls are serialised by t->mu (init and close run on
 * the application thread before the service thread starts and after it
 * was joined), so when libdsm initialises MPI it needs
 * MPI_THREAD_SERIALIZED (it asks for MULTIPLE). When the application
 * initialised MPI, its threads may call MPI while ours do, so
 * MPI_THREAD_MULTIPLE is required.
 *
 * Failures: peers that stop sending (nothing, not even a HEARTBEAT, for
 * DSM_TIMEOUT) or whose messages fail are reported with dsm__peer_lost()
 * naming the rank; the communicator returns errors instead of aborting.
 * A rank that dies is reported by mpirun, which ends the job.
 */
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/node.h"
#include "internal.h"

#define TAG 0x4453                  /* every message: MPI keeps pair order */
#define RING_SLOTS 256u             /* power of two */
#define RECV_BUDGET 64              /* messages per progress round */
#define POOL_MAX 64                 /* recycled standard send buffers */
#define BACKOFF_MIN_NS 5000ull      /* first idle pause after traffic */
#define RING_WAIT_NS 10000000ull    /* producer re-check while the ring is full */

/* One cell of the send ring (Vyukov's bounded queue): seq == pos when free
 * for the producer of position pos, pos + 1 once published. */
struct slot {
	_Atomic uint32_t seq;
	int dst;
	struct dsm_msg m;            /* header fields; payload below */
	unsigned char *big;          /* malloc'd HDR + payload, or NULL */
	unsigned char *data;         /* inline payload (ring->cap bytes) */
};

struct ring {
	_Atomic uint32_t tail;       /* next position a producer claims */
	_Atomic uint32_t head;       /* next position to post (written under t->mu) */
	_Atomic uint32_t freed;      /* futex: bumped when a slot is released */
	_Atomic uint32_t kick;       /* futex: bumped by producers and wake() */
	_Atomic int sleeping;        /* the service thread waits on kick */
	_Atomic int full_waiters;    /* producers waiting on freed */
	size_t cap;                  /* inline payload bytes per slot */
	unsigned char *slab;
	struct slot slot[RING_SLOTS];
};

struct peer {
	uint32_t send_seq, recv_seq; /* next sequence numbers (under t->mu) */
	uint64_t last_send_ns, last_recv_ns;
	_Atomic int lost;            /* reported; sends fail */
	char why[128];
};

/* Transport state, in n->tp_state. After init, everything below ring.slot
 * other than the ring's producer side and `lost` is used under mu. */
struct mpi {
	pthread_mutex_t mu;          /* our MPI calls and the state they use */
	MPI_Comm comm;
	int self, count;
	int we_init;                 /* we called MPI_Init_thread */
	int ready;                   /* init completed */
	_Atomic int started;         /* the service thread polls */
	uint32_t page_size;
	int timeout_ms;
	uint64_t hb_scan_ns, backoff_ns, poll_cap_ns;
	MPI_Request *reqs;           /* sends in flight */
	unsigned char **bufs;        /* their buffers */
	size_t *bcap;                /* their capacities */
	int *done_idx;
	int nfl, capfl;
	unsigned char *pool[POOL_MAX];
	int npool;
	size_t std_cap;              /* size of a pooled send buffer */
	unsigned char *rbuf;
	size_t rcap;
	size_t rmax;                 /* largest valid message (recv_max) */
	struct ring ring;
	struct peer peer[DSM_MAX_NODES];
};

static uint32_t next_seq(uint32_t s)
{
	return s + 1 == 0 ? 1 : s + 1;
}

/* The text of an MPI error code, into buf. */
static const char *mpi_errstr(int rc, char *buf)
{
	int len = 0;

	if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS || len == 0)
		snprintf(buf, MPI_MAX_ERROR_STRING, "MPI error %d", rc);
	return buf;
}

static const char *level_name(int level)
{
	switch (level) {
	case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
	case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
	case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
	case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
	default: return "an unknown thread level";
	}
}

/* Report peer lost once (service thread or close). */
static void peer_lost(struct dsm_node *n, struct mpi *t, int p, const char *why)
{
	int zero = 0;

	if (!atomic_compare_exchange_strong(&t->peer[p].lost, &zero, 1))
		return;
	if (!n->peer_bye[p])
		DSM_ERR(n, "mpi: rank %d: %s", p, why);
	dsm__peer_lost(n, p, why);
}

/* ------------------------------------------------------------------ */
/* sends in flight (service thread)                                    */

/* A send buffer of at least need bytes: pooled when standard-sized. */
static unsigned char *buf_get(struct mpi *t, size_t need, size_t *cap)
{
	if (need <= t->std_cap) {
		*cap = t->std_cap;
		return t->npool ? t->pool[--t->npool] : malloc(t->std_cap);
	}
	*cap = need;
	return malloc(need);
}

static void buf_put(struct mpi *t, unsigned char *b, size_t cap)
{
	if (cap == t->std_cap && t->npool < POOL_MAX)
		t->pool[t->npool++] = b;
	else
		free(b);
}

/* Room for one more request in the in-flight arrays. 0 or -ENOMEM. */
static int fl_reserve(struct mpi *t)
{
	if (t->nfl < t->capfl)
		return 0;
	int cap = t->capfl ? 2 * t->capfl : 64;
	MPI_Request *r = realloc(t->reqs, (size_t)cap * sizeof(*r));
	if (r)
		t->reqs = r;
	unsigned char **b = realloc(t->bufs, (size_t)cap * sizeof(*b));
	if (b)
		t->bufs = b;
	size_t *c = realloc(t->bcap, (size_t)cap * sizeof(*c));
	if (c)
		t->bcap = c;
	int *d = realloc(t->done_idx, (size_t)cap * sizeof(*d));
	if (d)
		t->done_idx = d;
	if (!r || !b || !c || !d)
		return -ENOMEM;
	t->capfl = cap;
	return 0;
}

/* Post buf (header space + m->length payload bytes at DSM_WIRE_HDR_SIZE)
 * to dst; buf is owned by the request from here on. Fills the header with
 * our id and the link's next sequence number. */
static int post(struct dsm_node *n, struct mpi *t, int dst, const struct dsm_msg *m,
		unsigned char *buf, size_t cap)
{
	struct peer *p = &t->peer[dst];
	struct dsm_msg h = *m;
	char es[MPI_MAX_ERROR_STRING];

	if (atomic_load(&p->lost) || fl_reserve(t) < 0) {
		buf_put(t, buf, cap);
		return atomic_load(&p->lost) ? DSM_EPEERDEAD : -ENOMEM;
	}
	h.src = (uint32_t)t->self;
	h.seq = p->send_seq;
	dsm__msg_encode_hdr(&h, buf);
	int rc = MPI_Isend(buf, (int)(DSM_WIRE_HDR_SIZE + m->length), MPI_BYTE, dst,
			   TAG, t->comm, &t->reqs[t->nfl]);
	if (rc != MPI_SUCCESS) {
		buf_put(t, buf, cap);
		snprintf(p->why, sizeof(p->why), "MPI_Isend failed: %.100s",
			 mpi_errstr(rc, es));
		peer_lost(n, t, dst, p->why);
		return DSM_EPEERDEAD;
	}
	t->bufs[t->nfl] = buf;
	t->bcap[t->nfl++] = cap;
	p->send_seq = next_seq(p->send_seq);
	p->last_send_ns = dsm__now_ns();
	return 0;
}

/* Copy m (payload included) into a fresh buffer and post it. */
static int post_copy(struct dsm_node *n, struct mpi *t, int dst,
		     const struct dsm_msg *m, const void *payload)
{
	size_t cap, need = DSM_WIRE_HDR_SIZE + m->length;
	unsigned char *buf = buf_get(t, need, &cap);

	if (!buf)
		return -ENOMEM;
	if (m->length && payload)
		memcpy(buf + DSM_WIRE_HDR_SIZE, payload, m->length);
	return post(n, t, dst, m, buf, cap);
}

/* Recycle the buffers of completed sends; a failed send loses its peer.
 * Returns the number completed. */
static int reap_sends(struct dsm_node *n, struct mpi *t)
{
	int out = 0, k = 0;

	if (t->nfl == 0)
		return 0;
	int rc = MPI_Testsome(t->nfl, t->reqs, &out, t->done_idx, MPI_STATUSES_IGNORE);
	if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) {
		char es[MPI_MAX_ERROR_STRING];
		DSM_ERR(n, "mpi: MPI_Testsome: %s", mpi_errstr(rc, es));
		return 0;
	}
	if (out == MPI_UNDEFINED || out <= 0)
		return 0;
	for (int i = 0; i < out; i++) {
		int j = t->done_idx[i];
		buf_put(t, t->bufs[j], t->bcap[j]);
		t->bufs[j] = NULL;
	}
	for (int j = 0; j < t->nfl; j++) /* compact: completed ones are NULL */
		if (t->bufs[j]) {
			t->reqs[k] = t->reqs[j];
			t->bufs[k] = t->bufs[j];
			t->bcap[k++] = t->bcap[j];
		}
	t->nfl = k;
	return out;
}

/* ------------------------------------------------------------------ */
/* the send ring                                                       */

/* Wake the service thread if it sleeps. Async-signal-safe. */
static void kick(struct ring *r)
{
	atomic_fetch_add(&r->kick, 1);
	if (atomic_load(&r->sleeping))
		dsm__futex_wake_all(&r->kick);
}

/* Claim a free ring position (waits while the ring is full, bounded by
 * the timeout and the job's failure). 0 with *pos, or an error. */
static int ring_claim(struct dsm_node *n, struct mpi *t, uint32_t *pos)
{
	struct ring *r = &t->ring;
	uint64_t deadline = dsm__now_ns() + (uint64_t)t->timeout_ms * 4 * DSM_NS_PER_MS;
	uint32_t p = atomic_load(&r->tail);

	for (;;) {
		uint32_t f = atomic_load(&r->freed);
		struct slot *s = &r->slot[p % RING_SLOTS];
		int32_t dif = (int32_t)(atomic_load_explicit(&s->seq, memory_order_acquire) - p);
		if (dif == 0) {
			/* on failure the CAS reloads p: another producer won */
			if (atomic_compare_exchange_weak(&r->tail, &p, p + 1)) {
				*pos = p;
				return 0;
			}
			continue;
		}
		if (dif > 0) { /* p was taken meanwhile */
			p = atomic_load(&r->tail);
			continue;
		}
		/* full: the slot still holds the message from one lap ago */
		int err = atomic_load(&n->failed);
		if (err)
			return err;
		if (dsm__now_ns() > deadline)
			return DSM_ETIMEDOUT;
		atomic_fetch_add(&r->full_waiters, 1);
		kick(r);
		dsm__futex_wait(&r->freed, f, RING_WAIT_NS);
		atomic_fetch_sub(&r->full_waiters, 1);
		p = atomic_load(&r->tail);
	}
}

/* Queue m for dst (any thread but the service thread). No allocation
 * unless the payload exceeds a slot. Async-signal-safe in that case. */
static int ring_put(struct dsm_node *n, struct mpi *t, int dst, const struct dsm_msg *m)
{
	struct ring *r = &t->ring;
	unsigned char *big = NULL;
	uint32_t pos;

	if (m->length > r->cap) {
		big = malloc(DSM_WIRE_HDR_SIZE + (size_t)m->length);
		if (!big)
			return -ENOMEM;
		memcpy(big + DSM_WIRE_HDR_SIZE, m->payload, m->length);
	}
	int err = ring_claim(n, t, &pos);
	if (err) {
		free(big);
		return err;
	}
	struct slot *s = &r->slot[pos % RING_SLOTS];
	s->dst = dst;
	s->m = *m;
	s->big = big;
	if (!big && m->length)
		memcpy(s->data, m->payload, m->length);
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	kick(r);
	return 0;
}

/* Post every published ring entry, in order. Service thread. Returns the
 * number posted. */
static int ring_drain(struct dsm_node *n, struct mpi *t)
{
	struct ring *r = &t->ring;
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	int k = 0;

	for (;; k++, h++) {
		struct slot *s = &r->slot[h % RING_SLOTS];
		if (atomic_load_explicit(&s->seq, memory_order_acquire) != h + 1)
			break;
		if (s->big)
			post(n, t, s->dst, &s->m, s->big, DSM_WIRE_HDR_SIZE + s->m.length);
		else
			post_copy(n, t, s->dst, &s->m, s->data);
		atomic_store_explicit(&s->seq, h + RING_SLOTS, memory_order_release);
		atomic_store_explicit(&r->head, h + 1, memory_order_relaxed);
	}
	if (k) {
		atomic_fetch_add(&r->freed, 1);
		if (atomic_load(&r->full_waiters))
			dsm__futex_wake_all(&r->freed);
	}
	return k;
}

/* Is nothing published at the head? Any thread (a hint without t->mu). */
static int ring_empty(struct ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct slot *s = &r->slot[h % RING_SLOTS];

	return atomic_load_explicit(&s->seq, memory_order_acquire) != h + 1;
}

/* ------------------------------------------------------------------ */
/* receiving (service thread)                                          */

/* Validate one received wire message from src and dispatch it. */
static void deliver(struct dsm_node *n, struct mpi *t, int src, size_t len)
{
	struct peer *p = &t->peer[src];
	struct dsm_msg_check chk = { (uint32_t)t->count, src, p->recv_seq, t->page_size };
	const char *why = "message shorter than a header";
	struct dsm_msg m;

	if (atomic_load(&p->lost))
		return;
	if (len >= DSM_WIRE_HDR_SIZE && dsm__msg_decode_hdr(t->rbuf, &chk, &m, &why) == 0) {
		why = "length differs from the MPI message size";
		if (m.length == len - DSM_WIRE_HDR_SIZE)
			why = NULL;
	}
	if (why) {
		snprintf(p->why, sizeof(p->why), "malformed message: %s", why);
		peer_lost(n, t, src, p->why);
		return;
	}
	p->recv_seq = next_seq(p->recv_seq);
	p->last_recv_ns = dsm__now_ns();
	m.payload = t->rbuf + DSM_WIRE_HDR_SIZE;
	dsm__stats_count_recv(n, &m);
	dsm__dispatch(n, &m);
}

/* The largest message any peer may send: a header and the largest payload
 * of any message type. A bigger one is refused before the receive buffer
 * grows to its size. */
static size_t recv_max(uint32_t page_size)
{
	uint32_t max = 0;

	for (unsigned type = 1; type < DSM_MSG_TYPE_MAX_; type++)
		if (dsm__msg_type_name(type)[0] != '?' &&
		    dsm__msg_max_len(type, page_size) > max)
			max = dsm__msg_max_len(type, page_size);
	return DSM_WIRE_HDR_SIZE + (size_t)max;
}

/* A message too large to be valid: report its sender, never buffer it.
 * MPI_Improbe has already taken it off the queue, so it is not received
 * at all. (Receiving it truncated into a small buffer is what MPI would
 * allow, but Open MPI 4.1's ob1 copies the whole message into the small
 * buffer on its RGET path: test_mpi_recv crashed that way.) */
static void refuse_oversize(struct dsm_node *n, struct mpi *t, int src, int cnt)
{
	struct peer *p = &t->peer[src];

	snprintf(p->why, sizeof(p->why), "malformed message: %d bytes, over the "
		 "largest valid message (%zu bytes); dropped", cnt, t->rmax);
	peer_lost(n, t, src, p->why);
}

/* Receive and dispatch up to budget waiting messages. Returns the number
 * received; *more is set when the budget ran out. */
static int recv_some(struct dsm_node *n, struct mpi *t, int budget, int *more)
{
	char es[MPI_MAX_ERROR_STRING];
	int k;

	*more = 0;
	for (k = 0; k < budget; k++) {
		MPI_Message mm;
		MPI_Status st;
		int flag = 0, cnt = 0;
		int rc = MPI_Improbe(MPI_ANY_SOURCE, TAG, t->comm, &flag, &mm, &st);
		if (rc != MPI_SUCCESS) {
			DSM_ERR(n, "mpi: MPI_Improbe: %s", mpi_errstr(rc, es));
			return k;
		}
		if (!flag)
			return k;
		MPI_Get_count(&st, MPI_BYTE, &cnt);
		if (cnt < 0 || (size_t)cnt > t->rmax) {
			refuse_oversize(n, t, st.MPI_SOURCE, cnt);
			continue;
		}
		if (dsm__rbuf_reserve(&t->rbuf, &t->rcap, (size_t)cnt + 1, t->std_cap) < 0) {
			dsm__fail(n, -ENOMEM, t->self, "out of memory receiving %d bytes", cnt);
			return k;
		}
		rc = MPI_Mrecv(t->rbuf, cnt, MPI_BYTE, &mm, &st);
		if (rc != MPI_SUCCESS) {
			DSM_ERR(n, "mpi: MPI_Mrecv: %s", mpi_errstr(rc, es));
			return k;
		}
		deliver(n, t, st.MPI_SOURCE, (size_t)cnt);
	}
	*more = 1;
	return k;
}

/* ------------------------------------------------------------------ */
/* liveness                                                            */

/* Is a message from peer p waiting unreceived? */
static int has_input(struct mpi *t, int p)
{
	int flag = 0;

	MPI_Iprobe(p, TAG, t->comm, &flag, MPI_STATUS_IGNORE);
	return flag;
}

/* Every timeout/16: report peers silent for the timeout, heartbeat the
 * links idle for timeout/4. Peers that said BYE are left alone. */
static void check_liveness(struct dsm_node *n, struct mpi *t, int backlog)
{
	uint64_t now = dsm__now_ns(), tmo = (uint64_t)t->timeout_ms * DSM_NS_PER_MS;
	struct dsm_msg hb = { .type = DSM_MSG_HEARTBEAT };

	if (now < t->hb_scan_ns)
		return;
	t->hb_scan_ns = now + tmo / 16;
	for (int p = 0; p < t->count; p++) {
		struct peer *l = &t->peer[p];
		if (p == t->self || atomic_load(&l->lost) || n->peer_bye[p])
			continue;
		if (!backlog && now - l->last_recv_ns >= tmo && !has_input(t, p)) {
			snprintf(l->why, sizeof(l->why), "no message for %d ms",
				 t->timeout_ms);
			peer_lost(n, t, p, l->why);
			continue;
		}
		if (now - l->last_send_ns >= tmo / 4) {
			dsm__stats_count_sent(n, &hb);
			post_copy(n, t, p, &hb, NULL);
		}
	}
}

/* ------------------------------------------------------------------ */
/* setup and teardown                                                  */

/* Initialise MPI or adopt the application's, checking the thread level.
 * Returns 0 or DSM_ECONFIG (logged). */
static int mpi_start(struct mpi *t)
{
	int inited = 0, finalized = 0, provided = MPI_THREAD_SINGLE, need;
	static char why[256];

	MPI_Finalized(&finalized);
	if (finalized) {
		snprintf(why, sizeof(why), "DSM_TRANSPORT=mpi: MPI was already finalized");
		goto fail;
	}
	MPI_Initialized(&inited);
	if (inited) {
		MPI_Query_thread(&provided);
		need = MPI_THREAD_MULTIPLE; /* the application's threads call MPI too */
	} else {
		if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
			snprintf(why, sizeof(why), "DSM_TRANSPORT=mpi: MPI_Init_thread failed");
			goto fail;
		}
		t->we_init = 1;
		need = MPI_THREAD_SERIALIZED; /* only our service thread calls MPI */
	}
	if (provided >= need)
		return 0;
	snprintf(why, sizeof(why), "DSM_TRANSPORT=mpi: MPI granted %s; libdsm needs %s%s",
		 level_name(provided), level_name(need),
		 inited ? " (initialise MPI with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...))"
			: "");
	if (t->we_init)
		MPI_Finalize(); /* every rank fails alike: collective is safe */
	t->we_init = 0;
fail:
	dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: %s", why);
	dsm__set_config_error(why);
	return DSM_ECONFIG;
}

/* Allocate the ring's slab and the state's buffers. 0 or -ENOMEM. */
static int state_alloc(struct mpi *t, size_t page)
{
	struct ring *r = &t->ring;

	r->cap = 2 * page + 1024;
	r->slab = malloc(RING_SLOTS * r->cap);
	if (!r->slab)
		return -ENOMEM;
	for (uint32_t i = 0; i < RING_SLOTS; i++) {
		atomic_init(&r->slot[i].seq, i);
		r->slot[i].data = r->slab + i * r->cap;
	}
	t->std_cap = DSM_WIRE_HDR_SIZE + r->cap;
	t->rmax = recv_max((uint32_t)page);
	return dsm__rbuf_reserve(&t->rbuf, &t->rcap, t->std_cap, t->std_cap);
}

static void state_free(struct mpi *t)
{
	while (t->npool)
		free(t->pool[--t->npool]);
	free(t->ring.slab);
	free(t->rbuf);
	free(t->reqs);
	free(t->bufs);
	free(t->bcap);
	free(t->done_idx);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* .setup: before anything uses the node id/count. Initialise (or adopt)
 * MPI, duplicate MPI_COMM_WORLD, and set cfg.node_id/node_count to our
 * rank and the size. Errors are logged; returns 0, DSM_ECONFIG or -errno. */
static int mpi_setup(struct dsm_node *n)
{
	struct mpi *t = calloc(1, sizeof(*t));
	int err, rank = 0, size = 0;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	if ((err = mpi_start(t)) != 0) {
		free(t);
		return err;
	}
	if (MPI_Comm_dup(MPI_COMM_WORLD, &t->comm) != MPI_SUCCESS) {
		dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: mpi: MPI_Comm_dup failed");
		free(t);
		return DSM_EPROTO;
	}
	MPI_Comm_set_errhandler(t->comm, MPI_ERRORS_RETURN);
	MPI_Comm_rank(t->comm, &rank);
	MPI_Comm_size(t->comm, &size);
	n->tp_state = t;
	if (size > DSM_MAX_NODES) {
		dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: mpi: %d ranks; libdsm supports "
			 "at most %d nodes", size, DSM_MAX_NODES);
		return DSM_ECONFIG;
	}
	n->cfg.node_id = t->self = rank;
	n->cfg.node_count = t->count = size;
	t->timeout_ms = n->cfg.timeout_ms > 0 ? n->cfg.timeout_ms : 10000;
	t->poll_cap_ns = (uint64_t)(n->cfg.mpi_poll_us > 0 ? n->cfg.mpi_poll_us : 1) * 1000;
	t->backoff_ns = BACKOFF_MIN_NS;
	for (int p = 0; p < size; p++)
		t->peer[p].send_seq = t->peer[p].recv_seq = 1;
	return state_alloc(t, (size_t)sysconf(_SC_PAGESIZE));
}

/* Check every rank's HELLO (page size, heap size, node count, wire
 * version) against ours; DSM_EPROTO naming the first rank that differs. */
static int check_hellos(struct dsm_node *n, struct mpi *t, const unsigned char *all,
			const struct dsm_hello *me)
{
	for (int p = 0; p < t->count; p++) {
		struct dsm_hello h;
		const char *why = NULL;
		const unsigned char *rec = all + (size_t)p * DSM_HELLO_WIRE_SIZE;
		if (dsm__hello_decode(rec, DSM_HELLO_WIRE_SIZE, &h, &why) == 0 &&
		    dsm__hello_check(me, &h, &why) == 0 && h.node_id == (uint32_t)p) {
			dsm__node_set_byte_order(n, p, h.arch & 0xff); /* src/hetero */
			continue;
		}
		DSM_ERR(n, "mpi: rank %d does not match this rank: %s", p,
			why ? why : "wrong rank in its HELLO");
		return DSM_EPROTO;
	}
	return 0;
}

/* .init: every rank exchanges its HELLO (collective), so a job whose ranks
 * disagree on page size, heap size or library version fails at once. The
 * MPI job is the trust domain: DSM_SECRET is not used. */
static int mpi_init(struct dsm_node *n)
{
	struct mpi *t = n->tp_state;
	struct dsm_hello me = { 0 };
	unsigned char mine[DSM_HELLO_WIRE_SIZE], *all;
	char es[MPI_MAX_ERROR_STRING];

	if (!t)
		return -EINVAL;
	t->page_size = (uint32_t)n->page_size;
	me.node_id = (uint32_t)t->self;
	me.node_count = (uint32_t)t->count;
	me.page_size = t->page_size;
	me.wire_version = DSM_WIRE_VERSION;
	me.heap_size = n->cfg.heap_size;
	me.arch = DSM_ARCH_SELF;
	dsm__hello_encode(&me, mine, sizeof(mine));
	all = malloc((size_t)t->count * DSM_HELLO_WIRE_SIZE);
	if (!all)
		return -ENOMEM;
	int rc = MPI_Allgather(mine, DSM_HELLO_WIRE_SIZE, MPI_BYTE, all,
			       DSM_HELLO_WIRE_SIZE, MPI_BYTE, t->comm);
	int err = rc == MPI_SUCCESS ? check_hellos(n, t, all, &me) : DSM_EPEERDEAD;
	if (rc != MPI_SUCCESS)
		DSM_ERR(n, "mpi: MPI_Allgather: %s", mpi_errstr(rc, es));
	free(all);
	t->ready = err == 0;
	DSM_DEBUG(n, "mpi: rank %d of %d ready", t->self, t->count);
	return err;
}

/* ------------------------------------------------------------------ */
/* the operations                                                      */

/* The thread holds t->mu (nonzero) and may post at once. */
static __thread int holds_mu;

/* An application thread posts m itself if t->mu is free; otherwise it
 * queues m in the ring for the holder (it must never wait for t->mu: the
 * holder may be dispatching a message whose handler waits for a lock this
 * thread holds). The payload is copied before t->mu is taken: it may lie
 * in the shared region and fault. */
static int send_direct(struct dsm_node *n, struct mpi *t, int dst,
		       const struct dsm_msg *m)
{
	unsigned char *big = NULL;
	int err;

	if (m->length) {
		if (!(big = malloc(DSM_WIRE_HDR_SIZE + (size_t)m->length)))
			return -ENOMEM;
		memcpy(big + DSM_WIRE_HDR_SIZE, m->payload, m->length);
	}
	if (pthread_mutex_trylock(&t->mu) != 0) {
		free(big);
		return ring_put(n, t, dst, m);
	}
	holds_mu = 1;
	ring_drain(n, t);
	err = big ? post(n, t, dst, m, big, DSM_WIRE_HDR_SIZE + m->length)
		  : post_copy(n, t, dst, m, NULL);
	holds_mu = 0;
	pthread_mutex_unlock(&t->mu);
	return err;
}

/* Send m to dst. From a thread holding t->mu (the service thread, or an
 * application thread making progress): post at once, after anything
 * queued. From the SIGSEGV handler, or before the service thread runs:
 * queue it in the ring and return. From any other thread: post it under
 * t->mu. Returns 0, -EINVAL, -EMSGSIZE, DSM_EPEERDEAD (rank lost),
 * DSM_ETIMEDOUT (ring full for 4 x timeout), -ENOMEM or the job's
 * failure. */
static int mpi_send(struct dsm_node *n, int dst, const struct dsm_msg *m)
{
	struct mpi *t = n->tp_state;

	if (!t || dst < 0 || dst >= t->count || dst == t->self)
		return -EINVAL;
	if ((m->length && !m->payload) || dsm__msg_type_name(m->type)[0] == '?')
		return -EINVAL;
	if (m->length > dsm__msg_max_len(m->type, t->page_size) ||
	    (m->type == DSM_MSG_SC_PAGE && m->length != t->page_size))
		return -EMSGSIZE;
	if (atomic_load(&t->peer[dst].lost))
		return DSM_EPEERDEAD;
	if (holds_mu) {
		ring_drain(n, t);
		return post_copy(n, t, dst, m, m->payload);
	}
	if (dsm__in_fault || !atomic_load(&t->started))
		return ring_put(n, t, dst, m);
	return send_direct(n, t, dst, m);
}

/* One round of progress; caller holds t->mu. Returns nonzero if a
 * message moved. */
static int progress(struct dsm_node *n, struct mpi *t)
{
	int more = 0, moved = ring_drain(n, t);

	reap_sends(n, t);
	moved += recv_some(n, t, RECV_BUDGET, &more);
	moved += ring_drain(n, t);
	check_liveness(n, t, more);
	return moved;
}

/* One round of progress by the service thread. Returns 1 if a message
 * moved, 0 if not, -EBUSY if another thread holds t->mu right now. */
static int service_progress(struct dsm_node *n, struct mpi *t)
{
	int moved;

	if (pthread_mutex_trylock(&t->mu) != 0)
		return -EBUSY;
	holds_mu = 1;
	moved = progress(n, t);
	holds_mu = 0;
	pthread_mutex_unlock(&t->mu);
	return moved > 0;
}

/* .assist: a waiting application thread makes one round of progress if
 * nobody else is. */
static int mpi_assist(struct dsm_node *n)
{
	struct mpi *t = n->tp_state;
	int moved;

	if (!t || holds_mu || dsm__in_fault || !atomic_load(&t->started) ||
	    pthread_mutex_trylock(&t->mu) != 0)
		return 0;
	if (pthread_mutex_trylock(&n->serve_mu) != 0) { /* a tick runs */
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	holds_mu = 1;
	moved = progress(n, t);
	holds_mu = 0;
	pthread_mutex_unlock(&n->serve_mu);
	if (moved > 0)
		atomic_fetch_add(&n->assisted, (unsigned long)moved);
	pthread_mutex_unlock(&t->mu);
	return moved;
}

/* Sleep until a queued send kicks us or ns pass. */
static void idle_wait(struct mpi *t, uint64_t ns)
{
	struct ring *r = &t->ring;

	atomic_store(&r->sleeping, 1);
	uint32_t k = atomic_load(&r->kick);
	if (ring_empty(r))
		dsm__futex_wait(&r->kick, k, ns);
	atomic_store(&r->sleeping, 0);
}

/* First poll: start the silence clocks, and make short sleeps short
 * (timer slack is per thread). */
static void first_poll(struct mpi *t)
{
	uint64_t now = dsm__now_ns();

	pthread_mutex_lock(&t->mu);
	for (int p = 0; p < t->count; p++)
		t->peer[p].last_recv_ns = t->peer[p].last_send_ns = now;
	pthread_mutex_unlock(&t->mu);
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	atomic_store(&t->started, 1);
}

/* Service-thread loop body: progress until a message moved or
 * timeout_ms passed (0: one round; negative: no limit), pausing with a
 * growing backoff while idle. Returns 0 or -EINVAL. */
static int mpi_poll(struct dsm_node *n, int timeout_ms)
{
	struct mpi *t = n->tp_state;

	if (!t)
		return -EINVAL;
	if (!atomic_load(&t->started))
		first_poll(t);
	uint64_t start = dsm__now_ns();
	uint64_t limit = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * DSM_NS_PER_MS;
	for (;;) {
		int rc = service_progress(n, t);
		uint64_t el, pause;

		if (rc > 0) {
			t->backoff_ns = BACKOFF_MIN_NS;
			return 0;
		}
		el = dsm__now_ns() - start;
		if (el >= limit || atomic_load(&n->stopping) || (rc == 0 && timeout_ms == 0))
			return 0;
		/* rc < 0: an application thread polls for its reply (and
		 * everyone's traffic) until it comes (wait.c): leave it the
		 * CPU, even when asked for one round (under mpirun's binding
		 * this thread shares its core). Idle: pause, doubling up to
		 * DSM_MPI_POLL_US, in both cases: short pauses beside a
		 * polling thread preempt it every few us (mn_assist: 50-116
		 * us a hand-off against 8). */
		pause = t->backoff_ns;
		idle_wait(t, pause < limit - el ? pause : limit - el);
		if (rc < 0 && timeout_ms == 0)
			return 0;
		if ((t->backoff_ns *= 2) > t->poll_cap_ns)
			t->backoff_ns = t->poll_cap_ns;
	}
}

/* Make a sleeping poll() return. Async-signal-safe. */
static void mpi_wake(struct dsm_node *n)
{
	struct mpi *t = n->tp_state;

	if (t)
		kick(&t->ring);
}

/* Did every peer say BYE (an orderly dsm_finalize)? */
static int all_bye(struct dsm_node *n, struct mpi *t)
{
	for (int p = 0; p < t->count; p++)
		if (p != t->self && !n->peer_bye[p])
			return 0;
	return 1;
}

/* Orderly end: post what is queued and wait (bounded) for the sends. */
static void flush_sends(struct dsm_node *n, struct mpi *t)
{
	uint64_t deadline = dsm__now_ns() + (uint64_t)t->timeout_ms * DSM_NS_PER_MS;

	ring_drain(n, t);
	while (t->nfl && dsm__now_ns() < deadline) {
		if (!reap_sends(n, t))
			sched_yield();
	}
}

/* .close: after an orderly finalize, complete the sends, free the
 * communicator and finalize MPI if we initialised it. After a failure
 * (or a failed dsm_init) MPI is left alone: MPI_Finalize synchronises
 * with every rank and would hang on a dead or stuck one; the launcher
 * ends the job when this process exits. */
static void mpi_close(struct dsm_node *n)
{
	struct mpi *t = n->tp_state;

	if (!t)
		return;
	int clean = t->ready && !atomic_load(&n->failed) && all_bye(n, t);
	if (clean)
		flush_sends(n, t);
	for (int j = 0; j < t->nfl; j++) /* buffers of requests still pending leak */
		MPI_Request_free(&t->reqs[j]);
	if (clean) {
		MPI_Comm_free(&t->comm);
		if (t->we_init)
			MPI_Finalize();
	} else if (t->we_init) {
		DSM_WARN(n, "mpi: the job did not end cleanly; MPI_Finalize is not "
			    "called (the launcher ends the job)");
	}
	state_free(t);
	n->tp_state = NULL;
}

const struct dsm_transport_ops dsm__transport_mpi = {
	.name = "mpi",
	.setup = mpi_setup,
	.init = mpi_init,
	.send = mpi_send,
	.poll = mpi_poll,
	.wake = mpi_wake,
	.assist = mpi_assist,
	.must_poll = 1,
	.close = mpi_close,
};
