/*
 * test_fs_deep.c - trees deeper than the kernel's PATH_MAX through fs/
 * calls, each reached from its parent as the kernel reaches it (relative
 * names, never the whole path): 100 levels of 100-byte names (10 KB
 * paths) with create, stat, write, readdir (past one fetch, and over
 * subtrees), link, rename of files and of directories with their
 * subtrees, unlink, rmdir, offline access by absolute path, reopen and
 * fsck; and the limit itself: a path of FS_PATH_MAX (65534) bytes works,
 * one byte more is -ENAMETOOLONG, also for a rename that would push a
 * descendant past it (which changes nothing). Symlink targets keep the
 * kernel's limit (FS_SYMLINK_MAX).
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

#include "caskfs.h"
#include "fsck.h"

#include "fs_fixture.h"

#define LEVELS	100
#define NAMELEN 100
#define FILES	300 /* in the deepest directory: more than one readdir fetch */

/* The name of level @p i: @p len bytes, @p c then the level, padded. */
static void level_name(char *buf, int i, size_t len, char c)
{
	memset(buf, c, len);
	buf[len] = '\0';
	snprintf(buf, len + 1, "%c%04d", c, i);
	buf[5] = c; /* snprintf's NUL */
}

static uint64_t lookup(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(fs_lookup(t->fs, dir, name, &st), 0);
	fs_forget(t->fs, st.st_ino, 1);
	return st.st_ino;
}

static uint64_t mkdir_(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mkdir(t->fs, dir, name, 0755, &t->cred, &st), 0);
	return st.st_ino;
}

static void put_file(struct t *t, uint64_t dir, const char *name,
		     const char *text)
{
	struct fs_file *fh;
	struct stat st;
	size_t n = strlen(text);

	assert_int_equal(
		fs_create(t->fs, dir, name, 0644, &t->cred, O_WRONLY, &st, &fh),
		0);
	assert_int_equal(fs_write(t->fs, fh, text, n, 0), (ssize_t)n);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void check_file(struct t *t, uint64_t dir, const char *name,
		       const char *text)
{
	struct fs_file *fh;
	char buf[256];
	ssize_t n;

	assert_int_equal(fs_open(t->fs, lookup(t, dir, name), O_RDONLY, &fh),
			 0);
	n = fs_read(t->fs, fh, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, (ssize_t)strlen(text));
	buf[n] = '\0';
	assert_string_equal(buf, text);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

struct names {
	char **v;
	size_t n;
};

static int collect(void *ctx, const char *name, const struct stat *st,
		   uint64_t next)
{
	struct names *d = ctx;

	(void)st;
	(void)next;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	d->v = realloc(d->v, (d->n + 1) * sizeof(*d->v));
	assert_non_null(d->v);
	d->v[d->n] = strdup(name);
	assert_non_null(d->v[d->n]);
	d->n++;
	return 0;
}

static struct names list(struct t *t, uint64_t dir)
{
	struct names d = {0};
	struct fs_dir *dh;

	assert_int_equal(fs_opendir(t->fs, dir, &dh), 0);
	assert_int_equal(fs_readdir(t->fs, dh, 0, true, collect, &d), 0);
	assert_int_equal(fs_releasedir(t->fs, dh), 0);
	return d;
}

static void names_free(struct names *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
}

/* The directory of level @p depth (1..LEVELS), walked from the root. */
static uint64_t walk(struct t *t, int depth, char c)
{
	char name[NAMELEN + 1];
	uint64_t dir = FS_ROOT_INO;

	for (int i = 1; i <= depth; i++) {
		level_name(name, i, NAMELEN, c);
		dir = lookup(t, dir, name);
	}
	return dir;
}

/* The absolute path of level @p depth (malloc()ed), plus "/@p leaf". */
static char *abs_path(int depth, char c, const char *leaf)
{
	char *p = malloc((size_t)depth * (NAMELEN + 1) + 300), *q = p;

	assert_non_null(p);
	for (int i = 1; i <= depth; i++) {
		*q++ = '/';
		level_name(q, i, NAMELEN, c);
		q += NAMELEN;
	}
	sprintf(q, "/%s", leaf);
	return p;
}

/* Each level holds the next one and a file "f" (after it in key order,
 * so listing a level jumps over the subtree of the next); the deepest
 * holds FILES files. The tree of levels named with @p c. */
static void check_tree(struct t *t, char c, int files)
{
	char name[NAMELEN + 1], text[32];
	uint64_t dir = FS_ROOT_INO;
	struct names d;

	for (int i = 1; i <= LEVELS; i++) {
		level_name(name, i, NAMELEN, c);
		dir = lookup(t, dir, name);
		snprintf(text, sizeof(text), "level %d", i);
		check_file(t, dir, "f", text);
		d = list(t, dir);
		assert_int_equal(d.n, i < LEVELS ? 2 : 1 + (size_t)files);
		if (i < LEVELS) {
			level_name(name, i + 1, NAMELEN, c);
			assert_string_equal(d.v[0], name);
			assert_string_equal(d.v[1], "f");
		}
		names_free(&d);
	}
}

static void build_tree(struct t *t)
{
	char name[NAMELEN + 1], text[32];
	uint64_t dir = FS_ROOT_INO;

	for (int i = 1; i <= LEVELS; i++) {
		level_name(name, i, NAMELEN, 'd');
		dir = mkdir_(t, dir, name);
		snprintf(text, sizeof(text), "level %d", i);
		put_file(t, dir, "f", text);
	}
	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "g%04d", i);
		put_file(t, dir, name, name);
	}
}

