/*
 * test_lock.c - one writing process per store (kv/src/lock.c): a second
 * open for writing fails with CASK_ELOCKED in another process and in the
 * same process; the lock goes with cask_close() and with the death of the
 * process holding it; read-only opens take no lock; lock_wait_ms waits
 * for a holder that closes in a moment, and no longer than it says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* In a child: try to open @dir (read_only as given); exit 0 if the result
 * is @want, 1 otherwise. */
static int child_open(const char *dir, bool read_only, int want)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cask_options o = tu_opts(0);
		struct cask_db *db = NULL;
		int rc;

		o.read_only = read_only;
		rc = cask_open(dir, &o, &db);
		if (rc != want || (rc == 0) != (db != NULL))
			_exit(1);
		if (db)
			cask_close(db);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_lock_second_open_same_process(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *a, *b = (void *)1;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	a = tu_open(dir, &o);
	/* flock belongs to the open file description: a second open in the
	 * same process is refused as well. */
	assert_int_equal(cask_open(dir, &o, &b), CASK_ELOCKED);
	assert_null(b);
	/* The refused open disturbed nothing. */
	tu_put_str(a, "k", "v");
	tu_expect_str(a, "k", "v");
	assert_int_equal(cask_close(a), 0);
	b = tu_open(dir, &o);
	tu_expect_str(b, "k", "v");
	assert_int_equal(cask_close(b), 0);
	tu_rm_rf(dir);
}

static void test_lock_other_process_refused(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	db = tu_open(dir, &o);
	assert_int_equal(child_open(dir, false, CASK_ELOCKED), 0);
	/* Read-only takes no lock. */
	assert_int_equal(child_open(dir, true, 0), 0);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_lock_released_on_close(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	assert_int_equal(cask_close(tu_open(dir, &o)), 0);
	assert_int_equal(child_open(dir, false, 0), 0);
	assert_int_equal(cask_close(tu_open(dir, &o)), 0);
	tu_rm_rf(dir);
}

/*
 * Fork a process that opens @p dir, writes k=v, syncs, and then holds the
 * store: closes it after @p hold_ms, or never (-1) until it is killed.
 * Returns once the store is open in it.
 */
static pid_t holder_start(const char *dir, int hold_ms)
{
	struct cask_options o = tu_opts(0);
	int fds[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cask_db *h = NULL;

		close(fds[0]);
		if (cask_open(dir, &o, &h) || cask_put(h, "k", 1, "v", 1) ||
		    cask_sync(h))
			_exit(1);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		if (hold_ms < 0)
			for (;;)
				pause();
		usleep((useconds_t)hold_ms * 1000);
		_exit(cask_close(h) ? 1 : 0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void test_lock_released_on_death(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct cask_db *db = (void *)1;
	int status;
	pid_t pid;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	pid = holder_start(dir, -1);
	assert_int_equal(cask_open(dir, &o, &db), CASK_ELOCKED);
	assert_null(db);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	db = tu_open(dir, &o);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many times @p needle occurs in @p hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* lock_wait_ms: an open waits for a holder that closes in a moment, and
 * says so once, in a line that begins with the directory (as every log
 * line does: a caller's prefix does not repeat a word of it). */
static void test_lock_wait_for_close(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct tu_logbuf log = {0};
	struct cask_db *db = NULL;
	char want[TU_PATH + 64];
	int status;
	double t0;
	pid_t pid;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	pid = holder_start(dir, 300);
	o.lock_wait_ms = 10000;
	o.log = tu_log_keep;
	o.log_arg = &log;
	t0 = now_s();
	assert_int_equal(cask_open(dir, &o, &db), 0);
	assert_true(now_s() - t0 >= 0.2);
	assert_true(now_s() - t0 < 5);
	assert_int_equal(count(log.text, "waiting up to 10 s"), 1);
	assert_int_equal(count(log.text, "in use"), 1);
	snprintf(want, sizeof(want), "%s: in use by process ", dir);
	assert_int_equal(count(log.text, want), 1);
	tu_expect_str(db, "k", "v");
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tu_rm_rf(dir);
}

/* ... and gives up after lock_wait_ms, saying so. */
static void test_lock_wait_bounded(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct tu_logbuf log = {0};
	struct cask_db *db = (void *)1;
	char want[TU_PATH + 64];
	int status;
	double t0, took;
	pid_t pid;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "lock");
	pid = holder_start(dir, -1);
	o.lock_wait_ms = 250;
	o.log = tu_log_keep;
	o.log_arg = &log;
	t0 = now_s();
	assert_int_equal(cask_open(dir, &o, &db), CASK_ELOCKED);
	took = now_s() - t0;
	assert_null(db);
	assert_true(took >= 0.25 && took < 5);
	assert_int_equal(count(log.text, "waiting up to 250 ms"), 1);
	assert_int_equal(count(log.text, "still in use"), 1);
	snprintf(want, sizeof(want), "%s: still in use by process ", dir);
	assert_int_equal(count(log.text, want), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_second_open_same_process),
		cmocka_unit_test(test_lock_other_process_refused),
		cmocka_unit_test(test_lock_released_on_close),
		cmocka_unit_test(test_lock_released_on_death),
		cmocka_unit_test(test_lock_wait_for_close),
		cmocka_unit_test(test_lock_wait_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
