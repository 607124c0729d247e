/*
 * test_fault.c - failure paths through the seams (io.h io_set_ops,
 * alloc.h mem_fail_after): ENOSPC on write (nothing visible, the store
 * takes writes again, reopen shows exactly what was acknowledged), a
 * partial write followed by an error, short writes completed transparently,
 * a failed fdatasync (CASK_EFAILED for writes afterwards, reads go on), a
 * failed ftruncate after a failed write, a failed rename during merge, and
 * out-of-memory at every allocation of put, batch commit, open, iteration
 * and merge (always -ENOMEM, never a crash or leak, store consistent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "alloc.h"

static void teardown_faults(void)
{
	tu_fault_remove();
	mem_fail_after(-1);
}

static uint64_t seq_of(struct cask_db *db)
{
	struct cask_stats st;

	cask_stats(db, &st);
	return st.seq;
}

static void test_fault_enospc_put(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	long long size;
	uint64_t seq;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	tu_put_str(db, "a", "1");
	tu_put_str(db, "b", "2");
	seq = seq_of(db);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	size = tu_file_size(seg);
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, true, ".cask");
	assert_int_equal(cask_put(db, "c", 1, "3", 1), -ENOSPC);
	assert_int_equal(cask_put(db, "a", 1, "x", 1), -ENOSPC);
	assert_int_equal(cask_delete(db, "b", 1), -ENOSPC);
	assert_true(tu_fault_fired(TU_PWRITEV) >= 3);
	tu_expect_str(db, "c", NULL);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "2");
	assert_int_equal(seq_of(db), seq);
	assert_int_equal(tu_file_size(seg), size);
	/* Space is back: the store takes writes again. */
	tu_fault_clear(TU_PWRITEV);
	tu_put_str(db, "c", "3");
	tu_put_str(db, "d", "4");
	teardown_faults();
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "2");
	tu_expect_str(db, "c", "3");
	tu_expect_str(db, "d", "4");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_partial_write_then_error(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	long long size;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	tu_put_str(db, "a", "1");
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	size = tu_file_size(seg);
	tu_fault_install();
	tu_fault_short_writes(7); /* 7 bytes land, then the disk is full */
	tu_fault_set(TU_PWRITEV, 1, -ENOSPC, false, ".cask");
	assert_int_equal(cask_put(db, "b", 1, "a long value here", 17),
			 -ENOSPC);
	/* The 7 bytes were cut off again. */
	assert_int_equal(tu_file_size(seg), size);
	tu_expect_str(db, "b", NULL);
	tu_put_str(db, "c", "after");
	teardown_faults();
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", "after");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_short_writes_completed(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	struct cask_batch *b;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "fault");
	tu_fault_install();
	tu_fault_short_writes(3);
	db = tu_open(dir, &o);
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "s%03d", i);
		tu_put_str(db, k, "short-write-value");
	}
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "bk", 2, "bv", 2), 0);
	assert_int_equal(cask_batch_delete(b, "s000", 4), 0);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	for (int i = 50; i < 100; i++) {
		snprintf(k, sizeof(k), "s%03d", i);
		tu_put_str(db, k, "v2");
	}
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_true(tu_fault_calls(TU_PWRITEV) > 100);
	assert_int_equal(cask_close(db), 0);
	teardown_faults();
	db = tu_open(dir, &o);
	tu_expect_str(db, "bk", "bv");
	tu_expect_str(db, "s000", NULL);
	for (int i = 1; i < 100; i++) {
		snprintf(k, sizeof(k), "s%03d", i);
		tu_expect_str(db, k, i < 50 ? "short-write-value" : "v2");
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_fdatasync_fails(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	struct cask_batch *b;
	int rc;

	(void)state;
	o.sync_mode = CASK_SYNC_ALWAYS;
	db = tu_open_new(dir, "fault", &o);
	tu_put_str(db, "a", "1");
	assert_int_equal(cask_batch_new(db, &b), 0);
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, ".cask");
	rc = cask_put(db, "b", 1, "2", 1);
	assert_true(rc == -EIO || rc == CASK_EFAILED);
	tu_fault_remove();
	/* No retry of a failed fsync: the handle takes no more writes. */
	assert_int_equal(cask_put(db, "c", 1, "3", 1), CASK_EFAILED);
	assert_int_equal(cask_put_ttl(db, "c", 1, "3", 1, 9), CASK_EFAILED);
	assert_int_equal(cask_delete(db, "a", 1), CASK_EFAILED);
	assert_int_equal(cask_batch_put(b, "d", 1, "4", 1), 0);
	assert_int_equal(cask_batch_commit(b, 0), CASK_EFAILED);
	assert_int_equal(cask_batch_count(b), 1);
	assert_int_equal(cask_sync(db), CASK_EFAILED);
	assert_int_equal(cask_merge(db, &mo), CASK_EFAILED);
	cask_batch_free(b);
	/* Reads go on. */
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "c", NULL);
	assert_int_equal(cask_close(db), CASK_EFAILED);
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", "1"); /* acknowledged before the failure */
	tu_expect_str(db, "c", NULL);
	tu_put_str(db, "e", "5"); /* a new handle writes again */
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_ftruncate_after_failed_write(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	tu_put_str(db, "a", "1");
	tu_fault_install();
	tu_fault_short_writes(5);
	tu_fault_set(TU_PWRITEV, 1, -ENOSPC, false, ".cask");
	tu_fault_set(TU_FTRUNCATE, 0, -EIO, false, ".cask");
	assert_int_equal(cask_put(db, "b", 1, "torn-value", 10), -ENOSPC);
	assert_int_equal(tu_fault_fired(TU_FTRUNCATE), 1);
	teardown_faults();
	/* The undo failed: torn bytes may follow, so no more writes. */
	assert_int_equal(cask_put(db, "c", 1, "3", 1), CASK_EFAILED);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", NULL);
	cask_close(db);
	/* The torn record is cut at the next open. */
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", NULL);
	tu_put_str(db, "d", "4");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "d", "4");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void write_keys(struct cask_db *db, int n, const char *v)
{
	char k[16];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "m%03d", i);
		tu_put_str(db, k, v);
	}
}

