/*
 * rename.c - rename(2) and renameat2(2) flags, as one batch: the dentries
 * of both names, every dentry below a moved directory (its keys embed the
 * path: cost proportional to the entries, not to the bytes of content),
 * the replaced inode's link, and both parents' times and link counts.
 *
 * Batches apply their last operation per key, so for an exchange all
 * deletes are added before all puts. The renamed inode's ctime is not
 * touched (POSIX leaves it open), so renaming a file rewrites one dentry
 * and the parents' records.
 *
 * Takes fs->lock for writing.
 */
#include "internal.h"

#include <cask.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct side {
	char path[FS_PATH_MAX + 1];
	size_t len;
	uint64_t parent;
	const char *name;
	uint64_t ino;
	uint32_t type;
	bool exists;
	struct fs_inode *dir; /* the parent */
	struct fs_inode *in;  /* loaded when needed */
};

static int resolve(struct fs *fs, struct side *s)
{
	int len = namei_child_path(fs, s->parent, s->name, s->path);
	int err;

	if (len < 0)
		return len == -EINVAL ? -ENOENT : len;
	s->len = (size_t)len;
	s->dir = itable_find(fs, s->parent);
	err = namei_get(fs, s->path, s->len, &s->ino, &s->type);
	s->exists = err == 0;
	return err == -ENOENT ? 0 : err;
}

static bool under(const struct side *top, const struct side *s)
{
	return s->len > top->len && s->path[top->len] == '/' &&
	       !memcmp(s->path, top->path, top->len);
}

/* Add deletes (@p del) or moved puts (@p put) of every key below @p from
 * ("from/...") to @p b; the moved keys go below @p to. */
