/*
 * fault.c — the SIGSEGV handler.
 *
 * Async-signal-safe: no malloc, no stdio. Faults inside the region go to
 * the protocol (through dsm__vm_fault in core, which knows the node);
 * faults elsewhere are chained to the handler installed before ours, or
 * to the default action, so a real segfault still kills with SIGSEGV.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vm.h"
#include "core/node.h"
#include "proto/proto.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv;
static int installed;
static __thread void *thread_altstack __attribute__((tls_model("initial-exec")));
__thread int dsm__thread_ready __attribute__((tls_model("initial-exec")));
__thread int dsm__in_fault __attribute__((tls_model("initial-exec")));
__thread void *dsm__fault_addr __attribute__((tls_model("initial-exec")));
static __thread int fault_tid __attribute__((tls_model("initial-exec"))); /* 0: not asked */

/* Hand a fault we don't own to the handler in *old (the one installed
 * before ours). Shared with the deterministic spaces' handler. */
void dsm__segv_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* Default action: restore it and return; the faulting instruction
	 * runs again and the kernel kills the process with SIGSEGV (core). */
	signal(SIGSEGV, SIG_DFL);
}

/* Install handler for SIGSEGV the way every handler of ours needs it
 * (SA_SIGINFO, the alternate stack, all signals but SIGBUS blocked),
 * saving the previous action in *old. 0 or -errno. */
int dsm__segv_install(void (*handler)(int, siginfo_t *, void *), struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGBUS);
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	return sigaction(SIGSEGV, &sa, old) < 0 ? -errno : 0;
}

/* Text for err from static tables only: async-signal-safe (no strerror,
 * whose buffer and locale lookup are not). */
static const char *safe_strerror(int err)
{
	switch (err) {
	case DSM_ENOTINIT: return "libdsm is not initialised";
	case DSM_EPEERDEAD: return "a peer node died or stopped answering";
	case DSM_ECONFIG: return "bad DSM_* environment setting";
	case DSM_EPROTO: return "malformed or rejected message";
	case DSM_EMAPLIMIT: return "vm.max_map_count reached";
	case DSM_ETIMEDOUT: return "no answer within DSM_TIMEOUT";
	case -ENOMEM: return "out of memory";
	case -EINVAL: return "invalid argument";
	case -EIO: return "input/output error";
	case -EFAULT: return "bad address";
	case -EMSGSIZE: return "message too long";
	case -EPIPE: case -ECONNRESET: return "connection to a peer broken";
	case -EAGAIN: return "resource temporarily unavailable";
	default: return "error";
	}
}

/* "dsm: node ID" then what, then the address in hex, into l. */
static void put_head(struct dsm_line *l, int id, const char *what, void *addr)
{
	dsm__line_put(l, "dsm: node ");
	dsm__line_num(l, (uint64_t)id, 10);
	dsm__line_put(l, what);
	dsm__line_num(l, (uint64_t)(uintptr_t)addr, 16);
}

/* The access cannot be served: say why, then die with SIGBUS. */
static void fault_fatal(struct dsm_node *n, void *addr, int err)
{
	struct dsm_line l = { .len = 0 };

	put_head(&l, n->id, ": access to shared address 0x", addr);
	dsm__line_put(&l, " cannot be served: ");
	/* fail_reason is written once, before failed is published */
	dsm__line_put(&l, atomic_load(&n->failed) && n->fail_reason[0] ? n->fail_reason
								       : safe_strerror(err));
	if (err < 0 && err > -4096) {
		dsm__line_put(&l, " (errno ");
		dsm__line_num(&l, (uint64_t)-err, 10);
		dsm__line_put(&l, ")");
	}
	dsm__line_put(&l, "\n");
	dsm__line_write(&l);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* The service thread touched the application view: it would wait for its
 * own reply forever. A runtime bug; say so and stop the process at once. */
static void service_fault(struct dsm_node *n, void *addr)
{
	struct dsm_line l = { .len = 0 };

	put_head(&l, n->id, ": BUG: the service thread faulted on shared address 0x", addr);
	dsm__line_put(&l, " (the runtime must use the runtime view); aborting\n");
	dsm__line_write(&l);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* SIGSEGV entry point. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	struct dsm_node *n = __atomic_load_n(&dsm__node, __ATOMIC_ACQUIRE);
	int saved_errno = errno;
	int err;

	if (!n || !n->region || !dsm__region_contains(n->region, si->si_addr)) {
		dsm__segv_chain(&old_segv, sig, si, uc);
		errno = saved_errno;
		return;
	}
	/* atomic: the service thread publishes its tid while others fault;
	 * ours is asked once per thread (a syscall per fault costs 1 us on
	 * a paravirtualised VM) */
	int service_tid = __atomic_load_n(&n->service_tid, __ATOMIC_ACQUIRE);
	if (service_tid && !fault_tid)
		fault_tid = (int)syscall(SYS_gettid);
	if (service_tid && fault_tid == service_tid)
		service_fault(n, si->si_addr);
	dsm__in_fault++; /* sends from here must stay async-signal-safe */
	err = dsm__vm_fault(n, si->si_addr, dsm__arch_fault_is_write(uc));
	dsm__in_fault--;
	if (err)
		fault_fatal(n, si->si_addr, err);
	errno = saved_errno;
}

static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;

/* Thread exit: switch the alternate stack off, then unmap it. */
static void altstack_free(void *p)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	sigaltstack(&ss, NULL);
	munmap(p, ALTSTACK_SIZE);
}

