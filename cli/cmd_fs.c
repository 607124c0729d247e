/*
 * cmd_fs.c - cask fs ls / cat / get: the caskfs view of an unmounted store
 * or of a backup copy, through fs/caskfs.h opened read-only (so it also
 * works beside a running daemon, seeing the store as of the open). Extracts
 * a file or a whole tree of any depth with modes and times (owners too when
 * run as root); hard links come out as separate copies. get --keep-going opens
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
	struct fs_options fo;
	int err;

	if (check_store("fs", dir, false))
		return EXIT_STORE;
	fs_options_init(&fo);
	fo.read_only = true;
	fo.create_if_missing = false;
	fo.log = store_log;
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
		       err == -ENOTEMPTY ? "it holds files that are not the "
					   "store's (named above)"
					 : strerror(-err));
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
	char mode[11], when[32], target[FS_SYMLINK_MAX + 1];
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

/*
 * cask fs get restores a tree of any depth (caskfs paths reach 65534
 * bytes, the kernel's calls take 4095): every file is made relative to
 * the descriptor of its directory, and the walk holds one descriptor and
 * no recursion, going back up by "..", which the walk made itself.
 */

/* How cask fs get goes on after a file it cannot restore, and where it
 * is: the path in the store of what it restores (for messages). */
struct get_ctx {
	bool keep_going; /* list it and go on with the others */
	uint64_t not_restored;
	char *src;
	size_t len, cap;
};

/* Set g->src to its first @p len bytes + "/" + @p name (no "/" after the
 * root's "/"). @return 0, -ENOMEM. */
static int src_push(struct get_ctx *g, size_t len, const char *name)
{
	size_t n = strlen(name), sep = len > 0 && g->src[len - 1] != '/';

	if (len + sep + n + 1 > g->cap) {
		size_t cap = 2 * (len + sep + n + 1);
		char *s = realloc(g->src, cap);

		if (!s)
			return -ENOMEM;
		g->src = s;
		g->cap = cap;
	}
	if (sep)
		g->src[len++] = '/';
	memcpy(g->src + len, name, n + 1);
	g->len = len + n;
	return 0;
}

/* The node at g->src could not be restored: the end of it, or (keep
 * going) one line of the list of what was not. @return the error to pass
 * on. */
static int not_restored(struct get_ctx *g, int err)
{
	fprintf(stderr, "%s fs get: ", progname);
	esc_display(stderr, g->src, g->len);
	fprintf(stderr, ": %s\n", strerror(-err));
	if (!g->keep_going)
		return err;
	g->not_restored++;
	fputs("not restored: ", stdout);
	esc_display(stdout, g->src, g->len);
	printf(": %s\n", strerror(-err));
	return 0;
}

/* Owners (as root), mode and times of @p name in directory @p dir, or
 * of the directory @p dir itself when @p name is NULL. */
static int set_attrs(int dir, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	mode_t mode = st->st_mode & 07777;
	uid_t u = st->st_uid;
	gid_t gr = st->st_gid;

	if (geteuid() == 0 &&
	    (name ? fchownat(dir, name, u, gr, AT_SYMLINK_NOFOLLOW)
		  : fchown(dir, u, gr)) &&
	    errno != EPERM)
		return -errno;
	if (!S_ISLNK(st->st_mode) &&
	    (name ? fchmodat(dir, name, mode, 0) : fchmod(dir, mode)))
		return -errno;
	if (name ? utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW)
		 : futimens(dir, ts))
		return -errno;
	return 0;
}

/* Restore the symlink @p ino as @p name in @p dir. */
static int put_symlink(struct fs *fs, uint64_t ino, int dir, const char *name)
{
	char *target = malloc(FS_SYMLINK_MAX + 1);
	ssize_t n = target ? fs_readlink(fs, ino, target, FS_SYMLINK_MAX + 1)
			   : -ENOMEM;
	int err = n < 0 ? (int)n : symlinkat(target, dir, name) ? -errno : 0;

	free(target);
	return err;
}

/* Restore the node @p st, not a directory, as @p name in @p dir. */
static int put_node(struct fs *fs, struct get_ctx *g, const struct stat *st,
		    int dir, const char *name)
{
	int fd, err = 0;

	if (S_ISREG(st->st_mode)) {
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return not_restored(g, -errno);
		err = copy_out(fs, st->st_ino, fd);
		if (close(fd) && !err)
			err = -errno;
		if (err)
			unlinkat(dir, name, 0); /* no part passes for all */
	} else if (S_ISLNK(st->st_mode)) {
		err = put_symlink(fs, st->st_ino, dir, name);
	} else if (S_ISFIFO(st->st_mode)) {
		err = mkfifoat(dir, name, 0600) ? -errno : 0;
	} else {
		fprintf(stderr, "%s fs get: ", progname);
		esc_display(stderr, g->src, g->len);
		fputs(": device or socket skipped\n", stderr);
		return 0;
	}
	if (!err)
		err = set_attrs(dir, name, st);
	return err ? not_restored(g, err) : 0;
}

