/*
 * test_keydir.c - unit tests of the keydir (kv/src/keydir.c): put, get,
 * replace, delete, prefix keys, every node growth and shrink, long keys,
 * out-of-memory at every allocation, and a model test that replays random
 * operations against a sorted array and compares lookups, full scans and
 * seeks. Random tests print their seed; KEYDIR_SEED=n replays one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keydir.h"

#define MODEL_MAX 1024
#define KEY_MAX	  600
#define DEEP	  400 /* nodes on the path: past CURSOR_DEPTH (48) thrice */

struct mkey {
	uint8_t k[KEY_MAX];
	size_t len;
	uint64_t seq;
};

/* The reference: keys sorted by memcmp, shorter prefix first. */
struct model {
	struct mkey a[MODEL_MAX];
	size_t n;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static struct keydir_entry ent(uint64_t seq)
{
	struct keydir_entry e = {seq, (uint32_t)seq * 3, (uint32_t)seq * 7,
				 (uint32_t)seq ^ 0x55, (uint32_t)seq & 1};

	return e;
}

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int r = memcmp(a, b, al < bl ? al : bl);

	if (r)
		return r;
	return (al > bl) - (al < bl);
}

/* Index of the first model key >= @k (> when !inclusive). */
static size_t model_lower(const struct model *m, const uint8_t *k, size_t len,
			  bool inclusive)
{
	size_t i = 0;

	while (i < m->n) {
		int c = kcmp(m->a[i].k, m->a[i].len, k, len);

		if (c > 0 || (c == 0 && inclusive))
			break;
		i++;
	}
	return i;
}

static bool model_has(const struct model *m, const uint8_t *k, size_t len,
		      size_t *at)
{
	*at = model_lower(m, k, len, true);
	return *at < m->n && kcmp(m->a[*at].k, m->a[*at].len, k, len) == 0;
}

static void model_put(struct model *m, const uint8_t *k, size_t len,
		      uint64_t seq)
{
	size_t i;

	if (model_has(m, k, len, &i)) {
		m->a[i].seq = seq;
		return;
	}
	assert_true(m->n < MODEL_MAX);
	memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof(m->a[0]));
	memcpy(m->a[i].k, k, len);
	m->a[i].len = len;
	m->a[i].seq = seq;
	m->n++;
}

static bool model_del(struct model *m, const uint8_t *k, size_t len)
{
	size_t i;

	if (!model_has(m, k, len, &i))
		return false;
	memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof(m->a[0]));
	m->n--;
	return true;
}

static void expect_at(struct keydir_cursor *c, const struct mkey *mk)
{
	const uint8_t *k;
	size_t len;
	struct keydir_entry e;

	assert_true(keydir_cursor_get(c, &k, &len, &e));
	assert_int_equal(len, mk->len);
	assert_memory_equal(k, mk->k, len);
	assert_int_equal(e.seq, mk->seq);
}

/* The tree holds exactly the model: count, gets, and both full scans. */
static void check_tree(const struct keydir *kd, const struct model *m)
{
	struct keydir_cursor *c;
	struct keydir_entry e;
	size_t i;

	assert_int_equal(keydir_count(kd), m->n);
	for (i = 0; i < m->n; i++) {
		assert_true(keydir_get(kd, m->a[i].k, m->a[i].len, &e));
		assert_int_equal(e.seq, m->a[i].seq);
		assert_int_equal(e.off, (uint32_t)m->a[i].seq * 7);
	}
	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	bool ok = keydir_cursor_first(c);
	for (i = 0; i < m->n; i++, ok = keydir_cursor_next(c)) {
		assert_true(ok);
		expect_at(c, &m->a[i]);
	}
	assert_false(ok);
	assert_false(keydir_cursor_get(c, NULL, NULL, NULL));
	ok = keydir_cursor_last(c);
	for (i = m->n; i > 0; i--, ok = keydir_cursor_prev(c)) {
		assert_true(ok);
		expect_at(c, &m->a[i - 1]);
	}
	assert_false(ok);
	keydir_cursor_free(c);
}

