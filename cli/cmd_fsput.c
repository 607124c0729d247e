/*
 * cmd_fsput.c - cask fs put: copy a local file, symlink, FIFO, socket,
 * device node or whole tree into the caskfs filesystem of an unmounted
 * store, through fs/caskfs.h opened for writing (so it refuses a store a
 * daemon has mounted). The counterpart of cask fs get: modes, times,
 * extended attributes and hard links (within what is put) are kept, and
 * owners when run as root (otherwise the new files are the caller's).
 *
 * It never replaces a file: an existing name is an error, except a
 * directory, which is filled. It stops at the first file it cannot put;
 * what was put before stays (each file is written whole before its name
 * is given attributes, and fs_close() makes everything durable).
 * Directories are walked by recursion with one descriptor per level, so a
 * tree is as deep as the descriptors allow; messages name the local path.
 */
#include "cli.h"
#include "escape.h"
#include "progress.h"

#include <caskfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define IO_CHUNK	(1u << 20)
#define XATTR_VALUE_MAX (64u * 1024) /* caskfs.h: values up to 64 KiB */

static const char put_usage[] =
	"usage: cask fs put [-q] DIR SRC PATH\n"
	"Copy the local file, symlink, FIFO, socket, device node or "
	"directory tree\nSRC into the caskfs of the store in DIR as absolute "
	"PATH (into PATH, as\nSRC's name, when PATH is a directory), with "
	"modes, times, extended\nattributes and hard links, and owners when "
	"run as root (the caller's\notherwise). Existing files are not "
	"replaced (an existing directory is\nfilled). Needs the store "
	"unmounted.\n"
	"  -q, --quiet  no progress line (there is none when stderr is not a\n"
	"               terminal)\n"
	"Exit: 0; 1 SRC or PATH's directory missing; 2 usage; 3 store error "
	"(in use,\nI/O) or a file that cannot be put (named).\n";

static const struct option put_opts[] = {
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* A local file with several links, and the inode it became in the store. */
struct linked {
	dev_t dev;
	ino_t ino;
	uint64_t to;
};

/* One cask fs put: the store, who the new files belong to, where the walk
 * is (the local path, for messages), the files put with several links,
 * and the progress line. */
struct put_ctx {
	struct fs *fs;
	struct fs_cred cred;
	bool root;
	struct path_buf src;
	struct linked *links;
	size_t nlinks, cap;
	struct progress p;
};

/* The file at ctx->src could not be put: say so. @return @p err. */
static int failed(struct put_ctx *c, const char *what, int err)
{
	progress_clear();
	fprintf(stderr, "%s fs put: ", progname);
	esc_display_utf8(stderr, c->src.s, c->src.len);
	fprintf(stderr, ": %s%s%s\n", what ? what : "", what ? ": " : "",
		err == -EEXIST ? "exists in the store (fs put replaces nothing)"
			       : strerror(-err));
	return err;
}

/* The store inode that local (dev, ino) became, or 0. */
static uint64_t link_of(const struct put_ctx *c, const struct stat *st)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev &&
		    c->links[i].ino == st->st_ino)
			return c->links[i].to;
	return 0;
}

static int link_add(struct put_ctx *c, const struct stat *st, uint64_t to)
{
	if (c->nlinks == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct linked *v = realloc(c->links, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->links = v;
		c->cap = cap;
	}
	c->links[c->nlinks++] = (struct linked){st->st_dev, st->st_ino, to};
	return 0;
}

/* Copy the content of local @p fd into the new file @p fh. */
static int copy_in(struct put_ctx *c, int fd, struct fs_file *fh)
{
	char *buf = malloc(IO_CHUNK);
	uint64_t off = 0;
	ssize_t n, w;
	int err = buf ? 0 : -ENOMEM;

	while (!err && (n = read(fd, buf, IO_CHUNK)) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				err = -errno;
			continue;
		}
		w = fs_write(c->fs, fh, buf, (size_t)n, off);
		if (w < 0)
			err = (int)w;
		off += (uint64_t)n;
		progress_add(&c->p, (uint64_t)n, 0);
	}
	free(buf);
	return err;
}

/* Copy the extended attributes of local @p name in @p dir (through
 * /proc/self/fd: no listxattr relative to a descriptor) to @p ino. */
static int copy_xattrs(struct put_ctx *c, int dir, const char *name,
		       uint64_t ino)
{
	char path[64 + FS_NAME_MAX], *names = NULL, *val = NULL;
	ssize_t len, vlen;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir, name);
	len = llistxattr(path, NULL, 0);
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	if (len == 0)
		return 0;
	names = malloc((size_t)len);
	val = malloc(XATTR_VALUE_MAX);
	if (!names || !val)
		err = -ENOMEM;
	else if ((len = llistxattr(path, names, (size_t)len)) < 0)
		err = -errno;
	for (ssize_t i = 0; !err && i < len;
	     i += (ssize_t)strlen(names + i) + 1) {
		vlen = lgetxattr(path, names + i, val, XATTR_VALUE_MAX);
		err = vlen < 0 ? -errno
			       : fs_setxattr(c->fs, ino, names + i, val,
					     (size_t)vlen, 0);
		if (err)
			failed(c, names + i, err);
	}
	free(val);
	free(names);
	return err;
}

