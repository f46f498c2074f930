/*
 * apps.h — the computations of the application benchmarks: for each
 * application its parameters, input generation, the kernel pieces every
 * version calls (so their arithmetic is identical) and the sequential
 * reference. Implemented in <app>.c; the four versions of each app are
 * <app>_seq.c, <app>_pthreads.c, <app>_mpi.c and <app>_dsm.c.
 */
#ifndef APPS_APPS_H
#define APPS_APPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- sor: Jacobi relaxation of an n x n grid (row stride n), iters
 * sweeps; fixed boundary (hot top edge, warm left edge). Bitwise-exact
 * check: every cell is computed by the same expression in every version. */
struct sor {
	size_t n;
	int iters;
};
void sor_params(struct sor *p, int argc, char **argv); /* [N [ITERS]] */
void sor_init_row(double *row, size_t n, size_t i);      /* initial row i */
void sor_relax_row(double *out, const double *up, const double *row,
		   const double *down, size_t n);
/* The sequential reference: returns the final grid (app_alloc'd) and the
 * time taken without input generation in *secs. Every <app>_seq does. */
double *sor_seq(const struct sor *p, double *secs);

/* ---- mm: dense matrix multiply C = A x B, n x n doubles, row-major.
 * Every C[i][j] sums its products in the same order: bitwise-exact check. */
struct mm {
	size_t n;
};
void mm_params(struct mm *p, int argc, char **argv); /* [N] */
/* Rows [lo, hi) of A (seed 1) or B (seed 2) into m (row lo at m[0]). */
void mm_gen_rows(double *m, size_t n, size_t lo, size_t hi, uint64_t seed);
/* c[0..rows) = a[0..rows) x b; c is overwritten. */
void mm_rows(double *c, const double *a, const double *b, size_t n, size_t rows);
double *mm_seq(const struct mm *p, double *secs); /* C */

/* ---- km: k-means on n points of KM_D integer-valued coordinates, k
 * clusters, iters Lloyd iterations from the first k points. Cluster sums
 * are 64-bit integers, so they do not depend on the order of the
 * reduction: bitwise-exact check of the final centroids. */
#define KM_D 4
#define KM_S (KM_D + 1) /* per cluster: KM_D coordinate sums, then a count */
struct km {
	size_t n;
	int k, iters;
};
void km_params(struct km *p, int argc, char **argv); /* [N [K [ITERS]]] */
void km_gen(double *pts, size_t lo, size_t hi);       /* points lo..hi-1 */
void km_first_centroids(double *cent, int k);         /* points 0..k-1 */
/* Add the cnt points' coordinates and counts to sums[k * KM_S]. */
void km_assign(const double *pts, size_t cnt, const double *cent, int k,
	       int64_t *sums);
void km_update(double *cent, const int64_t *sums, int k);
double *km_seq(const struct km *p, double *secs); /* centroids k x KM_D */

/* ---- nb: n-body / water-like all-pairs forces, steps time steps. Each
 * pair is computed once and applied to both bodies (Newton's third law),
 * so every worker adds into other workers' bodies' forces: migratory data.
 * Forces are summed in different orders by different versions: the final
 * positions must agree within NB_TOL x max|position|. */
#define NB_TOL 1e-9
struct nb {
	size_t n;
	int steps;
};
void nb_params(struct nb *p, int argc, char **argv); /* [N [STEPS]] */
void nb_gen(double *pos, double *vel, size_t lo, size_t hi); /* 3 per body */
/* Forces of the pairs owned by bodies [lo, hi), added into f[3n]. */
void nb_forces(const double *pos, size_t n, size_t lo, size_t hi, double *f);
/* Advance bodies [lo, hi) by one step under forces f; zero those forces. */
void nb_move(double *pos, double *vel, double *f, size_t lo, size_t hi);
double *nb_seq(const struct nb *p, double *secs); /* final pos[3n] */

/* ---- lu: blocked LU factorisation without pivoting of a diagonally
 * dominant n x n matrix stored block by block (block (I,J) of b x b
 * doubles, contiguous, at lu_block). Every element sees the same updates
 * in the same order in every version: bitwise-exact check. */
