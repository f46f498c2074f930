/*
 * mn_alloc — the shared allocator and the collectives.
 *  1. dsm_alloc_collective returns the same pointer on every node: node 0
 *     (and, for a second block, the last node) broadcasts its pointer value
 *     and every node compares; the first collective block is fresh, so
 *     zero.
 *  2. Every node dsm_mallocs B blocks of mixed sizes at the same time,
 *     checks alignment (16 bytes; page aligned from one page up), fills
 *     each with a node/block/generation pattern and records it in a
 *     collective table. After a barrier every node checks every block of
 *     every node and that no two live blocks (collective ones included)
 *     overlap.
 *  3. Node k frees the odd blocks of node k+1 (any node may free any
 *     block); after a barrier the owners allocate them again with a new
 *     pattern; after a barrier everything is checked again (reuse of the
 *     freed addresses is reported).
 *  4. Freed memory is reused: every node allocates and frees a large block
 *     many times concurrently, for a total of several times the heap size
 *     (DSM_HEAP_SIZE, default 1 GiB); this cannot succeed without reuse.
 *  5. dsm_broadcast of a 100 KB private buffer from a non-zero root (the
 *     last node) and of an odd-sized buffer from node 1 % N; every node
 *     checks the bytes. A bad root returns -EINVAL on every node and the
 *     collectives still work afterwards.
 *  6. On node 0 and on the last node in turn: dsm_malloc of an impossible
 *     size returns NULL (errno ENOMEM or EINVAL); filling the region with
 *     quarter-heap blocks ends in NULL/ENOMEM and the space is usable
 *     again after freeing; dsm_free(NULL) is a no-op.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define MN_PROG "mn_alloc"
#include "mn_util.h"

#define B 24          /* blocks per node */
#define MAXN 64
#define BAR 1u        /* the table and blocks are bound to it */
#define BCAST_LEN (100u * 1024u)

static long ps;

struct table {
	uint64_t ptr[MAXN][B];
	uint64_t size[MAXN][B];
	uint64_t gen[MAXN][B];
};

struct span {
	uint64_t lo, len;
	int node, idx;
};

static size_t block_size(int node, int i)
{
	static const size_t base[] = { 16, 24, 100, 1000, 1, 2, 3, 4000, 64, 17 };
	size_t b = base[(unsigned)(i * 7 + node) % 10];
	if (b < 8) /* 1..3 pages, the last not a whole page */
		b = b * (size_t)ps + (b == 3 ? 8 : 0);
	return b;
}

static uint8_t pattern(int node, int i, uint64_t gen, size_t j)
{
	return (uint8_t)(node * 31 + i * 7 + (int)gen * 101 + (int)(j % 251) +
			 (int)(j >> 8));
}

static void fill_block(volatile struct table *t, int i, uint64_t gen)
{
	size_t sz = block_size(me, i);
	uint8_t *p = dsm_malloc(sz);
	if (p == NULL)
		FAIL("dsm_malloc(%zu) for block %d: errno %d (%s)", sz, i, errno,
		     strerror(errno));
	if ((uintptr_t)p % 16 != 0)
		FAIL("dsm_malloc(%zu) = %p: not 16-byte aligned", sz, (void *)p);
	if (sz >= (size_t)ps && (uintptr_t)p % (uintptr_t)ps != 0)
		FAIL("dsm_malloc(%zu) = %p: a block of a page or more must be"
		     " page aligned", sz, (void *)p);
	CHECK(dsm_bind_barrier(BAR, p, sz));
	volatile uint8_t *v = p;
	for (size_t j = 0; j < sz; j++)
		v[j] = pattern(me, i, gen, j);
	t->ptr[me][i] = (uintptr_t)p;
	t->size[me][i] = sz;
	t->gen[me][i] = gen;
}

