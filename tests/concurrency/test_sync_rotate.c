/*
 * test_sync_rotate.c - group commit and rotation under threads (run under
 * TSan in CI): writers that each wait for their put to be durable, in
 * segments so small that most puts rotate, never have two fdatasyncs of
 * one file in flight at once. Linux reports a writeback error to one
 * fdatasync of a file only: of two overlapping, the other may return 0
 * for lost pages (sync.c). Every put and wait succeeds, and every key
 * is there after a reopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdatomic.h>

#define THREADS 6
#define PER	60
#define MAX_FD	1024

static atomic_int inflight[MAX_FD];
static atomic_int overlaps, calls;

/* An fdatasync that notes overlapping calls on one file, and takes long
 * enough for them to meet. */
static int watched_fdatasync(int fd)
{
	int rc;

	assert_true(fd >= 0 && fd < MAX_FD);
	if (atomic_fetch_add(&inflight[fd], 1))
		atomic_fetch_add(&overlaps, 1);
	atomic_fetch_add(&calls, 1);
	usleep(200);
	rc = io_default_ops.fdatasync(fd);
	atomic_fetch_sub(&inflight[fd], 1);
	return rc;
}

struct worker {
	struct cask_db *db;
	int id;
	int errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static const uint8_t v[700];

	for (int i = 0; i < PER; i++) {
		char k[32];
		uint64_t pos;

		snprintf(k, sizeof(k), "w%d-%d", w->id, i);
		/* Half wait through the commit, half through a later wait. */
		if (cask_put_pos(w->db, k, strlen(k), v, sizeof(v), 0,
				 i % 2 ? CASK_COMMIT_SYNC : CASK_COMMIT_NOWAIT,
				 &pos) ||
		    cask_wait_durable(w->db, pos, CASK_COMMIT_SYNC))
			w->errors++;
	}
	return NULL;
}

static void test_sync_rotate_never_overlaps(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct io_ops ops = io_default_ops;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "sync_rotate");
	db = tu_open(dir, &o);
	ops.fdatasync = watched_fdatasync;
	io_set_ops(&ops);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){db, i, 0};
		assert_int_equal(
			pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	io_set_ops(NULL);
	printf("%d fdatasyncs, %d overlapping\n", atomic_load(&calls),
	       atomic_load(&overlaps));
	assert_int_equal(atomic_load(&overlaps), 0);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER; j++) {
			char k[32];

			snprintf(k, sizeof(k), "w%d-%d", i, j);
			assert_int_equal(cask_exists(db, k, strlen(k)), 1);
		}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_rotate_never_overlaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
