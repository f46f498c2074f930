/*
 * hx_view.c — conversion checked against a real big-endian machine's own
 * view. `hx_view native` prints, in hex, the bytes of sample objects of
 * every field kind (nested records, an array of records spanning a page
 * boundary) as this machine lays them out; `hx_view swapped` prints the
 * same objects built here and converted by src/hetero (dsm__type_swap),
 * page by page; `hx_view roundtrip` checks that converting twice is the
 * identity. The test runs `native` under qemu-s390x and `swapped` on the
 * host and compares the two outputs byte for byte. No dsm_init needed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hetero/type.h"

#define PAGE 4096

struct leaf {
	int8_t i8;
	uint8_t u8;
	int16_t i16;
	uint16_t u16;
	int32_t i32;
	uint32_t u32;
	float f;
	int64_t i64;
	uint64_t u64;
	double d;
	bool b;
	char name[7];
	void *ptr;
};

struct node {
	double x;
	struct leaf l[2];
	int32_t k;
	int16_t tail[3];
};

static void fill(struct node *o, int i)
{
	memset(o, 0, sizeof(*o));
	o->x = -1.5 * i;
	for (int j = 0; j < 2; j++) {
		struct leaf *l = &o->l[j];
		l->i8 = (int8_t)(-i - j);
		l->u8 = (uint8_t)(200 + i);
		l->i16 = (int16_t)(-3000 + i * 7 + j);
		l->u16 = (uint16_t)(0xBEEF + i);
		l->i32 = -123456789 + i * 1001 + j;
		l->u32 = 0xDEADBEEFu - (uint32_t)i;
		l->f = 0.75f * (float)i - (float)j;
		l->i64 = -1234567890123456789ll + i * 3 + j;
		l->u64 = 0x0123456789ABCDEFull * (uint64_t)(i + 1);
		l->d = 3.141592653589793 * (i + 1) + j;
		l->b = (i + j) & 1;
		snprintf(l->name, sizeof(l->name), "o%dl%d", i % 100, j);
		l->ptr = (void *)(uintptr_t)(0x200000000000ull + (uint64_t)i * 64 + (uint64_t)j * 8);
	}
	o->k = 0x11223344 + i;
	o->tail[0] = (int16_t)i;
	o->tail[1] = (int16_t)-i;
	o->tail[2] = 0x1234;
}

int main(int argc, char **argv)
{
	struct dsm_type_reg reg = { 0 };
	const char *why = NULL, *mode = argc > 1 ? argv[1] : "";
	struct dsm_field lf[] = {
		DSM_FIELD(struct leaf, i8, DSM_FIELD_I8), DSM_FIELD(struct leaf, u8, DSM_FIELD_U8),
		DSM_FIELD(struct leaf, i16, DSM_FIELD_I16), DSM_FIELD(struct leaf, u16, DSM_FIELD_U16),
		DSM_FIELD(struct leaf, i32, DSM_FIELD_I32), DSM_FIELD(struct leaf, u32, DSM_FIELD_U32),
		DSM_FIELD(struct leaf, f, DSM_FIELD_FLOAT), DSM_FIELD(struct leaf, i64, DSM_FIELD_I64),
		DSM_FIELD(struct leaf, u64, DSM_FIELD_U64), DSM_FIELD(struct leaf, d, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct leaf, b, DSM_FIELD_BOOL),
		DSM_FIELD_N(struct leaf, name, DSM_FIELD_CHAR, 7),
		DSM_FIELD(struct leaf, ptr, DSM_FIELD_PTR),
	};
	struct dsm_field nf[] = {
		DSM_FIELD(struct node, x, DSM_FIELD_DOUBLE),
		DSM_FIELD_REC_N(struct node, l, 1, 2),
		DSM_FIELD(struct node, k, DSM_FIELD_I32),
		DSM_FIELD_N(struct node, tail, DSM_FIELD_I16, 3),
	};
	int tl = dsm__type_add(&reg, "leaf", sizeof(struct leaf), lf, 13, &why);
	int tn = dsm__type_add(&reg, "node", sizeof(struct node), nf, 4, &why);
	if (tl != 1 || tn != 2) {
		fprintf(stderr, "hx_view: type registration failed: %s\n", why);
		return 1;
	}
	/* two pages of nodes: one spans the page boundary */
	size_t count = 2 * PAGE / sizeof(struct node);
	uint64_t limit = count * sizeof(struct node);
	unsigned char *blk = calloc(2, PAGE), *orig = calloc(2, PAGE);
	for (size_t i = 0; i < count; i++)
		fill((struct node *)blk + i, (int)i);
	memcpy(orig, blk, 2 * PAGE);
	const struct dsm_ctype *t = dsm__type_get(&reg, tn);
	if (!strcmp(mode, "swapped") || !strcmp(mode, "roundtrip"))
		for (int p = 0; p < 2; p++)
			dsm__type_swap(t, (uint64_t)p * PAGE, blk + p * PAGE, PAGE, limit);
	int rc = 0;
	if (!strcmp(mode, "roundtrip")) {
		for (int p = 0; p < 2; p++)
			dsm__type_swap(t, (uint64_t)p * PAGE, blk + p * PAGE, PAGE, limit);
		if (memcmp(blk, orig, 2 * PAGE)) {
			fprintf(stderr, "hx_view: FAIL: LE->BE->LE is not the identity\n");
			rc = 1;
		} else if (PAGE % sizeof(struct node) == 0) {
			fprintf(stderr, "hx_view: FAIL: no object spans the page boundary\n");
			rc = 1;
		} else {
			printf("hx_view: round trip of %zu objects (%zu bytes each) is the "
			       "identity\n", count, sizeof(struct node));
		}
	} else if (strcmp(mode, "native") && strcmp(mode, "swapped")) {
		fprintf(stderr, "usage: hx_view native|swapped|roundtrip\n");
		rc = 2;
	} else {
		printf("size %zu count %zu\n", sizeof(struct node), count);
		for (uint64_t i = 0; i < limit; i++)
			printf("%02x%s", blk[i], (i + 1) % 32 ? "" : "\n");
		printf("\n");
	}
	dsm__type_reg_free(&reg);
	free(blk);
	free(orig);
	return rc;
}
