/*
 * dsmapp.c — libdsm helpers for the application benchmarks (dsmapp.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dsmapp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "dsm_tapeworm.h"

/* a slot: the node's dsm_stats, then its compulsory misses (u64) */
#define SLOT_BYTES app_round_up(sizeof(struct dsm_stats) + 8, APP_PAGE)
#define N_WORDS (sizeof(struct dsm_stats) / sizeof(uint64_t))

static void check(struct dapp *d, const char *what, int err)
{
	if (err == 0)
		return;
	fprintf(stderr, "%s: node %d: %s: %s\n", d->app, d->me, what,
		dsm_strerror(err));
	exit(1);
}

static struct dsm_stats *slot(struct dapp *d, int k)
{
	return (struct dsm_stats *)((char *)d->slots + (size_t)k * SLOT_BYTES);
}

/* Remote misses on pages the node had never read (dsm_tapeworm_stats'
 * first_misses; 0 where the protocol has no tape hooks). */
static unsigned long long first_misses(void)
{
	struct dsm_tw_stats tw;

	return dsm_tapeworm_stats(0, 0, &tw) ? 0 : tw.first_misses;
}

static uint64_t *first_slot(struct dapp *d, int k)
{
	return (uint64_t *)(slot(d, k) + 1);
}

void dapp_init(struct dapp *d, const char *app, int *argc, char ***argv)
{
	const char *p = getenv("DSM_PROTOCOL");

	memset(d, 0, sizeof(*d));
	d->app = app;
	d->me = -1;
	check(d, "dsm_init", dsm_init(argc, argv));
	d->me = dsm_node_id();
	d->np = dsm_node_count();
	d->proto = p && *p ? p : "default";
	d->slots = dapp_alloc(d, (size_t)d->np * SLOT_BYTES);
	dapp_bind_barrier(d, d->slots, (size_t)d->np * SLOT_BYTES);
}

void *dapp_alloc(struct dapp *d, size_t bytes)
{
	return dapp_alloc_placed(d, bytes, DSM_PLACE_DEFAULT);
}

void *dapp_alloc_placed(struct dapp *d, size_t bytes, int hint)
{
	void *p = dsm_alloc_collective_hint(app_round_up(bytes ? bytes : 1, APP_PAGE),
					    hint);

	if (p == NULL)
		check(d, "dsm_alloc_collective_hint", -errno);
	return p;
}

void dapp_barrier(struct dapp *d)
{
	check(d, "dsm_barrier", dsm_barrier(DAPP_BAR));
}

void dapp_bind_barrier(struct dapp *d, void *addr, size_t len)
{
	check(d, "dsm_bind_barrier", dsm_bind_barrier(DAPP_BAR, addr, len));
}

void dapp_bind(struct dapp *d, unsigned lock, void *addr, size_t len)
{
	check(d, "dsm_bind", dsm_bind(lock, addr, len));
}

void dapp_lock(struct dapp *d, unsigned lock)
{
	check(d, "dsm_lock_acquire", dsm_lock_acquire(lock));
}

void dapp_lock_shared(struct dapp *d, unsigned lock)
{
	check(d, "dsm_lock_acquire_shared", dsm_lock_acquire_shared(lock));
}

void dapp_unlock(struct dapp *d, unsigned lock)
{
	check(d, "dsm_lock_release", dsm_lock_release(lock));
}

void dapp_start(struct dapp *d)
{
	dapp_barrier(d);
	check(d, "dsm_stats", dsm_stats(&d->st0));
	d->first0 = first_misses();
	d->t0 = app_now();
}

void dapp_stop(struct dapp *d)
{
	struct dsm_stats now;
	uint64_t *a = (uint64_t *)&now;
	const uint64_t *b = (const uint64_t *)&d->st0;

	dapp_barrier(d);
	d->seconds = app_now() - d->t0;
	check(d, "dsm_stats", dsm_stats(&now));
	for (size_t w = 0; w < N_WORDS; w++)
		a[w] -= b[w];
	d->st0 = now; /* now the delta */
	d->first0 = first_misses() - d->first0;
}

/* Bytes of the pages node s's peers copied from its memory instead of
 * receiving them (DSM_PEER_MEM, hlrc only): pages it sent less those
 * whose bytes were in its HLRC_PAGE replies (each reply: a 48-byte wire
 * header, src/net/net.h, and its pages) or its TAPE_REP replies (12
 * bytes and the page each). No HLRC_PAGE replies: none (sc and lrc
 * count the pages of their own replies in pages_sent too). */
