/*
 * internal.h - what the files of fs/ share: the filesystem handle, the
 * in-memory inode, and the helpers each file exports to the others.
 *
 * Locking: three locks, always taken in this order (wmu, lock, tbl_lock);
 * libcask's own locks lie below all three.
 *  - fs->wmu, a mutex: one writer at a time. Every operation that changes
 *    the store or the in-memory inodes (the "writers": everything but
 *    lookup, getattr, readlink, read, lseek, readdir, opendir, getxattr,
 *    listxattr and statfs) holds it for its whole length, from
 *    fs_wrlock() to fs_wrunlock(), the commit's write included, but not
 *    the wait for durability: fs_wrunlock() releases every lock first, so
 *    that nobody waits for an fdatasync under a lock, and writers waiting
 *    at once share one (libcask's group commit).
 *  - fs->lock, an rwlock (writer-preferring), guards the in-memory inodes
 *    that readers see. Readers hold the read side for their whole length
 *    (their own store reads included); a writer holds the write side
 *    while it prepares its transaction (reads, in-memory changes) but not
 *    while the commit is written: txn_finish() puts the inodes it holds
 *    back as they were, lets readers in during the write (fs_let_readers,
 *    fs->wmu still held), and takes the write side again to install the
 *    changes once the commit is visible. Readers in between see memory as
 *    before the operation and the store before or after it. Where that
 *    pair is no consistent view the transaction keeps readers out across
 *    its write (tx->excl): the rename of a directory (its path is in
 *    memory, its entries' keys in the store), and every deletion of a
 *    file's chunks below its old size (a shrinking truncate, O_TRUNC, a
 *    hole punch: readers would read the old size and buffer over chunks
 *    already gone, zeros the file never held); so do transactions nested
 *    in another one and synchronous ones (the superblock).
 *    Inodes are freed only by writers with both held, so a pointer found
 *    under either lock stays valid until the holder releases it.
 *  - Idle operations: a flush or release of a file with nothing to commit,
 *    a write that lands in the buffer and commits nothing, and an open
 *    without O_TRUNC (file.c),
 *    take the write side of fs->lock alone, not fs->wmu (fs_idle_lock()):
 *    they decide under it that they commit nothing (or else let go and
 *    take both), change memory as a writer would and commit nothing.
 *    Holding the write side they exclude every writer except one whose
 *    commit is being written (fs->window, set and cleared under the
 *    write side); they proceed only if that transaction does not hold
 *    their inode, and free no inode while it is written (a writer may
 *    keep pointers it did not hold). So what is "fs->wmu" below may also
 *    be changed under the write side by an idle operation.
 *  - fs->tbl_lock, a mutex, guards the inode table's chains and the
 *    nlookup counters (readers insert inodes and take lookup references
 *    concurrently). Never held across store I/O.
 * Readers never wait for the commit's write or an fdatasync of a writer;
 * they may wait for a writer's preparation, which reads the store (pages
 * the kernel holds, mostly) with the write side held.
 */
#ifndef CASKFS_INTERNAL_H
#define CASKFS_INTERNAL_H

#include "caskfs.h"
#include "fsmem.h"
#include "gateway.h"
#include "schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every allocation of fs/ goes through fsmem.h, where a test can fail it:
 * one made directly would escape the fault sweep (tests/fs
 * test_fs_atomic.c). free() stays. Only fs/'s own files (CASKFS_CORE,
 * fs/CMakeLists.txt): tests include this header too. */
#ifdef CASKFS_CORE
#pragma GCC poison malloc calloc realloc strdup strndup asprintf vasprintf
#endif

struct cask_db;

/*
 * An inode in memory: cached attributes, the name of a directory, and the
 * write buffer of an open file.
 *
 * The table keeps an inode while the kernel holds lookup references, while
 * it is open, and (for paths) while it is a live directory; the root never
 * leaves.
 *
 * Data buffer (only while open; struct inode_buf, gateway.h): for an
 * inline file, buf.p holds the whole content [0, size) and zeros up to its
 * capacity; for a chunked file it holds the image of chunk buf.cidx when
 * buf.cvalid (zeros past the end of the file). cdirty: the buffer differs
 * from the store; adirty: the attributes do.
 * While neither is set the store equals memory.
 *
 * "fs->lock (write)" below: changed by a writer holding fs->wmu and the
 * write side; read under either side of fs->lock.
 */
