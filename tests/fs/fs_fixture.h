/*
 * fs_fixture.h - the cmocka fixture of the tests/fs files: each test gets a
 * fresh store in its own temporary directory (under $TEST_TMPDIR), opened
 * with the including file's reopen(), and the directory is removed after.
 * Include after cmocka.h and caskfs.h; define reopen() in the test file.
 */
#ifndef FS_FIXTURE_H
#define FS_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct t {
	char dir[4096];
	char store[4200];
	struct fs *fs;
	struct fs_cred cred;
};

/* (Re)open t->store with the file's options, closing it first if open. */
static void reopen(struct t *t);

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	const char *base = getenv("TEST_TMPDIR");

	snprintf(t->dir, sizeof(t->dir), "%s/fsXXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->store, sizeof(t->store), "%s/store", t->dir);
	t->cred.uid = getuid();
	t->cred.gid = getgid();
	reopen(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	fs_close(t->fs);
	nftw(t->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

#endif
