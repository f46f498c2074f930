/*
 * vm.h — the shared region and everything about pages (src/vm).
 *
 * The region is one memfd mapped twice: the application view at a fixed
 * address, whose protections the protocol changes, and the runtime view,
 * always writable, through which incoming data is written. The vm layer
 * knows nothing about networks or protocols: it reports faults to the
 * protocol through dsm_protocol_ops.fault.
 */
#ifndef DSM_VM_H
#define DSM_VM_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <signal.h>
#include <sys/mman.h>

struct dsm_node;

/* Page states: what accesses the protocol allows on this node. The
 * protection of the application view may be lower (never higher) than the
 * state allows; a fault then is resolved locally. (One exception: hlrc's
 * shared home pages whose writes the kernel or a hash records, writable
 * while READ_SHARED: src/proto/hlrc_wp.c.) Each protocol uses a
 * subset and moves between them through its own checked transition table
 * (src/proto: sc.c, lrc.c, hlrc.c; docs/protocols/<name>.md). */
#define DSM_PAGE_STATE_MAP(XX)                                             \
	XX(INVALID, 0)         /* no valid copy here */                    \
	XX(READ_SHARED, 1)     /* valid copy, read-only */                 \
	XX(WRITE_EXCLUSIVE, 2) /* writable, no other writer tracked (sc's  \
				  owner, hlrc's private home page) */       \
	XX(DIRTY, 3)           /* valid, writable, twinned: written in the  \
				  open interval; others may write it too */

enum dsm_page_state {
#define XX(name, num) DSM_PAGE_##name = num,
	DSM_PAGE_STATE_MAP(XX)
#undef XX
	DSM_PAGE_STATE_COUNT_
};

/* One entry per page of the region: what the vm layer needs to resolve a
 * fault locally. Everything else a protocol keeps about a page is in its
 * own per-page table (struct sc_page, lrc_page, hlrc_page). Fields other
 * than wait_seq are protected by region->lock. */
struct dsm_page {
	uint8_t state;       /* enum dsm_page_state */
	uint8_t prot;        /* current PROT_* of the application view */
	uint8_t flags;       /* DSM_PGF_* */
	uint8_t pad_;
	_Atomic uint32_t wait_seq; /* futex word: bumped when the page changes */
};

#define DSM_PGF_INIT  0x01 /* entry initialised (lazy) */

struct dsm_region {
	unsigned char *app;  /* application view, at the fixed base */
	unsigned char *rt;   /* runtime view, always RW */
	size_t size;
	size_t page_size;
	size_t npages;
	int fd;
	struct dsm_page *pages; /* reserved with mmap, backed lazily */
	size_t pages_bytes;
	pthread_mutex_t lock;  /* page table + protections */
	struct dsm_wp *wp;     /* kernel write tracking of the application
				* view (vm/wp.h: uffd only), or NULL */
	uint64_t map_resets;
};

const char *dsm__page_state_name(unsigned state);
/* Highest protection the state allows. */
int dsm__page_state_prot(unsigned state);

static inline void dsm__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Map the region (both views) at base with size bytes. app_prot is the
 * initial protection of the whole application view. Returns 0, -EEXIST if
 * the address range is taken, -ENOMEM, -EINVAL. *why names the failure. */
int dsm__region_init(struct dsm_region **out, uintptr_t base, size_t size,
		     size_t page_size, int app_prot, const char **why);
void dsm__region_close(struct dsm_region *r);

static inline int dsm__region_contains(const struct dsm_region *r, const void *a)
{
	return (const unsigned char *)a >= r->app &&
	       (const unsigned char *)a < r->app + r->size;
}
static inline size_t dsm__region_page_of(const struct dsm_region *r, const void *a)
{
	return (size_t)((const unsigned char *)a - r->app) / r->page_size;
}
static inline unsigned char *dsm__page_rt(const struct dsm_region *r, size_t p)
{
	return r->rt + p * r->page_size;
}

/* Set the application-view protection of pages [first, first+count) in one
 * mprotect call. Caller holds r->lock. If the kernel refuses for lack of
 * VMAs (vm.max_map_count), the whole view is reset to PROT_NONE (states are
 * kept; later faults restore protections locally) and the call retried.
 * Returns 0 or a negative errno. Async-signal-safe. */
int dsm__vm_protect(struct dsm_region *r, size_t first, size_t count, int prot);

/* Map [addr, addr + len) writable in the page tables now, in one call
 * (MADV_POPULATE_WRITE, Linux 5.14; older kernels refuse it, ignored),
 * before a run of pages is written for the first time through a view
 * that has not mapped them: a kernel fault per page costs 10-15 us on a
 * paravirtualised VM, the call about half of that. Errors are ignored:
 * the writes then fault as before. Async-signal-safe. */
void dsm__vm_populate(void *addr, size_t len);

/* Shared by every SIGSEGV handler of the library (this one and the
 * deterministic spaces'): install a handler, chain to the previous one. */
int dsm__segv_install(void (*handler)(int, siginfo_t *, void *), struct sigaction *old);
void dsm__segv_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc);

/* Install the SIGSEGV handler (chaining the previous one) and a sigaltstack
 * for the calling thread. */
int dsm__fault_install(void);
void dsm__fault_uninstall(void);
/* Give the calling thread an alternate signal stack if it has none. */
int dsm__fault_thread_init(void);

/* Resolve a fault at addr (inside the region): locally when the page state
 * already allows the access (only the protection lagged), otherwise through
 * the protocol. Async-signal-safe. 0 = retry the access, or an error. */
int dsm__vm_fault(struct dsm_node *n, void *addr, int write_hint);
/* The address of the fault this thread resolves now (set by
 * dsm__vm_fault before it calls the protocol; ec's detector names it). */
extern __thread void *dsm__fault_addr __attribute__((tls_model("initial-exec")));

/* Architecture hint: 1 if the fault was a write, 0 a read, -1 unknown. */
int dsm__arch_fault_is_write(const void *ucontext);

/* Wait until page p's wait_seq differs from seq or timeout_ns passes.
 * Async-signal-safe. 0 or -ETIMEDOUT. */
int dsm__page_wait(struct dsm_page *pg, uint32_t seq, uint64_t timeout_ns);
void dsm__page_wake(struct dsm_page *pg);

#endif /* DSM_VM_H */
