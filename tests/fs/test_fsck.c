/*
 * test_fsck.c - fs_fsck() on stores damaged by hand: a filesystem is built
 * through fs/, closed, then keys are deleted or rewritten through libcask
 * (the superblock and root inode, an inode record under a name, a link
 * count, chunks, xattrs and orphan marks of no inode, a directory's entry)
 * and the check must name what is wrong by path; the repair must give a
 * store that opens, with every surviving file readable and nameless
 * inodes in /lost+found, and that checks clean afterwards. Also: a store
 * that lost its superblock is not formatted again by a read-write open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "internal.h"
#include <cask.h>

/* Small stores (fs_fixture.h): 4 KiB chunks, inline up to 1 KiB. */
#define CS  4096u
#define INL 1024u
#include "fs_fixture.h"

static void shut(struct t *t)
{
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + seed + (i >> 12));
}

static uint64_t mkdir_(struct t *t, const char *path)
{
	const char *slash = strrchr(path, '/');
	char parent[256];
	uint64_t pino;
	struct stat st;

	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	assert_int_equal(fs_lookup_path(t->fs, *parent ? parent : "/", &pino),
			 0);
	assert_int_equal(fs_mkdir(t->fs, pino, slash + 1, 0755, &t->cred, &st),
			 0);
	return st.st_ino;
}

static uint64_t file_(struct t *t, const char *path, size_t len, unsigned seed)
{
	char *buf = malloc(len + 1);
	uint64_t ino;

	fill(buf, len, seed);
	assert_int_equal(fs_write_path(t->fs, path, buf, len, 0644, &t->cred),
			 0);
	free(buf);
	assert_int_equal(fs_lookup_path(t->fs, path, &ino), 0);
	return ino;
}

/* The file at @p path holds what file_() wrote. */
static void expect_file(struct t *t, const char *path, size_t len,
			unsigned seed)
{
	char *want = malloc(len + 1);
	size_t got_len;
	void *got;

	fill(want, len, seed);
	assert_int_equal(fs_read_path(t->fs, path, &got, &got_len), 0);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

/* --- the store through libcask, with the filesystem closed --- */

static struct cask_db *raw_open(struct t *t)
{
	struct cask_db *db;
	struct cask_options o;

	cask_options_init(&o);
	o.create_if_missing = false;
	assert_int_equal(cask_open(t->store, &o, &db), 0);
	return db;
}

static void raw_del(struct cask_db *db, const void *key, size_t klen)
{
	assert_int_equal(cask_exists(db, key, klen), 1);
	assert_int_equal(cask_delete(db, key, klen), 0);
}

static void del_inode(struct cask_db *db, uint64_t ino)
{
	uint8_t key[INO_KEY_LEN];

	ino_key(key, KEY_INODE, ino);
	raw_del(db, key, sizeof(key));
}

static void set_nlink(struct cask_db *db, uint64_t ino, uint32_t nlink)
{
	uint8_t key[INO_KEY_LEN];
	size_t len;
	void *val;

	ino_key(key, KEY_INODE, ino);
	assert_int_equal(cask_get_alloc(db, key, sizeof(key), &val, &len), 0);
	put_le32((uint8_t *)val + 16, nlink);
	assert_int_equal(cask_put(db, key, sizeof(key), val, len), 0);
	free(val);
}

/* --- running the check --- */

struct found {
	char lines[64][512];
	size_t n;
};

static void collect(void *arg, const struct fs_fsck_problem *p)
{
	struct found *f = arg;
	static const char *sev[] = {"?", "FATAL", "ERROR", "NOTE"};

	if (f->n < 64)
		snprintf(f->lines[f->n++], sizeof(f->lines[0]),
			 "%s %s#%" PRIu64 ": %s [%s]", sev[p->severity],
			 p->path ? p->path : "", p->ino, p->what,
			 p->repair ? p->repair : "-");
	print_message("  %s\n", f->lines[f->n - 1]);
}

static struct fs_fsck_result run(struct t *t, bool repair, struct found *f)
{
	struct fs_fsck_options o = {
		.repair = repair, .report = collect, .report_arg = f};
	struct fs_fsck_result r;

	memset(f, 0, sizeof(*f));
	print_message("fsck%s:\n", repair ? " --repair" : "");
	assert_int_equal(fs_fsck(t->store, &o, &r), 0);
	assert_true(r.caskfs);
	return r;
}

/* Some report line starts with @p start and contains @p part. */
static void expect_line(const struct found *f, const char *start,
			const char *part)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strncmp(f->lines[i], start, strlen(start)) &&
		    strstr(f->lines[i], part))
			return;
	fail_msg("no report line \"%s...%s\"", start, part);
}

