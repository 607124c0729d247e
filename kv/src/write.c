/*
 * write.c - the append path: put, delete, and the one function every write
 * (batches included) ends in, write_records().
 *
 * Order of a write, all under wmu:
 *   1. encode the records (sequence numbers, CRCs);
 *   2. pwrite them at the end of the active segment (rotating first if they
 *      would overflow it);
 *   3. apply them to the keydir under the rwlock held exclusively.
 * The fdatasync (if any) happens after wmu is released, in sync_commit(),
 * so concurrent writers share it (group commit) and readers never wait for
 * it; with CASK_COMMIT_NOWAIT the caller does that second phase itself
 * later (cask_wait_durable), with the position the write returned.
 *
 * A failed pwrite is undone by truncating the segment back; the handle
 * stays writable after ENOSPC/EDQUOT (space may be freed) and refuses
 * further writes after anything else, or if the undo itself failed.
 * A write that frees space (a delete) and meets ENOSPC gives up the space
 * reserve and is tried once more; while the reserve is given up, other
 * writes fail with ENOSPC up front (reserve.c), but for those paid with
 * held space (hold.c), given back just before the append.
 * A keydir out-of-memory is undone the same way, after rolling the keydir
 * back: puts are applied before deletes because undoing a put never
 * allocates, and a write never holds two operations on one key.
 */
#include "db.h"

#include "alloc.h"
#include "automerge.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

uint64_t db_entry_size(const struct keydir_entry *e, size_t klen)
{
	uint8_t flags = (e->flags & KEYDIR_F_EXPIRES) ? REC_F_EXPIRY : 0;

	return rec_header_size(flags) + klen + (uint64_t)e->vlen;
}

void db_account_dead(struct cask_db *db, uint32_t seg, uint64_t bytes)
{
	struct segment *s = segtable_find(&db->segs, seg);

	if (!s)
		return;
	s->live_bytes -= bytes < s->live_bytes ? bytes : s->live_bytes;
	s->dead_bytes += bytes;
}

int write_rotate(struct cask_db *db)
{
	struct segment *old = db->active, *s;
	int rc;

	/* Sealed segments are always complete on disk: recovery treats a bad
	 * record in one as corruption, never as a torn tail. Synced through
	 * group commit, never beside a leader's fdatasync (sync.c). */
	rc = sync_wait(db, log_pos(old->id, atomic_load(&old->size)));
	if (rc)
		return rc;
	/* A write larger than the room left made it outgrow its mapping; the
	 * walks of merge and the hint writer read sealed segments from it. */
	if (atomic_load(&old->size) > old->map_len) {
		pthread_rwlock_wrlock(&db->rw);
		rc = segment_remap(old, atomic_load(&old->size));
		pthread_rwlock_unlock(&db->rw);
		if (rc)
			return rc;
	}
	rc = segment_create(db->dirfd, db->next_id, db->opts.segment_size, &s);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&db->rw);
	rc = segtable_add(&db->segs, s);
	if (!rc)
		db->active = s;
	pthread_rwlock_unlock(&db->rw);
	if (rc) {
		char name[SEG_NAME_MAX];

		segment_name(name, s->id, "cask");
		io_unlinkat(db->dirfd, name);
		segment_put(s);
		return rc;
	}
	db->next_id++;
	return 0;
}

/* Undo the puts of ops[0..n) (in reverse); never allocates. */
static void unapply_puts(struct cask_db *db, struct applied_op *ops, size_t n,
			 const int *res, const struct keydir_entry *old)
{
	while (n-- > 0) {
		/* Deletes are applied after every put: nothing to undo, and
		 * their res/old slots were never written. */
		if (ops[n].is_delete)
			continue;
		if (res[n] == KEYDIR_INSERTED)
			keydir_delete(db->kd, ops[n].key, ops[n].klen, NULL);
		else
			keydir_put(db->kd, ops[n].key, ops[n].klen, &old[n],
				   NULL, NULL, NULL);
	}
}

/* Apply @p ops to the keydir (rw held exclusively). @return 0, -ENOMEM
 * with the keydir unchanged. */
static int apply(struct cask_db *db, struct segment *seg,
		 struct applied_op *ops, size_t nops)
{
	int stack_res[8], *res = stack_res;
	struct keydir_entry stack_old[8], *old = stack_old;
	size_t i;
	int rc = 0;

