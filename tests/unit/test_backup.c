/*
 * test_backup.c - copies of a live store: merge_keep_ms keeps a merge's
 * inputs for a while and then removes them, only while a copy may be
 * running (one reading just as the merge ends too), and gives them back
 * on ENOSPC; backup windows close by
 * themselves when their holder ends or their time is up, and a merge
 * asked for inside one waits for it; a backup window keeps them
 * until it closes (and close still leaves every sealed segment with a
 * hint); and a real `cp -a` of the directory, taken inside a
 * window while a writer thread and merges run, opens cleanly and holds a
 * prefix of the history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../test_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 200

/* Write every key once with @p round (values say key and round). */
static void write_round(struct cask_db *db, int round)
{
	char k[16], v[32];

	for (int i = 0; i < NKEYS; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "%04d:%06d", i, round);
		tu_put_str(db, k, v);
	}
}

static int count_cask(const char *dir)
{
	return tu_count_suffix(dir, ".cask");
}

/* Until the drop lists are gone (30 s at most). @return true if they
 * are. */
static bool drops_gone(const char *dir)
{
	for (int i = 0; i < 300 && tu_count_suffix(dir, ".drop"); i++)
		usleep(100 * 1000);
	return tu_count_suffix(dir, ".drop") == 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * May the inputs of a merge asked for at @p t0 (mono_ms()) still be kept
 * for merge_keep_ms @p keep_ms? Kept inputs can be seen only then: the
 * keeper removes them once their time is up, and a test thread that the
 * scheduler left waiting that long (a loaded machine) finds them gone.
 * Their clock starts when the merge ends, after @p t0, so they are surely
 * kept while less than @p keep_ms has passed since it (1 ms is left for
 * the two clocks' rounding).
 */
static bool keep_time_left(uint64_t t0, unsigned keep_ms)
{
	return mono_ms() - t0 + 1 < keep_ms;
}

static void test_backup_merge_keep_then_removed(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	static struct tu_logbuf log;
	struct cask_db *db;
	int before, after_merge, drops, r;
	uint64_t t0;
	bool seen_kept;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "keep");
	o.merge_keep_ms = 300;
	o.log = tu_log_keep;
	o.log_arg = &log;
	db = tu_open(dir, &o);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	/* This listing is a copy's to the store: the inputs are kept for
	 * it (without a read of the directory since open they would go at
	 * once: test_backup_kept_only_for_a_copy). */
	before = count_cask(dir);
	t0 = mono_ms();
	assert_int_equal(cask_merge(db, &mo), 0);
	after_merge = count_cask(dir);
	drops = tu_count_suffix(dir, ".drop");
	seen_kept = keep_time_left(t0, o.merge_keep_ms);
	if (seen_kept) {
		assert_true(after_merge > before);
		assert_int_equal(drops, 1);
	}
	/* Their time is up: the keeper removes them, writes or none. */
	r = 3;
	write_round(db, r++);
	assert_true(drops_gone(dir));
	if (seen_kept)
		assert_true(count_cask(dir) < after_merge);
	assert_int_equal(cask_close(db), 0);
	/* They were kept (or none would have been removed), and went. */
	assert_non_null(strstr(log.text, "removed: merge_keep_ms is up"));
	db = tu_open(dir, &o);
	{
		char want[16];

		snprintf(want, sizeof(want), "0007:%06d", r - 1);
		tu_expect_str(db, "k0007", want);
	}
	assert_int_equal(cask_close(db), 0);
}

/* Read the directory as a copy does: list it, read a segment. */
static void copy_reads(const char *dir)
{
	char path[TU_PATH], buf[64];
	FILE *f;

	assert_true(count_cask(dir) > 0);
	tu_seg_path(path, dir, tu_seg_id(dir, "cask", false), "cask");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf), f) > 0);
	fclose(f);
}

static struct cask_stats stats_of(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	return st;
}

struct kept_count {
	uint64_t segments, drops, bytes; /* bytes: of segments and hints */
};

static int count_kept(void *arg, const char *name, uint64_t size)
{
	struct kept_count *k = arg;
	uint32_t id;

	assert_true(size > 0);
	if (cask_file_parse(name, &id) == CASK_FILE_SEGMENT)
		k->segments++;
	if (strstr(name, ".drop"))
		k->drops++;
	else
		k->bytes += size;
	return 0;
}

/* @p n segments of @p dir are only kept, @p bytes with their hints:
 * cask_kept_files() lists them and their drop list, cask_verify() skips
 * them, a read-only open counts them as kept and reads the store without
 * them. */
