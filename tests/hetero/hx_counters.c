/*
 * hx_counters.c — a lock-protected table of mixed-field counters in a
 * mixed-byte-order job (each counter bound to its lock for ec), and a
 * typed broadcast of parameters from the last node. Every node checks
 * every counter against the sequential sum of all nodes' increments; then
 * the last node frees the table with dsm_typed_free and every node sees
 * its pages untyped.
 */
#define MN_PROG "hx_counters"
#include <stdint.h>
#include <string.h>

#include "../mn/mn_util.h"
#include "dsm_type.h"
#include "hx_wild.h"

#define NC 64
#define NLOCKS 8

struct counter {
	uint64_t hits;
	int64_t sum;
	int32_t last;
	uint16_t bumps;
	uint8_t flag;
	char tag;
	float ratio;
	double avg;
};

struct params {
	int64_t seed;
	double scale;
	int32_t rounds;
	int16_t lanes[2];
};

static int slot(int node, int i, int seed)
{
	return (node * 31 + i * 7 + seed) % NC;
}

int main(int argc, char **argv)
{
	hx_wild_install(); /* registers of a fault outside the region (hx_wild.h) */
	int err = dsm_init(&argc, &argv);

	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();
	struct dsm_field cf[] = {
		DSM_FIELD(struct counter, hits, DSM_FIELD_U64),
		DSM_FIELD(struct counter, sum, DSM_FIELD_I64),
		DSM_FIELD(struct counter, last, DSM_FIELD_I32),
		DSM_FIELD(struct counter, bumps, DSM_FIELD_U16),
		DSM_FIELD(struct counter, flag, DSM_FIELD_U8),
		DSM_FIELD(struct counter, tag, DSM_FIELD_CHAR),
		DSM_FIELD(struct counter, ratio, DSM_FIELD_FLOAT),
		DSM_FIELD(struct counter, avg, DSM_FIELD_DOUBLE),
	};
	struct dsm_field pf[] = {
		DSM_FIELD(struct params, seed, DSM_FIELD_I64),
		DSM_FIELD(struct params, scale, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct params, rounds, DSM_FIELD_I32),
		DSM_FIELD_N(struct params, lanes, DSM_FIELD_I16, 2),
	};
	dsm_type_t tc = dsm_type_register("counter", sizeof(struct counter), cf, 8);
	dsm_type_t tp = dsm_type_register("params", sizeof(struct params), pf, 4);
	if (tc <= 0 || tp <= 0)
		FAIL("dsm_type_register: %d %d", tc, tp);
	/* parameters from the last node (the s390x node in the tests) */
	struct params p = { 0 };
	if (me == count - 1)
		p = (struct params){ 0x123456789ll, 0.75, 120, { -2, 513 } };
	CHECK(dsm_broadcast_typed(&p, tp, 1, count - 1));
	if (p.seed != 0x123456789ll || p.scale != 0.75 || p.rounds != 120 ||
	    p.lanes[0] != -2 || p.lanes[1] != 513)
		FAIL("typed broadcast: seed %llx scale %g rounds %d lanes %d %d",
		     (unsigned long long)p.seed, p.scale, p.rounds, p.lanes[0], p.lanes[1]);
	struct counter *t = dsm_typed_alloc_collective(tc, NC);
	if (!t)
		FAIL("dsm_typed_alloc_collective failed");
	for (int c = 0; c < NC; c++)
		CHECK(dsm_bind(1 + c % NLOCKS, &t[c], sizeof(t[c])));
	CHECK(dsm_barrier(0));
	int seed = (int)(p.seed % 5);
	for (int i = 0; i < p.rounds; i++) {
		int c = slot(me, i, seed);
		CHECK(dsm_lock_acquire(1 + c % NLOCKS));
		t[c].hits++;
		t[c].sum += me * 1000 + i;
		t[c].last = me;
		t[c].bumps++;
		t[c].flag = 1;
		t[c].tag = 'a' + (char)(c % 26);
		t[c].ratio = (float)t[c].hits * (float)p.scale;
		t[c].avg = (double)t[c].sum / (double)t[c].hits;
		CHECK(dsm_lock_release(1 + c % NLOCKS));
	}
	CHECK(dsm_barrier(1));
	uint64_t hits[NC] = { 0 };
	int64_t sum[NC] = { 0 };
	for (int k = 0; k < count; k++)
		for (int i = 0; i < p.rounds; i++) {
			hits[slot(k, i, seed)]++;
			sum[slot(k, i, seed)] += k * 1000 + i;
		}
	for (int c = 0; c < NC; c++) {
		CHECK(dsm_lock_acquire(1 + c % NLOCKS));
		struct counter x = t[c];
		CHECK(dsm_lock_release(1 + c % NLOCKS));
		if (x.hits != hits[c] || x.sum != sum[c] || x.bumps != (uint16_t)hits[c] ||
		    (hits[c] && (x.flag != 1 || x.tag != 'a' + c % 26 ||
				 x.ratio != (float)hits[c] * 0.75f ||
				 x.avg != (double)sum[c] / (double)hits[c] ||
				 x.last < 0 || x.last >= count)))
			FAIL("counter %d: hits %llu/%llu sum %lld/%lld bumps %u ratio %g avg %g",
			     c, (unsigned long long)x.hits, (unsigned long long)hits[c],
			     (long long)x.sum, (long long)sum[c], x.bumps, x.ratio, x.avg);
	}
	CHECK(dsm_barrier(2));
	/* freed by the s390x node: its pages are untyped again everywhere */
	if (me == count - 1)
		CHECK(dsm_typed_free(t));
	CHECK(dsm_barrier(3));
	if (dsm_type_of(t) != 0)
		FAIL("after dsm_typed_free the table's page has type %d", dsm_type_of(t));
	printf("hx_counters: node %d (%s): %d counters match sequential\n", me,
	       dsm_node_byte_order(me) == 2 ? "big-endian" : "little-endian", NC);
	CHECK(dsm_barrier(4));
	return dsm_finalize() ? 1 : 0;
}
