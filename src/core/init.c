/*
 * init.c — dsm_init / dsm_finalize, the service thread, and the small
 * public queries.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gc/hooks.h"
#include "hetero/hooks.h"
#include "node.h"
#include "proto/proto.h"
#include "replay/hooks.h"
#include "vm/peermem.h"
#include "vm/vm.h"

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

/* The service thread: receive and answer messages until told to stop. */
static void *service_main(void *arg)
{
	struct dsm_node *n = arg;
	uint64_t last_active = 0;
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	dsm__fault_thread_init();
	/* the fault handler refuses this thread: it must never wait on itself */
	__atomic_store_n(&n->service_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!atomic_load(&n->stopping)) {
		int to = 100, t = -1;
		if (n->proto->tick) {
			pthread_mutex_lock(&n->serve_mu);
			t = n->proto->tick(n);
			pthread_mutex_unlock(&n->serve_mu);
		}
		uint64_t before = __atomic_load_n(&n->stats.messages_recv, __ATOMIC_RELAXED), now = dsm__now_ns();
		if (t >= 0 && t < to)
			to = t;
		/* Busy-poll for a while after traffic: the next request or
		 * reply usually follows within microseconds, and catching it
		 * without sleeping saves a thread wake-up (tens of µs). When
		 * and how long: dsm__service_busy (wait.c). */
		if (dsm__service_busy(n, now - last_active))
			to = 0;
		if (n->tp->poll(n, to) < 0 && atomic_load(&n->failed))
			usleep(1000); /* links gone: don't spin */
		if (__atomic_load_n(&n->stats.messages_recv, __ATOMIC_RELAXED) != before)
			last_active = dsm__now_ns();
		else if (to == 0 && dsm__service_yields(n))
			sched_yield(); /* let runnable application threads go first */
	}
	return NULL;
}

/* Choose how long the service thread busy-polls after traffic. */
static void tune(struct dsm_node *n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* Spinning pays only when every node can have a core to itself;
	 * when nodes outnumber cores it steals time from the computation. */
	if (n->cfg.spin_us < 0) {
		n->cfg.spin_us = (n->count > 1 && cpus >= n->count) ? 50 : 0;
		n->spin_adaptive = 1; /* auto: spin on credit (wait.c) */
	}
}

/* The transport named by DSM_TRANSPORT (env.c accepts only these). */
static const struct dsm_transport_ops *find_transport(const char *name)
{
	static const struct dsm_transport_ops *const all[] = {
		&dsm__transport_tcp, &dsm__transport_mpi,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return &dsm__transport_tcp;
}

/* The transport's early step (MPI: init, rank, size), which may set the
 * node id and count; on failure whatever it left is closed. */
static int transport_setup(struct dsm_node *n)
{
	int err = n->tp->setup ? n->tp->setup(n) : 0;

	if (err && n->tp_state)
		n->tp->close(n);
	return err;
}

/* Allocate the node and read the configuration. */
static int node_create(struct dsm_node **out)
{
	struct dsm_node *n = calloc(1, sizeof(*n));
	const char *why = "";
	int err;

	if (!n)
		return -ENOMEM;
	dsm__set_fail_detail(0, NULL); /* a new job: forget the last one's failure */
	err = dsm__env_load(&n->cfg, &why);
	if (err) {
		dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: %s", why);
		dsm__set_config_error(why);
		free(n);
		return DSM_ECONFIG;
	}
	n->page_size = (size_t)sysconf(_SC_PAGESIZE);
	n->failed_node = -1;
	n->proto = dsm__proto_find(n->cfg.protocol);
	n->tp = find_transport(n->cfg.transport);
	if (!n->proto) {
		dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: DSM_PROTOCOL=%s: unknown",
			 n->cfg.protocol);
		free(n);
		return DSM_ECONFIG;
	}
	if ((err = transport_setup(n))) {
		free(n);
		return err;
	}
	n->id = n->cfg.node_id; /* after setup: MPI assigns them */
	n->count = n->cfg.node_count;
	dsm__waitq_init(&n->waitq);
	pthread_mutex_init(&n->serve_mu, NULL);
	tune(n);
	*out = n;
	return 0;
}

/* Undo whatever of node_start succeeded (fields are NULL-safe). */
static void node_destroy(struct dsm_node *n)
{
	if (n->service_started) {
		atomic_store(&n->stopping, 1);
		n->tp->wake(n);
		pthread_join(n->service, NULL);
	}
	if (n->tp_state)
		n->tp->close(n);
	dsm__rp_free(n); /* record/replay: after the service thread */
	dsm__tape_fini(n); /* tapes: uses the protocol's page table */
	if (n->proto_state && n->proto->fini)
		n->proto->fini(n);
	dsm__sync_fini(n);
	dsm__coll_fini(n);
	dsm__hetero_fini(n);
	dsm__gc_fini(n);
	dsm__peermem_fini(n);
	dsm__region_close(n->region);
	dsm__waitq_destroy(&n->waitq);
	pthread_mutex_destroy(&n->serve_mu);
	free(n);
}

/* DSM_HEAP_SIZE is valid but this machine cannot hold what a region that
 * large needs: say so as a configuration error naming the variable. */
