/*
 * test_torn_tail.c - recovery of a torn active segment (kv/src/recover.c):
 * a store is written, then for every byte offset within its last records
 * (plain puts, a delete and a batch) a copy of the store has its active
 * segment cut there and is reopened. The open succeeds, shows exactly the
 * records that lie wholly before the cut, shows a batch only when its
 * commit record is whole, cuts the file back to its last whole record, and
 * takes new writes that survive the next reopen. A read-only open of a
 * torn copy sees the same and changes nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

enum kind {
	PUT,
	DEL,
	BATCH
};

struct step {
	enum kind kind;
	long long end; /* file size once the step was written */
};

#define NBASE 20

static const struct step *g_steps;
static int g_nsteps;

static void key_of(char *k, int i)
{
	snprintf(k, 16, "t%02d", i);
}

/* The store: NBASE puts, then a put, a delete, a batch, a put. */
static int build(const char *dir, struct step *steps, char *seg)
{
	struct cask_options o = tu_opts(0);
	struct cask_db *db = tu_open(dir, &o);
	struct cask_batch *b;
	char k[16];
	int n = 0;

	tu_seg_path(seg, dir, tu_seg_id(dir, "cask", true), "cask");
	for (int i = 0; i < NBASE + 1; i++) {
		key_of(k, i);
		tu_put_str(db, k, "torn-tail-value");
		steps[n++] = (struct step){PUT, tu_file_size(seg)};
	}
	assert_int_equal(cask_delete(db, "t00", 3), 0);
	steps[n++] = (struct step){DEL, tu_file_size(seg)};
	assert_int_equal(cask_batch_new(db, &b), 0);
	assert_int_equal(cask_batch_put(b, "b1", 2, "batch", 5), 0);
	assert_int_equal(cask_batch_put(b, "t01", 3, "batch", 5), 0);
	assert_int_equal(cask_batch_delete(b, "t02", 3), 0);
	assert_int_equal(cask_batch_commit(b, 0), 0);
	cask_batch_free(b);
	steps[n++] = (struct step){BATCH, tu_file_size(seg)};
	tu_put_str(db, "z", "last");
	steps[n++] = (struct step){PUT, tu_file_size(seg)};
	assert_int_equal(cask_close(db), 0);
	return n;
}

/* What must be visible after a cut at @cut. */
static void check(struct cask_db *db, long long cut)
{
	bool del = false, batch = false, last = false;
	char k[16];

	for (int i = NBASE + 1; i < g_nsteps; i++) {
		bool whole = g_steps[i].end <= cut;

		if (g_steps[i].kind == DEL)
			del = whole;
		else if (g_steps[i].kind == BATCH)
			batch = whole;
		else
			last = whole;
	}
	for (int i = 1; i < NBASE; i++) {
		key_of(k, i);
		if (i == 1 && batch)
			tu_expect_str(db, k, "batch");
		else if (i == 2 && batch)
			tu_expect_str(db, k, NULL);
		else
			tu_expect_str(db, k, "torn-tail-value");
	}
	tu_expect_str(db, "t00", del ? NULL : "torn-tail-value");
	tu_expect_str(db, "b1", batch ? "batch" : NULL);
	key_of(k, NBASE);
	tu_expect_str(db, k,
		      g_steps[NBASE].end <= cut ? "torn-tail-value" : NULL);
	tu_expect_str(db, "z", last ? "last" : NULL);
}

/* The end of the last whole step before @cut. */
static long long valid_end(long long cut)
{
	long long end = 32;

	for (int i = 0; i < g_nsteps; i++)
		if (g_steps[i].end <= cut)
			end = g_steps[i].end;
	return end;
}

static void log_count(void *arg, const char *msg)
{
	(void)msg;
	(*(int *)arg)++;
}

static void test_torn_tail_every_offset(void **state)
{
	char base[TU_PATH], dir[TU_PATH], seg[TU_PATH], cseg[TU_PATH];
	struct step steps[64];
	long long from, total;
	int cuts = 0;

	(void)state;
	tu_tmpdir(base, sizeof(base), "torn");
	g_nsteps = build(base, steps, seg);
	g_steps = steps;
	total = steps[g_nsteps - 1].end;
	from = steps[NBASE - 1].end;
	for (long long cut = from; cut <= total; cut++) {
		struct cask_options o = tu_opts(0);
		struct cask_db *db;
		int logs = 0;

		assert_true(snprintf(dir, sizeof(dir), "%s-cut", base) <
			    (int)sizeof(dir));
		tu_rm_rf(dir);
		tu_copy_dir(base, dir);
		tu_seg_path(cseg, dir, tu_seg_id(dir, "cask", true), "cask");
		tu_truncate(cseg, cut);
		o.log = log_count;
		o.log_arg = &logs;
		db = tu_open(dir, &o);
		check(db, cut);
		assert_int_equal(tu_file_size(cseg), valid_end(cut));
		if (valid_end(cut) != cut)
			assert_true(logs >= 1); /* the cut is reported */
		/* Nothing is saved aside: no valid record follows the cut. */
		assert_int_equal(tu_count_containing(dir, ".damaged"), 0);
		/* New writes go after the valid end and survive. */
		tu_put_str(db, "new", "after-cut");
		assert_int_equal(cask_close(db), 0);
		db = tu_open(dir, &o);
		check(db, cut);
		tu_expect_str(db, "new", "after-cut");
		assert_int_equal(cask_close(db), 0);
		cuts++;
	}
	assert_true(cuts > 100);
	tu_rm_rf(dir);
	tu_rm_rf(base);
	(void)seg;
}

static void test_torn_tail_read_only(void **state)
{
	char base[TU_PATH], seg[TU_PATH];
	struct step steps[64];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;
	long long cut;

	(void)state;
	tu_tmpdir(base, sizeof(base), "torn");
	g_nsteps = build(base, steps, seg);
	g_steps = steps;
	/* Inside the batch. */
	cut = steps[NBASE + 2].end - 5;
	tu_truncate(seg, cut);
	o.read_only = true;
	db = tu_open(base, &o);
	check(db, cut);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), cut); /* left as it was */
	o.read_only = false;
	db = tu_open(base, &o);
	check(db, cut);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_file_size(seg), steps[NBASE + 1].end);
	tu_rm_rf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torn_tail_every_offset),
		cmocka_unit_test(test_torn_tail_read_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
