/*
 * namei.c - names to keys. A directory's path is rebuilt from the
 * (parent, name) pairs of the inode table (directories have exactly one
 * name, so renaming one changes one pair); a child's dentry key is its
 * parent's path + "/" + name. Also lookup and offline lookup by path.
 *
 * Callers hold fs->lock (either side).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void path_init(struct fs_path *p)
{
	p->s = p->inl;
	p->len = 0;
	p->cap = sizeof(p->inl);
	p->inl[0] = '\0';
}

int path_reserve(struct fs_path *p, size_t len)
{
	size_t cap = p->cap;
	char *s;

	if (len < cap)
		return 0;
	while (cap <= len)
		cap *= 2;
	s = fsmem_alloc(cap);
	if (!s)
		return -ENOMEM;
	memcpy(s, p->s, p->cap);
	if (p->s != p->inl)
		free(p->s);
	p->s = s;
	p->cap = cap;
	return 0;
}

void path_free(struct fs_path *p)
{
	if (p->s != p->inl)
		free(p->s);
	path_init(p);
}

int namei_dir_path(struct fs *fs, uint64_t dir, struct fs_path *p)
{
	struct fs_inode *top = itable_find(fs, dir), *in;
	size_t total = 0, n;
	int err;

	if (!top || top->removed)
		return -ESTALE;
	if ((top->a.mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	/* Measure, then write the names from the last one back. The limit
	 * also ends a walk that would go round a cycle. */
	for (in = top; in->ino != FS_ROOT_INO;) {
		if (!inode_dir_name(in))
			return -ESTALE;
		total += 1 + strlen(in->name);
		if (total > FS_PATH_MAX)
			return -ENAMETOOLONG;
		in = itable_find(fs, in->parent);
		if (!in || in->removed)
			return -ESTALE;
	}
	err = path_reserve(p, total);
	if (err)
		return err;
	p->len = total;
	p->s[total] = '\0';
	for (in = top; in->ino != FS_ROOT_INO;
	     in = itable_find(fs, in->parent)) {
		n = strlen(in->name);
		total -= n;
		memcpy(p->s + total, in->name, n);
		p->s[--total] = '/';
	}
	return 0;
}

/* Build the path of @p name in directory @p dir in @p p.
 * @return 0, -EINVAL (bad name), -ENAMETOOLONG, ... */
static int child_path(struct fs *fs, uint64_t dir, const char *name,
		      struct fs_path *p)
{
	size_t nlen = strlen(name), len;
	int err;

	if (nlen == 0 || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	if (nlen > FS_NAME_MAX)
		return -ENAMETOOLONG;
	err = namei_dir_path(fs, dir, p);
	if (err)
		return err;
	len = p->len + 1 + nlen;
	if (len > FS_PATH_MAX)
		return -ENAMETOOLONG;
	err = path_reserve(p, len);
	if (err)
		return err;
	p->s[p->len] = '/';
	memcpy(p->s + p->len + 1, name, nlen + 1);
	p->len = len;
	return 0;
}

/* Read the dentry of @p path. @return 0, -ENOENT, -EIO. */
static int get_dentry(struct fs *fs, const char *path, size_t len,
		      uint64_t *ino, uint32_t *type)
{
	uint8_t val[DENTRY_LEN];
	size_t vlen;
	int err;

	if (len == 0) {
		path = "/";
		len = 1;
	}
	err = gw_get(fs, path, len, val, sizeof(val), &vlen);
	if (!err && dentry_decode(val, vlen, ino, type))
		err = gw_record_damaged(fs, path, len);
	return err;
}

int namei_child(struct fs *fs, uint64_t dir, const char *name,
		struct fs_path *path, uint64_t *ino, uint32_t *type)
{
	int err = child_path(fs, dir, name, path);

