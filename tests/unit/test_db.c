/*
 * test_db.c - the store handle and point operations (cask.h): open and
 * create, missing directory, put/get/get_alloc/get_range/delete/exists,
 * empty values, key length limits, short buffers, persistence across
 * reopen, segment rotation with small segments, values larger than a
 * segment, statistics accounting, read-only handles, cask_strerror.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#define SEG_HDR 32 /* segment header bytes (record.h SEG_HDR_SIZE) */

static void fill(uint8_t *v, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
}

static void test_db_open_creates_store(void **state)
{
	char base[TU_PATH], dir[TU_PATH], p[TU_PATH];
	struct cask_db *db;

	(void)state;
	tu_tmpdir(base, sizeof(base), "db");
	tu_path(dir, base, "store");
	struct cask_options o = tu_opts(0);
	db = tu_open(dir, &o);
	tu_path(p, dir, "LOCK");
	assert_true(tu_exists(p));
	assert_int_equal(tu_count_suffix(dir, ".cask"), 1);
	assert_int_equal(cask_close(db), 0);
	/* Opening an existing empty store again works. */
	db = tu_open(dir, &o);
	assert_int_equal(cask_exists(db, "x", 1), 0);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(cask_close(NULL), 0);
	tu_rm_rf(base);
}

static void test_db_open_missing_without_create(void **state)
{
	char base[TU_PATH], dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db = (void *)1;

	(void)state;
	tu_tmpdir(base, sizeof(base), "db");
	tu_path(dir, base, "absent");
	o.create_if_missing = false;
	assert_int_equal(cask_open(dir, &o, &db), -ENOENT);
	assert_null(db);
	assert_false(tu_exists(dir));
	/* Read-only never creates either. */
	o = tu_opts(0);
	o.read_only = true;
	db = (void *)1;
	assert_int_equal(cask_open(dir, &o, &db), -ENOENT);
	assert_null(db);
	db = (void *)1;
	assert_int_equal(cask_open("", NULL, &db), CASK_EINVAL);
	assert_null(db);
	tu_rm_rf(base);
}

