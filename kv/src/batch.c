/*
 * batch.c - atomic batches.
 *
 * A batch builds its records directly in the bytes they will have on disk:
 * each put or delete appends a header placeholder, the key and the value to
 * one buffer. Commit fills in sequence numbers and CRCs, appends the commit
 * record and hands the buffer to write_records() as a single write, so the
 * whole batch lands in one segment with one pwrite. Recovery only applies
 * records flagged REC_F_BATCH once it has read their commit record, which
 * makes a batch cut anywhere by a crash invisible.
 *
 * Only the last operation on a key reaches the keydir; earlier ones in the
 * same batch are written (they are part of the checksummed unit) but are
 * garbage from the start.
 *
 * A batch belongs to one thread; commit takes the store's writer mutex.
 */
#include "db.h"

#include "alloc.h"
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct batch_op {
	size_t off; /* of the record in buf */
	uint16_t klen;
	uint32_t vlen;
	uint8_t type;
	uint64_t expire;
};

struct cask_batch {
	struct cask_db *db;
	uint8_t *buf;
	size_t len, cap;
	struct batch_op *ops;
	size_t n, ncap;
	uint64_t unhold; /* held bytes the commit gives back (hold.c) */
};

int cask_batch_new(struct cask_db *db, struct cask_batch **out)
{
	*out = NULL;
	if (db->opts.read_only)
		return CASK_EREADONLY;
	*out = mem_calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->db = db;
	return 0;
}

void cask_batch_clear(struct cask_batch *b)
{
	b->len = 0;
	b->n = 0;
	b->unhold = 0;
}

void cask_batch_unhold(struct cask_batch *b, uint64_t bytes)
{
	b->unhold =
		bytes > UINT64_MAX - b->unhold ? UINT64_MAX : b->unhold + bytes;
}

void cask_batch_free(struct cask_batch *b)
{
	if (!b)
		return;
	mem_free(b->buf);
	mem_free(b->ops);
	mem_free(b);
}

size_t cask_batch_count(const struct cask_batch *b)
{
	return b->n;
}

static int reserve(struct cask_batch *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = mem_realloc(b->buf, cap);
	if (!p)
		return -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

static int add(struct cask_batch *b, uint8_t type, const void *key, size_t klen,
	       const void *val, size_t vlen, uint64_t expire)
{
	size_t hlen = rec_header_size(expire ? REC_F_EXPIRY : 0);
	int rc = db_check_kv(klen, vlen);

	if (rc)
		return rc;
	if (mem_grow((void **)&b->ops, &b->ncap, b->n, sizeof(*b->ops), 16))
		return -ENOMEM;
	/* Room for the commit record too, so commit cannot fail on memory. */
	rc = reserve(b, hlen + klen + vlen + REC_HDR_SIZE + REC_COMMIT_VLEN);
	if (rc)
		return rc;
	b->ops[b->n++] = (struct batch_op){b->len, (uint16_t)klen,
					   (uint32_t)vlen, type, expire};
	memcpy(b->buf + b->len + hlen, key, klen);
	if (vlen)
		memcpy(b->buf + b->len + hlen + klen, val, vlen);
	b->len += hlen + klen + vlen;
	return 0;
}

int cask_batch_put_ttl(struct cask_batch *b, const void *key, size_t klen,
		       const void *val, size_t vlen, uint64_t ttl_ms)
{
	return add(b, REC_PUT, key, klen, val, vlen, db_expiry(ttl_ms));
}

int cask_batch_put(struct cask_batch *b, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	return add(b, REC_PUT, key, klen, val, vlen, 0);
}

int cask_batch_delete(struct cask_batch *b, const void *key, size_t klen)
{
	return add(b, REC_DELETE, key, klen, NULL, 0, 0);
}

static const uint8_t *op_key(const struct cask_batch *b,
			     const struct batch_op *op)
{
	return b->buf + op->off +
	       rec_header_size(op->expire ? REC_F_EXPIRY : 0);
}

int cask_batch_get(struct cask_batch *b, const void *key, size_t klen,
		   void **val, size_t *vlen)
{
	*val = NULL;
	for (size_t i = b->n; i-- > 0;) {
		const struct batch_op *op = &b->ops[i];

		if (op->klen != klen || memcmp(op_key(b, op), key, klen))
			continue;
		if (op->type == REC_DELETE)
			return CASK_ENOTFOUND;
		*val = malloc(op->vlen ? op->vlen : 1);
		if (!*val)
			return -ENOMEM;
		memcpy(*val, op_key(b, op) + klen, op->vlen);
		*vlen = op->vlen;
		return 0;
	}
	return cask_get_alloc(b->db, key, klen, val, vlen);
}

/* Encode every record with its sequence number and CRC, then the commit
 * record; @return the total length. Called with wmu held. */
static size_t encode(struct cask_batch *b, uint64_t first_seq)
{
	uint8_t commit_val[REC_COMMIT_VLEN];
	struct rec_header h;

	for (size_t i = 0; i < b->n; i++) {
		const struct batch_op *op = &b->ops[i];

		h = (struct rec_header){
			.type = op->type,
			.flags = REC_F_BATCH | (op->expire ? REC_F_EXPIRY : 0),
			.klen = op->klen,
			.vlen = op->vlen,
			.seq = first_seq + i,
			.expire = op->expire,
		};
		rec_encode(b->buf + op->off, &h, op_key(b, op),
			   op_key(b, op) + op->klen);
	}
	put_le32(commit_val, (uint32_t)b->n);
	memcpy(b->buf + b->len + REC_HDR_SIZE, commit_val, REC_COMMIT_VLEN);
	h = (struct rec_header){.type = REC_COMMIT,
				.vlen = REC_COMMIT_VLEN,
				.seq = first_seq + b->n};
	rec_encode(b->buf + b->len, &h, NULL, commit_val);
	return b->len + REC_HDR_SIZE + REC_COMMIT_VLEN;
}

static bool same_key(const struct cask_batch *b, const struct batch_op *x,
		     const struct batch_op *y)
{
	return x->klen == y->klen &&
	       !memcmp(op_key(b, x), op_key(b, y), x->klen);
}

/* Order by key, then by position in the batch. */
static int by_key(const void *x, const void *y, void *arg)
{
	const struct cask_batch *b = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct batch_op *p = &b->ops[i], *q = &b->ops[j];
	int d = memcmp(op_key(b, p), op_key(b, q),
		       p->klen < q->klen ? p->klen : q->klen);

	if (d)
		return d;
	if (p->klen != q->klen)
		return p->klen < q->klen ? -1 : 1;
	return i < j ? -1 : i > j;
}

/*
 * Fill @p ops with the last operation on each key and return how many;
 * @p dead gets the bytes of the records that are garbage from the start
 * (operations overridden in the batch, tombstones, the commit record).
 */
static size_t final_ops(struct cask_batch *b, uint64_t first_seq, size_t *idx,
			struct applied_op *ops, uint64_t *dead)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		idx[i] = i;
	qsort_r(idx, b->n, sizeof(*idx), by_key, b);
	*dead = REC_HDR_SIZE + REC_COMMIT_VLEN;
	for (size_t i = 0; i < b->n; i++) {
		const struct batch_op *op = &b->ops[idx[i]];
		size_t size = rec_header_size(op->expire ? REC_F_EXPIRY : 0) +
			      op->klen + op->vlen;

		if (i + 1 < b->n && same_key(b, op, &b->ops[idx[i + 1]])) {
			*dead += size; /* overridden later in the batch */
			continue;
		}
		if (op->type == REC_DELETE)
			*dead += size;
		ops[n++] = (struct applied_op){
			.key = op_key(b, op),
			.klen = op->klen,
			.is_delete = op->type == REC_DELETE,
			.expire = op->expire,
			.e = {.seq = first_seq + idx[i],
			      .off = (uint32_t)op->off,
			      .vlen = op->vlen,
			      .flags = op->expire ? KEYDIR_F_EXPIRES : 0},
		};
	}
	return n;
}

