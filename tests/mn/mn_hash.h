/*
 * mn_hash.h — the randomized multi-node programs' hash (mn_random,
 * mn_ec_random): mn_hash(seed, a, b, c) decides every random choice, the
 * same on every node.
 */
#ifndef MN_HASH_H
#define MN_HASH_H

#include <stdint.h>

static inline uint64_t mn_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static inline uint64_t mn_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	return mn_mix(seed * 0x9e3779b97f4a7c15ull ^ mn_mix(a * 31 + b * 1000003 + c));
}

#endif /* MN_HASH_H */
