/*
 * deferred.c - kept merge inputs (deferred.h): the drop lists of finished
 * merges whose inputs stay on disk for a backup window or for a copy of
 * the directory that may be running, and the keeper thread that gives
 * them back (and closes the backup windows whose holder has ended or
 * whose time is up: backup_expire()).
 *
 * Why a copy is watched for rather than waited out: a fixed delay either
 * keeps every merge's inputs (the store on disk three times its size for
 * that long, and nothing freed on a full disk) or is shorter than a long
 * copy. A copy shows itself: it lists the directory, then reads the files
 * (inotify IN_OPEN of the directory, IN_ACCESS of a segment or hint).
 * This handle does neither after open: it reads segments and hints
 * through mappings, which report no access, also the bytes its long-lived
 * mappings do not cover (segment.c, read_unmapped()). So inputs are kept
 * only when such a read was seen within COPY_QUIET_MS, and go once the
 * reads have stopped that long, at most merge_keep_ms after the merge.
 * inotify cannot tell who read: `cask verify` or `cask kept` run on the
 * directory count as a copy (they read it as one does), and so would a
 * program that lists its own store's directory beside its handle; they
 * keep inputs longer, never shorter. fanotify, which names the reader,
 * needs CAP_SYS_ADMIN.
 *
 * Locks: the list, the stop flag and the count of removals in flight
 * under wmu. The watch is read (drained) by the keeper and, under wmu, by
 * deferred_add() and deferred_take(), so that a listing just before a
 * merge's removal is seen by the removal; watch_mu makes a drain and the
 * stamp of copy_seen_ms it leads to one step. Drop lists are finished
 * without wmu; a window that opens waits for those in flight.
 */
#include "deferred.h"

#include "alloc.h"
#include "db.h"
#include "droplist.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The keeper looks at free space and the clock this often while it keeps
 * anything, and lets a copy's events gather this long between reads. */
#define TICK_MS	  1000
#define GATHER_MS 250

/* An event of another process reading the directory: a listing (the
 * directory opened or read) or a read of a segment or hint file. */
static bool outside_read(const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (!ev->len)
		return ev->mask & (IN_OPEN | IN_ACCESS);
	return (ev->mask & IN_ACCESS) &&
	       cask_file_parse(ev->name, NULL) != CASK_FILE_OTHER;
}

