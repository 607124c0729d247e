/*
 * gateway.c - the one file of fs/ that includes cask.h (gateway.h says
 * what it offers): opening and closing the store, reads, scans, the
 * per-operation transaction, the fault seam, and fs_errno(), the one place
 * where libcask's codes become errno values (a damaged record that a read
 * meets is named first: damage.c), and what libcask knows of damage. Also
 * the public calls that are the store's alone: fs_merge_start, fs_backup,
 * fs_backup_text, fs_stats_text, fs_is_store_file, the log's fdatasync
 * for fs_sync (gw_sync), and the translation of struct fs_options into
 * libcask's options (gw_options_init, gw_open).
 *
 * Every operation's changes reach the store in commit(), its one commit
 * point; a failure anywhere before or in it puts the held inodes back.
 *
 * Durability is the operation's, not the transaction's: txn_finish()
 * adds the commit's log position to what the operation owes (fs->owed),
 * and the operation waits for it with txn_wait() after releasing fs->lock
 * (fs_wrunlock()), so that operations committing meanwhile share the
 * fdatasync (libcask's group commit) and nobody waits for it under a lock.
 *
 * Locks: none of its own; callers hold fs->wmu and fs->lock as
 * internal.h says (fs->owed and fs->txns are the writer's, under wmu, or
 * an idle operation's, which commits nothing). txn_finish() releases the
 * write side while the commit is written, naming the transaction in
 * fs->window, and takes it again (readers then see the held inodes as
 * they were). The
 * seam's counters are process-wide atomics.
 */
#include "internal.h"

#include <cask.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the seam */

static _Atomic long fail_countdown = -1;
static _Atomic int fail_err;
static _Atomic long failed;

void gw_fail_once(long n, int err)
{
	atomic_store(&fail_countdown, -1);
	atomic_store(&failed, 0);
	atomic_store(&fail_err, err);
	atomic_store(&fail_countdown, n);
}

long gw_failed(void)
{
	return atomic_load(&failed);
}

/* Each gateway call that can fail asks first. @return 0 or the error. */
static int fault(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (n < 0)
		return 0;
	atomic_store_explicit(&fail_countdown, n - 1, memory_order_relaxed);
	if (n > 0)
		return 0;
	atomic_fetch_add(&failed, 1);
	return atomic_load(&fail_err);
}

/* ---------------------------------------------------------- the errors */

/* A libcask return code (or a -errno) as a -errno value: the one
 * mapping. */
static int fs_errno(int err)
{
	switch (err) {
	case CASK_ENOTFOUND:
		return -ENOENT;
	case CASK_ECORRUPT:
	case CASK_EFAILED:
		return -EIO;
	case CASK_ELOCKED:
	case CASK_EBUSY:
		return -EBUSY;
	case CASK_EREADONLY:
		return -EROFS;
	case CASK_EVERSION:
		return -EPROTO;
	case CASK_EINVAL:
		return -EINVAL;
	case CASK_ENOTSTORE:
		return -ENOTEMPTY;
	default:
		return err >= -4095 && err <= 0 ? err : -EIO;
	}
}

/* ------------------------------------------------------------ the store */

/* The fields struct fs_options and struct cask_options share, by name. */
#define STORE_OPTIONS(X)        \
	X(create_if_missing)    \
	X(sync_interval_ms)     \
	X(segment_size)         \
	X(merge_dead_ratio)     \
	X(merge_min_dead_bytes) \
	X(merge_free_ratio)     \
	X(merge_check_ms)       \
	X(merge_keep_ms)        \
	X(reserve_bytes)        \
	X(lock_wait_ms)         \
	X(log)                  \
	X(log_arg)

static const enum cask_sync_mode sync_modes[] = {
	[FS_SYNC_ALWAYS] = CASK_SYNC_ALWAYS,
	[FS_SYNC_INTERVAL] = CASK_SYNC_INTERVAL,
	[FS_SYNC_NEVER] = CASK_SYNC_NEVER,
};

