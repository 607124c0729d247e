/*
 * resv.c - the space fallocate promises: a file's reservation.
 *
 * fallocate mode 0 reserves room for storing each chunk of its range that
 * the store lacks (a hole), so that writing the range later cannot fail
 * with ENOSPC. libcask holds the room (cask_hold(), the file HELD); the
 * file's reservation, a count of chunks, is the value of its key
 * 0x05 ino (docs/FORMAT.md), changed in the same transaction as the
 * chunks and the size, so that a crash keeps them in step.
 *
 * One rule keeps the count: it never exceeds the file's holes (its
 * chunks below the size that are not stored). Every inode record a
 * transaction writes settles it (resv_settle(), from store_put_inode()):
 * a write that stores a chunk into a hole makes a hole fewer, and the
 * chunk's share of the room is spent by that commit, given back by
 * libcask just before the commit's records are written; a truncate that
 * drops holes gives their share back the same way; removing the file
 * gives all of it back. A chunk's share is its bytes plus one block of
 * the data directory's file system plus 256 bytes (resv_open()): a
 * commit may store a single chunk, and its append takes the chunk's
 * record, the records beside it (inode, reservation count, commit mark:
 * under 256 bytes with the chunk record's header) and at worst one block
 * more than its length, the one it ends in. The count belongs to the
 * file, not to offsets: a write into any hole below the size spends it.
 *
 * At mount the room held is evened out with the sum of the counts
 * (resv_open()): what a crash left between HELD and the keys.
 *
 * Locks: the writers' (fs->wmu, fs->lock write), as the transactions.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

static uint64_t cost(const struct fs *fs)
{
	return fs->chunk_size + fs->resv_slack;
}

/* The reservation of inode @p ino as @p tx would leave it (0: none). */
static int resv_read(struct txn *tx, uint64_t ino, uint64_t *n)
{
	uint8_t key[INO_KEY_LEN], val[8];
	size_t len;
	int err;

	ino_key(key, KEY_RESV, ino);
	err = txn_get(tx, key, sizeof(key), val, sizeof(val), &len);
	*n = 0;
	if (err == -ENOENT)
		return 0;
	if (!err && len != sizeof(val))
		return gw_record_damaged(tx->fs, key, sizeof(key));
	if (!err)
		*n = get_le64(val);
	return err;
}

static int resv_write(struct txn *tx, uint64_t ino, uint64_t n)
{
	uint8_t key[INO_KEY_LEN], val[8];

	ino_key(key, KEY_RESV, ino);
	if (!n)
		return txn_delete(tx, key, sizeof(key));
	put_le64(val, n);
	return txn_put(tx, key, sizeof(key), val, sizeof(val));
}

/* Chunks of @p in below its size that are not stored. */
static uint64_t holes(const struct fs *fs, const struct fs_inode *in)
{
	uint64_t cs = fs->chunk_size, n = in->a.size / cs + !!(in->a.size % cs);

	if (in->a.flags & INODE_F_INLINE)
		return 0;
	return n > in->a.nchunks ? n - in->a.nchunks : 0;
}

int resv_settle(struct txn *tx, struct fs_inode *in)
{
	uint64_t n, h;
	int err;

	if (!tx->fs->resv_any)
		return 0;
	err = resv_read(tx, in->ino, &n);
	h = holes(tx->fs, in);
	if (err || n <= h)
		return err;
	tx->unhold += (n - h) * cost(tx->fs);
	return resv_write(tx, in->ino, h);
}

int resv_drop(struct txn *tx, uint64_t ino)
{
	uint64_t n;
	int err;

	if (!tx->fs->resv_any)
		return 0;
	err = resv_read(tx, ino, &n);
	if (err || !n)
		return err;
	tx->unhold += n * cost(tx->fs);
	return resv_write(tx, ino, 0);
}

/* Chunks of [@p first, @p last) of @p in that the store holds. */
static int stored(struct fs *fs, struct fs_inode *in, uint64_t first,
		  uint64_t last, uint64_t *n)
{
	struct gw_scan s;
	const uint8_t *k;
	size_t klen;
	int err;

	*n = 0;
	for (err = store_scan_inode(fs, &s, KEY_CHUNK, in->ino, first); err > 0;
	     err = gw_scan_next(&s)) {
		k = gw_scan_key(&s, &klen);
		if (get_be64(k + INO_KEY_LEN) >= last)
			break;
		(*n)++;
	}
	gw_scan_close(&s);
	return err < 0 ? err : 0;
}

int resv_add(struct txn *tx, struct fs_inode *in, uint64_t off, uint64_t end)
{
	struct fs *fs = tx->fs;
	uint64_t cs = fs->chunk_size, first = off / cs;
	uint64_t last = end / cs + !!(end % cs), have, n, want;
	int err;

	if (in->a.flags & INODE_F_INLINE)
		return 0; /* its content is in the inode record */
	err = stored(fs, in, first, last, &have);
	if (!err)
		err = resv_read(tx, in->ino, &n);
	if (err)
		return err;
	want = n + (last - first - have);
	if (want > holes(fs, in))
		want = holes(fs, in);
	if (want <= n)
		return 0;
	if (want - n > (uint64_t)INT64_MAX / cost(fs))
		return -ENOSPC; /* more than any disk holds */
	err = gw_hold(tx, (want - n) * cost(fs));
	if (err == -EFBIG)
		return -ENOSPC; /* HELD cannot grow that far: nor could a file */
	if (!err) {
		fs->resv_any = true;
		err = resv_write(tx, in->ino, want);
	}
	return err;
}

int resv_open(struct fs *fs)
{
	uint8_t type = KEY_RESV;
	struct statvfs v;
	struct gw_scan s;
	const void *val;
	uint64_t sum = 0, n;
	char msg[200];
	size_t len;
	int err;

	if (statvfs(fs->dir, &v) != 0)
		return -errno;
	fs->resv_slack = (uint64_t)v.f_frsize + 256;
	for (err = gw_scan_open(fs, &s, &type, 1, NULL, 0); err > 0;
	     err = gw_scan_next(&s)) {
		err = gw_scan_value(&s, &val, &len);
		if (err)
			break;
		n = len == 8 ? get_le64(val) : 0;
		sum = n > UINT64_MAX - sum ? UINT64_MAX : sum + n;
	}
	gw_scan_close(&s);
	if (err < 0)
		return err;
	fs->resv_any = sum > 0;
	if (sum > (uint64_t)INT64_MAX / cost(fs))
		sum = (uint64_t)INT64_MAX / cost(fs);
	err = gw_hold_set(fs, sum * cost(fs));
	if (err && err != -ENOSPC && err != -EDQUOT)
		return err;
	if (err) {
		snprintf(msg, sizeof(msg),
			 "no room to hold the %llu bytes fallocate reserved: "
			 "writes into those ranges may fail with ENOSPC",
			 (unsigned long long)(sum * cost(fs)));
		fs_log(fs, msg);
	}
	return 0;
}