static void test_db_put_get_delete_exists(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	char buf[32];
	size_t vlen = 0;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	assert_int_equal(cask_get(db, "a", 1, buf, sizeof(buf), &vlen),
			 CASK_ENOTFOUND);
	tu_put_str(db, "a", "one");
	tu_put_str(db, "b", "two");
	assert_int_equal(cask_get(db, "a", 1, buf, sizeof(buf), &vlen), 0);
	assert_int_equal(vlen, 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(cask_exists(db, "a", 1), 1);
	assert_int_equal(cask_exists(db, "c", 1), 0);
	/* Overwrite. */
	tu_put_str(db, "a", "uno!");
	tu_expect_str(db, "a", "uno!");
	/* Delete, delete again (absent: succeeds, writes nothing). */
	assert_int_equal(cask_delete(db, "a", 1), 0);
	assert_int_equal(cask_exists(db, "a", 1), 0);
	tu_expect_str(db, "a", NULL);
	struct cask_stats st1, st2;
	cask_stats(db, &st1);
	assert_int_equal(cask_delete(db, "a", 1), 0);
	assert_int_equal(cask_delete(db, "zzz", 3), 0);
	cask_stats(db, &st2);
	assert_int_equal(st1.seq, st2.seq);
	assert_int_equal(st1.disk_bytes, st2.disk_bytes);
	tu_expect_str(db, "b", "two");
	/* Keys differing only in length are different keys. */
	tu_put_str(db, "bb", "x");
	tu_expect_str(db, "b", "two");
	tu_expect_str(db, "bb", "x");
	/* Binary keys with NUL bytes. */
	assert_int_equal(cask_put(db, "\0\0", 2, "z\0", 2), 0);
	tu_expect(db, "\0\0", 2, "z\0", 2);
	tu_expect(db, "\0", 1, NULL, 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_empty_value(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	void *v;
	size_t vlen = 99, nread = 99;
	char buf[4];

	(void)state;
	db = tu_open_new(dir, "db", &o);
	assert_int_equal(cask_put(db, "e", 1, NULL, 0), 0);
	assert_int_equal(cask_exists(db, "e", 1), 1);
	assert_int_equal(cask_get_alloc(db, "e", 1, &v, &vlen), 0);
	assert_non_null(v);
	assert_int_equal(vlen, 0);
	free(v);
	vlen = 99;
	assert_int_equal(cask_get(db, "e", 1, NULL, 0, &vlen), 0);
	assert_int_equal(vlen, 0);
	vlen = 99;
	assert_int_equal(cask_get(db, "e", 1, buf, sizeof(buf), &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_int_equal(cask_get_range(db, "e", 1, 0, buf, 4, &nread), 0);
	assert_int_equal(nread, 0);
	db = tu_reopen(db, dir, &o);
	assert_int_equal(cask_exists(db, "e", 1), 1);
	tu_expect(db, "e", 1, "", 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_get_short_buffer(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	uint8_t val[100], buf[100];
	size_t vlen = 0;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	fill(val, sizeof(val), 1);
	assert_int_equal(cask_put(db, "k", 1, val, sizeof(val)), 0);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(cask_get(db, "k", 1, buf, 10, &vlen), 0);
	assert_int_equal(vlen, 100);
	assert_memory_equal(buf, val, 10);
	for (size_t i = 10; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee); /* nothing past bufsize */
	vlen = 0;
	assert_int_equal(cask_get(db, "k", 1, NULL, 0, &vlen), 0);
	assert_int_equal(vlen, 100);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_get_range_clips(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	uint8_t val[100], buf[64];
	size_t n = 99;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	fill(val, sizeof(val), 2);
	assert_int_equal(cask_put(db, "r", 1, val, sizeof(val)), 0);
	assert_int_equal(cask_get_range(db, "r", 1, 10, buf, 20, &n), 0);
	assert_int_equal(n, 20);
	assert_memory_equal(buf, val + 10, 20);
	assert_int_equal(cask_get_range(db, "r", 1, 0, buf, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cask_get_range(db, "r", 1, 90, buf, 64, &n), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, val + 90, 10);
	n = 99;
	assert_int_equal(cask_get_range(db, "r", 1, 100, buf, 64, &n), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(cask_get_range(db, "r", 1, UINT64_MAX, buf, 64, &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(cask_get_range(db, "nope", 4, 0, buf, 64, &n),
			 CASK_ENOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_key_length_limits(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	uint8_t *key = malloc(CASK_MAX_KEY + 1);
	size_t vlen;
	char buf[8];

	(void)state;
	assert_non_null(key);
	fill(key, CASK_MAX_KEY + 1, 3);
	db = tu_open_new(dir, "db", &o);
	assert_int_equal(cask_put(db, key, CASK_MAX_KEY, "max", 3), 0);
	tu_expect(db, key, CASK_MAX_KEY, "max", 3);
	assert_int_equal(cask_put(db, key, CASK_MAX_KEY + 1, "x", 1),
			 CASK_EINVAL);
	assert_int_equal(cask_put_ttl(db, key, CASK_MAX_KEY + 1, "x", 1, 10),
			 CASK_EINVAL);
	assert_int_equal(cask_delete(db, key, CASK_MAX_KEY + 1), CASK_EINVAL);
	assert_int_equal(cask_get(db, key, CASK_MAX_KEY + 1, buf, 8, &vlen),
			 CASK_EINVAL);
	assert_int_equal(cask_put(db, key, 0, "x", 1), CASK_EINVAL);
	assert_int_equal(cask_delete(db, key, 0), CASK_EINVAL);
	assert_int_equal(cask_exists(db, key, 0), CASK_EINVAL);
	assert_int_equal(cask_put(db, "v", 1, key, (size_t)CASK_MAX_VALUE + 1),
			 CASK_EINVAL);
	/* The prefix of the long key (one byte shorter) is another key. */
	tu_expect(db, key, CASK_MAX_KEY - 1, NULL, 0);
	db = tu_reopen(db, dir, &o);
	tu_expect(db, key, CASK_MAX_KEY, "max", 3);
	assert_int_equal(cask_close(db), 0);
	free(key);
	tu_rm_rf(dir);
}

static void test_db_reopen_persists(void **state)
{
	char dir[TU_PATH], k[32], v[64];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_stats st;
	uint64_t seq;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "key%04d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		tu_put_str(db, k, v);
	}
	for (int i = 0; i < 300; i += 3) {
		snprintf(k, sizeof(k), "key%04d", i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	for (int i = 1; i < 300; i += 3) {
		snprintf(k, sizeof(k), "key%04d", i);
		snprintf(v, sizeof(v), "second-%d", i);
		tu_put_str(db, k, v);
	}
	cask_stats(db, &st);
	seq = st.seq;
	db = tu_reopen(db, dir, &o);
	cask_stats(db, &st);
	assert_int_equal(st.keys, 200);
	assert_int_equal(st.seq, seq);
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "key%04d", i);
		if (i % 3 == 0) {
			tu_expect_str(db, k, NULL);
			continue;
		}
		snprintf(v, sizeof(v), i % 3 == 1 ? "second-%d" : "value-%d",
			 i);
		tu_expect_str(db, k, v);
	}
	/* New writes continue the sequence. */
	tu_put_str(db, "after", "reopen");
	cask_stats(db, &st);
	assert_true(st.seq > seq);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_rotation_many_segments(void **state)
{
	char dir[TU_PATH], k[32];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	struct cask_stats st;
	struct cask_segment_stats ss[256];
	size_t count = 0;
	uint8_t v[300];
	int active = 0;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	for (int i = 0; i < 600; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		fill(v, sizeof(v), (unsigned)i);
		assert_int_equal(cask_put(db, k, strlen(k), v, sizeof(v)), 0);
	}
	cask_stats(db, &st);
	assert_true(st.segments > 30);
	assert_int_equal(st.segments, tu_count_suffix(dir, ".cask"));
	assert_int_equal(cask_segment_stats(db, ss, 256, &count), 0);
	assert_int_equal(count, st.segments);
	for (size_t i = 0; i < count && i < 256; i++) {
		active += ss[i].active;
		assert_true(ss[i].size <= 4096);
		if (i)
			assert_true(ss[i].id > ss[i - 1].id);
	}
	assert_int_equal(active, 1);
	assert_true(ss[count - 1].active);
	db = tu_reopen(db, dir, &o);
	for (int i = 0; i < 600; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		fill(v, sizeof(v), (unsigned)i);
		tu_expect(db, k, strlen(k), v, sizeof(v));
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_value_larger_than_segment(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(8192);
	struct cask_db *db;
	size_t n = 200000, nread;
	uint8_t *v = malloc(n), buf[100];

	(void)state;
	assert_non_null(v);
	fill(v, n, 9);
	db = tu_open_new(dir, "db", &o);
	tu_put_str(db, "small", "x");
	assert_int_equal(cask_put(db, "big", 3, v, n), 0);
	tu_put_str(db, "after", "y");
	tu_expect(db, "big", 3, v, n);
	assert_int_equal(cask_get_range(db, "big", 3, n - 50, buf, 100, &nread),
			 0);
	assert_int_equal(nread, 50);
	assert_memory_equal(buf, v + n - 50, 50);
	db = tu_reopen(db, dir, &o);
	tu_expect(db, "big", 3, v, n);
	tu_expect_str(db, "small", "x");
	tu_expect_str(db, "after", "y");
	assert_int_equal(cask_close(db), 0);
	free(v);
	tu_rm_rf(dir);
}

static void check_accounting(struct cask_db *db)
{
	struct cask_stats st;

	cask_stats(db, &st);
	assert_int_equal(st.live_bytes + st.dead_bytes + SEG_HDR * st.segments,
			 st.disk_bytes);
}

static void test_db_stats_move(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_stats a, b, c, d;
	/* header 20 + key 3 + value 10 */
	const uint64_t rec = 20 + 3 + 10, tomb = 20 + 3;

	(void)state;
	db = tu_open_new(dir, "db", &o);
	cask_stats(db, &a);
	assert_int_equal(a.keys, 0);
	assert_int_equal(a.live_bytes, 0);
	assert_int_equal(a.dead_bytes, 0);
	assert_int_equal(a.segments, 1);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		assert_int_equal(cask_put(db, k, 3, "0123456789", 10), 0);
	}
	cask_stats(db, &b);
	assert_int_equal(b.keys, 10);
	assert_int_equal(b.live_bytes, 10 * rec);
	assert_int_equal(b.dead_bytes, 0);
	assert_int_equal(b.seq, 10);
	check_accounting(db);
	for (int i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		assert_int_equal(cask_put(db, k, 3, "abcdefghij", 10), 0);
	}
	cask_stats(db, &c);
	assert_int_equal(c.keys, 10);
	assert_int_equal(c.live_bytes, 10 * rec);
	assert_int_equal(c.dead_bytes, 5 * rec);
	check_accounting(db);
	for (int i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		assert_int_equal(cask_delete(db, k, 3), 0);
	}
	cask_stats(db, &d);
	assert_int_equal(d.keys, 5);
	assert_int_equal(d.live_bytes, 5 * rec);
	assert_int_equal(d.dead_bytes, 10 * rec + 5 * tomb);
	assert_true(d.keydir_bytes > 0);
	check_accounting(db);
	assert_int_equal(cask_close(db), 0);
	/* Recovery finds the same figures. */
	db = tu_open(dir, &o);
	cask_stats(db, &a);
	assert_int_equal(a.keys, d.keys);
	assert_int_equal(a.live_bytes, d.live_bytes);
	assert_int_equal(a.dead_bytes, d.dead_bytes);
	assert_int_equal(a.seq, d.seq);
	check_accounting(db);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_db_read_only(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0), ro = tu_opts(0);
	struct cask_db *w, *r;
	struct cask_batch *b = (void *)1;
	struct cask_merge_options mo = tu_merge_all();

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "db");
	w = tu_open(dir, &o);
	tu_put_str(w, "a", "1");
	assert_int_equal(cask_sync(w), 0);
	/* No lock is taken: opens alongside the writer. */
	ro.read_only = true;
	r = tu_open(dir, &ro);
	tu_expect_str(r, "a", "1");
	assert_int_equal(cask_put(r, "b", 1, "2", 1), CASK_EREADONLY);
	assert_int_equal(cask_put_ttl(r, "b", 1, "2", 1, 5), CASK_EREADONLY);
	assert_int_equal(cask_delete(r, "a", 1), CASK_EREADONLY);
	assert_int_equal(cask_batch_new(r, &b), CASK_EREADONLY);
	assert_null(b);
	assert_int_equal(cask_merge(r, &mo), CASK_EREADONLY);
	assert_int_equal(cask_backup_begin(r), CASK_EREADONLY);
	assert_int_equal(cask_sync(r), 0);
	/* The writer goes on; the reader sees the store as it was. */
	tu_put_str(w, "c", "3");
	tu_expect_str(w, "c", "3");
	tu_expect_str(r, "a", "1");
	assert_int_equal(cask_close(r), 0);
	assert_int_equal(cask_close(w), 0);
	/* A read-only handle changes nothing on disk. */
	r = tu_open(dir, &ro);
	tu_expect_str(r, "c", "3");
	assert_int_equal(cask_close(r), 0);
	tu_rm_rf(dir);
}

static void test_db_strerror_every_code(void **state)
{
	static const int codes[] = {
		CASK_ENOTFOUND, CASK_ECORRUPT, CASK_ELOCKED,
		CASK_EREADONLY, CASK_EFAILED,  CASK_EVERSION,
		CASK_EINVAL,	CASK_EBUSY,    CASK_ENOTSTORE,
	};
	const char *seen[sizeof(codes) / sizeof(codes[0])];

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = cask_strerror(codes[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 3);
		assert_string_not_equal(s, "unknown error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, seen[j]);
		seen[i] = s;
		/* Library codes lie outside the errno range. */
		assert_true(codes[i] < -4096);
	}
	assert_string_equal(cask_strerror(-ENOSPC), strerror(ENOSPC));
	assert_string_equal(cask_strerror(-EIO), strerror(EIO));
	assert_string_equal(cask_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(cask_strerror(-ENOENT), strerror(ENOENT));
	assert_non_null(cask_strerror(0));
	assert_non_null(cask_strerror(-99999));
	assert_non_null(cask_strerror(12345));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_open_creates_store),
		cmocka_unit_test(test_db_open_missing_without_create),
		cmocka_unit_test(test_db_put_get_delete_exists),
		cmocka_unit_test(test_db_empty_value),
		cmocka_unit_test(test_db_get_short_buffer),
		cmocka_unit_test(test_db_get_range_clips),
		cmocka_unit_test(test_db_key_length_limits),
		cmocka_unit_test(test_db_reopen_persists),
		cmocka_unit_test(test_db_rotation_many_segments),
		cmocka_unit_test(test_db_value_larger_than_segment),
		cmocka_unit_test(test_db_stats_move),
		cmocka_unit_test(test_db_read_only),
		cmocka_unit_test(test_db_strerror_every_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
