/*
 * test_damage.c - damage costs nothing but the damaged bytes
 * (kv/src/recover.c). A byte flipped after a clean close, in the middle or
 * at the end of the active segment, in a sealed segment, or inside a batch
 * (a member, the first member, the commit record): a read-write open
 * succeeds, every record outside the damaged range reads back, a key
 * whose newest version was in the range reads as CASK_ECORRUPT (never as
 * an older value or as absent) and is named in the log, no file is cut
 * or removed, new writes do not go after the damage, cask_stats and
 * cask_verify report the range, and the next opens (read-write and
 * read-only, after a merge) see exactly the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "record.h"
#include "test_util.h"

#define NPLAIN 20

static void kv(char *k, char *v, int i)
{
	snprintf(k, 16, "c%03d", i);
	snprintf(v, 64, "damage-test-value-%03d", i);
}

static struct cask_options opts(struct tu_logbuf *l)
{
	struct cask_options o = tu_opts(0);

	if (l) {
		l->n = 0;
		l->text[0] = 0;
		o.log = tu_log_keep;
		o.log_arg = l;
	}
	return o;
}

/* Keys c000..c(n-1): each holds its value, but @p bad is damaged. */
static void expect_all(struct cask_db *db, int n, int bad)
{
	char k[16], v[64];

	for (int i = 0; i < n; i++) {
		kv(k, v, i);
		if (i == bad)
			tu_expect_damaged(db, k);
		else
			tu_expect_str(db, k, v);
	}
}

static void verify_keep(void *arg, const char *file, uint64_t off,
			enum cask_verify_kind kind, const char *msg)
{
	(void)file;
	(void)off;
	(void)kind;
	tu_log_keep(arg, msg);
}

/* cask_verify reports damage, no torn tail, and names key @p k if given. */
static void expect_verify_damage(const char *dir, const char *k)
{
	struct tu_logbuf l = {.n = 0};
	struct cask_verify_options vo = {.report = verify_keep,
					 .report_arg = &l};
	struct cask_verify_result r;

	assert_int_equal(cask_verify(dir, &vo, &r), CASK_ECORRUPT);
	assert_true(r.damaged >= 1);
	assert_int_equal(r.tail_bytes, 0);
	if (k)
		assert_non_null(strstr(l.text, k));
}

/* What cask_damaged_keys() listed. */
struct listed {
	int n;
	struct {
		char key[16];
		struct cask_location loc;
		bool uncertain;
	} v[64];
};

static int list_one(void *arg, const struct cask_damaged_key *dk)
{
	struct listed *l = arg;

	assert_true(l->n < 64);
	assert_true(dk->klen < sizeof(l->v[0].key));
	memcpy(l->v[l->n].key, dk->key, dk->klen);
	l->v[l->n].key[dk->klen] = 0;
	l->v[l->n].loc = dk->loc;
	l->v[l->n].uncertain = dk->uncertain;
	l->n++;
	return 0;
}

static int stop_at_first(void *arg, const struct cask_damaged_key *dk)
{
	(void)arg;
	(void)dk;
	return 7;
}

static void list_damaged(struct cask_db *db, struct listed *l)
{
	l->n = 0;
	assert_int_equal(cask_damaged_keys(db, list_one, l), 0);
}

/* Occurrences of @p needle in @p text. */
static int count_in(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* @p ranges damaged ranges, and @p k (NULL: none) the one damaged key:
 * counted, listed where its reads fail (cask_locate()), and named once in
 * the log @p l however often it was read. */
static void expect_stats(struct cask_db *db, uint64_t ranges, const char *k,
			 const struct tu_logbuf *l)
{
	struct cask_stats st;
	struct cask_location loc;
	struct listed ls;
	char named[32];

	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_ranges, ranges);
	assert_true(st.damaged_bytes >= ranges * 20);
	list_damaged(db, &ls);
	assert_int_equal(st.damaged_keys, ls.n);
	assert_int_equal(ls.n, k ? 1 : 0);
	if (!k)
		return;
	assert_string_equal(ls.v[0].key, k);
	assert_false(ls.v[0].uncertain);
	assert_int_equal(cask_locate(db, k, strlen(k), &loc), 0);
	assert_string_equal(ls.v[0].loc.file, loc.file);
	assert_int_equal(ls.v[0].loc.offset, loc.offset);
	snprintf(named, sizeof(named), "key '%s'", k);
	assert_int_equal(count_in(l->text, named), 1);
}