static void check_keys(struct cask_db *db, int n, const char *v)
{
	char k[16];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "m%03d", i);
		tu_expect_str(db, k, v);
	}
}

static void test_fault_rename_fails_in_merge(void **state)
{
	static const char *const what[] = {".cask.tmp", ".hint.tmp"};
	struct cask_merge_options mo = tu_merge_all();

	(void)state;
	for (int w = 0; w < 2; w++) {
		char dir[TU_PATH];
		struct cask_options o = tu_opts(4096);
		struct cask_db *db;

		tu_tmpdir(dir, sizeof(dir), "fault");
		db = tu_open(dir, &o);
		write_keys(db, 150, "old-value-old-value");
		write_keys(db, 150, "new-value");
		assert_int_equal(cask_delete(db, "m000", 4), 0);
		tu_fault_install();
		tu_fault_set(TU_RENAME, 0, -EIO, true, what[w]);
		assert_int_equal(cask_merge(db, &mo), -EIO);
		tu_fault_remove();
		/* Intact and writable. */
		tu_expect_str(db, "m000", NULL);
		tu_expect_str(db, "m001", "new-value");
		tu_put_str(db, "after", "x");
		assert_int_equal(cask_close(db), 0);
		assert_int_equal(tu_count_containing(dir, ".tmp"), 0);
		db = tu_open(dir, &o);
		tu_expect_str(db, "m000", NULL);
		for (int i = 1; i < 150; i++) {
			char k[16];

			snprintf(k, sizeof(k), "m%03d", i);
			tu_expect_str(db, k, "new-value");
		}
		tu_expect_str(db, "after", "x");
		/* And a merge without the fault works. */
		assert_int_equal(cask_merge(db, &mo), 0);
		db = tu_reopen(db, dir, &o);
		tu_expect_str(db, "m000", NULL);
		tu_expect_str(db, "m149", "new-value");
		assert_int_equal(cask_close(db), 0);
		tu_rm_rf(dir);
	}
}

