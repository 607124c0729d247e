/*
 * gateway.h - the one way from fs/ to libcask (fs/gateway.c is the only
 * file of fs/ that includes cask.h). Every function returns 0 or a
 * negative errno value (libcask's codes are converted in gateway.c alone:
 * CASK_ENOTFOUND becomes -ENOENT, damage -EIO); none swallows an error.
 *
 * Changes go through a transaction, one per operation: it owns the batch
 * and a snapshot of every in-memory inode the operation changes, and
 * txn_finish() either commits the batch and keeps the changes or puts
 * every held inode back as it was and commits nothing. The rule for
 * callers: hold an inode (txn_hold, txn_hold_data) before changing it.
 *
 * Reads go to the store directly; scans walk the keys with a prefix and
 * end with the iterator's error, never with a shorter list.
 *
 * Fault seam (tests): gw_fail_once() makes the N-th gateway call from now
 * fail once; each function below that returns an error counts as a call.
 *
 * Durability: a commit is visible when txn_finish() returns; the operation
 * waits for it to be durable after releasing its locks (txn_wait(), called
 * by fs_wrunlock()), so waits of concurrent operations share fdatasyncs.
 *
 * Locks: the callers' (fs->wmu and fs->lock, see internal.h); the gateway
 * takes none, but txn_finish() lets readers in during the commit's write.
 */
#ifndef CASKFS_GATEWAY_H
#define CASKFS_GATEWAY_H

#include "schema.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs;
struct fs_inode;
struct fs_options;
struct cask_batch;
struct cask_iter;

/* ------------------------------------------------------------ the store */

/** Fill the store's fields of @p o (create_if_missing to log_arg) with
 *  libcask's defaults (fs_options_init()). */
void gw_options_init(struct fs_options *o);
/** Open the store of @p fs in @p dir with the store's settings of @p o.
 *  @return 0; -EBUSY (open elsewhere); -EIO (damaged); -EPROTO;
 *  -ENOTEMPTY (not a store's files); -ENOENT; -EINVAL; -ENOMEM; other
 *  -errno. */
int gw_open(struct fs *fs, const char *dir, const struct fs_options *o);
/** Close the store (accepts a @p fs whose open failed). @return 0 or
 *  the close's error. */
int gw_close(struct fs *fs);

/** Close the store and remove it if its open created it
 *  (cask_close_destroy). @return as fs_close_undo(). */
int gw_close_destroy(struct fs *fs);
/** Bytes the store takes on disk: its segments (live and dead bytes),
 *  the merge inputs kept for a copy, and the space reserve. */
uint64_t gw_disk_bytes(struct fs *fs);
/** Keys in the store (expired ones included until merged). */
uint64_t gw_keys(struct fs *fs);
/** Make the whole log durable (cask_sync). @return 0, -EIO, -errno. */
int gw_sync(struct fs *fs);
/** Bytes of disk space the store holds for fallocate (cask_hold()). */
uint64_t gw_held(struct fs *fs);
/** Make the store hold @p bytes for fallocate, taking or giving back the
 *  difference (at mount). @return 0; -ENOSPC; -EFBIG; -EROFS; -EIO;
 *  other -errno (the held bytes unchanged). */
int gw_hold_set(struct fs *fs, uint64_t bytes);

/* --------------------------------------------------------------- damage */

/** Where a record lies, as libcask names it: the segment file's name in
 *  the store directory, its segment id (0 when unknown: the record moved
 *  before it could be located) and the record's offset in it. */
struct gw_loc {
	char file[32];
	uint32_t seg;
	uint64_t off;
};

/** A key whose newest version the store's open found damaged. */
struct gw_damaged {
	const void *key; /* borrowed for the call */
	size_t klen;
	struct gw_loc loc; /* its damaged record */
	/** The record may or may not have held the newest version (its
	 *  sequence number does not read plausibly): reads of the key serve
	 *  the version before it. */
	bool uncertain;
};

/** Call @p fn once for each key whose newest version the store's open
 *  found damaged: all of them, in log order (libcask's
 *  cask_damaged_keys()); *@p d is borrowed for the call, which may read
 *  the store. A nonzero return stops the walk. @return 0, or that value. */
int gw_damaged_keys(struct fs *fs,
		    int (*fn)(void *arg, const struct gw_damaged *d),
		    void *arg);
/** The damaged ranges the store's open found, and their bytes. */
void gw_damaged_ranges(struct fs *fs, uint64_t *ranges, uint64_t *bytes);

/* ---------------------------------------------------------------- reads */

