/*
 * test_model.c - model-based test of the whole store: random sequences of
 * puts, deletes, batches (mixed operations, the same key more than once),
 * discarded batches, point reads, iterations (forward, reverse, prefix,
 * bounds, seek), reopens and merges (all, and by ratio) are replayed
 * against an in-memory map and compared after every step that reads.
 * A small key alphabet makes keys collide; small segments make rotation
 * and merges happen.
 *
 * Every seed is printed when it starts. MODEL_SEED=n replays one seed,
 * MODEL_SEEDS=n runs n seeds (default 24), MODEL_ITERS=n sets the steps
 * per seed (default 400).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <sys/statvfs.h>

#define NKEYS 48
#define MAXV  300

struct slot {
	bool present;
	uint8_t v[MAXV];
	size_t vlen;
};

struct model {
	struct slot s[NKEYS];
	char names[NKEYS][12];
	int order[NKEYS]; /* key indexes in memcmp order */
};

static uint64_t g_seed;
static int g_step;

static int keycmp(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	int d = memcmp(a, b, al < bl ? al : bl);

	return d ? d : (al < bl ? -1 : al > bl);
}

static struct model *g_model_for_sort;

static int by_name(const void *x, const void *y)
{
	return keycmp(g_model_for_sort->names[*(const int *)x],
		      g_model_for_sort->names[*(const int *)y]);
}

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < NKEYS; i++) {
		/* Unpadded numbers: "k1" < "k10" < "k2", prefixes of each
		 * other. */
		snprintf(m->names[i], sizeof(m->names[i]), "k%d", i);
		m->order[i] = i;
	}
	g_model_for_sort = m;
	qsort(m->order, NKEYS, sizeof(int), by_name);
}

static void rand_value(uint64_t *rng, uint8_t *v, size_t *vlen)
{
	size_t n = (size_t)(tu_rand(rng) % (MAXV + 1));

	if (tu_rand(rng) % 8 == 0)
		n = 0;
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)tu_rand(rng);
	*vlen = n;
}

static void fail_here(const char *what)
{
	fail_msg("model: %s at step %d; replay with MODEL_SEED=%llu", what,
		 g_step, (unsigned long long)g_seed);
}

static const char *g_dir; /* the store of the seed that runs */

/* A call the model expects to succeed: on an error, say which call, what
 * error and where; on a full disk also the room left where the store is
 * (ENOSPC from cask_put was seen once with 57 GB free, and not again). */
static void must(int rc, const char *call)
{
	struct statvfs sv;

	if (!rc)
		return;
	if ((rc == -ENOSPC || rc == -EDQUOT) && statvfs(g_dir, &sv) == 0)
		fail_msg("model: %s: %s at step %d with %llu bytes and %llu "
			 "inodes free in %s; replay with MODEL_SEED=%llu",
			 call, cask_strerror(rc), g_step,
			 (unsigned long long)sv.f_bavail * sv.f_frsize,
			 (unsigned long long)sv.f_favail, g_dir,
			 (unsigned long long)g_seed);
	fail_msg("model: %s: %s at step %d; replay with MODEL_SEED=%llu", call,
		 cask_strerror(rc), g_step, (unsigned long long)g_seed);
}

static void check_key(struct cask_db *db, const struct model *m, int i)
{
	const char *k = m->names[i];
	void *v = NULL;
	size_t vlen = 0;
	int rc = cask_get_alloc(db, k, strlen(k), &v, &vlen);

	if (!m->s[i].present) {
		if (rc != CASK_ENOTFOUND)
			fail_here("absent key found");
		return;
	}
	if (rc != 0)
		fail_here("present key not readable");
	if (vlen != m->s[i].vlen || memcmp(v, m->s[i].v, vlen))
		fail_here("wrong value");
	free(v);
}

static void check_all(struct cask_db *db, const struct model *m)
{
	struct cask_stats st;
	uint64_t n = 0;

	for (int i = 0; i < NKEYS; i++) {
		check_key(db, m, i);
		n += m->s[i].present;
	}
	cask_stats(db, &st);
	if (st.keys != n)
		fail_here("stats.keys differs from the model");
}

/* Compare an iteration over [lo, hi) / prefix with the model. */
static void check_iter(struct cask_db *db, const struct model *m, uint64_t *rng)
{
	struct cask_iter_options io = {.reverse = tu_rand(rng) & 1};
	const char *lo = NULL, *hi = NULL, *pfx = NULL, *seek = NULL;
	int want[NKEYS], nwant = 0, pos = 0;
	struct cask_iter *it;
	int kind = (int)(tu_rand(rng) % 4);

	if (kind == 1) {
		pfx = m->names[tu_rand(rng) % NKEYS];
		io.prefix = pfx;
		io.prefix_len = strlen(pfx);
	} else if (kind == 2) {
		lo = m->names[tu_rand(rng) % NKEYS];
		hi = m->names[tu_rand(rng) % NKEYS];
		io.start = lo;
		io.start_len = strlen(lo);
		io.end = hi;
		io.end_len = strlen(hi);
	} else if (kind == 3) {
		seek = m->names[tu_rand(rng) % NKEYS];
	}
	for (int j = 0; j < NKEYS; j++) {
		int i = m->order[io.reverse ? NKEYS - 1 - j : j];
		const char *k = m->names[i];

		if (!m->s[i].present)
			continue;
		if (pfx && strncmp(k, pfx, strlen(pfx)))
			continue;
		if (lo && keycmp(k, lo) < 0)
			continue;
		if (hi && keycmp(k, hi) >= 0)
			continue;
		if (seek &&
		    (io.reverse ? keycmp(k, seek) > 0 : keycmp(k, seek) < 0))
			continue;
		want[nwant++] = i;
	}
	assert_int_equal(cask_iter_new(db, &io, &it), 0);
	if (seek) {
		int rc = cask_iter_seek(it, seek, strlen(seek));

		if (rc != (nwant ? 0 : CASK_ENOTFOUND))
			fail_here("seek result");
	}
	while (cask_iter_valid(it)) {
		size_t klen, vlen;
		const void *k = cask_iter_key(it, &klen), *v;
		int i;

		if (pos >= nwant)
			fail_here("iterator visits a key too many");
		i = want[pos++];
		if (klen != strlen(m->names[i]) || memcmp(k, m->names[i], klen))
			fail_here("iterator visits the wrong key");
		if (cask_iter_value(it, &v, &vlen) || vlen != m->s[i].vlen ||
		    memcmp(v, m->s[i].v, vlen))
			fail_here("iterator value");
		cask_iter_next(it);
	}
	if (pos != nwant)
		fail_here("iterator missed keys");
	cask_iter_free(it);
}

