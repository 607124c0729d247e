/*
 * test_synced_damage.c - damage in the active segment after a crash
 * (kv/src/recover.c, docs/FORMAT.md section 7). A child process writes
 * with real fdatasyncs and exits without closing the store (no CLOSED
 * mark); the parent flips a byte of one record and opens the store again.
 *
 *  - After a reboot (simulated through the boot-id seam), bytes below the
 *    durable position the log carries (a SYNCED record written after each
 *    fdatasync) are durable: a flipped byte in a synced record is damage,
 *    the damaged key reads CASK_ECORRUPT, every later synced record (and
 *    unsynced one) is kept, nothing is cut or copied aside.
 *  - After a reboot, damage past the last durable position may be a torn
 *    write: the rest of the file is copied to NNNNNNNNNN.cask.damaged-OFF
 *    and cut, and every synced record stays.
 *  - A synced record claiming past itself proves nothing; a version 1
 *    segment (a store from before synced records) gets none.
 *  - In the same boot (no power loss since the writer opened the store)
 *    nothing was written synced or not that the page cache did not keep:
 *    damage anywhere is damage, and only what the end of the file cuts
 *    short (a record, and the batch it belongs to) is a torn tail, cut
 *    with no copy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "record.h"
#include "test_util.h"

#include <sys/wait.h>

#define NKEYS 10

static void kv(char *k, char *v, int i)
{
	snprintf(k, 16, "s%03d", i);
	snprintf(v, 64, "synced-damage-value-%03d", i);
}

/* In a child: open @p dir with sync=always, put keys [0, nsync) each
 * synced, then keys [nsync, n) with no sync, then a batch of "b0", "b1"
 * if @p batch; exit without closing (a crash that leaves the page cache). */
static void crash_write(const char *dir, int nsync, int n, bool batch)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cask_options o = tu_opts(0);
		struct cask_db *db;
		struct cask_batch *b;
		char k[16], v[64];

		o.sync_mode = CASK_SYNC_ALWAYS;
		if (cask_open(dir, &o, &db))
			_exit(1);
		for (int i = 0; i < n; i++) {
			kv(k, v, i);
			if (cask_put_pos(db, k, strlen(k), v, strlen(v), 0,
					 i < nsync ? 0 : CASK_COMMIT_NOWAIT,
					 NULL))
				_exit(2);
		}
		if (batch && (cask_batch_new(db, &b) ||
			      cask_batch_put(b, "b0", 2, "batch", 5) ||
			      cask_batch_put(b, "b1", 2, "batch", 5) ||
			      cask_batch_commit(b, CASK_COMMIT_NOWAIT)))
			_exit(3);
		_exit(0); /* no cask_close: no CLOSED mark */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Offset of the record of key @p key in segment file @p seg. */
static long long rec_off(const char *seg, const char *key)
{
	int fd = open(seg, O_RDONLY);
	long long off = SEG_HDR_SIZE;
	uint8_t b[REC_MAX_HDR_SIZE + 64];
	struct rec_header h;

	assert_true(fd >= 0);
	for (;;) {
		ssize_t n = pread(fd, b, sizeof(b), off);

		assert_true(n >= (ssize_t)REC_HDR_SIZE);
		assert_int_equal(rec_decode_header(b, (size_t)n, &h), 0);
		if (h.klen == strlen(key) &&
		    !memcmp(b + rec_header_size(h.flags), key, h.klen))
			break;
		off += (long long)rec_size(&h);
	}
	close(fd);
	return off;
}

/* Offsets of the synced records of segment file @p seg into @p v (up to
 * @p max); @return how many there are. */
