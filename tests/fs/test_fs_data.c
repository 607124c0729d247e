/*
 * test_fs_data.c - file content through fs/ without a mount: inline and
 * chunked content, chunk boundaries, sparse files, truncate, O_TRUNC and
 * O_APPEND, unlink while open and orphan reclaim (also after a simulated
 * crash), fallocate, SEEK_DATA/SEEK_HOLE, persistence, keys left in
 * the store, and operations whose commit fails (ENOSPC injected into
 * libcask's writes through the io seam) changing nothing, and failed
 * writebacks leaving no hole. Small chunks (4 KiB, inline up to 1 KiB)
 * keep tests fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include <cask.h>

/* Small stores (fs_fixture.h): 4 KiB chunks, inline up to 1 KiB. */
#define CS  4096u
#define INL 1024u
#include "fs_fixture.h"

#include "alloc.h"
#include "test_util.h"

static struct fs_file *open_(struct t *t, uint64_t ino, int flags)
{
	struct fs_file *fh;

	assert_int_equal(fs_open(t->fs, ino, flags, &fh), 0);
	return fh;
}

static void fill_pattern(char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i + seed) * 31 + (i >> 11));
}

/* Count the keys of @p type for inode @p ino (0: any inode). */
static int count_keys(struct t *t, uint8_t type, uint64_t ino)
{
	uint8_t prefix[INO_KEY_LEN];
	struct cask_iter_options o = {0};
	struct cask_iter *it;
	int n = 0;

	ino_key(prefix, type, ino);
	o.prefix = prefix;
	o.prefix_len = ino ? INO_KEY_LEN : 1;
	assert_int_equal(cask_iter_new(t->fs->db, &o, &it), 0);
	for (; cask_iter_valid(it); cask_iter_next(it))
		n++;
	cask_iter_free(it);
	return n;
}

static void test_fs_write_read_inline_to_chunks(void **state)
{
	struct t *t = *state;
	static char w[5 * CS + 123], r[5 * CS + 200];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	fill_pattern(w, sizeof(w), 1);
	/* small writes: inline, then past inline_max, across chunks */
	for (size_t off = 0; off < sizeof(w); off += 700) {
		size_t n = sizeof(w) - off < 700 ? sizeof(w) - off : 700;

		assert_int_equal(fs_write(t->fs, fh, w + off, n, off),
				 (ssize_t)n);
		assert_int_equal(size_of(t, ino), off + n);
	}
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(w));
	assert_memory_equal(r, w, sizeof(w));
	/* a read across a chunk boundary, from the middle */
	assert_int_equal(fs_read(t->fs, fh, r, 3000, CS - 1000), 3000);
	assert_memory_equal(r, w + CS - 1000, 3000);
	assert_int_equal(fs_read(t->fs, fh, r, 10, sizeof(w)), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 6);
	reopen(t);
	fh = open_(t, ino, O_RDONLY);
	memset(r, 0, sizeof(r));
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(w));
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(fs_write(t->fs, fh, "x", 1, 0), -EBADF);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_fs_large_file_whole_chunks(void **state)
{
	struct t *t = *state;
	size_t n = 64 * CS + 77;
	char *w = malloc(n), *r = malloc(n);
	uint64_t ino;
	struct fs_file *fh = create(t, "big", &ino);
	struct stat st;

	fill_pattern(w, n, 7);
	/* 1 MiB-like writes: whole chunks straight into the batch */
	for (size_t off = 0; off < n; off += 16 * CS) {
		size_t len = n - off < 16 * CS ? n - off : 16 * CS;

		assert_int_equal(fs_write(t->fs, fh, w + off, len, off),
				 (ssize_t)len);
	}
	/* overwrite in the middle, unaligned */
	fill_pattern(w + 10 * CS + 5, 3 * CS, 99);
	assert_int_equal(
		fs_write(t->fs, fh, w + 10 * CS + 5, 3 * CS, 10 * CS + 5),
		3 * CS);
	assert_int_equal(fs_fsync(t->fs, fh, false), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_int_equal(st.st_size, n);
	assert_int_equal(st.st_blocks, (n + 511) / 512);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, n, 0), (ssize_t)n);
	assert_memory_equal(r, w, n);
	fs_release(t->fs, fh);
	free(w);
	free(r);
}

