/*
 * cmd_fs.c - cask fs ls / cat / get: the caskfs view of an unmounted store
 * or of a backup copy, through fs/caskfs.h opened read-only (so it also
 * works beside a running daemon, seeing the store as of the open). Lists a
 * directory as text or JSON; extracts a file or a whole tree of any depth
 * with modes, times, extended attributes, and owners and device nodes when
 * run as root; hard links come out as separate copies. get --keep-going
 * opens the store as fs_open_salvage() does (fs/fsck.h), so that it also
 * restores from a copy that does not mount. cask fs put (the other way)
 * is cmd_fsput.c's.
 */
#include "cli.h"
#include "escape.h"
#include "progress.h"

#include <caskfs.h>
#include <errno.h>
#include <fcntl.h>
#include <fsck.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK	(1u << 20)
#define XATTR_VALUE_MAX (64u * 1024) /* caskfs.h: values up to 64 KiB */

static const char fs_usage[] =
	"usage: cask fs ls [--json] DIR [PATH]\n"
	"       cask fs cat DIR PATH\n"
	"       cask fs get [--keep-going] [-q] DIR PATH DEST\n"
	"       cask fs put [-q] DIR SRC PATH\n"
	"Read the caskfs filesystem kept in the store in DIR (unmounted, a "
	"backup\ncopy, or mounted: the store is opened read-only) by absolute "
	"PATH, or\n(put) write into it.\n"
	"  ls   one line per entry: mode links owner group size mtime name\n"
	"       (owners by name where this system knows them; names that are "
	"valid\n       UTF-8 as they are, other bytes and controls as \\xNN); "
	"with --json one\n       JSON object (cask(1) gives its members)\n"
	"  cat  write the file's content to stdout\n"
	"  get  copy a file, symlink or whole directory tree to DEST (into "
	"DEST\n       when it is an existing directory), with modes, times "
	"and extended\n       attributes, and owners and device nodes when "
	"run as root. It stops\n       at the first file it cannot restore; "
	"with --keep-going it restores\n       every file it can read and "
	"lists the others on stdout\n       (\"not restored: PATH: REASON\") "
	"and exits 1 (cask fsck DIR says what\n       is damaged); it reads "
	"the store once more first, as cask fsck does,\n       so that a "
	"copy that does not mount (superblock or directories lost)\n       is "
	"restored too\n"
	"  put  copy the local file, symlink, device or directory tree SRC "
	"to PATH\n       in the store (into PATH when it is a directory), "
	"with modes, times,\n       extended attributes and hard links, and "
	"owners when run as root;\n       needs the store unmounted; existing "
	"files are not replaced\n"
	"  -q, --quiet  (get, put) no progress line (there is none when "
	"stderr is\n               not a terminal)\n"
	"Exit: 0; 1 no such path, or files not restored; 2 usage (DEST's "
	"directory\nmissing included); 3 store error (not a caskfs store, in "
	"use, I/O).\n";

