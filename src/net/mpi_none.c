/*
 * mpi_none.c — compiled instead of mpi.c when CMake found no MPI: the
 * "mpi" transport exists but refuses to start, with a message saying why.
 */
#include <errno.h>
#include <stdio.h>

#include "core/node.h"

/* .setup: explain that this build has no MPI and how to get one. */
static int none_setup(struct dsm_node *n)
{
	static char why[320];

	snprintf(why, sizeof(why),
		 "DSM_TRANSPORT=mpi%s%s%s: this libdsm was built without MPI "
		 "(install Open MPI, e.g. libopenmpi-dev, and rebuild; or set "
		 "DSM_TRANSPORT=tcp and start the job with dsmrun)",
		 n->cfg.launcher[0] ? " (chosen because " : "", n->cfg.launcher,
		 n->cfg.launcher[0] ? " is set: started by mpirun/srun)" : "");
	dsm__log(NULL, DSM_LOG_ERROR, "dsm_init: %s", why);
	dsm__set_config_error(why);
	return DSM_ECONFIG;
}

static int none_init(struct dsm_node *n)
{
	return -ENOTSUP;
}

static int none_send(struct dsm_node *n, int dst, const struct dsm_msg *m)
{
	return -ENOTSUP;
}

static int none_poll(struct dsm_node *n, int timeout_ms)
{
	return -ENOTSUP;
}

static void none_wake(struct dsm_node *n)
{
}

static void none_close(struct dsm_node *n)
{
}

const struct dsm_transport_ops dsm__transport_mpi = {
	.name = "mpi",
	.setup = none_setup,
	.init = none_init,
	.send = none_send,
	.poll = none_poll,
	.wake = none_wake,
	.close = none_close,
};
