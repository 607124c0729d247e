/*
 * iter.c - ordered iterators over the keydir, with bounds.
 *
 * An iterator keeps a keydir cursor and a copy of its current key. Each step
 * takes the rwlock shared; if the keydir's structure changed since the last
 * step (keydir_version), the cursor is re-seeked strictly past the copied
 * key, otherwise it just steps. That gives the guarantees cask.h states:
 * strictly ordered, no key twice, and every key present throughout is
 * seen, while a run with no concurrent writes costs one cursor step per key.
 *
 * The entry found at a step is kept; cask_iter_value() reads that record.
 * Records are never changed in place and a segment merged away is detected
 * (then the key is looked up again), so the value is the key's value at the
 * step, or a newer one.
 *
 * Bounds are normalised at creation to [lo, hi): prefix and start give lo,
 * end and the successor of the prefix give hi.
 *
 * A step that fails (no memory for the key's copy) leaves the iterator
 * unpositioned with the error kept in err: cask_iter_valid() is then false
 * as at the end, and cask_iter_error() tells the two apart. next() repeats
 * the error; seek() and rewind() start over.
 */
#include "db.h"

#include "alloc.h"

#include <errno.h>
#include <string.h>

struct bound {
	uint8_t *key;
	size_t len;
	bool set;
};

struct cask_iter {
	struct cask_db *db;
	struct keydir_cursor *cur;
	uint64_t version; /* keydir_version the cursor position belongs to */
	bool reverse;
	bool valid;
	int err; /* why the last step left it unpositioned, 0 at the end */
	struct bound lo, hi; /* lo inclusive, hi exclusive */
	uint8_t *key;
	size_t klen, kcap;
	struct keydir_entry e;
	uint8_t *val;
	size_t vcap;
};

static int keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	if (d)
		return d;
	return alen < blen ? -1 : alen > blen;
}

static int bound_set(struct bound *b, const void *key, size_t len)
{
	b->key = mem_alloc(len ? len : 1);
	if (!b->key)
		return -ENOMEM;
	memcpy(b->key, key, len);
	b->len = len;
	b->set = true;
	return 0;
}

/* Keep the tighter of the current bound and @p key. */
static int bound_tighten(struct bound *b, const void *key, size_t len,
			 int keep_if)
{
	if (b->set && keycmp(b->key, b->len, key, len) * keep_if >= 0)
		return 0;
	mem_free(b->key);
	return bound_set(b, key, len);
}

static int set_bounds(struct cask_iter *it, const struct cask_iter_options *o)
{
	int rc = 0;

	if (o->start)
		rc = bound_set(&it->lo, o->start, o->start_len);
	if (!rc && o->end)
		rc = bound_set(&it->hi, o->end, o->end_len);
	if (!rc && o->prefix && o->prefix_len) {
		uint8_t *succ;
		size_t n = o->prefix_len;

		rc = bound_tighten(&it->lo, o->prefix, n, 1);
		if (rc)
			return rc;
		/* The first key after every key with the prefix: drop trailing
		 * 0xff bytes and increment the last; none left: unbounded. */
		succ = mem_alloc(n);
		if (!succ)
			return -ENOMEM;
		memcpy(succ, o->prefix, n);
		while (n > 0 && succ[n - 1] == 0xff)
			n--;
		if (n > 0) {
			succ[n - 1]++;
			rc = bound_tighten(&it->hi, succ, n, -1);
		}
		mem_free(succ);
	}
	return rc;
}

static bool in_bounds(const struct cask_iter *it, const uint8_t *k, size_t klen)
{
	if (it->lo.set && keycmp(k, klen, it->lo.key, it->lo.len) < 0)
		return false;
	return !(it->hi.set && keycmp(k, klen, it->hi.key, it->hi.len) >= 0);
}

/*
 * From the cursor's position, skip expired keys and stop at the bound.
 * Called with rw held shared. @return 0 or CASK_ENOTFOUND; -ENOMEM (kept
 * in it->err).
 */
static int settle(struct cask_iter *it, bool positioned)
{
	const uint8_t *k;
	size_t klen;

	it->valid = false;
	it->err = 0;
	it->version = keydir_version(it->db->kd);
	for (; positioned; positioned = it->reverse
						? keydir_cursor_prev(it->cur)
						: keydir_cursor_next(it->cur)) {
		keydir_cursor_get(it->cur, &k, &klen, &it->e);
		if (!in_bounds(it, k, klen))
			return CASK_ENOTFOUND;
		/* A damaged expiry stops here: reading the value reports it. */
		if (db_entry_live(it->db, &it->e, k, klen) == CASK_ENOTFOUND)
			continue;
		if (klen > it->kcap) {
			uint8_t *p = mem_realloc(it->key, klen);

			if (!p) {
				it->err = -ENOMEM;
				return it->err;
			}
			it->key = p;
			it->kcap = klen;
		}
		memcpy(it->key, k, klen);
		it->klen = klen;
		it->valid = true;
		return 0;
	}
	return CASK_ENOTFOUND;
}