static void test_fs_sparse_file(void **state)
{
	struct t *t = *state;
	char r[3 * CS], zero[3 * CS] = {0};
	uint64_t ino;
	struct fs_file *fh = create(t, "sparse", &ino);
	struct stat st;

	assert_int_equal(fs_write(t->fs, fh, "end", 3, 100 * CS), 3);
	assert_int_equal(fs_flush(t->fs, fh), 0);
	assert_int_equal(size_of(t, ino), 100 * CS + 3);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 50 * CS), sizeof(r));
	assert_memory_equal(r, zero, sizeof(r));
	assert_int_equal(fs_read(t->fs, fh, r, 10, 100 * CS - 7), 10);
	assert_memory_equal(r, zero, 7);
	assert_memory_equal(r + 7, "end", 3);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_true(st.st_blocks <= (blkcnt_t)(2 * CS / 512));
	/* SEEK_DATA / SEEK_HOLE at chunk granularity */
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA), 100 * CS);
	assert_int_equal(fs_lseek(t->fs, fh, 5, SEEK_HOLE), 5);
	assert_int_equal(fs_lseek(t->fs, fh, 100 * CS + 1, SEEK_HOLE),
			 100 * CS + 3);
	assert_int_equal(fs_lseek(t->fs, fh, 100 * CS + 3, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_write(t->fs, fh, "a", 1, CS), 1);
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA), CS);
	assert_int_equal(fs_lseek(t->fs, fh, CS, SEEK_HOLE), 2 * CS);
	fs_release(t->fs, fh);
	reopen(t);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, 3, 100 * CS), 3);
	assert_memory_equal(r, "end", 3);
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA), CS);
	fs_release(t->fs, fh);
}

static void truncate_to(struct t *t, uint64_t ino, uint64_t size)
{
	struct stat in = {.st_size = (off_t)size}, out;

	assert_int_equal(fs_setattr(t->fs, ino, &in, FS_SET_SIZE, NULL, &out),
			 0);
	assert_int_equal(out.st_size, size);
}

static void test_fs_truncate_down_up(void **state)
{
	struct t *t = *state;
	static char w[4 * CS], r[4 * CS], zero[4 * CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "t", &ino);

	fill_pattern(w, sizeof(w), 3);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	fs_release(t->fs, fh);
	/* down inside a chunk, then up: the cut bytes read as zeros */
	truncate_to(t, ino, 2 * CS + 100);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 3);
	truncate_to(t, ino, 4 * CS);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, 2 * CS + 100);
	assert_memory_equal(r + 2 * CS + 100, zero, 2 * CS - 100);
	fs_release(t->fs, fh);
	/* down to inline size: content moves into the inode record */
	truncate_to(t, ino, 500);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 0);
	truncate_to(t, ino, 800);
	fh = open_(t, ino, O_RDWR);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 800);
	assert_memory_equal(r, w, 500);
	assert_memory_equal(r + 500, zero, 300);
	/* truncate through the open handle while data is buffered */
	assert_int_equal(fs_write(t->fs, fh, w, 3 * CS, 0), 3 * CS);
	struct stat in = {.st_size = CS + 1}, out;
	assert_int_equal(fs_setattr(t->fs, ino, &in, FS_SET_SIZE, fh, &out), 0);
	assert_int_equal(fs_write(t->fs, fh, "z", 1, 3 * CS), 1);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 3 * CS + 1);
	assert_memory_equal(r, w, CS + 1);
	assert_memory_equal(r + CS + 1, zero, 2 * CS - 1);
	assert_int_equal(r[3 * CS], 'z');
	fs_release(t->fs, fh);
	/* an inline file grows past inline_max by truncate */
	truncate_to(t, ino, 10);
	truncate_to(t, ino, 3 * CS);
	reopen(t);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 3 * CS);
	assert_memory_equal(r, w, 10);
	assert_memory_equal(r + 10, zero, 3 * CS - 10);
	fs_release(t->fs, fh);
}

static void test_fs_open_trunc_append(void **state)
{
	struct t *t = *state;
	char r[64];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	assert_int_equal(fs_write(t->fs, fh, "hello", 5, 0), 5);
	fs_release(t->fs, fh);
	fh = open_(t, ino, O_WRONLY | O_APPEND);
	assert_int_equal(fs_write(t->fs, fh, " world", 6, 0), 6);
	fs_release(t->fs, fh);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 11);
	assert_memory_equal(r, "hello world", 11);
	fs_release(t->fs, fh);
	fh = open_(t, ino, O_RDWR | O_TRUNC);
	assert_int_equal(size_of(t, ino), 0);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 0);
	fs_release(t->fs, fh);
	assert_int_equal(fs_open(t->fs, FS_ROOT_INO, O_RDONLY, &fh), -EISDIR);
	assert_null(fh);
}

static void test_fs_unlink_while_open(void **state)
{
	struct t *t = *state;
	static char w[3 * CS], r[3 * CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);
	struct stat st;

	fill_pattern(w, sizeof(w), 5);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_setxattr(t->fs, ino, "user.x", "1", 1, 0), 0);
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "f"), 0);
	assert_int_equal(fs_lookup(t->fs, FS_ROOT_INO, "f", &st), -ENOENT);
	assert_int_equal(count_keys(t, KEY_ORPHAN, ino), 1);
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	/* still readable and writable */
	assert_int_equal(fs_write(t->fs, fh, "abc", 3, CS + 1), 3);
	memcpy(w + CS + 1, "abc", 3);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(count_keys(t, KEY_ORPHAN, ino), 0);
	assert_int_equal(count_keys(t, KEY_INODE, ino), 0);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 0);
	assert_int_equal(count_keys(t, KEY_XATTR, ino), 0);
	/* a second link keeps it alive: no orphan */
	fh = create(t, "g", &ino);
	assert_int_equal(fs_link(t->fs, ino, FS_ROOT_INO, "h", &st), 0);
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "g"), 0);
	assert_int_equal(count_keys(t, KEY_ORPHAN, ino), 0);
	fs_release(t->fs, fh);
	assert_int_equal(count_keys(t, KEY_INODE, ino), 1);
}

