/*
 * test_reserve.c - the space reserve (kv/src/reserve.c) on a full disk,
 * simulated through the I/O seam: a disk of a fixed number of bytes on
 * which every file of the store directory counts with its size, so that a
 * write or fallocate past it fails with ENOSPC and removing or truncating
 * a file gives its bytes back. Deletes succeed on a completely full store,
 * ordinary writes cannot take the space the reserve left, merge completes
 * (one input at a time) and frees space although it has no room for all
 * the live records at once, and the reserve comes back. Held space
 * (kv/src/hold.c) on the same disk: what cask_hold() set aside stays for
 * the commits that spend it, however full the disk gets, and across a
 * reopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#define SEG	(16u << 10)
#define RESERVE (32u << 10)
#define VLEN	1000

/* --- the disk model --- */

static struct {
	pthread_mutex_t mu;
	char dir[TU_PATH];
	long long cap;
} disk = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Bytes of every file in the store directory. */
static long long disk_used(void)
{
	DIR *d = opendir(disk.dir);
	struct dirent *e;
	long long n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		struct stat st;

		if (!fstatat(dirfd(d), e->d_name, &st, 0) &&
		    S_ISREG(st.st_mode))
			n += st.st_size;
	}
	closedir(d);
	return n;
}

/* 0 if the file of @p fd may grow to @p end bytes, else -ENOSPC. Holds
 * disk.mu. */
static int disk_grow(int fd, long long end)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	if (end > st.st_size && disk_used() + end - st.st_size > disk.cap)
		return -ENOSPC;
	return 0;
}

static ssize_t m_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	long long end = off;
	ssize_t rc;

	for (int i = 0; i < cnt; i++)
		end += (long long)iov[i].iov_len;
	pthread_mutex_lock(&disk.mu);
	rc = disk_grow(fd, end);
	if (!rc)
		rc = io_default_ops.pwritev(fd, iov, cnt, off);
	pthread_mutex_unlock(&disk.mu);
	return rc;
}

static int m_fallocate(int fd, off_t len)
{
	int rc;

	pthread_mutex_lock(&disk.mu);
	rc = disk_grow(fd, len);
	if (!rc)
		rc = io_default_ops.fallocate(fd, len);
	pthread_mutex_unlock(&disk.mu);
	return rc;
}

static struct io_ops disk_ops;

static void disk_install(const char *dir, long long cap)
{
	snprintf(disk.dir, sizeof(disk.dir), "%s", dir);
	disk.cap = cap;
	disk_ops = io_default_ops;
	disk_ops.pwritev = m_pwritev;
	disk_ops.fallocate = m_fallocate;
	io_set_ops(&disk_ops);
}

static void disk_set_cap(long long cap)
{
	pthread_mutex_lock(&disk.mu);
	disk.cap = cap;
	pthread_mutex_unlock(&disk.mu);
}

/* --- helpers --- */

/* The log, to see which way merge went. */
static char logbuf[8192];

