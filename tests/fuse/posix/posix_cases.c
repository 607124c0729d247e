/*
 * posix_cases.c - POSIX conformance cases for test_posix.sh: runs every
 * case in an empty directory and prints one line per case, "name: result"
 * (an errno name, "ok", or the values that matter: type, mode, size, nlink,
 * owner, which of atime/mtime/ctime changed as "amc" letters or '-').
 * Nothing printed depends on the filesystem's inode numbers or on the
 * clock, so the outputs of a native directory and of a caskfs mount can be
 * compared line by line.
 *
 *   posix_cases [-u UID:GID] DIR
 *
 * As root, cases that need another user run in a forked child that drops
 * to uid/gid 65534 with setresgid/setresuid (the directory must be
 * reachable by that user: test_posix.sh sees to it). -u drops to UID:GID
 * for the whole run first (the unprivileged run); root-only cases then
 * print "skipped (not root)".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534

static int is_root;

static const char *ename(int e)
{
	const char *n;

	if (e == 0)
		return "ok";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

static void out(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Result of a call returning < 0 with errno on failure. */
#define RES(name, call)                                     \
	do {                                                \
		errno = 0;                                  \
		long r_ = (long)(call);                     \
		out(name, "%s", ename(r_ < 0 ? errno : 0)); \
	} while (0)

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "reg";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "lnk";
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	case S_IFSOCK:
		return "sock";
	}
	return "?";
}

/* "type mode nlink size uid:gid" of @p path (lstat), or the errno. */
static void st_line(const char *name, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		out(name, "%s", ename(errno));
		return;
	}
	/* A directory's st_size is the filesystem's own (ext4: blocks,
	 * tmpfs and btrfs: entries): printed once by mkdir_dir_st_size. */
	if (S_ISDIR(st.st_mode))
		out(name, "%s mode=%04o nlink=%lu owner=%u:%u",
		    ftype(st.st_mode), (unsigned)(st.st_mode & 07777),
		    (unsigned long)st.st_nlink, (unsigned)st.st_uid,
		    (unsigned)st.st_gid);
	else
		out(name, "%s mode=%04o nlink=%lu size=%lld owner=%u:%u",
		    ftype(st.st_mode), (unsigned)(st.st_mode & 07777),
		    (unsigned long)st.st_nlink, (long long)st.st_size,
		    (unsigned)st.st_uid, (unsigned)st.st_gid);
}

static void put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) < 0) {
		fprintf(stderr, "setup of %s: %s\n", path, strerror(errno));
		exit(2);
	}
	close(fd);
}

static void content_line(const char *name, const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		out(name, "%s", ename(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		out(name, "read %s", ename(errno));
		return;
	}
	buf[n] = 0;
	out(name, "\"%s\"", buf);
}

static void mkdirs(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "setup mkdir %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* Run @p fn(arg) in a child with uid/gid NOBODY; @return its errno (0 for
 * success) or -1 if the child could not drop privileges. */
static int as_nobody(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 ||
		    setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(255);
		errno = 0;
		_exit(fn(arg) < 0 ? (errno ? errno : 254) : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static void nobody_res(const char *name, int (*fn)(void *), void *arg)
{
	int e;

	if (!is_root) {
		out(name, "skipped (not root)");
		return;
	}
	e = as_nobody(fn, arg);
	if (e < 0)
		out(name, "child failed");
	else
		out(name, "%s", ename(e));
}

/* ------------------------------------------------------------ timestamps */

struct ts3 {
	struct timespec a, m, c;
};

static int ts_eq(struct timespec x, struct timespec y)
{
	return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}

static void ts_get(int fd, struct ts3 *t)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fd >= 0 && fstat(fd, &st) == 0) {
		t->a = st.st_atim;
		t->m = st.st_mtim;
		t->c = st.st_ctim;
	}
}

/* Set atime and mtime of each path to a fixed past time; wait so that a
 * later ctime (or any "now") differs from the one this sets. */
static void ts_past(const char *const *paths)
{
	struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};

	for (; *paths; paths++)
		if (utimensat(AT_FDCWD, *paths, t, AT_SYMLINK_NOFOLLOW) < 0) {
			fprintf(stderr, "utimensat %s: %s\n", *paths,
				strerror(errno));
			exit(2);
		}
	usleep(30000);
}

static void ts_diff(char *buf, const struct ts3 *b, const struct ts3 *a)
{
	buf[0] = ts_eq(b->a, a->a) ? '-' : 'a';
	buf[1] = ts_eq(b->m, a->m) ? '-' : 'm';
	buf[2] = ts_eq(b->c, a->c) ? '-' : 'c';
	buf[3] = 0;
}

/*
 * A timestamp case: @p paths get past times, then @p op runs, then one
 * line names which times of each of @p paths changed, e.g.
 * "ts_write: f=-mc". The inodes are followed through O_PATH descriptors
 * (a rename moves them, a rename over a target unlinks one).
 */
#define TS_MAX 4
static void ts_case(const char *name, const char *const *paths, int (*op)(void))
{
	struct ts3 before[TS_MAX], after[TS_MAX];
	char line[256] = "", d[4];
	int n, rc, fds[TS_MAX];

	for (n = 0; paths[n]; n++)
		;
	ts_past(paths);
	for (int i = 0; i < n; i++) {
		fds[i] = open(paths[i], O_PATH | O_NOFOLLOW);
		ts_get(fds[i], &before[i]);
	}
	errno = 0;
	rc = op();
	for (int i = 0; i < n; i++) {
		ts_get(fds[i], &after[i]);
		if (fds[i] >= 0)
			close(fds[i]);
		ts_diff(d, &before[i], &after[i]);
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s=%s", i ? " " : "", paths[i], d);
	}
	if (rc < 0)
		out(name, "%s %s", ename(errno), line);
	else
		out(name, "%s", line);
}

/* ------------------------------------------------------------ cases */

