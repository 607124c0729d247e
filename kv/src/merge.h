/*
 * merge.h - background merge (compaction) of segments, and the hint files
 * of sealed segments, written by the same thread.
 */
#ifndef CASK_MERGE_H
#define CASK_MERGE_H

#include "db.h"

/** Set up merge state at open (no thread is started until a merge). */
int merge_init(struct cask_db *db);

/** Stop a running merge (it is abandoned safely) and free the state. */
void merge_destroy(struct cask_db *db);

/** Fill the merge fields of @p st. */
void merge_stats(struct cask_db *db, struct cask_stats *st);

/* The two lowest min_seq of the store's segments (merge_garbage()). */
struct seq_floor {
	const struct segment *oldest; /* the segment with the lowest */
	uint64_t min, next;	      /* the lowest; the lowest of the rest */
};

/** Find the floor of the store's segments. Caller holds wmu or rw. */
void merge_seq_floor(const struct cask_db *db, struct seq_floor *f);

/**
 * The garbage of @p s a merge can drop at @p now: segment_garbage() less
 * the tombstones an earlier merge kept in it while some other segment is
 * still older than them (they would only be written again, and an idle
 * store would merge them for ever). @p f from merge_seq_floor(), under
 * the same lock.
 */
uint64_t merge_garbage(const struct segment *s, uint64_t now,
		       const struct seq_floor *f);

/** Start the background thread as automerge_check() decided: a merge of
 *  the sealed segments worth it when @p merge, paced (automerge_pace());
 *  hint files for sealed segments that lack them in any case. Busy, in a
 *  backup window or
 *  nothing to do: nothing. Caller holds wmu. */
void merge_start_auto(struct cask_db *db, bool merge);

/** Wait until no background job (merge or hint pass) runs. */
void merge_wait_idle(struct cask_db *db);

#endif
