/*
 * test_iter.c - ordered iterators (kv/src/iter.c): empty store, forward and
 * reverse order (memcmp, shorter prefix first), prefix bounds including
 * prefixes ending in 0xff, start/end bounds, seek inside and outside the
 * bounds, rewind, values after overwrite and delete, iteration while the
 * same thread or another thread writes and deletes (strict order, no key
 * twice, every key present throughout seen), iteration across a merge,
 * and a failed step told apart from the end (cask_iter_error).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "alloc.h"
#include "test_util.h"

#include <stdatomic.h>

#define MAXK 64

struct key {
	uint8_t b[MAXK];
	size_t len;
};

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
	int d = memcmp(a, b, al < bl ? al : bl);

	return d ? d : (al < bl ? -1 : al > bl);
}

/* Walk @it from where it stands; return the keys seen. */
static size_t walk(struct cask_iter *it, struct key *out, size_t max)
{
	size_t n = 0;

	while (cask_iter_valid(it) && n < max) {
		size_t len;
		const void *k = cask_iter_key(it, &len);

		assert_non_null(k);
		assert_true(len <= MAXK);
		memcpy(out[n].b, k, len);
		out[n++].len = len;
		int rc = cask_iter_next(it);

		assert_true(rc == 0 || rc == CASK_ENOTFOUND);
	}
	assert_false(cask_iter_valid(it));
	return n;
}

/* @want: NUL-separated list of keys ("" ends it); keys given as C strings
 * with \x escapes (no NUL inside a key). */
static void expect_keys(struct cask_iter *it, const char *const *want)
{
	struct key got[64];
	size_t n = walk(it, got, 64), i;

	for (i = 0; want[i]; i++) {
		if (i >= n)
			fail_msg("iteration ended before key %zu (%s)", i,
				 want[i]);
		assert_int_equal(got[i].len, strlen(want[i]));
		assert_memory_equal(got[i].b, want[i], got[i].len);
	}
	assert_int_equal(n, i);
}

static struct cask_iter *iter(struct cask_db *db,
			      const struct cask_iter_options *o)
{
	struct cask_iter *it = NULL;

	assert_int_equal(cask_iter_new(db, o, &it), 0);
	assert_non_null(it);
	return it;
}

