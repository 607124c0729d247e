/*
 * test_storedir.c - only our own files (kv/src/storedir.c, recover.c): a
 * directory holding a file libcask did not create is refused by every
 * open (CASK_ENOTSTORE, the log naming the file) and by cask_verify, and
 * nothing is written into it; a user's file named like a segment is
 * never removed, only a provably torn creation is completed; empty and missing
 * directories and lost+found are fine; a store carries its STORE marker,
 * and a store without one (older) still opens and gets one; cask_destroy
 * removes a store's files and nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

static void write_file(const char *dir, const char *name, const void *buf,
		       size_t len)
{
	char p[TU_PATH];
	int fd;

	tu_path(p, dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void expect_file(const char *dir, const char *name, const void *buf,
			size_t len)
{
	char p[TU_PATH], got[256];
	int fd;

	tu_path(p, dir, name);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, buf, len);
	close(fd);
}

/* A store in @p dir holding "k" = "v". */
static void make_store(const char *dir)
{
	struct cask_options o = tu_opts(0);
	struct cask_db *db = tu_open(dir, &o);

	tu_put_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Every kind of open fails with CASK_ENOTSTORE, names @p what in the
 * log, and leaves @p dir with its @p n entries. */
static void expect_refused(const char *dir, const char *what, int n)
{
	for (int ro = 0; ro < 2; ro++) {
		struct tu_logbuf l = {.n = 0};
		struct cask_options o = tu_opts(0);
		struct cask_db *db = (void *)1;

		o.read_only = ro;
		o.log = tu_log_keep;
		o.log_arg = &l;
		assert_int_equal(cask_open(dir, &o, &db), CASK_ENOTSTORE);
		assert_null(db);
		assert_non_null(strstr(l.text, what));
		assert_int_equal(entries(dir), n);
	}
}

static void test_storedir_foreign_file_refused(void **state)
{
	char dir[TU_PATH];
	struct cask_verify_result r;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "storedir");
	write_file(dir, "notes.txt", "hello", 5);
	expect_refused(dir, "notes.txt", 1);
	expect_file(dir, "notes.txt", "hello", 5);
	assert_int_equal(cask_verify(dir, NULL, &r), CASK_ENOTSTORE);
	/* The same file next to a real store. */
	tu_rm_rf(dir);
	tu_tmpdir(dir, sizeof(dir), "storedir");
	make_store(dir);
	{
		char p[TU_PATH];

		tu_path(p, dir, "photos");
		assert_int_equal(mkdir(p, 0755), 0);
	}
	expect_refused(dir, "photos", entries(dir));
	assert_int_equal(cask_verify(dir, NULL, &r), CASK_ENOTSTORE);
	tu_rm_rf(dir);
}

/* A 2-byte user file named like the newest segment is not a torn
 * creation: not removed, the store is not opened. */
static void test_storedir_user_segment_name_kept(void **state)
{
	char dir[TU_PATH];

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "storedir");
	write_file(dir, "0000000001.cask", "hi", 2);
	expect_refused(dir, "0000000001.cask", 1);
	expect_file(dir, "0000000001.cask", "hi", 2);
	/* Longer, with no segment header and no record in it. */
	write_file(dir, "0000000001.cask",
		   "forty bytes of a user's file, not a cask", 40);
	expect_refused(dir, "0000000001.cask", 1);
	tu_rm_rf(dir);
}

/* What a crash while creating a segment leaves, the first bytes of its
 * header, is completed in place by a writable open, and only then (never
 * removed: the newest segment must stay the active one). */
static void test_storedir_torn_creation_completed(void **state)
{
	char dir[TU_PATH], seg[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "storedir");
	make_store(dir);
	write_file(dir, "0000000002.cask", "CASKSEG1\x01\x00", 10);
	tu_seg_path(seg, dir, 2, "cask");
	o.read_only = true;
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), 10);
	o.read_only = false;
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), 32); /* its header, completed */
	tu_rm_rf(dir);
}

