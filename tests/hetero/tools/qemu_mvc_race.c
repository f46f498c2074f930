/*
 * qemu_mvc_race.c — does the emulator deliver a write fault that hits an
 * s390x MVC *during* the copy at the MVC? (docs/hetero.md, "qemu-user").
 *
 * No libdsm: one thread copies 72 bytes with MVC into a page (as
 * hx_nbody's `out[i] = in[i]` does) while another thread keeps taking
 * the write permission of that page away and giving it back (as a DSM
 * service thread does when another node claims the page). The SIGSEGV
 * handler, like libdsm's, makes the page writable again and returns, so
 * the MVC is executed again. On a correct machine every such fault
 * reports the MVC's own address and every copy arrives.
 *
 * qemu-user emulates MVC in a helper that checks the page and then
 * copies with the host's memmove; when the permission goes in between,
 * the host fault happens outside generated code. qemu 7.2 then reports
 * the guest fault at a stale PSW (the last synchronised address, not the
 * MVC) and the guest resumes there with its current registers; qemu
 * 8.2 and later (10.0.2 tested) stop with "QEMU internal SIGSEGV".
 *
 *   s390x-linux-gnu-gcc -O2 -pthread tests/hetero/tools/qemu_mvc_race.c -o qemu_mvc_race
 *   qemu-s390x -L /usr/s390x-linux-gnu ./qemu_mvc_race [seconds [mvc|stg]]
 *
 * With "stg" as second argument the same 72 bytes are copied by nine
 * 8-byte loads and stores instead (instructions qemu translates inline),
 * the control: faults must be reported inside the copy then too.
 *
 * Exit 0: no misreported fault and no lost copy (the output says how many
 * faults hit the MVC, so a run with none tested nothing); 1: the defect;
 * 2: setup failed; killed by SIGSEGV: the emulator died.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if !defined(__s390x__)
#error "qemu_mvc_race.c tests the s390x MVC instruction: build it with s390x-linux-gnu-gcc"
#endif

static char *src, *dst;
static long page;
static uintptr_t copy_lo, copy_hi; /* the copy's instructions, stored before it runs */
static atomic_long faults, misreported;
static atomic_int stop;
static volatile uintptr_t last_bad_psw;

/* A write fault on dst: count it, check where it was reported, and make
 * the page writable again so that the MVC runs again. */
static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	char *a = si->si_addr;

	if (a < dst || a >= dst + page) {
		signal(SIGSEGV, SIG_DFL); /* not ours: die with SIGSEGV */
		return;
	}
	atomic_fetch_add(&faults, 1);
	if (uc->uc_mcontext.psw.addr < copy_lo || uc->uc_mcontext.psw.addr >= copy_hi) {
		atomic_fetch_add(&misreported, 1);
		last_bad_psw = uc->uc_mcontext.psw.addr;
	}
	mprotect(dst, page, PROT_READ | PROT_WRITE);
}

static void *toggle(void *arg)
{
	while (!atomic_load(&stop)) {
		mprotect(dst, page, PROT_READ);
		mprotect(dst, page, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

/* One 72-byte MVC from src to dst; its address range goes to copy_lo and
 * copy_hi first. */
static void copy72_mvc(void)
{
	uintptr_t a;

	__asm__ volatile("larl %0,1f\n\t"
			 "stg %0,0(%3)\n\t"
			 "larl %0,2f\n\t"
			 "stg %0,0(%4)\n"
			 "1:\tmvc 0(72,%1),0(%2)\n"
			 "2:"
			 : "=&a"(a)
			 : "a"(dst), "a"(src), "a"(&copy_lo), "a"(&copy_hi)
			 : "memory");
}

/* The control: the same copy as nine 8-byte loads and stores. */
static void copy72_stg(void)
{
	uintptr_t a, w;

	__asm__ volatile("larl %0,1f\n\t"
			 "stg %0,0(%4)\n\t"
			 "larl %0,2f\n\t"
			 "stg %0,0(%5)\n"
			 "1:\tlg %1,0(%3)\n\tstg %1,0(%2)\n\t"
			 "lg %1,8(%3)\n\tstg %1,8(%2)\n\t"
			 "lg %1,16(%3)\n\tstg %1,16(%2)\n\t"
			 "lg %1,24(%3)\n\tstg %1,24(%2)\n\t"
			 "lg %1,32(%3)\n\tstg %1,32(%2)\n\t"
			 "lg %1,40(%3)\n\tstg %1,40(%2)\n\t"
			 "lg %1,48(%3)\n\tstg %1,48(%2)\n\t"
			 "lg %1,56(%3)\n\tstg %1,56(%2)\n\t"
			 "lg %1,64(%3)\n\tstg %1,64(%2)\n"
			 "2:"
			 : "=&a"(a), "=&d"(w)
			 : "a"(dst), "a"(src), "a"(&copy_lo), "a"(&copy_hi)
			 : "memory");
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	int use_stg = argc > 2 && strcmp(argv[2], "stg") == 0;
	struct sigaction sa;
	struct timespec t0;
	pthread_t t;
	long iters = 0, lost = 0;

	page = sysconf(_SC_PAGESIZE);
	src = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return 2;
	dst = src + page;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) || pthread_create(&t, NULL, toggle, NULL))
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1024; i++, iters++) {
			uint64_t v = (uint64_t)iters * 0x9e3779b97f4a7c15ull;

			for (int k = 0; k < 9; k++)
				((volatile uint64_t *)src)[k] = v + k;
			if (use_stg)
				copy72_stg();
			else
				copy72_mvc();
			for (int k = 0; k < 9; k++)
				lost += ((volatile uint64_t *)dst)[k] != v + k;
		}
	} while (seconds_since(&t0) < secs);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("qemu_mvc_race: %ld copies by %s, %ld write faults during them, %ld reported "
	       "elsewhere (last at 0x%lx, copy at 0x%lx-0x%lx), %ld words not copied\n",
	       iters, use_stg ? "LG/STG" : "MVC", (long)faults, (long)misreported,
	       (unsigned long)last_bad_psw, (unsigned long)copy_lo, (unsigned long)copy_hi, lost);
	return misreported || lost ? 1 : 0;
}
