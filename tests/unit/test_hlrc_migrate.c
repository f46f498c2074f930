/*
 * test_hlrc_migrate.c — hlrc's home migration decision, driven through
 * the protocol's message handler with a transport that keeps what it
 * would send (one node, id 0, of a 4-node job).
 *
 * The bug this guards against (found with mn_ec_random at 3-4 nodes,
 * 2-3% of runs with DSM_HOME_MIGRATE=on): a node writes an unclaimed page
 * (first touch: twin of zeros), closes its interval and asks the page's
 * directory for its home; the directory makes it the home, and tells a
 * second writer so before its own answer arrives. The second writer's
 * diffs reach the first node, which takes itself for the home and applies
 * them to its page; two of them made the page migrate to their sender.
 * The first node, no longer the home when it diffed its page against its
 * old twin, then sent the second writer's bytes back as its own, undoing
 * that writer's later updates at the new home.
 *
 * Checked here: two consecutive diffs from one writer migrate a clean
 * home page (the control: the second acknowledgement carries the page),
 * and never a page whose own twin is still being flushed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/node.h"
#include "core/tsan.h"
#include "net/net.h"
#include "proto/hlrc.h"
#include "proto/proto.h"
#include "vm/diff.h"
#include "vm/vm.h"

#define NODES 4
#define PAGES 16

static struct dsm_node node;
static struct dsm_msg acks[8];
static int nacks;

static int keep_send(struct dsm_node *n, int dst, const struct dsm_msg *m)
{
	(void)n;
	assert_int_equal(dst, 1);
	assert_int_equal(m->type, DSM_MSG_HLRC_ACK);
	assert_true(nacks < 8);
	acks[nacks++] = *m; /* the payload is freed after send: not kept */
	return 0;
}

static const struct dsm_transport_ops keep_tp = { .name = "keep", .send = keep_send };

static int setup(void **state)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	const char *why;

	(void)state;
	memset(&node, 0, sizeof(node));
	node.id = 0;
	node.count = NODES;
	node.page_size = ps;
	node.cfg.log_level = -1;
	node.cfg.home_migrate = 1;
	node.tp = &keep_tp;
	if (dsm__region_init(&node.region, DSM_TEST_FIXED_BASE, PAGES * ps, ps,
			     PROT_READ, &why) != 0)
		return -1;
	nacks = 0;
	return dsm__proto_hlrc.init(&node);
}

static int teardown(void **state)
{
	(void)state;
	dsm__proto_hlrc.fini(&node);
	dsm__region_close(node.region);
	node.region = NULL;
	return 0;
}

/* Node 1's diff for page p setting byte `at` to v, as it would flush it. */
static void diff_from_1(uint32_t p, size_t at, unsigned char v)
{
	size_t ps = node.page_size, max = dsm__diff_max_size(ps);
	unsigned char *twin = calloc(1, ps), *page = calloc(1, ps);
	unsigned char *msg = malloc(8 + max);
	ssize_t len;

	assert_non_null(twin);
	assert_non_null(page);
	assert_non_null(msg);
	memcpy(page, dsm__page_rt(node.region, p), ps);
	memcpy(twin, page, ps);
	page[at] = v;
	len = dsm__diff_encode(twin, page, ps, msg + 8, max);
	assert_true(len > 0);
	msg[0] = (unsigned char)p; /* little-endian u32 page, u32 len */
	msg[1] = msg[2] = msg[3] = 0;
	msg[4] = (unsigned char)len;
	msg[5] = (unsigned char)(len >> 8);
	msg[6] = msg[7] = 0;
	struct dsm_msg m = { .type = DSM_MSG_HLRC_DIFF, .src = 1,
			     .arg = { 77 }, .payload = msg, .length = (uint32_t)(8 + len) };
	assert_int_equal(dsm__proto_hlrc.handle_message(&node, &m), 0);
	assert_int_equal(dsm__page_rt(node.region, p)[at], v);
	free(twin);
	free(page);
	free(msg);
}

static uint32_t migrations(const struct dsm_msg *ack)
{
	assert_int_equal((int64_t)ack->arg[1], 0); /* not refused */
	return (uint32_t)ack->arg[2];
}

/* Control: node 0 is the home of page 3 and has a clean shared copy;
 * node 1's second flush in a row takes the home. */
static void clean_home_page_migrates(void **state)
{
	struct hlrc_state *st = HS(&node);
	struct dsm_page *pg = dsm__hlrc_pg(&node, 3);

	(void)state;
	st->pages[3].home = 0;
	pg->state = DSM_PAGE_READ_SHARED;
	diff_from_1(3, 100, 7);
	diff_from_1(3, 200, 9);
	assert_int_equal(nacks, 2);
	assert_int_equal(migrations(&acks[0]), 0);
	assert_int_equal(migrations(&acks[1]), 1);
	assert_int_equal(st->pages[3].home, 1);
}

/* Node 0 wrote page 5 first (twin of zeros), closed its interval and is
 * waiting for the directory's answer (flushing, home unknown); node 1's
 * diffs arrive meanwhile. They are applied, and the home stays here. */
static void page_with_unflushed_twin_stays(void **state)
{
	struct hlrc_state *st = HS(&node);
	struct dsm_page *pg = dsm__hlrc_pg(&node, 5);

	(void)state;
	assert_int_equal(st->pages[5].home, HLRC_NO_HOME);
	pg->state = DSM_PAGE_READ_SHARED; /* after CLOSE */
	st->pages[5].twinned = 1;
	st->pages[5].flushing = 1;
	diff_from_1(5, 100, 7);
	diff_from_1(5, 200, 9);
	diff_from_1(5, 300, 11);
	assert_int_equal(nacks, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(migrations(&acks[i]), 0);
	assert_int_equal(st->pages[5].home, 0);
	st->pages[5].twinned = 0;
	st->pages[5].flushing = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(clean_home_page_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(page_with_unflushed_twin_stays, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