static void test_storedir_empty_missing_lost_found(void **state)
{
	char base[TU_PATH], dir[TU_PATH], p[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(base, sizeof(base), "storedir");
	tu_path(dir, base, "new");
	db = tu_open(dir, &o); /* missing: created */
	assert_int_equal(cask_close(db), 0);
	tu_path(p, dir, "STORE");
	assert_true(tu_exists(p));
	tu_path(dir, base, "lf");
	assert_int_equal(mkdir(dir, 0755), 0);
	tu_path(p, dir, "lost+found");
	assert_int_equal(mkdir(p, 0700), 0);
	db = tu_open(dir, &o);
	tu_put_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(base);
}

/* A store from before the marker opens; a writable open adds it. A
 * STORE that is not ours is refused. */
static void test_storedir_marker(void **state)
{
	char dir[TU_PATH], p[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "storedir");
	make_store(dir);
	tu_path(p, dir, "STORE");
	assert_int_equal(unlink(p), 0);
	o.read_only = true;
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	assert_false(tu_exists(p));
	o.read_only = false;
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	assert_true(tu_exists(p));
	write_file(dir, "STORE", "my store", 8);
	expect_refused(dir, "STORE", entries(dir));
	expect_file(dir, "STORE", "my store", 8);
	tu_rm_rf(dir);
}

/* cask_close_destroy removes the store only if its open made it: a new
 * one goes with its directory; a reopened one (keys from another open) is
 * only closed, and another process never got in between. */
static void test_storedir_close_destroy(void **state)
{
	char base[TU_PATH], dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	int k = 1;
	size_t n;

	(void)state;
	tu_tmpdir(base, sizeof(base), "storedir");
	tu_path(dir, base, "store");
	db = tu_open(dir, &o);
	assert_int_equal(cask_put(db, &k, sizeof(k), "v", 1), 0);
	assert_int_equal(cask_close_destroy(db), 0);
	assert_false(tu_exists(dir));

	db = tu_open(dir, &o);
	assert_int_equal(cask_put(db, &k, sizeof(k), "v", 1), 0);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	assert_int_equal(cask_close_destroy(db), CASK_EINVAL);
	db = tu_open(dir, &o);
	assert_int_equal(cask_get(db, &k, sizeof(k), NULL, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(cask_close_destroy(NULL), 0);
	tu_rm_rf(base);
}

/* cask_destroy removes a store's files and its directory, and nothing
 * that is not libcask's. */
static void test_storedir_destroy(void **state)
{
	char base[TU_PATH], dir[TU_PATH], p[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	char v[1000] = {0};

	(void)state;
	tu_tmpdir(base, sizeof(base), "storedir");
	tu_path(dir, base, "store");
	/* Segments, hints (a sealed one), RESERVE, HELD, STORE, CLOSED,
	 * LOCK. */
	db = tu_open(dir, &o);
	for (int i = 0; i < 20; i++)
		assert_int_equal(cask_put(db, &i, sizeof(i), v, sizeof(v)), 0);
	assert_int_equal(cask_hold(db, 4096), 0);
	/* Open: refused, nothing removed. */
	assert_int_equal(cask_destroy(dir), CASK_ELOCKED);
	assert_true(tu_exists(dir));
	assert_int_equal(cask_close(db), 0);
	int n = entries(dir);
	assert_true(n > 4);
	/* A user's file in it: refused, nothing removed. */
	write_file(dir, "notes.txt", "hello", 5);
	assert_int_equal(cask_destroy(dir), CASK_ENOTSTORE);
	assert_int_equal(entries(dir), n + 1);
	tu_path(p, dir, "notes.txt");
	assert_int_equal(unlink(p), 0);
	/* lost+found stays, and the directory with it. */
	tu_path(p, dir, "lost+found");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(cask_destroy(dir), 0);
	assert_int_equal(entries(dir), 1);
	assert_int_equal(rmdir(p), 0);
	make_store(dir);
	assert_int_equal(cask_destroy(dir), 0);
	assert_false(tu_exists(dir));
	assert_int_equal(cask_destroy(dir), -ENOENT);
	tu_rm_rf(base);
}

/* A FIFO or a link named like a segment is not libcask's: every open is
 * refused, naming it, without waiting on the FIFO or reading (or cutting)
 * another store's segment through the link. */
static void test_storedir_fifo_and_link_refused(void **state)
{
	char base[TU_PATH], dir[TU_PATH], other[TU_PATH], p[TU_PATH];
	char target[TU_PATH];
	long long size;

	(void)state;
	tu_tmpdir(base, sizeof(base), "storedir");
	tu_path(dir, base, "store");
	tu_path(other, base, "other");
	make_store(dir);
	make_store(other);
	tu_path(p, dir, "0000000009.cask");
	assert_int_equal(mkfifo(p, 0644), 0);
	alarm(20); /* a hang fails the test */
	expect_refused(dir, "0000000009.cask", entries(dir));
	assert_int_equal(cask_destroy(dir), CASK_ENOTSTORE);
	alarm(0);
	assert_int_equal(unlink(p), 0);

	/* Only the link: it would be taken for the active segment. */
	tu_rm_rf(dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	tu_seg_path(target, other, tu_seg_id(other, "cask", true), "cask");
	tu_path(p, other, "CLOSED");
	assert_int_equal(unlink(p), 0);
	size = tu_file_size(target);
	tu_path(p, dir, "0000000001.cask");
	assert_int_equal(symlink(target, p), 0);
	expect_refused(dir, "0000000001.cask", 1);
	assert_int_equal(cask_destroy(dir), CASK_ENOTSTORE);
	assert_int_equal(tu_file_size(target), size);
	tu_rm_rf(base);
}

/* cask_destroy against what happens meanwhile: a user's file that appears
 * while it takes the lock stays (and is reported); a store file another
 * process removes first is no failure. */
static char g_destroy_dir[TU_PATH];

static int open_adds_user_file(int dirfd, const char *name, int flags,
			       mode_t mode)
{
	if (!strcmp(name, "LOCK"))
		write_file(g_destroy_dir, "notes.txt", "hello", 5);
	return io_default_ops.open(dirfd, name, flags, mode);
}

static int unlink_races(int dirfd, const char *name)
{
	int rc = io_default_ops.unlinkat(dirfd, name);

	return rc ? rc : -ENOENT; /* as if removed by another process */
}

static void test_storedir_destroy_races(void **state)
{
	struct io_ops ops = io_default_ops;
	char base[TU_PATH], p[TU_PATH];

	(void)state;
	tu_tmpdir(base, sizeof(base), "storedir");
	tu_path(g_destroy_dir, base, "store");
	make_store(g_destroy_dir);
	ops.open = open_adds_user_file;
	io_set_ops(&ops);
	assert_int_equal(cask_destroy(g_destroy_dir), CASK_ENOTSTORE);
	io_set_ops(NULL);
	expect_file(g_destroy_dir, "notes.txt", "hello", 5);
	tu_path(p, g_destroy_dir, "notes.txt");
	assert_int_equal(unlink(p), 0);

	ops = io_default_ops;
	ops.unlinkat = unlink_races;
	io_set_ops(&ops);
	assert_int_equal(cask_destroy(g_destroy_dir), 0);
	io_set_ops(NULL);
	assert_false(tu_exists(g_destroy_dir));
	tu_rm_rf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storedir_foreign_file_refused),
		cmocka_unit_test(test_storedir_user_segment_name_kept),
		cmocka_unit_test(test_storedir_torn_creation_completed),
		cmocka_unit_test(test_storedir_empty_missing_lost_found),
		cmocka_unit_test(test_storedir_marker),
		cmocka_unit_test(test_storedir_destroy),
		cmocka_unit_test(test_storedir_close_destroy),
		cmocka_unit_test(test_storedir_fifo_and_link_refused),
		cmocka_unit_test(test_storedir_destroy_races),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
