/*
 * tcp_handshake.c — the TCP transport's handshake: HELLO / HELLO_ACK /
 * PEERS during setup, and the non-blocking vetting of every connection
 * that arrives on the listening socket (a late or foreign one is logged
 * with the reason it is refused and closed; nothing from it is
 * dispatched).
 */
#include <stdarg.h>

#include "tcp.h"

/* ------------------------------------------------------------------ */
/* handshake pieces                                                    */

/* Send HELLO on the (fresh) link to peer. */
int dsm__tcp_send_hello(struct tcp *t, int peer)
{
	unsigned char buf[DSM_HELLO_WIRE_SIZE];
	struct dsm_msg m = { .type = DSM_MSG_HELLO };

	m.length = (uint32_t)dsm__hello_encode(&t->me, buf, sizeof(buf));
	m.payload = buf;
	return dsm__tcp_link_send(t, peer, &m);
}

/* Send HELLO_ACK (arg0 = our id) on the link to peer. */
int dsm__tcp_send_ack(struct tcp *t, int peer)
{
	struct dsm_msg m = { .type = DSM_MSG_HELLO_ACK };

	m.arg[0] = (uint64_t)t->self;
	return dsm__tcp_link_send(t, peer, &m);
}

/* Read one message of the given type from peer during setup, blocking
 * until deadline_ns; the payload goes to buf (at most cap bytes). The
 * header is checked like any other (source, sequence). */
int dsm__tcp_recv_sync(struct dsm_node *n, struct tcp *t, int peer, unsigned type,
		       void *buf, size_t cap, struct dsm_msg *m, uint64_t deadline_ns)
{
	struct link *l = &t->link[peer];
	unsigned char hdr[DSM_WIRE_HDR_SIZE];
	struct dsm_msg_check chk = { (uint32_t)t->count, peer, l->recv_seq,
				     t->page_size };
	const char *why = "connection closed";
	int rc = dsm__sock_read_full(l->fd, hdr, sizeof(hdr), deadline_ns);

	if (rc == 0)
		rc = dsm__msg_decode_hdr(hdr, &chk, m, &why);
	if (rc == 0 && (m->type != type || m->length > cap)) {
		why = "unexpected message during the handshake";
		rc = DSM_EPROTO;
	}
	if (rc == 0)
		rc = dsm__sock_read_full(l->fd, buf, m->length, deadline_ns);
	if (rc) {
		if (rc == DSM_ETIMEDOUT)
			why = "timed out";
		DSM_ERR(n, "tcp: handshake with node %d: waiting for %s: %s", peer,
			dsm__msg_type_name(type), why);
		return rc;
	}
	m->payload = buf;
	l->recv_seq = next_seq(l->recv_seq);
	return 0;
}

/* Wildcard addresses cannot be dialled: use the address the connection
 * came from instead. */
static void fix_wildcard(int fd, char *host, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;

	if (host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0)
		return;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		dsm__sock_addr_str((struct sockaddr *)&ss, len, host, cap, &port);
}

/* Encode the PEERS table (every node's listening address) into out. */
size_t dsm__tcp_peers_encode(struct tcp *t, unsigned char *out)
{
	for (int i = 0; i < t->count; i++) {
		unsigned char *r = out + (size_t)i * DSM_PEER_REC_SIZE;
		uint32_t id = htonl((uint32_t)i);
		uint16_t port = htons(t->link[i].port);

		memset(r, 0, DSM_PEER_REC_SIZE);
		memcpy(r, &id, 4);
		memcpy(r + 4, &port, 2);
		r[6] = (unsigned char)(t->link[i].arch & 0xff); /* byte order */
		snprintf((char *)r + 8, DSM_PEER_HOST_LEN, "%s", t->link[i].host);
	}
	return (size_t)t->count * DSM_PEER_REC_SIZE;
}

/* Decode a PEERS table into the links' host/port. DSM_EPROTO if it does
 * not describe exactly our node count with terminated hosts. */