/* A batch of deletes only frees space (cask_batch_commit flags). */
static bool only_deletes(const struct cask_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->ops[i].type != REC_DELETE)
			return false;
	return true;
}

/* Write the operations of @p b as one unit. @return 0 with @p end the log
 * position after it, or an error with nothing written. */
static int write_batch(struct cask_batch *b, unsigned flags, uint64_t *end)
{
	struct cask_db *db = b->db;
	struct applied_op *ops;
	size_t *idx, n, len;
	uint64_t dead;
	struct iovec iov;
	int rc;

	ops = mem_alloc(b->n * sizeof(*ops));
	idx = mem_alloc(b->n * sizeof(*idx));
	if (!ops || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&db->wmu);
	rc = db_check_writable(db);
	if (!rc) {
		len = encode(b, db->seq + 1);
		n = final_ops(b, db->seq + 1, idx, ops, &dead);
		iov = (struct iovec){b->buf, len};
		rc = write_records(db, &iov, 1, len, ops, n, dead,
				   (flags & CASK_COMMIT_FREES) ||
					   only_deletes(b),
				   b->unhold, end);
		if (!rc)
			db->seq += b->n + 1;
	}
	pthread_mutex_unlock(&db->wmu);
out:
	mem_free(ops);
	mem_free(idx);
	return rc;
}

int cask_batch_commit_pos(struct cask_batch *b, unsigned flags, uint64_t *pos)
{
	uint64_t end = 0;
	int rc = 0;

	if (flags & ~COMMIT_FLAGS) {
		rc = CASK_EINVAL;
	} else if (b->n == 0) { /* writes nothing; covers what is written */
		if (b->unhold)
			rc = cask_unhold(b->db, b->unhold);
		end = write_end(b->db);
	} else {
		rc = write_batch(b, flags, &end);
	}
	if (!rc)
		rc = sync_commit(b->db, end, flags);
	if (!rc)
		cask_batch_clear(b);
	if (pos)
		*pos = rc ? 0 : end;
	return rc;
}

int cask_batch_commit(struct cask_batch *b, unsigned flags)
{
	return cask_batch_commit_pos(b, flags, NULL);
}