/* One segment of NPLAIN puts, closed cleanly; its path into @p seg. */
static void build_active(const char *dir, char *seg)
{
	struct cask_options o = opts(NULL);
	struct cask_db *db = tu_open(dir, &o);
	char k[16], v[64];

	for (int i = 0; i < NPLAIN; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
}

/* Flip a byte of the value of record @p rec of @p seg. */
static void flip_value(const char *seg, int rec)
{
	uint16_t klen;
	long long off = tu_record_off(seg, rec, &klen);

	tu_flip(seg, off + 20 + klen + 3, 0x08);
}

/* Open @p dir read-write, check it, write one key, close; then again, and
 * read-only: the same keys and the same damage each time, and the damaged
 * segment @p seg keeps its @p size bytes. */
static void check_stable(const char *dir, const char *seg, long long size,
			 int n, int bad)
{
	struct tu_logbuf l;
	struct cask_options o;
	struct cask_db *db;
	char k[16], v[64];

	kv(k, v, bad);
	expect_verify_damage(dir, k);
	for (int round = 0; round < 3; round++) {
		o = opts(&l);
		o.read_only = round == 2;
		db = tu_open(dir, &o);
		expect_all(db, n, bad);
		expect_all(db, n, bad);
		expect_stats(db, 1, k, &l); /* named once in the log */
		if (round)
			tu_expect_str(db, "new", "write");
		if (!round)
			tu_put_str(db, "new", "write");
		assert_int_equal(cask_close(db), 0);
		assert_int_equal(tu_file_size(seg), size);
		assert_int_equal(tu_count_containing(dir, ".damaged"), 0);
		expect_verify_damage(dir, k);
	}
}

static void test_damage_active_middle_keeps_later_records(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_active(dir, seg);
	flip_value(seg, 10);
	check_stable(dir, seg, tu_file_size(seg), NPLAIN, 10);
	tu_rm_rf(dir);
}

/* After a clean close the last record was durable: a bad one is damage,
 * not a torn write, and is not cut. */
static void test_damage_active_last_record_kept(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_active(dir, seg);
	flip_value(seg, NPLAIN - 1);
	check_stable(dir, seg, tu_file_size(seg), NPLAIN, NPLAIN - 1);
	tu_rm_rf(dir);
}

static void remove_hints(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char p[TU_PATH];

		if (strstr(e->d_name, ".hint")) {
			tu_path(p, dir, e->d_name);
			assert_int_equal(unlink(p), 0);
		}
	}
	closedir(d);
}

/* 300 puts into 4 KiB segments, closed cleanly (the sealed ones hinted). */
static void build_sealed(const char *dir)
{
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = tu_open(dir, &o);
	char k[16], v[64];

	for (int i = 0; i < 300; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
}

/* Open @p dir with 4 KiB segments and write the even keys again (not
 * c007, the damaged one), for a merge to reclaim: @return the handle. */
static struct cask_db *rewrite_even(const char *dir)
{
	struct cask_options o = opts(NULL);
	struct cask_db *db;
	char k[16], v[64];

	o.segment_size = 4096;
	db = tu_open(dir, &o);
	for (int i = 0; i < 300; i += 2) {
		kv(k, v, i);
		if (i != 7)
			tu_put_str(db, k, v);
	}
	return db;
}

static void test_damage_sealed_segment_opens(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	long long size;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_sealed(dir);
	remove_hints(dir); /* so that open reads the sealed segments */
	assert_true(tu_count_suffix(dir, ".cask") >= 4);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", false), "cask");
	size = tu_file_size(seg);
	flip_value(seg, 7);
	check_stable(dir, seg, size, 300, 7);
	/* A merge leaves the damaged segment where it is. */
	db = rewrite_even(dir);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), size);
	check_stable(dir, seg, size, 300, 7);
	tu_rm_rf(dir);
}

