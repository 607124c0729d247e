/*
 * cmd_fs.c - cask fs ls / cat / get: the caskfs view of an unmounted store
 * or of a backup copy, through fs/caskfs.h opened read-only (so it also
 * works beside a running daemon, seeing the store as of the open). Extracts
 * a file or a whole tree with modes and times (owners too when run as
 * root); hard links come out as separate copies. get --keep-going opens
 * the store as fs_open_salvage() does (fs/fsck.h), so that it also
 * restores from a copy that does not mount.
 */
#include "cli.h"
#include "escape.h"

#include <caskfs.h>
#include <errno.h>
#include <fcntl.h>
#include <fsck.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20)

static const char fs_usage[] =
	"usage: cask fs ls DIR [PATH]\n"
	"       cask fs cat DIR PATH\n"
	"       cask fs get [--keep-going] DIR PATH DEST\n"
	"Read the caskfs filesystem kept in the store in DIR (unmounted, a "
	"backup\ncopy, or mounted: the store is opened read-only) by absolute "
	"PATH.\n"
	"  ls   one line per entry: mode links uid gid size mtime name\n"
	"       (non-printable bytes of names as \\xNN)\n"
	"  cat  write the file's content to stdout\n"
	"  get  copy a file, symlink or whole directory tree to DEST (into "
	"DEST\n       when it is an existing directory), with modes and "
	"times, and\n       owners when run as root. It stops at the first "
	"file it cannot\n       restore; with --keep-going it restores every "
	"file it can read\n       and lists the others on stdout "
	"(\"not restored: PATH: REASON\")\n"
	"       and exits 1 (cask fsck DIR says what is damaged); it reads "
	"the store\n       once more first, as cask fsck does, so that a "
	"copy that does not\n       mount (superblock or directories lost) is "
	"restored too\n"
	"Exit: 0; 1 no such path, or files not restored; 2 usage; 3 store "
	"error (not a\ncaskfs store, I/O).\n";

static int fs_exit(const char *what, const char *path, int err)
{
	warnx_("fs", "%s %s: %s", what, path, strerror(-err));
	return err == -ENOENT || err == -ENOTDIR ? EXIT_NOTFOUND : EXIT_STORE;
}

/* Open the store in @p dir read-only; to @p salvage what a damaged one
 * holds, also when it does not mount. */
static int open_fs(const char *dir, bool salvage, struct fs **fs)
{
	struct fs_fsck_result res;
	struct cask_options co;
	struct fs_options fo;
	int err;

	if (check_store("fs", dir, false))
		return EXIT_STORE;
	cask_options_init(&co);
	co.read_only = true;
	co.create_if_missing = false;
	fs_options_init(&fo);
	fo.read_only = true;
	fo.cask = &co;
	err = salvage ? fs_open_salvage(dir, fs, &res)
		      : fs_open_store(dir, &fo, fs);
	if (!err && salvage && (res.fatal || res.errors))
		warnx_("fs",
		       "%s is damaged (%" PRIu64 " problems, %" PRIu64
		       " of them fatal: cask fsck names them); restoring what "
		       "can be read",
		       dir, res.fatal + res.errors, res.fatal);
	if (err) {
		warnx_("fs", "cannot open the caskfs store %s: %s", dir,
		       strerror(-err));
		return EXIT_STORE;
	}
	return EXIT_OK;
}

struct entry {
	char *name;
	uint64_t ino;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static int collect(void *ctx, const char *name, const struct stat *st,
		   uint64_t next_off)
{
	struct entries *e = ctx;

	(void)next_off;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct entry *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return 1;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n].name = strdup(name);
	if (!e->v[e->n].name)
		return 1;
	e->v[e->n++].ino = st->st_ino;
	return 0;
}

static void entries_free(struct entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
}

static int list_dir(struct fs *fs, uint64_t ino, struct entries *out)
{
	struct fs_dir *dh;
	int err;

	*out = (struct entries){0};
	err = fs_opendir(fs, ino, &dh);
	if (err)
		return err;
	err = fs_readdir(fs, dh, 0, false, collect, out);
	fs_releasedir(fs, dh);
	return err;
}

/* The inode and attributes of absolute @p path. */
static int resolve(struct fs *fs, const char *path, uint64_t *ino,
		   struct stat *st)
{
	int err = fs_lookup_path(fs, path, ino);

	return err ? err : fs_getattr(fs, *ino, st);
}

