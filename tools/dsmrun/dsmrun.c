/*
 * dsmrun — start N nodes of a libdsm program on this machine.
 *
 *   dsmrun -n N [--protocol P] [--stats FILE] [--tag-output] [--timeout T]
 *          [--record DIR | --replay DIR] program [args...]
 *
 * dsmrun makes a per-job secret, binds the coordinator's listening socket
 * (so its port is known before any node starts and no port can be stolen
 * in between), and forks N children in one new process group. Node 0 gets
 * the socket as fd 3. Every child learns its place in the job from DSM_*
 * variables (documented in src/core/env.c); the secret travels only in
 * the environment, never on a command line.
 *
 * Then dsmrun supervises: one poll() loop over a signalfd (SIGCHLD and the
 * signals it forwards) and, with --tag-output, the children's output pipes.
 * When a node fails, the others get DSM_TIMEOUT to notice and exit on their
 * own, then SIGTERM, then SIGKILL. Children die with dsmrun (PDEATHSIG), so
 * even a SIGKILLed dsmrun leaves no orphan nodes. In the foreground of a
 * terminal, the job's group is made the terminal's foreground group while
 * it runs (give_terminal), so a node may read the terminal.
 *
 * Naming the culprit: when one node dies the others fail soon after, and
 * the order in which the kernel reports them is arbitrary. So failures
 * reported within CULPRIT_WINDOW_MS of the first are ranked before any is
 * printed: a stopped node, then one killed by SIGKILL, then one killed by
 * another signal (not SIGBUS/SIGTERM, how survivors die), then exits with
 * a status; the culprit's line comes first and gives the exit status. A
 * stopped node (SIGSTOP: it answers nothing, and ignores SIGTERM) is named
 * at once and gets DSM_TIMEOUT to continue, then SIGKILL, so the job ends
 * within DSM_TIMEOUT (+ the survivors' exit) instead of waiting for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/node.h"
#include "vm/peermem.h"

#define EXIT_USAGE 2
#define EXIT_NOEXEC 127
#define TERM_GRACE_MS 2000   /* SIGTERM (after a failure) to SIGKILL */
#define SIGNAL_GRACE_MS 3000 /* forwarded SIGINT/TERM/HUP to SIGKILL */
#define DRAIN_MS 1000        /* output still read after the last node exits */
#define CULPRIT_WINDOW_MS 300 /* failures this close are ranked, not raced */
#define LINE_CAP 16384       /* longer lines are split */
#define LISTEN_FD_CHILD 3    /* node 0's fd for the coordinator socket */
#define FD_FLOOR 10          /* dsmrun's own fds live at or above this */

struct opts {
	int nodes;
	const char *protocol, *stats, *timeout;
	const char *record, *replay; /* DSM_RECORD / DSM_REPLAY directories */
	int tag_output;
	char **argv; /* program and its arguments */
	/* per node (heterogeneous jobs, docs/hetero.md): a command prefix
	 * ("qemu-s390x -L /usr/s390x-linux-gnu") and another program file */
	char *prefix[DSM_MAX_NODES];
	const char *program[DSM_MAX_NODES];
};

/* One child's stdout or stderr pipe, with the partial line read so far. */
struct stream {
	int fd;     /* read end, or -1 when closed */
	int out_fd; /* where tagged lines go: 1 or 2 */
	size_t len;
	char buf[LINE_CAP];
};

struct node {
	pid_t pid;
	int reaped;
	int stopped;       /* stopped by a signal (WUNTRACED), not continued */
	uint64_t stop_kill_at; /* SIGKILL it then if still stopped, 0 = none */
	int failed;        /* a failure was noted: rank, code, line below */
	int rank;          /* how likely the culprit (see the head comment) */
	int code;          /* dsmrun's exit status if this node is the culprit */
	uint64_t seq;      /* order in which failures were noted */
	int printed;
	char line[160];    /* "dsmrun: node K (pid P) ..." */
	struct stream out, err;
};

