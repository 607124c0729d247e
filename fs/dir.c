/*
 * dir.c - creating and removing names: mknod, mkdir, symlink, link,
 * unlink, rmdir. Each operation is one transaction: the dentry, the inode
 * record and the parent's record (times, and nlink for subdirectories)
 * commit together, or nothing changes, in memory or in the store.
 *
 * Ownership of new nodes: the caller's uid, and the caller's gid unless the
 * parent is setgid (then the parent's gid, and new directories inherit
 * S_ISGID). Every function here takes fs->lock for writing.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dir_touch(struct txn *tx, struct fs_inode *dir, int dlink)
{
	txn_hold(tx, dir);
	dir->a.nlink = (uint32_t)((int64_t)dir->a.nlink + dlink);
	dir->a.mtime = dir->a.ctime = fs_now();
	return store_put_inode(tx, dir);
}

int dir_drop_link(struct txn *tx, struct fs_inode *in)
{
	uint8_t key[INO_KEY_LEN];
	int err;

	txn_hold(tx, in);
	in->a.ctime = fs_now();
	if ((in->a.mode & S_IFMT) == S_IFDIR)
		in->a.nlink = 0;
	else if (in->a.nlink)
		in->a.nlink--;
	if (in->a.nlink == 0 && in->nopen == 0) {
		in->cdirty = in->adirty = false; /* nothing left to write */
		return store_delete_inode(tx, in->ino);
	}
	if (in->a.nlink == 0) {
		/* Open: keep the data until the last release. */
		ino_key(key, KEY_ORPHAN, in->ino);
		err = txn_put(tx, key, sizeof(key), "", 0);
		if (err)
			return err;
	}
	return store_put_inode(tx, in);
}

void dir_link_dropped(struct fs *fs, struct fs_inode *in)
{
	if (in->a.nlink || in->nopen)
		return;
	in->removed = true;
	fs->inodes--;
	itable_drop_unused(fs, in);
}

int dir_has_entries(struct fs *fs, const struct fs_path *path)
{
	struct fs_path prefix;
	struct gw_scan s;
	size_t klen, len = path->len;
	int err;

	path_init(&prefix);
	err = path_reserve(&prefix, len + 1);
	if (err)
		return err;
	memcpy(prefix.s, path->s, len);
	prefix.s[len] = '/';
	for (err = gw_scan_open(fs, &s, prefix.s, len + 1, NULL, 0); err > 0;
	     err = gw_scan_next(&s)) {
		gw_scan_key(&s, &klen);
		if (klen > len + 1) /* the root's own key "/" is no entry */
			break;
	}
	gw_scan_close(&s);
	path_free(&prefix);
	return err;
}

static struct fs_inode *new_inode(const struct fs_inode *dir, mode_t mode,
				  dev_t rdev, const struct fs_cred *cred)
{
	struct fs_inode *in = fsmem_calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->a.mode = (mode & S_IFMT) | (mode & 07777 & ~cred->umask);
	in->a.uid = cred->uid;
	in->a.gid = cred->gid;
	if (dir->a.mode & S_ISGID) {
		in->a.gid = dir->a.gid;
		if (S_ISDIR(mode))
			in->a.mode |= S_ISGID;
	}
	in->a.nlink = S_ISDIR(mode) ? 2 : 1;
	in->a.rdev = rdev;
	in->a.atime = in->a.mtime = in->a.ctime = fs_now();
	if (S_ISREG(mode) || S_ISLNK(mode))
		in->a.flags = INODE_F_INLINE;
	return in;
}

int dir_create(struct txn *tx, uint64_t parent, const char *name, mode_t mode,
	       dev_t rdev, const struct fs_cred *cred, struct fs_inode **out)
{
	struct fs *fs = tx->fs;
	struct fs_inode *in = NULL;
	struct fs_path path;
	uint64_t ino;
	uint32_t type;
	int err;

	*out = NULL;
	path_init(&path);
	err = namei_child(fs, parent, name, &path, &ino, &type);
	if (err != -ENOENT) {
		path_free(&path);
		return err ? err : -EEXIST;
	}
	in = new_inode(itable_find(fs, parent), mode, rdev, cred);
	err = in ? super_alloc_ino(fs, &in->ino) : -ENOMEM;
	if (!err && S_ISDIR(mode)) {
		in->parent = parent;
		in->name = fsmem_strdup(name);
		err = in->name ? 0 : -ENOMEM;
	}
	if (!err)
		err = namei_put(tx, path.s, path.len, in->ino, in->a.mode);
	path_free(&path);
	if (!err)
		err = dir_touch(tx, itable_find(fs, parent),
				S_ISDIR(mode) ? 1 : 0);
	if (err) {
		inode_free(in);
		return err;
	}
	*out = in;
	return 0;
}

struct fs_inode *dir_created(struct fs *fs, struct fs_inode *in,
			     uint64_t nlookup)
{
	fs->inodes++;
	return itable_insert(fs, in, nlookup);
}

int dir_make(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     dev_t rdev, const char *target, const struct fs_cred *cred,
	     struct fs_inode **out)
{
	struct fs_inode *in;
	struct txn tx;
	int err;

