/*
 * dt_map.c — the program's own mappings that libdsm_dthreads shares
 * between its threads like the heap: MAP_SHARED|MAP_ANONYMOUS mappings and
 * writable MAP_PRIVATE mappings of files, both made while the program has
 * one thread (the other threads' processes could not see later ones).
 * Each is a region (dt.h) backed by a memfd; mmap, mmap64 and munmap are
 * interposed here.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dt.h"

/* A new region at the program's request: a memfd of l bytes mapped at addr
 * (a hint, or MAP_FIXED in flags) shared for now, tracked and committed like
 * the heap. Returns the mapping, or MAP_FAILED with errno (the memfd is
 * closed then). */
static void *new_region(const char *name, void *addr, size_t l, int prot,
			int flags, int mfd)
{
	void *p = dt__mmap(addr, l, prot,
			   (flags & ~(MAP_ANONYMOUS | MAP_PRIVATE)) | MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED || dt__region_setup(&dt.reg[dt.nreg], name, p, l, mfd) != 0) {
		int e = p == MAP_FAILED ? errno : ENOMEM;
		if (p != MAP_FAILED)
			syscall(SYS_munmap, p, l);
		close(mfd);
		errno = e;
		return MAP_FAILED;
	}
	dt.nreg++;
	return p;
}

/* The program's shared anonymous mappings are shared between its threads
 * like the heap: a memfd, tracked and committed. Only while the program
 * has one thread (the others would not have the mapping). */
static void *shared_anon(void *addr, size_t len, int prot, int flags)
{
	if (dt.multi) {
		dt__warn("mmap(MAP_SHARED|MAP_ANONYMOUS) while threads run is not "
			 "supported (the other threads could not see it): failing it");
		errno = ENOTSUP;
		return MAP_FAILED;
	}
	if (dt.nreg >= DT_MAXREG || prot != (PROT_READ | PROT_WRITE)) {
		dt__warn("mmap(MAP_SHARED|MAP_ANONYMOUS): %s: not shared between threads",
			 dt.nreg >= DT_MAXREG ? "too many shared mappings" : "not read-write");
		errno = ENOTSUP;
		return MAP_FAILED;
	}
	size_t l = (len + dt.page - 1) & ~(dt.page - 1);
	int mfd = (int)syscall(SYS_memfd_create, "dsmdet-shm", MFD_CLOEXEC);
	if (mfd < 0)
		return MAP_FAILED;
	if (ftruncate(mfd, (off_t)l) != 0) {
		close(mfd);
		return MAP_FAILED;
	}
	return new_region("shm", addr, l, prot, flags, mfd);
}

/* A writable private mapping of a file, made while the program has one
 * thread, is memory of the program like its heap: its threads write into
 * it (Phoenix's word_count upper-cases and cuts the words of its input in
 * place, then main sorts pointers into it) and must see each other's
 * writes. It becomes a region backed by a memfd, lazily: most programs
 * map their input writable and only read it, and copying a large file up
 * front costs more than their whole run. So every thread keeps the file's
 * view (read-only while threads run) until one writes into it; that write
 * fills the memfd from the view (which holds what main wrote before its
 * threads; no commit can happen meanwhile, as the writer has not arrived)
 * and switches that thread to the memfd. The others switch at their next
 * resume (dt__lazy_sync), before they can see a commit. The file itself
 * is never written. With no room for another region: the plain private
 * mapping (each thread its own copy) and a warning. */
