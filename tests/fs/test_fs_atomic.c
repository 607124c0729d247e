/*
 * test_fs_atomic.c - every operation of fs/ commits entirely or changes
 * nothing. Each operation (create, mkdir, symlink, link, unlink, rmdir,
 * renames of a file, over a file, of a deep directory and an exchange,
 * a write across chunks, truncates, a hole punch, setxattr, removexattr,
 * fs_write_path, readdir) runs with one fault injected at its N-th call of
 * a seam, for every N until it runs without meeting the fault: libcask's
 * allocations (alloc.h mem_fail_once), fs/'s own allocations (fsmem.h
 * fsmem_fail_once; the two seams count apart, and failing the N-th
 * allocation of both together is failing the k-th of one of them) and
 * fs/'s calls into libcask (gateway.h gw_fail_once, -EIO). After each run, and again after a
 * reopen, the tree (a full listing with contents, attributes other than
 * times, xattrs and the count of inodes) must be the tree before the
 * operation when it failed and the tree after it when it succeeded. A
 * swallowed error (an iterator that stops on -ENOMEM taken as the end of
 * a scan) shows as a third tree; a readdir must list everything or fail.
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
#include "fsmem.h"
#include "gateway.h"

#include "alloc.h"

/* Small stores (fs_fixture.h): 4 KiB chunks, inline up to 1 KiB. */
#define CS  4096u
#define INL 1024u
#include "fs_fixture.h"

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

/* The names in directory @p ino, in readdir order. @return fs_opendir's
 * or fs_readdir's error. */
