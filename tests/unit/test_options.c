/*
 * test_options.c - struct cask_options (kv/src/db.c, sync.c): documented
 * defaults, rejected values (segment_size out of range, unknown sync mode,
 * a zero sync interval) with nothing created on disk, the three sync modes
 * and what each does with fdatasync, cask_sync(), NULL options.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <time.h>

static void expect_einval(const struct cask_options *o)
{
	char base[TU_PATH], dir[TU_PATH];
	struct cask_db *db = (void *)1;

	tu_tmpdir(base, sizeof(base), "opt");
	tu_path(dir, base, "store");
	assert_int_equal(cask_open(dir, o, &db), CASK_EINVAL);
	assert_null(db);
	assert_false(tu_exists(dir)); /* checked before anything is made */
	tu_rm_rf(base);
}

static void test_options_defaults(void **state)
{
	struct cask_options o;

	(void)state;
	memset(&o, 0xa5, sizeof(o));
	cask_options_init(&o);
	assert_true(o.create_if_missing);
	assert_false(o.read_only);
	assert_int_equal(o.sync_mode, CASK_SYNC_INTERVAL);
	assert_int_equal(o.sync_interval_ms, 1000);
	assert_int_equal(o.segment_size, 64u << 20);
	assert_true(o.merge_dead_ratio == 0.5);
	assert_int_equal(o.merge_min_dead_bytes, 64u << 20);
	assert_null(o.log);
}

static void test_options_bad_segment_size(void **state)
{
	struct cask_options o = tu_opts(4095);

	(void)state;
	expect_einval(&o);
	o.segment_size = 0;
	expect_einval(&o);
	o.segment_size = (2ull << 30) + 1;
	expect_einval(&o);
	o.segment_size = UINT64_MAX;
	expect_einval(&o);
}

static void test_options_bad_sync(void **state)
{
	struct cask_options o = tu_opts(0);

	(void)state;
	o.sync_mode = (enum cask_sync_mode)7;
	expect_einval(&o);
	o.sync_mode = (enum cask_sync_mode) - 1;
	expect_einval(&o);
	o.sync_mode = CASK_SYNC_INTERVAL;
	o.sync_interval_ms = 0;
	expect_einval(&o);
}

static void test_options_limits_accepted(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "opt");
	db = tu_open(dir, &o);
	tu_put_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	/* The interval does not matter to the other modes. */
	o.sync_mode = CASK_SYNC_ALWAYS;
	o.sync_interval_ms = 0;
	o.segment_size = 2ull << 30;
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	/* NULL options: the defaults. */
	assert_int_equal(cask_open(dir, NULL, &db), 0);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static struct cask_db *write_n(const char *dir, struct cask_options *o, int n)
{
	struct cask_db *db = tu_open(dir, o);
	char k[16];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(cask_put(db, k, strlen(k), k, strlen(k)), 0);
	}
	return db;
}

static void check_n(const char *dir, int n)
{
	struct cask_options o = tu_opts(0);
	struct cask_db *db = tu_open(dir, &o);
	char k[16];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		tu_expect_str(db, k, k);
	}
	assert_int_equal(cask_close(db), 0);
}

static void test_options_sync_always(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_stats st;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "opt");
	o.sync_mode = CASK_SYNC_ALWAYS;
	db = write_n(dir, &o, 20);
	cask_stats(db, &st);
	/* One writer: every put waited for its own fdatasync. */
	assert_true(st.syncs >= 20);
	assert_int_equal(cask_sync(db), 0);
	assert_int_equal(cask_close(db), 0);
	check_n(dir, 20);
	tu_rm_rf(dir);
}

static void test_options_sync_never(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_stats st;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "opt");
	o.sync_mode = CASK_SYNC_NEVER;
	db = write_n(dir, &o, 20);
	sleep_ms(50);
	cask_stats(db, &st);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(cask_sync(db), 0);
	cask_stats(db, &st);
	assert_int_equal(st.syncs, 1);
	assert_int_equal(cask_close(db), 0);
	check_n(dir, 20);
	tu_rm_rf(dir);
}

static void test_options_sync_interval(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_stats st;
	struct cask_db *db;
	int waited = 0;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "opt");
	o.sync_mode = CASK_SYNC_INTERVAL;
	o.sync_interval_ms = 10;
	db = write_n(dir, &o, 20);
	do {
		sleep_ms(10);
		cask_stats(db, &st);
	} while (st.syncs == 0 && ++waited < 300);
	assert_true(st.syncs >= 1); /* the background thread synced */
	assert_int_equal(cask_sync(db), 0);
	assert_int_equal(cask_close(db), 0);
	check_n(dir, 20);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_defaults),
		cmocka_unit_test(test_options_bad_segment_size),
		cmocka_unit_test(test_options_bad_sync),
		cmocka_unit_test(test_options_limits_accepted),
		cmocka_unit_test(test_options_sync_always),
		cmocka_unit_test(test_options_sync_never),
		cmocka_unit_test(test_options_sync_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
