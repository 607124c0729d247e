/*
 * test_hint.c - hint files (kv/src/hint.c): open rebuilds the keydir from
 * a segment's hint without reading its data (a damaged value in a hinted
 * segment shows at read time; without the hint, at open too), a damaged,
 * truncated or misnamed hint is ignored and the segment scanned instead,
 * hint_parse rejects every single-byte flip and every truncation of a
 * valid hint, an orphan hint is removed at open, a hint lists its entries
 * in key order even when the segment holds them in another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "codec.h"
#include "hint.h"

static void kv(char *k, char *v, int i)
{
	snprintf(k, 16, "h%04d", i);
	snprintf(v, 64, "hint-test-value-%04d-xxxxxxxxxxxxxxxxxxxxxxxx", i);
}

/* A closed store of 200 keys in merged (hinted) segments. */
static void make_store(const char *dir, struct cask_options *o)
{
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db = tu_open(dir, o);
	char k[16], v[64];

	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 200; i++) {
			kv(k, v, i);
			tu_put_str(db, k, r ? v : "first");
		}
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_true(tu_count_suffix(dir, ".hint") >= 1);
	assert_int_equal(cask_close(db), 0);
}

static void check_all(const char *dir, struct cask_options *o)
{
	struct cask_db *db = tu_open(dir, o);
	char k[16], v[64];

	for (int i = 0; i < 200; i++) {
		kv(k, v, i);
		tu_expect_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
}

static void test_hint_open_reads_no_data(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], hint[TU_PATH], key[32];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = NULL;
	uint8_t hdr[20];
	uint16_t klen;
	uint32_t id;
	int fd;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hint");
	make_store(dir, &o);
	id = tu_seg_id(dir, "hint", false);
	tu_seg_path(seg, dir, id, "cask");
	tu_seg_path(hint, dir, id, "hint");
	/* The first record of the hinted segment: a put with a value. */
	fd = open(seg, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, hdr, 20, 32), 20);
	klen = get_le16(hdr + 6);
	assert_int_equal(hdr[4], 1); /* REC_PUT */
	assert_true(get_le32(hdr + 8) > 0);
	assert_true(klen < sizeof(key));
	assert_int_equal(pread(fd, key, klen, 52), klen);
	close(fd);
	tu_flip(seg, 32 + 20 + klen + 3, 0x40); /* a value byte */
	db = tu_open(dir, &o); /* the hint is trusted: no scan */
	{
		void *v = NULL;
		size_t len;

		assert_int_equal(cask_get_alloc(db, key, klen, &v, &len),
				 CASK_ECORRUPT);
		assert_null(v);
	}
	assert_int_equal(cask_close(db), 0);
	/* Without the hint the sealed segment is scanned: the damage is
	 * found at open, and the key still reads as damaged. */
	assert_int_equal(unlink(hint), 0);
	db = tu_open(dir, &o);
	{
		struct cask_stats st;
		void *v = NULL;
		size_t len;

		assert_int_equal(cask_get_alloc(db, key, klen, &v, &len),
				 CASK_ECORRUPT);
		assert_int_equal(cask_stats(db, &st), 0);
		assert_int_equal(st.damaged_ranges, 1);
		assert_int_equal(st.damaged_keys, 1);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_hint_damaged_falls_back(void **state)
{
	char dir[TU_PATH], hint[TU_PATH], other[TU_PATH];
	struct cask_options o = tu_opts(4096);
	long long size;
	uint32_t lo, hi;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hint");
	make_store(dir, &o);
	lo = tu_seg_id(dir, "hint", false);
	hi = tu_seg_id(dir, "hint", true);
	tu_seg_path(hint, dir, lo, "hint");
	size = tu_file_size(hint);
	assert_true(size > 40);
	/* A flipped byte: CRC mismatch, scan instead. */
	tu_flip(hint, size / 2, 0x01);
	check_all(dir, &o);
	/* Truncated. */
	tu_truncate(hint, size / 2);
	check_all(dir, &o);
	/* Empty. */
	tu_truncate(hint, 0);
	check_all(dir, &o);
	/* Another segment's (valid) hint under this name: wrong id. */
	if (hi != lo) {
		tu_seg_path(other, dir, hi, "hint");
		tu_copy_file(other, hint);
		check_all(dir, &o);
	}
	check_all(dir, &o);
	tu_rm_rf(dir);
}

static void test_hint_orphan_removed(void **state)
{
	char dir[TU_PATH], orphan[TU_PATH];
	struct cask_options o = tu_opts(4096);

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hint");
	make_store(dir, &o);
	tu_seg_path(orphan, dir, 999999, "hint");
	{
		char src[TU_PATH];

		tu_seg_path(src, dir, tu_seg_id(dir, "hint", false), "hint");
		tu_copy_file(src, orphan);
	}
	check_all(dir, &o);
	assert_false(tu_exists(orphan));
	tu_rm_rf(dir);
}

static int count_cb(void *arg, const struct keydir_entry *e, const uint8_t *key,
		    uint16_t klen)
{
	int *n = arg;

	(void)e;
	assert_true(klen >= 1);
	assert_non_null(key);
	(*n)++;
	return 0;
}

static int fail_cb(void *arg, const struct keydir_entry *e, const uint8_t *key,
		   uint16_t klen)
{
	(void)arg;
	(void)e;
	(void)key;
	(void)klen;
	return -E2BIG;
}

static void test_hint_parse_rejects_damage(void **state)
{
	char dir[TU_PATH], path[TU_PATH];
	struct hint_buf h;
	struct keydir_entry e = {.seq = 5, .off = 32, .vlen = 3};
	uint8_t *buf;
	long long size;
	int dfd, n, fd;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hint");
	assert_int_equal(hint_begin(&h, 7), 0);
	assert_int_equal(hint_add(&h, &e, (const uint8_t *)"abc", 3), 0);
	e = (struct keydir_entry){.seq = 6, .off = 58, .flags = 0x2};
	assert_int_equal(hint_add(&h, &e, (const uint8_t *)"gone", 4), 0);
	e = (struct keydir_entry){.seq = 7, .off = 80, .vlen = 1, .flags = 1};
	assert_int_equal(hint_add(&h, &e, (const uint8_t *)"t", 1), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(hint_write_tmp(&h, dfd, 7), 0);
	hint_free(&h);
	close(dfd);
	tu_seg_path(path, dir, 7, "hint.tmp");
	size = tu_file_size(path);
	assert_true(size > 16 + 12);
	buf = malloc((size_t)size);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, (size_t)size), size);
	close(fd);
	n = 0;
	assert_int_equal(hint_parse(buf, (size_t)size, 7, count_cb, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(hint_parse(buf, (size_t)size, 8, count_cb, &n),
			 CASK_ECORRUPT);
	assert_int_equal(hint_parse(buf, (size_t)size, 7, fail_cb, NULL),
			 -E2BIG);
	for (long long i = 0; i < size; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			buf[i] ^= (uint8_t)(1u << bit);
			n = 0;
			assert_int_equal(
				hint_parse(buf, (size_t)size, 7, count_cb, &n),
				CASK_ECORRUPT);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (long long len = 0; len < size; len++) {
		uint8_t *cut = malloc(len ? (size_t)len : 1);

		memcpy(cut, buf, (size_t)len);
		n = 0;
		assert_int_equal(hint_parse(cut, (size_t)len, 7, count_cb, &n),
				 CASK_ECORRUPT);
		free(cut);
	}
	free(buf);
	tu_rm_rf(dir);
}

struct order {
	uint8_t prev[16];
	size_t plen, n;
};

static int check_order(void *arg, const struct keydir_entry *e,
		       const uint8_t *key, uint16_t klen)
{
	struct order *o = arg;
	size_t m = klen < o->plen ? klen : o->plen;
	int c = memcmp(o->prev, key, m);

	(void)e;
	assert_true(klen <= sizeof(o->prev));
	assert_true(o->n == 0 || c < 0 || (c == 0 && o->plen <= klen));
	memcpy(o->prev, key, klen);
	o->plen = klen;
	o->n++;
	return 0;
}

/* Keys written in random order: the hint of a sealed segment (written at
 * close, not by a merge) still lists them sorted, so open inserts them in
 * order. */
static void test_hint_entries_in_key_order(void **state)
{
	char dir[TU_PATH], hint[TU_PATH], k[16], v[64];
	struct cask_options o = tu_opts(4096);
	struct order ord = {0};
	uint64_t seed = 3;
	struct cask_db *db;
	uint8_t *buf;
	long long len;
	uint32_t id;
	FILE *f;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hint-order");
	db = tu_open(dir, &o);
	for (int i = 0; i < 300; i++) {
		kv(k, v, (int)(tu_rand(&seed) % 1000));
		tu_put_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
	id = tu_seg_id(dir, "hint", false);
	assert_true(id > 0);
	tu_seg_path(hint, dir, id, "hint");
	len = tu_file_size(hint);
	buf = malloc((size_t)len);
	f = fopen(hint, "rb");
	assert_non_null(buf);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_int_equal(hint_parse(buf, (size_t)len, id, check_order, &ord),
			 0);
	assert_true(ord.n > 10);
	free(buf);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hint_open_reads_no_data),
		cmocka_unit_test(test_hint_damaged_falls_back),
		cmocka_unit_test(test_hint_orphan_removed),
		cmocka_unit_test(test_hint_parse_rejects_damage),
		cmocka_unit_test(test_hint_entries_in_key_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
