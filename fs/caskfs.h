/*
 * caskfs.h - the caskfs filesystem over one libcask store, as plain C
 * functions. Knows nothing of FUSE; shaped for a libfuse3 low-level daemon
 * (inode-number based), and usable offline (the cask tool) without a mount.
 *
 * Conventions that hold for every function:
 *
 *  - Every fallible call returns 0 (or a byte count / offset where said) on
 *    success and a negative errno value on failure. libcask codes never
 *    escape: fs/gateway.c is the one place they become errno values.
 *  - Inode numbers are the FUSE node ids: the root directory is
 *    FS_ROOT_INO (1 == FUSE_ROOT_ID); st_ino is stable across reopen and
 *    never reused.
 *  - Lookup counts: every call that returns an entry to the kernel
 *    (fs_lookup, fs_create, fs_mknod, fs_mkdir, fs_symlink, fs_link, and
 *    fs_readdir in plus mode) adds one lookup reference to the inode;
 *    fs_forget() drops them. Offline callers may ignore this.
 *  - Open files: fs_open()/fs_create() count an open; fs_release() drops it.
 *    An inode unlinked while open keeps its data (under an orphan key) until
 *    its last release; orphans left by a crash are reclaimed by
 *    fs_open_store().
 *  - Every change to the store is one atomic libcask batch: after a crash
 *    the store holds either the whole of an operation or none of it. An
 *    operation that returns an error has changed nothing, in memory or in
 *    the store.
 *    Small writes are coalesced in memory per inode (one chunk) and reach
 *    the store at the next flush/fsync/release or when a write moves to
 *    another chunk; fs_fsync() and fs_sync() make them durable.
 *  - Permission checks are the kernel's (default_permissions); this layer
 *    only applies ownership rules (caller's uid/gid, setgid directories).
 *  - Thread safety: a struct fs may be used from any number of threads.
 *    Lookups, getattr, read, readdir, getxattr run in parallel; operations
 *    that change state run one at a time. Readers wait neither for a
 *    writer's commit being written nor for its fdatasync (only for its
 *    in-memory preparation, rename of a directory: also for its write),
 *    and a writer waits for its commit to be durable (sync=always, fsync)
 *    with no lock held, so concurrent waiters share one fdatasync; it
 *    still returns only once its own commits are durable. (fs/internal.h
 *    gives the locks and their order.) A struct fs_file or fs_dir
 *    is used by one thread at a time (the kernel serialises readdir on one
 *    handle; reads and writes on one file handle from several threads are
 *    safe because the state they touch lives in the inode, under the fs
 *    lock).
 */
#ifndef CASKFS_H
#define CASKFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

/** Inode number of the root directory (== FUSE_ROOT_ID). */
#define FS_ROOT_INO 1u

/**
 * Limits of names and paths. A name is 1..FS_NAME_MAX bytes. A path inside
 * the filesystem ("/a/b") is at most FS_PATH_MAX bytes: a dentry's key is
 * its absolute path, and the scans below a directory use keys one byte
 * longer than its path ("path/"), which must stay within libcask's
 * CASK_MAX_KEY (65535). The kernel limits the path one call passes
 * (PATH_MAX, 4096 with its NUL), not how deep a tree grows, so a tree is
 * built past it with relative paths. A symlink's target is at most
 * FS_SYMLINK_MAX bytes: the kernel's PATH_MAX less its NUL, and what a
 * FUSE readlink reply (one page) can carry.
 */
#define FS_NAME_MAX    255u
#define FS_PATH_MAX    65534u
#define FS_SYMLINK_MAX 4095u

/*
 * Defaults and limits of the format-time parameters. The chunk size trades
 * keydir memory (about 64 bytes per chunk: 4 MiB per GiB of content at
 * 16 KiB) against small random writes, each of which rewrites one chunk
 * (measured through fs/, 64k random 4 KiB writes in 512 MiB: 4 KiB chunks
 * 0.26 s, 16 KiB 1.1 s, 32 KiB 5.9 s, 64 KiB 6.5 s, the last two bound by
 * the disk; sequential 1 MiB writes reach 1.5-2 GB/s at every size).
 */