static void do_batch(struct cask_db *db, struct model *m, uint64_t *rng,
		     bool discard)
{
	struct cask_batch *b;
	struct model next = *m;
	int n = 1 + (int)(tu_rand(rng) % 10);

	assert_int_equal(cask_batch_new(db, &b), 0);
	for (int j = 0; j < n; j++) {
		/* A narrow key range: the same key often comes twice. */
		int i = (int)(tu_rand(rng) % (NKEYS / 4));
		const char *k = next.names[i];

		if (tu_rand(rng) % 3 == 0) {
			assert_int_equal(cask_batch_delete(b, k, strlen(k)), 0);
			next.s[i].present = false;
		} else {
			rand_value(rng, next.s[i].v, &next.s[i].vlen);
			assert_int_equal(cask_batch_put(b, k, strlen(k),
							next.s[i].v,
							next.s[i].vlen),
					 0);
			next.s[i].present = true;
		}
		if (tu_rand(rng) % 4 == 0) { /* read your writes */
			void *v = NULL;
			size_t vlen;
			int rc = cask_batch_get(b, k, strlen(k), &v, &vlen);

			if (next.s[i].present
				    ? rc || vlen != next.s[i].vlen ||
					      memcmp(v, next.s[i].v, vlen)
				    : rc != CASK_ENOTFOUND)
				fail_here("cask_batch_get");
			free(v);
		}
	}
	if (discard) {
		cask_batch_free(b);
		return;
	}
	must(cask_batch_commit(b, 0), "cask_batch_commit");
	cask_batch_free(b);
	*m = next;
}

static void run_seed(uint64_t seed, int iters)
{
	static const uint64_t sizes[] = {4096, 8192, 16384, 65536};
	char dir[TU_PATH];
	struct model *m = malloc(sizeof(*m));
	uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
	struct cask_options o = tu_opts(sizes[seed % 4]);
	struct cask_merge_options all = tu_merge_all();
	struct cask_merge_options ratio = {.wait = true};
	struct cask_db *db;

	g_seed = seed;
	printf("model: seed %llu, segment_size %llu, %d steps\n",
	       (unsigned long long)seed, (unsigned long long)o.segment_size,
	       iters);
	fflush(stdout);
	assert_non_null(m);
	model_init(m);
	o.merge_dead_ratio = 0.4;
	o.merge_min_dead_bytes = 1ull << 40; /* merges only when asked */
	tu_tmpdir(dir, sizeof(dir), "model");
	g_dir = dir;
	db = tu_open(dir, &o);
	for (g_step = 0; g_step < iters; g_step++) {
		int op = (int)(tu_rand(&rng) % 100);
		int i = (int)(tu_rand(&rng) % NKEYS);
		const char *k = m->names[i];

		if (op < 40) {
			struct slot *s = &m->s[i];

			rand_value(&rng, s->v, &s->vlen);
			must(cask_put(db, k, strlen(k), s->v, s->vlen),
			     "cask_put");
			s->present = true;
		} else if (op < 55) {
			must(cask_delete(db, k, strlen(k)), "cask_delete");
			m->s[i].present = false;
		} else if (op < 65) {
			do_batch(db, m, &rng, false);
		} else if (op < 67) {
			do_batch(db, m, &rng, true);
		} else if (op < 82) {
			check_key(db, m, i);
		} else if (op < 90) {
			check_iter(db, m, &rng);
		} else if (op < 94) {
			assert_int_equal(cask_close(db), 0);
			db = tu_open(dir, &o);
			check_all(db, m);
		} else if (op < 97) {
			must(cask_merge(db, &all), "cask_merge");
			check_all(db, m);
		} else {
			must(cask_merge(db, &ratio), "cask_merge");
			check_all(db, m);
		}
	}
	check_all(db, m);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	check_all(db, m);
	assert_int_equal(cask_merge(db, &all), 0);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	check_all(db, m);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
	free(m);
}

static void test_model_random_sequences(void **state)
{
	unsigned long long one = tu_env_ull("MODEL_SEED", 0);
	int iters = (int)tu_env_ull("MODEL_ITERS", 400);
	int seeds = (int)tu_env_ull("MODEL_SEEDS", 24);

	(void)state;
	if (one) {
		run_seed(one, iters);
		return;
	}
	for (int s = 1; s <= seeds; s++)
		run_seed((uint64_t)s, iters);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
