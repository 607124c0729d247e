/*
 * fs_fixture.h - the cmocka fixture of the tests/fs files: each test gets a
 * fresh store in its own temporary directory (under $TEST_TMPDIR), opened
 * with reopen(), and the directory is removed after. Include after
 * cmocka.h and caskfs.h. A file whose stores have a chunk size and inline
 * maximum other than the defaults defines CS and INL before including.
 * create() and size_of() are the files' common helpers.
 */
#ifndef FS_FIXTURE_H
#define FS_FIXTURE_H

#include <fcntl.h>
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

/* Create @p name in the root, open read-write; *@p ino (if not NULL) its
 * inode number. */
static inline struct fs_file *create(struct t *t, const char *name,
				     uint64_t *ino)
{
	struct fs_file *fh;
	struct stat st;

	assert_int_equal(fs_create(t->fs, FS_ROOT_INO, name, 0644, &t->cred,
				   O_RDWR, &st, &fh),
			 0);
	if (ino)
		*ino = st.st_ino;
	return fh;
}

/* The size of inode @p ino. */
static inline uint64_t size_of(struct t *t, uint64_t ino)
{
	struct stat st;

	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	return (uint64_t)st.st_size;
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
