/*
 * test_read.c - reads verify what they serve (kv/src/read.c): a byte
 * flipped inside a record, in a sealed segment or in the active one, makes
 * every read of that record fail with CASK_ECORRUPT (range reads that do
 * not touch the flipped byte, whole-value gets, iterator values); the
 * first failed read logs one line naming the segment file, the offset and
 * the key (quoted, %XX for other bytes), as cask_locate() names them, and
 * later reads of the record log nothing more. Good records read right,
 * again and again, through their cached verdict. An expiry is read from
 * a verified record only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include "codec.h"
#include "db.h"

#include <sys/mman.h>

#define BIG (100u * 1024)
/* A key with a byte that must be escaped in the log line. */
static const char KEY[] = "file\x01"
			  "chunk";
#define KLEN (sizeof(KEY) - 1)

/* The lines of reads that met damage (the background merge and hint
 * writer may meet the damage too, and log their own lines). */
struct log_capture {
	pthread_mutex_t mu;
	int lines;
	char last[512];
};

static void capture(void *arg, const char *msg)
{
	struct log_capture *c = arg;

	if (strstr(msg, ": merge: ") ||
	    !strstr(msg, ": damaged record at offset "))
		return;
	pthread_mutex_lock(&c->mu);
	c->lines++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
	pthread_mutex_unlock(&c->mu);
}

static void fill(uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(i * 13 + (i >> 9));
}

/* Where the record of @p key lies (the test sees libcask's internals). */
static struct keydir_entry locate(struct cask_db *db, const void *key,
				  size_t klen)
{
	struct keydir_entry e;

	assert_true(keydir_get(db->kd, key, klen, &e));
	return e;
}

/* Flip byte @p at of the record of @p e in @p dir. */
static void flip(const char *dir, const struct keydir_entry *e, uint64_t at)
{
	char seg[TU_PATH];

	tu_seg_path(seg, dir, e->seg, "cask");
	tu_flip(seg, (long long)(e->off + at), 0x10);
}

/* Every kind of read of KEY fails with CASK_ECORRUPT; one log line in all
 * names the segment, the offset and the escaped key. */
static void expect_damaged(struct cask_db *db, struct log_capture *lc,
			   const struct keydir_entry *e)
{
	char seg[SEG_NAME_MAX], off[32];
	struct cask_iter *it;
	const void *val;
	uint8_t buf[256];
	size_t n = 7, vlen;
	void *all = (void *)1;

	segment_name(seg, e->seg, "cask");
	snprintf(off, sizeof(off), "offset %u", e->off);
	/* Where it is, for the caller's own message. */
	struct cask_location loc;
	assert_int_equal(cask_locate(db, KEY, KLEN, &loc), 0);
	assert_string_equal(loc.file, seg);
	assert_int_equal(loc.offset, e->off);
	assert_int_equal(cask_locate(db, "absent", 6, &loc), CASK_ENOTFOUND);
	assert_int_equal(cask_locate(db, "", 0, &loc), CASK_EINVAL);
	/* A range far from the flipped byte. */
	lc->lines = 0;
	assert_int_equal(cask_get_range(db, KEY, KLEN, 0, buf, 100, &n),
			 CASK_ECORRUPT);
	assert_int_equal(n, 0);
	assert_int_equal(lc->lines, 1);
	assert_non_null(strstr(lc->last, seg));
	assert_non_null(strstr(lc->last, off));
	assert_non_null(strstr(lc->last, "'file%01chunk'"));
	assert_null(strchr(lc->last, '\n'));
	/* Again: a damaged record is never taken for good. */
	/* Again: a damaged record is never taken for good, but the log has
	 * named it already: no more lines for it. */
	assert_int_equal(cask_get_range(db, KEY, KLEN, 1000, buf, 10, &n),
			 CASK_ECORRUPT);
	assert_int_equal(cask_get(db, KEY, KLEN, buf, sizeof(buf), &vlen),
			 CASK_ECORRUPT);
	assert_int_equal(cask_get_alloc(db, KEY, KLEN, &all, &vlen),
			 CASK_ECORRUPT);
	assert_null(all);
	assert_int_equal(cask_iter_new(db, NULL, &it), 0);
	assert_int_equal(cask_iter_seek(it, KEY, KLEN), 0);
	assert_int_equal(cask_iter_value(it, &val, &vlen), CASK_ECORRUPT);
	cask_iter_free(it);
	assert_int_equal(lc->lines, 1);
}

/* The other key still reads right. */
static void expect_good(struct cask_db *db, const char *key,
			const uint8_t *want, size_t len)
{
	uint8_t buf[64];
	size_t n;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(cask_get_range(db, key, strlen(key), len - 50,
						buf, sizeof(buf), &n),
				 0);
		assert_int_equal(n, 50);
		assert_memory_equal(buf, want + len - 50, 50);
	}
	tu_expect(db, key, strlen(key), want, len);
}

/* Where damage_test() flips a byte of the record. */
enum spot {
	LAST_VALUE_BYTE,
	SEQ
};

