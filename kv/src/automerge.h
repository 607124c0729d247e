/*
 * automerge.h - when a merge starts by itself (the thresholds of struct
 * cask_options, checked by a timer thread, at rotation and at open), and
 * the pace such a merge keeps while writers are at work.
 */
#ifndef CASK_AUTOMERGE_H
#define CASK_AUTOMERGE_H

#include "db.h"

/** Start the check timer of a writable store (merge_check_ms, when
 *  automatic merges are on). @return 0 or -errno (no thread). */
int automerge_init(struct cask_db *db);

/** Stop the timer (before merge_destroy()); accepts a store without one. */
void automerge_destroy(struct cask_db *db);

/**
 * Start a background merge if the store's garbage is worth reclaiming
 * (cask.h, merge_dead_ratio), sealing the active segment first when the
 * store is @p idle and that segment is worth merging too; otherwise start
 * the hint pass if some sealed segment needs a hint. A merge already
 * running, a backup window or a failed store: nothing. Caller holds wmu.
 */
void automerge_check(struct cask_db *db, bool idle);

/* The pace of one automatic merge (automerge_pace()). */
struct merge_pacer {
	uint64_t t0_ns;	  /* start of the current slice of work, 0: none */
	uint64_t appends; /* db->appends seen then */
};

/**
 * Called by an automatic merge between slices of its work (about a MiB
 * each), holding no store lock: if writers appended during the slice, rest
 * PACE_REST times as long as the slice took, so that the merge takes
 * about a fifth of the time while they write and all of it while they do
 * not.
 */
void automerge_pace(struct cask_db *db, struct merge_pacer *p);

#endif