#define FS_CHUNK_SIZE_DEFAULT (16u * 1024)
#define FS_CHUNK_SIZE_MIN     (4u * 1024)
#define FS_CHUNK_SIZE_MAX     (4u * 1024 * 1024)
/* A file up to this size keeps its content in its inode record; every
 * change of its attributes rewrites that content too, so the default is
 * small (docs/CASKFS.md, "Inline maximum: 512 bytes, by measurement"). A
 * store keeps the value it was created with. */
#define FS_INLINE_MAX_DEFAULT 512u

/*
 * fs_setattr() mask bits. The values equal libfuse's FUSE_SET_ATTR_* so a
 * daemon may pass its mask through unchanged.
 */
#define FS_SET_MODE	 (1u << 0)
#define FS_SET_UID	 (1u << 1)
#define FS_SET_GID	 (1u << 2)
#define FS_SET_SIZE	 (1u << 3)
#define FS_SET_ATIME	 (1u << 4)
#define FS_SET_MTIME	 (1u << 5)
#define FS_SET_ATIME_NOW (1u << 7)
#define FS_SET_MTIME_NOW (1u << 8)
#define FS_SET_CTIME	 (1u << 10)

/* fs_rename() flags, equal to Linux RENAME_NOREPLACE / RENAME_EXCHANGE. */
#define FS_RENAME_NOREPLACE (1u << 0)
#define FS_RENAME_EXCHANGE  (1u << 1)

/* fs_setxattr() flags, equal to XATTR_CREATE / XATTR_REPLACE. */
#define FS_XATTR_CREATE	 1
#define FS_XATTR_REPLACE 2

/*
 * Extended attributes handled by the filesystem itself on the root
 * directory: reading FS_XATTR_STATS returns fs_stats_text(); setting
 * FS_XATTR_MERGE (any value) calls fs_merge_start(); setting
 * FS_XATTR_BACKUP opens or closes a backup window (fs_backup()), and
 * reading it describes the open ones (fs_backup_text()).
 */
#define FS_XATTR_STATS	"user.caskfs.stats"
#define FS_XATTR_MERGE	"user.caskfs.merge"
#define FS_XATTR_BACKUP "user.caskfs.backup"

struct fs;
struct fs_file;
struct fs_dir;

/** Who is creating a node. New nodes get @c uid and @c gid (or the
 *  directory's gid in a setgid directory); their mode is masked with
 *  @c umask (pass 0 when the kernel has already applied it). */
struct fs_cred {
	uid_t uid;
	gid_t gid;
	mode_t umask;
};

/** When the store makes writes durable (struct fs_options.sync). */
enum fs_sync_mode {
	/** Every commit is durable before the call returns. */
	FS_SYNC_ALWAYS,
	/** A background fdatasync every sync_interval_ms; fs_fsync() and
	 *  fs_close() still make everything durable. */
	FS_SYNC_INTERVAL,
	/** Only fs_fsync(), fs_sync() and fs_close() make writes durable. */
	FS_SYNC_NEVER,
};

/**
 * Options of fs_open_store(). Fill with fs_options_init() first: it sets
 * every field, those of later versions too. The store's own settings
 * (sync to log) are libcask's (struct cask_options in cask.h says what
 * each does); fs/ passes them on, so a caller above fs/ needs no cask.h.
 */