/* Repair, then the store checks clean and opens. */
static void repair_clean(struct t *t, struct found *f)
{
	struct fs_fsck_result r = run(t, true, f);

	assert_true(r.mounts);
	assert_true(r.writes > 0);
	r = run(t, false, f);
	assert_int_equal(r.fatal, 0);
	assert_int_equal(r.errors, 0);
	assert_true(r.mounts);
	reopen(t);
}

/* --- the tests --- */

/* A tree of every kind: nothing to report, nothing written. */
static void test_fsck_clean_store(void **state)
{
	struct t *t = *state;
	struct fs_fsck_result r;
	struct fs_file *fh;
	struct found f;
	struct stat st;
	uint64_t ino;

	mkdir_(t, "/d");
	mkdir_(t, "/d/e");
	ino = file_(t, "/d/big", 5 * CS + 10, 1);
	file_(t, "/d/e/small", 100, 2);
	assert_int_equal(fs_link(t->fs, ino, FS_ROOT_INO, "hard", &st), 0);
	assert_int_equal(
		fs_symlink(t->fs, FS_ROOT_INO, "sym", "/d/big", &t->cred, &st),
		0);
	assert_int_equal(fs_setxattr(t->fs, ino, "user.k", "v", 1, 0), 0);
	/* A fallocated file: its reservation key (0x05). */
	assert_int_equal(fs_create(t->fs, FS_ROOT_INO, "falloc", 0644, &t->cred,
				   O_RDWR, &st, &fh),
			 0);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 3 * CS), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	shut(t);
	r = run(t, false, &f);
	assert_int_equal(f.n, 0);
	assert_true(r.mounts);
	assert_int_equal(r.inodes, 7);
	assert_int_equal(r.directories, 3);
	assert_int_equal(r.entries, 8);
	assert_int_equal(r.chunks, 6);
	assert_int_equal(r.xattrs, 1);
	r = run(t, true, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(r.writes, 0);
	reopen(t);
}

/* Finding 4 of issue 10: the copy lost the superblock and root inode. */
static void test_fsck_lost_superblock_and_root(void **state)
{
	struct t *t = *state;
	struct fs_fsck_result r;
	struct fs_options o;
	struct cask_db *db;
	struct found f;
	uint64_t ino;

	mkdir_(t, "/d");
	file_(t, "/d/big", 7 * CS + 5, 3);
	file_(t, "/d/small", 200, 4);
	shut(t);
	db = raw_open(t);
	raw_del(db, SUPER_KEY, SUPER_KEY_LEN);
	del_inode(db, FS_ROOT_INO);
	raw_del(db, "/", 1);
	assert_int_equal(cask_close(db), 0);

	r = run(t, false, &f);
	assert_false(r.mounts);
	assert_true(r.fatal >= 2);
	expect_line(&f, "FATAL /#1:",
		    "root directory's inode record is "
		    "missing");
	expect_line(&f, "ERROR /#0:", "the root's entry is missing");
	expect_line(&f, "FATAL #0:", "superblock missing");
	expect_line(&f, "FATAL #0:", "chunk size 4096");

	/* A read-write open does not format it over the files. */
	fs_options_init(&o);
	assert_int_equal(fs_open_store(t->store, &o, &t->fs), -EIO);
	o.read_only = true;
	assert_int_equal(fs_open_store(t->store, &o, &t->fs), -EIO);

	repair_clean(t, &f);
	expect_file(t, "/d/big", 7 * CS + 5, 3);
	expect_file(t, "/d/small", 200, 4);
	/* New inode numbers do not reuse those of the survivors. */
	ino = file_(t, "/new", 3000, 5);
	assert_true(ino > FS_ROOT_INO + 2);
	expect_file(t, "/d/big", 7 * CS + 5, 3);
	expect_file(t, "/d/small", 200, 4);
}