/* Damage in a hinted sealed segment is not seen at open (its hint is read,
 * not its records); a merge that meets it keeps the segment whole (the
 * records after the damage were not copied) and merges the others. */
static void test_damage_hinted_segment_not_merged(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], hint[TU_PATH];
	struct cask_merge_options mo = tu_merge_all();
	struct cask_stats st;
	struct cask_db *db;
	long long size;
	uint32_t id;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_sealed(dir);
	id = tu_seg_id(dir, "cask", false);
	tu_seg_path(seg, dir, id, "cask");
	tu_seg_path(hint, dir, id, "hint");
	assert_true(tu_exists(hint));
	size = tu_file_size(seg);
	flip_value(seg, 7);
	db = rewrite_even(dir);
	assert_int_equal(cask_merge(db, &mo), 0);
	expect_all(db, 300, 7);
	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_ranges, 1);
	assert_true(st.merges >= 1);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), size);
	assert_false(tu_exists(hint)); /* every open reads it now */
	check_stable(dir, seg, size, 300, 7);
	tu_rm_rf(dir);
}

/* The id of the active segment of @p db. */
static uint32_t active_id(struct cask_db *db)
{
	struct cask_segment_stats s[256];
	size_t n;

	assert_int_equal(cask_segment_stats(db, s, 256, &n), 0);
	for (size_t i = 0; i < n && i < 256; i++)
		if (s[i].active)
			return s[i].id;
	fail_msg("no active segment");
	return 0;
}

/*
 * Damage in a merge output whose id is above the active segment's, met by
 * a later merge: the segment must lose its hint, so that every open reads
 * it and finds the damage, without passing for the active segment (the
 * newest one without a hint): the damage would then be cut as a torn
 * tail. The merge starts a new active segment above it first.
 */
static void test_damage_merge_output_above_active(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], hint[TU_PATH], k[16], v[64];
	struct cask_merge_options mo = tu_merge_all();
	struct cask_options o = opts(NULL);
	struct cask_location loc;
	struct cask_stats st;
	struct cask_db *db;
	long long size;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_sealed(dir);
	o.segment_size = 4096;
	db = rewrite_even(dir);
	assert_int_equal(cask_merge(db, &mo), 0);
	kv(k, v, 7);
	assert_int_equal(cask_locate(db, k, strlen(k), &loc), 0);
	/* Merge outputs get the ids after the active segment's. */
	assert_true(strtoul(loc.file, NULL, 10) > active_id(db));
	assert_int_equal(cask_close(db), 0);
	tu_path(seg, dir, loc.file);
	snprintf(hint, sizeof(hint), "%.*s.hint", (int)(strlen(seg) - 5), seg);
	assert_true(tu_exists(hint));
	size = tu_file_size(seg);
	tu_flip(seg, (long long)loc.offset + 20 + (long long)strlen(k) + 3,
		0x08);

	/* Garbage in the output (no rotation: the active segment stays
	 * below it), for a merge to take it again. */
	o.segment_size = 64u << 20;
	db = tu_open(dir, &o);
	kv(k, v, 9);
	tu_put_str(db, k, v);
	assert_int_equal(cask_merge(db, &mo), 0);
	expect_all(db, 300, 7);
	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_ranges, 1); /* the merge met it */
	assert_int_equal(cask_close(db), 0);
	assert_false(tu_exists(hint));
	/* Found by every open now, kept whole, never cut. */
	db = tu_open(dir, &o);
	assert_true(strtoul(loc.file, NULL, 10) < active_id(db));
	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_ranges, 1);
	expect_all(db, 300, 7);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), size);
	assert_int_equal(tu_count_containing(dir, ".damaged"), 0);
	tu_rm_rf(dir);
}

