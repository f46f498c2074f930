/*
 * dsmapp.h — the libdsm side of the application benchmarks: start-up,
 * collective allocation, barriers and locks that exit on error, and the
 * measured region whose dsm_stats deltas (summed over the nodes) are
 * printed on node 0's APP line.
 */
#ifndef APPS_DSMAPP_H
#define APPS_DSMAPP_H

#include <stddef.h>

#include <dsm.h>

struct dapp {
	const char *app;
	int me, np;
	const char *proto;       /* DSM_PROTOCOL, or "default" */
	struct dsm_stats *slots; /* shared: one page-padded slot per node */
	struct dsm_stats st0;    /* counters at dapp_start */
	unsigned long long first0; /* compulsory misses at dapp_start (dsm_tapeworm_stats) */
	double t0, seconds;
};

/* dsm_init, node id/count, the stats slots. Exits on error. */
void dapp_init(struct dapp *d, const char *app, int *argc, char ***argv);

/* dsm_alloc_collective of bytes rounded up to whole pages (so two arrays
 * never share a page). Exits on error. */
void *dapp_alloc(struct dapp *d, size_t bytes);
/* The same with a placement hint (DSM_PLACE_*; hlrc homes). */
void *dapp_alloc_placed(struct dapp *d, size_t bytes, int hint);

/* Barrier DAPP_BAR; dapp_bind_barrier binds data to it (used by entry
 * consistency, recorded only under other protocols). */
#define DAPP_BAR 0u
void dapp_barrier(struct dapp *d);
void dapp_bind_barrier(struct dapp *d, void *addr, size_t len);
void dapp_bind(struct dapp *d, unsigned lock, void *addr, size_t len);
void dapp_lock(struct dapp *d, unsigned lock);
void dapp_lock_shared(struct dapp *d, unsigned lock);
void dapp_unlock(struct dapp *d, unsigned lock);

/* Begin the measured region: a barrier, then the clock and counters. */
void dapp_start(struct dapp *d);

/* End it: a barrier, then the clock and this node's counter deltas. */
void dapp_stop(struct dapp *d);

/* Node 0 passes its verdict (1 = matches the sequential computation);
 * it reaches every node, node 0 prints the APP line with the summed
 * counters, every node finalizes. Returns the exit status (0 or 1). */
int dapp_finish(struct dapp *d, int ok);

#endif /* APPS_DSMAPP_H */
