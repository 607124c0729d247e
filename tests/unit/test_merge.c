/*
 * test_merge.c - merge (kv/src/merge.c): space is reclaimed and counted,
 * hint files appear next to the outputs, values stay right across merge and
 * reopen, deleted keys stay deleted when their tombstone is merged but an
 * older value lives on in a segment the merge left alone, no overwritten
 * value comes back, no merge runs inside a backup window (its copy sees no
 * file appear and vanish)
 * (and a copy made inside it opens), progress reports done <= total, a
 * second merge while one runs is CASK_EBUSY, merge outputs hold their
 * records in key order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "record.h"

#include <semaphore.h>
#include <time.h>

static void vname(char *v, size_t n, int key, int version)
{
	snprintf(v, n, "value-of-%04d-version-%d-padding-padding-padding", key,
		 version);
}

/* nkeys keys, each written @versions times (the last is live). */
static void write_versions(struct cask_db *db, int nkeys, int versions)
{
	char k[16], v[80];

	for (int r = 0; r < versions; r++)
		for (int i = 0; i < nkeys; i++) {
			snprintf(k, sizeof(k), "k%04d", i);
			vname(v, sizeof(v), i, r);
			tu_put_str(db, k, v);
		}
}

static void check_versions(struct cask_db *db, int nkeys, int version)
{
	char k[16], v[80];

	for (int i = 0; i < nkeys; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		vname(v, sizeof(v), i, version);
		tu_expect_str(db, k, v);
	}
}

static void test_merge_reclaims_space(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_segment_stats ss[256];
	struct cask_stats a, z;
	struct cask_db *db;
	size_t count;
	int hinted = 0;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	write_versions(db, 200, 4);
	cask_stats(db, &a);
	assert_true(a.dead_bytes > a.live_bytes);
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &z);
	assert_int_equal(z.merges, 1);
	assert_true(z.merge_reclaimed > 0);
	assert_false(z.merge_running);
	assert_true(z.disk_bytes < a.disk_bytes / 2);
	assert_true(z.dead_bytes < a.dead_bytes);
	assert_int_equal(z.keys, 200);
	assert_int_equal(z.live_bytes, a.live_bytes);
	assert_int_equal(z.segments, tu_count_suffix(dir, ".cask"));
	cask_segment_stats(db, ss, 256, &count);
	for (size_t i = 0; i < count; i++)
		hinted += ss[i].has_hint;
	assert_true(hinted >= 1);
	assert_int_equal(tu_count_suffix(dir, ".hint"), hinted);
	assert_int_equal(tu_count_containing(dir, ".tmp"), 0);
	check_versions(db, 200, 3);
	/* Writes go on after the merge. */
	write_versions(db, 200, 5);
	check_versions(db, 200, 4);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	check_versions(db, 200, 4);
	cask_stats(db, &z);
	assert_int_equal(z.keys, 200);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_merge_nothing_to_do(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_stats st;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	assert_int_equal(cask_merge(db, &mo), 0);
	write_versions(db, 100, 1); /* no garbage */
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_int_equal(cask_merge(db, NULL), 0);
	cask_stats(db, &st);
	assert_int_equal(st.merges, 0);
	check_versions(db, 100, 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Fill up the active segment with live filler so what came before is
 * sealed. */
static void seal(struct cask_db *db, const char *tag)
{
	char k[32];

	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "%s-%02d", tag, i);
		tu_put_str(db, k,
			   "filler-filler-filler-filler-filler-filler-"
			   "filler-filler-filler-filler");
	}
}