struct lu {
	size_t n, b, nb; /* nb = n / b blocks per side */
};
void lu_params(struct lu *p, int argc, char **argv); /* [N [B]] */
double *lu_block(const struct lu *p, double *a, size_t bi, size_t bj);
void lu_gen_block(const struct lu *p, double *blk, size_t bi, size_t bj);
void lu_diag(double *akk, size_t b);                       /* in place */
void lu_col(double *aik, const double *akk, size_t b);     /* A_ik U_kk^-1 */
void lu_row(double *akj, const double *akk, size_t b);     /* L_kk^-1 A_kj */
void lu_trail(double *aij, const double *aik, const double *akj, size_t b);
/* Step k's panel: factor block (k,k), then the L blocks (i,k), i > k. */
void lu_panel(const struct lu *p, double *a, size_t k);
double *lu_seq(const struct lu *p, double *secs); /* factors, block layout */

/* ---- is: integer sort of n 32-bit keys: bucket by the top of the key
 * range (one bucket per worker, all-to-all), then LSD radix sort of each
 * bucket. Exact check against the sequential radix sort. */
struct is {
	size_t n;
};
void is_params(struct is *p, int argc, char **argv); /* [N] */
void is_gen(uint32_t *keys, size_t lo, size_t hi);  /* keys lo..hi-1 */
int is_bucket(uint32_t key, int p);                 /* 0..p-1, monotone */
void is_radix(uint32_t *a, uint32_t *tmp, size_t n); /* sorts a */
/* counts[s * p + b] = keys of source s that go to bucket b. Where source
 * s's keys for bucket b start in a bucket-major array in which every
 * (source, bucket) chunk is rounded up to pad keys (pad 1: contiguous),
 * and where bucket b starts (s = 0) and ends (s = p). */
size_t is_chunk(const uint64_t *counts, int p, size_t pad, int s, int b);
/* Bucket all keys' of [keys, keys + n) into counts[0..p) (+=). */
void is_count(const uint32_t *keys, size_t n, int p, uint64_t *counts);
uint32_t *is_seq(const struct is *p, double *secs);

/* ---- hg: histogram of n 32-bit values (skewed) into bins bins, counted
 * `passes` times (as over that many identical frames: the computation
 * reaches seconds without gigabytes of input). Exact. */
struct hg {
	size_t n;
	size_t bins;
	int passes;
};
void hg_params(struct hg *p, int argc, char **argv); /* [N [BINS [PASSES]]] */
void hg_gen(uint32_t *v, size_t lo, size_t hi, size_t bins);
/* h += the counts of v[0..cnt), passes times over. */
void hg_count(const uint32_t *v, size_t cnt, uint64_t *h, int passes);
uint64_t *hg_seq(const struct hg *p, double *secs);

/* ---- wc: word count over a text of `words` words drawn (skewed) from a
 * vocabulary of `vocab` words, read `passes` times over (every count is
 * passes times the single-pass one: seconds of work from a text that fits
 * in memory). Counts go into a hash table of WC_STRIPE-
 * entry stripes (a stripe is one page; a word's probes stay inside the
 * stripe its hash picks), so a table can be merged into another stripe by
 * stripe, under a lock per group of stripes. Exact check of the sorted
 * (word, count) list. */
#define WC_LEN 24
#define WC_STRIPE 128 /* entries per stripe: 4096 / sizeof(struct wc_entry) */
struct wc_entry {
	char w[WC_LEN]; /* NUL-terminated; empty = free slot */
	uint64_t count;
};
struct wc {
	size_t words, vocab;
	size_t stripes; /* table size: stripes * WC_STRIPE entries */
	int passes;
};
void wc_params(struct wc *p, int argc, char **argv); /* [WORDS [VOCAB [PASSES]]] */
/* Words lo..hi-1, each followed by a space, into buf (capacity
 * (hi-lo)*WC_LEN); returns the length. */
size_t wc_gen(char *buf, size_t lo, size_t hi, size_t vocab);
/* Count every word of text[0..len) into the table t (p->stripes stripes),
 * p->passes times over. */
