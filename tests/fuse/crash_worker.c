/*
 * crash_worker.c - the random workload of test_crash_loop.sh (compiled by
 * it): runs in a caskfs mount until the daemon under it is killed.
 *
 *   crash_worker MNT CYCLE SEED
 *   crash_worker check MNT SYNCED_LIST
 *   crash_worker judge MNT
 *
 * Scratch work in MNT/cCYCLE (create, write, append, rename, unlink,
 * mkdir, files in subdirectories; never synced) mixed with synced files
 * MNT/sCYCLE_N: written whole, fsync'ed, the directory fsync'ed, and only
 * then reported on stdout as "SYNCED sCYCLE_N SHA" (FNV-1a 64 of the
 * content, hex) — never touched again. The first failing call (the daemon
 * is gone: ENOTCONN) ends the worker with status 0; every error before
 * the mount goes away is reported.
 *
 * check: every "SYNCED name hash" line of SYNCED_LIST names a file of MNT
 * with that content, and every name in MNT is one the workload makes
 * (cN/, sN_K at the top; fN and dN/ in cN; fN in cN/dM). Prints each
 * problem; exits 1 if there was any.
 *
 * judge: what the workload concludes from a call that failed with EIO
 * now: exits 0 if the daemon is gone, 1 (with the message the workload
 * would print) if it is still serving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <dirent.h>
#include <unistd.h>

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static const char *mount_root;

/* The errors of a request on a connection the kernel has aborted: sent
 * after the abort (ENOTCONN), or waiting for an answer when it came
 * (ECONNABORTED), or, on FUSE over io_uring, queued for a daemon thread
 * that died before it could take the request (ECANCELED). */
static int dead_errno(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == ENODEV ||
	       e == ECANCELED;
}

/* The mount went away (the daemon was killed): the expected end. A call
 * in flight then fails with ENOTCONN or ECONNABORTED, or with EIO when
 * the kernel could not write back its pages, or could not copy a request
 * into the buffer of a daemon thread the SIGKILL had already reached (the
 * connection is aborted only once every thread is gone): any error counts
 * as the crash when a request sent afterwards fails as on a dead
 * connection. */
static void gone(const char *what)
{
	int e = errno;
	struct statfs sf;

	if (dead_errno(e))
		exit(0);
	/* statfs always asks the daemon (stat may be answered from the
	 * kernel's attribute cache). */
	if (statfs(mount_root, &sf) < 0 && dead_errno(errno))
		exit(0);
	fprintf(stderr, "crash_worker: %s: %s\n", what, strerror(e));
	exit(1);
}

static unsigned char buf[70000];

