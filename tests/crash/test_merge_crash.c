/*
 * test_merge_crash.c - merges interrupted by a crash at each of their steps
 * (kv/src/merge.c): a child process runs cask_merge() with the I/O seam
 * set to end the process (_exit) just before or just after one step: the
 * first write of the output, its fdatasync, the hint write, the hint
 * rename, the directory fsyncs, the segment rename, the removal of the
 * inputs. The parent then reopens the store: every acknowledged value is
 * there, nothing deleted or overwritten comes back, no temporary file is
 * left, and a new merge + reopen still gives the same answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <semaphore.h>
#include <sys/wait.h>
#include <time.h>

#define NKEYS  300
#define NDEL   20
#define NFRESH 60

static void key(char *k, int i)
{
	snprintf(k, 16, "k%03d", i);
}

static void val(char *v, int i, int version)
{
	snprintf(v, 64, "v%d-of-key-%03d-%s", version, i,
		 version ? "current" : "old-old-old-old-old");
}

static void check(const char *dir)
{
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = tu_open(dir, &o);
	struct cask_stats st;
	char k[16], v[64];

	for (int i = 0; i < NKEYS; i++) {
		key(k, i);
		val(v, i, 1);
		tu_expect_str(db, k, i < NDEL ? NULL : v);
	}
	for (int i = 0; i < NFRESH; i++) {
		snprintf(k, sizeof(k), "fresh%03d", i);
		tu_expect_str(db, k, "fresh-value-fresh-value-fresh-value");
	}
	cask_stats(db, &st);
	assert_int_equal(st.keys, NKEYS - NDEL + NFRESH);
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(tu_count_containing(dir, ".tmp"), 0);
}

static bool all_hinted(struct cask_db *db)
{
	struct cask_segment_stats ss[256];
	size_t n;

	cask_segment_stats(db, ss, 256, &n);
	for (size_t i = 0; i < n && i < 256; i++)
		if (!ss[i].active && !ss[i].has_hint)
			return false;
	return true;
}

/* Old values, new values, deletes; then an active segment of fresh keys
 * only (no garbage, so merge(all) does not rotate first), and every sealed
 * segment with its hint (so no background hint pass runs in the child). */
static void build(const char *dir)
{
	struct cask_options o = tu_opts(4096);
	struct cask_db *db = tu_open(dir, &o);
	struct cask_stats a, b;
	char k[16], v[64];
	int tries = 0;

	for (int r = 0; r < 2; r++)
		for (int i = 0; i < NKEYS; i++) {
			key(k, i);
			val(v, i, r);
			tu_put_str(db, k, v);
		}
	for (int i = 0; i < NDEL; i++) {
		key(k, i);
		assert_int_equal(cask_delete(db, k, strlen(k)), 0);
	}
	cask_stats(db, &a);
	for (int i = 0; i < NFRESH; i++) {
		snprintf(k, sizeof(k), "fresh%03d", i);
		tu_put_str(db, k, "fresh-value-fresh-value-fresh-value");
	}
	cask_stats(db, &b);
	assert_true(b.segments > a.segments); /* rotated past the garbage */
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	while (!all_hinted(db) && tries++ < 2000)
		usleep(1000);
	assert_true(all_hinted(db));
	assert_int_equal(cask_close(db), 0);
}

struct point {
	const char *name;
	enum tu_op op;
	long nth;
	const char *match;
	bool after;
};

static const struct point points[] = {
	{"first output write", TU_PWRITEV, 0, ".cask.tmp", false},
	{"after first output write", TU_PWRITEV, 0, ".cask.tmp", true},
	{"output fdatasync", TU_FDATASYNC, 0, ".cask.tmp", false},
	{"after output fdatasync", TU_FDATASYNC, 0, ".cask.tmp", true},
	{"hint write", TU_PWRITEV, 0, ".hint.tmp", false},
	{"after hint fdatasync", TU_FDATASYNC, 0, ".hint.tmp", true},
	{"hint rename", TU_RENAME, 0, ".hint.tmp", false},
	{"after hint rename", TU_RENAME, 0, ".hint.tmp", true},
	{"after dir fsync (hint)", TU_FSYNC, 0, NULL, true},
	{"segment rename", TU_RENAME, 0, ".cask.tmp", false},
	{"after segment rename", TU_RENAME, 0, ".cask.tmp", true},
	{"after dir fsync (segment)", TU_FSYNC, 1, NULL, true},
	{"after second segment rename", TU_RENAME, 1, ".cask.tmp", true},
	{"first input hint unlink", TU_UNLINK, 0, ".hint", false},
	{"after first input unlink", TU_UNLINK, 0, ".cask", true},
	{"after third input unlink", TU_UNLINK, 2, ".cask", true},
	{"after last but one unlink", TU_UNLINK, -2, ".cask", true},
};

