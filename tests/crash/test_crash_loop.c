/*
 * test_crash_loop.c - the engine under SIGKILL, hundreds of times. Each
 * cycle forks a child that opens the store (sync=always, interval with
 * explicit cask_sync, or never with cask_sync), runs random puts, deletes,
 * batches and merges over 16 KiB segments, and reports through a pipe each
 * operation before it starts and once it has returned. The parent kills
 * the child after a random 0-20 ms (sometimes while it is still opening),
 * then reopens the store itself and checks:
 *
 *   - the open succeeds without repair, and cask_verify finds no damage
 *     once it is closed;
 *   - the store holds exactly the state after every returned operation,
 *     plus possibly the one operation in flight, whole or not at all (a
 *     killed process loses nothing it wrote: the page cache survives);
 *   - no key or value outside the workload appears.
 *
 * CASK_SEED=N repeats a run; CASK_CRASH_CYCLES (default 200, at least)
 * and CASK_CRASH_SECONDS (default 40, a soft bound once 200 are done).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define NKEYS	 64
#define MAX_OPS	 8
#define SEG_SIZE (16u * 1024)

/* A value is named by a non-zero 64-bit tag: its length and bytes are a
 * function of the tag, so the parent can check any value it reads. */
static size_t tag_len(uint64_t tag)
{
	return 8 + (size_t)(tag % 512) + (tag % 29 == 0 ? 3000 : 0);
}

static void tag_fill(uint64_t tag, uint8_t *buf)
{
	size_t len = tag_len(tag);
	uint64_t x = tag;

	memcpy(buf, &tag, 8);
	for (size_t i = 8; i < len; i++)
		buf[i] = (uint8_t)(tu_rand(&x) >> 56);
}

/* @return the tag of value @v, or 0 if no tag makes exactly these bytes. */
static uint64_t tag_of(const void *v, size_t len)
{
	static uint8_t buf[8 + 512 + 3000];
	uint64_t tag;

	if (len < 8)
		return 0;
	memcpy(&tag, v, 8);
	if (!tag || tag_len(tag) != len)
		return 0;
	tag_fill(tag, buf);
	return memcmp(buf, v, len) ? 0 : tag;
}

enum {
	MSG_START = 1,
	MSG_DONE = 2
};

/* One operation, as the child reports it. tags[i] == 0: delete. */
struct msg {
	uint32_t type;
	uint32_t nk;
	uint64_t id;
	uint8_t key[MAX_OPS];
	uint64_t tag[MAX_OPS];
};

_Static_assert(sizeof(struct msg) <= 512, "one atomic pipe write");

/* ------------------------------------------------------------ child */

static void key_name(char *buf, int k)
{
	snprintf(buf, 8, "key%02d", k);
}

static void send_msg(int fd, const struct msg *m)
{
	if (write(fd, m, sizeof(*m)) != (ssize_t)sizeof(*m))
		_exit(4);
}

static void child_fail(const char *what, int rc)
{
	fprintf(stderr, "crash_loop child: %s: %s\n", what, cask_strerror(rc));
	_exit(3);
}