void gw_options_init(struct fs_options *o)
{
	struct cask_options co;

	cask_options_init(&co);
#define FROM_CASK(f) o->f = co.f;
	STORE_OPTIONS(FROM_CASK)
#undef FROM_CASK
	o->sync_mode = FS_SYNC_INTERVAL;
	for (size_t i = 0; i < sizeof(sync_modes) / sizeof(sync_modes[0]); i++)
		if (sync_modes[i] == co.sync_mode)
			o->sync_mode = (enum fs_sync_mode)i;
}

/* The store's settings of @p o as libcask's options. @return 0 or
 * -EINVAL (an unknown sync mode). */
static int cask_opts(const struct fs_options *o, struct cask_options *co)
{
	if ((unsigned)o->sync_mode >=
	    sizeof(sync_modes) / sizeof(sync_modes[0]))
		return -EINVAL;
	cask_options_init(co);
#define TO_CASK(f) co->f = o->f;
	STORE_OPTIONS(TO_CASK)
#undef TO_CASK
	co->sync_mode = sync_modes[o->sync_mode];
	co->read_only = o->read_only;
	return 0;
}

int gw_open(struct fs *fs, const char *dir, const struct fs_options *o)
{
	struct cask_options co;
	int err = cask_opts(o, &co);

	if (err)
		return err;
	if (fs->salvage)
		co.create_if_missing = false;
	fs->log = co.log;
	fs->log_arg = co.log_arg;
	fs->sync_always = co.sync_mode == CASK_SYNC_ALWAYS;
	return fs_errno(cask_open(dir, &co, &fs->db));
}

bool fs_is_store_file(const char *name)
{
	return cask_file_parse(name, NULL) != CASK_FILE_OTHER;
}

const char *fs_store_version(void)
{
	return CASK_VERSION_STRING;
}

int gw_close(struct fs *fs)
{
	int err = fs_errno(cask_close(fs->db));

	fs->db = NULL;
	return err;
}

int gw_close_destroy(struct fs *fs)
{
	int rc = cask_close_destroy(fs->db);

	fs->db = NULL;
	return rc == CASK_EINVAL ? -EEXIST : fs_errno(rc);
}

uint64_t gw_disk_bytes(struct fs *fs)
{
	struct cask_stats s;

	cask_stats(fs->db, &s);
	return s.disk_bytes + s.kept_bytes + s.reserve_bytes;
}

uint64_t gw_held(struct fs *fs)
{
	struct cask_stats s;

	cask_stats(fs->db, &s);
	return s.held_bytes;
}

int gw_hold_set(struct fs *fs, uint64_t bytes)
{
	uint64_t held = gw_held(fs);
	int err = fault();

	if (err)
		return err;
	if (bytes > held)
		return fs_errno(cask_hold(fs->db, bytes - held));
	return fs_errno(cask_unhold(fs->db, held - bytes));
}

int gw_hold(struct txn *tx, uint64_t bytes)
{
	int err = fault();

	if (!err && tx->fs->read_only)
		err = -EROFS;
	if (!err)
		err = fs_errno(cask_hold(tx->fs->db, bytes));
	if (!err)
		tx->taken += bytes;
	return err;
}

uint64_t gw_keys(struct fs *fs)
{
	struct cask_stats s;

	cask_stats(fs->db, &s);
	return s.keys;
}

int gw_sync(struct fs *fs)
{
	int err = fault();

	return err ? err : fs_errno(cask_sync(fs->db));
}

int fs_merge_start(struct fs *fs)
{
	struct cask_merge_options mo = {.all = true, .wait = false};

	if (fs->read_only)
		return -EROFS;
	return fs_errno(cask_merge(fs->db, &mo));
}