static int heap_too_large(struct dsm_node *n, const char *what)
{
	char why[256];
	unsigned long long pages = n->cfg.heap_size / n->page_size;

	snprintf(why, sizeof(why), "DSM_HEAP_SIZE=%llu bytes (%llu pages): %s "
		 "cannot be allocated under DSM_PROTOCOL=%s on this machine; use "
		 "a smaller DSM_HEAP_SIZE", (unsigned long long)n->cfg.heap_size,
		 pages, what, n->cfg.protocol);
	DSM_ERR(n, "dsm_init: %s", why);
	dsm__set_config_error(why);
	return DSM_ECONFIG;
}

/* Region, subsystems, links, protocol, fault handler, service thread. */
static int node_start(struct dsm_node *n)
{
	const char *why = "";
	int err;

	err = dsm__region_init(&n->region, n->cfg.base, n->cfg.heap_size,
			       n->page_size, PROT_NONE, &why);
	if (err == -ENOMEM)
		return heap_too_large(n, "the page table");
	if (err) {
		DSM_ERR(n, "dsm_init: shared region at 0x%lx (%llu bytes): %s (%s)",
			(unsigned long)n->cfg.base,
			(unsigned long long)n->cfg.heap_size, why, dsm_strerror(err));
		return err;
	}
	if ((err = dsm__coll_init(n)) || (err = dsm__sync_init(n)) ||
	    (err = dsm__hetero_init(n)) || /* byte orders: the transport sets them */
	    (err = dsm__peermem_publish(n))) /* before any peer can ask */
		return err;
	if ((err = n->tp->init(n))) {
		DSM_ERR(n, "dsm_init: connecting the job failed: %s",
			dsm_strerror(err));
		return err;
	}
	dsm__peermem_map_all(n); /* every peer published before connecting */
	if ((err = n->proto->init(n))) {
		if (err == -ENOMEM)
			return heap_too_large(n, "the protocol's per-page state");
		return err;
	}
	if ((err = dsm__tape_init(n))) /* tapes and Tapeworm (src/tape) */
		return err == -ENOMEM ? heap_too_large(n, "the tape logs") : err;
	if ((err = dsm__rp_init(n))) /* DSM_RECORD / DSM_REPLAY (src/replay) */
		return err;
	if ((err = dsm__fault_install()))
		return err;
	err = pthread_create(&n->service, NULL, service_main, n);
	if (err)
		return -err;
	n->service_started = 1;
	return 0;
}

int dsm_init(int *argc, char ***argv)
{
	struct dsm_node *n;
	int err;

	(void)argc;
	(void)argv;
	pthread_mutex_lock(&init_mu);
	if (dsm__get()) {
		pthread_mutex_unlock(&init_mu);
		return -EALREADY;
	}
	err = node_create(&n);
	if (!err) {
		__atomic_store_n(&dsm__node, n, __ATOMIC_RELEASE);
		err = node_start(n);
		if (!err)
			dsm__rp_started(n); /* record/replay: the run token is armed */
		if (err) {
			__atomic_store_n(&dsm__node, NULL, __ATOMIC_RELEASE);
			dsm__fault_uninstall();
			node_destroy(n);
		}
	}
	pthread_mutex_unlock(&init_mu);
	return err;
}

/* Tell every node (this one too) that this node entered dsm_finalize
 * (FIN phase 0), so a barrier manager whose other nodes wait for this one
 * fails the job naming both instead of waiting forever. */
static void announce_finalize(struct dsm_node *n)
{
	struct dsm_msg m = { .type = DSM_MSG_FIN, .arg = { 0 } };

	if (n->count == 1 || atomic_load(&n->failed))
		return;
	for (int d = 0; d < n->count; d++)
		if (d != n->id)
			dsm__send(n, d, &m);
	dsm__sync_peer_finalizing(n, n->id);
}

int dsm_finalize(void)
{
	struct dsm_node *n;
	int err;

	pthread_mutex_lock(&init_mu);
	n = dsm__get();
	if (!n) {
		pthread_mutex_unlock(&init_mu);
		return DSM_ENOTINIT;
	}
	dsm__rp_finalizing(n); /* record/replay: the last boundary */
	announce_finalize(n);
	err = dsm__coll_finalize(n);
	err = dsm__rp_fini(n) ?: err;
	__atomic_store_n(&dsm__node, NULL, __ATOMIC_RELEASE);
	dsm__fault_uninstall();
	node_destroy(n);
	pthread_mutex_unlock(&init_mu);
	return err;
}

int dsm_node_id(void)
{
	struct dsm_node *n = dsm__get();
	return n ? n->id : DSM_ENOTINIT;
}

int dsm_node_count(void)
{
	struct dsm_node *n = dsm__get();
	return n ? n->count : DSM_ENOTINIT;
}

int dsm_stats(struct dsm_stats *out)
{
	struct dsm_node *n = dsm__get();
	const uint64_t *src;
	uint64_t *dst;

	if (!n)
		return DSM_ENOTINIT;
	if (!out)
		return -EINVAL;
	n->stats.map_resets = n->region->map_resets;
	src = (const uint64_t *)&n->stats;
	dst = (uint64_t *)out;
	for (size_t i = 0; i < sizeof(*out) / 8; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	return 0;
}
