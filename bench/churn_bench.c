/*
 * churn_bench.c - space amplification under a steady churn with automatic
 * merge on (issue 13), and what those merges cost the writer.
 *
 *   churn_bench [--live MIB] [--value-size B] [--rate OPS] [--seconds S]
 *               [--full-speed] [--no-merge] [--merge-keep-ms MS] [DIR]
 *
 * Loads --live MiB of values (default 256, 4 KiB each) with the default
 * options of cask_options_init() (sync every second, 64 MiB segments,
 * automatic merge as documented), then for --seconds (default 180) picks a
 * key at random --rate times a second (default 2000) and deletes it (one
 * time in five) or puts a new value under it. Every second it samples the
 * bytes the data directory takes on disk (st_blocks of every file, the
 * 4 MiB RESERVE left out) against the live bytes of cask_stats(), and
 * prints them every ten seconds; at the end the space amplification
 * (disk / live): its peak, and its median over the second half of the run
 * (steady state).
 *
 * --full-speed drops the rate limit and reports the writer's operations a
 * second: overall, and in the 100 ms intervals during which an automatic
 * merge ran and those when none did. Run it again with --no-merge
 * (merge_dead_ratio 0) for the same figures without automatic merges.
 * --merge-keep-ms sets merge_keep_ms (default 0, libcask's).
 */
#include "cask.h"
#include "fsbench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KLEN 16

struct sample {
	double t;
	uint64_t disk, live, ops;
	bool merging;
};

struct run {
	struct cask_db *db;
	const char *dir;
	_Atomic uint64_t ops;
	_Atomic bool done;
	double period; /* sampling period, s */
	struct sample *v;
	size_t n, cap;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "churn_bench: %s: %s\n", what, cask_strerror(rc));
	exit(1);
}

/* Bytes the files of @p dir take on disk, RESERVE left out. */
static uint64_t disk_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t n = 0;
	struct stat st;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, "RESERVE") &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    S_ISREG(st.st_mode))
			n += (uint64_t)st.st_blocks * 512;
	if (d)
		closedir(d);
	return n;
}

static void *sampler(void *arg)
{
	struct run *r = arg;
	double t0 = now();

	while (!atomic_load(&r->done)) {
		struct cask_stats st;
		struct sample *s;

		usleep((useconds_t)(r->period * 1e6));
		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 1024;
			r->v = realloc(r->v, r->cap * sizeof(*r->v));
			if (!r->v)
				die("sampler", -ENOMEM);
		}
		cask_stats(r->db, &st);
		s = &r->v[r->n++];
		*s = (struct sample){
			.t = now() - t0,
			.live = st.live_bytes,
			.ops = atomic_load(&r->ops),
			/* not a hint pass: it has bytes to merge */
			.merging = st.merge_running && st.merge_total > 0};
		/* Only the slow samples walk the directory. */
		if (r->period >= 1)
			s->disk = disk_bytes(r->dir);
	}
	return NULL;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void key_of(char *k, uint64_t i)
{
	snprintf(k, KLEN + 1, "%016llx", (unsigned long long)i);
}

