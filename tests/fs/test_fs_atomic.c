/*
 * test_fs_atomic.c - every operation of fs/ commits entirely or changes
 * nothing. An operation runs with one fault injected at its N-th
 * allocation (libcask's one-shot seam, alloc.h mem_fail_once), for every N
 * until it runs without meeting the fault; after each run, and again after
 * a reopen, the tree (a full listing with contents, attributes other than
 * times, and xattrs) must be the tree before the operation when it failed
 * and the tree after it when it succeeded. A swallowed error (an iterator
 * that stops on -ENOMEM taken as the end of a scan) shows as a third tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caskfs.h"

#include "alloc.h"
#include "fs_fixture.h"

#define CS  4096u
#define INL 1024u

static void reopen(struct t *t)
{
	struct fs_options o;

	if (t->fs)
		assert_int_equal(fs_close(t->fs), 0);
	fs_options_init(&o);
	o.chunk_size = CS;
	o.inline_max = INL;
	assert_int_equal(fs_open_store(t->store, &o, &t->fs), 0);
}

/* An empty store in place of the test's one. */
static void fresh(struct t *t)
{
	assert_int_equal(fs_close(t->fs), 0);
	t->fs = NULL;
	nftw(t->store, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	reopen(t);
}

/* ------------------------------------------------------------ the tree */

/* A growing text. */
struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!s->p) {
		s->cap = 4096;
		s->p = malloc(s->cap);
		assert_non_null(s->p);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (s->len + (size_t)n < s->cap)
			break;
		s->cap = (s->cap + (size_t)n) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	s->len += (size_t)n;
}

struct names {
	char name[64][FS_NAME_MAX + 1];
	int n;
};

static int take(void *ctx, const char *name, const struct stat *st,
		uint64_t next_off)
{
	struct names *d = ctx;

	(void)st;
	(void)next_off;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	assert_true(d->n < 64);
	strcpy(d->name[d->n++], name);
	return 0;
}

/* The names in directory @p ino, in readdir order. @return fs_readdir's. */
static int read_names(struct t *t, uint64_t ino, struct names *d)
{
	struct fs_dir *dh;
	int err;

	d->n = 0;
	assert_int_equal(fs_opendir(t->fs, ino, &dh), 0);
	err = fs_readdir(t->fs, dh, 0, false, take, d);
	fs_releasedir(t->fs, dh);
	return err;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

static void list_content(struct t *t, const struct stat *st, struct text *s)
{
	static char buf[64 * 1024];
	struct fs_file *fh;
	uint64_t h = 0xcbf29ce484222325ull;
	ssize_t n;

	assert_true(st->st_size <= (off_t)sizeof(buf));
	assert_int_equal(fs_open(t->fs, st->st_ino, O_RDONLY, &fh), 0);
	n = fs_read(t->fs, fh, buf, sizeof(buf), 0);
	assert_int_equal(n, st->st_size);
	assert_int_equal(fs_release(t->fs, fh), 0);
	add(s, " data=%016" PRIx64, fnv(buf, (size_t)n, h));
}

static void list_xattrs(struct t *t, uint64_t ino, struct text *s)
{
	char names[1024], val[256];
	ssize_t n = fs_listxattr(t->fs, ino, names, sizeof(names)), v;

	assert_true(n >= 0);
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		v = fs_getxattr(t->fs, ino, p, val, sizeof(val));
		assert_true(v >= 0);
		add(s, " %s=%.*s", p, (int)v, val);
	}
}

static void list_one(struct t *t, const char *path, const struct stat *st,
		     struct text *s)
{
	char target[256];

	add(s, "%s ino=%" PRIu64 " mode=%o nlink=%u uid=%u size=%lld",
	    path[0] ? path : "/", (uint64_t)st->st_ino, st->st_mode,
	    (unsigned)st->st_nlink, (unsigned)st->st_uid,
	    (long long)st->st_size);
	if (S_ISREG(st->st_mode))
		list_content(t, st, s);
	if (S_ISLNK(st->st_mode)) {
		assert_true(fs_readlink(t->fs, st->st_ino, target,
					sizeof(target)) > 0);
		add(s, " -> %s", target);
	}
	list_xattrs(t, st->st_ino, s);
	add(s, "\n");
}

static void list_dir(struct t *t, uint64_t ino, const char *path,
		     struct text *s)
{
	char sub[FS_PATH_MAX + 1];
	struct names *d = malloc(sizeof(*d));
	struct stat st;

	assert_non_null(d);
	assert_int_equal(read_names(t, ino, d), 0);
	for (int i = 0; i < d->n; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, d->name[i]);
		assert_int_equal(fs_lookup(t->fs, ino, d->name[i], &st), 0);
		list_one(t, sub, &st, s);
		if (S_ISDIR(st.st_mode))
			list_dir(t, st.st_ino, sub, s);
	}
	free(d);
}

