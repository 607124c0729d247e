/*
 * record.c - encoding and decoding of log records and segment headers, the
 * only code that knows their byte layout (record.h, docs/FORMAT.md).
 *
 * Invariants: every integer goes through the codec.h helpers; a decoder
 * never reads past the bytes it was told are there; anything read from disk
 * that cannot be a record is CASK_ECORRUPT, never an assertion. No state,
 * no locks; rec_resync() allocates for the length of one call.
 */
#define _GNU_SOURCE
#include "record.h"

#include "alloc.h"
#include "cask.h"
#include "codec.h"
#include "crc32c.h"

#include <errno.h>
#include <string.h>

/* Field offsets of the fixed record header. */
enum {
	OFF_CRC = 0,
	OFF_TYPE = 4,
	OFF_FLAGS = 5,
	OFF_KLEN = 6,
	OFF_VLEN = 8,
	OFF_SEQ = 12,
	OFF_EXPIRE = 20,
};

_Static_assert(OFF_SEQ + 8 == REC_HDR_SIZE, "record header layout");
_Static_assert(OFF_EXPIRE + REC_EXPIRY_SIZE == REC_MAX_HDR_SIZE,
	       "record expiry layout");
_Static_assert(CASK_MAX_KEY <= UINT16_MAX, "klen is a u16");
_Static_assert(CASK_MAX_VALUE <= UINT32_MAX, "vlen is a u32");
_Static_assert(REC_COMMIT_VLEN == sizeof(uint32_t), "commit count is a u32");
_Static_assert(REC_SYNCED_VLEN == sizeof(uint64_t),
	       "a synced position is a u64");

/* Segment header offsets. */
enum {
	SEG_OFF_MAGIC = 0,
	SEG_OFF_VERSION = 8,
	SEG_OFF_ID = 12,
	SEG_OFF_RSV64 = 16,
	SEG_OFF_RSV32 = 24,
	SEG_OFF_CRC = 28,
};

_Static_assert(sizeof(SEG_MAGIC) - 1 == 8, "segment magic is 8 bytes");
_Static_assert(SEG_OFF_CRC + 4 == SEG_HDR_SIZE, "segment header layout");

size_t rec_encode(uint8_t *buf, struct rec_header *h, const void *key,
		  const void *val)
{
	size_t hsize = rec_header_size(h->flags);
	uint32_t crc;

	buf[OFF_TYPE] = h->type;
	buf[OFF_FLAGS] = h->flags;
	put_le16(buf + OFF_KLEN, h->klen);
	put_le32(buf + OFF_VLEN, h->vlen);
	put_le64(buf + OFF_SEQ, h->seq);
	if (h->flags & REC_F_EXPIRY)
		put_le64(buf + OFF_EXPIRE, h->expire);

	crc = crc32c(0, buf + OFF_TYPE, hsize - OFF_TYPE);
	if (h->klen)
		crc = crc32c(crc, key, h->klen);
	if (h->vlen)
		crc = crc32c(crc, val, h->vlen);
	put_le32(buf + OFF_CRC, crc);
	h->crc = crc;
	return hsize;
}

/* Type, flags and lengths that a writer could have produced. */
static bool plausible(const struct rec_header *h)
{
	if (h->flags & ~REC_F_ALL)
		return false;
	if (h->vlen > CASK_MAX_VALUE)
		return false;
	switch (h->type) {
	case REC_PUT:
		return h->klen != 0;
	case REC_DELETE:
		return h->klen != 0 && h->vlen == 0;
	case REC_COMMIT:
		/* No flags: a commit is never itself part of a batch. */
		return h->klen == 0 && h->vlen == REC_COMMIT_VLEN &&
		       h->flags == 0;
	case REC_SYNCED:
		return h->klen == 0 && h->vlen == REC_SYNCED_VLEN &&
		       h->flags == 0;
	default:
		return false;
	}
}

int rec_decode_header(const uint8_t *buf, size_t avail, struct rec_header *h)
{
	if (avail < REC_HDR_SIZE)
		return -EAGAIN;
	h->crc = get_le32(buf + OFF_CRC);
	h->type = buf[OFF_TYPE];
	h->flags = buf[OFF_FLAGS];
	h->klen = get_le16(buf + OFF_KLEN);
	h->vlen = get_le32(buf + OFF_VLEN);
	h->seq = get_le64(buf + OFF_SEQ);
	h->expire = 0;
	if (!plausible(h))
		return CASK_ECORRUPT;
	if (h->flags & REC_F_EXPIRY) {
		if (avail < REC_MAX_HDR_SIZE)
			return -EAGAIN;
		h->expire = get_le64(buf + OFF_EXPIRE);
	}
	return 0;
}

bool rec_crc_ok(const struct rec_header *h, const uint8_t *rec)
{
	size_t len = (size_t)rec_size(h);

	return crc32c(0, rec + OFF_TYPE, len - OFF_TYPE) == h->crc;
}

uint64_t rec_valid(const uint8_t *buf, uint64_t avail, struct rec_header *h)
{
	if (rec_decode_header(buf, avail, h) || rec_size(h) > avail ||
	    !rec_crc_ok(h, buf))
		return 0;
	return rec_size(h);
}

/*
 * The forward search of rec_resync() checks the CRC of a candidate record
 * at every offset whose bytes pass for a header, over the length that
 * header claims: bytes a damaged range holds (a value's, anyone's) could
 * make that the sum of a megabyte-long CRC at each of millions of offsets.
 * So a long candidate's CRC is taken from CRCs of the prefixes of the
 * searched bytes instead (crc32c_range()): one pass over them, kept every
 * RESYNC_STEP bytes, then O(RESYNC_STEP) per candidate.
 */
