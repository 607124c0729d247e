/*
 * test_fs_ops.c - namespace operations of fs/ without a mount: create,
 * lookup, mkdir/rmdir, unlink, rename (replace, NOREPLACE, EXCHANGE,
 * directories), links, symlinks, special files, readdir and its cookies,
 * setgid directories, xattrs, persistence across reopen, offline access.
 * Each test runs in its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caskfs.h"
#include <cask.h>

#include "fs_fixture.h"

static uint64_t mkfile(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(
		fs_mknod(t->fs, dir, name, S_IFREG | 0644, 0, &t->cred, &st),
		0);
	return st.st_ino;
}

/* Files "f000", "f001", ... up to @p n in the root. */
static void mkfiles(struct t *t, int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		mkfile(t, FS_ROOT_INO, name);
	}
}

static uint64_t mkdir_(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mkdir(t->fs, dir, name, 0755, &t->cred, &st), 0);
	return st.st_ino;
}

static uint64_t ino_of(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;
	int err = fs_lookup(t->fs, dir, name, &st);

	return err ? 0 : st.st_ino;
}

static void test_fs_create_lookup_getattr(void **state)
{
	struct t *t = *state;
	struct stat st, st2;
	uint64_t ino = mkfile(t, FS_ROOT_INO, "a");

	assert_true(ino > FS_ROOT_INO);
	assert_int_equal(fs_lookup(t->fs, FS_ROOT_INO, "a", &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(fs_getattr(t->fs, ino, &st2), 0);
	assert_int_equal(st2.st_size, 0);
	assert_int_equal(fs_lookup(t->fs, FS_ROOT_INO, "nope", &st), -ENOENT);
	assert_int_equal(fs_mknod(t->fs, FS_ROOT_INO, "a", S_IFREG | 0644, 0,
				  &t->cred, &st),
			 -EEXIST);
	assert_int_equal(fs_lookup(t->fs, ino, "x", &st), -ENOTDIR);
	assert_int_equal(
		fs_mknod(t->fs, 999999, "x", S_IFREG, 0, &t->cred, &st),
		-ESTALE);
}

static void test_fs_mkdir_rmdir(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");

	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	mkdir_(t, d, "sub");
	mkfile(t, d, "f");
	assert_int_equal(fs_getattr(t->fs, d, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(fs_rmdir(t->fs, FS_ROOT_INO, "d"), -ENOTEMPTY);
	assert_int_equal(fs_rmdir(t->fs, d, "f"), -ENOTDIR);
	assert_int_equal(fs_unlink(t->fs, d, "sub"), -EISDIR);
	assert_int_equal(fs_unlink(t->fs, d, "f"), 0);
	assert_int_equal(fs_unlink(t->fs, d, "f"), -ENOENT);
	assert_int_equal(fs_rmdir(t->fs, d, "sub"), 0);
	assert_int_equal(fs_rmdir(t->fs, d, "sub"), -ENOENT);
	assert_int_equal(fs_rmdir(t->fs, FS_ROOT_INO, "d"), 0);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(fs_mkdir(t->fs, d, "x", 0755, &t->cred, &st), -ESTALE);
}

struct listing {
	char names[64][64];
	uint64_t inos[64];
	uint64_t offs[64];
	int n;
	int limit;
};

static int fill(void *ctx, const char *name, const struct stat *st,
		uint64_t next)
{
	struct listing *l = ctx;

	if (l->n == l->limit)
		return 1;
	snprintf(l->names[l->n], 64, "%s", name);
	l->inos[l->n] = st->st_ino;
	l->offs[l->n] = next;
	l->n++;
	return 0;
}

static void list(struct t *t, uint64_t dir, struct listing *l)
{
	struct fs_dir *dh;

	memset(l, 0, sizeof(*l));
	l->limit = 64;
	assert_int_equal(fs_opendir(t->fs, dir, &dh), 0);
	assert_int_equal(fs_readdir(t->fs, dh, 0, false, fill, l), 0);
	fs_releasedir(t->fs, dh);
}

static void test_fs_readdir_prefix_traps(void **state)
{
	struct t *t = *state;
	struct listing l;
	uint64_t a = mkdir_(t, FS_ROOT_INO, "a");
	uint64_t ab = mkdir_(t, FS_ROOT_INO, "a-b");
	static const char *want[] = {".", "..", "a", "a-b", "a.c", "a0", "b"};

	mkfile(t, FS_ROOT_INO, "a.c");
	mkfile(t, FS_ROOT_INO, "a0");
	mkfile(t, FS_ROOT_INO, "b");
	mkfile(t, a, "x");
	mkdir_(t, mkdir_(t, a, "y"), "deep");
	mkfile(t, ab, "z");
	list(t, FS_ROOT_INO, &l);
	assert_int_equal(l.n, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(l.names[i], want[i]);
	assert_int_equal(l.inos[2], a);
	list(t, a, &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[2], "x");
	assert_string_equal(l.names[3], "y");
	assert_int_equal(l.inos[1], FS_ROOT_INO);
	list(t, ab, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[2], "z");
}

static void test_fs_readdir_cookie_resume(void **state)
{
	struct t *t = *state;
	static char by_cookie[700][16];
	struct listing l;
	struct fs_dir *dh;
	char name[32];
	int seen[600] = {0};
	uint64_t off = 0;

	memset(by_cookie, 0, sizeof(by_cookie));
	mkfiles(t, 600);
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &dh), 0);
	for (;;) {
		memset(&l, 0, sizeof(l));
		l.limit = 7;
		assert_int_equal(fs_readdir(t->fs, dh, off, false, fill, &l),
				 0);
		if (l.n == 0)
			break;
		for (int i = 0; i < l.n; i++) {
			uint64_t c = l.offs[i] & UINT32_MAX;
			int k;

			/* one listing: one tag above the positions */
			assert_int_equal(l.offs[i] >> 32, l.offs[0] >> 32);
			assert_true(c < 700);
			if (by_cookie[c][0]) {
				/* seen before: a cookie names one entry */
				assert_string_equal(by_cookie[c], l.names[i]);
				continue;
			}
			snprintf(by_cookie[c], 16, "%s", l.names[i]);
			if (l.names[i][0] != 'f')
				continue; /* ".", "..", names added */
			k = atoi(l.names[i] + 1);
			seen[k]++;
			/* concurrent changes: remove a later name, add one */
			if (k % 50 == 0 && k + 1 < 600) {
				snprintf(name, sizeof(name), "f%03d", k + 1);
				assert_int_equal(
					fs_unlink(t->fs, FS_ROOT_INO, name), 0);
				snprintf(name, sizeof(name), "g%03d", k);
				mkfile(t, FS_ROOT_INO, name);
			}
		}
		/* resume two entries back, as the kernel does when its
		 * buffer fills before ours */
		off = l.n > 2 ? l.offs[l.n - 3] : l.offs[l.n - 1];
	}
	fs_releasedir(t->fs, dh);
	/* a name removed meanwhile may or may not appear (POSIX) */
	for (int i = 0; i < 600; i++)
		assert_true(i % 50 == 1 ? seen[i] <= 1 : seen[i] == 1);
	/* past the end: the end of the directory */
	memset(&l, 0, sizeof(l));
	l.limit = 64;
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &dh), 0);
	assert_int_equal(fs_readdir(t->fs, dh, 99999, false, fill, &l), 0);
	assert_int_equal(l.n, 0);
	fs_releasedir(t->fs, dh);
}

/* A reader may move from the kernel's directory cache to its own handle
 * and resume there at a cookie another listing produced: it continues at
 * that position, with cookies of its own listing. */
static void test_fs_readdir_cookie_other_handle(void **state)
{
	struct t *t = *state;
	struct listing a, b;
	struct fs_dir *ha, *hb;

	mkfiles(t, 600);
	memset(&a, 0, sizeof(a));
	a.limit = 64;
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &ha), 0);
	assert_int_equal(fs_readdir(t->fs, ha, 0, false, fill, &a), 0);
	assert_int_equal(a.n, 64);
	for (int k = 3; k < 60; k += 20) {
		memset(&b, 0, sizeof(b));
		b.limit = 64;
		assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &hb), 0);
		assert_int_equal(
			fs_readdir(t->fs, hb, a.offs[k], false, fill, &b), 0);
		assert_string_equal(b.names[0], a.names[k + 1]);
		assert_int_equal(b.offs[0] & UINT32_MAX,
				 a.offs[k + 1] & UINT32_MAX);
		assert_int_not_equal(b.offs[0], a.offs[k + 1]);
		fs_releasedir(t->fs, hb);
	}
	/* far beyond the first fetch of a fresh handle: the last 42 */
	memset(&b, 0, sizeof(b));
	b.limit = 64;
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &hb), 0);
	assert_int_equal(fs_readdir(t->fs, hb, 560, false, fill, &b), 0);
	assert_int_equal(b.n, 42);
	assert_string_equal(b.names[0], "f558");
	assert_string_equal(b.names[41], "f599");
	fs_releasedir(t->fs, hb);
	fs_releasedir(t->fs, ha);
}