static int fs_exit(const char *cmd, const char *path, int err)
{
	warnx_(cmd, "%s: %s", path,
	       err == -ENOENT ? "no such file or directory in the store"
			      : strerror(-err));
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
	fo.log_arg = (void *)"fs";
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

/* The last answer about an owner's name: a listing asks about the same
 * few owners again and again. */
struct name_cache {
	bool valid, known;
	unsigned id;
	char name[256];
};

/* The name of user (or, with @p group, group) @p id, or NULL when this
 * system has none. */
static const char *owner_name(struct name_cache *c, unsigned id, bool group)
{
	const char *name = NULL;
	struct passwd *pw;
	struct group *gr;

	if (c->valid && c->id == id)
		return c->known ? c->name : NULL;
	if (group && (gr = getgrgid(id)))
		name = gr->gr_name;
	else if (!group && (pw = getpwuid(id)))
		name = pw->pw_name;
	c->known = name && snprintf(c->name, sizeof(c->name), "%s", name) <
				   (int)sizeof(c->name);
	c->id = id;
	c->valid = true;
	return c->known ? c->name : NULL;
}

static const char *user_name(uid_t uid)
{
	static struct name_cache users;

	return owner_name(&users, uid, false);
}

static const char *group_name(gid_t gid)
{
	static struct name_cache groups;

	return owner_name(&groups, gid, true);
}

static const char *type_name(mode_t m)
{
	return S_ISDIR(m)    ? "directory"
	       : S_ISLNK(m)  ? "symlink"
	       : S_ISFIFO(m) ? "fifo"
	       : S_ISSOCK(m) ? "socket"
	       : S_ISCHR(m)  ? "char"
	       : S_ISBLK(m)  ? "block"
			     : "file";
}

/* The target of symlink @p st in @p buf (FS_SYMLINK_MAX + 1 bytes), or
 * NULL if it is none or cannot be read. */
static const char *link_target(struct fs *fs, const struct stat *st, char *buf)
{
	if (!S_ISLNK(st->st_mode) ||
	    fs_readlink(fs, st->st_ino, buf, FS_SYMLINK_MAX + 1) < 0)
		return NULL;
	return buf;
}

static void print_entry(struct fs *fs, const char *name, const struct stat *st)
{
	char mode[11], when[32], target[FS_SYMLINK_MAX + 1], u[24], g[24];
	char size[32];
	const char *user = user_name(st->st_uid),
		   *group = group_name(st->st_gid);
	const char *t = link_target(fs, st, target);
	struct tm tm;

	mode_string(st->st_mode, mode);
	localtime_r(&st->st_mtim.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	if (!user)
		snprintf(u, sizeof(u), "%ju", (uintmax_t)st->st_uid);
	if (!group)
		snprintf(g, sizeof(g), "%ju", (uintmax_t)st->st_gid);
	/* A device's numbers where the size goes, as ls -l shows them. */
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		snprintf(size, sizeof(size), "%u, %u", major(st->st_rdev),
			 minor(st->st_rdev));
	else
		snprintf(size, sizeof(size), "%jd", (intmax_t)st->st_size);
	printf("%s %3ju %-8s %-8s %12s %s ", mode, (uintmax_t)st->st_nlink,
	       user ? user : u, group ? group : g, size, when);
	esc_display_utf8(stdout, name, strlen(name));
	if (t) {
		fputs(" -> ", stdout);
		esc_display_utf8(stdout, t, strlen(t));
	}
	putchar('\n');
}

/* An entry as a member of the "entries" array of fs ls --json. */
static void json_entry(struct fs *fs, const char *name, const struct stat *st,
		       bool first)
{
	char target[FS_SYMLINK_MAX + 1];
	const char *user = user_name(st->st_uid),
		   *group = group_name(st->st_gid);
	const char *t = link_target(fs, st, target);

	fputs(first ? "{" : ",{", stdout);
	json_name(stdout, "name", name, strlen(name));
	printf(",\"type\":\"%s\",\"mode\":%u,\"nlink\":%ju,\"uid\":%ju,"
	       "\"gid\":%ju,",
	       type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
	       (uintmax_t)st->st_nlink, (uintmax_t)st->st_uid,
	       (uintmax_t)st->st_gid);
	if (user)
		json_name(stdout, "user", user, strlen(user));
	else
		fputs("\"user\":null", stdout);
	putchar(',');
	if (group)
		json_name(stdout, "group", group, strlen(group));
	else
		fputs("\"group\":null", stdout);
	printf(",\"size\":%jd,\"mtime\":%jd,\"mtime_nsec\":%ld",
	       (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
	       st->st_mtim.tv_nsec);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		printf(",\"rdev_major\":%u,\"rdev_minor\":%u",
		       major(st->st_rdev), minor(st->st_rdev));
	if (t) {
		putchar(',');
		json_name(stdout, "target", t, strlen(t));
	}
	putchar('}');
}

static int do_ls(struct fs *fs, const char *path, bool json)
{
	struct entries e = {0};
	struct stat st;
	uint64_t ino;
	size_t shown = 0;
	int err = resolve(fs, path, &ino, &st);

	if (!err && S_ISDIR(st.st_mode))
		err = list_dir(fs, ino, &e);
	if (err) {
		entries_free(&e);
		return fs_exit("fs ls", path, err);
	}
	if (json) {
		putchar('{');
		json_name(stdout, "path", path, strlen(path));
		fputs(",\"entries\":[", stdout);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (json)
			json_entry(fs, path, &st, true);
		else
			print_entry(fs, path, &st);
	}
	for (size_t i = 0; i < e.n; i++) {
		if (fs_lookup(fs, ino, e.v[i].name, &st))
			continue; /* removed since the listing */
		if (json)
			json_entry(fs, e.v[i].name, &st, shown == 0);
		else
			print_entry(fs, e.v[i].name, &st);
		shown++;
	}
	entries_free(&e);
	if (json)
		puts("]}");
	return EXIT_OK;
}

/* Copy the content of regular file @p ino to descriptor @p out, counting
 * its bytes in @p p. */
static int copy_out(struct fs *fs, uint64_t ino, int out, struct progress *p)
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
		progress_add(p, (uint64_t)n, 0);
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
	struct progress none;
	struct stat st;
	uint64_t ino;
	int err = resolve(fs, path, &ino, &st);

	progress_init(&none, "fs cat", NULL, true); /* cat streams: no line */
	if (!err && S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!err && !S_ISREG(st.st_mode))
		err = -EINVAL;
	if (!err) {
		fflush(stdout);
		err = copy_out(fs, ino, 1, &none);
	}
	if (err == -EPIPE)
		return EXIT_OK;
	return err ? fs_exit("fs cat", path, err) : EXIT_OK;
}

/*
 * cask fs get restores a tree of any depth (caskfs paths reach 65534
 * bytes, the kernel's calls take 4095): every file is made relative to
 * the descriptor of its directory, and the walk holds one descriptor and
 * no recursion, going back up by "..", which the walk made itself.
 */

/* How cask fs get goes on after a file it cannot restore, where it is
 * (the path in the store of what it restores, for messages), and its
 * progress line. */
struct get_ctx {
	bool keep_going; /* list it and go on with the others */
	uint64_t not_restored;
	struct path_buf src;
	struct progress p;
};

/* The node at g->src could not be restored: the end of it, or (keep
 * going) one line of the list of what was not. @return the error to pass
 * on. */
static int not_restored(struct get_ctx *g, int err)
{
	progress_clear();
	fprintf(stderr, "%s fs get: ", progname);
	esc_display(stderr, g->src.s, g->src.len);
	fprintf(stderr, ": %s\n", strerror(-err));
	if (!g->keep_going)
		return err;
	g->not_restored++;
	fputs("not restored: ", stdout);
	esc_display(stdout, g->src.s, g->src.len);
	printf(": %s\n", strerror(-err));
	return 0;
}

/* Set the extended attribute @p xname of @p name in @p dir (of @p dir
 * itself when @p name is NULL), without following a symlink: through
 * /proc/self/fd, there being no setxattr relative to a descriptor.
 * @return 0 or -errno. */
static int set_xattr(int dir, const char *name, const char *xname,
		     const void *val, size_t len)
{
	char path[64 + FS_NAME_MAX];

	if (!name)
		return fsetxattr(dir, xname, val, len, 0) ? -errno : 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir, name);
	return lsetxattr(path, xname, val, len, 0) ? -errno : 0;
}

/* Copy the extended attributes of @p ino to @p name in @p dir (@p dir
 * itself when @p name is NULL). @return 0 or -errno. */
static int copy_xattrs(struct fs *fs, uint64_t ino, int dir, const char *name)
{
	ssize_t len = fs_listxattr(fs, ino, NULL, 0), vlen;
	char *names = len > 0 ? malloc((size_t)len) : NULL;
	char *val = NULL;
	int err = 0;

	if (len <= 0)
		return (int)len;
	if (!names || !(val = malloc(XATTR_VALUE_MAX)))
		err = -ENOMEM;
	if (!err && (len = fs_listxattr(fs, ino, names, (size_t)len)) < 0)
		err = (int)len;
	for (ssize_t i = 0; !err && i < len;
	     i += (ssize_t)strlen(names + i) + 1) {
		vlen = fs_getxattr(fs, ino, names + i, val, XATTR_VALUE_MAX);
		err = vlen < 0 ? (int)vlen
			       : set_xattr(dir, name, names + i, val,
					   (size_t)vlen);
	}
	free(val);
	free(names);
	return err;
}

/* Owners (as root), extended attributes, mode and times of @p name in
 * directory @p dir, or of the directory @p dir itself when @p name is
 * NULL, from @p st; in that order, as a change of owner clears set-id
 * bits and file capabilities (security.capability). */
static int set_attrs(struct fs *fs, int dir, const char *name,
		     const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	mode_t mode = st->st_mode & 07777;
	uid_t u = st->st_uid;
	gid_t gr = st->st_gid;
	int err;

	if (geteuid() == 0 &&
	    (name ? fchownat(dir, name, u, gr, AT_SYMLINK_NOFOLLOW)
		  : fchown(dir, u, gr)) &&
	    errno != EPERM)
		return -errno;
	err = copy_xattrs(fs, st->st_ino, dir, name);
	if (err)
		return err;
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
	bool dev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode);
	int fd, err = 0;

	progress_add(&g->p, 0, 1);
	if (S_ISREG(st->st_mode)) {
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return not_restored(g, -errno);
		err = copy_out(fs, st->st_ino, fd, &g->p);
		if (close(fd) && !err)
			err = -errno;
		if (err)
			unlinkat(dir, name, 0); /* no part passes for all */
	} else if (S_ISLNK(st->st_mode)) {
		err = put_symlink(fs, st->st_ino, dir, name);
	} else if (dev && geteuid() != 0) {
		progress_clear();
		fprintf(stderr, "%s fs get: ", progname);
		esc_display(stderr, g->src.s, g->src.len);
		fputs(": device node not restored (that needs root)\n", stderr);
		return 0;
	} else {
		/* A FIFO, a socket, or a device node as root. */
		err = mknodat(dir, name, (st->st_mode & S_IFMT) | 0600,
			      dev ? st->st_rdev : 0)
			      ? -errno
			      : 0;
	}
	if (!err)
		err = set_attrs(fs, dir, name, st);
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
	*top = (struct level){.st = *st, .len = g->src.len};
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
static int level_pop(struct fs *fs, struct get_ctx *g, struct levels *l,
		     int *fd)
{
	struct level *top = &l->v[--l->depth];
	int err, up;

	g->src.len = top->len;
	err = set_attrs(fs, *fd, NULL, &top->st);
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
			err = level_pop(fs, g, &l, &fd);
			continue;
		}
		name = top->e.v[top->next++].name;
		err = path_push(&g->src, top->len, name);
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

/* The bytes and the files (all but directories) of the tree at @p st,
 * for the progress line: a walk with a stack of directories to list, no
 * descriptor and no recursion. What cannot be read counts nothing (the
 * restore names it). */
static void count_tree(struct fs *fs, const struct stat *st, uint64_t *bytes,
		       uint64_t *files)
{
	uint64_t *stack = NULL, *v;
	size_t n = 0, cap = 0;
	struct entries e;
	struct stat cst;

	*bytes = *files = 0;
	if (!S_ISDIR(st->st_mode)) {
		*bytes = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
		*files = 1;
		return;
	}
	for (uint64_t ino = st->st_ino;; ino = stack[--n]) {
		if (list_dir(fs, ino, &e) == 0)
			for (size_t i = 0; i < e.n; i++) {
				if (fs_lookup(fs, ino, e.v[i].name, &cst))
					continue;
				if (!S_ISDIR(cst.st_mode)) {
					*bytes +=
						S_ISREG(cst.st_mode)
							? (uint64_t)cst.st_size
							: 0;
					++*files;
					continue;
				}
				if (n == cap) {
					cap = cap ? 2 * cap : 64;
					v = realloc(stack, cap * sizeof(*v));
					if (!v)
						break;
					stack = v;
				}
				stack[n++] = cst.st_ino;
			}
		entries_free(&e);
		if (n == 0)
			break;
	}
	free(stack);
}

static int do_get(struct fs *fs, struct get_ctx *g, const char *path,
		  const char *dest)
{
	struct stat st, ds;
	const char *name;
	uint64_t ino, bytes, files;
	char *d = NULL;
	int dir = -1, rc = EXIT_STORE, err = resolve(fs, path, &ino, &st);

	if (err)
		return fs_exit("fs get", path, err);
	if (stat(dest, &ds) == 0 && S_ISDIR(ds.st_mode) && ino != FS_ROOT_INO) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		d = malloc(strlen(dest) + strlen(base) + 2);
		if (d)
			sprintf(d, "%s/%s", dest, base);
	} else {
		d = strdup(dest);
	}
	err = d ? path_push(&g->src, 0, path) : -ENOMEM;
	if (err) {
		warnx_("fs get", "%s", strerror(-err));
		goto out;
	}
	err = open_parent(d, &dir, &name);
	if (err) {
		/* d is now the directory DEST was to be made in. */
		warnx_("fs get", "%s: %s", d,
		       err == -ENOENT || err == -ENOTDIR
			       ? "no such directory to restore into (DEST "
				 "must be in an existing directory)"
			       : strerror(-err));
		rc = err == -ENOENT || err == -ENOTDIR ? EXIT_USAGE
						       : EXIT_STORE;
		goto out;
	}
	if (g->p.on) {
		count_tree(fs, &st, &bytes, &files);
		progress_total(&g->p, bytes, files);
	}
	err = S_ISDIR(st.st_mode) ? put_tree(fs, g, &st, dir, name)
				  : put_node(fs, g, &st, dir, name);
	progress_done(&g->p);
	close(dir);
	if (!err)
		rc = g->not_restored ? EXIT_NOTFOUND : EXIT_OK;
out:
	free(d);
	free(g->src.s);
	return rc;
}

