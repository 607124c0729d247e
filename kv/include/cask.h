/*
 * cask.h - libcask, an embeddable Bitcask-model key-value store.
 *
 * This header is the manual. Conventions that hold for every function:
 *
 *  - Every fallible call returns int: 0 on success, a negative errno value
 *    (-EIO, -ENOSPC, -ENOMEM, ...) for a system failure, or one of the
 *    CASK_E* codes below. cask_strerror() names any of them.
 *  - Constructors return their object through the last argument and leave it
 *    NULL on failure. Every destructor accepts NULL.
 *  - Keys are 1..CASK_MAX_KEY bytes of any content; values are
 *    0..CASK_MAX_VALUE bytes of any content. Keys sort by memcmp order, a
 *    shorter key before every longer key it is a prefix of.
 *  - A struct cask_db may be used from any number of threads at once. Writes
 *    are serialised internally (one writer at a time); reads run in parallel
 *    with each other and with writes, and never wait for an fsync.
 *    Batches and iterators belong to one thread at a time.
 *  - Every pointer the library hands back says who owns it and until when.
 *  - Pointer arguments may not be NULL unless their description says so
 *    (the options of cask_open(), cask_iter_new(), cask_merge() and
 *    cask_verify(), a buffer of size 0, the optional out-parameters, the
 *    argument of a destructor). A key or value argument points at klen or
 *    vlen readable bytes.
 *  - Callbacks (log, progress, report) are called as each one's
 *    description says, which also says whether it may call into the
 *    library. The pointer passed with one (log_arg, progress_arg,
 *    report_arg) is handed back untouched and must stay valid for as long
 *    as the callback can be called.
 *  - The public structs may gain fields in later versions, at the end
 *    only, and a new field's zero (or, for struct cask_options, its
 *    cask_options_init() default) keeps the old behaviour. So fill structs
 *    passed in with cask_options_init() or by zero-initialising them, then
 *    set fields by name; such code keeps its meaning, but needs
 *    recompiling: a struct's size is part of the ABI. Before 1.0 (0.x
 *    versions) a field that no longer does anything is removed, not kept:
 *    code that sets it stops compiling, which says what changed
 *    (verify_reads and salvage of struct cask_options went so).
 *  - No byte of a value is served unverified. Before a get, a range get or
 *    an iterator hands out any byte of a value, the whole record holding
 *    it (header, key, value) has been checked against its CRC: by that
 *    read, or, for a record of 4 KiB or more, by an earlier read in this
 *    handle (the good verdict is kept for as long as the record stays where
 *    it is; a merge that moves it checks it again at its next read).
 *    Damage is CASK_ECORRUPT, to every read of it; the log callback gets
 *    one line naming the segment file, the record's offset and the key
 *    once per damaged record and handle: at the open that found it (see
 *    cask_open()), or at the first read that meets it.
 */
#ifndef CASK_H
#define CASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CASK_BUILDING) && defined(__GNUC__)
#define CASK_API __attribute__((visibility("default")))
#else
#define CASK_API
#endif

#define CASK_VERSION_MAJOR  0
#define CASK_VERSION_MINOR  1
#define CASK_VERSION_PATCH  0
#define CASK_VERSION_STRING "0.1.0"

/** Longest key, in bytes. */
#define CASK_MAX_KEY   65535u
/** Longest value, in bytes (1 GiB). */
#define CASK_MAX_VALUE (1u << 30)

/*
 * Library error codes. They lie below -4096, outside the errno range.
 */
#define CASK_ENOTFOUND (-30001) /**< no such key (or it has expired) */
#define CASK_ECORRUPT  (-30002) /**< stored bytes fail their checks */
#define CASK_ELOCKED   (-30003) /**< another process has the store open */
#define CASK_EREADONLY (-30004) /**< write to a store opened read-only */
#define CASK_EFAILED \
	(-30005)		/**< an earlier write or sync failed;
				     the handle takes no more writes */
#define CASK_EVERSION  (-30006) /**< on-disk format version not supported */
#define CASK_EINVAL    (-30007) /**< an argument is out of range */
#define CASK_EBUSY     (-30008) /**< the operation is already running */
/** the directory holds files that are not part of a store */
#define CASK_ENOTSTORE (-30009)

/** Sync modes: when written data is made durable. */
enum cask_sync_mode {
	/** fdatasync before every write returns (concurrent writers share
	 *  one fdatasync: group commit). */
	CASK_SYNC_ALWAYS = 0,
	/** fdatasync every sync_interval_ms on a background thread. */
	CASK_SYNC_INTERVAL = 1,
	/** never fdatasync on its own; the OS writes back when it likes.
	 *  cask_sync() and cask_close() still make everything durable. */
	CASK_SYNC_NEVER = 2,
};