static bool any_shared(const struct listing *a, const struct listing *b)
{
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
			if (a->offs[i] == b->offs[j])
				return true;
	return false;
}

/* The kernel's directory cache appends a reply to itself when the
 * request's offset is where the cache ends, whatever handle sent it: two
 * listings (two handles, or one before and after a rewind) must never
 * produce the same cookie, or the cache joins them (tests/fuse/
 * test_listing.sh shows the name met twice that this made). */
static void test_fs_readdir_listings_never_share_cookies(void **state)
{
	struct t *t = *state;
	struct listing a, b, c;
	struct fs_dir *ha, *hb;

	mkfiles(t, 100);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.limit = b.limit = c.limit = 20;
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &ha), 0);
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &hb), 0);
	assert_int_equal(fs_readdir(t->fs, ha, 0, false, fill, &a), 0);
	mkfile(t, FS_ROOT_INO, "a-new");
	assert_int_equal(fs_readdir(t->fs, hb, 0, false, fill, &b), 0);
	assert_int_equal(a.n, 20);
	assert_int_equal(b.n, 20);
	/* same positions, different entries: the cookies differ */
	assert_string_equal(a.names[19], "f017");
	assert_string_equal(b.names[19], "f016");
	assert_false(any_shared(&a, &b));
	/* a rewind is a new listing too */
	assert_int_equal(fs_readdir(t->fs, ha, 0, false, fill, &c), 0);
	assert_int_equal(c.n, 20);
	assert_false(any_shared(&a, &c));
	assert_false(any_shared(&b, &c));
	fs_releasedir(t->fs, hb);
	fs_releasedir(t->fs, ha);
}

