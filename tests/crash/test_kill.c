/*
 * test_kill.c - durability under SIGKILL: a child process writes with
 * CASK_SYNC_ALWAYS (puts, deletes, and batches committed with
 * CASK_COMMIT_SYNC) into small segments and reports each acknowledged
 * operation through a pipe; the parent kills it at a random moment and
 * reopens the store. Every acknowledged put is there with its value, every
 * acknowledged delete holds, and every batch is there entirely or not at
 * all (its keys share a marker value). Twenty rounds on the same store, so
 * each recovery also starts from the previous one. KILL_SEED=n replays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define ROUNDS	   20
#define BATCH_KEYS 4
#define MAXOPS	   100000

/* An acknowledged operation: P (put), D (delete) or B (batch) number i of
 * round r. */
struct ack {
	char kind;
	int round, i;
};

static void put_key(char *k, int r, int i)
{
	snprintf(k, 32, "p-%02d-%06d", r, i);
}

static void put_val(char *v, int r, int i)
{
	snprintf(v, 64, "value-%02d-%06d-%.*s", r, i, i % 40,
		 "0123456789012345678901234567890123456789");
}

static void batch_key(char *k, int r, int i, int j)
{
	snprintf(k, 32, "b-%02d-%06d-%d", r, i, j);
}

static void child(const char *dir, int round, int fd)
{
	struct cask_options o = tu_opts(8192);
	struct cask_db *db;
	char k[32], v[64], line[32];

	o.sync_mode = CASK_SYNC_ALWAYS;
	if (cask_open(dir, &o, &db))
		_exit(2);
	for (int i = 0;; i++) {
		int n;

		if (i % 5 == 4) {
			struct cask_batch *b;

			if (cask_batch_new(db, &b))
				_exit(3);
			snprintf(v, sizeof(v), "batch-%02d-%06d", round, i);
			for (int j = 0; j < BATCH_KEYS; j++) {
				batch_key(k, round, i, j);
				if (cask_batch_put(b, k, strlen(k), v,
						   strlen(v)))
					_exit(3);
			}
			/* And one earlier put of this round goes. */
			if (i > 5) {
				put_key(k, round, i - 5);
				if (cask_batch_delete(b, k, strlen(k)))
					_exit(3);
			}
			if (cask_batch_commit(b, CASK_COMMIT_SYNC))
				_exit(4);
			cask_batch_free(b);
			n = snprintf(line, sizeof(line), "B %d\n", i);
		} else if (i % 7 == 6) {
			put_key(k, round, i - 3);
			if (cask_delete(db, k, strlen(k)))
				_exit(5);
			n = snprintf(line, sizeof(line), "D %d\n", i);
		} else {
			put_key(k, round, i);
			put_val(v, round, i);
			if (cask_put(db, k, strlen(k), v, strlen(v)))
				_exit(6);
			n = snprintf(line, sizeof(line), "P %d\n", i);
		}
		if (write(fd, line, (size_t)n) != n)
			_exit(7);
	}
}

/* Read every whole line the child wrote; append its acks. */
static void read_acks(int fd, int round, struct ack *acks, int *nacks)
{
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	char *p, *nl;

	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		char kind;
		int i;

		if (sscanf(p, "%c %d", &kind, &i) == 2 && *nacks < MAXOPS)
			acks[(*nacks)++] = (struct ack){kind, round, i};
	}
}

