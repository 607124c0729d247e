/*
 * test_concurrent.c - one store shared by many threads (run under TSan in
 * CI): two readers (point reads and iterators), two writers (puts and
 * batches), one deleter and a thread starting merges in a loop, for about
 * three seconds (CONC_MS sets it). Every value read must be one that was
 * written for that key (values encode their key), iterators stay strictly
 * ordered, and a reopen afterwards shows what the last reads showed.
 * Group commit: concurrent CASK_SYNC_ALWAYS writers share fdatasyncs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdatomic.h>
#include <time.h>

#define NKEYS 256

struct shared {
	struct cask_db *db;
	atomic_bool stop;
	atomic_long reads, writes, deletes, merges, iters;
	atomic_int errors;
};

static void key(char *k, int i)
{
	snprintf(k, 16, "key%03d", i);
}

/* "<key>|<writer>|<n>|" then padding up to a length from n. */
static size_t value(char *v, int i, int w, long n)
{
	int len = snprintf(v, 256, "key%03d|%d|%ld|", i, w, n);
	int pad = (int)(n % 150);

	memset(v + len, 'a' + (int)(n % 26), (size_t)pad);
	return (size_t)(len + pad);
}

/* Is @v (@vlen bytes) a value some writer wrote for key @i? */
static bool valid_value(const void *v, size_t vlen, int i)
{
	char want[16], buf[256];
	int w;
	long n;
	size_t len;

	if (vlen >= sizeof(buf))
		return false;
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	snprintf(want, sizeof(want), "key%03d|", i);
	if (strncmp(buf, want, 7) || sscanf(buf + 7, "%d|%ld|", &w, &n) != 2)
		return false;
	{
		char again[256];

		len = value(again, i, w, n); /* what that writer wrote */
		return len == vlen && !memcmp(again, v, vlen);
	}
}

static void note(struct shared *s, bool ok)
{
	if (!ok)
		atomic_fetch_add(&s->errors, 1);
}

static void *reader(void *arg)
{
	struct shared *s = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	char k[16];

	while (!atomic_load(&s->stop)) {
		if (tu_rand(&rng) % 16 == 0) {
			struct cask_iter_options io = {
				.reverse = tu_rand(&rng) & 1};
			struct cask_iter *it;
			int prev = io.reverse ? NKEYS : -1;

			note(s, cask_iter_new(s->db, &io, &it) == 0);
			while (it && cask_iter_valid(it)) {
				size_t klen, vlen;
				const char *kk = cask_iter_key(it, &klen);
				const void *v;
				char kb[16] = "";
				int i, rc;

				memcpy(kb, kk, klen < 15 ? klen : 15);
				i = atoi(kb + 3);

				note(s, io.reverse ? i < prev : i > prev);
				prev = i;
				rc = cask_iter_value(it, &v, &vlen);
				note(s, rc == CASK_ENOTFOUND ||
						(rc == 0 &&
						 valid_value(v, vlen, i)));
				cask_iter_next(it);
			}
			cask_iter_free(it);
			atomic_fetch_add(&s->iters, 1);
			continue;
		}
		int i = (int)(tu_rand(&rng) % NKEYS);
		void *v = NULL;
		size_t vlen;
		int rc;

		key(k, i);
		rc = cask_get_alloc(s->db, k, strlen(k), &v, &vlen);
		note(s, rc == CASK_ENOTFOUND ||
				(rc == 0 && valid_value(v, vlen, i)));
		free(v);
		atomic_fetch_add(&s->reads, 1);
	}
	return NULL;
}

struct writer_arg {
	struct shared *s;
	int id;
};

static void *writer(void *arg)
{
	struct writer_arg *wa = arg;
	struct shared *s = wa->s;
	uint64_t rng = (uint64_t)wa->id * 7919 + 1;
	char k[16], v[256];
	long n = 0;

	while (!atomic_load(&s->stop)) {
		if (tu_rand(&rng) % 8 == 0) {
			struct cask_batch *b;

			note(s, cask_batch_new(s->db, &b) == 0);
			for (int j = 0; j < 5; j++) {
				int i = (int)(tu_rand(&rng) % NKEYS);
				size_t vlen = value(v, i, wa->id, ++n);

				key(k, i);
				note(s, cask_batch_put(b, k, strlen(k), v,
						       vlen) == 0);
			}
			note(s, cask_batch_commit(b, 0) == 0);
			cask_batch_free(b);
		} else {
			int i = (int)(tu_rand(&rng) % NKEYS);
			size_t vlen = value(v, i, wa->id, ++n);

			key(k, i);
			note(s, cask_put(s->db, k, strlen(k), v, vlen) == 0);
		}
		atomic_fetch_add(&s->writes, 1);
	}
	return NULL;
}