struct fs_options {
	/** Chunk size of a new store, a power of two in
	 *  FS_CHUNK_SIZE_MIN..FS_CHUNK_SIZE_MAX (default 16 KiB). An existing
	 *  store keeps the one in its superblock. */
	uint32_t chunk_size;
	/** Largest file kept inline in its inode record, at most the chunk
	 *  size (default 4096). Format-time, like chunk_size. */
	uint32_t inline_max;
	/** Owner and mode of the root directory of a new store (defaults:
	 *  the calling process's uid/gid, 0755). */
	uid_t root_uid;
	gid_t root_gid;
	mode_t root_mode;
	/** Open read-only (offline extraction): every change fails -EROFS and
	 *  orphans are left alone; no lock is taken, so the store may be
	 *  mounted meanwhile. (default false) */
	bool read_only;
	/** Create the directory and an empty store if missing (default
	 *  true); when false a missing directory is -ENOENT. */
	bool create_if_missing;
	/** When writes become durable (default FS_SYNC_INTERVAL). */
	enum fs_sync_mode sync_mode;
	/** Period of FS_SYNC_INTERVAL in ms, at least 1 (default 1000). */
	unsigned sync_interval_ms;
	/** Size of a log segment, 4 KiB .. 2 GiB (default 64 MiB). */
	uint64_t segment_size;
	/** Merge starts by itself when dead bytes are at least
	 *  merge_dead_ratio of all bytes and at least merge_min_dead_bytes or
	 *  merge_free_ratio of the space left free on the filesystem; checked
	 *  every merge_check_ms (0: only at rotation and open) and paced to
	 *  yield to writers: struct cask_options says how. (defaults 0.5,
	 *  64 MiB, 0.25 and 5000; a ratio of 0 or above 1: never by itself) */
	double merge_dead_ratio;
	uint64_t merge_min_dead_bytes;
	double merge_free_ratio;
	unsigned merge_check_ms;
	/** Keep the files a merge replaced this long (ms), so a copy of the
	 *  directory started before the merge finds every file it listed
	 *  (default 0). */
	uint64_t merge_keep_ms;
	/** Bytes kept allocated so that a full disk can still free space
	 *  (default 4 MiB; 0: none). */
	uint64_t reserve_bytes;
	/** How long a writable open waits for another process to close the
	 *  store before it fails with -EBUSY, in ms; it logs once that it is
	 *  waiting (default 0: fail at once). */
	unsigned lock_wait_ms;
	/** Called with a line of text for notable events (damage found or
	 *  read, torn tail cut, merge done); NULL logs to stderr. @p msg is
	 *  borrowed for the call. Called from any thread from
	 *  fs_open_store() until fs_close() returns, at times with the
	 *  store's locks held: it must not call into this struct fs. */
	void (*log)(void *arg, const char *msg);
	/** Passed to log; must stay valid until fs_close() returns. */
	void *log_arg;
};

/** Fill @p opts with the defaults documented in struct fs_options. */
void fs_options_init(struct fs_options *opts);

/**
 * Open the store in directory @p dir (created if missing), formatting an
 * empty filesystem (superblock + root directory) on first use, and reclaim
 * the orphans a crash left behind. A store that holds keys is never
 * formatted. Damage the store's open found is logged (libcask's log
 * callback, stderr without one): one line per key whose newest version
 * it cost, naming the file by path, and a summary line.
 * @param opts NULL for the defaults.
 * @param[out] out the filesystem, closed with fs_close(); NULL on error.
 * @return 0; -EBUSY if another process has the store open; -EIO if the
 *   store or its superblock is damaged or missing (fs_fsck() names the
 *   damage and repairs it); -EPROTO for an unknown format
 *   version; -ENOTEMPTY if @p dir holds files that are not a store's
 *   (nothing in it was changed; the log names them); -ENOENT if @p dir
 *   is missing and not to be created; -EINVAL for bad options; other
 *   -errno.
 */
int fs_open_store(const char *dir, const struct fs_options *opts,
		  struct fs **out);

/** Whether a file called @p name (no directory part) is, by its name, a
 *  segment or hint file of a store: a directory holding one is a store's. */
bool fs_is_store_file(const char *name);

/** The version of libcask fs/ was built with ("MAJOR.MINOR.PATCH"); a
 *  static string. */
const char *fs_store_version(void);

/**
 * Write back everything buffered, close the store and free @p fs. Handles
 * still open are freed with it (they must not be used again); the inodes
 * of those that were unlinked stay orphans until the next open reclaims
 * them. Accepts NULL.
 * @return 0 or the first error met (@p fs is freed regardless).
 */
int fs_close(struct fs *fs);