static int put_m(struct keydir *kd, struct model *m, const uint8_t *k,
		 size_t len, uint64_t seq)
{
	struct keydir_entry e = ent(seq);
	int r = keydir_put(kd, k, len, &e, NULL, NULL, NULL);

	if (r >= 0)
		model_put(m, k, len, seq);
	return r;
}

static int put_s(struct keydir *kd, const char *s, uint64_t seq)
{
	struct keydir_entry e = ent(seq);

	return keydir_put(kd, (const uint8_t *)s, strlen(s), &e, NULL, NULL,
			  NULL);
}

static bool get_s(struct keydir *kd, const char *s, uint64_t *seq)
{
	struct keydir_entry e;

	if (!keydir_get(kd, (const uint8_t *)s, strlen(s), &e))
		return false;
	*seq = e.seq;
	return true;
}

static bool del_s(struct keydir *kd, const char *s)
{
	return keydir_delete(kd, (const uint8_t *)s, strlen(s), NULL);
}

static uint64_t seed_base(void)
{
	const char *s = getenv("KEYDIR_SEED");

	return s ? strtoull(s, NULL, 0) : 0x9e3779b97f4a7c15ull;
}

static void test_keydir_basic(void **state)
{
	struct keydir *kd;
	struct keydir_entry e = ent(1), old;
	uint64_t seq, v;

	(void)state;
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_count(kd), 0);
	assert_false(get_s(kd, "x", &seq));
	assert_false(del_s(kd, "x"));
	assert_int_equal(put_s(kd, "hello", 1), KEYDIR_INSERTED);
	assert_int_equal(put_s(kd, "help", 2), KEYDIR_INSERTED);
	assert_int_equal(put_s(kd, "world", 3), KEYDIR_INSERTED);
	assert_true(get_s(kd, "hello", &seq) && seq == 1);
	assert_true(get_s(kd, "help", &seq) && seq == 2);
	assert_false(get_s(kd, "hel", &seq));
	assert_false(get_s(kd, "helloo", &seq));
	v = keydir_version(kd);
	e = ent(9);
	assert_int_equal(keydir_put(kd, (const uint8_t *)"help", 4, &e, &old,
				    NULL, NULL),
			 KEYDIR_REPLACED);
	assert_int_equal(old.seq, 2);
	assert_int_equal(old.seg, 6);
	assert_int_equal(keydir_version(kd), v);
	assert_true(get_s(kd, "help", &seq) && seq == 9);
	assert_true(keydir_delete(kd, (const uint8_t *)"hello", 5, &old));
	assert_int_equal(old.seq, 1);
	assert_int_equal(keydir_version(kd), v + 1);
	assert_false(del_s(kd, "hello"));
	assert_int_equal(keydir_version(kd), v + 1);
	assert_false(get_s(kd, "hello", &seq));
	assert_int_equal(keydir_count(kd), 2);
	assert_true(keydir_memory(kd) > 0);
	assert_int_equal(
		keydir_put(kd, (const uint8_t *)"", 0, &e, NULL, NULL, NULL),
		-EINVAL);
	assert_true(del_s(kd, "help") && del_s(kd, "world"));
	assert_int_equal(keydir_count(kd), 0);
	assert_int_equal(put_s(kd, "again", 4), KEYDIR_INSERTED);
	keydir_free(kd);
	keydir_free(NULL);
}

/*
 * Issue 13: deletes leave the slabs held (14 keys kept 6.3 MB), which
 * keydir_unused() counts and keydir_compact() gives back, keeping every
 * entry and moving the version on (cursors must seek again).
 */
