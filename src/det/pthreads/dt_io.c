/*
 * dt_io.c — fork() from a thread, stdio buffering, the system calls
 * that write into the program's memory (read, pread, fread, fstat, stat:
 * their pages are opened first on the fault path) and the processor count
 * the program sees (DSM_DET_NPROCS). See dt_surface.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_surface.h"

/* ------------------------------------------------------------ process, stdio */

pid_t fork(void)
{
	pid_t p = dt__real_fork();
	if (p == 0 && dt.init) {
		/* a process of its own: private copies, no part in the fence;
		 * output buffered by the thread is not its to write */
		__fpurge(stdout);
		__fpurge(stderr);
		for (int k = 0; k < dt.nreg; k++) {
			struct dt_region *r = &dt.reg[k];
			if (r->lazy) /* still the file's view: keep it, writable */
				mprotect(r->start, r->len, PROT_READ | PROT_WRITE);
			else
				dt__mmap(r->start, r->len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->fd, 0);
		}
		dt.multi = 0;
		dt.outside = 1;
	}
	return p;
}

int setvbuf(FILE *f, char *buf, int mode, size_t size)
{
	static int (*real)(FILE *, char *, int, size_t);
	if (dt.init && (f == stdout || f == stderr))
		return 0; /* stays fully buffered: written at the thread's turns */
	if (!real)
		real = (int (*)(FILE *, char *, int, size_t))dlsym(RTLD_NEXT, "setvbuf");
	return real(f, buf, mode, size);
}

void setbuf(FILE *f, char *buf)
{
	setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ);
}

void setlinebuf(FILE *f)
{
	setvbuf(f, NULL, _IOLBF, 0);
}

/* The kernel cannot fault on a write-protected page: open them first. */
ssize_t read(int fd, void *buf, size_t n)
{
	dt__prefault((uintptr_t)buf, n);
	return syscall(SYS_read, fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	dt__prefault((uintptr_t)buf, n);
	return syscall(SYS_pread64, fd, buf, n, off);
}

size_t fread(void *buf, size_t sz, size_t n, FILE *f)
{
	static size_t (*real)(void *, size_t, size_t, FILE *);
	if (!real)
		real = (size_t(*)(void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fread");
	dt__prefault((uintptr_t)buf, sz * n);
	return real(buf, sz, n, f);
}

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	if (!real)
		real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
	FILE *f = real(path, mode);
	if (f && dt.init) {
		/* its buffer in private memory: the kernel writes it */
		void *b = dt__mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b != MAP_FAILED)
			setvbuf(f, b, _IOFBF, 65536);
	}
	return f;
}

int fstat(int fd, struct stat *st)
{
	dt__prefault((uintptr_t)st, sizeof *st);
	return (int)syscall(SYS_fstat, fd, st);
}

int stat(const char *path, struct stat *st)
{
	dt__prefault((uintptr_t)st, sizeof *st);
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

/* ------------------------------------------------------- processor count */

/* DSM_DET_NPROCS=N: the program sees N processors, whatever the machine
 * has (Phoenix's programs start one thread per sysconf(_SC_NPROCESSORS_ONLN);
 * a fixed N fixes their thread count, hence their output, on any machine).
 * Covers sysconf(_SC_NPROCESSORS_ONLN / _CONF), get_nprocs(),
 * get_nprocs_conf() and sched_getaffinity() / pthread_getaffinity_np()
 * (CPUs 0..N-1). 0 when unset: the real answers. Read once, without
 * allocating (sysconf may be called before the library's constructor). */
int dt__nprocs(void)
{
	static int v = -1;
	if (v >= 0)
		return v;
	const char *c = getenv("DSM_DET_NPROCS");
	int n = 0;
	if (c && *c) {
		char *end;
		long l = strtol(c, &end, 10);
		if (*end || l < 1 || l > CPU_SETSIZE)
			dt__die("DSM_DET_NPROCS=%s: expected a number of processors, 1..%d",
				c, CPU_SETSIZE);
		n = (int)l;
	}
	v = n;
	return v;
}

extern long __sysconf(int name); /* glibc's sysconf (sysconf is weak) */

long sysconf(int name)
{
	if ((name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) && dt__nprocs())
		return dt__nprocs();
	return __sysconf(name);
}

int get_nprocs(void)
{
	static int (*real)(void);
	if (dt__nprocs())
		return dt__nprocs();
	if (!real)
		real = (int (*)(void))dlsym(RTLD_NEXT, "get_nprocs");
	return real();
}

int get_nprocs_conf(void)
{
	static int (*real)(void);
	if (dt__nprocs())
		return dt__nprocs();
	if (!real)
		real = (int (*)(void))dlsym(RTLD_NEXT, "get_nprocs_conf");
	return real();
}

int sched_getaffinity(pid_t pid, size_t n, cpu_set_t *set)
{
	int np = dt__nprocs();
	if (np) {
		/* as the kernel: the mask must hold every CPU it reports */
		if ((size_t)np > n * 8) {
			errno = EINVAL;
			return -1;
		}
		memset(set, 0, n);
		for (int i = 0; i < np; i++)
			CPU_SET_S((size_t)i, n, set);
		return 0;
	}
	long r = syscall(SYS_sched_getaffinity, pid, n, set);
	if (r < 0)
		return -1;
	/* as glibc: the kernel wrote r bytes, the rest of the mask is empty */
	memset((char *)set + r, 0, n - (size_t)r);
	return 0;
}
