/*
 * record.h - the byte layout of log records and segment headers
 * (docs/FORMAT.md is the specification; this is its only implementation).
 *
 * A record is a fixed header, an optional expiry, the key and the value,
 * contiguous:
 *
 *   crc32c u32 | type u8 | flags u8 | klen u16 | vlen u32 | seq u64
 *   [expire u64 when flags & REC_F_EXPIRY] | key | value
 *
 * all little-endian. The CRC covers every byte after itself: the rest of the
 * header, the expiry, the key and the value.
 */
#ifndef CASK_RECORD_H
#define CASK_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_HDR_SIZE	 20u /* without the expiry */
#define REC_EXPIRY_SIZE	 8u
#define REC_MAX_HDR_SIZE (REC_HDR_SIZE + REC_EXPIRY_SIZE)

enum rec_type {
	REC_PUT = 1,	/* key and value */
	REC_DELETE = 2, /* tombstone: key, no value */
	REC_COMMIT = 3, /* ends a batch: no key; value is u32 record count */
	REC_SYNCED = 4, /* no key; value is a u64 log position (segment id
			 * << 32 | offset): the segment's bytes before it
			 * were fdatasync'ed before this record was written */
};

#define REC_F_EXPIRY 0x01u /* an expiry (ms since the epoch) follows */
#define REC_F_BATCH \
	0x02u /* part of a batch; valid only once its
			      REC_COMMIT has been read */
#define REC_F_ALL (REC_F_EXPIRY | REC_F_BATCH)

#define REC_COMMIT_VLEN 4u
#define REC_SYNCED_VLEN 8u
#define REC_SYNCED_SIZE (REC_HDR_SIZE + REC_SYNCED_VLEN)

struct rec_header {
	uint32_t crc;
	uint8_t type;
	uint8_t flags;
	uint16_t klen;
	uint32_t vlen;
	uint64_t seq;
	uint64_t expire; /* 0 unless REC_F_EXPIRY */
};

/** Header size for @p flags (20 or 28). */
static inline size_t rec_header_size(uint8_t flags)
{
	return REC_HDR_SIZE + ((flags & REC_F_EXPIRY) ? REC_EXPIRY_SIZE : 0);
}

/** Size of the whole record. */
static inline uint64_t rec_size(const struct rec_header *h)
{
	return rec_header_size(h->flags) + h->klen + (uint64_t)h->vlen;
}

/** Is @p h a put or a tombstone (a change of a key), rather than a
 *  commit or a synced record? */
static inline bool rec_is_op(const struct rec_header *h)
{
	return h->type == REC_PUT || h->type == REC_DELETE;
}

/**
 * Encode @p h into @p buf (REC_MAX_HDR_SIZE bytes room), computing the CRC
 * over the header, @p key and @p val, and storing it in buf and h->crc.
 * @return the header size written.
 */
size_t rec_encode(uint8_t *buf, struct rec_header *h, const void *key,
		  const void *val);

/**
 * Decode the header at @p buf, of which @p avail bytes are readable.
 * Checks type, flags and lengths for plausibility (not the CRC).
 * @return 0; -EAGAIN if @p avail is too short for the header;
 *   CASK_ECORRUPT if the header cannot be a record.
 */
int rec_decode_header(const uint8_t *buf, size_t avail, struct rec_header *h);

/**
 * Check the CRC of a whole record lying at @p rec (rec_size(h) bytes).
 * @return true if it matches.
 */
bool rec_crc_ok(const struct rec_header *h, const uint8_t *rec);

/**
 * Is there a valid record (docs/FORMAT.md 2.2: header complete and
 * plausible, record whole, CRC good) at @p buf, of which @p avail bytes
 * are readable? @return its size, or 0.
 */
uint64_t rec_valid(const uint8_t *buf, uint64_t avail, struct rec_header *h);

/**
 * Where valid records resume after the invalid one at offset @p off of
 * @p map (valid bytes end at @p end): the end of that record, if its
 * header is plausible and a valid record (or @p end) follows it, so that
 * a damaged value does not make the search read records stored inside
 * it; else the first offset after @p off holding a valid record. That
 * search costs one pass over the bytes it crosses and O(1) per offset
 * (however long the records that bytes there claim to start), and may
 * take a record image stored inside the damaged record's value (a store
 * kept as a value) for a real one: only when the damage also changed the
 * record's length, which is then unknown.
 * Allocates about 1/64 of [@p off, @p end) for the search, or takes the
 * slow way if it cannot.
 * @return that offset, or @p end if no valid record follows.
 */
uint64_t rec_resync(const uint8_t *map, uint64_t off, uint64_t end);

/** Longest key as rec_quote_key() shows it, with its NUL. */
#define REC_QUOTE_MAX 100

/**
 * Show @p key in messages: printable ASCII as itself, other bytes and '%'
 * and '\'' as %XX, between single quotes, cut with "..." past about 80
 * characters. @p buf holds REC_QUOTE_MAX bytes.
 */
void rec_quote_key(char *buf, const uint8_t *key, size_t klen);

/**
 * Encode into @p buf (REC_SYNCED_SIZE bytes) the synced record that says
 * bytes [0, @p off) of segment @p seg are durable.
 */
void rec_encode_synced(uint8_t buf[REC_SYNCED_SIZE], uint32_t seg,
		       uint64_t off);

/**
 * The durable offset the valid synced record @p h at @p rec claims for
 * segment @p seg, or 0 when it names another segment.
 */
uint64_t rec_synced_off(const struct rec_header *h, const uint8_t *rec,
			uint32_t seg);

/*
 * Segment file header, at offset 0 of every segment:
 *   magic "CASKSEG1" (8) | version u32 | id u32 | reserved u64 (0) |
 *   reserved u32 (0) | crc32c u32 of the 28 bytes before it
 * Version 2 segments may hold REC_SYNCED records; version 1 ones (written
 * before those existed) do not, and are still read.
 */
#define SEG_HDR_SIZE	   32u
#define SEG_MAGIC	   "CASKSEG1"
#define SEG_VERSION	   2u /* written */
#define SEG_VERSION_OLDEST 1u /* still read */
#define SEG_VERSION_SYNCED 2u /* the first that may hold REC_SYNCED */

/** The header of segment @p id, of format version @p version. */
void seg_header_encode_version(uint8_t buf[SEG_HDR_SIZE], uint32_t id,
			       uint32_t version);

/** The header of segment @p id as this library writes it (SEG_VERSION). */
void seg_header_encode(uint8_t buf[SEG_HDR_SIZE], uint32_t id);

/**
 * @return 0 and the id; CASK_ECORRUPT (bad magic or CRC);
 *   CASK_EVERSION (good CRC, unknown version).
 */
int seg_header_decode(const uint8_t buf[SEG_HDR_SIZE], uint32_t *id);

/** The version field of a header seg_header_decode() accepted. */
uint32_t seg_header_version(const uint8_t buf[SEG_HDR_SIZE]);

#endif