static void check_blocks(volatile struct table *t, int n)
{
	for (int k = 0; k < n; k++)
		for (int i = 0; i < B; i++) {
			volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)t->ptr[k][i];
			size_t sz = (size_t)t->size[k][i];
			uint64_t gen = t->gen[k][i];
			if (p == NULL || sz != block_size(k, i))
				FAIL("table entry node %d block %d: %p size %zu", k, i,
				     (void *)p, sz);
			for (size_t j = 0; j < sz; j++)
				if (p[j] != pattern(k, i, gen, j))
					FAIL("node %d's block %d (gen %llu) at %p: byte %zu"
					     " = %#x, expected %#x", k, i,
					     (unsigned long long)gen, (void *)p, j, p[j],
					     pattern(k, i, gen, j));
		}
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* No two live blocks overlap; extra: collective blocks (node -1). */
static void check_overlap(volatile struct table *t, int n,
			  const struct span *extra, int nextra)
{
	int cnt = n * B + nextra;
	struct span *s = malloc((size_t)cnt * sizeof *s);
	if (s == NULL)
		FAIL("out of memory");
	int c = 0;
	for (int k = 0; k < n; k++)
		for (int i = 0; i < B; i++)
			s[c++] = (struct span){ t->ptr[k][i], t->size[k][i], k, i };
	for (int e = 0; e < nextra; e++)
		s[c++] = extra[e];
	qsort(s, (size_t)cnt, sizeof *s, cmp_span);
	for (int i = 0; i + 1 < cnt; i++)
		if (s[i].lo + s[i].len > s[i + 1].lo)
			FAIL("blocks overlap: node %d #%d [%#llx,+%llu) and node %d"
			     " #%d [%#llx,+%llu)", s[i].node, s[i].idx,
			     (unsigned long long)s[i].lo, (unsigned long long)s[i].len,
			     s[i + 1].node, s[i + 1].idx,
			     (unsigned long long)s[i + 1].lo,
			     (unsigned long long)s[i + 1].len);
	free(s);
}

/* Collective allocation; the root's pointer value must equal ours. */
static void *collective(size_t sz, int root)
{
	void *p = mn_alloc_collective(sz);
	uint64_t v = (uintptr_t)p;
	CHECK(dsm_broadcast(&v, sizeof v, root));
	if (v != (uintptr_t)p)
		FAIL("dsm_alloc_collective(%zu) = %p here, %#llx on node %d", sz, p,
		     (unsigned long long)v, root);
	return p;
}

static uint64_t heap_size(void)
{
	const char *s = getenv("DSM_HEAP_SIZE");
	if (s == NULL || *s == '\0')
		return 1ull << 30;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	default: break;
	}
	return v ? v : 1ull << 30;
}

/* Allocate and free a large block often enough that the total exceeds the
 * heap several times over: impossible unless freed memory is reused. */
static void reuse_loop(int n)
{
	uint64_t heap = heap_size();
	uint64_t blk = heap / (4u * (uint64_t)n);
	if (blk > (32u << 20))
		blk = 32u << 20;
	blk -= blk % (uint64_t)ps;
	if (blk == 0)
		blk = (uint64_t)ps;
	uint64_t iters = 2 * heap / ((uint64_t)n * blk) + 1;
	for (uint64_t it = 0; it < iters; it++) {
		volatile uint64_t *p = dsm_malloc((size_t)blk);
		if (p == NULL)
			FAIL("reuse loop: dsm_malloc(%llu) failed at iteration %llu of"
			     " %llu (errno %d: freed memory not reused?)",
			     (unsigned long long)blk, (unsigned long long)it,
			     (unsigned long long)iters, errno);
		uint64_t words = blk / 8, tag = ((uint64_t)me << 32) | it;
		p[0] = tag;
		p[words - 1] = ~tag;
		if (p[0] != tag || p[words - 1] != ~tag)
			FAIL("reuse loop: block %p lost a store", (void *)p);
		dsm_free((void *)p);
		if (it % 4 == 3)
			sched_yield();
	}
}

/* An impossible size fails cleanly; a full region fails with ENOMEM and
 * recovers once the blocks are freed. Called on one node at a time. */
static void check_alloc_errors(void)
{
	errno = 0;
	void *huge = dsm_malloc((size_t)1 << 46);
	if (huge != NULL || (errno != ENOMEM && errno != EINVAL))
		FAIL("dsm_malloc(64 TiB) = %p errno %d (%s), expected NULL with"
		     " ENOMEM or EINVAL", huge, errno, strerror(errno));
	dsm_free(NULL);

	uint64_t quarter = heap_size() / 4;
	void *blk[5];
	int got = 0;
	for (got = 0; got < 5; got++) {
		errno = 0;
		blk[got] = dsm_malloc((size_t)quarter);
		if (blk[got] == NULL)
			break;
	}
	if (got == 5)
		FAIL("five blocks of a quarter of the heap (%llu bytes) each fit",
		     (unsigned long long)quarter);
	if (got < 3 || errno != ENOMEM)
		FAIL("filling the region: block %d of %llu bytes failed with errno"
		     " %d (%s), expected ENOMEM at block 3 or 4", got,
		     (unsigned long long)quarter, errno, strerror(errno));
	for (int i = 0; i < got; i++)
		dsm_free(blk[i]);
	void *again = dsm_malloc((size_t)quarter);
	if (again == NULL)
		FAIL("dsm_malloc(%llu) after freeing the region's blocks: errno %d",
		     (unsigned long long)quarter, errno);
	dsm_free(again);
}