static void check_kept_seen(const char *dir, uint64_t n, uint64_t bytes)
{
	struct cask_options o = tu_opts(4096);
	struct kept_count k = {0};
	struct cask_verify_result r;
	struct cask_stats st;
	struct cask_db *ro;

	assert_int_equal(cask_kept_files(dir, count_kept, &k), 0);
	assert_int_equal(k.segments, n);
	assert_int_equal(k.drops, 1);
	assert_int_equal(k.bytes, bytes);
	assert_int_equal(cask_verify(dir, NULL, &r), 0);
	assert_int_equal(r.kept_segments, n);
	assert_int_equal(r.kept_bytes, bytes);
	o.read_only = true;
	ro = tu_open(dir, &o);
	assert_int_equal(cask_stats(ro, &st), 0);
	assert_int_equal(st.kept_segments, n);
	assert_int_equal(st.kept_bytes, r.kept_bytes);
	tu_expect_str(ro, "k0042", "0042:000005");
	assert_int_equal(cask_close(ro), 0);
}

static uint64_t kept_segments(struct cask_db *db)
{
	struct cask_stats st;

	assert_int_equal(cask_stats(db, &st), 0);
	assert_true((st.kept_segments == 0) == (st.kept_bytes == 0));
	return st.kept_segments;
}

/*
 * Issue 13: merge inputs are kept for a copy of the directory only while
 * one may be running. With nothing reading the directory since open they
 * go at once however long merge_keep_ms is; after a listing and a read
 * they are kept, counted in the stats, and a write that meets ENOSPC
 * gives them back.
 */
static void test_backup_kept_only_for_a_copy(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "kept");
	o.merge_keep_ms = 3600 * 1000;
	db = tu_open(dir, &o);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_int_equal(kept_segments(db), 0);
	assert_int_equal(tu_count_suffix(dir, ".drop"), 0);

	copy_reads(dir);
	for (int r = 3; r < 6; r++)
		write_round(db, r);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_true(kept_segments(db) > 0);
	assert_int_equal(tu_count_suffix(dir, ".drop"), 1);
	check_kept_seen(dir, kept_segments(db), stats_of(db).kept_bytes);

	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, false, ".cask");
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	tu_fault_remove();
	assert_true(drops_gone(dir));
	assert_int_equal(kept_segments(db), 0);
	tu_expect_str(db, "k0042", "0042:000005");
	assert_int_equal(cask_close(db), 0);
}

struct reader {
	const char *dir;
	atomic_bool stop;
	atomic_int reads; /* of the segment so far */
};

/* A copy reading all the time: it opens the directory and reads a
 * segment, by turns (events that differ, so that none is merged into the
 * one before), until told to stop. */
static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	char path[TU_PATH], c;
	int fd;

	tu_seg_path(path, rd->dir, tu_seg_id(rd->dir, "cask", false), "cask");
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	while (!atomic_load(&rd->stop)) {
		int dfd = open(rd->dir, O_RDONLY | O_DIRECTORY);

		assert_true(dfd >= 0);
		close(dfd);
		assert_int_equal(pread(fd, &c, 1, 0), 1);
		atomic_fetch_add(&rd->reads, 1);
	}
	close(fd);
	return NULL;
}

/*
 * A copy that reads while a merge ends keeps its inputs. The merge took
 * the time, then drained the watch (or waited for the keeper draining
 * it), and the read found there was stamped a moment later than that
 * time: the difference wrapped, the copy counted as long gone, and the
 * inputs were removed at once under a copy reading them.
 */
static void test_backup_kept_for_copy_reading_now(void **state)
{
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct reader rd = {0};
	char dir[TU_PATH];
	struct cask_db *db;
	pthread_t t;
	uint64_t kept = 0;

	(void)state;
	o.merge_keep_ms = 3600 * 1000;
	db = tu_open_new(dir, "reading", &o);
	write_round(db, 0);
	rd.dir = dir;
	assert_int_equal(pthread_create(&t, NULL, reader_main, &rd), 0);
	/* The copy has begun (30 s at most) before the first merge ends. */
	for (int i = 0; i < 3000 && !atomic_load(&rd.reads); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&rd.reads) > 0);
	for (int r = 1; r <= 20; r++) {
		write_round(db, r);
		assert_int_equal(cask_merge(db, &mo), 0);
		assert_true(kept_segments(db) > kept); /* this one's kept */
		kept = kept_segments(db);
	}
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/*
 * The store's own reads are no copy: a value larger than a segment lies
 * past the active segment's mapping, and was read with pread, which the
 * watch reports like a copy's read: a merge after one cask_get kept its
 * inputs for merge_keep_ms (an hour here).
 */