/**
 * Close @p fs (writing back what is buffered) and remove its store, if
 * the fs_open_store() that opened it created it: the directory held no
 * store when the open took the store's lock. The lock is held until the
 * store is gone, so nothing another process wrote is removed. For a
 * program that must undo the store it just made (caskfs, when the mount
 * it made a new store for fails). Accepts NULL (returns 0).
 * @return 0 (the store is gone, its directory too unless something else
 *   is left in it: a lost+found); -EEXIST if the open did not create the
 *   store, or was read-only (it is only closed); -ENOTEMPTY if the
 *   directory holds a file that is not the store's (it stays); another
 *   -errno. @p fs is freed regardless.
 */
int fs_close_undo(struct fs *fs);

/*
 * Names and attributes. @p st is filled with the inode's attributes
 * (st_ino, st_mode, st_nlink, st_uid, st_gid, st_rdev, st_size, st_blocks,
 * st_blksize, st_atim, st_mtim, st_ctim).
 */

/**
 * Find @p name in directory @p parent and take a lookup reference on it.
 * @return 0; -ENOENT; -ENOTDIR if @p parent is not a directory;
 *   -ENAMETOOLONG (@p name past FS_NAME_MAX, or its path past
 *   FS_PATH_MAX); -ESTALE if @p parent is unknown; -ENOMEM; -EIO.
 */
int fs_lookup(struct fs *fs, uint64_t parent, const char *name,
	      struct stat *st);

/** Drop @p nlookup lookup references of @p ino (FUSE forget). */
void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);

/** @return 0, -ENOENT/-ESTALE for an unknown inode. */
int fs_getattr(struct fs *fs, uint64_t ino, struct stat *st);

/**
 * Change the attributes selected by @p mask (FS_SET_*) to those in @p in:
 * st_mode (permission bits), st_uid, st_gid, st_size (truncate or extend
 * with zeros), st_atim / st_mtim (or the current time with *_NOW),
 * st_ctim. A change of owner clears S_ISUID, and S_ISGID when group-exec
 * is set, on non-directories. ctime is set to now on every change.
 * @param fh the open file the call came through, or NULL.
 * @param[out] out the attributes afterwards.
 * @return 0; -ENOENT; -EISDIR (size of a directory); -EINVAL; -EFBIG;
 *   -EROFS; -EIO; -ENOSPC.
 */
int fs_setattr(struct fs *fs, uint64_t ino, const struct stat *in,
	       unsigned mask, struct fs_file *fh, struct stat *out);

/**
 * Copy the target of symlink @p ino, NUL-terminated, into @p buf.
 * @return the target's length; -EINVAL if not a symlink; -ENAMETOOLONG if
 *   @p size cannot hold it and its NUL.
 */
ssize_t fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size);

/*
 * Creating names. All return 0 and the new node's attributes in @p st, or:
 * -EEXIST; -ENOENT/-ESTALE (no such parent); -ENOTDIR; -ENAMETOOLONG;
 * -EINVAL (name "." / ".." or containing '/'); -EROFS; -ENOSPC; -EIO.
 */

/** Create a regular file, FIFO, socket or device node (@p mode holds the
 *  type; S_IFREG when the type bits are 0). */
int fs_mknod(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     dev_t rdev, const struct fs_cred *cred, struct stat *st);

/** Create a directory (S_ISGID inherited from a setgid parent). */
int fs_mkdir(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	     const struct fs_cred *cred, struct stat *st);

/** Create a symlink to @p target (1..FS_SYMLINK_MAX bytes; longer:
 *  -ENAMETOOLONG). */
int fs_symlink(struct fs *fs, uint64_t parent, const char *name,
	       const char *target, const struct fs_cred *cred, struct stat *st);

/**
 * Create a regular file and open it (FUSE create). @p flags are open(2)
 * flags (O_EXCL is implied: an existing name is -EEXIST; the kernel looks
 * it up first).
 * @param[out] fh the open file, closed with fs_release(); NULL on error.
 */
int fs_create(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	      const struct fs_cred *cred, int flags, struct stat *st,
	      struct fs_file **fh);

/** Add the name @p newname in @p newparent for file @p ino (nlink + 1).
 *  @return as above, and -EPERM for a directory, -EMLINK. */
int fs_link(struct fs *fs, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *st);

/*
 * Removing and moving names.
 */

/** Remove a non-directory name. The inode goes with its last link, or
 *  becomes an orphan until its last release when still open.
 *  @return 0; -ENOENT; -EISDIR; -ENOTDIR; -EROFS; -EIO. */