/** Options of cask_open(). Fill with cask_options_init() first. */
struct cask_options {
	/** Create the directory and an empty store if missing (default true). */
	bool create_if_missing;
	/** Open read-only: no lock is taken, nothing on disk is changed, writes
	 *  return CASK_EREADONLY. A torn tail is ignored, not truncated. May run
	 *  alongside a writer in another process; it sees the store as it was
	 *  at open. (default false) */
	bool read_only;
	/** See enum cask_sync_mode (default CASK_SYNC_INTERVAL). */
	enum cask_sync_mode sync_mode;
	/** Interval of CASK_SYNC_INTERVAL in ms (default 1000). */
	unsigned sync_interval_ms;
	/** Size at which the active segment is sealed and a new one started,
	 *  in bytes, 4 KiB .. 2 GiB (default 64 MiB). */
	uint64_t segment_size;
	/** Merge starts by itself when the dead bytes of the store (deleted
	 *  and overwritten records, expired ones) are worth reclaiming: when
	 *  they are at least merge_dead_ratio of all its bytes (by ratio) and
	 *  at least merge_min_dead_bytes or merge_free_ratio of the space left
	 *  free on the filesystem of the store (by amount). It merges the
	 *  sealed segments that are each at least merge_dead_ratio dead; a
	 *  store found idle (no write since the previous check) first seals
	 *  its active segment when that one is too. This is checked every
	 *  merge_check_ms, at each rotation and at open. Such a merge keeps
	 *  out of the way of writers: while they write it works about a fifth
	 *  of the time (unless the disk is full). A merge_dead_ratio of 0 or
	 *  above 1 disables automatic merges. (defaults 0.5 and 64 MiB) */
	double merge_dead_ratio;
	uint64_t merge_min_dead_bytes;
	/** Keep the input files of a finished merge for at most this long
	 *  (ms) while a copy of the directory (cp -a, rsync -a) may be
	 *  running, so that it still finds every file it listed: while another
	 *  process has listed the directory or read a segment or hint file in
	 *  the last 60 s (an inotify watch). They go at once when nothing
	 *  reads the directory, and first when space runs short (a write met
	 *  ENOSPC, or less is free than two segments and reserve_bytes). A
	 *  backup window (cask_backup_begin) keeps them regardless. cask_stats()
	 *  counts them (kept_bytes). (default 0: removed at once) */
	uint64_t merge_keep_ms;
	/** Bytes kept allocated in the file RESERVE of the store directory so
	 *  that a full disk can still free space: a write that only frees
	 *  (cask_delete(), a batch of deletes or one committed with
	 *  CASK_COMMIT_FREES) and merge give the reserve up when they meet
	 *  ENOSPC, and ordinary writes then fail with -ENOSPC until it can be
	 *  allocated again (at the end of a merge, or by the next ordinary
	 *  write once space is back). 0: no reserve (and RESERVE is removed).
	 *  (default 4 MiB) */
	uint64_t reserve_bytes;
	/** How long a writable open waits for another process to release the
	 *  store (close it), in ms, before it fails with CASK_ELOCKED; it says
	 *  once through log that it is waiting. For a program started right
	 *  after the last one was told to stop (a remount after
	 *  fusermount3 -u). (default 0: fail at once) */
	unsigned lock_wait_ms;
	/** Called with a line of text for notable events (torn tail truncated,
	 *  damaged range found and each key whose newest version it held,
	 *  damaged record read, merge done). Each line begins with what it
	 *  is about: the directory as passed to cask_open(), or a file in it
	 *  ("DIR/NAME"), and a colon. NULL logs to stderr. @p msg is
	 *  borrowed for the call. Called from any thread of the library, from cask_open() until
	 *  cask_close() returns, at times with the store's locks held: it must
	 *  not call any function on this store (cask_strerror() is fine). */
	void (*log)(void *arg, const char *msg);
	/** Passed to log; must stay valid until cask_close() returns (the
	 *  options are copied at open, this pointer with them). */
	void *log_arg;
	/** Dead bytes at least this share of the space left free on the
	 *  filesystem of the store are worth a merge whatever their amount
	 *  (see merge_dead_ratio): a small store on a small disk reclaims
	 *  too. 0: only merge_min_dead_bytes counts. (default 0.25) */
	double merge_free_ratio;
	/** How often a writable store checks whether a merge is worth
	 *  starting, in ms, with a thread of its own; 0: only at rotation and
	 *  at open. (default 5000) */
	unsigned merge_check_ms;
};

/** Fill @p opts with the defaults documented in struct cask_options
 *  (every field, those of later versions too). */
CASK_API void cask_options_init(struct cask_options *opts);

struct cask_db;

/**
 * Open (or create) the store in directory @p dir.
 *
 * Damage costs only the damaged bytes (docs/FORMAT.md section 7). Records
 * that fail their checks where the bytes are known to have been durable
 * (a sealed segment, or the active segment up to where the last clean
 * close left it) are a damaged range: the open succeeds, every valid
 * record before and after the range is kept (the surviving records of a
 * batch the damage cut into too: the batch had been committed), the range
 * stays in the file, and the log callback names the file, the offset and
 * each key whose newest version was in it where its header still reads
 * (the first 32 keys; cask_damaged_keys() lists them all).
 * Such a key then reads as CASK_ECORRUPT (never as an older value or as
 * absent) until it is written or deleted again; cask_stats() counts the
 * ranges, their bytes and those keys, and every later open finds them
 * again (a segment with damage is never merged, hinted or appended to: a
 * writable open starts a new active segment).
 * Past that point, in the active segment, a bad record or uncommitted
 * batch is a torn write: with nothing valid after it the rest is cut
 * (reported); with valid records after it (power loss may persist pages
 * out of order, so they may be later writes whose earlier ones were lost)
 * the rest is first copied to NNNNNNNNNN.cask.damaged-OFFSET, not applied,
 * and reported. Nothing else is ever cut or removed.
 *
 * Only our own files: libcask never deletes, renames or writes a file it
 * did not create. A directory holding any file (or directory other than
 * lost+found) whose name is not one libcask uses (docs/FORMAT.md section
 * 1), or a STORE file that is not libcask's marker, is refused before
 * anything is written into it, and the log callback names what was found;
 * an empty or missing directory is fine. A segment file too short for a
 * header is removed only when it is the newest segment and its bytes are
 * the start of the header libcask writes (a crash while creating it);
 * otherwise it is left alone and the directory refused. A writable open
 * writes the STORE marker if there is none (stores from before it open
 * as before).
 *
 * @param opts NULL for the defaults.
 * @param[out] out the handle, to be closed with cask_close(); NULL on error.
 * @return 0; -ENOENT if @p dir is missing and create_if_missing is false;
 *   CASK_ENOTSTORE if @p dir holds files that are not a store's (see
 *   above; nothing was changed);
 *   -EACCES/-EROFS if it cannot be written; CASK_ELOCKED if another process
 *   has it open for writing (still after lock_wait_ms); CASK_ECORRUPT if
 *   a segment's header is damaged, or names another segment (the log
 *   callback names the file);
 *   CASK_EVERSION for an unknown format; CASK_EINVAL for a NULL or empty
 *   @p dir or bad options (segment_size out of range, an unknown
 *   sync_mode, a sync_interval_ms of 0 with CASK_SYNC_INTERVAL); -ENOMEM;
 *   other -errno.
 */
CASK_API int cask_open(const char *dir, const struct cask_options *opts,
		       struct cask_db **out);