static void test_keydir_compact_gives_memory_back(void **state)
{
	struct keydir *kd;
	char k[32];
	size_t full;
	uint64_t seq, v;

	(void)state;
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_unused(kd), 0);
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "/dir/file%06d/chunk", i);
		assert_int_equal(put_s(kd, k, (uint64_t)i + 1),
				 KEYDIR_INSERTED);
	}
	full = keydir_memory(kd);
	assert_true(keydir_unused(kd) < full / 10);
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "/dir/file%06d/chunk", i);
		assert_true(i % 7000 == 0 || del_s(kd, k));
	}
	assert_int_equal(keydir_count(kd), 15);
	assert_true(keydir_memory(kd) > full / 2); /* the slabs stay */
	assert_true(keydir_unused(kd) > keydir_memory(kd) / 4 * 3);
	v = keydir_version(kd);
	assert_int_equal(keydir_compact(kd), 0);
	assert_true(keydir_version(kd) > v);
	assert_true(keydir_memory(kd) < 64 * 1024);
	assert_true(keydir_unused(kd) < keydir_memory(kd));
	assert_int_equal(keydir_count(kd), 15);
	for (int i = 0; i < 100000; i += 7000) {
		snprintf(k, sizeof(k), "/dir/file%06d/chunk", i);
		assert_true(get_s(kd, k, &seq) && seq == (uint64_t)i + 1);
	}
	assert_int_equal(put_s(kd, "/after", 1), KEYDIR_INSERTED);
	keydir_free(kd);
}

static bool newer(const struct keydir_entry *cur,
		  const struct keydir_entry *cand, void *arg)
{
	(*(int *)arg)++;
	return cand->seq > cur->seq;
}

static void test_keydir_should_replace(void **state)
{
	struct keydir *kd;
	struct keydir_entry e = ent(5), old;
	const uint8_t *k = (const uint8_t *)"key";
	int calls = 0;
	uint64_t seq;

	(void)state;
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_put(kd, k, 3, &e, &old, newer, &calls),
			 KEYDIR_INSERTED);
	assert_int_equal(calls, 0);
	e = ent(3);
	assert_int_equal(keydir_put(kd, k, 3, &e, &old, newer, &calls),
			 KEYDIR_KEPT);
	assert_int_equal(old.seq, 5);
	assert_true(get_s(kd, "key", &seq) && seq == 5);
	e = ent(8);
	assert_int_equal(keydir_put(kd, k, 3, &e, &old, newer, &calls),
			 KEYDIR_REPLACED);
	assert_int_equal(old.seq, 5);
	assert_true(get_s(kd, "key", &seq) && seq == 8);
	assert_int_equal(calls, 2);
	keydir_free(kd);
}

static void test_keydir_prefix_keys(void **state)
{
	static const char *keys[] = {
		"/",
		"/etc",
		"/etc-",
		"/etc.d",
		"/etc/",
		"/etc/x",
		"/etc/xy",
		"/etc0",
		"a",
		"ab",
		"abc",
		"abcd",
		"abcdefghijklmnopq",
		"abcdefghijklmnopqr",
		"abd",
		"b",
	};
	size_t n = sizeof(keys) / sizeof(keys[0]), i, order[16];
	struct model m = {.n = 0};
	struct keydir *kd;

	(void)state;
	assert_int_equal(keydir_new(&kd), 0);
	/* Longest first, then shortest first: both split directions. */
	for (i = 0; i < n; i++)
		order[i] = i % 2 ? n - 1 - i / 2 : i / 2;
	for (i = 0; i < n; i++) {
		const char *s = keys[order[i]];

		assert_int_equal(
			put_m(kd, &m, (const uint8_t *)s, strlen(s), i + 1),
			KEYDIR_INSERTED);
		check_tree(kd, &m);
	}
	for (i = 0; i < n; i++) {
		const char *s = keys[(i * 7) % n];

		assert_true(del_s(kd, s));
		assert_true(model_del(&m, (const uint8_t *)s, strlen(s)));
		check_tree(kd, &m);
	}
	keydir_free(kd);
}

/* Children 0..255 below a shared prefix, with and without a terminal,
 * inserted and removed in several orders: every growth 4->16->32->48->256
 * and every shrink back, down to a collapse into a leaf. */
