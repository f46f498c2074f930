/*
 * prog_foreign — helper for test_foreign.sh, run as `dsmrun -n 3`.
 *
 * The last node starts a thread that opens three foreign TCP connections to
 * the coordinator address (DSM_COORDINATOR, where node 0 keeps listening)
 * and sends:
 *   1. 64 bytes of garbage (bad magic),
 *   2. a well-formed HELLO carrying a wrong job secret,
 *   3. a well-formed HELLO carrying a wrong wire version.
 * Node 0 must close each connection (read returns 0 or an error) within
 * CLOSE_WAIT_S seconds. Meanwhile every node's main thread runs rounds of
 * lock increments, page writes and barriers and checks the results, until
 * the foreign thread is done. Exit 0 iff every check passed; the script
 * greps node 0's log for the rejection reasons.
 *
 * Built with -Isrc: the HELLO is encoded with the library's own codec.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"
#include "core/node.h" /* dsm__parse_size: read DSM_HEAP_SIZE as dsm_init does */
#include "net/net.h"

#define MN_PROG "prog_foreign"
#include "../mn/mn_util.h"

#define CLOSE_WAIT_S 5
#define K 10            /* locked increments per node per round */
#define MIN_ROUNDS 20     /* work at least this long, refusals or not */
#define MAX_ROUNDS 100000
#define LOCK 1u
#define BAR 1u
#define BAR_SYNC 2u
#define MAXN 64

struct shared {
	uint64_t counter;        /* bound to LOCK */
	uint64_t done;           /* bound to LOCK: set by the foreign node */
	char pad[4096];
	uint64_t slot[MAXN][64]; /* bound to BAR: slot[k][*] written by node k */
};

/* ------------------------------------------------------------------ */
/* the foreign client                                                   */

static atomic_int foreign_done;
static int foreign_failures;

static void ffail(const char *what, const char *why)
{
	fprintf(stderr, "prog_foreign: node %d: FAIL: %s: %s\n", me, what, why);
	foreign_failures++;
}

static int connect_coordinator(const char *coord)
{
	char host[256];
	const char *colon = strrchr(coord, ':');
	if (colon == NULL || (size_t)(colon - coord) >= sizeof(host))
		return -EINVAL;
	memcpy(host, coord, (size_t)(colon - coord));
	host[colon - coord] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int fd = -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -ECONNREFUSED;
}

/* Send buf and wait until the peer closes. Returns NULL on success or a
 * description of what went wrong. */
