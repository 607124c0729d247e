/*
 * test_batch.c - atomic batches (kv/src/batch.c): nothing visible before
 * commit and everything after, read-your-writes through cask_batch_get,
 * several operations on one key (put+delete, delete+put, put+put), clear
 * and free discard, empty commits write nothing, a failed commit (I/O seam)
 * keeps the batch's operations and shows none of them, batches bigger than
 * a segment, reuse after commit, persistence across reopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

static struct cask_batch *new_batch(struct cask_db *db)
{
	struct cask_batch *b = NULL;

	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_non_null(b);
	assert_int_equal(cask_batch_count(b), 0);
	return b;
}

static void bput(struct cask_batch *b, const char *k, const char *v)
{
	assert_int_equal(cask_batch_put(b, k, strlen(k), v, strlen(v)), 0);
}

static void bdel(struct cask_batch *b, const char *k)
{
	assert_int_equal(cask_batch_delete(b, k, strlen(k)), 0);
}

static void bexpect(struct cask_batch *b, const char *k, const char *v)
{
	void *got = (void *)1;
	size_t len = 0;
	int rc = cask_batch_get(b, k, strlen(k), &got, &len);

	if (!v) {
		assert_int_equal(rc, CASK_ENOTFOUND);
		assert_null(got);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(len, strlen(v));
	assert_memory_equal(got, v, len);
	free(got);
}

static uint64_t seq_of(struct cask_db *db)
{
	struct cask_stats st;

	cask_stats(db, &st);
	return st.seq;
}

static void test_batch_atomic_visibility(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "c", "old");
	b = new_batch(db);
	bput(b, "a", "1");
	bput(b, "b", "2");
	bdel(b, "c");
	assert_int_equal(cask_batch_count(b), 3);
	tu_expect_str(db, "a", NULL);
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", "old");
	assert_int_equal(cask_batch_commit(b, 0), 0);
	assert_int_equal(cask_batch_count(b), 0);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "2");
	tu_expect_str(db, "c", NULL);
	/* Sequence numbers: one per record plus the commit record. */
	assert_int_equal(seq_of(db), 1 + 3 + 1);
	/* The emptied batch is reused. */
	bput(b, "d", "4");
	assert_int_equal(cask_batch_commit(b, 0), 0);
	tu_expect_str(db, "d", "4");
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "2");
	tu_expect_str(db, "c", NULL);
	tu_expect_str(db, "d", "4");
	assert_int_equal(seq_of(db), 7);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_read_your_writes(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "x", "old");
	tu_put_str(db, "y", "there");
	tu_put_str(db, "w", "store");
	b = new_batch(db);
	bput(b, "x", "new");
	bdel(b, "y");
	bexpect(b, "x", "new");
	bexpect(b, "y", NULL);
	bexpect(b, "w", "store");
	bexpect(b, "z", NULL);
	tu_expect_str(db, "x", "old");
	tu_expect_str(db, "y", "there");
	/* The last operation on a key wins, in both directions. */
	bput(b, "y", "back");
	bexpect(b, "y", "back");
	bdel(b, "x");
	bexpect(b, "x", NULL);
	assert_int_equal(cask_batch_put(b, "e", 1, NULL, 0), 0);
	{
		void *v = NULL;
		size_t len = 9;

		assert_int_equal(cask_batch_get(b, "e", 1, &v, &len), 0);
		assert_non_null(v);
		assert_int_equal(len, 0);
		free(v);
	}
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_same_key_twice(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	struct cask_stats st;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "pd", "old");
	tu_put_str(db, "dp", "old");
	b = new_batch(db);
	bput(b, "pd", "new");
	bdel(b, "pd"); /* put then delete: gone */
	bdel(b, "dp");
	bput(b, "dp", "new"); /* delete then put: the put */
	bput(b, "pp", "1");
	bput(b, "pp", "2"); /* put twice: the second */
	bdel(b, "nx");
	bput(b, "nx", "fresh"); /* delete of an absent key then put */
	bput(b, "gone", "1");
	bdel(b, "gone"); /* never existed: stays absent */
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	for (int round = 0; round < 2; round++) {
		tu_expect_str(db, "pd", NULL);
		tu_expect_str(db, "dp", "new");
		tu_expect_str(db, "pp", "2");
		tu_expect_str(db, "nx", "fresh");
		tu_expect_str(db, "gone", NULL);
		cask_stats(db, &st);
		assert_int_equal(st.keys, 3);
		assert_int_equal(cask_close(db), 0);
		db = tu_open(dir, &o);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_discard(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	struct cask_stats a, z;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "keep", "1");
	cask_stats(db, &a);
	b = new_batch(db);
	bput(b, "a", "1");
	bdel(b, "keep");
	cask_batch_clear(b);
	assert_int_equal(cask_batch_count(b), 0);
	bexpect(b, "a", NULL);
	bexpect(b, "keep", "1");
	/* Committing the cleared (empty) batch writes nothing. */
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_stats(db, &z);
	assert_int_equal(z.seq, a.seq);
	assert_int_equal(z.disk_bytes, a.disk_bytes);
	/* Freed with operations in it: discarded. */
	bput(b, "b", "2");
	cask_batch_free(b);
	cask_batch_free(NULL);
	tu_expect_str(db, "a", NULL);
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "keep", "1");
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", NULL);
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "keep", "1");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_invalid_op(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	static uint8_t key[CASK_MAX_KEY + 1];

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	b = new_batch(db);
	bput(b, "ok", "1");
	assert_int_equal(cask_batch_put(b, "", 0, "v", 1), CASK_EINVAL);
	assert_int_equal(cask_batch_delete(b, "", 0), CASK_EINVAL);
	assert_int_equal(cask_batch_put(b, key, sizeof(key), "v", 1),
			 CASK_EINVAL);
	assert_int_equal(cask_batch_count(b), 1);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	tu_expect_str(db, "ok", "1");
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_commit_failure_keeps_ops(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	uint64_t seq;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "c", "old");
	seq = seq_of(db);
	b = new_batch(db);
	bput(b, "a", "1");
	bput(b, "b", "2");
	bdel(b, "c");
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, false, ".cask");
	assert_int_equal(cask_batch_commit(b, 0), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(cask_batch_count(b), 3);
	tu_expect_str(db, "a", NULL);
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", "old");
	assert_int_equal(seq_of(db), seq);
	bexpect(b, "a", "1");
	/* ENOSPC leaves the store writable: the same batch commits now. */
	assert_int_equal(cask_batch_commit(b, 0), 0);
	assert_int_equal(cask_batch_count(b), 0);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "c", NULL);
	/* An I/O error fails the handle; the batch still has its ops. */
	bput(b, "d", "4");
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -EIO, false, ".cask");
	assert_int_equal(cask_batch_commit(b, 0), -EIO);
	tu_fault_remove();
	assert_int_equal(cask_batch_count(b), 1);
	assert_int_equal(cask_batch_commit(b, 0), CASK_EFAILED);
	assert_int_equal(cask_batch_count(b), 1);
	tu_expect_str(db, "d", NULL);
	tu_expect_str(db, "a", "1");
	cask_batch_free(b);
	cask_close(db);
	db = tu_open(dir, &o);
	tu_expect_str(db, "a", "1");
	tu_expect_str(db, "b", "2");
	tu_expect_str(db, "c", NULL);
	tu_expect_str(db, "d", NULL);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_larger_than_segment(void **state)
{
	char dir[TU_PATH], k[16], v[128];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	struct cask_batch *b;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o);
	tu_put_str(db, "first", "x");
	b = new_batch(db);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%03d", i);
		memset(v, 'a' + i % 26, sizeof(v) - 1);
		v[sizeof(v) - 1] = '\0';
		bput(b, k, v);
	}
	assert_int_equal(cask_batch_commit(b, CASK_COMMIT_SYNC), 0);
	tu_put_str(db, "last", "y");
	cask_batch_free(b);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(k, sizeof(k), "k%03d", i);
			memset(v, 'a' + i % 26, sizeof(v) - 1);
			v[sizeof(v) - 1] = '\0';
			tu_expect_str(db, k, v);
		}
		tu_expect_str(db, "first", "x");
		tu_expect_str(db, "last", "y");
		assert_int_equal(cask_close(db), 0);
		db = tu_open(dir, &o);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_batch_commit_sync_flag(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;
	struct cask_stats a, z;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "batch");
	db = tu_open(dir, &o); /* CASK_SYNC_NEVER */
	b = new_batch(db);
	bput(b, "a", "1");
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_stats(db, &a);
	bput(b, "b", "2");
	assert_int_equal(cask_batch_commit(b, CASK_COMMIT_SYNC), 0);
	cask_stats(db, &z);
	assert_true(z.syncs > a.syncs);
	cask_batch_free(b);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_atomic_visibility),
		cmocka_unit_test(test_batch_read_your_writes),
		cmocka_unit_test(test_batch_same_key_twice),
		cmocka_unit_test(test_batch_discard),
		cmocka_unit_test(test_batch_invalid_op),
		cmocka_unit_test(test_batch_commit_failure_keeps_ops),
		cmocka_unit_test(test_batch_larger_than_segment),
		cmocka_unit_test(test_batch_commit_sync_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