static void run_fanout(const uint8_t *pre, size_t plen, bool term, int order)
{
	struct model m = {.n = 0};
	struct keydir *kd;
	uint8_t k[KEY_MAX];
	size_t mem[257], base;
	int i, b;

	assert_int_equal(keydir_new(&kd), 0);
	memcpy(k, pre, plen);
	if (term)
		assert_int_equal(put_m(kd, &m, k, plen, 1000), KEYDIR_INSERTED);
	base = keydir_memory(kd);
	for (i = 0; i < 256; i++) {
		b = order == 1 ? 255 - i : order == 2 ? (i * 37) & 255 : i;
		k[plen] = (uint8_t)b;
		assert_int_equal(put_m(kd, &m, k, plen + 1, (uint64_t)b),
				 KEYDIR_INSERTED);
		mem[i] = keydir_memory(kd);
		if (i % 15 == 0 || (i >= 2 && i <= 50) || i == 255)
			check_tree(kd, &m);
	}
	/* A larger node type means a step in memory past each capacity. */
	assert_true(mem[4] > mem[3] + 64);
	assert_true(mem[16] > mem[15] + 64);
	assert_true(mem[32] > mem[31] + 64);
	assert_true(mem[48] > mem[47] + 64);
	for (i = 0; i < 256; i++) {
		b = order == 2 ? (i * 101) & 255 : order == 1 ? i : 255 - i;
		k[plen] = (uint8_t)b;
		assert_true(keydir_delete(kd, k, plen + 1, NULL));
		assert_true(model_del(&m, k, plen + 1));
		mem[255 - i] = keydir_memory(kd);
		if (i % 15 == 0 || i >= 200)
			check_tree(kd, &m);
	}
	/* And a step down as the children dwindle (mem[i]: i + 1 left). */
	assert_true(mem[29] + 1024 < mem[40]);
	assert_true(mem[9] + 256 < mem[29]);
	assert_true(mem[1] + 64 < mem[9]);
	assert_true(keydir_memory(kd) <= base + 65536);
	keydir_free(kd);
}

static void test_keydir_node_transitions(void **state)
{
	static const uint8_t longp[] = "a-prefix-longer-than-inline/";

	(void)state;
	for (int order = 0; order < 3; order++) {
		run_fanout((const uint8_t *)"", 0, false, order);
		run_fanout((const uint8_t *)"p", 1, true, order);
		run_fanout((const uint8_t *)"pq", 2, false, order);
		run_fanout(longp, sizeof(longp) - 1, true, order);
	}
}