/**
 * Remove the store in @p dir: every file libcask creates there
 * (docs/FORMAT.md section 1), then @p dir itself unless something is left
 * in it (a lost+found). For a program that created a store and must undo
 * that, as caskfs does when the mount it made a new store for fails.
 * The store's lock is taken first (LOCK is made if missing), and every
 * file is checked, by name and kind, as it is removed.
 * @return 0 (also when another process removed some of the files
 *   meanwhile); CASK_ENOTSTORE if @p dir holds a file libcask did not
 *   create (a name libcask does not use, or one that is not a regular file:
 *   a link, a FIFO) or a STORE that is not its marker (nothing is removed),
 *   or if such a file appeared while the store's files were removed (it
 *   stays, with LOCK and @p dir); CASK_ELOCKED if a process has the store
 *   open for writing (nothing is removed); -ENOENT if @p dir is missing;
 *   another -errno (files removed before the failure stay removed).
 */
CASK_API int cask_destroy(const char *dir);

/**
 * Close @p db and remove its store, if this open created it: when the
 * open took the store's lock, the directory held no STORE marker and no
 * segment. The lock is held from the open to the last removal (LOCK is
 * removed last), so no other process can have opened the store, and
 * nothing it wrote is removed. For a program that must undo the store
 * it just made (caskfs, when the mount fails). The handle is freed in
 * every case.
 * @return 0 (the store is gone, its directory too unless something else
 *   is left in it: a lost+found); CASK_EINVAL if @p db is read-only or
 *   its open did not create the store (it is only closed, as by
 *   cask_close()); otherwise as cask_destroy() (CASK_ENOTSTORE for a file
 *   libcask did not create, which stays).
 */
CASK_API int cask_close_destroy(struct cask_db *db);

/**
 * Make everything written durable, stop background threads, release the
 * lock and free @p db. Waits for a running merge to stop (one still
 * copying is abandoned, its temporary files removed); a writable handle
 * gives sealed segments without a hint file one; merge inputs kept for
 * merge_keep_ms or a backup window still open are removed. A writable
 * handle whose writes all succeeded then leaves the CLOSED mark
 * (docs/FORMAT.md section 1), by which the next open knows the active
 * segment was whole (failing to write it is logged, not returned).
 *
 * cask_close() is the last call on @p db: every other call on it, on its
 * batches and on its iterators must have returned in every thread, and
 * none may start during or after it. Iterators and batches are not
 * closed with the store: they can no longer be used, but must still be
 * freed, with cask_iter_free() and cask_batch_free(), before or after.
 * @param db may be NULL (then 0 is returned).
 * @return 0; CASK_EFAILED if an earlier write or sync failed (what was
 *   not synced then may be lost); -EIO or another -errno if the last
 *   fdatasync failed. The handle is freed regardless.
 */
CASK_API int cask_close(struct cask_db *db);

/**
 * Store @p val under @p key, replacing any previous value.
 * Under CASK_SYNC_ALWAYS the write is durable when this returns 0.
 * @return 0; CASK_EINVAL (key empty or too long, value too long);
 *   CASK_EREADONLY; CASK_EFAILED (an earlier write or sync failed: nothing
 *   was written);
 *   -ENOSPC or -EDQUOT (nothing was written, also while the space reserve
 *   is given up: see reserve_bytes; the store takes writes again once
 *   space is freed); -ENOMEM (nothing was written; the store stays
 *   writable); -EIO or another -errno (nothing was written; after a
 *   failed write into the log the handle takes no more writes:
 *   CASK_EFAILED from then on).
 *   Under CASK_SYNC_ALWAYS the write is made visible before its
 *   fdatasync: if that fails, the put returns -EIO (or CASK_EFAILED when
 *   another thread's fdatasync for it failed) with the value visible but
 *   perhaps not durable, and the handle takes no more writes.
 */
CASK_API int cask_put(struct cask_db *db, const void *key, size_t klen,
		      const void *val, size_t vlen);

/**
 * As cask_put(), but the key expires @p ttl_ms milliseconds from now: from
 * then on it reads as absent, iterators skip it and merge drops it.
 * A @p ttl_ms of 0 means no expiry. The expiry is stored in the record and
 * read only once the record is verified: damage there makes reads of the
 * key fail with CASK_ECORRUPT (iterators visit it), never read as absent.
 */
CASK_API int cask_put_ttl(struct cask_db *db, const void *key, size_t klen,
			  const void *val, size_t vlen, uint64_t ttl_ms);

/**
 * Copy the value of @p key into the caller's buffer.
 * @param buf receives min(@p bufsize, value length) bytes; may be NULL when
 *   @p bufsize is 0 (to ask for the length only).
 * @param[out] vlen the full length of the value (may exceed @p bufsize).
 * @return 0; CASK_ENOTFOUND; CASK_ECORRUPT if the record fails its CRC
 *   (nothing is copied); CASK_EINVAL (key empty or too long); -EIO;
 *   -ENOMEM.
 */
CASK_API int cask_get(struct cask_db *db, const void *key, size_t klen,
		      void *buf, size_t bufsize, size_t *vlen);

/**
 * Return the value of @p key in a buffer the library allocates.
 * @param[out] val malloc()ed; the caller frees it with free(). NULL on
 *   error. A zero-length value still yields a non-NULL pointer.
 * @param[out] vlen its length.
 * @return as cask_get(), or -ENOMEM.
 */
CASK_API int cask_get_alloc(struct cask_db *db, const void *key, size_t klen,
			    void **val, size_t *vlen);

/**
 * Copy bytes [@p offset, @p offset + @p len) of the value of @p key into
 * @p buf; the range is clipped at the end of the value. The whole record
 * is verified, not only the range: the first range read of a record of
 * 4 KiB or more checks all of it and later ones reuse that verdict, so
 * reading a large value in pieces costs one CRC pass over it.
 * @param[out] nread how many bytes were copied (0 at or past the end, and
 *   on any error).
 * @return 0; CASK_ENOTFOUND; CASK_ECORRUPT if any byte of the record fails
 *   its CRC, inside the range or not (nothing is copied); CASK_EINVAL (key
 *   empty or too long); -EIO; -ENOMEM.
 */
CASK_API int cask_get_range(struct cask_db *db, const void *key, size_t klen,
			    uint64_t offset, void *buf, size_t len,
			    size_t *nread);