static void mode_string(mode_t m, char s[11])
{
	const char *rwx = "rwxrwxrwx";

	s[0] = S_ISDIR(m)    ? 'd'
	       : S_ISLNK(m)  ? 'l'
	       : S_ISFIFO(m) ? 'p'
	       : S_ISSOCK(m) ? 's'
	       : S_ISCHR(m)  ? 'c'
	       : S_ISBLK(m)  ? 'b'
			     : '-';
	for (int i = 0; i < 9; i++)
		s[i + 1] = (m & (0400 >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		s[3] = (m & S_IXUSR) ? 's' : 'S';
	if (m & S_ISGID)
		s[6] = (m & S_IXGRP) ? 's' : 'S';
	if (m & S_ISVTX)
		s[9] = (m & S_IXOTH) ? 't' : 'T';
	s[10] = '\0';
}

static void print_entry(struct fs *fs, const char *name, const struct stat *st)
{
	char mode[11], when[32], target[FS_PATH_MAX + 1];
	struct tm tm;

	mode_string(st->st_mode, mode);
	localtime_r(&st->st_mtim.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%s %3ju %5ju %5ju %12jd %s ", mode, (uintmax_t)st->st_nlink,
	       (uintmax_t)st->st_uid, (uintmax_t)st->st_gid,
	       (intmax_t)st->st_size, when);
	esc_display(stdout, name, strlen(name));
	if (S_ISLNK(st->st_mode) &&
	    fs_readlink(fs, st->st_ino, target, sizeof(target)) >= 0) {
		fputs(" -> ", stdout);
		esc_display(stdout, target, strlen(target));
	}
	putchar('\n');
}

static int do_ls(struct fs *fs, const char *path)
{
	struct entries e;
	struct stat st;
	uint64_t ino;
	int err = resolve(fs, path, &ino, &st);

	if (err)
		return fs_exit("ls", path, err);
	if (!S_ISDIR(st.st_mode)) {
		print_entry(fs, path, &st);
		return EXIT_OK;
	}
	err = list_dir(fs, ino, &e);
	for (size_t i = 0; !err && i < e.n; i++) {
		if (fs_lookup(fs, ino, e.v[i].name, &st) == 0)
			print_entry(fs, e.v[i].name, &st);
	}
	entries_free(&e);
	return err ? fs_exit("ls", path, err) : EXIT_OK;
}

/* Copy the content of regular file @p ino to descriptor @p out. */
static int copy_out(struct fs *fs, uint64_t ino, int out)
{
	struct fs_file *fh = NULL;
	uint64_t off = 0;
	char *buf = malloc(IO_CHUNK);
	ssize_t n;
	int err = buf ? fs_open(fs, ino, O_RDONLY, &fh) : -ENOMEM;

	while (!err && (n = fs_read(fs, fh, buf, IO_CHUNK, off)) != 0) {
		if (n < 0) {
			err = (int)n;
			break;
		}
		off += (uint64_t)n;
		for (ssize_t w = 0, done = 0; done < n; done += w) {
			w = write(out, buf + done, (size_t)(n - done));
			if (w < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				err = -errno;
				break;
			}
		}
	}
	fs_release(fs, fh);
	free(buf);
	return err;
}

static int do_cat(struct fs *fs, const char *path)
{
	struct stat st;
	uint64_t ino;
	int err = resolve(fs, path, &ino, &st);

	if (!err && S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!err && !S_ISREG(st.st_mode))
		err = -EINVAL;
	if (!err) {
		fflush(stdout);
		err = copy_out(fs, ino, 1);
	}
	if (err == -EPIPE)
		return EXIT_OK;
	return err ? fs_exit("cat", path, err) : EXIT_OK;
}

/* Modes, times and (as root) owners of the extracted @p dst. */
static int set_attrs(const char *dst, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (geteuid() == 0 && lchown(dst, st->st_uid, st->st_gid) &&
	    errno != EPERM)
		return -errno;
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777))
		return -errno;
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* How cask fs get goes on after a file it cannot restore. */
struct get_ctx {
	bool keep_going; /* list it and go on with the others */
	uint64_t not_restored;
};

static int extract(struct fs *fs, struct get_ctx *g, const struct stat *st,
		   const char *src, const char *dst);

/* @p src could not be restored: the end of it, or (keep going) one line
 * of the list of what was not. @return the error to pass on. */
static int not_restored(struct get_ctx *g, const char *src, int err)
{
	if (!g->keep_going)
		return err;
	g->not_restored++;
	fputs("not restored: ", stdout);
	esc_display(stdout, src, strlen(src));
	printf(": %s\n", strerror(-err));
	return 0;
}

static int extract_dir(struct fs *fs, struct get_ctx *g, uint64_t ino,
		       const char *src, const char *dst)
{
	struct entries e;
	int err;

	if (mkdir(dst, 0700) && errno != EEXIST)
		return -errno;
	err = list_dir(fs, ino, &e);
	for (size_t i = 0; !err && i < e.n; i++) {
		size_t sl = strlen(src), dl = strlen(dst);
		size_t nl = strlen(e.v[i].name);
		char *s = malloc(sl + nl + 2), *d = malloc(dl + nl + 2);

		if (!s || !d) {
			err = -ENOMEM;
		} else {
			sprintf(s, "%s%s%s", src, sl > 1 ? "/" : "",
				e.v[i].name);
			sprintf(d, "%s/%s", dst, e.v[i].name);
			struct stat st;

			err = fs_lookup(fs, ino, e.v[i].name, &st);
			if (!err)
				err = extract(fs, g, &st, s, d);
			else
				err = not_restored(g, s, err);
		}
		free(s);
		free(d);
	}
	entries_free(&e);
	return err;
}

/* Extract the node with attributes @p st (found by a lookup) to @p dst;
 * @p src is its path, for messages. */
static int extract(struct fs *fs, struct get_ctx *g, const struct stat *sp,
		   const char *src, const char *dst)
{
	char target[FS_PATH_MAX + 1];
	struct stat st = *sp;
	uint64_t ino = st.st_ino;
	int fd, err = 0;
	ssize_t n;
	if (S_ISREG(st.st_mode)) {
		fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		err = copy_out(fs, ino, fd);
		if (close(fd) && !err)
			err = -errno;
		if (err)
			unlink(dst); /* no part of a file passes for all of it */
	} else if (S_ISDIR(st.st_mode)) {
		err = extract_dir(fs, g, ino, src, dst);
	} else if (S_ISLNK(st.st_mode)) {
		n = fs_readlink(fs, ino, target, sizeof(target));
		err = n < 0 ? (int)n : symlink(target, dst) ? -errno : 0;
	} else if (S_ISFIFO(st.st_mode)) {
		err = mkfifo(dst, 0600) ? -errno : 0;
	} else {
		fprintf(stderr, "%s fs get: %s: device or socket skipped\n",
			progname, src);
		return 0;
	}
	if (!err)
		err = set_attrs(dst, &st);
	if (err)
		fprintf(stderr, "%s fs get: %s -> %s: %s\n", progname, src, dst,
			strerror(-err));
	return err ? not_restored(g, src, err) : 0;
}

static int do_get(struct fs *fs, struct get_ctx *g, const char *path,
		  const char *dest)
{
	struct stat st, ds;
	uint64_t ino;
	char *d = NULL;
	int err = resolve(fs, path, &ino, &st);

	if (err)
		return fs_exit("get", path, err);
	if (stat(dest, &ds) == 0 && S_ISDIR(ds.st_mode) && ino != FS_ROOT_INO) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		d = malloc(strlen(dest) + strlen(base) + 2);
		if (!d)
			return EXIT_STORE;
		sprintf(d, "%s/%s", dest, base);
	}
	err = extract(fs, g, &st, path, d ? d : dest);
	free(d);
	if (err)
		return EXIT_STORE;
	return g->not_restored ? EXIT_NOTFOUND : EXIT_OK;
}