struct fs_inode {
	uint64_t ino;
	struct fs_inode *hnext; /* tbl_lock */
	uint64_t nlookup;	/* tbl_lock */
	uint32_t nopen;		/* fs->wmu */
	struct inode_attr a;	/* written under fs->lock (write) */

	/* Directories: where this directory is. Set once under tbl_lock by
	 * the first lookup by name (a reader, maybe): parent first, then the
	 * name published (inode_dir_name() reads it without tbl_lock);
	 * changed by rename under fs->lock (write). */
	uint64_t parent;
	char *name;
	bool removed; /* its keys are gone from the store */

	/* fs->lock (write) to change, either side to read */
	struct inode_buf buf;
	bool cdirty;
	bool adirty;

	/* Writeback (fs_writeback(), file.c; fs->lock write): wb_base is the
	 * size when the first writeback since the writers' last flush,
	 * fsync or truncate came (wb_started since); wb_err is the first
	 * writeback error since the last flush, for the next flush or fsync
	 * to report; while it is set no writeback grows the file past
	 * wb_limit (>= wb_base; a truncate lifts it, the size being told). */
	bool wb_started;
	int wb_err;
	uint64_t wb_base, wb_limit;
};

struct fs {
	struct cask_db *db;
	char *dir;
	bool read_only;
	/* sync=always: every operation waits for its commits before it
	 * returns (fs_wrunlock()) */
	bool sync_always;
	/* Opened by fsck.c (super_open): the store must exist, and damage
	 * met by reads is not logged (fsck and salvage name it themselves) */
	bool salvage;
	/* libcask's log callback, also for fs/'s own lines (NULL: stderr) */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
	struct fs_damage *damage; /* damage.c, under its own lock */
	uint32_t chunk_size;
	uint32_t inline_max;
	/* The last directory listing's tag (readdir.c); atomic */
	uint32_t listing_tags;

	pthread_mutex_t wmu;
	pthread_rwlock_t lock;
	pthread_mutex_t tbl_lock;

	/* wmu */
	bool writing; /* held by fs_wrlock(), the transactions' lock */
	/* The transaction whose commit is being written with readers let in
	 * (txn_finish()), or NULL; changed and read under fs->lock (write) */
	struct txn *window;
	int txns;	      /* transactions open (nested: more than one) */
	struct txn_owed owed; /* what the operation waits for after it */
	/* wmu, and fs->lock (write) to change */
	uint64_t next_ino;
	uint64_t ino_hwm;
	uint64_t inodes;
	struct fs_file *files; /* open handles, freed by fs_close() */
	bool resv_any;	       /* a file may have a reservation (resv.c) */
	uint64_t resv_slack;   /* a reserved chunk's room past its bytes */

	/* tbl_lock */
	struct fs_inode **tbl;
	size_t tbl_size;
	size_t tbl_count;
};

struct fs_file {
	struct fs_inode *inode;
	int flags;
	struct fs_file *prev, *next; /* fs->files; fs->lock (write) */
};

struct fs_dir_ent {
	char *name;
	uint64_t ino;
	uint32_t type;
};

struct fs_dir {
	uint64_t ino;
	uint32_t tag;		 /* this listing's, in its cookies */
	struct fs_dir_ent *ents; /* lazily filled list; index + 1 in cookies */
	size_t count;
	size_t cap;
	bool eof;
};

/* lock.c */
void fs_rdlock(struct fs *fs);
/** Take fs->wmu, then the write side of fs->lock. */
void fs_wrlock(struct fs *fs);
/** For an idle operation on @p in (above): take the write side of
 *  fs->lock, without fs->wmu. @return true (held: fs_unlock() it); false
 *  (nothing held) if the commit being written holds @p in. */
