/*
 * db.c - the store handle: options, open, close, logging, statistics and
 * error names.
 *
 * Open order: check options, make or find the directory, check that it
 * holds only our own files, take the lock (writers only), recover the
 * keydir from the segments, note the boot (writers: OPENED), write the
 * STORE marker and allocate the space
 * reserve (writers), start a fresh active segment when there is none to
 * append to, start the syncer.
 * Close reverses it, making everything durable first.
 */
#include "db.h"

#include "alloc.h"
#include "automerge.h"
#include "deferred.h"
#include "io.h"
#include "merge.h"
#include "storedir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cask_options_init(struct cask_options *o)
{
	*o = (struct cask_options){
		.create_if_missing = true,
		.sync_mode = CASK_SYNC_INTERVAL,
		.sync_interval_ms = 1000,
		.segment_size = 64u << 20,
		.merge_dead_ratio = 0.5,
		.merge_min_dead_bytes = 64u << 20,
		.reserve_bytes = 4u << 20,
		.merge_free_ratio = 0.25,
		.merge_check_ms = 5000,
	};
}

void db_log(struct cask_db *db, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (db->opts.log)
		db->opts.log(db->opts.log_arg, msg);
	else
		fprintf(stderr, "libcask: %s\n", msg);
}

static uint64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t db_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t db_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static int check_options(const struct cask_options *o)
{
	if (o->segment_size < 4096 || o->segment_size > (2ull << 30))
		return CASK_EINVAL;
	if (o->sync_mode != CASK_SYNC_ALWAYS &&
	    o->sync_mode != CASK_SYNC_INTERVAL &&
	    o->sync_mode != CASK_SYNC_NEVER)
		return CASK_EINVAL;
	if (o->sync_mode == CASK_SYNC_INTERVAL && o->sync_interval_ms == 0)
		return CASK_EINVAL;
	return 0;
}

/* Create @p dir (one level) and make its entry durable in the parent. */
static int make_dir(const char *dir)
{
	char *copy;
	int fd, rc = 0;

	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || io_fsync(fd))
		rc = fd < 0 ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

static int open_dir(struct cask_db *db)
{
	int rc;

	if (db->opts.create_if_missing && !db->opts.read_only) {
		rc = make_dir(db->dir);
		if (rc)
			return rc;
	}
	db->dirfd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return db->dirfd < 0 ? -errno : 0;
}

/* Append to the recovered active segment if it has room and no damage
 * (appends after damage would be read as a torn tail's valid remains),
 * else start one. */
static int start_active(struct cask_db *db)
{
	struct segment *s;
	int rc;

	if (db->active && !db->active->damaged_ranges &&
	    atomic_load(&db->active->size) < db->opts.segment_size)
		return 0;
	if (db->active)
		return write_rotate(db);
	rc = segment_create(db->dirfd, db->next_id, db->opts.segment_size, &s);
	if (rc)
		return rc;
	rc = segtable_add(&db->segs, s);
	if (rc) {
		segment_put(s);
		return rc;
	}
	db->active = s;
	db->next_id++;
	return 0;
}

/* Before this open's first write, and after its recovery judged the
 * bytes the last one left (storedir.h). No data depends on it: a failure
 * only leaves the next open's recovery more cautious. */
static void note_boot(struct cask_db *db)
{
	int rc = storedir_write_opened(db->dirfd);

	if (rc)
		db_log(db, "%s/%s not written: %s", db->dir, OPENED_NAME,
		       cask_strerror(rc));
}

static void db_free(struct cask_db *db)
{
	damage_free(db);
	backup_free(db);
	segtable_free(&db->segs);
	keydir_free(db->kd);
	reserve_close(db);
	hold_close(db);
	lock_release(db);
	if (db->dirfd >= 0)
		close(db->dirfd);
	pthread_rwlock_destroy(&db->rw);
	pthread_mutex_destroy(&db->wmu);
	pthread_mutex_destroy(&db->gc.mu);
	pthread_cond_destroy(&db->gc.cv);
	pthread_cond_destroy(&db->gc.more);
	mem_free(db->dir);
	mem_free(db);
}

static int db_alloc(const char *dir, const struct cask_options *opts,
		    struct cask_db **out)
{
	struct cask_db *db = mem_calloc(1, sizeof(*db));
	pthread_rwlockattr_t ra;

	*out = NULL;
	if (!db)
		return -ENOMEM;
	db->dirfd = db->lock_fd = db->reserve_fd = db->held_fd = -1;
	deferred_prepare(db);
	if (opts)
		db->opts = *opts;
	else
		cask_options_init(&db->opts);
	db->dir = mem_alloc(strlen(dir) + 1);
	if (!db->dir || keydir_new(&db->kd)) {
		mem_free(db->dir);
		mem_free(db);
		return -ENOMEM;
	}
	strcpy(db->dir, dir);
	pthread_mutex_init(&db->wmu, NULL);
	/* Before recovery: opening can rotate, which syncs (sync.c). */
	pthread_mutex_init(&db->gc.mu, NULL);
	pthread_cond_init(&db->gc.cv, NULL);
	sync_cond_init(&db->gc.more);
	damage_init(db);
	/* Writers must not starve behind a stream of readers. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&db->rw, &ra);
	pthread_rwlockattr_destroy(&ra);
	*out = db;
	return 0;
}

/*
 * Stop the store's background threads. Once closing is set no merge
 * starts (merge.c, start()): the keeper, closing a backup window, would
 * start the merge that waited, on a merge state about to go. The keeper
 * ends before the merge thread is joined, since it may still be asking
 * for a merge; kept drop lists are finished after (deferred_close()),
 * the merge that ran last adding its own.
 */
static void stop_threads(struct cask_db *db)
{
	pthread_mutex_lock(&db->wmu);
	db->closing = true;
	pthread_mutex_unlock(&db->wmu);
	automerge_destroy(db);
	deferred_stop(db);
	merge_destroy(db);
}

int cask_open(const char *dir, const struct cask_options *opts,
	      struct cask_db **out)
{
	struct cask_db *db;
	int rc;

