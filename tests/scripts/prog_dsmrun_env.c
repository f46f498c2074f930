/*
 * prog_dsmrun_env — a node program for test_dsmrun.sh. It does not call
 * dsm_init: it checks the environment dsmrun gives each node, then behaves
 * as argv[1] says (extra arguments, e.g. a unique token for pgrep, are
 * ignored):
 *
 *   print               print "node ID of COUNT" and exit 0
 *   lines               print two stdout lines, one stderr line and an
 *                       unterminated stdout line, exit 0
 *   exit-on K S         node K exits with status S, the others exit 0
 *   kill-on K           node K kills itself with SIGKILL, the others exit 0
 *   hang-except K S     node K exits with S after 200 ms, the others sleep
 *   sleep               every node prints "ready ID" and sleeps until killed
 *   ignore-term         every node ignores SIGTERM/SIGINT/SIGHUP, prints
 *                       "ready ID" and sleeps
 *
 * A failed check prints "prog_dsmrun_env: node K: what" and exits 99.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int node_id = -1;

/* Report a failed check and exit 99. */
static void fail(const char *what)
{
	fprintf(stderr, "prog_dsmrun_env: node %d: %s\n", node_id, what);
	exit(99);
}

/* Parse a whole decimal string, or -1. */
static long num(const char *s)
{
	char *end;
	long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	return *end ? -1 : v;
}

/* Does file path (NUL-separated, like /proc/x/cmdline) contain needle? */
static int file_contains(const char *path, const char *needle)
{
	static char buf[1 << 16];
	size_t n, nl = strlen(needle);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; i + nl <= n; i++)
		if (memcmp(buf + i, needle, nl) == 0)
			return 1;
	return 0;
}

/* The secret: 64 hex digits, in no command line (ours or dsmrun's). */
static void check_secret(int argc, char **argv)
{
	const char *s = getenv("DSM_SECRET");
	char path[64];

	if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
		fail("DSM_SECRET is not 64 hex digits");
	for (int i = 0; i < argc; i++)
		if (strstr(argv[i], s))
			fail("DSM_SECRET appears in argv");
	if (file_contains("/proc/self/cmdline", s))
		fail("DSM_SECRET appears in /proc/self/cmdline");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)getppid());
	if (file_contains(path, s))
		fail("DSM_SECRET appears in dsmrun's command line");
}

/* Port of fd if it is a listening TCP socket, else 0. */
static int listening_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 0;
	socklen_t ol = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) < 0 || !on)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Node 0 holds the coordinator's socket as fd 3 (DSM_LISTEN_FD=3); no
 * other node holds it on any fd. */
static void check_listen_fd(void)
{
	const char *coord = getenv("DSM_COORDINATOR");
	const char *colon = coord ? strrchr(coord, ':') : NULL;
	long port = colon ? num(colon + 1) : -1;
	const char *lfd = getenv("DSM_LISTEN_FD");

	if (port <= 0)
		fail("DSM_COORDINATOR is not host:port");
	if (node_id == 0) {
		if (!lfd || strcmp(lfd, "3") != 0 || listening_port(3) != port)
			fail("node 0 lacks DSM_LISTEN_FD=3 with the coordinator socket");
		return;
	}
	if (lfd)
		fail("DSM_LISTEN_FD set on a node other than 0");
	for (int fd = 3; fd < 1024; fd++)
		if (listening_port(fd) == port)
			fail("a node other than 0 inherited the coordinator socket");
}

/* Every check on the environment dsmrun set up. */
static long check_env(int argc, char **argv)
{
	long count = num(getenv("DSM_NODE_COUNT"));

	node_id = (int)num(getenv("DSM_NODE_ID"));
	if (count < 1 || count > 64)
		fail("DSM_NODE_COUNT missing or out of range");
	if (node_id < 0 || node_id >= count)
		fail("DSM_NODE_ID missing or not below DSM_NODE_COUNT");
	check_secret(argc, argv);
	check_listen_fd();
	return count;
}

/* Say "ready ID" (so a test knows signal dispositions are set), then
 * sleep until a signal ends the process. */
static void sleep_forever(void)
{
	printf("ready %d\n", node_id);
	fflush(stdout);
	for (;;)
		pause();
}

/* Argument i as a number, or fail. */
static int arg(int argc, char **argv, int i)
{
	long v = i < argc ? num(argv[i]) : -1;

	if (v < 0)
		fail("bad arguments");
	return (int)v;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "print";
	long count = check_env(argc, argv);

	if (strcmp(mode, "print") == 0) {
		printf("node %d of %ld\n", node_id, count);
	} else if (strcmp(mode, "lines") == 0) {
		printf("out-a %d\nout-b %d\n", node_id, node_id);
		fflush(stdout);
		fprintf(stderr, "err-a %d\n", node_id);
		printf("tail %d", node_id);
	} else if (strcmp(mode, "exit-on") == 0) {
		if (node_id == arg(argc, argv, 2))
			return arg(argc, argv, 3);
	} else if (strcmp(mode, "kill-on") == 0) {
		if (node_id == arg(argc, argv, 2))
			raise(SIGKILL);
	} else if (strcmp(mode, "hang-except") == 0) {
		if (node_id != arg(argc, argv, 2))
			sleep_forever();
		usleep(200 * 1000);
		return arg(argc, argv, 3);
	} else if (strcmp(mode, "sleep") == 0) {
		sleep_forever();
	} else if (strcmp(mode, "ignore-term") == 0) {
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		sleep_forever();
	} else {
		fail("unknown mode");
	}
	return 0;
}