static int fill_plus(void *ctx, const char *name, const struct stat *st,
		     uint64_t next)
{
	struct listing *l = ctx;

	(void)next;
	if (l->n == l->limit)
		return 1;
	snprintf(l->names[l->n], 64, "%s", name);
	l->inos[l->n] = st->st_nlink;
	l->n++;
	return 0;
}

static void test_fs_readdirplus_attrs(void **state)
{
	struct t *t = *state;
	struct listing l = {.limit = 64};
	struct fs_dir *dh;

	mkdir_(t, FS_ROOT_INO, "d");
	mkfile(t, FS_ROOT_INO, "f");
	assert_int_equal(fs_opendir(t->fs, FS_ROOT_INO, &dh), 0);
	assert_int_equal(fs_readdir(t->fs, dh, 0, true, fill_plus, &l), 0);
	fs_releasedir(t->fs, dh);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[2], "d");
	assert_int_equal(l.inos[2], 2);
	assert_int_equal(l.inos[3], 1);
}

static void test_fs_rename_file_replace(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t a = mkfile(t, FS_ROOT_INO, "a");
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");

	mkfile(t, FS_ROOT_INO, "b");
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "a", FS_ROOT_INO, "b", 0), 0);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "b"), a);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "a"), 0);
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "b", d, "c", 0), 0);
	assert_int_equal(ino_of(t, d, "c"), a);
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "nope", d, "c", 0),
			 -ENOENT);
	assert_int_equal(fs_rename(t->fs, d, "c", FS_ROOT_INO, "d", 0),
			 -ENOTEMPTY); /* "d" is an ancestor of "d/c" */
	mkdir_(t, FS_ROOT_INO, "d2");
	assert_int_equal(fs_rename(t->fs, d, "c", FS_ROOT_INO, "d2", 0),
			 -EISDIR);
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "d", d, "c", 0),
			 -EINVAL);
	mkfile(t, FS_ROOT_INO, "e");
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "d", FS_ROOT_INO, "e", 0),
		-ENOTDIR);
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "e", d, "c", FS_RENAME_NOREPLACE),
		-EEXIST);
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "e", d, "c",
				   FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 4);
}

