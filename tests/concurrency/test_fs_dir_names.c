/*
 * test_fs_dir_names.c - a directory's place (parent and name) learned by
 * a reader while another reader builds a path through it (run under TSan
 * in CI). A directory loaded by number (getattr) enters the inode table
 * without a name; the first lookup of it by name gives it one, under the
 * read side of fs->lock like the path walks of other readers: the walk
 * must see the name and parent published together, never the name with
 * the parent not yet set (a spurious ESTALE), and TSan must see no race.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include <cask.h>

#include "../fs/fs_fixture.h"

#define DIRS 200

struct walk {
	struct t *t;
	uint64_t ino[DIRS];
	atomic_int named; /* directories the namer has named */
	long stale;	  /* lookups in a named directory that said ESTALE */
};

/* Load each directory nameless, then name it by a lookup. */
static void *namer(void *arg)
{
	struct walk *w = arg;
	char name[16];
	struct stat st;

	for (int i = 0; i < DIRS; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		assert_int_equal(fs_getattr(w->t->fs, w->ino[i], &st), 0);
		assert_int_equal(fs_lookup(w->t->fs, FS_ROOT_INO, name, &st),
				 0);
		atomic_store(&w->named, i + 1);
	}
	return NULL;
}

/* As soon as a directory is in the table, look up its entry "x" until
 * the directory has its name. */
static void *walker(void *arg)
{
	struct walk *w = arg;
	struct fs *fs = w->t->fs;
	struct stat st;
	bool done;
	int err;

	for (int i = 0; i < DIRS; i++) {
		while (!itable_find(fs, w->ino[i]))
			;
		do {
			done = atomic_load(&w->named) > i;
			err = fs_lookup(fs, w->ino[i], "x", &st);
		} while (err == -ESTALE && !done);
		if (err)
			w->stale++;
	}
	return NULL;
}

static void test_fs_dir_names_published_whole(void **state)
{
	struct t *t = *state;
	struct walk w = {.t = t};
	char name[16];
	struct stat st;
	pthread_t a, b;

	for (int i = 0; i < DIRS; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		assert_int_equal(
			fs_mkdir(t->fs, FS_ROOT_INO, name, 0755, &t->cred, &st),
			0);
		w.ino[i] = st.st_ino;
		assert_int_equal(
			fs_mkdir(t->fs, st.st_ino, "x", 0755, &t->cred, &st),
			0);
	}
	reopen(t); /* an empty inode table */
	assert_int_equal(pthread_create(&b, NULL, walker, &w), 0);
	assert_int_equal(pthread_create(&a, NULL, namer, &w), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(w.stale, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_fs_dir_names_published_whole, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