/* Position at the first key at or after @p key in the iteration order. */
static bool seek(struct cask_iter *it, const uint8_t *key, size_t klen,
		 bool inclusive)
{
	if (it->reverse)
		return keydir_cursor_seek_le(it->cur, key, klen, inclusive);
	return keydir_cursor_seek_ge(it->cur, key, klen, inclusive);
}

static int rewind_locked(struct cask_iter *it)
{
	bool pos;

	if (it->reverse)
		pos = it->hi.set ? seek(it, it->hi.key, it->hi.len, false)
				 : keydir_cursor_last(it->cur);
	else
		pos = it->lo.set ? seek(it, it->lo.key, it->lo.len, true)
				 : keydir_cursor_first(it->cur);
	return settle(it, pos);
}

int cask_iter_rewind(struct cask_iter *it)
{
	int rc;

	pthread_rwlock_rdlock(&it->db->rw);
	rc = rewind_locked(it);
	pthread_rwlock_unlock(&it->db->rw);
	return rc;
}

int cask_iter_new(struct cask_db *db, const struct cask_iter_options *opts,
		  struct cask_iter **out)
{
	static const struct cask_iter_options plain;
	struct cask_iter *it = mem_calloc(1, sizeof(*it));
	int rc;

	*out = NULL;
	if (!it)
		return -ENOMEM;
	it->db = db;
	it->reverse = (opts ? opts : &plain)->reverse;
	rc = set_bounds(it, opts ? opts : &plain);
	if (!rc) {
		pthread_rwlock_rdlock(&db->rw);
		rc = keydir_cursor_new(db->kd, &it->cur);
		if (!rc)
			rc = rewind_locked(it);
		pthread_rwlock_unlock(&db->rw);
	}
	if (rc && rc != CASK_ENOTFOUND) {
		cask_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

int cask_iter_seek(struct cask_iter *it, const void *key, size_t klen)
{
	int rc;

	pthread_rwlock_rdlock(&it->db->rw);
	if (!it->reverse && it->lo.set &&
	    keycmp(key, klen, it->lo.key, it->lo.len) < 0)
		rc = rewind_locked(it);
	else if (it->reverse && it->hi.set &&
		 keycmp(key, klen, it->hi.key, it->hi.len) >= 0)
		rc = rewind_locked(it);
	else
		rc = settle(it, seek(it, key, klen, true));
	pthread_rwlock_unlock(&it->db->rw);
	return rc;
}

int cask_iter_next(struct cask_iter *it)
{
	bool pos;
	int rc;

	if (!it->valid)
		return it->err ? it->err : CASK_ENOTFOUND;
	pthread_rwlock_rdlock(&it->db->rw);
	if (it->version != keydir_version(it->db->kd))
		pos = seek(it, it->key, it->klen, false);
	else
		pos = it->reverse ? keydir_cursor_prev(it->cur)
				  : keydir_cursor_next(it->cur);
	rc = settle(it, pos);
	pthread_rwlock_unlock(&it->db->rw);
	return rc;
}

bool cask_iter_valid(const struct cask_iter *it)
{
	return it->valid;
}

int cask_iter_error(const struct cask_iter *it)
{
	return it->err;
}

const void *cask_iter_key(const struct cask_iter *it, size_t *klen)
{
	if (!it->valid)
		return NULL;
	*klen = it->klen;
	return it->key;
}

int cask_iter_value(struct cask_iter *it, const void **val, size_t *vlen)
{
	struct cask_db *db = it->db;
	int rc = 0;

	if (!it->valid)
		return CASK_ENOTFOUND;
	pthread_rwlock_rdlock(&db->rw);
	/* Merged away since the step (its bytes live elsewhere now), or keys
	 * were inserted or deleted since (this one may be gone): look it up
	 * again. A plain overwrite changes neither, and reading the record
	 * found at the step is then still right. */
	if ((!segtable_find(&db->segs, it->e.seg) ||
	     it->version != keydir_version(db->kd)) &&
	    !keydir_get(db->kd, it->key, it->klen, &it->e))
		rc = CASK_ENOTFOUND;
	if (!rc && it->e.vlen > it->vcap) {
		uint8_t *p = mem_realloc(it->val, it->e.vlen);

		if (p) {
			it->val = p;
			it->vcap = it->e.vlen;
		} else {
			rc = -ENOMEM;
		}
	}
	if (!rc)
		rc = db_read_value(db, &it->e, it->key, it->klen, 0, it->val,
				   it->e.vlen);
	pthread_rwlock_unlock(&db->rw);
	if (rc)
		return rc;
	*val = it->val ? it->val : (const void *)"";
	*vlen = it->e.vlen;
	return 0;
}

void cask_iter_free(struct cask_iter *it)
{
	if (!it)
		return;
	keydir_cursor_free(it->cur);
	mem_free(it->lo.key);
	mem_free(it->hi.key);
	mem_free(it->key);
	mem_free(it->val);
	mem_free(it);
}