static void test_fs_orphan_reclaim_after_crash(void **state)
{
	struct t *t = *state;
	static char w[3 * CS];
	uint64_t ino, ino2;
	struct fs_file *fh = create(t, "f", &ino);
	struct fs_file *fh2 = create(t, "g", &ino2);

	fill_pattern(w, sizeof(w), 5);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "f"), 0);
	/* rename over an open file orphans it too */
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "g", FS_ROOT_INO, "h", 0), 0);
	fh = create(t, "x", NULL);
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "x", FS_ROOT_INO, "h", 0), 0);
	assert_int_equal(count_keys(t, KEY_ORPHAN, 0), 2);
	/* "crash": the store is closed with the files still open */
	reopen(t);
	assert_int_equal(count_keys(t, KEY_ORPHAN, 0), 0);
	assert_int_equal(count_keys(t, KEY_INODE, ino), 0);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 0);
	assert_int_equal(count_keys(t, KEY_INODE, ino2), 0);
	(void)fh2;
}

/* A hole over the ends of two chunks with no whole chunk inside, longer
 * than a chunk, zeroes just that range (it once wrote heap bytes past a
 * chunk-sized zero buffer). */
static void test_fs_punch_hole_across_two_chunk_ends(void **state)
{
	struct t *t = *state;
	static char w[3 * CS], r[3 * CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	fill_pattern(w, sizeof(w), 5);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), 0);
	assert_int_equal(
		fs_fallocate(t->fs, fh,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, CS / 4,
			     CS + CS / 2),
		0);
	memset(w + CS / 4, 0, CS + CS / 2);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	fs_release(t->fs, fh);
	reopen(t);
	fh = open_(t, ino, O_RDONLY);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	fs_release(t->fs, fh);
}

static void test_fs_fallocate_punch_hole(void **state)
{
	struct t *t = *state;
	static char w[6 * CS], r[6 * CS], zero[6 * CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	fill_pattern(w, sizeof(w), 11);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(
		fs_fallocate(t->fs, fh,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     CS - 10, 3 * CS + 20),
		0);
	memset(w + CS - 10, 0, 3 * CS + 20);
	assert_int_equal(size_of(t, ino), sizeof(w));
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 3);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 10 * CS), 0);
	assert_int_equal(size_of(t, ino), 10 * CS);
	assert_int_equal(
		fs_fallocate(t->fs, fh, FALLOC_FL_KEEP_SIZE, 0, 20 * CS), 0);
	assert_int_equal(size_of(t, ino), 10 * CS);
	assert_int_equal(fs_read(t->fs, fh, r, CS, 7 * CS), CS);
	assert_memory_equal(r, zero, CS);
	assert_int_equal(fs_fallocate(t->fs, fh, FALLOC_FL_ZERO_RANGE, 0, 1),
			 -EOPNOTSUPP);
	fs_release(t->fs, fh);
}

static void test_fs_write_path_replaces_atomically(void **state)
{
	struct t *t = *state;
	static char w[3 * CS];
	void *data;
	size_t len;
	uint64_t ino;

	fill_pattern(w, sizeof(w), 2);
	assert_int_equal(
		fs_write_path(t->fs, "/cfg", w, sizeof(w), 0600, &t->cred), 0);
	assert_int_equal(fs_lookup_path(t->fs, "/cfg", &ino), 0);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 3);
	assert_int_equal(
		fs_write_path(t->fs, "/cfg", "small", 5, 0600, &t->cred), 0);
	assert_int_equal(count_keys(t, KEY_CHUNK, ino), 0);
	assert_int_equal(fs_read_path(t->fs, "/cfg", &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "small", 5);
	free(data);
}

struct rw {
	struct t *t;
	struct fs_file *fh;
	int id;
};

static void *writer(void *arg)
{
	struct rw *a = arg;
	char buf[CS];

	memset(buf, 'a' + a->id, sizeof(buf));
	for (int i = 0; i < 50; i++)
		if (fs_write(a->t->fs, a->fh, buf, sizeof(buf),
			     (uint64_t)(i * 4 + a->id) * CS) != CS)
			return (void *)1;
	return NULL;
}