static void *private_file(void *addr, size_t len, int prot, int flags, int fd,
			  off_t off)
{
	if (dt.nreg >= DT_MAXREG) {
		dt__warn("mmap of a file (MAP_PRIVATE, writable): too many shared "
			 "mappings: each thread gets its own copy");
		return dt__mmap(addr, len, prot, flags, fd, off);
	}
	size_t l = (len + dt.page - 1) & ~(dt.page - 1);
	int mfd = (int)syscall(SYS_memfd_create, "dsmdet-file", MFD_CLOEXEC);
	if (mfd < 0)
		return MAP_FAILED;
	_Atomic int *filled = dt__mmap(NULL, dt.page, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *p = filled == MAP_FAILED ? MAP_FAILED : dt__mmap(addr, l, prot, flags, fd, off);
	struct dt_region *r = &dt.reg[dt.nreg];
	if (p == MAP_FAILED || ftruncate(mfd, (off_t)l) != 0 ||
	    dt__region_setup(r, "file", p, l, mfd) != 0) {
		int e = errno;
		if (p != MAP_FAILED)
			syscall(SYS_munmap, p, l);
		if (filled != MAP_FAILED)
			syscall(SYS_munmap, filled, dt.page);
		close(mfd);
		errno = e;
		return MAP_FAILED;
	}
	struct stat st;
	size_t backed = 0;
	if (fstat(fd, &st) == 0 && st.st_size > off)
		backed = ((size_t)(st.st_size - off) + dt.page - 1) & ~(dt.page - 1);
	r->fill_len = backed < l ? backed : l;
	r->lazy = 1;
	r->filled = filled;
	dt.nreg++;
	return p;
}

/* The view goes from the file to the memfd (private copy-on-write, like
 * every region's while threads run), write-tracked from now on. */
void dt__lazy_fill(struct dt_region *r)
{
	if (!r->lazy)
		return;
	if (!atomic_load(r->filled)) {
		/* racing fillers copy the same bytes: every view is equal */
		memcpy(r->shared, r->start, r->fill_len);
		atomic_store(r->filled, 1);
	}
	if (dt__mmap(r->start, r->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->fd, 0) == MAP_FAILED)
		dt__die("cannot map %s privately: %s", r->name, strerror(errno));
	r->lazy = 0;
	if (dt.kernel) {
		if (dt__kernel_open_region(r) != 0)
			dt__die("could not register userfaultfd write detection for a "
				"file mapping; run with DSM_WRITE_DETECT=segv");
	} else {
		mprotect(r->start, r->len, PROT_READ);
	}
}

void dt__lazy_sync(void)
{
	for (int k = 0; k < dt.nreg; k++)
		if (dt.reg[k].lazy && atomic_load(dt.reg[k].filled))
			dt__lazy_fill(&dt.reg[k]);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!dt.init || dt.outside)
		return dt__mmap(addr, len, prot, flags, fd, off);
	if ((flags & MAP_SHARED) && (flags & MAP_ANONYMOUS))
		return shared_anon(addr, len, prot, flags);
	if ((flags & MAP_PRIVATE) && !(flags & MAP_ANONYMOUS) && fd >= 0 && !dt.multi &&
	    (prot & PROT_WRITE) && !(prot & PROT_EXEC) && len > 0)
		return private_file(addr, len, prot, flags, fd, off);
	return dt__mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* Unmapping one of those regions (alone) forgets it. */
int munmap(void *addr, size_t len)
{
	for (int k = 2; k < dt.nreg; k++) {
		struct dt_region *r = &dt.reg[k];
		if (r->start != addr)
			continue;
		if (dt.multi) {
			dt__warn("munmap of a shared mapping while threads run: not supported");
			errno = ENOTSUP;
			return -1;
		}
		syscall(SYS_munmap, r->shared, r->len);
		syscall(SYS_munmap, r->mark, r->npages);
		syscall(SYS_munmap, r->list, r->npages * sizeof(uint32_t));
		syscall(SYS_munmap, r->dirty, r->npages * sizeof(uint32_t));
		syscall(SYS_munmap, r->priv, r->npages);
		syscall(SYS_munmap, r->stamp, r->npages * sizeof(uint64_t));
		if (r->filled)
			syscall(SYS_munmap, (void *)r->filled, dt.page);
		close(r->fd);
		memmove(r, r + 1, (size_t)(dt.nreg - k - 1) * sizeof *r);
		dt.nreg--;
		break;
	}
	return (int)syscall(SYS_munmap, addr, len) == 0 ? 0 : -1;
}