	return err ? err : get_dentry(fs, path->s, path->len, ino, type);
}

int namei_put(struct txn *tx, const char *path, size_t len, uint64_t ino,
	      uint32_t mode)
{
	uint8_t val[DENTRY_LEN];

	dentry_encode(ino, mode, val);
	return txn_put(tx, path, len, val, sizeof(val));
}

int fs_lookup(struct fs *fs, uint64_t parent, const char *name, struct stat *st)
{
	struct fs_path path;
	struct fs_inode *in;
	uint64_t ino;
	uint32_t type;
	int err;

	path_init(&path);
	fs_rdlock(fs);
	err = namei_child(fs, parent, name, &path, &ino, &type);
	if (!err)
		err = itable_get(fs, ino, parent, name, 1, &in);
	if (!err)
		inode_to_stat(fs, in, st);
	fs_unlock(fs);
	path_free(&path);
	return err == -EINVAL ? -ENOENT : err;
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	fs_wrlock(fs);
	itable_forget(fs, ino, nlookup);
	fs_wrunlock(fs, 0); /* commits nothing, owes nothing */
}

int namei_unlook(struct fs *fs, int err, uint64_t ino)
{
	if (err && ino)
		fs_forget(fs, ino, 1);
	return err;
}

int namei_walk(struct fs *fs, const char *path, uint64_t *parent, char *name)
{
	struct fs_path key; /* the directories' path so far: their keys */
	struct fs_inode *in;
	uint64_t cur = FS_ROOT_INO, ino;
	uint32_t type;
	int err = 0;

	if (path[0] != '/')
		return -EINVAL;
	path_init(&key);
	for (;;) {
		const char *end;
		size_t n;

		while (*path == '/')
			path++;
		end = strchrnul(path, '/');
		n = (size_t)(end - path);
		if (n == 0)
			err = -EISDIR; /* "/" or a trailing slash */
		else if (n > FS_NAME_MAX)
			err = -ENAMETOOLONG;
		else if ((n == 1 && path[0] == '.') ||
			 (n == 2 && !strncmp(path, "..", 2)))
			err = -EINVAL;
		if (err)
			break;
		memcpy(name, path, n);
		name[n] = '\0';
		path = end;
		while (*path == '/')
			path++;
		if (*path == '\0')
			break;
		/* Each directory's key extends its parent's: the walk costs
		 * the path's length, not its square. */
		err = key.len + 1 + n > FS_PATH_MAX
			      ? -ENAMETOOLONG
			      : path_reserve(&key, key.len + 1 + n);
		if (err)
			break;
		key.s[key.len++] = '/';
		memcpy(key.s + key.len, name, n);
		key.len += n;
		err = get_dentry(fs, key.s, key.len, &ino, &type);
		if (!err && type != S_IFDIR)
			err = -ENOTDIR;
		if (!err)
			err = itable_get(fs, ino, cur, name, 0, &in);
		if (err)
			break;
		cur = ino;
	}
	path_free(&key);
	*parent = cur;
	return err;
}

int fs_lookup_path(struct fs *fs, const char *path, uint64_t *ino)
{
	struct fs_path norm, cpath;
	char name[FS_NAME_MAX + 1];
	struct fs_inode *in;
	uint64_t parent;
	uint32_t type;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	path_init(&norm);
	path_init(&cpath);
	err = path_reserve(&norm, strlen(path));
	while (!err && *path) {
		const char *end;
		size_t clen;

		while (*path == '/')
			path++;
		end = strchrnul(path, '/');
		clen = (size_t)(end - path);
		if (clen == 0)
			break;
		if ((clen == 1 && path[0] == '.') ||
		    (clen == 2 && !strncmp(path, "..", 2)))
			err = -EINVAL;
		else if (norm.len + 1 + clen > FS_PATH_MAX)
			err = -ENAMETOOLONG;
		if (err)
			break;
		norm.s[norm.len++] = '/';
		memcpy(norm.s + norm.len, path, clen);
		norm.len += clen;
		path = end;
	}
	norm.s[norm.len] = '\0';
	if (!err && norm.len == 0) {
		*ino = FS_ROOT_INO;
	} else if (!err) {
		fs_rdlock(fs);
		err = namei_walk(fs, norm.s, &parent, name);
		if (!err)
			err = namei_child(fs, parent, name, &cpath, ino, &type);
		/* Like the directories above it, a directory found here goes
		 * into the inode table, so opendir can find its path. */
		if (!err && type == S_IFDIR)
			err = itable_get(fs, *ino, parent, name, 0, &in);
		fs_unlock(fs);
	}
	path_free(&norm);
	path_free(&cpath);
	return err;
}