/* Entries naming inodes whose records are gone. */
static void test_fsck_entry_without_inode(void **state)
{
	struct t *t = *state;
	char buf[3 * CS];
	uint64_t small, big, dir;
	struct fs_fsck_result r;
	struct cask_db *db;
	struct found f;
	size_t len;
	void *data;

	dir = mkdir_(t, "/d");
	small = file_(t, "/d/small", 300, 6);
	big = file_(t, "/d/big", 2 * CS + 100, 7);
	mkdir_(t, "/d/sub");
	file_(t, "/d/sub/kept", 10, 8);
	shut(t);
	db = raw_open(t);
	del_inode(db, small);
	del_inode(db, big);
	del_inode(db, dir);
	assert_int_equal(cask_close(db), 0);

	r = run(t, false, &f);
	assert_true(r.mounts); /* the root is there */
	expect_line(&f, "ERROR /d#",
		    "directory's inode record missing [make the inode again");
	expect_line(&f, "ERROR /d/big#",
		    "file's inode record missing [rebuild the inode from its "
		    "chunks");
	expect_line(&f, "ERROR /d/small#",
		    "lost: the file's inode record is missing [remove the "
		    "entry]");

	repair_clean(t, &f);
	assert_int_equal(fs_read_path(t->fs, "/d/small", &data, &len), -ENOENT);
	expect_file(t, "/d/sub/kept", 10, 8);
	/* The rebuilt file ends with its last chunk: all of it here. */
	assert_int_equal(fs_read_path(t->fs, "/d/big", &data, &len), 0);
	assert_int_equal(len, 2 * CS + 100);
	fill(buf, len, 7);
	assert_memory_equal(data, buf, len);
	free(data);
}