static void *deleter(void *arg)
{
	struct shared *s = arg;
	uint64_t rng = 4242;
	char k[16];

	while (!atomic_load(&s->stop)) {
		key(k, (int)(tu_rand(&rng) % NKEYS));
		note(s, cask_delete(s->db, k, strlen(k)) == 0);
		atomic_fetch_add(&s->deletes, 1);
		usleep(200);
	}
	return NULL;
}

static void *merger(void *arg)
{
	struct shared *s = arg;
	int n = 0;

	while (!atomic_load(&s->stop)) {
		struct cask_merge_options mo = {.all = n & 1, .wait = n % 3};
		int rc = cask_merge(s->db, &mo);

		note(s, rc == 0 || rc == CASK_EBUSY);
		atomic_fetch_add(&s->merges, 1);
		n++;
		usleep(20000);
	}
	return NULL;
}

static void test_concurrent_readers_writers_merges(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(16384);
	struct shared s = {0};
	struct writer_arg wa[2] = {{&s, 1}, {&s, 2}};
	pthread_t t[6];
	long ms = (long)tu_env_ull("CONC_MS", 3000);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	static void *last[NKEYS];
	static size_t lastlen[NKEYS];

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "conc");
	s.db = tu_open(dir, &o);
	assert_int_equal(pthread_create(&t[0], NULL, reader, &s), 0);
	assert_int_equal(pthread_create(&t[1], NULL, reader, &s), 0);
	assert_int_equal(pthread_create(&t[2], NULL, writer, &wa[0]), 0);
	assert_int_equal(pthread_create(&t[3], NULL, writer, &wa[1]), 0);
	assert_int_equal(pthread_create(&t[4], NULL, deleter, &s), 0);
	assert_int_equal(pthread_create(&t[5], NULL, merger, &s), 0);
	nanosleep(&ts, NULL);
	atomic_store(&s.stop, true);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	printf("concurrent: %ld reads, %ld iterations, %ld writes, %ld "
	       "deletes, %ld merge calls\n",
	       atomic_load(&s.reads), atomic_load(&s.iters),
	       atomic_load(&s.writes), atomic_load(&s.deletes),
	       atomic_load(&s.merges));
	assert_int_equal(atomic_load(&s.errors), 0);
	assert_true(atomic_load(&s.writes) > 0 && atomic_load(&s.reads) > 0);
	for (int i = 0; i < NKEYS; i++) {
		int rc;

		key(k, i);
		rc = cask_get_alloc(s.db, k, strlen(k), &last[i], &lastlen[i]);
		assert_true(rc == 0 || rc == CASK_ENOTFOUND);
		if (rc == 0)
			assert_true(valid_value(last[i], lastlen[i], i));
	}
	assert_int_equal(cask_close(s.db), 0);
	s.db = tu_open(dir, &o);
	for (int i = 0; i < NKEYS; i++) {
		key(k, i);
		tu_expect(s.db, k, strlen(k), last[i], lastlen[i]);
		free(last[i]);
	}
	assert_int_equal(cask_close(s.db), 0);
	tu_rm_rf(dir);
}

struct gc_arg {
	struct cask_db *db;
	int id, n;
	atomic_int *errors;
};

static void *sync_writer(void *arg)
{
	struct gc_arg *g = arg;
	char k[32];

	for (int i = 0; i < g->n; i++) {
		snprintf(k, sizeof(k), "gc-%d-%d", g->id, i);
		if (cask_put(g->db, k, strlen(k), k, strlen(k)))
			atomic_fetch_add(g->errors, 1);
	}
	return NULL;
}

static void test_concurrent_group_commit(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(0);
	struct gc_arg ga[8];
	pthread_t t[8];
	atomic_int errors = 0;
	struct cask_stats st;
	const int per = 60;

	(void)state;
	o.sync_mode = CASK_SYNC_ALWAYS;
	tu_tmpdir(dir, sizeof(dir), "conc");
	ga[0].db = tu_open(dir, &o);
	for (int i = 0; i < 8; i++) {
		ga[i] = (struct gc_arg){ga[0].db, i, per, &errors};
		assert_int_equal(
			pthread_create(&t[i], NULL, sync_writer, &ga[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&errors), 0);
	cask_stats(ga[0].db, &st);
	printf("group commit: %d synchronous writes, %llu fdatasyncs\n",
	       8 * per, (unsigned long long)st.syncs);
	assert_true(st.syncs >= 1);
	assert_true(st.syncs < (uint64_t)(8 * per));
	assert_int_equal(cask_close(ga[0].db), 0);
	ga[0].db = tu_open(dir, &o);
	for (int id = 0; id < 8; id++)
		for (int i = 0; i < per; i++) {
			char k[32];

			snprintf(k, sizeof(k), "gc-%d-%d", id, i);
			tu_expect_str(ga[0].db, k, k);
		}
	assert_int_equal(cask_close(ga[0].db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_readers_writers_merges),
		cmocka_unit_test(test_concurrent_group_commit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