static unsigned long long peer_copied(const struct dsm_stats *s)
{
	unsigned long long ps = (unsigned long long)sysconf(_SC_PAGESIZE);
	unsigned long long hb = 0, hm = 0, tb = 0, wired;

	for (int t = 0; t < DSM_STATS_MSG_TYPES; t++) {
		const char *name = dsm_msg_type_name(t);
		if (name && strcmp(name, "HLRC_PAGE") == 0) {
			hb = s->bytes_sent_by_type[t];
			hm = s->msgs_sent_by_type[t];
		} else if (name && strcmp(name, "TAPE_REP") == 0) {
			tb = s->bytes_sent_by_type[t];
		}
	}
	if (hm == 0 || hb < hm * 48)
		return 0;
	wired = (hb - hm * 48) / ps + tb / (ps + 12);
	return s->pages_sent > wired ? (s->pages_sent - wired) * ps : 0;
}

/* Node 0: the measured counters summed over all nodes, as key=value:
 * messages, bytes (on the wire, plus the pages copied from a peer's
 * memory: the data moved either way; wire_bytes: the wire alone), faults,
 * diffs, fetches; dsm_barrier and lock acquire
 * calls (barriers: summed over the nodes, so barrier episodes = barriers /
 * nodes); and the messages and bytes of the synchronization messages, by
 * wire type name: bar_* for BAR_* (arrivals and releases, with the
 * protocol data they carry), lock_* for LOCK_* and ec's EC_LOCK_*
 * (requests, grants, releases). */
static void totals(struct dapp *d, char *buf, size_t len)
{
	unsigned long long msgs = 0, bytes = 0, faults = 0, diffs = 0, fetch = 0;
	unsigned long long bars = 0, locks = 0, bmsgs = 0, bbytes = 0;
	unsigned long long lmsgs = 0, lbytes = 0, first = 0, wire = 0;

	for (int k = 0; k < d->np; k++) {
		const struct dsm_stats *s = slot(d, k);
		msgs += s->messages_sent;
		wire += s->bytes_sent;
		bytes += s->bytes_sent + peer_copied(s);
		faults += s->read_faults + s->write_faults;
		diffs += s->diffs_created;
		fetch += s->remote_fetches;
		first += *first_slot(d, k);
		bars += s->barriers;
		locks += s->lock_acquires;
		for (int t = 0; t < DSM_STATS_MSG_TYPES; t++) {
			const char *name = dsm_msg_type_name(t);
			if (name == NULL)
				continue;
			if (strncmp(name, "BAR_", 4) == 0) {
				bmsgs += s->msgs_sent_by_type[t];
				bbytes += s->bytes_sent_by_type[t];
			} else if (strncmp(name, "LOCK_", 5) == 0 ||
				   strncmp(name, "EC_LOCK_", 8) == 0) { /* ec's own */
				lmsgs += s->msgs_sent_by_type[t];
				lbytes += s->bytes_sent_by_type[t];
			}
		}
	}
	snprintf(buf, len, "msgs=%llu bytes=%llu faults=%llu diffs=%llu"
		 " fetches=%llu barriers=%llu locks=%llu bar_msgs=%llu"
		 " bar_bytes=%llu lock_msgs=%llu lock_bytes=%llu first_misses=%llu"
		 " wire_bytes=%llu", msgs, bytes, faults, diffs, fetch, bars, locks, bmsgs,
		 bbytes, lmsgs, lbytes, first, wire);
}

int dapp_finish(struct dapp *d, int ok)
{
	int32_t verdict = ok;
	char extra[512];

	check(d, "dsm_broadcast", dsm_broadcast(&verdict, sizeof verdict, 0));
	*slot(d, d->me) = d->st0;
	*first_slot(d, d->me) = d->first0;
	dapp_barrier(d);
	if (d->me == 0) {
		totals(d, extra, sizeof extra);
		app_report(d->app, "dsm", d->np, d->proto, d->seconds, verdict, extra);
		if (getenv("APP_WAITS")) /* where each node's time went (stderr) */
			for (int k = 0; k < d->np; k++)
				fprintf(stderr, "%s: node %d: waits fault %.3f s, barrier %.3f s,"
					" lock %.3f s; read faults %llu, write faults %llu\n",
					d->app, k, slot(d, k)->fault_wait_ns / 1e9,
					slot(d, k)->barrier_wait_ns / 1e9,
					slot(d, k)->lock_wait_ns / 1e9,
					(unsigned long long)slot(d, k)->read_faults,
					(unsigned long long)slot(d, k)->write_faults);
		if (getenv("APP_WAITS") && getenv("APP_WAITS")[0] == '2')
			for (int k = 0; k < d->np; k++)
				for (int t = 0; t < DSM_STATS_MSG_TYPES; t++)
					if (slot(d, k)->msgs_sent_by_type[t])
						fprintf(stderr, "%s: node %d: %s %llu msgs %llu bytes\n",
							d->app, k, dsm_msg_type_name(t),
							(unsigned long long)slot(d, k)->msgs_sent_by_type[t],
							(unsigned long long)slot(d, k)->bytes_sent_by_type[t]);
	}
	check(d, "dsm_finalize", dsm_finalize());
	return verdict ? 0 : 1;
}