/* The pid @p value names, 1 for "1", 0 for "0"; -1 if it is none. */
static long backup_value(const char *value, size_t size)
{
	long pid = 0;

	if (size == 0 || size > 9)
		return -1;
	for (size_t i = 0; i < size; i++) {
		if (value[i] < '0' || value[i] > '9' ||
		    (i == 0 && size > 1 && value[i] == '0'))
			return -1;
		pid = pid * 10 + (value[i] - '0');
	}
	return pid;
}

/* Close the newest window of @p caller or an ancestor, else the newest
 * without a holder: a setfattr run by the shell whose $$ holds a window
 * is that shell's child, and another process's window must stay. */
static int backup_end(struct fs *fs, const struct fs_caller *caller)
{
	int rc = CASK_ENOTFOUND;

	for (size_t i = 0; caller && rc == CASK_ENOTFOUND && i < caller->n; i++)
		rc = cask_backup_end_held(fs->db, caller->pid[i]);
	if (rc == CASK_ENOTFOUND)
		rc = cask_backup_end_held(fs->db, 0);
	return rc == CASK_ENOTFOUND ? -EPERM : fs_errno(rc);
}

int fs_backup(struct fs *fs, const char *value, size_t size,
	      const struct fs_caller *caller)
{
	struct cask_backup_options o = {0};
	long v = backup_value(value, size);

	if (fs->read_only)
		return -EROFS;
	if (v < 0)
		return -EINVAL;
	if (v == 0)
		return backup_end(fs, caller);
	if (v == 1)
		o.max_ms = FS_BACKUP_MAX_S * 1000ull;
	else if (caller && caller->foreign)
		return -EINVAL; /* its pid would name another process here */
	else
		o.holder_pid = (int)v;
	return fs_errno(cask_backup_begin_held(fs->db, &o));
}

int fs_backup_text(struct fs *fs, char **text)
{
	struct cask_backup_info w[16];
	struct cask_stats s;
	size_t n, len = 0, cap = 256 + sizeof(w) / sizeof(w[0]) * 96;
	char *t = fsmem_alloc(cap);

	*text = NULL;
	if (!t)
		return -ENOMEM;
	cask_backup_windows(fs->db, w, sizeof(w) / sizeof(w[0]), &n);
	cask_stats(fs->db, &s);
	len += (size_t)snprintf(t + len, cap - len, "windows: %zu\n", n);
	for (size_t i = 0; i < n && i < sizeof(w) / sizeof(w[0]); i++) {
		len += (size_t)snprintf(t + len, cap - len,
					"window: open %" PRIu64 " s, ",
					w[i].open_ms / 1000);
		if (w[i].holder_pid)
			len += (size_t)snprintf(t + len, cap - len,
						"closes when process %d ends\n",
						w[i].holder_pid);
		else
			len += (size_t)snprintf(t + len, cap - len,
						"closes by itself in %" PRIu64
						" s\n",
						(w[i].left_ms + 999) / 1000);
	}
	snprintf(t + len, cap - len, "merge_waiting: %s\n",
		 s.merge_waiting ? "yes (starts when the last window closes)"
				 : "no");
	*text = t;
	return 0;
}

