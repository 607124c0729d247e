/*
 * test_corrupt.c - damage on disk (kv/src/recover.c): a flipped byte in a
 * sealed segment (a record's CRC, type, lengths, sequence number, key or
 * value, first or middle record) costs that record only: read-write and
 * read-only opens succeed and every other record reads back (the
 * damaged key reads as damaged or, when the flip hit its header so that
 * the key cannot be read, as absent). A damaged segment header is a damaged
 * range too; a file with neither a header nor a record is not ours: the
 * open is refused. After a power loss (no CLOSED mark, another boot, no
 * fdatasync made), a flipped byte in the middle of
 * the active segment with valid records after it may be a torn write: the
 * records before it are kept and everything from it on is copied to
 * NNNNNNNNNN.cask.damaged-OFFSET before the cut; so is a damaged last
 * record that is whole (it may have rotted after it was synced): only what
 * a torn append leaves is cut with no copy. (test_damage.c: the same after
 * a clean close.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#define REC_HDR 20

static void kv(char *k, char *v, int i)
{
	snprintf(k, 16, "c%03d", i);
	snprintf(v, 64, "corrupt-test-value-%03d", i);
}

/* A closed store of 300 keys over several 4 KiB segments, without hint
 * files (so that open reads the sealed segments). */
static void build(const char *dir)
{
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = tu_open(dir, &o);
	char k[16], v[64];
	DIR *d;
	struct dirent *e;

	for (int i = 0; i < 300; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
	d = opendir(dir);
	while ((e = readdir(d))) {
		char p[TU_PATH];

		if (strstr(e->d_name, ".hint")) {
			tu_path(p, dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
	assert_true(tu_count_suffix(dir, ".cask") >= 4);
}

/* Every key but @p bad reads its value; @p bad reads as damaged or
 * absent. */
static void check_others(struct cask_db *db, int bad)
{
	char k[16], v[64];

	for (int i = 0; i < 300; i++) {
		void *got = NULL;
		size_t len;
		int rc;

		kv(k, v, i);
		rc = cask_get_alloc(db, k, strlen(k), &got, &len);
		if (i == bad) {
			assert_true(rc == CASK_ECORRUPT ||
				    rc == CASK_ENOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, strlen(v));
		assert_memory_equal(got, v, len);
		free(got);
	}
}

static void test_corrupt_sealed_segment(void **state)
{
	char base[TU_PATH], dir[TU_PATH], seg[TU_PATH];
	struct {
		int rec;   /* which record */
		int field; /* byte offset inside the record; -1: key; -2 val */
	} flips[] = {
		{0, 0},	 /* crc */
		{0, 4},	 /* type */
		{0, 5},	 /* flags */
		{0, 6},	 /* klen */
		{0, 8},	 /* vlen */
		{0, 12}, /* seq */
		{0, -1}, /* key */
		{0, -2}, /* value */
		{7, 4},	 /* a record in the middle */
		{7, -2},
	};
	uint32_t first;

	(void)state;
	tu_tmpdir(base, sizeof(base), "corrupt");
	build(base);
	first = tu_seg_id(base, "cask", false);
	for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
		struct cask_options o = tu_opts(4096);
		struct cask_db *db = (void *)1;
		uint16_t klen;
		long long off;

		assert_true(snprintf(dir, sizeof(dir), "%s-%zu", base, f) <
			    (int)sizeof(dir));
		tu_copy_dir(base, dir);
		tu_seg_path(seg, dir, first, "cask");
		off = tu_record_off(seg, flips[f].rec, &klen);
		if (flips[f].field >= 0)
			off += flips[f].field;
		else
			off += REC_HDR + (flips[f].field == -1 ? 1 : klen + 2);
		tu_flip(seg, off, 0x10);
		o.read_only = true;
		db = tu_open(dir, &o);
		check_others(db, flips[f].rec);
		assert_int_equal(cask_close(db), 0);
		o.read_only = false;
		db = tu_open(dir, &o);
		check_others(db, flips[f].rec);
		tu_put_str(db, "after", "damage");
		db = tu_reopen(db, dir, &o);
		check_others(db, flips[f].rec);
		tu_expect_str(db, "after", "damage");
		assert_int_equal(cask_close(db), 0);
		tu_rm_rf(dir);
	}
	tu_rm_rf(base);
}

static void test_corrupt_segment_header(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = (void *)1;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "corrupt");
	build(dir);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", false), "cask");
	tu_flip(seg, 3, 0x01); /* the magic */
	for (int round = 0; round < 2; round++) {
		struct cask_stats st;

		db = tu_open(dir, &o);
		check_others(db, -1);
		assert_int_equal(cask_stats(db, &st), 0);
		assert_int_equal(st.damaged_ranges, 1);
		assert_int_equal(st.damaged_keys, 0);
		assert_int_equal(cask_close(db), 0);
	}
	/* Not a header at all, and no record after it: not a segment
	 * libcask wrote. */
	for (int i = 0; i < 40; i++)
		tu_flip(seg, i, 0xff);
	db = (void *)1;
	assert_int_equal(cask_open(dir, &o, &db), CASK_ENOTSTORE);
	assert_null(db);
	tu_rm_rf(dir);
}

/* Close @p db and remove its CLOSED mark, and reboot, as a power loss
 * would leave it (the writes made no fdatasync, so no synced record
 * says any of them is durable). */
static void crash_close(struct cask_db *db, const char *dir)
{
	char p[TU_PATH];

	assert_int_equal(cask_close(db), 0);
	tu_path(p, dir, "CLOSED");
	assert_int_equal(unlink(p), 0);
	tu_reboot();
}

static void test_corrupt_active_middle_saved_aside(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], name[64], damaged[TU_PATH];
	struct cask_options o = tu_opts(0); /* one segment: the active */
	struct cask_db *db;
	char k[16], v[64];
	long long off, size;
	uint16_t klen;

	(void)state;
	db = tu_open_new(dir, "corrupt", &o);
	for (int i = 0; i < 20; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	crash_close(db, dir);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	size = tu_file_size(seg);
	off = tu_record_off(seg, 10, &klen);
	tu_flip(seg, off + REC_HDR + klen + 4, 0x08); /* record 10's value */
	db = tu_open(dir, &o);
	for (int i = 0; i < 20; i++) {
		kv(k, v, i);
		tu_expect_str(db, k, i < 10 ? v : NULL);
	}
	snprintf(name, sizeof(name), "%010u.cask.damaged-%lld",
		 tu_seg_id(dir, "cask", true), off);
	tu_path(damaged, dir, name);
	assert_true(tu_exists(damaged));
	assert_int_equal(tu_file_size(damaged), size - off);
	assert_int_equal(tu_file_size(seg), off);
	tu_put_str(db, "new", "write");
	db = tu_reopen(db, dir, &o);
	tu_expect_str(db, "new", "write");
	tu_expect_str(db, "c009", "corrupt-test-value-009");
	assert_int_equal(cask_close(db), 0);
	tu_reboot_end();
	tu_rm_rf(dir);
}

static void test_corrupt_active_last_record_copied_aside(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	char k[16], v[64];
	long long off;
	uint16_t klen;

	(void)state;
	db = tu_open_new(dir, "corrupt", &o);
	for (int i = 0; i < 5; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	crash_close(db, dir);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	off = tu_record_off(seg, 4, &klen);
	tu_flip(seg, off + REC_HDR + 1, 0x02);
	db = tu_open(dir, &o);
	for (int i = 0; i < 5; i++) {
		kv(k, v, i);
		tu_expect_str(db, k, i < 4 ? v : NULL);
	}
	assert_int_equal(tu_count_containing(dir, ".damaged"), 1);
	assert_int_equal(tu_file_size(seg), off);
	assert_int_equal(cask_close(db), 0);
	tu_reboot_end();
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corrupt_sealed_segment),
		cmocka_unit_test(test_corrupt_segment_header),
		cmocka_unit_test(test_corrupt_active_middle_saved_aside),
		cmocka_unit_test(test_corrupt_active_last_record_copied_aside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