/** Where a record lies (cask_locate()). */
struct cask_location {
	/** The segment file's name in the store directory, NUL-terminated. */
	char file[32];
	/** The byte offset of the record's first byte in that file. */
	uint64_t offset;
};

/**
 * Find where the newest record of @p key lies, to name it in a message
 * (after a read failed with CASK_ECORRUPT, say). A merge may move the
 * record at any time after this returns.
 * @param[out] loc filled on success.
 * @return 0; CASK_ENOTFOUND; CASK_EINVAL (key empty or too long).
 */
CASK_API int cask_locate(struct cask_db *db, const void *key, size_t klen,
			 struct cask_location *loc);

/**
 * Remove @p key. Removing an absent key succeeds (and writes nothing).
 * A delete frees space: on a full disk it may use the space reserve
 * (reserve_bytes). The space of the value returns at the next merge.
 * @return 0, or a write error as cask_put() (-ENOSPC only once the
 *   reserve is used up too).
 */
CASK_API int cask_delete(struct cask_db *db, const void *key, size_t klen);

/**
 * @return 1 if @p key is present (and not expired), 0 if not, or
 *   CASK_EINVAL (key empty or too long). Reads no value; a key with an
 *   expiry has its record verified to read the expiry: CASK_ECORRUPT if it
 *   fails, -EIO, -ENOMEM.
 */
CASK_API int cask_exists(struct cask_db *db, const void *key, size_t klen);

/**
 * Make every write that has returned so far durable (fdatasync of the
 * active segment; writers waiting for the same sync share it).
 * @return 0 (at once on a read-only handle); CASK_EFAILED if an earlier
 *   write or sync failed; -EIO or another -errno if the fdatasync fails
 *   (the handle then takes no more writes).
 */
CASK_API int cask_sync(struct cask_db *db);

/** Counters of a store (cask_stats()). Byte counts include headers. */
struct cask_stats {
	uint64_t keys;		  /**< live keys (expired ones until merged) */
	uint64_t segments;	  /**< segment files */
	uint64_t live_bytes;	  /**< bytes of records the keydir points at */
	uint64_t dead_bytes;	  /**< bytes of overwritten/deleted records */
	uint64_t disk_bytes;	  /**< total size of segment files */
	uint64_t keydir_bytes;	  /**< memory held by the keydir */
	uint64_t seq;		  /**< last sequence number issued */
	uint64_t syncs;		  /**< fdatasyncs of the log (commits
				       and cask_sync, shared by group
				       commit; rotations) */
	uint64_t merges;	  /**< merges completed since open */
	uint64_t merge_reclaimed; /**< bytes reclaimed by those merges */
	uint64_t merge_last_ms;	  /**< duration of the last merge */
	uint64_t reserve_bytes;	  /**< space reserve held (0: given up) */
	uint64_t held_bytes;	  /**< space held by cask_hold() (HELD) */
	bool merge_running;	  /**< a merge is in progress */
	uint64_t merge_done;	  /**< bytes processed by the running merge
				       (0 when none runs) */
	uint64_t merge_total;	  /**< bytes it will process (0: none runs) */
	/** Damaged ranges open found in the segments it read, and their
	 *  bytes (docs/FORMAT.md section 7). They stay on disk: the records
	 *  around them are all kept. Segments read through a hint file are not
	 *  searched; damage there shows when a read fails and in cask_verify().
	 */
	uint64_t damaged_ranges;
	uint64_t damaged_bytes;
	/** Keys whose newest version open found damaged: reading one fails
	 *  with CASK_ECORRUPT until it is written or deleted again
	 *  (cask_damaged_keys() lists them). */
	uint64_t damaged_keys;
	/** Merge inputs still on disk for a copy of the directory: removed
	 *  from the store (in no other figure), their files (segments and
	 *  hints) kept while a backup window is open or a copy may be
	 *  running (merge_keep_ms). */
	uint64_t kept_bytes;
	uint64_t kept_segments;
	uint64_t backup_windows; /**< open backup windows */
	/** Of keydir_bytes, memory that holds no key: room freed by deletes,
	 *  reused by new keys, and given back when a merge finds the keydir
	 *  mostly empty (and in use 8 MiB at most). */
	uint64_t keydir_unused_bytes;
	/** A merge was asked for during a backup window: it starts when the
	 *  last window closes. */
	bool merge_waiting;
};

/** Fill @p st (every field; zeroed first). @return 0. */
CASK_API int cask_stats(struct cask_db *db, struct cask_stats *st);

/** Per-segment figures, for tools. */
struct cask_segment_stats {
	uint32_t id;
	uint64_t size; /**< bytes in the file */
	uint64_t live_bytes;
	uint64_t dead_bytes;
	bool active; /**< the segment being appended to */
	bool has_hint;
	uint64_t damaged_bytes; /**< in damaged ranges (cask_stats) */
};

/**
 * Copy the figures of up to @p max segments into @p out (oldest first).
 * @param out may be NULL when @p max is 0 (to ask for the count).
 * @param[out] count the number of segments there are (may exceed @p max).
 * @return 0.
 */
CASK_API int cask_segment_stats(struct cask_db *db,
				struct cask_segment_stats *out, size_t max,
				size_t *count);

/** A key whose newest version open found damaged (cask_damaged_keys()). */
struct cask_damaged_key {
	/** The key, borrowed for the call of the callback. */
	const void *key;
	size_t klen;
	/** Where the damaged record lies. */
	struct cask_location loc;
	/** The damaged record's sequence number does not read plausibly, so
	 *  it may or may not have been the key's newest version: the key
	 *  reads as its newest valid version (or as absent), not as
	 *  CASK_ECORRUPT. */
	bool uncertain;
};

/**
 * Call @p fn once for each key counted in cask_stats.damaged_keys: the
 * keys whose newest version open found in a damaged range (cask_open()),
 * in the order of their damaged records in the log: a key once, plus once
 * per uncertain record that may have held it. All are listed, also past
 * the 32 that the log callback names at open. The list is the one open
 * made: a key written or deleted since is still on it (its loc then names
 * the damaged record, not its new one).
 * @p fn is called in the thread of this call with no lock held and may
 * call the library on this store (not cask_close()); *@p dk and what it
 * points at are borrowed for that one call. A nonzero return stops the
 * walk.
 * @return 0 (also when open found no damage), or the nonzero value @p fn
 *   returned.
 */
