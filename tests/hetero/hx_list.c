/*
 * hx_list.c — a linked list and a binary search tree of mixed-field
 * records (integers of every width, double, float, bool, chars, pointers)
 * built by every node under a lock in a mixed-byte-order job. Records are
 * 72 bytes, so some span page boundaries. The last OWN records of each node
 * come from its own dsm_typed_malloc, one record at a time (not
 * collective; packed into the node's size class of the type): the other
 * nodes learn their pages' type from its announcement. Then each node doubles `val` of
 * its own records. Every node walks the list and the tree and checks every
 * field of every record against what the sequential program computes.
 */
#define MN_PROG "hx_list"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../mn/mn_util.h"
#include "dsm_type.h"
#include "hx_wild.h"

#define PER_NODE 48
#define OWN 6 /* of them from this node's dsm_typed_malloc */

struct rec {
	int64_t key;
	double val;
	int32_t cnt;
	int16_t tag;
	uint8_t small;
	bool flag;
	char name[12];
	float f;
	struct rec *next, *left, *right;
	uint16_t hist[4];
};

struct hdr {
	struct rec *head, *root;
	int64_t used;
	uint32_t inserted;
	int32_t last;
};

static int64_t key_of(int node, int i)
{
	return (int64_t)((uint64_t)(node * 1000 + i) * 0x9E3779B97F4A7C15ull >> 20) - (1ll << 42);
}

static void fill(struct rec *r, int node, int i)
{
	r->key = key_of(node, i);
	r->val = (double)r->key / 3.0;
	r->cnt = i;
	r->tag = (int16_t)(node - 300);
	r->small = (uint8_t)(i * 5);
	r->flag = (i % 3) == 0;
	snprintf(r->name, sizeof(r->name), "n%d-r%d", node, i);
	r->f = (float)i * 0.25f - 3.0f;
	for (int k = 0; k < 4; k++)
		r->hist[k] = (uint16_t)(node * 4096 + i * 4 + k);
	r->left = r->right = NULL;
}

static void check_rec(const struct rec *r, int round)
{
	struct rec want;
	int node = r->tag + 300, i = r->cnt;

	if (node < 0 || node >= dsm_node_count() || i < 0 || i >= PER_NODE)
		FAIL("round %d: record %p: tag %d cnt %d out of range", round, (void *)r,
		     r->tag, r->cnt);
	fill(&want, node, i);
	if (round == 2)
		want.val *= 2;
	if (r->key != want.key || memcmp(&r->val, &want.val, 8) || r->small != want.small ||
	    r->flag != want.flag || strcmp(r->name, want.name) || r->f != want.f ||
	    memcmp(r->hist, want.hist, sizeof(want.hist)))
		FAIL("round %d: record of node %d #%d differs: key %lld/%lld val %.17g/%.17g "
		     "name '%s'/'%s' f %g/%g", round, node, i, (long long)r->key,
		     (long long)want.key, r->val, want.val, r->name, want.name, r->f, want.f);
}

static void insert(struct hdr *h, struct rec *r)
{
	struct rec **at = &h->root;

	while (*at)
		at = r->key < (*at)->key ? &(*at)->left : &(*at)->right;
	*at = r;
	r->next = h->head;
	h->head = r;
}

static int64_t walk(const struct rec *t, int64_t *prev, int *bad, int round, int *n)
{
	if (!t)
		return 0;
	int64_t s = walk(t->left, prev, bad, round, n);
	check_rec(t, round);
	if (*n > 0 && t->key <= *prev)
		*bad = 1;
	*prev = t->key;
	(*n)++;
	return s + (t->key >> 8) + walk(t->right, prev, bad, round, n);
}

static void verify(struct hdr *h, int count, int round)
{
	int64_t want = 0, sum = 0, prev = 0;
	int seen = 0, bad = 0, n = 0;

	for (int k = 0; k < count; k++)
		for (int i = 0; i < PER_NODE; i++)
			want += key_of(k, i) >> 8;
	for (const struct rec *r = h->head; r; r = r->next, seen++) {
		check_rec(r, round);
		sum += r->key >> 8;
	}
	if (seen != count * PER_NODE || sum != want || h->used != count * PER_NODE)
		FAIL("round %d: list has %d records (want %d), key sum %lld (want %lld)",
		     round, seen, count * PER_NODE, (long long)sum, (long long)want);
	if (walk(h->root, &prev, &bad, round, &n) != want || n != seen || bad)
		FAIL("round %d: tree: %d records, in order %s", round, n, bad ? "no" : "yes");
}

