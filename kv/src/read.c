/*
 * read.c - point reads: get, get into a library buffer, range get, exists.
 *
 * A read holds the rwlock shared from the keydir lookup until the value is
 * copied, so the segment it copies from cannot be removed under it. Values
 * are copied straight out of the segment's mapping (no system call); the
 * CRC of the whole record is checked first unless the caller asked for a
 * range or turned verify_reads off.
 */
#include "db.h"

#include "alloc.h"
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool db_entry_expired(struct cask_db *db, const struct keydir_entry *e)
{
	struct segment *seg;
	uint8_t buf[REC_EXPIRY_SIZE];

	if (!(e->flags & KEYDIR_F_EXPIRES))
		return false;
	seg = segtable_find(&db->segs, e->seg);
	if (!seg || segment_read(seg, (uint64_t)e->off + REC_HDR_SIZE, buf,
				 sizeof(buf)))
		return false; /* the read of the value reports the error */
	return get_le64(buf) <= db_now_ms();
}

static int check_record(const struct keydir_entry *e, size_t klen,
			const uint8_t *rec, uint64_t recsize)
{
	struct rec_header h;

	if (rec_decode_header(rec, recsize, &h) || h.type != REC_PUT ||
	    h.klen != klen || h.vlen != e->vlen || h.seq != e->seq ||
	    !rec_crc_ok(&h, rec))
		return CASK_ECORRUPT;
	return 0;
}

int db_read_value(struct cask_db *db, const struct keydir_entry *e, size_t klen,
		  uint64_t voff, void *buf, size_t len, bool verify)
{
	struct segment *seg = segtable_find(&db->segs, e->seg);
	uint64_t hlen = db_entry_size(e, klen) - klen - e->vlen;
	uint64_t recsize = db_entry_size(e, klen);
	const uint8_t *rec;
	uint8_t *tmp;
	int rc;

	if (!seg)
		return CASK_ECORRUPT;
	if (!verify)
		return segment_read(seg, e->off + hlen + klen + voff, buf, len);
	rec = segment_view(seg, e->off, recsize);
	if (rec) {
		rc = check_record(e, klen, rec, recsize);
		if (!rc && len) /* buf may be NULL for an empty value */
			memcpy(buf, rec + hlen + klen + voff, len);
		return rc;
	}
	tmp = mem_alloc(recsize);
	if (!tmp)
		return -ENOMEM;
	rc = segment_read(seg, e->off, tmp, recsize);
	if (!rc)
		rc = check_record(e, klen, tmp, recsize);
	if (!rc && len)
		memcpy(buf, tmp + hlen + klen + voff, len);
	mem_free(tmp);
	return rc;
}

/* Find a live entry. Caller holds rw (shared). */
static int lookup(struct cask_db *db, const void *key, size_t klen,
		  struct keydir_entry *e)
{
	if (klen == 0 || klen > CASK_MAX_KEY)
		return CASK_EINVAL;
	if (!keydir_get(db->kd, key, klen, e) || db_entry_expired(db, e))
		return CASK_ENOTFOUND;
	return 0;
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
			rc = db_read_value(db, &e, klen, 0, buf,
					   bufsize < e.vlen ? bufsize : e.vlen,
					   db->opts.verify_reads);
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
		rc = *val ? db_read_value(db, &e, klen, 0, *val, e.vlen,
					  db->opts.verify_reads)
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
		rc = db_read_value(db, &e, klen, offset, buf, len, false);
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
