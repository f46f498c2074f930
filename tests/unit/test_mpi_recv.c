/*
 * test_mpi_recv.c — the MPI transport's receive path (src/net/mpi.c,
 * included here for its static functions) with the size taken from the
 * network: a message larger than any valid one is received without
 * growing the buffer to its size, dropped, and its sender reported with
 * the reason. Runs as an MPI
 * singleton (no mpirun), sending to itself on a private communicator.
 * Skips (77) when libdsm was built without MPI, and under ThreadSanitizer
 * (Open MPI itself is not instrumented).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tsan.h"

#if defined(DSM_HAVE_MPI) && !DSM_TSAN_BUILD
#include <cmocka.h>

#include "../../src/net/mpi.c"

static struct dsm_node node;
static struct mpi tp;

static int setup(void **state)
{
	int provided;

	if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
		return -1;
	node.id = 0;
	node.count = 1;
	node.cfg.log_level = DSM_LOG_ERROR;
	MPI_Comm_dup(MPI_COMM_SELF, &tp.comm);
	MPI_Comm_set_errhandler(tp.comm, MPI_ERRORS_RETURN);
	tp.self = 1;  /* the sender, rank 0, is "a peer" of this test node */
	tp.count = 2;
	tp.page_size = 4096;
	tp.peer[0].recv_seq = 1;
	assert_int_equal(state_alloc(&tp, 4096), 0);
	return 0;
}

static int teardown(void **state)
{
	MPI_Comm_free(&tp.comm);
	MPI_Finalize();
	return 0;
}

/* One valid message type carries 64 MiB at most; with the header that is
 * the cap, and one byte more is refused before it is buffered. */
static void test_oversize(void **state)
{
	uint32_t max = 0;
	for (unsigned type = 1; type < DSM_MSG_TYPE_MAX_; type++)
		if (dsm__msg_max_len(type, 4096) > max)
			max = dsm__msg_max_len(type, 4096);
	size_t big = DSM_WIRE_HDR_SIZE + (size_t)max + 1;
	unsigned char *junk = calloc(1, big);
	MPI_Request rq;
	int more, flag = 1;

	assert_non_null(junk);
	MPI_Isend(junk, (int)big, MPI_BYTE, 0, TAG, tp.comm, &rq);
	assert_int_equal(recv_some(&node, &tp, 1, &more), 1);
	/* never received: the send stays pending; let MPI forget it */
	MPI_Request_free(&rq);
	/* not buffered, drained, sender reported with the size */
	assert_true(tp.rcap < big);
	MPI_Iprobe(MPI_ANY_SOURCE, TAG, tp.comm, &flag, MPI_STATUS_IGNORE);
	assert_int_equal(flag, 0);
	assert_int_equal(atomic_load(&tp.peer[0].lost), 1);
	assert_non_null(strstr(tp.peer[0].why, "over the largest valid message"));
	assert_int_equal(atomic_load(&node.failed), DSM_EPEERDEAD);
	free(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oversize),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
#else
int main(void)
{
	printf("SKIP: %s\n", DSM_TSAN_BUILD ? "Open MPI is not instrumented for "
	       "ThreadSanitizer" : "libdsm was built without MPI");
	return 77;
}
#endif