int cmd_fs(int argc, char **argv)
{
	struct get_ctx g = {0};
	struct fs *fs;
	const char *sub;
	int rc;

	if (want_help(argc, argv))
		return usage_out(fs_usage, true);
	if (argc < 3)
		return usage_out(fs_usage, false);
	sub = argv[1];
	if (!strcmp(sub, "get") && !strcmp(argv[2], "--keep-going")) {
		g.keep_going = true;
		argv[2] = argv[1];
		argv++;
		argc--;
	}
	if (!((!strcmp(sub, "ls") && (argc == 3 || argc == 4)) ||
	      (!strcmp(sub, "cat") && argc == 4) ||
	      (!strcmp(sub, "get") && argc == 5)))
		return usage_out(fs_usage, false);
	if (argc > 3 && argv[3][0] != '/') {
		warnx_("fs", "%s: PATH must be absolute", argv[3]);
		return EXIT_USAGE;
	}
	rc = open_fs(argv[2], g.keep_going, &fs);
	if (rc)
		return rc;
	if (!strcmp(sub, "ls"))
		rc = do_ls(fs, argc == 4 ? argv[3] : "/");
	else if (!strcmp(sub, "cat"))
		rc = do_cat(fs, argv[3]);
	else
		rc = do_get(fs, &g, argv[3], argv[4]);
	fs_close(fs);
	return rc;
}
