/*
 * arch_x86_64.c — fault hint for x86-64: the page-fault error code's bit 1
 * says whether the access was a write. Only a hint: the protocol decides
 * from the page state, and uses this to avoid a read fetch followed by a
 * write fault when the first access to an invalid page is a write.
 */
#include <ucontext.h>

#include "vm.h"

int dsm__arch_fault_is_write(const void *ucontext)
{
	const ucontext_t *uc = ucontext;

	if (!uc)
		return -1;
	return (uc->uc_mcontext.gregs[REG_ERR] & 0x2) ? 1 : 0;
}
