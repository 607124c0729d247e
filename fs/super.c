/*
 * super.c - the filesystem as a whole: open (format on first use, orphan
 * reclaim; for fs_open_salvage() in fsck.c only its first steps), close,
 * inode-number allocation and statfs. (sync, merge, backup and stats are
 * the store's alone: gateway.c.)
 *
 * Inode numbers are reserved in blocks of INO_BLOCK: the superblock holds
 * a high-water mark below which numbers may be in use; it is rewritten once
 * per block, before any number of the block is handed out, and a reopen
 * starts at the mark, so a number is never reused even after a crash.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INO_BLOCK 1024u

void fs_options_init(struct fs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->chunk_size = FS_CHUNK_SIZE_DEFAULT;
	o->inline_max = FS_INLINE_MAX_DEFAULT;
	o->root_uid = getuid();
	o->root_gid = getgid();
	o->root_mode = 0755;
	gw_options_init(o);
}

static int put_super(struct txn *tx, uint64_t hwm)
{
	struct fs *fs = tx->fs;
	struct super sb = {FS_FORMAT_VERSION, fs->chunk_size, fs->inline_max,
			   hwm};
	uint8_t val[SUPER_LEN];

	super_encode(&sb, val);
	return txn_put(tx, SUPER_KEY, SUPER_KEY_LEN, val, sizeof(val));
}

/* The mark is written by itself, before the number is used: it is no
 * part of the operation that takes the number, which may fail. */
int super_alloc_ino(struct fs *fs, uint64_t *ino)
{
	struct txn tx;
	int err;

	if (fs->next_ino >= fs->ino_hwm) {
		txn_begin(fs, &tx);
		err = put_super(&tx, fs->next_ino + INO_BLOCK);
		err = txn_finish(&tx, err);
		if (err)
			return err;
		fs->ino_hwm = fs->next_ino + INO_BLOCK;
	}
	*ino = fs->next_ino++;
	return 0;
}

static int format(struct fs *fs, const struct fs_options *o)
{
	struct fs_inode root = {.ino = FS_ROOT_INO};
	struct txn tx;
	int err;

	if (o->chunk_size < FS_CHUNK_SIZE_MIN ||
	    o->chunk_size > FS_CHUNK_SIZE_MAX ||
	    (o->chunk_size & (o->chunk_size - 1)) ||
	    o->inline_max > o->chunk_size)
		return -EINVAL;
	fs->chunk_size = o->chunk_size;
	fs->inline_max = o->inline_max;
	root.a.mode = S_IFDIR | (o->root_mode & 07777);
	root.a.uid = o->root_uid;
	root.a.gid = o->root_gid;
	root.a.nlink = 2;
	root.a.atime = root.a.mtime = root.a.ctime = fs_now();
	txn_begin(fs, &tx);
	tx.sync = true;
	err = put_super(&tx, FS_ROOT_INO + 1);
	if (!err)
		err = store_put_inode(&tx, &root);
	if (!err)
		err = namei_put(&tx, "/", 1, FS_ROOT_INO, S_IFDIR);
	return txn_finish(&tx, err);
}

/* An empty store is formatted; one that holds keys but no superblock
 * lost it (cask fsck --repair writes it again): formatting it would
 * overwrite its root and hand out inode numbers in use. */
static bool store_empty(struct fs *fs)
{
	return gw_keys(fs) == 0;
}

static int load_super(struct fs *fs, const struct fs_options *o)
{
	uint8_t val[SUPER_LEN];
	struct super sb;
	size_t len;
	int err;

	err = gw_get(fs, SUPER_KEY, SUPER_KEY_LEN, val, sizeof(val), &len);
	if (err == -ENOENT && !store_empty(fs))
		return -EIO;
	if (err == -ENOENT && !fs->read_only) {
		err = format(fs, o);
		if (err)
			return err;
		err = gw_get(fs, SUPER_KEY, SUPER_KEY_LEN, val, sizeof(val),
			     &len);
	}
	if (err)
		return err;
	err = super_decode(&sb, val, len);
	if (err == -EIO)
		gw_record_damaged(fs, SUPER_KEY, SUPER_KEY_LEN);
	if (err)
		return err;
	fs->chunk_size = sb.chunk_size;
	fs->inline_max = sb.inline_max;
	fs->ino_hwm = fs->next_ino = sb.ino_hwm;
	return 0;
}

/* Count the keys starting with byte @p type, collecting up to @p max of
 * their inode numbers into @p inos. */
static int scan(struct fs *fs, uint8_t type, uint64_t *inos, size_t max,
		uint64_t *count)
{
	struct gw_scan s;
	const uint8_t *key;
	size_t klen;
	int err;

	*count = 0;
	for (err = gw_scan_open(fs, &s, &type, 1, NULL, 0); err > 0;
	     err = gw_scan_next(&s)) {
		key = gw_scan_key(&s, &klen);
		if (*count < max && klen == INO_KEY_LEN)
			inos[*count] = get_be64(key + 1);
		(*count)++;
	}
	gw_scan_close(&s);
	return err;
}