struct job {
	struct opts o;
	struct node node[DSM_MAX_NODES];
	char shm[DSM_MAX_NODES][96]; /* peer-memory records (vm/peermem.h) */
	pid_t parent;     /* dsmrun's pid, checked by children after PDEATHSIG */
	pid_t pgid;       /* the job's process group (node 0's pid) */
	int tty_taken;    /* the job's group is the terminal's foreground group */
	int listen_fd;
	int sig_fd;
	sigset_t old_mask;
	int alive;        /* children not yet reaped */
	int open_streams;
	int exit_code;    /* the culprit's code, -1 while none */
	uint64_t fail_seq;  /* failures noted so far */
	uint64_t decide_at; /* when to rank the failures and name the culprit */
	int decided;
	int timeout_ms;   /* DSM_TIMEOUT: grace for the others after a failure */
	uint64_t term_at, kill_at; /* monotonic ms deadlines, 0 = none */
};

/* What a child reports on its status pipe when it fails before exec. */
struct child_err {
	int stage; /* index into child_stage[] */
	int err;   /* errno */
};
static const char *const child_stage[] = { "exec", "setpgid", "dup2", "setenv" };

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Move fd to a number >= FD_FLOOR with close-on-exec, so it can neither
 * leak into a node nor collide with the fds a child dup2()s onto (1, 2,
 * 3). Returns the new fd, or -1 (and closes fd). */
static int lift_fd(int fd)
{
	int hi;

	if (fd < 0)
		return -1;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, FD_FLOOR);
	close(fd);
	return hi;
}

/* The short usage, for --help and usage errors. */
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dsmrun -n N [options] program [args...]\n"
		"Start N nodes of a libdsm program on this machine, connected over TCP.\n"
		"\n"
		"Options:\n"
		"  -n, --nodes N      number of nodes, 1..%d (required)\n"
		"      --protocol P   consistency protocol (sets DSM_PROTOCOL)\n"
		"      --stats FILE   write the job's JSON statistics to FILE (sets DSM_STATS)\n"
		"      --timeout T    peer timeout, e.g. 5s, 2.5s, 500ms (sets DSM_TIMEOUT);\n"
		"                     also how long the other nodes may run after one fails\n"
		"      --tag-output   prefix every output line with \"[K] \" (K = node id)\n"
		"      --record DIR   record the run's page ownership transitions into DIR\n"
		"                     (sets DSM_RECORD; DSM_PROTOCOL=sc unless set; docs/replay.md)\n"
		"      --replay DIR   replay the run recorded in DIR, in its order (sets DSM_REPLAY)\n"
		"      --node-prefix K=CMD  start node K as CMD program args (CMD split at\n"
		"                     spaces), e.g. 1='qemu-s390x -L /usr/s390x-linux-gnu'\n"
		"      --node-program K=FILE  node K runs FILE instead of the program\n"
		"                     (e.g. its s390x build; docs/hetero.md)\n"
		"  -h, --help         print this help and every DSM_* variable\n"
		"  -V, --version      print the version\n"
		"\n"
		"Exit status: 0 if every node exited 0; otherwise that of the node that\n"
		"failed first (128+N if killed or stopped by signal N; among failures\n"
		"within %d ms, a stopped or killed node before the nodes that exited\n"
		"because of it); 2 for a usage error; 127 if the program cannot be\n"
		"executed. A stopped node is killed after DSM_TIMEOUT.\n\n",
		DSM_MAX_NODES, CULPRIT_WINDOW_MS);
}

/* Print a usage error and exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dsmrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dsmrun --help' for more information.\n", stderr);
	exit(EXIT_USAGE);
}

/* Parse the node count strictly: 1..DSM_MAX_NODES, digits only. */
static int parse_nodes(const char *s)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < 1 || n > DSM_MAX_NODES)
		return -1;
	return (int)n;
}

/* Parse the command line into *o; --help and --version exit here. Options
 * stop at the program name ("+"), so the program's own options pass. */
