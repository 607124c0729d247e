/*
 * read.c - point reads: get, get into a library buffer, range get, exists,
 * locate; and the one function that copies a value out of a segment.
 *
 * A read holds the rwlock shared from the keydir lookup until the value is
 * copied, so the segment it copies from cannot be removed under it. Values
 * are copied straight out of the segment's mapping (no system call).
 *
 * Nothing is served unverified: before any byte of a value is copied, the
 * whole record it belongs to (header, key, value) is checked against its
 * CRC and against the keydir entry. A range read of a large record would
 * pay for the whole record each time, so the verdict on a large record is
 * kept in its segment (segment_verified()) and checked once. An expiry is
 * a part of its record too: it is read only once the record is verified,
 * so damage there is CASK_ECORRUPT, not a key that reads as absent.
 * Damage is CASK_ECORRUPT to every read of it, and one line to the log
 * callback the first time the handle meets the record (damage.c).
 */
#include "db.h"

#include "alloc.h"
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What is wrong with the record of @p e at @p rec, or NULL if nothing. */
static const char *check_record(const struct keydir_entry *e, size_t klen,
				const uint8_t *rec, uint64_t recsize)
{
	struct rec_header h;

	if (rec_decode_header(rec, recsize, &h))
		return "not a record header";
	/* The size compare holds the expiry flag to the entry's: a record
	 * that grew an expiry would be hashed 8 bytes past what was read. */
	if (h.type != REC_PUT || h.klen != klen || h.vlen != e->vlen ||
	    h.seq != e->seq || rec_size(&h) != recsize)
		return "header does not match the index";
	if (!rec_crc_ok(&h, rec))
		return "CRC mismatch";
	return NULL;
}

static int damaged(struct cask_db *db, const struct keydir_entry *e,
		   const uint8_t *key, size_t klen, const char *why)
{
	char name[SEG_NAME_MAX], text[REC_QUOTE_MAX];

	if (!damage_first_naming(db, e->seg, e->off))
		return CASK_ECORRUPT;
	segment_name(name, e->seg, "cask");
	rec_quote_key(text, key, klen);
	db_log(db, "%s/%s: damaged record at offset %u, key %s: %s", db->dir,
	       name, e->off, text, why);
	return CASK_ECORRUPT;
}

/* Check the whole record of @p e (@p recsize bytes) in @p seg, and keep a
 * good verdict. */
static int verify(struct cask_db *db, struct segment *seg,
		  const struct keydir_entry *e, const uint8_t *key, size_t klen,
		  uint64_t recsize)
{
	const uint8_t *rec = segment_view(seg, e->off, recsize);
	const char *why;
	uint8_t *tmp = NULL;
	int rc;

	if (!rec) {
		tmp = mem_alloc(recsize);
		if (!tmp)
			return -ENOMEM;
		rc = segment_read(seg, e->off, tmp, recsize);
		if (rc) {
			mem_free(tmp);
			return rc;
		}
		rec = tmp;
	}
	why = check_record(e, klen, rec, recsize);
	mem_free(tmp);
	if (why)
		return damaged(db, e, key, klen, why);
	segment_set_verified(seg, e->off, recsize);
	return 0;
}

/* Copy @p len bytes at @p at of the record of @p e once the whole record
 * is known good (checked now, or by an earlier read's kept verdict). */
static int read_verified(struct cask_db *db, const struct keydir_entry *e,
			 const uint8_t *key, size_t klen, uint64_t at,
			 void *buf, size_t len)
{
	struct segment *seg = segtable_find(&db->segs, e->seg);
	uint64_t recsize = db_entry_size(e, klen);
	int rc;

	if (!seg)
		return damaged(db, e, key, klen, "the segment is missing");
	if (!segment_verified(seg, e->off, recsize)) {
		rc = verify(db, seg, e, key, klen, recsize);
		if (rc)
			return rc;
	}
	if (!len) /* buf may be NULL for an empty value */
		return 0;
	return segment_read(seg, e->off + at, buf, len);
}

int db_read_value(struct cask_db *db, const struct keydir_entry *e,
		  const uint8_t *key, size_t klen, uint64_t voff, void *buf,
		  size_t len)
{
	return read_verified(db, e, key, klen,
			     db_entry_size(e, klen) - e->vlen + voff, buf, len);
}