static void damage_test(bool sealed, size_t vlen, enum spot spot)
{
	char dir[TU_PATH];
	struct log_capture lc = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct cask_options o = tu_opts(sealed ? 4096 : 0);
	struct keydir_entry e;
	struct cask_db *db;
	uint8_t *v = malloc(BIG);

	assert_non_null(v);
	fill(v, BIG);
	o.log = capture;
	o.log_arg = &lc;
	db = tu_open_new(dir, "read", &o);
	assert_int_equal(cask_put(db, KEY, KLEN, v, vlen), 0);
	assert_int_equal(cask_put(db, "other", 5, v, vlen), 0);
	e = locate(db, KEY, KLEN);
	if (sealed)
		assert_int_not_equal(e.seg, db->active->id);
	else
		assert_int_equal(e.seg, db->active->id);
	/* The bytes change under the open store, through the file (the
	 * mapping is shared): as a disk or a stray write would change them. */
	flip(dir, &e, spot == SEQ ? 12 : REC_HDR_SIZE + KLEN + vlen - 1);
	expect_damaged(db, &lc, &e);
	expect_good(db, "other", v, vlen);
	assert_int_equal(cask_close(db), 0);
	free(v);
	tu_rm_rf(dir);
}

static void test_read_range_damaged_sealed(void **state)
{
	(void)state;
	damage_test(true, BIG, LAST_VALUE_BYTE);
}

static void test_read_range_damaged_active(void **state)
{
	(void)state;
	damage_test(false, BIG, LAST_VALUE_BYTE);
}

/* Records smaller than the verdict grain are checked at every read. */
static void test_read_range_damaged_small(void **state)
{
	(void)state;
	damage_test(false, 3000, LAST_VALUE_BYTE);
	damage_test(true, 3000, LAST_VALUE_BYTE);
}

/* A flipped byte in the header (the sequence number) is damage too. */
static void test_read_range_damaged_header(void **state)
{
	(void)state;
	damage_test(true, BIG, SEQ);
	damage_test(false, BIG, SEQ);
}

/* Many range reads of good large records, across a merge that moves them:
 * every one returns the right bytes. */
static void test_read_range_verdict_survives_merge(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(64 * 1024);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	uint8_t *v = malloc(BIG), buf[512];
	size_t n;

	(void)state;
	assert_non_null(v);
	fill(v, BIG);
	db = tu_open_new(dir, "read", &o);
	for (int i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(cask_put(db, k, strlen(k), v + i, BIG - i), 0);
		assert_int_equal(cask_put(db, "dead", 4, v, 5000), 0);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 8; i++) {
			for (uint64_t off = 0; off < BIG - 600; off += 9000) {
				snprintf(k, sizeof(k), "k%d", i);
				assert_int_equal(cask_get_range(db, k,
								strlen(k), off,
								buf, 512, &n),
						 0);
				assert_int_equal(n, 512);
				assert_memory_equal(buf, v + i + off, 512);
			}
		}
		assert_int_equal(cask_merge(db, &mo), 0);
	}
	assert_int_equal(cask_close(db), 0);
	free(v);
	tu_rm_rf(dir);
}

/* Write @p expire over the expiry of the record of @p e in @p dir: damage
 * that makes the record look expired. */
static void damage_expiry(const char *dir, const struct keydir_entry *e,
			  uint64_t expire)
{
	char seg[TU_PATH];
	uint8_t b[REC_EXPIRY_SIZE];
	int fd;

	tu_seg_path(seg, dir, e->seg, "cask");
	put_le64(b, expire);
	fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, sizeof(b), e->off + REC_HDR_SIZE),
			 sizeof(b));
	close(fd);
}

/* KEY, with an expiry an hour away whose bytes now read as long past, is
 * damaged, not absent, for every read: get, range get, exists, an
 * iterator (which visits it); cask_locate() still finds it. */
static void expect_expiry_damaged(struct cask_db *db)
{
	struct cask_location loc;
	struct cask_iter *it;
	const void *val;
	uint8_t buf[16];
	size_t n, vlen;
	size_t klen;

	assert_int_equal(cask_get(db, KEY, KLEN, buf, sizeof(buf), &vlen),
			 CASK_ECORRUPT);
	assert_int_equal(cask_get_range(db, KEY, KLEN, 0, buf, 4, &n),
			 CASK_ECORRUPT);
	assert_int_equal(cask_exists(db, KEY, KLEN), CASK_ECORRUPT);
	assert_int_equal(cask_locate(db, KEY, KLEN, &loc), 0);
	assert_int_equal(cask_iter_new(db, NULL, &it), 0);
	assert_int_equal(cask_iter_seek(it, KEY, KLEN), 0);
	assert_memory_equal(cask_iter_key(it, &klen), KEY, KLEN);
	assert_int_equal(klen, KLEN);
	assert_int_equal(cask_iter_value(it, &val, &vlen), CASK_ECORRUPT);
	cask_iter_free(it);
	tu_expect_str(db, "other", "value");
}

