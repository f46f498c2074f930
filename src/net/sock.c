/*
 * sock.c — socket helpers for the TCP transport: deadline-bounded I/O,
 * address parsing, listening and connecting with retry.
 *
 * The I/O helpers (dsm__sock_wait, dsm__sock_write_all) are
 * async-signal-safe: the SIGSEGV handler sends through them.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/node.h"
#include "internal.h"

/* Milliseconds from now until deadline_ns, rounded up, >= 0. */
int dsm__sock_ms_until(uint64_t deadline_ns)
{
	uint64_t now = dsm__now_ns();

	if (deadline_ns <= now)
		return 0;
	uint64_t ms = (deadline_ns - now + DSM_NS_PER_MS - 1) / DSM_NS_PER_MS;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Sleep for ms milliseconds (setup backoff only). */
static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait until fd is ready for events or deadline passes. Async-signal-safe.
 * Returns 0 (ready, possibly with an error condition), DSM_ETIMEDOUT or a
 * negative errno. */
int dsm__sock_wait(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, dsm__sock_ms_until(deadline_ns));
		if (r > 0)
			return 0;
		if (r == 0)
			return DSM_ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Read exactly len bytes from a non-blocking fd before deadline_ns.
 * Returns 0, DSM_EPEERDEAD on EOF/reset, DSM_ETIMEDOUT or -errno. */
int dsm__sock_read_full(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
		} else if (r == 0 || errno == ECONNRESET) {
			return DSM_EPEERDEAD;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = dsm__sock_wait(fd, POLLIN, deadline_ns);
			if (rc)
				return rc;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Write an iovec completely before deadline_ns; *sent counts the bytes
 * written even on failure. No allocation, async-signal-safe. Returns 0,
 * DSM_ETIMEDOUT, DSM_EPEERDEAD (peer gone) or -errno. */
int dsm__sock_write_all(int fd, struct iovec *iov, int cnt, uint64_t deadline_ns,
			size_t *sent)
{
	return dsm__sock_write_all_wait(fd, iov, cnt, deadline_ns, sent, NULL, NULL);
}

/* The same, waiting for writability with wait(ctx, fd, deadline) when
 * given (the service thread keeps reading while it waits). */
int dsm__sock_write_all_wait(int fd, struct iovec *iov, int cnt, uint64_t deadline_ns,
			     size_t *sent, int (*wait)(void *, int, uint64_t), void *ctx)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };

	while (mh.msg_iovlen > 0) {
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return (errno == EPIPE || errno == ECONNRESET)
					       ? DSM_EPEERDEAD : -errno;
			int rc = wait ? wait(ctx, fd, deadline_ns)
				      : dsm__sock_wait(fd, POLLOUT, deadline_ns);
			if (rc)
				return rc;
			continue;
		}
		*sent += (size_t)r;
		while (mh.msg_iovlen > 0 && (size_t)r >= mh.msg_iov->iov_len) {
			r -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + r;
			mh.msg_iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Options every link socket gets: no Nagle (request/reply traffic),
 * large buffers (pages and diffs), non-blocking. */
void dsm__sock_tune(int fd)
{
	int one = 1, sz = DSM_SOCK_BUF;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* Numeric host and port of a socket address. */
void dsm__sock_addr_str(const struct sockaddr *sa, socklen_t len, char *host,
			size_t hcap, uint16_t *port)
{
	char serv[16];

	if (getnameinfo(sa, len, host, (socklen_t)hcap, serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, hcap, "?");
		snprintf(serv, sizeof(serv), "0");
	}
	*port = (uint16_t)atoi(serv);
}

/* Split "host:port", "[v6]:port" or "v6addr" + ":port" at the last ':'.
 * Returns 0 or -EINVAL. */
int dsm__sock_split_hostport(const char *s, char *host, size_t hcap, char *port,
			     size_t pcap)
{
	const char *colon = strrchr(s, ':');

	if (!colon || colon == s || colon[1] == '\0' ||
	    strlen(colon + 1) >= pcap)
		return -EINVAL;
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= hcap)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	snprintf(port, pcap, "%s", colon + 1);
	return 0;
}

/* getaddrinfo for a stream socket; passive for listening. Returns 0 or
 * -EINVAL with *why from gai_strerror. */
static int resolve(const char *host, const char *port, int passive,
		   struct addrinfo **res, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_family = AF_UNSPEC };

	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	int r = getaddrinfo(host[0] ? host : NULL, port, &hints, res);
	if (r != 0) {
		*why = gai_strerror(r);
		return -EINVAL;
	}
	return 0;
}

/* Open a non-blocking listening socket on host:port (port "0" picks an
 * ephemeral one). Returns the fd or a negative errno (logged). */
int dsm__sock_listen(struct dsm_node *n, const char *host, const char *port)
{
	struct addrinfo *res, *ai;
	const char *why = NULL;
	int fd = -EADDRNOTAVAIL, one = 1;

	if (resolve(host, port, 1, &res, &why) < 0) {
		DSM_ERR(n, "tcp: cannot resolve %s:%s: %s", host, port, why);
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		int err = -errno;
		close(fd);
		fd = err;
	}
	freeaddrinfo(res);
	if (fd < 0)
		DSM_ERR(n, "tcp: cannot listen on %s:%s: %s", host, port, strerror(-fd));
	return fd;
}

/* Start a non-blocking connect to one address and wait for it until
 * deadline_ns. Returns the connected fd or a negative errno. */
static int connect_addr(const struct addrinfo *ai, uint64_t deadline_ns)
{
	int err = 0;
	socklen_t el = sizeof(err);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else {
			int rc = dsm__sock_wait(fd, POLLOUT, deadline_ns);
			if (rc) {
				close(fd);
				return rc == DSM_ETIMEDOUT ? -ETIMEDOUT : rc;
			}
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		}
	}
	if (err) {
		close(fd);
		return -err;
	}
	dsm__sock_tune(fd);
	return fd;
}

/* Connect to host:port, retrying with a short backoff (the peer may not be
 * listening yet) until deadline_ns. Returns an fd or an error (logged). */
int dsm__sock_connect(struct dsm_node *n, const char *host, const char *port,
		      uint64_t deadline_ns)
{
	int backoff = 10, fd = -ETIMEDOUT;
	const char *why = NULL;

	for (;;) {
		struct addrinfo *res, *ai;
		if (resolve(host, port, 0, &res, &why) == 0) {
			for (ai = res; ai; ai = ai->ai_next) {
				fd = connect_addr(ai, deadline_ns);
				if (fd >= 0)
					break;
			}
			freeaddrinfo(res);
			if (fd >= 0)
				return fd;
			why = strerror(-fd);
		}
		if (dsm__now_ns() + (uint64_t)backoff * DSM_NS_PER_MS >= deadline_ns)
			break;
		sleep_ms(backoff);
		backoff = backoff * 2 > 250 ? 250 : backoff * 2;
	}
	DSM_ERR(n, "tcp: cannot connect to %s:%s: %s", host, port, why ? why : "?");
	return DSM_ETIMEDOUT;
}