static void test_iter_empty_store(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_iter_options io = {.reverse = true};
	const void *v;
	size_t len;

	(void)state;
	db = tu_open_new(dir, "iter", &o);
	for (int r = 0; r < 2; r++) {
		struct cask_iter *it = iter(db, r ? &io : NULL);

		assert_false(cask_iter_valid(it));
		assert_null(cask_iter_key(it, &len));
		assert_int_equal(cask_iter_value(it, &v, &len), CASK_ENOTFOUND);
		assert_int_equal(cask_iter_next(it), CASK_ENOTFOUND);
		assert_int_equal(cask_iter_rewind(it), CASK_ENOTFOUND);
		assert_int_equal(cask_iter_seek(it, "a", 1), CASK_ENOTFOUND);
		cask_iter_free(it);
	}
	cask_iter_free(NULL);
	/* Everything deleted: empty again. */
	tu_put_str(db, "x", "1");
	assert_int_equal(cask_delete(db, "x", 1), 0);
	struct cask_iter *it = iter(db, NULL);
	assert_false(cask_iter_valid(it));
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static const char *const all_keys[] = {
	"\x01", "a", "ab", "abc", "abd", "ac", "b", "ba", "c", "\xff", NULL,
};

static struct cask_db *populate(const char *dir)
{
	struct cask_options o = tu_opts(0);
	struct cask_db *db = tu_open(dir, &o);

	/* Inserted out of order. */
	for (int i = 9; i >= 0; i -= 2)
		tu_put_str(db, all_keys[i], all_keys[i]);
	for (int i = 0; i < 10; i += 2)
		tu_put_str(db, all_keys[i], all_keys[i]);
	return db;
}

static void test_iter_forward_reverse(void **state)
{
	char dir[TU_PATH];
	struct cask_db *db;
	struct cask_iter *it;
	struct cask_iter_options rev = {.reverse = true};
	const char *reversed[11];
	const void *v;
	size_t len;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	db = populate(dir);
	it = iter(db, NULL);
	/* Values come with the keys. */
	assert_int_equal(cask_iter_value(it, &v, &len), 0);
	assert_int_equal(len, 1);
	assert_memory_equal(v, "\x01", 1);
	expect_keys(it, all_keys);
	assert_int_equal(cask_iter_next(it), CASK_ENOTFOUND);
	/* Rewind: from the start again. */
	assert_int_equal(cask_iter_rewind(it), 0);
	expect_keys(it, all_keys);
	cask_iter_free(it);
	for (int i = 0; i < 10; i++)
		reversed[i] = all_keys[9 - i];
	reversed[10] = NULL;
	it = iter(db, &rev);
	expect_keys(it, reversed);
	assert_int_equal(cask_iter_rewind(it), 0);
	while (cask_iter_valid(it)) {
		const void *k = cask_iter_key(it, &len);

		assert_int_equal(cask_iter_value(it, &v, &len), 0);
		assert_memory_equal(v, k, len);
		cask_iter_next(it);
	}
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_iter_prefix(void **state)
{
	char dir[TU_PATH];
	struct cask_db *db;
	struct cask_options o = tu_opts(0);
	struct cask_iter *it;
	struct cask_iter_options io = {.prefix = "ab", .prefix_len = 2};

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	db = populate(dir);
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"ab", "abc", "abd", NULL});
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"abd", "abc", "ab", NULL});
	cask_iter_free(it);
	io = (struct cask_iter_options){.prefix = "zz", .prefix_len = 2};
	it = iter(db, &io);
	assert_false(cask_iter_valid(it));
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);

	/* Prefixes that end in 0xff bytes. */
	db = tu_open_new(dir, "iter", &o);
	static const char *const ff[] = {
		"a\xfe\xff", "a\xff", "a\xff\x01", "a\xff\xff", "a\xff\xff\xff",
		"b",	     "\xff",  "\xff\xfe",  "\xff\xff",	"\xff\xff\x01",
		NULL,
	};
	for (int i = 0; ff[i]; i++)
		tu_put_str(db, ff[i], "v");
	io = (struct cask_iter_options){.prefix = "a\xff", .prefix_len = 2};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"a\xff", "a\xff\x01", "a\xff\xff",
					      "a\xff\xff\xff", NULL});
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"a\xff\xff\xff", "a\xff\xff",
					      "a\xff\x01", "a\xff", NULL});
	cask_iter_free(it);
	io = (struct cask_iter_options){.prefix = "\xff\xff", .prefix_len = 2};
	it = iter(db, &io);
	expect_keys(it,
		    (const char *const[]){"\xff\xff", "\xff\xff\x01", NULL});
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	expect_keys(it,
		    (const char *const[]){"\xff\xff\x01", "\xff\xff", NULL});
	cask_iter_free(it);
	io = (struct cask_iter_options){.prefix = "\xff", .prefix_len = 1};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"\xff", "\xff\xfe", "\xff\xff",
					      "\xff\xff\x01", NULL});
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_iter_start_end(void **state)
{
	char dir[TU_PATH];
	struct cask_db *db;
	struct cask_iter *it;
	struct cask_iter_options io = {
		.start = "ab", .start_len = 2, .end = "b", .end_len = 1};

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	db = populate(dir);
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"ab", "abc", "abd", "ac", NULL});
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"ac", "abd", "abc", "ab", NULL});
	cask_iter_free(it);
	/* Bounds between keys. */
	io = (struct cask_iter_options){
		.start = "aa", .start_len = 2, .end = "abz", .end_len = 3};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"ab", "abc", "abd", NULL});
	cask_iter_free(it);
	/* Only start; only end. */
	io = (struct cask_iter_options){.start = "ba", .start_len = 2};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"ba", "c", "\xff", NULL});
	cask_iter_free(it);
	io = (struct cask_iter_options){.end = "ab", .end_len = 2};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"\x01", "a", NULL});
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"a", "\x01", NULL});
	cask_iter_free(it);
	/* Prefix and bounds together: the tighter of each. */
	io = (struct cask_iter_options){.prefix = "a",
					.prefix_len = 1,
					.start = "abd",
					.start_len = 3,
					.end = "zz",
					.end_len = 2};
	it = iter(db, &io);
	expect_keys(it, (const char *const[]){"abd", "ac", NULL});
	cask_iter_free(it);
	/* Empty range: start >= end. */
	io = (struct cask_iter_options){
		.start = "c", .start_len = 1, .end = "b", .end_len = 1};
	it = iter(db, &io);
	assert_false(cask_iter_valid(it));
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	assert_false(cask_iter_valid(it));
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void expect_at(struct cask_iter *it, const char *k)
{
	size_t len;
	const void *p = cask_iter_key(it, &len);

	assert_true(cask_iter_valid(it));
	assert_non_null(p);
	assert_int_equal(len, strlen(k));
	assert_memory_equal(p, k, len);
}