/* An expiry is read only from a verified record: damage that makes it
 * read as past is CASK_ECORRUPT, never a key that reads as absent. In the
 * active segment under an open handle, and in a sealed segment that a
 * later open reads through its hint file. An intact expiry still
 * expires. */
static void test_read_expiry_damaged(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct keydir_entry e;
	struct cask_db *db;
	uint8_t *v = malloc(BIG);

	(void)state;
	assert_non_null(v);
	fill(v, BIG);
	db = tu_open_new(dir, "read", &o);
	/* Active segment, open handle. */
	assert_int_equal(cask_put_ttl(db, KEY, KLEN, "value", 5, 3600000), 0);
	assert_int_equal(cask_put(db, "other", 5, "value", 5), 0);
	e = locate(db, KEY, KLEN);
	assert_int_equal(e.seg, db->active->id);
	damage_expiry(dir, &e, 1);
	expect_expiry_damaged(db);
	/* Sealed, hinted, reopened. */
	assert_int_equal(cask_put_ttl(db, KEY, KLEN, "value", 5, 3600000), 0);
	e = locate(db, KEY, KLEN);
	assert_int_equal(cask_put(db, "filler", 6, v, 8192), 0);
	assert_int_not_equal(e.seg, db->active->id);
	assert_int_equal(cask_close(db), 0);
	damage_expiry(dir, &e, 1);
	db = tu_open(dir, &o);
	expect_expiry_damaged(db);
	/* An intact expiry that passed is absent, as ever. */
	assert_int_equal(cask_put_ttl(db, "brief", 5, "v", 1, 1), 0);
	usleep(5000);
	assert_int_equal(cask_exists(db, "brief", 5), 0);
	tu_expect(db, "brief", 5, NULL, 0);
	assert_int_equal(cask_close(db), 0);
	free(v);
	tu_rm_rf(dir);
}

/* Map the first @p len bytes of @p s again with an inaccessible page right
 * after them, as any mapping may have: a read past the end faults.
 * @return the guard page, for the caller to unmap. */
static void *guard_mapping(struct segment *s, size_t len)
{
	uint8_t *p = mmap(NULL, len + 4096, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	assert_true(mmap(p, len, PROT_READ, MAP_SHARED | MAP_FIXED, s->fd, 0) ==
		    p);
	munmap((void *)s->map, s->map_len);
	s->map = p;
	return p + len;
}

/* A record whose expiry flag was flipped is 8 bytes longer than its
 * keydir entry (loaded from a hint, which is not checked against the
 * records) says. The read compares the sizes before the CRC, so it is
 * CASK_ECORRUPT, not a CRC over the bytes after the record: past the end
 * of the mapping for the last record of a segment, past the end of the
 * buffer for a record read with pread. */
static void test_read_expiry_flag_flipped(void **state)
{
	char dir[TU_PATH], hint[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(8192);
	/* The record ends at 4096: the segment and its mapping end there. */
	size_t vlen = 4096 - SEG_HDR_SIZE - REC_HDR_SIZE - KLEN;
	struct keydir_entry e;
	struct segment *s;
	struct cask_db *db;
	uint8_t *v = malloc(BIG), buf[16];
	void *guard;
	size_t n;

	(void)state;
	assert_non_null(v);
	fill(v, BIG);
	db = tu_open_new(dir, "read", &o);
	assert_int_equal(cask_put(db, KEY, KLEN, v, vlen), 0);
	e = locate(db, KEY, KLEN);
	assert_int_equal(cask_put(db, "filler", 6, v, 6000), 0);
	assert_int_not_equal(e.seg, db->active->id);
	assert_int_equal(cask_close(db), 0);
	tu_seg_path(hint, dir, e.seg, "hint");
	assert_true(tu_exists(hint));
	tu_seg_path(seg, dir, e.seg, "cask");
	tu_flip(seg, (long long)e.off + 5, REC_F_EXPIRY); /* the flags byte */
	db = tu_open(dir, &o);
	s = segtable_find(&db->segs, e.seg);
	assert_non_null(s);
	assert_int_equal(s->map_len, 4096);
	guard = guard_mapping(s, s->map_len);
	assert_int_equal(cask_get(db, KEY, KLEN, v, BIG, &n), CASK_ECORRUPT);
	/* Without a mapping: read into a buffer of the entry's size. */
	munmap((void *)s->map, s->map_len);
	s->map = NULL;
	s->map_len = 0;
	assert_int_equal(cask_get_range(db, KEY, KLEN, 0, buf, sizeof(buf), &n),
			 CASK_ECORRUPT);
	munmap(guard, 4096);
	tu_expect(db, "filler", 6, v, 6000);
	assert_int_equal(cask_close(db), 0);
	free(v);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_range_damaged_sealed),
		cmocka_unit_test(test_read_range_damaged_active),
		cmocka_unit_test(test_read_range_damaged_small),
		cmocka_unit_test(test_read_range_damaged_header),
		cmocka_unit_test(test_read_range_verdict_survives_merge),
		cmocka_unit_test(test_read_expiry_damaged),
		cmocka_unit_test(test_read_expiry_flag_flipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