int fs_stats_text(struct fs *fs, char **text)
{
	struct cask_stats s;
	char *t = NULL;
	uint64_t inodes;

	*text = NULL;
	cask_stats(fs->db, &s);
	fs_rdlock(fs);
	inodes = fs->inodes;
	fs_unlock(fs);
	if (fsmem_asprintf(
		    &t,
		    "keys: %" PRIu64 "\nlive_bytes: %" PRIu64
		    "\ndead_bytes: %" PRIu64 "\ndisk_bytes: %" PRIu64
		    "\nsegments: %" PRIu64 "\nkeydir_bytes: %" PRIu64
		    "\nkeydir_unused_bytes: %" PRIu64 "\nmerge_running: %s"
		    "\nmerge_done: %" PRIu64 "\nmerge_total: %" PRIu64
		    "\nmerges: %" PRIu64 "\nmerge_reclaimed: %" PRIu64
		    "\nreserve_bytes: %" PRIu64 "\nheld_bytes: %" PRIu64
		    "\nkept_bytes: %" PRIu64 "\nkept_segments: %" PRIu64
		    "\nbackup_windows: %" PRIu64
		    "\nmerge_waiting: %s\nsyncs: %" PRIu64 "\ninodes: %" PRIu64
		    "\nchunk_size: %" PRIu32 "\ninline_max: %" PRIu32
		    "\ndamaged_ranges: %" PRIu64 "\ndamaged_bytes: %" PRIu64
		    "\ndamaged_keys: %" PRIu64 "\n",
		    s.keys, s.live_bytes, s.dead_bytes, s.disk_bytes,
		    s.segments, s.keydir_bytes, s.keydir_unused_bytes,
		    s.merge_running ? "yes" : "no", s.merge_done, s.merge_total,
		    s.merges, s.merge_reclaimed, s.reserve_bytes, s.held_bytes,
		    s.kept_bytes, s.kept_segments, s.backup_windows,
		    s.merge_waiting ? "yes" : "no", s.syncs, inodes,
		    fs->chunk_size, fs->inline_max, s.damaged_ranges,
		    s.damaged_bytes, s.damaged_keys) < 0)
		return -ENOMEM;
	*text = t;
	return 0;
}

/* --------------------------------------------------------------- damage */

static void set_loc(struct gw_loc *loc, const struct cask_location *cl)
{
	_Static_assert(sizeof(loc->file) == sizeof(cl->file), "file name");
	memcpy(loc->file, cl->file, sizeof(loc->file));
	if (cask_file_parse(cl->file, &loc->seg) != CASK_FILE_SEGMENT)
		loc->seg = 0;
	loc->off = cl->offset;
}

struct damaged_walk {
	int (*fn)(void *arg, const struct gw_damaged *d);
	void *arg;
};

static int damaged_one(void *arg, const struct cask_damaged_key *dk)
{
	struct damaged_walk *w = arg;
	struct gw_damaged d = {
		.key = dk->key,
		.klen = dk->klen,
		.uncertain = dk->uncertain,
	};

	set_loc(&d.loc, &dk->loc);
	return w->fn(w->arg, &d);
}

int gw_damaged_keys(struct fs *fs,
		    int (*fn)(void *arg, const struct gw_damaged *d), void *arg)
{
	struct damaged_walk w = {fn, arg};

	return cask_damaged_keys(fs->db, damaged_one, &w);
}

void gw_damaged_ranges(struct fs *fs, uint64_t *ranges, uint64_t *bytes)
{
	struct cask_stats s;

	cask_stats(fs->db, &s);
	*ranges = s.damaged_ranges;
	*bytes = s.damaged_bytes;
}

/* ---------------------------------------------------------------- reads */

/* Name the damaged record of @p key (one log line with the file's path:
 * damage.c), but for fsck.c's salvage opens, whose problems name it. */
static void name_damage(struct fs *fs, const void *key, size_t klen)
{
	struct cask_location cl;
	struct gw_loc loc = {.file = "(moved)"};

	if (fs->salvage)
		return;
	if (!cask_locate(fs->db, key, klen, &cl))
		set_loc(&loc, &cl);
	damage_report(fs, key, klen, &loc);
}

/* The code of a read of @p key as -errno; damage is named first. */
static int read_errno(struct fs *fs, const void *key, size_t klen, int rc)
{
	if (rc == CASK_ECORRUPT)
		name_damage(fs, key, klen);
	return fs_errno(rc);
}

int gw_record_damaged(struct fs *fs, const void *key, size_t klen)
{
	name_damage(fs, key, klen);
	return -EIO;
}

