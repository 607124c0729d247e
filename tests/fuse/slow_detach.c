/*
 * slow_detach.c - LD_PRELOAD for the caskfs daemon in test_stale_mount.sh
 * (compiled by it): the daemon's umount2() of a stale mount starts half a
 * second late and returns a second and a half after the detach, so the
 * mount point is a plain directory for that long before the new mount.
 * That is a slow restart on a busy machine, made certain.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

int umount2(const char *target, int flags)
{
	int (*next)(const char *, int) =
		(int (*)(const char *, int))dlsym(RTLD_NEXT, "umount2");
	int rc, e;

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	usleep(500000);
	rc = next(target, flags);
	e = errno;
	usleep(1500000);
	errno = e;
	return rc;
}