static void child(const char *dir, int fd, uint64_t seed, int cycle)
{
	static uint8_t val[8 + 512 + 3000];
	struct cask_options o = tu_opts(SEG_SIZE);
	struct cask_db *db;
	struct cask_batch *b;
	uint64_t rng = seed;
	char k[8];
	int rc;

	o.sync_mode = (enum cask_sync_mode)(cycle % 3);
	o.sync_interval_ms = 5;
	o.merge_dead_ratio = 0.5;
	o.merge_min_dead_bytes = 32 * 1024;
	rc = cask_open(dir, &o, &db);
	if (rc)
		child_fail("cask_open", rc);
	rc = cask_batch_new(db, &b);
	if (rc)
		child_fail("cask_batch_new", rc);
	for (uint64_t id = 1;; id++) {
		unsigned r = (unsigned)(tu_rand(&rng) % 100);
		struct msg m = {.type = MSG_START, .id = id, .nk = 1};

		if (r < 3) {
			struct cask_merge_options mo = {
				.all = tu_rand(&rng) % 2,
				.wait = tu_rand(&rng) % 2};

			rc = cask_merge(db, &mo);
			if (rc && rc != CASK_EBUSY)
				child_fail("cask_merge", rc);
			continue;
		}
		if (r < 8) {
			rc = cask_sync(db);
			if (rc)
				child_fail("cask_sync", rc);
			continue;
		}
		if (r >= 70)
			m.nk = 2 + (uint32_t)(tu_rand(&rng) % (MAX_OPS - 1));
		for (uint32_t i = 0; i < m.nk; i++) {
			m.key[i] = (uint8_t)(tu_rand(&rng) % NKEYS);
			m.tag[i] =
				tu_rand(&rng) % 5 == 0 ? 0 : tu_rand(&rng) | 1;
		}
		send_msg(fd, &m);
		if (m.nk == 1) {
			key_name(k, m.key[0]);
			if (m.tag[0]) {
				tag_fill(m.tag[0], val);
				rc = cask_put(db, k, 5, val, tag_len(m.tag[0]));
			} else {
				rc = cask_delete(db, k, 5);
			}
		} else {
			for (uint32_t i = 0; i < m.nk; i++) {
				key_name(k, m.key[i]);
				if (m.tag[i]) {
					tag_fill(m.tag[i], val);
					rc = cask_batch_put(b, k, 5, val,
							    tag_len(m.tag[i]));
				} else {
					rc = cask_batch_delete(b, k, 5);
				}
				if (rc)
					child_fail("batch", rc);
			}
			rc = cask_batch_commit(
				b, tu_rand(&rng) % 2 ? CASK_COMMIT_SYNC : 0);
		}
		if (rc)
			child_fail("write", rc);
		m.type = MSG_DONE;
		send_msg(fd, &m);
	}
}

/* ------------------------------------------------------------ parent */

struct model {
	uint64_t tag[NKEYS]; /* 0: absent */
};

static void model_apply(struct model *st, const struct msg *m)
{
	for (uint32_t i = 0; i < m->nk; i++)
		st->tag[m->key[i]] = m->tag[i];
}

/* Read the store into @got. @return a description of anything foreign,
 * or NULL. */
static const char *read_store(struct cask_db *db, struct model *got)
{
	struct cask_iter *it;
	const char *bad = NULL;

	memset(got, 0, sizeof(*got));
	assert_int_equal(cask_iter_new(db, NULL, &it), 0);
	for (; cask_iter_valid(it); cask_iter_next(it)) {
		size_t klen, vlen;
		const char *key = cask_iter_key(it, &klen);
		const void *val;
		int k;

		assert_int_equal(cask_iter_value(it, &val, &vlen), 0);
		if (klen != 5 || memcmp(key, "key", 3) ||
		    sscanf(key + 3, "%2d", &k) != 1 || k < 0 || k >= NKEYS) {
			bad = "a key outside the workload";
			continue;
		}
		got->tag[k] = tag_of(val, vlen);
		if (!got->tag[k])
			bad = "a value no operation wrote";
	}
	cask_iter_free(it);
	return bad;
}

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

struct loop_stats {
	long cycles, killed_in_open, inflight_landed, inflight_lost;
	long acked_ops, merges_seen;
};