static void check_bcast(int n, size_t len, int root, int salt)
{
	uint8_t *buf = malloc(len);
	if (buf == NULL)
		FAIL("out of memory");
	for (size_t j = 0; j < len; j++)
		buf[j] = me == root ? (uint8_t)(j * 13 + (j >> 9) + (size_t)salt)
				    : 0xee;
	CHECK(dsm_broadcast(buf, len, root));
	for (size_t j = 0; j < len; j++)
		if (buf[j] != (uint8_t)(j * 13 + (j >> 9) + (size_t)salt))
			FAIL("broadcast of %zu bytes from node %d (of %d): byte %zu ="
			     " %#x, expected %#x", len, root, n, j, buf[j],
			     (uint8_t)(j * 13 + (j >> 9) + (size_t)salt));
	free(buf);
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, MAXN);
	ps = sysconf(_SC_PAGESIZE);

	/* 1. Collective allocation: same pointer everywhere, fresh is zero. */
	volatile uint8_t *c1 = collective(1000, 0);
	for (int j = 0; j < 1000; j++)
		if (c1[j] != 0)
			FAIL("fresh collective block: byte %d = %#x", j, c1[j]);
	uint8_t *c2 = collective(3 * (size_t)ps, n - 1);
	struct table *tab = collective(sizeof(struct table), 0);
	struct span extra[3] = {
		{ (uintptr_t)c1, 1000, -1, 1 },
		{ (uintptr_t)c2, 3 * (uint64_t)ps, -1, 2 },
		{ (uintptr_t)tab, sizeof(struct table), -1, 3 },
	};
	CHECK(dsm_bind_barrier(BAR, tab, sizeof *tab));
	volatile struct table *t = tab;

	/* 2. Concurrent allocation by every node. */
	for (int i = 0; i < B; i++)
		fill_block(t, i, 0);
	CHECK(dsm_barrier(BAR));
	check_blocks(t, n);
	check_overlap(t, n, extra, 3);
	CHECK(dsm_barrier(BAR));

	/* 3. Free another node's odd blocks, then the owners reallocate. */
	int victim = (me + 1) % n;
	for (int i = 1; i < B; i += 2)
		dsm_free((void *)(uintptr_t)t->ptr[victim][i]);
	CHECK(dsm_barrier(BAR));
	uint64_t before[B]; /* this node's blocks, odd ones now freed */
	for (int i = 0; i < B; i++)
		before[i] = t->ptr[me][i];
	for (int i = 1; i < B; i += 2)
		fill_block(t, i, 1);
	CHECK(dsm_barrier(BAR));
	check_blocks(t, n);
	check_overlap(t, n, extra, 3);
	int reused = 0;
	for (int i = 1; i < B; i += 2)
		for (int k = 1; k < B; k += 2)
			if (t->ptr[me][i] == before[k])
				reused++;
	CHECK(dsm_barrier(BAR));

	/* 4. Reuse under load. */
	reuse_loop(n);
	CHECK(dsm_barrier(BAR));

	/* 5. Broadcast of private memory, non-zero roots. */
	check_bcast(n, BCAST_LEN, n - 1, 1);
	check_bcast(n, BCAST_LEN + 3, 1 % n, 2);
	uint64_t dummy = 0;
	int rc = dsm_broadcast(&dummy, sizeof dummy, n);
	if (rc != -EINVAL)
		FAIL("dsm_broadcast(root=%d of %d) = %d (%s), expected -EINVAL", n, n,
		     rc, dsm_strerror(rc));
	rc = dsm_broadcast(&dummy, sizeof dummy, -1);
	if (rc != -EINVAL)
		FAIL("dsm_broadcast(root=-1) = %d (%s), expected -EINVAL", rc,
		     dsm_strerror(rc));
	check_bcast(n, 64, 0, 3);

	/* Clean up: every node frees its own blocks. */
	CHECK(dsm_barrier(BAR));
	for (int i = 0; i < B; i++)
		dsm_free((void *)(uintptr_t)t->ptr[me][i]);
	CHECK(dsm_barrier(BAR));

	/* 6. Errors, node 0 (local allocator) and the last node (remote). */
	for (int k = 0; k < n; k += (n > 1 ? n - 1 : 1)) {
		if (me == k)
			check_alloc_errors();
		CHECK(dsm_barrier(BAR));
	}
	CHECK(dsm_finalize());
	printf("mn_alloc: node %d: ok (%d of %d reallocated blocks reused this"
	       " node's freed addresses)\n", me, reused, B / 2);
	return 0;
}