void wc_count(const struct wc *p, struct wc_entry *t, const char *text, size_t len);
/* The stripe a word goes to. */
size_t wc_stripe_of(const struct wc *p, const char *w);
/* Add count to word w in stripe s of t. */
void wc_add(struct wc_entry *stripe, const char *w, uint64_t count);
/* Add every entry of stripe src into the same stripe dst. */
void wc_merge_stripe(struct wc_entry *dst, const struct wc_entry *src);
/* The used entries of a table (nstripes stripes), sorted by word, into a
 * new app_alloc'd array; the number in *cnt. */
struct wc_entry *wc_sorted(const struct wc_entry *t, size_t nstripes, size_t *cnt);
void wc_sort(struct wc_entry *e, size_t n); /* by word */
struct wc_entry *wc_seq(const struct wc *p, size_t *cnt, double *secs);

/* ---- tsp: branch-and-bound travelling salesman over n cities (random
 * points, integer rounded Euclidean distances), tours from city 0. The
 * search tree is cut at depth `depth` into tasks (every path of depth
 * cities from city 0, in a fixed order); a task is searched depth first,
 * nearest city first, pruned by the best tour length known (the bound)
 * plus a lower bound on the rest (each city still to leave costs at least
 * its shortest edge). The optimal length is unique: exact check of it,
 * and the reported tour must be a tour of that length. */
#define TSP_MAX 32
struct tsp {
	int n, depth;
};
struct tsp_task {
	int32_t len;               /* cities in path */
	int32_t cost;              /* length of the path */
	uint8_t path[TSP_MAX];
};
struct tsp_data {              /* private to each worker: from tsp_gen */
	int n;
	int32_t dist[TSP_MAX * TSP_MAX];
	int32_t minout[TSP_MAX];   /* shortest edge leaving each city */
	uint8_t order[TSP_MAX * TSP_MAX]; /* per city, the others nearest first */
};
void tsp_params(struct tsp *p, int argc, char **argv); /* [N [DEPTH]] */
void tsp_gen(const struct tsp *p, struct tsp_data *d);
/* The tasks, in order, into t (NULL: count only); returns how many. */
size_t tsp_tasks(const struct tsp *p, const struct tsp_data *d, struct tsp_task *t);
/* The nearest-neighbour tour: the first bound. Returns its length. */
int32_t tsp_greedy(const struct tsp_data *d, uint8_t *tour);
/* Search task t: a tour shorter than *bound lowers *bound and is copied
 * into tour (n cities). Returns the search nodes visited. */
uint64_t tsp_search(const struct tsp_data *d, const struct tsp_task *t,
		    int32_t *bound, uint8_t *tour);
/* 1 if tour is a permutation of 0..n-1 starting at 0 of length len. */
int tsp_valid(const struct tsp_data *d, const uint8_t *tour, int32_t len);
/* The sequential reference: the optimal length, its tour into tour. */
int32_t tsp_seq(const struct tsp *p, uint8_t *tour, double *secs);
/* ---- qs: quicksort of n 32-bit keys driven by a task queue under one
 * lock (the entry-consistency comparison of issue 13): a task is a range
 * of keys; a worker partitions its range, pushes the right part while it
 * is over `cutoff` keys, and sorts what is left itself. Exact check
 * against the sequentially sorted keys. */
#define QS_MAXTASK 1024 /* queued ranges; a full queue: sort locally */
struct qs {
	size_t n, cutoff;
};
/* The shared queue (a stack of ranges) and the count of ranges taken or
 * queued and not yet sorted: the work is done when it is 0. */
struct qs_queue {
	uint64_t ntask, outstanding;
	uint64_t lo[QS_MAXTASK], hi[QS_MAXTASK];
};
void qs_params(struct qs *p, int argc, char **argv); /* [N [CUTOFF]] */
void qs_gen(uint32_t *v, size_t lo, size_t hi);
/* Partition v[0..n), n >= 2, around a median of three: returns k with
 * v[0..k) <= v[k..n) and 0 < k < n. */
size_t qs_partition(uint32_t *v, size_t n);
void qs_sort_leaf(uint32_t *v, size_t n);
uint32_t *qs_seq(const struct qs *p, double *secs);