/* One cycle: run, kill, check, and bring @st up to the store's state. */
static void cycle(const char *dir, uint64_t seed, int n, struct model *st,
		  struct loop_stats *ls)
{
	struct model acked = *st, with, got;
	struct msg m, inflight = {0};
	bool have_inflight = false;
	struct cask_options o = tu_opts(SEG_SIZE);
	struct cask_verify_result vr;
	struct cask_db *db;
	int fds[2], status;
	long nacked = 0;
	const char *bad;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(dir, fds[1], seed * 1000003u + (uint64_t)n, n);
		_exit(0);
	}
	close(fds[1]);
	{
		uint64_t r = seed ^ ((uint64_t)n << 32);
		struct timespec ts = {0, (long)(tu_rand(&r) % 20000) * 1000};

		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status)) {
		fprintf(stderr, "cycle %d: the child exited by itself (%d)\n",
			n, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		fail();
	}
	/* Every message the child got out, in order. */
	while (read(fds[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		if (m.type == MSG_START) {
			inflight = m;
			have_inflight = true;
		} else {
			assert_true(have_inflight && m.id == inflight.id);
			model_apply(&acked, &m);
			have_inflight = false;
			nacked++;
		}
	}
	close(fds[0]);
	if (nacked == 0 && !have_inflight)
		ls->killed_in_open++;
	ls->acked_ops += nacked;

	{
		int rc = cask_open(dir, &o, &db);

		if (rc) {
			fprintf(stderr,
				"cycle %d (seed %llu): cask_open after kill: "
				"%s\n",
				n, (unsigned long long)seed, cask_strerror(rc));
			fail();
		}
	}
	bad = read_store(db, &got);
	assert_int_equal(cask_close(db), 0);
	if (bad) {
		fprintf(stderr, "cycle %d (seed %llu): %s\n", n,
			(unsigned long long)seed, bad);
		fail();
	}
	with = acked;
	if (have_inflight)
		model_apply(&with, &inflight);
	if (!memcmp(&got, &acked, sizeof(got))) {
		ls->inflight_lost +=
			have_inflight && memcmp(&with, &acked, sizeof(with));
	} else if (have_inflight && !memcmp(&got, &with, sizeof(got))) {
		ls->inflight_landed++;
	} else {
		for (int k = 0; k < NKEYS; k++)
			if (got.tag[k] != acked.tag[k])
				fprintf(stderr,
					"  key%02d: store %016llx, "
					"acknowledged "
					"%016llx, in flight %016llx\n",
					k, (unsigned long long)got.tag[k],
					(unsigned long long)acked.tag[k],
					(unsigned long long)with.tag[k]);
		fprintf(stderr,
			"cycle %d (seed %llu): the store is neither the "
			"acknowledged state nor it plus the operation in "
			"flight (%s)\n",
			n, (unsigned long long)seed,
			have_inflight ? "one was" : "none was");
		fail();
	}
	if (cask_verify(dir, NULL, &vr) != 0) {
		fprintf(stderr,
			"cycle %d (seed %llu): cask_verify: %llu damaged\n", n,
			(unsigned long long)seed,
			(unsigned long long)vr.damaged);
		fail();
	}
	*st = got;
	ls->cycles++;
}

static void test_crash_loop_sigkill(void **state)
{
	uint64_t seed = tu_env_ull("CASK_SEED", (uint64_t)time(NULL));
	long min_cycles = (long)tu_env_ull("CASK_CRASH_CYCLES", 200);
	double budget = (double)tu_env_ull("CASK_CRASH_SECONDS", 40);
	struct loop_stats ls = {0};
	struct model st = {0};
	char base[TU_PATH], dir[TU_PATH];
	struct cask_stats cs;
	struct cask_db *db;
	double t0 = now_s();
	int n;

	(void)state;
	printf("crash loop: seed %llu (CASK_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	tu_tmpdir(base, sizeof(base), "crashloop");
	tu_path(dir, base, "store");
	for (n = 0; ls.cycles < min_cycles || now_s() - t0 < budget / 4; n++) {
		if (ls.cycles >= min_cycles && now_s() - t0 > budget)
			break;
		cycle(dir, seed, n, &st, &ls);
	}
	{
		struct cask_options o = tu_opts(SEG_SIZE);

		db = tu_open(dir, &o);
		cask_stats(db, &cs);
		assert_int_equal(cask_close(db), 0);
	}
	printf("  %ld cycles survived in %.1f s: %ld operations acknowledged, "
	       "%ld kills during open, in-flight operation landed %ld / "
	       "lost %ld times; final store %llu keys, %llu segments\n",
	       ls.cycles, now_s() - t0, ls.acked_ops, ls.killed_in_open,
	       ls.inflight_landed, ls.inflight_lost,
	       (unsigned long long)cs.keys, (unsigned long long)cs.segments);
	assert_true(ls.cycles >= min_cycles);
	tu_rm_rf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_loop_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