/** Copy the value of @p key into @p buf (at most @p size bytes).
 *  @param[out] len the value's full length. @return 0; -ENOENT; -EIO. */
int gw_get(struct fs *fs, const void *key, size_t klen, void *buf, size_t size,
	   size_t *len);
/** The value of @p key in a malloc()ed buffer (*@p val, the caller's to
 *  free; NULL on error). @return 0; -ENOENT; -EIO; -ENOMEM. */
int gw_get_alloc(struct fs *fs, const void *key, size_t klen, void **val,
		 size_t *len);
/** Copy bytes [@p off, @p off + @p size) of the value of @p key (clipped
 *  at its end; *@p got says how many). @return 0; -ENOENT; -EIO. */
int gw_get_range(struct fs *fs, const void *key, size_t klen, uint64_t off,
		 void *buf, size_t size, size_t *got);
/** @return 1 if @p key is present, 0 if not, or -errno. */
int gw_exists(struct fs *fs, const void *key, size_t klen);
/** The record of @p key read without error, but its bytes do not make
 *  sense to fs/ (a decoder refused them, a length disagrees with its
 *  inode): name it in the log as damage a read meets (damage.c: once per
 *  record and mount; not for a salvage open). Caller holds fs->lock.
 *  @return -EIO, for the caller to return. */
int gw_record_damaged(struct fs *fs, const void *key, size_t klen);

/* ---------------------------------------------------------------- scans */

/*
 * A scan over the keys that start with a prefix, in key order:
 *
 *     for (err = gw_scan_open(fs, &s, p, plen, NULL, 0); err > 0;
 *          err = gw_scan_next(&s)) {
 *             k = gw_scan_key(&s, &klen);
 *             ...  (break with err < 0 to stop on an error)
 *     }
 *     gw_scan_close(&s);
 *
 * open, next and seek return 1 when positioned at a key, 0 when no key is
 * left, or -errno; after an error the scan has nothing more. Fields are
 * the gateway's.
 */
struct gw_scan {
	struct fs *fs;
	struct cask_iter *it;
	int err; /* the error that ended it */
};

/** Start a scan of the keys with @p prefix, from the first one >= @p start
 *  (NULL: from the first). The bytes of both are copied. @return 1; 0;
 *  -ENOMEM. gw_scan_close() it whatever the result. */
int gw_scan_open(struct fs *fs, struct gw_scan *s, const void *prefix,
		 size_t plen, const void *start, size_t slen);
/** Move to the next key. @return 1; 0; -ENOMEM. */
int gw_scan_next(struct gw_scan *s);
/** Move to the first key >= @p key (within the prefix). @return 1; 0;
 *  -ENOMEM. */
int gw_scan_seek(struct gw_scan *s, const void *key, size_t klen);
/** The current key, borrowed until the scan moves. */
const void *gw_scan_key(struct gw_scan *s, size_t *klen);
/** The current value, borrowed until the scan moves. @return 0; -ENOENT
 *  (removed since the step); -EIO; -ENOMEM. */
int gw_scan_value(struct gw_scan *s, const void **val, size_t *len);
void gw_scan_close(struct gw_scan *s);

/* --------------------------------------------------------- transactions */

#define TXN_HELD_MAX 4 /* inodes one operation changes: rename's four */

/* An inode as it was when the transaction first held it. */
/* An inode's data buffer (struct fs_inode, internal.h), which a
 * transaction keeps whole. */
struct inode_buf {
	char *p;
	size_t cap;
	uint64_t cidx; /* the chunk p holds (a chunked file) */
	bool cvalid;   /* p holds chunk cidx */
	bool cexists;  /* chunk cidx was in the store when loaded */
};

struct txn_held {
	struct fs_inode *in;
	struct inode_attr a;
	uint64_t parent;
	char *name;
	bool removed, adirty, cdirty;
	bool data; /* buf was kept (txn_hold_data) */
	struct inode_buf buf;
};

struct txn {
	struct fs *fs;
	struct cask_batch *b; /* made at the first change */
	struct txn_held held[TXN_HELD_MAX];
	int nheld;
	/** The operation frees space (unlink, rmdir, truncate to a smaller
	 *  size, hole punch, removexattr, reclaim, a file renamed over
	 *  another): on a full disk it may use libcask's space reserve, so
	 *  that space can be freed at all. */
	bool frees;
	/** Durable when txn_finish() returns, whatever the sync mode. */
	bool sync;
	/** Readers stay out while the commit is written (internal.h): it
	 *  changes what they read from memory and from the store together
	 *  (a directory's name and its entries' keys; a file's size and the
	 *  chunks a shrink or hole punch deletes). */
	bool excl;
	uint64_t pos; /* the commit's log position, 0 before it */
	/** Held bytes (fallocate's, fs/resv.c) the commit spends or gives
	 *  back (cask_batch_unhold()). */
	uint64_t unhold;
	/** Held bytes taken by gw_hold() for this transaction: given back if
	 *  it fails. */
	uint64_t taken;
};