CASK_API int cask_damaged_keys(struct cask_db *db,
			       int (*fn)(void *arg,
					 const struct cask_damaged_key *dk),
			       void *arg);

/**
 * A short English description of any code returned by this library
 * (negative errno values included; "unknown error" for anything else).
 * The string is static; never NULL. Safe from any thread and callback.
 */
CASK_API const char *cask_strerror(int err);

/*
 * Batches: a group of puts and deletes that become visible and durable
 * together. After a crash at any point of a commit either all of a batch is
 * found on reopen or none of it.
 */
struct cask_batch;

/**
 * Start an empty batch on @p db. Any number of batches may be open on a
 * store at once; they do not see each other's operations, and are
 * committed in the order their commits are made.
 * @param[out] out free it with cask_batch_free() (commit does not free).
 * @return 0, CASK_EREADONLY, -ENOMEM.
 */
CASK_API int cask_batch_new(struct cask_db *db, struct cask_batch **out);

/** Add a put to @p b (the bytes are copied). @return 0, CASK_EINVAL,
 *  -ENOMEM. */
CASK_API int cask_batch_put(struct cask_batch *b, const void *key, size_t klen,
			    const void *val, size_t vlen);

/** As cask_batch_put() with an expiry (see cask_put_ttl()). */
CASK_API int cask_batch_put_ttl(struct cask_batch *b, const void *key,
				size_t klen, const void *val, size_t vlen,
				uint64_t ttl_ms);

/** Add a delete to @p b. @return 0, CASK_EINVAL, -ENOMEM. */
CASK_API int cask_batch_delete(struct cask_batch *b, const void *key,
			       size_t klen);

/**
 * Read @p key as the batch would leave it: the batch's own last put or
 * delete of the key if it has one, the store's value otherwise.
 * @param[out] val malloc()ed, the caller frees it; NULL on error.
 * @return as cask_get_alloc() (CASK_ENOTFOUND also when the batch deletes
 *   the key).
 */
CASK_API int cask_batch_get(struct cask_batch *b, const void *key, size_t klen,
			    void **val, size_t *vlen);

/** Number of operations in @p b. */
CASK_API size_t cask_batch_count(const struct cask_batch *b);

/** Flags of cask_batch_commit() and the other commits (see "Two-phase
 *  commit" below). */
#define CASK_COMMIT_SYNC   1u /**< durable on return, whatever the sync mode */
/** The batch frees space (it removes more than it adds, as a file's
 *  unlink that also rewrites its directory): on a full disk it may use the
 *  space reserve, as cask_delete() does. A batch of deletes only is taken
 *  as freeing without the flag. */
#define CASK_COMMIT_FREES  2u
/** Return once the commit is written and visible, without waiting for it
 *  to be durable (neither CASK_SYNC_ALWAYS nor CASK_COMMIT_SYNC waits):
 *  the first phase of a two-phase commit, whose second phase is
 *  cask_wait_durable(). */
#define CASK_COMMIT_NOWAIT 4u

/**
 * Write @p b atomically. On success the batch is emptied and can be reused.
 * On failure nothing of it is visible, and it keeps its operations.
 * An empty batch writes nothing, but waits as a commit would (so with
 * CASK_COMMIT_SYNC it makes every write that returned before durable).
 * @return as cask_put(); CASK_EINVAL for an unknown flag. If the
 *   fdatasync fails after the write (CASK_EFAILED, -EIO), the batch is
 *   visible but may not survive a crash, and it keeps its operations.
 */
CASK_API int cask_batch_commit(struct cask_batch *b, unsigned flags);

/** Drop the operations of @p b without writing them. */
CASK_API void cask_batch_clear(struct cask_batch *b);

/** Free @p b, discarding anything not committed. @p b may be NULL, and
 *  may be freed after its store was closed. */
CASK_API void cask_batch_free(struct cask_batch *b);

/*
 * Held space: disk space set aside for writes a caller has promised (caskfs
 * holds it for fallocate). It is allocated in the file HELD of the store
 * directory, so that nothing else on the disk can take it, and stays held
 * across close and open (the size of HELD) until given back: the caller
 * keeps track of what it owes and evens the held bytes out after open
 * (cask_stats().held_bytes). A commit spends it with cask_batch_unhold():
 * the bytes are given back just before the commit's records are written,
 * so that the write finds the room. Only another writer of the same disk
 * can take them in between (not one of this store's writes, which wait for
 * the commit; this store's merge and hint files can): the commit then
 * fails with ENOSPC, as it would have without held space.
 */

/**
 * Set aside @p bytes more of disk space (posix_fallocate and fsync of
 * HELD).
 * @return 0; -ENOSPC or -EDQUOT (not the room, also while the space
 *   reserve is given up: nothing is set aside); -EFBIG (the held bytes
 *   would pass INT64_MAX, or the largest file the file system allows);
 *   CASK_EREADONLY; CASK_EFAILED; -EIO or another
 *   -errno (nothing is set aside).
 */
CASK_API int cask_hold(struct cask_db *db, uint64_t bytes);

/**
 * Give back @p bytes of held space to the disk (at most those held).
 * Also on a handle that takes no more writes (CASK_EFAILED).
 * @return 0; CASK_EREADONLY; -errno if HELD could not be cut (nothing is
 *   given back).
 */
CASK_API int cask_unhold(struct cask_db *db, uint64_t bytes);

/**
 * The commit of @p b gives back @p bytes of held space (calls add up; at
 * most those held then), just before its records are written, so that they
 * can use the room: a write paid for in advance. Such a commit goes ahead
 * also while the space reserve is given up. If the commit fails the bytes
 * are held again (if that fails too they are lost to the holder, which the
 * log callback says and cask_stats().held_bytes shows). A commit of an
 * empty batch gives them back and writes nothing; cask_batch_clear()
 * forgets them.
 */
CASK_API void cask_batch_unhold(struct cask_batch *b, uint64_t bytes);