int dsm__tcp_peers_decode(struct tcp *t, const unsigned char *in, size_t len)
{
	if (len != (size_t)t->count * DSM_PEER_REC_SIZE)
		return DSM_EPROTO;
	for (int i = 0; i < t->count; i++) {
		const unsigned char *r = in + (size_t)i * DSM_PEER_REC_SIZE;
		uint32_t id;
		uint16_t port;

		memcpy(&id, r, 4);
		memcpy(&port, r + 4, 2);
		if (ntohl(id) != (uint32_t)i || r[7] != 0 ||
		    (r[6] != DSM_ARCH_LE && r[6] != DSM_ARCH_BE) ||
		    !memchr(r + 8, '\0', DSM_PEER_HOST_LEN))
			return DSM_EPROTO;
		if (i > 0 && port == 0)
			return DSM_EPROTO;
		t->link[i].port = ntohs(port);
		if (i != t->self) /* word size and alignment: checked by HELLO */
			t->link[i].arch = r[6] | (t->me.arch & ~0xffu);
		memcpy(t->link[i].host, r + 8, DSM_PEER_HOST_LEN);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* incoming handshakes: setup peers and foreign connections            */

/*
 * Rejected connections are logged one by one up to REJ_LOG_FREE; after
 * that, one summary line per second at most (count and the last reason),
 * so a port scan or a flood of foreign clients cannot flood the log.
 */
#define REJ_LOG_FREE 5
#define REJ_SUMMARY_NS 1000000000ull

void dsm__tcp_reject_summary(struct dsm_node *n, struct tcp *t)
{
	uint64_t now = dsm__now_ns();

	if (!t->rej_quiet || now - t->rej_summary_ns < REJ_SUMMARY_NS)
		return;
	DSM_ERR(n, "tcp: rejected %u more connection(s) (last: %s)", t->rej_quiet,
		t->rej_last);
	t->rej_quiet = 0;
	t->rej_summary_ns = now;
}

__attribute__((format(printf, 3, 4)))
static void log_reject(struct dsm_node *n, struct tcp *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->rej_last, sizeof(t->rej_last), fmt, ap);
	va_end(ap);
	if (t->rej_logged < REJ_LOG_FREE) {
		DSM_ERR(n, "tcp: rejected connection from %s", t->rej_last);
		if (++t->rej_logged == REJ_LOG_FREE) {
			DSM_ERR(n, "tcp: further rejected connections are summarised "
				   "once a second");
			t->rej_summary_ns = dsm__now_ns();
		}
		return;
	}
	t->rej_quiet++;
	dsm__tcp_reject_summary(n, t);
}

/* Take a new connection into a free handshake slot with a deadline; with
 * no slot free it is refused at once. */
static void pend_add(struct dsm_node *n, struct tcp *t, int fd,
		     const struct sockaddr *sa, socklen_t salen)
{
	char host[64];
	uint16_t port;

	dsm__sock_addr_str(sa, salen, host, sizeof(host), &port);
	for (int k = 0; k < PEND_MAX; k++) {
		struct pend *p = &t->pend[k];
		if (p->fd >= 0)
			continue;
		p->fd = fd;
		p->got = 0;
		p->deadline_ns = dsm__now_ns() + (uint64_t)t->timeout_ms * DSM_NS_PER_MS;
		snprintf(p->addr, sizeof(p->addr), "%s:%u", host, (unsigned)port);
		return;
	}
	log_reject(n, t, "%s:%u: too many pending handshakes", host, (unsigned)port);
	close(fd);
}

/* Accept every connection waiting on the listening socket. */
void dsm__tcp_accept_all(struct dsm_node *n, struct tcp *t)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				DSM_WARN(n, "tcp: accept: %s", strerror(errno));
			return;
		}
		pend_add(n, t, fd, (struct sockaddr *)&ss, len);
	}
}

/* Refuse a handshake: log why, close, free the slot. */
static void pend_reject(struct dsm_node *n, struct tcp *t, struct pend *p,
			const char *why)
{
	log_reject(n, t, "%s: %s", p->addr, why);
	close(p->fd);
	p->fd = -1;
}

/* Validate a complete HELLO in p->buf against our parameters. Returns 0
 * with *h filled or DSM_EPROTO with *why. */