static void open_cases(void)
{
	int fd;
	char buf[64];
	ssize_t n;

	mkdirs("o");
	mkdirs("o/d");
	fd = open("o/f", O_CREAT | O_WRONLY, 0640);
	out("open_creat", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	st_line("open_creat_stat", "o/f");
	RES("open_creat_excl_exists",
	    open("o/f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = open("o/new", O_CREAT | O_EXCL | O_WRONLY, 0600);
	out("open_creat_excl_new", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	st_line("open_creat_excl_new_stat", "o/new");
	fd = creat("o/creat", 0604);
	out("creat", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0) {
		n = write(fd, "x", 1);
		out("creat_write", "%zd", n);
		close(fd);
	}
	st_line("creat_stat", "o/creat");

	put_file("o/f", "hello");
	fd = open("o/f", O_WRONLY | O_TRUNC);
	out("open_trunc", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	st_line("open_trunc_stat", "o/f");
	put_file("o/f", "hello");
	fd = open("o/f", O_RDONLY | O_TRUNC);
	out("open_rdonly_trunc", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	st_line("open_rdonly_trunc_stat", "o/f");

	put_file("o/f", "hello");
	fd = open("o/f", O_WRONLY | O_APPEND);
	if (fd >= 0) {
		lseek(fd, 0, SEEK_SET);
		n = write(fd, "X", 1);
		out("append_write_after_lseek0", "%zd pos=%lld", n,
		    (long long)lseek(fd, 0, SEEK_CUR));
		n = pwrite(fd, "Y", 1, 0);
		out("append_pwrite_at_0", "%zd", n);
		close(fd);
	} else {
		out("append_open", "%s", ename(errno));
	}
	content_line("append_content", "o/f");
	{
		int a = open("o/f", O_WRONLY | O_APPEND);
		int b = open("o/f", O_WRONLY | O_APPEND);

		if (a >= 0 && b >= 0) {
			n = write(a, "1", 1);
			n += write(b, "2", 1);
			n += write(a, "3", 1);
			out("append_two_fds", "%zd", n);
		}
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		content_line("append_two_fds_content", "o/f");
	}
	fd = open("o/f", O_RDWR | O_APPEND);
	if (fd >= 0) {
		n = read(fd, buf, 3);
		out("append_rdwr_read_from_start", "%zd", n);
		n = write(fd, "Z", 1);
		out("append_rdwr_write_pos", "%lld",
		    (long long)lseek(fd, 0, SEEK_CUR));
		close(fd);
	}
	content_line("append_rdwr_content", "o/f");

	RES("open_directory_on_file", open("o/f", O_RDONLY | O_DIRECTORY));
	fd = open("o/d", O_RDONLY | O_DIRECTORY);
	out("open_directory_on_dir", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	symlink("f", "o/lnk");
	RES("open_nofollow_symlink", open("o/lnk", O_RDONLY | O_NOFOLLOW));
	fd = open("o/f", O_RDONLY | O_NOFOLLOW);
	out("open_nofollow_file", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	fd = open("o/lnk", O_RDONLY);
	out("open_through_symlink", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	RES("open_enoent", open("o/nope", O_RDONLY));
	RES("open_dir_wronly", open("o/d", O_WRONLY));
	RES("open_dir_rdwr", open("o/d", O_RDWR));
	RES("open_creat_on_dir", open("o/d", O_CREAT | O_WRONLY, 0644));
	RES("open_enotdir_component", open("o/f/x", O_RDONLY));
	RES("open_creat_enoent_parent",
	    open("o/nodir/x", O_CREAT | O_WRONLY, 0644));
	symlink("target_new", "o/dangling");
	fd = open("o/dangling", O_CREAT | O_WRONLY, 0644);
	out("open_creat_through_dangling_symlink", "%s",
	    ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	st_line("open_creat_dangling_target", "o/target_new");
	RES("open_creat_excl_on_symlink",
	    open("o/lnk", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = open("o", O_TMPFILE | O_RDWR, 0600);
	out("open_tmpfile", "%s", ename(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
}

static int u_open_rd(void *p)
{
	return open((const char *)p, O_RDONLY);
}

static int u_open_wr(void *p)
{
	return open((const char *)p, O_WRONLY);
}

static int u_creat(void *p)
{
	return open((const char *)p, O_CREAT | O_WRONLY, 0644);
}

static int u_unlink(void *p)
{
	return unlink((const char *)p);
}

static int u_stat(void *p)
{
	struct stat st;

	return stat((const char *)p, &st);
}

static int u_chmod(void *p)
{
	return chmod((const char *)p, 0777);
}

static int u_chown_other(void *p)
{
	return chown((const char *)p, 1, -1);
}

static int u_chgrp_other(void *p)
{
	return chown((const char *)p, -1, 1);
}

static int u_chown_self(void *p)
{
	return chown((const char *)p, NOBODY, NOBODY);
}

static int u_utime_now(void *p)
{
	return utimensat(AT_FDCWD, (const char *)p, NULL, 0);
}

static int u_utime_set(void *p)
{
	struct timespec t[2] = {{5, 0}, {5, 0}};

	return utimensat(AT_FDCWD, (const char *)p, t, 0);
}

static int u_mknod_chr(void *p)
{
	return mknod((const char *)p, S_IFCHR | 0600, makedev(1, 3));
}

static int u_setxattr(void *p)
{
	return setxattr((const char *)p, "user.x", "v", 1, 0);
}

static int u_rename(void *p)
{
	(void)p;
	return rename("p/sticky/rootfile", "p/sticky/moved");
}

static int u_truncate(void *p)
{
	return truncate((const char *)p, 0);
}

static void perm_cases(void)
{
	/* Files of root (or of the running user) that another user meets. */
	mkdirs("p");
	chmod("p", 0755);
	put_file("p/secret", "s");
	chmod("p/secret", 0600);
	put_file("p/public", "p");
	chmod("p/public", 0644);
	mkdirs("p/closed");
	chmod("p/closed", 0700);
	put_file("p/closed/x", "x");
	mkdirs("p/sticky");
	chmod("p/sticky", 01777);
	put_file("p/sticky/rootfile", "r");
	mkdirs("p/open");
	chmod("p/open", 0777);
	put_file("p/writable", "w");
	chmod("p/writable", 0666);
	nobody_res("eacces_read_0600", u_open_rd, "p/secret");
	nobody_res("read_0644", u_open_rd, "p/public");
	nobody_res("eacces_write_0644", u_open_wr, "p/public");
	nobody_res("eacces_create_in_0755_dir", u_creat, "p/newfile");
	nobody_res("eacces_unlink_in_0755_dir", u_unlink, "p/public");
	nobody_res("eacces_search_0700_dir", u_stat, "p/closed/x");
	nobody_res("eperm_unlink_sticky", u_unlink, "p/sticky/rootfile");
	nobody_res("eperm_rename_sticky", u_rename, NULL);
	nobody_res("create_in_0777_dir", u_creat, "p/open/mine");
	st_line("create_in_0777_dir_stat", "p/open/mine");
	nobody_res("eperm_chmod_not_owner", u_chmod, "p/public");
	nobody_res("eperm_chown_not_owner", u_chown_other, "p/public");
	nobody_res("eperm_chown_own_file_to_other", u_chown_other,
		   "p/open/mine");
	nobody_res("eperm_chgrp_own_file_to_nonmember_group", u_chgrp_other,
		   "p/open/mine");
	nobody_res("chown_own_file_to_self", u_chown_self, "p/open/mine");
	nobody_res("utime_now_writable_not_owner", u_utime_now, "p/writable");
	nobody_res("eacces_utime_now_readonly_not_owner", u_utime_now,
		   "p/public");
	nobody_res("eperm_utime_set_not_owner", u_utime_set, "p/writable");
	nobody_res("eperm_mknod_chr", u_mknod_chr, "p/open/chr");
	nobody_res("eacces_setxattr_not_writable", u_setxattr, "p/public");
	nobody_res("setxattr_writable_not_owner", u_setxattr, "p/writable");
	nobody_res("eacces_truncate_0644", u_truncate, "p/public");
	nobody_res("truncate_0666", u_truncate, "p/writable");
}

static void chmod_chown_cases(void)
{
	int fd;

	mkdirs("c");
	put_file("c/f", "abc");
	RES("chmod_0600", chmod("c/f", 0600));
	st_line("chmod_0600_stat", "c/f");
	RES("chmod_04755", chmod("c/f", 04755));
	st_line("chmod_04755_stat", "c/f");
	RES("chmod_07777", chmod("c/f", 07777));
	st_line("chmod_07777_stat", "c/f");
	fd = open("c/f", O_RDONLY);
	RES("fchmod_0644", fchmod(fd, 0644));
	close(fd);
	st_line("fchmod_0644_stat", "c/f");
	RES("chmod_enoent", chmod("c/none", 0644));
	mkdirs("c/d");
	RES("chmod_dir_02755", chmod("c/d", 02755));
	st_line("chmod_dir_02755_stat", "c/d");
	put_file("c/d/child", "");
	st_line("sgid_dir_child_file", "c/d/child");
	mkdirs("c/d/sub");
	st_line("sgid_dir_child_dir", "c/d/sub");

	if (!is_root) {
		out("chown_cases", "skipped (not root)");
		RES("chown_self_noop", chown("c/f", getuid(), getgid()));
		RES("chown_eperm_unprivileged", chown("c/f", 0, 0));
		return;
	}
	RES("chown_1234_5678", chown("c/f", 1234, 5678));
	st_line("chown_1234_5678_stat", "c/f");
	RES("chown_minus1", chown("c/f", -1, -1));
	st_line("chown_minus1_stat", "c/f");
	RES("chown_gid_only", chown("c/f", -1, 42));
	st_line("chown_gid_only_stat", "c/f");
	chmod("c/f", 06755);
	RES("chown_clears_suid_sgid", chown("c/f", 7, 7));
	st_line("chown_clears_suid_sgid_stat", "c/f");
	chmod("c/f", 06745);
	RES("chown_sgid_without_gexec", chown("c/f", 8, 8));
	st_line("chown_sgid_without_gexec_stat", "c/f");
	symlink("f", "c/l");
	RES("lchown_symlink", lchown("c/l", 99, 98));
	st_line("lchown_symlink_stat", "c/l");
	st_line("lchown_target_unchanged", "c/f");
	fd = open("c/f", O_RDONLY);
	RES("fchown", fchown(fd, 11, 12));
	close(fd);
	st_line("fchown_stat", "c/f");
	mkdirs("c/sg");
	chown("c/sg", 0, 4321);
	chmod("c/sg", 02775);
	put_file("c/sg/f", "");
	st_line("sgid_dir_other_group_child", "c/sg/f");
	/* Writing to a suid file as another user clears suid. */
	put_file("c/suid", "1");
	chmod("c/suid", 06777);
	nobody_res("write_by_other_user", u_open_wr, "c/suid");
	{
		/* open alone clears nothing; a write does */
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			if (setgroups(0, NULL) < 0 ||
			    setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
			    setresuid(NOBODY, NOBODY, NOBODY) < 0)
				_exit(1);
			fd = open("c/suid", O_WRONLY);
			_exit(fd < 0 || write(fd, "2", 1) != 1);
		}
		waitpid(pid, &st, 0);
	}
	st_line("write_by_other_user_clears_suid", "c/suid");
}

static void link_unlink_cases(void)
{
	struct stat a, b;

	mkdirs("l");
	mkdirs("l/d");
	put_file("l/f", "x");
	RES("link", link("l/f", "l/f2"));
	st_line("link_stat", "l/f");
	out("link_same_inode", "%s",
	    stat("l/f", &a) == 0 && stat("l/f2", &b) == 0 &&
			    a.st_ino == b.st_ino
		    ? "yes"
		    : "no");
	RES("link_eexist", link("l/f", "l/f2"));
	RES("link_dir_eperm", link("l/d", "l/d2"));
	RES("link_enoent_src", link("l/none", "l/x"));
	RES("link_enoent_dst_dir", link("l/f", "l/nodir/x"));
	RES("link_to_dir_name", link("l/f", "l/d"));
	symlink("f", "l/sym");
	RES("link_of_symlink", link("l/sym", "l/sym2"));
	st_line("link_of_symlink_stat", "l/sym2");
	RES("unlink_dir_eisdir", unlink("l/d"));
	RES("unlink_enoent", unlink("l/none"));
	RES("unlink_enotdir", unlink("l/f/x"));
	RES("unlink", unlink("l/f2"));
	st_line("unlink_other_link_stat", "l/f");
	st_line("unlink_gone", "l/f2");
	RES("unlink_symlink", unlink("l/sym"));
	st_line("unlink_symlink_target_stays", "l/f");
	{
		int fd = open("l/f", O_RDWR);
		char c = 0;
		ssize_t n;

		RES("unlink_open_file", unlink("l/f"));
		if (fd >= 0) {
			struct stat st;

			fstat(fd, &st);
			out("unlink_open_file_fstat", "nlink=%lu size=%lld",
			    (unsigned long)st.st_nlink, (long long)st.st_size);
			n = pread(fd, &c, 1, 0);
			out("unlink_open_file_read", "%zd %c", n, c);
			out("unlink_open_file_write", "%zd",
			    pwrite(fd, "yz", 2, 1));
			close(fd);
		}
	}
}

static void mkdir_rmdir_cases(void)
{
	mkdirs("m");
	RES("mkdir", mkdir("m/d", 0700));
	st_line("mkdir_stat", "m/d");
	{
		struct stat st;

		if (stat("m/d", &st) == 0)
			out("mkdir_dir_st_size", "%lld", (long long)st.st_size);
	}
	st_line("mkdir_parent_nlink", "m");
	RES("mkdir_eexist", mkdir("m/d", 0755));
	put_file("m/f", "");
	RES("mkdir_eexist_file", mkdir("m/f", 0755));
	RES("mkdir_enoent", mkdir("m/no/d", 0755));
	RES("mkdir_enotdir", mkdir("m/f/d", 0755));
	RES("mkdir_mode_07777", mkdir("m/all", 07777));
	st_line("mkdir_mode_07777_stat", "m/all");
	symlink("d", "m/ld");
	RES("mkdir_on_symlink_eexist", mkdir("m/ld", 0755));
	RES("mkdir_trailing_slash", mkdir("m/t/", 0755));
	put_file("m/d/x", "");
	RES("rmdir_enotempty", rmdir("m/d"));
	RES("rmdir_enotdir", rmdir("m/f"));
	RES("rmdir_dot_einval", rmdir("m/d/."));
	RES("rmdir_dotdot", rmdir("m/d/.."));
	RES("rmdir_enoent", rmdir("m/none"));
	RES("rmdir_symlink_to_dir", rmdir("m/ld"));
	unlink("m/d/x");
	RES("rmdir", rmdir("m/d"));
	st_line("rmdir_parent_nlink", "m");
	st_line("rmdir_gone", "m/d");
}

static void rename_cases(void)
{
	struct stat a, b;
	ino_t ino;

	mkdirs("r");
	put_file("r/a", "A");
	put_file("r/b", "B");
	stat("r/a", &a);
	ino = a.st_ino;
	RES("rename_file_over_file", rename("r/a", "r/b"));
	content_line("rename_file_over_file_content", "r/b");
	st_line("rename_file_over_file_src_gone", "r/a");
	stat("r/b", &b);
	out("rename_keeps_inode", "%s", b.st_ino == ino ? "yes" : "no");
	RES("rename_to_new_name", rename("r/b", "r/c"));
	st_line("rename_to_new_name_stat", "r/c");
	mkdirs("r/d1");
	mkdirs("r/d2");
	put_file("r/d1/in", "in");
	RES("rename_dir_over_empty_dir", rename("r/d1", "r/d2"));
	content_line("rename_dir_over_empty_dir_content", "r/d2/in");
	st_line("rename_dir_over_empty_dir_src_gone", "r/d1");
	st_line("rename_dir_parent_nlink", "r");
	mkdirs("r/d3");
	RES("rename_dir_over_nonempty_dir", rename("r/d3", "r/d2"));
	RES("rename_file_over_dir", rename("r/c", "r/d3"));
	RES("rename_dir_over_file", rename("r/d3", "r/c"));
	mkdirs("r/d2/sub");
	RES("rename_into_own_subtree", rename("r/d2", "r/d2/sub/x"));
	RES("rename_dir_onto_itself", rename("r/d2", "r/d2"));
	RES("rename_enoent", rename("r/none", "r/x"));
	RES("rename_enoent_dst_dir", rename("r/c", "r/nodir/x"));
	RES("rename_dot", rename("r/d2/.", "r/x"));
	RES("rename_to_dotdot_busy", rename("r/d3", "r/d2/.."));
	put_file("r/e", "E");
	RES("rename_noreplace_exists",
	    renameat2(AT_FDCWD, "r/e", AT_FDCWD, "r/c", RENAME_NOREPLACE));
	RES("rename_noreplace_new",
	    renameat2(AT_FDCWD, "r/e", AT_FDCWD, "r/e2", RENAME_NOREPLACE));
	st_line("rename_noreplace_new_stat", "r/e2");
	RES("rename_exchange_files",
	    renameat2(AT_FDCWD, "r/e2", AT_FDCWD, "r/c", RENAME_EXCHANGE));
	content_line("rename_exchange_files_c", "r/c");
	content_line("rename_exchange_files_e2", "r/e2");
	RES("rename_exchange_file_dir",
	    renameat2(AT_FDCWD, "r/c", AT_FDCWD, "r/d3", RENAME_EXCHANGE));
	st_line("rename_exchange_file_dir_c", "r/c");
	st_line("rename_exchange_file_dir_d3", "r/d3");
	RES("rename_exchange_enoent",
	    renameat2(AT_FDCWD, "r/e2", AT_FDCWD, "r/none", RENAME_EXCHANGE));
	RES("rename_exchange_and_noreplace",
	    renameat2(AT_FDCWD, "r/e2", AT_FDCWD, "r/d3",
		      RENAME_EXCHANGE | RENAME_NOREPLACE));
	mkdirs("r/x1");
	mkdirs("r/x1/y");
	RES("rename_exchange_into_own_subtree",
	    renameat2(AT_FDCWD, "r/x1", AT_FDCWD, "r/x1/y", RENAME_EXCHANGE));
	link("r/e2", "r/e2link");
	RES("rename_same_inode_noop", rename("r/e2", "r/e2link"));
	st_line("rename_same_inode_src_stays", "r/e2");
	st_line("rename_same_inode_dst_stays", "r/e2link");
	RES("rename_same_name", rename("r/e2", "r/e2"));
	/* A directory moving between parents: nlink of both parents. */
	mkdirs("r/p1");
	mkdirs("r/p2");
	mkdirs("r/p1/mv");
	put_file("r/p1/mv/deep", "deep");
	RES("rename_dir_across_parents", rename("r/p1/mv", "r/p2/mv"));
	st_line("rename_dir_across_old_parent", "r/p1");
	st_line("rename_dir_across_new_parent", "r/p2");
	content_line("rename_dir_across_content", "r/p2/mv/deep");
	RES("rename_dir_dotdot_after_move", access("r/p2/mv/../mv/deep", 0));
	symlink("nowhere", "r/sl");
	RES("rename_symlink", rename("r/sl", "r/sl2"));
	{
		char t[64] = "";
		ssize_t n = readlink("r/sl2", t, sizeof(t) - 1);

		out("rename_symlink_target", "%zd %s", n, n > 0 ? t : "");
	}
	RES("rename_trailing_slash_file", rename("r/sl2", "r/sl3/"));
}

static void symlink_cases(void)
{
	char buf[8192], *big;
	ssize_t n;

	mkdirs("s");
	put_file("s/f", "data");
	RES("symlink", symlink("f", "s/l"));
	st_line("symlink_lstat", "s/l");
	n = readlink("s/l", buf, sizeof(buf));
	out("readlink", "%zd %.*s", n, n > 0 ? (int)n : 0, buf);
	n = readlink("s/l", buf, 0);
	out("readlink_bufsize_0", "%s", n < 0 ? ename(errno) : "positive");
	memset(buf, 0, sizeof(buf));
	n = readlink("s/l", buf, 1);
	out("readlink_short_buffer", "%zd %s", n, buf);
	RES("readlink_on_file", readlink("s/f", buf, sizeof(buf)));
	RES("readlink_enoent", readlink("s/none", buf, sizeof(buf)));
	RES("symlink_eexist", symlink("x", "s/f"));
	RES("symlink_empty_target", symlink("", "s/empty"));
	content_line("read_through_symlink", "s/l");
	RES("symlink_loop_a", symlink("loop_b", "s/loop_a"));
	symlink("loop_a", "s/loop_b");
	RES("eloop_open", open("s/loop_a", O_RDONLY));
	{
		struct stat st;

		RES("eloop_stat", stat("s/loop_a", &st));
		RES("lstat_of_loop_ok", lstat("s/loop_a", &st));
	}
	RES("self_loop", symlink("self", "s/self"));
	RES("eloop_self_open", open("s/self", O_RDONLY));
	RES("eloop_self_creat", open("s/self", O_CREAT | O_WRONLY, 0644));
	big = malloc(4096);
	memset(big, 'a', 4095);
	big[4095] = 0;
	RES("symlink_4095_byte_target", symlink(big, "s/bigt"));
	n = readlink("s/bigt", buf, sizeof(buf));
	out("readlink_4095", "%zd", n);
	free(big);
	mkdirs("s/dir");
	put_file("s/dir/in", "in");
	symlink("dir", "s/ldir");
	content_line("path_through_dir_symlink", "s/ldir/in");
	symlink("/nonexistent/abs", "s/abs");
	n = readlink("s/abs", buf, sizeof(buf));
	out("readlink_absolute", "%zd %.*s", n, n > 0 ? (int)n : 0, buf);
}

static void nametoolong_cases(void)
{
	char n255[300], n256[300];

	mkdirs("n");
	memcpy(n255, "n/", 2);
	memset(n255 + 2, 'x', 255);
	n255[257] = 0;
	memcpy(n256, "n/", 2);
	memset(n256 + 2, 'y', 256);
	n256[258] = 0;
	{
		int fd = open(n255, O_CREAT | O_WRONLY, 0644);

		out("create_255_byte_name", "%s", ename(fd < 0 ? errno : 0));
		if (fd >= 0)
			close(fd);
	}
	RES("create_256_byte_name", open(n256, O_CREAT | O_WRONLY, 0644));
	RES("mkdir_256_byte_name", mkdir(n256, 0755));
	RES("symlink_256_byte_name", symlink("x", n256));
	RES("stat_256_byte_name", access(n256, F_OK));
	RES("rename_to_256_byte_name", rename(n255, n256));
	RES("link_to_256_byte_name", link(n255, n256));
}

/*
 * PATH_MAX limits the path one call passes (4096 bytes with its NUL), not
 * how deep a tree grows: from the case directory, a relative path of 4095
 * bytes made as mkdir -p makes it (each prefix in turn), and a tree of 60
 * levels of 100-byte names (6 KB deep) reached by chdir one level at a
 * time, used with create, stat, readdir, link, rename and unlink; a
 * rename that moves the whole tree; and rmdir back up. The case
 * directory's own path differs between the two runs, so nothing here
 * depends on it.
 */
#define PM_LEVELS 60
static void pathmax_cases(void)
{
	char p[4200], name[101], buf[16];
	int top = open(".", O_RDONLY | O_DIRECTORY), n = 0, i;
	size_t len = 0;
	DIR *d;

	mkdirs("pm");
	while (len < 4095) {
		size_t c = 4095 - len < 100 ? 4095 - len : 100;

		if (len)
			p[len++] = '/', c--;
		memset(p + len, 'p', c);
		len += c;
		p[len] = '\0';
		if (len < 4095 && mkdir(p, 0755) < 0)
			break;
	}
	RES("pathmax_mkdir_4095_byte_relative_path", mkdir(p, 0755));
	RES("pathmax_stat_4095_byte_relative_path", access(p, F_OK));
	strcat(p, "x");
	RES("pathmax_mkdir_4096_byte_relative_path", mkdir(p, 0755));

	memset(name, 'q', 100);
	name[100] = '\0';
	RES("pathmax_chdir_pm", chdir("pm"));
	for (i = 0; i < PM_LEVELS; i++) {
		snprintf(buf, sizeof(buf), "%02d", i);
		memcpy(name, buf, 2);
		if (mkdir(name, 0755) < 0 || chdir(name) < 0)
			break;
	}
	out("pathmax_levels_made_by_chdir", "%d", i);
	put_file("f", "deep");
	content_line("pathmax_deep_file_content", "f");
	st_line("pathmax_deep_file_stat", "f");
	RES("pathmax_deep_link", link("f", "g"));
	RES("pathmax_deep_rename", rename("g", "h"));
	RES("pathmax_deep_symlink", symlink("f", "s"));
	d = opendir(".");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	out("pathmax_deep_readdir", "%d entries", n);
	RES("pathmax_deep_unlink", unlink("h"));
	if (fchdir(top) < 0)
		exit(2);
	RES("pathmax_rename_the_deep_tree", rename("pm", "pm2"));
	RES("pathmax_chdir_pm2", chdir("pm2"));
	for (i = 0; i < PM_LEVELS; i++) {
		snprintf(buf, sizeof(buf), "%02d", i);
		memcpy(name, buf, 2);
		if (chdir(name) < 0)
			break;
	}
	out("pathmax_levels_after_the_rename", "%d", i);
	content_line("pathmax_deep_file_after_the_rename", "f");
	unlink("f");
	unlink("s");
	for (n = 0; i > 0 && chdir("..") == 0; i--) {
		snprintf(buf, sizeof(buf), "%02d", i - 1);
		memcpy(name, buf, 2);
		n += rmdir(name) == 0;
	}
	out("pathmax_rmdir_back_up", "%d", n);
	if (fchdir(top) < 0)
		exit(2);
	close(top);
}

static void truncate_cases(void)
{
	char buf[16];
	int fd;
	ssize_t n;

	mkdirs("t");
	put_file("t/f", "0123456789");
	RES("truncate_grow", truncate("t/f", 10000));
	st_line("truncate_grow_stat", "t/f");
	fd = open("t/f", O_RDONLY);
	n = pread(fd, buf, 4, 9998);
	out("truncate_grow_reads_zeros", "%zd %d %d", n, buf[0], buf[1]);
	n = pread(fd, buf, 4, 8);
	out("truncate_grow_keeps_data", "%zd %c%c %d", n, buf[0], buf[1],
	    buf[2]);
	RES("ftruncate_rdonly_fd", ftruncate(fd, 0));
	close(fd);
	RES("truncate_shrink", truncate("t/f", 3));
	st_line("truncate_shrink_stat", "t/f");
	content_line("truncate_shrink_content", "t/f");
	RES("truncate_regrow", truncate("t/f", 6));
	fd = open("t/f", O_RDONLY);
	memset(buf, 'q', sizeof(buf));
	n = read(fd, buf, sizeof(buf));
	out("truncate_regrow_zeros", "%zd %c%c%c %d%d%d", n, buf[0], buf[1],
	    buf[2], buf[3], buf[4], buf[5]);
	close(fd);
	fd = open("t/f", O_RDWR);
	RES("ftruncate_grow", ftruncate(fd, 100000));
	RES("ftruncate_shrink", ftruncate(fd, 1));
	RES("ftruncate_negative", ftruncate(fd, -1));
	close(fd);
	st_line("ftruncate_stat", "t/f");
	mkdirs("t/d");
	RES("truncate_dir", truncate("t/d", 0));
	RES("truncate_enoent", truncate("t/none", 0));
	RES("truncate_negative", truncate("t/f", -1));
	/* A chunked file: grow past a chunk and shrink into one. */
	fd = open("t/big", O_CREAT | O_RDWR, 0644);
	{
		static char blk[70000];

		memset(blk, 'b', sizeof(blk));
		n = write(fd, blk, sizeof(blk));
		out("big_write", "%zd", n);
		RES("ftruncate_shrink_mid_chunk", ftruncate(fd, 20000));
		RES("ftruncate_grow_again", ftruncate(fd, 70000));
		n = pread(fd, blk, sizeof(blk), 0);
		out("big_after_shrink_grow", "%zd %c %c %d %d", n, blk[0],
		    blk[19999], blk[20000], blk[69999]);
	}
	close(fd);
	/* A file just written and still open (its pages maybe not written
	 * back yet) is all data up to its size. */
	fd = open("t/dense", O_CREAT | O_RDWR, 0644);
	{
		static char blk[100000];

		memset(blk, 'd', sizeof(blk));
		n = write(fd, blk, sizeof(blk));
		out("seek_data_hole_open_file", "%zd %lld %lld", n,
		    (long long)lseek(fd, 0, SEEK_DATA),
		    (long long)lseek(fd, 0, SEEK_HOLE));
		out("seek_data_past_end", "%s",
		    ename(lseek(fd, 100000, SEEK_DATA) < 0 ? errno : 0));
	}
	close(fd);
}

static void utimens_cases(void)
{
	struct timespec t[2];
	struct stat st, st2;
	time_t now;

	mkdirs("u");
	put_file("u/f", "x");
	t[0].tv_sec = 1000000000;
	t[0].tv_nsec = 123456789;
	t[1].tv_sec = 1200000000;
	t[1].tv_nsec = 987654321;
	RES("utimensat_ns", utimensat(AT_FDCWD, "u/f", t, 0));
	stat("u/f", &st);
	out("utimensat_ns_values", "atime=%lld.%09ld mtime=%lld.%09ld",
	    (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	t[0].tv_nsec = UTIME_OMIT;
	t[1].tv_nsec = UTIME_NOW;
	RES("utimensat_omit_now", utimensat(AT_FDCWD, "u/f", t, 0));
	stat("u/f", &st2);
	now = time(NULL);
	out("utimensat_omit_now_values", "atime_kept=%s mtime_recent=%s",
	    ts_eq(st.st_atim, st2.st_atim) ? "yes" : "no",
	    st2.st_mtim.tv_sec >= now - 5 && st2.st_mtim.tv_sec <= now + 1
		    ? "yes"
		    : "no");
	t[0].tv_nsec = UTIME_NOW;
	t[1].tv_nsec = UTIME_OMIT;
	st = st2;
	usleep(20000);
	RES("utimensat_now_omit", utimensat(AT_FDCWD, "u/f", t, 0));
	stat("u/f", &st2);
	out("utimensat_now_omit_values", "atime_changed=%s mtime_kept=%s",
	    ts_eq(st.st_atim, st2.st_atim) ? "no" : "yes",
	    ts_eq(st.st_mtim, st2.st_mtim) ? "yes" : "no");
	t[0].tv_nsec = UTIME_OMIT;
	t[1].tv_nsec = UTIME_OMIT;
	st = st2;
	usleep(20000);
	RES("utimensat_omit_omit", utimensat(AT_FDCWD, "u/f", t, 0));
	stat("u/f", &st2);
	out("utimensat_omit_omit_unchanged", "a=%s m=%s c=%s",
	    ts_eq(st.st_atim, st2.st_atim) ? "same" : "changed",
	    ts_eq(st.st_mtim, st2.st_mtim) ? "same" : "changed",
	    ts_eq(st.st_ctim, st2.st_ctim) ? "same" : "changed");
	RES("utimensat_null", utimensat(AT_FDCWD, "u/f", NULL, 0));
	stat("u/f", &st2);
	now = time(NULL);
	out("utimensat_null_recent", "%s",
	    st2.st_atim.tv_sec >= now - 5 && st2.st_mtim.tv_sec >= now - 5
		    ? "yes"
		    : "no");
	t[0].tv_sec = 5;
	t[0].tv_nsec = 1;
	t[1].tv_sec = 6;
	t[1].tv_nsec = 2;
	symlink("f", "u/l");
	RES("utimensat_symlink_nofollow",
	    utimensat(AT_FDCWD, "u/l", t, AT_SYMLINK_NOFOLLOW));
	lstat("u/l", &st);
	stat("u/f", &st2);
	out("utimensat_symlink_nofollow_values",
	    "link_mtime=%lld.%09ld target_mtime_changed=%s",
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	    st2.st_mtim.tv_sec == 6 ? "yes" : "no");
	t[1].tv_nsec = 1000000000;
	RES("utimensat_bad_nsec", utimensat(AT_FDCWD, "u/f", t, 0));
	t[0].tv_sec = -1;
	t[0].tv_nsec = 0;
	t[1].tv_sec = 0;
	t[1].tv_nsec = 0;
	RES("utimensat_before_epoch", utimensat(AT_FDCWD, "u/f", t, 0));
	stat("u/f", &st);
	out("utimensat_before_epoch_values", "atime=%lld mtime=%lld",
	    (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
	{
		int fd = open("u/f", O_RDONLY);

		t[0].tv_sec = 77;
		t[0].tv_nsec = 7;
		t[1] = t[0];
		RES("futimens", futimens(fd, t));
		close(fd);
		stat("u/f", &st);
		out("futimens_values", "%lld.%09ld",
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	RES("utimensat_enoent", utimensat(AT_FDCWD, "u/none", NULL, 0));
}

static void special_cases(void)
{
	struct stat st;

	mkdirs("x");
	RES("mkfifo", mkfifo("x/fifo", 0640));
	st_line("mkfifo_stat", "x/fifo");
	RES("mkfifo_eexist", mkfifo("x/fifo", 0640));
	RES("mknod_fifo", mknod("x/nfifo", S_IFIFO | 0600, 0));
	st_line("mknod_fifo_stat", "x/nfifo");
	RES("mknod_reg", mknod("x/reg", S_IFREG | 0600, 0));
	st_line("mknod_reg_stat", "x/reg");
	RES("mknod_sock", mknod("x/sock", S_IFSOCK | 0600, 0));
	st_line("mknod_sock_stat", "x/sock");
	RES("mknod_eexist", mknod("x/reg", S_IFIFO | 0600, 0));
	if (is_root) {
		RES("mknod_chr",
		    mknod("x/null", S_IFCHR | 0666, makedev(1, 3)));
		st_line("mknod_chr_stat", "x/null");
		if (lstat("x/null", &st) == 0)
			out("mknod_chr_rdev", "%u:%u", major(st.st_rdev),
			    minor(st.st_rdev));
		RES("mknod_blk", mknod("x/blk", S_IFBLK | 0600, makedev(7, 0)));
		if (lstat("x/blk", &st) == 0)
			out("mknod_blk_rdev", "%s %u:%u", ftype(st.st_mode),
			    major(st.st_rdev), minor(st.st_rdev));
		{
			/* nodev: the device cannot be opened on either */
			int fd = open("x/null", O_WRONLY);

			out("open_chr_device", "%s", ename(fd < 0 ? errno : 0));
			if (fd >= 0)
				close(fd);
		}
	} else {
		RES("mknod_chr_eperm",
		    mknod("x/null", S_IFCHR | 0666, makedev(1, 3)));
	}
	{
		/* Data through the FIFO. */
		pid_t pid;
		char buf[8] = "";
		int fd, status;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			int w = open("x/fifo", O_WRONLY);

			_exit(w < 0 || write(w, "fifo", 4) != 4);
		}
		fd = open("x/fifo", O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, 4);

			out("fifo_data", "%zd %.4s", n, buf);
			close(fd);
		} else {
			out("fifo_data", "%s", ename(errno));
		}
		waitpid(pid, &status, 0);
	}
}

static void xattr_cases(void)
{
	char buf[256];
	ssize_t n;

	mkdirs("a");
	put_file("a/f", "");
	RES("setxattr", setxattr("a/f", "user.one", "v1", 2, 0));
	n = getxattr("a/f", "user.one", buf, sizeof(buf));
	out("getxattr", "%zd %.*s", n, n > 0 ? (int)n : 0, buf);
	RES("getxattr_size_query", getxattr("a/f", "user.one", NULL, 0));
	out("getxattr_size_query_value", "%zd",
	    getxattr("a/f", "user.one", NULL, 0));
	RES("getxattr_erange", getxattr("a/f", "user.one", buf, 1));
	RES("setxattr_create_eexist",
	    setxattr("a/f", "user.one", "v2", 2, XATTR_CREATE));
	RES("setxattr_replace_enodata",
	    setxattr("a/f", "user.two", "v2", 2, XATTR_REPLACE));
	RES("setxattr_create_new",
	    setxattr("a/f", "user.two", "second", 6, XATTR_CREATE));
	RES("setxattr_replace_existing",
	    setxattr("a/f", "user.two", "2nd", 3, XATTR_REPLACE));
	n = getxattr("a/f", "user.two", buf, sizeof(buf));
	out("getxattr_after_replace", "%zd %.*s", n, n > 0 ? (int)n : 0, buf);
	RES("setxattr_empty_value", setxattr("a/f", "user.empty", "", 0, 0));
	out("getxattr_empty_value", "%zd",
	    getxattr("a/f", "user.empty", buf, sizeof(buf)));
	n = listxattr("a/f", buf, sizeof(buf));
	{
		/* Names in sorted order (the order is unspecified). */
		char line[256] = "", *names[16];
		int k = 0;

		for (char *p = buf; n > 0 && p < buf + n && k < 16;
		     p += strlen(p) + 1)
			if (strncmp(p, "security.", 9) != 0 &&
			    strncmp(p, "system.", 7) != 0)
				names[k++] = p;
		for (int i = 0; i < k; i++)
			for (int j = i + 1; j < k; j++)
				if (strcmp(names[j], names[i]) < 0) {
					char *t = names[i];

					names[i] = names[j];
					names[j] = t;
				}
		for (int i = 0; i < k; i++)
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line), "%s ", names[i]);
		out("listxattr", "%s", n < 0 ? ename(errno) : line);
	}
	RES("listxattr_erange", listxattr("a/f", buf, 3));
	RES("removexattr", removexattr("a/f", "user.one"));
	RES("removexattr_enodata", removexattr("a/f", "user.one"));
	RES("getxattr_enodata", getxattr("a/f", "user.one", buf, sizeof(buf)));
	RES("getxattr_enoent_file", getxattr("a/none", "user.x", buf, 10));
	{
		/* ext4 holds up to a block of xattrs per inode */
		static char big[3000];

		memset(big, 'v', sizeof(big));
		RES("setxattr_3000_byte_value",
		    setxattr("a/f", "user.big", big, sizeof(big), 0));
		out("getxattr_3000_byte_value", "%zd",
		    getxattr("a/f", "user.big", NULL, 0));
	}
	{
		char name[300] = "user.";

		memset(name + 5, 'n', 250);
		name[255] = 0;
		RES("setxattr_255_byte_name", setxattr("a/f", name, "v", 1, 0));
		memset(name + 5, 'n', 251);
		name[256] = 0;
		RES("setxattr_256_byte_name", setxattr("a/f", name, "v", 1, 0));
	}
	RES("setxattr_unknown_namespace",
	    setxattr("a/f", "bogus.x", "v", 1, 0));
	symlink("f", "a/l");
	RES("lsetxattr_user_on_symlink", lsetxattr("a/l", "user.x", "v", 1, 0));
	mkdirs("a/d");
	RES("setxattr_on_dir", setxattr("a/d", "user.d", "dv", 2, 0));
	n = getxattr("a/d", "user.d", buf, sizeof(buf));
	out("getxattr_on_dir", "%zd", n);
	mkfifo("a/fifo", 0644);
	RES("setxattr_user_on_fifo", setxattr("a/fifo", "user.x", "v", 1, 0));
	if (is_root) {
		RES("setxattr_trusted",
		    setxattr("a/f", "trusted.t", "tv", 2, 0));
		n = getxattr("a/f", "trusted.t", buf, sizeof(buf));
		out("getxattr_trusted", "%zd", n);
	} else {
		RES("setxattr_trusted_unprivileged",
		    setxattr("a/f", "trusted.t", "tv", 2, 0));
	}
	{
		int fd = open("a/f", O_RDONLY);

		RES("fsetxattr", fsetxattr(fd, "user.fd", "f", 1, 0));
		n = fgetxattr(fd, "user.fd", buf, sizeof(buf));
		out("fgetxattr", "%zd", n);
		close(fd);
	}
}

/* ------------------------------------------------------------ timestamps */

static int op_write(void)
{
	int fd = open("ts/f", O_WRONLY);
	int r = fd < 0 ? -1 : (int)write(fd, "w", 1);

	if (fd >= 0)
		close(fd);
	return r < 0 ? -1 : 0;
}

static int op_read(void)
{
	char c;
	int fd = open("ts/f", O_RDONLY);
	int r = fd < 0 ? -1 : (int)read(fd, &c, 1);

	if (fd >= 0)
		close(fd);
	return r < 0 ? -1 : 0;
}

static int op_open_close(void)
{
	int fd = open("ts/f", O_RDWR);

	return fd < 0 ? -1 : close(fd);
}

static int op_chmod(void)
{
	return chmod("ts/f", 0640);
}

static int op_chown(void)
{
	return chown("ts/f", getuid(), getgid());
}

static int op_link(void)
{
	return link("ts/f", "ts/d/f_link");
}

static int op_unlink_link(void)
{
	return unlink("ts/d/f_link");
}

static int op_rename_within(void)
{
	return rename("ts/f", "ts/f_renamed");
}

static int op_rename_back(void)
{
	return rename("ts/f_renamed", "ts/f");
}

static int op_rename_across(void)
{
	return rename("ts/d/mv", "ts/d2/mv");
}

static int op_rename_dir_across(void)
{
	return rename("ts/d/sub", "ts/d2/sub");
}

static int op_rename_over(void)
{
	return rename("ts/d/src", "ts/d/dst");
}

static int op_truncate(void)
{
	return truncate("ts/f", 100);
}

static int op_truncate_same(void)
{
	return truncate("ts/f", 100);
}

static int op_ftruncate(void)
{
	int fd = open("ts/f", O_WRONLY);
	int r = fd < 0 ? -1 : ftruncate(fd, 50);

	if (fd >= 0)
		close(fd);
	return r;
}

static int op_open_trunc(void)
{
	int fd = open("ts/f", O_WRONLY | O_TRUNC);

	return fd < 0 ? -1 : close(fd);
}

static int op_open_trunc_empty(void)
{
	int fd = open("ts/f", O_WRONLY | O_TRUNC);

	return fd < 0 ? -1 : close(fd);
}

static int op_create(void)
{
	int fd = open("ts/d/new", O_CREAT | O_WRONLY, 0644);

	return fd < 0 ? -1 : close(fd);
}

static int op_mkdir(void)
{
	return mkdir("ts/d/newdir", 0755);
}

static int op_rmdir(void)
{
	return rmdir("ts/d/newdir");
}

static int op_unlink(void)
{
	return unlink("ts/d/new");
}

static int op_symlink(void)
{
	return symlink("x", "ts/d/sym");
}

static int op_setxattr(void)
{
	return setxattr("ts/f", "user.ts", "v", 1, 0);
}

static int op_utimens(void)
{
	struct timespec t[2] = {{3, 0}, {4, 0}};

	return utimensat(AT_FDCWD, "ts/f", t, 0);
}

static int op_utimens_now(void)
{
	return utimensat(AT_FDCWD, "ts/f", NULL, 0);
}

static int op_mmap_write(void)
{
	int fd = open("ts/f", O_RDWR);
	char *p;
	int r = -1;

	if (fd < 0)
		return -1;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		p[0] = 'M';
		r = msync(p, 4096, MS_SYNC);
		munmap(p, 4096);
	}
	close(fd);
	return r;
}

static int op_readdir(void)
{
	int fd = open("ts/d", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	int r;

	if (fd < 0)
		return -1;
	r = (int)syscall(SYS_getdents64, fd, buf, sizeof(buf));
	close(fd);
	return r < 0 ? -1 : 0;
}

static int op_readlink(void)
{
	char buf[16];

	return readlink("ts/d/sym", buf, sizeof(buf)) < 0 ? -1 : 0;
}

static int op_fallocate(void)
{
	int fd = open("ts/f", O_RDWR);
	int r = fd < 0 ? -1 : fallocate(fd, 0, 0, 8192);

	if (fd >= 0)
		close(fd);
	return r;
}

static void timestamp_cases(void)
{
	const char *f[] = {"ts/f", NULL};
	const char *fd_[] = {"ts/f", "ts/d", NULL};
	const char *fd2[] = {"ts/f", "ts", NULL};
	const char *dd[] = {"ts/d", "ts/d2", "ts/d/mv", NULL};
	const char *dsub[] = {"ts/d", "ts/d2", "ts/d/sub", NULL};
	const char *d[] = {"ts/d", NULL};
	const char *over[] = {"ts/d", "ts/d/src", "ts/d/dst", NULL};
	const char *sym[] = {"ts/d/sym", NULL};

	mkdirs("ts");
	mkdirs("ts/d");
	mkdirs("ts/d2");
	put_file("ts/f", "content");
	put_file("ts/d/mv", "mv");
	mkdirs("ts/d/sub");
	put_file("ts/d/src", "src");
	put_file("ts/d/dst", "dst");

	ts_case("ts_write", f, op_write);
	ts_case("ts_read", f, op_read);
	ts_case("ts_open_close", f, op_open_close);
	ts_case("ts_chmod", f, op_chmod);
	ts_case("ts_chown_same_owner", f, op_chown);
	ts_case("ts_link", fd_, op_link);
	ts_case("ts_unlink_link", fd_, op_unlink_link);
	ts_case("ts_rename_within_dir", fd2, op_rename_within);
	op_rename_back();
	ts_case("ts_rename_across_dirs", dd, op_rename_across);
	ts_case("ts_rename_dir_across_dirs", dsub, op_rename_dir_across);
	ts_case("ts_rename_over_existing", over, op_rename_over);
	ts_case("ts_truncate", f, op_truncate);
	ts_case("ts_truncate_same_size", f, op_truncate_same);
	ts_case("ts_ftruncate", f, op_ftruncate);
	ts_case("ts_open_trunc", f, op_open_trunc);
	ts_case("ts_open_trunc_empty", f, op_open_trunc_empty);
	ts_case("ts_create", d, op_create);
	{
		struct stat st;

		if (stat("ts/d/new", &st) == 0)
			out("ts_create_new_file_times", "a=m=c %s",
			    ts_eq(st.st_atim, st.st_mtim) &&
					    ts_eq(st.st_mtim, st.st_ctim)
				    ? "yes"
				    : "no");
	}
	ts_case("ts_unlink", d, op_unlink);
	ts_case("ts_mkdir", d, op_mkdir);
	ts_case("ts_rmdir", d, op_rmdir);
	ts_case("ts_symlink", d, op_symlink);
	ts_case("ts_readlink", sym, op_readlink);
	ts_case("ts_readdir", d, op_readdir);
	ts_case("ts_setxattr", f, op_setxattr);
	ts_case("ts_utimensat_times", f, op_utimens);
	ts_case("ts_utimensat_now", f, op_utimens_now);
	put_file("ts/f", "some content");
	ts_case("ts_mmap_write_msync", f, op_mmap_write);
	ts_case("ts_fallocate_extend", f, op_fallocate);
}

int main(int argc, char **argv)
{
	const char *dir;

	if (argc == 4 && strcmp(argv[1], "-u") == 0) {
		unsigned uid, gid;

		if (sscanf(argv[2], "%u:%u", &uid, &gid) != 2 ||
		    setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			perror("posix_cases: dropping privileges");
			return 2;
		}
		dir = argv[3];
	} else if (argc == 2) {
		dir = argv[1];
	} else {
		fprintf(stderr, "usage: posix_cases [-u UID:GID] DIR\n");
		return 2;
	}
	if (chdir(dir) < 0) {
		perror("posix_cases: chdir");
		return 2;
	}
	umask(022);
	is_root = geteuid() == 0;
	out("running_as", "%s", is_root ? "root" : "unprivileged");
	open_cases();
	chmod_chown_cases();
	link_unlink_cases();
	mkdir_rmdir_cases();
	rename_cases();
	symlink_cases();
	nametoolong_cases();
	pathmax_cases();
	truncate_cases();
	utimens_cases();
	special_cases();
	xattr_cases();
	perm_cases();
	timestamp_cases();
	out("done", "ok");
	return 0;
}
