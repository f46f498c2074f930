/*
 * bench_hetero.c — byte-order conversion of a 4 KiB page (src/hetero,
 * what a receiver of the other byte order does to every typed page)
 * against memcpy of the page (what receiving it costs anyway), measured
 * in the same run. Pages: doubles (the uniform fast path), a record of
 * mixed fields (int64, double, int32, int16, chars, float, pointers, 72
 * bytes: objects span pages) and a nested record (a 152-byte record with
 * an array of two 64-byte records). Hot: the same 16 pages over and over
 * (in L1/L2). Figures are medians over passes, per page.
 *
 * RESULT lines: name=hetero_conv_<type> ours_us=<µs per page>
 * raw_us=<memcpy µs per page> ratio=ours/raw target=3 (doubles; the
 * others target=-). Exit 0 unless a conversion gives a wrong answer
 * (converting twice must give the page back); never fails on time.
 * Usage: bench_hetero [--quick]   (no dsm_init, no dsmrun)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_hetero"
#include "bench_util.h"
#include "hetero/type.h"

#define PAGE 4096u
#define HOT_PAGES 16u
#define CALLS 20000u
#define PASSES 15

static volatile uint64_t sink;

struct mixed {
	int64_t key;
	double val;
	int32_t cnt;
	int16_t tag;
	char name[10];
	float f;
	void *next, *left, *right;
	uint16_t hist[4];
};

/* Median µs per page of CALLS conversions (or copies when t is NULL). */
static double time_pages(const struct dsm_ctype *t, unsigned char *pages,
			 unsigned char *dst, uint64_t limit)
{
	double v[PASSES];

	for (int p = 0; p < PASSES; p++) {
		double t0 = now_ns();
		for (unsigned i = 0; i < CALLS; i++) {
			unsigned k = i % HOT_PAGES;
			if (t)
				dsm__type_swap(t, (uint64_t)k * PAGE, pages + (size_t)k * PAGE,
					       PAGE, limit);
			else
				memcpy(dst + (size_t)k * PAGE, pages + (size_t)k * PAGE, PAGE);
		}
		v[p] = (now_ns() - t0) / CALLS / 1000.0;
		sink += pages[7] + dst[9];
	}
	return summarize(v, PASSES).med;
}

int main(int argc, char **argv)
{
	struct dsm_type_reg reg = { 0 };
	const char *why;
	struct dsm_field df[] = { { DSM_FIELD_DOUBLE, 0, 1, 0 } };
	struct dsm_field mf[] = {
		DSM_FIELD(struct mixed, key, DSM_FIELD_I64),
		DSM_FIELD(struct mixed, val, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct mixed, cnt, DSM_FIELD_I32),
		DSM_FIELD(struct mixed, tag, DSM_FIELD_I16),
		DSM_FIELD_N(struct mixed, name, DSM_FIELD_CHAR, 10),
		DSM_FIELD(struct mixed, f, DSM_FIELD_FLOAT),
		DSM_FIELD(struct mixed, next, DSM_FIELD_PTR),
		DSM_FIELD(struct mixed, left, DSM_FIELD_PTR),
		DSM_FIELD(struct mixed, right, DSM_FIELD_PTR),
		DSM_FIELD_N(struct mixed, hist, DSM_FIELD_U16, 4),
	};
	struct dsm_field nf[] = {
		{ DSM_FIELD_DOUBLE, 0, 1, 0 },
		{ DSM_FIELD_RECORD, 8, 2, 2 },
		{ DSM_FIELD_I32, 8 + 2 * sizeof(struct mixed), 1, 0 },
	};
	int td = dsm__type_add(&reg, "double", 8, df, 1, &why);
	int tm = dsm__type_add(&reg, "mixed", sizeof(struct mixed), mf, 10, &why);
	int tn = dsm__type_add(&reg, "nested", 8 + 2 * sizeof(struct mixed) + 8, nf, 3, &why);
	int ids[3] = { td, tm, tn };
	const char *names[3] = { "double", "mixed", "nested" };
	unsigned char *pages = aligned_alloc(PAGE, HOT_PAGES * PAGE);
	unsigned char *dst = aligned_alloc(PAGE, HOT_PAGES * PAGE);
	unsigned char *orig = malloc(HOT_PAGES * PAGE);

	(void)argc;
	(void)argv;
	if (td <= 0 || tm <= 0 || tn <= 0 || !pages || !dst || !orig) {
		fprintf(stderr, BENCH_NAME ": setup failed: %s\n", why ? why : "no memory");
		return 1;
	}
	for (size_t i = 0; i < HOT_PAGES * PAGE; i++)
		pages[i] = (unsigned char)(i * 131 + 7);
	memcpy(orig, pages, HOT_PAGES * PAGE);
	memset(dst, 0, HOT_PAGES * PAGE);
	printf("# byte-order conversion of one 4 KiB page vs memcpy of it (hot, median of %d x %u pages)\n",
	       PASSES, CALLS);
	double raw = time_pages(NULL, pages, dst, 0);
	for (int k = 0; k < 3; k++) {
		const struct dsm_ctype *t = dsm__type_get(&reg, ids[k]);
		uint64_t limit = (uint64_t)HOT_PAGES * PAGE / t->size * t->size;
		double ours = time_pages(t, pages, dst, limit);
		/* CALLS is a multiple of 2 * HOT_PAGES per pass: pages are back */
		if (memcmp(pages, orig, HOT_PAGES * PAGE)) {
			fprintf(stderr, BENCH_NAME ": FAIL: converting twice did not give "
					"the %s pages back\n", names[k]);
			return 1;
		}
		printf("%-8s record %3u bytes: convert %.3f us/page, memcpy %.3f us/page: %.2fx memcpy\n",
		       names[k], t->size, ours, raw, ours / raw);
		printf("RESULT name=hetero_conv_%s ours_us=%.4f raw_us=%.4f ratio=%.2f target=%s\n",
		       names[k], ours, raw, ours / raw, k == 0 ? "3" : "-");
	}
	dsm__type_reg_free(&reg);
	free(pages);
	free(dst);
	free(orig);
	return 0;
}
