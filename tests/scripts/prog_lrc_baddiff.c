/*
 * prog_lrc_baddiff.c — a corrupt diff must fail the access, not validate
 * the page (issue 9 point 4). Two nodes under lrc: node 0 writes a page,
 * both pass a barrier (node 1 gets the write notice), node 0 then turns
 * its twin into a diff and corrupts that diff's header through the
 * runtime's internals; node 1 reads the page. Expected: node 1 dies of
 * SIGBUS after a message naming node 0, the page and the interval; it
 * must never print the value it read ("node 1 read ...": the page was
 * validated with the diff not applied).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dsm.h"
#include "core/node.h"
#include "proto/lrc.h"

int main(int argc, char **argv)
{
	volatile uint64_t *a;
	int me;

	if (dsm_init(&argc, &argv))
		return 1;
	me = dsm_node_id();
	if (dsm_node_count() != 2 || !(a = dsm_alloc_collective(4096)))
		return 1;
	if (me == 0)
		a[0] = 42;
	if (dsm_barrier(1))
		return 1;
	if (me == 0) {
		struct dsm_node *n = dsm__get();
		size_t p = (size_t)((unsigned char *)a - n->region->app) / n->page_size;
		pthread_mutex_lock(&n->region->lock);
		if (dsm__lrc_flush_twin(n, p) || !LS(n)->pages[p].diffs) {
			pthread_mutex_unlock(&n->region->lock);
			fprintf(stderr, "prog_lrc_baddiff: node 0: no diff to corrupt\n");
			return 1;
		}
		memset(LS(n)->pages[p].diffs->data, 0xee, 4); /* bad magic */
		pthread_mutex_unlock(&n->region->lock);
	}
	if (dsm_barrier(2))
		return 1;
	if (me == 1) {
		uint64_t v = a[0];
		printf("node 1 read %llu\n", (unsigned long long)v);
		fflush(stdout);
	}
	if (dsm_barrier(3))
		return 1;
	return dsm_finalize() ? 1 : 0;
}
