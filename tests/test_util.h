/*
 * test_util.h - helpers shared by the libcask tests: a temporary directory
 * per test (under TEST_TMPDIR, else /tmp), rm -rf, copying a store
 * directory, cutting and flipping bytes of files, segment file names, quiet
 * default options, a small PRNG, and a fault-injecting I/O table built on the
 * io_set_ops() seam. Include after <cmocka.h>.
 */
#ifndef CASK_TEST_UTIL_H
#define CASK_TEST_UTIL_H

#include "cask.h"
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TU_PATH 512

/* --- directories and files --- */

/* Make a fresh directory "<TEST_TMPDIR>/<tag>-XXXXXX" into @buf. */
static inline void tu_tmpdir(char *buf, size_t n, const char *tag)
{
	const char *base = getenv("TEST_TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0755);
	assert_true(snprintf(buf, n, "%s/%s-XXXXXX", base, tag) < (int)n);
	assert_non_null(mkdtemp(buf));
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void tu_rm_rf(const char *path)
{
	nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tu_path(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, TU_PATH, "%s/%s", dir, name);

	assert_true(n > 0 && n < TU_PATH);
}

/* "<dir>/NNNNNNNNNN.<ext>" */
static inline void tu_seg_path(char *buf, const char *dir, uint32_t id,
			       const char *ext)
{
	int n = snprintf(buf, TU_PATH, "%s/%010u.%s", dir, id, ext);

	assert_true(n > 0 && n < TU_PATH);
}

static inline bool tu_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static inline long long tu_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

static inline void tu_truncate(const char *path, long long len)
{
	assert_int_equal(truncate(path, (off_t)len), 0);
}

/* XOR the byte at @off of @path with @mask. */
static inline void tu_flip(const char *path, long long off, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= mask;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static inline void tu_copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/* Copy the regular files of @from into a new directory @to. */
static inline void tu_copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;

	assert_non_null(d);
	assert_int_equal(mkdir(to, 0755), 0);
	while ((e = readdir(d))) {
		char a[TU_PATH], b[TU_PATH];
		struct stat st;

		tu_path(a, from, e->d_name);
		tu_path(b, to, e->d_name);
		if (stat(a, &st) == 0 && S_ISREG(st.st_mode))
			tu_copy_file(a, b);
	}
	closedir(d);
}

/* Number of files in @dir whose name ends with @suffix. */
static inline int tu_count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t sl = strlen(suffix);
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l >= sl && !strcmp(e->d_name + l - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

/* Number of files in @dir whose name contains @needle. */
static inline int tu_count_containing(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, needle))
			n++;
	closedir(d);
	return n;
}

/* Lowest (@newest false) or highest segment id in @dir with extension
 * exactly @ext ("cask", "hint"); 0 when there is none. */
static inline uint32_t tu_seg_id(const char *dir, const char *ext, bool newest)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t best = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		unsigned id;
		char x[16];

		if (strlen(e->d_name) != 11 + strlen(ext) ||
		    sscanf(e->d_name, "%10u.%15s", &id, x) != 2 ||
		    strcmp(x, ext))
			continue;
		if (!best || (newest ? id > best : id < best))
			best = id;
	}
	closedir(d);
	return best;
}

/* Offset of the @n-th record (0-based) of segment file @path, and its key
 * length; records (none with an expiry) are walked from offset 32. */
static inline long long tu_record_off(const char *path, int n, uint16_t *klen)
{
	int fd = open(path, O_RDONLY);
	long long off = 32;
	uint8_t h[20];

	assert_true(fd >= 0);
	for (;;) {
		assert_int_equal(pread(fd, h, sizeof(h), off), sizeof(h));
		*klen = (uint16_t)(h[6] | h[7] << 8);
		if (n-- == 0)
			break;
		off += (long long)sizeof(h) + *klen +
		       (h[8] | h[9] << 8 | h[10] << 16 | (uint32_t)h[11] << 24);
	}
	close(fd);
	return off;
}

/* --- store helpers --- */

/* A log callback's lines kept in a buffer (struct cask_options.log_arg or
 * cask_verify_options.report_arg), for a test to search. */
struct tu_logbuf {
	char text[32768];
	size_t n;
};

static inline void tu_log_keep(void *arg, const char *msg)
{
	struct tu_logbuf *l = arg;
	int n = snprintf(l->text + l->n, sizeof(l->text) - l->n, "%s\n", msg);

	if (n > 0 && (size_t)n < sizeof(l->text) - l->n)
		l->n += (size_t)n;
}