/* --- out of memory --- */

#define OOM_MAX 2000

static void test_fault_oom_put(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	int ok = 0, failed = 0;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	/* Many keys so that puts grow keydir nodes of every size. */
	for (int i = 0; i < 600; i++) {
		int rc;

		snprintf(k, sizeof(k), "%c%c%03d", 'a' + i % 7, 'a' + i % 13,
			 i);
		mem_fail_after(i % 3);
		rc = cask_put(db, k, strlen(k), k, strlen(k));
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc == 0) {
			ok++;
			tu_expect_str(db, k, k);
		} else {
			failed++;
			tu_expect_str(db, k, NULL);
			tu_put_str(db, k, k); /* and again without the fault */
		}
		/* delete under OOM too */
		if (i % 5 == 0) {
			mem_fail_after(0);
			rc = cask_delete(db, k, strlen(k));
			mem_fail_after(-1);
			assert_true(rc == 0 || rc == -ENOMEM);
			tu_expect_str(db, k, rc ? k : NULL);
			if (rc == 0)
				tu_put_str(db, k, k);
		}
	}
	assert_true(failed > 0);
	db = tu_reopen(db, dir, &o);
	for (int i = 0; i < 600; i++) {
		snprintf(k, sizeof(k), "%c%c%03d", 'a' + i % 7, 'a' + i % 13,
			 i);
		tu_expect_str(db, k, k);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
	(void)ok;
}