static void fill(size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();

		memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Is @p name "<prefix><digits>" (or "<prefix><digits>_<digits>" when
 * @p two)? */
static int is_name(const char *name, char prefix, int two)
{
	const char *p = name + 1;

	if (name[0] != prefix || !(*p >= '0' && *p <= '9'))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (two) {
		if (*p++ != '_' || !(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == 0;
}

static int problems;

static void problem(const char *fmt, const char *a, const char *b)
{
	printf("PROBLEM ");
	printf(fmt, a, b);
	putchar('\n');
	problems++;
}

/* Walk @p dir (depth 0: the root, 1: cN, 2: cN/dM) checking names. */
static void walk(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[1024];
	struct stat st;

	if (!d) {
		problem("cannot list %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		int ok, isdir;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (lstat(sub, &st) < 0) {
			problem("cannot stat %s: %s", sub, strerror(errno));
			continue;
		}
		isdir = S_ISDIR(st.st_mode);
		if (depth == 0)
			ok = isdir ? is_name(e->d_name, 'c', 0)
				   : S_ISREG(st.st_mode) &&
					     is_name(e->d_name, 's', 1);
		else if (depth == 1)
			ok = isdir ? is_name(e->d_name, 'd', 0)
				   : S_ISREG(st.st_mode) &&
					     is_name(e->d_name, 'f', 0);
		else
			ok = !isdir && S_ISREG(st.st_mode) &&
			     is_name(e->d_name, 'f', 0);
		if (!ok)
			problem("unexpected name %s%s", sub,
				isdir ? " (a directory)" : "");
		else if (isdir)
			walk(sub, depth + 1);
	}
	closedir(d);
}

static int check(const char *mnt, const char *list)
{
	FILE *f = fopen(list, "r");
	char line[256], name[128], path[1024], want[32], got[32];
	unsigned long n = 0;

	if (!f) {
		perror(list);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		int fd;
		ssize_t len;

		if (sscanf(line, "SYNCED %127s %31s", name, want) != 2)
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/%s", mnt, name);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			problem("synced file %s: %s", name, strerror(errno));
			continue;
		}
		len = read(fd, buf, sizeof(buf));
		close(fd);
		if (len < 0) {
			problem("synced file %s: read: %s", name,
				strerror(errno));
			continue;
		}
		snprintf(got, sizeof(got), "%016" PRIx64,
			 fnv(buf, (size_t)len));
		if (strcmp(got, want))
			problem("synced file %s has other content (%s)", name,
				got);
	}
	fclose(f);
	walk(mnt, 0);
	printf("checked %lu synced files, %d problems\n", n, problems);
	return problems != 0;
}

int main(int argc, char **argv)
{
	char path[512], path2[512];
	const char *mnt;
	unsigned cycle, nsync = 0;
	int dirfd;

	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return check(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "judge") == 0) {
		mount_root = argv[2];
		errno = EIO;
		gone("judge");
	}

	if (argc != 4) {
		fprintf(stderr, "usage: crash_worker MNT CYCLE SEED\n");
		return 2;
	}
	mnt = mount_root = argv[1];
	cycle = (unsigned)strtoul(argv[2], NULL, 10);
	rng = strtoull(argv[3], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(path, sizeof(path), "%s/c%u", mnt, cycle);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		gone("mkdir scratch");
	dirfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		gone("open mount");

	for (unsigned long n = 0;; n++) {
		unsigned op = (unsigned)(rnd() % 100);
		unsigned a = (unsigned)(rnd() % 24), b = (unsigned)(rnd() % 24);
		size_t len = (size_t)(rnd() % sizeof(buf));
		int fd;

		if (rnd() % 4)
			len %= 5000; /* small files: inline up to 512 bytes, one chunk above */
		if (op < 2 && nsync < 12) {
			/* A synced file: whole content, fsync, fsync(dir). */
			unsigned k = nsync++;

			snprintf(path, sizeof(path), "%s/s%u_%u", mnt, cycle,
				 k);
			fill(len);
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0)
				gone("create synced file");
			if (write_all(fd, buf, len) < 0)
				gone("write synced file");
			if (fsync(fd) < 0)
				gone("fsync synced file");
			if (close(fd) < 0)
				gone("close synced file");
			if (fsync(dirfd) < 0)
				gone("fsync mount root");
			printf("SYNCED s%u_%u %016" PRIx64 "\n", cycle, k,
			       fnv(buf, len));
			continue;
		}
		if (op < 40) { /* create or overwrite */
			snprintf(path, sizeof(path), "%s/c%u/f%u", mnt, cycle,
				 a);
			fill(len);
			fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0 || write_all(fd, buf, len) < 0 ||
			    close(fd) < 0)
				gone("write scratch file");
		} else if (op < 55) { /* append */
			snprintf(path, sizeof(path), "%s/c%u/f%u", mnt, cycle,
				 a);
			fill(len % 3000 + 1);
			fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0644);
			if (fd < 0 || write_all(fd, buf, len % 3000 + 1) < 0 ||
			    close(fd) < 0)
				gone("append");
		} else if (op < 70) { /* rename, maybe over another */
			snprintf(path, sizeof(path), "%s/c%u/f%u", mnt, cycle,
				 a);
			if (rnd() % 3 == 0)
				snprintf(path2, sizeof(path2), "%s/c%u/d%u/f%u",
					 mnt, cycle, b % 4, b);
			else
				snprintf(path2, sizeof(path2), "%s/c%u/f%u",
					 mnt, cycle, b);
			if (rename(path, path2) < 0 && errno != ENOENT)
				gone("rename");
		} else if (op < 82) { /* unlink */
			snprintf(path, sizeof(path), "%s/c%u/f%u", mnt, cycle,
				 a);
			if (unlink(path) < 0 && errno != ENOENT)
				gone("unlink");
		} else if (op < 90) { /* mkdir */
			snprintf(path, sizeof(path), "%s/c%u/d%u", mnt, cycle,
				 a % 4);
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				gone("mkdir");
		} else if (op < 95) { /* write into a subdirectory */
			snprintf(path, sizeof(path), "%s/c%u/d%u/f%u", mnt,
				 cycle, a % 4, b);
			fill(len);
			fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0) {
				if (errno != ENOENT)
					gone("create in subdirectory");
				continue;
			}
			if (write_all(fd, buf, len) < 0 || close(fd) < 0)
				gone("write in subdirectory");
		} else { /* rename a directory */
			snprintf(path, sizeof(path), "%s/c%u/d%u", mnt, cycle,
				 a % 4);
			snprintf(path2, sizeof(path2), "%s/c%u/d%u", mnt, cycle,
				 b % 4);
			if (rename(path, path2) < 0 && errno != ENOENT &&
			    errno != ENOTEMPTY && errno != EEXIST &&
			    errno != EINVAL)
				gone("rename directory");
		}
	}
}
