/*
 * test_hetero_type.c — the type registry and byte-order conversion
 * (src/hetero/type.c): every field kind swapped to the value a big-endian
 * reader sees, nested records, arrays of records, objects spanning a page
 * boundary converted page by page, LE->BE->LE round trips, diffs widened
 * to whole fields and converted, and the layouts the registry refuses.
 * (tests/hetero/ compares the big-endian bytes with a real s390x program.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hetero/type.h"
#include "vm/diff.h"

#define PAGE 4096u

struct all {
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
	struct all *next;
};

struct outer {
	double x;
	struct all a[2];
	int32_t k;
	int16_t tail[3];
};

static const struct dsm_field all_fields[] = {
	DSM_FIELD(struct all, i8, DSM_FIELD_I8),
	DSM_FIELD(struct all, u8, DSM_FIELD_U8),
	DSM_FIELD(struct all, i16, DSM_FIELD_I16),
	DSM_FIELD(struct all, u16, DSM_FIELD_U16),
	DSM_FIELD(struct all, i32, DSM_FIELD_I32),
	DSM_FIELD(struct all, u32, DSM_FIELD_U32),
	DSM_FIELD(struct all, f, DSM_FIELD_FLOAT),
	DSM_FIELD(struct all, i64, DSM_FIELD_I64),
	DSM_FIELD(struct all, u64, DSM_FIELD_U64),
	DSM_FIELD(struct all, d, DSM_FIELD_DOUBLE),
	DSM_FIELD(struct all, b, DSM_FIELD_BOOL),
	DSM_FIELD_N(struct all, name, DSM_FIELD_CHAR, 7),
	DSM_FIELD(struct all, next, DSM_FIELD_PTR),
};

static struct dsm_type_reg reg;
static int t_all, t_outer, t_dbl;

static int setup(void **state)
{
	const char *why;
	struct dsm_field of[] = {
		DSM_FIELD(struct outer, x, DSM_FIELD_DOUBLE),
		DSM_FIELD_REC_N(struct outer, a, 0, 2),
		DSM_FIELD(struct outer, k, DSM_FIELD_I32),
		DSM_FIELD_N(struct outer, tail, DSM_FIELD_I16, 3),
	};
	struct dsm_field df[] = { { DSM_FIELD_DOUBLE, 0, 4, 0 } };

	(void)state;
	memset(&reg, 0, sizeof(reg));
	t_all = dsm__type_add(&reg, "all", sizeof(struct all), all_fields,
			      sizeof(all_fields) / sizeof(all_fields[0]), &why);
	of[1].record = t_all;
	t_outer = dsm__type_add(&reg, "outer", sizeof(struct outer), of, 4, &why);
	t_dbl = dsm__type_add(&reg, "dbl4", 32, df, 1, &why);
	return t_all > 0 && t_outer > 0 && t_dbl > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dsm__type_reg_free(&reg);
	return 0;
}

static void fill_all(struct all *a, int seed)
{
	memset(a, 0, sizeof(*a));
	a->i8 = (int8_t)(-3 - seed);
	a->u8 = (uint8_t)(200 + seed);
	a->i16 = (int16_t)(-12345 + seed);
	a->u16 = (uint16_t)(0xBEEF + seed);
	a->i32 = -123456789 + seed;
	a->u32 = 0xDEADBEEFu + (uint32_t)seed;
	a->f = 1.5f + (float)seed;
	a->i64 = -1234567890123456789ll + seed;
	a->u64 = 0x0123456789ABCDEFull + (uint64_t)seed;
	a->d = 3.141592653589793 * (seed + 1);
	a->b = seed & 1;
	memcpy(a->name, "node-", 6);
	a->name[5] = (char)('0' + seed % 10);
	a->next = (struct all *)(uintptr_t)(0x200000001000ull + 64u * (unsigned)seed);
}

/* Read a field of width w at p as the other byte order would. */
static uint64_t rev(const void *p, size_t w)
{
	const unsigned char *b = p;
	uint64_t v = 0;

	for (size_t i = 0; i < w; i++)
		v = v << 8 | b[i]; /* bytes in reverse significance */
	(void)w;
	return v;
}

