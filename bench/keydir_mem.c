/*
 * keydir_mem.c - measures the keydir (kv/src/keydir.c) alone: memory per
 * key, insert and random-order lookup time, and full cursor scan time, for
 * N random 16-byte keys, then N file paths with shared directories, then
 * N / 20 dentry keys of trees 100 levels of 100-byte names deep (about 5
 * KB a key: what caskfs keeps for a tree past the kernel's PATH_MAX).
 *
 * Usage: keydir_mem [N]   (default 1000000)
 *
 * Memory is given twice: keydir_memory() / keys (what the tree accounts for,
 * malloc headers included) and the growth of the resident set while the
 * tree was built, from /proc/self/statm. Keys are generated before the
 * baseline is taken, so neither figure counts them.
 */
#define _GNU_SOURCE
#include "keydir.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct keyset {
	uint8_t *bytes;
	size_t *off; /* key i is bytes[off[i] .. off[i + 1]) */
	size_t n;
};

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		perror("malloc");
		exit(1);
	}
	return p;
}

static void keyset_init(struct keyset *ks, size_t n, size_t avg)
{
	ks->bytes = xmalloc(n * avg);
	ks->off = xmalloc((n + 1) * sizeof(size_t));
	ks->off[0] = 0;
	ks->n = 0;
}

static void random_keys(struct keyset *ks, size_t n)
{
	keyset_init(ks, n, 16);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = rnd(), b = rnd();

		memcpy(ks->bytes + 16 * i, &a, 8);
		memcpy(ks->bytes + 16 * i + 8, &b, 8);
		ks->off[i + 1] = 16 * (i + 1);
	}
	ks->n = n;
}

/* Paths as a source tree has them: a few users, projects of a few hundred
 * directories, some nested, each with a dozen or two files. */
static void path_keys(struct keyset *ks, size_t n)
{
	static const char *ext[] = {"c", "h", "o", "txt", "md", "json"};
	char buf[256];
	size_t at = 0;

	keyset_init(ks, n, 96);
	for (size_t i = 0; i < n; i++) {
		size_t dir = i / 16, proj = dir / 300, user = proj / 40;
		int len;

		if (dir % 4 == 3)
			len = snprintf(buf, sizeof(buf),
				       "/home/user%zu/src/project%zu/"
				       "dir%zu/sub%zu/file_%u.%s",
				       user, proj, dir / 4, dir % 7,
				       (unsigned)(rnd() % 10000),
				       ext[rnd() % 6]);
		else
			len = snprintf(buf, sizeof(buf),
				       "/home/user%zu/src/project%zu/"
				       "dir%zu/file_%u.%s",
				       user, proj, dir,
				       (unsigned)(rnd() % 10000),
				       ext[rnd() % 6]);
		memcpy(ks->bytes + at, buf, (size_t)len);
		at += (size_t)len;
		ks->off[i + 1] = at;
	}
	ks->n = n;
}

/* The dentry keys of trees of DEEP levels of 100-byte names, each level
 * holding the next and 16 files: every directory's key is a prefix of the
 * keys below it, and the keys average about 5 KB. */
#define DEEP 100
static void deep_keys(struct keyset *ks, size_t n)
{
	char *path = xmalloc(DEEP * 101 + 64);
	size_t at = 0, len = 0, level = 0, tree = 0, i = 0;

	keyset_init(ks, n, DEEP * 101 / 2 + 64);
	while (i < n) {
		if (level == DEEP) {
			level = 0;
			len = 0;
			tree++;
		}
		/* The next level's directory, then its files. */
		len += (size_t)sprintf(path + len, "/t%zu-l%03zu-", tree,
				       level);
		while (len % 101)
			path[len++] = 'd';
		level++;
		for (int f = -1; f < 16 && i < n; f++, i++) {
			size_t k = len;

			if (f >= 0)
				k += (size_t)sprintf(path + len, "/file_%d.c",
						     f);
			memcpy(ks->bytes + at, path, k);
			at += k;
			ks->off[i + 1] = at;
		}
	}
	ks->n = n;
	free(path);
}

static void shuffle(size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd() % i, t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

static void run(const char *name, const struct keyset *ks)
{
	size_t *order = xmalloc(ks->n * sizeof(size_t)), found = 0, scanned = 0;
	size_t rss0, rss1, keybytes = ks->off[ks->n];
	struct keydir_cursor *c;
	struct keydir_entry e = {0};
	struct keydir *kd;
	double t0, t_ins, t_get, t_scan;

	for (size_t i = 0; i < ks->n; i++)
		order[i] = i;
	shuffle(order, ks->n);
	malloc_trim(0);
	rss0 = rss_bytes();
	if (keydir_new(&kd))
		exit(1);
	t0 = now_ns();
	for (size_t i = 0; i < ks->n; i++) {
		e.seq = i;
		if (keydir_put(kd, ks->bytes + ks->off[i],
			       ks->off[i + 1] - ks->off[i], &e, NULL, NULL,
			       NULL) < 0)
			exit(1);
	}
	t_ins = now_ns() - t0;
	rss1 = rss_bytes();
	t0 = now_ns();
	for (size_t j = 0; j < ks->n; j++) {
		size_t i = order[j];

		found += keydir_get(kd, ks->bytes + ks->off[i],
				    ks->off[i + 1] - ks->off[i], &e);
	}
	t_get = now_ns() - t0;
	if (keydir_cursor_new(kd, &c))
		exit(1);
	t0 = now_ns();
	for (bool ok = keydir_cursor_first(c); ok; ok = keydir_cursor_next(c))
		scanned++;
	t_scan = now_ns() - t0;
	if (found != ks->n || scanned != keydir_count(kd)) {
		fprintf(stderr, "%s: found %zu scanned %zu of %zu\n", name,
			found, scanned, keydir_count(kd));
		exit(1);
	}
	printf("%-10s keys %zu (avg %.1f B)  memory %.1f B/key  "
	       "rss %.1f B/key\n",
	       name, keydir_count(kd), (double)keybytes / ks->n,
	       (double)keydir_memory(kd) / keydir_count(kd),
	       (double)(rss1 - rss0) / keydir_count(kd));
	printf("%-10s insert %.0f ns/op  lookup %.0f ns/op  scan %.1f ns/key\n",
	       name, t_ins / ks->n, t_get / ks->n, t_scan / scanned);
	keydir_cursor_free(c);
	keydir_free(kd);
	free(order);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	struct keyset ks;

	if (n == 0)
		return 1;
	random_keys(&ks, n);
	run("random16", &ks);
	free(ks.bytes);
	free(ks.off);
	path_keys(&ks, n);
	run("paths", &ks);
	free(ks.bytes);
	free(ks.off);
	deep_keys(&ks, n / 20 ? n / 20 : 1);
	run("deep", &ks);
	free(ks.bytes);
	free(ks.off);
	return 0;
}
