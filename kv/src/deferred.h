/*
 * deferred.h - deferred drops: drop lists (droplist.h) whose finishing, the
 * removal of a merge's inputs, waits for the last backup window to close
 * (backup.c) and for merge_keep_ms after the merge, so that a copy of the
 * directory started before the merge still finds every file it listed.
 *
 * The list is in memory only: after a crash the drop lists on disk are
 * finished at the next open. Guarded by wmu.
 */
#ifndef CASK_DEFERRED_H
#define CASK_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cask_db;

struct deferred_drops {
	struct deferred_drop {
		uint32_t id;	 /* drop list */
		uint64_t due_ms; /* monotonic time it may be finished */
	} * v;
	size_t n;
};

/**
 * Merge wrote drop list @p id: defer finishing it while a backup window is
 * open or for merge_keep_ms, unless @p short_of_space (the space reserve is
 * given up: the disk cannot wait, but a window still can). Caller holds
 * wmu.
 * @return true if deferred (also when there is no memory to remember it:
 *   the next open finishes it); false if the caller finishes it now.
 */
bool deferred_add(struct cask_db *db, uint32_t id, bool short_of_space);

/**
 * Take the deferred drop lists that may be finished now: none while a
 * backup window is open; otherwise those whose time has come, or every one
 * when @p all (a disk short of space). Caller holds wmu.
 * @return an array for deferred_finish() (NULL with @p n 0 when there is
 *   none, or no memory: they stay for later).
 */
uint32_t *deferred_take(struct cask_db *db, bool all, size_t *n);

/** Finish drop lists @p ids from deferred_take() and free the array.
 *  Without wmu (it unlinks files and fsyncs the directory). */
void deferred_finish(struct cask_db *db, uint32_t *ids, size_t n);

/** At close: finish every deferred drop list, windows left open or not
 *  (their inputs are garbage), and free the list. */
void deferred_close(struct cask_db *db);

#endif