static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_PROTOCOL = 256, OPT_STATS, OPT_TAG, OPT_TIMEOUT, OPT_RECORD, OPT_REPLAY,
	       OPT_PREFIX, OPT_PROGRAM };
	static const struct option longs[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "protocol", required_argument, NULL, OPT_PROTOCOL },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "tag-output", no_argument, NULL, OPT_TAG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "node-prefix", required_argument, NULL, OPT_PREFIX },
		{ "node-program", required_argument, NULL, OPT_PROGRAM },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "+n:hV", longs, NULL)) != -1) {
		switch (c) {
		case 'n':
			if ((o->nodes = parse_nodes(optarg)) < 0)
				usage_error("-n %s: expected a node count from 1 to %d",
					    optarg, DSM_MAX_NODES);
			break;
		case OPT_PROTOCOL: o->protocol = optarg; break;
		case OPT_STATS: o->stats = optarg; break;
		case OPT_TAG: o->tag_output = 1; break;
		case OPT_TIMEOUT: o->timeout = optarg; break;
		case OPT_RECORD: o->record = optarg; break;
		case OPT_REPLAY: o->replay = optarg; break;
		case OPT_PREFIX:
		case OPT_PROGRAM: {
			char *end;
			long k = strtol(optarg, &end, 10);
			if (end == optarg || *end != '=' || k < 0 || k >= DSM_MAX_NODES ||
			    !end[1])
				usage_error("--%s %s: expected K=VALUE with a node id K",
					    c == OPT_PREFIX ? "node-prefix" : "node-program",
					    optarg);
			if (c == OPT_PREFIX)
				o->prefix[k] = end + 1;
			else
				o->program[k] = end + 1;
			break;
		}
		case 'h':
			usage(stdout);
			dsm__env_usage(stdout);
			exit(0);
		case 'V':
			printf("dsmrun (libdsm) %d.%d\n", DSM_VERSION_MAJOR,
			       DSM_VERSION_MINOR);
			exit(0);
		default: /* getopt printed what was wrong */
			usage_error("invalid command line");
		}
	}
	if (o->nodes == 0)
		usage_error("missing -n N (number of nodes)");
	if (optind >= argc)
		usage_error("missing the program to run");
	for (int k = o->nodes; k < DSM_MAX_NODES; k++)
		if (o->prefix[k] || o->program[k])
			usage_error("--node-prefix/--node-program for node %d of %d", k,
				    o->nodes);
	if (o->record && o->replay)
		usage_error("--record and --replay exclude each other");
	if ((o->record || o->replay) && !o->protocol && !getenv("DSM_PROTOCOL"))
		o->protocol = "sc"; /* what record/replay works on */
	o->argv = argv + optind;
}

/* 32 random bytes as 64 lowercase hex digits (+ NUL) for DSM_SECRET. */
static int make_secret(char hex[2 * DSM_SECRET_LEN + 1])
{
	unsigned char raw[DSM_SECRET_LEN];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r < 0 && errno != EINTR)
			return -1;
		got += r > 0 ? (size_t)r : 0;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Format "host:port" ("[host]:port" for IPv6) of a bound socket. */
static int socket_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	return 0;
}

/* Bind a listening TCP socket on bind:0 for node 0 (the coordinator) and
 * write its address to coord. Returns the fd (close-on-exec), or -1 after
 * printing why. */
static int open_listener(const char *bind_addr, char *coord, size_t cap)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int fd = -1, rc = getaddrinfo(bind_addr, "0", &hints, &ai);

	if (rc != 0) {
		fprintf(stderr, "dsmrun: DSM_BIND=%s: %s\n", bind_addr, gai_strerror(rc));
		return -1;
	}
	fd = lift_fd(socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 4 * DSM_MAX_NODES) < 0 || socket_name(fd, coord, cap) < 0) {
		fprintf(stderr, "dsmrun: cannot listen on DSM_BIND=%s: %s\n",
			bind_addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* setenv that treats a NULL value as "leave as is". */
static int set_opt_env(const char *name, const char *value)
{
	return value ? setenv(name, value, 1) : 0;
}

/* Put the job's variables into dsmrun's own environment (children inherit
 * it; each child then sets its own DSM_NODE_ID), and validate the result,
 * passed-through DSM_* variables included, with the library's own parser,
 * as node 0 will see it. Exits 2 on a bad value. */
static void setup_env(struct job *j, const char *coord, const char *secret)
{
	struct dsm_config cfg;
	const char *why = "";
	char count[16];

	snprintf(count, sizeof(count), "%d", j->o.nodes);
	if (set_opt_env("DSM_PROTOCOL", j->o.protocol) ||
	    set_opt_env("DSM_STATS", j->o.stats) ||
	    set_opt_env("DSM_TIMEOUT", j->o.timeout) ||
	    set_opt_env("DSM_RECORD", j->o.record) ||
	    set_opt_env("DSM_REPLAY", j->o.replay) ||
	    setenv("DSM_NODE_COUNT", count, 1) || setenv("DSM_NODE_ID", "0", 1) ||
	    setenv("DSM_COORDINATOR", coord, 1) || setenv("DSM_SECRET", secret, 1) ||
	    setenv("DSM_LISTEN_FD", "3", 1)) {
		fprintf(stderr, "dsmrun: setenv: %s\n", strerror(errno));
		exit(1);
	}
	if (dsm__env_load(&cfg, &why) != 0)
		usage_error("%s", why);
	j->timeout_ms = cfg.timeout_ms;
}

/* Block the signals the supervision loop handles and open a signalfd for
 * them. Children restore j->old_mask before exec. */
static int setup_signals(struct job *j)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &j->old_mask) < 0)
		return -1;
	j->sig_fd = lift_fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	return j->sig_fd < 0 ? -1 : 0;
}