/* Give @p ino the owners (as root), mode and times of local @p st. */
static int set_attrs(struct put_ctx *c, uint64_t ino, const struct stat *st)
{
	unsigned mask = FS_SET_ATIME | FS_SET_MTIME;
	struct stat out;
	int err = 0;

	/* Owners first: a change of owner clears set-id bits. */
	if (c->root)
		err = fs_setattr(c->fs, ino, st, FS_SET_UID | FS_SET_GID, NULL,
				 &out);
	if (!S_ISLNK(st->st_mode))
		mask |= FS_SET_MODE;
	return err ? err : fs_setattr(c->fs, ino, st, mask, NULL, &out);
}

static int put_at(struct put_ctx *c, uint64_t parent, int dir, const char *name,
		  const char *as);

/* Fill store directory @p ino from local directory @p name in @p dir. */
static int put_dir(struct put_ctx *c, uint64_t ino, int dir, const char *name)
{
	size_t len = c->src.len;
	struct dirent *de;
	DIR *d;
	int fd = openat(dir, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
	    err = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return failed(c, NULL, err);
	}
	while (!err && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = path_push(&c->src, len, de->d_name);
		if (!err)
			err = put_at(c, ino, fd, de->d_name, de->d_name);
	}
	if (!err && errno) {
		c->src.len = len;
		c->src.s[len] = '\0';
		err = failed(c, NULL, -errno);
	}
	closedir(d);
	c->src.len = len;
	return err;
}

/* Make the node for local @p st as @p as in @p parent: *@p ino. */
static int make_node(struct put_ctx *c, uint64_t parent, int dir,
		     const char *name, const char *as, const struct stat *st,
		     uint64_t *ino)
{
	char target[FS_SYMLINK_MAX + 1];
	struct fs_file *fh = NULL;
	struct stat out;
	ssize_t n;
	int fd, err;

	if (S_ISDIR(st->st_mode)) {
		err = fs_mkdir(c->fs, parent, as, 0700, &c->cred, &out);
		if (err == -EEXIST && !fs_lookup(c->fs, parent, as, &out) &&
		    S_ISDIR(out.st_mode))
			err = 0; /* filled, as cp -r fills one */
	} else if (S_ISREG(st->st_mode)) {
		fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		err = fs_create(c->fs, parent, as, 0600, &c->cred, O_WRONLY,
				&out, &fh);
		if (!err)
			err = copy_in(c, fd, fh);
		if (fh) {
			int e = fs_release(c->fs, fh);

			err = err ? err : e;
		}
		close(fd);
		if (err && fh)
			fs_unlink(c->fs, parent, as); /* no part passes */
	} else if (S_ISLNK(st->st_mode)) {
		n = readlinkat(dir, name, target, sizeof(target));
		if (n < 0)
			return -errno;
		if ((size_t)n == sizeof(target))
			return -ENAMETOOLONG;
		target[n] = '\0';
		err = fs_symlink(c->fs, parent, as, target, &c->cred, &out);
	} else {
		err = fs_mknod(c->fs, parent, as, (st->st_mode & S_IFMT) | 0600,
			       st->st_rdev, &c->cred, &out);
	}
	*ino = out.st_ino;
	return err;
}

/* Put local @p name of @p dir into store directory @p parent as @p as. */
static int put_at(struct put_ctx *c, uint64_t parent, int dir, const char *name,
		  const char *as)
{
	struct stat st, out;
	uint64_t ino = 0;
	int err;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW))
		return failed(c, NULL, -errno);
	if (!S_ISDIR(st.st_mode))
		progress_add(&c->p, 0, 1);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
	    (ino = link_of(c, &st)) != 0) {
		err = fs_link(c->fs, ino, parent, as, &out);
		return err ? failed(c, NULL, err) : 0;
	}
	err = make_node(c, parent, dir, name, as, &st, &ino);
	if (err)
		return failed(c, NULL, err);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
	    (err = link_add(c, &st, ino)))
		return failed(c, NULL, err);
	if (S_ISDIR(st.st_mode) && (err = put_dir(c, ino, dir, name)))
		return err; /* named there */
	err = copy_xattrs(c, dir, name, ino);
	if (err)
		return err;
	err = set_attrs(c, ino, &st);
	return err ? failed(c, NULL, err) : 0;
}

/* nftw() has no argument for its callback. */
static struct progress *counting;