static const char *send_and_expect_close(const char *coord, const void *buf,
					 size_t len)
{
	int fd = connect_coordinator(coord);
	if (fd < 0)
		return "cannot connect to DSM_COORDINATOR";
	/* A reset while sending means node 0 already closed: that is fine. */
	ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
	if (w < 0 && errno != EPIPE && errno != ECONNRESET) {
		close(fd);
		return "send failed";
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left_ms = CLOSE_WAIT_S * 1000 -
			       ((t.tv_sec - t0.tv_sec) * 1000 +
				(t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			close(fd);
			return "still open after CLOSE_WAIT_S (5) seconds";
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char junk[256];
		ssize_t n = read(fd, junk, sizeof(junk));
		if (n > 0)
			continue; /* whatever node 0 says, it must then close */
		if (n < 0 && errno == EINTR)
			continue;
		close(fd);
		return NULL; /* EOF or reset: closed by node 0 */
	}
}

static int parse_secret(const char *hex, uint8_t out[DSM_SECRET_LEN])
{
	if (hex == NULL || strlen(hex) != 2 * DSM_SECRET_LEN)
		return -1;
	for (unsigned i = 0; i < DSM_SECRET_LEN; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Header + HELLO payload for node id 1 of an n-node job. */
static size_t build_hello(unsigned char *out, size_t cap, int n,
			  const uint8_t secret[DSM_SECRET_LEN], uint32_t version)
{
	struct dsm_hello h;
	memset(&h, 0, sizeof(h));
	h.node_id = 1;
	h.node_count = (uint32_t)n;
	h.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	h.wire_version = version;
	h.heap_size = 1ull << 30;
	const char *hs = getenv("DSM_HEAP_SIZE");
	uint64_t v;
	if (hs != NULL && *hs != '\0' && dsm__parse_size(hs, &v) == 0)
		h.heap_size = v;
	memcpy(h.secret, secret, DSM_SECRET_LEN);
	h.listen_port = 9;
	snprintf(h.listen_host, sizeof(h.listen_host), "127.0.0.1");
	if (cap < DSM_WIRE_HDR_SIZE)
		return 0;
	size_t plen = dsm__hello_encode(&h, out + DSM_WIRE_HDR_SIZE,
					cap - DSM_WIRE_HDR_SIZE);
	if (plen == 0)
		return 0;
	struct dsm_msg m = { .type = DSM_MSG_HELLO, .src = 1, .seq = 1,
			     .length = (uint32_t)plen };
	dsm__msg_encode_hdr(&m, out);
	return DSM_WIRE_HDR_SIZE + plen;
}

static void *foreign(void *arg)
{
	int n = (int)(intptr_t)arg;
	const char *coord = getenv("DSM_COORDINATOR");
	uint8_t secret[DSM_SECRET_LEN];
	if (coord == NULL || parse_secret(getenv("DSM_SECRET"), secret) != 0) {
		ffail("environment", "DSM_COORDINATOR or DSM_SECRET missing/invalid");
		atomic_store(&foreign_done, 1);
		return NULL;
	}

	/* 1. garbage: 64 bytes that do not start with the magic */
	unsigned char garbage[64];
	for (unsigned i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(0xa5 ^ (i * 37));
	memcpy(garbage, "JUNK", 4);
	const char *why = send_and_expect_close(coord, garbage, sizeof(garbage));
	if (why)
		ffail("garbage connection", why);
	else
		printf("prog_foreign: garbage connection closed by node 0\n");

	/* 2. a well-formed HELLO with a wrong secret */
	unsigned char msg[DSM_WIRE_HDR_SIZE + 512];
	uint8_t bad[DSM_SECRET_LEN];
	memcpy(bad, secret, sizeof(bad));
	bad[7] ^= 0x40;
	size_t len = build_hello(msg, sizeof(msg), n, bad, DSM_WIRE_VERSION);
	if (len == 0) {
		ffail("HELLO", "cannot encode");
	} else if ((why = send_and_expect_close(coord, msg, len)) != NULL) {
		ffail("wrong-secret HELLO", why);
	} else {
		printf("prog_foreign: wrong-secret HELLO closed by node 0\n");
	}

	/* 3. a well-formed HELLO with a wrong wire version */
	len = build_hello(msg, sizeof(msg), n, secret, DSM_WIRE_VERSION + 41);
	if (len == 0) {
		ffail("HELLO", "cannot encode");
	} else if ((why = send_and_expect_close(coord, msg, len)) != NULL) {
		ffail("wrong-version HELLO", why);
	} else {
		printf("prog_foreign: wrong-version HELLO closed by node 0\n");
	}
	fflush(stdout);
	atomic_store(&foreign_done, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the job's own work                                                   */

static uint64_t slot_value(int k, int round, int j)
{
	return ((uint64_t)k << 40) ^ ((uint64_t)round << 8) ^ (uint64_t)j;
}

int main(int argc, char **argv)
{
	CHECK(dsm_init(&argc, &argv));
	me = dsm_node_id();
	int n = dsm_node_count();
	if (n < 2 || n > MAXN) {
		fprintf(stderr, "prog_foreign: needs 2..%d nodes (dsmrun -n 3)\n", MAXN);
		dsm_finalize();
		return 77;
	}
	int fnode = n - 1;

	struct shared *sh = mn_alloc_collective(sizeof *sh);
	CHECK(dsm_bind(LOCK, sh, offsetof(struct shared, pad)));
	CHECK(dsm_bind_barrier(BAR, sh->slot, sizeof sh->slot));
	volatile struct shared *s = sh;
	CHECK(dsm_barrier(BAR_SYNC));

	pthread_t th;
	if (me == fnode) {
		int rc = pthread_create(&th, NULL, foreign, (void *)(intptr_t)n);
		if (rc != 0)
			FAIL("pthread_create: %s", strerror(rc));
	}

	int r;
	for (r = 0; r < MAX_ROUNDS; r++) {
		for (int k = 0; k < K; k++) {
			CHECK(dsm_lock_acquire(LOCK));
			s->counter++;
			CHECK(dsm_lock_release(LOCK));
		}
		for (int j = 0; j < 64; j++)
			s->slot[me][j] = slot_value(me, r, j);
		CHECK(dsm_barrier(BAR));
		for (int k = 0; k < n; k++)
			for (int j = 0; j < 64; j++)
				if (s->slot[k][j] != slot_value(k, r, j))
					FAIL("round %d: slot[%d][%d] = %#llx, expected %#llx",
					     r, k, j, (unsigned long long)s->slot[k][j],
					     (unsigned long long)slot_value(k, r, j));
		CHECK(dsm_lock_acquire_shared(LOCK));
		uint64_t c = s->counter, done = s->done;
		CHECK(dsm_lock_release(LOCK));
		uint64_t want = (uint64_t)(r + 1) * (uint64_t)n * K;
		if (c != want)
			FAIL("round %d: counter %llu, expected %llu", r,
			     (unsigned long long)c, (unsigned long long)want);
		CHECK(dsm_barrier(BAR_SYNC)); /* everyone has read done */
		if (done && r + 1 >= MIN_ROUNDS)
			break;
		if (me == fnode && atomic_load(&foreign_done)) {
			CHECK(dsm_lock_acquire(LOCK));
			s->done = 1;
			CHECK(dsm_lock_release(LOCK));
		}
	}
	if (me == fnode) {
		pthread_join(th, NULL);
		if (foreign_failures)
			FAIL("%d foreign-connection check(s) failed", foreign_failures);
	}
	CHECK(dsm_barrier(BAR_SYNC));
	CHECK(dsm_finalize());
	if (me == 0)
		printf("prog_foreign: %d nodes, %d rounds of work while foreign"
		       " connections were refused: ok\n", n, r + 1);
	return 0;
}