bool fs_idle_lock(struct fs *fs, const struct fs_inode *in);
/** Whether the commit being written holds @p in (fs->lock write held). */
bool fs_in_commit(const struct fs *fs, const struct fs_inode *in);
/** During a commit's write: release the write side, keeping fs->wmu. */
void fs_let_readers(struct fs *fs);
/** After it: take the write side again. */
void fs_stop_readers(struct fs *fs);
/** Release the read side. */
void fs_unlock(struct fs *fs);
/** Release the write side and fs->wmu, then wait for the operation's
 *  commits to be durable (txn_wait()), whatever @p err. @return @p err
 *  (the operation's result) or else the wait's error. */
int fs_wrunlock(struct fs *fs, int err);
struct timespec fs_now(void);

/* itable.c: the inode table */
int itable_init(struct fs *fs);
void itable_free(struct fs *fs);
/** Find or load @p ino. @p parent/@p name (may be NULL) name a directory
 *  reached by lookup. @p nlookup references are added. @return 0, -ENOENT,
 *  -EIO, -ENOMEM. */
int itable_get(struct fs *fs, uint64_t ino, uint64_t parent, const char *name,
	       uint64_t nlookup, struct fs_inode **out);
/** The cached inode @p ino or NULL (valid while fs->lock is held). */
struct fs_inode *itable_find(struct fs *fs, uint64_t ino);
/** Insert a new inode built by the caller (fs->lock write held) with
 *  @p nlookup references. If the table has it already (a reader loaded it
 *  from the store while its commit was written), @p in is freed and the
 *  references go to that one. @return the table's inode. */
struct fs_inode *itable_insert(struct fs *fs, struct fs_inode *in,
			       uint64_t nlookup);
/** Whether the table keeps @p in when it is open @p nopen times (tbl_lock
 *  or fs->lock write held). */
bool inode_kept(const struct fs_inode *in, uint32_t nopen);
/** Drop @p in from the table if nothing holds it (fs->lock write held). */
void itable_drop_unused(struct fs *fs, struct fs_inode *in);
void itable_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);
/** Drop one lookup reference without freeing (fs->lock read side). */
void itable_unref(struct fs *fs, struct fs_inode *in);
void inode_free(struct fs_inode *in);
/** @return whether @p in holds changes the store lacks (a flush that
 *  failed, ENOSPC, left it dirty for a later flush or fs_close() to
 *  retry): neither it nor its buffer may go. */
bool inode_unstored(const struct fs_inode *in);
/** The name of directory @p in (NULL: not known yet); once it is seen,
 *  in->parent is set too. For readers, which hold no tbl_lock. */
const char *inode_dir_name(const struct fs_inode *in);
void inode_to_stat(const struct fs *fs, const struct fs_inode *in,
		   struct stat *st);

/* store.c: inode records and their keys, over a transaction */
/** Add the inode record of @p in (attributes and inline content) and its
 *  dirty chunk to @p tx, holding @p in, and settle its reservation
 *  (resv_settle()); @p in is clean once the transaction commits.
 *  @return 0, -ENOENT (@p in is removed), ... */
int store_put_inode(struct txn *tx, struct fs_inode *in);
/** Add the chunk held in @p in's buffer to @p tx (at most up to the end of
 *  the file). */
int store_put_chunk(struct txn *tx, struct fs_inode *in);
/** Commit what is buffered for @p in, if anything. */
int store_flush_inode(struct fs *fs, struct fs_inode *in);
/** Start a scan of the keys of inode @p ino with @p type prefix (KEY_CHUNK:
 *  from index @p from). @return as gw_scan_open(). */
int store_scan_inode(struct fs *fs, struct gw_scan *s, uint8_t type,
		     uint64_t ino, uint64_t from);
/** Add deletes of every key of inode @p ino with @p type prefix and (for
 *  KEY_CHUNK) index >= @p from to @p tx. @param[out] n deletes added. */
