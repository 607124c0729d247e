/*
 * dirs.c - what the daemon checks about its two directories before it
 * creates anything, so that a start that cannot work fails with a message
 * saying what was found and leaves the disk as it was:
 *
 *   - the data directory exists and is a directory, or its parent does
 *     (libcask creates one level; the message names the first missing
 *     ancestor); it is not the root of a FUSE mount (arguments swapped).
 *     Whether the files in it are a store's is the store's to say
 *     (fs_open_store refuses a directory of other files);
 *   - the mount point is an existing directory without a FUSE mount on it
 *     (a stale mount left by a killed daemon is detached), holds no store
 *     (arguments swapped) and is empty unless -o nonempty;
 *   - neither lies inside the other's mount.
 *
 * Mounts are found in /proc/self/mountinfo; without /proc the FUSE checks
 * find nothing and libfuse has the last word.
 *
 * Threads: the main thread only, before any other exists.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

#define USAGE_HINT "the data directory comes first: caskfs DATA_DIR MOUNTPOINT"

/* What is mounted on a directory, from /proc/self/mountinfo. */
struct mount_desc {
	char type[64];
	char source[PATH_MAX];
};

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Is the directory @p path (canonical: from realpath) the root of a
 * mount? The topmost one is described in @p m.
 */
static bool mounted_at(const char *path, struct mount_desc *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *save, *point, *dash;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE
		 * SOURCE SUPER_OPTIONS */
		point = strtok_r(line, " ", &save);
		for (int i = 0; i < 4 && point; i++)
			point = strtok_r(NULL, " ", &save);
		dash = point ? strstr(save, " - ") : NULL;
		if (!dash)
			continue;
		unescape(point);
		if (strcmp(point, path) != 0)
			continue;
		found = true;
		if (sscanf(dash, " - %63s %4095s", m->type, m->source) != 2)
			strcpy(m->source, "?");
		unescape(m->source);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Is @p path the root of a FUSE mount (a live or a stale one)? With
 * @p caskfs_only, of a caskfs mount only: type "fuse.caskfs", as main.c
 * mounts with subtype=caskfs.
 */
static bool fuse_mounted(const char *path, struct mount_desc *m,
			 bool caskfs_only)
{
	char *real = realpath(path, NULL);
	bool r = real && mounted_at(real, m);

	if (r && caskfs_only)
		r = strcmp(m->type, "fuse.caskfs") == 0;
	else if (r)
		r = strcmp(m->type, "fuse") == 0 ||
		    strncmp(m->type, "fuse.", 5) == 0 ||
		    strcmp(m->type, "fuseblk") == 0;
	free(real);
	return r;
}

/* -------------------------------------------------- the data directory */

/* Cut the missing absolute @p path, in place, to its first missing
 * ancestor (the one just below the nearest that exists). */
static void first_missing(char *path)
{
	struct stat st;
	char *slash;

	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		if (stat(path, &st) == 0) {
			*slash = '/';
			return;
		}
	}
}

/* The absolute @p dir is missing: its parent must be a directory (libcask
 * makes one level). The message names the first missing ancestor. */
static int check_parent(const char *dir, bool read_only)
{
	char *parent = strdup(dir), *missing = NULL, *slash;
	struct stat st;
	int rc = -1, err;

	if (!parent)
		return -1;
	if (read_only) {
		log_msg(LOG_ERR,
			"data directory %s does not exist (-o ro creates "
			"nothing)",
			dir);
		goto out;
	}
	for (size_t n = strlen(parent); n > 1 && parent[n - 1] == '/'; n--)
		parent[n - 1] = '\0';
	slash = strrchr(parent, '/');
	slash[slash == parent] = '\0'; /* "/x" has the parent "/" */
	if (stat(parent, &st) == 0)
		err = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	else
		err = errno;
	if (err == 0) {
		rc = 0;
	} else if (err == ENOENT && (missing = strdup(parent))) {
		first_missing(missing);
		log_msg(LOG_ERR,
			"cannot create the data directory %s: %s does not "
			"exist (create it first: mkdir -p %s)",
			dir, missing, parent);
	} else {
		log_msg(LOG_ERR, "cannot create the data directory %s: %s: %s",
			dir, parent, strerror(err));
	}
out:
	free(missing);
	free(parent);
	return rc;
}