/*
 * A crash while a rotation created segment 2 leaves its first bytes, no
 * CLOSED mark, and segment 1 sealed but not yet hinted; bit rot then hits
 * segment 1. An open that cannot create a segment (disk full) must not
 * leave segment 1 to be taken for the active one: its damage would be cut
 * as a torn tail, bringing back the older value of y and the deleted t.
 */
static void test_damage_sealed_never_taken_for_active(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], p[TU_PATH], big[2000];
	uint8_t hdr[SEG_HDR_SIZE];
	struct cask_options o = tu_opts(8192);
	struct cask_db *db;
	uint16_t klen;
	long long size;
	int fd;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	db = tu_open(dir, &o);
	memset(big, 'x', sizeof(big));
	tu_put_str(db, "y", "y-old");
	tu_put_str(db, "t", "t-alive");
	assert_int_equal(cask_put(db, "x", 1, big, sizeof(big)), 0);
	tu_put_str(db, "y", "y-new");
	assert_int_equal(cask_delete(db, "t", 1), 0);
	assert_int_equal(cask_close(db), 0);
	tu_path(p, dir, "CLOSED");
	assert_int_equal(unlink(p), 0);
	tu_reboot(); /* a power loss: nothing past the header is durable */
	tu_seg_path(seg, dir, 1, "cask");
	tu_flip(seg, tu_record_off(seg, 2, &klen) + 20 + klen + 100, 0x08);
	size = tu_file_size(seg);
	seg_header_encode(hdr, 2);
	tu_seg_path(p, dir, 2, "cask");
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hdr, 10), 10);
	close(fd);

	o.log = tu_quiet_log;
	tu_fault_install();
	tu_fault_set(TU_OPEN, 0, -ENOSPC, true, "0000000003.cask");
	if (cask_open(dir, &o, &db) == 0)
		assert_int_equal(cask_close(db), 0);
	tu_fault_remove();
	for (int round = 0; round < 2; round++) {
		db = tu_open(dir, &o);
		tu_expect_str(db, "y", "y-new");
		assert_int_equal(cask_get_alloc(db, "t", 1, &(void *){NULL},
						&(size_t){0}),
				 CASK_ENOTFOUND);
		tu_expect_damaged(db, "x");
		assert_int_equal(cask_close(db), 0);
		assert_int_equal(tu_file_size(seg), size);
		assert_int_equal(tu_count_containing(dir, ".damaged"), 0);
	}
	tu_reboot_end();
	tu_rm_rf(dir);
}

/* After a power loss (no CLOSED mark, another boot, no fdatasync made) a
 * bad last record may be a torn write and is cut, but a whole one that
 * fails its CRC may as well be a durable record that rotted: its bytes
 * are copied aside first. Zeros past the end (room the file grew by,
 * never written) are cut with no copy. */
static void test_damage_rotted_last_record_copied_aside(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], p[TU_PATH], name[64];
	struct cask_options o = opts(NULL);
	struct cask_db *db;
	uint16_t klen;
	long long last, size;
	int fd;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_active(dir, seg);
	tu_path(p, dir, "CLOSED");
	assert_int_equal(unlink(p), 0);
	tu_reboot();
	last = tu_record_off(seg, NPLAIN - 1, &klen);
	size = tu_file_size(seg);
	flip_value(seg, NPLAIN - 1);
	o.log = tu_quiet_log;
	db = tu_open(dir, &o);
	expect_all(db, NPLAIN - 1, -1);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), last);
	snprintf(name, sizeof(name), "0000000001.cask.damaged-%lld", last);
	tu_path(p, dir, name);
	assert_int_equal(tu_file_size(p), size - last);
	assert_int_equal(unlink(p), 0);

	tu_path(p, dir, "CLOSED");
	assert_int_equal(unlink(p), 0);
	tu_reboot();
	fd = open(seg, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, last + 4096), 0);
	close(fd);
	db = tu_open(dir, &o);
	expect_all(db, NPLAIN - 1, -1);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), last);
	assert_int_equal(tu_count_containing(dir, ".damaged"), 0);
	tu_reboot_end();
	tu_rm_rf(dir);
}