int gw_get(struct fs *fs, const void *key, size_t klen, void *buf, size_t size,
	   size_t *len)
{
	int err = fault();

	return err ? err
		   : read_errno(fs, key, klen,
				cask_get(fs->db, key, klen, buf, size, len));
}

int gw_get_alloc(struct fs *fs, const void *key, size_t klen, void **val,
		 size_t *len)
{
	int err = fault();

	*val = NULL;
	return err ? err
		   : read_errno(fs, key, klen,
				cask_get_alloc(fs->db, key, klen, val, len));
}

int gw_get_range(struct fs *fs, const void *key, size_t klen, uint64_t off,
		 void *buf, size_t size, size_t *got)
{
	int err = fault();

	*got = 0;
	return err ? err
		   : read_errno(fs, key, klen,
				cask_get_range(fs->db, key, klen, off, buf,
					       size, got));
}

int gw_exists(struct fs *fs, const void *key, size_t klen)
{
	int rc = fault();

	if (!rc)
		rc = cask_exists(fs->db, key, klen);
	return rc < 0 ? read_errno(fs, key, klen, rc) : rc;
}

/* ---------------------------------------------------------------- scans */

/* A move's result as gateway.h says: 1 at a key, 0 at the end, -errno.
 * After an error the scan has nothing more (the iterator keeps it too). */
static int moved(struct gw_scan *s, int rc)
{
	if (!rc)
		rc = fault();
	if (!rc)
		return 1;
	if (rc == CASK_ENOTFOUND)
		return 0;
	s->err = fs_errno(rc);
	return s->err;
}

int gw_scan_open(struct fs *fs, struct gw_scan *s, const void *prefix,
		 size_t plen, const void *start, size_t slen)
{
	struct cask_iter_options o = {.prefix = prefix, .prefix_len = plen};
	int err;

	*s = (struct gw_scan){.fs = fs};
	if (start) {
		o.start = start;
		o.start_len = slen;
	}
	err = fs_errno(cask_iter_new(fs->db, &o, &s->it));
	if (err)
		return s->err = err;
	return moved(s, cask_iter_valid(s->it) ? 0 : CASK_ENOTFOUND);
}

int gw_scan_next(struct gw_scan *s)
{
	return s->err ? s->err : moved(s, cask_iter_next(s->it));
}

int gw_scan_seek(struct gw_scan *s, const void *key, size_t klen)
{
	return s->err ? s->err : moved(s, cask_iter_seek(s->it, key, klen));
}

const void *gw_scan_key(struct gw_scan *s, size_t *klen)
{
	return cask_iter_key(s->it, klen);
}

int gw_scan_value(struct gw_scan *s, const void **val, size_t *len)
{
	int err = fault();
	const void *key;
	size_t klen = 0;

	if (err)
		return err;
	key = cask_iter_key(s->it, &klen);
	return read_errno(s->fs, key, klen, cask_iter_value(s->it, val, len));
}

void gw_scan_close(struct gw_scan *s)
{
	cask_iter_free(s->it);
	s->it = NULL;
}

/* --------------------------------------------------------- transactions */

void txn_begin(struct fs *fs, struct txn *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->fs = fs;
	fs->txns++;
}

/* What a transaction keeps of an inode: attributes, name, flags (and,
 * with txn_hold_data(), its buffer whole). */
static void save_attrs(struct txn_held *h, const struct fs_inode *in)
{
	h->a = in->a;
	h->parent = in->parent;
	h->name = in->name;
	h->removed = in->removed;
	h->adirty = in->adirty;
	h->cdirty = in->cdirty;
}

static void load_attrs(struct fs_inode *in, const struct txn_held *h)
{
	in->a = h->a;
	in->parent = h->parent;
	in->name = h->name;
	in->removed = h->removed;
	in->adirty = h->adirty;
	in->cdirty = h->cdirty;
}

/* The index of @p in among the inodes @p tx holds, or -1. */
static int held_at(const struct txn *tx, const struct fs_inode *in)
{
	for (int i = 0; i < tx->nheld; i++)
		if (tx->held[i].in == in)
			return i;
	return -1;
}

