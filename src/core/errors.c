/*
 * errors.c — dsm_strerror: text for every error a dsm_ function returns.
 */
#include <stdio.h>
#include <string.h>

#include "node.h"

/* The reason of the last configuration error, so dsm_strerror(DSM_ECONFIG)
 * can say which variable was wrong and what is accepted. */
static char config_detail[320];

void dsm__set_config_error(const char *why)
{
	snprintf(config_detail, sizeof(config_detail),
		 "bad DSM_* environment setting: %s", why);
}

/* The text of the job's failure (dsm__fail): the code it failed with and
 * what happened, naming the node. Written once per job, before the
 * failure is published to other threads. */
static int fail_code;
static char fail_detail[256];

void dsm__set_fail_detail(int err, const char *why)
{
	if (!why) {
		fail_code = 0;
		fail_detail[0] = '\0';
		return;
	}
	snprintf(fail_detail, sizeof(fail_detail), "%s", why);
	fail_code = err;
}

const char *dsm_strerror(int err)
{
	if (err != 0 && err == fail_code && fail_detail[0])
		return fail_detail;
	switch (err) {
	case 0:
		return "success";
	case DSM_ENOTINIT:
		return "libdsm is not initialised (call dsm_init first, and not "
		       "after dsm_finalize)";
	case DSM_EPEERDEAD:
		return "a peer node died or stopped answering (the log names it)";
	case DSM_ECONFIG:
		if (config_detail[0])
			return config_detail;
		return "bad DSM_* environment setting (the log names the "
		       "variable and what is accepted)";
	case DSM_EPROTO:
		return "malformed, unauthenticated or rejected message (the log "
		       "names the node and the reason)";
	case DSM_EMAPLIMIT:
		return "vm.max_map_count reached: raise it with sysctl "
		       "vm.max_map_count or use fewer, larger shared ranges";
	case DSM_ETIMEDOUT:
		return "no answer within DSM_TIMEOUT";
	case DSM_EDIVERGED:
		return "the replay diverged from the recorded run";
	default:
		break;
	}
	if (err < 0 && err > -4096)
		return strerror(-err); /* glibc: static strings for errno values */
	return "unknown libdsm error";
}
