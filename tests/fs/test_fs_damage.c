/*
 * test_fs_damage.c - damage named by path (fs/damage.c). A byte flipped
 * in each of 40 small files (their inode records, content inline), in a
 * chunk of a large file and in one file that has two links, after a
 * clean close: the next open logs one line per damaged record naming the
 * file's path (the first in key order for two links), what it held and
 * where it lies, and one summary line; fs_stats_text() counts the ranges,
 * bytes and keys; reads of the damaged files fail with -EIO and name
 * nothing again, while undamaged files read right.
 *
 * Records libcask reads back intact but whose bytes caskfs refuses (put
 * through libcask with the filesystem closed: an inline file's record
 * shorter than its size, an inline size past inline_max, a chunk longer
 * than the chunk size, an inode of no file type, a dentry of the wrong
 * length) are damage too: -EIO and one line naming the path, once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cask.h"
#include "caskfs.h"
#include "schema.h"

#include "fs_fixture.h"

#define NSMALL 40
#define BIG    (200 * 1024)

struct logbuf {
	pthread_mutex_t mu;
	char text[1 << 16];
	size_t n;
};

static void keep(void *arg, const char *msg)
{
	struct logbuf *l = arg;
	int n;

	pthread_mutex_lock(&l->mu);
	n = snprintf(l->text + l->n, sizeof(l->text) - l->n, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(l->text) - l->n)
		l->n += (size_t)n;
	pthread_mutex_unlock(&l->mu);
}

static int count_in(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The log names the damaged @p what record of inode @p ino, by @p path,
 * exactly once. */
static void named_once(const struct logbuf *l, const char *path,
		       const char *what, uint64_t ino)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: damaged %s record of inode %llu in ",
		 path, what, (unsigned long long)ino);
	assert_int_equal(count_in(l->text, line), 1);
}

/* The content of small file @p i: a marker found nowhere else. */
static void small_content(char *buf, size_t size, int i)
{
	snprintf(buf, size, "DMGMARK-%03d-small-file-content", i);
}

static void write_file(struct t *t, const char *path, const void *data,
		       size_t len)
{
	assert_int_equal(fs_write_path(t->fs, path, data, len, 0644, &t->cred),
			 0);
}

/* Flip a byte inside every copy of @p mark in the segment files of
 * @p store. @return how many copies. */
static int flip_marker(const char *store, const char *mark)
{
	DIR *d = opendir(store);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char p[8192];
		struct stat st;
		char *buf;
		int fd;

		if (!strstr(e->d_name, ".cask") || strchr(e->d_name, '-'))
			continue;
		snprintf(p, sizeof(p), "%s/%s", store, e->d_name);
		fd = open(p, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		buf = malloc((size_t)st.st_size + 1);
		assert_non_null(buf);
		assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0),
				 st.st_size);
		for (char *q = buf;
		     (q = memmem(q, (size_t)(buf + st.st_size - q), mark,
				 strlen(mark)));
		     q++) {
			char b = (char)(q[3] ^ 0x20);

			assert_int_equal(pwrite(fd, &b, 1, q + 3 - buf), 1);
			n++;
		}
		free(buf);
		close(fd);
	}
	closedir(d);
	return n;
}

static uint64_t ino_of(struct t *t, const char *path)
{
	uint64_t ino;

	assert_int_equal(fs_lookup_path(t->fs, path, &ino), 0);
	return ino;
}

