/*
 * deferred.h - kept merge inputs: drop lists (droplist.h) whose finishing,
 * the removal of a merge's inputs, waits so that a copy of the directory
 * (cp -a, rsync -a) that listed them still finds them.
 *
 * Inputs are kept only while they can matter: while a backup window is
 * open (backup.c), or, for at most merge_keep_ms after the merge, while a
 * copy of the directory may be running: something other than this handle
 * listed the directory or read a segment or hint file within the last
 * COPY_QUIET_MS (an inotify watch on the directory). Outside a window they
 * are given back first when space runs short: a write that met ENOSPC, a
 * merge short of space, or free space on the filesystem below two
 * segments and the reserve.
 *
 * A thread of the handle (the keeper) watches the directory, finishes the
 * drop lists whose time has come and closes backup windows whose holder
 * died or whose time is up (backup.c).
 *
 * The list is in memory only: after a crash the drop lists on disk are
 * finished at the next open. Guarded by wmu.
 */
#ifndef CASK_DEFERRED_H
#define CASK_DEFERRED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cask_db;

/* How long after the last read of the directory by another process a copy
 * counts as finished. A copy reads without pause, but one copy_file_range
 * of a large segment to a slow disk reports its read only at its end. */
#define COPY_QUIET_MS (60u * 1000)

struct deferred_drops {
	/* Guarded by wmu. */
	struct deferred_drop {
		uint32_t id;	   /* drop list */
		uint32_t inputs;   /* its input segments */
		uint64_t bytes;	   /* their files (hints included) */
		uint64_t since_ms; /* monotonic time of the merge */
	} * v;
	size_t n;
	uint64_t bytes;	 /* sum of v[].bytes */
	uint64_t inputs; /* sum of v[].inputs */
	bool stop;	 /* the keeper is to end */
	/* Taken drop lists not finished yet (deferred_take() to
	 * deferred_finish()), and its signal when it falls to 0: a backup
	 * window that opens waits for them (deferred_wait_removals()). */
	unsigned removing;
	pthread_cond_t removed;

	/* Set before the keeper starts, read-only after. */
	pthread_t keeper;
	bool keeper_live;
	int watch_fd; /* inotify on the directory; -1: none */
	int wake_fd;  /* eventfd that wakes the keeper; -1: none */

	/* Monotonic ms of the last read of the directory by another process
	 * (0: none seen), written by whoever reads the watch, with watch_mu
	 * held from the read of the events to the stamp: whoever finds the
	 * watch drained then also finds the stamp of what was in it. */
	pthread_mutex_t watch_mu;
	_Atomic uint64_t copy_seen_ms;
	_Atomic bool full; /* a write met ENOSPC (deferred_wake) */
};

/** Set up the locks of db->deferred (at allocation; the rest waits for
 *  deferred_init()). */
void deferred_prepare(struct cask_db *db);

/**
 * Start the keeper of a writable handle (its directory watch when
 * merge_keep_ms is not 0). Call once, after recovery.
 * @return 0, or -errno (no thread). Without inotify the watch is left
 *   out: a copy then counts as always possible, inputs are kept for
 *   merge_keep_ms.
 */
int deferred_init(struct cask_db *db);

/**
 * Merge wrote drop list @p id, whose @p inputs segments take @p bytes on
 * disk: keep them while
 * a backup window is open, or while a copy may be running (at most
 * merge_keep_ms), unless @p short_of_space or the filesystem is short of
 * space. Caller holds wmu.
 * @return true if kept (also when there is no memory to remember it: the
 *   next open finishes it); false if the caller finishes it now.
 */
bool deferred_add(struct cask_db *db, uint32_t id, uint32_t inputs,
		  uint64_t bytes, bool short_of_space);

/**
 * Take the kept drop lists that may be finished now: none while a backup
 * window is open; otherwise those no copy can need any more, or every one
 * when @p all (a disk short of space). Caller holds wmu.
 * @return an array that must go to deferred_finish() (NULL with @p n 0
 *   when there is none, or no memory: they stay for later).
 */
uint32_t *deferred_take(struct cask_db *db, bool all, size_t *n);

/** Finish drop lists @p ids from deferred_take() and free the array.
 *  Without wmu (it unlinks files and fsyncs the directory; it takes wmu
 *  at the end to count the removal done). */
void deferred_finish(struct cask_db *db, uint32_t *ids, size_t n);

/** Wait until no drop list taken is still being finished: a backup window
 *  just opened (no more are taken then) must not see files go. Caller
 *  holds wmu, which the wait lets go of meanwhile. */
void deferred_wait_removals(struct cask_db *db);

/** Wake the keeper: a window closed, or a write met ENOSPC (@p full: it
 *  then gives every kept input back at once, windows aside). Any thread,
 *  any lock. */
void deferred_wake(struct cask_db *db, bool full);

/** At close: stop the keeper (it closes no window and asks for no merge
 *  after). Accepts a keeper stopped already or never started. */
void deferred_stop(struct cask_db *db);

/** At close, after deferred_stop() and merge_destroy(): finish every
 *  kept drop list, windows left open or not (their inputs are garbage),
 *  and free the list. Stops the keeper if deferred_stop() did not. */
void deferred_close(struct cask_db *db);

#endif