static void test_fs_concurrent_writers(void **state)
{
	struct t *t = *state;
	pthread_t th[4];
	struct rw a[4];
	char r[CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);
	void *ret;

	for (int i = 0; i < 4; i++) {
		a[i] = (struct rw){t, fh, i};
		pthread_create(&th[i], NULL, writer, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	fh = open_(t, ino, O_RDONLY);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(fs_read(t->fs, fh, r, CS, (uint64_t)i * CS),
				 CS);
		assert_int_equal(r[0], 'a' + i % 4);
		assert_int_equal(r[CS - 1], 'a' + i % 4);
	}
	fs_release(t->fs, fh);
}

static int count_fill(void *ctx, const char *name, const struct stat *st,
		      uint64_t next)
{
	(void)name;
	(void)st;
	(void)next;
	++*(int *)ctx;
	return 0;
}

static void *reader(void *arg)
{
	struct rw *a = arg;
	char buf[CS], name[32];
	struct stat st;
	struct fs_dir *dh;
	int n;

	for (int i = 0; i < 200; i++) {
		if (fs_read(a->t->fs, a->fh, buf, sizeof(buf),
			    (uint64_t)(i % 50) * CS) < 0)
			return (void *)1;
		snprintf(name, sizeof(name), "n%d", i % 40);
		fs_lookup(a->t->fs, FS_ROOT_INO, name, &st);
		if (fs_getattr(a->t->fs, FS_ROOT_INO, &st))
			return (void *)1;
		n = 0;
		if (fs_opendir(a->t->fs, FS_ROOT_INO, &dh) ||
		    fs_readdir(a->t->fs, dh, 0, i % 2, count_fill, &n))
			return (void *)1;
		fs_releasedir(a->t->fs, dh);
	}
	return NULL;
}

static void *creator(void *arg)
{
	struct rw *a = arg;
	struct fs_cred c = {getuid(), getgid(), 0};
	struct stat st;
	char name[32];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "n%d", i % 40);
		if (i % 80 < 40)
			fs_mknod(a->t->fs, FS_ROOT_INO, name, S_IFREG | 0644, 0,
				 &c, &st);
		else
			fs_unlink(a->t->fs, FS_ROOT_INO, name);
	}
	return NULL;
}

static void test_fs_concurrent_readers_and_changes(void **state)
{
	struct t *t = *state;
	pthread_t th[4];
	struct rw a[4];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);
	void *ret;

	for (int i = 0; i < 4; i++) {
		a[i] = (struct rw){t, fh, i};
		pthread_create(&th[i], NULL,
			       i == 0	? writer
			       : i == 1 ? creator
					: reader,
			       &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(fs_release(t->fs, fh), 0);
}

/* The next libcask write fails with ENOSPC (@p sticky: every one until
 * tu_fault_remove(); the space reserve's retry fails too). */
static void fail_writes(bool sticky)
{
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, sticky, NULL);
}

/* Bytes [@p off, @p off + @p n) of @p path, read without caskfs' handles. */
static void expect_bytes(struct t *t, const char *path, uint64_t off,
			 const char *want, size_t n)
{
	void *data;
	size_t len;

	assert_int_equal(fs_read_path(t->fs, path, &data, &len), 0);
	assert_true(off + n <= len);
	assert_memory_equal((char *)data + off, want, n);
	free(data);
}

/* A write that fails to commit changes nothing: a write buffered before it
 * in another chunk stays, its own bytes do not (the batch of the failed
 * write held the buffered chunk, and the buffer had moved on). */
static void test_fs_failed_write_changes_nothing(void **state)
{
	struct t *t = *state;
	static char w[16 * CS], r[16];
	struct fs_file *fh = create(t, "f", NULL);

	memset(w, 'A', sizeof(w));
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), 0);
	assert_int_equal(fs_write(t->fs, fh, "BBBB", 4, 100), 4);
	fail_writes(false);
	assert_int_equal(fs_write(t->fs, fh, "CCCC", 4, 5 * CS + 100), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(fs_read(t->fs, fh, r, 4, 100), 4);
	assert_memory_equal(r, "BBBB", 4);
	assert_int_equal(fs_read(t->fs, fh, r, 4, 5 * CS + 100), 4);
	assert_memory_equal(r, "AAAA", 4);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	expect_bytes(t, "/f", 100, "BBBB", 4);
	expect_bytes(t, "/f", 5 * CS + 100, "AAAA", 4);

	/* an inline file that a failed write would have made chunked */
	uint64_t ino;

	fh = create(t, "g", &ino);
	assert_int_equal(fs_write(t->fs, fh, w, INL - 10, 0), INL - 10);
	fail_writes(false);
	assert_int_equal(fs_write(t->fs, fh, "C", 1, 3 * CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(size_of(t, ino), INL - 10);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(size_of(t, ino), INL - 10);
	expect_bytes(t, "/g", 0, w, INL - 10);
}

/* A truncate that fails to commit changes nothing: buffered writes stay
 * (moving the content inline once dropped the buffer before the commit). */
static void test_fs_failed_truncate_changes_nothing(void **state)
{
	struct t *t = *state;
	static char w[16 * CS], r[16];
	struct stat in = {.st_size = INL / 2}, out;
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	memset(w, 'A', sizeof(w));
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), 0);
	for (int i = 0; i < 2; i++) {
		/* to inline size, then within the chunks */
		assert_int_equal(fs_write(t->fs, fh, "BBBB", 4, 100), 4);
		fail_writes(true);
		assert_int_equal(
			fs_setattr(t->fs, ino, &in, FS_SET_SIZE, fh, &out),
			-ENOSPC);
		tu_fault_remove();
		assert_int_equal(size_of(t, ino), sizeof(w));
		assert_int_equal(fs_read(t->fs, fh, r, 4, 100), 4);
		assert_memory_equal(r, "BBBB", 4);
		assert_int_equal(fs_flush(t->fs, fh), 0);
		expect_bytes(t, "/f", 100, "BBBB", 4);
		memset(w + 100, 'B', 4);
		expect_bytes(t, "/f", 0, w, sizeof(w));
		in.st_size = 2 * CS + 1;
	}
	assert_int_equal(fs_release(t->fs, fh), 0);
}

