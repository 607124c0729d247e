/*
 * test_commit_wait.c - two-phase commit under threads (run under TSan in
 * CI): commits with CASK_COMMIT_NOWAIT and cask_wait_durable() afterwards
 * share fdatasyncs, also when every commit is made under a lock of the
 * caller's (the layer above releases its lock before the wait). Counted
 * with cask_stats().syncs under CASK_SYNC_ALWAYS; every wait returns with
 * its position durable (db->gc.synced, db.h). THREADS threads of PER
 * commits each (COMMIT_PER sets PER).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "db.h"

#include <stdatomic.h>

#define THREADS 8

enum style {
	ROUNDS,	     /* all commit, barrier, all wait, barrier */
	UNDER_LOCK,  /* commit under the caller's lock, wait after it */
	LOCK_HELD,   /* a synchronous commit with the lock held (as before) */
	SYNC_COMMIT, /* plain cask_put: the engine's own group commit */
};

struct run {
	struct cask_db *db;
	enum style style;
	int per;
	pthread_mutex_t lock; /* the caller's own lock */
	pthread_barrier_t barrier;
	atomic_int errors;
};

struct worker {
	struct run *run;
	int id;
};

static bool durable(struct cask_db *db, uint64_t pos)
{
	bool ok;

	pthread_mutex_lock(&db->gc.mu);
	ok = db->gc.synced >= pos;
	pthread_mutex_unlock(&db->gc.mu);
	return ok;
}

/* One commit of worker @w, number @i, in the run's style. */
static int commit(struct worker *w, struct cask_batch *b, int i)
{
	struct run *r = w->run;
	char k[32], v[64];
	uint64_t pos = 0;
	int rc = 0;

	snprintf(k, sizeof(k), "w%d-%d", w->id, i);
	snprintf(v, sizeof(v), "value of %s", k);
	switch (r->style) {
	case ROUNDS:
		rc = cask_put_pos(r->db, k, strlen(k), v, strlen(v), 0,
				  CASK_COMMIT_NOWAIT, &pos);
		pthread_barrier_wait(&r->barrier);
		if (!rc)
			rc = cask_wait_durable(r->db, pos, 0);
		pthread_barrier_wait(&r->barrier);
		break;
	case UNDER_LOCK:
		rc = cask_batch_put(b, k, strlen(k), v, strlen(v));
		pthread_mutex_lock(&r->lock);
		if (!rc)
			rc = cask_batch_commit_pos(b, CASK_COMMIT_NOWAIT, &pos);
		pthread_mutex_unlock(&r->lock);
		if (!rc)
			rc = cask_wait_durable(r->db, pos, 0);
		break;
	case LOCK_HELD:
		rc = cask_batch_put(b, k, strlen(k), v, strlen(v));
		pthread_mutex_lock(&r->lock);
		if (!rc)
			rc = cask_batch_commit_pos(b, 0, &pos);
		pthread_mutex_unlock(&r->lock);
		break;
	case SYNC_COMMIT:
		rc = cask_put_pos(r->db, k, strlen(k), v, strlen(v), 0, 0,
				  &pos);
		break;
	}
	if (!rc && !durable(r->db, pos))
		rc = -EAGAIN; /* returned before its position was durable */
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cask_batch *b;

	if (cask_batch_new(w->run->db, &b)) {
		atomic_fetch_add(&w->run->errors, 1);
		return NULL;
	}
	for (int i = 0; i < w->run->per; i++)
		if (commit(w, b, i))
			atomic_fetch_add(&w->run->errors, 1);
	cask_batch_free(b);
	return NULL;
}

/* Run THREADS workers in @style on a fresh store; check every write after
 * a reopen. @return the fdatasyncs the commits cost. */
static uint64_t run_style(enum style style, int per)
{
	static const char *const names[] = {"rounds", "under lock", "lock held",
					    "cask_put"};
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct run r = {.style = style, .per = per};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct cask_stats st;
	uint64_t before;

	o.sync_mode = CASK_SYNC_ALWAYS;
	tu_tmpdir(dir, sizeof(dir), "commit-wait");
	r.db = tu_open(dir, &o);
	pthread_mutex_init(&r.lock, NULL);
	pthread_barrier_init(&r.barrier, NULL, THREADS);
	assert_int_equal(cask_stats(r.db, &st), 0);
	before = st.syncs;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){&r, i};
		assert_int_equal(
			pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_int_equal(cask_stats(r.db, &st), 0);
	printf("%-10s: %d threads x %d commits, %llu fdatasyncs\n",
	       names[style], THREADS, per,
	       (unsigned long long)(st.syncs - before));
	assert_int_equal(cask_close(r.db), 0);
	pthread_barrier_destroy(&r.barrier);
	pthread_mutex_destroy(&r.lock);

	r.db = tu_open(dir, &o);
	for (int id = 0; id < THREADS; id++)
		for (int i = 0; i < per; i++) {
			char k[32], v[64];

			snprintf(k, sizeof(k), "w%d-%d", id, i);
			snprintf(v, sizeof(v), "value of %s", k);
			tu_expect_str(r.db, k, v);
		}
	assert_int_equal(cask_close(r.db), 0);
	tu_rm_rf(dir);
	return st.syncs - before;
}

static int per_thread(void)
{
	return (int)tu_env_ull("COMMIT_PER", 40);
}

/* All commit, then all wait: one fdatasync per round, exactly. */
static void test_commit_wait_one_sync_per_round(void **state)
{
	int per = per_thread();

	(void)state;
	assert_int_equal(run_style(ROUNDS, per), (uint64_t)per);
}

/* Commits serialised by the caller's lock still share fdatasyncs when the
 * wait comes after the lock; with the lock held across a synchronous
 * commit every commit pays its own. */
static void test_commit_wait_after_the_callers_lock(void **state)
{
	int per = per_thread();
	uint64_t under, held, plain;

	(void)state;
	under = run_style(UNDER_LOCK, per);
	held = run_style(LOCK_HELD, per);
	plain = run_style(SYNC_COMMIT, per);
	assert_int_equal(held, (uint64_t)(THREADS * per));
	assert_true(under >= 1);
	assert_true(under < held);
	assert_true(plain < held);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_wait_one_sync_per_round),
		cmocka_unit_test(test_commit_wait_after_the_callers_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
