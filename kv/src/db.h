/*
 * db.h - the store handle shared by the files of libcask (not public).
 *
 * Locks, always taken in this order:
 *   wmu  (writer mutex)  serialises every change: appends, rotation, the
 *                        merge swap, keydir modification. Holding it alone
 *                        allows reading the keydir and segment table.
 *   rw   (rwlock)        guards the keydir and the segment table. Readers
 *                        hold it shared while they look up a key and copy
 *                        its value; changes hold wmu and take it exclusive
 *                        only for the in-memory update (never across I/O).
 *   gc.mu                the group-commit state (sync.c).
 * No lock is held across an fsync except by the merge thread, which holds
 * none of the above while it writes.
 */
#ifndef CASK_DB_H
#define CASK_DB_H

#include "cask.h"
#include "deferred.h"
#include "keydir.h"
#include "record.h"
#include "segment.h"

#include <pthread.h>
#include <sys/uio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* keydir_entry flag kept during recovery only: the newest record is a
 * tombstone, remembered so an older put read later cannot resurrect it. */
#define KEYDIR_F_TOMBSTONE 0x2u

/** Segments sorted by id. */
struct seg_table {
	struct segment **v;
	size_t n, cap;
};

/* A thread waiting in sync.c for a log position (on its stack). */
struct sync_waiter {
	uint64_t pos;
	bool gathers; /* a leader may wait for others for it (sync.c) */
	struct sync_waiter *next;
};

/* Every field guarded by mu. */
struct group_commit {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t more; /* a gathering leader hears of arrivals */
	/* Log position known durable: written only once the fdatasync
	 * that made it so returned; also read without mu, by writers
	 * (write.c carries it in the log). */
	_Atomic uint64_t synced;
	struct sync_waiter *waiters; /* every thread waiting in sync.c */
	unsigned nwaiting;	     /* the length of waiters */
	unsigned expect;	     /* waiters a leader gathers (sync.c) */
	int64_t last_ns;	     /* how long the last fdatasync took */
	bool running;		     /* a thread is in fdatasync */
	bool gathering;		     /* its leader waits for more first */
};

/* A key whose newest version open found damaged (damage.c). */
struct damage_key {
	uint8_t *key; /* owned */
	uint16_t klen;
	uint32_t seg, off; /* the damaged record */
	bool uncertain;	   /* its seq did not read plausibly */
};

/* What the handle knows of damaged records (damage.c). */
struct damage {
	/* Set by recovery before the handle is shared; read-only after. */
	struct damage_key *keys;
	size_t nkeys, cap;
	/* Records the log has named: log_pos(seg, off), sorted. Guarded by
	 * mu. */
	pthread_mutex_t mu;
	uint64_t *named;
	size_t nnamed, ncap;
};

struct cask_db {
	char *dir;
	int dirfd;
	int lock_fd;
	struct cask_options opts;
	/* This open made the store: when it took the lock, the directory
	 * held no STORE marker and no segment (cask_close_destroy). */
	bool created;

	pthread_mutex_t wmu;
	pthread_rwlock_t rw;

	/* Guarded by rw (changes also hold wmu). */
	struct keydir *kd;
	struct seg_table segs;
	struct segment *active; /* also in segs; changed under wmu + rw */

	/* Guarded by wmu. */
	uint64_t seq;			/* last sequence number issued */
	uint32_t next_id;		/* next segment id */
	uint64_t claimed;		/* gc.synced as last logged (write.c) */
	int backups;			/* open backup windows (backup.c) */
	struct backup_window *windows;	/* backups of them, oldest first */
	bool merge_waiting;		/* asked for in a window (merge.c) */
	bool merge_waiting_all;		/* ... with cask_merge_options.all */
	bool closing;			/* no merge starts now (db.c) */
	struct deferred_drops deferred; /* deferred.c */

	struct damage damage; /* damage.c */

	/* The space reserve (reserve.c). Guarded by wmu. */
	int reserve_fd;
	enum reserve_state {
		RESERVE_OFF,	  /* none (reserve_bytes 0, or it failed) */
		RESERVE_HELD,	  /* reserve_bytes allocated in RESERVE */
		RESERVE_RELEASED, /* given up to free space; taken again when
				     space is back */
	} reserve;

	/* Held space (hold.c): the size of HELD. Guarded by wmu. */
	int held_fd;
	uint64_t held;

	/* Set once a write or sync failed: no more writes (reads go on). */
	_Atomic int failed;

	struct group_commit gc;
	_Atomic uint64_t syncs;

	/* Background sync thread (CASK_SYNC_INTERVAL). */
	pthread_t syncer;
	bool syncer_running;
	pthread_mutex_t syncer_mu;
	pthread_cond_t syncer_cv;
	bool stopping; /* guarded by syncer_mu */