static void keep_log(void *arg, const char *msg)
{
	size_t n = strlen(logbuf);

	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static struct cask_options opts(void)
{
	struct cask_options o = tu_opts(SEG);

	o.reserve_bytes = RESERVE;
	o.log = keep_log;
	logbuf[0] = '\0';
	return o;
}

static uint64_t reserve_of(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	return st.reserve_bytes;
}

static void key_of(char *k, int i)
{
	snprintf(k, 16, "key%05d", i);
}

static void val_of(char *v, int i)
{
	memset(v, 'a' + i % 26, VLEN);
}

/* Records of one byte of key until one fails. @return how many landed. */
static int pad(struct cask_db *db)
{
	int n = 0, rc;

	while (!(rc = cask_put(db, "p", 1, "", 0)))
		n++;
	assert_int_equal(rc, -ENOSPC);
	return n;
}

/*
 * Put keys 0, 1, ... until the disk is full, then the smallest record
 * there is until not even that fits (no tombstone does then). The
 * background thread may free space (a hint file it could not write), so
 * that is repeated once it is idle until nothing more fits.
 * @return how many keys with values.
 */
static int fill(struct cask_db *db)
{
	struct cask_merge_options idle = {.wait = true};
	char k[16], v[VLEN];
	int n = 0, rc;

	for (;; n++) {
		key_of(k, n);
		val_of(v, n);
		rc = cask_put(db, k, strlen(k), v, VLEN);
		if (rc)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	do
		assert_int_equal(cask_merge(db, &idle), 0);
	while (pad(db) > 0);
	return n;
}

/* Keys [0, n): the even ones hold their value, the odd ones are gone. */
static void expect_evens(struct cask_db *db, int n)
{
	char k[16], v[VLEN];

	for (int i = 0; i < n; i++) {
		key_of(k, i);
		val_of(v, i);
		tu_expect(db, k, strlen(k), i % 2 ? NULL : v, VLEN);
	}
}

/* --- tests --- */

static void test_reserve_delete_merge_on_full_store(void **state)
{
	struct cask_merge_options mo = tu_merge_all();
	struct cask_options o = opts();
	struct cask_batch *b;
	char dir[TU_PATH], path[TU_PATH], k[16];
	long long full_used;
	struct cask_db *db;
	int n;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "reserve");
	/* Merged inputs would be kept an hour; a full disk cannot wait. */
	o.merge_keep_ms = 3600 * 1000;
	disk_install(dir, 320 << 10);
	db = tu_open(dir, &o);
	assert_int_equal(reserve_of(db), RESERVE);
	n = fill(db);
	assert_true(n > 200);
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	full_used = disk_used();

	/* Deletes go through on the full store, on the reserve's space. */
	for (int i = 1; i < n; i += 2) {
		key_of(k, i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	assert_int_equal(reserve_of(db), 0);
	assert_non_null(strstr(logbuf, "space reserve given up"));
	/* That space is not for ordinary writes... */
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	/* ...but is for a batch marked as freeing space. */
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "note", 4, "freed", 5), 0);
	assert_int_equal(cask_batch_commit(b, 0), -ENOSPC);
	assert_int_equal(cask_batch_commit(b, CASK_COMMIT_FREES), 0);
	cask_batch_free(b);

	/* Half of every segment is live: no room to copy it all at once,
	 * so merge goes one segment at a time, and frees space. */
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_non_null(strstr(logbuf, "one segment at a time"));
	assert_int_equal(reserve_of(db), RESERVE);
	assert_true(disk_used() < full_used - (96 << 10));
	expect_evens(db, n);
	tu_expect_str(db, "note", "freed");
	tu_put_str(db, "x", "y");
	assert_int_equal(cask_close(db), 0);

	db = tu_open(dir, &o);
	assert_int_equal(reserve_of(db), RESERVE);
	expect_evens(db, n);
	tu_expect_str(db, "x", "y");
	assert_int_equal(cask_close(db), 0);
	io_set_ops(NULL);
	tu_path(path, dir, "RESERVE");
	assert_int_equal(tu_file_size(path), RESERVE);
	assert_int_equal(cask_verify(dir, NULL, NULL), 0);
	tu_rm_rf(dir);
}

static void test_reserve_back_when_space_returns(void **state)
{
	struct cask_options o = opts();
	char dir[TU_PATH], k[16];
	struct cask_db *db;
	int n;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "reserve");
	disk_install(dir, 160 << 10);
	db = tu_open(dir, &o);
	n = fill(db);
	key_of(k, n - 1);
	assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	assert_int_equal(reserve_of(db), 0);
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	/* Space freed beside the store: the next write takes the reserve
	 * back first, then writes. */
	disk_set_cap(256 << 10);
	tu_put_str(db, "x", "y");
	assert_int_equal(reserve_of(db), RESERVE);
	assert_int_equal(cask_close(db), 0);
	io_set_ops(NULL);
	tu_rm_rf(dir);
}

static void test_reserve_none(void **state)
{
	struct cask_options o = opts();
	char dir[TU_PATH], path[TU_PATH], k[16];
	struct cask_db *db;
	int n;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "reserve");
	tu_path(path, dir, "RESERVE");
	db = tu_open(dir, &o);
	assert_int_equal(cask_close(db), 0);
	assert_true(tu_exists(path));
	/* Turned off: the file goes, and a full disk takes no delete. */
	o.reserve_bytes = 0;
	disk_install(dir, 128 << 10);
	db = tu_open(dir, &o);
	assert_false(tu_exists(path));
	assert_int_equal(reserve_of(db), 0);
	n = fill(db);
	key_of(k, n - 1);
	assert_int_equal(cask_delete(db, k, strlen(k)), -ENOSPC);
	assert_int_equal(cask_close(db), 0);
	io_set_ops(NULL);
	tu_rm_rf(dir);
}

static uint64_t held_of(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	return st.held_bytes;
}

/* A batch of one value of @p vlen bytes that spends @p unhold held bytes.
 * @return the commit's result. */
static int paid_put(struct cask_db *db, const char *key, size_t vlen,
		    uint64_t unhold)
{
	struct cask_batch *b;
	char *v = calloc(1, vlen);
	int rc;

	assert_non_null(v);
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, key, strlen(key), v, vlen), 0);
	cask_batch_unhold(b, unhold);
	rc = cask_batch_commit(b, 0);
	cask_batch_free(b);
	free(v);
	return rc;
}

