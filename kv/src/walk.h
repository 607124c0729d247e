/*
 * walk.h - reading the records of a segment in order, the way recovery
 * must: every record checked (header, length, CRC), batch records passed on
 * only once their commit record has been read.
 */
#ifndef CASK_WALK_H
#define CASK_WALK_H

#include "db.h"
#include "record.h"
#include "segment.h"

/** A record the walk reached, at @c off of the segment. */
struct walk_rec {
	uint64_t off;
	struct rec_header h;
	const uint8_t *key; /* inside the segment's mapping */
};

/** The keydir entry of a walked put or tombstone in segment @p seg (a
 *  tombstone carries KEYDIR_F_TOMBSTONE). */
static inline struct keydir_entry walk_entry(const struct walk_rec *w,
					     uint32_t seg)
{
	return (struct keydir_entry){
		.seq = w->h.seq,
		.seg = seg,
		.off = (uint32_t)w->off,
		.vlen = w->h.vlen,
		.flags = (w->h.type == REC_DELETE ? KEYDIR_F_TOMBSTONE : 0) |
			 ((w->h.flags & REC_F_EXPIRY) ? KEYDIR_F_EXPIRES : 0),
	};
}

/** Called for each put, tombstone (committed) and commit record; a
 *  non-zero return stops the walk with that code. */
typedef int (*walk_fn)(void *arg, const struct walk_rec *r);

/** Called for a damaged range [@p off, @p end) below the durable bound:
 *  records that fail their checks (@p framing false; valid records
 *  resume at @p end, or the segment ends there), or valid batch records
 *  whose framing is broken with no damage to explain it (@p framing
 *  true; they are not passed on). A non-zero return stops the walk. */
typedef int (*walk_damage_fn)(void *arg, uint64_t off, uint64_t end,
			      bool framing);

/**
 * Walk the records of mapped segment @p seg from its header to @p end.
 * Bytes below @p durable are known to have been written whole and made
 * durable: damage there goes to @p damage and the walk goes on after it
 * (walk.c says what happens to a batch it cuts into). At or past
 * @p durable the walk stops at the first bad record, or at the first
 * record of a batch with no commit, as a torn write leaves them.
 * @param[out] valid_end where the walk stopped: @p end, or the bad record
 *   or batch at or past @p durable.
 * @return 0, -ENOMEM, or @p fn's or @p damage's error.
 */
int segment_scan(const struct segment *seg, uint64_t end, uint64_t durable,
		 walk_fn fn, walk_damage_fn damage, void *arg,
		 uint64_t *valid_end);

/** segment_scan() with nothing known durable: the walk stops at the first
 *  bad record or uncommitted batch. */
int segment_walk(const struct segment *seg, uint64_t end, walk_fn fn, void *arg,
		 uint64_t *valid_end);

/** Where the whole valid batch records from @p from of segment bytes
 *  @p map (valid bytes end at @p end) end: @p from if there are none. */
uint64_t walk_past_batch(const uint8_t *map, uint64_t from, uint64_t end);

/**
 * Is [@p from, @p end) of segment bytes @p map no more than a torn append
 * leaves: the whole records of an uncommitted batch, then a record the end
 * cuts short (or fewer bytes than a header), or zeros (room the file grew
 * by whose data never reached the disk)? Anything else (a whole record
 * failing its CRC, bytes no header explains) may be a durable record that
 * rotted.
 */
bool walk_torn_append(const uint8_t *map, uint64_t from, uint64_t end);

/**
 * Where the bytes known durable of an active segment end (docs/FORMAT.md
 * section 7): @p known (what its clean-close mark proves, or 0), or
 * further where the segment proves it: the largest offset a valid synced
 * record of segment @p id claims, searched for past damage too (a claim
 * naming another segment, or reaching past the record itself, proves
 * nothing); and with @p same_boot (no power loss since the last writable
 * open), every byte before the torn append that ends the file, if any
 * (walk_torn_append()).
 * @param map the segment's bytes, @p end of them.
 */
uint64_t walk_durable_end(const uint8_t *map, uint64_t end, uint32_t id,
			  uint64_t known, bool same_boot);

#endif