static void test_merge_deleted_stay_deleted(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options ratio = {.wait = true};
	struct cask_merge_options all = tu_merge_all();
	struct cask_segment_stats ss[64];
	struct cask_db *db;
	size_t count;
	uint32_t first;

	(void)state;
	o.merge_dead_ratio = 0.5;
	o.merge_min_dead_bytes = 1ull << 40;
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	/* Old values in a segment of mostly live data. */
	tu_put_str(db, "victim", "old-value");
	tu_put_str(db, "victim2", "old-value");
	seal(db, "live");
	cask_segment_stats(db, ss, 64, &count);
	first = ss[0].id;
	/* Tombstones in a segment of garbage. */
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 20; i++) {
			snprintf(k, sizeof(k), "junk%02d", i);
			tu_put_str(db, k, "junk-junk-junk-junk-junk-junk-junk");
		}
	assert_int_equal(cask_delete(db, "victim", 6), 0);
	tu_put_str(db, "victim2", "mid-value");
	assert_int_equal(cask_delete(db, "victim2", 7), 0);
	seal(db, "more");
	assert_int_equal(cask_merge(db, &ratio), 0);
	cask_segment_stats(db, ss, 64, &count);
	assert_int_equal(ss[0].id, first); /* the old values' segment stayed */
	tu_expect_str(db, "victim", NULL);
	tu_expect_str(db, "victim2", NULL);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "victim", NULL);
	tu_expect_str(db, "victim2", NULL);
	tu_expect_str(db, "live-00",
		      "filler-filler-filler-filler-filler-"
		      "filler-filler-filler-filler-filler");
	/* Merge again (the merged output is merged too), then everything. */
	assert_int_equal(cask_merge(db, &ratio), 0);
	assert_int_equal(cask_merge(db, &all), 0);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "victim", NULL);
	tu_expect_str(db, "victim2", NULL);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_merge_no_overwritten_value_returns(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options ratio = {.wait = true};
	struct cask_merge_options all = tu_merge_all();
	struct cask_db *db;

	(void)state;
	o.merge_dead_ratio = 0.3;
	o.merge_min_dead_bytes = 1ull << 40;
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	for (int round = 0; round < 6; round++) {
		write_versions(db, 60 + round * 10, round + 1);
		assert_int_equal(cask_merge(db, round & 1 ? &all : &ratio), 0);
		check_versions(db, 60 + round * 10, round);
		assert_int_equal(cask_close(db), 0);
		db = tu_open(dir, &o);
		check_versions(db, 60 + round * 10, round);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Names of the .cask files of @dir, as ids, into @ids. */
static size_t seg_ids(const char *dir, uint32_t *ids, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) && n < max) {
		unsigned id;
		char x[8];

		if (strlen(e->d_name) == 15 &&
		    sscanf(e->d_name, "%10u.%4s", &id, x) == 2 &&
		    !strcmp(x, "cask"))
			ids[n++] = id;
	}
	closedir(d);
	return n;
}

static void test_merge_backup_window(void **state)
{
	char dir[TU_PATH], copy[TU_PATH], p[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db, *c;
	uint32_t before[256];
	size_t n;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "merge");
	tu_tmpdir(copy, sizeof(copy), "merge-copy");
	tu_rm_rf(copy);
	db = tu_open(dir, &o);
	write_versions(db, 100, 3);
	assert_int_equal(cask_sync(db), 0);
	n = seg_ids(dir, before, 256);
	assert_true(n > 3);
	assert_int_equal(cask_backup_begin(db), 0);
	assert_int_equal(cask_backup_begin(db), 0); /* nested */
	/* No merge inside a window: no file may appear and vanish, or go. */
	assert_int_equal(cask_merge(db, &mo), CASK_EBUSY);
	for (size_t i = 0; i < n; i++) {
		tu_seg_path(p, dir, before[i], "cask");
		assert_true(tu_exists(p));
	}
	/* A copy made in the window opens cleanly with the latest data. */
	tu_copy_dir(dir, copy);
	{
		char lock[TU_PATH];

		tu_path(lock, copy, "LOCK");
		unlink(lock);
	}
	c = tu_open(copy, &o);
	check_versions(c, 100, 2);
	assert_int_equal(cask_close(c), 0);
	check_versions(db, 100, 2);
	assert_int_equal(cask_backup_end(db), 0);
	assert_int_equal(cask_merge(db, &mo), CASK_EBUSY); /* one still open */
	assert_int_equal(cask_backup_end(db), 0);
	assert_int_equal(cask_backup_end(db), CASK_EINVAL); /* none open */
	/* Closed: merges run again and the merged inputs go. */
	assert_int_equal(cask_merge(db, &mo), 0);
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		tu_seg_path(p, dir, before[i], "cask");
		left += tu_exists(p);
	}
	assert_true(left < n);
	check_versions(db, 100, 2);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	check_versions(db, 100, 2);
	assert_int_equal(cask_close(db), 0);
	c = tu_open(copy, &o);
	check_versions(c, 100, 2);
	assert_int_equal(cask_close(c), 0);
	tu_rm_rf(dir);
	tu_rm_rf(copy);
}