int fs_unlink(struct fs *fs, uint64_t parent, const char *name);

/** Remove an empty directory. @return 0; -ENOENT; -ENOTDIR; -ENOTEMPTY;
 *  -EBUSY for the root; -EROFS; -EIO. */
int fs_rmdir(struct fs *fs, uint64_t parent, const char *name);

/**
 * rename(2)/renameat2(2). Without flags an existing target is replaced
 * (a directory only by a directory, and only when empty). A directory
 * moves with everything below it in one batch.
 * @param flags 0, FS_RENAME_NOREPLACE or FS_RENAME_EXCHANGE.
 * @return 0 (also when both names are links of one inode); -ENOENT;
 *   -EEXIST (NOREPLACE); -ENOTDIR; -EISDIR; -ENOTEMPTY; -EINVAL (both
 *   flags, or a directory into its own subtree); -EBUSY (the root);
 *   -ENAMETOOLONG; -EROFS; -EIO.
 */
int fs_rename(struct fs *fs, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);

/*
 * Files.
 */

/**
 * Open file @p ino with open(2) @p flags (O_TRUNC truncates when opened
 * for writing; O_APPEND makes every write go to the end of the file).
 * @param[out] fh the open file, closed with fs_release(); NULL on error.
 * @return 0; -ENOENT; -EISDIR; -EROFS (writable open of a read-only
 *   store); -ENOMEM; -EIO.
 */
int fs_open(struct fs *fs, uint64_t ino, int flags, struct fs_file **fh);

/** Read up to @p size bytes at @p off. Holes read as zeros.
 *  @return the number of bytes read (short only at end of file), -EIO. */
ssize_t fs_read(struct fs *fs, struct fs_file *fh, void *buf, size_t size,
		uint64_t off);

/** Write @p size bytes at @p off (at the end of file for O_APPEND).
 *  @return @p size; -EFBIG; -EBADF (not open for writing); -ENOSPC;
 *   -EROFS; -EIO. */
ssize_t fs_write(struct fs *fs, struct fs_file *fh, const void *buf,
		 size_t size, uint64_t off);

/**
 * Write @p size bytes at @p off that the kernel's page cache took from a
 * writer earlier (FUSE writeback; O_APPEND plays no part). As fs_write(),
 * except on failure: the writer learns of it only at its next flush, so the
 * file is cut back to @p off (not below its size as of the writers' last
 * open, flush, fsync or truncate: never a hole where bytes failed), and
 * until a flush reports the error, writebacks that would grow the file
 * past the cut fail with it too.
 * @return @p size, or the errors of fs_write() (the first error since the
 *   last flush for a write past the cut).
 */
ssize_t fs_writeback(struct fs *fs, struct fs_file *fh, const void *buf,
		     size_t size, uint64_t off);

/** Write back what is buffered for the file (close(2) of one descriptor).
 *  @return 0, the write's error, or for a descriptor open for writing the
 *   error of a failed fs_writeback() since the last flush (reported once). */
int fs_flush(struct fs *fs, struct fs_file *fh);

/** fs_flush(), then make the store durable (group commit). */
int fs_fsync(struct fs *fs, struct fs_file *fh, bool datasync);

/** Flush and close @p fh (freed even on error); the last release of an
 *  unlinked inode reclaims its keys. Accepts NULL. */
int fs_release(struct fs *fs, struct fs_file *fh);

/**
 * fallocate(2): mode 0 extends the file's size to the range's end at least
 * and reserves room on the disk for storing each chunk of the range the
 * file lacks (docs/CASKFS.md, "fallocate"), or fails with -ENOSPC and
 * changes nothing; FALLOC_FL_KEEP_SIZE does nothing (it reserves nothing);
 * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE turns the range into a hole.
 * @return 0; -ENOSPC; -EOPNOTSUPP for other modes; -EINVAL; -EFBIG; -EIO.
 */
int fs_fallocate(struct fs *fs, struct fs_file *fh, int mode, uint64_t off,
		 uint64_t len);