/* A fallocate that fails to commit changes nothing: not the size (it
 * stayed grown in memory and reached the store with the next flush), not
 * the content of a hole punch. */
static void test_fs_failed_fallocate_changes_nothing(void **state)
{
	struct t *t = *state;
	static char w[4 * CS];
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	fill_pattern(w, sizeof(w), 7);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_write(t->fs, fh, "BBBB", 4, 100), 4);
	memcpy(w + 100, "BBBB", 4);
	fail_writes(true);
	assert_int_equal(fs_fallocate(t->fs, fh, 0, 0, 64 * CS), -ENOSPC);
	assert_int_equal(
		fs_fallocate(t->fs, fh,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10,
			     3 * CS),
		-ENOSPC);
	tu_fault_remove();
	assert_int_equal(size_of(t, ino), sizeof(w));
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(size_of(t, ino), sizeof(w));
	expect_bytes(t, "/f", 0, w, sizeof(w));
}

/* A hole punch over the ends of two chunks and whole chunks between is one
 * batch (it was up to three: either end's zeros, then the deletes). */
static void test_fs_punch_hole_is_one_batch(void **state)
{
	struct t *t = *state;
	static char w[6 * CS];
	struct fs_file *fh = create(t, "f", NULL);
	long calls;

	fill_pattern(w, sizeof(w), 9);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	tu_fault_install();
	calls = tu_fault_calls(TU_PWRITEV);
	assert_int_equal(
		fs_fallocate(t->fs, fh,
			     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, CS / 2,
			     4 * CS),
		0);
	assert_int_equal(tu_fault_calls(TU_PWRITEV) - calls, 1);
	tu_fault_remove();
	memset(w + CS / 2, 0, 4 * CS);
	expect_bytes(t, "/f", 0, w, sizeof(w));
	assert_int_equal(fs_release(t->fs, fh), 0);
}

/* A hole punch sets mtime and ctime, as on ext4, inline files too. */
static void test_fs_punch_hole_sets_times(void **state)
{
	struct t *t = *state;
	struct stat in = {.st_mtim = {1, 0}}, out;
	uint64_t ino;
	struct fs_file *fh = create(t, "f", &ino);

	for (uint64_t size = 100; size <= 3 * CS; size += 3 * CS - 100) {
		assert_int_equal(fs_write(t->fs, fh, "x", 1, size - 1), 1);
		assert_int_equal(fs_setattr(t->fs, ino, &in,
					    FS_SET_MTIME | FS_SET_CTIME, fh,
					    &out),
				 0);
		assert_int_equal(
			fs_fallocate(t->fs, fh,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     0, size),
			0);
		assert_int_equal(fs_getattr(t->fs, ino, &out), 0);
		assert_true(out.st_mtime > 1);
		assert_true(out.st_ctime > 1);
	}
	assert_int_equal(fs_release(t->fs, fh), 0);
}

/* A truncate inside a chunk that fails on memory at any allocation frees
 * what it took (the trimmed chunk's value leaked when its put failed;
 * LeakSanitizer tells). */
static void test_fs_failed_shrink_frees_memory(void **state)
{
	struct t *t = *state;
	static char w[3 * CS];
	struct stat in = {.st_size = 2 * CS + 100}, out;
	uint64_t ino;
	int err = -ENOMEM;

	fs_release(t->fs, create(t, "f", &ino));
	fill_pattern(w, sizeof(w), 3);
	assert_int_equal(
		fs_write_path(t->fs, "/f", w, sizeof(w), 0644, &t->cred), 0);
	for (long n = 0; err == -ENOMEM && n < 1000; n++) {
		mem_fail_after(n);
		err = fs_setattr(t->fs, ino, &in, FS_SET_SIZE, NULL, &out);
		mem_fail_after(-1);
	}
	assert_int_equal(err, 0);
	expect_bytes(t, "/f", 0, w, 2 * CS + 100);
}

/* An unlinked inode the kernel still knows (an O_PATH descriptor) takes a
 * chmod, as on ext4, but in memory only: a record or xattr key stored now
 * would never be reclaimed. */
