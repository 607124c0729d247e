/*
 * test_commit.c - two-phase commit (cask.h): the log positions that
 * cask_put_pos, cask_delete_pos and cask_batch_commit_pos return, the
 * CASK_COMMIT_NOWAIT first phase that leaves the fdatasync to
 * cask_wait_durable, what the wait does in each sync mode and with
 * CASK_COMMIT_SYNC, its bad arguments, and a failing fdatasync (also one
 * that Linux reports to one of two overlapping fdatasyncs only). fdatasyncs
 * are counted with cask_stats().syncs; db->gc.synced (db.h) is the
 * position the store knows durable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "db.h"

static uint64_t syncs(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	return st.syncs;
}

static uint64_t synced(struct cask_db *db)
{
	uint64_t pos;

	pthread_mutex_lock(&db->gc.mu);
	pos = db->gc.synced;
	pthread_mutex_unlock(&db->gc.mu);
	return pos;
}

static void test_commit_positions_grow_with_the_log(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	struct cask_batch *b;
	uint64_t p[12] = {0}, pos = 1;
	char val[1000] = {0};

	(void)state;
	db = tu_open_new(dir, "commit", &o);
	assert_int_equal(cask_put_pos(db, "a", 1, "1", 1, 0, 0, &p[0]), 0);
	assert_true(p[0] > 0);
	assert_int_equal(cask_delete_pos(db, "a", 1, 0, &p[1]), 0);
	assert_true(p[1] > p[0]);
	/* Writing nothing returns the end of the log. */
	assert_int_equal(cask_delete_pos(db, "a", 1, 0, &p[2]), 0);
	assert_true(p[2] == p[1]);
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_commit_pos(b, 0, &p[3]), 0);
	assert_true(p[3] == p[1]);
	assert_int_equal(cask_batch_put(b, "b", 1, "2", 1), 0);
	assert_int_equal(cask_batch_delete(b, "c", 1), 0);
	assert_int_equal(cask_batch_commit_pos(b, 0, &p[4]), 0);
	assert_true(p[4] > p[3]);
	assert_int_equal(cask_batch_count(b), 0);
	/* Across a rotation (4 KiB segments), with a TTL. */
	for (int i = 5; i < 12; i++) {
		assert_int_equal(cask_put_pos(db, "v", 1, val, sizeof(val),
					      60000, 0, &p[i]),
				 0);
		assert_true(p[i] > p[i - 1]);
	}
	assert_true(tu_count_suffix(dir, ".cask") > 1);
	/* NULL positions are allowed. */
	assert_int_equal(cask_put_pos(db, "d", 1, "4", 1, 0, 0, NULL), 0);
	assert_int_equal(cask_delete_pos(db, "d", 1, 0, NULL), 0);
	assert_int_equal(cask_batch_put(b, "e", 1, "5", 1), 0);
	assert_int_equal(cask_batch_commit_pos(b, 0, NULL), 0);

	/* Errors leave the position 0 and write nothing. */
	assert_int_equal(cask_put_pos(db, "", 0, "x", 1, 0, 0, &pos),
			 CASK_EINVAL);
	assert_true(pos == 0);
	pos = 1;
	assert_int_equal(cask_put_pos(db, "f", 1, "x", 1, 0, 8u, &pos),
			 CASK_EINVAL);
	assert_true(pos == 0);
	pos = 1;
	assert_int_equal(cask_delete_pos(db, "e", 1, 0x100u, &pos),
			 CASK_EINVAL);
	assert_true(pos == 0);
	assert_int_equal(cask_batch_put(b, "g", 1, "7", 1), 0);
	pos = 1;
	assert_int_equal(cask_batch_commit_pos(b, 8u, &pos), CASK_EINVAL);
	assert_true(pos == 0);
	assert_int_equal(cask_batch_count(b), 1); /* kept */
	assert_int_equal(cask_exists(db, "f", 1), 0);
	assert_int_equal(cask_exists(db, "e", 1), 1);
	assert_int_equal(cask_exists(db, "g", 1), 0);
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Under CASK_SYNC_ALWAYS, NOWAIT commits do not sync; one wait syncs them
 * all; a second wait for a durable position syncs nothing. */