/*
 * If dsmrun runs in the foreground of a terminal (its stdin), make the
 * job's process group the foreground one, as a shell does for a job: a
 * node that reads the terminal (node 0 of an interactive program) would
 * otherwise be stopped by SIGTTIN, and Ctrl-C reaches the nodes directly.
 * take_terminal() gives it back when the job is over.
 */
static void give_terminal(struct job *j)
{
	sigset_t set;

	if (!isatty(0) || tcgetpgrp(0) != getpgrp() || tcsetpgrp(0, j->pgid) < 0)
		return;
	j->tty_taken = 1;
	/* dsmrun is in the background now: its messages (under stty tostop)
	 * and take_terminal's tcsetpgrp would stop it with SIGTTOU unless it
	 * is blocked. Nodes forked later start from j->old_mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static void take_terminal(struct job *j)
{
	if (j->tty_taken && tcsetpgrp(0, getpgrp()) < 0)
		fprintf(stderr, "dsmrun: taking the terminal back: %s\n", strerror(errno));
	j->tty_taken = 0;
}

/* In a child that failed before exec: tell the parent and exit. */
__attribute__((noreturn)) static void child_fail(int status_fd, int stage)
{
	struct child_err ce = { stage, errno };

	if (write(status_fd, &ce, sizeof(ce)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(EXIT_NOEXEC);
}

/* In child k: exec the program, through node k's prefix and with its own
 * program file if any. Returns only on failure (errno set). */
static void exec_node(struct job *j, int k)
{
	char *args[256], *pre = j->o.prefix[k] ? strdup(j->o.prefix[k]) : NULL;
	size_t na = 0;

	for (char *s = pre ? strtok(pre, " ") : NULL; s && na < 64; s = strtok(NULL, " "))
		args[na++] = s;
	args[na++] = (char *)(j->o.program[k] ? j->o.program[k] : j->o.argv[0]);
	for (int i = 1; j->o.argv[i] && na < 255; i++)
		args[na++] = j->o.argv[i];
	args[na] = NULL;
	execvp(args[0], args);
}

/* In child k after fork: die with dsmrun, join the job's process group,
 * wire fds and environment, exec the program. Never returns. */
__attribute__((noreturn)) static void child_exec(struct job *j, int k, int status_fd,
						 const int out[2], const int err[2])
{
	char id[16];

	/* PDEATHSIG first, then check dsmrun did not die before it took. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != j->parent)
		_exit(EXIT_NOEXEC);
	if (setpgid(0, j->pgid) < 0)
		child_fail(status_fd, 1);
	sigprocmask(SIG_SETMASK, &j->old_mask, NULL);
	if (j->o.tag_output && (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0))
		child_fail(status_fd, 2);
	/* dup2 clears close-on-exec on fd 3; the original stays CLOEXEC. */
	if (k == 0 && dup2(j->listen_fd, LISTEN_FD_CHILD) < 0)
		child_fail(status_fd, 2);
	snprintf(id, sizeof(id), "%d", k);
	if (setenv("DSM_NODE_ID", id, 1) < 0 ||
	    (k == 0 ? setenv("DSM_LISTEN_FD", "3", 1) : unsetenv("DSM_LISTEN_FD")) < 0)
		child_fail(status_fd, 3);
	exec_node(j, k);
	child_fail(status_fd, 0);
}

/* Open node k's stdout/stderr pipes for --tag-output (read ends kept in
 * the node, write ends returned in out[1]/err[1]). */
static int open_pipes(struct job *j, int k, int out[2], int err[2])
{
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	out[0] = lift_fd(out[0]);
	err[0] = lift_fd(err[0]);
	j->node[k].out = (struct stream){ .fd = out[0], .out_fd = 1 };
	j->node[k].err = (struct stream){ .fd = err[0], .out_fd = 2 };
	j->open_streams += 2;
	return out[0] < 0 || err[0] < 0 ? -1 : 0;
}

/* After fork: wait until child k has exec'd (status pipe closes) or has
 * reported why it could not. Returns 0, or the exit code for dsmrun after
 * printing the reason (127 if the program cannot be executed). */
static int wait_exec(struct job *j, int k, int status_fd)
{
	struct child_err ce;
	ssize_t r;

	do
		r = read(status_fd, &ce, sizeof(ce));
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(ce))
		return 0;
	if (ce.stage == 0) {
		fprintf(stderr, "dsmrun: cannot execute '%s': %s\n", j->o.argv[0],
			strerror(ce.err));
		return EXIT_NOEXEC;
	}
	fprintf(stderr, "dsmrun: node %d: %s failed: %s\n", k,
		child_stage[ce.stage], strerror(ce.err));
	return 1;
}

/* Fork and exec node k. Returns 0, or dsmrun's exit code if it could not
 * be started (the reason is printed). */
static int spawn_node(struct job *j, int k)
{
	int status[2], out[2] = { -1, -1 }, err[2] = { -1, -1 }, rc;
	pid_t pid;

	if (pipe2(status, O_CLOEXEC) < 0 ||
	    (j->o.tag_output && open_pipes(j, k, out, err) < 0)) {
		fprintf(stderr, "dsmrun: pipe: %s\n", strerror(errno));
		return 1;
	}
	status[1] = lift_fd(status[1]); /* must not be fd 3 in the child */
	pid = fork();
	if (pid == 0)
		child_exec(j, k, status[1], out, err);
	close(status[1]);
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	if (pid < 0) {
		fprintf(stderr, "dsmrun: fork: %s\n", strerror(errno));
		close(status[0]);
		return 1;
	}
	j->node[k].pid = pid;
	j->alive++;
	if (k == 0) {
		j->pgid = pid;
		setpgid(pid, pid); /* as the child does: the group exists from here */
		give_terminal(j);
	}
	rc = wait_exec(j, k, status[0]);
	close(status[0]);
	return rc;
}

/* Send sig to the job's process group while any node is unreaped (an
 * unreaped member keeps the group id from being reused). */
static void signal_group(struct job *j, int sig)
{
	if (j->alive > 0 && j->pgid > 0)
		kill(-j->pgid, sig);
}

/* Arm the SIGKILL deadline at t unless an earlier one is armed. */
static void arm_kill(struct job *j, uint64_t t)
{
	if (!j->kill_at || t < j->kill_at)
		j->kill_at = t;
}

enum { RANK_EXIT = 1, RANK_SIGNAL, RANK_KILL, RANK_STOP };

/* Print node k's failure line once. */
static void print_failure(struct job *j, int k)
{
	struct node *nd = &j->node[k];

	if (nd->failed && !nd->printed) {
		fprintf(stderr, "%s\n", nd->line);
		nd->printed = 1;
	}
}

/* Rank the failures noted so far: the culprit's line first, its code as
 * the job's exit status, then the others in the order they came. */
static void decide(struct job *j)
{
	int best = -1;

	for (int k = 0; k < j->o.nodes; k++) {
		struct node *nd = &j->node[k];
		if (nd->failed && (best < 0 || nd->rank > j->node[best].rank ||
				   (nd->rank == j->node[best].rank &&
				    nd->seq < j->node[best].seq)))
			best = k;
	}
	j->decided = 1;
	if (best < 0)
		return;
	j->exit_code = j->node[best].code;
	print_failure(j, best);
	for (uint64_t s = 0; s < j->fail_seq; s++)
		for (int k = 0; k < j->o.nodes; k++)
			if (j->node[k].failed && j->node[k].seq == s)
				print_failure(j, k);
}

/* Note node k's failure; the first starts the window in which failures
 * are ranked and the grace the other nodes get to exit on their own. */
__attribute__((format(printf, 5, 6)))
static void note_failure(struct job *j, int k, int rank, int code, const char *fmt, ...)
{
	struct node *nd = &j->node[k];
	va_list ap;

	if (nd->failed && nd->rank >= rank)
		return;
	va_start(ap, fmt);
	vsnprintf(nd->line, sizeof(nd->line), fmt, ap);
	va_end(ap);
	nd->failed = 1;
	nd->rank = rank;
	nd->code = code;
	nd->printed = 0;
	nd->seq = j->fail_seq++;
	if (nd->seq == 0) {
		uint64_t now = now_ms();
		j->decide_at = now + CULPRIT_WINDOW_MS;
		j->term_at = now + (uint64_t)j->timeout_ms;
	}
	if (j->decided)
		print_failure(j, k);
}

/* Note node k's exit if it failed. */
static void report_exit(struct job *j, int k, int status)
{
	pid_t pid = j->node[k].pid;
	int sig;

	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0)
			return;
		note_failure(j, k, RANK_EXIT, WEXITSTATUS(status),
			     "dsmrun: node %d (pid %d) exited with status %d", k,
			     (int)pid, WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		if (j->node[k].failed && j->node[k].rank == RANK_STOP) {
			/* killed by us after its stop: the stop is what it did */
			if (j->decided)
				fprintf(stderr, "dsmrun: node %d (pid %d) killed by signal "
					"%d (%s)\n", k, (int)pid, sig, strsignal(sig));
			return;
		}
		note_failure(j, k, sig == SIGKILL ? RANK_KILL
				   : (sig == SIGBUS || sig == SIGTERM) ? RANK_EXIT
								       : RANK_SIGNAL,
			     128 + sig, "dsmrun: node %d (pid %d) killed by signal %d (%s)",
			     k, (int)pid, sig, strsignal(sig));
	}
}

/* Node k stopped (SIGSTOP, SIGTSTP...): it answers nothing and ignores
 * SIGTERM. Name it now; SIGKILL it if it is still stopped after
 * DSM_TIMEOUT (the time the others take to give up on it). */
static void report_stop(struct job *j, int k, int sig)
{
	struct node *nd = &j->node[k];
	uint64_t now = now_ms();

	nd->stopped = 1;
	nd->stop_kill_at = now + (uint64_t)j->timeout_ms;
	note_failure(j, k, RANK_STOP, 128 + sig, "dsmrun: node %d (pid %d) stopped by "
		     "signal %d (%s): it answers nothing; SIGKILL in %d ms unless it "
		     "continues", k, (int)nd->pid, sig, strsignal(sig), j->timeout_ms);
	if (nd->seq == 0) {
		decide(j); /* nothing else failed: it is the culprit */
		/* the others exit on their own once it is killed (EOF) */
		j->term_at = nd->stop_kill_at + 1000;
	}
}

/* Reap every child that has ended; note the ones that stopped or went on. */
static void reap(struct job *j)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED)) > 0) {
		for (int k = 0; k < j->o.nodes; k++) {
			struct node *nd = &j->node[k];
			if (nd->pid != pid || nd->reaped)
				continue;
			if (WIFSTOPPED(status)) {
				report_stop(j, k, WSTOPSIG(status));
			} else if (WIFCONTINUED(status)) {
				nd->stopped = 0;
				nd->stop_kill_at = 0;
				fprintf(stderr, "dsmrun: node %d (pid %d) continued\n", k,
					(int)pid);
			} else {
				nd->reaped = 1;
				nd->stopped = 0;
				j->alive--;
				report_exit(j, k, status);
			}
		}
	}
	if (!j->decided && j->fail_seq && j->alive == 0)
		decide(j);
}

