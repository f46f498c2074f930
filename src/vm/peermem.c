/*
 * peermem.c — a same-machine peer's region, mapped read-only (peermem.h,
 * docs/peer-memory.md).
 *
 * Each node writes "pid fd dev ino size page_size" to
 * /dev/shm/dsm-<job>-<id> (job: a hash of the job secret; written to a
 * temporary name and renamed, so a reader sees all of it or nothing). A
 * peer opens /proc/<pid>/fd/<fd> read-only and maps it only when the
 * file it gets has the published device, inode and size: a stale file of
 * another job, a pid reused by another process or another machine's pid
 * namespace all fail that check and leave the peer on messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/node.h"
#include "peermem.h"
#include "vm.h"

struct dsm_peermem {
	char path[96];                       /* this node's file */
	atomic_int retired;                  /* path removed (dsm__peermem_retire) */
	unsigned char *_Atomic map[DSM_MAX_NODES]; /* set once, at dsm_init */
};

/* /dev/shm/dsm-<hash of the secret>-<id> into buf. */
void dsm__peermem_path(const unsigned char *secret, int id, char *buf, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < DSM_SECRET_LEN; i++)
		h = (h ^ secret[i]) * 0x100000001b3ull;
	snprintf(buf, cap, "/dev/shm/dsm-%016" PRIx64 "-%d", h, id);
}

static void peer_path(const struct dsm_node *n, int id, char *buf, size_t cap)
{
	dsm__peermem_path(n->cfg.secret, id, buf, cap);
}

static int have_secret(const struct dsm_node *n)
{
	for (size_t i = 0; i < DSM_SECRET_LEN; i++)
		if (n->cfg.secret[i])
			return 1;
	return 0;
}

/* Write this node's record to pm->path (via a temporary name). */
static int write_record(struct dsm_node *n, struct dsm_peermem *pm)
{
	struct dsm_region *r = n->region;
	char tmp[128];
	struct stat sb;
	FILE *f;
	int ok;

	if (fstat(r->fd, &sb) < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.tmp", pm->path);
	if (!(f = fopen(tmp, "we")))
		return -errno;
	ok = fprintf(f, "%ld %d %" PRIu64 " %" PRIu64 " %zu %zu\n", (long)getpid(),
		     r->fd, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, r->size,
		     r->page_size) > 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, pm->path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int dsm__peermem_publish(struct dsm_node *n)
{
	struct dsm_peermem *pm;
	int err;

	if (!n->cfg.peer_mem || n->count < 2 || !have_secret(n))
		return 0;
	if (!(pm = calloc(1, sizeof(*pm))))
		return 0;
	peer_path(n, n->id, pm->path, sizeof(pm->path));
	if ((err = write_record(n, pm))) {
		DSM_INFO(n, "peer memory: cannot publish %s (%s): pages travel as "
			 "messages", pm->path, strerror(-err));
		free(pm);
		return 0;
	}
	n->peermem = pm;
	return 0;
}

/* Open and check peer's region; its read-only mapping or NULL. */
static unsigned char *map_peer(struct dsm_node *n, int peer)
{
	struct dsm_region *r = n->region;
	char path[96], fdpath[64];
	long pid;
	int fdnum, fd;
	uint64_t dev, ino;
	size_t size, ps;
	struct stat sb;
	unsigned char *m = NULL;
	FILE *f;
	int got;

	peer_path(n, peer, path, sizeof(path));
	if (!(f = fopen(path, "re")))
		return NULL;
	got = fscanf(f, "%ld %d %" SCNu64 " %" SCNu64 " %zu %zu", &pid, &fdnum, &dev,
		     &ino, &size, &ps);
	fclose(f);
	if (got != 6 || size != r->size || ps != r->page_size)
		return NULL;
	snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%d", pid, fdnum);
	if ((fd = open(fdpath, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_dev == dev &&
	    (uint64_t)sb.st_ino == ino && (size_t)sb.st_size == size) {
		m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			m = NULL;
	}
	close(fd);
	return m;
}

void dsm__peermem_map_all(struct dsm_node *n)
{
	struct dsm_peermem *pm = n->peermem;
	int mapped = 0;

	if (!pm)
		return;
	for (int k = 0; k < n->count; k++) {
		unsigned char *m = k == n->id ? NULL : map_peer(n, k);
		if (m)
			atomic_store_explicit(&pm->map[k], m, memory_order_release);
		mapped += m != NULL;
	}
	DSM_INFO(n, "peer memory: %d of %d peers' regions mapped (their pages are "
		 "copied from them; the others' travel as messages)", mapped, n->count - 1);
}

const unsigned char *dsm__peermem_get(struct dsm_node *n, int peer)
{
	struct dsm_peermem *pm = n->peermem;

	if (!pm || peer < 0 || peer >= n->count)
		return NULL;
	return atomic_load_explicit(&pm->map[peer], memory_order_acquire);
}

void dsm__peermem_retire(struct dsm_node *n)
{
	struct dsm_peermem *pm = n->peermem;

	if (pm && !atomic_exchange(&pm->retired, 1))
		unlink(pm->path);
}

void dsm__peermem_fini(struct dsm_node *n)
{
	struct dsm_peermem *pm = n->peermem;

	if (!pm)
		return;
	n->peermem = NULL;
	for (int i = 0; i < DSM_MAX_NODES; i++)
		if (pm->map[i])
			munmap(pm->map[i], n->region->size);
	if (!atomic_load(&pm->retired))
		unlink(pm->path);
	free(pm);
}
