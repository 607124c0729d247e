/*
 * hint.h - hint files: for a sealed segment, the list of its records' keys
 * and positions, so that open can rebuild the keydir without reading the
 * data (docs/FORMAT.md, "Hint files"). Written by merge; read by recovery.
 */
#ifndef CASK_HINT_H
#define CASK_HINT_H

#include "db.h"

/*
 * File layout (little-endian):
 *   magic "CASKHNT1" | version u32 | segment id u32
 *   entries: seq u64 | off u32 | vlen u32 | kind u8 | klen u16 | key
 *   trailer: entry count u64 | crc32c u32 of every byte before it
 * kind: HINT_PUT, HINT_PUT_EXPIRES or HINT_TOMBSTONE.
 */
#define HINT_MAGIC     "CASKHNT1"
#define HINT_VERSION   1u
#define HINT_HDR_SIZE  16u
#define HINT_ENTRY_HDR 19u
#define HINT_TRAILER   12u

enum hint_kind {
	HINT_PUT = 0,
	HINT_PUT_EXPIRES = 1,
	HINT_TOMBSTONE = 2
};

/** A hint being built in memory, then written next to its segment. */
struct hint_buf {
	uint8_t *p;
	size_t len, cap;
	uint64_t count;
};

int hint_begin(struct hint_buf *h, uint32_t id);
/** Add the record at @p off (tombstone if @p e has KEYDIR_F_TOMBSTONE). */
int hint_add(struct hint_buf *h, const struct keydir_entry *e,
	     const uint8_t *key, uint16_t klen);
/** Write the file as NAME.hint.tmp, entries in key order, fdatasync'ed.
 *  @p h is left as it was. */
int hint_write_tmp(const struct hint_buf *h, int dirfd, uint32_t id);
/** Rename NAME.hint.tmp to NAME.hint (the caller fsyncs the directory). */
int hint_publish(int dirfd, uint32_t id);

/**
 * Write and publish the hint of sealed segment @p seg, listing every
 * committed put and tombstone in it, and fsync the directory.
 * @return 0; CASK_ECORRUPT if the segment is not valid to its end (no hint
 *   is written for it); -ENOMEM; -errno.
 */
int hint_write_sealed(int dirfd, const struct segment *seg);
void hint_free(struct hint_buf *h);

/**
 * Walk a complete hint image; call @p fn for each entry.
 * @return 0, CASK_ECORRUPT (bad magic, id, CRC or entry), or fn's error.
 */
int hint_parse(const uint8_t *buf, size_t len, uint32_t id,
	       int (*fn)(void *arg, const struct keydir_entry *e,
			 const uint8_t *key, uint16_t klen),
	       void *arg);

/**
 * Load the hint of sealed segment @p seg (in directory @p dirfd) into the
 * keydir through recover_apply().
 * @return 0; -ENOMEM (possibly half applied: fail the open); CASK_ECORRUPT
 *   or another -errno if the hint is missing or damaged, in which case
 *   nothing was applied and the caller scans the segment.
 */
int hint_load(struct recovery *r, int dirfd, struct segment *seg);

#endif
