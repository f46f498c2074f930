/*
 * stats.c — per-node counters and the job's JSON statistics document.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node.h"

#define N_WORDS (sizeof(struct dsm_stats) / sizeof(uint64_t))

/* Count a message about to be sent (header included). */
void dsm__stats_count_sent(struct dsm_node *n, const struct dsm_msg *m)
{
	uint64_t bytes = DSM_WIRE_HDR_SIZE + m->length;

	DSM_STAT_ADD(n, messages_sent, 1);
	DSM_STAT_ADD(n, bytes_sent, bytes);
	if (m->type < DSM_STATS_MSG_TYPES) {
		DSM_STAT_ADD(n, msgs_sent_by_type[m->type], 1);
		DSM_STAT_ADD(n, bytes_sent_by_type[m->type], bytes);
	}
}

/* Count a received message (header included). */
void dsm__stats_count_recv(struct dsm_node *n, const struct dsm_msg *m)
{
	uint64_t bytes = DSM_WIRE_HDR_SIZE + m->length;

	DSM_STAT_ADD(n, messages_recv, 1);
	DSM_STAT_ADD(n, bytes_recv, bytes);
	if (m->type < DSM_STATS_MSG_TYPES) {
		DSM_STAT_ADD(n, msgs_recv_by_type[m->type], 1);
		DSM_STAT_ADD(n, bytes_recv_by_type[m->type], bytes);
	}
}

/* Serialise to big-endian 64-bit words. */
void dsm__stats_pack(const struct dsm_stats *s, unsigned char *out)
{
	const uint64_t *w = (const uint64_t *)s;

	for (size_t i = 0; i < N_WORDS; i++) {
		uint64_t be = htobe64(__atomic_load_n(&w[i], __ATOMIC_RELAXED));
		memcpy(out + i * 8, &be, 8);
	}
}

void dsm__stats_unpack(const unsigned char *in, struct dsm_stats *s)
{
	uint64_t *w = (uint64_t *)s;

	for (size_t i = 0; i < N_WORDS; i++) {
		uint64_t be;
		memcpy(&be, in + i * 8, 8);
		w[i] = be64toh(be);
	}
}

/* The scalar counters, by name, for JSON. */
#define SCALARS(XX)                                                          \
	XX(read_faults) XX(write_faults) XX(local_faults) XX(remote_fetches)  \
	XX(pages_sent) XX(invalidations_sent) XX(invalidations_recv)          \
	XX(forwards) XX(twins) XX(diffs_created) XX(diffs_applied)            \
	XX(map_resets) XX(messages_sent) XX(messages_recv) XX(bytes_sent)     \
	XX(bytes_recv) XX(lock_acquires) XX(lock_wait_ns) XX(barriers)        \
	XX(barrier_wait_ns) XX(fault_wait_ns) XX(tapes_recorded)              \
	XX(tapes_applied) XX(tape_pages_prefetched) XX(tape_pages_used)        \
	XX(tape_pushes_sent) XX(tape_pages_pushed) XX(tape_pushed_used)       \
	XX(tape_pushed_dropped)

/* One node's counters as a JSON object. */
static void write_node(FILE *f, const struct dsm_stats *s, int id)
{
	int first = 1;

	fprintf(f, "    {\"node\": %d", id);
#define XX(name) fprintf(f, ", \"" #name "\": %llu", (unsigned long long)s->name);
	SCALARS(XX)
#undef XX
	fprintf(f, ", \"messages_by_type\": {");
	for (int t = 0; t < DSM_STATS_MSG_TYPES; t++) {
		if (!s->msgs_sent_by_type[t] && !s->msgs_recv_by_type[t])
			continue;
		fprintf(f, "%s\"%s\": {\"sent\": %llu, \"recv\": %llu, "
			   "\"bytes_sent\": %llu, \"bytes_recv\": %llu}",
			first ? "" : ", ", dsm_msg_type_name(t),
			(unsigned long long)s->msgs_sent_by_type[t],
			(unsigned long long)s->msgs_recv_by_type[t],
			(unsigned long long)s->bytes_sent_by_type[t],
			(unsigned long long)s->bytes_recv_by_type[t]);
		first = 0;
	}
	fprintf(f, "}}");
}

/* Write {"protocol", "nodes", "total": {...}, "per_node": [...]} to path. */
int dsm__stats_write_json(const char *path, const char *protocol,
			  const struct dsm_stats *per_node, int count)
{
	struct dsm_stats total;
	uint64_t *t = (uint64_t *)&total;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	memset(&total, 0, sizeof(total));
	for (int i = 0; i < count; i++)
		for (size_t w = 0; w < N_WORDS; w++)
			t[w] += ((const uint64_t *)&per_node[i])[w];
	fprintf(f, "{\n  \"protocol\": \"%s\",\n  \"nodes\": %d,\n  \"total\":\n",
		protocol, count);
	write_node(f, &total, -1);
	fprintf(f, ",\n  \"per_node\": [\n");
	for (int i = 0; i < count; i++) {
		write_node(f, &per_node[i], i);
		fprintf(f, i + 1 < count ? ",\n" : "\n");
	}
	fprintf(f, "  ]\n}\n");
	return fclose(f) == 0 ? 0 : -errno;
}
