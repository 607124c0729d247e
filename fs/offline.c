/*
 * offline.c - whole files by path, for the cask tool on an unmounted store
 * (or a backup copy): read a file's content, or replace it (creating it)
 * in one transaction, the new dentry included. Takes fs->lock like the
 * operations it is made of.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

int fs_read_path(struct fs *fs, const char *path, void **data, size_t *len)
{
	struct fs_file *fh;
	struct stat st;
	uint64_t ino;
	ssize_t n;
	char *buf;
	int err;

	*data = NULL;
	*len = 0;
	err = fs_lookup_path(fs, path, &ino);
	if (!err)
		err = fs_getattr(fs, ino, &st);
	if (err)
		return err;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size >= SIZE_MAX)
		return -EFBIG;
	buf = fsmem_alloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	err = fs_open(fs, ino, O_RDONLY, &fh);
	n = err ? err : fs_read(fs, fh, buf, (size_t)st.st_size, 0);
	/* A read-only handle writes nothing of its own: a release error is
	 * the retry of another writer's failed flush, which the inode keeps
	 * for the next one, not this read's. */
	(void)fs_release(fs, fh);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*data = buf;
	*len = (size_t)n;
	return 0;
}

/* Add @p data as the whole content of @p in (emptied) to @p tx. */
static int put_content(struct txn *tx, struct fs_inode *in, const char *data,
		       size_t len)
{
	uint32_t cs = tx->fs->chunk_size;
	uint8_t key[CHUNK_KEY_LEN];
	int err = 0;

	if (len <= tx->fs->inline_max) {
		memcpy(in->buf.p, data, len);
		in->a.size = len;
		in->cdirty = true;
		return 0;
	}
	in->a.flags &= (uint8_t)~INODE_F_INLINE;
	free(in->buf.p);
	in->buf.p = NULL;
	in->buf.cap = 0;
	for (size_t off = 0; off < len && !err; off += cs) {
		size_t n = len - off < cs ? len - off : cs;

		chunk_key(key, in->ino, off / cs);
		err = txn_put(tx, key, sizeof(key), data + off, n);
		in->a.nchunks++;
	}
	in->a.size = len;
	return err;
}

/* Replace the content of regular file @p in by @p data in @p tx. */
static int replace_content(struct txn *tx, struct fs_inode *in,
			   const void *data, size_t len)
{
	int err = txn_hold_data(tx, in);

	if (!err)
		err = file_truncate(tx, in, 0);
	if (!err)
		err = put_content(tx, in, data, len);
	in->a.mtime = in->a.ctime = fs_now();
	return err ? err : store_put_inode(tx, in);
}

/* A new file and its content: one transaction. */
static int create_with(struct fs *fs, uint64_t parent, const char *name,
		       const void *data, size_t len, mode_t mode,
		       const struct fs_cred *cred)
{
	struct fs_inode *in;
	struct txn tx;
	int err;

	txn_begin(fs, &tx);
	err = dir_create(&tx, parent, name, S_IFREG | mode, 0, cred, &in);
	if (!err)
		err = replace_content(&tx, in, data, len);
	err = txn_finish(&tx, err);
	if (err) {
		inode_free(in);
		return err;
	}
	in = dir_created(fs, in, 0);
	file_idle(in);
	itable_drop_unused(fs, in);
	return 0;
}

static int write_locked(struct fs *fs, const char *path, const void *data,
			size_t len, mode_t mode, const struct fs_cred *cred,
			struct fs_path *cpath)
{
	char name[FS_NAME_MAX + 1];
	struct fs_inode *in;
	struct txn tx;
	uint64_t parent = FS_ROOT_INO, ino;
	uint32_t type;
	int err;

	err = namei_walk(fs, path, &parent, name);
	if (!err)
		err = namei_child(fs, parent, name, cpath, &ino, &type);
	if (err == -ENOENT && cpath->len)
		return create_with(fs, parent, name, data, len, mode, cred);
	if (!err)
		err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (err)
		return err;
	if ((in->a.mode & S_IFMT) != S_IFREG)
		return (in->a.mode & S_IFMT) == S_IFDIR ? -EISDIR : -EINVAL;
	if (in->nopen)
		return -EBUSY;
	txn_begin(fs, &tx);
	err = txn_finish(&tx, replace_content(&tx, in, data, len));
	file_idle(in);
	itable_drop_unused(fs, in);
	return err;
}

int fs_write_path(struct fs *fs, const char *path, const void *data, size_t len,
		  mode_t mode, const struct fs_cred *cred)
{
	struct fs_path cpath;
	int err;

	path_init(&cpath);
	fs_wrlock(fs);
	err = write_locked(fs, path, data, len, mode & 07777, cred, &cpath);
	err = fs_wrunlock(fs, err);
	path_free(&cpath);
	return err;
}
