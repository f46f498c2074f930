/*
 * dsmreplay — check and summarise record/replay logs (docs/replay.md).
 *
 *   dsmreplay [-v] DIR|FILE...
 *
 * For each log (a file, or every node-*.rlog in a directory) it checks the
 * format (magic, version, block checksums, record encoding, the END
 * record) and prints the node, the number of records of each kind, the
 * boundaries and the bytes; -v prints every record (#index, the index a
 * replay divergence names; boundary; kind; its fields). A corrupted log is
 * reported with the byte offset of the fault. Exit status: 0 when every
 * log is intact, 1 when one is not, 2 for a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "replay/log.h"

struct summary {
	int verbose;
	uint64_t count[DSM_RP_KIND_END_];
	uint64_t free_gives; /* read copies of read-only pages (docs/replay.md) */
	uint64_t last_boundary;
	uint64_t index;
};

static int on_rec(void *arg, const struct dsm_rp_rec *r)
{
	struct summary *s = arg;

	s->count[r->kind]++;
	if (r->kind == DSM_RP_GIVE && (r->f[1] & DSM_RP_FREE))
		s->free_gives++;
	s->last_boundary = r->boundary;
	s->index++;
	if (s->verbose)
		printf("  #%-6llu b%-8llu %-6s %llu %llu %llu %llu\n",
		       (unsigned long long)s->index, (unsigned long long)r->boundary,
		       dsm__rp_kind_name(r->kind),
		       (unsigned long long)r->f[0], (unsigned long long)r->f[1],
		       (unsigned long long)r->f[2], (unsigned long long)r->f[3]);
	return 0;
}

/* Check and summarise one log file; 0 if intact. */
static int check_file(const char *path, int verbose)
{
	struct summary s = { .verbose = verbose };
	struct dsm_rp_header h = { 0 };
	const char *why = "";
	unsigned char *buf;
	size_t bad = 0, len;
	FILE *f = fopen(path, "rb");
	struct stat sb;
	int err;

	if (!f || fstat(fileno(f), &sb) < 0) {
		fprintf(stderr, "dsmreplay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	buf = malloc((size_t)sb.st_size + 1);
	len = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
	fclose(f);
	if (!buf || len != (size_t)sb.st_size) {
		fprintf(stderr, "dsmreplay: %s: cannot read\n", path);
		free(buf);
		return 1;
	}
	err = dsm__rp_parse(buf, len, &h, on_rec, &s, &bad, &why);
	printf("%s: node %u of %u, %u-byte pages, %zu bytes, %llu boundaries\n", path,
	       h.node, h.count, h.page_size, len, (unsigned long long)s.last_boundary);
	for (unsigned k = 1; k < DSM_RP_KIND_END_; k++)
		if (s.count[k])
			printf("  %-6s %llu\n", dsm__rp_kind_name(k),
			       (unsigned long long)s.count[k]);
	if (s.free_gives)
		printf("  (GIVE  %llu of them free: read copies of read-only pages)\n",
		       (unsigned long long)s.free_gives);
	free(buf);
	if (err) {
		printf("%s: %s at byte %zu\n", path, why, bad);
		return 1;
	}
	printf("%s: intact\n", path);
	return 0;
}

/* Every node-*.rlog of a directory, in name order. */
static int check_dir(const char *dir, int verbose)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), bad = 0, found = 0;

	if (n < 0) {
		fprintf(stderr, "dsmreplay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const char *e = names[i]->d_name;
		size_t l = strlen(e);
		if (!strncmp(e, "node-", 5) && l > 5 && !strcmp(e + l - 5, ".rlog")) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, e);
			bad |= check_file(path, verbose);
			found++;
		}
		free(names[i]);
	}
	free(names);
	if (!found) {
		fprintf(stderr, "dsmreplay: %s: no node-*.rlog logs\n", dir);
		return 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	int verbose = 0, bad = 0, i = 1;
	struct stat sb;

	if (i < argc && !strcmp(argv[i], "-v")) {
		verbose = 1;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: dsmreplay [-v] DIR|FILE...\n");
		return 2;
	}
	for (; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			bad |= check_dir(argv[i], verbose);
		else
			bad |= check_file(argv[i], verbose);
	}
	return bad ? 1 : 0;
}