static void test_fs_rename_dir_many_entries(void **state)
{
	struct t *t = *state;
	struct stat st;
	struct listing l;
	char name[32];
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");
	uint64_t e = mkdir_(t, FS_ROOT_INO, "e");
	uint64_t sub = mkdir_(t, d, "sub");
	uint64_t f;

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		mkfile(t, d, name);
	}
	f = mkfile(t, sub, "leaf");
	mkfile(t, FS_ROOT_INO, "d-x"); /* sorts inside "d..." keys */
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "d", e, "moved", 0), 0);
	assert_int_equal(ino_of(t, e, "moved"), d);
	assert_int_equal(ino_of(t, d, "n999") != 0, 1);
	assert_int_equal(ino_of(t, sub, "leaf"), f);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "d-x") != 0, 1);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "d"), 0);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(fs_getattr(t->fs, e, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	/* into its own subtree */
	assert_int_equal(fs_rename(t->fs, e, "moved", sub, "x", 0), -EINVAL);
	/* persisted paths: offline lookup and after reopen */
	reopen(t);
	uint64_t ino;
	assert_int_equal(fs_lookup_path(t->fs, "/e/moved/sub/leaf", &ino), 0);
	assert_int_equal(ino, f);
	assert_int_equal(fs_lookup_path(t->fs, "/d/n1", &ino), -ENOENT);
	e = ino_of(t, FS_ROOT_INO, "e");
	d = ino_of(t, e, "moved");
	list(t, d, &l);
	assert_int_equal(l.n, 64); /* limit: many entries */
	/* replace an empty directory; not a non-empty one */
	mkdir_(t, FS_ROOT_INO, "empty");
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "e", FS_ROOT_INO, "empty", 0), 0);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "empty"), e);
	mkdir_(t, FS_ROOT_INO, "full");
	mkfile(t, ino_of(t, FS_ROOT_INO, "full"), "x");
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "empty", FS_ROOT_INO, "full", 0),
		-ENOTEMPTY);
}

static void test_fs_rename_exchange(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t f = mkfile(t, FS_ROOT_INO, "f");
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");
	uint64_t x = mkfile(t, d, "x");
	uint64_t o = mkdir_(t, FS_ROOT_INO, "o");

	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "f", FS_ROOT_INO, "none",
				   FS_RENAME_EXCHANGE),
			 -ENOENT);
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "f", o, "d2", FS_RENAME_EXCHANGE),
		-ENOENT);
	/* file <-> directory in different parents */
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "d", o, "d2", 0), 0);
	mkfile(t, FS_ROOT_INO, "d");
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "f", o, "d2", FS_RENAME_EXCHANGE),
		0);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "f"), d);
	assert_int_equal(ino_of(t, o, "d2"), f);
	assert_int_equal(ino_of(t, d, "x"), x);
	uint64_t ino;
	assert_int_equal(fs_lookup_path(t->fs, "/f/x", &ino), 0);
	assert_int_equal(ino, x);
	assert_int_equal(fs_getattr(t->fs, o, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 4); /* f (a dir now), o */
	/* two directories with a common child name */
	uint64_t p = mkdir_(t, FS_ROOT_INO, "p");
	uint64_t px = mkfile(t, p, "x");
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "f", FS_ROOT_INO, "p",
				   FS_RENAME_EXCHANGE),
			 0);
	assert_int_equal(fs_lookup_path(t->fs, "/p/x", &ino), 0);
	assert_int_equal(ino, x);
	assert_int_equal(fs_lookup_path(t->fs, "/f/x", &ino), 0);
	assert_int_equal(ino, px);
	/* a directory with its own descendant */
	uint64_t q = mkdir_(t, p, "q");
	(void)q;
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "p", d, "x", FS_RENAME_EXCHANGE),
		-EINVAL);
}

