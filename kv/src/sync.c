/*
 * sync.c - durability: group commit and the interval syncer.
 *
 * Group commit: a writer that must be durable waits until the "synced" log
 * position passes its record. The first waiter to find no fdatasync running
 * becomes the leader: it notes the end of the log, syncs the active segment
 * with no store lock held, publishes the new synced position and wakes the
 * others. Writers that appended meanwhile are covered by the next round, so
 * N concurrent synchronous writers cost one or two fdatasyncs, not N.
 *
 * Gathering: writers one round released come back with their next commit
 * a moment apart (through a caskfs mount, after a round trip through the
 * kernel and the application), and without gathering the first of them
 * leads a round almost alone while the rest queue for the next. So a
 * commit's leader first waits until as many threads wait for a position
 * not yet durable as waited in all when the last round ended (gc.expect,
 * which falls by at most one a round), as long as each comes within the
 * last fdatasync's time of the one before, GATHER_MAX_NS at most in all.
 * Threads whose position is durable but that have not left yet do not
 * count: counting them, a round's waiters let the next leader go alone.
 * A lone writer expects no one and never waits; after k of several
 * writers stop, the next k rounds at most wait out one gap each. Rotation,
 * sync_all() and the syncer do not gather (a rotation holds wmu, which
 * the writers it would wait for need), and one of them waiting ends a
 * leader's gathering at once.
 * A commit waits here after releasing the writer mutex (sync_commit), or,
 * with CASK_COMMIT_NOWAIT, returns its log position and leaves the wait to
 * its caller (cask_wait_durable), who can first release locks of its own.
 *
 * Older segments never need syncing here: rotation seals a segment only
 * once it waited here for the segment's end, as any writer does.
 *
 * Every fdatasync of the active segment is a leader's: never two at once
 * on one file. Linux reports a writeback error to one fdatasync of a file
 * only (errseq): of two that overlap, one may return 0 for the pages the
 * other's error dropped. So a failure is seen by the one leader, which
 * marks the store failed (CASK_EFAILED from then on) under gc.mu; synced
 * never advances after that, and any wait for a position it had not
 * reached is CASK_EFAILED. Retrying could report success for lost data.
 */
#include "db.h"

#include "io.h"

#include <errno.h>
#include <time.h>

/* The longest a leader waits for others before its fdatasync. */
#define GATHER_MAX_NS 1000000L

static void *syncer_main(void *arg);

void sync_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int sync_init(struct cask_db *db)
{
	int rc;

	if (db->opts.read_only || db->opts.sync_mode != CASK_SYNC_INTERVAL)
		return 0;
	pthread_mutex_init(&db->syncer_mu, NULL);
	sync_cond_init(&db->syncer_cv);
	rc = -pthread_create(&db->syncer, NULL, syncer_main, db);
	db->syncer_running = rc == 0;
	return rc;
}

void sync_destroy(struct cask_db *db)
{
	if (db->syncer_running) {
		pthread_mutex_lock(&db->syncer_mu);
		db->stopping = true;
		pthread_cond_signal(&db->syncer_cv);
		pthread_mutex_unlock(&db->syncer_mu);
		pthread_join(db->syncer, NULL);
		pthread_mutex_destroy(&db->syncer_mu);
		pthread_cond_destroy(&db->syncer_cv);
		db->syncer_running = false;
	}
}

/* Mark the store failed and wake every waiter. Caller holds gc.mu. */
static void fail_locked(struct cask_db *db)
{
	atomic_store(&db->failed, 1);
	pthread_cond_broadcast(&db->gc.cv);
	pthread_cond_broadcast(&db->gc.more);
}

void sync_fail(struct cask_db *db)
{
	pthread_mutex_lock(&db->gc.mu);
	fail_locked(db);
	pthread_mutex_unlock(&db->gc.mu);
}

/* One leader round: sync the active segment up to its current end. */
static int lead_sync(struct cask_db *db, uint64_t *reached)
{
	struct segment *seg;
	int rc;

	pthread_rwlock_rdlock(&db->rw);
	seg = db->active;
	segment_get(seg);
	*reached = log_pos(seg->id, atomic_load(&seg->size));
	pthread_rwlock_unlock(&db->rw);
	rc = io_fdatasync(seg->fd);
	segment_put(seg);
	atomic_fetch_add(&db->syncs, 1);
	return rc;
}

/* The waiters whose position is not durable yet; *@p hurry if one of them
 * must not wait for a gathering. Caller holds gc.mu. */
static unsigned uncovered(const struct cask_db *db, bool *hurry)
{
	unsigned n = 0;

	*hurry = false;
	for (const struct sync_waiter *w = db->gc.waiters; w; w = w->next) {
		if (w->pos > db->gc.synced) {
			n++;
			*hurry |= !w->gathers;
		}
	}
	return n;
}

/*
 * The leader, before its fdatasync: wait until gc.expect threads wait for
 * a position not yet durable, while each comes within the last
 * fdatasync's time of the one before, for GATHER_MAX_NS at most in all,
 * and unless one of them must not wait. Caller holds gc.mu and leads
 * (gc.running).
 */