static uint64_t host(const void *p, size_t w)
{
	uint64_t v = 0;

	memcpy(&v, p, w); /* little-endian host: low bytes */
	return v;
}

/* Every field kind: after the swap each field read with reversed byte
 * significance is the original value; bytes never swapped stay. */
static void test_every_kind(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_all);
	struct all a, s;

	(void)state;
	fill_all(&a, 7);
	s = a;
	assert_int_equal(dsm__type_swap(t, 0, &s, sizeof(s), sizeof(s)), 0);
#define CHECK(f) assert_true(rev(&s.f, sizeof(a.f)) == host(&a.f, sizeof(a.f)))
	CHECK(i16); CHECK(u16); CHECK(i32); CHECK(u32); CHECK(f);
	CHECK(i64); CHECK(u64); CHECK(d); CHECK(next);
#undef CHECK
	assert_int_equal(s.i8, a.i8);
	assert_int_equal(s.u8, a.u8);
	assert_int_equal(s.b, a.b);
	assert_memory_equal(s.name, a.name, sizeof(a.name));
	/* a hand-made big-endian u32 */
	assert_int_equal(((unsigned char *)&s.u32)[0], 0xDE);
	assert_int_equal(((unsigned char *)&s.u32)[3], (0xEF + 7) & 0xff);
	/* round trip */
	dsm__type_swap(t, 0, &s, sizeof(s), sizeof(s));
	assert_memory_equal(&s, &a, sizeof(a));
}

/* Nested records and arrays of them: the inner fields are swapped at
 * their place in the outer record. */
static void test_nested(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_outer);
	const struct dsm_ctype *ta = dsm__type_get(&reg, t_all);
	struct outer o, s;
	struct all x;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.x = -2.5;
	fill_all(&o.a[0], 1);
	fill_all(&o.a[1], 2);
	o.k = 0x11223344;
	o.tail[0] = 1; o.tail[1] = -2; o.tail[2] = 0x1234;
	s = o;
	assert_int_equal(dsm__type_swap(t, 0, &s, sizeof(s), sizeof(s)), 0);
	x = o.a[1];
	dsm__type_swap(ta, 0, &x, sizeof(x), sizeof(x));
	assert_memory_equal(&s.a[1], &x, sizeof(x));
	assert_true(rev(&s.k, 4) == 0x11223344);
	assert_true(rev(&s.tail[2], 2) == 0x1234);
	assert_true(rev(&s.x, 8) == host(&o.x, 8));
	dsm__type_swap(t, 0, &s, sizeof(s), sizeof(s));
	assert_memory_equal(&s, &o, sizeof(o));
	assert_int_equal(t->size, sizeof(struct outer));
	assert_int_equal(t->align, 8);
}

/* A block of 3 pages of `outer` records (which do not divide the page):
 * converting page by page equals converting the whole block, objects
 * that span a page boundary included; the round trip is the identity;
 * bytes past the last object are left alone. */
