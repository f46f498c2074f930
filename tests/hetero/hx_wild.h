/*
 * hx_wild.h — a diagnostic for the mixed-byte-order programs: a SIGSEGV
 * handler installed before dsm_init, so libdsm chains to it every fault
 * outside the shared region (src/vm/fault.c). It writes the faulting
 * address, the program counter (and, on s390x, every general and
 * floating-point register, and 720 bytes of stack above %r15) to stderr,
 * then restores the default action:
 * the access runs again and the process still dies with SIGSEGV (under
 * qemu-user: "uncaught target signal 11"), so nothing is hidden; the
 * registers say where it happened (docs/hetero.md, "qemu-user").
 * Async-signal-safe: write(2) and hand-made hex only.
 */
#ifndef HX_WILD_H
#define HX_WILD_H

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static size_t hx_wild_hex(char *b, const char *name, uint64_t v)
{
	size_t l = 0;

	while (*name)
		b[l++] = *name++;
	for (int s = 60; s >= 0; s -= 4)
		b[l++] = "0123456789abcdef"[(v >> s) & 15];
	b[l++] = ' ';
	return l;
}

static void hx_wild_segv(int sig, siginfo_t *si, void *ucv)
{
	char b[8192];
	size_t l = 0;
	const char *head = "hx: SIGSEGV outside the shared region: ";
	int main(int, char **);

	(void)sig;
	(void)ucv;
	while (*head)
		b[l++] = *head++;
	l += hx_wild_hex(b + l, "addr=", (uint64_t)(uintptr_t)si->si_addr);
	l += hx_wild_hex(b + l, "main=", (uint64_t)(uintptr_t)main);
#if defined(__s390x__)
	const ucontext_t *uc = ucv;
	l += hx_wild_hex(b + l, "psw=", (uint64_t)uc->uc_mcontext.psw.addr);
	b[l++] = '\n';
	for (int i = 0; i < 16; i++) {
		char name[5] = { 'r', (char)('0' + i / 10), (char)('0' + i % 10), '=', 0 };
		l += hx_wild_hex(b + l, name, (uint64_t)uc->uc_mcontext.gregs[i]);
	}
	b[l++] = '\n';
	for (int i = 0; i < 16; i++) {
		char name[5] = { 'f', (char)('0' + i / 10), (char)('0' + i % 10), '=', 0 };
		uint64_t u;
		memcpy(&u, &uc->uc_mcontext.fpregs.fprs[i], 8);
		l += hx_wild_hex(b + l, name, u);
	}
	/* the frames above the stack pointer: whose locals went where */
	b[l++] = '\n';
	for (const char *t = "stack above r15: "; *t; t++)
		b[l++] = *t;
	for (int o = 0; o < 720; o += 8) {
		uint64_t v;
		memcpy(&v, (const void *)(uintptr_t)(uc->uc_mcontext.gregs[15] + o), 8);
		l += hx_wild_hex(b + l, "", v);
	}
#elif defined(__x86_64__) && defined(REG_RIP) /* _GNU_SOURCE */
	const ucontext_t *uc = ucv;
	l += hx_wild_hex(b + l, "rip=", (uint64_t)uc->uc_mcontext.gregs[REG_RIP]);
	l += hx_wild_hex(b + l, "rsp=", (uint64_t)uc->uc_mcontext.gregs[REG_RSP]);
#endif
	b[l++] = '\n';
	if (write(2, b, l) < 0)
		b[0] = 0;
	signal(SIGSEGV, SIG_DFL); /* the access faults again and kills us */
}

/* Call first in main, before dsm_init. */
static inline void hx_wild_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = hx_wild_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
}

#endif /* HX_WILD_H */
