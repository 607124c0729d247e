/*
 * ops.c - the FUSE low-level handler table: each request becomes one fs_*
 * call (caskfs.h) and one reply. No filesystem logic lives here; errors
 * come back from fs/ as -errno and go to the kernel as they are.
 *
 * Kernel caching: every change to the store comes through this mount (the
 * store is locked to this process), so attributes and entries are cached
 * for a long time (struct daemon timeouts) and negative lookups too; the
 * kernel updates or invalidates its own cache for the changes it sends
 * (nlink on link/unlink/rename, the parent's attributes, the replaced
 * target of a rename), and inode numbers do not change when a directory
 * moves. With the writeback cache the kernel owns size and mtime of open
 * files and writes pages at explicit offsets, hence O_APPEND is dropped
 * and O_WRONLY becomes O_RDWR (the kernel may read to fill a page).
 *
 * Threads: handlers run on libfuse's worker threads concurrently; the fs
 * layer does its own locking. The only state here is a per-thread read
 * buffer (a pthread key, freed when a worker thread exits).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

_Static_assert(FS_SET_MODE == FUSE_SET_ATTR_MODE &&
		       FS_SET_UID == FUSE_SET_ATTR_UID &&
		       FS_SET_GID == FUSE_SET_ATTR_GID &&
		       FS_SET_SIZE == FUSE_SET_ATTR_SIZE &&
		       FS_SET_ATIME == FUSE_SET_ATTR_ATIME &&
		       FS_SET_MTIME == FUSE_SET_ATTR_MTIME &&
		       FS_SET_ATIME_NOW == FUSE_SET_ATTR_ATIME_NOW &&
		       FS_SET_MTIME_NOW == FUSE_SET_ATTR_MTIME_NOW &&
		       FS_SET_CTIME == FUSE_SET_ATTR_CTIME,
	       "fs_setattr mask bits equal FUSE_SET_ATTR_*");
_Static_assert(FS_ROOT_INO == FUSE_ROOT_ID, "root inode is FUSE's root");

#define SETATTR_MASK                                                          \
	(FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_SIZE | FS_SET_ATIME | \
	 FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW | FS_SET_CTIME)

static struct daemon *dm(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_file *fh_of(const struct fuse_file_info *fi)
{
	return fi ? (struct fs_file *)(uintptr_t)fi->fh : NULL;
}

static struct fs_dir *dh_of(const struct fuse_file_info *fi)
{
	return (struct fs_dir *)(uintptr_t)fi->fh;
}

static void reply_rc(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* The creator of a new node. The kernel has applied the umask to the mode
 * already (we do not ask for FUSE_CAP_DONT_MASK), hence umask 0. */
static struct fs_cred cred_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs_cred c = {.uid = ctx->uid, .gid = ctx->gid, .umask = 0};

	return c;
}

static void fill_entry(struct daemon *d, const struct stat *st,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->generation = 0; /* inode numbers are never reused */
	e->attr = *st;
	e->attr_timeout = d->attr_timeout;
	e->entry_timeout = d->entry_timeout;
}

/* Reply with an entry that carries one lookup reference; give the
 * reference back if the kernel no longer waits for the reply. */
static void reply_entry(fuse_req_t req, const struct stat *st)
{
	struct daemon *d = dm(req);
	struct fuse_entry_param e;

	fill_entry(d, st, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		fs_forget(d->fs, st->st_ino, 1);
}

/* Open flags as the fs layer should see them (see the header comment). */
static int open_flags(const struct daemon *d, int flags)
{
	if (d->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

/* Whether the caller of @p req is in group @p gid: its fsgid or one of the
 * supplementary groups on the "Groups:" line of /proc/TID/status (not
 * fuse_req_getgroups(): libfuse 3.14's reads past its buffer). If the
 * file cannot be read, the answer is no. */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], *line = NULL, *p, *end;
	size_t cap = 0;
	bool in = ctx->gid == gid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	f = in ? NULL : fopen(path, "re");
	while (f && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; !in; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			in = g == (unsigned long)gid;
		}
		break;
	}
	free(line);
	if (f)
		fclose(f);
	return in;
}

/* With FUSE_HANDLE_KILLPRIV_V2 (uring.c takes it whenever the kernel offers
 * it, so that a file's second write(2) sends no GETXATTR
 * security.capability) the kernel no longer clears set-user-ID and
 * set-group-ID itself: on the requests it marks (uring_kill_suidgid())
 * the daemon does, as the VFS would (setattr_should_drop_suidgid):
 * S_ISUID always; S_ISGID with group execute, and without it (the bit
 * then asks for mandatory locking) when the caller is neither in the
 * file's group nor privileged. Not on a CREATE, which always makes a new
 * file (fs_create()): the kernel marks one with O_TRUNC, but as on ext4 a
 * new file keeps the mode asked for. The kernel marks a write or truncate
 * only from a caller without CAP_FSETID, a chown (@p chown) from anyone:
 * there uid 0 counts as privileged. The kernel still removes security.capability
 * itself. It does not expect the mode to change under a WRITE (with the
 * writeback cache it would keep its cached mode, set-user-ID for exec
 * too), so its attributes are invalidated before the reply. */
