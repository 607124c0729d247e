/*
 * slow_sync.c - LD_PRELOAD for the caskfs daemon in test_stop_signal.sh
 * (compiled by it): once the file named by $SLOW_SYNC_AFTER exists, every
 * fdatasync() and fsync() starts a second late, so the store's close after
 * an unmount (writeback and sync) lasts long enough for a stop signal to
 * arrive in the middle of it. A slow disk at shutdown, made certain.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void maybe_wait(void)
{
	const char *marker = getenv("SLOW_SYNC_AFTER");

	if (marker && access(marker, F_OK) == 0)
		sleep(1);
}

int fdatasync(int fd)
{
	int (*next)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	maybe_wait();
	return next(fd);
}

int fsync(int fd)
{
	int (*next)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	maybe_wait();
	return next(fd);
}