static void test_fsck_wrong_link_counts(void **state)
{
	struct t *t = *state;
	uint64_t file, dir;
	struct cask_db *db;
	struct found f;
	struct stat st;

	dir = mkdir_(t, "/d");
	mkdir_(t, "/d/x");
	file = file_(t, "/d/f", 10, 1);
	shut(t);
	db = raw_open(t);
	set_nlink(db, file, 5);
	set_nlink(db, dir, 2);
	set_nlink(db, FS_ROOT_INO, 7);
	assert_int_equal(cask_close(db), 0);

	run(t, false, &f);
	expect_line(&f, "ERROR /d#", "link count 2, should be 3");
	expect_line(&f, "ERROR /d/f#", "link count 5, should be 1");
	expect_line(&f, "ERROR /#1", "link count 7, should be 3");
	repair_clean(t, &f);
	assert_int_equal(fs_getattr(t->fs, file, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(fs_getattr(t->fs, dir, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	expect_file(t, "/d/f", 10, 1);
}

/* Chunks, xattrs, orphan marks and a fallocate reservation that belong to
 * no live inode; an orphan mark on a file that has a name (a mount would
 * delete it). */
static void test_fsck_orphan_chunks_xattrs_marks(void **state)
{
	struct t *t = *state;
	uint8_t key[CHUNK_KEY_LEN + 8];
	char data[CS], want[CS + 50];
	struct cask_db *db;
	size_t len;
	void *got;
	struct found f;
	uint64_t named;

	named = file_(t, "/named", 2000, 9);
	file_(t, "/other", 20, 10);
	shut(t);
	db = raw_open(t);
	fill(data, sizeof(data), 11);
	chunk_key(key, 900, 0);
	assert_int_equal(cask_put(db, key, CHUNK_KEY_LEN, data, CS), 0);
	chunk_key(key, 900, 1);
	assert_int_equal(cask_put(db, key, CHUNK_KEY_LEN, data, 50), 0);
	ino_key(key, KEY_XATTR, 901);
	memcpy(key + INO_KEY_LEN, "user.a", 6);
	assert_int_equal(cask_put(db, key, INO_KEY_LEN + 6, "v", 1), 0);
	ino_key(key, KEY_ORPHAN, named);
	assert_int_equal(cask_put(db, key, INO_KEY_LEN, "", 0), 0);
	ino_key(key, KEY_ORPHAN, 902);
	assert_int_equal(cask_put(db, key, INO_KEY_LEN, "", 0), 0);
	ino_key(key, KEY_RESV, 903);
	assert_int_equal(cask_put(db, key, INO_KEY_LEN, "\3\0\0\0\0\0\0\0", 8),
			 0);
	assert_int_equal(cask_close(db), 0);

	run(t, false, &f);
	expect_line(&f, "ERROR /named#", "marked unlinked-while-open");
	expect_line(&f, "ERROR #900:",
		    "2 chunks of an inode whose record is lost and that has "
		    "no name [name it /lost+found/#900]");
	expect_line(&f, "ERROR #901:", "extended attributes of a missing");
	expect_line(&f, "NOTE #902:", "orphan mark of a missing inode");
	expect_line(&f, "NOTE #903:",
		    "the fallocate reservation of a missing inode");

	repair_clean(t, &f);
	assert_int_equal(gw_held(t->fs), 0);
	shut(t);
	reopen(t); /* a read-write open reclaims orphans: not /named */
	expect_file(t, "/named", 2000, 9);
	memcpy(want, data, CS);
	memcpy(want + CS, data, 50);
	assert_int_equal(fs_read_path(t->fs, "/lost+found/#900", &got, &len),
			 0);
	assert_int_equal(len, CS + 50);
	assert_memory_equal(got, want, len);
	free(got);
}

/* A directory's entry is lost: the entries below it keep their paths,
 * its inode goes to /lost+found; a file's only entry is lost: it goes to
 * /lost+found with its content. */
static void test_fsck_lost_parent_and_names(void **state)
{
	struct t *t = *state;
	char name[64];
	uint64_t a, lone;
	struct cask_db *db;
	struct found f;
	struct stat st;
	uint64_t ino;

	a = mkdir_(t, "/a");
	mkdir_(t, "/a/b");
	file_(t, "/a/b/deep", 3 * CS, 12);
	file_(t, "/a/c", 30, 13);
	file_(t, "/a-z", 40, 14); /* sorts between "/a" and "/a/..." */
	lone = file_(t, "/lone", 5000, 15);
	shut(t);
	db = raw_open(t);
	raw_del(db, "/a", 2);
	raw_del(db, "/lone", 5);
	assert_int_equal(cask_close(db), 0);

	run(t, false, &f);
	expect_line(&f, "ERROR /a#",
		    "directory entry lost; entries below it "
		    "remain [make the directory again");
	snprintf(name, sizeof(name), "ERROR #%" PRIu64 ":", a);
	expect_line(&f, name, "a directory of 0 bytes has no name");
	snprintf(name, sizeof(name), "ERROR #%" PRIu64 ":", lone);
	expect_line(&f, name, "a file of 5000 bytes has no name");

	repair_clean(t, &f);
	expect_file(t, "/a/b/deep", 3 * CS, 12);
	expect_file(t, "/a/c", 30, 13);
	expect_file(t, "/a-z", 40, 14);
	snprintf(name, sizeof(name), "/lost+found/#%" PRIu64, lone);
	expect_file(t, name, 5000, 15);
	snprintf(name, sizeof(name), "/lost+found/#%" PRIu64, a);
	assert_int_equal(fs_lookup_path(t->fs, name, &ino), 0);
	assert_int_equal(ino, a);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fs_lookup_path(t->fs, "/lost+found", &ino), 0);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_nlink, 3);
}

/* cask fs get --keep-going: a copy that lost its superblock, its root and
 * a directory's inode reads through fs_open_salvage(), changing nothing. */
static void test_fsck_salvage_open(void **state)
{
	struct t *t = *state;
	struct fs_fsck_result r;
	struct cask_db *db;
	uint64_t dir, small, ino;
	struct stat st;
	size_t len;
	void *data;

	dir = mkdir_(t, "/d");
	file_(t, "/d/big", 7 * CS + 5, 3);
	small = file_(t, "/d/small", 200, 4);
	mkdir_(t, "/d/sub");
	file_(t, "/d/sub/kept", 10, 8);
	shut(t);
	db = raw_open(t);
	raw_del(db, SUPER_KEY, SUPER_KEY_LEN);
	del_inode(db, FS_ROOT_INO);
	del_inode(db, dir);
	del_inode(db, small);
	assert_int_equal(cask_close(db), 0);

	assert_int_equal(fs_open_salvage(t->store, &t->fs, &r), 0);
	assert_true(r.caskfs);
	assert_int_equal(r.fatal, 2); /* superblock, root */
	expect_file(t, "/d/big", 7 * CS + 5, 3);
	expect_file(t, "/d/sub/kept", 10, 8);
	assert_int_equal(fs_read_path(t->fs, "/d/small", &data, &len), -ENOENT);
	/* The stand-ins: directories of the caller, in memory only. */
	assert_int_equal(fs_lookup_path(t->fs, "/d", &ino), 0);
	assert_int_equal(ino, dir);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0755);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, "x", 0755, &t->cred, &st),
			 -EROFS);
	assert_int_equal(fs_write_path(t->fs, "/d/new", "x", 1, 0644, &t->cred),
			 -EROFS);
	shut(t);
	r = run(t, false, &(struct found){0});
	assert_int_equal(r.fatal, 2);
	assert_int_equal(r.writes, 0);

	/* The directory around the store holds it: not a store. */
	assert_int_equal(fs_open_salvage(t->dir, &t->fs, &r), -ENOTEMPTY);
	assert_null(t->fs);
}