static int kill_suidgid(fuse_req_t req, fuse_ino_t ino, bool chown)
{
	struct daemon *d = dm(req);
	struct stat st;
	mode_t mode;
	int rc;

	if (!uring_kill_suidgid())
		return 0;
	rc = fs_getattr(d->fs, ino, &st);
	if (rc)
		return rc;
	mode = st.st_mode & ~(mode_t)S_ISUID;
	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || (!(chown && fuse_req_ctx(req)->uid == 0) &&
				  !caller_in_group(req, st.st_gid))))
		mode &= ~(mode_t)S_ISGID;
	if (mode == st.st_mode)
		return 0;
	st.st_mode = mode;
	rc = fs_setattr(d->fs, ino, &st, FS_SET_MODE, NULL, &st);
	if (rc == 0) /* attributes only (offset < 0): takes no kernel lock */
		fuse_lowlevel_notify_inval_inode(d->se, ino, -1, 0);
	return rc;
}

/* ------------------------------------------------------------ session */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct daemon *d = userdata;

	if (d->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	/* Symlinks never change: let the kernel keep their targets. */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* The kernel checks permissions (default_permissions); suid and
	 * sgid: kill_suidgid() (killpriv v1 stays off); no ACLs;
	 * fs_read/fs_write work on memory, so splice would only add a
	 * copy. */
	conn->want &= ~(FUSE_CAP_POSIX_ACL | FUSE_CAP_HANDLE_KILLPRIV |
			FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_SPLICE_MOVE | FUSE_CAP_EXPORT_SUPPORT);
	conn->max_write = DAEMON_MAX_WRITE;
	conn->time_gran = 1;
}