static void test_fs_removed_inode_gets_no_keys(void **state)
{
	struct t *t = *state;
	struct stat in = {.st_mode = 0600}, out;
	uint64_t ino;

	fs_release(t->fs, create(t, "f", &ino));
	assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "f"), 0);
	assert_int_equal(fs_setattr(t->fs, ino, &in, FS_SET_MODE, NULL, &out),
			 0);
	assert_int_equal(out.st_mode & 07777, 0600);
	assert_int_equal(fs_setxattr(t->fs, ino, "user.k", "v", 1, 0), -ENOENT);
	assert_int_equal(fs_removexattr(t->fs, ino, "user.k"), -ENODATA);
	assert_int_equal(count_keys(t, KEY_INODE, ino), 0);
	assert_int_equal(count_keys(t, KEY_XATTR, ino), 0);
	fs_forget(t->fs, ino, 1);
}

/* fs_write_path creating a file commits the name and the content in one
 * batch: whichever of its writes fails, it leaves either the whole file or
 * none, never an empty one, in memory or in the store. */
static void test_fs_write_path_creates_in_one_batch(void **state)
{
	struct t *t = *state;
	static char w[3 * CS];
	uint64_t ino;
	void *data;
	size_t len;

	fill_pattern(w, sizeof(w), 5);
	for (int i = 0; i < 6; i++) {
		size_t n = i % 2 ? sizeof(w) : 5; /* chunked, inline */
		int rc;

		tu_fault_install();
		tu_fault_set(TU_PWRITEV, i / 2, -ENOSPC, false, NULL);
		rc = fs_write_path(t->fs, "/new", w, n, 0644, &t->cred);
		tu_fault_remove();
		for (int pass = 0; pass < 2; pass++) {
			if (rc) {
				assert_int_equal(rc, -ENOSPC);
				assert_int_equal(
					fs_lookup_path(t->fs, "/new", &ino),
					-ENOENT);
			} else {
				assert_int_equal(fs_read_path(t->fs, "/new",
							      &data, &len),
						 0);
				assert_int_equal(len, n);
				assert_memory_equal(data, w, n);
				free(data);
			}
			reopen(t);
		}
		if (!rc)
			assert_int_equal(fs_unlink(t->fs, FS_ROOT_INO, "new"),
					 0);
	}
}

/* On a full disk a file renamed over another (mv over a file) goes
 * through, like unlink: libcask lets it use its space reserve. A write
 * that fails once (ENOSPC) makes an ordinary commit fail, not this one. */
static void test_fs_rename_over_file_on_full_disk(void **state)
{
	struct t *t = *state;
	struct fs_file *fh;
	uint64_t ino;

	fh = create(t, "old", &ino);
	assert_int_equal(fs_release(t->fs, fh), 0);
	fh = create(t, "new", &ino);
	assert_int_equal(fs_write(t->fs, fh, "saved", 5, 0), 5);
	assert_int_equal(fs_release(t->fs, fh), 0);
	fail_writes(false);
	assert_int_equal(
		fs_rename(t->fs, FS_ROOT_INO, "new", FS_ROOT_INO, "old", 0), 0);
	tu_fault_remove();
	reopen(t);
	expect_bytes(t, "/old", 0, "saved", 5);
	assert_int_equal(fs_lookup_path(t->fs, "/new", &ino), -ENOENT);
}

/* A release whose flush fails (ENOSPC) keeps the written bytes in memory
 * even after the kernel forgets the inode: the next flush (here the one
 * of fs_close) writes them once there is room. */
static void test_fs_failed_release_keeps_data(void **state)
{
	struct t *t = *state;
	static char w[4 * CS];
	struct fs_file *fh;
	uint64_t ino;

	fill_pattern(w, sizeof(w), 9);
	fh = create(t, "f", &ino);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), 0);
	/* buffered in the daemon, not yet in the store */
	assert_int_equal(fs_write(t->fs, fh, "BBBB", 4, 100), 4);
	memcpy(w + 100, "BBBB", 4);
	fail_writes(true);
	assert_int_equal(fs_release(t->fs, fh), -ENOSPC);
	fs_forget(t->fs, ino, 1);
	tu_fault_remove();
	reopen(t);
	expect_bytes(t, "/f", 0, w, sizeof(w));
}

/* An inode whose release failed (ENOSPC) stays dirty in memory for a
 * retry; a chmod that fails as well must not drop its buffer: the bytes
 * the writer was told are written read back, and reach the store at the
 * next flush. Both content kinds: inline and a buffered chunk. */