static void test_fs_damage_named_at_open(void **state)
{
	struct t *t = *state;
	struct logbuf l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct fs_options o;
	char path[64], buf[256], line[256], *stats;
	uint64_t inos[NSMALL], big_ino, linked_ino;
	uint8_t *big = malloc(BIG);
	struct stat st;
	void *data;
	size_t len;

	assert_non_null(big);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/dir%d", i);
		assert_int_equal(fs_mkdir(t->fs, FS_ROOT_INO, path + 1, 0755,
					  &t->cred, &st),
				 0);
		fs_forget(t->fs, st.st_ino, 1);
	}
	for (int i = 0; i < NSMALL; i++) {
		snprintf(path, sizeof(path), "/dir%d/file%03d", i % 4, i);
		small_content(buf, sizeof(buf), i);
		write_file(t, path, buf, strlen(buf));
		inos[i] = ino_of(t, path);
	}
	write_file(t, "/good.txt", "intact", 6);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 10));
	memcpy(big + 150000, "DMGMARK-big", 11);
	write_file(t, "/dir1/big.bin", big, BIG);
	big_ino = ino_of(t, "/dir1/big.bin");
	write_file(t, "/dir3/linked", "DMGMARK-linked-content", 22);
	linked_ino = ino_of(t, "/dir3/linked");
	assert_int_equal(
		fs_link(t->fs, linked_ino, ino_of(t, "/dir0"), "alias", &st),
		0);
	fs_forget(t->fs, st.st_ino, 1);
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	assert_true(flip_marker(t->store, "DMGMARK-") >= NSMALL + 2);

	fixture_options(&o);
	o.log = keep;
	o.log_arg = &l;
	reopen_with(t, &o);
	/* One line per damaged record, by path, at open. */
	for (int i = 0; i < NSMALL; i++) {
		snprintf(path, sizeof(path), "/dir%d/file%03d", i % 4, i);
		named_once(&l, path, "inode", inos[i]);
	}
	named_once(&l, "/dir1/big.bin", "content", big_ino);
	/* Two links: the first path in key order. */
	named_once(&l, "/dir0/alias", "inode", linked_ino);
	assert_int_equal(count_in(l.text, "/dir3/linked: damaged"), 0);
	assert_int_equal(count_in(l.text, ", found at open: its newest "
					  "version is lost; reads of it fail "
					  "with EIO"),
			 NSMALL + 2);
	assert_int_equal(count_in(l.text, "damage found at open: "), 1);
	snprintf(line, sizeof(line), "%d keys lost their newest version",
		 NSMALL + 2);
	assert_non_null(strstr(l.text, line));
	/* The figures. */
	assert_int_equal(fs_stats_text(t->fs, &stats), 0);
	snprintf(line, sizeof(line), "\ndamaged_keys: %d\n", NSMALL + 2);
	assert_non_null(strstr(stats, line));
	assert_non_null(strstr(stats, "\ndamaged_ranges: "));
	assert_null(strstr(stats, "\ndamaged_ranges: 0\n"));
	assert_non_null(strstr(stats, "\ndamaged_bytes: "));
	free(stats);
	/* Reads fail, and name nothing again. */
	len = l.n;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(
			fs_read_path(t->fs, "/dir2/file002", &data, &len),
			-EIO);
		assert_int_equal(
			fs_read_path(t->fs, "/dir1/big.bin", &data, &len),
			-EIO);
	}
	assert_int_equal(count_in(l.text, "/dir2/file002: damaged"), 1);
	assert_int_equal(count_in(l.text, "/dir1/big.bin: damaged"), 1);
	assert_int_equal(fs_read_path(t->fs, "/good.txt", &data, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "intact", 6);
	free(data);
	free(big);
}

/* Rewrite the inode record of @p ino through @p db: @p len bytes of it
 * (at most its length), with the le32 at @p at set to @p v (none: 0). */
static void rewrite_inode(struct cask_db *db, uint64_t ino, size_t len,
			  size_t at, uint32_t v)
{
	uint8_t key[INO_KEY_LEN];
	size_t vlen;
	void *val;

	ino_key(key, KEY_INODE, ino);
	assert_int_equal(cask_get_alloc(db, key, sizeof(key), &val, &vlen), 0);
	if (at)
		put_le32((uint8_t *)val + at, v);
	assert_int_equal(
		cask_put(db, key, sizeof(key), val, len < vlen ? len : vlen),
		0);
	free(val);
}

static int take_all(void *ctx, const char *name, const struct stat *st,
		    uint64_t next_off)
{
	(void)ctx;
	(void)name;
	(void)st;
	(void)next_off;
	return 0;
}