static void test_commit_nowait_then_one_wait(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	uint64_t p1, p2, p3, before;

	(void)state;
	o.sync_mode = CASK_SYNC_ALWAYS;
	db = tu_open_new(dir, "commit", &o);
	assert_int_equal(cask_put(db, "a", 1, "1", 1), 0);
	before = syncs(db);
	assert_int_equal(
		cask_put_pos(db, "b", 1, "2", 1, 0, CASK_COMMIT_NOWAIT, &p1),
		0);
	assert_int_equal(cask_delete_pos(db, "a", 1,
					 CASK_COMMIT_NOWAIT | CASK_COMMIT_SYNC,
					 &p2),
			 0);
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "c", 1, "3", 1), 0);
	assert_int_equal(cask_batch_commit_pos(b, CASK_COMMIT_NOWAIT, &p3), 0);
	/* Written and visible, not synced. */
	assert_int_equal(syncs(db), before);
	assert_true(synced(db) < p1);
	assert_int_equal(cask_exists(db, "b", 1), 1);
	assert_int_equal(cask_exists(db, "a", 1), 0);
	assert_int_equal(cask_exists(db, "c", 1), 1);

	assert_int_equal(cask_wait_durable(db, p1, 0), 0);
	assert_int_equal(syncs(db), before + 1);
	assert_true(synced(db) >= p3); /* the sync reached the end */
	assert_int_equal(cask_wait_durable(db, p3, CASK_COMMIT_NOWAIT), 0);
	assert_int_equal(cask_wait_durable(db, p2, CASK_COMMIT_SYNC), 0);
	assert_int_equal(syncs(db), before + 1);

	/* Without NOWAIT a commit waits as before. */
	assert_int_equal(cask_batch_put(b, "d", 1, "4", 1), 0);
	assert_int_equal(cask_batch_commit_pos(b, 0, &p1), 0);
	assert_true(synced(db) >= p1);
	assert_int_equal(syncs(db), before + 2);
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* The wait does what the sync mode does, or syncs with CASK_COMMIT_SYNC. */
static void test_commit_wait_follows_sync_mode(void **state)
{
	static const enum cask_sync_mode modes[] = {CASK_SYNC_INTERVAL,
						    CASK_SYNC_NEVER};

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		char dir[TU_PATH];
		struct cask_options o = tu_opts(0);
		struct cask_db *db;
		uint64_t pos, before;

		o.sync_mode = modes[m];
		o.sync_interval_ms = 3600 * 1000; /* not during the test */
		tu_tmpdir(dir, sizeof(dir), "commit");
		db = tu_open(dir, &o);
		before = syncs(db);
		assert_int_equal(cask_put_pos(db, "a", 1, "1", 1, 0,
					      CASK_COMMIT_NOWAIT, &pos),
				 0);
		assert_int_equal(cask_wait_durable(db, pos, 0), 0);
		assert_int_equal(syncs(db), before);
		assert_true(synced(db) < pos);
		assert_int_equal(cask_wait_durable(db, pos, CASK_COMMIT_SYNC),
				 0);
		assert_int_equal(syncs(db), before + 1);
		assert_true(synced(db) >= pos);
		/* An empty batch with CASK_COMMIT_SYNC makes earlier writes
		 * durable, as cask_sync() does. */
		struct cask_batch *b;

		assert_int_equal(cask_put(db, "b", 1, "2", 1), 0);
		assert_int_equal(cask_batch_new(db, &b), 0);
		assert_int_equal(
			cask_batch_commit_pos(b, CASK_COMMIT_SYNC, &pos), 0);
		assert_true(synced(db) >= pos);
		assert_int_equal(syncs(db), before + 2);
		cask_batch_free(b);
		assert_int_equal(cask_close(db), 0);
		tu_rm_rf(dir);
	}
}

