/*
 * store.c - inode records with their inline content and dirty chunk, and
 * the removal of an inode's keys, as changes added to a transaction; the
 * reads of a record and of inline content. Everything reaches libcask
 * through the gateway (gateway.h).
 *
 * Callers hold fs->lock for writing for everything that adds to a
 * transaction or changes an inode's buffer; store_get_record() and
 * store_load_inline() only read the store.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int store_get_record(struct fs *fs, uint64_t ino, void **val, size_t *len)
{
	uint8_t key[INO_KEY_LEN];

	ino_key(key, KEY_INODE, ino);
	return gw_get_alloc(fs, key, sizeof(key), val, len);
}

/* The inode record of @p ino does not hold what its header says. */
static int record_damaged(struct fs *fs, uint64_t ino)
{
	uint8_t key[INO_KEY_LEN];

	ino_key(key, KEY_INODE, ino);
	return gw_record_damaged(fs, key, sizeof(key));
}

int store_load_inline(struct fs *fs, struct fs_inode *in)
{
	size_t cap = fs->inline_max ? fs->inline_max : 1, len;
	void *rec = NULL;
	int err;

	if (in->buf.p)
		return 0;
	if (in->a.size > cap)
		return record_damaged(fs, in->ino);
	/* Nothing to read for an empty file (a new one has no record yet). */
	if (in->a.size) {
		err = store_get_record(fs, in->ino, &rec, &len);
		if (err)
			return err;
		if (len < INODE_HDR_LEN + in->a.size) {
			free(rec);
			return record_damaged(fs, in->ino);
		}
	}
	in->buf.p = fsmem_calloc(1, cap);
	if (!in->buf.p) {
		free(rec);
		return -ENOMEM;
	}
	in->buf.cap = cap;
	if (rec)
		memcpy(in->buf.p, (char *)rec + INODE_HDR_LEN, in->a.size);
	free(rec);
	return 0;
}

int store_put_chunk(struct txn *tx, struct fs_inode *in)
{
	struct fs *fs = tx->fs;
	uint8_t key[CHUNK_KEY_LEN];
	uint64_t start = in->buf.cidx * fs->chunk_size;
	uint64_t len;

	if (start >= in->a.size)
		return 0;
	len = in->a.size - start;
	if (len > fs->chunk_size)
		len = fs->chunk_size;
	txn_hold(tx, in);
	if (!in->buf.cexists)
		in->a.nchunks++;
	in->buf.cexists = true;
	chunk_key(key, in->ino, in->buf.cidx);
	return txn_put(tx, key, sizeof(key), in->buf.p, len);
}

int store_put_inode(struct txn *tx, struct fs_inode *in)
{
	struct fs *fs = tx->fs;
	uint8_t key[INO_KEY_LEN];
	uint8_t *val;
	void *old = NULL;
	const char *content = NULL;
	size_t clen = 0, oldlen;
	int err;

	if (in->removed)
		return -ENOENT; /* a record now would never be reclaimed */
	txn_hold(tx, in);
	if (in->cdirty && in->buf.cvalid && !(in->a.flags & INODE_F_INLINE)) {
		err = store_put_chunk(tx, in);
		if (err)
			return err;
	}
	/* The chunks stored or dropped so far spend or free its share. */
	err = resv_settle(tx, in);
	if (err)
		return err;
	if (in->a.flags & INODE_F_INLINE) {
		clen = in->a.size;
		content = in->buf.p;
		if (!content && clen) {
			err = store_get_record(fs, in->ino, &old, &oldlen);
			if (err)
				return err;
			if (oldlen < INODE_HDR_LEN + clen) {
				free(old);
				return record_damaged(fs, in->ino);
			}
			content = (char *)old + INODE_HDR_LEN;
		}
	}
	val = fsmem_alloc(INODE_HDR_LEN + clen);
	if (!val) {
		free(old);
		return -ENOMEM;
	}
	inode_encode(&in->a, val);
	if (clen)
		memcpy(val + INODE_HDR_LEN, content, clen);
	ino_key(key, KEY_INODE, in->ino);
	err = txn_put(tx, key, sizeof(key), val, INODE_HDR_LEN + clen);
	free(val);
	free(old);
	/* Clean once committed; held, so a failure makes it dirty again. */
	if (!err)
		in->cdirty = in->adirty = false;
	return err;
}

int store_flush_inode(struct fs *fs, struct fs_inode *in)
{
	struct txn tx;

	/* A removed inode's keys are gone: nothing of it is written again. */
	if (in->removed || (!in->cdirty && !in->adirty))
		return 0;
	txn_begin(fs, &tx);
	return txn_finish(&tx, store_put_inode(&tx, in));
}

int store_scan_inode(struct fs *fs, struct gw_scan *s, uint8_t type,
		     uint64_t ino, uint64_t from)
{
	uint8_t prefix[INO_KEY_LEN], start[CHUNK_KEY_LEN];

	ino_key(prefix, type, ino);
	if (type != KEY_CHUNK || !from)
		return gw_scan_open(fs, s, prefix, sizeof(prefix), NULL, 0);
	chunk_key(start, ino, from);
	return gw_scan_open(fs, s, prefix, sizeof(prefix), start,
			    sizeof(start));
}

int store_delete_range(struct txn *tx, uint8_t type, uint64_t ino,
		       uint64_t from, uint64_t *n)
{
	struct gw_scan s;
	const void *key;
	size_t klen;
	int err;

	*n = 0;
	for (err = store_scan_inode(tx->fs, &s, type, ino, from); err > 0;
	     err = gw_scan_next(&s)) {
		key = gw_scan_key(&s, &klen);
		err = txn_delete(tx, key, klen);
		if (err)
			break;
		(*n)++;
	}
	gw_scan_close(&s);
	return err;
}

int store_delete_inode(struct txn *tx, uint64_t ino)
{
	uint8_t key[INO_KEY_LEN];
	uint64_t n;
	int err;

	ino_key(key, KEY_INODE, ino);
	err = txn_delete(tx, key, sizeof(key));
	if (!err)
		err = store_delete_range(tx, KEY_CHUNK, ino, 0, &n);
	if (!err)
		err = store_delete_range(tx, KEY_XATTR, ino, 0, &n);
	ino_key(key, KEY_ORPHAN, ino);
	if (!err)
		err = gw_exists(tx->fs, key, sizeof(key));
	if (err == 1)
		err = txn_delete(tx, key, sizeof(key));
	return err ? err : resv_drop(tx, ino);
}
