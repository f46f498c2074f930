/*
 * mn_uffd.h — does this kernel offer what DSM_WRITE_DETECT=auto needs to
 * pick the kernel's record of writes (asynchronous userfaultfd
 * write-protection)? Shared by the tests whose claims hold only then
 * (mn_wp_adapt, mn_assume).
 *
 *   mn_kernel_records_writes()  1 if a user-mode userfaultfd offers
 *                               UFFD_FEATURE_WP_ASYNC, else 0
 */
#ifndef MN_UFFD_H
#define MN_UFFD_H

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1u << 15)
#endif

static inline int mn_kernel_records_writes(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	int ok;

	if (fd < 0)
		return 0;
	ok = ioctl((int)fd, UFFDIO_API, &api) == 0 && (api.features & UFFD_FEATURE_WP_ASYNC);
	close((int)fd);
	return ok;
}

#endif /* MN_UFFD_H */
