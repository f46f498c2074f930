/*
 * tcp.c — the TCP transport: one stream socket per pair of nodes.
 *
 * Setup (init): node 0 is the coordinator. Every node i > 0 opens an
 * ephemeral listening socket, connects to the coordinator and sends HELLO;
 * once all N-1 HELLOs are in, node 0 answers each with HELLO_ACK and PEERS
 * (every node's listening address). Then node i connects to every j in
 * [1, i) (HELLO / HELLO_ACK) and accepts from every k in (i, N). Every
 * HELLO is vetted (header, secret, version, sizes, id) and a bad
 * connection is logged and closed without stopping the setup.
 *
 * Steady state: send() writes header + payload under a per-link mutex and
 * is usable from the SIGSEGV handler (no malloc, no stdio); poll() runs in
 * the service thread, reads into per-link buffers, validates every header
 * (source and per-link sequence number) and hands complete messages to
 * dsm__dispatch(). An application thread that spins for a reply reads and
 * dispatches the same way (assist), under rx_mu, so its reply needs no
 * wake-up of the service thread; only the service thread closes links.
 * Idle links get HEARTBEATs; a link silent for timeout_ms, closed or
 * corrupt is reported once with dsm__peer_lost().
 * Connections arriving after setup are read without blocking, logged
 * with the reason they are refused and closed.
 *
 * Socket plumbing (deadline I/O, resolving, listen, connect with retry)
 * is in sock.c; the handshake and the vetting of incoming connections in
 * tcp_handshake.c; the wire codec in msg.c.
 */
#include "tcp.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

/* This thread holds rx_mu (it may read links and absorb input); and it is
 * an application thread assisting, which leaves closing links to the
 * service thread. */
static __thread int rx_owner, rx_assist;


/* ------------------------------------------------------------------ */
/* links                                                               */

/* Make link peer usable on fd. send_seq/recv_seq are the next numbers
 * for each direction (a handshake may already have used some). */
void dsm__tcp_link_open(struct tcp *t, int peer, int fd, uint32_t send_seq,
		      uint32_t recv_seq)
{
	struct link *l = &t->link[peer];
	uint64_t now = dsm__now_ns();

	l->fd = fd;
	l->send_seq = send_seq;
	l->recv_seq = recv_seq;
	l->last_recv_ns = now;
	atomic_store(&l->last_send_ns, now);
	l->rlen = 0;
	l->have_hdr = 0;
	atomic_store(&l->state, LINK_UP);
}

/* Called by a sender (maybe in a signal handler) that left the stream in
 * an unknown state: mark the link broken, shut the socket so the peer
 * and any blocked thread notice, and wake the service thread to report
 * it. Async-signal-safe; caller holds l->mu. */