/*
 * Two-phase commit. Every write is a commit: its records are appended to
 * the log and made visible, and then, under CASK_SYNC_ALWAYS or with
 * CASK_COMMIT_SYNC, the call waits until they are durable. The _pos
 * variants below also return the commit's log position, and with
 * CASK_COMMIT_NOWAIT return before that wait, which cask_wait_durable()
 * does later. A caller can release locks of its own in between, so that
 * its other threads commit meanwhile and the waiters share fdatasyncs
 * (group commit):
 *
 *	rc = cask_batch_commit_pos(b, CASK_COMMIT_NOWAIT, &pos);
 *	pthread_mutex_unlock(&my_lock);
 *	if (rc == 0)
 *		rc = cask_wait_durable(db, pos, 0);
 *
 * A log position is a number that grows with the log; 0 lies before every
 * write. It is meaningful to the handle that returned it only. A commit's
 * position covers the commit and everything it could see: once it is
 * durable, so are the commit and every commit that returned before it
 * started (a commit that writes nothing, an empty batch or the delete of an
 * absent key, returns the end of the log).
 */

/**
 * cask_put_ttl() with commit @p flags (CASK_COMMIT_*; a @p ttl_ms of 0:
 * no expiry).
 * @param[out] pos the commit's log position, 0 on error; may be NULL.
 * @return as cask_put(); CASK_EINVAL also for an unknown flag. Without
 *   CASK_COMMIT_NOWAIT, CASK_EFAILED or -EIO from the fdatasync after the
 *   write mean it is visible but may not survive a crash.
 */
CASK_API int cask_put_pos(struct cask_db *db, const void *key, size_t klen,
			  const void *val, size_t vlen, uint64_t ttl_ms,
			  unsigned flags, uint64_t *pos);

/** cask_delete() with commit @p flags and position @p pos (may be NULL),
 *  as cask_put_pos(). */
CASK_API int cask_delete_pos(struct cask_db *db, const void *key, size_t klen,
			     unsigned flags, uint64_t *pos);

/** cask_batch_commit() that also returns the commit's log position through
 *  @p pos (may be NULL; 0 on error). */
CASK_API int cask_batch_commit_pos(struct cask_batch *b, unsigned flags,
				   uint64_t *pos);

/**
 * The second phase of a commit made with CASK_COMMIT_NOWAIT: wait until
 * the log up to @p pos is as durable as the commit would have made it
 * without that flag. Under CASK_SYNC_ALWAYS, or with CASK_COMMIT_SYNC in
 * @p flags, that is fdatasynced; threads waiting at once share one
 * fdatasync. Otherwise it returns at once, and the interval syncer,
 * cask_sync() or cask_close() make the log durable later. The flags given
 * to the commit may be passed again (CASK_COMMIT_FREES and
 * CASK_COMMIT_NOWAIT are ignored here). May be called from any thread.
 * @return 0 (also at once for a @p pos of 0, for one that is durable
 *   already, and on a read-only handle); CASK_EINVAL for a @p pos beyond
 *   the end of the log or an unknown flag; CASK_EFAILED if an fdatasync
 *   failed, earlier or meanwhile in another thread, before @p pos was
 *   durable (the handle takes no more writes); -EIO or another -errno if
 *   the fdatasync this call made failed (from then on the same).
 */
CASK_API int cask_wait_durable(struct cask_db *db, uint64_t pos,
			       unsigned flags);

/*
 * Iterators visit keys in order (memcmp), forward or reverse.
 *
 * What an iterator sees while other threads write: each step moves to the
 * next key after the current one in the store as it is at that step. A key
 * present during the whole iteration is visited exactly once; a key added or
 * removed during it is visited or not depending on the moment; no key is
 * visited twice, and keys are always visited in strictly increasing
 * (decreasing for reverse) order. The value read for a key is its newest
 * value at the step that reached it. Merges never disturb an iterator.
 */
struct cask_iter;

/** Iterator options (zero-initialise for a plain forward iterator). */
struct cask_iter_options {
	bool reverse;
	/** Only keys that start with these bytes (NULL: no prefix bound). */
	const void *prefix;
	size_t prefix_len;
	/** Only keys >= start (NULL: unbounded). */
	const void *start;
	size_t start_len;
	/** Only keys < end (NULL: unbounded). */
	const void *end;
	size_t end_len;
};

/**
 * Create an iterator positioned at its first key (the last for reverse).
 * @param opts NULL for a plain forward iterator. The bound bytes are copied.
 * @param[out] out free it with cask_iter_free().
 * @return 0 (also when no key is in bounds: then cask_iter_valid() is
 *   false); -ENOMEM.
 */
CASK_API int cask_iter_new(struct cask_db *db,
			   const struct cask_iter_options *opts,
			   struct cask_iter **out);

/*
 * Moving an iterator: cask_iter_rewind(), cask_iter_seek() and
 * cask_iter_next() return 0 when it is positioned at a key, CASK_ENOTFOUND
 * when no key is left, or an error (-ENOMEM: no memory for the copy of the
 * key). After an error the iterator is not positioned, as at the end:
 * cask_iter_valid() is false and cask_iter_error() returns the error, so a
 * loop
 *
 *     for (; cask_iter_valid(it); cask_iter_next(it))
 *             ...;
 *     rc = cask_iter_error(it);
 *
 * tells a complete scan from one that stopped early. cask_iter_next()
 * after an error returns the same error again; cask_iter_seek() and
 * cask_iter_rewind() start over.
 */

/** Back to the first key (last for reverse). @return 0; CASK_ENOTFOUND
 *  when there is none; -ENOMEM. */
CASK_API int cask_iter_rewind(struct cask_iter *it);

/**
 * Move to the first key >= @p key (<= @p key for a reverse iterator),
 * within the bounds.
 * @return 0; CASK_ENOTFOUND when there is no such key; -ENOMEM.
 */
CASK_API int cask_iter_seek(struct cask_iter *it, const void *key, size_t klen);

/** Move to the next key. @return 0; CASK_ENOTFOUND at the end (also when
 *  called at the end); -ENOMEM (also when called after an error). */
CASK_API int cask_iter_next(struct cask_iter *it);

/** @return true if @p it is positioned at a key. */
CASK_API bool cask_iter_valid(const struct cask_iter *it);

