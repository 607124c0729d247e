/*
 * test_fs_shrink_readers.c - readers beside operations that delete a
 * file's chunks below its old size (run under TSan in CI): a truncate to
 * an inline size, to a smaller chunked size, an open with O_TRUNC, and a
 * hole punch. Readers come in while most commits are written and see
 * memory as before the operation; had they come in during these, they
 * would read the old size over chunks already gone, zeros the file never
 * held. The writer fills a file with 'A's and shrinks or punches it, in a
 * loop; a reader reads it whole all along and checks what it reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include <cask.h>

#define CS  4096u
#define INL 1024u
#include "../fs/fs_fixture.h"

#define FILL	(3 * CS)
#define SECONDS 2
#define SHRUNK	(CS + CS / 2) /* chunked still: shrink(), not to_inline() */

enum op {
	OP_TRUNCATE0,
	OP_SHRINK,
	OP_O_TRUNC,
	OP_PUNCH,
	OPS
};

struct race {
	struct t *t;
	struct fs_file *fh;
	bool punch; /* the file holds all 'A's or all zeros */
	atomic_bool stop;
	long reads, torn;
};

/* Whether @p b (@p n bytes from 0) is a state the file held. A write of
 * 'A's over a punched file may be read in part (each chunk is read from
 * the store on its own: zeros then 'A's); a punch must not (zeros after
 * 'A's), nor may a truncate (any zero). */
static bool whole(const char *b, ssize_t n, bool punch)
{
	bool seen_a = false;

	for (ssize_t i = 0; i < n; i++) {
		if (b[i] == 'A')
			seen_a = true;
		else if (b[i] != 0 || seen_a || !punch)
			return false;
	}
	return true;
}

static void *reader(void *arg)
{
	struct race *r = arg;
	char *b = malloc(FILL);

	assert_non_null(b);
	while (!atomic_load(&r->stop)) {
		ssize_t n = fs_read(r->t->fs, r->fh, b, FILL, 0);

		assert_true(n >= 0);
		r->reads++;
		if (!whole(b, n, r->punch))
			r->torn++;
	}
	free(b);
	return NULL;
}

static void shrink_once(struct t *t, struct fs_file *fh, uint64_t ino,
			enum op op)
{
	struct stat sz = {.st_size = op == OP_SHRINK ? SHRUNK : 0}, st;
	struct fs_file *tfh;

	switch (op) {
	case OP_TRUNCATE0:
	case OP_SHRINK:
		assert_int_equal(
			fs_setattr(t->fs, ino, &sz, FS_SET_SIZE, fh, &st), 0);
		break;
	case OP_O_TRUNC:
		assert_int_equal(fs_open(t->fs, ino, O_RDWR | O_TRUNC, &tfh),
				 0);
		assert_int_equal(fs_release(t->fs, tfh), 0);
		break;
	case OP_PUNCH:
		assert_int_equal(
			fs_fallocate(t->fs, fh,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     0, FILL),
			0);
		break;
	case OPS:
		break;
	}
}

/* Fill and shrink (or punch) for SECONDS with a reader beside. */
static void race(struct t *t, bool punch)
{
	struct race r = {.t = t, .punch = punch};
	char *a = malloc(FILL);
	time_t end = time(NULL) + SECONDS;
	struct stat st;
	pthread_t th;
	long rounds = 0;

	assert_non_null(a);
	memset(a, 'A', FILL);
	assert_int_equal(fs_create(t->fs, FS_ROOT_INO, punch ? "p" : "f", 0644,
				   &t->cred, O_RDWR, &st, &r.fh),
			 0);
	assert_int_equal(pthread_create(&th, NULL, reader, &r), 0);
	while (time(NULL) < end) {
		assert_int_equal(fs_write(t->fs, r.fh, a, FILL, 0), FILL);
		assert_int_equal(fs_flush(t->fs, r.fh), 0);
		shrink_once(t, r.fh, st.st_ino,
			    punch ? OP_PUNCH : (enum op)(rounds % OP_PUNCH));
		rounds++;
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	printf("%s: %ld rounds, %ld reads, %ld torn\n",
	       punch ? "punch" : "truncate", rounds, r.reads, r.torn);
	assert_int_equal(r.torn, 0);
	assert_int_equal(fs_release(t->fs, r.fh), 0);
	free(a);
}

static void test_fs_shrink_readers_truncate(void **state)
{
	race(*state, false);
}

static void test_fs_shrink_readers_punch(void **state)
{
	race(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_shrink_readers_truncate,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_shrink_readers_punch,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
