/*
 * test_automerge.c - merges that start by themselves (kv/src/automerge.c):
 * garbage left in sealed segments by deletes that rotate nothing (the
 * `truncate -s 1000` of a large file) is reclaimed by the check timer with
 * no further write; a store whose garbage is all in its active segment
 * seals it once idle and reclaims it; the amount floor (merge_min_dead_bytes)
 * holds back a merge on a disk with room, the free-space share
 * (merge_free_ratio) lets it through; merge_check_ms 0 is the old
 * behaviour (no timer); tombstones a merge must keep are not merged again
 * and again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../test_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VLEN  4096
#define NKEYS 512 /* 2 MiB of values */

/* Short ticks for the test; caskfs's default is checked by
 * tests/fuse/test_space_back.sh. */
static struct cask_options auto_opts(uint64_t segment_size)
{
	struct cask_options o = tu_opts(segment_size);

	o.merge_dead_ratio = 0.5;
	o.merge_min_dead_bytes = 1u << 20;
	o.merge_free_ratio = 0;
	o.merge_check_ms = 50;
	return o;
}

/* A large file: NKEYS values, then all but one small one deleted, which
 * leaves nearly all of it garbage and (in small segments) rotates nothing:
 * the tombstones fit in the active segment. */
static void write_then_truncate(struct cask_db *db)
{
	static char v[VLEN];
	char k[16];

	memset(v, 'x', sizeof(v));
	for (int i = 0; i < NKEYS; i++) {
		snprintf(k, sizeof(k), "f%04d", i);
		assert_int_equal(cask_put(db, k, strlen(k), v, sizeof(v)), 0);
	}
	for (int i = 1; i < NKEYS; i++) {
		snprintf(k, sizeof(k), "f%04d", i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	assert_int_equal(cask_put(db, "f0000", 5, "1000 bytes", 10), 0);
}

static struct cask_stats stats(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	return st;
}

/* Wait up to 30 s (a loaded machine) for disk_bytes to fall below
 * @p bytes with no merge running. @return whether it did. */
static bool disk_falls_below(struct cask_db *db, uint64_t bytes)
{
	for (int i = 0; i < 3000; i++) {
		struct cask_stats st = stats(db);

		if (st.disk_bytes < bytes && !st.merge_running)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static void test_automerge_idle_sealed_garbage_reclaimed(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = auto_opts(64 << 10);
	struct cask_db *db = tu_open_new(dir, "sealed", &o);
	uint64_t before;

	(void)state;
	write_then_truncate(db);
	before = stats(db).disk_bytes;
	assert_true(before > 2u << 20);
	/* No write from here on: only the timer can start the merge. */
	assert_true(disk_falls_below(db, 256 << 10));
	assert_true(stats(db).merges >= 1);
	tu_expect_str(db, "f0000", "1000 bytes");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "f0000", "1000 bytes");
	tu_expect(db, "f0001", 5, NULL, 0);
	cask_close(db);
	tu_rm_rf(dir);
}

static void test_automerge_idle_active_sealed(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = auto_opts(0); /* 64 MiB: one segment */
	struct cask_db *db = tu_open_new(dir, "active", &o);

	(void)state;
	write_then_truncate(db);
	assert_int_equal(stats(db).segments, 1);
	assert_true(disk_falls_below(db, 256 << 10));
	assert_true(stats(db).merges >= 1);
	tu_expect_str(db, "f0000", "1000 bytes");
	cask_close(db);
	tu_rm_rf(dir);
}

/* A new store with @p o: the truncate, then ticks pass and nothing
 * merges. */
static void expect_no_merge(const struct cask_options *o, const char *tag)
{
	char dir[TU_PATH];
	struct cask_db *db = tu_open_new(dir, tag, o);

	write_then_truncate(db);
	usleep(500 * 1000); /* ten ticks */
	assert_int_equal(stats(db).merges, 0);
	assert_true(stats(db).disk_bytes > 2u << 20);
	cask_close(db);
	tu_rm_rf(dir);
}

static void test_automerge_amount_floor(void **state)
{
	struct cask_options o = auto_opts(64 << 10);

	(void)state;
	o.merge_min_dead_bytes = 64u << 20; /* 2 MiB is not worth it */
	expect_no_merge(&o, "floor");
}

static void test_automerge_free_share(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = auto_opts(64 << 10);
	struct cask_db *db;

	(void)state;
	o.merge_min_dead_bytes = UINT64_MAX;
	o.merge_free_ratio = 1; /* 2 MiB is less than the disk has free */
	expect_no_merge(&o, "nofree");
	/* As if the disk had a few bytes free: 2 MiB are a large share. */
	o.merge_free_ratio = 1e-12;
	db = tu_open_new(dir, "free", &o);
	write_then_truncate(db);
	assert_true(disk_falls_below(db, 256 << 10));
	cask_close(db);
	tu_rm_rf(dir);
}

static void test_automerge_check_off(void **state)
{
	struct cask_options o = auto_opts(64 << 10);

	(void)state;
	o.merge_check_ms = 0;
	expect_no_merge(&o, "off");
}

/*
 * Garbage that is tombstones a merge must keep (an older segment, all
 * live, may hold a value they bury): the first merge keeps
 * them, and an idle store then merges no more. It merged them again at every
 * check, for ever, reclaiming nothing.
 */
static void test_automerge_kept_tombstones_settle(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = auto_opts(1 << 20), off = o;
	static char v[VLEN];
	struct cask_db *db;
	char k[16];

	(void)state;
	off.merge_dead_ratio = 0; /* written without automatic merges */
	db = tu_open_new(dir, "tombs", &off);
	memset(v, 'z', sizeof(v));
	for (int i = 0; i < NKEYS; i++) { /* live, in segments of their own */
		snprintf(k, sizeof(k), "z%04d", i);
		assert_int_equal(cask_put(db, k, strlen(k), v, sizeof(v)), 0);
	}
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "t%06d", i);
		assert_int_equal(cask_put(db, k, strlen(k), "1", 1), 0);
	}
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "t%06d", i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	/* The sealed segments merge at open, the active one once sealed
	 * idle: the puts go, their tombstones stay, and that is all. */
	db = tu_reopen(db, dir, &o);
	assert_true(disk_falls_below(db, 6u << 20));
	usleep(2000 * 1000); /* 40 checks */
	assert_true(stats(db).merges >= 1 && stats(db).merges <= 3);
	tu_expect(db, "t000000", 7, NULL, 0);
	assert_int_equal(stats(db).keys, NKEYS);
	cask_close(db);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_automerge_idle_sealed_garbage_reclaimed),
		cmocka_unit_test(test_automerge_idle_active_sealed),
		cmocka_unit_test(test_automerge_amount_floor),
		cmocka_unit_test(test_automerge_free_share),
		cmocka_unit_test(test_automerge_check_off),
		cmocka_unit_test(test_automerge_kept_tombstones_settle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