/** lseek(2) with SEEK_DATA or SEEK_HOLE (at chunk granularity).
 *  @return the offset; -ENXIO at or past end of file or when no data
 *  follows; -EINVAL for another @p whence. */
off_t fs_lseek(struct fs *fs, struct fs_file *fh, off_t off, int whence);

/*
 * Directories.
 */

/**
 * Called by fs_readdir() for each entry. @p st carries st_ino and the type
 * bits of st_mode, and every attribute in plus mode (except for "." and
 * "..", for which no lookup reference is taken). @p next_off is the cookie
 * to resume after this entry.
 * @return 0 when the entry was taken, non-zero when the buffer is full
 *   (the entry is not consumed; in plus mode its reference is dropped).
 */
typedef int (*fs_fill_fn)(void *ctx, const char *name, const struct stat *st,
			  uint64_t next_off);

/** Open directory @p ino for reading. @return 0; -ENOTDIR; -ENOENT;
 *  -ESTALE; -ENOMEM. */
int fs_opendir(struct fs *fs, uint64_t ino, struct fs_dir **dh);

/**
 * Emit the entries of @p dh from cookie @p off ("." and ".." first, then
 * the names in byte order) until @p fill reports a full buffer or the end.
 * Cookie 0 starts a listing with a fresh view (the first read, rewinddir).
 * A listing keeps the names it has produced until the next restart or
 * fs_releasedir(), and its cookies carry a tag no other listing of this
 * fs has (in bits 32-62) above a position (bits 0-31): resuming from any
 * cookie the listing returned neither skips nor repeats an entry,
 * whatever happens to the directory meanwhile. Another listing's cookie
 * (or any other value) resumes at its position, counted in this handle's
 * listing, which goes on with its own cookies.
 * @param plus take a lookup reference and fill all attributes (FUSE
 *   readdirplus).
 * @return 0 (also at the end, and past it); -EOVERFLOW past 2^32 - 2
 *   entries; -EIO; -ENOMEM.
 */
int fs_readdir(struct fs *fs, struct fs_dir *dh, uint64_t off, bool plus,
	       fs_fill_fn fill, void *ctx);

/** Free @p dh. Accepts NULL. @return 0. */
int fs_releasedir(struct fs *fs, struct fs_dir *dh);

/*
 * Extended attributes (namespaces user., trusted., security. and system.;
 * values up to 64 KiB).
 */

/** @return 0; -EEXIST (FS_XATTR_CREATE); -ENODATA (FS_XATTR_REPLACE);
 *  -EOPNOTSUPP (another namespace, or a POSIX ACL);
 *  -ERANGE (name over 255 bytes); -E2BIG (value over 64 KiB); -ENOENT;
 *  on the root, FS_XATTR_MERGE starts a merge and FS_XATTR_STATS is
 *  -EPERM. */
int fs_setxattr(struct fs *fs, uint64_t ino, const char *name,
		const void *value, size_t size, int flags);

/** With @p size 0, the value's length; otherwise copy it.
 *  @return the length; -ENODATA; -ERANGE when @p size is too small. */
ssize_t fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *buf,
		    size_t size);

/** The names, each NUL-terminated, back to back (size 0: the length).
 *  @return the length; -ERANGE when @p size is too small. */
ssize_t fs_listxattr(struct fs *fs, uint64_t ino, char *buf, size_t size);

/** @return 0; -ENODATA. */
int fs_removexattr(struct fs *fs, uint64_t ino, const char *name);

/*
 * The filesystem as a whole.
 */

/** statfs(2): space from statvfs(2) of the data directory plus the bytes
 *  the store holds; file counts from the inode count. @return 0, -errno. */
int fs_statfs(struct fs *fs, struct statvfs *st);

/** Make everything written so far durable (fsyncdir): what open files
 *  buffer is stored first, then the log is synced. Writes still in the
 *  kernel's writeback cache are not "written" yet: syncfs(2) writes them
 *  back, but FUSE does not tell a /dev/fuse daemon of a syncfs.
 *  @return 0, the error of a store (-ENOSPC, -EIO, ...) or of the sync. */
int fs_sync(struct fs *fs);

