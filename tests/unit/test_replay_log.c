/*
 * test_replay_log.c — the record/replay log format (src/replay/log.c):
 * round trips of every record kind (SCHED included) over several blocks (boundaries,
 * large fields, INPUT bytes), and rejection with the right byte offset of
 * bad magic, version, checksum, truncation, a missing END, a record after
 * END, an unknown kind and overlong varints; every prefix and every
 * single-byte corruption of a valid log is either rejected or parsed
 * without reading out of bounds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsm.h"
#include "replay/log.h"

struct logbuf {
	unsigned char b[8192];
	size_t len;
	size_t block;    /* start of the open block's header */
	uint64_t prev;   /* boundary of the last record */
};

static void lb_header(struct logbuf *l)
{
	struct dsm_rp_header h = { 3, 4, 4096 };
	l->len = dsm__rp_header_encode(l->b, &h);
	l->block = SIZE_MAX;
	l->prev = 0;
}

static void lb_open(struct logbuf *l)
{
	l->block = l->len;
	l->len += DSM_RP_BLOCK_HDR;
}

static void lb_close(struct logbuf *l)
{
	size_t start = l->block + DSM_RP_BLOCK_HDR;
	dsm__rp_block_header(l->b + l->block, l->b + start, (uint32_t)(l->len - start));
	l->block = SIZE_MAX;
}

static void lb_rec(struct logbuf *l, int kind, uint64_t boundary, uint64_t a, uint64_t b,
		   uint64_t c, uint64_t d, const char *data)
{
	struct dsm_rp_rec r = { .kind = (uint8_t)kind, .boundary = boundary,
				.f = { a, b, c, d } };
	if (data)
		r.f[0] = strlen(data);
	l->len += dsm__rp_rec_encode(l->b + l->len, &r, l->prev);
	if (data) {
		memcpy(l->b + l->len, data, strlen(data));
		l->len += strlen(data);
	}
	l->prev = boundary;
}

/* A log of every kind over two blocks. */
static void sample(struct logbuf *l)
{
	lb_header(l);
	lb_open(l);
	lb_rec(l, DSM_RP_SYNC, 1, DSM_RP_OP_BARRIER, 0, 0, 0, NULL);
	lb_rec(l, DSM_RP_TAKE, 2, 7, DSM_RP_WRITE, 1, 0, NULL);
	lb_rec(l, DSM_RP_GIVE, 2, 7, DSM_RP_READ, 1, 2, NULL);
	lb_rec(l, DSM_RP_INPUT, 2, 0, 0, 0, 0, "seed!");
	lb_close(l);
	lb_open(l);
	lb_rec(l, DSM_RP_DROP, 9, 123456789012ull, 99, 0, 0, NULL);
	lb_rec(l, DSM_RP_GRANT, 9, 5, 1, 3, 0, NULL);
	lb_rec(l, DSM_RP_MALLOC, 10, 4096, 1ull << 40, 0, 0, NULL);
	lb_rec(l, DSM_RP_SCHED, 10, 2, 0, 0, 0, NULL);
	lb_rec(l, DSM_RP_TAKE, 1000000, UINT64_MAX, 2, UINT32_MAX, 63, NULL);
	lb_rec(l, DSM_RP_END, 1000001, 0, 0, 0, 0, NULL);
	lb_close(l);
}

struct seen {
	struct dsm_rp_rec r[32];
	char data[32][16];
	int n;
};

static int collect(void *arg, const struct dsm_rp_rec *r)
{
	struct seen *s = arg;
	if (s->n < 32) {
		s->r[s->n] = *r;
		if (r->data && r->f[0] < 16)
			memcpy(s->data[s->n], r->data, r->f[0]);
	}
	s->n++;
	return 0;
}

static int parse(const struct logbuf *l, size_t len, struct seen *s, size_t *bad,
		 const char **why)
{
	struct dsm_rp_header h;
	memset(s, 0, sizeof(*s));
	return dsm__rp_parse(l->b, len, &h, collect, s, bad, why);
}

static void test_round_trip(void **state)
{
	struct logbuf l;
	struct dsm_rp_header h;
	struct seen s = { .n = 0 };
	const char *why = "";
	size_t bad = 0;

	(void)state;
	sample(&l);
	assert_int_equal(dsm__rp_parse(l.b, l.len, &h, collect, &s, &bad, &why), 0);
	assert_int_equal(h.node, 3);
	assert_int_equal(h.count, 4);
	assert_int_equal(h.page_size, 4096);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.r[0].kind, DSM_RP_SYNC);
	assert_int_equal(s.r[0].boundary, 1);
	assert_int_equal(s.r[1].kind, DSM_RP_TAKE);
	assert_int_equal(s.r[1].f[0], 7);
	assert_int_equal(s.r[1].f[1], DSM_RP_WRITE);
	assert_int_equal(s.r[2].f[3], 2);
	assert_int_equal(s.r[3].kind, DSM_RP_INPUT);
	assert_int_equal(s.r[3].f[0], 5);
	assert_memory_equal(s.data[3], "seed!", 5);
	assert_int_equal(s.r[4].kind, DSM_RP_DROP);
	assert_int_equal(s.r[4].f[0], 123456789012ull);
	assert_int_equal(s.r[4].f[1], 99);
	assert_int_equal(s.r[6].f[1], 1ull << 40);
	assert_int_equal(s.r[7].kind, DSM_RP_SCHED);
	assert_int_equal(s.r[7].f[0], 2);
	assert_int_equal(s.r[7].boundary, 10);
	assert_true(s.r[8].f[0] == UINT64_MAX);
	assert_int_equal(s.r[8].f[2], UINT32_MAX);
	assert_int_equal(s.r[8].boundary, 1000000);
	assert_int_equal(s.r[9].kind, DSM_RP_END);
	assert_string_equal(dsm__rp_kind_name(DSM_RP_SCHED), "SCHED");
	assert_string_equal(dsm__rp_kind_name(DSM_RP_GRANT), "GRANT");
	assert_string_equal(dsm__rp_kind_name(0), "?");
}