/* The library's log lines, shown only with TU_LOG set (for debugging). */
static inline void tu_quiet_log(void *arg, const char *msg)
{
	(void)arg;
	if (getenv("TU_LOG"))
		fprintf(stderr, "log: %s\n", msg);
}

/* Defaults with no auto-merge, CASK_SYNC_NEVER, a quiet log and
 * @segment_size (0: the default). */
static inline struct cask_options tu_opts(uint64_t segment_size)
{
	struct cask_options o;

	cask_options_init(&o);
	o.sync_mode = CASK_SYNC_NEVER;
	o.merge_dead_ratio = 0;
	o.log = tu_quiet_log;
	if (segment_size)
		o.segment_size = segment_size;
	return o;
}

static inline struct cask_db *tu_open(const char *dir,
				      const struct cask_options *o)
{
	struct cask_db *db = NULL;
	int rc = cask_open(dir, o, &db);

	if (rc)
		fprintf(stderr, "cask_open(%s): %s\n", dir, cask_strerror(rc));
	assert_int_equal(rc, 0);
	assert_non_null(db);
	return db;
}

/* Make a fresh directory for @tag into @dir (TU_PATH bytes) and open a new
 * store there with @o. */
static inline struct cask_db *tu_open_new(char *dir, const char *tag,
					  const struct cask_options *o)
{
	tu_tmpdir(dir, TU_PATH, tag);
	return tu_open(dir, o);
}

/* Close @db (which must succeed) and open the store in @dir again. */
static inline struct cask_db *tu_reopen(struct cask_db *db, const char *dir,
					const struct cask_options *o)
{
	assert_int_equal(cask_close(db), 0);
	return tu_open(dir, o);
}

static inline void tu_put_str(struct cask_db *db, const char *k, const char *v)
{
	assert_int_equal(cask_put(db, k, strlen(k), v, strlen(v)), 0);
}

