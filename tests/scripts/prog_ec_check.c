/*
 * prog_ec_check.c — programs for test_ec_check.sh (the DSM_EC_CHECK
 * detector of issue 13). Run under DSM_PROTOCOL=ec.
 *
 *   prog_ec_check correct   every access to bound data under its lock;
 *                           checks the data (a sum against the count of
 *                           critical sections); must produce no report
 *   prog_ec_check violate   node 1 breaks each rule once, in this order:
 *                           1. reads lock 1's data holding nothing
 *                           2. writes it holding lock 1 shared
 *                           3. writes it holding nothing
 *                           4. writes unbound data holding lock 2
 *                           and prints "node 1: done" if it got through
 *
 * Lock 1 guards page A, lock 2 page B; page C is unbound. Each is its own
 * page, so each check is a fault of its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dsm.h"

#define PAGE 4096
#define ROUNDS 20

int main(int argc, char **argv)
{
	volatile uint64_t *a, *b, *c;
	uint64_t v = 0;
	int me, n, violate = argc > 1 && strcmp(argv[1], "violate") == 0;

	if (dsm_init(&argc, &argv))
		return 1;
	me = dsm_node_id();
	n = dsm_node_count();
	if (!(a = dsm_alloc_collective(3 * PAGE)))
		return 1;
	b = a + PAGE / 8;
	c = b + PAGE / 8;
	if (dsm_bind(1, (void *)a, PAGE) || dsm_bind(2, (void *)b, PAGE) || dsm_barrier(0))
		return 1;
	if (!violate) {
		for (int r = 0; r < ROUNDS; r++) {
			if (dsm_lock_acquire(1))
				return 1;
			a[me] += 1;
			a[64] += 1;
			dsm_lock_release(1);
			if (dsm_lock_acquire_shared(2))
				return 1;
			v += b[0];
			dsm_lock_release(2);
			if (dsm_lock_acquire(2))
				return 1;
			b[0] += 1;
			dsm_lock_release(2);
		}
		if (dsm_barrier(0) || dsm_lock_acquire_shared(1))
			return 1;
		uint64_t sum = 0;
		for (int k = 0; k < n; k++)
			sum += a[k];
		if (sum != (uint64_t)n * ROUNDS || a[64] != (uint64_t)n * ROUNDS) {
			fprintf(stderr, "prog_ec_check: node %d: FAIL: sum %llu, a[64] %llu, "
				"want %d\n", me, (unsigned long long)sum,
				(unsigned long long)a[64], n * ROUNDS);
			return 1;
		}
		dsm_lock_release(1);
		if (me == 0)
			printf("prog_ec_check: %d nodes: correct program ok\n", n);
	} else if (me == 1) {
		v += a[3];                     /* 1. read without a hold */
		dsm_lock_acquire_shared(1);
		a[4] = 5;                      /* 2. write under a shared hold */
		dsm_lock_release(1);
		a[5] = 6;                      /* 3. write without a hold */
		dsm_lock_acquire(2);
		c[0] = 7;                      /* 4. unbound data in a CS */
		dsm_lock_release(2);
		fprintf(stderr, "prog_ec_check: node 1: done\n");
	}
	(void)v;
	dsm_barrier(0);
	return dsm_finalize() ? 1 : 0;
}
