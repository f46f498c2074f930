/*
 * internal.h — private helpers shared by the files of src/net.
 */
#ifndef DSM_NET_INTERNAL_H
#define DSM_NET_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net.h"

struct dsm_node;

/* Encoded size of a HELLO payload (struct dsm_hello on the wire):
 * 4 x u32 + u64 + secret + u16 port + 64-byte host + u32 arch. */
#define DSM_HELLO_WIRE_SIZE (4u * 4u + 8u + DSM_SECRET_LEN + 2u + 64u + 4u)

/* One record of the PEERS payload: u32 node id, u16 port, u8 the node's
 * byte order (DSM_ARCH_LE/BE, src/hetero), u8 reserved (0),
 * then a NUL-terminated numeric host in the remaining 72 bytes. */
#define DSM_PEER_REC_SIZE 80u
#define DSM_PEER_HOST_LEN 72u

#define DSM_SOCK_BUF (4 * 1024 * 1024) /* SO_SNDBUF / SO_RCVBUF per link */
#define DSM_NS_PER_MS 1000000ull

/* Make a transport's receive buffer *buf (capacity *cap) hold at least
 * need bytes, doubling from min; the contents are kept. 0 or -ENOMEM
 * (the buffer is then unchanged). */
static inline int dsm__rbuf_reserve(unsigned char **buf, size_t *cap, size_t need,
				    size_t min)
{
	size_t c = *cap ? *cap : min;
	unsigned char *b;

	if (*cap >= need)
		return 0;
	while (c < need)
		c *= 2;
	if (!(b = realloc(*buf, c)))
		return -ENOMEM;
	*buf = b;
	*cap = c;
	return 0;
}

/* --- sock.c: socket helpers of the TCP transport --------------------- */

/* Milliseconds from now until deadline_ns (CLOCK_MONOTONIC, as from
 * dsm__now_ns), rounded up; 0 if it has passed. Async-signal-safe. */
int dsm__sock_ms_until(uint64_t deadline_ns);

/* Wait until fd reports one of events (or an error/hangup) or deadline_ns
 * passes. Returns 0, DSM_ETIMEDOUT or -errno. Async-signal-safe. */
int dsm__sock_wait(int fd, short events, uint64_t deadline_ns);

/* Read exactly len bytes from non-blocking fd before deadline_ns.
 * Returns 0, DSM_EPEERDEAD (EOF or reset), DSM_ETIMEDOUT or -errno. */
int dsm__sock_read_full(int fd, void *buf, size_t len, uint64_t deadline_ns);

/* Write the iovec (modified in place) to non-blocking fd before
 * deadline_ns, with MSG_NOSIGNAL. *sent is increased by every byte
 * written, also on failure, so the caller knows whether the stream is
 * still aligned. Returns 0, DSM_ETIMEDOUT, DSM_EPEERDEAD (EPIPE/reset)
 * or -errno. No allocation; async-signal-safe. */
int dsm__sock_write_all(int fd, struct iovec *iov, int cnt, uint64_t deadline_ns,
			size_t *sent);
int dsm__sock_write_all_wait(int fd, struct iovec *iov, int cnt, uint64_t deadline_ns,
			     size_t *sent, int (*wait)(void *, int, uint64_t), void *ctx);

/* TCP_NODELAY and DSM_SOCK_BUF send/receive buffers on a link socket. */
void dsm__sock_tune(int fd);

/* Numeric host (into host[hcap]) and port of a socket address; "?" and 0
 * when it cannot be formatted. */
void dsm__sock_addr_str(const struct sockaddr *sa, socklen_t len, char *host,
			size_t hcap, uint16_t *port);

/* Split "host:port" or "[v6addr]:port" into NUL-terminated parts.
 * Returns 0 or -EINVAL (no port, empty host, too long). */
int dsm__sock_split_hostport(const char *s, char *host, size_t hcap, char *port,
			     size_t pcap);

/* Open a non-blocking, close-on-exec listening socket on host:port (port
 * "0" = ephemeral; host a numeric address or a name). Returns the fd or
 * a negative errno; failures are logged through n. */
int dsm__sock_listen(struct dsm_node *n, const char *host, const char *port);

/* Connect to host:port, retrying with a backoff of 10..250 ms (the peer
 * may not listen yet) until deadline_ns. Returns a tuned, non-blocking
 * fd, or DSM_ETIMEDOUT after logging the last error through n. */
int dsm__sock_connect(struct dsm_node *n, const char *host, const char *port,
		      uint64_t deadline_ns);

#endif /* DSM_NET_INTERNAL_H */
