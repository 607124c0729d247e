/*
 * test_merge_concurrent.c - merges racing with writers, readers and
 * deletes (run under TSan in CI). Each key has one writer, which writes
 * increasing versions and publishes each acknowledged one; readers check
 * that a read never returns a version older than the one acknowledged
 * before the read started (a merge must never swap an old value back), nor
 * one not yet written; keys deleted (and acknowledged) never reappear.
 * Merges run back to back (explicit, all and by ratio, and automatic). At
 * the end a reopen shows exactly the last acknowledged state.
 * CONC_MS sets the duration (default 3000).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdatomic.h>
#include <time.h>

#define NKEYS 128 /* versioned keys, two writers */
#define NDEL  256 /* keys deleted one by one */

struct shared {
	struct cask_db *db;
	atomic_bool stop;
	atomic_long acked[NKEYS];   /* last acknowledged version */
	atomic_long started[NKEYS]; /* highest version being written */
	atomic_bool deleted[NDEL];
	atomic_int errors;
	atomic_long reads, writes, merges;
};

static void vkey(char *k, int i)
{
	snprintf(k, 16, "v%03d", i);
}

static void dkey(char *k, int i)
{
	snprintf(k, 16, "d%03d", i);
}

static void note(struct shared *s, bool ok, const char *what)
{
	if (!ok && atomic_fetch_add(&s->errors, 1) < 5)
		fprintf(stderr, "merge_concurrent: %s\n", what);
}

struct warg {
	struct shared *s;
	int id;
};

static void *writer(void *arg)
{
	struct warg *w = arg;
	struct shared *s = w->s;
	uint64_t rng = (uint64_t)w->id + 11;
	char k[16], v[128];

	while (!atomic_load(&s->stop)) {
		int i = (int)(tu_rand(&rng) % (NKEYS / 2)) * 2 + w->id;
		long ver = atomic_load(&s->acked[i]) + 1;
		int len =
			snprintf(v, sizeof(v), "%ld|%.*s", ver, (int)(ver % 60),
				 "padding-padding-padding-padding-padding-"
				 "padding-padding-padding");

		vkey(k, i);
		atomic_store(&s->started[i], ver);
		note(s, cask_put(s->db, k, strlen(k), v, (size_t)len) == 0,
		     "put failed");
		atomic_store(&s->acked[i], ver);
		atomic_fetch_add(&s->writes, 1);
	}
	return NULL;
}

static void *deleter(void *arg)
{
	struct shared *s = arg;
	char k[16];

	for (int i = 0; i < NDEL && !atomic_load(&s->stop); i++) {
		dkey(k, i);
		note(s, cask_delete(s->db, k, strlen(k)) == 0, "delete failed");
		atomic_store(&s->deleted[i], true);
		usleep(5000);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct shared *s = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	char k[16];

	while (!atomic_load(&s->stop)) {
		void *v = NULL;
		size_t vlen;
		int rc;

		if (tu_rand(&rng) & 1) {
			int i = (int)(tu_rand(&rng) % NKEYS);
			long lo = atomic_load(&s->acked[i]), ver;

			vkey(k, i);
			rc = cask_get_alloc(s->db, k, strlen(k), &v, &vlen);
			if (rc == CASK_ENOTFOUND) {
				note(s, lo == 0, "acknowledged key missing");
			} else {
				note(s, rc == 0, "get failed");
				ver = rc == 0 ? tu_atol(v, vlen) : 0;
				note(s, ver >= lo,
				     "older version than acknowledged");
				note(s, ver <= atomic_load(&s->started[i]),
				     "version never written");
			}
		} else {
			int i = (int)(tu_rand(&rng) % NDEL);
			bool gone = atomic_load(&s->deleted[i]);

			dkey(k, i);
			rc = cask_get_alloc(s->db, k, strlen(k), &v, &vlen);
			note(s,
			     gone ? rc == CASK_ENOTFOUND
				  : rc == 0 || rc == CASK_ENOTFOUND,
			     "deleted key came back");
		}
		free(v);
		atomic_fetch_add(&s->reads, 1);
	}
	return NULL;
}

static void *merger(void *arg)
{
	struct shared *s = arg;
	int n = 0;

	while (!atomic_load(&s->stop)) {
		struct cask_merge_options mo = {.all = n % 2, .wait = true};
		int rc = cask_merge(s->db, &mo);

		note(s, rc == 0 || rc == CASK_EBUSY, "merge failed");
		atomic_fetch_add(&s->merges, 1);
		n++;
		usleep(500);
	}
	return NULL;
}

static void test_merge_concurrent_versions_never_go_back(void **state)
{
	char dir[TU_PATH], k[16];
	struct cask_options o = tu_opts(8192);
	static struct shared s;
	struct warg wa[2] = {{&s, 0}, {&s, 1}};
	pthread_t t[6];
	long ms = (long)tu_env_ull("CONC_MS", 3000);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	struct cask_stats st;

	(void)state;
	memset(&s, 0, sizeof(s));
	o.merge_dead_ratio = 0.3; /* automatic merges as well */
	o.merge_min_dead_bytes = 32 * 1024;
	tu_tmpdir(dir, sizeof(dir), "mconc");
	s.db = tu_open(dir, &o);
	for (int i = 0; i < NDEL; i++) {
		dkey(k, i);
		tu_put_str(s.db, k, "to-be-deleted");
	}
	assert_int_equal(pthread_create(&t[0], NULL, writer, &wa[0]), 0);
	assert_int_equal(pthread_create(&t[1], NULL, writer, &wa[1]), 0);
	assert_int_equal(pthread_create(&t[2], NULL, reader, &s), 0);
	assert_int_equal(pthread_create(&t[3], NULL, reader, &s), 0);
	assert_int_equal(pthread_create(&t[4], NULL, deleter, &s), 0);
	assert_int_equal(pthread_create(&t[5], NULL, merger, &s), 0);
	nanosleep(&ts, NULL);
	atomic_store(&s.stop, true);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	cask_stats(s.db, &st);
	printf("merge_concurrent: %ld writes, %ld reads, %ld merge calls, "
	       "%llu merges done\n",
	       atomic_load(&s.writes), atomic_load(&s.reads),
	       atomic_load(&s.merges), (unsigned long long)st.merges);
	assert_int_equal(atomic_load(&s.errors), 0);
	assert_true(st.merges > 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < NKEYS; i++) {
			void *v = NULL;
			size_t vlen;
			long want = atomic_load(&s.acked[i]);
			int rc;

			vkey(k, i);
			rc = cask_get_alloc(s.db, k, strlen(k), &v, &vlen);
			if (!want) {
				assert_int_equal(rc, CASK_ENOTFOUND);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(tu_atol(v, vlen), want);
			free(v);
		}
		for (int i = 0; i < NDEL; i++) {
			dkey(k, i);
			tu_expect_str(s.db, k,
				      atomic_load(&s.deleted[i])
					      ? NULL
					      : "to-be-deleted");
		}
		assert_int_equal(cask_close(s.db), 0);
		s.db = tu_open(dir, &o);
	}
	assert_int_equal(cask_close(s.db), 0);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_concurrent_versions_never_go_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