static int subtree(struct fs *fs, struct cask_batch *b, const struct side *from,
		   const struct side *to, bool del, bool put)
{
	char key[FS_PATH_MAX + 2], nkey[FS_PATH_MAX + 1];
	struct cask_iter_options o = {0};
	struct cask_iter *it;
	const char *k;
	const void *val;
	size_t klen, vlen;
	int err;

	memcpy(key, from->path, from->len);
	key[from->len] = '/';
	o.prefix = key;
	o.prefix_len = from->len + 1;
	err = fs_errno(cask_iter_new(fs->db, &o, &it));
	if (err)
		return err;
	memcpy(nkey, to->path, to->len);
	for (; cask_iter_valid(it) && !err; cask_iter_next(it)) {
		k = cask_iter_key(it, &klen);
		if (del)
			err = fs_errno(cask_batch_delete(b, k, klen));
		if (err || !put)
			continue;
		if (to->len + klen - from->len > FS_PATH_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(nkey + to->len, k + from->len, klen - from->len);
		err = fs_errno(cask_iter_value(it, &val, &vlen));
		if (!err)
			err = fs_errno(cask_batch_put(
				b, nkey, to->len + klen - from->len, val,
				vlen));
	}
	if (!err)
		err = fs_errno(cask_iter_error(it));
	cask_iter_free(it);
	return err;
}

static int check(struct fs *fs, struct side *s, struct side *d, unsigned flags)
{
	int err;

	if (!s->exists)
		return -ENOENT;
	if ((flags & FS_RENAME_EXCHANGE) && !d->exists)
		return -ENOENT;
	if ((flags & FS_RENAME_NOREPLACE) && d->exists)
		return -EEXIST;
	if (s->type == S_IFDIR && under(s, d))
		return -EINVAL;
	if (d->exists && d->type == S_IFDIR && under(d, s))
		return (flags & FS_RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
	if (!d->exists || (flags & FS_RENAME_EXCHANGE))
		return 0;
	if (s->type == S_IFDIR && d->type != S_IFDIR)
		return -ENOTDIR;
	if (s->type != S_IFDIR && d->type == S_IFDIR)
		return -EISDIR;
	if (d->type == S_IFDIR) {
		err = dir_has_entries(fs, d->path, d->len);
		if (err)
			return err > 0 ? -ENOTEMPTY : err;
	}
	return 0;
}

static int load(struct fs *fs, struct side *s, bool always)
{
	if (!s->exists || (!always && s->type != S_IFDIR))
		return 0;
	return itable_get(fs, s->ino, s->parent, s->name, 0, &s->in);
}

/* Fill @p b for the rename of @p s to @p d. */
static int build(struct fs *fs, struct cask_batch *b, struct side *s,
		 struct side *d, bool exchange)
{
	int sdir = s->type == S_IFDIR, ddir = d->exists && d->type == S_IFDIR;
	int err = 0;

	if (exchange) {
		if (sdir)
			err = subtree(fs, b, s, d, true, false);
		if (!err && ddir)
			err = subtree(fs, b, d, s, true, false);
		if (!err && sdir)
			err = subtree(fs, b, s, d, false, true);
		if (!err && ddir)
			err = subtree(fs, b, d, s, false, true);
		if (!err)
			err = namei_put(b, s->path, s->len, d->ino, d->type);
	} else {
		err = fs_errno(cask_batch_delete(b, s->path, s->len));
		if (!err && sdir)
			err = subtree(fs, b, s, d, true, true);
		if (!err && d->exists)
			err = dir_drop_link(fs, b, d->in);
	}
	if (!err)
		err = namei_put(b, d->path, d->len, s->ino, s->type);
	if (err)
		return err;
	/* Each parent's nlink counts its subdirectories. */
	if (exchange) {
		if (s->dir == d->dir)
			return dir_touch(fs, b, s->dir, 0);
		err = dir_touch(fs, b, s->dir, ddir - sdir);
		return err ? err : dir_touch(fs, b, d->dir, sdir - ddir);
	}
	if (s->dir == d->dir)
		return dir_touch(fs, b, s->dir, -ddir);
	err = dir_touch(fs, b, s->dir, -sdir);
	return err ? err : dir_touch(fs, b, d->dir, sdir - ddir);
}

static int rename_locked(struct fs *fs, struct side *s, struct side *d,
			 unsigned flags)
{
	struct inode_attr sa, da, ia;
	struct cask_batch *b;
	char *tmp;
	int err;

	err = resolve(fs, s);
	if (!err)
		err = resolve(fs, d);
	if (!err)
		err = check(fs, s, d, flags);
	if (err || (d->exists && d->ino == s->ino))
		return err;
	err = load(fs, s, false);
	if (!err)
		err = load(fs, d, !(flags & FS_RENAME_EXCHANGE));
	if (!err)
		err = store_batch(fs, &b);
	if (err)
		return err;
	sa = s->dir->a;
	da = d->dir->a;
	if (d->in)
		ia = d->in->a;
	err = build(fs, b, s, d, flags & FS_RENAME_EXCHANGE);
	/* A file renamed over another drops that one's link, as unlink does,
	 * so mv over a file works on a full disk. Not a directory: its
	 * subtree's dentries are rewritten. */
	if (!err && d->exists && !(flags & FS_RENAME_EXCHANGE) &&
	    !S_ISDIR(s->type))
		err = store_commit_frees(b);
	else if (!err)
		err = store_commit(b);
	cask_batch_free(b);
	if (err) {
		s->dir->a = sa;
		d->dir->a = da;
		if (d->in)
			d->in->a = ia;
		return err;
	}
	s->dir->adirty = d->dir->adirty = false;
	if (s->in) {
		tmp = strdup(d->name);
		if (tmp) {
			free(s->in->name);
			s->in->name = tmp;
			s->in->parent = d->parent;
		} else {
			s->in->removed = true; /* unreachable, not wrong */
		}
	}
	if (d->in && (flags & FS_RENAME_EXCHANGE)) {
		tmp = strdup(s->name);
		if (tmp) {
			free(d->in->name);
			d->in->name = tmp;
			d->in->parent = s->parent;
		} else {
			d->in->removed = true;
		}
	} else if (d->in) {
		dir_link_dropped(fs, d->in);
	}
	return 0;
}

int fs_rename(struct fs *fs, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	struct side s = {.parent = parent, .name = name};
	struct side d = {.parent = newparent, .name = newname};
	int err;

	if ((flags & ~(FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE)) ||
	    flags == (FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE))
		return -EINVAL;
	fs_wrlock(fs);
	err = rename_locked(fs, &s, &d, flags);
	fs_unlock(fs);
	return err;
}
