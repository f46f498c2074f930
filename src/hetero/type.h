/*
 * type.h — the pure part of src/hetero: compiled type layouts and the
 * byte-order conversion of byte ranges of typed blocks. No node, no
 * locks, no malloc after registration: the service thread converts with
 * it and unit tests call it directly.
 */
#ifndef DSM_HETERO_TYPE_H
#define DSM_HETERO_TYPE_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_type.h"

#define DSM_TYPE_MAX 256 /* ids 1..DSM_TYPE_MAX-1 */

/* A run of count fields of one width (2, 4 or 8 bytes) every `width`
 * bytes from off: what must be swapped in one object. */
struct dsm_swap_op {
	uint32_t off;
	uint32_t width;
	uint32_t count;
};

/* A compiled type: the record flattened to swap runs, sorted by offset. */
struct dsm_ctype {
	char name[32];
	uint32_t size, align;
	uint32_t uniform;        /* width if every byte is in a field of that
				  * width (a page of doubles), else 0 */
	uint32_t nops;
	struct dsm_swap_op *ops;
	uint64_t fingerprint;    /* layout hash, equal on every node */
};

struct dsm_type_reg {
	int count;               /* ids in use: 1..count */
	struct dsm_ctype *t[DSM_TYPE_MAX];
};

/* Compile and add a type; returns its id or -EINVAL (*why set) /
 * -ENOSPC / -ENOMEM. */
int dsm__type_add(struct dsm_type_reg *r, const char *name, size_t size,
		  const struct dsm_field *f, size_t nf, const char **why);
void dsm__type_reg_free(struct dsm_type_reg *r);
/* Remove the last type added. */
void dsm__type_reg_pop(struct dsm_type_reg *r);
const struct dsm_ctype *dsm__type_get(const struct dsm_type_reg *r, int id);

/*
 * Swap, in place, every field of a typed block that lies wholly inside
 * data[0, len), where data[0] is byte `rel` of the block and the block
 * holds `limit` bytes of objects (count * size); bytes past limit are left
 * alone. Returns the number of fields cut by the range's ends (0 for a
 * range that splits no field, always 0 for a page-aligned range), which
 * are left unswapped.
 */
size_t dsm__type_swap(const struct dsm_ctype *t, uint64_t rel, void *data,
		      size_t len, uint64_t limit);

/* Widen the block byte range [*lo, *hi) to whole fields (never past
 * limit). */
void dsm__type_widen(const struct dsm_ctype *t, uint64_t *lo, uint64_t *hi,
		     uint64_t limit);

/*
 * Diffs (src/vm/diff.h encoding). Widen every run of diff (len bytes, of
 * a page whose first byte is block byte rel) to whole fields, taking the
 * added bytes from page, into out (cap >= dsm__diff_max_size). Returns
 * the new length or -EINVAL / -ENOSPC.
 */
long dsm__type_diff_widen(const struct dsm_ctype *t, uint64_t rel, uint64_t limit,
			  const void *page, size_t page_size, const void *diff,
			  size_t len, void *out, size_t cap);
/* Swap the runs of a diff in place. Returns 0, or -EINVAL for a malformed
 * diff or a run that splits a field. */
int dsm__type_diff_swap(const struct dsm_ctype *t, uint64_t rel, uint64_t limit,
			void *diff, size_t len, size_t page_size);

#endif /* DSM_HETERO_TYPE_H */