#define RESYNC_STEP 256u

struct resync {
	const uint8_t *map;
	uint64_t base, end;
	uint32_t *ck; /* ck[k]: CRC of map[base, base + k * RESYNC_STEP) */
	uint64_t len; /* the length shift is for */
	uint32_t shift;
};

/* The CRC of map[base, pos). */
static uint32_t prefix_crc(const struct resync *r, uint64_t pos)
{
	uint64_t k = (pos - r->base) / RESYNC_STEP;

	return crc32c(r->ck[k], r->map + r->base + k * RESYNC_STEP,
		      (size_t)(pos - r->base - k * RESYNC_STEP));
}

/* Does the record @p h at @p at (whole inside the searched bytes) have the
 * CRC it claims? */
static bool resync_crc_ok(struct resync *r, const struct rec_header *h,
			  uint64_t at)
{
	uint64_t a = at + OFF_TYPE, b = at + rec_size(h);
	size_t n = (size_t)((r->end - r->base) / RESYNC_STEP + 1);

	if (b - a <= 4 * RESYNC_STEP) /* as cheap as a lookup */
		return rec_crc_ok(h, r->map + at);
	if (!r->ck && (r->ck = mem_alloc(n * sizeof(*r->ck)))) {
		r->ck[0] = 0;
		for (size_t k = 1; k < n; k++)
			r->ck[k] =
				crc32c(r->ck[k - 1],
				       r->map + r->base + (k - 1) * RESYNC_STEP,
				       RESYNC_STEP);
	}
	if (!r->ck) /* no memory: the long way */
		return rec_crc_ok(h, r->map + at);
	if (b - a != r->len) {
		r->len = b - a;
		r->shift = crc32c_shift(r->len);
	}
	return crc32c_range(prefix_crc(r, a), prefix_crc(r, b), r->shift) ==
	       h->crc;
}

uint64_t rec_resync(const uint8_t *map, uint64_t off, uint64_t end)
{
	struct resync r = {.map = map, .base = off, .end = end};
	struct rec_header h;
	uint64_t next;

	if (!rec_decode_header(map + off, end - off, &h) &&
	    rec_size(&h) <= end - off) {
		next = off + rec_size(&h);
		if (next == end || rec_valid(map + next, end - next, &h))
			return next;
	}
	for (next = off + 1; next + REC_HDR_SIZE <= end; next++)
		if (!rec_decode_header(map + next, end - next, &h) &&
		    rec_size(&h) <= end - next && resync_crc_ok(&r, &h, next))
			break;
	mem_free(r.ck);
	return next + REC_HDR_SIZE <= end ? next : end;
}

void rec_encode_synced(uint8_t buf[REC_SYNCED_SIZE], uint32_t seg, uint64_t off)
{
	/* Seq 0: it changes no key, so it takes no place in their order. */
	struct rec_header h = {.type = REC_SYNCED, .vlen = REC_SYNCED_VLEN};
	uint8_t pos[REC_SYNCED_VLEN];

	put_le64(pos, (uint64_t)seg << 32 | off);
	memcpy(buf + REC_HDR_SIZE, pos, sizeof(pos));
	rec_encode(buf, &h, NULL, pos);
}

uint64_t rec_synced_off(const struct rec_header *h, const uint8_t *rec,
			uint32_t seg)
{
	uint64_t pos = get_le64(rec + rec_header_size(h->flags));

	return pos >> 32 == seg ? (uint32_t)pos : 0;
}

void rec_quote_key(char *buf, const uint8_t *key, size_t klen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	buf[n++] = '\'';
	for (size_t i = 0; i < klen; i++) {
		uint8_t c = key[i];

		if (n > REC_QUOTE_MAX - 8) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (c > 0x20 && c < 0x7f && c != '%' && c != '\'') {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n++] = '\'';
	buf[n] = 0;
}

void seg_header_encode(uint8_t buf[SEG_HDR_SIZE], uint32_t id)
{
	seg_header_encode_version(buf, id, SEG_VERSION);
}

void seg_header_encode_version(uint8_t buf[SEG_HDR_SIZE], uint32_t id,
			       uint32_t version)
{
	memcpy(buf + SEG_OFF_MAGIC, SEG_MAGIC, 8);
	put_le32(buf + SEG_OFF_VERSION, version);
	put_le32(buf + SEG_OFF_ID, id);
	put_le64(buf + SEG_OFF_RSV64, 0);
	put_le32(buf + SEG_OFF_RSV32, 0);
	put_le32(buf + SEG_OFF_CRC, crc32c(0, buf, SEG_OFF_CRC));
}

int seg_header_decode(const uint8_t buf[SEG_HDR_SIZE], uint32_t *id)
{
	if (memcmp(buf + SEG_OFF_MAGIC, SEG_MAGIC, 8) != 0)
		return CASK_ECORRUPT;
	if (crc32c(0, buf, SEG_OFF_CRC) != get_le32(buf + SEG_OFF_CRC))
		return CASK_ECORRUPT;
	/*
	 * The header is intact: a version we do not know, or reserved bytes
	 * set by a writer that knows more than we do, is a newer format.
	 */
	if (seg_header_version(buf) < SEG_VERSION_OLDEST ||
	    seg_header_version(buf) > SEG_VERSION ||
	    get_le64(buf + SEG_OFF_RSV64) != 0 ||
	    get_le32(buf + SEG_OFF_RSV32) != 0)
		return CASK_EVERSION;
	*id = get_le32(buf + SEG_OFF_ID);
	return 0;
}

uint32_t seg_header_version(const uint8_t buf[SEG_HDR_SIZE])
{
	return get_le32(buf + SEG_OFF_VERSION);
}