struct progress {
	sem_t started, release;
	bool block;
	int calls;
	uint64_t last_done, total;
	bool bad;
};

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;

	if (done > total || done < p->last_done ||
	    (p->total && total != p->total))
		p->bad = true;
	p->last_done = done;
	p->total = total;
	if (p->calls++ == 0 && p->block) {
		sem_post(&p->started);
		sem_wait(&p->release);
	}
}

static void test_merge_progress_and_busy(void **state)
{
	char dir[TU_PATH], k[16];
	static char v[1000];
	struct cask_options o = tu_opts(1 << 20);
	struct progress pr = {.block = true};
	struct cask_merge_options mo = {
		.all = true, .progress = on_progress, .progress_arg = &pr};
	struct cask_merge_options again = tu_merge_all();
	struct cask_stats st;
	struct cask_db *db;

	(void)state;
	sem_init(&pr.started, 0, 0);
	sem_init(&pr.release, 0, 0);
	memset(v, 'p', sizeof(v));
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	/* About 3 MiB, half of it garbage: progress fires on each MiB. */
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 1500; i++) {
			snprintf(k, sizeof(k), "p%04d", i);
			assert_int_equal(cask_put(db, k, 5, v, sizeof(v)), 0);
		}
	assert_int_equal(cask_merge(db, &mo), 0); /* background */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		if (sem_timedwait(&pr.started, &ts))
			fail_msg("the progress callback was never called");
	}
	cask_stats(db, &st);
	assert_true(st.merge_running);
	assert_true(st.merge_done <= st.merge_total);
	assert_true(st.merge_total > 0);
	assert_int_equal(cask_merge(db, &again), CASK_EBUSY);
	assert_int_equal(cask_merge(db, NULL), CASK_EBUSY);
	/* Reads and writes go on during the merge. */
	assert_int_equal(cask_put(db, "during", 6, "m", 1), 0);
	tu_expect(db, "p0001", 5, v, sizeof(v));
	sem_post(&pr.release);
	do {
		cask_stats(db, &st);
		usleep(1000);
	} while (st.merge_running);
	assert_int_equal(st.merges, 1);
	/* Progress is the running merge's: nothing stale after it. */
	assert_int_equal(st.merge_done, 0);
	assert_int_equal(st.merge_total, 0);
	assert_true(pr.calls >= 2);
	assert_false(pr.bad);
	assert_true(pr.last_done <= pr.total);
	tu_expect_str(db, "during", "m");
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "during", "m");
	for (int i = 0; i < 1500; i++) {
		snprintf(k, sizeof(k), "p%04d", i);
		tu_expect(db, k, 5, v, sizeof(v));
	}
	assert_int_equal(cask_close(db), 0);
	sem_destroy(&pr.started);
	sem_destroy(&pr.release);
	tu_rm_rf(dir);
}

/* Issue 13: 14 keys kept 6.3 MB of keydir after the rest were deleted;
 * a merge gives that memory back. */
