/*
 * test_expiry.c - keys with a time to live (cask_put_ttl,
 * cask_batch_put_ttl): present before the expiry and absent after for get,
 * exists and get_range; iterators skip expired keys; overwrites set or
 * clear the expiry; expiry survives reopen; merge drops expired keys, and
 * an older value of an expired key (in a segment the merge did not touch)
 * does not come back after merge and reopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <time.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts))
		;
}

static void put_ttl(struct cask_db *db, const char *k, const char *v,
		    uint64_t ttl)
{
	assert_int_equal(cask_put_ttl(db, k, strlen(k), v, strlen(v), ttl), 0);
}

static void test_expiry_get_before_after(void **state)
{
	char dir[TU_PATH], buf[8];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	size_t n;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	put_ttl(db, "short", "s", 150);
	put_ttl(db, "never", "n", 0); /* 0: no expiry */
	put_ttl(db, "long", "l", 3600 * 1000);
	tu_expect_str(db, "short", "s");
	assert_int_equal(cask_exists(db, "short", 5), 1);
	sleep_ms(200);
	tu_expect_str(db, "short", NULL);
	assert_int_equal(cask_exists(db, "short", 5), 0);
	assert_int_equal(cask_get(db, "short", 5, buf, sizeof(buf), &n),
			 CASK_ENOTFOUND);
	assert_int_equal(cask_get_range(db, "short", 5, 0, buf, 8, &n),
			 CASK_ENOTFOUND);
	tu_expect_str(db, "never", "n");
	tu_expect_str(db, "long", "l");
	/* Deleting an expired key is fine. */
	assert_int_equal(cask_delete(db, "short", 5), 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_expiry_overwrite(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	put_ttl(db, "a", "1", 1);
	tu_put_str(db, "a", "2"); /* a plain put clears the expiry */
	tu_put_str(db, "b", "1");
	put_ttl(db, "b", "2", 1); /* and a put with a TTL sets one */
	put_ttl(db, "c", "1", 1);
	sleep_ms(5);
	tu_expect_str(db, "a", "2");
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", NULL);
	/* An expired key can be written again. */
	tu_put_str(db, "c", "again");
	tu_expect_str(db, "c", "again");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "a", "2");
	tu_expect_str(db, "b", NULL);
	tu_expect_str(db, "c", "again");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void expect_iter(struct cask_db *db, bool reverse, const char *want)
{
	struct cask_iter_options io = {.reverse = reverse};
	struct cask_iter *it;
	char got[64] = "";
	size_t len;

	assert_int_equal(cask_iter_new(db, &io, &it), 0);
	while (cask_iter_valid(it)) {
		const char *k = cask_iter_key(it, &len);

		strncat(got, k, len);
		cask_iter_next(it);
	}
	assert_string_equal(got, want);
	cask_iter_free(it);
}

static void test_expiry_iterators_skip(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_iter *it;
	size_t len;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	tu_put_str(db, "a", "1");
	put_ttl(db, "b", "2", 1);
	put_ttl(db, "c", "3", 1);
	tu_put_str(db, "d", "4");
	put_ttl(db, "e", "5", 1);
	put_ttl(db, "f", "6", 3600 * 1000);
	sleep_ms(5);
	expect_iter(db, false, "adf");
	expect_iter(db, true, "fda");
	assert_int_equal(cask_iter_new(db, NULL, &it), 0);
	assert_int_equal(cask_iter_seek(it, "b", 1), 0);
	assert_memory_equal(cask_iter_key(it, &len), "d", 1);
	assert_int_equal(cask_iter_seek(it, "e", 1), 0);
	assert_memory_equal(cask_iter_key(it, &len), "f", 1);
	cask_iter_free(it);
	/* Everything expired: nothing to visit. */
	assert_int_equal(cask_delete(db, "a", 1), 0);
	assert_int_equal(cask_delete(db, "d", 1), 0);
	assert_int_equal(cask_delete(db, "f", 1), 0);
	expect_iter(db, false, "");
	expect_iter(db, true, "");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_expiry_batch_and_reopen(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_batch *b;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put_ttl(b, "bt", 2, "x", 1, 100), 0);
	assert_int_equal(cask_batch_put_ttl(b, "bl", 2, "y", 1, 3600000), 0);
	assert_int_equal(cask_batch_put(b, "bp", 2, "z", 1), 0);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	put_ttl(db, "pt", "w", 100);
	tu_expect_str(db, "bt", "x");
	tu_expect_str(db, "pt", "w");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "bl", "y");
	tu_expect_str(db, "bp", "z");
	sleep_ms(150);
	tu_expect_str(db, "bt", NULL);
	tu_expect_str(db, "pt", NULL);
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "bt", NULL);
	tu_expect_str(db, "pt", NULL);
	tu_expect_str(db, "bl", "y");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_expiry_merge_drops(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	struct cask_stats st;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	/* Every segment gets garbage, so merge(all) takes every one. */
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "t%03d", i);
		put_ttl(db, k, "expiring-value", 1);
		snprintf(k, sizeof(k), "p%03d", i);
		tu_put_str(db, k, "first");
		tu_put_str(db, k, "permanent-value");
	}
	tu_put_str(db, "p000", "overwritten");
	sleep_ms(5);
	cask_stats(db, &st);
	assert_int_equal(st.keys, 200); /* expired keys count until merged */
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &st);
	assert_int_equal(st.merges, 1);
	assert_int_equal(st.keys, 100);
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "t%03d", i);
		tu_expect_str(db, k, NULL);
	}
	db = tu_reopen(db, dir, &o);
	cask_stats(db, &st);
	assert_int_equal(st.keys, 100);
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "t%03d", i);
		tu_expect_str(db, k, NULL);
		snprintf(k, sizeof(k), "p%03d", i);
		tu_expect_str(db, k, i ? "permanent-value" : "overwritten");
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/*
 * The key's older, non-expiring value lies in a segment with little garbage
 * that a ratio-driven merge leaves alone; its newer, expired value lies in a
 * segment full of garbage that the merge rewrites. The old value must stay
 * buried, after the merge and after reopen.
 */