int store_delete_range(struct txn *tx, uint8_t type, uint64_t ino,
		       uint64_t from, uint64_t *n);
/** Add deletes of every key of inode @p ino (record, chunks, xattrs,
 *  orphan mark, reservation) to @p tx. */
int store_delete_inode(struct txn *tx, uint64_t ino);
/** Read a whole inode record. @param[out] val malloc()ed. */
int store_get_record(struct fs *fs, uint64_t ino, void **val, size_t *len);
/** Load the inline content of @p in into its buffer. */
int store_load_inline(struct fs *fs, struct fs_inode *in);

/* resv.c: the space fallocate reserves (in a transaction, writers' locks) */
/** Keep @p in's reservation within its holes, spending or giving back
 *  the rest at the commit. @return 0; -EIO; -ENOMEM. */
int resv_settle(struct txn *tx, struct fs_inode *in);
/** Give back all of inode @p ino's reservation (it is removed). */
int resv_drop(struct txn *tx, uint64_t ino);
/** Reserve the holes of [@p off, @p end) of @p in (end <= its size):
 *  libcask holds their room at once. @return 0; -ENOSPC (no room: nothing
 *  reserved); -EIO; -ENOMEM. */
int resv_add(struct txn *tx, struct fs_inode *in, uint64_t off, uint64_t end);
/** At a read-write mount: make libcask hold what the files' reservations
 *  add up to (logs when the disk has not the room). @return 0; -EIO;
 *  -ENOMEM; -errno of statvfs(2) of the data directory. */
int resv_open(struct fs *fs);

/* damage.c: naming damage, and fs/'s log */
/** Log the line @p msg through fs->log (stderr, "caskfs: " first, without
 *  one). */
void fs_log(struct fs *fs, const char *msg);
/** Set up (at open) and free what damage.c keeps: the damaged records
 *  named in the log. damage_setup() @return 0, -ENOMEM. damage_teardown()
 *  accepts an @p fs without it. */
int damage_setup(struct fs *fs);
void damage_teardown(struct fs *fs);
/**
 * Log one line about the damaged record of @p key at @p loc: the path of
 * the file it belongs to (found from the key), what it held, and where it
 * is; unless it was named since the open already. Called by the gateway
 * when a read meets damage or fs/ refuses a record's bytes
 * (gw_record_damaged()). Caller holds fs->lock.
 */
void damage_report(struct fs *fs, const void *key, size_t klen,
		   const struct gw_loc *loc);
/**
 * At open, when the store's open found damage: log one line per key whose
 * newest version it cost, naming the file's path (one scan of the
 * dentries for all of them), and one line that sums up. Caller holds
 * fs->lock.
 */
void damage_report_open(struct fs *fs);

/* namei.c: paths and dentries */

/*
 * A path, or a key built from one, of up to FS_PATH_MAX (+ a few) bytes:
 * in the inline buffer while it fits (the paths of a usual tree), in a
 * malloc()ed one past it, so that no operation keeps a buffer of the
 * longest path on its stack. path_init() it, path_free() it; never copy
 * the struct (s may point into it).
 */
#define PATH_INLINE 256
struct fs_path {
	char *s; /* inl, or malloc()ed; s[len] is '\0' once built */
	size_t len;
	size_t cap; /* bytes s holds */
	char inl[PATH_INLINE];
};

void path_init(struct fs_path *p);
/** Make room for @p len bytes and a NUL, keeping the bytes held.
 *  @return 0, -ENOMEM (@p p unchanged). */
int path_reserve(struct fs_path *p, size_t len);
/** Free a heap buffer; @p p is empty and usable again. */
void path_free(struct fs_path *p);

/** Build the path of directory @p dir in @p p ("" for the root).
 *  @return 0, -ESTALE, -ENOTDIR, -ENAMETOOLONG, -ENOMEM. */
int namei_dir_path(struct fs *fs, uint64_t dir, struct fs_path *p);
/**
 * Build the dentry key of @p name in directory @p dir in @p path and read
 * the dentry.
 * @return 0; -ENOENT (no such name: @p path is set); -EINVAL (bad name);
 *   -ENAMETOOLONG (the name, or the path past FS_PATH_MAX); -ESTALE;
 *   -ENOTDIR; -ENOMEM; -EIO.
 */
