/*
 * arch_generic.c — no fault hint: the protocol decides from the page state
 * alone (a write to an invalid page costs a read fetch, then an upgrade).
 */
#include "vm.h"

int dsm__arch_fault_is_write(const void *ucontext)
{
	(void)ucontext;
	return -1;
}