static void test_backup_own_reads_no_copy(void **state)
{
	static char big[300 << 10], out[300 << 10];
	struct cask_options o = tu_opts(64 << 10);
	struct cask_merge_options mo = tu_merge_all();
	char dir[TU_PATH];
	struct cask_db *db;
	size_t n;

	(void)state;
	o.merge_keep_ms = 3600 * 1000;
	db = tu_open_new(dir, "ownread", &o);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	memset(big, 'b', sizeof(big));
	assert_int_equal(cask_put(db, "big", 3, big, sizeof(big)), 0);
	assert_int_equal(cask_get(db, "big", 3, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(out, big, sizeof(big));
	usleep(300 * 1000); /* the keeper reads the watch */
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_int_equal(kept_segments(db), 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* Kept inputs go when their time is up on an idle store too: no rotation
 * or merge has to come first. */
static void test_backup_kept_go_when_idle(void **state)
{
	static struct tu_logbuf log;
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	uint64_t t0;
	int drops;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "idle");
	o.merge_keep_ms = 200;
	o.log = tu_log_keep;
	o.log_arg = &log;
	db = tu_open(dir, &o);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	copy_reads(dir);
	t0 = mono_ms();
	assert_int_equal(cask_merge(db, &mo), 0);
	drops = tu_count_suffix(dir, ".drop");
	if (keep_time_left(t0, o.merge_keep_ms))
		assert_int_equal(drops, 1);
	assert_true(drops_gone(dir));
	assert_int_equal(kept_segments(db), 0);
	assert_int_equal(cask_close(db), 0);
	/* The copy was seen a moment ago: the log says why they went. */
	assert_non_null(strstr(log.text, "removed: merge_keep_ms is up"));
	assert_null(strstr(log.text, "no copy of the directory is running"));
}

/* Until no backup window is open (5 s at most). */
static bool windows_closed(struct cask_db *db)
{
	for (int i = 0; i < 50 && stats_of(db).backup_windows; i++)
		usleep(100 * 1000);
	return stats_of(db).backup_windows == 0;
}

/* Open a window of @p db held by a new child process that waits to be
 * killed. @return the child's pid. */
static pid_t window_of_child(struct cask_db *db)
{
	struct cask_backup_options bo = {0};
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	bo.holder_pid = (int)child;
	assert_int_equal(cask_backup_begin_held(db, &bo), 0);
	return child;
}

/* A window whose holder ended, or whose time is up, closes by itself; a
 * holder that does not exist is refused. */
static void test_backup_window_bounded(void **state)
{
	struct cask_options o = tu_opts(4096);
	struct cask_backup_options bo = {0};
	struct cask_backup_info info[2];
	char dir[TU_PATH];
	struct cask_db *db;
	size_t n;
	pid_t child;

	(void)state;
	db = tu_open_new(dir, "window", &o);
	child = window_of_child(db);
	assert_int_equal(cask_backup_windows(db, info, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(info[0].holder_pid, (int)child);
	assert_int_equal(info[0].left_ms, 0);
	usleep(300 * 1000);
	assert_int_equal(stats_of(db).backup_windows, 1); /* alive: stays */
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_true(windows_closed(db));

	bo = (struct cask_backup_options){.max_ms = 200};
	assert_int_equal(cask_backup_begin_held(db, &bo), 0);
	assert_int_equal(cask_backup_windows(db, info, 2, &n), 0);
	assert_true(n == 1 && info[0].left_ms > 0 && info[0].left_ms <= 200);
	assert_true(windows_closed(db));

	bo = (struct cask_backup_options){.holder_pid = (int)child};
	assert_int_equal(cask_backup_begin_held(db, &bo), -ESRCH);
	bo.holder_pid = -1;
	assert_int_equal(cask_backup_begin_held(db, &bo), CASK_EINVAL);
	assert_int_equal(stats_of(db).backup_windows, 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/* A merge asked for inside a window waits for it and then runs; asked for
 * with wait, it is refused. The window held by a given process is the one
 * that process closes. */
static void test_backup_merge_waits_for_window(void **state)
{
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = {.all = true};
	struct cask_backup_options bo = {.holder_pid = (int)getpid()};
	struct cask_backup_info info[2];
	char dir[TU_PATH];
	struct cask_db *db;
	size_t n;

	(void)state;
	db = tu_open_new(dir, "waits", &o);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	assert_int_equal(cask_backup_begin_held(db, &bo), 0);
	assert_int_equal(cask_backup_begin(db), 0);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_true(stats_of(db).merge_waiting);
	mo.wait = true;
	assert_int_equal(cask_merge(db, &mo), CASK_EBUSY);
	assert_int_equal(stats_of(db).merges, 0);
	/* Another process's is not ours; ours goes; the one without holder
	 * stays. */
	assert_int_equal(cask_backup_end_held(db, 1), CASK_ENOTFOUND);
	assert_int_equal(stats_of(db).backup_windows, 2);
	assert_int_equal(cask_backup_end_held(db, (int)getpid()), 0);
	assert_int_equal(cask_backup_windows(db, info, 2, &n), 0);
	assert_true(n == 1 && info[0].holder_pid == 0);
	assert_true(stats_of(db).merge_waiting);
	assert_int_equal(cask_backup_end(db), 0);
	assert_false(stats_of(db).merge_waiting);
	for (int i = 0; i < 600 && stats_of(db).merges == 0; i++) /* 30 s */
		usleep(50 * 1000);
	assert_int_equal(stats_of(db).merges, 1);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/*
 * A window that opens while the keeper removes kept inputs waits for the
 * removal: no file may go inside it. The keeper took the drop lists
 * under the store's lock and unlinked without it, and begin waited only
 * for a merge. Many inputs make the removal long enough to be caught.
 * A write that meets ENOSPC sends the keeper to remove them: kept for an
 * hour, they are surely still there when the merge returns (kept for
 * merge_keep_ms, a test thread the scheduler left waiting that long would
 * find them gone already).
 */
static void test_backup_begin_waits_for_removals(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db = tu_open_new(dir, "removing", &o);
	int n0;

	(void)state;
	o.merge_keep_ms = 3600 * 1000;
	db = tu_reopen(db, dir, &o);
	for (int r = 0; r < 100; r++)
		write_round(db, r);
	copy_reads(dir);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_true(kept_segments(db) > 100); /* merged, kept */
	tu_fault_install();
	tu_fault_set(TU_PWRITEV, 0, -ENOSPC, false, ".cask");
	assert_int_equal(cask_put(db, "x", 1, "y", 1), -ENOSPC);
	tu_fault_remove();
	while (kept_segments(db)) /* taken: the removal starts */
		usleep(100);
	assert_int_equal(cask_backup_begin(db), 0);
	n0 = count_cask(dir);
	usleep(200 * 1000);
	assert_int_equal(count_cask(dir), n0);
	assert_int_equal(cask_backup_end(db), 0);
	assert_true(drops_gone(dir));
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

/*
 * A window whose holder dies just before the close: the keeper closes it
 * and starts the merge that waited while close tears the merge down (it
 * crashed in close, a merge state freed under the keeper). Close is
 * slowed by the hints it writes for every sealed segment, so the
 * keeper's tick falls inside it; a few rounds make that all but certain
 * without the fix.
 */
static void test_backup_close_as_holder_ends(void **state)
{
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = {.all = true};
	char dir[TU_PATH];

	(void)state;
	for (int round = 0; round < 3; round++) {
		struct cask_db *db = tu_open_new(dir, "closeend", &o);
		pid_t child = window_of_child(db);

		for (int r = 0; r < 8; r++)
			write_round(db, r);
		assert_int_equal(cask_merge(db, &mo), 0);
		assert_true(stats_of(db).merge_waiting);
		kill(child, SIGKILL);
		assert_int_equal(waitpid(child, NULL, 0), child);
		usleep((useconds_t)round * 300 * 1000);
		assert_int_equal(cask_close(db), 0);
		db = tu_open(dir, &o);
		assert_int_equal(stats_of(db).keys, NKEYS);
		assert_int_equal(cask_close(db), 0);
		tu_rm_rf(dir);
	}
}

/*
 * Close writes the hints the background thread did not: inside a window
 * the thread writes none, so after rotations there are sealed segments
 * without one until the close.
 */
static void test_backup_close_completes_hints(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_db *db;
	int segs;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "hints");
	db = tu_open(dir, &o);
	assert_int_equal(cask_backup_begin(db), 0);
	for (int r = 0; r < 3; r++)
		write_round(db, r);
	segs = count_cask(dir);
	assert_true(segs > 3);
	assert_int_equal(tu_count_suffix(dir, ".hint"), 0);
	assert_int_equal(cask_close(db), 0);
	/* Every segment but the active one has its hint now. */
	assert_int_equal(tu_count_suffix(dir, ".hint"), segs - 1);
	db = tu_open(dir, &o);
	tu_expect_str(db, "k0042", "0042:000002");
	assert_int_equal(cask_close(db), 0);
}

static void test_backup_end_without_begin(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "end");
	db = tu_open(dir, &o);
	assert_int_equal(cask_backup_end(db), CASK_EINVAL);
	assert_int_equal(cask_backup_begin(db), 0);
	assert_int_equal(cask_backup_end(db), 0);
	assert_int_equal(cask_backup_end(db), CASK_EINVAL);
	assert_int_equal(cask_close(db), 0);
}

struct writer {
	struct cask_db *db;
	atomic_bool stop;
	atomic_int rounds; /* rounds completed */
};

/* Rounds of puts (each key once per round, in key order), merging every
 * few rounds, until told to stop. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct cask_merge_options mo = {.all = true};

	for (int r = 0; !atomic_load(&w->stop); r++) {
		write_round(w->db, r);
		atomic_store(&w->rounds, r + 1);
		if (r % 3 == 2) {
			int rc = cask_merge(w->db, &mo);

			assert_true(rc == 0 || rc == CASK_EBUSY);
		}
	}
	return NULL;
}

/*
 * The copy holds a prefix of the history: keys were written in rounds, in
 * key order, so there is a round R and a key P with every key before P at
 * round R + 1 and every key from P on at round R.
 */
static void check_prefix(struct cask_db *c)
{
	int round0 = -1, prev = -1, steps = 0;

	for (int i = 0; i < NKEYS; i++) {
		char k[16], want[8];
		void *v;
		size_t vlen;
		int key, round;

		snprintf(k, sizeof(k), "k%04d", i);
		assert_int_equal(cask_get_alloc(c, k, strlen(k), &v, &vlen), 0);
		assert_int_equal(vlen, 11);
		assert_int_equal(sscanf(v, "%4d:%6d", &key, &round), 2);
		snprintf(want, sizeof(want), "%04d", i);
		assert_memory_equal(v, want, 4);
		free(v);
		if (round0 < 0)
			round0 = round;
		assert_true(round == round0 || round == round0 - 1);
		if (prev >= 0 && round != prev)
			steps++;
		prev = round;
	}
	assert_true(steps <= 1);
}

static void test_backup_concurrent_copy(void **state)
{
	char dir[TU_PATH], copy[TU_PATH], cmd[3 * TU_PATH], lock[TU_PATH];
	struct cask_options o = tu_opts(16384);
	struct writer w = {0};
	pthread_t t;
	struct cask_db *c;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "live");
	tu_tmpdir(copy, sizeof(copy), "live-copy");
	tu_rm_rf(copy);
	w.db = tu_open(dir, &o);
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	for (int n = 0; n < 5; n++) {
		while (atomic_load(&w.rounds) < 2 + n * 4)
			usleep(1000);
		assert_int_equal(cask_backup_begin(w.db), 0);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, copy);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(cask_backup_end(w.db), 0);
		tu_path(lock, copy, "LOCK");
		unlink(lock);
		o.read_only = true;
		assert_int_equal(cask_open(copy, &o, &c), 0);
		check_prefix(c);
		assert_int_equal(cask_close(c), 0);
		o.read_only = false;
		/* And writable, which finishes what the copy caught midway. */
		assert_int_equal(cask_open(copy, &o, &c), 0);
		check_prefix(c);
		assert_int_equal(cask_close(c), 0);
		tu_rm_rf(copy);
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(cask_close(w.db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_merge_keep_then_removed),
		cmocka_unit_test(test_backup_kept_only_for_a_copy),
		cmocka_unit_test(test_backup_kept_go_when_idle),
		cmocka_unit_test(test_backup_kept_for_copy_reading_now),
		cmocka_unit_test(test_backup_own_reads_no_copy),
		cmocka_unit_test(test_backup_window_bounded),
		cmocka_unit_test(test_backup_merge_waits_for_window),
		cmocka_unit_test(test_backup_begin_waits_for_removals),
		cmocka_unit_test(test_backup_close_as_holder_ends),
		cmocka_unit_test(test_backup_close_completes_hints),
		cmocka_unit_test(test_backup_end_without_begin),
		cmocka_unit_test(test_backup_concurrent_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