/* ---- fft: 3-D FFT of an n x n x n complex array (n a power of two, at
 * least 16) evolved iters times, as NAS FT: each iteration a forward FFT,
 * a multiplication by exp(-4 pi^2 alpha t |k|^2), an inverse FFT. The
 * array a[x][y][z] is cut into x-planes; the z and y transforms are done
 * on a's planes, then a is transposed into b[z][y][x] (cut into z-planes)
 * for the x transforms, and b is transposed back: two transposes (all to
 * all) per iteration, each between barriers. Every line is transformed
 * by the same code in every version: bitwise-exact check. */
struct fft {
	size_t n;
	int iters;
};
struct fft_c {
	double re, im;
};
void fft_params(struct fft *p, int argc, char **argv); /* [N [ITERS]] */
void fft_gen(const struct fft *p, struct fft_c *a, size_t x0, size_t x1); /* planes */
/* In place transform of n values v[0], v[stride], ...; dir -1 forward,
 * +1 inverse (unscaled). */
void fft_line(struct fft_c *v, size_t n, size_t stride, int dir);
/* a's x-planes [x0, x1): the z then y transforms (dir -1), or the y then
 * z transforms scaled by 1/n^3 (dir +1). */
void fft_yz(const struct fft *p, struct fft_c *a, size_t x0, size_t x1, int dir);
/* dst's planes [z0, z1) from src: dst[z][y][x] = src[x][y][z] (a to b,
 * and b back to a: the transpose is its own inverse). */
void fft_transpose(const struct fft *p, struct fft_c *dst, const struct fft_c *src,
		   size_t z0, size_t z1);
/* b's z-planes [z0, z1): forward x transform, evolution of iteration it,
 * inverse x transform. */
void fft_x(const struct fft *p, struct fft_c *b, size_t z0, size_t z1, int it);
struct fft_c *fft_seq(const struct fft *p, double *secs); /* final a */

/* ---- wa: water-like n-body with a lock per molecule (SPLASH-2
 * water-nsquared's pattern; the force kernel is nb's): each worker
 * computes the pairs of its molecules (i with the next n/2) into a
 * private array, then adds each touched molecule's force into the shared
 * one under that molecule's lock; a barrier; each worker moves its own
 * molecules (taking and zeroing their forces under their locks); a
 * barrier. Checked against nb_seq within NB_TOL. */
struct wa {
	size_t n;
	int steps;
};
void wa_params(struct wa *p, int argc, char **argv); /* [N [STEPS]] */
double *wa_seq(const struct wa *p, double *secs); /* final pos[3n] */

/* ---- bh: Barnes-Hut-like tree code (SPLASH-2 barnes' pattern), n bodies,
 * steps time steps: each step an octree of the bodies is built in one
 * array of nodes (by one thread), the acceleration of every body is found
 * by walking it (bodies split among the threads), then the bodies move.
 * The tree depends only on the positions, so every version computes the
 * same forces: bitwise-exact check of the final positions. */
struct bh {
	size_t n;
	int steps;
};
struct bh_node {
	double ctr[3], half; /* the cube this node covers */
	double com[3], mass; /* centre of mass and mass of its bodies */
	int child[8];        /* node indices, -1: none */
	int body;            /* a leaf's body; -1 none, -2 internal node */
	int pad;
};
struct bh_tree {
	struct bh_node *nodes;
	size_t used, cap;
};
void bh_params(struct bh *p, int argc, char **argv); /* [N [STEPS]] */
size_t bh_max_nodes(size_t n);
void bh_tree_init(struct bh_tree *t, size_t n); /* nodes app_alloc'd */
void bh_gen(double *pos, double *vel, size_t lo, size_t hi); /* 3 per body */
void bh_build(struct bh_tree *t, const double *pos, size_t n);
void bh_forces(const struct bh_tree *t, const double *pos, size_t lo,
	       size_t hi, double *acc); /* acc of bodies lo..hi-1 */
void bh_move(double *pos, double *vel, const double *acc, size_t lo, size_t hi);
double *bh_seq(const struct bh *p, double *secs); /* final pos[3n] */

#endif /* APPS_APPS_H */