static const struct option fs_opts[] = {
	{"keep-going", no_argument, NULL, 'k'},
	{"quiet", no_argument, NULL, 'q'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_fs(int argc, char **argv)
{
	struct get_ctx g = {0};
	bool quiet = false, json = false;
	struct fs *fs;
	const char *sub;
	int c, n, rc;

	if (argc < 2)
		return usage_out(fs_usage, false);
	sub = argv[1];
	if (!strcmp(sub, "put"))
		return fs_put(argc - 1, argv + 1);
	if (want_help(argc, argv))
		return usage_out(fs_usage, true);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "kqjh", fs_opts, NULL)) !=
	       -1) {
		if (c == 'k' && !strcmp(sub, "get"))
			g.keep_going = true;
		else if (c == 'q' && !strcmp(sub, "get"))
			quiet = true;
		else if (c == 'j' && !strcmp(sub, "ls"))
			json = true;
		else
			return usage_out(fs_usage, c == 'h');
	}
	argv += optind + 1; /* DIR [PATH [DEST]] */
	n = argc - optind - 1;
	if (!((!strcmp(sub, "ls") && (n == 1 || n == 2)) ||
	      (!strcmp(sub, "cat") && n == 2) ||
	      (!strcmp(sub, "get") && n == 3)))
		return usage_out(fs_usage, false);
	if (n > 1 && argv[1][0] != '/') {
		warnx_("fs", "%s: PATH must be absolute", argv[1]);
		return EXIT_USAGE;
	}
	rc = open_fs(argv[0], g.keep_going, &fs);
	if (rc)
		return rc;
	if (!strcmp(sub, "ls")) {
		rc = do_ls(fs, n == 2 ? argv[1] : "/", json);
	} else if (!strcmp(sub, "cat")) {
		rc = do_cat(fs, argv[1]);
	} else {
		progress_init(&g.p, "fs get", "files", quiet);
		rc = do_get(fs, &g, argv[1], argv[2]);
	}
	fs_close(fs);
	return rc;
}