static void test_commit_wait_bad_arguments(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	uint64_t pos;

	(void)state;
	o.sync_mode = CASK_SYNC_ALWAYS;
	db = tu_open_new(dir, "commit", &o);
	assert_int_equal(cask_put_pos(db, "a", 1, "1", 1, 0, 0, &pos), 0);
	assert_int_equal(cask_wait_durable(db, 0, 0), 0);
	assert_int_equal(cask_wait_durable(db, pos + 1, 0), CASK_EINVAL);
	assert_int_equal(cask_wait_durable(db, UINT64_MAX, 0), CASK_EINVAL);
	assert_int_equal(cask_wait_durable(db, pos, 8u), CASK_EINVAL);
	assert_int_equal(cask_wait_durable(db, pos, 0), 0);
	assert_int_equal(cask_close(db), 0);
	/* A read-only handle has nothing to make durable. */
	o.read_only = true;
	db = tu_open(dir, &o);
	assert_int_equal(cask_wait_durable(db, pos, CASK_COMMIT_SYNC), 0);
	assert_int_equal(cask_put_pos(db, "b", 1, "2", 1, 0, 0, &pos),
			 CASK_EREADONLY);
	assert_true(pos == 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A failed fdatasync: the waiter that made it gets its error, later waits
 * CASK_EFAILED, a position durable before still 0; no more writes. */
static void test_commit_wait_failed_sync(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	uint64_t p1, p2;

	(void)state;
	db = tu_open_new(dir, "commit", &o);
	assert_int_equal(cask_put_pos(db, "a", 1, "1", 1, 0, 0, &p1), 0);
	assert_int_equal(cask_wait_durable(db, p1, CASK_COMMIT_SYNC), 0);
	assert_int_equal(
		cask_put_pos(db, "b", 1, "2", 1, 0, CASK_COMMIT_NOWAIT, &p2),
		0);
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, ".cask");
	assert_int_equal(cask_wait_durable(db, p2, CASK_COMMIT_SYNC), -EIO);
	tu_fault_remove();
	assert_int_equal(cask_wait_durable(db, p2, CASK_COMMIT_SYNC),
			 CASK_EFAILED);
	assert_int_equal(cask_wait_durable(db, p1, CASK_COMMIT_SYNC), 0);
	assert_int_equal(
		cask_put_pos(db, "c", 1, "3", 1, 0, CASK_COMMIT_NOWAIT, &p2),
		CASK_EFAILED);
	assert_int_equal(cask_exists(db, "b", 1), 1); /* reads go on */
	assert_int_equal(cask_close(db), CASK_EFAILED);
	tu_rm_rf(dir);
}

/*
 * An fdatasync with Linux's errseq semantics on one segment file: a
 * writeback error is pending, and the first fdatasync that checks reports
 * it; any other gets 0 although the pages are gone. The first call waits
 * a while for a second to start beside it, and a second call waits for
 * the first to return: overlapping, the first reports the error.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;		 /* the file with the pending error */
	bool error;	 /* not reported yet */
	int calls;	 /* fdatasyncs of fd started */
	int inflight;	 /* ... and not returned */
	bool overlapped; /* two were in flight at once */
	bool first_done; /* the first returned */
} es = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int errseq_fdatasync(int fd)
{
	struct timespec until;
	int n, rc = 0;

	if (fd != es.fd)
		return io_default_ops.fdatasync(fd);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 300 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&es.mu);
	n = ++es.calls;
	if (++es.inflight > 1)
		es.overlapped = true;
	pthread_cond_broadcast(&es.cv);
	if (n == 1) {
		while (es.calls == 1 &&
		       !pthread_cond_timedwait(&es.cv, &es.mu, &until))
			;
	} else {
		while (!es.first_done)
			pthread_cond_wait(&es.cv, &es.mu);
	}
	if (es.error) {
		es.error = false;
		rc = -EIO;
	}
	if (n == 1)
		es.first_done = true;
	es.inflight--;
	pthread_cond_broadcast(&es.cv);
	pthread_mutex_unlock(&es.mu);
	return rc;
}

struct waiter {
	struct cask_db *db;
	uint64_t pos;
	int rc;
};

static void *wait_durable(void *arg)
{
	struct waiter *w = arg;

	w->rc = cask_wait_durable(w->db, w->pos, CASK_COMMIT_SYNC);
	return NULL;
}

/* A group-commit leader's fdatasync fails while a writer rotates the
 * segment: the rotation's fdatasync is the leader's protocol too, never a
 * second one beside it that Linux would answer 0, so the failure stands:
 * the rotating write fails, and the position is never reported durable. */
static void test_commit_failed_sync_not_covered_by_rotation(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(8192);
	struct io_ops ops = io_default_ops;
	struct waiter w = {0};
	static uint8_t v[8180];
	pthread_t t;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "commit");
	w.db = tu_open(dir, &o);
	assert_int_equal(cask_put_pos(w.db, "k1", 2, "v1", 2, 0,
				      CASK_COMMIT_NOWAIT, &w.pos),
			 0);
	es.fd = w.db->active->fd;
	es.error = true; /* the page of k1 failed to write back */
	ops.fdatasync = errseq_fdatasync;
	io_set_ops(&ops);
	assert_int_equal(pthread_create(&t, NULL, wait_durable, &w), 0);
	pthread_mutex_lock(&es.mu);
	while (es.calls == 0) /* the leader is in its fdatasync */
		pthread_cond_wait(&es.cv, &es.mu);
	pthread_mutex_unlock(&es.mu);
	assert_int_equal(cask_put(w.db, "big", 3, v, sizeof(v)), CASK_EFAILED);
	pthread_join(t, NULL);
	io_set_ops(NULL);
	assert_false(es.overlapped);
	assert_int_equal(w.rc, -EIO);
	assert_int_equal(cask_wait_durable(w.db, w.pos, CASK_COMMIT_SYNC),
			 CASK_EFAILED);
	assert_true(synced(w.db) < w.pos);
	assert_int_equal(cask_put(w.db, "k2", 2, "v", 1), CASK_EFAILED);
	assert_int_equal(cask_close(w.db), CASK_EFAILED);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_positions_grow_with_the_log),
		cmocka_unit_test(test_commit_nowait_then_one_wait),
		cmocka_unit_test(test_commit_wait_follows_sync_mode),
		cmocka_unit_test(test_commit_wait_bad_arguments),
		cmocka_unit_test(test_commit_wait_failed_sync),
		cmocka_unit_test(
			test_commit_failed_sync_not_covered_by_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