/* A store of plain keys is no caskfs: nothing reported or written. */
static void test_fsck_not_caskfs(void **state)
{
	struct t *t = *state;
	struct fs_fsck_options o = {.repair = true};
	struct fs_fsck_result r;
	struct cask_db *db;
	char dir[4300];

	snprintf(dir, sizeof(dir), "%s/kv", t->dir);
	assert_int_equal(cask_open(dir, NULL, &db), 0);
	assert_int_equal(cask_put(db, "/etc", 4, "x", 1), 0);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(fs_fsck(dir, &o, &r), 0);
	assert_false(r.caskfs);
	assert_int_equal(r.writes, 0);
	snprintf(dir, sizeof(dir), "%s/missing", t->dir);
	assert_int_equal(fs_fsck(dir, NULL, &r), -ENOENT);
}

/* No repair while the store is open elsewhere (mounted). */
static void test_fsck_repair_refuses_open_store(void **state)
{
	struct t *t = *state;
	struct fs_fsck_options o = {.repair = true};
	struct fs_fsck_result r;

	assert_int_equal(fs_fsck(t->store, &o, &r), -EBUSY);
	assert_int_equal(fs_fsck(t->store, NULL, &r), 0);
	assert_true(r.mounts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_fsck_clean_store),
		T(test_fsck_lost_superblock_and_root),
		T(test_fsck_entry_without_inode),
		T(test_fsck_wrong_link_counts),
		T(test_fsck_orphan_chunks_xattrs_marks),
		T(test_fsck_lost_parent_and_names),
		T(test_fsck_salvage_open),
		T(test_fsck_not_caskfs),
		T(test_fsck_repair_refuses_open_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