int dirs_check_data(const char *dir, bool read_only)
{
	struct mount_desc m;
	struct stat st;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return check_parent(dir, read_only);
		log_msg(LOG_ERR, "data directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_msg(LOG_ERR, "data directory %s is not a directory", dir);
		return -1;
	}
	/* A store on another FUSE filesystem's root (sshfs, ntfs-3g) is
	 * fine; on a caskfs mount the arguments were swapped. */
	if (fuse_mounted(dir, &m, true)) {
		log_msg(LOG_ERR,
			"data directory %s is a caskfs mount (%s of %s), not a "
			"store: were the arguments swapped? " USAGE_HINT,
			dir, m.type, m.source);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------ the mount point */

/* Run fusermount3 -u -z @mnt; 0 when it succeeded. */
static int run_fusermount_detach(const char *mnt)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt,
		       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * @p err is what a request to a mount whose daemon is gone fails with:
 * ENOTCONN, and, while the kernel tears down the io_uring queues of a
 * daemon killed a moment ago, ECANCELED or ECONNABORTED.
 */
static bool daemon_gone(int err)
{
	return err == ENOTCONN || err == ECANCELED || err == ECONNABORTED;
}

/*
 * stat() @p mnt, detaching the stale mount a daemon killed without
 * unmounting left behind ("Transport endpoint is not connected").
 */
static int stat_detaching(const char *mnt, struct stat *st)
{
	struct statvfs sv;

	/* stat() may be answered from the kernel's attribute cache of the
	 * dead mount; statfs() always asks the (missing) daemon. */
	if (stat(mnt, st) == 0 && statvfs(mnt, &sv) == 0)
		return 0;
	if (!daemon_gone(errno))
		goto fail;
	log_msg(LOG_WARNING,
		"%s: stale mount of a daemon that is gone (%s); detaching it",
		mnt, strerror(errno));
	if (geteuid() == 0 && umount2(mnt, MNT_DETACH) == 0)
		log_msg(LOG_NOTICE, "%s: detached with umount2", mnt);
	else if (run_fusermount_detach(mnt) == 0)
		log_msg(LOG_NOTICE, "%s: detached with fusermount3 -u -z", mnt);
	if (stat(mnt, st) == 0 && statvfs(mnt, &sv) == 0)
		return 0;
	if (daemon_gone(errno)) {
		log_msg(LOG_ERR,
			"%s: still a stale mount; run 'fusermount3 -u -z %s' "
			"(or 'umount -l %s' as root) and try again",
			mnt, mnt, mnt);
		return -1;
	}
fail:
	if (errno == ENOENT)
		log_msg(LOG_ERR, "mount point %s does not exist", mnt);
	else
		log_msg(LOG_ERR, "mount point %s: %s", mnt, strerror(errno));
	return -1;
}

/* The mount point's entries: a store's file refuses it always (mounting
 * would hide the store: the arguments are swapped), any other entry
 * unless @p nonempty. */
static int check_entries(const char *mnt, bool nonempty)
{
	DIR *d = opendir(mnt);
	struct dirent *e;
	char first[NAME_MAX + 1] = "";
	size_t n = 0;
	int rc = 0;

	if (!d) {
		log_msg(LOG_ERR, "mount point %s: %s", mnt, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fs_is_store_file(e->d_name)) {
			log_msg(LOG_ERR,
				"mount point %s holds a store (%s): were the "
				"arguments swapped? " USAGE_HINT,
				mnt, e->d_name);
			rc = -1;
			break;
		}
		if (n++ == 0)
			snprintf(first, sizeof(first), "%s", e->d_name);
	}
	closedir(d);
	if (rc == 0 && n && !nonempty) {
		log_msg(LOG_ERR,
			"mount point %s is not empty (it holds '%s'%s); a "
			"mount would hide what is there: use an empty "
			"directory, or -o nonempty to mount over it",
			mnt, first, n > 1 ? " and more" : "");
		rc = -1;
	}
	return rc;
}

int dirs_check_mountpoint(const char *mnt, bool nonempty)
{
	struct mount_desc m;
	struct stat st;

	if (stat_detaching(mnt, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		log_msg(LOG_ERR, "mount point %s is not a directory", mnt);
		return -1;
	}
	if (fuse_mounted(mnt, &m, false)) {
		log_msg(LOG_ERR,
			"mount point %s already has a FUSE mount on it (%s of "
			"%s); unmount it first: fusermount3 -u %s",
			mnt, m.type, m.source, mnt);
		return -1;
	}
	return check_entries(mnt, nonempty);
}

int dirs_check_apart(const char *data_dir, const char *mnt)
{
	size_t ml = strlen(mnt);

	if (strncmp(data_dir, mnt, ml) == 0 &&
	    (data_dir[ml] == '/' || data_dir[ml] == '\0' || ml == 1)) {
		log_msg(LOG_ERR,
			"data directory %s must not be inside the mount "
			"point %s",
			data_dir, mnt);
		return -1;
	}
	return 0;
}