static void test_fs_failed_setattr_keeps_dirty_buffer(void **state)
{
	struct t *t = *state;
	static char w[2 * CS];
	struct stat sa = {.st_mode = 0600}, out;
	struct fs_file *fh;
	char r[8];
	uint64_t ino;

	fill_pattern(w, sizeof(w), 4);
	for (int chunked = 0; chunked < 2; chunked++) {
		const char *name = chunked ? "/c" : "/i";
		uint64_t off = chunked ? CS + 10 : 10;

		fh = create(t, name + 1, &ino);
		if (chunked) {
			assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0),
					 sizeof(w));
			assert_int_equal(fs_flush(t->fs, fh), 0);
		}
		assert_int_equal(fs_write(t->fs, fh, "hello", 5, off), 5);
		fail_writes(true);
		assert_int_equal(fs_release(t->fs, fh), -ENOSPC);
		assert_int_equal(
			fs_setattr(t->fs, ino, &sa, FS_SET_MODE, NULL, &out),
			-ENOSPC);
		tu_fault_remove();
		fh = open_(t, ino, O_RDONLY);
		assert_int_equal(fs_read(t->fs, fh, r, 5, off), 5);
		assert_memory_equal(r, "hello", 5);
		assert_int_equal(fs_release(t->fs, fh), 0);
		fs_forget(t->fs, ino, 1);
	}
	reopen(t);
	expect_bytes(t, "/i", 10, "hello", 5);
	expect_bytes(t, "/c", CS + 10, "hello", 5);
	expect_bytes(t, "/c", 0, w, 10);
}

/* A writeback that fails (ENOSPC) after a later range was stored cuts the
 * file back to the failed bytes, not below what the writer was told (the
 * size at its last flush); until a flush reports the error, no writeback
 * grows the file past the cut, though one below it works. */
static void test_fs_failed_writeback_leaves_no_hole(void **state)
{
	struct t *t = *state;
	static char w[6 * CS], r[6 * CS];
	struct fs_file *fh;
	uint64_t ino;

	fill_pattern(w, sizeof(w), 3);
	fh = create(t, "f", &ino);
	assert_int_equal(fs_write(t->fs, fh, w, CS, 0), CS);
	assert_int_equal(fs_flush(t->fs, fh), 0);
	assert_int_equal(fs_writeback(t->fs, fh, w + 3 * CS, CS, 3 * CS), CS);
	fail_writes(false);
	assert_int_equal(fs_writeback(t->fs, fh, w + CS, 2 * CS, CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(size_of(t, ino), CS);
	/* past the cut: the error again, though there is room now */
	assert_int_equal(fs_writeback(t->fs, fh, w + 4 * CS, 10, 4 * CS),
			 -ENOSPC);
	assert_int_equal(fs_writeback(t->fs, fh, w, 100, 0), 100);
	assert_int_equal(size_of(t, ino), CS);
	assert_int_equal(fs_flush(t->fs, fh), -ENOSPC);
	assert_int_equal(fs_flush(t->fs, fh), 0);
	/* reported: the file grows again */
	assert_int_equal(fs_writeback(t->fs, fh, w + CS, 2 * CS, CS), 2 * CS);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), 3 * CS);
	assert_memory_equal(r, w, 3 * CS);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(size_of(t, ino), 3 * CS);
	expect_bytes(t, "/f", 0, w, 3 * CS);
}

/* A writeback that fails inside what the writer was told (an overwrite of
 * flushed bytes, or below a truncate's size) cuts nothing: the bytes there
 * stay as they were. */