static void test_deep_tree(void **state)
{
	struct t *t = *state;
	char name[NAMELEN + 1], name2[NAMELEN + 1], *p;
	struct fs_fsck_result res;
	struct stat st;
	uint64_t top, mid, deep, ino;
	void *data;
	size_t len;

	build_tree(t);
	check_tree(t, 'd', FILES);
	deep = walk(t, LEVELS, 'd');

	/* Offline access by a 10 KB absolute path. */
	p = abs_path(LEVELS, 'd', "g0007");
	assert_true(strlen(p) > 10000);
	assert_int_equal(fs_read_path(t->fs, p, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "g0007", 5);
	free(data);
	free(p);
	p = abs_path(LEVELS, 'd', "new");
	assert_int_equal(fs_write_path(t->fs, p, "by path", 7, 0644, &t->cred),
			 0);
	free(p);
	check_file(t, deep, "new", "by path");
	p = abs_path(LEVELS - 1, 'd', "");
	p[strlen(p) - 1] = '\0';
	assert_int_equal(fs_lookup_path(t->fs, p, &ino), 0);
	assert_int_equal(ino, walk(t, LEVELS - 1, 'd'));
	free(p);

	/* Link, rename and unlink of files 10 KB deep. */
	assert_int_equal(
		fs_link(t->fs, lookup(t, deep, "g0001"), deep, "link", &st), 0);
	fs_forget(t->fs, st.st_ino, 1);
	assert_int_equal(fs_rename(t->fs, deep, "g0002", deep, "renamed", 0),
			 0);
	assert_int_equal(fs_unlink(t->fs, deep, "g0003"), 0);
	assert_int_equal(fs_unlink(t->fs, deep, "new"), 0);
	check_file(t, deep, "link", "g0001");
	check_file(t, deep, "renamed", "g0002");
	assert_int_equal(fs_lookup(t->fs, deep, "g0003", &st), -ENOENT);

	/* A directory 50 levels deep renamed in place, and moved 40 levels
	 * up (every key below it is rewritten), then back. */
	mid = walk(t, 49, 'd');
	level_name(name, 50, NAMELEN, 'd');
	level_name(name2, 50, NAMELEN, 'e');
	assert_int_equal(fs_rename(t->fs, mid, name, mid, name2, 0), 0);
	assert_int_equal(fs_lookup(t->fs, mid, name, &st), -ENOENT);
	check_file(t, deep, "renamed", "g0002");
	top = walk(t, 10, 'd');
	assert_int_equal(fs_rename(t->fs, mid, name2, top, "moved", 0), 0);
	check_file(t, deep, "link", "g0001");
	assert_int_equal(fs_rename(t->fs, top, "moved", mid, name, 0), 0);
	assert_int_equal(fs_unlink(t->fs, deep, "link"), 0);
	assert_int_equal(fs_rename(t->fs, deep, "renamed", deep, "g0002", 0),
			 0);
	put_file(t, deep, "g0003", "g0003");
	check_tree(t, 'd', FILES);

	/* rmdir from the bottom up, after a reopen. */
	reopen(t);
	check_tree(t, 'd', FILES);
	memset(&res, 0, sizeof(res));
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	assert_int_equal(fs_fsck(t->store, NULL, &res), 0);
	assert_true(res.mounts);
	assert_int_equal(res.fatal + res.errors, 0);
	assert_int_equal(res.directories, 1 + LEVELS);
	reopen(t);
	deep = walk(t, LEVELS, 'd');
	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "g%04d", i);
		assert_int_equal(fs_unlink(t->fs, deep, name), 0);
	}
	for (int i = LEVELS; i >= 1; i--) {
		uint64_t up = walk(t, i - 1, 'd');

		level_name(name, i, NAMELEN, 'd');
		assert_int_equal(fs_rmdir(t->fs, up, name), -ENOTEMPTY);
		assert_int_equal(fs_unlink(t->fs, walk(t, i, 'd'), "f"), 0);
		assert_int_equal(fs_rmdir(t->fs, up, name), 0);
	}
	reopen(t);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 2);
}

