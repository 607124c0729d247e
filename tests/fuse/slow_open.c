/*
 * slow_open.c - LD_PRELOAD for the caskfs daemon in test_start_checks.sh
 * (compiled by it): the start looking at, or creating, a data directory
 * whose name ends in "/race" pauses a second and a half once, after
 * access() or before mkdir(), so that another start creates the store and
 * serves it meanwhile. Two starts racing on one missing directory, made
 * certain.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int paused;

/* Pause once if @p path is the racing data directory. */
static void pause_for(const char *path)
{
	size_t n = strlen(path);

	if (!paused && n >= 5 && strcmp(path + n - 5, "/race") == 0) {
		paused = 1;
		usleep(1500000);
	}
}

int access(const char *path, int mode)
{
	int (*next)(const char *, int) =
		(int (*)(const char *, int))dlsym(RTLD_NEXT, "access");
	int rc, e;

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	rc = next(path, mode);
	e = errno;
	pause_for(path);
	errno = e;
	return rc;
}

int mkdir(const char *path, mode_t mode)
{
	int (*next)(const char *, mode_t) =
		(int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	pause_for(path);
	return next(path, mode);
}
