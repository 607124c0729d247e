/*
 * rename.c - rename(2) and renameat2(2) flags, as one batch: the dentries
 * of both names, every dentry below a moved directory (its keys embed the
 * path: cost proportional to the entries, not to the bytes of content),
 * the replaced inode's link, and both parents' times and link counts.
 *
 * One transaction: on any failure nothing changes, in memory (the parents'
 * attributes, the moved directories' names) or in the store. Batches
 * apply their last operation per key, so for an exchange all deletes are
 * added before all puts. The renamed inode's ctime is not
 * touched (POSIX leaves it open), so renaming a file rewrites one dentry
 * and the parents' records.
 *
 * Takes fs->lock for writing.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct side {
	struct fs_path path;
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
	int err = namei_child(fs, s->parent, s->name, &s->path, &s->ino,
			      &s->type);

	if (err == -EINVAL)
		return -ENOENT;
	s->dir = itable_find(fs, s->parent);
	s->exists = err == 0;
	return err == -ENOENT ? 0 : err;
}

static bool under(const struct side *top, const struct side *s)
{
	const struct fs_path *t = &top->path, *p = &s->path;

	return p->len > t->len && p->s[t->len] == '/' &&
	       !memcmp(p->s, t->s, t->len);
}

/* Add deletes (@p del) or moved puts (@p put) of every key below @p from
 * ("from/...") to @p tx; the moved keys go below @p to. A key that would
 * grow past FS_PATH_MAX fails the rename with -ENAMETOOLONG. */
static int subtree(struct txn *tx, const struct side *from,
		   const struct side *to, bool del, bool put)
{
	const struct fs_path *fp = &from->path, *tp = &to->path;
	struct fs_path key; /* "from/", then each key below "to" */
	struct gw_scan s;
	const char *k;
	const void *val;
	size_t klen, vlen, nlen;
	int err;

	path_init(&key);
	err = path_reserve(&key, fp->len + 1);
	if (err)
		return err;
	memcpy(key.s, fp->s, fp->len);
	key.s[fp->len] = '/';
	for (err = gw_scan_open(tx->fs, &s, key.s, fp->len + 1, NULL, 0);
	     err > 0; err = gw_scan_next(&s)) {
		k = gw_scan_key(&s, &klen);
		nlen = tp->len + klen - fp->len;
		err = del ? txn_delete(tx, k, klen) : 0;
		if (!err && put)
			err = nlen > FS_PATH_MAX ? -ENAMETOOLONG
						 : path_reserve(&key, nlen);
		if (!err && put)
			err = gw_scan_value(&s, &val, &vlen);
		if (!err && put) {
			memcpy(key.s, tp->s, tp->len);
			memcpy(key.s + tp->len, k + fp->len, klen - fp->len);
			err = txn_put(tx, key.s, nlen, val, vlen);
		}
		if (err)
			break;
	}
	gw_scan_close(&s);
	path_free(&key);
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
		err = dir_has_entries(fs, &d->path);
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

/* Give the directory @p in the name @p name in @p parent (held: the old
 * name comes back if the rename fails). */
static int rename_dir(struct txn *tx, struct fs_inode *in, uint64_t parent,
		      const char *name)
{
	char *copy = fsmem_strdup(name);

	if (!copy)
		return -ENOMEM;
	txn_hold(tx, in);
	tx->excl = true; /* readers build paths from the names */
	in->name = copy;
	in->parent = parent;
	return 0;
}

/* Add the rename of @p s to @p d to @p tx. */
static int build(struct txn *tx, struct side *s, struct side *d, bool exchange)
{
	int sdir = s->type == S_IFDIR, ddir = d->exists && d->type == S_IFDIR;
	int err = 0;

	if (exchange) {
		if (sdir)
			err = subtree(tx, s, d, true, false);
		if (!err && ddir)
			err = subtree(tx, d, s, true, false);
		if (!err && sdir)
			err = subtree(tx, s, d, false, true);
		if (!err && ddir)
			err = subtree(tx, d, s, false, true);
		if (!err)
			err = namei_put(tx, s->path.s, s->path.len, d->ino,
					d->type);
		if (!err && d->in)
			err = rename_dir(tx, d->in, s->parent, s->name);
	} else {
		err = txn_delete(tx, s->path.s, s->path.len);
		if (!err && sdir)
			err = subtree(tx, s, d, true, true);
		if (!err && d->exists)
			err = dir_drop_link(tx, d->in);
	}
	if (!err)
		err = namei_put(tx, d->path.s, d->path.len, s->ino, s->type);
	if (!err && s->in)
		err = rename_dir(tx, s->in, d->parent, d->name);
	if (err)
		return err;
	/* Each parent's nlink counts its subdirectories. */
	if (exchange) {
		if (s->dir == d->dir)
			return dir_touch(tx, s->dir, 0);
		err = dir_touch(tx, s->dir, ddir - sdir);
		return err ? err : dir_touch(tx, d->dir, sdir - ddir);
	}
	if (s->dir == d->dir)
		return dir_touch(tx, s->dir, -ddir);
	err = dir_touch(tx, s->dir, -sdir);
	return err ? err : dir_touch(tx, d->dir, sdir - ddir);
}

static int rename_locked(struct fs *fs, struct side *s, struct side *d,
			 unsigned flags)
{
	bool exchange = flags & FS_RENAME_EXCHANGE;
	struct txn tx;
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
		err = load(fs, d, !exchange);
	if (err)
		return err;
	txn_begin(fs, &tx);
	/* A file renamed over another drops that one's link, as unlink does,
	 * so mv over a file works on a full disk. Not a directory: its
	 * subtree's dentries are rewritten. */
	tx.frees = d->exists && !exchange && !S_ISDIR(s->type);
	err = txn_finish(&tx, build(&tx, s, d, exchange));
	if (!err && d->in && !exchange)
		dir_link_dropped(fs, d->in);
	return err;
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
	path_init(&s.path);
	path_init(&d.path);
	fs_wrlock(fs);
	err = rename_locked(fs, &s, &d, flags);
	err = fs_wrunlock(fs, err);
	path_free(&s.path);
	path_free(&d.path);
	return err;
}