/*
 * Plain puts c000..c004, a batch of c005..c009 and its commit, plain puts
 * c010..c014, closed cleanly. With @p sealed, more puts then take the
 * segment past 4 KiB and a reopen with 4 KiB segments seals it (its hint
 * removed, so that open reads it).
 */
static void build_batch(const char *dir, bool sealed)
{
	struct cask_options o = opts(NULL);
	struct cask_db *db = tu_open(dir, &o);
	struct cask_batch *b = NULL;
	char k[16], v[64];

	for (int i = 0; i < 15; i++) {
		kv(k, v, i);
		if (i < 5 || i >= 10) {
			tu_put_str(db, k, v);
			continue;
		}
		if (i == 5)
			assert_int_equal(cask_batch_new(db, &b), 0);
		assert_int_equal(cask_batch_put(b, k, strlen(k), v, strlen(v)),
				 0);
		if (i == 9) {
			assert_int_equal(cask_batch_commit(b, 0), 0);
			cask_batch_free(b);
		}
	}
	for (int i = 0; sealed && i < 100; i++) {
		snprintf(k, sizeof(k), "pad%03d", i);
		tu_put_str(db, k, "padding-padding-padding");
	}
	assert_int_equal(cask_close(db), 0);
	if (!sealed)
		return;
	o.segment_size = 4096;
	db = tu_open(dir, &o);
	assert_int_equal(cask_close(db), 0);
	remove_hints(dir);
	assert_true(tu_count_suffix(dir, ".cask") == 2);
}

static void test_damage_inside_batch(void **state)
{
	/* Which record to flip (records 5..9 are the batch, 10 its commit)
	 * and which key is then damaged (-1: none). */
	static const struct {
		int rec, bad;
	} cases[] = {{7, 7}, {5, 5}, {9, 9}, {10, -1}};
	char dir[TU_PATH], seg[TU_PATH];

	(void)state;
	for (int sealed = 0; sealed < 2; sealed++) {
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct tu_logbuf l;
			struct cask_options o = opts(&l);
			struct cask_db *db;
			long long size;

			tu_tmpdir(dir, sizeof(dir), "damage");
			build_batch(dir, sealed);
			tu_seg_path(seg, dir, tu_seg_id(dir, "cask", false),
				    "cask");
			size = tu_file_size(seg);
			flip_value(seg, cases[c].rec);
			for (int round = 0; round < 2; round++) {
				char k[16], v[64];

				kv(k, v, cases[c].bad);
				o = opts(&l);
				db = tu_open(dir, &o);
				expect_all(db, 15, cases[c].bad);
				expect_stats(db, 1, cases[c].bad < 0 ? NULL : k,
					     &l);
				assert_int_equal(cask_close(db), 0);
				assert_int_equal(tu_file_size(seg), size);
			}
			expect_verify_damage(dir, NULL);
			tu_rm_rf(dir);
		}
	}
}

/* Damage across 40 records in a row (one range, 40 keys): the log names
 * the first 32 keys and counts the rest; cask_damaged_keys() lists all 40
 * in log order; the first read of an unnamed one names it, once. */