/* Read the events the watch has and note when another process read. */
static void drain_watch(struct deferred_drops *d)
{
	_Alignas(struct inotify_event) char buf[4096];
	bool seen = false;
	ssize_t n;

	if (d->watch_fd < 0)
		return;
	pthread_mutex_lock(&d->watch_mu);
	while ((n = read(d->watch_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev =
				(const void *)(buf + off);

			seen = seen || outside_read(ev);
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	if (seen)
		atomic_store(&d->copy_seen_ms, db_mono_ms());
	pthread_mutex_unlock(&d->watch_mu);
}

/* Was a read of the directory by another process seen within
 * COPY_QUIET_MS of @p now (as far as the watch was read)? The stamp may
 * be later than @p now: callers take the time, then drain the watch (or
 * wait for watch_mu while the keeper drains it), and a read seen in that
 * moment is stamped after it; `now - seen` wrapped then, and a copy
 * reading just then counted as none, its inputs removed at once. */
static bool copy_seen(struct deferred_drops *d, uint64_t now)
{
	uint64_t seen = atomic_load(&d->copy_seen_ms);

	return seen && now < seen + COPY_QUIET_MS;
}

/* May a copy of the directory be running at @p now? Without a watch it
 * always may. */
static bool copy_may_run(struct deferred_drops *d, uint64_t now)
{
	if (d->watch_fd < 0)
		return true;
	drain_watch(d);
	return copy_seen(d, now);
}

/* Is the filesystem short of space: less free than two segments (the
 * active one filling, a merge output) and the space reserve? */
static bool low_space(const struct cask_db *db)
{
	struct statvfs st;

	if (fstatvfs(db->dirfd, &st))
		return false;
	return (uint64_t)st.f_bavail * st.f_frsize <
	       2 * db->opts.segment_size + db->opts.reserve_bytes;
}

bool deferred_add(struct cask_db *db, uint32_t id, uint32_t inputs,
		  uint64_t bytes, bool short_of_space)
{
	struct deferred_drops *d = &db->deferred;
	uint64_t now = db_mono_ms();
	struct deferred_drop *v;

	if (db->backups == 0 &&
	    (db->opts.merge_keep_ms == 0 || short_of_space ||
	     !copy_may_run(d, now) || low_space(db)))
		return false;
	v = mem_realloc(d->v, (d->n + 1) * sizeof(*v));
	if (v) {
		v[d->n++] = (struct deferred_drop){id, inputs, bytes, now};
		d->v = v;
		d->bytes += bytes;
		d->inputs += inputs;
	}
	deferred_wake(db, false); /* its clock starts */
	return true;
}

/* Take the drop lists that may go at @p now (all of them when @p all). */
static uint32_t *take(struct cask_db *db, bool all, uint64_t now, size_t *n)
{
	struct deferred_drops *d = &db->deferred;
	bool copying = !all && copy_may_run(d, now);
	uint32_t *ids;
	size_t keep = 0;

	*n = 0;
	if (!d->n)
		return NULL;
	ids = mem_alloc(d->n * sizeof(*ids));
	if (!ids)
		return NULL;
	d->removing++;
	for (size_t i = 0; i < d->n; i++) {
		const struct deferred_drop *v = &d->v[i];

		if (all || !copying ||
		    now - v->since_ms >= db->opts.merge_keep_ms) {
			ids[(*n)++] = v->id;
			d->bytes -= v->bytes;
			d->inputs -= v->inputs;
		} else {
			d->v[keep++] = *v;
		}
	}
	d->n = keep;
	return ids;
}

uint32_t *deferred_take(struct cask_db *db, bool all, size_t *n)
{
	*n = 0;
	if (db->backups > 0)
		return NULL;
	return take(db, all, db_mono_ms(), n);
}

void deferred_finish(struct cask_db *db, uint32_t *ids, size_t n)
{
	struct deferred_drops *d = &db->deferred;

	if (!ids)
		return;
	for (size_t i = 0; i < n; i++)
		droplist_finish(db->dirfd, ids[i]);
	mem_free(ids);
	pthread_mutex_lock(&db->wmu);
	if (--d->removing == 0)
		pthread_cond_broadcast(&d->removed);
	pthread_mutex_unlock(&db->wmu);
}

void deferred_wait_removals(struct cask_db *db)
{
	while (db->deferred.removing)
		pthread_cond_wait(&db->deferred.removed, &db->wmu);
}

void deferred_wake(struct cask_db *db, bool full)
{
	struct deferred_drops *d = &db->deferred;
	uint64_t one = 1;

	if (full)
		atomic_store(&d->full, true);
	if (d->wake_fd >= 0 && write(d->wake_fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: the keeper is awake anyway */
}

/* Sleep until woken, until the watch has events, or @p ms (-1: no
 * limit). Reads the events, then lets more gather: a copy reading at
 * full speed wakes the keeper a few times a second, not at every read. */
static void keeper_wait(struct deferred_drops *d, int ms)
{
	struct pollfd p[2] = {{.fd = d->wake_fd, .events = POLLIN},
			      {.fd = d->watch_fd, .events = POLLIN}};
	uint64_t count;

	if (poll(p, d->watch_fd >= 0 ? 2 : 1, ms) <= 0)
		return;
	if (p[1].revents) {
		drain_watch(d);
		if (poll(p, 1, GATHER_MS) <= 0)
			return;
	}
	if (p[0].revents && read(d->wake_fd, &count, sizeof(count)) < 0)
		return; /* nothing to read after all */
}

static void *keeper_main(void *arg)
{
	struct cask_db *db = arg;
	struct deferred_drops *d = &db->deferred;

	for (;;) {
		bool full = atomic_exchange(&d->full, false), kept, windows;
		uint32_t *ids;
		size_t n;

		windows = backup_expire(db);
		pthread_mutex_lock(&db->wmu);
		if (d->stop) {
			pthread_mutex_unlock(&db->wmu);
			return NULL;
		}
		kept = d->n > 0;
		pthread_mutex_unlock(&db->wmu);
		full = full || (kept && low_space(db));
		pthread_mutex_lock(&db->wmu);
		ids = deferred_take(db, full, &n);
		kept = d->n > 0;
		pthread_mutex_unlock(&db->wmu);
		if (n)
			db_log(db,
			       "%s: kept inputs of %zu merge(s) removed: %s",
			       db->dir, n,
			       full ? "the disk is short of space"
			       : d->watch_fd >= 0 && !copy_seen(d, db_mono_ms())
				       ? "no copy of the directory is running"
				       : "merge_keep_ms is up");
		deferred_finish(db, ids, n);
		keeper_wait(d, kept || windows ? TICK_MS : -1);
	}
}

static int watch(int fd, const char *dir)
{
	return inotify_add_watch(fd, dir, IN_OPEN | IN_ACCESS | IN_ONLYDIR);
}

void deferred_prepare(struct cask_db *db)
{
	struct deferred_drops *d = &db->deferred;

	d->watch_fd = d->wake_fd = -1;
	pthread_mutex_init(&d->watch_mu, NULL);
	pthread_cond_init(&d->removed, NULL);
}

int deferred_init(struct cask_db *db)
{
	struct deferred_drops *d = &db->deferred;
	char path[64];
	int rc, err = 0;

	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0)
		return -errno;
	if (db->opts.merge_keep_ms) {
		d->watch_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		err = d->watch_fd < 0 ? errno : 0;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", db->dirfd);
		if (d->watch_fd >= 0 && watch(d->watch_fd, path) < 0 &&
		    watch(d->watch_fd, db->dir) < 0) {
			err = errno;
			close(d->watch_fd);
			d->watch_fd = -1;
		}
		if (d->watch_fd < 0)
			db_log(db,
			       "%s: no inotify watch (%s): merge inputs are "
			       "kept merge_keep_ms for copies",
			       db->dir, strerror(err));
	}
	rc = -pthread_create(&d->keeper, NULL, keeper_main, db);
	d->keeper_live = rc == 0;
	return rc;
}

void deferred_stop(struct cask_db *db)
{
	struct deferred_drops *d = &db->deferred;

	if (!d->keeper_live)
		return;
	pthread_mutex_lock(&db->wmu);
	d->stop = true;
	pthread_mutex_unlock(&db->wmu);
	deferred_wake(db, false);
	pthread_join(d->keeper, NULL);
	d->keeper_live = false;
}

void deferred_close(struct cask_db *db)
{
	struct deferred_drops *d = &db->deferred;
	uint32_t *ids;
	size_t n;

	deferred_stop(db);
	ids = take(db, true, 0, &n);
	deferred_finish(db, ids, n);
	mem_free(d->v);
	if (d->watch_fd >= 0)
		close(d->watch_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	pthread_mutex_destroy(&d->watch_mu);
	pthread_cond_destroy(&d->removed);
	*d = (struct deferred_drops){.watch_fd = -1, .wake_fd = -1};
}