/*
 * A chain whose deepest directory's path is FS_PATH_MAX - 255 bytes: a
 * first name of 254 bytes and 254 of 255 ("/" + name each).
 */
#define CHAIN 255
static uint64_t build_chain(struct t *t, char *name)
{
	uint64_t dir = FS_ROOT_INO;

	for (int i = 1; i <= CHAIN; i++) {
		level_name(name, i, i == 1 ? 254 : 255, 'c');
		dir = mkdir_(t, dir, name);
	}
	return dir;
}

static void test_deep_limit(void **state)
{
	struct t *t = *state;
	char name[256], first[256], other[256], *p, *q;
	uint64_t bottom, ino, x;
	struct stat st;

	assert_int_equal(FS_PATH_MAX, 65534);
	bottom = build_chain(t, name);
	/* "/c0001..." (254) + 254 * 256 = 65279; + "/" + 254 = 65534. */
	memset(name, 'z', 254);
	name[254] = '\0';
	assert_int_equal(
		fs_mknod(t->fs, bottom, name, S_IFREG | 0644, 0, &t->cred, &st),
		0);
	ino = st.st_ino;
	assert_int_equal(fs_mkdir(t->fs, bottom, "y", 0755, &t->cred, &st), 0);
	assert_int_equal(fs_lookup(t->fs, bottom, name, &st), 0);
	assert_int_equal(st.st_ino, ino);
	name[254] = 'z'; /* 255 bytes: a path of 65535 */
	name[255] = '\0';
	assert_int_equal(
		fs_mknod(t->fs, bottom, name, S_IFREG | 0644, 0, &t->cred, &st),
		-ENAMETOOLONG);
	assert_int_equal(fs_mkdir(t->fs, bottom, name, 0755, &t->cred, &st),
			 -ENAMETOOLONG);
	assert_int_equal(fs_symlink(t->fs, bottom, name, "x", &t->cred, &st),
			 -ENAMETOOLONG);
	assert_int_equal(fs_link(t->fs, ino, bottom, name, &st), -ENAMETOOLONG);
	assert_int_equal(fs_lookup(t->fs, bottom, name, &st), -ENAMETOOLONG);
	name[254] = '\0';
	assert_int_equal(fs_rename(t->fs, bottom, name, bottom, "short", 0), 0);
	memset(other, 'z', 255);
	other[255] = '\0';
	assert_int_equal(fs_rename(t->fs, bottom, "short", bottom, other, 0),
			 -ENAMETOOLONG);
	assert_int_equal(fs_rename(t->fs, bottom, "short", bottom, name, 0), 0);

	/* The absolute path of exactly FS_PATH_MAX bytes, and one more. */
	p = malloc(FS_PATH_MAX + 2);
	assert_non_null(p);
	q = p;
	for (int i = 1; i <= CHAIN; i++) {
		*q++ = '/';
		level_name(q, i, i == 1 ? 254 : 255, 'c');
		q += strlen(q);
	}
	sprintf(q, "/%s", name);
	assert_int_equal(strlen(p), FS_PATH_MAX);
	assert_int_equal(fs_lookup_path(t->fs, p, &x), 0);
	assert_int_equal(x, ino);
	assert_int_equal(fs_write_path(t->fs, p, "max", 3, 0644, &t->cred), 0);
	strcat(p, "z");
	assert_int_equal(fs_lookup_path(t->fs, p, &x), -ENAMETOOLONG);
	assert_int_equal(fs_write_path(t->fs, p, "max", 3, 0644, &t->cred),
			 -ENAMETOOLONG);

	/* A rename whose descendants would pass the limit: the top of the
	 * chain to a name one byte longer, or one level down, fails and
	 * changes nothing. Another name of its length works. */
	level_name(first, 1, 254, 'c');
	memset(other, 'o', 255);
	other[255] = '\0';
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, first, FS_ROOT_INO, other, 0),
		-ENAMETOOLONG);
	assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, "x", 0755, &t->cred, &st),
			 0);
	x = st.st_ino;
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, first, x, first, 0),
			 -ENAMETOOLONG);
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "x", bottom, "x", 0), 0);
	assert_int_equal(fs_rename(t->fs, bottom, "x", FS_ROOT_INO, "x", 0), 0);
	p[FS_PATH_MAX] = '\0';
	assert_int_equal(fs_lookup_path(t->fs, p, &x), 0);
	assert_int_equal(x, ino);
	other[254] = '\0';
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, first, FS_ROOT_INO, other, 0), 0);
	assert_int_equal(fs_lookup_path(t->fs, p, &x), -ENOENT);
	memcpy(p + 1, other, 254);
	reopen(t);
	assert_int_equal(fs_lookup_path(t->fs, p, &x), 0);
	assert_int_equal(x, ino);
	free(p);
}

static void test_deep_symlink_max(void **state)
{
	struct t *t = *state;
	char *target = malloc(FS_SYMLINK_MAX + 2), *buf;
	struct stat st;

	assert_non_null(target);
	assert_int_equal(FS_SYMLINK_MAX, 4095);
	memset(target, 'a', FS_SYMLINK_MAX);
	target[FS_SYMLINK_MAX] = '\0';
	assert_int_equal(
		fs_symlink(t->fs, FS_ROOT_INO, "max", target, &t->cred, &st),
		0);
	buf = malloc(FS_SYMLINK_MAX + 1);
	assert_non_null(buf);
	assert_int_equal(fs_readlink(t->fs, st.st_ino, buf, FS_SYMLINK_MAX + 1),
			 FS_SYMLINK_MAX);
	assert_string_equal(buf, target);
	strcat(target, "a");
	assert_int_equal(
		fs_symlink(t->fs, FS_ROOT_INO, "over", target, &t->cred, &st),
		-ENAMETOOLONG);
	free(buf);
	free(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_deep_tree),
		T(test_deep_limit),
		T(test_deep_symlink_max),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
