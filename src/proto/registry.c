/*
 * registry.c — protocols by name (DSM_PROTOCOL).
 */
#include <string.h>

#include "proto.h"

static const struct dsm_protocol_ops *const protocols[] = {
	&dsm__proto_sc,
	&dsm__proto_lrc,
	&dsm__proto_hlrc,
	&dsm__proto_ec,
};

const struct dsm_protocol_ops *dsm__proto_find(const char *name)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (strcmp(protocols[i]->name, name) == 0)
			return protocols[i];
	return NULL;
}