	if (nops > 8) {
		res = mem_alloc(nops * sizeof(*res));
		old = mem_alloc(nops * sizeof(*old));
		if (!res || !old) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < nops; i++) {
		if (ops[i].is_delete)
			continue;
		res[i] = keydir_put(db->kd, ops[i].key, ops[i].klen, &ops[i].e,
				    &old[i], NULL, NULL);
		if (res[i] < 0) {
			unapply_puts(db, ops, i, res, old);
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < nops; i++) {
		struct keydir_entry e;

		if (ops[i].is_delete) {
			if (keydir_delete(db->kd, ops[i].key, ops[i].klen, &e))
				db_account_dead(db, e.seg,
						db_entry_size(&e, ops[i].klen));
			continue;
		}
		seg->live_bytes += db_entry_size(&ops[i].e, ops[i].klen);
		if (ops[i].expire)
			segment_note_expiry(
				seg, db_entry_size(&ops[i].e, ops[i].klen),
				ops[i].expire);
		if (res[i] == KEYDIR_REPLACED)
			db_account_dead(db, old[i].seg,
					db_entry_size(&old[i], ops[i].klen));
	}
out:
	if (res != stack_res) {
		mem_free(res);
		mem_free(old);
	}
	return rc;
}

/*
 * Start writeback of every WRITEBACK_STEP bytes appended, without waiting
 * for it, so dirty pages never pile up: the fdatasync that seals a segment,
 * and group commits, then have little left to flush while writers wait.
 */
#define WRITEBACK_STEP (4u << 20)

static void start_writeback(struct segment *seg, uint64_t from, uint64_t to)
{
	uint64_t step_from = from / WRITEBACK_STEP,
		 step_to = to / WRITEBACK_STEP;

	if (step_from != step_to)
		sync_file_range(seg->fd, (off_t)(step_from * WRITEBACK_STEP),
				WRITEBACK_STEP, SYNC_FILE_RANGE_WRITE);
}

static bool keeps_writable(int err)
{
	return err == -ENOSPC || err == -EDQUOT || err == -ENOMEM;
}

/*
 * The durable position the next write to @p seg is to carry in a synced
 * record (docs/FORMAT.md section 7.2), or 0 if it carries none: the
 * segment was made durable further than the last synced record said.
 * gc.synced is published only once the fdatasync that reached it
 * returned, so a synced record never claims bytes that were not durable
 * before it was written; a position in an older segment says nothing of
 * this one. Caller holds wmu.
 */
static uint64_t claim_due(const struct cask_db *db, const struct segment *seg)
{
	uint64_t synced = atomic_load(&db->gc.synced);

	if (!seg->synced_records || synced >> 32 != seg->id ||
	    synced <= db->claimed)
		return 0;
	return synced;
}

/* write_records() once: rotate if needed, append (after a synced record
 * when one is due), apply. */
static int append(struct cask_db *db, const struct iovec *iov, int iovcnt,
		  size_t len, struct applied_op *ops, size_t nops,
		  uint64_t dead_bytes, uint64_t *end_pos)
{
	struct segment *seg = db->active;
	uint64_t off = atomic_load(&seg->size), claim = claim_due(db, seg);
	uint8_t synced[REC_SYNCED_SIZE];
	struct iovec all[IO_MAX_IOV];
	size_t pre;
	int rc;

	if (off > SEG_HDR_SIZE &&
	    off + (claim ? REC_SYNCED_SIZE : 0) + len > db->opts.segment_size) {
		rc = write_rotate(db);
		if (rc)
			return rc;
		automerge_check(db, false);
		seg = db->active;
		off = atomic_load(&seg->size);
		claim = claim_due(db, seg);
	}
	pre = claim ? REC_SYNCED_SIZE : 0;
	if (off + pre + len > UINT32_MAX)
		return CASK_EINVAL;
	if (claim) {
		rec_encode_synced(synced, seg->id, (uint32_t)claim);
		all[0] = (struct iovec){synced, sizeof(synced)};
		memcpy(all + 1, iov, (size_t)iovcnt * sizeof(*iov));
		iov = all;
		iovcnt++;
	}
	rc = io_pwritev_all(seg->fd, iov, iovcnt, (off_t)off);
	if (!rc) {
		/* Only now: after ENOSPC the offsets must stay relative for
		 * the retry. */
		for (size_t i = 0; i < nops; i++) {
			ops[i].e.seg = seg->id;
			ops[i].e.off += (uint32_t)(off + pre);
		}
		pthread_rwlock_wrlock(&db->rw);
		rc = apply(db, seg, ops, nops);
		if (!rc) {
			for (size_t i = 0; i < nops; i++)
				if (ops[i].e.seq < seg->min_seq)
					seg->min_seq = ops[i].e.seq;
			seg->dead_bytes += dead_bytes + pre;
			atomic_store(&seg->size, off + pre + len);
		}
		pthread_rwlock_unlock(&db->rw);
	}
	if (rc) {
		/* Nothing of this write may survive: cut it off again. */
		if (io_ftruncate(seg->fd, (off_t)off) || !keeps_writable(rc))
			sync_fail(db);
		return rc;
	}
	if (claim)
		db->claimed = claim;
	start_writeback(seg, off, off + pre + len);
	atomic_fetch_add(&db->appends, 1);
	*end_pos = log_pos(seg->id, off + pre + len);
	return 0;
}

int write_records(struct cask_db *db, const struct iovec *iov, int iovcnt,
		  size_t len, struct applied_op *ops, size_t nops,
		  uint64_t dead_bytes, bool frees, uint64_t unhold,
		  uint64_t *end_pos)
{
	uint64_t given = 0;
	int rc;

	if (atomic_load(&db->failed))
		return CASK_EFAILED;
	rc = hold_give(db, unhold, &given);
	/* Held space pays for the write: no need of the reserve's leave. */
	if (!rc)
		rc = reserve_admit(db, frees || given);
	if (!rc)
		rc = append(db, iov, iovcnt, len, ops, nops, dead_bytes,
			    end_pos);
	/* A full disk must still take the writes that free space. */
	if (rc == -ENOSPC && frees && !atomic_load(&db->failed) &&
	    reserve_release(db))
		rc = append(db, iov, iovcnt, len, ops, nops, dead_bytes,
			    end_pos);
	if (rc)
		hold_take_back(db, given);
	/* Merge inputs kept for copies are the first space to give back. */
	if (rc == -ENOSPC || rc == -EDQUOT)
		deferred_wake(db, true);
	return rc;
}

int db_check_writable(struct cask_db *db)
{
	if (db->opts.read_only)
		return CASK_EREADONLY;
	return atomic_load(&db->failed) ? CASK_EFAILED : 0;
}

uint64_t write_end(struct cask_db *db)
{
	uint64_t pos;

	pthread_rwlock_rdlock(&db->rw);
	pos = log_pos(db->active->id, atomic_load(&db->active->size));
	pthread_rwlock_unlock(&db->rw);
	return pos;
}

/* Write one record (put or tombstone), then the commit's second phase
 * unless @p flags defer it. */
static int write_one(struct cask_db *db, uint8_t type, const void *key,
		     size_t klen, const void *val, size_t vlen, uint64_t expire,
		     unsigned flags, uint64_t *pos)
{
	struct rec_header h = {
		.type = type,
		.flags = expire ? REC_F_EXPIRY : 0,
		.klen = (uint16_t)klen,
		.vlen = (uint32_t)vlen,
		.expire = expire,
	};
	struct applied_op op = {
		.key = key,
		.klen = (uint16_t)klen,
		.is_delete = type == REC_DELETE,
		.expire = expire,
		.e = {.vlen = (uint32_t)vlen,
		      .flags = expire ? KEYDIR_F_EXPIRES : 0},
	};
	uint8_t hdr[REC_MAX_HDR_SIZE];
	struct iovec iov[3];
	uint64_t end = 0;
	size_t hlen;
	int rc;

	rc = db_check_kv(klen, vlen);
	if (!rc && (flags & ~COMMIT_FLAGS))
		rc = CASK_EINVAL;
	if (rc)
		goto out;
	pthread_mutex_lock(&db->wmu);
	rc = db_check_writable(db);
	if (rc)
		goto unlock;
	if (type == REC_DELETE && !keydir_get(db->kd, key, klen, NULL)) {
		/* Nothing to delete: write nothing. The position still
		 * covers the delete (or the writes) that made it absent. */
		end = write_end(db);
		goto unlock;
	}
	h.seq = op.e.seq = db->seq + 1;
	hlen = rec_encode(hdr, &h, key, val);
	iov[0] = (struct iovec){hdr, hlen};
	iov[1] = (struct iovec){(void *)key, klen};
	iov[2] = (struct iovec){(void *)val, vlen};
	rc = write_records(db, iov, vlen ? 3 : 2, hlen + klen + vlen, &op, 1,
			   type == REC_DELETE ? hlen + klen : 0,
			   type == REC_DELETE || (flags & CASK_COMMIT_FREES), 0,
			   &end);
	if (!rc)
		db->seq = h.seq;
unlock:
	pthread_mutex_unlock(&db->wmu);
	if (!rc)
		rc = sync_commit(db, end, flags);
out:
	if (pos)
		*pos = rc ? 0 : end;
	return rc;
}

int db_check_kv(size_t klen, size_t vlen)
{
	if (klen == 0 || klen > CASK_MAX_KEY || vlen > CASK_MAX_VALUE)
		return CASK_EINVAL;
	return 0;
}

uint64_t db_expiry(uint64_t ttl_ms)
{
	return ttl_ms ? db_now_ms() + ttl_ms : 0;
}

int cask_put_pos(struct cask_db *db, const void *key, size_t klen,
		 const void *val, size_t vlen, uint64_t ttl_ms, unsigned flags,
		 uint64_t *pos)
{
	return write_one(db, REC_PUT, key, klen, val, vlen, db_expiry(ttl_ms),
			 flags, pos);
}

int cask_put_ttl(struct cask_db *db, const void *key, size_t klen,
		 const void *val, size_t vlen, uint64_t ttl_ms)
{
	return cask_put_pos(db, key, klen, val, vlen, ttl_ms, 0, NULL);
}

int cask_put(struct cask_db *db, const void *key, size_t klen, const void *val,
	     size_t vlen)
{
	return cask_put_pos(db, key, klen, val, vlen, 0, 0, NULL);
}

int cask_delete_pos(struct cask_db *db, const void *key, size_t klen,
		    unsigned flags, uint64_t *pos)
{
	return write_one(db, REC_DELETE, key, klen, NULL, 0, 0, flags, pos);
}

int cask_delete(struct cask_db *db, const void *key, size_t klen)
{
	return cask_delete_pos(db, key, klen, 0, NULL);
}