/* Merge inputs (sealed segments with garbage): one .cask unlink each. */
static long count_inputs(const char *dir)
{
	struct cask_options o = tu_opts(4096);
	struct cask_segment_stats ss[256];
	struct cask_db *db;
	size_t n;
	long inputs = 0;

	o.read_only = true;
	db = tu_open(dir, &o);
	cask_segment_stats(db, ss, 256, &n);
	for (size_t i = 0; i < n && i < 256; i++)
		inputs += !ss[i].active && ss[i].dead_bytes > 0;
	assert_int_equal(cask_close(db), 0);
	return inputs;
}

static void test_merge_crash_every_step(void **state)
{
	char base[TU_PATH], dir[TU_PATH];
	struct cask_merge_options mo = tu_merge_all();
	long inputs;

	(void)state;
	tu_tmpdir(base, sizeof(base), "mcrash");
	build(base);
	check(base);
	inputs = count_inputs(base);
	assert_true(inputs > 4);
	for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
		const struct point *pt = &points[p];
		int status;
		pid_t pid;

		assert_true(snprintf(dir, sizeof(dir), "%s-%zu", base, p) <
			    (int)sizeof(dir));
		tu_copy_dir(base, dir);
		fflush(stdout);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct cask_options o = tu_opts(4096);
			struct cask_db *db;
			long nth = pt->nth < 0 ? inputs + pt->nth : pt->nth;

			if (cask_open(dir, &o, &db))
				_exit(2);
			tu_fault_install();
			tu_fault_crash(pt->op, nth, pt->match, pt->after);
			cask_merge(db, &mo);
			_exit(3); /* the step never came */
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != TU_CRASH_EXIT)
			fail_msg("crash point '%s': child status %d", pt->name,
				 status);
		check(dir);
		{
			struct cask_options o = tu_opts(4096);
			struct cask_db *db = tu_open(dir, &o);

			assert_int_equal(cask_merge(db, &mo), 0);
			assert_int_equal(cask_close(db), 0);
		}
		check(dir);
		tu_rm_rf(dir);
	}
	tu_rm_rf(base);
}

struct gate {
	sem_t reached, release;
	int calls;
};

/* Stop the merge once, at the end of its first input. */
static void hold_once(void *arg, uint64_t done, uint64_t total)
{
	struct gate *g = arg;

	(void)done;
	(void)total;
	if (g->calls++ == 0) {
		sem_post(&g->reached);
		sem_wait(&g->release);
	}
}

/*
 * A key deleted while a merge runs, after the merge copied its old value:
 * the output (a high segment id) keeps that dead old record, the tombstone
 * lies in the active segment (a lower id). A later merge takes both as
 * inputs, drops the tombstone (no non-input segment holds anything older)
 * and the old record (not live), then removes its inputs in id order:
 * a crash after the tombstone's segment is gone but before the output with
 * the old value is must not bring the key back.
 */
static void test_merge_crash_tombstone_removed_first(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options all = tu_merge_all();
	struct gate g = {.calls = 0};
	struct cask_merge_options held = {
		.all = true, .progress = hold_once, .progress_arg = &g};
	struct cask_db *db;
	struct cask_stats st;
	struct timespec ts;
	int status;
	pid_t pid;

	(void)state;
	sem_init(&g.reached, 0, 0);
	sem_init(&g.release, 0, 0);
	tu_tmpdir(dir, sizeof(dir), "mcrash");
	db = tu_open(dir, &o);
	tu_put_str(db, "victim", "old-value-must-stay-dead");
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 60; i++) {
			snprintf(k, sizeof(k), "g%03d", i);
			tu_put_str(db, k, "garbage-garbage-garbage-garbage");
		}
	assert_int_equal(cask_merge(db, &held), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	assert_int_equal(sem_timedwait(&g.reached, &ts), 0);
	/* The first input (with victim's old value) has been copied. */
	assert_int_equal(cask_delete(db, "victim", 6), 0);
	sem_post(&g.release);
	do {
		usleep(1000);
		cask_stats(db, &st);
	} while (st.merge_running);
	assert_int_equal(st.merges, 1);
	tu_expect_str(db, "victim", NULL);
	/* Seal the tombstone's segment. */
	for (int i = 0; i < 60; i++) {
		snprintf(k, sizeof(k), "s%03d", i);
		tu_put_str(db, k, "sealing-sealing-sealing-sealing");
	}
	assert_int_equal(cask_close(db), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (cask_open(dir, &o, &db))
			_exit(2);
		tu_fault_install();
		tu_fault_crash(TU_UNLINK, 0, ".cask", true);
		cask_merge(db, &all);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), TU_CRASH_EXIT);
	db = tu_open(dir, &o);
	tu_expect_str(db, "victim", NULL);
	tu_expect_str(db, "s000", "sealing-sealing-sealing-sealing");
	assert_int_equal(cask_close(db), 0);
	sem_destroy(&g.reached);
	sem_destroy(&g.release);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_crash_every_step),
		cmocka_unit_test(test_merge_crash_tombstone_removed_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