/* ------------------------------------------------------------ names */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct daemon *d = dm(req);
	struct stat st;
	int rc = fs_lookup(d->fs, parent, name, &st);

	if (rc == 0) {
		reply_entry(req, &st);
	} else if (rc == -ENOENT && d->negative_timeout > 0) {
		/* ino 0: a negative entry the kernel may cache. */
		struct fuse_entry_param e = {.entry_timeout =
						     d->negative_timeout};
		fuse_reply_entry(req, &e);
	} else {
		reply_rc(req, rc);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(dm(req)->fs, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs *fs = dm(req)->fs;

	for (size_t i = 0; i < count; i++)
		fs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct daemon *d = dm(req);
	struct stat st;
	int rc;

	(void)fi;
	rc = fs_getattr(d->fs, ino, &st);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, d->attr_timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct daemon *d = dm(req);
	unsigned mask = (unsigned)to_set & SETATTR_MASK;
	struct stat st;
	int rc = kill_suidgid(req, ino,
			      to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID));

	if (rc == 0 && mask)
		rc = fs_setattr(d->fs, ino, attr, mask, fh_of(fi), &st);
	else if (rc == 0)
		rc = fs_getattr(d->fs, ino, &st);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, d->attr_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[FS_SYMLINK_MAX + 1];
	ssize_t n = fs_readlink(dm(req)->fs, ino, buf, sizeof(buf));

	if (n < 0)
		reply_rc(req, (int)n);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_cred c = cred_of(req);
	struct stat st;
	int rc = fs_mknod(dm(req)->fs, parent, name, mode, rdev, &c, &st);

	if (rc)
		reply_rc(req, rc);
	else
		reply_entry(req, &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_cred c = cred_of(req);
	struct stat st;
	int rc = fs_mkdir(dm(req)->fs, parent, name, mode, &c, &st);

	if (rc)
		reply_rc(req, rc);
	else
		reply_entry(req, &st);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_cred c = cred_of(req);
	struct stat st;
	int rc = fs_symlink(dm(req)->fs, parent, name, link, &c, &st);

	if (rc)
		reply_rc(req, rc);
	else
		reply_entry(req, &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct stat st;
	int rc = fs_link(dm(req)->fs, ino, newparent, newname, &st);

	if (rc)
		reply_rc(req, rc);
	else
		reply_entry(req, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_rc(req, fs_unlink(dm(req)->fs, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_rc(req, fs_rmdir(dm(req)->fs, parent, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	reply_rc(req, fs_rename(dm(req)->fs, parent, name, newparent, newname,
				flags));
}

/* ------------------------------------------------------------ files */

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct daemon *d = dm(req);
	struct fs_cred c = cred_of(req);
	struct fuse_entry_param e;
	struct fs_file *fh;
	struct stat st;
	int rc = fs_create(d->fs, parent, name, mode, &c,
			   open_flags(d, fi->flags), &st, &fh);

	if (rc) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	fi->keep_cache = 1;
	fill_entry(d, &st, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		fs_release(d->fs, fh);
		fs_forget(d->fs, st.st_ino, 1);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct daemon *d = dm(req);
	struct fs_file *fh;
	int rc = fs_open(d->fs, ino, open_flags(d, fi->flags), &fh);

	if (rc == 0 && (rc = kill_suidgid(req, ino, false)) != 0)
		fs_release(d->fs, fh);
	if (rc) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	/* Nothing changes a file behind the kernel's back: keep its pages
	 * from one open to the next. */
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_release(d->fs, fh);
}

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

struct tbuf {
	size_t cap;
	char data[];
};

static void buf_key_init(void)
{
	pthread_key_create(&buf_key, free);
}

/* A buffer of at least @size bytes owned by the calling thread. */
static void *thread_buf(size_t size)
{
	struct tbuf *b;

	pthread_once(&buf_once, buf_key_init);
	b = pthread_getspecific(buf_key);
	if (b && b->cap >= size)
		return b->data;
	size_t cap = size > DAEMON_MAX_WRITE ? size : DAEMON_MAX_WRITE;
	struct tbuf *nb = malloc(sizeof(*nb) + cap);
	if (!nb)
		return NULL;
	nb->cap = cap;
	free(b);
	pthread_setspecific(buf_key, nb);
	return nb->data;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	void *buf = thread_buf(size);
	ssize_t n;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_read(dm(req)->fs, fh_of(fi), buf, size, (uint64_t)off);
	if (n < 0)
		reply_rc(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* A write of the kernel's page cache (fi->writepage: the writeback cache,
 * or a shared writable mapping) fails differently from a write(2) whose
 * caller waits for it: see fs_writeback(). With the writeback cache the
 * kernel keeps its own size of a file it caches (a server cannot lower
 * it); the daemon's holds once the kernel has dropped the inode. */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = dm(req)->fs;
	ssize_t n = kill_suidgid(req, ino, false);

	if (n == 0)
		n = fi->writepage
			    ? fs_writeback(fs, fh_of(fi), buf, size,
					   (uint64_t)off)
			    : fs_write(fs, fh_of(fi), buf, size, (uint64_t)off);
	if (n < 0)
		reply_rc(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, fs_flush(dm(req)->fs, fh_of(fi)));
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	int rc = fs_release(dm(req)->fs, fh_of(fi));

	(void)ino;
	/* close(2) has returned long ago; the kernel ignores this error. */
	if (rc)
		log_msg(LOG_WARNING, "release of inode %llu: %s",
			(unsigned long long)ino, strerror(-rc));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, fs_fsync(dm(req)->fs, fh_of(fi), datasync != 0));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	(void)ino;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	reply_rc(req, fs_fallocate(dm(req)->fs, fh_of(fi), mode, (uint64_t)off,
				   (uint64_t)len));
}

/*
 * SEEK_DATA/SEEK_HOLE. With the writeback cache the kernel forwards them
 * without writing dirty pages back first, so the daemon would answer from
 * a size and chunks that lag behind the file (ENXIO at offset 0 of a file
 * just written). ENOSYS makes the kernel answer from its own size for the
 * rest of the mount: all data, one hole at the end, as POSIX allows.
 */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t r;

	(void)ino;
	if (dm(req)->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = fs_lseek(dm(req)->fs, fh_of(fi), off, whence);
	if (r < 0)
		reply_rc(req, (int)r);
	else
		fuse_reply_lseek(req, r);
}

/* ------------------------------------------------------------ directories */

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct daemon *d = dm(req);
	struct fs_dir *dh;
	int rc = fs_opendir(d->fs, ino, &dh);

	if (rc) {
		reply_rc(req, rc);
		return;
	}
	/* The kernel may keep a listing and serve the next ones itself: it
	 * drops it when the directory changes, and nothing changes the store
	 * behind its back. It holds one listing only since no two listings
	 * share a cookie (fs/readdir.c). */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fi->fh = (uintptr_t)dh;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_releasedir(d->fs, dh);
}

struct dirbuf {
	fuse_req_t req;
	struct daemon *d;
	char *buf;
	size_t size;
	size_t pos;
	bool plus;
};

static bool is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int dir_fill(void *ctx, const char *name, const struct stat *st,
		    uint64_t next_off)
{
	struct dirbuf *db = ctx;
	size_t room = db->size - db->pos;
	size_t n;

	if (db->plus) {
		struct fuse_entry_param e;

		fill_entry(db->d, st, &e);
		/* "." and ".." carry no lookup reference: ino 0 tells the
		 * kernel not to make an entry of them. */
		if (is_dot(name))
			e.ino = 0;
		n = fuse_add_direntry_plus(db->req, db->buf + db->pos, room,
					   name, &e, (off_t)next_off);
	} else {
		n = fuse_add_direntry(db->req, db->buf + db->pos, room, name,
				      st, (off_t)next_off);
	}
	if (n > room)
		return 1;
	db->pos += n;
	return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dirbuf db = {
		.req = req, .d = dm(req), .size = size, .plus = plus};
	int rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	db.buf = malloc(size ? size : 1);
	if (!db.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_readdir(db.d->fs, dh_of(fi), (uint64_t)off, plus, dir_fill,
			&db);
	/* Entries already packed (with their lookup references in plus
	 * mode) are sent even if a later one failed. */
	if (rc && db.pos == 0)
		reply_rc(req, rc);
	else
		fuse_reply_buf(req, db.buf, db.pos);
	free(db.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	fs_releasedir(dm(req)->fs, dh_of(fi));
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	reply_rc(req, fs_sync(dm(req)->fs));
}

/* ------------------------------------------------------------ whole fs */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = fs_statfs(dm(req)->fs, &sv);

	(void)ino;
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* ------------------------------------------------------------ xattrs */

/* Field @p name ("Tgid", "PPid") of /proc/@p pid/status; -1 if unknown.
 * With @p count, the number of its values instead (NSpid: one per pid
 * namespace from ours down to the process's). */
static int proc_status(int pid, const char *name, bool count)
{
	char path[64], line[256];
	size_t len = strlen(name);
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f)) {
		char *p = line + len + 1, *end;

		if (strncmp(line, name, len) || line[len] != ':')
			continue;
		for (v = 0; count; v++) {
			strtol(p, &end, 10);
			if (end == p)
				break;
			p = end;
		}
		if (!count)
			v = (int)strtol(p, NULL, 10);
	}
	fclose(f);
	return v;
}

/* Who sends a request: FUSE gives the thread, in our pid namespace (0
 * when it is not in it), and a window belongs to a process. */
static void caller_of(fuse_req_t req, struct fs_caller *c)
{
	int pid = (int)fuse_req_ctx(req)->pid;

	*c = (struct fs_caller){.foreign = pid <= 0};
	if (pid <= 0)
		return;
	c->foreign = proc_status(pid, "NSpid", true) > 1;
	pid = proc_status(pid, "Tgid", false);
	while (pid > 1 && c->n < FS_CALLER_MAX) {
		c->pid[c->n++] = pid;
		pid = proc_status(pid, "PPid", false);
	}
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs_caller c;

	/* A window may be closed by the process that holds it. */
	if (ino == FS_ROOT_INO && !strcmp(name, FS_XATTR_BACKUP)) {
		caller_of(req, &c);
		reply_rc(req, fs_backup(dm(req)->fs, value, size, &c));
	} else
		reply_rc(req, fs_setxattr(dm(req)->fs, ino, name, value, size,
					  flags));
}

/* Reply to getxattr/listxattr: the length when asked with size 0, the
 * bytes otherwise. */
static void reply_xattr(fuse_req_t req, ssize_t n, const void *buf, size_t size)
{
	if (n < 0)
		reply_rc(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* user.caskfs.stats: the store's figures (fs/), then the transport's. */
static void reply_stats(fuse_req_t req, struct fs *fs, size_t size)
{
	char *store = NULL, *transport = NULL, *text = NULL;
	int rc = fs_stats_text(fs, &store);

	if (!rc)
		rc = uring_stats_text(&transport);
	if (!rc && asprintf(&text, "%s%s", store, transport) < 0) {
		text = NULL;
		rc = -ENOMEM;
	}
	if (rc)
		reply_rc(req, rc);
	else if (size && strlen(text) > size)
		fuse_reply_err(req, ERANGE);
	else
		reply_xattr(req, (ssize_t)strlen(text), text, size);
	free(store);
	free(transport);
	free(text);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	void *buf;
	ssize_t n;

	if (ino == FS_ROOT_INO && strcmp(name, FS_XATTR_STATS) == 0) {
		reply_stats(req, dm(req)->fs, size);
		return;
	}
	buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_getxattr(dm(req)->fs, ino, name, buf, size);
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_listxattr(dm(req)->fs, ino, buf, size);
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_rc(req, fs_removexattr(dm(req)->fs, ino, name));
}

const struct fuse_lowlevel_ops daemon_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
};