static void test_fs_failed_writeback_keeps_what_was_told(void **state)
{
	struct t *t = *state;
	static char w[4 * CS], x[CS];
	struct fs_file *fh;
	struct stat st = {.st_size = 8 * CS};
	uint64_t ino;

	fill_pattern(w, sizeof(w), 5);
	memset(x, 'x', sizeof(x));
	fh = create(t, "f", &ino);
	assert_int_equal(fs_write(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), 0);
	fail_writes(false);
	assert_int_equal(fs_writeback(t->fs, fh, x, CS, CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(size_of(t, ino), 4 * CS);
	/* grown by a truncate (as before mmap), then a failed writeback */
	assert_int_equal(fs_setattr(t->fs, ino, &st, FS_SET_SIZE, fh, &st), 0);
	fail_writes(false);
	assert_int_equal(fs_writeback(t->fs, fh, x, CS, 6 * CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(size_of(t, ino), 8 * CS);
	assert_int_equal(fs_flush(t->fs, fh), -ENOSPC);
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	assert_int_equal(size_of(t, ino), 8 * CS);
	expect_bytes(t, "/f", 0, w, sizeof(w));
}

/* A truncate tells the writers the size: the cut a failed writeback set
 * before it no longer holds, though the error is still reported once. */
static void test_fs_truncate_lifts_failed_writeback_cut(void **state)
{
	struct t *t = *state;
	static char w[6 * CS], r[6 * CS];
	struct stat sz = {.st_size = 0}, out;
	struct fs_file *fh;
	uint64_t ino;

	fill_pattern(w, sizeof(w), 6);
	fh = create(t, "f", &ino);
	assert_int_equal(fs_write(t->fs, fh, w, 3 * CS, 0), 3 * CS);
	assert_int_equal(fs_flush(t->fs, fh), 0);
	fail_writes(false);
	assert_int_equal(fs_writeback(t->fs, fh, w, CS, 3 * CS), -ENOSPC);
	tu_fault_remove();
	assert_int_equal(fs_setattr(t->fs, ino, &sz, FS_SET_SIZE, fh, &out), 0);
	assert_int_equal(fs_writeback(t->fs, fh, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(size_of(t, ino), sizeof(w));
	assert_int_equal(fs_flush(t->fs, fh), -ENOSPC);
	assert_int_equal(fs_read(t->fs, fh, r, sizeof(r), 0), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(fs_release(t->fs, fh), 0);
	reopen(t);
	expect_bytes(t, "/f", 0, w, sizeof(w));
}

/* Under sync=always a commit whose fdatasync fails is visible in the store
 * already: the operation returns the error, and memory says what the
 * store says (the parent's link count went back to the old one while the
 * new directory's entry stayed). */
static void test_fs_failed_sync_keeps_memory_as_the_store(void **state)
{
	struct t *t = *state;
	struct fs_options o;
	struct stat st;

	fixture_options(&o);
	o.sync_mode = FS_SYNC_ALWAYS;
	reopen_with(t, &o);
	/* (the first node takes a block of inode numbers: a commit of its
	 * own) */
	fs_release(t->fs, create(t, "f", NULL));
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, NULL);
	assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, "d", 0755, &t->cred, &st),
			 -EIO);
	tu_fault_remove();
	assert_int_equal(fs_lookup(t->fs, FS_ROOT_INO, "d", &st), 0);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	fs_close(t->fs);
	t->fs = NULL;
	reopen(t);
	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
}

/* A create, mkdir, mknod, symlink or link whose wait for durability fails
 * returns the error: the kernel sends no FORGET for the lookup reference
 * the call gave, so the call drops it itself, or the inode stays in the
 * table until unmount. */
static void test_fs_failed_sync_drops_the_lookup(void **state)
{
	struct t *t = *state;
	struct fs_options o;
	struct fs_file *fh;
	struct stat st;
	uint64_t ino;
	size_t before;

	fixture_options(&o);
	o.sync_mode = FS_SYNC_ALWAYS;
	reopen_with(t, &o);
	fs_release(t->fs, create(t, "f", &ino));
	before = t->fs->tbl_count;
	tu_fault_install();
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, NULL);
	assert_int_equal(fs_create(t->fs, FS_ROOT_INO, "g", 0644, &t->cred,
				   O_RDWR, &st, &fh),
			 -EIO);
	assert_null(fh);
	assert_int_equal(t->fs->tbl_count, before);
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, NULL);
	assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, "d", 0755, &t->cred, &st),
			 -EIO);
	assert_int_equal(t->fs->tbl_count, before);
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, NULL);
	assert_int_equal(
		fs_symlink(t->fs, FS_ROOT_INO, "s", "f", &t->cred, &st), -EIO);
	assert_int_equal(t->fs->tbl_count, before);
	tu_fault_set(TU_FDATASYNC, 0, -EIO, false, NULL);
	assert_int_equal(fs_link(t->fs, ino, FS_ROOT_INO, "l", &st), -EIO);
	assert_int_equal(itable_find(t->fs, ino)->nlookup, 1);
	tu_fault_remove();
	fs_forget(t->fs, ino, 1);
	assert_int_equal(t->fs->tbl_count, before - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_fs_write_read_inline_to_chunks),
		T(test_fs_large_file_whole_chunks),
		T(test_fs_sparse_file),
		T(test_fs_truncate_down_up),
		T(test_fs_open_trunc_append),
		T(test_fs_unlink_while_open),
		T(test_fs_orphan_reclaim_after_crash),
		T(test_fs_punch_hole_across_two_chunk_ends),
		T(test_fs_fallocate_punch_hole),
		T(test_fs_write_path_replaces_atomically),
		T(test_fs_write_path_creates_in_one_batch),
		T(test_fs_rename_over_file_on_full_disk),
		T(test_fs_failed_release_keeps_data),
		T(test_fs_failed_setattr_keeps_dirty_buffer),
		T(test_fs_failed_writeback_leaves_no_hole),
		T(test_fs_failed_writeback_keeps_what_was_told),
		T(test_fs_truncate_lifts_failed_writeback_cut),
		T(test_fs_concurrent_writers),
		T(test_fs_concurrent_readers_and_changes),
		T(test_fs_failed_write_changes_nothing),
		T(test_fs_failed_truncate_changes_nothing),
		T(test_fs_failed_fallocate_changes_nothing),
		T(test_fs_punch_hole_is_one_batch),
		T(test_fs_punch_hole_sets_times),
		T(test_fs_removed_inode_gets_no_keys),
		T(test_fs_failed_shrink_frees_memory),
		T(test_fs_failed_sync_keeps_memory_as_the_store),
		T(test_fs_failed_sync_drops_the_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
