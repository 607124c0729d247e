/*
 * store.c - how inodes reach libcask: batches, inode records with their
 * inline content and dirty chunk, removal of an inode's keys, and the one
 * mapping of libcask codes to errno values.
 *
 * Callers hold fs->lock for writing for everything that adds to a batch or
 * changes an inode's buffer; store_get_record() and store_load_inline()
 * only read the store.
 */
#include "internal.h"

#include <cask.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fs_errno(int err)
{
	switch (err) {
	case CASK_ENOTFOUND:
		return -ENOENT;
	case CASK_ECORRUPT:
	case CASK_EFAILED:
		return -EIO;
	case CASK_ELOCKED:
	case CASK_EBUSY:
		return -EBUSY;
	case CASK_EREADONLY:
		return -EROFS;
	case CASK_EVERSION:
		return -EPROTO;
	case CASK_EINVAL:
		return -EINVAL;
	default:
		return err >= -4095 && err <= 0 ? err : -EIO;
	}
}

int store_batch(struct fs *fs, struct cask_batch **b)
{
	if (fs->read_only) {
		*b = NULL;
		return -EROFS;
	}
	return fs_errno(cask_batch_new(fs->db, b));
}

int store_commit(struct cask_batch *b)
{
	return fs_errno(cask_batch_commit(b, 0));
}

int store_commit_frees(struct cask_batch *b)
{
	return fs_errno(cask_batch_commit(b, CASK_COMMIT_FREES));
}

int store_get_record(struct fs *fs, uint64_t ino, void **val, size_t *len)
{
	uint8_t key[INO_KEY_LEN];

	ino_key(key, KEY_INODE, ino);
	return fs_errno(cask_get_alloc(fs->db, key, sizeof(key), val, len));
}

int store_load_inline(struct fs *fs, struct fs_inode *in)
{
	size_t cap = fs->inline_max ? fs->inline_max : 1, len;
	void *rec = NULL;
	int err;

	if (in->buf)
		return 0;
	if (in->a.size > cap)
		return -EIO;
	/* Nothing to read for an empty file (a new one has no record yet). */
	if (in->a.size) {
		err = store_get_record(fs, in->ino, &rec, &len);
		if (err)
			return err;
		if (len < INODE_HDR_LEN + in->a.size) {
			free(rec);
			return -EIO;
		}
	}
	in->buf = calloc(1, cap);
	if (!in->buf) {
		free(rec);
		return -ENOMEM;
	}
	in->bufcap = cap;
	if (rec)
		memcpy(in->buf, (char *)rec + INODE_HDR_LEN, in->a.size);
	free(rec);
	return 0;
}

int store_put_chunk(struct fs *fs, struct cask_batch *b, struct fs_inode *in)
{
	uint8_t key[CHUNK_KEY_LEN];
	uint64_t start = in->cidx * fs->chunk_size;
	uint64_t len;

	if (start >= in->a.size)
		return 0;
	len = in->a.size - start;
	if (len > fs->chunk_size)
		len = fs->chunk_size;
	if (!in->cexists)
		in->a.nchunks++;
	in->cexists = true;
	chunk_key(key, in->ino, in->cidx);
	return fs_errno(cask_batch_put(b, key, sizeof(key), in->buf, len));
}

int store_put_inode(struct fs *fs, struct cask_batch *b, struct fs_inode *in)
{
	uint8_t key[INO_KEY_LEN];
	uint8_t *val;
	void *old = NULL;
	const char *content = NULL;
	size_t clen = 0, oldlen;
	int err;

	if (in->removed)
		return -ENOENT; /* a record now would never be reclaimed */
	if (in->cdirty && in->cvalid && !(in->a.flags & INODE_F_INLINE)) {
		err = store_put_chunk(fs, b, in);
		if (err)
			return err;
	}
	if (in->a.flags & INODE_F_INLINE) {
		clen = in->a.size;
		content = in->buf;
		if (!content && clen) {
			err = store_get_record(fs, in->ino, &old, &oldlen);
			if (err)
				return err;
			if (oldlen < INODE_HDR_LEN + clen) {
				free(old);
				return -EIO;
			}
			content = (char *)old + INODE_HDR_LEN;
		}
	}
	val = malloc(INODE_HDR_LEN + clen);
	if (!val) {
		free(old);
		return -ENOMEM;
	}
	inode_encode(&in->a, val);
	if (clen)
		memcpy(val + INODE_HDR_LEN, content, clen);
	ino_key(key, KEY_INODE, in->ino);
	err = fs_errno(
		cask_batch_put(b, key, sizeof(key), val, INODE_HDR_LEN + clen));
	free(val);
	free(old);
	return err;
}

int store_flush_inode(struct fs *fs, struct fs_inode *in)
{
	struct cask_batch *b;
	int err;

	if (!in->cdirty && !in->adirty)
		return 0;
	err = store_batch(fs, &b);
	if (err)
		return err;
	err = store_put_inode(fs, b, in);
	if (!err)
		err = store_commit(b);
	if (!err)
		in->cdirty = in->adirty = false;
	cask_batch_free(b);
	return err;
}

int store_delete_range(struct fs *fs, struct cask_batch *b, uint8_t type,
		       uint64_t ino, uint64_t from, uint64_t *n)
{
	uint8_t prefix[INO_KEY_LEN], start[CHUNK_KEY_LEN];
	struct cask_iter_options o = {0};
	struct cask_iter *it;
	const void *key;
	size_t klen;
	int err;

	*n = 0;
	ino_key(prefix, type, ino);
	o.prefix = prefix;
	o.prefix_len = sizeof(prefix);
	if (type == KEY_CHUNK && from) {
		chunk_key(start, ino, from);
		o.start = start;
		o.start_len = sizeof(start);
	}
	err = fs_errno(cask_iter_new(fs->db, &o, &it));
	if (err)
		return err;
	for (; cask_iter_valid(it); cask_iter_next(it)) {
		key = cask_iter_key(it, &klen);
		err = fs_errno(cask_batch_delete(b, key, klen));
		if (err)
			break;
		(*n)++;
	}
	if (!err)
		err = fs_errno(cask_iter_error(it));
	cask_iter_free(it);
	return err;
}

int store_delete_inode(struct fs *fs, struct cask_batch *b, uint64_t ino)
{
	uint8_t key[INO_KEY_LEN];
	uint64_t n;
	int err;

	ino_key(key, KEY_INODE, ino);
	err = fs_errno(cask_batch_delete(b, key, sizeof(key)));
	if (!err)
		err = store_delete_range(fs, b, KEY_CHUNK, ino, 0, &n);
	if (!err)
		err = store_delete_range(fs, b, KEY_XATTR, ino, 0, &n);
	ino_key(key, KEY_ORPHAN, ino);
	if (!err && cask_exists(fs->db, key, sizeof(key)) == 1)
		err = fs_errno(cask_batch_delete(b, key, sizeof(key)));
	return err;
}

int store_finish(struct fs *fs, struct cask_batch *b, struct fs_inode *in,
		 const struct inode_attr *saved, bool frees, int err)
{
	if (!err)
		err = store_put_inode(fs, b, in);
	if (!err)
		err = frees ? store_commit_frees(b) : store_commit(b);
	cask_batch_free(b);
	if (!err)
		in->cdirty = in->adirty = false;
	else if (saved)
		in->a = *saved;
	return err;
}