/* Make (or reuse) the directory @p name in @p dir and open it; never
 * through a symlink, so that its ".." is @p dir. @return the descriptor
 * or -errno. */
static int enter(int dir, const char *name)
{
	int fd;

	if (mkdirat(dir, name, 0700) && errno != EEXIST)
		return -errno;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A directory being restored: its entries, the next one to restore, its
 * attributes (set once its entries are in) and its path's length. */
struct level {
	struct entries e;
	size_t next;
	struct stat st;
	size_t len;
};

struct levels {
	struct level *v;
	size_t depth, cap;
};

/* Start on the directory @p st, just entered. @return 0, or the error
 * that ends the restore. */
static int level_push(struct fs *fs, struct get_ctx *g, struct levels *l,
		      const struct stat *st)
{
	struct level *top;
	int err;

	if (l->depth == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct level *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	top = &l->v[l->depth++];
	*top = (struct level){.st = *st, .len = g->len};
	err = list_dir(fs, st->st_ino, &top->e);
	if (err) {
		entries_free(&top->e);
		top->e = (struct entries){0};
		return not_restored(g, err);
	}
	return 0;
}

/* Finish the directory on top (open as *@p fd): its attributes, then back
 * up to its parent unless it is the first. */
static int level_pop(struct get_ctx *g, struct levels *l, int *fd)
{
	struct level *top = &l->v[--l->depth];
	int err, up;

	g->len = top->len;
	err = set_attrs(*fd, NULL, &top->st);
	err = err ? not_restored(g, err) : 0;
	entries_free(&top->e);
	if (l->depth == 0)
		return err;
	up = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0 && !err)
		err = -errno;
	close(*fd);
	*fd = up;
	return err;
}

/* Restore the directory @p st as @p name in @p dir, and all below it. */
static int put_tree(struct fs *fs, struct get_ctx *g, const struct stat *st,
		    int dir, const char *name)
{
	struct levels l = {0};
	struct level *top;
	struct stat cst;
	int fd = enter(dir, name), sub, err;

	if (fd < 0)
		return not_restored(g, fd);
	err = level_push(fs, g, &l, st);
	while (!err && l.depth > 0) {
		top = &l.v[l.depth - 1];
		if (top->next == top->e.n) {
			err = level_pop(g, &l, &fd);
			continue;
		}
		name = top->e.v[top->next++].name;
		err = src_push(g, top->len, name);
		if (!err)
			err = fs_lookup(fs, top->st.st_ino, name, &cst);
		if (err) {
			err = err == -ENOMEM ? err : not_restored(g, err);
		} else if (!S_ISDIR(cst.st_mode)) {
			err = put_node(fs, g, &cst, fd, name);
		} else if ((sub = enter(fd, name)) < 0) {
			err = not_restored(g, sub);
		} else {
			close(fd);
			fd = sub;
			err = level_push(fs, g, &l, &cst);
		}
	}
	while (l.depth > 0)
		entries_free(&l.v[--l.depth].e);
	free(l.v);
	if (fd >= 0)
		close(fd);
	return err;
}

/* Open the directory @p dest is in (*@p dir, the caller closes it) and
 * point *@p name at its last component ("." for "/"). @p dest is changed.
 * @return 0 or -errno. */
static int open_parent(char *dest, int *dir, const char **name)
{
	size_t n = strlen(dest);
	char *slash;

	while (n > 1 && dest[n - 1] == '/')
		dest[--n] = '\0';
	slash = strrchr(dest, '/');
	if (!slash) {
		*name = dest;
		*dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (slash[1] == '\0') {
		*name = "."; /* dest is "/" */
		*dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		*name = slash + 1;
		*slash = '\0';
		*dir = open(slash == dest ? "/" : dest,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return *dir < 0 ? -errno : 0;
}

static int do_get(struct fs *fs, struct get_ctx *g, const char *path,
		  const char *dest)
{
	struct stat st, ds;
	const char *name;
	char *d = NULL;
	uint64_t ino;
	int dir = -1, err = resolve(fs, path, &ino, &st);

	if (err)
		return fs_exit("get", path, err);
	if (stat(dest, &ds) == 0 && S_ISDIR(ds.st_mode) && ino != FS_ROOT_INO) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		d = malloc(strlen(dest) + strlen(base) + 2);
		if (d)
			sprintf(d, "%s/%s", dest, base);
	} else {
		d = strdup(dest);
	}
	err = d ? src_push(g, 0, path) : -ENOMEM;
	if (!err)
		err = open_parent(d, &dir, &name);
	if (err) {
		warnx_("fs", "get %s: %s", dest, strerror(-err));
		free(d);
		return EXIT_STORE;
	}
	err = S_ISDIR(st.st_mode) ? put_tree(fs, g, &st, dir, name)
				  : put_node(fs, g, &st, dir, name);
	close(dir);
	free(d);
	free(g->src);
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