static void check(const char *dir, const struct ack *acks, int nacks,
		  int rounds)
{
	struct cask_options o = tu_opts(8192);
	struct cask_db *db = tu_open(dir, &o);
	static bool deleted[ROUNDS][MAXOPS / 2];
	char k[32], v[64];

	static int last[ROUNDS];

	memset(deleted, 0, sizeof(deleted));
	for (int r = 0; r < rounds; r++)
		last[r] = -1;
	for (int a = 0; a < nacks; a++) {
		if (acks[a].kind == 'D')
			deleted[acks[a].round][acks[a].i - 3] = true;
		if (acks[a].kind == 'B' && acks[a].i > 5)
			deleted[acks[a].round][acks[a].i - 5] = true;
		last[acks[a].round] = acks[a].i;
	}
	/* The operation the kill interrupted may or may not have landed: a
	 * delete then in flight may already hold. */
	for (int r = 0; r < rounds; r++) {
		int next = last[r] + 1;

		if (next % 5 != 4 && next % 7 == 6)
			deleted[r][next - 3] = true;
		else if (next % 5 == 4 && next > 5)
			deleted[r][next - 5] = true;
	}
	for (int a = 0; a < nacks; a++) {
		const struct ack *x = &acks[a];

		if (x->kind == 'P') {
			put_key(k, x->round, x->i);
			put_val(v, x->round, x->i);
			if (!deleted[x->round][x->i])
				tu_expect_str(db, k, v);
			else if (cask_exists(db, k, strlen(k)))
				tu_expect_str(db, k, v); /* in flight */
		} else if (x->kind == 'D') {
			put_key(k, x->round, x->i - 3);
			tu_expect_str(db, k, NULL);
		} else {
			snprintf(v, sizeof(v), "batch-%02d-%06d", x->round,
				 x->i);
			for (int j = 0; j < BATCH_KEYS; j++) {
				batch_key(k, x->round, x->i, j);
				tu_expect_str(db, k, v);
			}
		}
	}
	/* Batches all or nothing, acknowledged or not: walk every key. */
	for (int r = 0; r < rounds; r++) {
		struct cask_iter_options io;
		struct cask_iter *it;
		char pfx[16];
		int cur = -1, count = 0;

		snprintf(pfx, sizeof(pfx), "b-%02d-", r);
		io = (struct cask_iter_options){.prefix = pfx,
						.prefix_len = strlen(pfx)};
		assert_int_equal(cask_iter_new(db, &io, &it), 0);
		while (cask_iter_valid(it)) {
			size_t klen, vlen;
			const char *key = cask_iter_key(it, &klen);
			const void *val;
			int i = (int)tu_atol(key + 5, klen - 5);

			assert_int_equal(cask_iter_value(it, &val, &vlen), 0);
			snprintf(v, sizeof(v), "batch-%02d-%06d", r, i);
			assert_int_equal(vlen, strlen(v));
			assert_memory_equal(val, v, vlen);
			if (i != cur) {
				if (cur >= 0)
					assert_int_equal(count, BATCH_KEYS);
				cur = i;
				count = 0;
			}
			count++;
			cask_iter_next(it);
		}
		if (cur >= 0)
			assert_int_equal(count, BATCH_KEYS);
		cask_iter_free(it);
	}
	assert_int_equal(cask_close(db), 0);
}

static void test_kill_acknowledged_writes_survive(void **state)
{
	char dir[TU_PATH];
	static struct ack acks[MAXOPS];
	int nacks = 0;
	uint64_t seed = tu_env_ull("KILL_SEED", (uint64_t)time(NULL));
	uint64_t rng = seed;

	(void)state;
	printf("kill: seed %llu (KILL_SEED=%llu replays the delays)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	tu_tmpdir(dir, sizeof(dir), "kill");
	for (int r = 0; r < ROUNDS; r++) {
		int fds[2], status;
		long delay_us = 2000 + (long)(tu_rand(&rng) % 60000);
		pid_t pid;
		int before = nacks;

		assert_int_equal(pipe(fds), 0);
		fflush(stdout);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child(dir, r, fds[1]);
		}
		close(fds[1]);
		usleep((useconds_t)delay_us);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("child exited with %d before the kill",
				 WEXITSTATUS(status));
		read_acks(fds[0], r, acks, &nacks);
		close(fds[0]);
		check(dir, acks, nacks, r + 1);
		(void)before;
	}
	printf("kill: %d acknowledged operations over %d rounds\n", nacks,
	       ROUNDS);
	assert_true(nacks > ROUNDS);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_acknowledged_writes_survive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
