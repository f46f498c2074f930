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
 * state allows; a fault then is resolved locally. */
#define DSM_PAGE_STATE_MAP(XX)                                             \
	XX(INVALID, 0)         /* no valid copy here */                    \
	XX(READ_SHARED, 1)     /* valid copy, read-only */                 \
	XX(WRITE_EXCLUSIVE, 2) /* the only copy, writable (sc) */              \
	XX(DIRTY, 3)           /* valid, writable, twinned: written in the  \
				  open interval; others may write it too (lrc) */

enum dsm_page_state {
#define XX(name, num) DSM_PAGE_##name = num,
	DSM_PAGE_STATE_MAP(XX)
#undef XX
	DSM_PAGE_STATE_COUNT_
};

enum dsm_pending { DSM_PEND_NONE = 0, DSM_PEND_READ, DSM_PEND_WRITE };

/* One entry per page of the region. Fields other than wait_seq are
 * protected by region->lock. */
struct dsm_page {
	uint8_t state;       /* enum dsm_page_state */
	uint8_t prot;        /* current PROT_* of the application view */
	uint8_t pending;     /* enum dsm_pending: a fetch from here in flight */
	uint8_t flags;       /* DSM_PGF_* */
	int16_t prob_owner;  /* probable owner (IVY) */
	int16_t inv_from;    /* invalidation deferred during a read, or -1 */
	uint16_t acks_left;  /* invalidation acks still expected */
	uint16_t ndefer;     /* requests for this page queued here */
	_Atomic uint32_t wait_seq; /* futex word: bumped when the page changes */
	uint64_t copyset;    /* nodes holding read copies (owner only) */
	uint64_t granted_ns; /* when this node last obtained the page */
	uint64_t resumed_ns; /* when the faulting thread resumed after that */
};

#define DSM_PGF_INIT  0x01 /* entry initialised (lazy) */
#define DSM_PGF_OWNER 0x02 /* this node owns the page */
#define DSM_PGF_HOLD  0x04 /* obtained recently: serve others after hold */

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
	uint64_t map_resets;
};

/* Events of the page state machine (docs/protocols/sc.md). */
#define DSM_PAGE_EVENT_MAP(XX)                                             \
	XX(FETCH_READ, 0)   /* read copy arrived */                        \
	XX(FETCH_WRITE, 1)  /* ownership arrived, invalidations done */    \
	XX(UPGRADE, 2)      /* owner's read copy made writable */          \
	XX(SERVE_READ, 3)   /* owner sent a read copy to a peer */         \
	XX(SERVE_WRITE, 4)  /* owner gave the page to a writer */          \
	XX(INVALIDATE, 5)   /* a writer invalidated this copy */           \
	XX(TWIN, 6)         /* lrc: first write in an interval, twin made */ \
	XX(CLOSE, 7)        /* lrc: interval closed, page write-protected */ \
	XX(NOTICE, 8)       /* lrc: a write notice arrived */              \
	XX(APPLY, 9)        /* lrc: all noticed diffs applied */

enum dsm_page_event {
#define XX(name, num) DSM_PEV_##name = num,
	DSM_PAGE_EVENT_MAP(XX)
#undef XX
	DSM_PAGE_EVENT_COUNT_
};

/* Next state after an event, or -1 if illegal. */
int dsm__page_next(unsigned state, unsigned event);
const char *dsm__page_event_name(unsigned event);
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

/* Architecture hint: 1 if the fault was a write, 0 a read, -1 unknown. */
int dsm__arch_fault_is_write(const void *ucontext);

/* Wait until page p's wait_seq differs from seq or timeout_ns passes.
 * Async-signal-safe. 0 or -ETIMEDOUT. */
int dsm__page_wait(struct dsm_page *pg, uint32_t seq, uint64_t timeout_ns);
void dsm__page_wake(struct dsm_page *pg);

#endif /* DSM_VM_H */
