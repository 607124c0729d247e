/*
 * test_api.c - what cask.h promises beyond single calls: return codes of
 * edge cases (CASK_EINVAL of the reads, -EDQUOT of a put and that the
 * store stays writable after it, cask_merge on a failed handle), that a
 * merge's progress callback may call into the library, that the log
 * callback gets its log_arg until close, and that iterators and batches
 * may still be freed after cask_close (run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

static void test_api_reads_reject_bad_keys(void **state)
{
	char dir[TU_PATH], big[CASK_MAX_KEY + 1] = {0}, buf[8];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	void *val = (void *)1;
	size_t vlen = 0;

	(void)state;
	db = tu_open_new(dir, "api", &o);
	assert_int_equal(cask_get(db, "", 0, buf, sizeof(buf), &vlen),
			 CASK_EINVAL);
	assert_int_equal(
		cask_get(db, big, sizeof(big), buf, sizeof(buf), &vlen),
		CASK_EINVAL);
	assert_int_equal(cask_get_alloc(db, "", 0, &val, &vlen), CASK_EINVAL);
	assert_null(val);
	assert_int_equal(cask_get_range(db, big, sizeof(big), 0, buf,
					sizeof(buf), &vlen),
			 CASK_EINVAL);
	assert_int_equal(cask_exists(db, "", 0), CASK_EINVAL);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A quota error is like a full disk: nothing written, writable after. */
static void test_api_put_edquot(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	db = tu_open_new(dir, "api", &o);
	tu_put_str(db, "a", "1");
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -EDQUOT, false, ".cask");
	assert_int_equal(cask_put(db, "b", 1, "2", 1), -EDQUOT);
	tu_fault_remove();
	assert_int_equal(cask_exists(db, "b", 1), 0);
	tu_put_str(db, "b", "3");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "3");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A failed handle starts no merge. */
static void test_api_merge_on_failed_handle(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;

	(void)state;
	db = tu_open_new(dir, "api", &o);
	tu_put_str(db, "a", "1");
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, ".cask");
	assert_int_equal(cask_sync(db), -EIO);
	tu_fault_remove();
	assert_int_equal(cask_merge(db, &mo), CASK_EFAILED);
	assert_int_equal(cask_close(db), CASK_EFAILED);
	tu_rm_rf(dir);
}

struct reentry {
	struct cask_db *db;
	int calls, errors;
};

/* The progress callback reads and writes the store it reports on. */
static void progress_reenters(void *arg, uint64_t done, uint64_t total)
{
	struct reentry *r = arg;
	char k[16], buf[8];
	size_t vlen;
	struct cask_stats st;

	(void)done;
	(void)total;
	snprintf(k, sizeof(k), "p%d", r->calls++);
	if (cask_put(r->db, k, strlen(k), "x", 1) ||
	    cask_get(r->db, k, strlen(k), buf, sizeof(buf), &vlen) ||
	    cask_stats(r->db, &st) || !st.merge_running ||
	    cask_merge(r->db, NULL) != CASK_EBUSY)
		r->errors++;
}

static void test_api_progress_may_call_the_library(void **state)
{
	char dir[TU_PATH], val[1000] = {0};
	struct cask_options o = tu_opts(4096);
	struct reentry r = {0};
	struct cask_merge_options mo = {
		.all = true, .wait = true, .progress = progress_reenters};

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "api");
	r.db = tu_open(dir, &o);
	for (int i = 0; i < 40; i++)
		assert_int_equal(cask_put(r.db, "k", 1, val, sizeof(val)), 0);
	mo.progress_arg = &r;
	assert_int_equal(cask_merge(r.db, &mo), 0);
	assert_true(r.calls >= 1);
	assert_int_equal(r.errors, 0);
	assert_int_equal(cask_exists(r.db, "p0", 2), 1);
	assert_int_equal(cask_close(r.db), 0);
	tu_rm_rf(dir);
}

static void count_log(void *arg, const char *msg)
{
	(void)msg;
	(*(int *)arg)++;
}

/* log_arg is used until cask_close returns: the close of a store whose
 * sync fails logs. */
static void test_api_log_arg_until_close(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	int lines = 0;

	(void)state;
	o.log = count_log;
	o.log_arg = &lines;
	db = tu_open_new(dir, "api", &o);
	tu_put_str(db, "a", "1");
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, ".cask");
	assert_int_equal(cask_close(db), -EIO);
	tu_fault_remove();
	assert_true(lines >= 1);
	tu_rm_rf(dir);
}

/* Iterators and batches may be freed after their store is closed. */
static void test_api_free_after_close(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_iter_options io = {.prefix = "k", .prefix_len = 1};
	struct cask_db *db;
	struct cask_iter *it;
	struct cask_batch *b;

	(void)state;
	db = tu_open_new(dir, "api", &o);
	tu_put_str(db, "k1", "1");
	assert_int_equal(cask_iter_new(db, &io, &it), 0);
	assert_true(cask_iter_valid(it));
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "k2", 2, "2", 1), 0);
	assert_int_equal(cask_close(db), 0);
	cask_iter_free(it);
	cask_batch_free(b);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_reads_reject_bad_keys),
		cmocka_unit_test(test_api_put_edquot),
		cmocka_unit_test(test_api_merge_on_failed_handle),
		cmocka_unit_test(test_api_progress_may_call_the_library),
		cmocka_unit_test(test_api_log_arg_until_close),
		cmocka_unit_test(test_api_free_after_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