static int read_names(struct t *t, uint64_t ino, struct names *d)
{
	struct fs_dir *dh;
	int err;

	d->n = 0;
	err = fs_opendir(t->fs, ino, &dh);
	if (err)
		return err;
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

	add(s,
	    "%s ino=%" PRIu64 " mode=%o nlink=%u uid=%u size=%lld blocks=%lld",
	    path[0] ? path : "/", (uint64_t)st->st_ino, st->st_mode,
	    (unsigned)st->st_nlink, (unsigned)st->st_uid,
	    (long long)st->st_size, (long long)st->st_blocks);
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

/* The whole tree as text, and the count of inodes (the caller frees it). */
static char *listing(struct t *t)
{
	struct text s = {0};
	struct statvfs v;
	struct stat st;

	assert_int_equal(fs_statfs(t->fs, &v), 0);
	add(&s, "inodes=%llu\n", (unsigned long long)(v.f_files - v.f_ffree));
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

#define DEPTH 7

/* What the operations work on, found before the fault is armed. */
static struct {
	uint64_t src, dst, top, a, x, e;
	struct fs_file *fh; /* /a open, for write and unlink-while-open */
} c;

/*
 * The tree every operation starts from:
 *   /src/top  DEPTH levels, each a file (chunked or inline) and the next
 *             level's directory
 *   /dst      empty
 *   /a        3 chunks and a part, one xattr
 *   /x        inline, two xattrs
 *   /e        an empty directory
 */
static void base_tree(struct t *t)
{
	uint64_t dir;
	char name[32];

	c.src = mkdir_(t, FS_ROOT_INO, "src");
	dir = c.top = mkdir_(t, c.src, "top");
	for (int i = 0; i < DEPTH; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		mkfile(t, dir, name, i % 2 ? 100 : 2 * CS + 10, (uint64_t)i);
		snprintf(name, sizeof(name), "d%d", i);
		dir = mkdir_(t, dir, name);
	}
	c.dst = mkdir_(t, FS_ROOT_INO, "dst");
	c.a = mkfile(t, FS_ROOT_INO, "a", 3 * CS + 100, 11);
	c.x = mkfile(t, FS_ROOT_INO, "x", 300, 12);
	c.e = mkdir_(t, FS_ROOT_INO, "e");
	assert_int_equal(fs_setxattr(t->fs, c.a, "user.a", "1", 1, 0), 0);
	assert_int_equal(fs_setxattr(t->fs, c.x, "user.k", "v", 1, 0), 0);
	assert_int_equal(fs_setxattr(t->fs, c.x, "user.l", "w", 1, 0), 0);
	c.fh = NULL;
}

static void base_tree_open(struct t *t)
{
	base_tree(t);
	assert_int_equal(fs_open(t->fs, c.a, O_RDWR, &c.fh), 0);
}

static void release(struct t *t)
{
	fs_release(t->fs, c.fh);
	c.fh = NULL;
}

static int op_create(struct t *t)
{
	struct stat st;

	return fs_create(t->fs, c.top, "new", 0600, &t->cred, O_RDWR, &st,
			 &c.fh);
}

static int op_mkdir(struct t *t)
{
	struct stat st;

	return fs_mkdir(t->fs, c.src, "new", 0700, &t->cred, &st);
}

static int op_symlink(struct t *t)
{
	struct stat st;

	return fs_symlink(t->fs, c.dst, "ln", "../src/top/f0", &t->cred, &st);
}

static int op_link(struct t *t)
{
	struct stat st;

	return fs_link(t->fs, c.a, c.dst, "a2", &st);
}

static int op_unlink(struct t *t)
{
	return fs_unlink(t->fs, FS_ROOT_INO, "a");
}

static int op_rmdir(struct t *t)
{
	return fs_rmdir(t->fs, FS_ROOT_INO, "e");
}

static int op_rename_file(struct t *t)
{
	return fs_rename(t->fs, FS_ROOT_INO, "a", c.dst, "a", 0);
}

static int op_rename_over(struct t *t)
{
	return fs_rename(t->fs, FS_ROOT_INO, "a", FS_ROOT_INO, "x", 0);
}

static int op_rename_deep(struct t *t)
{
	return fs_rename(t->fs, c.src, "top", c.dst, "moved", 0);
}

static int op_exchange(struct t *t)
{
	return fs_rename(t->fs, FS_ROOT_INO, "src", FS_ROOT_INO, "dst",
			 FS_RENAME_EXCHANGE);
}

static int op_write(struct t *t)
{
	static char buf[3 * CS + 200];
	ssize_t n;

	fill_pattern(buf, sizeof(buf), 99);
	n = fs_write(t->fs, c.fh, buf, sizeof(buf), CS / 2);
	return n < 0 ? (int)n : 0;
}

static int truncate_to(struct t *t, off_t size)
{
	struct stat in = {.st_size = size}, out;

	return fs_setattr(t->fs, c.a, &in, FS_SET_SIZE, NULL, &out);
}

static int op_shrink(struct t *t)
{
	return truncate_to(t, CS + 10);
}

static int op_to_inline(struct t *t)
{
	return truncate_to(t, 10);
}

static int op_punch(struct t *t)
{
	return fs_fallocate(t->fs, c.fh,
			    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100,
			    2 * CS);
}

static int op_setxattr(struct t *t)
{
	return fs_setxattr(t->fs, c.x, "user.n", "new", 3, 0);
}

static int op_removexattr(struct t *t)
{
	return fs_removexattr(t->fs, c.x, "user.k");
}

static int op_write_path(struct t *t)
{
	static char buf[2 * CS + 7];

	fill_pattern(buf, sizeof(buf), 98);
	return fs_write_path(t->fs, "/src/top/f1", buf, sizeof(buf), 0644,
			     &t->cred);
}

/* A listing is complete or an error: never a part taken for the whole. */
static int op_readdir(struct t *t)
{
	static const char *const want[] = {"a", "dst", "e", "src", "x"};
	struct names *d = malloc(sizeof(*d));
	int err;

	assert_non_null(d);
	err = read_names(t, FS_ROOT_INO, d);
	if (!err) {
		assert_int_equal(d->n, 5);
		for (int i = 0; i < 5; i++)
			assert_string_equal(d->name[i], want[i]);
	}
	free(d);
	return err;
}

/* --------------------------------------------------------- the harness */

/* One operation: prepare() builds the tree before it on an empty store;
 * run() is the single call that must commit entirely or change nothing;
 * finish() (if any) closes what prepare() or run() opened, with no fault
 * armed. A readdir changes nothing. */
struct op {
	const char *name;
	int (*run)(struct t *t);
	void (*prepare)(struct t *t);
	void (*finish)(struct t *t);
	bool reads;
};

static const struct op ops[] = {
	{"create", op_create, base_tree, release, false},
	{"mkdir", op_mkdir, base_tree, NULL, false},
	{"symlink", op_symlink, base_tree, NULL, false},
	{"link", op_link, base_tree, NULL, false},
	{"unlink", op_unlink, base_tree, NULL, false},
	{"unlink of an open file", op_unlink, base_tree_open, release, false},
	{"rmdir", op_rmdir, base_tree, NULL, false},
	{"rename of a file", op_rename_file, base_tree, NULL, false},
	{"rename over a file", op_rename_over, base_tree, NULL, false},
	{"rename of a deep directory", op_rename_deep, base_tree, NULL, false},
	{"exchange of two directories", op_exchange, base_tree, NULL, false},
	{"write across chunks", op_write, base_tree_open, release, false},
	{"truncate inside a chunk", op_shrink, base_tree, NULL, false},
	{"truncate to inline", op_to_inline, base_tree, NULL, false},
	{"hole punch", op_punch, base_tree_open, release, false},
	{"setxattr", op_setxattr, base_tree, NULL, false},
	{"removexattr", op_removexattr, base_tree, NULL, false},
	{"fs_write_path", op_write_path, base_tree, NULL, false},
	{"readdir", op_readdir, base_tree, NULL, true},
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

/* Which seam fails the N-th call, once. */
struct seam {
	const char *what;
	void (*arm)(long n);
	long (*fired)(void);
};

static void arm_alloc(long n)
{
	mem_fail_once(n);
}

static void arm_fs_alloc(long n)
{
	fsmem_fail_once(n);
}

static void arm_gateway(long n)
{
	gw_fail_once(n, -EIO);
}

static const struct seam allocation = {"allocation", arm_alloc, mem_failed};
static const struct seam fs_allocation = {"fs allocation", arm_fs_alloc,
					  fsmem_failed};
static const struct seam gateway = {"gateway call", arm_gateway, gw_failed};

static void expect_tree(struct t *t, const char *want, const char *when,
			const struct op *op, const struct seam *sm, long n,
			int err)
{
	char *got = listing(t);

	if (strcmp(got, want)) {
		print_message("%s, %s %ld failing, returned %d, %s: neither "
			      "the tree before nor the one after\n",
			      op->name, sm->what, n, err, when);
		show_difference(want, got);
		fail();
	}
	free(got);
}

/* The trees with no fault: in memory right after the operation (@p run)
 * or without it, and after finish() and a reopen. The caller frees them. */
static void reference(struct t *t, const struct op *op, bool run,
		      char **in_memory, char **reopened)
{
	fresh(t);
	op->prepare(t);
	if (run)
		assert_int_equal(op->run(t), 0);
	*in_memory = listing(t);
	if (op->finish)
		op->finish(t);
	reopen(t);
	*reopened = listing(t);
}

/* Run @p op with call n of seam @p sm failing once, for n = 0, 1, ...
 * until it runs without meeting the fault. */
static void each_call(struct t *t, const struct op *op, const struct seam *sm)
{
	char *before, *after, *before_disk, *after_disk;
	long n;
	int err;

	reference(t, op, false, &before, &before_disk);
	reference(t, op, true, &after, &after_disk);
	if (op->reads)
		assert_string_equal(before, after);
	else
		assert_string_not_equal(before, after);
	for (n = 0;; n++) {
		long fired;

		fresh(t);
		op->prepare(t);
		sm->arm(n);
		err = op->run(t);
		fired = sm->fired();
		sm->arm(-1);
		expect_tree(t, err ? before : after, "in memory", op, sm, n,
			    err);
		if (op->finish)
			op->finish(t);
		reopen(t);
		expect_tree(t, err ? before_disk : after_disk, "after a reopen",
			    op, sm, n, err);
		if (!fired) {
			assert_int_equal(err, 0);
			break;
		}
	}
	print_message("%-28s %3ld %ss failed in turn\n", op->name, n, sm->what);
	free(before);
	free(after);
	free(before_disk);
	free(after_disk);
}

/* A directory seven levels deep moves whole or not at all (an allocation
 * failing inside the scan of its subtree ended the scan: the rename
 * returned 0 and levels were lost). */
static void test_fs_atomic_rename_deep_dir(void **state)
{
	each_call(*state, &ops[9], &allocation);
}

/* Every operation, with each of its allocations in libcask failing. */
static void test_fs_atomic_each_allocation(void **state)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		each_call(*state, &ops[i], &allocation);
}

/* Every operation, with each of fs/'s own allocations failing. */
static void test_fs_atomic_each_fs_allocation(void **state)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		each_call(*state, &ops[i], &fs_allocation);
}

/* Every operation, with each of its calls into libcask failing (-EIO). */
static void test_fs_atomic_each_gateway_call(void **state)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		each_call(*state, &ops[i], &gateway);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_atomic_rename_deep_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_atomic_each_allocation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fs_atomic_each_fs_allocation, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fs_atomic_each_gateway_call, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