/* Drain the signalfd: reap on SIGCHLD, forward the others to every node
 * and give them SIGNAL_GRACE_MS before SIGKILL. */
static void on_signals(struct job *j)
{
	struct signalfd_siginfo si;

	while (read(j->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(j);
			continue;
		}
		signal_group(j, (int)si.ssi_signo);
		arm_kill(j, now_ms() + SIGNAL_GRACE_MS);
	}
}

/* Write all of buf to fd (a short write or EINTR is retried). */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return; /* output is gone; keep supervising */
		buf += w;
		len -= (size_t)w;
	}
}

/* Write "[k] " + line + "\n" in one write, so lines of different nodes
 * never interleave mid-line. */
static void emit_line(int k, int fd, const char *line, size_t len)
{
	static char out[LINE_CAP + 16];
	int pre = snprintf(out, sizeof(out), "[%d] ", k);

	memcpy(out + pre, line, len);
	out[pre + len] = '\n';
	write_all(fd, out, (size_t)pre + len + 1);
}

/* Emit every complete line in s->buf and keep the rest; a full buffer
 * without a newline is emitted as one line. */
static void emit_lines(int k, struct stream *s)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(s->buf + start, '\n', s->len - start)) != NULL) {
		emit_line(k, s->out_fd, s->buf + start, (size_t)(nl - (s->buf + start)));
		start = (size_t)(nl - s->buf) + 1;
	}
	if (start == 0 && s->len == sizeof(s->buf)) {
		emit_line(k, s->out_fd, s->buf, s->len);
		start = s->len;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
}

