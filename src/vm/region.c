/*
 * region.c — the shared region: one memfd, two views, and protection
 * changes that survive vm.max_map_count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm.h"
#include "wp.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Map the application view exactly at base, refusing to replace anything. */
static int map_app_view(struct dsm_region *r, uintptr_t base, int prot,
			const char **why)
{
	void *want = (void *)base;
	void *p = mmap(want, r->size, prot, MAP_SHARED | MAP_FIXED_NOREPLACE,
		       r->fd, 0);

	if (p == MAP_FAILED) {
		int err = errno;
		*why = err == EEXIST ? "the address range DSM_BASE..+DSM_HEAP_SIZE "
				       "is already mapped; choose another DSM_BASE"
				     : "mmap of the application view failed";
		return -err;
	}
	if (p != want) { /* old kernel ignored MAP_FIXED_NOREPLACE */
		munmap(p, r->size);
		*why = "the kernel placed the region elsewhere: DSM_BASE taken";
		return -EEXIST;
	}
	r->app = p;
	return 0;
}

/* Create the memfd, map both views, allocate the page table. */
int dsm__region_init(struct dsm_region **out, uintptr_t base, size_t size,
		     size_t page_size, int app_prot, const char **why)
{
	struct dsm_region *r;
	int err;

	*why = "";
	if (size == 0 || size % page_size || base % page_size) {
		*why = "region base and size must be page multiples";
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->size = size;
	r->page_size = page_size;
	r->npages = size / page_size;
	r->fd = memfd_create("dsm-region", MFD_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		*why = "memfd_create failed";
		goto fail_free;
	}
	if (ftruncate(r->fd, (off_t)size) < 0) {
		err = -errno;
		*why = "ftruncate of the region memfd failed";
		goto fail_fd;
	}
	r->rt = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->rt == MAP_FAILED) {
		err = -errno;
		*why = "mmap of the runtime view failed";
		goto fail_fd;
	}
	err = map_app_view(r, base, app_prot, why);
	if (err)
		goto fail_rt;
	/* The table is reserved, not committed: only the entries of pages
	 * in use are ever backed by memory (48 bytes per page would be 48 GiB
	 * for a 4 TiB region, more than the overcommit heuristic grants to
	 * calloc). Zero-filled, so every entry starts uninitialised. */
	r->pages_bytes = r->npages * sizeof(*r->pages);
	r->pages = mmap(NULL, r->pages_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->pages == MAP_FAILED) {
		r->pages = NULL;
		err = -ENOMEM;
		*why = "the page table cannot be reserved (48 bytes of address "
		       "space per page; with vm.overcommit_memory=2 they are "
		       "committed): lower DSM_HEAP_SIZE";
		goto fail_app;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;

fail_app:
	munmap(r->app, size);
fail_rt:
	munmap(r->rt, size);
fail_fd:
	close(r->fd);
fail_free:
	free(r);
	return err;
}

/* Unmap both views and free the page table. */
void dsm__region_close(struct dsm_region *r)
{
	if (!r)
		return;
	dsm__wp_close(r->wp);
	munmap(r->app, r->size);
	munmap(r->rt, r->size);
	close(r->fd);
	pthread_mutex_destroy(&r->lock);
	if (r->pages)
		munmap(r->pages, r->pages_bytes);
	free(r);
}

/* Record prot for a run of pages in the table. An entry that already
 * holds it is not written, so resetting a huge table to PROT_NONE does not
 * commit memory for the entries of pages never used. */
static void note_prot(struct dsm_region *r, size_t first, size_t count, int prot)
{
	for (size_t i = 0; i < count; i++)
		if (r->pages[first + i].prot != (uint8_t)prot)
			r->pages[first + i].prot = (uint8_t)prot;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void dsm__vm_populate(void *addr, size_t len)
{
	int saved = errno;

	(void)madvise(addr, len, MADV_POPULATE_WRITE);
	errno = saved;
}

/*
 * Set the protection of a run of pages with one mprotect. Per-page
 * protections split kernel VMAs; at vm.max_map_count mprotect fails with
 * ENOMEM. Then every page is set to PROT_NONE — always safe, because the
 * page states are unchanged and a fault on a page whose state allows the
 * access is resolved locally — which merges the view into one VMA, and the
 * change is retried.
 */
int dsm__vm_protect(struct dsm_region *r, size_t first, size_t count, int prot)
{
	unsigned char *a = r->app + first * r->page_size;

	if (mprotect(a, count * r->page_size, prot) == 0) {
		note_prot(r, first, count, prot);
		return 0;
	}
	if (errno != ENOMEM)
		return -errno;
	if (mprotect(r->app, r->size, PROT_NONE) < 0)
		return -errno;
	note_prot(r, 0, r->npages, PROT_NONE);
	r->map_resets++;
	if (prot == PROT_NONE)
		return 0;
	if (mprotect(a, count * r->page_size, prot) < 0)
		return -errno;
	note_prot(r, first, count, prot);
	return 0;
}
