/*
 * automerge.c - when a merge starts by itself, and the pace it keeps.
 *
 * Policy (automerge_check()): the garbage of the store is worth a merge
 * when it is at least merge_dead_ratio of all the store's record bytes, and
 * at least merge_min_dead_bytes or merge_free_ratio of the space left free
 * on the filesystem. Garbage is what a merge can drop (merge_garbage()):
 * not the tombstones an earlier merge had to keep while an older segment
 * stays, or an idle store would rewrite them at every check. The ratio
 * bounds the cost: a merge rewrites at most
 * one live byte for each dead byte it drops. The amount keeps a large idle
 * disk from seeing merges for a few bytes, and the free-space share lets a
 * small store on a small disk reclaim, where every MiB counts.
 *
 * Garbage appears without rotations (a delete, a truncate, expiry) and an
 * idle store rotates never, so the check also runs on a timer: a thread of
 * the store that wakes every merge_check_ms. The engine owns it, not the
 * daemon: libcask is embedded by programs that never call it back, and
 * it already owns the threads that sync and merge. A check that finds no
 * write since the previous one (the store idle) also seals the active
 * segment when it is worth merging itself, so the garbage of a store that
 * never fills a segment (a small store) comes back too; under writes the
 * active segment fills and seals on its own.
 *
 * Pace (automerge_pace()): an automatic merge rests, between slices of its
 * work, four times as long as the slice took whenever a write was appended
 * meanwhile, so that it takes about a fifth of the time that writers share
 * with it (issue 13: at most 20% of their throughput); with no writer it
 * runs at full speed, and on a full disk (the reserve given up) too. A
 * nice'd thread was not chosen: the scheduler's share then depends on
 * everything else the machine runs, and a full disk would wait for it.
 *
 * Locks: the timer's mu guards stopping; it is never held while taking wmu.
 */
#include "automerge.h"

#include "alloc.h"
#include "merge.h"

#include <errno.h>
#include <sys/statvfs.h>
#include <time.h>

/* Rest taken for each unit of work while writers write. */
#define PACE_REST     4
/* Longest single rest (ns), so that close never waits long for it. */
#define PACE_REST_MAX (200 * 1000000ull)

struct automerge {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;	  /* guarded by mu */
	uint64_t appends; /* db->appends at the previous check (thread) */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool ratio_on(double r)
{
	return r > 0 && r <= 1;
}

/* Bytes an unprivileged writer may still take on the store's filesystem;
 * UINT64_MAX when statfs fails (the free-space share then never counts). */
static uint64_t free_bytes(struct cask_db *db)
{
	struct statvfs sv;

	if (fstatvfs(db->dirfd, &sv) < 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Is a segment or store with @p garbage of @p all bytes worth merging by
 * ratio? */
static bool dead_enough(const struct cask_db *db, uint64_t garbage,
			uint64_t all)
{
	return garbage > 0 &&
	       (double)garbage >= db->opts.merge_dead_ratio * (double)all;
}

static bool worth_it(struct cask_db *db, uint64_t garbage, uint64_t all)
{
	double share = db->opts.merge_free_ratio;

	if (!dead_enough(db, garbage, all))
		return false;
	if (garbage >= db->opts.merge_min_dead_bytes)
		return true;
	return share > 0 && (double)garbage >= share * (double)free_bytes(db);
}

void automerge_check(struct cask_db *db, bool idle)
{
	uint64_t all = 0, garbage = 0, now = db_now_ms();
	const struct segment *a = db->active;
	struct seq_floor f;
	bool merge;

	if (db->opts.read_only || atomic_load(&db->failed))
		return;
	merge_seq_floor(db, &f);
	for (size_t i = 0; i < db->segs.n; i++) {
		const struct segment *s = db->segs.v[i];

		all += s->live_bytes + s->dead_bytes;
		garbage += merge_garbage(s, now, &f);
	}
	merge = ratio_on(db->opts.merge_dead_ratio) &&
		worth_it(db, garbage, all);
	/* Sealed, the active segment can be merged; a failed rotation (a
	 * full disk) leaves it active, and the sealed ones are merged. */
	if (merge && idle && a &&
	    dead_enough(db, segment_garbage(a, now),
			a->live_bytes + a->dead_bytes))
		(void)write_rotate(db);
	merge_start_auto(db, merge);
}

static void *timer_main(void *arg)
{
	struct cask_db *db = arg;
	struct automerge *am = db->automerge;

	pthread_mutex_lock(&am->mu);
	while (!am->stopping) {
		uint64_t at = mono_ns() + db->opts.merge_check_ms * 1000000ull;
		struct timespec ts = {(time_t)(at / 1000000000ull),
				      (long)(at % 1000000000ull)};
		uint64_t appends;

		if (pthread_cond_timedwait(&am->cv, &am->mu, &ts) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&am->mu);
		appends = atomic_load(&db->appends);
		pthread_mutex_lock(&db->wmu);
		automerge_check(db, appends == am->appends);
		pthread_mutex_unlock(&db->wmu);
		am->appends = atomic_load(&db->appends);
		pthread_mutex_lock(&am->mu);
	}
	pthread_mutex_unlock(&am->mu);
	return NULL;
}

int automerge_init(struct cask_db *db)
{
	struct automerge *am;
	pthread_condattr_t ca;
	int rc;

	if (db->opts.read_only || !db->opts.merge_check_ms ||
	    !ratio_on(db->opts.merge_dead_ratio))
		return 0;
	am = mem_calloc(1, sizeof(*am));
	if (!am)
		return -ENOMEM;
	pthread_mutex_init(&am->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&am->cv, &ca);
	pthread_condattr_destroy(&ca);
	am->appends = atomic_load(&db->appends);
	db->automerge = am;
	rc = -pthread_create(&am->thread, NULL, timer_main, db);
	if (rc) {
		db->automerge = NULL;
		pthread_cond_destroy(&am->cv);
		pthread_mutex_destroy(&am->mu);
		mem_free(am);
	}
	return rc;
}

void automerge_destroy(struct cask_db *db)
{
	struct automerge *am = db->automerge;

	if (!am)
		return;
	pthread_mutex_lock(&am->mu);
	am->stopping = true;
	pthread_cond_signal(&am->cv);
	pthread_mutex_unlock(&am->mu);
	pthread_join(am->thread, NULL);
	pthread_cond_destroy(&am->cv);
	pthread_mutex_destroy(&am->mu);
	mem_free(am);
	db->automerge = NULL;
}

void automerge_pace(struct cask_db *db, struct merge_pacer *p)
{
	uint64_t now = mono_ns();

	if (p->t0_ns && atomic_load(&db->appends) != p->appends) {
		uint64_t rest = (now - p->t0_ns) * PACE_REST;
		struct timespec ts;

		if (rest > PACE_REST_MAX)
			rest = PACE_REST_MAX;
		ts = (struct timespec){(time_t)(rest / 1000000000ull),
				       (long)(rest % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
	p->appends = atomic_load(&db->appends);
	p->t0_ns = mono_ns();
}