/**
 * Why @p it is not positioned.
 * @return 0 while it is positioned or after it reached the end; the error
 *   of the last rewind, seek or step that failed (-ENOMEM). Errors of
 *   cask_iter_value() leave the iterator positioned and are not kept.
 */
CASK_API int cask_iter_error(const struct cask_iter *it);

/**
 * The current key, borrowed until the next call on @p it.
 * @return NULL if the iterator is not positioned.
 */
CASK_API const void *cask_iter_key(const struct cask_iter *it, size_t *klen);

/**
 * The current value, borrowed until the next call on @p it.
 * @return 0; CASK_ENOTFOUND if not positioned or the key was removed since
 *   the step; CASK_ECORRUPT; -EIO; -ENOMEM.
 */
CASK_API int cask_iter_value(struct cask_iter *it, const void **val,
			     size_t *vlen);

/** Free @p it. */
CASK_API void cask_iter_free(struct cask_iter *it);

/*
 * Merge: rewrite the segments with the most garbage, dropping dead and
 * expired records, and write a hint file for each new segment.
 */
struct cask_merge_options {
	/** Merge every sealed segment holding dead bytes, however few. */
	bool all;
	/** Wait for the merge to finish (otherwise it runs in the background
	 *  and this call returns at once). */
	bool wait;
	/** Progress callback (may be NULL), called from the merging thread
	 *  with no store lock held, about every MiB merged and at the end of
	 *  each input, with the bytes processed and to process. It may call
	 *  the library on the store (reads, writes, cask_stats(); a
	 *  cask_merge() returns CASK_EBUSY), except cask_close() and
	 *  cask_backup_begin(), which wait for the merge to end. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	/** Passed to progress; must stay valid until the merge ends: until
	 *  cask_merge() returns with wait set, otherwise until cask_stats()
	 *  shows merge_running false or cask_close() returned. (The options
	 *  are copied: the struct itself need not outlive the call.) */
	void *progress_arg;
};

/**
 * Start a merge. @param opts NULL: background merge of the segments whose
 * garbage passes the thresholds.
 * A merge that meets ENOSPC gives up the space reserve and the inputs kept
 * for merge_keep_ms (not those of a backup window), and goes on one input
 * at a time, the one with the most garbage first, so that each input's
 * freed space pays for the next one's live records. The reserve is taken
 * again when it ends.
 * During a backup window no merge starts: without wait the merge is noted
 * (cask_stats() merge_waiting, a line to the log says why it waits) and
 * starts when the last window closes, and this returns 0.
 * @return 0 (also when there is nothing to merge); CASK_EBUSY if a merge
 *   is already running, or with wait if a backup window is open;
 *   CASK_EREADONLY;
 *   CASK_EFAILED if an earlier write or sync failed; -ENOMEM, or another
 *   -errno if the merge could not start (with opts->all, sealing the
 *   active segment first can fail as a write does).
 *   With wait set, also the merge's own error: -ENOSPC or -EDQUOT (not
 *   even one input fitted), -ENOMEM, CASK_EFAILED or -EIO (a sync of the
 *   log failed; the handle takes no more writes), another -errno of its
 *   file operations. A failed merge loses no data: its inputs stay.
 */
CASK_API int cask_merge(struct cask_db *db,
			const struct cask_merge_options *opts);

/**
 * Backup window. Between begin and end no file of the store is removed,
 * renamed or rewritten: only the active segment grows and new segments may
 * appear (no merge or hint file is written; begin waits for a running one
 * to finish). So a copy of the directory made with cp -a or rsync -a in
 * the window opens cleanly and holds a prefix of the history. Windows
 * nest (counted). Merge inputs kept for a window are removed when the
 * last window closes (unless a copy still reads the directory:
 * merge_keep_ms), and a merge asked for meanwhile (cask_merge() without
 * wait) starts then. A window left open is closed by cask_close().
 * cask_backup_begin() opens a window with no holder and no time limit;
 * cask_backup_end() closes the most recently opened one.
 * @return 0, CASK_EREADONLY; cask_backup_end() also CASK_EINVAL when no
 *   window is open.
 */
CASK_API int cask_backup_begin(struct cask_db *db);
CASK_API int cask_backup_end(struct cask_db *db);

/** Options of cask_backup_begin_held(). */
struct cask_backup_options {
	/** The process the window belongs to (0: none): the window closes by
	 *  itself, within about a second, once that process has ended, so a
	 *  copying program that dies does not leave merges stopped. */
	int holder_pid;
	/** Close the window by itself after this many ms (0: no limit). */
	uint64_t max_ms;
};

/**
 * Open a backup window (as cask_backup_begin()) that closes by itself when
 * its holder ends or its time is up; a line to the log says so.
 * @return 0; CASK_EREADONLY; CASK_EINVAL if @p opts is NULL or names a
 *   negative pid; -ESRCH if the holder does not exist.
 */
CASK_API int cask_backup_begin_held(struct cask_db *db,
				    const struct cask_backup_options *opts);

/**
 * Close the most recently opened window held by process @p holder_pid, or
 * with @p holder_pid 0 the most recently opened one without a holder;
 * never a window held by another process.
 * @return 0, CASK_EREADONLY, CASK_EINVAL when no window is open,
 *   CASK_ENOTFOUND when windows are open but none is so held.
 */
CASK_API int cask_backup_end_held(struct cask_db *db, int holder_pid);

/** An open backup window (cask_backup_windows()). */
struct cask_backup_info {
	int holder_pid;	  /**< its holder, 0: none */
	uint64_t open_ms; /**< how long it has been open */
	uint64_t left_ms; /**< until it closes by itself; 0: no limit */
};

/**
 * The open backup windows, oldest first: up to @p max in @p out, and how
 * many there are in @p count. @return 0.
 */
CASK_API int cask_backup_windows(struct cask_db *db,
				 struct cask_backup_info *out, size_t max,
				 size_t *count);

/*
 * Verification: an offline check of every byte of a store, for tools
 * (cask verify). It takes no lock and changes nothing, so it may run while
 * another process has the store open (the active segment is read up to its
 * size at the moment it is opened).
 */

