/*
 * dsm_type.h — the typed shared heap for jobs whose nodes differ in byte
 * order (Java/DSM's typed pages; docs/hetero.md).
 *
 * A type is a C record described as a list of fields: fixed-width
 * integers, float, double, bool and char arrays, pointers into the region
 * and nested records, each possibly an array. Every node registers the
 * same types in the same order after dsm_init, so a type has the same id
 * everywhere. Typed allocations give whole pages that hold objects of one
 * type only, packed from the block's first page, so a page number leads to
 * its type and to where each object and field lies on it. When page data
 * or a diff crosses between a little-endian and a big-endian node, the
 * receiver swaps every field it received ("receiver makes right");
 * between nodes of one byte order nothing is converted.
 *
 * In a mixed job, an untyped page (dsm_malloc, dsm_alloc_collective) that
 * crosses byte orders is refused: the job fails with a message naming the
 * page and the allocation that made it.
 *
 * Conventions (as dsm.h): 0 or a negative errno unless documented
 * otherwise. Not for signal handlers. The field array passed to
 * dsm_type_register is copied.
 */
#ifndef DSM_TYPE_H
#define DSM_TYPE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A registered type: an id > 0, the same on every node. */
typedef int dsm_type_t;

/* Field kinds. Integers, float and double are swapped as units of their
 * width; BOOL and CHAR (1 byte) never are; PTR is a pointer into the
 * region (the same address everywhere, 8 bytes: only swapped); RECORD is a
 * nested registered type. */
enum dsm_field_kind {
	DSM_FIELD_I8 = 1, DSM_FIELD_U8, DSM_FIELD_I16, DSM_FIELD_U16,
	DSM_FIELD_I32, DSM_FIELD_U32, DSM_FIELD_I64, DSM_FIELD_U64,
	DSM_FIELD_FLOAT, DSM_FIELD_DOUBLE, DSM_FIELD_BOOL, DSM_FIELD_CHAR,
	DSM_FIELD_PTR, DSM_FIELD_RECORD,
};

/* One field: kind, byte offset in the record (offsetof), number of
 * elements (1 for a scalar, n for an array) and, for RECORD, the nested
 * type. */
struct dsm_field {
	enum dsm_field_kind kind;
	size_t offset;
	size_t count;
	dsm_type_t record;
};

/* Field descriptions from a struct type T and a member. */
#define DSM_FIELD(T, member, kind) { (kind), offsetof(T, member), 1, 0 }
#define DSM_FIELD_N(T, member, kind, n) { (kind), offsetof(T, member), (n), 0 }
#define DSM_FIELD_REC(T, member, type) \
	{ DSM_FIELD_RECORD, offsetof(T, member), 1, (type) }
#define DSM_FIELD_REC_N(T, member, type, n) \
	{ DSM_FIELD_RECORD, offsetof(T, member), (n), (type) }

/*
 * Register a type of `size` bytes (sizeof the record) with nfields fields.
 * Every field must lie inside the record, be aligned to its element's
 * natural alignment (a RECORD to its type's) and not overlap another;
 * bytes covered by no field (padding) are never converted. Call after
 * dsm_init, in the same order on every node. Returns the type id (> 0),
 * -EINVAL (bad layout, unknown nested type, size 0 or above the page
 * size; the reason is logged) or -ENOSPC (too many types).
 */
dsm_type_t dsm_type_register(const char *name, size_t size,
			     const struct dsm_field *fields, size_t nfields);

/*
 * Allocate count objects of type t in whole pages that hold only this
 * allocation (the block is page aligned; objects are packed, so one may
 * span a page boundary); dsm_typed_malloc of less than half a page takes
 * its objects from this node's size class of the type (a 4-page typed
 * block shared by its small allocations, no message per allocation).
 * dsm_typed_alloc_collective: every node calls it
 * with the same arguments and gets the same pointer; the page types are
 * known to every node when it returns. dsm_typed_malloc: any node; the
 * pages' type is announced to every node before it returns. Both return
 * NULL on error (bad type, count 0, no room, a peer failed).
 */
void *dsm_typed_alloc_collective(dsm_type_t t, size_t count);
void *dsm_typed_malloc(dsm_type_t t, size_t count);

/*
 * Free a block from dsm_typed_malloc / dsm_typed_alloc_collective (once,
 * from any node; a small allocation from a size class: on the node that
 * made it): its pages become untyped on every node, then the memory is
 * freed (a size class's block when every allocation from it is freed). 0, -EINVAL (not the start of a typed block), or an error of
 * the announcement (a peer failed). A typed block freed with dsm_free
 * keeps its pages' type (docs/hetero.md).
 */
int dsm_typed_free(void *ptr);

/*
 * dsm_broadcast of count objects of type t from root: the receivers of
 * the other byte order convert them. Collective; 0 or a negative error.
 */
int dsm_broadcast_typed(void *buf, dsm_type_t t, size_t count, int root);

/* The type of the page holding addr: a type id, 0 if untyped, -EINVAL
 * outside the region. */
int dsm_type_of(const void *addr);

/* Node's byte order: 1 little-endian, 2 big-endian, -EINVAL for a bad
 * id. */
int dsm_node_byte_order(int node);

#ifdef __cplusplus
}
#endif
#endif /* DSM_TYPE_H */
