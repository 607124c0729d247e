/*
 * test_read_concurrent.c - range reads of large records from many threads
 * at once (run under TSan in CI), while a writer rewrites the records
 * (rotating small segments) and merges move them: the verdicts that
 * readers set and read concurrently (kv/src/segment.c) never let a wrong
 * byte through, and every read returns the bytes the value holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdatomic.h>
#include <time.h>

#define NKEYS	 16
#define VLEN	 (40 * 1024)
#define READERS	 3
#define RUN_MSEC 1500

struct shared {
	struct cask_db *db;
	atomic_bool stop;
	atomic_long reads;
	atomic_int errors;
};

/* Every value of key i holds the same bytes: byte j is pattern(i, j). */
static uint8_t pattern(int i, uint64_t j)
{
	return (uint8_t)(j * 7 + (j >> 10) + (uint64_t)i * 31);
}

static void key(char *k, int i)
{
	snprintf(k, 16, "big%02d", i);
}

static int put_value(struct cask_db *db, int i)
{
	static _Thread_local uint8_t v[VLEN];
	char k[16];

	for (size_t j = 0; j < VLEN; j++)
		v[j] = pattern(i, j);
	key(k, i);
	return cask_put(db, k, strlen(k), v, VLEN);
}

static void *reader(void *arg)
{
	struct shared *s = arg;
	uint64_t seed = (uint64_t)(uintptr_t)&seed;
	uint8_t buf[700];
	char k[16];

	while (!atomic_load(&s->stop)) {
		int i = (int)(tu_rand(&seed) % NKEYS);
		uint64_t off = tu_rand(&seed) % VLEN;
		size_t n = 0;
		int rc;

		key(k, i);
		rc = cask_get_range(s->db, k, strlen(k), off, buf, sizeof(buf),
				    &n);
		if (rc ||
		    n != (VLEN - off < sizeof(buf) ? VLEN - off : sizeof(buf)))
			atomic_fetch_add(&s->errors, 1);
		for (size_t j = 0; j < n; j++)
			if (buf[j] != pattern(i, off + j)) {
				atomic_fetch_add(&s->errors, 1);
				break;
			}
		atomic_fetch_add(&s->reads, 1);
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct shared *s = arg;
	struct cask_merge_options mo = tu_merge_all();
	int n = 0;

	while (!atomic_load(&s->stop)) {
		if (put_value(s->db, n % NKEYS))
			atomic_fetch_add(&s->errors, 1);
		if (++n % 40 == 0) {
			int rc = cask_merge(s->db, &mo);

			if (rc && rc != CASK_EBUSY)
				atomic_fetch_add(&s->errors, 1);
		}
	}
	return NULL;
}

static void test_read_concurrent_range_verdicts(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(256 * 1024);
	struct shared s = {0};
	pthread_t r[READERS], w;
	struct timespec ts = {RUN_MSEC / 1000, (RUN_MSEC % 1000) * 1000000L};

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "readconc");
	s.db = tu_open(dir, &o);
	for (int i = 0; i < NKEYS; i++)
		assert_int_equal(put_value(s.db, i), 0);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, &s), 0);
	assert_int_equal(pthread_create(&w, NULL, writer, &s), 0);
	nanosleep(&ts, NULL);
	atomic_store(&s.stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	pthread_join(w, NULL);
	printf("%ld range reads\n", atomic_load(&s.reads));
	assert_int_equal(atomic_load(&s.errors), 0);
	assert_true(atomic_load(&s.reads) > 0);
	assert_int_equal(cask_close(s.db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_concurrent_range_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