/** Start a transaction on @p fs (cannot fail; a read-only store refuses
 *  the first change with -EROFS). End it with txn_finish(). */
void txn_begin(struct fs *fs, struct txn *tx);
/** Keep @p in's attributes, name, parent and flags, to be put back if the
 *  transaction fails. Holding an inode twice keeps the first state. */
void txn_hold(struct txn *tx, struct fs_inode *in);
/** txn_hold() and keep @p in's data buffer too: @p in gets a copy to
 *  change (the batch may take the buffered chunk while the buffer moves
 *  on to another). @return 0; -ENOMEM (nothing kept). */
int txn_hold_data(struct txn *tx, struct fs_inode *in);
/** @return whether @p tx holds @p in (txn_hold()). */
bool txn_holds(const struct txn *tx, const struct fs_inode *in);
/** Add a put (the bytes are copied). @return 0; -EROFS; -ENOMEM. */
int txn_put(struct txn *tx, const void *key, size_t klen, const void *val,
	    size_t len);
/** Add a delete. @return 0; -EROFS; -ENOMEM. */
int txn_delete(struct txn *tx, const void *key, size_t klen);
/** Read @p key as the transaction would leave it, into @p buf (at most
 *  @p size bytes; *@p len is the value's full length). @return 0;
 *  -ENOENT; -EIO; -ENOMEM. */
int txn_get(struct txn *tx, const void *key, size_t klen, void *buf,
	    size_t size, size_t *len);
/** Make the store hold @p bytes more for what @p tx promises (a
 *  fallocate), given back if the transaction fails. @return 0; -ENOSPC;
 *  -EFBIG (the held bytes would pass INT64_MAX or what a file may hold);
 *  -EROFS; -EIO; other
 *  -errno. */
int gw_hold(struct txn *tx, uint64_t bytes);
/** @return true once a change has been added. */
bool txn_changes(const struct txn *tx);
/**
 * The end of every transaction, and its one commit point. Unless @p err,
 * commit what was added (nothing to commit is success) and keep the held
 * inodes as they are now; on @p err or a failed commit, put every held
 * inode back as it was held and add nothing to the store. Under
 * fs_wrlock(), readers come in while the commit is written and see the
 * held inodes as they were (unless tx->excl or tx->sync; internal.h):
 * pointers the caller holds stay valid, but only the held inodes are
 * kept from them. The commit is
 * then visible but not yet durable: its position is added to what the
 * operation owes (fs->owed), for txn_wait() once the operation has
 * released fs->lock; a tx->sync transaction waits here instead (an error
 * of that wait, -EIO, undoes nothing: the operation is visible in the
 * store already, as after a failed fsync).
 * @return @p err, or the commit's error (-ENOSPC, -EIO, -EROFS, ...), or
 *   (tx->sync) the wait's.
 */
int txn_finish(struct txn *tx, int err);

/** Owe the whole log as it is now, made durable whatever the sync mode
 *  (fsync); under sync=always nothing more than the operation's own
 *  commits (every operation answered before it is durable, and the log
 *  up to its commits is a prefix of theirs). @return 0; -ENOMEM; -EIO. */
int txn_owe_log(struct fs *fs);

/** What an operation waits for after its locks: the log position of its
 *  last commit, and whether it must be durable whatever the sync mode. */
struct txn_owed {
	uint64_t pos; /* 0: nothing */
	bool sync;
};

/** Take (and clear) what the operation holding fs->lock (write) owes. */
struct txn_owed txn_take_owed(struct fs *fs);
/** Wait until @p o is as durable as the sync mode (or @p o.sync) asks:
 *  under sync=always, or with @p o.sync, fdatasynced, shared with the
 *  operations waiting at once. Call with no lock of fs/ held.
 *  @return 0; -EIO (the fdatasync failed, now or earlier: the store takes
 *  no more writes). */
int txn_wait(struct fs *fs, struct txn_owed o);

/* ------------------------------------------------------------ the seam */

/** Make the gateway call @p n calls from now (0: the next) fail with
 *  @p err, once; -1 disarms. Process-wide; for tests. */
void gw_fail_once(long n, int err);
/** How many calls the seam has failed since it was armed. */
long gw_failed(void);

#endif