static void test_fs_damage_refused_records_named(void **state)
{
	struct t *t = *state;
	struct logbuf l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	uint64_t dir, shortf, longf, big, notype;
	uint8_t key[CHUNK_KEY_LEN],
		*chunk = calloc(1, 4 * FS_CHUNK_SIZE_DEFAULT);
	struct cask_options co;
	struct cask_db *db;
	struct fs_file *fh;
	struct fs_options o;
	struct fs_dir *dh;
	struct fs *fs;
	struct stat st;
	void *data;
	size_t len;

	assert_non_null(chunk);
	assert_int_equal(
		fs_mkdir(t->fs, FS_ROOT_INO, "dir", 0755, &t->cred, &st), 0);
	dir = st.st_ino;
	write_file(t, "/dir/short.txt", chunk, 100);
	write_file(t, "/dir/long.txt", chunk, 100);
	write_file(t, "/dir/big.bin", chunk, 3 * FS_CHUNK_SIZE_DEFAULT);
	write_file(t, "/dir/notype", chunk, 10);
	shortf = ino_of(t, "/dir/short.txt");
	longf = ino_of(t, "/dir/long.txt");
	big = ino_of(t, "/dir/big.bin");
	notype = ino_of(t, "/dir/notype");
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;

	cask_options_init(&co);
	assert_int_equal(cask_open(t->store, &co, &db), 0);
	rewrite_inode(db, shortf, INODE_HDR_LEN + 50, 0, 0);
	/* size, le64 at 24: past inline_max, the content still inline */
	rewrite_inode(db, longf, SIZE_MAX, 24, FS_INLINE_MAX_DEFAULT + 1);
	rewrite_inode(db, notype, SIZE_MAX, 4, 0644); /* mode: no S_IFMT */
	chunk_key(key, big, 1);
	assert_int_equal(cask_put(db, key, sizeof(key), chunk,
				  FS_CHUNK_SIZE_DEFAULT + 100),
			 0);
	assert_int_equal(cask_put(db, "/dir/badname", 12, "xyz", 3), 0);
	assert_int_equal(cask_close(db), 0);

	fixture_options(&o);
	o.log = keep;
	o.log_arg = &l;
	reopen_with(t, &o);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(
			fs_read_path(t->fs, "/dir/short.txt", &data, &len),
			-EIO);
		assert_int_equal(
			fs_read_path(t->fs, "/dir/long.txt", &data, &len),
			-EIO);
		assert_int_equal(
			fs_read_path(t->fs, "/dir/notype", &data, &len), -EIO);
		assert_int_equal(fs_lookup(t->fs, dir, "badname", &st), -EIO);
		assert_int_equal(fs_opendir(t->fs, dir, &dh), 0);
		assert_int_equal(
			fs_readdir(t->fs, dh, 0, false, take_all, NULL), -EIO);
		fs_releasedir(t->fs, dh);
		/* Only a write into the chunk reads it whole. */
		assert_int_equal(fs_open(t->fs, big, O_RDWR, &fh), 0);
		assert_int_equal(
			fs_write(t->fs, fh, "x", 1, FS_CHUNK_SIZE_DEFAULT + 5),
			-EIO);
		assert_int_equal(fs_release(t->fs, fh), 0);
	}
	named_once(&l, "/dir/short.txt", "inode", shortf);
	named_once(&l, "/dir/long.txt", "inode", longf);
	named_once(&l, "/dir/notype", "inode", notype);
	named_once(&l, "/dir/big.bin", "content", big);
	assert_int_equal(count_in(l.text, "/dir/badname: damaged dentry "
					  "record in "),
			 1);
	assert_int_equal(count_in(l.text, "damaged"), 5);

	/* A superblock of the wrong length: the store does not open. */
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	assert_int_equal(cask_open(t->store, NULL, &db), 0);
	assert_int_equal(cask_put(db, SUPER_KEY, SUPER_KEY_LEN, "caskfs", 6),
			 0);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(fs_open_store(t->store, &o, &fs), -EIO);
	assert_int_equal(count_in(l.text, "damaged superblock record in "), 1);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_damage_named_at_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fs_damage_refused_records_named, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
