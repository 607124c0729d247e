/*
 * segment.h - one log segment file: its descriptor, its read-only mapping
 * and its live/dead byte counts.
 *
 * A segment is named by its 32-bit id (NNNNNNNNNN.cask). Bytes once written
 * are never changed: the active segment only grows, a sealed one is
 * immutable until merge removes the whole file. That is what lets readers
 * copy from the mapping without any lock on the file itself.
 *
 * Verdicts: a record of SEG_VERDICT_GRAIN bytes or more whose CRC a read
 * has checked and found good is marked, one bit per grain of the mapping,
 * so later range reads of it copy without checking it again (two such
 * records cannot start in the same grain). Smaller records are checked at
 * every read. The marks live and die with this struct: a record that merge
 * moves is checked again where it lands.
 *
 * Lifetime: segments are reference counted. The store's table holds one
 * reference; whoever reads a segment outside the table lock takes another.
 * The file is unmapped and closed at the last segment_put().
 */
#ifndef CASK_SEGMENT_H
#define CASK_SEGMENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rec_header;

/** Smallest record whose verdict is kept (segment_verified()). */
#define SEG_VERDICT_GRAIN 4096u

struct segment {
	uint32_t id;
	int fd;
	const uint8_t *map; /* read-only view of map_len bytes, or NULL */
	size_t map_len;
	/* Bytes of valid records (plus header). Written under the store's
	 * writer mutex; read by the sync path with atomics. */
	_Atomic uint64_t size;
	/* Guarded by the store's rwlock (written with it held for writing). */
	uint64_t live_bytes;
	uint64_t dead_bytes;
	/* Lowest sequence number of any record in the segment (UINT64_MAX
	 * while empty); merge drops a tombstone only if every other segment
	 * is newer than it. Guarded like live_bytes. */
	uint64_t min_seq;
	/* Bytes of the tombstones a merge wrote here (kept because a segment
	 * outside it was older than them), and the lowest seq among them:
	 * while another segment is older than that, no merge can drop any of
	 * them (merge_garbage()). Set when the merge publishes the segment;
	 * 0 in a segment an open found. Guarded like live_bytes. */
	uint64_t kept_tombs;
	uint64_t kept_tombs_seq;
	/* Bytes of the records written with an expiry (not reduced when they
	 * die) and the latest of their expiries: once it has passed, all of
	 * them are garbage. Guarded like live_bytes. */
	uint64_t expiring_bytes;
	uint64_t max_expire;
	/* Damaged ranges recovery found in the segment (docs/FORMAT.md
	 * section 7), and their bytes: set by recovery, or by a merge that
	 * meets damage in a hinted input (under wmu and rw exclusively). A
	 * segment with damage is never merged or hinted, so that it stays as
	 * it is and every open finds the damage again. */
	uint32_t damaged_ranges;
	uint64_t damaged_bytes;
	bool has_hint;
	/* Its header is of a version whose records may include REC_SYNCED
	 * (record.h): the writer adds them only to such a segment, so that a
	 * reader that predates them refuses the segment rather than take
	 * them for damage. Set at creation or by recovery. */
	bool synced_records;
	_Atomic int refs;
	/* Verdict bits of the mapped range, verdict_words words of 64 (NULL
	 * when nothing is mapped). Bits are set with atomics by readers
	 * holding the store's rwlock shared; the array is replaced only by
	 * segment_remap(), under it exclusively. */
	_Atomic uint64_t *verdicts;
	size_t verdict_words;
};

/** Note a live record of @p size bytes that expires at @p expire (ms). */
static inline void segment_note_expiry(struct segment *s, uint64_t size,
				       uint64_t expire)
{
	s->expiring_bytes += size;
	if (expire > s->max_expire)
		s->max_expire = expire;
}

/**
 * Bytes of @p s that are garbage at @p now (ms since the epoch): its dead
 * bytes, plus its expiring records once the last of them has expired (an
 * upper bound, capped at the segment's record bytes).
 */
static inline uint64_t segment_garbage(const struct segment *s, uint64_t now)
{
	uint64_t all = s->live_bytes + s->dead_bytes;
	uint64_t g = s->dead_bytes;

	if (s->expiring_bytes && s->max_expire <= now)
		g += s->expiring_bytes;
	return g < all ? g : all;
}

/*
 * File names of the store directory: "NNNNNNNNNN.EXT", the id in ten
 * decimal digits and an extension: "cask" (segment), "hint", "drop",
 * "cask.tmp" and "hint.tmp" (merge outputs being written),
 * "cask.damaged-OFFSET" (bytes recovery cut off). Built and parsed here
 * only.
 */
#define SEG_NAME_MAX 32
/** Build the name of file @p ext of @p id into @p buf (SEG_NAME_MAX). */
void segment_name(char *buf, uint32_t id, const char *ext);
/** Split @p name into its id and extension (pointing into @p name).
 *  @return false if it is not such a name. */
bool segment_parse_name(const char *name, uint32_t *id, const char **ext);
/** Bytes segment @p id takes in @p dirfd: its file and its hint's (0 for
 *  one that is not there). */
uint64_t segment_disk_bytes(int dirfd, uint32_t id);

/**
 * Create segment @p id in @p dirfd with its header written, its file and
 * directory entry made durable (fdatasync + fsync of the directory).
 * @param map_len how much to map for reading (the segment size limit).
 * @param[out] out one reference, the caller's.
 */
int segment_create(int dirfd, uint32_t id, size_t map_len,
		   struct segment **out);

/**
 * Open existing segment @p id (its header is checked by the caller's scan).
 * @param map_len at least the file size; the active segment maps more.
 */
int segment_open(int dirfd, uint32_t id, bool writable, size_t map_len,
		 struct segment **out);

/**
 * Map @p s again, @p map_len long (when it has grown past its mapping).
 * Caller holds the store's rwlock exclusively: readers copy from the map.
 * @return 0, or -errno with the old mapping kept.
 */
int segment_remap(struct segment *s, size_t map_len);

/** Take / drop a reference. The last put unmaps and closes. */
void segment_get(struct segment *s);
void segment_put(struct segment *s);

/**
 * Copy @p len bytes at @p off into @p buf: from the mapping when it covers
 * the range, by pread otherwise. @return 0, -EIO.
 */
int segment_read(const struct segment *s, uint64_t off, void *buf, size_t len);

/**
 * A pointer to @p len bytes at @p off inside the mapping, or NULL if the
 * mapping does not cover them (use segment_read then). Valid while the
 * caller holds a reference.
 */
const uint8_t *segment_view(const struct segment *s, uint64_t off, size_t len);

/**
 * Has the record at @p off, @p size bytes long, been checked and found good
 * (segment_set_verified())? Always false for a record smaller than
 * SEG_VERDICT_GRAIN or outside the mapping. Caller holds the store's rwlock.
 */
bool segment_verified(const struct segment *s, uint64_t off, uint64_t size);

/** Remember that the record at @p off, @p size bytes long, is good (a no-op
 *  where segment_verified() is always false). Caller holds the store's
 *  rwlock; any number of readers may call it at once. */
void segment_set_verified(struct segment *s, uint64_t off, uint64_t size);

/**
 * Check the record at @p off of a mapped segment whose valid bytes end at
 * @p end (bounded by the mapping): header plausible, whole, CRC good.
 * @return its size, or 0 if there is no valid record there.
 */
uint64_t segment_record(const struct segment *s, uint64_t off, uint64_t end,
			struct rec_header *h);

#endif
