/*
 * test_fs_resv.c - the space fallocate reserves (fs/resv.c), through fs/
 * without a mount: mode 0 holds room for each hole of its range
 * (libcask's held bytes), no more than the file has holes; storing a
 * chunk into a hole spends its share, a shrinking truncate, an unlink and
 * the last release of an unlinked file give theirs back; KEEP_SIZE and an
 * inline file reserve nothing; a fallocate that cannot hold or commit
 * changes nothing; a merge keeps the counts; and a mount evens the held
 * bytes out with the files' reservations (as after a crash between the
 * two). Small chunks (4 KiB, inline up to 1 KiB) keep tests fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include <cask.h>

#define CS  4096u
#define INL 1024u
#include "fs_fixture.h"

#include "test_util.h"

/* Held bytes, in reserved chunks' shares. */
static uint64_t held(struct t *t)
{
	uint64_t cost = t->fs->chunk_size + t->fs->resv_slack;

	assert_int_equal(gw_held(t->fs) % cost, 0);
	return gw_held(t->fs) / cost;
}

static void truncate_to(struct t *t, uint64_t ino, uint64_t size)
{
	struct stat in = {.st_size = (off_t)size}, out;

	assert_int_equal(fs_setattr(t->fs, ino, &in, FS_SET_SIZE, NULL, &out),
			 0);
}

static void test_fs_resv_follows_the_holes(void **state)
{
	struct t *t = *state;
	static char w[2 * CS];
	struct fs_file *fh;
	uint64_t ino;

	fh = create(t, "f", &ino);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 10 * CS), 0);
	assert_int_equal(size_of(t, ino), 10 * CS);
	assert_int_equal(held(t), 10);
	/* No more than the file has holes. */
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 2 * CS, 4 * CS), 0);
	assert_int_equal(held(t), 10);
	/* Stored chunks spend their share at their commit. */
	memset(w, 'a', sizeof(w));
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(held(t), 8);
	assert_int_equal(fs_write(t->fs, fh, "b", 1, 5 * CS + 10), 1);
	assert_int_equal(fs_flush(t->fs, fh), 0);
	assert_int_equal(held(t), 7);
	/* Overwrites, holes punched and KEEP_SIZE change nothing. */
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(
		fs_fallocate(t->fs, fh,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			     2 * CS),
		0);
	assert_int_equal(
		fs_fallocate(t->fs, fh, FALLOC_FL_KEEP_SIZE, 0, 20 * CS), 0);
	assert_int_equal(size_of(t, ino), 10 * CS);
	assert_int_equal(held(t), 7);
	/* A shrinking truncate gives back what passes the holes left. */
	truncate_to(t, ino, 4 * CS);
	assert_int_equal(held(t), 4);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(held(t), 4);
	/* Growing: the new holes are reserved too. */
	assert_int_equal(fs_open(t->fs, ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 4 * CS, 2 * CS), 0);
	assert_int_equal(size_of(t, ino), 6 * CS);
	assert_int_equal(held(t), 6);
	/* Unlinked while open: held until the last release. */
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "f"), 0);
	assert_int_equal(held(t), 6);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(held(t), 0);
}

static void test_fs_resv_unlink_and_inline(void **state)
{
	struct t *t = *state;
	struct fs_file *fh;
	uint64_t ino;

	/* An inline file's content is in its record: nothing to hold. */
	fh = create(t, "small", &ino);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, INL), 0);
	assert_int_equal(size_of(t, ino), INL);
	assert_int_equal(held(t), 0);
	/* Past inline_max it is chunked: chunk 0 holds the inline bytes,
	 * the other two are holes. */
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 3 * CS), 0);
	assert_int_equal(held(t), 2);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "small"), 0);
	assert_int_equal(held(t), 0);
	/* Truncated to inline size: no chunk, no hole. */
	fh = create(t, "g", &ino);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 3 * CS), 0);
	assert_int_equal(held(t), 3);
	truncate_to(t, ino, 10);
	assert_int_equal(held(t), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_fs_resv_failed_fallocate_holds_nothing(void **state)
{
	struct t *t = *state;
	struct fs_file *fh;
	uint64_t ino;

	fh = create(t, "f", &ino);
	/* More than any disk: ENOSPC, not EFBIG (the size is fine). */
	assert_int_equal(
		fs_fallocate(t->fs, fh, 0, 0, (uint64_t)INT64_MAX - CS),
		-ENOSPC);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 1ull << 50), -ENOSPC);
	assert_int_equal(size_of(t, ino), 0);
	assert_int_equal(held(t), 0);
	/* Held, then the commit fails: given back. */
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, true, NULL);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 8 * CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(held(t), 0);
	assert_int_equal(size_of(t, ino), 0);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 8 * CS), 0);
	assert_int_equal(held(t), 8);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

/* HELD's size and the reservations out of step (a crash between a
 * commit and HELD's cut, or a HELD lost in a copy): the mount evens them
 * out. */
static void test_fs_resv_mount_evens_out(void **state)
{
	struct t *t = *state;
	char path[4300];
	struct fs_file *fh;
	uint64_t ino;

	fh = create(t, "f", &ino);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 5 * CS), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	snprintf(path, sizeof(path), "%s/HELD", t->store);
	assert_int_equal(truncate(path, 0), 0);
	reopen(t);
	assert_int_equal(held(t), 5);
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	assert_int_equal(truncate(path, 100 * CS), 0);
	reopen(t);
	assert_int_equal(held(t), 5);
}

/* A merge copies the counts like any live key: the next mount holds as
 * much as before. */
static void test_fs_resv_survives_merge(void **state)
{
	struct cask_merge_options mo = {.all = true, .wait = true};
	struct t *t = *state;
	struct fs_file *fh;
	uint64_t ino;

	fh = create(t, "f", &ino);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 5 * CS), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(cask_merge(t->fs->db, &mo), 0);
	reopen(t);
	assert_int_equal(held(t), 5);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fs_resv_follows_the_holes),
		T(test_fs_resv_unlink_and_inline),
		T(test_fs_resv_failed_fallocate_holds_nothing),
		T(test_fs_resv_mount_evens_out),
		T(test_fs_resv_survives_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