	*out = NULL;
	txn_begin(fs, &tx);
	err = dir_create(&tx, parent, name, mode, rdev, cred, &in);
	if (!err && target) {
		/* A symlink's target is its inline content. */
		in->a.size = strlen(target);
		in->buf.p = (char *)target;
	}
	if (!err)
		err = store_put_inode(&tx, in);
	if (in && target)
		in->buf.p = NULL;
	err = txn_finish(&tx, err);
	if (err) {
		inode_free(in);
		return err;
	}
	*out = dir_created(fs, in, 1);
	return 0;
}

static int create_stat(struct fs *fs, uint64_t parent, const char *name,
		       mode_t mode, dev_t rdev, const char *target,
		       const struct fs_cred *cred, struct stat *st)
{
	struct fs_inode *in;
	uint64_t made;
	int err;

	fs_wrlock(fs);
	err = dir_make(fs, parent, name, mode, rdev, target, cred, &in);
	if (!err)
		inode_to_stat(fs, in, st);
	made = in ? in->ino : 0;
	return namei_unlook(fs, fs_wrunlock(fs, err), made);
}

int fs_mknod(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     dev_t rdev, const struct fs_cred *cred, struct stat *st)
{
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	return create_stat(fs, parent, name, mode, rdev, NULL, cred, st);
}

int fs_mkdir(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     const struct fs_cred *cred, struct stat *st)
{
	return create_stat(fs, parent, name, S_IFDIR | (mode & 07777), 0, NULL,
			   cred, st);
}

int fs_symlink(struct fs *fs, uint64_t parent, const char *name,
	       const char *target, const struct fs_cred *cred, struct stat *st)
{
	struct fs_cred c = *cred;
	size_t n = strlen(target);

	if (n == 0)
		return -ENOENT;
	if (n > FS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	c.umask = 0;
	return create_stat(fs, parent, name, S_IFLNK | 0777, 0, target, &c, st);
}

int fs_link(struct fs *fs, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *st)
{
	struct fs_path path;
	struct fs_inode *in;
	struct txn tx;
	uint64_t other;
	uint32_t type;
	bool looked_up;
	int err;

	path_init(&path);
	fs_wrlock(fs);
	txn_begin(fs, &tx);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err && (in->a.mode & S_IFMT) == S_IFDIR)
		err = -EPERM;
	else if (!err)
		err = in->a.nlink == 0	     ? -ENOENT
		      : in->a.nlink >= 65000 ? -EMLINK
					     : 0;
	if (!err) {
		err = namei_child(fs, newparent, newname, &path, &other, &type);
		err = err == -ENOENT ? 0 : err ? err : -EEXIST;
	}
	if (!err) {
		txn_hold(&tx, in);
		in->a.nlink++;
		in->a.ctime = fs_now();
		err = namei_put(&tx, path.s, path.len, ino, in->a.mode);
	}
	if (!err)
		err = store_put_inode(&tx, in);
	if (!err)
		err = dir_touch(&tx, itable_find(fs, newparent), 0);
	err = txn_finish(&tx, err);
	if (!err) {
		/* The kernel's new lookup reference; @p in is in the table
		 * (found above, write side held): this cannot fail. */
		(void)itable_get(fs, ino, 0, NULL, 1, &in);
		inode_to_stat(fs, in, st);
	}
	looked_up = !err;
	err = fs_wrunlock(fs, err);
	path_free(&path);
	return namei_unlook(fs, err, looked_up ? ino : 0);
}

/* Remove the name @p name of @p parent; @p want_dir selects rmdir. */
static int remove_name(struct fs *fs, uint64_t parent, const char *name,
		       bool want_dir)
{
	struct fs_path path;
	struct fs_inode *in;
	struct txn tx;
	uint64_t ino;
	uint32_t type;
	int err;

	path_init(&path);
	fs_wrlock(fs);
	txn_begin(fs, &tx);
	/* Frees space, even when the file is still open: its keys then go
	 * at the last release (a batch of deletes), and the orphan record
	 * written now is what lets that (or the next mount) find them. */
	tx.frees = true;
	err = namei_child(fs, parent, name, &path, &ino, &type);
	if (!err && want_dir != (type == S_IFDIR))
		err = want_dir ? -ENOTDIR : -EISDIR;
	if (!err && want_dir) {
		err = dir_has_entries(fs, &path);
		err = err > 0 ? -ENOTEMPTY : err;
	}
	if (!err)
		err = itable_get(fs, ino, parent, name, 0, &in);
	if (!err)
		err = txn_delete(&tx, path.s, path.len);
	if (!err)
		err = dir_touch(&tx, itable_find(fs, parent),
				want_dir ? -1 : 0);
	if (!err)
		err = dir_drop_link(&tx, in);
	err = txn_finish(&tx, err);
	if (!err)
		dir_link_dropped(fs, in);
	err = fs_wrunlock(fs, err);
	path_free(&path);
	return err == -EINVAL ? -ENOENT : err;
}

int fs_unlink(struct fs *fs, uint64_t parent, const char *name)
{
	return remove_name(fs, parent, name, false);
}

int fs_rmdir(struct fs *fs, uint64_t parent, const char *name)
{
	return remove_name(fs, parent, name, true);
}