/* The whole tree as text (the caller frees it). */
static char *listing(struct t *t)
{
	struct text s = {0};
	struct stat st;

	assert_int_equal(fs_getattr(t->fs, FS_ROOT_INO, &st), 0);
	list_one(t, "", &st, &s);
	list_dir(t, FS_ROOT_INO, "", &s);
	return s.p;
}

/* ------------------------------------------------------ building trees */

static uint64_t mkdir_(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mkdir(t->fs, dir, name, 0755, &t->cred, &st), 0);
	return st.st_ino;
}

static void fill_pattern(char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i + seed) * 31 + (i >> 11));
}

/* A file of @p size pattern bytes. */
static uint64_t mkfile(struct t *t, uint64_t dir, const char *name, size_t size,
		       uint64_t seed)
{
	static char buf[16 * CS];
	struct fs_file *fh;
	struct stat st;

	assert_true(size <= sizeof(buf));
	fill_pattern(buf, size, seed);
	assert_int_equal(
		fs_create(t->fs, dir, name, 0644, &t->cred, O_RDWR, &st, &fh),
		0);
	if (size)
		assert_int_equal(fs_write(t->fs, fh, buf, size, 0),
				 (ssize_t)size);
	assert_int_equal(fs_release(t->fs, fh), 0);
	return st.st_ino;
}

static uint64_t ino_of(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;

	assert_int_equal(fs_lookup(t->fs, dir, name, &st), 0);
	return st.st_ino;
}

#define DEPTH 7

/* /src/top with DEPTH levels below it, each level holding a file and the
 * next level's directory; an empty /dst. */
static void deep_tree(struct t *t)
{
	uint64_t dir = mkdir_(t, mkdir_(t, FS_ROOT_INO, "src"), "top");
	char name[32];

	for (int i = 0; i < DEPTH; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		mkfile(t, dir, name, i % 2 ? 100 : 2 * CS + 10, (uint64_t)i);
		snprintf(name, sizeof(name), "d%d", i);
		dir = mkdir_(t, dir, name);
	}
	mkdir_(t, FS_ROOT_INO, "dst");
}

/* --------------------------------------------------------- the harness */

/* One operation: prepare() builds the tree before it on an empty store;
 * run() is the single call that must commit entirely or change nothing. */
struct op {
	const char *name;
	void (*prepare)(struct t *t);
	int (*run)(struct t *t);
};

/* The first line where @p a and @p b differ, as "want ... got ...". */
static void show_difference(const char *a, const char *b)
{
	while (*a && *b) {
		size_t n = strcspn(a, "\n"), m = strcspn(b, "\n");

		if (n != m || memcmp(a, b, n)) {
			print_message("want: %.*s\ngot:  %.*s\n", (int)n, a,
				      (int)m, b);
			return;
		}
		a += n + (a[n] != '\0');
		b += m + (b[m] != '\0');
	}
	print_message("want: %s\ngot:  %s\n", *a ? a : "(end)",
		      *b ? b : "(end)");
}

static void expect_tree(struct t *t, const char *want, const char *what,
			const struct op *op, long n, int err)
{
	char *got = listing(t);

	if (strcmp(got, want)) {
		print_message("%s, fault at %ld, returned %d, %s: neither "
			      "the tree before nor the one after\n",
			      op->name, n, err, what);
		show_difference(want, got);
		fail();
	}
	free(got);
}

/* Run @p op failing allocation n once, for n = 0, 1, ... until it runs
 * without meeting the fault. */
static void each_allocation(struct t *t, const struct op *op)
{
	char *before, *after;
	long n;
	int err;

	fresh(t);
	op->prepare(t);
	before = listing(t);
	assert_int_equal(op->run(t), 0);
	after = listing(t);
	assert_string_not_equal(before, after);
	for (n = 0;; n++) {
		long fired;

		fresh(t);
		op->prepare(t);
		mem_fail_once(n);
		err = op->run(t);
		fired = mem_failed();
		mem_fail_once(-1);
		expect_tree(t, err ? before : after, "in memory", op, n, err);
		reopen(t);
		expect_tree(t, err ? before : after, "after a reopen", op, n,
			    err);
		if (!fired) {
			assert_int_equal(err, 0);
			break;
		}
	}
	print_message("%s: %ld allocations failed in turn\n", op->name, n);
	free(before);
	free(after);
}

static int rename_deep(struct t *t)
{
	return fs_rename(t->fs, ino_of(t, FS_ROOT_INO, "src"), "top",
			 ino_of(t, FS_ROOT_INO, "dst"), "moved", 0);
}

/* A directory seven levels deep moves whole or not at all (an allocation
 * failing inside the scan of its subtree ended the scan: the rename
 * returned 0 and levels were lost). */
static void test_fs_atomic_rename_deep_dir(void **state)
{
	static const struct op op = {"rename of a deep directory", deep_tree,
				     rename_deep};

	each_allocation(*state, &op);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_atomic_rename_deep_dir,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
