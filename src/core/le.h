/*
 * le.h — little-endian loads and stores at any byte address (no alignment
 * assumed), whatever the host's byte order. Every little-endian field in
 * the tree (diff headers, interval records, vector timestamps, payload
 * lengths) is read and written through these; the message header is
 * big-endian (net/msg.c, htobe*).
 */
#ifndef DSM_CORE_LE_H
#define DSM_CORE_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t dsm__get_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t dsm__get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t dsm__get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void dsm__put_le16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void dsm__put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void dsm__put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

#endif /* DSM_CORE_LE_H */