static void test_expiry_merge_old_value_stays_dead(void **state)
{
	char dir[TU_PATH], k[24], v[100];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = {.wait = true};
	struct cask_segment_stats ss[64];
	struct cask_db *db;
	struct cask_stats st;
	size_t count;
	uint32_t first_seg;

	(void)state;
	o.merge_dead_ratio = 0.5;
	o.merge_min_dead_bytes = 1ull << 40; /* no merge by itself */
	db = tu_open_new(dir, "exp", &o);
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	/* Segment 1: the old value and live filler (little garbage). */
	tu_put_str(db, "key", "old-forever");
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "live%02d", i);
		tu_put_str(db, k, v);
	}
	cask_segment_stats(db, ss, 64, &count);
	first_seg = ss[0].id;
	assert_true(count >= 2);
	/* Later segments: the expiring value and churn (lots of garbage). */
	put_ttl(db, "key", "new-expiring", 1);
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 30; i++) {
			snprintf(k, sizeof(k), "churn%02d", i);
			tu_put_str(db, k, v);
		}
	for (int i = 0; i < 30; i++) {
		snprintf(k, sizeof(k), "churn%02d", i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	tu_put_str(db, "tail", "t"); /* keep the expiring one sealed */
	/* Rotate once more so the garbage sits in sealed segments. */
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "fill%02d", i);
		tu_put_str(db, k, v);
	}
	sleep_ms(5);
	tu_expect_str(db, "key", NULL);
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &st);
	assert_int_equal(st.merges, 1);
	/* The premise: the old value's segment was not merged. */
	cask_segment_stats(db, ss, 64, &count);
	assert_int_equal(ss[0].id, first_seg);
	tu_expect_str(db, "key", NULL);
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "key", NULL);
	tu_expect_str(db, "live00", v);
	tu_expect_str(db, "churn00", NULL);
	/* And a second merge + reopen still keeps it dead. */
	assert_int_equal(cask_merge(db, &mo), 0);
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "key", NULL);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/*
 * A store written only with TTLs and never overwritten has no dead bytes;
 * its expired records must still count as garbage (segment_garbage), or
 * even cask_merge(all) would never drop them and the disk use would grow
 * without bound, although cask.h says of cask_put_ttl that "merge drops it".
 */
static void test_expiry_merge_drops_ttl_only_segments(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	struct cask_stats before, after;

	(void)state;
	db = tu_open_new(dir, "exp", &o);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "t%03d", i);
		put_ttl(db, k, "expiring-value", 1);
	}
	sleep_ms(5);
	cask_stats(db, &before);
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &after);
	assert_int_equal(after.keys, 0);
	assert_true(after.disk_bytes < before.disk_bytes);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_get_before_after),
		cmocka_unit_test(test_expiry_overwrite),
		cmocka_unit_test(test_expiry_iterators_skip),
		cmocka_unit_test(test_expiry_batch_and_reopen),
		cmocka_unit_test(test_expiry_merge_drops),
		cmocka_unit_test(test_expiry_merge_old_value_stays_dead),
		cmocka_unit_test(test_expiry_merge_drops_ttl_only_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
