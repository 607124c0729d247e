/*
 * dir.c - creating and removing names: mknod, mkdir, symlink, link,
 * unlink, rmdir. Each operation is one batch: the dentry, the inode record
 * and the parent's record (times, and nlink for subdirectories) together.
 *
 * Ownership of new nodes: the caller's uid, and the caller's gid unless the
 * parent is setgid (then the parent's gid, and new directories inherit
 * S_ISGID). Every function here takes fs->lock for writing.
 */
#include "internal.h"

#include <cask.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dir_touch(struct fs *fs, struct cask_batch *b, struct fs_inode *dir,
	      int dlink)
{
	dir->a.nlink = (uint32_t)((int64_t)dir->a.nlink + dlink);
	dir->a.mtime = dir->a.ctime = fs_now();
	return store_put_inode(fs, b, dir);
}

int dir_drop_link(struct fs *fs, struct cask_batch *b, struct fs_inode *in)
{
	uint8_t key[INO_KEY_LEN];
	int err;

	in->a.ctime = fs_now();
	if ((in->a.mode & S_IFMT) == S_IFDIR)
		in->a.nlink = 0;
	else if (in->a.nlink)
		in->a.nlink--;
	if (in->a.nlink == 0 && in->nopen == 0)
		return store_delete_inode(fs, b, in->ino);
	if (in->a.nlink == 0) {
		/* Open: keep the data until the last release. */
		ino_key(key, KEY_ORPHAN, in->ino);
		err = fs_errno(cask_batch_put(b, key, sizeof(key), "", 0));
		if (err)
			return err;
	}
	return store_put_inode(fs, b, in);
}

void dir_link_dropped(struct fs *fs, struct fs_inode *in)
{
	in->cdirty = in->adirty = false;
	if (in->a.nlink || in->nopen)
		return;
	in->removed = true;
	fs->inodes--;
	itable_drop_unused(fs, in);
}

int dir_has_entries(struct fs *fs, const char *path, size_t len)
{
	char prefix[FS_PATH_MAX + 2];
	struct cask_iter_options o = {0};
	struct cask_iter *it;
	size_t klen;
	int n = 0, err;

	memcpy(prefix, path, len);
	prefix[len] = '/';
	o.prefix = prefix;
	o.prefix_len = len + 1;
	err = fs_errno(cask_iter_new(fs->db, &o, &it));
	if (err)
		return err;
	for (; cask_iter_valid(it) && !n; cask_iter_next(it)) {
		cask_iter_key(it, &klen);
		n = klen > len + 1; /* the root's own key "/" is no entry */
	}
	err = fs_errno(cask_iter_error(it));
	cask_iter_free(it);
	return err ? err : n;
}

