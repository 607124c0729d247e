/*
 * deep_paths.c - what a deep tree costs through fs/ (the calls the daemon
 * makes, no FUSE): for trees of LEVELS directories of NAME-byte names,
 * with FILES files in the deepest, the time per create, per lookup of a
 * file (hot: its directories are in the inode table) and per entry of a
 * readdir there, a rename of the top directory (every key below it is
 * rewritten), and the keydir and log bytes each file's dentry adds.
 *
 * Usage: deep_paths [FILES]   (default 2000; one fresh store per row,
 *                              under $TMPDIR or /tmp, removed after)
 */
#define _GNU_SOURCE
#include "caskfs.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void check(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "deep_paths: %s: %s\n", what, strerror(-err));
		exit(1);
	}
}

/* A figure of fs_stats_text(): the value of line "@p key: N". */
static uint64_t stat_of(struct fs *fs, const char *key)
{
	char *text, *p;
	uint64_t v = 0;
	size_t n = strlen(key);

	check(fs_stats_text(fs, &text), "stats");
	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, n) && p[n] == ':') {
			v = strtoull(p + n + 1, NULL, 10);
			break;
		}
	}
	free(text);
	return v;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int count(void *ctx, const char *name, const struct stat *st,
		 uint64_t next)
{
	(void)name;
	(void)st;
	(void)next;
	++*(size_t *)ctx;
	return 0;
}

static void row(int levels, int namelen, int files)
{
	char dir[4096], name[256], first[256];
	const char *base = getenv("TMPDIR");
	struct fs_cred cred = {getuid(), getgid(), 022};
	struct fs_options o;
	struct fs_dir *dh;
	struct stat st;
	struct fs *fs;
	uint64_t d = FS_ROOT_INO, kd0, live0;
	size_t n = 0;
	double t0, t_create, t_lookup, t_readdir, t_rename;

	snprintf(dir, sizeof(dir), "%s/deep_paths.XXXXXX",
		 base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	fs_options_init(&o);
	check(fs_open_store(dir, &o, &fs), "open");
	for (int i = 0; i < levels; i++) {
		memset(name, 'd', (size_t)namelen);
		name[namelen] = '\0';
		memcpy(name, "l", 1);
		check(fs_mkdir(fs, d, name, 0755, &cred, &st), "mkdir");
		d = st.st_ino;
		if (i == 0)
			strcpy(first, name);
	}
	kd0 = stat_of(fs, "keydir_bytes");
	live0 = stat_of(fs, "live_bytes");
	t0 = now_ns();
	for (int i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "file_%06d", i);
		check(fs_mknod(fs, d, name, S_IFREG | 0644, 0, &cred, &st),
		      "mknod");
		fs_forget(fs, st.st_ino, 1);
	}
	t_create = now_ns() - t0;
	t0 = now_ns();
	for (int i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "file_%06d",
			 (int)((i * 7919L) % files));
		check(fs_lookup(fs, d, name, &st), "lookup");
		fs_forget(fs, st.st_ino, 1);
	}
	t_lookup = now_ns() - t0;
	t0 = now_ns();
	check(fs_opendir(fs, d, &dh), "opendir");
	check(fs_readdir(fs, dh, 0, false, count, &n), "readdir");
	fs_releasedir(fs, dh);
	t_readdir = now_ns() - t0;
	t0 = now_ns();
	memset(name, 'e', (size_t)namelen);
	name[namelen] = '\0';
	memcpy(name, "l", 1);
	check(fs_rename(fs, FS_ROOT_INO, first, FS_ROOT_INO, name, 0),
	      "rename");
	t_rename = now_ns() - t0;
	printf("%5d x %3d B  path %6d B  create %7.1f us  lookup %7.2f us  "
	       "readdir %6.2f us/entry  rename %8.2f ms (%d keys)  "
	       "keydir %6.0f B/file  log %6.0f B/file\n",
	       levels, namelen, levels * (namelen + 1) + 12,
	       t_create / files / 1e3, t_lookup / files / 1e3,
	       t_readdir / (double)n / 1e3, t_rename / 1e6, levels + files,
	       (double)(stat_of(fs, "keydir_bytes") - kd0) / files,
	       (double)(stat_of(fs, "live_bytes") - live0) / files);
	check(fs_close(fs), "close");
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	int files = argc > 1 ? atoi(argv[1]) : 2000;

	if (files <= 0)
		return 1;
	row(4, 10, files);    /* a usual tree: /lddd.../file (~56 B) */
	row(40, 100, files);  /* the old limit, 4 KB */
	row(100, 100, files); /* 10 KB */
	row(600, 100, files); /* 60 KB, near FS_PATH_MAX */
	return 0;
}