	*out = NULL;
	if (!dir || !*dir || (opts && check_options(opts)))
		return CASK_EINVAL;
	rc = db_alloc(dir, opts, &db);
	if (rc)
		return rc;
	rc = open_dir(db);
	if (!rc)
		rc = storedir_claim(db);
	if (!rc && !db->opts.read_only)
		rc = lock_acquire(db);
	if (!rc)
		rc = recover(db);
	if (!rc && !db->opts.read_only)
		note_boot(db);
	if (!rc && !db->opts.read_only &&
	    storedir_check_store(db->dirfd) == -ENOENT) {
		/* Recovery found no segment either: this open made the store
		 * (an older store without the marker has segments). */
		db->created = db->segs.n == 0;
		rc = storedir_write_store(db->dirfd);
	}
	if (!rc && !db->opts.read_only)
		rc = reserve_open(db);
	if (!rc)
		rc = hold_open(db);
	if (!rc && !db->opts.read_only)
		rc = start_active(db);
	if (!rc)
		rc = sync_init(db);
	/* The merge state before the keeper, which may ask for a merge. */
	if (!rc)
		rc = merge_init(db);
	if (!rc && !db->opts.read_only)
		rc = deferred_init(db);
	if (!rc && !db->opts.read_only) {
		pthread_mutex_lock(&db->wmu);
		automerge_check(db, false);
		pthread_mutex_unlock(&db->wmu);
	}
	if (!rc)
		rc = automerge_init(db);
	if (rc) {
		stop_threads(db);
		deferred_close(db);
		sync_destroy(db);
		db_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

/* Everything is durable: say so in CLOSED, so that the next open takes
 * a bad record in the active segment for damage, not a torn write. Not
 * an error of the close when it fails: no data depends on it. */
static void mark_closed(struct cask_db *db)
{
	int rc;

	if (!db->active)
		return;
	rc = storedir_write_closed(db->dirfd, db->active->id,
				   atomic_load(&db->active->size));
	if (rc)
		db_log(db, "%s/%s not written: %s", db->dir, CLOSED_NAME,
		       cask_strerror(rc));
}

int cask_close(struct cask_db *db)
{
	int rc = 0;

	if (!db)
		return 0;
	stop_threads(db);
	/* Kept inputs, and those of unclosed backup windows: garbage now. */
	deferred_close(db);
	if (!db->opts.read_only)
		rc = sync_all(db);
	if (!db->opts.read_only && !rc && !atomic_load(&db->failed))
		mark_closed(db);
	sync_destroy(db);
	db_free(db);
	return rc;
}

int cask_stats(struct cask_db *db, struct cask_stats *st)
{
	*st = (struct cask_stats){0};
	pthread_mutex_lock(&db->wmu);
	st->seq = db->seq;
	st->damaged_keys = db->damage.nkeys;
	st->reserve_bytes =
		db->reserve == RESERVE_HELD ? db->opts.reserve_bytes : 0;
	st->kept_bytes = db->deferred.bytes;
	st->kept_segments = db->deferred.inputs;
	st->backup_windows = (uint64_t)db->backups;
	st->merge_waiting = db->merge_waiting;
	st->held_bytes = db->held;
	pthread_mutex_unlock(&db->wmu);
	pthread_rwlock_rdlock(&db->rw);
	st->keys = keydir_count(db->kd);
	st->keydir_bytes = keydir_memory(db->kd);
	st->keydir_unused_bytes = keydir_unused(db->kd);
	st->segments = db->segs.n;
	for (size_t i = 0; i < db->segs.n; i++) {
		const struct segment *s = db->segs.v[i];

		st->live_bytes += s->live_bytes;
		st->dead_bytes += s->dead_bytes;
		st->disk_bytes += atomic_load(&s->size);
		st->damaged_ranges += s->damaged_ranges;
		st->damaged_bytes += s->damaged_bytes;
	}
	pthread_rwlock_unlock(&db->rw);
	st->syncs = atomic_load(&db->syncs);
	merge_stats(db, st);
	return 0;
}

int cask_segment_stats(struct cask_db *db, struct cask_segment_stats *out,
		       size_t max, size_t *count)
{
	pthread_rwlock_rdlock(&db->rw);
	*count = db->segs.n;
	for (size_t i = 0; i < db->segs.n && i < max; i++) {
		const struct segment *s = db->segs.v[i];

		out[i] = (struct cask_segment_stats){
			.id = s->id,
			.size = atomic_load(&s->size),
			.live_bytes = s->live_bytes,
			.dead_bytes = s->dead_bytes,
			.active = s == db->active,
			.has_hint = s->has_hint,
			.damaged_bytes = s->damaged_bytes,
		};
	}
	pthread_rwlock_unlock(&db->rw);
	return 0;
}

const char *cask_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CASK_ENOTFOUND:
		return "key not found";
	case CASK_ECORRUPT:
		return "store data is corrupt";
	case CASK_ELOCKED:
		return "store is locked by another process";
	case CASK_EREADONLY:
		return "store is open read-only";
	case CASK_EFAILED:
		return "an earlier write or sync failed; store takes no writes";
	case CASK_EVERSION:
		return "unsupported on-disk format version";
	case CASK_EINVAL:
		return "invalid argument";
	case CASK_EBUSY:
		return "operation already in progress";
	case CASK_ENOTSTORE:
		return "directory holds files that are not part of a store";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
