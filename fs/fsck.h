/*
 * fsck.h - check the caskfs filesystem kept in a libcask store, and repair
 * it: what `cask fsck` and `cask verify` run.
 *
 * The check reads every key of the store once (and every value, so that a
 * record failing its CRC is found) and looks at the filesystem on top of
 * the records: the superblock, the root directory, that every directory
 * entry names an inode record of its type under a directory, link counts,
 * that chunks, extended attributes and orphan marks belong to live
 * inodes, and that no inode is left without a name. Each problem is
 * reported once, with the path of the file it concerns when it has one,
 * and with what a repair does about it.
 *
 * The repair (fs_fsck_options.repair) keeps everything that survived: an
 * inode whose name is lost goes to /lost+found as "#INO" (as e2fsck does);
 * a directory whose entry or inode record is lost is made again where it
 * was, so the entries below it keep their paths; a file whose inode
 * record is lost but whose chunks remain is rebuilt from them; a lost
 * superblock is written again with the chunk size its chunks show. It
 * removes only keys that nothing can reach or read (an entry naming a
 * missing inode, the extended attributes and orphan marks of a missing
 * inode, chunks past a file's end). Damage it cannot undo (a chunk that
 * fails its CRC) stays and stays reported. It writes in atomic batches
 * after every problem has been reported; run again after a crash, it
 * carries on.
 *
 * fs_open_salvage() opens a damaged store to read what survives, with what
 * the repair would write again stood in, in memory only.
 */
#ifndef CASKFS_FSCK_H
#define CASKFS_FSCK_H

#include <stdbool.h>
#include <stdint.h>

/** How bad a problem is. */
enum fs_fsck_severity {
	/** The store does not mount while this is so. */
	FS_FSCK_FATAL = 1,
	/** The filesystem is inconsistent, or a file is lost or damaged;
	 *  it mounts. */
	FS_FSCK_ERROR = 2,
	/** Worth knowing, not damage (an orphan the next read-write mount
	 *  reclaims, a key that is not part of the caskfs schema). */
	FS_FSCK_NOTE = 3,
};

/** One problem. Every pointer is borrowed for the report call only. */
struct fs_fsck_problem {
	enum fs_fsck_severity severity;
	/** The path of the file or directory concerned (one of its names
	 *  for a hard-linked file), or NULL when it has none. May hold any
	 *  byte but NUL. */
	const char *path;
	/** The inode concerned, 0 when the problem is not about one. */
	uint64_t ino;
	/** What is wrong, one line of English. */
	const char *what;
	/** What the repair does (or did) about it, or NULL: nothing. */
	const char *repair;
};

/** Options of fs_fsck(). Zero-initialise for a read-only check. */
struct fs_fsck_options {
	/** Repair: open the store for writing (which fails with -EBUSY while
	 *  it is mounted or open elsewhere) and write the repairs, after
	 *  every problem has been reported. */
	bool repair;
	/** Called once per problem, in order of path (problems without a
	 *  path last, by inode). NULL: problems are only counted. */
	void (*report)(void *arg, const struct fs_fsck_problem *p);
	void *report_arg;
	/** The log of the store fs_fsck() opens (struct fs_options.log:
	 *  damage its open found, a store in use by another process); NULL
	 *  logs to stderr. */
	void (*log)(void *arg, const char *msg);
	/** Passed to log, during fs_fsck() only. */
	void *log_arg;
};

/** What fs_fsck() found. */
struct fs_fsck_result {
	/** The store holds a caskfs: a superblock or an inode record. When
	 *  false, nothing else was checked and nothing was written. */
	bool caskfs;
	/** The store opens and mounts (fs_open_store() read-only succeeds
	 *  and no fatal problem is left): before the repair, or after it
	 *  when one was asked for. */
	bool mounts;
	uint64_t inodes;      /**< inode records */
	uint64_t directories; /**< of which directories */
	uint64_t entries;     /**< directory entries (the root's included) */
	uint64_t chunks;      /**< chunk records */
	uint64_t xattrs;      /**< extended attribute records */
	uint64_t fatal;	      /**< problems by severity */
	uint64_t errors;
	uint64_t notes;
	uint64_t lost_found; /**< inodes given a name in /lost+found */
	uint64_t writes;     /**< keys the repair put or deleted */
};

/**
 * Check the caskfs filesystem in the store in directory @p dir and, with
 * @p opts->repair, repair it. Without repair the store is opened
 * read-only (no lock, nothing written: it may be mounted meanwhile, and
 * is then checked as it was at the open). Every valid record around a
 * damaged range is read (libcask keeps them at every open).
 * @param opts NULL for a read-only check that reports nothing.
 * @param[out] res filled (zeroed first) whatever the return code.
 * @return 0 when the check ran to the end (whatever it found: see @p res);
 *   -ENOENT if @p dir is missing or holds no store; -ENOTEMPTY if it
 *   holds files that are not a store's (libcask refuses it); -EBUSY (repair of a
 *   store open elsewhere, as by a caskfs mount); -EPROTO for a
 *   superblock of a format version this code does not know (nothing is
 *   checked or written); -ENOMEM; -EIO and other -errno when the store
 *   cannot be read or, for the repair, written (the batches committed
 *   before stay: run the repair again).
 */
int fs_fsck(const char *dir, const struct fs_fsck_options *opts,
	    struct fs_fsck_result *res);

struct fs;

/**
 * Open the caskfs in the store in directory @p dir read-only to salvage
 * what survives (cask fs get --keep-going), also when it does not mount.
 * The store is read once as fs_fsck() reads it (every value), and what
 * the repair would write again is stood in, in memory only: a lost or
 * damaged superblock by the chunk size and inline maximum its files show;
 * a directory whose inode record is lost or damaged, the root's included,
 * by a directory of mode 0755 owned by the caller with the current times,
 * so that the entries below it are reached. Nothing is written (the store
 * is opened as with fs_options.read_only: no lock, it may be mounted
 * meanwhile). Files whose inode record is lost stay unreadable (-ENOENT or
 * -EIO from lookups and reads), as do damaged chunks (-EIO).
 * @param[out] out the filesystem, read-only (every change fails -EROFS),
 *   to close with fs_close(); NULL on failure.
 * @param[out] res if not NULL, filled (zeroed first) with what the check
 *   found, as by fs_fsck() without repair but for @c mounts, left false.
 * @return 0; -ENOENT if @p dir is missing or holds no store or no caskfs;
 *   -ENOTEMPTY if it holds files that are not a store's;
 *   -EPROTO (superblock of an unknown format version); -ENOMEM; -EIO and
 *   other -errno when the store cannot be read.
 */
int fs_open_salvage(const char *dir, struct fs **out,
		    struct fs_fsck_result *res);

#endif