	struct merge_state *merge;   /* merge.c */
	struct automerge *automerge; /* automerge.c */
	/* Writes appended so far: how the merge scheduler and pacer tell
	 * that writers are at work (automerge.c). */
	_Atomic uint64_t appends;
};

/* Every flag a commit accepts (cask.h). */
#define COMMIT_FLAGS (CASK_COMMIT_SYNC | CASK_COMMIT_FREES | CASK_COMMIT_NOWAIT)

/* A log position: segment id and byte offset, ordered like the log. */
static inline uint64_t log_pos(uint32_t seg, uint64_t off)
{
	return (uint64_t)seg << 32 | off;
}

/* --- db.c --- */
/* A line to the log callback; it begins "DIR: " or "DIR/NAME: " (cask.h). */
void db_log(struct cask_db *db, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** The wall clock in ms since the epoch (what expiry times count in). */
uint64_t db_now_ms(void);
/** A monotonic clock in ms (for durations and delays). */
uint64_t db_mono_ms(void);

/* --- segtable.c --- (callers hold rw or wmu) */
struct segment *segtable_find(const struct seg_table *t, uint32_t id);
int segtable_add(struct seg_table *t, struct segment *s);
void segtable_remove(struct seg_table *t, uint32_t id);
void segtable_free(struct seg_table *t);

/* --- backup.c --- */
/* An open backup window. */
struct backup_window {
	int pid;	    /* holder, 0: none */
	int pidfd;	    /* pidfd of the holder, -1: none (kill(pid, 0)) */
	uint64_t opened_ms; /* monotonic */
	uint64_t max_ms;    /* 0: no limit */
};
/** Close the windows whose holder ended or whose time is up (the keeper,
 *  without locks). @return true while any window is open. */
bool backup_expire(struct cask_db *db);
/** Free the windows (close, after the keeper has stopped). */
void backup_free(struct cask_db *db);

/* --- write.c --- */
/** One keydir change of a write; e.off is relative to the write's start
 *  until write_records() makes it absolute. */
struct applied_op {
	const uint8_t *key;
	uint16_t klen;
	bool is_delete;
	uint64_t expire; /* ms since the epoch, 0: none */
	struct keydir_entry e;
};
/**
 * Append @p len bytes of encoded records (sequence numbers and CRCs set,
 * in @p iov of fewer than IO_MAX_IOV entries: one more may go before them,
 * a synced record when one is due) to the active segment and apply
 * @p ops (puts and deletes of distinct keys) to the keydir; @p dead_bytes of the write are garbage from the start
 * (tombstones, commit records, batch records overwritten in the batch).
 * A write that @p frees space may use the reserve on a full disk; one that
 * does not fails with -ENOSPC while the reserve is given up, unless it
 * pays its way: @p unhold held bytes (at most those held) are given back
 * just before the append, and taken again if the write fails.
 * Caller holds wmu. @param[out] end_pos the log position after the write.
 * @return 0, or an error with nothing of the write left on disk or in the
 *   keydir.
 */
int write_records(struct cask_db *db, const struct iovec *iov, int iovcnt,
		  size_t len, struct applied_op *ops, size_t nops,
		  uint64_t dead_bytes, bool frees, uint64_t unhold,
		  uint64_t *end_pos);
/** 0, CASK_EREADONLY or CASK_EFAILED. */
int db_check_writable(struct cask_db *db);
/** CASK_EINVAL unless 1 <= klen <= CASK_MAX_KEY, vlen <= CASK_MAX_VALUE. */
int db_check_kv(size_t klen, size_t vlen);
/** Absolute expiry for a TTL (0: none). */
uint64_t db_expiry(uint64_t ttl_ms);
/** Record size of the entry's record. */
uint64_t db_entry_size(const struct keydir_entry *e, size_t klen);
/** The log position after the last write. Takes rw (shared). */
uint64_t write_end(struct cask_db *db);
/** Account a record that became dead in segment @p seg. Holds rw. */
void db_account_dead(struct cask_db *db, uint32_t seg, uint64_t bytes);
/** Seal the active segment and start a new one. Holds wmu. */
int write_rotate(struct cask_db *db);

/* --- reserve.c --- (callers hold wmu, except around open and close) */
/** Open or create RESERVE and allocate it (writable open). @return 0, or
 *  -errno if the file cannot be opened; a full disk is not an error. */
int reserve_open(struct cask_db *db);
void reserve_close(struct cask_db *db);
/** Give the reserve up (truncate RESERVE). @return true if it was held. */
bool reserve_release(struct cask_db *db);
/** Allocate the reserve again if it was given up and space is back. */
void reserve_restore(struct cask_db *db);
/**
 * May a write go ahead? Always if it @p frees space; otherwise only while
 * the reserve is held (after trying to take it again).
 * @return 0 or -ENOSPC.
 */
int reserve_admit(struct cask_db *db, bool frees);

/* --- hold.c --- (callers hold wmu, except around open and close) */
/** Open HELD, if there is one, and take its size as the held bytes.
 *  @return 0 or -errno. */
int hold_open(struct cask_db *db);
void hold_close(struct cask_db *db);
/** Give back min(@p want, held) bytes to the disk. @param[out] given how
 *  many (0 on error). @return 0 or -errno (nothing given back). */
int hold_give(struct cask_db *db, uint64_t want, uint64_t *given);
/** Hold @p bytes again that hold_give() gave for a write that failed.
 *  @return 0 or -errno (logged: they are lost to the holder). */
int hold_take_back(struct cask_db *db, uint64_t bytes);

/* --- sync.c --- */
/** Initialise @p cv to time its waits on CLOCK_MONOTONIC. */
void sync_cond_init(pthread_cond_t *cv);
int sync_init(struct cask_db *db);
void sync_destroy(struct cask_db *db);
/**
 * Wait until the log up to @p pos is durable (group commit); the caller
 * holds none of rw and gc.mu (wmu may be held).
 * @return 0; CASK_EFAILED if the store failed before @p pos was durable;
 *   -errno of the fdatasync this thread led, which failed the store.
 */
int sync_wait(struct cask_db *db, uint64_t pos);
/** Make everything appended so far durable. */
int sync_all(struct cask_db *db);
/**
 * The second phase of a commit that ended at @p pos: wait for it to be
 * durable if the sync mode or CASK_COMMIT_SYNC in @p flags asks for it,
 * unless CASK_COMMIT_NOWAIT leaves that to the caller.
 */
int sync_commit(struct cask_db *db, uint64_t pos, unsigned flags);
/** Mark the store failed (no more writes, no position becomes durable)
 *  and wake every waiter. Takes gc.mu. */
void sync_fail(struct cask_db *db);

/* --- read.c --- */
/**
 * Check the expiry of entry @p e of @p key against the clock, for an entry
 * that has one: read from its record once the whole record is verified,
 * as db_read_value() reads a value. Caller holds rw (shared) so the
 * segment stays.
 * @return 0 (live, or no expiry); CASK_ENOTFOUND (expired); CASK_ECORRUPT
 *   (named in the log once per record, as db_read_value()); -EIO; -ENOMEM.
 */
int db_entry_live(struct cask_db *db, const struct keydir_entry *e,
		  const uint8_t *key, size_t klen);
/**
 * Copy bytes [voff, voff + len) of the value of entry @p e of @p key into
 * @p buf, once the whole record (header, key, value) has been checked
 * against its CRC and @p e: by this call, or by an earlier one whose
 * verdict its segment kept. Caller holds rw (shared) and checked the range.
 * @return 0; CASK_ECORRUPT (one line logged, naming the segment file, the
 *   offset and the key, unless the handle named that record before:
 *   damage_first_naming()); -EIO; -ENOMEM.
 */
int db_read_value(struct cask_db *db, const struct keydir_entry *e,
		  const uint8_t *key, size_t klen, uint64_t voff, void *buf,
		  size_t len);

/* --- damage.c --- */
void damage_init(struct cask_db *db);
void damage_free(struct cask_db *db);
/** Add a key whose newest version open found damaged in the record at
 *  @p off of segment @p seg (recovery only). @p key (mem_alloc()ed) is the
 *  handle's on success, still the caller's on failure. @return 0, -ENOMEM. */
int damage_add_key(struct cask_db *db, uint8_t *key, uint16_t klen,
		   uint32_t seg, uint32_t off, bool uncertain);
/** Whether the damaged record at @p off of segment @p seg is to be named
 *  in the log now: true the first time it is asked for that record (true
 *  again later only if remembering it failed for lack of memory). Any
 *  thread. */
bool damage_first_naming(struct cask_db *db, uint32_t seg, uint32_t off);

/* --- recover.c --- */
/** Rebuild the keydir and segment table from the files of the store. */
int recover(struct cask_db *db);
/** The state of a recovery in progress (recover.c). */
struct recovery;
/** Recovery's way in for hint entries (hint_load): apply entry @p e of
 *  @p seg, whose record expires at @p expire (0: never). Keys are copied. */
int recover_apply(struct recovery *r, struct segment *seg,
		  const struct keydir_entry *e, const uint8_t *key,
		  uint16_t klen, uint64_t expire);

/* --- lock.c --- */
int lock_acquire(struct cask_db *db);
void lock_release(struct cask_db *db);

#endif