int db_entry_live(struct cask_db *db, const struct keydir_entry *e,
		  const uint8_t *key, size_t klen)
{
	uint8_t buf[REC_EXPIRY_SIZE];
	int rc;

	if (!(e->flags & KEYDIR_F_EXPIRES))
		return 0;
	rc = read_verified(db, e, key, klen, REC_HDR_SIZE, buf, sizeof(buf));
	if (rc)
		return rc;
	return get_le64(buf) <= db_now_ms() ? CASK_ENOTFOUND : 0;
}

/* Find a live entry. Caller holds rw (shared). @return 0; CASK_EINVAL;
 * CASK_ENOTFOUND (absent or expired); as db_entry_live() (an expiry that
 * cannot be read). */
static int lookup(struct cask_db *db, const void *key, size_t klen,
		  struct keydir_entry *e)
{
	if (klen == 0 || klen > CASK_MAX_KEY)
		return CASK_EINVAL;
	if (!keydir_get(db->kd, key, klen, e))
		return CASK_ENOTFOUND;
	return db_entry_live(db, e, key, klen);
}

int cask_get(struct cask_db *db, const void *key, size_t klen, void *buf,
	     size_t bufsize, size_t *vlen)
{
	struct keydir_entry e;
	int rc;

	pthread_rwlock_rdlock(&db->rw);
	rc = lookup(db, key, klen, &e);
	if (!rc) {
		*vlen = e.vlen;
		if (bufsize)
			rc = db_read_value(db, &e, key, klen, 0, buf,
					   bufsize < e.vlen ? bufsize : e.vlen);
	}
	pthread_rwlock_unlock(&db->rw);
	return rc;
}

int cask_get_alloc(struct cask_db *db, const void *key, size_t klen, void **val,
		   size_t *vlen)
{
	struct keydir_entry e;
	int rc;

	*val = NULL;
	pthread_rwlock_rdlock(&db->rw);
	rc = lookup(db, key, klen, &e);
	if (!rc) {
		/* malloc, not mem_alloc: the caller frees with free(). */
		*val = malloc(e.vlen ? e.vlen : 1);
		rc = *val ? db_read_value(db, &e, key, klen, 0, *val, e.vlen)
			  : -ENOMEM;
	}
	pthread_rwlock_unlock(&db->rw);
	if (rc) {
		free(*val);
		*val = NULL;
		return rc;
	}
	*vlen = e.vlen;
	return 0;
}

int cask_get_range(struct cask_db *db, const void *key, size_t klen,
		   uint64_t offset, void *buf, size_t len, size_t *nread)
{
	struct keydir_entry e;
	int rc;

	*nread = 0;
	pthread_rwlock_rdlock(&db->rw);
	rc = lookup(db, key, klen, &e);
	if (!rc && offset < e.vlen) {
		if (len > e.vlen - offset)
			len = (size_t)(e.vlen - offset);
		rc = db_read_value(db, &e, key, klen, offset, buf, len);
		if (!rc)
			*nread = len;
	}
	pthread_rwlock_unlock(&db->rw);
	return rc;
}

int cask_exists(struct cask_db *db, const void *key, size_t klen)
{
	struct keydir_entry e;
	int rc;

	pthread_rwlock_rdlock(&db->rw);
	rc = lookup(db, key, klen, &e);
	pthread_rwlock_unlock(&db->rw);
	if (rc == CASK_ENOTFOUND)
		return 0;
	return rc ? rc : 1;
}

int cask_locate(struct cask_db *db, const void *key, size_t klen,
		struct cask_location *loc)
{
	struct keydir_entry e;
	int rc;

	pthread_rwlock_rdlock(&db->rw);
	rc = lookup(db, key, klen, &e);
	pthread_rwlock_unlock(&db->rw);
	/* A record whose expiry cannot be read still lies where it is. */
	if (rc == CASK_ENOTFOUND || rc == CASK_EINVAL)
		return rc;
	_Static_assert(sizeof(loc->file) >= SEG_NAME_MAX, "segment name");
	segment_name(loc->file, e.seg, "cask");
	loc->offset = e.off;
	return 0;
}