/* Close a stream, emitting its partial last line (with a newline). */
static void close_stream(struct job *j, int k, struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->len > 0)
		emit_line(k, s->out_fd, s->buf, s->len);
	s->len = 0;
	close(s->fd);
	s->fd = -1;
	j->open_streams--;
}

/* Read what node k wrote on one of its pipes and tag complete lines. */
static void pump(struct job *j, int k, struct stream *s)
{
	ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close_stream(j, k, s);
		return;
	}
	s->len += (size_t)r;
	emit_lines(k, s);
}

/* Act on the deadlines that have passed: SIGTERM the group once the
 * others' grace after a failure is over, SIGKILL 2 s after that. */
static void check_deadlines(struct job *j, uint64_t now)
{
	if (!j->decided && j->decide_at && now >= j->decide_at)
		decide(j);
	for (int k = 0; k < j->o.nodes; k++) {
		struct node *nd = &j->node[k];
		if (nd->stopped && nd->stop_kill_at && now >= nd->stop_kill_at) {
			nd->stop_kill_at = 0;
			fprintf(stderr, "dsmrun: node %d (pid %d) still stopped after %d ms; "
				"sending SIGKILL\n", k, (int)nd->pid, j->timeout_ms);
			kill(nd->pid, SIGKILL);
			/* the others give up on it about now; bound their exit */
			arm_kill(j, now + TERM_GRACE_MS);
		}
	}
	if (j->term_at && now >= j->term_at) {
		j->term_at = 0;
		if (j->alive > 0) {
			fprintf(stderr, "dsmrun: %d node(s) still running %d ms after the "
				"first failure; sending SIGTERM\n", j->alive, j->timeout_ms);
			signal_group(j, SIGTERM);
			arm_kill(j, now + TERM_GRACE_MS);
		}
	}
	if (j->kill_at && now >= j->kill_at) {
		j->kill_at = 0;
		if (j->alive > 0) {
			fprintf(stderr, "dsmrun: %d node(s) still running; sending SIGKILL\n",
				j->alive);
			signal_group(j, SIGKILL);
		}
	}
}

