/*
 * mountinfo.c - find the caskfs mount of a data directory (mountinfo.h).
 */
#include "mountinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int odigit(char c)
{
	return c >= '0' && c <= '7' ? c - '0' : -1;
}

void mount_unescape(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && odigit(s[1]) >= 0 && odigit(s[2]) >= 0 &&
		    odigit(s[3]) >= 0) {
			*w++ = (char)(odigit(s[1]) * 64 + odigit(s[2]) * 8 +
				      odigit(s[3]));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

int caskfs_mount_of(const char *dir, FILE *mounts, char *mnt, size_t size)
{
	char want[PATH_MAX], src[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f = mounts;
	int err = -ENOENT;

	if (!realpath(dir, want))
		return -errno;
	if (!f && !(f = fopen("/proc/self/mounts", "re")))
		return -errno;
	/* The last matching line wins: it is the mount on top. */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *fsname, *point, *type;

		fsname = strtok_r(line, " \t\n", &save);
		point = fsname ? strtok_r(NULL, " \t\n", &save) : NULL;
		type = point ? strtok_r(NULL, " \t\n", &save) : NULL;
		if (!type || strcmp(type, "fuse.caskfs"))
			continue;
		mount_unescape(fsname);
		mount_unescape(point);
		/* The source is the data directory as the daemon was given
		 * it: compare both resolved (it may be relative or gone). */
		if (strcmp(fsname, want) &&
		    (!realpath(fsname, src) || strcmp(src, want)))
			continue;
		if (strlen(point) >= size) {
			err = -ENAMETOOLONG;
			continue;
		}
		memcpy(mnt, point, strlen(point) + 1);
		err = 0;
	}
	free(line);
	if (!mounts)
		fclose(f);
	return err;
}
