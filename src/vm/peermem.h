/*
 * peermem.h — reading a same-machine peer's shared region directly
 * (docs/peer-memory.md).
 *
 * Nodes of one job on one machine (dsmrun's default) each hold their
 * region in a memfd. Each node publishes where it is (pid, fd, inode) in
 * a small file under /dev/shm named after the job secret and its id; a
 * peer that wants to read it opens /proc/PID/fd/FD, checks the inode is
 * the one published and maps it read-only. hlrc then answers a page
 * request from such a peer with "read it from my memory" instead of the
 * bytes (src/proto/hlrc.c): the home's service thread copies nothing and
 * sends nothing but a header.
 */
#ifndef DSM_VM_PEERMEM_H
#define DSM_VM_PEERMEM_H

#include <stddef.h>

struct dsm_node;

/* Publish this node's region (after the region exists, before the
 * transport connects). Off (0) with DSM_PEER_MEM=off, one node, or no
 * job secret (under MPI: nothing names the job). A failure only leaves
 * the feature off (logged at info). Returns 0. */
int dsm__peermem_publish(struct dsm_node *n);
/* Map every peer's region that is readable from here (dsm_init, once
 * the transport is up: every peer published before it connected). */
void dsm__peermem_map_all(struct dsm_node *n);
/* Peer's region, read-only, at the same offsets as ours; NULL when it is
 * not readable (another machine, off, refused). One atomic load:
 * async-signal-safe (the fault path asks). */
const unsigned char *dsm__peermem_get(struct dsm_node *n, int peer);
/* The record's path of node id in the job of secret (DSM_SECRET_LEN
 * bytes): dsmrun removes every node's after the job, so a node that
 * ends without dsm_finalize leaves none behind. */
void dsm__peermem_path(const unsigned char *secret, int id, char *buf, size_t cap);
/* Remove this node's file, once: called when a barrier completes, which
 * every node entered after mapping its peers at dsm_init, so nobody reads
 * the file again; a job killed after its first barrier (dsmrun too, with
 * SIGKILL, or a node under mpirun) leaves nothing in /dev/shm. The
 * mappings stay. Any thread. */
void dsm__peermem_retire(struct dsm_node *n);
/* Unmap the peers' regions and remove this node's file (if still there). */
void dsm__peermem_fini(struct dsm_node *n);

#endif