/* Milliseconds until the next deadline (drain_end when no node is left),
 * or -1 for none. */
static int poll_timeout(const struct job *j, uint64_t now, uint64_t drain_end)
{
	uint64_t next = 0;

	if (j->term_at)
		next = j->term_at;
	if (!j->decided && j->decide_at && (!next || j->decide_at < next))
		next = j->decide_at;
	for (int k = 0; k < j->o.nodes; k++)
		if (j->node[k].stop_kill_at && (!next || j->node[k].stop_kill_at < next))
			next = j->node[k].stop_kill_at;
	if (j->kill_at && (!next || j->kill_at < next))
		next = j->kill_at;
	if (j->alive == 0)
		next = drain_end;
	if (!next)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* Fill fds with the signalfd and every open stream; the matching stream
 * pointers (NULL for the signalfd) and node ids go to ss[] and ks[]. */
static int poll_set(struct job *j, struct pollfd *fds, struct stream **ss, int *ks)
{
	int n = 0;

	fds[n] = (struct pollfd){ .fd = j->sig_fd, .events = POLLIN };
	ss[n++] = NULL;
	for (int k = 0; k < j->o.nodes; k++) {
		struct stream *both[2] = { &j->node[k].out, &j->node[k].err };
		for (int i = 0; i < 2; i++) {
			if (!j->o.tag_output || both[i]->fd < 0)
				continue;
			fds[n] = (struct pollfd){ .fd = both[i]->fd, .events = POLLIN };
			ks[n] = k;
			ss[n++] = both[i];
		}
	}
	return n;
}

/* The supervision loop: until every node is reaped and (with
 * --tag-output) its output drained, or DRAIN_MS after the last exit if a
 * grandchild keeps a pipe open. */
static void supervise(struct job *j)
{
	struct pollfd fds[1 + 2 * DSM_MAX_NODES];
	struct stream *ss[1 + 2 * DSM_MAX_NODES];
	int ks[1 + 2 * DSM_MAX_NODES];
	uint64_t drain_end = 0;

	for (;;) {
		uint64_t now = now_ms();
		if (j->alive == 0 && !drain_end)
			drain_end = now + DRAIN_MS;
		if (j->alive == 0 && (j->open_streams == 0 || now >= drain_end))
			break;
		int n = poll_set(j, fds, ss, ks);
		if (poll(fds, (nfds_t)n, poll_timeout(j, now, drain_end)) < 0 &&
		    errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (ss[i])
				pump(j, ks[i], ss[i]);
			else
				on_signals(j);
		}
		check_deadlines(j, now_ms());
	}
	for (int k = 0; k < j->o.nodes; k++) {
		close_stream(j, k, &j->node[k].out);
		close_stream(j, k, &j->node[k].err);
	}
}

/* Start every node; on a failure kill and reap the ones already started
 * and return dsmrun's exit code. */
static int spawn_all(struct job *j)
{
	for (int k = 0; k < j->o.nodes; k++) {
		int rc = spawn_node(j, k);
		if (rc == 0)
			continue;
		signal_group(j, SIGKILL);
		while (j->alive > 0 && waitpid(-1, NULL, 0) > 0)
			j->alive--;
		return rc;
	}
	close(j->listen_fd); /* node 0 has it now */
	j->listen_fd = -1;
	return 0;
}

/* Initial state: no node, no stream open, no failure yet. */
static void init_job(struct job *j)
{
	j->parent = getpid();
	j->exit_code = -1;
	j->listen_fd = j->sig_fd = -1;
	for (int k = 0; k < DSM_MAX_NODES; k++)
		j->node[k].out.fd = j->node[k].err.fd = -1;
}

/* The nodes' peer-memory records (src/vm/peermem.h), removed at the end. */
static void shm_names(struct job *j, const char *hex)
{
	unsigned char raw[DSM_SECRET_LEN];

	for (size_t i = 0; i < DSM_SECRET_LEN; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		raw[i] = (unsigned char)strtoul(b, NULL, 16);
	}
	for (int k = 0; k < j->o.nodes; k++)
		dsm__peermem_path(raw, k, j->shm[k], sizeof(j->shm[k]));
	explicit_bzero(raw, sizeof(raw));
}

int main(int argc, char **argv)
{
	static struct job job; /* large (line buffers): not on the stack */
	struct job *j = &job;
	char secret[2 * DSM_SECRET_LEN + 1], coord[NI_MAXHOST + 16];
	const char *bind_addr = getenv("DSM_BIND");
	int rc;

	parse_args(argc, argv, &j->o);
	init_job(j);
	if (make_secret(secret) < 0) {
		fprintf(stderr, "dsmrun: getrandom: %s\n", strerror(errno));
		return 1;
	}
	j->listen_fd = open_listener(bind_addr ? bind_addr : "127.0.0.1", coord,
				     sizeof(coord));
	if (j->listen_fd < 0)
		return 1;
	setup_env(j, coord, secret);
	shm_names(j, secret);
	explicit_bzero(secret, sizeof(secret));
	if (setup_signals(j) < 0) {
		fprintf(stderr, "dsmrun: signals: %s\n", strerror(errno));
		return 1;
	}
	rc = spawn_all(j);
	if (rc == 0)
		supervise(j);
	take_terminal(j);
	for (int k = 0; k < j->o.nodes; k++) /* what a node that died left */
		unlink(j->shm[k]);
	if (rc != 0)
		return rc;
	return j->exit_code < 0 ? 0 : j->exit_code;
}