static void test_keydir_long_keys(void **state)
{
	size_t max = 65535;
	uint8_t *a = malloc(max + 1), *b = malloc(max);
	struct keydir_cursor *c;
	struct keydir_entry e = ent(1), got;
	const uint8_t *k;
	struct keydir *kd;
	size_t len;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	memset(a, 'x', max + 1);
	memcpy(b, a, max);
	b[max - 1] = 'y';
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_put(kd, a, max + 1, &e, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(keydir_put(kd, a, max, &e, NULL, NULL, NULL),
			 KEYDIR_INSERTED);
	e = ent(2);
	assert_int_equal(keydir_put(kd, b, max, &e, NULL, NULL, NULL),
			 KEYDIR_INSERTED);
	e = ent(3);
	assert_int_equal(keydir_put(kd, a, max - 1, &e, NULL, NULL, NULL),
			 KEYDIR_INSERTED);
	e = ent(4);
	assert_int_equal(keydir_put(kd, a, 1, &e, NULL, NULL, NULL),
			 KEYDIR_INSERTED);
	assert_true(keydir_get(kd, a, max, &got) && got.seq == 1);
	assert_true(keydir_get(kd, b, max, &got) && got.seq == 2);
	assert_true(keydir_get(kd, a, max - 1, &got) && got.seq == 3);
	assert_false(keydir_get(kd, a, max - 2, &got));
	assert_false(keydir_get(kd, b, max - 2, &got));
	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	assert_true(keydir_cursor_seek_ge(c, a, 2, true));
	assert_true(keydir_cursor_get(c, &k, &len, &got));
	assert_int_equal(len, max - 1);
	assert_true(keydir_cursor_next(c));
	assert_true(keydir_cursor_get(c, &k, &len, &got));
	assert_int_equal(got.seq, 1);
	assert_true(keydir_cursor_seek_le(c, b, max, false));
	assert_true(keydir_cursor_get(c, &k, &len, &got));
	assert_int_equal(got.seq, 1);
	assert_true(keydir_cursor_prev(c));
	assert_true(keydir_cursor_get(c, &k, &len, &got));
	assert_int_equal(got.seq, 3);
	keydir_cursor_free(c);
	assert_true(keydir_delete(kd, a, max - 1, NULL));
	assert_true(keydir_delete(kd, a, max, NULL));
	assert_true(keydir_get(kd, b, max, &got) && got.seq == 2);
	assert_true(keydir_get(kd, a, 1, &got) && got.seq == 4);
	keydir_free(kd);
	free(a);
	free(b);
}

static void test_keydir_cursor_edges(void **state)
{
	struct keydir_cursor *c;
	struct keydir *kd;
	const uint8_t *k;
	size_t len;

	(void)state;
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	assert_false(keydir_cursor_get(c, &k, &len, NULL));
	assert_false(keydir_cursor_first(c));
	assert_false(keydir_cursor_last(c));
	assert_false(keydir_cursor_seek_ge(c, (const uint8_t *)"a", 1, true));
	assert_false(keydir_cursor_seek_le(c, (const uint8_t *)"a", 1, true));
	assert_false(keydir_cursor_next(c));
	assert_false(keydir_cursor_prev(c));

	assert_int_equal(put_s(kd, "m", 1), KEYDIR_INSERTED);
	assert_true(keydir_cursor_first(c));
	assert_false(keydir_cursor_next(c));
	assert_false(keydir_cursor_next(c));
	assert_true(keydir_cursor_last(c));
	assert_false(keydir_cursor_prev(c));
	assert_true(keydir_cursor_seek_ge(c, (const uint8_t *)"m", 1, true));
	assert_false(keydir_cursor_seek_ge(c, (const uint8_t *)"m", 1, false));
	assert_true(keydir_cursor_seek_ge(c, (const uint8_t *)"", 0, false));
	assert_true(keydir_cursor_seek_le(c, (const uint8_t *)"m", 1, true));
	assert_false(keydir_cursor_seek_le(c, (const uint8_t *)"m", 1, false));
	assert_true(keydir_cursor_seek_le(c, (const uint8_t *)"ma", 2, false));
	assert_false(keydir_cursor_seek_ge(c, (const uint8_t *)"ma", 2, true));
	assert_false(keydir_cursor_seek_le(c, (const uint8_t *)"l", 1, true));

	assert_int_equal(put_s(kd, "mb", 2), KEYDIR_INSERTED);
	assert_int_equal(put_s(kd, "mc", 3), KEYDIR_INSERTED);
	/* Direction changes: next then prev returns to the same key. */
	assert_true(keydir_cursor_seek_ge(c, (const uint8_t *)"ma", 2, true));
	assert_true(keydir_cursor_get(c, &k, &len, NULL));
	assert_int_equal(len, 2);
	assert_memory_equal(k, "mb", 2);
	assert_true(keydir_cursor_next(c));
	assert_true(keydir_cursor_prev(c));
	assert_true(keydir_cursor_prev(c));
	assert_true(keydir_cursor_get(c, &k, &len, NULL));
	assert_int_equal(len, 1);
	assert_false(keydir_cursor_prev(c));
	assert_false(keydir_cursor_next(c));
	/* Seek past the last key and before the first. */
	assert_false(keydir_cursor_seek_ge(c, (const uint8_t *)"md", 2, true));
	assert_false(keydir_cursor_seek_le(c, (const uint8_t *)"a", 1, true));
	assert_true(keydir_cursor_seek_le(c, (const uint8_t *)"z", 1, true));
	assert_true(keydir_cursor_get(c, &k, &len, NULL));
	assert_memory_equal(k, "mc", 2);
	keydir_cursor_free(c);
	keydir_cursor_free(NULL);
	keydir_free(kd);
}

/* Seeks into the deep tree of test_keydir_deep_cursor, and steps both
 * ways from there. */
static void check_deep_seeks(struct keydir *kd, const struct model *m,
			     const uint8_t *k)
{
	struct keydir_cursor *c;
	size_t at;

	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	for (size_t i = 1; i <= DEEP; i += 7) {
		assert_true(keydir_cursor_seek_ge(c, k, i, false));
		at = model_lower(m, k, i, false);
		expect_at(c, &m->a[at]);
		assert_true(keydir_cursor_prev(c));
		expect_at(c, &m->a[at - 1]);
		assert_true(keydir_cursor_next(c));
		assert_true(keydir_cursor_next(c));
		expect_at(c, &m->a[at + 1]);
	}
	keydir_cursor_free(c);
}

/* Keys "a", "aa", ... (and "b", "ab", ... beside them) nest deeper than
 * the frames inside a cursor: its stack grows, and where it cannot (every
 * allocation failing, or the one of a growth) a cursor still walks them
 * all in order, finding its path again from the root. */
static void test_keydir_deep_cursor(void **state)
{
	struct model m = {.n = 0};
	struct keydir *kd;
	uint8_t k[DEEP];
	size_t i;

	(void)state;
	memset(k, 'a', sizeof(k));
	assert_int_equal(keydir_new(&kd), 0);
	for (i = 1; i <= DEEP; i++) {
		assert_int_equal(put_m(kd, &m, k, i, i), KEYDIR_INSERTED);
		k[i - 1] = 'b';
		assert_int_equal(put_m(kd, &m, k, i, DEEP + i),
				 KEYDIR_INSERTED);
		k[i - 1] = 'a';
	}
	check_tree(kd, &m);
	check_deep_seeks(kd, &m, k);
	/* The cursors are made before the failures: their growths fail. */
	for (long n = 0; n < 3; n++) {
		struct keydir_cursor *c;
		bool ok;

		assert_int_equal(keydir_cursor_new(kd, &c), 0);
		if (n == 2)
			mem_fail_after(0);
		else
			mem_fail_once(n);
		ok = keydir_cursor_first(c);
		for (i = 0; i < m.n; i++, ok = keydir_cursor_next(c)) {
			assert_true(ok);
			expect_at(c, &m.a[i]);
		}
		assert_false(ok);
		ok = keydir_cursor_last(c);
		for (i = m.n; i > 0; i--, ok = keydir_cursor_prev(c)) {
			assert_true(ok);
			expect_at(c, &m.a[i - 1]);
		}
		assert_false(ok);
		assert_true(mem_failed() > 0);
		mem_fail_after(-1);
		keydir_cursor_free(c);
	}
	keydir_free(kd);
}

/* A random key over a small alphabet, so prefixes collide often; some
 * start with a shared part longer than a node's inline prefix. */
static size_t rand_key(uint8_t *k)
{
	static const uint8_t alpha[] = {0x00, 'a', 'b', 0xff};
	static const char *bases[] = {"",
				      "",
				      "",
				      "0123456789abcdefghij",
				      "0123456789abcdefghiX",
				      "0123456789ab"};
	const char *base = bases[rndn(6)];
	size_t len = strlen(base), n = rndn(7);

	memcpy(k, base, len);
	if (len == 0 && n == 0)
		n = 1;
	for (size_t i = 0; i < n; i++)
		k[len++] = alpha[rndn(4)];
	return len;
}

static void check_seek(struct keydir_cursor *c, const struct model *m,
		       const uint8_t *k, size_t len, bool ge, bool inclusive)
{
	size_t at = model_lower(m, k, len, ge ? inclusive : !inclusive);
	bool ok;

	if (ge) {
		ok = keydir_cursor_seek_ge(c, k, len, inclusive);
		assert_int_equal(ok, at < m->n);
	} else {
		ok = keydir_cursor_seek_le(c, k, len, inclusive);
		assert_int_equal(ok, at > 0);
		at--;
	}
	if (!ok)
		return;
	expect_at(c, &m->a[at]);
	/* Wander a few steps each way from the found key. */
	for (int s = 0; s < 4; s++) {
		bool fwd = rndn(2);

		ok = fwd ? keydir_cursor_next(c) : keydir_cursor_prev(c);
		if (fwd ? at + 1 >= m->n : at == 0) {
			assert_false(ok);
			return;
		}
		assert_true(ok);
		at = fwd ? at + 1 : at - 1;
		expect_at(c, &m->a[at]);
	}
}

/* Seeks to @k and to its neighbours one byte shorter and longer. */
static void check_seek_all(const struct keydir *kd, const struct model *m,
			   const uint8_t *k, size_t len)
{
	struct keydir_cursor *c;
	uint8_t buf[KEY_MAX + 1];

	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	memcpy(buf, k, len);
	buf[len] = 0;
	for (size_t l = len - 1; l <= len + 1; l++) {
		for (int i = 0; i < 4; i++)
			check_seek(c, m, buf, l, i & 1, i & 2);
	}
	keydir_cursor_free(c);
}

static void run_model(uint64_t seed)
{
	struct model *m = calloc(1, sizeof(*m));
	struct keydir_cursor *c;
	struct keydir_entry e;
	struct keydir *kd;
	uint8_t k[KEY_MAX];
	uint64_t v;
	size_t len, at;

	print_message("model seed %llu\n", (unsigned long long)seed);
	rng_state = seed;
	assert_non_null(m);
	assert_int_equal(keydir_new(&kd), 0);
	assert_int_equal(keydir_cursor_new(kd, &c), 0);
	for (int op = 0; op < 3000; op++) {
		len = rand_key(k);
		v = keydir_version(kd);
		if (rndn(3) && m->n < 600) {
			bool had = model_has(m, k, len, &at);
			int r = put_m(kd, m, k, len, (uint64_t)op + 1);

			assert_int_equal(r, had ? KEYDIR_REPLACED
						: KEYDIR_INSERTED);
			assert_int_equal(keydir_version(kd), v + !had);
		} else {
			bool had = model_del(m, k, len);

			assert_int_equal(keydir_delete(kd, k, len, &e), had);
			assert_int_equal(keydir_version(kd), v + had);
		}
		len = rand_key(k);
		assert_int_equal(keydir_get(kd, k, len, &e),
				 model_has(m, k, len, &at));
		check_seek(c, m, k, len, rndn(2), rndn(2));
		if (op % 50 == 0)
			check_tree(kd, m);
	}
	check_tree(kd, m);
	keydir_cursor_free(c);
	keydir_free(kd);
	free(m);
}

static void test_keydir_model(void **state)
{
	uint64_t base = seed_base();

	(void)state;
	for (uint64_t i = 0; i < 6; i++)
		run_model(base + i * 0x1234567ull);
}

/* A key for the out-of-memory test: @pad bytes of 'z' (leaves past the
 * slab size are malloc()ed one by one) and then a wide fan-out or a random
 * key. */
static size_t oom_key(uint8_t *k, size_t pad, size_t i)
{
	memset(k, 'z', pad);
	if (i >= 256)
		return pad + rand_key(k + pad);
	k[pad] = 'r';
	k[pad + 1] = (uint8_t)((i * 37) & 255);
	return pad + 2;
}

/* Every allocation of every insert fails once: the tree must be exactly as
 * before each failure, and the retry must succeed. */
static void run_oom(size_t pad)
{
	struct model *m = calloc(1, sizeof(*m));
	struct keydir *kd;
	uint8_t k[KEY_MAX];
	size_t len, i, mem;
	long n;
	int r;

	print_message("oom seed %llu pad %zu\n",
		      (unsigned long long)seed_base(), pad);
	rng_state = seed_base();
	assert_non_null(m);
	assert_int_equal(keydir_new(&kd), 0);
	for (i = 0; i < 600; i++) {
		len = oom_key(k, pad, i);
		for (n = 0;; n++) {
			uint64_t v = keydir_version(kd);

			mem = keydir_memory(kd);
			mem_fail_after(n);
			r = put_m(kd, m, k, len, i + 1);
			mem_fail_after(-1);
			if (r != -ENOMEM)
				break;
			assert_int_equal(keydir_version(kd), v);
			/* A slab chunk got on the way may stay for the retry. */
			assert_true(keydir_memory(kd) >= mem);
			assert_true(keydir_memory(kd) <= mem + 65536 + 64);
			if (i % 8 == 0 || i > 560)
				check_tree(kd, m);
		}
		assert_true(r == KEYDIR_INSERTED || r == KEYDIR_REPLACED);
	}
	check_tree(kd, m);
	/* Deletes never fail; while allocations fail, nodes keep their
	 * larger size and the tree stays correct. */
	for (i = 0; i < 600; i++) {
		len = oom_key(k, pad, i < 300 ? i : 300 + rndn(300));
		mem_fail_after(i < 240 || i % 3 ? 0 : -1);
		bool had = model_del(m, k, len);
		assert_int_equal(keydir_delete(kd, k, len, NULL), had);
		mem_fail_after(-1);
		if (i % 20 == 0)
			check_tree(kd, m);
	}
	check_tree(kd, m);
	for (i = 0; i < 256; i++) {
		len = oom_key(k, pad, i);
		assert_true(put_m(kd, m, k, len, i + 1) >= 0);
	}
	check_tree(kd, m);
	keydir_free(kd);
	free(m);
}

static void test_keydir_oom(void **state)
{
	(void)state;
	run_oom(0);
	run_oom(500);
}

/* Removing a sibling merges a node into its only child; the merged prefix
 * is longer than a node keeps inline. */
static void test_keydir_collapse_long_prefix(void **state)
{
	static const char *keys[] = {
		"0123456789abcdefghijA1",
		"0123456789abcdefghijA2",
		"0123456789abcdefghijB",
		"0123456789abcdefghij",
		"012345678",
		"0123456789abcdefghijA1xyzzy0123",
		"0123456789abcdefghijA1xyzzy01234",
	};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	struct keydir *kd;

	(void)state;
	for (size_t first = 0; first < n; first++) {
		struct model m = {.n = 0};

		assert_int_equal(keydir_new(&kd), 0);
		for (size_t i = 0; i < n; i++) {
			const char *s = keys[(first + i) % n];

			assert_int_equal(put_m(kd, &m, (const uint8_t *)s,
					       strlen(s), i + 1),
					 KEYDIR_INSERTED);
		}
		check_tree(kd, &m);
		for (size_t i = 0; i < n; i++) {
			const char *s = keys[(first + 3 * i) % n];

			assert_true(del_s(kd, s));
			model_del(&m, (const uint8_t *)s, strlen(s));
			check_tree(kd, &m);
			for (size_t j = 0; j < m.n; j++)
				check_seek_all(kd, &m, m.a[j].k, m.a[j].len);
		}
		keydir_free(kd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keydir_basic),
		cmocka_unit_test(test_keydir_should_replace),
		cmocka_unit_test(test_keydir_compact_gives_memory_back),
		cmocka_unit_test(test_keydir_prefix_keys),
		cmocka_unit_test(test_keydir_node_transitions),
		cmocka_unit_test(test_keydir_long_keys),
		cmocka_unit_test(test_keydir_cursor_edges),
		cmocka_unit_test(test_keydir_deep_cursor),
		cmocka_unit_test(test_keydir_model),
		cmocka_unit_test(test_keydir_oom),
		cmocka_unit_test(test_keydir_collapse_long_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