static int count_one(const char *path, const struct stat *st, int type,
		     struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type != FTW_D && type != FTW_DP)
		progress_total(counting,
			       counting->total_bytes +
				       (S_ISREG(st->st_mode)
						? (uint64_t)st->st_size
						: 0),
			       counting->total_items + 1);
	return 0;
}

/*
 * Where SRC goes: the store directory *@p parent and the name *@p as
 * (pointing into @p path or @p src): PATH itself, or SRC's name inside
 * PATH when PATH is a directory. @p path is changed.
 * @return 0 or -errno (of PATH's directory).
 */
static int target(struct fs *fs, char *path, const char *src, uint64_t *parent,
		  const char **as)
{
	const char *base;
	char *slash;
	uint64_t ino;
	struct stat st;
	size_t n = strlen(path);

	if (fs_lookup_path(fs, path, &ino) == 0 && !fs_getattr(fs, ino, &st) &&
	    S_ISDIR(st.st_mode)) {
		n = strlen(src);
		while (n > 1 && src[n - 1] == '/')
			n--;
		base = memrchr(src, '/', n);
		*as = strndup(base ? base + 1 : src,
			      n - (size_t)(base ? base + 1 - src : 0));
		*parent = ino;
		return *as ? 0 : -ENOMEM;
	}
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	*as = strdup(slash + 1);
	if (!*as)
		return -ENOMEM;
	*slash = '\0';
	return fs_lookup_path(fs, slash == path ? "/" : path, parent);
}

/* Open the store in @p dir for writing, as cask's other write commands
 * do: no background merge, durable once, at fs_close(). */
static int open_rw(const char *dir, struct fs **fs)
{
	struct fs_options fo;
	int err;

	if (check_store("fs put", dir, false) || refuse_mounted("fs put", dir))
		return EXIT_STORE;
	fs_options_init(&fo);
	fo.create_if_missing = false;
	fo.sync_mode = FS_SYNC_NEVER;
	fo.merge_dead_ratio = 0;
	fo.log = store_log;
	fo.log_arg = (void *)"fs put";
	err = fs_open_store(dir, &fo, fs);
	if (err && err != -EBUSY) /* the store's log said that one */
		warnx_("fs put", "cannot open the caskfs store %s: %s", dir,
		       err == -ENOTEMPTY ? "it holds files that are not the "
					   "store's (named above)"
					 : strerror(-err));
	return err ? EXIT_STORE : EXIT_OK;
}

int fs_put(int argc, char **argv)
{
	struct put_ctx c = {.cred = {geteuid(), getegid(), 0},
			    .root = geteuid() == 0};
	char *path = NULL, *srcdir = NULL;
	const char *as = NULL, *name;
	struct stat st;
	uint64_t parent;
	bool quiet = false;
	int opt, dir = -1, rc = EXIT_STORE, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", put_opts, NULL)) != -1) {
		if (opt != 'q')
			return usage_out(put_usage, opt == 'h');
		quiet = true;
	}
	if (argc - optind != 3)
		return usage_out(put_usage, false);
	if (argv[optind + 2][0] != '/') {
		warnx_("fs put", "%s: PATH must be absolute", argv[optind + 2]);
		return EXIT_USAGE;
	}
	if (lstat(argv[optind + 1], &st)) {
		warnx_("fs put", "%s: %s", argv[optind + 1], strerror(errno));
		return EXIT_NOTFOUND;
	}
	rc = open_rw(argv[optind], &c.fs);
	if (rc)
		return rc;
	path = strdup(argv[optind + 2]);
	srcdir = strdup(argv[optind + 1]);
	err = path && srcdir
		      ? target(c.fs, path, argv[optind + 1], &parent, &as)
		      : -ENOMEM;
	if (err) {
		warnx_("fs put", "%s: %s", argv[optind + 2],
		       err == -ENOENT ? "its directory is not in the store"
				      : strerror(-err));
		rc = err == -ENOENT || err == -ENOTDIR ? EXIT_NOTFOUND
						       : EXIT_STORE;
		goto out;
	}
	progress_init(&c.p, "fs put", "files", quiet);
	if (c.p.on) {
		counting = &c.p;
		nftw(argv[optind + 1], count_one, 16, FTW_PHYS);
	}
	/* SRC is put as a name in the directory it is in. */
	err = path_push(&c.src, 0, argv[optind + 1]);
	if (!err)
		err = open_parent(srcdir, &dir, &name);
	if (err)
		warnx_("fs put", "%s: %s", srcdir, strerror(-err));
	else
		err = put_at(&c, parent, dir, name, as);
	progress_done(&c.p);
	rc = err ? EXIT_STORE : EXIT_OK;
out:
	if (dir >= 0)
		close(dir);
	err = fs_close(c.fs);
	if (err) {
		warnx_("fs put", "%s: closing the store: %s", argv[optind],
		       strerror(-err));
		rc = EXIT_STORE;
	}
	free((char *)as);
	free(path);
	free(srcdir);
	free(c.src.s);
	free(c.links);
	return rc;
}