static void test_boundary_spanning(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_outer);
	size_t count = 3 * PAGE / sizeof(struct outer);
	uint64_t limit = count * sizeof(struct outer);
	unsigned char *a = calloc(3, PAGE), *b = calloc(3, PAGE), *orig = calloc(3, PAGE);

	(void)state;
	assert_true(PAGE % sizeof(struct outer) != 0);
	for (size_t i = 0; i < count; i++) {
		struct outer o;
		memset(&o, 0, sizeof(o));
		o.x = (double)i;
		fill_all(&o.a[0], (int)i);
		fill_all(&o.a[1], (int)i + 1);
		o.k = (int32_t)i * 1000;
		memcpy(a + i * sizeof(o), &o, sizeof(o));
	}
	memset(a + limit, 0x5A, 3 * PAGE - limit); /* tail: never touched */
	memcpy(b, a, 3 * PAGE);
	memcpy(orig, a, 3 * PAGE);
	assert_int_equal(dsm__type_swap(t, 0, a, 3 * PAGE, limit), 0);
	for (int p = 0; p < 3; p++) /* page by page, as pages travel */
		assert_int_equal(dsm__type_swap(t, (uint64_t)p * PAGE, b + p * PAGE,
						PAGE, limit), 0);
	assert_memory_equal(a, b, 3 * PAGE);
	assert_int_equal(a[3 * PAGE - 1], 0x5A);
	assert_memory_not_equal(a, orig, PAGE);
	for (int p = 2; p >= 0; p--)
		dsm__type_swap(t, (uint64_t)p * PAGE, b + p * PAGE, PAGE, limit);
	assert_memory_equal(b, orig, 3 * PAGE);
	/* a range cutting fields reports them and leaves them as they were */
	memcpy(b, orig, PAGE);
	assert_true(dsm__type_swap(t, 3, b + 3, 10, limit) > 0);
	free(a);
	free(b);
	free(orig);
}

/* A record of doubles is swapped as a flat array (the fast path). */
static void test_uniform(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_dbl);
	double d[PAGE / 8], s[PAGE / 8];

	(void)state;
	assert_int_equal(t->uniform, 8);
	for (size_t i = 0; i < PAGE / 8; i++)
		d[i] = 0.5 * (double)i - 7;
	memcpy(s, d, sizeof(d));
	dsm__type_swap(t, PAGE, s, PAGE, 10 * PAGE);
	for (size_t i = 0; i < PAGE / 8; i++)
		assert_true(rev(&s[i], 8) == host(&d[i], 8));
	dsm__type_swap(t, PAGE, s, PAGE, 10 * PAGE);
	assert_memory_equal(s, d, sizeof(d));
}

/* A diff that changes one byte of a double, one of a u32 and one of a
 * char array: widened, each numeric run covers its whole field (and the
 * char byte stays a 1-byte run); converted, applied to the big-endian
 * copy of the old page it gives the big-endian copy of the new page. */
static void test_diff_widen_swap(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_all);
	size_t count = PAGE / sizeof(struct all);
	uint64_t limit = count * sizeof(struct all);
	unsigned char *twin = calloc(1, PAGE), *page = calloc(1, PAGE);
	unsigned char *be_old = calloc(1, PAGE), *be_new = calloc(1, PAGE);
	size_t cap = dsm__diff_max_size(PAGE);
	unsigned char *d = malloc(cap), *w = malloc(cap);
	uint32_t runs, bytes;

	(void)state;
	for (size_t i = 0; i < count; i++)
		fill_all((struct all *)twin + i, (int)i);
	memcpy(page, twin, PAGE);
	struct all *o = (struct all *)page + 5;
	((unsigned char *)&o->d)[3] ^= 0x40;     /* one byte of a double */
	((unsigned char *)&o->u32)[0] ^= 1;      /* one byte of a u32 */
	o->name[2] = 'X';                        /* one char */
	ssize_t len = dsm__diff_encode(twin, page, PAGE, d, cap);
	assert_true(len > 4);
	long wl = dsm__type_diff_widen(t, 0, limit, page, PAGE, d, (size_t)len, w, cap);
	assert_true(wl > 0);
	assert_int_equal(dsm__diff_stats(w, (size_t)wl, PAGE, &runs, &bytes), 0);
	assert_int_equal(runs, 3);
	assert_int_equal(bytes, 8 + 4 + 1);
	/* the unwidened diff cannot be converted: it splits fields */
	assert_int_equal(dsm__type_diff_swap(t, 0, limit, d, (size_t)len, PAGE), -EINVAL);
	assert_int_equal(dsm__type_diff_swap(t, 0, limit, w, (size_t)wl, PAGE), 0);
	memcpy(be_old, twin, PAGE);
	dsm__type_swap(t, 0, be_old, PAGE, limit);
	memcpy(be_new, page, PAGE);
	dsm__type_swap(t, 0, be_new, PAGE, limit);
	assert_int_equal(dsm__diff_apply(be_old, PAGE, w, (size_t)wl), 0);
	assert_memory_equal(be_old, be_new, PAGE);
	free(twin); free(page); free(be_old); free(be_new); free(d); free(w);
}