/** Start a background merge of the store (inside a backup window it
 *  waits for the last one to close, and says so in the log and in
 *  fs_backup_text()). @return 0; -EBUSY when one is running; -EROFS. */
int fs_merge_start(struct fs *fs);

/* How long a window opened with "1" lasts at most (fs_backup()). */
#define FS_BACKUP_MAX_S 3600

/* The process that asks for a backup window to open or close
 * (fs_backup()), as the daemon's pid namespace sees it. */
#define FS_CALLER_MAX 64
struct fs_caller {
	int pid[FS_CALLER_MAX]; /* it and its ancestors, nearest first */
	size_t n;
	bool foreign; /* in another pid namespace: a pid it names is its own */
};

/**
 * Open or close a backup window: while one is open no file of the store is
 * removed, so a copy of the data directory (cp -a, rsync -a) opens cleanly
 * with a consistent state (cask_backup_begin()). Windows nest. @p value
 * (@p size bytes, not NUL-terminated) is "1": open a window that closes by
 * itself after FS_BACKUP_MAX_S; a decimal pid above 1: open one held by
 * that process, closed when it ends (refused from another pid namespace);
 * "0": close the newest window held by @p caller or one of its ancestors
 * (the shell whose $$ opened it), else the newest without a holder; never
 * one whose holder is another live process. @p caller NULL: unknown (only
 * a window without a holder closes).
 * @return 0, -EROFS, -EINVAL (another value, a pid from another
 *   namespace, or closing when none is open), -EPERM (closing when every
 *   open window is held by another process), -ESRCH (no such process).
 */
int fs_backup(struct fs *fs, const char *value, size_t size,
	      const struct fs_caller *caller);

/**
 * The open backup windows and a merge waiting for them, as "key: value"
 * lines ("windows: N", one "window: ..." line each, "merge_waiting").
 * @param[out] text malloc()ed, NUL-terminated; the caller frees it.
 * @return 0, -ENOMEM.
 */
int fs_backup_text(struct fs *fs, char **text);

/**
 * The store's figures as "key: value" lines (keys, live_bytes, dead_bytes,
 * disk_bytes, segments, keydir_bytes, merge_running, merge_done, merge_total, merges,
 * reserve_bytes, kept_bytes, kept_segments, backup_windows, merge_waiting,
 * inodes, chunk_size, inline_max, damage).
 * @param[out] text malloc()ed, NUL-terminated; the caller frees it.
 * @return 0, -ENOMEM.
 */
int fs_stats_text(struct fs *fs, char **text);

/*
 * Offline access by path (the cask tool, a read-only store or a backup).
 */

/** Resolve absolute @p path ("/", "/a/b"; no "." or ".." components; any
 *  length up to FS_PATH_MAX) to its inode number. No lookup reference is
 *  taken.
 *  @return 0; -ENOENT; -ENOTDIR; -EINVAL for a relative path or a "." or
 *  ".." component; -ENAMETOOLONG (a name past FS_NAME_MAX or the path
 *  past FS_PATH_MAX); -ENOMEM; -EIO. */
int fs_lookup_path(struct fs *fs, const char *path, uint64_t *ino);

/**
 * Read the whole content of the regular file at @p path.
 * @param[out] data malloc()ed (non-NULL even when empty); the caller frees
 *   it. NULL on error.
 * @param[out] len its length.
 * @return 0; -ENOENT; -EISDIR; -EFBIG (over SIZE_MAX); -ENOMEM; -EIO; and
 *   the errors of fs_lookup_path().
 */
int fs_read_path(struct fs *fs, const char *path, void **data, size_t *len);

/**
 * Replace the content of the regular file at @p path with @p len bytes,
 * creating it (mode @p mode, owner @p cred) when missing; the parent
 * directory must exist. One batch: readers see the old or the new content.
 * @return 0; -ENOENT (no parent); -EISDIR; -ENOTDIR; -ENAMETOOLONG; -EROFS;
 *   -ENOSPC; -ENOMEM; -EIO.
 */
int fs_write_path(struct fs *fs, const char *path, const void *data, size_t len,
		  mode_t mode, const struct fs_cred *cred);

#endif /* CASKFS_H */