static int synced_recs(const char *seg, long long *v, int max)
{
	int fd = open(seg, O_RDONLY), n = 0;
	long long off = SEG_HDR_SIZE, end = tu_file_size(seg);
	uint8_t b[REC_MAX_HDR_SIZE];
	struct rec_header h;

	assert_true(fd >= 0);
	while (off < end) {
		assert_true(pread(fd, b, sizeof(b), off) >= REC_HDR_SIZE);
		assert_int_equal(rec_decode_header(b, sizeof(b), &h), 0);
		if (h.type == REC_SYNCED && n < max)
			v[n++] = off;
		off += (long long)rec_size(&h);
	}
	close(fd);
	return n;
}

/* Flip a byte in the value of @p key's record in @p seg. */
static void flip_value(const char *seg, const char *key)
{
	tu_flip(seg, rec_off(seg, key) + REC_HDR_SIZE + strlen(key) + 3, 0x10);
}

/* Keys [0, n) hold their values, but @p bad is damaged and keys from
 * @p lost on are absent. */
static void expect_keys(struct cask_db *db, int n, int bad, int lost)
{
	char k[16], v[64];

	for (int i = 0; i < n; i++) {
		kv(k, v, i);
		if (i == bad)
			tu_expect_damaged(db, k);
		else
			tu_expect_str(db, k, i >= lost ? NULL : v);
	}
}

/* cask_verify() of @p dir says what open will do: @p damaged damaged
 * ranges, @p tail bytes of torn tail. */
static void expect_verify(const char *dir, uint64_t damaged, uint64_t tail)
{
	struct cask_verify_result res;

	assert_int_equal(cask_verify(dir, NULL, &res),
			 damaged ? CASK_ECORRUPT : 0);
	assert_int_equal(res.damaged, damaged);
	assert_int_equal(res.tail_bytes, tail);
}

/* Open @p dir read-write: keys as expect_keys() says, and the batch of
 * crash_write() absent (where a test writes one, it is cut); once
 * closed, @p copies files copied aside and segment 1 (@p seg) @p size
 * bytes long. */
static void open_expect(const char *dir, const char *seg, int bad, int lost,
			int copies, long long size)
{
	struct cask_options o = tu_opts(0);
	struct cask_db *db = tu_open(dir, &o);

	expect_keys(db, NKEYS, bad, lost);
	tu_expect_str(db, "b0", NULL);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_count_containing(dir, ".damaged"), copies);
	assert_int_equal(tu_file_size(seg), size);
}

/* A synced record damaged, then a crash and a reboot: the damage costs
 * that record only. */
static void test_synced_damage_after_reboot_costs_one_record(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	long long size;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "synced");
	crash_write(dir, NKEYS, NKEYS, false);
	tu_seg_path(seg, dir, 1, "cask");
	size = tu_file_size(seg);
	flip_value(seg, "s002");
	tu_reboot();
	expect_verify(dir, 1, 0);
	open_expect(dir, seg, 2, NKEYS, 0, size);
	/* Every open finds the same; new writes go to a new segment. */
	db = tu_open(dir, &o);
	tu_put_str(db, "new", "write");
	assert_int_equal(cask_close(db), 0);
	tu_reboot();
	open_expect(dir, seg, 2, NKEYS, 0, size);
	db = tu_open(dir, &o);
	tu_expect_str(db, "new", "write");
	assert_int_equal(cask_close(db), 0);
	tu_reboot_end();
	tu_rm_rf(dir);
}

/* After a reboot, damage past the last durable position may be a torn
 * write: from it on, the file is copied aside and cut; every record
 * written before the last fdatasync stays, and damage before it is
 * damage. */
static void test_synced_damage_past_durable_cut_after_reboot(void **state)
{
	char dir[TU_PATH], seg[TU_PATH], name[64], p[TU_PATH];
	long long size, off;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "synced");
	crash_write(dir, 5, NKEYS, false); /* s005.. are not synced */
	tu_seg_path(seg, dir, 1, "cask");
	size = tu_file_size(seg);
	off = rec_off(seg, "s007");
	flip_value(seg, "s007");
	flip_value(seg, "s001");
	tu_reboot();
	open_expect(dir, seg, 1, 7, 1, off);
	snprintf(name, sizeof(name), "0000000001.cask.damaged-%lld", off);
	tu_path(p, dir, name);
	assert_int_equal(tu_file_size(p), size - off);
	tu_reboot_end();
	tu_rm_rf(dir);
}

