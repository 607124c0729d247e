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
#include <string.h>

int namei_dir_path(struct fs *fs, uint64_t dir, char *buf, size_t size)
{
	const char *names[FS_PATH_MAX / 2 + 1];
	size_t depth = 0, total = 0;
	struct fs_inode *in = itable_find(fs, dir);
	char *p = buf;

	if (!in || in->removed)
		return -ESTALE;
	if ((in->a.mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	while (in->ino != FS_ROOT_INO) {
		if (!in->name || depth == sizeof(names) / sizeof(names[0]))
			return -ESTALE;
		names[depth++] = in->name;
		total += 1 + strlen(in->name);
		if (total > FS_PATH_MAX)
			return -ENAMETOOLONG;
		in = itable_find(fs, in->parent);
		if (!in || in->removed)
			return -ESTALE;
	}
	if (total >= size)
		return -ENAMETOOLONG;
	while (depth--) {
		size_t n = strlen(names[depth]);

		*p++ = '/';
		memcpy(p, names[depth], n);
		p += n;
	}
	*p = '\0';
	return (int)total;
}

/* The path of @p name in directory @p dir into @p buf (FS_PATH_MAX + 1).
 * @return its length, -EINVAL (bad name), -ENAMETOOLONG, ... */
static int child_path(struct fs *fs, uint64_t dir, const char *name, char *buf)
{
	size_t nlen = strlen(name);
	int len;

	if (nlen == 0 || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	if (nlen > FS_NAME_MAX)
		return -ENAMETOOLONG;
	len = namei_dir_path(fs, dir, buf, FS_PATH_MAX + 1);
	if (len < 0)
		return len;
	if ((size_t)len + 1 + nlen > FS_PATH_MAX)
		return -ENAMETOOLONG;
	buf[len] = '/';
	memcpy(buf + len + 1, name, nlen + 1);
	return len + 1 + (int)nlen;
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
	if (err)
		return err;
	return dentry_decode(val, vlen, ino, type);
}

int namei_child(struct fs *fs, uint64_t dir, const char *name, char *path,
		size_t *len, uint64_t *ino, uint32_t *type)
{
	int n = child_path(fs, dir, name, path);

	if (n < 0)
		return n;
	*len = (size_t)n;
	return get_dentry(fs, path, *len, ino, type);
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
	char path[FS_PATH_MAX + 1];
	struct fs_inode *in;
	uint64_t ino;
	uint32_t type;
	size_t len;
	int err;

	fs_rdlock(fs);
	err = namei_child(fs, parent, name, path, &len, &ino, &type);
	if (!err)
		err = itable_get(fs, ino, parent, name, 1, &in);
	if (!err)
		inode_to_stat(fs, in, st);
	fs_unlock(fs);
	return err == -EINVAL ? -ENOENT : err;
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	fs_wrlock(fs);
	itable_forget(fs, ino, nlookup);
	fs_wrunlock(fs, 0); /* commits nothing, owes nothing */
}

int namei_walk(struct fs *fs, const char *path, uint64_t *parent, char *name)
{
	char comp[FS_NAME_MAX + 1];
	char cpath[FS_PATH_MAX + 1];
	struct fs_inode *in;
	uint64_t cur = FS_ROOT_INO, ino;
	uint32_t type;
	size_t len;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	for (;;) {
		const char *end;
		size_t n;

		while (*path == '/')
			path++;
		end = strchrnul(path, '/');
		n = (size_t)(end - path);
		if (n == 0)
			return -EISDIR; /* "/" or a trailing slash */
		if (n > FS_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, path, n);
		comp[n] = '\0';
		path = end;
		while (*path == '/')
			path++;
		if (*path == '\0')
			break;
		err = namei_child(fs, cur, comp, cpath, &len, &ino, &type);
		if (!err && type != S_IFDIR)
			err = -ENOTDIR;
		if (!err)
			err = itable_get(fs, ino, cur, comp, 0, &in);
		if (err)
			return err;
		cur = ino;
	}
	*parent = cur;
	strcpy(name, comp);
	return 0;
}

int fs_lookup_path(struct fs *fs, const char *path, uint64_t *ino)
{
	char norm[FS_PATH_MAX + 1], cpath[FS_PATH_MAX + 1];
	char name[FS_NAME_MAX + 1];
	struct fs_inode *in;
	uint64_t parent;
	size_t n = 0, len;
	uint32_t type;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	while (*path) {
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
			return -EINVAL;
		if (n + 1 + clen > FS_PATH_MAX)
			return -ENAMETOOLONG;
		norm[n++] = '/';
		memcpy(norm + n, path, clen);
		n += clen;
		path = end;
	}
	if (n == 0) {
		*ino = FS_ROOT_INO;
		return 0;
	}
	norm[n] = '\0';
	fs_rdlock(fs);
	err = namei_walk(fs, norm, &parent, name);
	if (!err)
		err = namei_child(fs, parent, name, cpath, &len, ino, &type);
	/* Like the directories above it, a directory found here goes into the
	 * inode table, so opendir can find its path. */
	if (!err && type == S_IFDIR)
		err = itable_get(fs, *ino, parent, name, 0, &in);
	fs_unlock(fs);
	return err;
}
