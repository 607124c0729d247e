/*
 * merge_bench.c - what merge costs the rest of the engine, and what hints
 * buy at start-up.
 *
 *   merge_bench [--keys N] [--value-size B] [--cold] [DIR]
 *
 * Loads N keys (16-byte keys), overwrites every one once so half the log is
 * garbage, then runs a full merge in the background while one thread keeps
 * putting and timing each put: prints the merge's duration and reclaimed
 * bytes, and the put latency median, p99, p99.9 and maximum during the merge
 * next to the same figures without a merge. Then times cask_open() of the
 * merged store with its hint files and again with the hint files removed;
 * with --cold the page cache is dropped before each open (needs root), so
 * the figures include reading from the disk.
 */
#include "cask.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "merge_bench: %s: %s\n", what, cask_strerror(rc));
	exit(1);
}

static void key_of(char *k, unsigned long i)
{
	snprintf(k, 17, "%016lu", i * 2654435761ul % 10000000000000000ul);
}

static void load(struct cask_db *db, unsigned long n, const char *val,
		 size_t vlen)
{
	char k[17];
	int rc;

	for (unsigned long i = 0; i < n; i++) {
		key_of(k, i);
		rc = cask_put(db, k, 16, val, vlen);
		if (rc)
			die("put", rc);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Put keys while @p busy() is true (or @p count times), recording each
 * put's latency in µs; print the distribution. */
static void timed_puts(struct cask_db *db, const char *label, const char *val,
		       size_t vlen, unsigned long count, bool during_merge)
{
	size_t cap = 1 << 20, n = 0;
	double *lat = malloc(cap * sizeof(*lat));
	struct cask_stats st;
	char k[17];

	for (unsigned long i = 0;; i++) {
		double t;
		int rc;

		if (during_merge) {
			/* Poll now and then: cask_stats takes the store's
			 * locks and would add to the contention measured. */
			if (i % 1024 == 0 &&
			    (cask_stats(db, &st), !st.merge_running))
				break;
		} else if (i >= count) {
			break;
		}
		key_of(k, i);
		t = now_s();
		rc = cask_put(db, k, 16, val, vlen);
		if (rc)
			die("put", rc);
		if (n < cap)
			lat[n++] = (now_s() - t) * 1e6;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	if (n)
		printf("%-16s puts %8zu  median %6.2f us  p99 %7.2f us  "
		       "p99.9 %8.2f us  max %9.2f us\n",
		       label, n, lat[n / 2], lat[n * 99 / 100],
		       lat[n * 999 / 1000], lat[n - 1]);
	free(lat);
}

static void remove_hints(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len > 5 && !strcmp(e->d_name + len - 5, ".hint")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

static void drop_caches(void)
{
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (!f || fputs("1\n", f) < 0 || fclose(f)) {
		fprintf(stderr, "merge_bench: cannot drop the page cache "
				"(--cold needs root)\n");
		exit(1);
	}
}

static double timed_open(const char *dir, const struct cask_options *o,
			 bool cold)
{
	struct cask_db *db;
	double t;
	int rc;

	if (cold)
		drop_caches();
	t = now_s();
	rc = cask_open(dir, o, &db);

	if (rc)
		die("open", rc);
	t = now_s() - t;
	cask_close(db);
	return t;
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000;
	size_t vlen = 100;
	const char *dir = "/var/tmp/merge_bench";
	struct cask_merge_options mo = {.all = true};
	struct cask_options o;
	struct cask_stats st;
	struct cask_db *db;
	char cmd[4200], *val;
	bool cold = false;
	double t;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--value-size") && i + 1 < argc)
			vlen = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--cold"))
			cold = true;
		else
			dir = argv[i];
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 1;
	val = malloc(vlen);
	memset(val, 'v', vlen);
	cask_options_init(&o);
	o.sync_mode = CASK_SYNC_NEVER;
	o.merge_dead_ratio = 0; /* only the merge we start */
	rc = cask_open(dir, &o, &db);
	if (rc)
		die("open", rc);
	printf("keys %lu, value %zu bytes, dir %s\n", n, vlen, dir);
	load(db, n, val, vlen);
	load(db, n, val, vlen);
	timed_puts(db, "no merge", val, vlen, 200000, false);
	t = now_s();
	rc = cask_merge(db, &mo);
	if (rc)
		die("merge", rc);
	timed_puts(db, "during merge", val, vlen, 0, true); /* until it ends */
	cask_stats(db, &st);
	printf("merge: %.2f s (engine says %llu ms), reclaimed %.1f MiB, "
	       "%llu segments after\n",
	       now_s() - t, (unsigned long long)st.merge_last_ms,
	       (double)st.merge_reclaimed / (1 << 20),
	       (unsigned long long)st.segments);
	cask_close(db);
	printf("open with hints:    %.3f s%s\n", timed_open(dir, &o, cold),
	       cold ? " (cold cache)" : "");
	remove_hints(dir);
	printf("open without hints: %.3f s%s\n", timed_open(dir, &o, cold),
	       cold ? " (cold cache)" : "");
	free(val);
	return 0;
}