static void test_merge_shrinks_keydir(void **state)
{
	struct cask_options o = tu_opts(1 << 20);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_stats st;
	char dir[TU_PATH], k[32];
	struct cask_db *db;

	(void)state;
	db = tu_open_new(dir, "shrink", &o);
	for (int i = 0; i < 60000; i++) {
		snprintf(k, sizeof(k), "/big/chunk%06d", i);
		assert_int_equal(cask_put(db, k, strlen(k), "x", 1), 0);
	}
	for (int i = 0; i < 60000; i++) {
		snprintf(k, sizeof(k), "/big/chunk%06d", i);
		if (i % 5000)
			assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	cask_stats(db, &st);
	assert_int_equal(st.keys, 12);
	assert_true(st.keydir_bytes > (1u << 20));
	assert_true(st.keydir_unused_bytes > st.keydir_bytes / 2);
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &st);
	assert_true(st.keydir_bytes < 64 * 1024);
	assert_int_equal(st.keys, 12);
	tu_expect_str(db, "/big/chunk055000", "x");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_merge_close_during_merge(void **state)
{
	char dir[TU_PATH], k[16];
	static char v[1000];
	struct cask_options o = tu_opts(1 << 20);
	struct cask_merge_options mo = {.all = true};
	struct cask_db *db;

	(void)state;
	memset(v, 'c', sizeof(v));
	tu_tmpdir(dir, sizeof(dir), "merge");
	db = tu_open(dir, &o);
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 1500; i++) {
			snprintf(k, sizeof(k), "c%04d", i);
			assert_int_equal(cask_put(db, k, 5, v, sizeof(v)), 0);
		}
	assert_int_equal(cask_merge(db, &mo), 0);
	/* Close at once: the merge is stopped or finished, never torn. */
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_count_containing(dir, ".tmp"), 0);
	db = tu_open(dir, &o);
	for (int i = 0; i < 1500; i++) {
		snprintf(k, sizeof(k), "c%04d", i);
		tu_expect(db, k, 5, v, sizeof(v));
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Check that the records of segment file @p path are in key order after
 * @p prev (klen *plen), and leave its last key there. */
static void check_key_order(const char *path, uint8_t *prev, size_t *plen)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 16];
	size_t len, off = SEG_HDR_SIZE;

	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (off < len) {
		struct rec_header h;
		const uint8_t *key;
		size_t n;

		assert_int_equal(rec_decode_header(buf + off, len - off, &h),
				 0);
		key = buf + off + rec_header_size(h.flags);
		n = h.klen < *plen ? h.klen : *plen;
		assert_true(memcmp(prev, key, n) < 0 ||
			    (memcmp(prev, key, n) == 0 && *plen < h.klen));
		memcpy(prev, key, h.klen);
		*plen = h.klen;
		off += rec_size(&h);
	}
}

static void test_merge_writes_keys_in_order(void **state)
{
	char dir[TU_PATH], path[TU_PATH], k[16], v[80];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_segment_stats ss[256];
	uint8_t prev[16] = {0};
	size_t count, plen = 0;
	uint64_t seed = 7;
	struct cask_db *db;
	int outputs = 0;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "merge-order");
	db = tu_open(dir, &o);
	/* Keys in random order, twice, so that merge has work. */
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 300; i++) {
			snprintf(k, sizeof(k), "k%04d",
				 (int)(tu_rand(&seed) % 300));
			vname(v, sizeof(v), i, r);
			tu_put_str(db, k, v);
		}
	assert_int_equal(cask_merge(db, &mo), 0);
	/* Outputs are the hinted segments; in id order they hold one run. */
	cask_segment_stats(db, ss, 256, &count);
	for (size_t i = 0; i < count; i++) {
		if (!ss[i].has_hint)
			continue;
		tu_seg_path(path, dir, ss[i].id, "cask");
		check_key_order(path, prev, &plen);
		outputs++;
	}
	assert_true(outputs > 1);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_reclaims_space),
		cmocka_unit_test(test_merge_nothing_to_do),
		cmocka_unit_test(test_merge_deleted_stay_deleted),
		cmocka_unit_test(test_merge_no_overwritten_value_returns),
		cmocka_unit_test(test_merge_backup_window),
		cmocka_unit_test(test_merge_progress_and_busy),
		cmocka_unit_test(test_merge_shrinks_keydir),
		cmocka_unit_test(test_merge_close_during_merge),
		cmocka_unit_test(test_merge_writes_keys_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