static void gather(struct cask_db *db)
{
	int64_t t = now_ns(), end = t + GATHER_MAX_NS;
	bool hurry;
	unsigned seen = uncovered(db, &hurry), n;

	db->gc.gathering = true;
	while (seen < db->gc.expect && !hurry && !atomic_load(&db->failed)) {
		int64_t until = t + db->gc.last_ns;
		struct timespec ts;

		if (until > end)
			until = end;
		ts.tv_sec = until / 1000000000L;
		ts.tv_nsec = until % 1000000000L;
		if (pthread_cond_timedwait(&db->gc.more, &db->gc.mu, &ts) ==
		    ETIMEDOUT)
			break;
		n = uncovered(db, &hurry);
		if (n > seen) { /* one came: wait a gap for the next */
			seen = n;
			t = now_ns();
		}
	}
	db->gc.gathering = false;
}

/* Join the waiters (caller holds gc.mu); a leader gathering hears of it. */
static void enlist(struct cask_db *db, struct sync_waiter *me)
{
	me->next = db->gc.waiters;
	db->gc.waiters = me;
	db->gc.nwaiting++;
	if (db->gc.gathering)
		pthread_cond_signal(&db->gc.more);
}

static void delist(struct cask_db *db, struct sync_waiter *me)
{
	struct sync_waiter **p = &db->gc.waiters;

	while (*p != me)
		p = &(*p)->next;
	*p = me->next;
	db->gc.nwaiting--;
}

/* sync_wait(); a leader gathers first if @p gathers (a commit's waiter,
 * which holds no lock of the store's). */
static int wait_for(struct cask_db *db, uint64_t pos, bool gathers)
{
	struct sync_waiter me = {.pos = pos, .gathers = gathers};
	bool listed;
	int rc = 0;

	pthread_mutex_lock(&db->gc.mu);
	listed = db->gc.synced < pos;
	if (listed)
		enlist(db, &me);
	/* Positions synced before a failure stay durable: synced stops. */
	while (db->gc.synced < pos) {
		uint64_t reached;
		int64_t t0;

		if (atomic_load(&db->failed)) {
			rc = CASK_EFAILED;
			break;
		}
		if (db->gc.running) {
			pthread_cond_wait(&db->gc.cv, &db->gc.mu);
			continue;
		}
		db->gc.running = true;
		if (gathers)
			gather(db);
		if (atomic_load(&db->failed)) { /* while it gathered */
			db->gc.running = false;
			pthread_cond_broadcast(&db->gc.cv);
			rc = CASK_EFAILED;
			break;
		}
		pthread_mutex_unlock(&db->gc.mu);
		t0 = now_ns();
		rc = lead_sync(db, &reached);
		t0 = now_ns() - t0;
		pthread_mutex_lock(&db->gc.mu);
		db->gc.running = false;
		db->gc.last_ns = t0;
		/* Everyone waiting now, the leader and those covered too: all
		 * may be back for the next round. Falls by one a round, so a
		 * thread late once does not undo the gathering. */
		if (db->gc.nwaiting >= db->gc.expect)
			db->gc.expect = db->gc.nwaiting;
		else
			db->gc.expect--;
		if (rc) {
			db_log(db,
			       "%s: fdatasync failed: %s; the store takes no "
			       "more writes",
			       db->dir, cask_strerror(rc));
			fail_locked(db);
			break;
		}
		if (!atomic_load(&db->failed) && reached > db->gc.synced)
			db->gc.synced = reached;
		pthread_cond_broadcast(&db->gc.cv);
	}
	if (listed)
		delist(db, &me);
	pthread_mutex_unlock(&db->gc.mu);
	return rc;
}

int sync_wait(struct cask_db *db, uint64_t pos)
{
	return wait_for(db, pos, false);
}

int sync_all(struct cask_db *db)
{
	if (atomic_load(&db->failed))
		return CASK_EFAILED;
	return sync_wait(db, write_end(db));
}

int sync_commit(struct cask_db *db, uint64_t pos, unsigned flags)
{
	if (flags & CASK_COMMIT_NOWAIT)
		return 0;
	if (!(flags & CASK_COMMIT_SYNC) &&
	    db->opts.sync_mode != CASK_SYNC_ALWAYS)
		return 0;
	return wait_for(db, pos, true);
}

int cask_wait_durable(struct cask_db *db, uint64_t pos, unsigned flags)
{
	if (flags & ~COMMIT_FLAGS)
		return CASK_EINVAL;
	if (db->opts.read_only || pos == 0)
		return 0;
	if (pos > write_end(db))
		return CASK_EINVAL; /* not a position of this log */
	return sync_commit(db, pos, flags & ~CASK_COMMIT_NOWAIT);
}

int cask_sync(struct cask_db *db)
{
	return db->opts.read_only ? 0 : sync_all(db);
}

static void *syncer_main(void *arg)
{
	struct cask_db *db = arg;
	struct timespec ts;

	pthread_mutex_lock(&db->syncer_mu);
	while (!db->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += db->opts.sync_interval_ms / 1000;
		ts.tv_nsec +=
			(long)(db->opts.sync_interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&db->syncer_cv, &db->syncer_mu,
					   &ts) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&db->syncer_mu);
		/* A failure is logged and latched by sync_wait. */
		(void)sync_all(db);
		pthread_mutex_lock(&db->syncer_mu);
	}
	pthread_mutex_unlock(&db->syncer_mu);
	return NULL;
}
