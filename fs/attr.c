/*
 * attr.c - getattr, setattr (chmod, chown, truncate, utimens) and
 * readlink. setattr is one transaction: the inode record with any chunk
 * changes of a truncate, or nothing in memory or in the store. Attributes come from the inode table, which loads an
 * inode's record header (no content) on a miss.
 *
 * Locks: getattr and readlink take fs->lock for reading, setattr for
 * writing.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fs_getattr(struct fs *fs, uint64_t ino, struct stat *st)
{
	struct fs_inode *in;
	int err;

	fs_rdlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err)
		inode_to_stat(fs, in, st);
	fs_unlock(fs);
	return err;
}

static void set_owner(struct inode_attr *a, const struct stat *in,
		      unsigned mask)
{
	if (mask & FS_SET_UID)
		a->uid = in->st_uid;
	if (mask & FS_SET_GID)
		a->gid = in->st_gid;
	if ((a->mode & S_IFMT) == S_IFDIR)
		return;
	/* As ext4: a change of owner drops set-user-ID, and set-group-ID
	 * when it means "set group ID" (group-exec set). */
	a->mode &= ~(uint32_t)S_ISUID;
	if (a->mode & S_IXGRP)
		a->mode &= ~(uint32_t)S_ISGID;
}

static int apply(struct txn *tx, struct fs_inode *in, const struct stat *st,
		 unsigned mask)
{
	struct timespec now = fs_now();
	int err = 0;

	if (mask & FS_SET_SIZE) {
		if ((in->a.mode & S_IFMT) == S_IFDIR)
			return -EISDIR;
		if ((in->a.mode & S_IFMT) != S_IFREG || st->st_size < 0)
			return -EINVAL;
		err = file_truncate(tx, in, (uint64_t)st->st_size);
		if (err)
			return err;
		in->a.mtime = now;
	}
	if (mask & (FS_SET_UID | FS_SET_GID))
		set_owner(&in->a, st, mask);
	if (mask & FS_SET_MODE)
		in->a.mode = (in->a.mode & S_IFMT) | (st->st_mode & 07777);
	if (mask & FS_SET_ATIME_NOW)
		in->a.atime = now;
	else if (mask & FS_SET_ATIME)
		in->a.atime = st->st_atim;
	if (mask & FS_SET_MTIME_NOW)
		in->a.mtime = now;
	else if (mask & FS_SET_MTIME)
		in->a.mtime = st->st_mtim;
	in->a.ctime = (mask & FS_SET_CTIME) ? st->st_ctim : now;
	return 0;
}

int fs_setattr(struct fs *fs, uint64_t ino, const struct stat *st,
	       unsigned mask, struct fs_file *fh, struct stat *out)
{
	struct fs_inode *in;
	struct txn tx;
	uint64_t size;
	int err;

	fs_wrlock(fs);
	txn_begin(fs, &tx);
	err = fh ? 0 : itable_get(fs, ino, 0, NULL, 0, &in);
	if (fh)
		in = fh->inode;
	if (!err)
		err = txn_hold_data(&tx, in);
	if (!err) {
		size = in->a.size;
		err = apply(&tx, in, st, mask);
		/* A smaller size frees space; so does any change to a file
		 * removed while open (the kernel's writeback cache sends its
		 * ctime at close): its records all go at the last release. */
		tx.frees = ((mask & FS_SET_SIZE) && in->a.size < size) ||
			   !in->a.nlink;
	}
	/* Removed, its keys are gone but the kernel still knows it (an O_PATH
	 * descriptor): as on ext4 the change is made, in memory only. */
	if (!err && !in->removed)
		err = store_put_inode(&tx, in);
	err = txn_finish(&tx, err);
	if (in)
		file_idle(in);
	if (!err)
		inode_to_stat(fs, in, out);
	return fs_wrunlock(fs, err);
}

ssize_t fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct fs_inode *in;
	void *rec = NULL;
	size_t len;
	int err;

	fs_rdlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err && (in->a.mode & S_IFMT) != S_IFLNK)
		err = -EINVAL;
	if (!err)
		err = store_get_record(fs, ino, &rec, &len);
	fs_unlock(fs);
	if (err)
		return err;
	len -= INODE_HDR_LEN < len ? INODE_HDR_LEN : len;
	if (len >= size) {
		free(rec);
		return -ENAMETOOLONG;
	}
	memcpy(buf, (char *)rec + INODE_HDR_LEN, len);
	buf[len] = '\0';
	free(rec);
	return (ssize_t)len;
}