static void link_break(struct tcp *t, struct link *l, const char *why)
{
	int up = LINK_UP;
	uint64_t one = 1;

	atomic_store(&l->broken_why, why);
	if (!atomic_compare_exchange_strong(&l->state, &up, LINK_BROKEN))
		return;
	shutdown(l->fd, SHUT_RDWR);
	if (write(t->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wake is pending anyway */
	}
}

/* Room for need bytes in the link's receive buffer (dsm__rbuf_reserve);
 * the caller compacts it. 0 or -ENOMEM. */
static int link_reserve(struct link *l, size_t need)
{
	return dsm__rbuf_reserve(&l->rbuf, &l->rcap, need, RBUF_MIN);
}

/* Read what a link has into its overflow buffer (the service thread, while
 * it waits to send, maybe in the middle of parsing that very link, so the
 * receive buffer itself must not move). EOF and errors are left for poll. */
static void absorb(struct link *l)
{
	for (;;) {
		if (l->xcap - l->xlen < RBUF_MIN) {
			size_t cap = l->xcap ? 2 * l->xcap : 4 * RBUF_MIN;
			unsigned char *b = realloc(l->xbuf, cap);
			if (!b)
				return;
			l->xbuf = b;
			l->xcap = cap;
		}
		ssize_t r = read(l->fd, l->xbuf + l->xlen, l->xcap - l->xlen);
		if (r > 0) {
			l->xlen += (size_t)r;
			l->last_recv_ns = dsm__now_ns();
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return;
	}
}

/* Move absorbed bytes behind the receive buffer's (never while parsing
 * that link). Returns 1 if there were any. */
static int unabsorb(struct link *l)
{
	if (!l->xlen || link_reserve(l, l->rlen + l->xlen) < 0)
		return 0;
	memcpy(l->rbuf + l->rlen, l->xbuf, l->xlen);
	l->rlen += l->xlen;
	l->xlen = 0;
	return 1;
}

static int wait_writable(void *ctx, int fd, uint64_t deadline);

/* wait_writable for a thread that does not hold rx_mu. The service
 * thread (sending outside a dispatch) keeps input flowing whenever it can
 * take rx_mu; otherwise the holder of rx_mu reads the links. */
static int wait_writable_other(struct tcp *t, int fd, uint64_t deadline)
{
	for (;;) {
		uint64_t now = dsm__now_ns(), step = 1000000;
		int r;
		if (!__atomic_load_n(&t->started, __ATOMIC_ACQUIRE) ||
		    !pthread_equal(pthread_self(), t->poller))
			return dsm__sock_wait(fd, POLLOUT, deadline);
		if (pthread_mutex_trylock(&t->rx_mu) == 0) {
			rx_owner = 1;
			r = wait_writable(t, fd, deadline);
			rx_owner = 0;
			pthread_mutex_unlock(&t->rx_mu);
			return r;
		}
		if (now >= deadline)
			return DSM_ETIMEDOUT;
		r = dsm__sock_wait(fd, POLLOUT, now + step < deadline ? now + step : deadline);
		if (r != DSM_ETIMEDOUT || dsm__now_ns() >= deadline)
			return r;
	}
}

/*
 * Wait until fd can take more bytes. In the service thread, keep every
 * link's input flowing into its buffer meanwhile: two nodes whose service
 * threads send large messages to each other at once (diff replies,
 * barrier releases) would otherwise each wait for the other to read, until
 * the timeout breaks the link. The buffered messages are dispatched by the
 * next tcp_poll.
 */
static int wait_writable(void *ctx, int fd, uint64_t deadline)
{
	struct tcp *t = ctx;
	struct pollfd pfd[DSM_MAX_NODES + 1];
	int who[DSM_MAX_NODES + 1];

	if (!__atomic_load_n(&t->started, __ATOMIC_ACQUIRE) || !rx_owner)
		return wait_writable_other(t, fd, deadline);
	for (;;) {
		uint64_t now = dsm__now_ns();
		int k = 1, r;
		if (now >= deadline)
			return DSM_ETIMEDOUT;
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLOUT };
		for (int p = 0; p < t->count; p++) {
			struct link *l = &t->link[p];
			if (l->fd < 0 || atomic_load(&l->state) != LINK_UP)
				continue;
			pfd[k] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
			who[k++] = p;
		}
		r = poll(pfd, (nfds_t)k, (int)((deadline - now) / DSM_NS_PER_MS) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && pfd[0].revents)
			return 0;
		for (int i = 1; r > 0 && i < k; i++)
			if (pfd[i].revents & POLLIN)
				absorb(&t->link[who[i]]);
	}
}

/* Encode and write one message on a link; caller holds l->mu. A timeout
 * before any byte left keeps the stream intact (the sequence number is
 * not consumed); any other failure breaks the link. */
static int link_send_locked(struct tcp *t, struct link *l, const struct dsm_msg *m)
{
	unsigned char hdr[DSM_WIRE_HDR_SIZE];
	struct dsm_msg h = *m;
	struct iovec iov[2] = { { hdr, sizeof(hdr) },
				{ (void *)m->payload, m->length } };
	size_t sent = 0;

	h.src = (uint32_t)t->self;
	h.seq = l->send_seq;
	dsm__msg_encode_hdr(&h, hdr);
	uint64_t deadline = dsm__now_ns() + (uint64_t)t->timeout_ms * DSM_NS_PER_MS;
	int rc = dsm__sock_write_all_wait(l->fd, iov, m->length ? 2 : 1, deadline,
					  &sent, wait_writable, t);
	if (rc == 0) {
		l->send_seq = next_seq(l->send_seq);
		atomic_store(&l->last_send_ns, dsm__now_ns());
		return 0;
	}
	if (rc == DSM_ETIMEDOUT && sent == 0)
		return rc;
	link_break(t, l, rc == DSM_ETIMEDOUT ? "send timed out mid-message"
					     : "send failed: connection lost");
	return rc == DSM_ETIMEDOUT ? rc : DSM_EPEERDEAD;
}

/* Send one message on the link to peer, under its mutex. */
int dsm__tcp_link_send(struct tcp *t, int peer, const struct dsm_msg *m)
{
	struct link *l = &t->link[peer];
	int rc = DSM_EPEERDEAD;

	pthread_mutex_lock(&l->mu);
	if (atomic_load(&l->state) == LINK_UP && l->fd >= 0)
		rc = link_send_locked(t, l, m);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Close a link's socket and buffer; the state is already LINK_CLOSED.
 * shutdown() first so a sender blocked in poll() wakes up and releases
 * the mutex; close under the mutex so no sender uses a recycled fd. */
void dsm__tcp_link_teardown(struct link *l)
{
	if (l->fd >= 0)
		shutdown(l->fd, SHUT_RDWR);
	pthread_mutex_lock(&l->mu);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	pthread_mutex_unlock(&l->mu);
	free(l->rbuf);
	l->rbuf = NULL;
	l->rcap = l->rlen = 0;
	free(l->xbuf);
	l->xbuf = NULL;
	l->xcap = l->xlen = 0;
	l->have_hdr = 0;
}

/* Close the link to peer and report it to the core, exactly once per
 * link: a link already closed (or never opened) is left alone. Service
 * thread only. */
static void link_lost(struct dsm_node *n, struct tcp *t, int peer, const char *why)
{
	struct link *l = &t->link[peer];
	int old = atomic_load(&l->state);

	if (rx_assist) { /* the service thread polls this fd: it closes it */
		pthread_mutex_lock(&l->mu);
		if (atomic_load(&l->state) == LINK_UP)
			link_break(t, l, why);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	do {
		if (old != LINK_UP && old != LINK_BROKEN)
			return;
	} while (!atomic_compare_exchange_weak(&l->state, &old, LINK_CLOSED));
	dsm__tcp_link_teardown(l);
	DSM_DEBUG(n, "tcp: link to node %d closed: %s", peer, why);
	dsm__peer_lost(n, peer, why);
}

/* ------------------------------------------------------------------ */
/* receiving (service thread)                                          */

/* Send a HEARTBEAT on an idle link, unless a sender holds the link (then
 * traffic is flowing anyway) or the socket buffer is full (it would block
 * the service thread). Counted as sent so totals balance the receiver's. */
static void send_heartbeat(struct dsm_node *n, struct tcp *t, int peer)
{
	struct link *l = &t->link[peer];
	struct dsm_msg m = { .type = DSM_MSG_HEARTBEAT };
	int rc = -1;

	if (pthread_mutex_trylock(&l->mu) != 0)
		return;
	if (atomic_load(&l->state) == LINK_UP &&
	    dsm__sock_wait(l->fd, POLLOUT, 0) == 0)
		rc = link_send_locked(t, l, &m);
	pthread_mutex_unlock(&l->mu);
	if (rc == 0) {
		m.src = (uint32_t)t->self;
		dsm__stats_count_sent(n, &m);
	}
}

/* Heartbeat every link we have not written to for timeout_ms/4. Called
 * between dispatches too, so a long backlog does not starve heartbeats;
 * the scan itself runs at most every timeout_ms/16. */
static void maybe_heartbeats(struct dsm_node *n, struct tcp *t)
{
	uint64_t now = dsm__now_ns(), tmo = (uint64_t)t->timeout_ms * DSM_NS_PER_MS;

	if (now < t->hb_scan_ns)
		return;
	t->hb_scan_ns = now + tmo / 16;
	for (int p = 0; p < t->count; p++) {
		struct link *l = &t->link[p];
		if (p != t->self && atomic_load(&l->state) == LINK_UP &&
		    now - atomic_load(&l->last_send_ns) >= tmo / 4)
			send_heartbeat(n, t, p);
	}
}

/* Dispatch every complete message in the link's buffer, then move the
 * partial rest to the front and make room for the message in progress.
 * A header that fails validation closes the link: nothing from it is
 * dispatched after that. */
static void link_parse(struct dsm_node *n, struct tcp *t, int peer)
{
	struct link *l = &t->link[peer];
	struct dsm_msg_check chk = { (uint32_t)t->count, peer, 0, t->page_size };
	const char *why = NULL;
	size_t off = 0;

	while (atomic_load(&l->state) != LINK_CLOSED) {
		if (!l->have_hdr) {
			if (l->rlen - off < DSM_WIRE_HDR_SIZE)
				break;
			chk.expect_seq = l->recv_seq;
			if (dsm__msg_decode_hdr(l->rbuf + off, &chk, &l->hdr, &why)) {
				DSM_ERR(n, "tcp: bad message from node %d: %s; closing the link",
					peer, why);
				link_lost(n, t, peer, why);
				return;
			}
			l->have_hdr = 1;
		}
		size_t need = DSM_WIRE_HDR_SIZE + l->hdr.length;
		if (l->rlen - off < need)
			break;
		struct dsm_msg m = l->hdr;
		m.payload = l->rbuf + off + DSM_WIRE_HDR_SIZE;
		l->have_hdr = 0;
		l->recv_seq = next_seq(l->recv_seq);
		dsm__stats_count_recv(n, &m);
		dsm__dispatch(n, &m);
		off += need;
		maybe_heartbeats(n, t);
	}
	if (atomic_load(&l->state) == LINK_CLOSED)
		return;
	memmove(l->rbuf, l->rbuf + off, l->rlen - off);
	l->rlen -= off;
	if (l->have_hdr && link_reserve(l, DSM_WIRE_HDR_SIZE + l->hdr.length) < 0)
		link_lost(n, t, peer, "out of memory for a message");
}

/* Read what the socket has for peer, at most READ_BUDGET bytes per call
 * so one busy link cannot starve the others, and dispatch complete
 * messages as they arrive. EOF and errors close the link. */
static void link_readable(struct dsm_node *n, struct tcp *t, int peer)
{
	struct link *l = &t->link[peer];

	for (size_t total = 0; total < READ_BUDGET;) {
		if (atomic_load(&l->state) == LINK_UP && unabsorb(l)) {
			link_parse(n, t, peer); /* older bytes first */
			continue;
		}
		if (atomic_load(&l->state) != LINK_UP || link_reserve(l, RBUF_MIN) < 0)
			return;
		size_t room = l->rcap - l->rlen;
		ssize_t r = read(l->fd, l->rbuf + l->rlen, room);
		if (r > 0) {
			l->rlen += (size_t)r;
			total += (size_t)r;
			l->last_recv_ns = dsm__now_ns();
			link_parse(n, t, peer);
			if ((size_t)r < room)
				return; /* drained */
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		link_lost(n, t, peer, r == 0 ? "connection closed"
				      : errno == ECONNRESET ? "connection reset"
							    : "read error");
		return;
	}
}

/* Refuse handshakes that did not complete by their deadline. */
static void expire_pends(struct dsm_node *n, struct tcp *t)
{
	uint64_t now = dsm__now_ns();

	for (int k = 0; k < PEND_MAX; k++)
		if (t->pend[k].fd >= 0 && now >= t->pend[k].deadline_ns)
			dsm__tcp_pend_service(n, t, k);
	dsm__tcp_reject_summary(n, t);
}

/* True when bytes (or EOF) wait unread on fd: the peer is not silent,
 * the service thread was busy; the next round reads them. */
static int has_input(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Per link: report a peer silent for timeout_ms, then heartbeat the
 * links we have not written to for timeout_ms/4. */
static void check_liveness(struct dsm_node *n, struct tcp *t)
{
	uint64_t now = dsm__now_ns(), tmo = (uint64_t)t->timeout_ms * DSM_NS_PER_MS;

	for (int p = 0; p < t->count; p++) {
		struct link *l = &t->link[p];
		if (p == t->self || atomic_load(&l->state) != LINK_UP ||
		    now - l->last_recv_ns < tmo || has_input(l->fd))
			continue;
		snprintf(l->why, sizeof(l->why), "no message for %d ms", t->timeout_ms);
		DSM_ERR(n, "tcp: node %d: %s", p, l->why);
		link_lost(n, t, p, l->why);
	}
	t->hb_scan_ns = 0;
	maybe_heartbeats(n, t);
}

/* Report links a sender marked broken. */
static void reap_broken(struct dsm_node *n, struct tcp *t)
{
	for (int p = 0; p < t->count; p++) {
		struct link *l = &t->link[p];
		if (atomic_load(&l->state) != LINK_BROKEN)
			continue;
		const char *why = atomic_load(&l->broken_why);
		DSM_ERR(n, "tcp: node %d: %s", p, why ? why : "link broken");
		link_lost(n, t, p, why ? why : "link broken");
	}
}

/* Fill t->pfd: wake eventfd, listening socket, open links (if
 * with_links) and handshakes in progress. Returns the count. */
static int build_pollset(struct tcp *t, int with_links)
{
	int k = 0;

	t->pfd[k] = (struct pollfd){ .fd = t->wake_fd, .events = POLLIN };
	t->who[k++] = WHO_WAKE;
	if (t->listen_fd >= 0) {
		t->pfd[k] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		t->who[k++] = WHO_LISTEN;
	}
	for (int p = 0; with_links && p < t->count; p++) {
		if (atomic_load(&t->link[p].state) != LINK_UP)
			continue;
		t->pfd[k] = (struct pollfd){ .fd = t->link[p].fd, .events = POLLIN };
		t->who[k++] = p;
	}
	for (int i = 0; i < PEND_MAX; i++) {
		if (t->pend[i].fd < 0)
			continue;
		t->pfd[k] = (struct pollfd){ .fd = t->pend[i].fd, .events = POLLIN };
		t->who[k++] = WHO_PEND0 - i;
	}
	return k;
}

/* Act on the events poll() reported for the first nfds entries. */
static void handle_events(struct dsm_node *n, struct tcp *t, int nfds)
{
	uint64_t v;

	for (int k = 0; k < nfds; k++) {
		int who = t->who[k];
		if (t->pfd[k].revents == 0)
			continue;
		if (who == WHO_WAKE) {
			if (read(t->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: already drained */
			}
		} else if (who == WHO_LISTEN) {
			dsm__tcp_accept_all(n, t);
		} else if (who >= 0) {
			link_readable(n, t, who);
		} else if (t->pend[WHO_PEND0 - who].fd == t->pfd[k].fd) {
			dsm__tcp_pend_service(n, t, WHO_PEND0 - who);
		}
	}
}

/* The poll() timeout: the caller's (negative = none), cut short so the
 * next handshake deadline and (with_links) the next heartbeat or silence
 * limit are acted on in time. */
static int poll_timeout(struct tcp *t, int timeout_ms, int with_links)
{
	uint64_t tmo = (uint64_t)t->timeout_ms * DSM_NS_PER_MS, next = UINT64_MAX;

	for (int p = 0; with_links && p < t->count; p++) {
		struct link *l = &t->link[p];
		if (p == t->self || atomic_load(&l->state) != LINK_UP)
			continue;
		uint64_t hb = atomic_load(&l->last_send_ns) + tmo / 4;
		hb = hb < t->hb_scan_ns ? t->hb_scan_ns : hb; /* skipped: link busy */
		uint64_t dead = l->last_recv_ns + tmo;
		next = hb < next ? hb : next;
		next = dead < next ? dead : next;
	}
	for (int k = 0; k < PEND_MAX; k++)
		if (t->pend[k].fd >= 0 && t->pend[k].deadline_ns < next)
			next = t->pend[k].deadline_ns;
	if (next == UINT64_MAX)
		return timeout_ms;
	int cap = dsm__sock_ms_until(next);
	return (timeout_ms < 0 || cap < timeout_ms) ? cap : timeout_ms;
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

/* Accept and vet connections until every node in [lo, hi] has a link or
 * deadline_ns passes (DSM_ETIMEDOUT, naming the first missing node).
 * Bad connections are refused and logged meanwhile. */
static int accept_peers(struct dsm_node *n, struct tcp *t, int lo, int hi,
			uint64_t deadline_ns)
{
	t->acc_lo = lo;
	t->acc_hi = hi;
	for (;;) {
		int missing = -1;
		for (int p = hi; p >= lo; p--)
			if (atomic_load(&t->link[p].state) != LINK_UP)
				missing = p;
		if (missing < 0)
			break;
		if (dsm__now_ns() >= deadline_ns) {
			DSM_ERR(n, "tcp: node %d did not connect in time", missing);
			return DSM_ETIMEDOUT;
		}
		int nfds = build_pollset(t, 0);
		int wait = poll_timeout(t, dsm__sock_ms_until(deadline_ns), 0);
		if (poll(t->pfd, (nfds_t)nfds, wait) < 0 && errno != EINTR)
			return -errno;
		handle_events(n, t, nfds);
		expire_pends(n, t);
	}
	t->acc_lo = t->acc_hi = -1;
	return 0;
}

/* Coordinator: take the launcher's listening socket or bind the
 * coordinator port on cfg.bind, wait for every node's HELLO, then answer
 * each with HELLO_ACK and the PEERS table. */
static int setup_coordinator(struct dsm_node *n, struct tcp *t, uint64_t deadline_ns)
{
	unsigned char table[DSM_MAX_NODES * DSM_PEER_REC_SIZE];
	struct dsm_msg m = { .type = DSM_MSG_PEERS, .payload = table };
	int rc;

	t->ack_on_adopt = 0;
	rc = accept_peers(n, t, 1, t->count - 1, deadline_ns);
	if (rc)
		return rc;
	m.length = (uint32_t)dsm__tcp_peers_encode(t, table);
	for (int i = 1; i < t->count; i++) {
		rc = dsm__tcp_send_ack(t, i);
		if (rc == 0)
			rc = dsm__tcp_link_send(t, i, &m);
		if (rc) {
			DSM_ERR(n, "tcp: cannot answer node %d: %s", i, dsm_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* Connect to peer at host:port, send HELLO and wait for its HELLO_ACK. */
static int dial_peer(struct dsm_node *n, struct tcp *t, int peer,
		     const char *host, const char *port, uint64_t deadline_ns)
{
	struct dsm_msg m;
	int fd = dsm__sock_connect(n, host, port, deadline_ns);

	if (fd < 0)
		return fd;
	dsm__tcp_link_open(t, peer, fd, 1, 1);
	int rc = dsm__tcp_send_hello(t, peer);
	if (rc == 0)
		rc = dsm__tcp_recv_sync(n, t, peer, DSM_MSG_HELLO_ACK, NULL, 0, &m, deadline_ns);
	if (rc == 0 && m.arg[0] != (uint64_t)peer) {
		DSM_ERR(n, "tcp: HELLO_ACK from node %d names node %llu", peer,
			(unsigned long long)m.arg[0]);
		rc = DSM_EPROTO;
	}
	if (rc && rc != DSM_EPROTO && rc != DSM_ETIMEDOUT)
		DSM_ERR(n, "tcp: node %d refused the handshake (%s); check "
			   "DSM_SECRET and the library version", peer, dsm_strerror(rc));
	return rc;
}

/* Node i > 0: rendezvous with the coordinator, learn the peer table, dial
 * every lower node, then accept every higher one. */
static int setup_member(struct dsm_node *n, struct tcp *t, const char *chost,
			const char *cport, uint64_t deadline_ns)
{
	unsigned char table[DSM_MAX_NODES * DSM_PEER_REC_SIZE];
	struct dsm_msg m;
	char port[8];
	int rc = dial_peer(n, t, 0, chost, cport, deadline_ns);

	if (rc == 0)
		rc = dsm__tcp_recv_sync(n, t, 0, DSM_MSG_PEERS, table, sizeof(table), &m,
			       deadline_ns);
	if (rc == 0 && dsm__tcp_peers_decode(t, table, m.length) != 0) {
		DSM_ERR(n, "tcp: malformed PEERS table from the coordinator");
		rc = DSM_EPROTO;
	}
	for (int j = 1; rc == 0 && j < t->self; j++) {
		snprintf(port, sizeof(port), "%u", (unsigned)t->link[j].port);
		rc = dial_peer(n, t, j, t->link[j].host, port, deadline_ns);
	}
	t->ack_on_adopt = 1;
	if (rc == 0 && t->self + 1 < t->count)
		rc = accept_peers(n, t, t->self + 1, t->count - 1, deadline_ns);
	return rc;
}

/* Open our listening socket: the launcher's fd or the coordinator port
 * (node 0), an ephemeral port on cfg.bind (others). Fills t->me's
 * listening address. */
static int open_listener(struct dsm_node *n, struct tcp *t, const char *cport)
{
	const char *bind = n->cfg.bind[0] ? n->cfg.bind : "127.0.0.1";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (t->self == 0 && n->cfg.listen_fd >= 0) {
		t->listen_fd = n->cfg.listen_fd;
		int fl = fcntl(t->listen_fd, F_GETFL);
		if (fl < 0 || fcntl(t->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
	} else {
		t->listen_fd = dsm__sock_listen(n, bind, t->self == 0 ? cport : "0");
		if (t->listen_fd < 0)
			return t->listen_fd;
	}
	if (getsockname(t->listen_fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	dsm__sock_addr_str((struct sockaddr *)&ss, len, t->me.listen_host,
			   sizeof(t->me.listen_host), &t->me.listen_port);
	snprintf(t->link[t->self].host, sizeof(t->link[0].host), "%s",
		 t->me.listen_host);
	t->link[t->self].port = t->me.listen_port;
	return 0;
}

/* Allocate the transport state: every link closed, no fds yet, our own
 * HELLO filled from the configuration. */
static struct tcp *state_new(struct dsm_node *n)
{
	struct tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->self = n->cfg.node_id;
	t->count = n->cfg.node_count;
	t->page_size = (uint32_t)(n->page_size ? n->page_size
					       : (size_t)sysconf(_SC_PAGESIZE));
	t->timeout_ms = n->cfg.timeout_ms > 0 ? n->cfg.timeout_ms : 10000;
	t->listen_fd = -1;
	t->acc_lo = t->acc_hi = -1;
	pthread_mutex_init(&t->rx_mu, NULL);
	for (int p = 0; p < DSM_MAX_NODES; p++) {
		pthread_mutex_init(&t->link[p].mu, NULL);
		t->link[p].fd = -1;
	}
	for (int k = 0; k < PEND_MAX; k++)
		t->pend[k].fd = -1;
	t->me.node_id = (uint32_t)t->self;
	t->me.node_count = (uint32_t)t->count;
	t->me.page_size = t->page_size;
	t->me.wire_version = DSM_WIRE_VERSION;
	t->me.heap_size = n->cfg.heap_size;
	t->me.arch = DSM_ARCH_SELF;
	t->link[t->self].arch = DSM_ARCH_SELF;
	memcpy(t->me.secret, n->cfg.secret, DSM_SECRET_LEN);
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return t;
}

static void tcp_close(struct dsm_node *n);

/* Connect to every peer (see the file comment). On failure everything is
 * closed again and the error returned: DSM_ETIMEDOUT (a node did not
 * show up by the startup deadline), DSM_EPROTO, DSM_EPEERDEAD, -EINVAL
 * (bad configuration) or another negative errno. */
static int tcp_init(struct dsm_node *n)
{
	char chost[256], cport[16];
	int to = n->cfg.timeout_ms > 0 ? n->cfg.timeout_ms : 10000;
	uint64_t ms = (uint64_t)to * 4 > 20000 ? (uint64_t)to * 4 : 20000;
	uint64_t deadline = dsm__now_ns() + ms * DSM_NS_PER_MS;
	int rc;

	if (n->cfg.node_count < 1 || n->cfg.node_count > DSM_MAX_NODES ||
	    n->cfg.node_id < 0 || n->cfg.node_id >= n->cfg.node_count)
		return -EINVAL;
	struct tcp *t = state_new(n);
	if (!t)
		return -ENOMEM;
	n->tp_state = t;
	if (t->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (t->count == 1) {
		if (n->cfg.listen_fd >= 0) /* the launcher's socket is ours */
			close(n->cfg.listen_fd);
		return 0;
	}
	rc = dsm__sock_split_hostport(n->cfg.coordinator, chost, sizeof(chost),
				      cport, sizeof(cport));
	if (rc) {
		DSM_ERR(n, "tcp: DSM_COORDINATOR '%s' is not host:port",
			n->cfg.coordinator);
		goto fail;
	}
	rc = open_listener(n, t, cport);
	if (rc == 0)
		rc = t->self == 0 ? setup_coordinator(n, t, deadline)
				  : setup_member(n, t, chost, cport, deadline);
	if (rc == 0) {
		DSM_DEBUG(n, "tcp: node %d connected to %d peers", t->self, t->count - 1);
		for (int i = 0; i < t->count; i++)
			dsm__node_set_byte_order(n, i, t->link[i].arch & 0xff);
		return 0;
	}
fail:
	tcp_close(n);
	return rc;
}

/* Send m to node dst. Thread-safe and usable from the SIGSEGV handler:
 * no allocation, no stdio. Returns 0, -EINVAL (bad dst or payload),
 * -EMSGSIZE (payload longer than the type allows), DSM_EPEERDEAD (link
 * closed or lost) or DSM_ETIMEDOUT (peer not draining within the timeout). */
static int tcp_send(struct dsm_node *n, int dst, const struct dsm_msg *m)
{
	struct tcp *t = n->tp_state;

	if (!t || dst < 0 || dst >= t->count || dst == t->self)
		return -EINVAL;
	if (m->length && !m->payload)
		return -EINVAL;
	if (dsm__msg_type_name(m->type)[0] == '?')
		return -EINVAL;
	if (m->length > dsm__msg_max_len(m->type, t->page_size) ||
	    (m->type == DSM_MSG_SC_PAGE && m->length != t->page_size))
		return -EMSGSIZE;
	return dsm__tcp_link_send(t, dst, m);
}

/* Service-thread loop body: wait up to timeout_ms (negative: until
 * something happens) for traffic, dispatch complete messages, vet
 * foreign connections, send heartbeats and report silent or broken
 * links. Returns 0 or a negative errno. */
static int tcp_poll(struct dsm_node *n, int timeout_ms)
{
	struct tcp *t = n->tp_state;

	if (!t)
		return -EINVAL;
	if (!t->started) { /* the silence clock starts with the service thread */
		uint64_t now = dsm__now_ns();
		for (int p = 0; p < t->count; p++)
			t->link[p].last_recv_ns = now;
		t->poller = pthread_self();
		__atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_lock(&t->rx_mu);
	rx_owner = 1;
	reap_broken(n, t);
	for (int p = 0; p < t->count; p++) /* input read while sending */
		if (atomic_load(&t->link[p].state) == LINK_UP && unabsorb(&t->link[p])) {
			link_parse(n, t, p);
			timeout_ms = 0;
		}
	int nfds = build_pollset(t, 1), tmo = poll_timeout(t, timeout_ms, 1);
	rx_owner = 0;
	pthread_mutex_unlock(&t->rx_mu);
	/* an assisting thread may read the links meanwhile: a link reported
	 * readable then may have nothing left (read says EAGAIN) */
	int r = poll(t->pfd, (nfds_t)nfds, tmo);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	pthread_mutex_lock(&t->rx_mu);
	rx_owner = 1;
	if (r > 0)
		handle_events(n, t, nfds);
	reap_broken(n, t);
	check_liveness(n, t);
	expire_pends(n, t);
	rx_owner = 0;
	pthread_mutex_unlock(&t->rx_mu);
	return 0;
}

/* .assist: an application thread that waits for a reply reads the links
 * itself, when the service thread is not reading them, and dispatches
 * what came: its reply then needs no wake-up of the service thread. A
 * link that fails here is marked broken and left to the service thread
 * (it polls the fd). Not in a signal handler (dispatch is not
 * async-signal-safe). Returns nonzero if a message was dispatched. */
static int tcp_assist(struct dsm_node *n)
{
	struct tcp *t = n->tp_state;
	struct pollfd pfd[DSM_MAX_NODES];
	int who[DSM_MAX_NODES], k = 0;
	uint64_t before;

	if (!t || !__atomic_load_n(&t->started, __ATOMIC_ACQUIRE) || dsm__in_fault ||
	    rx_owner || pthread_mutex_trylock(&t->rx_mu) != 0)
		return 0;
	if (pthread_mutex_trylock(&n->serve_mu) != 0) { /* a tick runs */
		pthread_mutex_unlock(&t->rx_mu);
		return 0;
	}
	rx_owner = rx_assist = 1;
	before = __atomic_load_n(&n->stats.messages_recv, __ATOMIC_RELAXED);
	for (int p = 0; p < t->count; p++) {
		struct link *l = &t->link[p];
		if (p == t->self || atomic_load(&l->state) != LINK_UP)
			continue;
		if (unabsorb(l))
			link_parse(n, t, p);
		pfd[k] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
		who[k++] = p;
	}
	if (k && poll(pfd, (nfds_t)k, 0) > 0)
		for (int i = 0; i < k; i++)
			if (pfd[i].revents & POLLIN)
				link_readable(n, t, who[i]);
	rx_owner = rx_assist = 0;
	pthread_mutex_unlock(&n->serve_mu);
	pthread_mutex_unlock(&t->rx_mu);
	before = __atomic_load_n(&n->stats.messages_recv, __ATOMIC_RELAXED) - before;
	atomic_fetch_add(&n->assisted, before);
	return before != 0;
}

/* Make a blocked tcp_poll() return. Async-signal-safe. */
static void tcp_wake(struct dsm_node *n)
{
	struct tcp *t = n->tp_state;
	uint64_t one = 1;

	if (t && t->wake_fd >= 0 && write(t->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated counter: a wake is already pending */
	}
}

/* Close every socket and free the state. Idempotent. No other thread may
 * be inside send() or poll() when it is called. Nothing is reported to
 * the core. */
static void tcp_close(struct dsm_node *n)
{
	struct tcp *t = n->tp_state;

	if (!t)
		return;
	for (int p = 0; p < DSM_MAX_NODES; p++) {
		struct link *l = &t->link[p];
		if (l->fd >= 0)
			close(l->fd);
		free(l->rbuf);
		free(l->xbuf);
		pthread_mutex_destroy(&l->mu);
	}
	for (int k = 0; k < PEND_MAX; k++)
		if (t->pend[k].fd >= 0)
			close(t->pend[k].fd);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	pthread_mutex_destroy(&t->rx_mu);
	free(t);
	n->tp_state = NULL;
}

const struct dsm_transport_ops dsm__transport_tcp = {
	.name = "tcp",
	.init = tcp_init,
	.send = tcp_send,
	.poll = tcp_poll,
	.wake = tcp_wake,
	.assist = tcp_assist,
	.close = tcp_close,
};