/* Diffs on a page in the middle of a block whose objects span pages:
 * runs are clipped to the page, random changes round-trip. */
static void test_diff_random(void **state)
{
	const struct dsm_ctype *t = dsm__type_get(&reg, t_outer);
	size_t count = 4 * PAGE / sizeof(struct outer);
	uint64_t limit = count * sizeof(struct outer), rel = PAGE;
	unsigned char *twin = malloc(PAGE), *page = malloc(PAGE), *be = malloc(PAGE);
	unsigned char *be_new = malloc(PAGE);
	size_t cap = dsm__diff_max_size(PAGE);
	unsigned char *d = malloc(cap), *w = malloc(cap);
	uint64_t s = 88172645463325252ull;

	(void)state;
	for (int it = 0; it < 200; it++) {
		for (size_t i = 0; i < PAGE; i++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			twin[i] = (unsigned char)s;
		}
		memcpy(page, twin, PAGE);
		for (int k = 0; k < 1 + it % 40; k++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			page[s % PAGE] ^= (unsigned char)(1 + (s >> 20) % 255);
		}
		ssize_t len = dsm__diff_encode(twin, page, PAGE, d, cap);
		long wl = dsm__type_diff_widen(t, rel, limit, page, PAGE, d,
					       (size_t)len, w, cap);
		assert_true(wl >= 4);
		assert_int_equal(dsm__type_diff_swap(t, rel, limit, w, (size_t)wl, PAGE), 0);
		memcpy(be, twin, PAGE);
		dsm__type_swap(t, rel, be, PAGE, limit);
		memcpy(be_new, page, PAGE);
		dsm__type_swap(t, rel, be_new, PAGE, limit);
		assert_int_equal(dsm__diff_apply(be, PAGE, w, (size_t)wl), 0);
		assert_memory_equal(be, be_new, PAGE);
	}
	free(twin); free(page); free(be); free(be_new); free(d); free(w);
}

/* Layouts the registry refuses, each with its reason. */
static void test_refused(void **state)
{
	struct dsm_type_reg r;
	const char *why;
	struct dsm_field mis[] = { { DSM_FIELD_I32, 2, 1, 0 } };
	struct dsm_field out[] = { { DSM_FIELD_DOUBLE, 8, 2, 0 } };
	struct dsm_field ovl[] = { { DSM_FIELD_I64, 0, 1, 0 }, { DSM_FIELD_I32, 4, 1, 0 } };
	struct dsm_field unk[] = { { DSM_FIELD_RECORD, 0, 1, 9 } };
	struct dsm_field bad[] = { { 99, 0, 1, 0 } };

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(dsm__type_add(&r, "m", 8, mis, 1, &why), -EINVAL);
	assert_string_equal(why, "field not naturally aligned");
	assert_int_equal(dsm__type_add(&r, "o", 16, out, 1, &why), -EINVAL);
	assert_string_equal(why, "field outside the record");
	assert_int_equal(dsm__type_add(&r, "v", 8, ovl, 2, &why), -EINVAL);
	assert_string_equal(why, "fields overlap");
	assert_int_equal(dsm__type_add(&r, "u", 8, unk, 1, &why), -EINVAL);
	assert_string_equal(why, "nested record of an unknown type");
	assert_int_equal(dsm__type_add(&r, "b", 8, bad, 1, &why), -EINVAL);
	assert_int_equal(dsm__type_add(&r, "z", 0, NULL, 0, &why), -EINVAL);
	assert_int_equal(r.count, 0);
	dsm__type_reg_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_boundary_spanning),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_diff_widen_swap),
		cmocka_unit_test(test_diff_random),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