static void test_hold_spent_on_a_full_disk(void **state)
{
	struct cask_options o = opts();

	/* One segment: no rotation, and no hint file written beside the
	 * writes, takes the room they were given. */
	o.segment_size = 1 << 20;
	char dir[TU_PATH], path[TU_PATH];
	struct cask_db *db;
	uint64_t h;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hold");
	tu_path(path, dir, "HELD");
	disk_install(dir, 320 << 10);
	db = tu_open(dir, &o);
	assert_int_equal(held_of(db), 0);
	assert_false(tu_exists(path)); /* made by the first cask_hold() */
	/* More than the disk has: nothing is set aside. */
	assert_int_equal(cask_hold(db, 1 << 20), -ENOSPC);
	assert_int_equal(held_of(db), 0);
	assert_int_equal(cask_hold(db, 40 << 10), 0);
	assert_int_equal(cask_hold(db, 24 << 10), 0);
	assert_int_equal(held_of(db), 64 << 10);
	assert_int_equal(tu_file_size(path), 64 << 10);
	fill(db);
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	assert_int_equal(held_of(db), 64 << 10);

	/* A write that spends less than it needs fails, and the held bytes
	 * are held again. */
	assert_int_equal(paid_put(db, "big", 12 << 10, 4 << 10), -ENOSPC);
	h = held_of(db);
	assert_int_equal(h, 64 << 10);
	/* Paid for: it finds the room on the full disk. */
	assert_int_equal(paid_put(db, "paid1", 12 << 10, 16 << 10), 0);
	assert_int_equal(held_of(db), h - (16 << 10));
	assert_int_equal(cask_close(db), 0);

	/* Held across a reopen: the size of HELD. */
	db = tu_open(dir, &o);
	assert_int_equal(held_of(db), h - (16 << 10));
	while (held_of(db) >= 4 << 10)
		assert_int_equal(paid_put(db, "paid2", 2 << 10, 4 << 10), 0);
	assert_int_equal(cask_unhold(db, 4 << 10), 0);
	assert_int_equal(held_of(db), 0);
	assert_int_equal(cask_close(db), 0);
	io_set_ops(NULL);
	assert_int_equal(tu_file_size(path), 0);
	assert_int_equal(cask_verify(dir, NULL, NULL), 0);
	tu_rm_rf(dir);
}

static void test_hold_given_back(void **state)
{
	struct cask_options o = opts(), ro;
	char dir[TU_PATH], path[TU_PATH];
	struct cask_batch *b;
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hold");
	tu_path(path, dir, "HELD");
	db = tu_open(dir, &o);
	assert_int_equal(cask_hold(db, 100 << 10), 0);
	assert_int_equal(cask_unhold(db, 30 << 10), 0);
	assert_int_equal(held_of(db), 70 << 10);
	/* An empty batch gives back without writing. */
	assert_int_equal(cask_batch_new(db, &b), 0);
	cask_batch_unhold(b, 20 << 10);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	assert_int_equal(held_of(db), 50 << 10);
	/* Cleared, it gives back nothing. */
	cask_batch_unhold(b, 20 << 10);
	cask_batch_clear(b);
	tu_put_str(db, "k", "v");
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	assert_int_equal(held_of(db), 50 << 10);
	/* At most what is held. */
	assert_int_equal(cask_unhold(db, 1 << 20), 0);
	assert_int_equal(held_of(db), 0);
	assert_int_equal(cask_hold(db, 8 << 10), 0);
	assert_int_equal(cask_close(db), 0);

	ro = o;
	ro.read_only = true;
	db = tu_open(dir, &ro);
	assert_int_equal(held_of(db), 8 << 10);
	assert_int_equal(cask_hold(db, 1), CASK_EREADONLY);
	assert_int_equal(cask_unhold(db, 1), CASK_EREADONLY);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(path), 8 << 10);
	tu_rm_rf(dir);
}

/* A HELD with holes (a sparse copy: rsync -S) holds nothing: the open
 * allocates it again. It took the size for held bytes. */
static void test_hold_sparse_allocated(void **state)
{
	struct cask_options o = opts();
	char dir[TU_PATH], path[TU_PATH];
	struct cask_db *db;
	struct stat st;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "sparse");
	tu_path(path, dir, "HELD");
	db = tu_open(dir, &o);
	assert_int_equal(cask_hold(db, 64 << 10), 0);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(truncate(path, 0), 0); /* as rsync -S leaves it */
	assert_int_equal(truncate(path, 64 << 10), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < (64 << 10));
	db = tu_open(dir, &o);
	assert_int_equal(held_of(db), 64 << 10);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= (64 << 10));
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_delete_merge_on_full_store),
		cmocka_unit_test(test_reserve_back_when_space_returns),
		cmocka_unit_test(test_reserve_none),
		cmocka_unit_test(test_hold_spent_on_a_full_disk),
		cmocka_unit_test(test_hold_given_back),
		cmocka_unit_test(test_hold_sparse_allocated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
