/*
 * fs_fixture.h - the cmocka fixture of the tests/fs files: each test gets a
 * fresh store in its own temporary directory (under $TEST_TMPDIR), opened
 * with reopen(), and the directory is removed after. Include after
 * cmocka.h and caskfs.h. A file whose stores have a chunk size and inline
 * maximum other than the defaults defines CS and INL before including.
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

/* The defaults with the file's chunk size and inline maximum. */
static void fixture_options(struct fs_options *o)
{
	fs_options_init(o);
#ifdef CS
	o->chunk_size = CS;
#endif
#ifdef INL
	o->inline_max = INL;
#endif
}

/* (Re)open t->store with the options @p o (NULL: fixture_options()),
 * closing it first if open. */
static void reopen_with(struct t *t, const struct fs_options *o)
{
	struct fs_options def;

	if (t->fs)
		assert_int_equal(fs_close(t->fs), 0);
	if (!o) {
		fixture_options(&def);
		o = &def;
	}
	assert_int_equal(fs_open_store(t->store, o, &t->fs), 0);
}

static void reopen(struct t *t)
{
	reopen_with(t, NULL);
}

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