/** Kinds of problem reported by cask_verify(). */
enum cask_verify_kind {
	/** Damage: a bad segment or hint header, a record that fails its
	 *  plausibility or CRC check, broken batch framing in a sealed
	 *  segment, a hint entry that does not match its segment, an
	 *  unreadable file. Counted in cask_verify_result.damaged. */
	CASK_VERIFY_DAMAGE = 1,
	/** The tail of the active segment after its last valid record, past
	 *  what the last clean close left, with no valid record after it (the
	 *  remains of an interrupted write, or a write in progress). Open
	 *  truncates it; not damage. */
	CASK_VERIFY_TAIL = 2,
	/** Something worth knowing that is not damage (a leftover merge
	 *  temporary file, bytes an open saved aside as
	 *  NNNNNNNNNN.cask.damaged-OFFSET). */
	CASK_VERIFY_NOTE = 3,
};

/** Options of cask_verify(). Zero-initialise for the defaults. */
struct cask_verify_options {
	/** Called once per problem with the file's name (relative to the
	 *  store directory), the byte offset in it, the kind and a one-line
	 *  English description. The strings are borrowed for the call only.
	 *  Called in the thread of cask_verify(), with no lock held: it may
	 *  call the library. NULL: problems are only counted. */
	void (*report)(void *arg, const char *file, uint64_t offset,
		       enum cask_verify_kind kind, const char *msg);
	/** Passed to report, during cask_verify() only. */
	void *report_arg;
	/** Do not check hint files (default false: every hint entry is
	 *  checked against the record it points at). */
	bool skip_hints;
	/** Progress callback (may be NULL), called in the thread of
	 *  cask_verify() once per segment file checked (with its hint file),
	 *  with the bytes of the segment files checked so far and of all
	 *  of them (sizes as listed at the start). */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	/** Passed to progress, during cask_verify() only. */
	void *progress_arg;
};

/** What cask_verify() found. */
struct cask_verify_result {
	uint64_t segments;     /**< segment files read */
	uint64_t hints;	       /**< hint files read */
	uint64_t records;      /**< valid records (puts, deletes, commits,
				    synced records) */
	uint64_t puts;	       /**< of which puts */
	uint64_t deletes;      /**< of which tombstones */
	uint64_t commits;      /**< of which batch commit records */
	uint64_t bytes;	       /**< bytes of all segment files */
	uint64_t hint_entries; /**< entries of all hint files */
	uint64_t damaged;      /**< CASK_VERIFY_DAMAGE reports */
	uint64_t tail_bytes;   /**< bytes of the active segment's torn tail */
	uint32_t active_id;    /**< id of the active segment (0: none) */
	/** Segments skipped because they are only kept for copies
	 *  (cask_kept_files()), each reported as CASK_VERIFY_NOTE, and their
	 *  bytes. */
	uint64_t kept_segments;
	uint64_t kept_bytes;
};

/**
 * Read every segment file and hint file of the store in directory @p dir
 * and check segment headers (magic, CRC, version, id), every record
 * (plausible header, whole, CRC), batch framing (every batch record
 * followed by a COMMIT with the right count), and every hint file (header,
 * CRC, entries, and each entry against the record it names). After a
 * damaged region the check resumes at the next valid record, as open
 * does, so each damaged region is reported, with the key of its first
 * record where its header still reads, and what open does with it
 * (docs/FORMAT.md section 7). Takes no lock, writes nothing.
 * @param opts NULL for the defaults.
 * @param[out] res filled (zeroed first) whatever the return code; may be
 *   NULL.
 * @return 0 if nothing is damaged; CASK_ENOTSTORE if @p dir holds files
 *   that are not a store's, or a STORE file that is not libcask's marker
 *   (each reported as CASK_VERIFY_NOTE; cask_open() refuses such a
 *   directory); CASK_ECORRUPT if anything is damaged (each problem went
 *   to the report callback); -ENOENT / -ENOTDIR / -EACCES if
 *   @p dir cannot be listed; -ENOMEM; another -errno if a file could not be
 *   read (reported as damage too; the check goes on with the other files).
 */
CASK_API int cask_verify(const char *dir,
			 const struct cask_verify_options *opts,
			 struct cask_verify_result *res);

/**
 * The files of the store in @p dir that are only kept for copies: the
 * input segments (and their hints) of finished merges, named by a drop
 * list whose outputs all exist, and those drop lists. They are not part of
 * the store's state: the next writable open removes them, a read-only
 * open does not read them, cask_verify() skips them, and a copy of the
 * directory may leave them out (cask_stats() kept_bytes counts them).
 * @p fn is called with each file's name (borrowed for the call) and size;
 * a non-zero return stops the walk. Takes no lock, changes nothing.
 * @return 0; @p fn's non-zero return; -ENOMEM, or -errno if @p dir cannot
 *   be read.
 */
CASK_API int cask_kept_files(const char *dir,
			     int (*fn)(void *arg, const char *name,
				       uint64_t size),
			     void *arg);

/*
 * Store files, for tools that list or copy a store directory (docs/FORMAT.md
 * section 1). The data of a store is its segments and their hint files;
 * every other file of the directory is the library's own (the lock, the
 * space reserve, held space, drop lists, merge temporaries) or not the
 * store's at all.
 */
enum cask_file_kind {
	CASK_FILE_OTHER = 0,   /**< not a segment or a hint file */
	CASK_FILE_SEGMENT = 1, /**< a segment of the log, NNNNNNNNNN.cask */
	CASK_FILE_HINT = 2,    /**< the hint of segment NNNNNNNNNN */
};

/** Room for any name cask_file_name() builds, NUL included. */
#define CASK_FILE_NAME_MAX 32

/**
 * What the file called @p name (no directory part) in a store directory
 * is, by its name alone.
 * @param[out] id the segment id in the name, set for a segment or hint
 *   file only; may be NULL.
 */
CASK_API enum cask_file_kind cask_file_parse(const char *name, uint32_t *id);

/**
 * Build the name of the file of @p kind for segment @p id into @p buf.
 * @return 0; CASK_EINVAL if @p kind is CASK_FILE_OTHER or unknown, or
 *   @p size is below CASK_FILE_NAME_MAX.
 */
CASK_API int cask_file_name(enum cask_file_kind kind, uint32_t id, char *buf,
			    size_t size);

#ifdef __cplusplus
}
#endif
#endif /* CASK_H */