static struct fs_inode *new_inode(const struct fs_inode *dir, mode_t mode,
				  dev_t rdev, const struct fs_cred *cred)
{
	struct fs_inode *in = calloc(1, sizeof(*in));

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

int dir_create_begin(struct fs *fs, struct cask_batch *b, uint64_t parent,
		     const char *name, mode_t mode, dev_t rdev,
		     const struct fs_cred *cred, struct dir_new *n)
{
	char path[FS_PATH_MAX + 1];
	int len, err;

	*n = (struct dir_new){0};
	len = namei_child_path(fs, parent, name, path);
	if (len < 0)
		return len;
	n->dir = itable_find(fs, parent);
	err = cask_exists(fs->db, path, (size_t)len);
	if (err)
		return err > 0 ? -EEXIST : fs_errno(err);
	n->dir_saved = n->dir->a;
	n->in = new_inode(n->dir, mode, rdev, cred);
	err = n->in ? super_alloc_ino(fs, &n->in->ino) : -ENOMEM;
	if (!err && S_ISDIR(mode)) {
		n->in->parent = parent;
		n->in->name = strdup(name);
		err = n->in->name ? 0 : -ENOMEM;
	}
	if (!err)
		err = namei_put(b, path, (size_t)len, n->in->ino,
				n->in->a.mode);
	if (!err)
		err = dir_touch(fs, b, n->dir, S_ISDIR(mode) ? 1 : 0);
	return err;
}

void dir_create_end(struct fs *fs, struct dir_new *n, int err)
{
	if (err) {
		if (n->dir)
			n->dir->a = n->dir_saved;
		inode_free(n->in);
		n->in = NULL;
		return;
	}
	n->in->nlookup = 1;
	itable_insert(fs, n->in);
	fs->inodes++;
}

int dir_create(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	       dev_t rdev, const char *target, const struct fs_cred *cred,
	       struct fs_inode **out)
{
	struct cask_batch *b;
	struct dir_new n;
	int err;

	*out = NULL;
	err = store_batch(fs, &b);
	if (err)
		return err;
	err = dir_create_begin(fs, b, parent, name, mode, rdev, cred, &n);
	if (!err && target) {
		/* A symlink's target is its inline content. */
		n.in->a.size = strlen(target);
		n.in->buf = (char *)target;
	}
	if (!err)
		err = store_put_inode(fs, b, n.in);
	if (!err)
		err = store_commit(b);
	cask_batch_free(b);
	if (n.in && target)
		n.in->buf = NULL;
	dir_create_end(fs, &n, err);
	*out = n.in;
	return err;
}

static int create_stat(struct fs *fs, uint64_t parent, const char *name,
		       mode_t mode, dev_t rdev, const char *target,
		       const struct fs_cred *cred, struct stat *st)
{
	struct fs_inode *in;
	int err;

	fs_wrlock(fs);
	err = dir_create(fs, parent, name, mode, rdev, target, cred, &in);
	if (!err)
		inode_to_stat(fs, in, st);
	fs_unlock(fs);
	return err;
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
	if (n > FS_PATH_MAX)
		return -ENAMETOOLONG;
	c.umask = 0;
	return create_stat(fs, parent, name, S_IFLNK | 0777, 0, target, &c, st);
}

int fs_link(struct fs *fs, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *st)
{
	char path[FS_PATH_MAX + 1];
	struct fs_inode *in, *dir;
	struct inode_attr saved, dsaved;
	struct cask_batch *b;
	int len, err;

	fs_wrlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (err)
		goto out;
	err = -EPERM;
	if ((in->a.mode & S_IFMT) == S_IFDIR)
		goto out;
	err = in->a.nlink == 0 ? -ENOENT : in->a.nlink >= 65000 ? -EMLINK : 0;
	len = err ? err : namei_child_path(fs, newparent, newname, path);
	if (len < 0) {
		err = len;
		goto out;
	}
	err = cask_exists(fs->db, path, (size_t)len);
	if (err) {
		err = err > 0 ? -EEXIST : fs_errno(err);
		goto out;
	}
	err = store_batch(fs, &b);
	if (err)
		goto out;
	dir = itable_find(fs, newparent);
	saved = in->a;
	dsaved = dir->a;
	in->a.nlink++;
	in->a.ctime = fs_now();
	err = namei_put(b, path, (size_t)len, ino, in->a.mode);
	if (!err)
		err = store_put_inode(fs, b, in);
	if (!err)
		err = dir_touch(fs, b, dir, 0);
	if (!err)
		err = store_commit(b);
	cask_batch_free(b);
	if (err) {
		in->a = saved;
		dir->a = dsaved;
		goto out;
	}
	in->cdirty = in->adirty = false;
	itable_get(fs, ino, 0, NULL, 1, &in);
	inode_to_stat(fs, in, st);
out:
	fs_unlock(fs);
	return err;
}

/* Remove the name @p name of @p parent; @p want_dir selects rmdir. */
static int remove_name(struct fs *fs, uint64_t parent, const char *name,
		       bool want_dir)
{
	char path[FS_PATH_MAX + 1];
	struct fs_inode *in, *dir;
	struct inode_attr saved, dsaved;
	struct cask_batch *b;
	uint64_t ino;
	uint32_t type;
	int len, err;

	fs_wrlock(fs);
	len = namei_child_path(fs, parent, name, path);
	err = len < 0 ? len : namei_get(fs, path, (size_t)len, &ino, &type);
	if (err)
		goto out;
	if (want_dir != (type == S_IFDIR)) {
		err = want_dir ? -ENOTDIR : -EISDIR;
		goto out;
	}
	if (want_dir) {
		err = dir_has_entries(fs, path, (size_t)len);
		if (err) {
			err = err > 0 ? -ENOTEMPTY : err;
			goto out;
		}
	}
	err = itable_get(fs, ino, parent, name, 0, &in);
	if (!err)
		err = store_batch(fs, &b);
	if (err)
		goto out;
	dir = itable_find(fs, parent);
	saved = in->a;
	dsaved = dir->a;
	err = fs_errno(cask_batch_delete(b, path, (size_t)len));
	if (!err)
		err = dir_touch(fs, b, dir, want_dir ? -1 : 0);
	if (!err)
		err = dir_drop_link(fs, b, in);
	/* Frees space, even when the file is still open: its keys then go
	 * at the last release (a batch of deletes), and the orphan record
	 * written now is what lets that (or the next mount) find them. */
	if (!err)
		err = store_commit_frees(b);
	cask_batch_free(b);
	if (err) {
		in->a = saved;
		dir->a = dsaved;
		goto out;
	}
	dir->adirty = false;
	dir_link_dropped(fs, in);
out:
	fs_unlock(fs);
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