int main(int argc, char **argv)
{
	hx_wild_install(); /* registers of a fault outside the region (hx_wild.h) */
	int err = dsm_init(&argc, &argv);

	if (err)
		return fail_err("dsm_init", err);
	me = dsm_node_id();
	int count = dsm_node_count();
	struct dsm_field rf[] = {
		DSM_FIELD(struct rec, key, DSM_FIELD_I64),
		DSM_FIELD(struct rec, val, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct rec, cnt, DSM_FIELD_I32),
		DSM_FIELD(struct rec, tag, DSM_FIELD_I16),
		DSM_FIELD(struct rec, small, DSM_FIELD_U8),
		DSM_FIELD(struct rec, flag, DSM_FIELD_BOOL),
		DSM_FIELD_N(struct rec, name, DSM_FIELD_CHAR, 12),
		DSM_FIELD(struct rec, f, DSM_FIELD_FLOAT),
		DSM_FIELD(struct rec, next, DSM_FIELD_PTR),
		DSM_FIELD(struct rec, left, DSM_FIELD_PTR),
		DSM_FIELD(struct rec, right, DSM_FIELD_PTR),
		DSM_FIELD_N(struct rec, hist, DSM_FIELD_U16, 4),
	};
	struct dsm_field hf[] = {
		DSM_FIELD(struct hdr, head, DSM_FIELD_PTR),
		DSM_FIELD(struct hdr, root, DSM_FIELD_PTR),
		DSM_FIELD(struct hdr, used, DSM_FIELD_I64),
		DSM_FIELD(struct hdr, inserted, DSM_FIELD_U32),
		DSM_FIELD(struct hdr, last, DSM_FIELD_I32),
	};
	dsm_type_t trec = dsm_type_register("rec", sizeof(struct rec), rf, 12);
	dsm_type_t thdr = dsm_type_register("hdr", sizeof(struct hdr), hf, 5);
	if (trec <= 0 || thdr <= 0)
		FAIL("dsm_type_register: %d %d", trec, thdr);
	struct hdr *h = dsm_typed_alloc_collective(thdr, 1);
	struct rec *pool = dsm_typed_alloc_collective(trec, (size_t)count * PER_NODE);
	if (!h || !pool)
		FAIL("dsm_typed_alloc_collective failed");
	if (dsm_type_of(pool) != trec || dsm_type_of(h) != thdr)
		FAIL("dsm_type_of: %d %d", dsm_type_of(pool), dsm_type_of(h));
	CHECK(dsm_bind(1, h, sizeof(*h))); /* ec: the header and the pool */
	CHECK(dsm_bind(1, pool, (size_t)count * PER_NODE * sizeof(*pool)));
	struct rec *own[OWN]; /* one at a time: packed in this node's size class */
	for (int k = 0; k < OWN; k++) {
		own[k] = dsm_typed_malloc(trec, 1);
		if (!own[k] || dsm_type_of(own[k]) != trec)
			FAIL("dsm_typed_malloc: %p, type %d", (void *)own[k],
			     own[k] ? dsm_type_of(own[k]) : 0);
		if (k > 0 && own[k] != own[k - 1] + 1)
			FAIL("small typed allocations not packed: %p then %p",
			     (void *)own[k - 1], (void *)own[k]);
	}
	/* (not bound: under ec, unbound data follows release consistency) */
	CHECK(dsm_barrier(0));
	for (int i = 0; i < PER_NODE; i++) {
		CHECK(dsm_lock_acquire(1));
		struct rec *r = i < PER_NODE - OWN ? &pool[h->used] : own[i - (PER_NODE - OWN)];
		h->used++;
		fill(r, me, i);
		insert(h, r);
		h->inserted++;
		h->last = me;
		CHECK(dsm_lock_release(1));
	}
	CHECK(dsm_barrier(1));
	CHECK(dsm_lock_acquire(1)); /* ec: bound data is read under its lock */
	verify(h, count, 1);
	CHECK(dsm_lock_release(1));
	CHECK(dsm_barrier(2));
	CHECK(dsm_lock_acquire(1));
	for (struct rec *r = h->head; r; r = r->next)
		if (r->tag + 300 == me)
			r->val *= 2;
	CHECK(dsm_lock_release(1));
	CHECK(dsm_barrier(3));
	CHECK(dsm_lock_acquire(1));
	verify(h, count, 2);
	CHECK(dsm_lock_release(1));
	printf("hx_list: node %d (%s): list and tree of %d records match sequential\n", me,
	       dsm_node_byte_order(me) == 2 ? "big-endian" : "little-endian",
	       count * PER_NODE);
	CHECK(dsm_barrier(4));
	for (int k = 0; k < OWN; k++)
		CHECK(dsm_typed_free(own[k]));
	return dsm_finalize() ? 1 : 0;
}