static void test_fault_oom_batch_commit(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	int n, rc = -ENOMEM;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	for (int i = 0; i < 30; i += 3) {
		snprintf(k, sizeof(k), "b%02d", i);
		tu_put_str(db, k, "old");
	}
	assert_int_equal(cask_batch_new(db, &b), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(k, sizeof(k), "b%02d", i);
		if (i % 4 == 0)
			assert_int_equal(cask_batch_delete(b, k, 3), 0);
		else
			assert_int_equal(cask_batch_put(b, k, 3, "new", 3), 0);
	}
	for (n = 0; n < OOM_MAX && rc; n++) {
		mem_fail_after(n);
		rc = cask_batch_commit(b, 0);
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc) {
			assert_int_equal(cask_batch_count(b), 30);
			for (int i = 0; i < 30; i++) {
				snprintf(k, sizeof(k), "b%02d", i);
				tu_expect_str(db, k, i % 3 ? NULL : "old");
			}
		}
	}
	assert_int_equal(rc, 0);
	assert_true(n > 1);
	cask_batch_free(b);
	/* Building a batch under OOM: -ENOMEM and the batch unchanged. */
	assert_int_equal(cask_batch_new(db, &b), 0);
	for (n = 0; n < 64; n++) {
		snprintf(k, sizeof(k), "x%02d", n);
		mem_fail_after(0);
		rc = cask_batch_put(b, k, 3, "v", 1);
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc)
			assert_int_equal(cask_batch_put(b, k, 3, "v", 1), 0);
		assert_int_equal(cask_batch_count(b), (size_t)n + 1);
	}
	mem_fail_after(0);
	rc = cask_batch_new(db, &(struct cask_batch *){NULL});
	mem_fail_after(-1);
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	db = tu_reopen(db, dir, &o);
	for (int i = 0; i < 30; i++) {
		snprintf(k, sizeof(k), "b%02d", i);
		tu_expect_str(db, k, i % 4 == 0 ? NULL : "new");
	}
	tu_expect_str(db, "x63", "v");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_oom_open(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	int n, rc = -ENOMEM;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "o%03d", i);
		tu_put_str(db, k, k);
	}
	for (int i = 0; i < 200; i += 4) {
		snprintf(k, sizeof(k), "o%03d", i);
		assert_int_equal(cask_delete(db, k, 4), 0);
	}
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "bat", 3, "ch", 2), 0);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	for (n = 0; n < OOM_MAX && rc; n++) {
		db = (void *)1;
		mem_fail_after(n);
		rc = cask_open(dir, &o, &db);
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc)
			assert_null(db);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 3);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "o%03d", i);
		tu_expect_str(db, k, i % 4 ? k : NULL);
	}
	tu_expect_str(db, "bat", "ch");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_oom_iter(void **state)
{
	char dir[TU_PATH], k[80];
	struct cask_options o = tu_opts(0);
	struct cask_iter_options io = {.prefix = "i", .prefix_len = 1};
	struct cask_db *db;
	int n, rc = -ENOMEM;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	for (int i = 0; i < 50; i++) {
		/* Keys and values of growing length: buffers regrow. */
		snprintf(k, sizeof(k), "i%03d-%.*s", i, i,
			 "xxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		tu_put_str(db, k, k);
	}
	for (n = 0; n < OOM_MAX && rc; n++) {
		struct cask_iter *it = (void *)1;
		int seen = 0;

		io.reverse = n & 1;
		mem_fail_after(n);
		rc = cask_iter_new(db, &io, &it);
		if (rc) {
			mem_fail_after(-1);
			assert_int_equal(rc, -ENOMEM);
			assert_null(it);
			continue;
		}
		while (!rc && cask_iter_valid(it)) {
			const void *v;
			size_t klen, vlen;
			const void *key = cask_iter_key(it, &klen);

			rc = cask_iter_value(it, &v, &vlen);
			if (rc)
				break;
			assert_int_equal(vlen, klen);
			assert_memory_equal(v, key, klen);
			seen++;
			rc = cask_iter_next(it);
			if (rc == CASK_ENOTFOUND)
				rc = 0;
		}
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (!rc)
			assert_int_equal(seen, 50);
		cask_iter_free(it);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_fault_oom_merge(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	int n, rc = -ENOMEM;

	(void)state;
	db = tu_open_new(dir, "fault", &o);
	write_keys(db, 100, "first-value-first-value");
	write_keys(db, 100, "second");
	assert_int_equal(cask_delete(db, "m000", 4), 0);
	/* Let background hint passes finish: only the merge allocates. */
	db = tu_reopen(db, dir, &o);
	assert_int_equal(
		cask_merge(db, &(struct cask_merge_options){.wait = true}), 0);
	for (n = 0; n < OOM_MAX && rc; n++) {
		mem_fail_after(n);
		rc = cask_merge(db, &mo);
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		tu_expect_str(db, "m000", NULL);
		check_keys(db, 0, "second");
		tu_expect_str(db, "m050", "second");
	}
	assert_int_equal(rc, 0);
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "m000", NULL);
	for (int i = 1; i < 100; i++) {
		char k[16];

		snprintf(k, sizeof(k), "m%03d", i);
		tu_expect_str(db, k, "second");
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_enospc_put),
		cmocka_unit_test(test_fault_partial_write_then_error),
		cmocka_unit_test(test_fault_short_writes_completed),
		cmocka_unit_test(test_fault_fdatasync_fails),
		cmocka_unit_test(test_fault_ftruncate_after_failed_write),
		cmocka_unit_test(test_fault_rename_fails_in_merge),
		cmocka_unit_test(test_fault_oom_put),
		cmocka_unit_test(test_fault_oom_batch_commit),
		cmocka_unit_test(test_fault_oom_open),
		cmocka_unit_test(test_fault_oom_iter),
		cmocka_unit_test(test_fault_oom_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