/* In the boot of the crashed writer, damage is damage whether its bytes
 * were synced or not: it costs the damaged record only. */
static void test_synced_damage_same_boot_costs_one_record(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	long long size;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "synced");
	crash_write(dir, 0, NKEYS, false); /* nothing synced */
	tu_seg_path(seg, dir, 1, "cask");
	size = tu_file_size(seg);
	flip_value(seg, "s002");
	expect_verify(dir, 1, 0);
	open_expect(dir, seg, 2, NKEYS, 0, size);
	tu_rm_rf(dir);
}

/* In the same boot the end of the file can still cut a write short (a
 * writer killed in the middle of it): that record, and the batch it
 * belongs to, are a torn tail, cut with no copy; damage before it is
 * damage. */
static void test_synced_damage_same_boot_torn_end_cut(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	long long batch, cut;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "synced");
	crash_write(dir, 0, NKEYS, true);
	tu_seg_path(seg, dir, 1, "cask");
	batch = rec_off(seg, "b0");
	cut = rec_off(seg, "b1") + 7;
	tu_truncate(seg, cut);
	flip_value(seg, "s002");
	expect_verify(dir, 1, (uint64_t)(cut - batch));
	open_expect(dir, seg, 2, NKEYS, 0, batch);
	tu_rm_rf(dir);
}

/* A synced record that claims more than the bytes before it (no writer
 * makes one) proves nothing: damage past the last true claim is still
 * taken for a torn write. */
static void test_synced_damage_claim_past_itself_ignored(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	uint8_t rec[REC_SYNCED_SIZE];
	long long recs[NKEYS + 1], off;
	int n, fd;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "synced");
	crash_write(dir, NKEYS, NKEYS, false);
	tu_seg_path(seg, dir, 1, "cask");
	n = synced_recs(seg, recs, NKEYS + 1);
	/* One before each put but the first (nothing was synced before
	 * it). */
	assert_int_equal(n, NKEYS - 1);
	off = rec_off(seg, "s009");
	assert_int_equal(recs[n - 1] + REC_SYNCED_SIZE, off);
	rec_encode_synced(rec, 1, (uint64_t)off + 100);
	fd = open(seg, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, rec, sizeof(rec), recs[n - 1]),
			 sizeof(rec));
	close(fd);
	flip_value(seg, "s009");
	tu_reboot();
	open_expect(dir, seg, -1, NKEYS - 1, 1, off);
	tu_reboot_end();
	tu_rm_rf(dir);
}

/* A store written before synced records existed has version 1 segment
 * headers: it opens, and its active segment gets none (a reader of that
 * version would take one for damage). */
static void test_synced_damage_version1_segment_unchanged(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	uint8_t hdr[SEG_HDR_SIZE];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	long long recs[4];
	int fd;

	(void)state;
	db = tu_open_new(dir, "synced", &o);
	assert_int_equal(cask_close(db), 0);
	tu_seg_path(seg, dir, 1, "cask");
	seg_header_encode_version(hdr, 1, 1);
	fd = open(seg, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	close(fd);
	crash_write(dir, NKEYS, NKEYS, false);
	assert_int_equal(synced_recs(seg, recs, 4), 0);
	open_expect(dir, seg, -1, NKEYS, 0, tu_file_size(seg));
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_synced_damage_after_reboot_costs_one_record),
		cmocka_unit_test(
			test_synced_damage_past_durable_cut_after_reboot),
		cmocka_unit_test(test_synced_damage_same_boot_costs_one_record),
		cmocka_unit_test(test_synced_damage_same_boot_torn_end_cut),
		cmocka_unit_test(test_synced_damage_claim_past_itself_ignored),
		cmocka_unit_test(test_synced_damage_version1_segment_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
