/*
 * heap.h — the shared-heap allocator: hands out offsets into the DSM region.
 *
 * A pure allocator over an abstract range of offsets [0, size). It never
 * reads or writes the memory it manages: all metadata lives in private
 * malloc'd memory, because touching shared pages would cause DSM faults and
 * network traffic. One node (node 0) owns the heap and serves allocation
 * requests from every node, so the interface deals only in offsets.
 *
 * Placement rules:
 *   - every block starts at a multiple of 16;
 *   - a request whose size rounded up to 16 is >= page_size is page aligned
 *     and rounded up to whole pages, so large objects never share a page
 *     with anything else (false sharing costs page transfers in a DSM);
 *   - smaller requests are packed, by size class, into slabs: runs of whole
 *     pages that hold only small objects. A small object may straddle a page
 *     boundary inside its slab, but never a page holding a large block.
 *   - offset 0 is an ordinary offset and may be returned.
 *
 * Freed space is reused; free page runs coalesce, and a slab whose last
 * object is freed goes back to the page-level free space at once.
 *
 * Cost: O(log n) expected per operation (a treap of free page runs ordered
 * by address and augmented with the largest run per subtree, a hash map
 * from offset to block, O(1) size-class slabs). Metadata: about 24 bytes
 * per live block plus 4 bytes per slot of every slab.
 *
 * Thread-safety: every function takes an internal mutex, so all of them may
 * be called concurrently on the same heap, except dsm__heap_destroy, which
 * must not race with any other call on that heap.
 */
#ifndef DSM_VM_HEAP_H
#define DSM_VM_HEAP_H

#include <stdint.h>

/* Opaque allocator state; created by dsm__heap_init. */
struct dsm_heap;

/*
 * Create an allocator for the offsets [0, size).
 *   out:       receives the new heap (left untouched on error).
 *   size:      bytes to manage; a non-zero multiple of page_size.
 *   page_size: DSM page size; a power of two in [16, 2^30].
 * Returns 0, -EINVAL if size is 0 or not a multiple of page_size or
 * page_size is out of range or not a power of two, -ENOMEM if metadata
 * cannot be allocated. The caller owns *out; free it with
 * dsm__heap_destroy. Thread-safe (touches no shared state).
 */
int dsm__heap_init(struct dsm_heap **out, uint64_t size, uint64_t page_size);

/*
 * Release all metadata of h (live blocks are simply forgotten). h may be
 * NULL. Not thread-safe: no other call on h may run concurrently or later.
 */
void dsm__heap_destroy(struct dsm_heap *h);

/*
 * Allocate a block of at least size bytes.
 *   h:    the heap.
 *   size: requested bytes, > 0.
 *   off:  receives the block's offset (written only on success).
 * The block starts at a multiple of 16; if size rounded up to 16 is
 * >= page_size it starts on a page boundary and spans whole pages.
 * Returns 0, -EINVAL if size is 0 or larger than the whole heap (it could
 * never succeed), -ENOMEM if there is no room right now (or metadata
 * cannot be allocated); on error the heap is unchanged and stays usable.
 * Thread-safe.
 */
int dsm__heap_alloc(struct dsm_heap *h, uint64_t size, uint64_t *off);

/*
 * Free the block that starts at off.
 *   h:   the heap.
 *   off: an offset returned by dsm__heap_alloc and not freed since.
 * Returns 0, or -EINVAL if off is not the start of a live block (double
 * free, interior or garbage offset); an invalid call changes nothing.
 * Never allocates, so freeing a valid block cannot fail. Thread-safe.
 */
int dsm__heap_free(struct dsm_heap *h, uint64_t off);

/*
 * Usable size of the live block that starts at off: the size class for a
 * small block, whole pages for a large one. Returns 0 if off is not the
 * start of a live block. Thread-safe.
 */
uint64_t dsm__heap_block_size(struct dsm_heap *h, uint64_t off);

/*
 * Report occupancy; any pointer may be NULL.
 *   used:         sum of dsm__heap_block_size over live blocks.
 *   free_bytes:   bytes in free page runs plus free slots in slabs.
 *   largest_free: bytes in the largest free page run, i.e. the largest
 *                 page-aligned block an allocation could get right now.
 * size - used - free_bytes is the slab tail waste (slab bytes that do not
 * make up a whole slot). Thread-safe; the three figures are one snapshot.
 */
void dsm__heap_usage(struct dsm_heap *h, uint64_t *used, uint64_t *free_bytes,
		     uint64_t *largest_free);

#endif /* DSM_VM_HEAP_H */