static void test_rejects(void **state)
{
	struct logbuf l, m;
	struct seen s;
	const char *why = "";
	size_t bad = 0, first_block;

	(void)state;
	sample(&l);
	first_block = dsm__rp_header_encode(m.b, &(struct dsm_rp_header){ 3, 4, 4096 });
	/* bad magic, version */
	m = l;
	m.b[0] = 'X';
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_int_equal(bad, 0);
	m = l;
	m.b[7] = 9;
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_int_equal(bad, 7);
	/* a flipped payload byte: the first block's checksum, at its start */
	m = l;
	m.b[first_block + DSM_RP_BLOCK_HDR + 1] ^= 0x40;
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_int_equal(bad, first_block);
	assert_non_null(strstr(why, "checksum"));
	/* cut inside the last block */
	assert_int_equal(parse(&l, l.len - 2, &s, &bad, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "truncated"));
	/* cut at the block boundary: well formed, no END */
	m = l;
	sample(&m);
	lb_header(&m);
	lb_open(&m);
	lb_rec(&m, DSM_RP_TAKE, 1, 1, 1, 1, 1, NULL);
	lb_close(&m);
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), -ENODATA);
	assert_int_equal(s.n, 1);
	assert_int_equal(bad, m.len);
	/* a record after END */
	lb_open(&m);
	lb_rec(&m, DSM_RP_END, 2, 0, 0, 0, 0, NULL);
	lb_rec(&m, DSM_RP_TAKE, 3, 1, 1, 1, 1, NULL);
	lb_close(&m);
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "after END"));
	/* an unknown kind, with a valid checksum */
	lb_header(&m);
	lb_open(&m);
	m.b[m.len++] = 0x42;
	m.b[m.len++] = 0;
	lb_close(&m);
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_int_equal(bad, first_block + DSM_RP_BLOCK_HDR);
	/* an overlong varint */
	lb_header(&m);
	lb_open(&m);
	m.b[m.len++] = DSM_RP_SYNC;
	for (int i = 0; i < 11; i++)
		m.b[m.len++] = 0xff;
	m.b[m.len++] = 0;
	lb_close(&m);
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	/* INPUT longer than its block */
	lb_header(&m);
	lb_open(&m);
	m.b[m.len++] = DSM_RP_INPUT;
	m.b[m.len++] = 0;
	m.b[m.len++] = 100;
	m.b[m.len++] = 'x';
	lb_close(&m);
	assert_int_equal(parse(&m, m.len, &s, &bad, &why), DSM_EPROTO);
	assert_non_null(strstr(why, "INPUT"));
}

/* Every prefix and every single-byte change of a valid log: a result in
 * {0, -ENODATA, DSM_EPROTO}, an offset within the log (ASan checks reads). */
static void test_every_cut_and_flip(void **state)
{
	struct logbuf l, m;
	struct seen s;
	const char *why;
	size_t bad, hdr;

	(void)state;
	sample(&l);
	hdr = dsm__rp_header_encode(m.b, &(struct dsm_rp_header){ 3, 4, 4096 });
	for (size_t len = 0; len <= l.len; len++) {
		unsigned char *copy = malloc(len ? len : 1);
		struct dsm_rp_header h;
		memcpy(copy, l.b, len);
		memset(&s, 0, sizeof(s));
		int rc = dsm__rp_parse(copy, len, &h, collect, &s, &bad, &why);
		assert_true(rc == (len == l.len ? 0 : rc));
		assert_true(rc == 0 || rc == -ENODATA || rc == DSM_EPROTO);
		assert_true(bad <= len);
		if (len < l.len)
			assert_true(rc != 0);
		free(copy);
	}
	for (size_t i = 0; i < l.len; i++)
		for (int bit = 0; bit < 8; bit++) {
			m = l;
			m.b[i] ^= (unsigned char)(1 << bit);
			int rc = parse(&m, m.len, &s, &bad, &why);
			assert_true(rc == 0 || rc == -ENODATA || rc == DSM_EPROTO);
			assert_true(bad <= m.len);
			if (i >= hdr) /* past the header: the checksums catch it */
				assert_int_not_equal(rc, 0);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_every_cut_and_flip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