static void test_iter_seek(void **state)
{
	char dir[TU_PATH];
	struct cask_db *db;
	struct cask_iter *it;
	struct cask_iter_options io = {0};

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	db = populate(dir);
	it = iter(db, NULL);
	assert_int_equal(cask_iter_seek(it, "abc", 3), 0);
	expect_at(it, "abc");
	assert_int_equal(cask_iter_seek(it, "abca", 4), 0);
	expect_at(it, "abd");
	assert_int_equal(cask_iter_next(it), 0);
	expect_at(it, "ac");
	assert_int_equal(cask_iter_seek(it, "\x00", 1), 0);
	expect_at(it, "\x01");
	assert_int_equal(cask_iter_seek(it, "\xff\x00", 2), CASK_ENOTFOUND);
	assert_false(cask_iter_valid(it));
	/* Seeking back after running off the end works. */
	assert_int_equal(cask_iter_seek(it, "c", 1), 0);
	expect_at(it, "c");
	cask_iter_free(it);

	io.reverse = true;
	it = iter(db, &io);
	assert_int_equal(cask_iter_seek(it, "abca", 4), 0);
	expect_at(it, "abc");
	assert_int_equal(cask_iter_next(it), 0);
	expect_at(it, "ab");
	assert_int_equal(cask_iter_seek(it, "\x01", 1), 0);
	expect_at(it, "\x01");
	assert_int_equal(cask_iter_seek(it, "\x00", 1), CASK_ENOTFOUND);
	assert_int_equal(cask_iter_seek(it, "\xff\xff", 2), 0);
	expect_at(it, "\xff");
	cask_iter_free(it);

	/* Bounded: seeks outside the bounds clamp to them or find nothing. */
	io = (struct cask_iter_options){
		.start = "ab", .start_len = 2, .end = "b", .end_len = 1};
	it = iter(db, &io);
	assert_int_equal(cask_iter_seek(it, "a", 1), 0);
	expect_at(it, "ab");
	assert_int_equal(cask_iter_seek(it, "abz", 3), 0);
	expect_at(it, "ac");
	assert_int_equal(cask_iter_seek(it, "b", 1), CASK_ENOTFOUND);
	assert_int_equal(cask_iter_seek(it, "c", 1), CASK_ENOTFOUND);
	cask_iter_free(it);
	io.reverse = true;
	it = iter(db, &io);
	assert_int_equal(cask_iter_seek(it, "zzz", 3), 0);
	expect_at(it, "ac");
	assert_int_equal(cask_iter_seek(it, "b", 1), 0);
	expect_at(it, "ac");
	assert_int_equal(cask_iter_seek(it, "abcc", 4), 0);
	expect_at(it, "abc");
	assert_int_equal(cask_iter_seek(it, "aa", 2), CASK_ENOTFOUND);
	assert_int_equal(cask_iter_rewind(it), 0);
	expect_at(it, "ac");
	cask_iter_free(it);
	io = (struct cask_iter_options){.prefix = "ab", .prefix_len = 2};
	it = iter(db, &io);
	assert_int_equal(cask_iter_seek(it, "b", 1), CASK_ENOTFOUND);
	assert_int_equal(cask_iter_seek(it, "", 0), 0);
	expect_at(it, "ab");
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_iter_value_after_change(void **state)
{
	char dir[TU_PATH];
	struct cask_db *db;
	struct cask_iter *it;
	const void *v;
	size_t len;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	db = populate(dir);
	it = iter(db, NULL);
	assert_int_equal(cask_iter_seek(it, "b", 1), 0);
	/* Overwritten after the step: the value at the step or a newer one. */
	tu_put_str(db, "b", "newer");
	assert_int_equal(cask_iter_value(it, &v, &len), 0);
	assert_true((len == 1 && !memcmp(v, "b", 1)) ||
		    (len == 5 && !memcmp(v, "newer", 5)));
	assert_int_equal(cask_iter_next(it), 0);
	expect_at(it, "ba");
	/* Deleted after the step: cask.h says CASK_ENOTFOUND. */
	assert_int_equal(cask_delete(db, "ba", 2), 0);
	assert_int_equal(cask_iter_value(it, &v, &len), CASK_ENOTFOUND);
	assert_int_equal(cask_iter_next(it), 0);
	expect_at(it, "c");
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Keys k0000..k0399: even ones are stable, odd ones churn. */
static void kname(char *k, int i)
{
	snprintf(k, 16, "k%04d", i);
}

static void check_pass(struct cask_iter *it, int nkeys, bool reverse,
		       bool check_values)
{
	char prev[16] = "", k[16];
	size_t plen = 0, len;
	bool *seen = calloc((size_t)nkeys, 1);

	assert_non_null(seen);
	while (cask_iter_valid(it)) {
		const char *p = cask_iter_key(it, &len);
		const void *v;
		size_t vlen;
		int i, rc;

		assert_true(len == 5);
		if (plen) {
			int d = keycmp(prev, plen, p, len);

			assert_true(reverse ? d > 0 : d < 0);
		}
		memcpy(prev, p, len);
		plen = len;
		memcpy(k, p, len);
		k[len] = '\0';
		i = atoi(k + 1);
		assert_true(i >= 0 && i < nkeys);
		assert_false(seen[i]);
		seen[i] = true;
		rc = cask_iter_value(it, &v, &vlen);
		if (check_values && i % 2 == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(vlen, 5);
			assert_memory_equal(v, k, 5);
		} else {
			assert_true(rc == 0 || rc == CASK_ENOTFOUND);
			if (rc == 0)
				assert_memory_equal(v, k, 5);
		}
		rc = cask_iter_next(it);
		assert_true(rc == 0 || rc == CASK_ENOTFOUND);
	}
	for (int i = 0; i < nkeys; i += 2)
		if (!seen[i])
			fail_msg("stable key %d not visited", i);
	free(seen);
}

static void test_iter_same_thread_writes(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	struct cask_iter_options io = {0};
	uint64_t rng = 7;

	(void)state;
	db = tu_open_new(dir, "iter", &o);
	for (int i = 0; i < 400; i++) {
		kname(k, i);
		tu_put_str(db, k, k);
	}
	for (int r = 0; r < 2; r++) {
		struct cask_iter *it;
		char prev[16] = "";
		bool seen[400] = {0};
		size_t len;

		io.reverse = r;
		it = iter(db, &io);
		while (cask_iter_valid(it)) {
			const char *p = cask_iter_key(it, &len);
			int i;

			memcpy(k, p, len);
			k[len] = '\0';
			if (prev[0])
				assert_true(r ? strcmp(prev, k) > 0
					      : strcmp(prev, k) < 0);
			strcpy(prev, k);
			i = atoi(k + 1);
			assert_false(seen[i]);
			seen[i] = true;
			/* Churn odd keys anywhere, before and after us. */
			for (int j = 0; j < 3; j++) {
				int x = (int)(tu_rand(&rng) % 200) * 2 + 1;

				kname(k, x);
				if (tu_rand(&rng) & 1)
					tu_put_str(db, k, k);
				else
					assert_int_equal(
						cask_delete(db, k, strlen(k)),
						0);
			}
			/* Overwrite stable keys too (no structure change). */
			kname(k, (int)(tu_rand(&rng) % 200) * 2);
			tu_put_str(db, k, k);
			cask_iter_next(it);
		}
		for (int i = 0; i < 400; i += 2)
			assert_true(seen[i]);
		cask_iter_free(it);
	}
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

struct churn {
	struct cask_db *db;
	atomic_bool stop;
	atomic_long ops;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	uint64_t rng = 99;
	char k[16];

	while (!atomic_load(&c->stop)) {
		int x = (int)(tu_rand(&rng) % 200) * 2 + 1;

		kname(k, x);
		if (tu_rand(&rng) & 1)
			assert_int_equal(cask_put(c->db, k, 5, k, 5), 0);
		else
			assert_int_equal(cask_delete(c->db, k, 5), 0);
		/* Stable keys get rewritten with the same value. */
		kname(k, (int)(tu_rand(&rng) % 200) * 2);
		assert_int_equal(cask_put(c->db, k, 5, k, 5), 0);
		atomic_fetch_add(&c->ops, 1);
	}
	return NULL;
}

static void test_iter_concurrent_writer(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(16384);
	struct churn c = {0};
	pthread_t t;
	int passes = 0;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "iter");
	c.db = tu_open(dir, &o);
	for (int i = 0; i < 400; i += 2) {
		kname(k, i);
		tu_put_str(c.db, k, k);
	}
	assert_int_equal(pthread_create(&t, NULL, churn_main, &c), 0);
	/* At least 40 passes, and on until the writer has really run among
	 * them (a busy machine may not schedule it during the first 40). */
	for (; passes < 40 || (atomic_load(&c.ops) < 200 && passes < 100000);
	     passes++) {
		struct cask_iter_options io = {.reverse = passes & 1};
		struct cask_iter *it = iter(c.db, &io);

		check_pass(it, 400, io.reverse, true);
		cask_iter_free(it);
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	assert_true(atomic_load(&c.ops) >= 200);
	assert_int_equal(cask_close(c.db), 0);
	tu_rm_rf(dir);
}

static void test_iter_across_merge(void **state)
{
	char dir[TU_PATH], k[16], v[64];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	struct cask_iter *it;
	struct cask_stats st;
	int n = 0;

	(void)state;
	db = tu_open_new(dir, "iter", &o);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 300; i++) {
			kname(k, i);
			snprintf(v, sizeof(v), "%s-round%d", k, round);
			tu_put_str(db, k, v);
		}
	it = iter(db, NULL);
	for (; n < 100; n++)
		assert_int_equal(cask_iter_next(it), 0);
	expect_at(it, "k0100");
	assert_int_equal(cask_merge(db, &mo), 0);
	cask_stats(db, &st);
	assert_int_equal(st.merges, 1);
	/* The current entry's segment is gone: the value is found anew. */
	while (cask_iter_valid(it)) {
		const void *val;
		size_t len;
		const char *p = cask_iter_key(it, &len);

		kname(k, n);
		assert_int_equal(len, 5);
		assert_memory_equal(p, k, 5);
		snprintf(v, sizeof(v), "%s-round2", k);
		assert_int_equal(cask_iter_value(it, &val, &len), 0);
		assert_int_equal(len, strlen(v));
		assert_memory_equal(val, v, len);
		n++;
		cask_iter_next(it);
	}
	assert_int_equal(n, 300);
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A step that runs out of memory is not the end: cask_iter_valid() is
 * false as at the end, but next() and cask_iter_error() say -ENOMEM until a
 * seek starts over; a scan that stops there does not look complete. */
static void test_iter_error_is_not_the_end(void **state)
{
	static const char *const keys[] = {"a", "bb", "ccc", "dddd", NULL};
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	struct cask_iter *it;
	size_t len;

	(void)state;
	db = tu_open_new(dir, "iter", &o);
	for (int i = 0; keys[i]; i++)
		tu_put_str(db, keys[i], keys[i]);
	it = iter(db, NULL);
	assert_int_equal(cask_iter_error(it), 0);
	/* Each key is longer than the last: each step copies into a bigger
	 * buffer. */
	mem_fail_once(0);
	assert_int_equal(cask_iter_next(it), -ENOMEM);
	assert_int_equal(mem_failed(), 1);
	assert_false(cask_iter_valid(it));
	assert_null(cask_iter_key(it, &len));
	assert_int_equal(cask_iter_error(it), -ENOMEM);
	assert_int_equal(cask_iter_next(it), -ENOMEM);
	assert_int_equal(cask_iter_seek(it, "bb", 2), 0);
	assert_int_equal(cask_iter_error(it), 0);
	expect_keys(it, keys + 1);
	assert_int_equal(cask_iter_error(it), 0);
	/* The same from a seek, and a rewind starts over. */
	cask_iter_free(it);
	it = iter(db, NULL);
	mem_fail_once(0);
	assert_int_equal(cask_iter_seek(it, "dddd", 4), -ENOMEM);
	assert_int_equal(cask_iter_error(it), -ENOMEM);
	assert_int_equal(cask_iter_rewind(it), 0);
	expect_keys(it, keys);
	cask_iter_free(it);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iter_empty_store),
		cmocka_unit_test(test_iter_forward_reverse),
		cmocka_unit_test(test_iter_prefix),
		cmocka_unit_test(test_iter_start_end),
		cmocka_unit_test(test_iter_seek),
		cmocka_unit_test(test_iter_value_after_change),
		cmocka_unit_test(test_iter_same_thread_writes),
		cmocka_unit_test(test_iter_concurrent_writer),
		cmocka_unit_test(test_iter_across_merge),
		cmocka_unit_test(test_iter_error_is_not_the_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