static struct txn_held *held(struct txn *tx, const struct fs_inode *in)
{
	int i = held_at(tx, in);

	return i < 0 ? NULL : &tx->held[i];
}

void txn_hold(struct txn *tx, struct fs_inode *in)
{
	struct txn_held *h = held(tx, in);

	if (h)
		return;
	/* No operation changes more inodes: holding another is a bug. */
	if (tx->nheld == TXN_HELD_MAX)
		abort();
	h = &tx->held[tx->nheld++];
	*h = (struct txn_held){.in = in};
	save_attrs(h, in);
}

int txn_hold_data(struct txn *tx, struct fs_inode *in)
{
	struct txn_held *h;
	char *copy = NULL;
	int err = fault();

	if (err)
		return err;
	txn_hold(tx, in);
	h = held(tx, in);
	if (h->data)
		return 0;
	/* ... and its data buffer, whole. */
	if (in->buf.cap) {
		copy = fsmem_alloc(in->buf.cap);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, in->buf.p, in->buf.cap);
	}
	h->data = true;
	h->buf = in->buf;
	in->buf.p = copy;
	return 0;
}

/* The inode as it was held; what the operation allocated for it goes. */
static void put_back(const struct txn_held *h)
{
	struct fs_inode *in = h->in;

	if (in->name != h->name)
		free(in->name);
	if (h->data)
		free(in->buf.p);
	load_attrs(in, h);
	if (h->data)
		in->buf = h->buf;
}

/* Exchange the inode's state with the one held: twice is no change. */
static void swap(struct txn_held *h)
{
	struct txn_held now = *h;

	save_attrs(&now, h->in);
	load_attrs(h->in, h);
	if (h->data) {
		now.buf = h->in->buf;
		h->in->buf = h->buf;
	}
	*h = now;
}

bool txn_holds(const struct txn *tx, const struct fs_inode *in)
{
	return held_at(tx, in) >= 0;
}

static void swap_all(struct txn *tx)
{
	for (int i = 0; i < tx->nheld; i++)
		swap(&tx->held[i]);
}

/* The inode stays as the operation left it; what was kept goes. */
static void keep(const struct txn_held *h)
{
	if (h->in->name != h->name)
		free(h->name);
	if (h->data)
		free(h->buf.p);
}

static int batch(struct txn *tx)
{
	if (tx->b)
		return 0;
	if (tx->fs->read_only)
		return -EROFS;
	return fs_errno(cask_batch_new(tx->fs->db, &tx->b));
}

int txn_put(struct txn *tx, const void *key, size_t klen, const void *val,
	    size_t len)
{
	int err = fault();

	if (!err)
		err = batch(tx);
	return err ? err : fs_errno(cask_batch_put(tx->b, key, klen, val, len));
}

int txn_delete(struct txn *tx, const void *key, size_t klen)
{
	int err = fault();

	if (!err)
		err = batch(tx);
	return err ? err : fs_errno(cask_batch_delete(tx->b, key, klen));
}

int txn_get(struct txn *tx, const void *key, size_t klen, void *buf,
	    size_t size, size_t *len)
{
	void *val = NULL;
	int err = fault();

	if (err)
		return err;
	if (!tx->b)
		return read_errno(
			tx->fs, key, klen,
			cask_get(tx->fs->db, key, klen, buf, size, len));
	err = read_errno(tx->fs, key, klen,
			 cask_batch_get(tx->b, key, klen, &val, len));
	if (!err)
		memcpy(buf, val, *len < size ? *len : size);
	free(val);
	return err;
}

bool txn_changes(const struct txn *tx)
{
	return tx->b != NULL;
}

/*
 * The commit point of every operation: the batch is written and visible
 * (first phase of libcask's two-phase commit), or on an error nothing of
 * it is. Its log position stays in tx->pos for the wait for durability.
 */