/* Ops at @p rate a second (0: as fast as they go) for @p seconds. */
static void churn(struct run *r, uint64_t nkeys, const char *val, size_t vlen,
		  double rate, double seconds)
{
	uint64_t seed = 88172645463325252ull;
	double t0 = now();
	char k[KLEN + 1];

	for (uint64_t i = 0;; i++) {
		uint64_t x = rnd(&seed);
		int rc;

		if (i % 64 == 0) {
			double t = now() - t0;

			if (t >= seconds)
				break;
			if (rate > 0 && i / rate > t)
				usleep((useconds_t)((i / rate - t) * 1e6));
		}
		key_of(k, x % nkeys);
		if (x >> 60 < 3) /* 3 of 16: about one time in five */
			rc = cask_delete(r->db, k, KLEN);
		else
			rc = cask_put(r->db, k, KLEN, val, vlen);
		if (rc)
			die("churn", rc);
		atomic_fetch_add(&r->ops, 1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

static void report_space(const struct run *r)
{
	double peak = 0, *steady = malloc((r->n + 1) * sizeof(*steady));
	size_t ns = 0;

	printf("%8s %10s %10s %6s %s\n", "t (s)", "live MiB", "disk MiB", "amp",
	       "merging");
	for (size_t i = 0; i < r->n; i++) {
		const struct sample *s = &r->v[i];
		double amp = s->live ? (double)s->disk / s->live : 0;

		if (amp > peak)
			peak = amp;
		if (i >= r->n / 2)
			steady[ns++] = amp;
		if (i % 10 == 9 || i + 1 == r->n)
			printf("%8.0f %10.1f %10.1f %6.2f %s\n", s->t,
			       mib(s->live), mib(s->disk), amp,
			       s->merging ? "yes" : "no");
	}
	printf("space amplification (disk / live): peak %.2f, steady "
	       "(median of the second half) %.2f\n",
	       peak, median(steady, ns));
	free(steady);
}

static void report_speed(const struct run *r, double seconds)
{
	double *on = malloc(r->n * sizeof(*on)),
	       *off = malloc(r->n * sizeof(*off));
	size_t non = 0, noff = 0;

	for (size_t i = 1; i < r->n; i++) {
		const struct sample *a = &r->v[i - 1], *b = &r->v[i];
		double rate = (double)(b->ops - a->ops) / (b->t - a->t);

		/* Both ends in the same state: the interval is one or the
		 * other throughout (as far as 100 ms can tell). */
		if (a->merging && b->merging)
			on[non++] = rate;
		else if (!a->merging && !b->merging)
			off[noff++] = rate;
	}
	printf("ops/s: overall %.0f; median of 100 ms intervals with a merge "
	       "running %.0f (%zu), without %.0f (%zu)\n",
	       (double)atomic_load(&r->ops) / seconds, median(on, non), non,
	       median(off, noff), noff);
	free(on);
	free(off);
}

int main(int argc, char **argv)
{
	uint64_t live_mib = 256, nkeys;
	size_t vlen = 4096;
	double rate = 2000, seconds = 180;
	bool full_speed = false, no_merge = false;
	struct run r = {.dir = "/var/tmp/churn_bench"};
	struct cask_options o;
	struct cask_stats st;
	pthread_t th;
	char cmd[4200], k[KLEN + 1], *val;
	int rc;

	cask_options_init(&o);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--live") && i + 1 < argc)
			live_mib = (uint64_t)num(argv[++i], "--live");
		else if (!strcmp(argv[i], "--value-size") && i + 1 < argc)
			vlen = (size_t)num(argv[++i], "--value-size");
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = (double)num(argv[++i], "--rate");
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = (double)num(argv[++i], "--seconds");
		else if (!strcmp(argv[i], "--merge-keep-ms") && i + 1 < argc)
			o.merge_keep_ms =
				(uint64_t)num(argv[++i], "--merge-keep-ms");
		else if (!strcmp(argv[i], "--full-speed"))
			full_speed = true;
		else if (!strcmp(argv[i], "--no-merge"))
			no_merge = true;
		else
			r.dir = argv[i];
	}
	if (no_merge)
		o.merge_dead_ratio = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r.dir);
	if (system(cmd))
		return 1;
	val = malloc(vlen);
	memset(val, 'v', vlen);
	rc = cask_open(r.dir, &o, &r.db);
	if (rc)
		die("open", rc);
	nkeys = (live_mib << 20) / (vlen + KLEN);
	for (uint64_t i = 0; i < nkeys; i++) {
		key_of(k, i);
		rc = cask_put(r.db, k, KLEN, val, vlen);
		if (rc)
			die("load", rc);
	}
	printf("%llu keys of %zu bytes (%llu MiB), %s, %.0f s, merge %s, "
	       "merge_keep_ms %llu, dir %s\n",
	       (unsigned long long)nkeys, vlen, (unsigned long long)live_mib,
	       full_speed ? "full speed" : "steady rate", seconds,
	       no_merge ? "off" : "automatic",
	       (unsigned long long)o.merge_keep_ms, r.dir);
	if (!full_speed)
		printf("rate %.0f ops/s (%.1f MiB/s of values)\n", rate,
		       rate * (double)vlen / (1 << 20));
	r.period = full_speed ? 0.1 : 1;
	pthread_create(&th, NULL, sampler, &r);
	churn(&r, nkeys, val, vlen, full_speed ? 0 : rate, seconds);
	atomic_store(&r.done, true);
	pthread_join(th, NULL);
	cask_stats(r.db, &st);
	printf("merges %llu, reclaimed %.1f MiB\n",
	       (unsigned long long)st.merges, mib(st.merge_reclaimed));
	if (full_speed)
		report_speed(&r, seconds);
	else
		report_space(&r);
	cask_close(r.db);
	free(r.v);
	free(val);
	return 0;
}