static void test_fs_hard_links(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t a = mkfile(t, FS_ROOT_INO, "a");
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");

	assert_int_equal(fs_link(t->fs, a, d, "b", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, a);
	assert_int_equal(fs_link(t->fs, a, d, "b", &st), -EEXIST);
	assert_int_equal(fs_link(t->fs, d, FS_ROOT_INO, "dd", &st), -EPERM);
	/* rename onto another link of the same inode: nothing happens */
	assert_int_equal(fs_rename(t->fs, FS_ROOT_INO, "a", d, "b", 0), 0);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "a"), a);
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "a"), 0);
	assert_int_equal(fs_getattr(t->fs, a, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	reopen(t);
	d = ino_of(t, FS_ROOT_INO, "d");
	assert_int_equal(ino_of(t, d, "b"), a);
	assert_int_equal(fs_getattr(t->fs, a, &st), 0);
	assert_int_equal(st.st_nlink, 1);
}

static void test_fs_symlink_and_special(void **state)
{
	struct t *t = *state;
	struct stat st;
	char buf[64];

	assert_int_equal(
		fs_symlink(t->fs, FS_ROOT_INO, "l", "target/x", &t->cred, &st),
		0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 8);
	assert_int_equal(fs_readlink(t->fs, st.st_ino, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "target/x");
	assert_int_equal(fs_readlink(t->fs, st.st_ino, buf, 4), -ENAMETOOLONG);
	assert_int_equal(fs_readlink(t->fs, FS_ROOT_INO, buf, sizeof(buf)),
			 -EINVAL);
	/* chown of the symlink keeps its target */
	struct stat in = {.st_uid = getuid()};
	assert_int_equal(
		fs_setattr(t->fs, st.st_ino, &in, FS_SET_UID, NULL, &st), 0);
	assert_int_equal(fs_readlink(t->fs, st.st_ino, buf, sizeof(buf)), 8);
	assert_int_equal(fs_mknod(t->fs, FS_ROOT_INO, "fifo", S_IFIFO | 0600, 0,
				  &t->cred, &st),
			 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(fs_mknod(t->fs, FS_ROOT_INO, "sock", S_IFSOCK | 0600,
				  0, &t->cred, &st),
			 0);
	assert_true(S_ISSOCK(st.st_mode));
	reopen(t);
	assert_int_equal(fs_lookup(t->fs, FS_ROOT_INO, "l", &st), 0);
	assert_int_equal(fs_readlink(t->fs, st.st_ino, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "target/x");
}

static void test_fs_setgid_dir_and_umask(void **state)
{
	struct t *t = *state;
	struct stat st, in = {.st_mode = 02775};
	struct fs_cred other = {.uid = 4321, .gid = 8765, .umask = 022};
	uint64_t d = mkdir_(t, FS_ROOT_INO, "sg");

	assert_int_equal(fs_setattr(t->fs, d, &in, FS_SET_MODE, NULL, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02775);
	assert_int_equal(
		fs_mknod(t->fs, d, "f", S_IFREG | 0666, 0, &other, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(fs_mkdir(t->fs, d, "sub", 0777, &other, &st), 0);
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(st.st_mode & 07777, 02755);
	assert_int_equal(
		fs_mkdir(t->fs, FS_ROOT_INO, "plain", 0777, &other, &st), 0);
	assert_int_equal(st.st_gid, 8765);
	assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_fs_setattr_chown_clears_suid_and_times(void **state)
{
	struct t *t = *state;
	struct stat st, in = {.st_mode = 06755};
	uint64_t f = mkfile(t, FS_ROOT_INO, "f");

	assert_int_equal(fs_setattr(t->fs, f, &in, FS_SET_MODE, NULL, &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	in.st_uid = getuid();
	assert_int_equal(fs_setattr(t->fs, f, &in, FS_SET_UID, NULL, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	in.st_atim.tv_sec = 1000;
	in.st_atim.tv_nsec = 123456789;
	in.st_mtim.tv_sec = 2000;
	in.st_mtim.tv_nsec = 987654321;
	assert_int_equal(fs_setattr(t->fs, f, &in, FS_SET_ATIME | FS_SET_MTIME,
				    NULL, &st),
			 0);
	reopen(t);
	assert_int_equal(fs_getattr(t->fs, f, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000);
	assert_int_equal(st.st_atim.tv_nsec, 123456789);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	assert_int_equal(st.st_mtim.tv_nsec, 987654321);
	in.st_size = 5;
	assert_int_equal(
		fs_setattr(t->fs, FS_ROOT_INO, &in, FS_SET_SIZE, NULL, &st),
		-EISDIR);
}

static void test_fs_xattrs(void **state)
{
	struct t *t = *state;
	char buf[1024]; /* room for the whole of FS_XATTR_STATS */
	uint64_t f = mkfile(t, FS_ROOT_INO, "f");

	assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(
		fs_setxattr(t->fs, f, "user.a", "1", 1, FS_XATTR_REPLACE),
		-ENODATA);
	assert_int_equal(fs_setxattr(t->fs, f, "user.a", "one", 3, 0), 0);
	assert_int_equal(
		fs_setxattr(t->fs, f, "user.a", "x", 1, FS_XATTR_CREATE),
		-EEXIST);
	assert_int_equal(fs_setxattr(t->fs, f, "user.bb", "", 0, 0), 0);
	/* no POSIX ACLs: refused, so cp -a falls back to chmod; no LSM
	 * labels: "not supported" makes ls -l stop asking for them */
	static const char *unsupported[] = {
		"system.posix_acl_access", "system.posix_acl_default",
		"security.selinux", "security.SMACK64", "security.apparmor"};
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(*unsupported);
	     i++) {
		const char *name = unsupported[i];

		assert_int_equal(fs_setxattr(t->fs, f, name, "x", 1, 0),
				 -EOPNOTSUPP);
		assert_int_equal(fs_getxattr(t->fs, f, name, buf, sizeof(buf)),
				 -EOPNOTSUPP);
		assert_int_equal(fs_removexattr(t->fs, f, name), -EOPNOTSUPP);
	}
	/* other security attributes are kept (file capabilities) */
	assert_int_equal(
		fs_setxattr(t->fs, f, "security.capability", "c", 1, 0), 0);
	assert_int_equal(
		fs_getxattr(t->fs, f, "security.capability", buf, sizeof(buf)),
		1);
	assert_int_equal(fs_removexattr(t->fs, f, "security.capability"), 0);
	assert_int_equal(fs_getxattr(t->fs, f, "user.a", NULL, 0), 3);
	assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, 2), -ERANGE);
	assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(fs_listxattr(t->fs, f, NULL, 0), 15);
	assert_int_equal(fs_listxattr(t->fs, f, buf, 5), -ERANGE);
	assert_int_equal(fs_listxattr(t->fs, f, buf, sizeof(buf)), 15);
	assert_memory_equal(buf, "user.a\0user.bb\0", 15);
	reopen(t);
	assert_int_equal(fs_getxattr(t->fs, f, "user.bb", buf, sizeof(buf)), 0);
	assert_int_equal(fs_removexattr(t->fs, f, "user.a"), 0);
	assert_int_equal(fs_removexattr(t->fs, f, "user.a"), -ENODATA);
	assert_int_equal(fs_listxattr(t->fs, f, buf, sizeof(buf)), 8);
	/* the xattrs go with the inode */
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "f"), 0);
	assert_int_equal(fs_getxattr(t->fs, 12345, "user.a", buf, 10), -ENOENT);
	/* virtual attributes of the root */
	ssize_t n = fs_getxattr(t->fs, FS_ROOT_INO, FS_XATTR_STATS, buf,
				sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "keys: "));
	assert_non_null(strstr(buf, "dead_bytes: "));
}

static void test_fs_persistence_ino_stable(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t d = mkdir_(t, FS_ROOT_INO, "d");
	uint64_t f = mkfile(t, d, "f");
	uint64_t g;

	reopen(t);
	assert_int_equal(ino_of(t, FS_ROOT_INO, "d"), d);
	assert_int_equal(ino_of(t, d, "f"), f);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* never reused: new numbers after a reopen are above the old ones */
	assert_int_equal(fs_unlink(t->fs, d, "f"), 0);
	g = mkfile(t, d, "g");
	assert_true(g > f);
}

static void test_fs_offline_path_access(void **state)
{
	struct t *t = *state;
	void *data;
	size_t len;
	char big[300000];

	mkdir_(t, FS_ROOT_INO, "etc");
	assert_int_equal(fs_write_path(t->fs, "/etc/app.json", "{\"a\":1}", 7,
				       0644, &t->cred),
			 0);
	assert_int_equal(
		fs_write_path(t->fs, "/nodir/x", "x", 1, 0644, &t->cred),
		-ENOENT);
	assert_int_equal(fs_write_path(t->fs, "/etc", "x", 1, 0644, &t->cred),
			 -EISDIR);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	assert_int_equal(fs_write_path(t->fs, "/etc/big", big, sizeof(big),
				       0600, &t->cred),
			 0);
	fs_close(t->fs);
	t->fs = NULL;
	struct fs_options o;
	fs_options_init(&o);
	o.read_only = true;
	assert_int_equal(fs_open_store(t->store, &o, &t->fs), 0);
	assert_int_equal(fs_read_path(t->fs, "/etc/app.json", &data, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "{\"a\":1}", 7);
	free(data);
	assert_int_equal(fs_read_path(t->fs, "//etc//big/", &data, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	free(data);
	assert_int_equal(fs_read_path(t->fs, "/etc", &data, &len), -EISDIR);
	assert_int_equal(fs_read_path(t->fs, "/etc/none", &data, &len),
			 -ENOENT);
	/* A directory reached by path lists its entries (cask fs ls). */
	{
		struct listing l;
		uint64_t etc;

		assert_int_equal(fs_lookup_path(t->fs, "/etc/", &etc), 0);
		list(t, etc, &l);
		assert_int_equal(l.n, 4); /* ".", "..", app.json, big */
		assert_string_equal(l.names[2], "app.json");
		assert_string_equal(l.names[3], "big");
	}
	assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, "x", 0755, &t->cred,
				  &(struct stat){0}),
			 -EROFS);
}

static void test_fs_statfs_and_names(void **state)
{
	struct t *t = *state;
	struct statvfs sv;
	struct stat st;
	char longname[300];

	assert_int_equal(fs_statfs(t->fs, &sv), 0);
	assert_true(sv.f_blocks > 0);
	assert_true(sv.f_files >= 1);
	assert_int_equal(sv.f_namemax, 255);
	memset(longname, 'x', 256);
	longname[256] = '\0';
	assert_int_equal(fs_mknod(t->fs, FS_ROOT_INO, longname, S_IFREG, 0,
				  &t->cred, &st),
			 -ENAMETOOLONG);
	assert_int_equal(
		fs_mknod(t->fs, FS_ROOT_INO, "..", S_IFREG, 0, &t->cred, &st),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_fs_create_lookup_getattr),
		T(test_fs_mkdir_rmdir),
		T(test_fs_readdir_prefix_traps),
		T(test_fs_readdir_cookie_resume),
		T(test_fs_readdir_cookie_other_handle),
		T(test_fs_readdir_listings_never_share_cookies),
		T(test_fs_readdirplus_attrs),
		T(test_fs_rename_file_replace),
		T(test_fs_rename_dir_many_entries),
		T(test_fs_rename_exchange),
		T(test_fs_hard_links),
		T(test_fs_symlink_and_special),
		T(test_fs_setgid_dir_and_umask),
		T(test_fs_setattr_chown_clears_suid_and_times),
		T(test_fs_xattrs),
		T(test_fs_persistence_ino_stable),
		T(test_fs_offline_path_access),
		T(test_fs_statfs_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
