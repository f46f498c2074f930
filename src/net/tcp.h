/*
 * tcp.h — private to the TCP transport (tcp.c, tcp_handshake.c): the
 * per-link and per-job state and the functions the two files share.
 */
#ifndef DSM_NET_TCP_H
#define DSM_NET_TCP_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/node.h"
#include "internal.h"

#define PEND_MAX (DSM_MAX_NODES + 16) /* handshakes in progress at once: every
					 peer may connect at once, plus strangers */
#define RBUF_MIN (64u * 1024u)        /* initial receive buffer per link */
#define READ_BUDGET (4u << 20)        /* bytes per link per poll(): fairness */

enum link_state {
	LINK_NONE = 0, /* never connected (self, or during setup) */
	LINK_UP,       /* connected and usable */
	LINK_BROKEN,   /* a sender gave up mid-stream; service thread reaps */
	LINK_CLOSED,   /* closed and reported; never reported again */
};

/* The connection to one peer. */
struct link {
	pthread_mutex_t mu;          /* serialises senders; guards fd close */
	int fd;                      /* -1 when closed */
	_Atomic int state;           /* enum link_state */
	const char *_Atomic broken_why; /* set by a sender before BROKEN */
	uint32_t send_seq;           /* next seq to send, under mu */
	uint32_t recv_seq;           /* next seq expected (service thread) */
	_Atomic uint64_t last_send_ns; /* last completed send */
	uint64_t last_recv_ns;       /* last bytes received */
	unsigned char *rbuf;         /* receive buffer: rlen bytes valid */
	size_t rcap, rlen;
	int have_hdr;                /* hdr holds the decoded header at rbuf */
	unsigned char *xbuf;         /* bytes read while sending (not parsed): */
	size_t xcap, xlen;           /* they go after rbuf's before any read */
	struct dsm_msg hdr;
	uint32_t arch;               /* peer's DSM_ARCH_* word (HELLO or PEERS) */
	uint16_t port;               /* peer's listening address */
	char host[DSM_PEER_HOST_LEN];
	char why[96];                /* storage for a formatted loss reason */
};

/* An accepted connection whose HELLO is still being read. */
struct pend {
	int fd;                      /* -1 when the slot is free */
	uint64_t deadline_ns;
	size_t got;
	unsigned char buf[DSM_WIRE_HDR_SIZE + DSM_HELLO_WIRE_SIZE];
	char addr[96];               /* "host:port" of the remote end */
};

/* Transport state, in n->tp_state. */
struct tcp {
	int self, count;
	uint32_t page_size;
	int timeout_ms;
	int listen_fd;               /* -1 if none */
	int wake_fd;                 /* eventfd */
	int acc_lo, acc_hi;          /* ids accepted by handshakes (setup) */
	int ack_on_adopt;            /* reply HELLO_ACK as soon as adopted */
	int started;                 /* poll() ran once */
	pthread_t poller;            /* the service thread (valid once started) */
	pthread_mutex_t rx_mu;       /* held by the thread that reads links and
					dispatches: the service thread, or an
					application thread assisting (tcp_assist) */
	uint64_t hb_scan_ns;         /* next heartbeat scan */
	struct dsm_hello me;
	struct link link[DSM_MAX_NODES];
	struct pend pend[PEND_MAX];
	/* rate limit of "rejected connection" lines (tcp_handshake.c) */
	unsigned rej_logged;         /* logged one by one so far */
	unsigned rej_quiet;          /* not logged since the last summary */
	uint64_t rej_summary_ns;     /* last summary */
	char rej_last[160];          /* the last one not logged */
	struct pollfd pfd[DSM_MAX_NODES + PEND_MAX + 2];
	int who[DSM_MAX_NODES + PEND_MAX + 2]; /* >=0 link, WHO_* or pend */
};

enum { WHO_WAKE = -1, WHO_LISTEN = -2, WHO_PEND0 = -3 };


/* Sequence numbers skip 0, which means "unchecked" in dsm_msg_check. */
static inline uint32_t next_seq(uint32_t s)
{
	return s + 1 == 0 ? 1 : s + 1;
}

/* tcp.c: links */
void dsm__tcp_link_open(struct tcp *t, int peer, int fd, uint32_t send_seq,
			uint32_t recv_seq);
int dsm__tcp_link_send(struct tcp *t, int peer, const struct dsm_msg *m);
void dsm__tcp_link_teardown(struct link *l);

/* tcp_handshake.c: HELLO / HELLO_ACK / PEERS, and vetting connections
 * that arrive on the listening socket (during setup and after it) */
int dsm__tcp_send_hello(struct tcp *t, int peer);
int dsm__tcp_send_ack(struct tcp *t, int peer);
int dsm__tcp_recv_sync(struct dsm_node *n, struct tcp *t, int peer, unsigned type,
		       void *buf, size_t cap, struct dsm_msg *m, uint64_t deadline_ns);
size_t dsm__tcp_peers_encode(struct tcp *t, unsigned char *out);
int dsm__tcp_peers_decode(struct tcp *t, const unsigned char *in, size_t len);
void dsm__tcp_accept_all(struct dsm_node *n, struct tcp *t);
void dsm__tcp_pend_service(struct dsm_node *n, struct tcp *t, int k);
/* Log the rejected connections not logged yet, at most once a second. */
void dsm__tcp_reject_summary(struct dsm_node *n, struct tcp *t);

#endif /* DSM_NET_TCP_H */