/* Delete the inodes a crash left unlinked but open. */
static int reclaim_orphans(struct fs *fs)
{
	uint64_t inos[256], n;
	struct txn tx;
	int err;

	do {
		err = scan(fs, KEY_ORPHAN, inos, 256, &n);
		if (err || n == 0)
			return err;
		if (n > 256)
			n = 256;
		txn_begin(fs, &tx);
		tx.frees = true;
		for (uint64_t i = 0; i < n && !err; i++)
			err = store_delete_inode(&tx, inos[i]);
		err = txn_finish(&tx, err);
	} while (!err);
	return err;
}

static int setup(struct fs *fs, const char *dir, const struct fs_options *o,
		 bool salvage)
{
	pthread_rwlockattr_t ra;
	struct fs_inode *root;
	int err;

	fs->read_only = o->read_only;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&fs->wmu, NULL);
	pthread_mutex_init(&fs->tbl_lock, NULL);
	fs->dir = fsmem_strdup(dir);
	if (!fs->dir || itable_init(fs) || damage_setup(fs))
		return -ENOMEM;
	fs->salvage = salvage;
	err = gw_open(fs, dir, o);
	/* fsck.c reads the rest from the whole store. */
	if (err || salvage)
		return err;
	/* Transactions run under the write side (internal.h), even here. */
	fs_wrlock(fs);
	damage_report_open(fs);
	err = load_super(fs, o);
	/* Before the reclaim, which gives back what the orphans reserved. */
	if (!err && !fs->read_only)
		err = resv_open(fs);
	if (!err && !fs->read_only)
		err = reclaim_orphans(fs);
	err = fs_wrunlock(fs, err);
	if (!err)
		err = scan(fs, KEY_INODE, NULL, 0, &fs->inodes);
	if (!err)
		err = itable_get(fs, FS_ROOT_INO, 0, NULL, 0, &root);
	return err;
}

int super_open(const char *dir, const struct fs_options *opts, bool salvage,
	       struct fs **out)
{
	struct fs_options def;
	struct fs *fs;
	int err;

	*out = NULL;
	if (!opts) {
		fs_options_init(&def);
		opts = &def;
	}
	fs = fsmem_calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	err = setup(fs, dir, opts, salvage);
	if (err) {
		fs_close(fs);
		return err;
	}
	*out = fs;
	return 0;
}

int fs_open_store(const char *dir, const struct fs_options *opts,
		  struct fs **out)
{
	return super_open(dir, opts, false, out);
}

/* fs_close(), and with @p undo fs_close_undo(). */
static int close_fs(struct fs *fs, bool undo)
{
	int err = 0, e;

	if (!fs)
		return 0;
	if (fs->db) {
		fs_wrlock(fs);
		for (size_t i = 0; fs->tbl && i < fs->tbl_size; i++) {
			for (struct fs_inode *in = fs->tbl[i]; in;
			     in = in->hnext) {
				e = store_flush_inode(fs, in);
				err = err ? err : e;
			}
		}
		err = fs_wrunlock(fs, err);
	}
	while (fs->files) {
		struct fs_file *fh = fs->files;

		fs->files = fh->next;
		free(fh);
	}
	itable_free(fs);
	if (fs->db) {
		e = undo ? gw_close_destroy(fs) : gw_close(fs);
		err = undo || !err ? e : err;
		pthread_rwlock_destroy(&fs->lock);
		pthread_mutex_destroy(&fs->wmu);
		pthread_mutex_destroy(&fs->tbl_lock);
	}
	damage_teardown(fs);
	free(fs->dir);
	free(fs);
	return err;
}

int fs_close(struct fs *fs)
{
	return close_fs(fs, false);
}

int fs_close_undo(struct fs *fs)
{
	return fs ? close_fs(fs, true) : 0;
}

int fs_statfs(struct fs *fs, struct statvfs *st)
{
	const uint64_t bs = 4096;
	struct statvfs v;
	uint64_t avail, bfree, inodes;

	if (statvfs(fs->dir, &v) != 0)
		return -errno;
	fs_rdlock(fs);
	inodes = fs->inodes;
	fs_unlock(fs);
	avail = (uint64_t)v.f_bavail * v.f_frsize / bs;
	bfree = (uint64_t)v.f_bfree * v.f_frsize / bs;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = bs;
	/* Used: what the store holds on disk (kept merge inputs and the
	 * space reserve too), and HELD, whose fallocated blocks are not free. */
	st->f_blocks = (gw_disk_bytes(fs) + gw_held(fs) + bs - 1) / bs + bfree;
	st->f_bfree = bfree;
	st->f_bavail = avail;
	/* An inode costs a few hundred bytes of store: count 256. */
	st->f_ffree = st->f_favail = avail * (bs / 256);
	st->f_files = st->f_ffree + inodes;
	st->f_namemax = FS_NAME_MAX;
	st->f_flag = fs->read_only ? ST_RDONLY : 0;
	return 0;
}