static void altstack_key_create(void)
{
	pthread_key_create(&altstack_key, altstack_free);
}

/*
 * Give the calling thread an alternate signal stack if it has none, so a
 * fault taken near the end of its stack can still be handled. The
 * initialising thread and the service thread get one in dsm_init; any
 * other application thread gets one on its first dsm_* call (dsm__get,
 * through dsm__thread_ready). A thread that only loads and stores runs
 * the handler on its own stack, which is fine unless that stack is full.
 * Freed when the thread exits.
 */
int dsm__fault_thread_init(void)
{
	stack_t ss, old;
	void *p;

	dsm__thread_ready = 1;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return 0;
	if (!thread_altstack) {
		pthread_once(&altstack_once, altstack_key_create);
		p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		thread_altstack = p;
		pthread_setspecific(altstack_key, p);
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = thread_altstack;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, NULL) < 0)
		return -errno;
	return 0;
}

/* Install our SIGSEGV handler, remembering the previous one. */
int dsm__fault_install(void)
{
	int err;

	if (installed)
		return 0;
	if ((err = dsm__segv_install(on_segv, &old_segv)))
		return err;
	installed = 1;
	return dsm__fault_thread_init();
}

/* Put the previous SIGSEGV handler back. */
void dsm__fault_uninstall(void)
{
	if (!installed)
		return;
	sigaction(SIGSEGV, &old_segv, NULL);
	installed = 0;
}

/* The last fault this thread passed back as "retry", to tell a write from
 * a read that raced with an install when the CPU gives no hint. */
static __thread struct {
	size_t page;
	uint32_t seq;
	int valid;
} last_retry __attribute__((tls_model("initial-exec")));

/*
 * Is a fault on a READ_SHARED page (protection already PROT_READ) a write?
 * With a hint, the hint says. Without one, the fault may be a read that
 * raced with another thread installing the page: return it once for a
 * retry; the same page faulting again with nothing changed is a write.
 */
static int rs_fault_is_write(struct dsm_page *pg, size_t p, int write_hint)
{
	uint32_t seq = atomic_load(&pg->wait_seq);

	if (write_hint >= 0)
		return write_hint;
	if (last_retry.valid && last_retry.page == p && last_retry.seq == seq) {
		last_retry.valid = 0;
		return 1;
	}
	last_retry.page = p;
	last_retry.seq = seq;
	last_retry.valid = 1;
	return 0;
}

/*
 * Resolve a fault: if the page's state already allows the access and only
 * the protection lags (after a map reset, or another thread just fixed
 * it), raise the protection locally; otherwise ask the protocol.
 */
int dsm__vm_fault(struct dsm_node *n, void *addr, int write_hint)
{
	struct dsm_region *r = n->region;
	size_t p = dsm__region_page_of(r, addr);
	struct dsm_page *pg = &r->pages[p];
	int allowed, want_write = write_hint;

	dsm__fault_addr = addr;
	pthread_mutex_lock(&r->lock);
	if (!(pg->flags & DSM_PGF_INIT)) {
		pthread_mutex_unlock(&r->lock);
		return n->proto->fault(n, p, write_hint);
	}
	allowed = dsm__page_state_prot(pg->state);
	if (allowed & ~pg->prot) {
		int err = dsm__vm_protect(r, p, 1, allowed);
		pthread_mutex_unlock(&r->lock);
		DSM_STAT_ADD(n, local_faults, 1);
		return err;
	}
	if (pg->state == DSM_PAGE_READ_SHARED) {
		/* Recording or replaying, the node has one application thread,
		 * so no install races this fault: a fault on a readable page is
		 * a write. (The retry below depends on timing, and it changed
		 * how many faults reached the protocol between record and
		 * replay: docs/replay.md, Limits.) */
		want_write = write_hint < 0 && n->rp_mode ? 1 :
			     rs_fault_is_write(pg, p, write_hint);
		if (!want_write) { /* a read that another thread resolved */
			pthread_mutex_unlock(&r->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n->proto->fault(n, p, want_write);
}
