/*
 * fault.c — the SIGSEGV handler.
 *
 * Async-signal-safe: no malloc, no stdio. Faults inside the region go to
 * the protocol (through dsm__vm_fault in core, which knows the node);
 * faults elsewhere are chained to the handler installed before ours, or
 * to the default action, so a real segfault still kills with SIGSEGV.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"
#include "core/node.h"
#include "proto/proto.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv;
static int installed;
static __thread void *thread_altstack;

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

/* The access cannot be served: say why, then die with SIGBUS. */
static void fault_fatal(struct dsm_node *n, void *addr, int err)
{
	char num[24];

	dsm__write_str("dsm: node ");
	dsm__write_str(dsm__utoa((uint64_t)n->id, num, 10));
	dsm__write_str(": access to shared address 0x");
	dsm__write_str(dsm__utoa((uint64_t)(uintptr_t)addr, num, 16));
	dsm__write_str(" cannot be served: ");
	dsm__write_str(n->fail_reason[0] ? n->fail_reason : dsm_strerror(err));
	dsm__write_str("\n");
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
	err = dsm__vm_fault(n, si->si_addr, dsm__arch_fault_is_write(uc));
	if (err)
		fault_fatal(n, si->si_addr, err);
	errno = saved_errno;
}

/* Give the calling thread an alternate signal stack if it has none, so a
 * fault taken near the end of its stack can still be handled. */
int dsm__fault_thread_init(void)
{
	stack_t ss, old;

	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return 0;
	if (!thread_altstack) {
		thread_altstack = malloc(ALTSTACK_SIZE);
		if (!thread_altstack)
			return -ENOMEM;
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
		want_write = rs_fault_is_write(pg, p, write_hint);
		if (!want_write) { /* a read that another thread resolved */
			pthread_mutex_unlock(&r->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n->proto->fault(n, p, want_write);
}