static int commit(struct txn *tx)
{
	unsigned flags =
		CASK_COMMIT_NOWAIT | (tx->frees ? CASK_COMMIT_FREES : 0);
	int err;

	if (!tx->b)
		return 0;
	err = fault();
	if (err)
		return err;
	cask_batch_unhold(tx->b, tx->unhold);
	return fs_errno(cask_batch_commit_pos(tx->b, flags, &tx->pos));
}

/* The operation waits for the commit after its locks are released
 * (txn_wait()); a synchronous transaction waits at once. */
static int owe(struct txn *tx)
{
	struct txn_owed *o = &tx->fs->owed;

	if (!tx->pos)
		return 0;
	if (tx->sync)
		return txn_wait(tx->fs, (struct txn_owed){.pos = tx->pos,
							  .sync = true});
	if (tx->pos > o->pos)
		o->pos = tx->pos;
	return 0;
}

/* Whether readers may come in while the commit is written: not for a
 * transaction that keeps them out (tx->excl, tx->sync), nor inside
 * another one (whose changes they must not see), nor without the
 * writers' locks (at open and close, in fsck). */
static bool let_readers(const struct txn *tx)
{
	return tx->b && !tx->excl && !tx->sync && tx->fs->txns == 1 &&
	       tx->fs->writing;
}

int txn_finish(struct txn *tx, int err)
{
	struct fs *fs = tx->fs;

	if (!err && let_readers(tx)) {
		/* Readers see the inodes as they were until the commit is
		 * visible and the changes are back in place. */
		swap_all(tx);
		fs->window = tx;
		fs_let_readers(fs);
		err = commit(tx);
		fs_stop_readers(fs);
		fs->window = NULL;
		swap_all(tx);
	} else if (!err) {
		err = commit(tx);
	}
	fs->txns--;
	for (int i = tx->nheld - 1; i >= 0; i--) {
		if (err)
			put_back(&tx->held[i]);
		else
			keep(&tx->held[i]);
	}
	tx->nheld = 0;
	cask_batch_free(tx->b);
	tx->b = NULL;
	/* What it held for a promise it did not make. */
	if (err && tx->taken)
		cask_unhold(fs->db, tx->taken);
	tx->taken = tx->unhold = 0;
	return err ? err : owe(tx);
}

int txn_owe_log(struct fs *fs)
{
	struct cask_batch *b = NULL;
	uint64_t pos = 0;
	int err = fault();

	/* Under sync=always every operation answered before this one waited
	 * for its own commits, so the log up to them is durable, and this
	 * one owes its own commits already. Commits of operations not
	 * answered yet are theirs to wait for: owing them too cost a file
	 * written and fsynced through a mount a third fdatasync round. */
	if (err || fs->sync_always)
		return err;
	/* An empty commit returns the end of the log, and writes nothing. */
	err = fs_errno(cask_batch_new(fs->db, &b));
	if (!err)
		err = fs_errno(
			cask_batch_commit_pos(b, CASK_COMMIT_NOWAIT, &pos));
	cask_batch_free(b);
	if (err)
		return err;
	if (pos > fs->owed.pos)
		fs->owed.pos = pos;
	fs->owed.sync = true;
	return 0;
}

struct txn_owed txn_take_owed(struct fs *fs)
{
	struct txn_owed o = fs->owed;

	fs->owed = (struct txn_owed){0};
	return o;
}

/* The second phase: as durable as the sync mode (or @p o.sync) asks. A
 * failed wait is reported as a failed fsync is, and undoes nothing: the
 * operation is done in memory and visible in the store. */
int txn_wait(struct fs *fs, struct txn_owed o)
{
	if (!o.pos || fs->read_only)
		return 0;
	return fs_errno(cask_wait_durable(fs->db, o.pos,
					  o.sync ? CASK_COMMIT_SYNC : 0));
}