/* Assert that @k holds exactly @v (NULL: absent). */
static inline void tu_expect(struct cask_db *db, const void *k, size_t klen,
			     const void *v, size_t vlen)
{
	void *got = NULL;
	size_t glen = 0;
	int rc = cask_get_alloc(db, k, klen, &got, &glen);

	if (!v) {
		assert_int_equal(rc, CASK_ENOTFOUND);
		assert_null(got);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(glen, vlen);
	assert_memory_equal(got, v, vlen);
	free(got);
}

static inline void tu_expect_str(struct cask_db *db, const char *k,
				 const char *v)
{
	tu_expect(db, k, strlen(k), v, v ? strlen(v) : 0);
}

/* @p k reads as damaged: the record its keydir entry names fails its
 * check, and nothing is returned. */
static inline void tu_expect_damaged(struct cask_db *db, const char *k)
{
	void *v = NULL;
	size_t len;

	assert_int_equal(cask_get_alloc(db, k, strlen(k), &v, &len),
			 CASK_ECORRUPT);
	assert_null(v);
}

static inline struct cask_merge_options tu_merge_all(void)
{
	return (struct cask_merge_options){.all = true, .wait = true};
}

/* --- random numbers (xorshift64*), seeded explicitly --- */

static inline uint64_t tu_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* The decimal number at the start of @p (@len bytes, not NUL-terminated). */
static inline long tu_atol(const void *p, size_t len)
{
	const char *c = p;
	long n = 0;

	for (size_t i = 0; i < len && c[i] >= '0' && c[i] <= '9'; i++)
		n = n * 10 + (c[i] - '0');
	return n;
}

/* An unsigned from the environment, or @def. */
static inline unsigned long long tu_env_ull(const char *name,
					    unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* --- fault injection through io_set_ops() --- */

enum tu_op {
	TU_OPEN,
	TU_PWRITEV,
	TU_FDATASYNC,
	TU_FSYNC,
	TU_FTRUNCATE,
	TU_RENAME,
	TU_UNLINK,
	TU_FALLOCATE,
	TU_NOPS
};

/* Exit status of a process that tu_fault_crash() ended. */
#define TU_CRASH_EXIT  42
#define TU_CRASH_AFTER 1 /* tu_fault_hit(): run the call, then _exit */

struct tu_rule {
	int err;	/* 0: inactive; TU_CRASH_AFTER or -errno */
	bool crash;	/* _exit(TU_CRASH_EXIT) instead of failing */
	long after;	/* matching calls to let through first */
	bool sticky;	/* keep failing after the first failure */
	char match[64]; /* only calls on files whose name contains this */
	long fired;	/* failures injected */
};

#define TU_UNUSED __attribute__((unused))
static pthread_mutex_t tu_fault_mu TU_UNUSED = PTHREAD_MUTEX_INITIALIZER;
static struct tu_rule tu_rules[TU_NOPS] TU_UNUSED;
/* pwritev writes at most this much (0: all) */
static size_t tu_short_max TU_UNUSED;
/* every call, failed or not */
static long tu_calls[TU_NOPS] TU_UNUSED;

static inline void tu_fd_name(int fd, char *buf, size_t n)
{
	char link[64];
	ssize_t l;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, buf, n - 1);
	buf[l > 0 ? l : 0] = '\0';
}

/* 0 to go on, or the error to inject for this call. */
static inline int tu_fault_hit(enum tu_op op, const char *name)
{
	struct tu_rule *r = &tu_rules[op];
	int err = 0;

	pthread_mutex_lock(&tu_fault_mu);
	tu_calls[op]++;
	if (r->err && (!r->match[0] || (name && strstr(name, r->match)))) {
		if (r->after > 0) {
			r->after--;
		} else {
			err = r->err;
			r->fired++;
			if (!r->sticky)
				r->err = 0;
			if (r->crash && err != TU_CRASH_AFTER)
				_exit(TU_CRASH_EXIT); /* before the call */
		}
	}
	pthread_mutex_unlock(&tu_fault_mu);
	return err;
}

static inline int tu_fault_fd(enum tu_op op, int fd)
{
	char name[TU_PATH];

	tu_fd_name(fd, name, sizeof(name));
	return tu_fault_hit(op, name);
}

/* After the real call: end the process if the rule said so. */
static inline long tu_fault_done(int err, long ret)
{
	if (err == TU_CRASH_AFTER)
		_exit(TU_CRASH_EXIT);
	return ret;
}

static inline int tu_f_open(int dirfd, const char *name, int flags, mode_t m)
{
	int err = tu_fault_hit(TU_OPEN, name);

	return err < 0 ? err
		       : (int)tu_fault_done(
				 err,
				 io_default_ops.open(dirfd, name, flags, m));
}

static inline ssize_t tu_f_pwritev(int fd, const struct iovec *iov, int cnt,
				   off_t off)
{
	int err = tu_fault_fd(TU_PWRITEV, fd);
	struct iovec one;
	size_t max;

	if (err < 0)
		return err;
	pthread_mutex_lock(&tu_fault_mu);
	max = tu_short_max;
	pthread_mutex_unlock(&tu_fault_mu);
	if (max && cnt > 0) {
		one = iov[0];
		if (one.iov_len > max)
			one.iov_len = max;
		return tu_fault_done(err,
				     io_default_ops.pwritev(fd, &one, 1, off));
	}
	return tu_fault_done(err, io_default_ops.pwritev(fd, iov, cnt, off));
}

static inline int tu_f_fdatasync(int fd)
{
	int err = tu_fault_fd(TU_FDATASYNC, fd);

	return err < 0 ? err
		       : (int)tu_fault_done(err, io_default_ops.fdatasync(fd));
}

static inline int tu_f_fsync(int fd)
{
	int err = tu_fault_fd(TU_FSYNC, fd);

	return err < 0 ? err
		       : (int)tu_fault_done(err, io_default_ops.fsync(fd));
}

static inline int tu_f_ftruncate(int fd, off_t len)
{
	int err = tu_fault_fd(TU_FTRUNCATE, fd);

	return err < 0 ? err
		       : (int)tu_fault_done(err,
					    io_default_ops.ftruncate(fd, len));
}

static inline int tu_f_fallocate(int fd, off_t len)
{
	int err = tu_fault_fd(TU_FALLOCATE, fd);

	return err < 0 ? err
		       : (int)tu_fault_done(err,
					    io_default_ops.fallocate(fd, len));
}

static inline int tu_f_renameat(int dirfd, const char *from, const char *to)
{
	int err = tu_fault_hit(TU_RENAME, from);

	return err < 0 ? err
		       : (int)tu_fault_done(
				 err, io_default_ops.renameat(dirfd, from, to));
}

static inline int tu_f_unlinkat(int dirfd, const char *name)
{
	int err = tu_fault_hit(TU_UNLINK, name);

	return err < 0 ? err
		       : (int)tu_fault_done(
				 err, io_default_ops.unlinkat(dirfd, name));
}

/* --- simulated reboots (the boot-id seam, io.h) --- */

static uint8_t tu_boot_gen TU_UNUSED;	    /* one per simulated boot */
static bool tu_rebooted TU_UNUSED;	    /* in a simulated boot */
static struct io_ops tu_boot_ops TU_UNUSED; /* its table */

static inline int tu_boot_id(uint8_t id[IO_BOOT_ID_SIZE])
{
	memset(id, 0xb0, IO_BOOT_ID_SIZE);
	id[0] = tu_boot_gen;
	return 0;
}

/* The table of the boot the test is in, without faults. */
static inline const struct io_ops *tu_base_ops(void)
{
	return tu_rebooted ? &tu_boot_ops : &io_default_ops;
}

/* From now on the library sees a boot id of its own, another one at each
 * call: as after a power loss, bytes written before are not known to have
 * reached the disk unless synced. The fault table (below) keeps it.
 * tu_reboot_end() goes back to the running kernel's boot (the boot of the
 * writes made before the first tu_reboot()). */
static inline void tu_reboot(void)
{
	tu_boot_gen++;
	tu_rebooted = true;
	tu_boot_ops = io_default_ops;
	tu_boot_ops.boot_id = tu_boot_id;
	io_set_ops(&tu_boot_ops);
}

static inline void tu_reboot_end(void)
{
	tu_rebooted = false;
	io_set_ops(NULL);
}

static const struct io_ops tu_fault_ops TU_UNUSED = {
	.open = tu_f_open,
	.pwritev = tu_f_pwritev,
	.pread = NULL, /* filled by tu_fault_install(), as are close and
			* boot_id */
	.fdatasync = tu_f_fdatasync,
	.fsync = tu_f_fsync,
	.ftruncate = tu_f_ftruncate,
	.fallocate = tu_f_fallocate,
	.renameat = tu_f_renameat,
	.unlinkat = tu_f_unlinkat,
	.close = NULL,
	.boot_id = NULL,
};

/* Clear every rule and counter and install the faulty table. */
static inline void tu_fault_install(void)
{
	static struct io_ops ops;

	pthread_mutex_lock(&tu_fault_mu);
	memset(tu_rules, 0, sizeof(tu_rules));
	memset(tu_calls, 0, sizeof(tu_calls));
	tu_short_max = 0;
	pthread_mutex_unlock(&tu_fault_mu);
	ops = tu_fault_ops;
	ops.pread = io_default_ops.pread;
	ops.close = io_default_ops.close;
	ops.boot_id = tu_base_ops()->boot_id;
	io_set_ops(&ops);
}

/* Back to the system's table, rules cleared. */
static inline void tu_fault_remove(void)
{
	io_set_ops(tu_base_ops());
	pthread_mutex_lock(&tu_fault_mu);
	memset(tu_rules, 0, sizeof(tu_rules));
	tu_short_max = 0;
	pthread_mutex_unlock(&tu_fault_mu);
}

/* Fail the @after-th next @op (on a file whose name contains @match, NULL
 * for any) with @err; @sticky: and every matching one after it. */
static inline void tu_fault_set(enum tu_op op, long after, int err, bool sticky,
				const char *match)
{
	pthread_mutex_lock(&tu_fault_mu);
	tu_rules[op] =
		(struct tu_rule){.err = err, .after = after, .sticky = sticky};
	if (match)
		snprintf(tu_rules[op].match, sizeof(tu_rules[op].match), "%s",
			 match);
	pthread_mutex_unlock(&tu_fault_mu);
}

/* End the process (exit status TU_CRASH_EXIT) at the @after-th next @op on
 * a file whose name contains @match: before the call, or just after it
 * when @after_call. */
static inline void tu_fault_crash(enum tu_op op, long after, const char *match,
				  bool after_call)
{
	tu_fault_set(op, after, after_call ? TU_CRASH_AFTER : -EIO, false,
		     match);
	pthread_mutex_lock(&tu_fault_mu);
	tu_rules[op].crash = true;
	pthread_mutex_unlock(&tu_fault_mu);
}

static inline void tu_fault_clear(enum tu_op op)
{
	pthread_mutex_lock(&tu_fault_mu);
	tu_rules[op].err = 0;
	pthread_mutex_unlock(&tu_fault_mu);
}

static inline long tu_fault_fired(enum tu_op op)
{
	long n;

	pthread_mutex_lock(&tu_fault_mu);
	n = tu_rules[op].fired;
	pthread_mutex_unlock(&tu_fault_mu);
	return n;
}

static inline long tu_fault_calls(enum tu_op op)
{
	long n;

	pthread_mutex_lock(&tu_fault_mu);
	n = tu_calls[op];
	pthread_mutex_unlock(&tu_fault_mu);
	return n;
}

static inline void tu_fault_short_writes(size_t max)
{
	pthread_mutex_lock(&tu_fault_mu);
	tu_short_max = max;
	pthread_mutex_unlock(&tu_fault_mu);
}

#endif