static int pend_vet(struct tcp *t, struct pend *p, struct dsm_hello *h,
		    const char **why)
{
	struct dsm_msg_check chk = { (uint32_t)t->count, -1, 1, t->page_size };
	struct dsm_msg m;
	int rc = dsm__msg_decode_hdr(p->buf, &chk, &m, why);

	if (rc == 0)
		rc = dsm__hello_decode(p->buf + DSM_WIRE_HDR_SIZE, m.length, h, why);
	if (rc == 0)
		rc = dsm__hello_check(&t->me, h, why);
	if (rc == 0 && h->node_id != m.src) {
		*why = "HELLO node id differs from the header source";
		rc = DSM_EPROTO;
	}
	return rc;
}

/* Read what is available of a handshake. The header is checked as soon
 * as it is complete so garbage is refused without waiting. Returns 1 when
 * a valid HELLO is in *h, 0 if more bytes are needed, DSM_EPROTO (with
 * *why) to refuse. */
static int pend_read(struct tcp *t, struct pend *p, struct dsm_hello *h,
		     const char **why)
{
	struct dsm_msg_check chk = { (uint32_t)t->count, -1, 1, t->page_size };
	struct dsm_msg m;

	for (;;) {
		size_t want = DSM_WIRE_HDR_SIZE;
		if (p->got >= DSM_WIRE_HDR_SIZE) {
			if (dsm__msg_decode_hdr(p->buf, &chk, &m, why))
				return DSM_EPROTO;
			if (m.type != DSM_MSG_HELLO) {
				*why = "first message is not HELLO";
				return DSM_EPROTO;
			}
			want += m.length; /* <= DSM_HELLO_WIRE_SIZE by the check */
		}
		if (p->got == want && want > DSM_WIRE_HDR_SIZE)
			return pend_vet(t, p, h, why) == 0 ? 1 : DSM_EPROTO;
		ssize_t r = read(p->fd, p->buf + p->got, want - p->got);
		if (r > 0) {
			p->got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		*why = "connection closed during the handshake";
		return DSM_EPROTO;
	}
}

/* A peer passed the handshake: it becomes the link for its id. Its HELLO
 * used receive seq 1. Outside of setup, or for an id we do not expect
 * (or already have), the connection is refused instead. */
static void pend_adopt(struct dsm_node *n, struct tcp *t, struct pend *p,
		       const struct dsm_hello *h)
{
	int id = (int)h->node_id;
	struct link *l = &t->link[id];

	if (t->acc_lo < 0) {
		pend_reject(n, t, p, "mesh already complete");
		return;
	}
	if (id < t->acc_lo || id > t->acc_hi || atomic_load(&l->state) != LINK_NONE) {
		pend_reject(n, t, p, "unexpected or duplicate node id");
		return;
	}
	dsm__sock_tune(p->fd);
	snprintf(l->host, sizeof(l->host), "%s", h->listen_host);
	fix_wildcard(p->fd, l->host, sizeof(l->host));
	l->port = h->listen_port;
	l->arch = h->arch;
	dsm__tcp_link_open(t, id, p->fd, 1, 2);
	p->fd = -1;
	DSM_DEBUG(n, "tcp: node %d connected from %s", id, p->addr);
	if (t->ack_on_adopt && dsm__tcp_send_ack(t, id) != 0) {
		/* setup: not a lost peer yet; accept_peers() waits for a retry
		 * and names the node if none comes */
		DSM_ERR(n, "tcp: cannot send HELLO_ACK to node %d", id);
		atomic_store(&l->state, LINK_CLOSED);
		dsm__tcp_link_teardown(l);
		atomic_store(&l->state, LINK_NONE);
	}
}

/* Make progress on handshake slot k (readable or maybe expired). */
void dsm__tcp_pend_service(struct dsm_node *n, struct tcp *t, int k)
{
	struct pend *p = &t->pend[k];
	struct dsm_hello h;
	const char *why = NULL;

	if (p->fd < 0)
		return;
	int rc = pend_read(t, p, &h, &why);
	if (rc == 1)
		pend_adopt(n, t, p, &h);
	else if (rc < 0)
		pend_reject(n, t, p, why);
	else if (dsm__now_ns() >= p->deadline_ns)
		pend_reject(n, t, p, "no complete HELLO within the timeout");
}