static void test_damage_many_keys_listed(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], k[16], v[64], named[32];
	struct tu_logbuf l;
	struct cask_options o = opts(NULL);
	struct cask_stats st;
	struct listed ls;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	db = tu_open(dir, &o);
	for (int i = 0; i < 50; i++) {
		kv(k, v, i);
		tu_put_str(db, k, v);
	}
	assert_int_equal(cask_close(db), 0);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	for (int i = 5; i < 45; i++)
		flip_value(seg, i);
	o = opts(&l);
	db = tu_open(dir, &o);
	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_ranges, 1);
	assert_int_equal(st.damaged_keys, 40);
	list_damaged(db, &ls);
	assert_int_equal(ls.n, 40);
	for (int i = 0; i < 40; i++) {
		kv(k, v, i + 5);
		assert_string_equal(ls.v[i].key, k);
		assert_false(ls.v[i].uncertain);
		if (i)
			assert_true(ls.v[i].loc.offset >
				    ls.v[i - 1].loc.offset);
	}
	assert_int_equal(count_in(l.text, "its newest version is the damaged"),
			 32);
	assert_non_null(
		strstr(l.text, "8 more keys lost their newest version"));
	kv(k, v, 44); /* past the 32 named at open */
	snprintf(named, sizeof(named), "key '%s'", k);
	assert_int_equal(count_in(l.text, named), 0);
	tu_expect_damaged(db, k);
	tu_expect_damaged(db, k);
	assert_int_equal(count_in(l.text, named), 1);
	/* A callback's nonzero return stops the walk and is returned. */
	assert_int_equal(cask_damaged_keys(db, stop_at_first, &ls), 7);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Two damaged versions of one key: it is listed and counted once, at its
 * newer damaged record. */
static void test_damage_two_versions_listed_once(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct tu_logbuf l;
	struct cask_options o = opts(NULL);
	struct cask_location first;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	db = tu_open(dir, &o);
	tu_put_str(db, "c000", "damage-test-value-old");
	assert_int_equal(cask_locate(db, "c000", 4, &first), 0);
	tu_put_str(db, "c001", "damage-test-value-001");
	tu_put_str(db, "c000", "damage-test-value-000");
	tu_put_str(db, "c002", "damage-test-value-002");
	assert_int_equal(cask_close(db), 0);
	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	flip_value(seg, 0);
	flip_value(seg, 2);
	o = opts(&l);
	db = tu_open(dir, &o);
	expect_all(db, 3, 0);
	expect_stats(db, 2, "c000", &l);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A damaged record whose sequence number reads far above every valid
 * one's is not entered (its key reads as the version before, here none),
 * but it is listed, uncertain, and counted. */
static void test_damage_bad_seq_listed_uncertain(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], k[16], v[64];
	struct cask_options o = opts(NULL);
	struct cask_stats st;
	struct listed ls;
	struct cask_db *db;
	uint16_t klen;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "damage");
	build_active(dir, seg);
	tu_flip(seg, tu_record_off(seg, 10, &klen) + 19, 0x80);
	db = tu_open(dir, &o);
	kv(k, v, 10);
	tu_expect(db, k, strlen(k), NULL, 0);
	assert_int_equal(cask_stats(db, &st), 0);
	assert_int_equal(st.damaged_keys, 1);
	list_damaged(db, &ls);
	assert_int_equal(ls.n, 1);
	assert_string_equal(ls.v[0].key, k);
	assert_true(ls.v[0].uncertain);
	assert_int_equal(ls.v[0].loc.offset, tu_record_off(seg, 10, &klen));
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_damage_active_middle_keeps_later_records),
		cmocka_unit_test(test_damage_active_last_record_kept),
		cmocka_unit_test(test_damage_sealed_segment_opens),
		cmocka_unit_test(test_damage_hinted_segment_not_merged),
		cmocka_unit_test(test_damage_merge_output_above_active),
		cmocka_unit_test(test_damage_sealed_never_taken_for_active),
		cmocka_unit_test(test_damage_rotted_last_record_copied_aside),
		cmocka_unit_test(test_damage_inside_batch),
		cmocka_unit_test(test_damage_many_keys_listed),
		cmocka_unit_test(test_damage_two_versions_listed_once),
		cmocka_unit_test(test_damage_bad_seq_listed_uncertain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