int namei_child(struct fs *fs, uint64_t dir, const char *name,
		struct fs_path *path, uint64_t *ino, uint32_t *type);
/** Resolve the directories of absolute @p path into the inode table and
 *  return the parent's inode and the last component (FS_NAME_MAX + 1).
 *  @return 0, -EISDIR ("/" or a trailing slash), -EINVAL ("." or ".."),
 *  -ENOTDIR, -ENOENT, -ENAMETOOLONG, -ENOMEM, -EIO. */
int namei_walk(struct fs *fs, const char *path, uint64_t *parent, char *name);
/** A call that gave inode @p ino (0: none) a lookup reference fails with
 *  @p err after all (the wait for durability, the open): the kernel gets
 *  the error and sends no FORGET for it, so it is dropped here (fs->lock
 *  not held). @return @p err. */
int namei_unlook(struct fs *fs, int err, uint64_t ino);
int namei_put(struct txn *tx, const char *path, size_t len, uint64_t ino,
	      uint32_t mode);

/* super.c */
/** Reserve a new inode number (writing the superblock first when a new
 *  block of numbers is taken). */
int super_alloc_ino(struct fs *fs, uint64_t *ino);
/**
 * fs_open_store(), or with @p salvage (for fsck.c: fs_fsck() and
 * fs_open_salvage()) only the store, which must exist: no superblock is
 * read (chunk_size is 0), no store formatted, no orphan reclaimed, no
 * inode counted, no root loaded; the caller reads and completes the rest.
 * @return as fs_open_store(); -ENOENT for a missing store with @p salvage.
 */
int super_open(const char *dir, const struct fs_options *opts, bool salvage,
	       struct fs **out);

/* file.c */
/** Set the size of @p in, adding the chunk changes to @p tx (which holds
 *  @p in's data). The buffer of an inode that is not open may be loaded:
 *  call file_idle() after. */
int file_truncate(struct txn *tx, struct fs_inode *in, uint64_t size);
/** Free the data buffer of @p in if it is neither open nor
 *  inode_unstored() (fs->lock write). */
void file_idle(struct fs_inode *in);

/* dir.c */
/** Create a node named @p name in @p parent, one transaction (fs->lock
 *  write held); the new inode enters the table with one lookup reference.
 *  @p target is the symlink target or NULL. */
int dir_make(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     dev_t rdev, const char *target, const struct fs_cred *cred,
	     struct fs_inode **out);
/** Add a new node named @p name in @p parent to @p tx: its dentry and the
 *  parent's change. The new inode (*@p out, not in the table yet) is the
 *  caller's to fill and put, then to hand to dir_created() after the
 *  commit, or to free with inode_free() after a failure. */
int dir_create(struct txn *tx, uint64_t parent, const char *name, mode_t mode,
	       dev_t rdev, const struct fs_cred *cred, struct fs_inode **out);
/** After the commit: the new inode @p in enters the table with @p nlookup
 *  lookup references. @return the table's inode (not @p in if a reader
 *  loaded it meanwhile: @p in is freed). */
struct fs_inode *dir_created(struct fs *fs, struct fs_inode *in,
			     uint64_t nlookup);
/** Release @p in's last link or open: delete its keys, or mark it an
 *  orphan while still open, adding to @p tx. */
int dir_drop_link(struct txn *tx, struct fs_inode *in);
/** After the commit of dir_drop_link(): forget an inode that is gone. */
void dir_link_dropped(struct fs *fs, struct fs_inode *in);
/** Update @p dir's times (and nlink by @p dlink) after an entry change. */
int dir_touch(struct txn *tx, struct fs_inode *dir, int dlink);
/** @return 1 if the directory at @p path has entries, 0 if not, or
 *  -errno. */
int dir_has_entries(struct fs *fs, const struct fs_path *path);

#endif
