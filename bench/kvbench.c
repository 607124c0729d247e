/*
 * kvbench.c - run the same workloads against libcask, LMDB, LevelDB, RocksDB
 * and Kyoto Cabinet in one run; print the median ops/s of each engine and
 * libcask's ratio to it.
 *
 * Workloads (names as in LevelDB's db_bench): fillseq, fillrandom,
 * overwrite, readrandom, readrandom-mt, readmissing, readseq, deleterandom,
 * fillsync (every write durable, 1 and 4 writers), open (close and reopen a
 * loaded store, then one get) and memory (resident memory after the load).
 *
 * How a run is organised, and why:
 *  - Each repetition runs every engine once, in an order rotated per
 *    repetition, so machine noise spreads over all engines; the tables
 *    report the median of the repetitions.
 *  - Each engine's chain of workloads runs in a forked child process, in a
 *    fresh directory under the base directory that is removed afterwards.
 *    The child reports numbers through a pipe. A child starts with a clean
 *    heap and no engine threads left over from another engine, and its
 *    resident memory is the engine's alone (measured as the growth from just
 *    before open).
 *  - The chains: fillseq on a fresh store; fillrandom on a fresh store
 *    followed by overwrite, close + reopen (timed as "open"), readrandom,
 *    readrandom-mt, readmissing, readseq and deleterandom on the same store;
 *    fillsync on a fresh synchronous store per writer count. A chain always
 *    runs its earlier steps, whatever is selected, so a workload always sees
 *    the same store.
 *  - Keys are 16 bytes, "%016llu" of 2*i for the i-th key, so readmissing
 *    asks for odd numbers that fall between present keys (an LSM cannot
 *    answer from its key ranges alone). Random orders are seeded
 *    Fisher-Yates permutations: each random workload touches every key
 *    exactly once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kv_engines.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN		 16
#define MAX_ENGINES	 8
#define MAX_REPS	 99
#define MAX_SYNC_THREADS 4
#define RAND_BYTES	 (1u << 20)

/* ---- what is measured ------------------------------------------------- */

enum workload {
	W_FILLSEQ,
	W_FILLRANDOM,
	W_OVERWRITE,
	W_OPEN,
	W_READRANDOM,
	W_READRANDOM_MT,
	W_READMISSING,
	W_READSEQ,
	W_DELETERANDOM,
	W_FILLSYNC,
	W_MEMORY,
	W_COUNT
};

static const char *const workload_names[W_COUNT] = {
	"fillseq",	"fillrandom",	 "overwrite",	"open",
	"readrandom",	"readrandom-mt", "readmissing", "readseq",
	"deleterandom", "fillsync",	 "memory",
};

enum metric {
	M_FILLSEQ,
	M_FILLRANDOM,
	M_OVERWRITE,
	M_READRANDOM,
	M_READRANDOM_MT,
	M_READMISSING,
	M_READSEQ,
	M_DELETERANDOM,
	M_FILLSYNC0, /* one metric per writer count of --sync-threads */
	M_OPEN = M_FILLSYNC0 + MAX_SYNC_THREADS,
	M_MEM_ANON,
	M_MEM_RSS,
	M_MEM_PEAK,
	M_COUNT
};

enum unit {
	U_OPS,
	U_MS,
	U_MIB
};

struct metric_info {
	enum workload w;
	enum unit unit;
	const char *what; /* explanation printed under the title */
};

static const struct metric_info metric_info[M_COUNT] = {
	[M_FILLSEQ] = {W_FILLSEQ, U_OPS, "puts in key order, fresh store"},
	[M_FILLRANDOM] = {W_FILLRANDOM, U_OPS,
			  "puts in random order, fresh store"},
	[M_OVERWRITE] = {W_OVERWRITE, U_OPS,
			 "puts replacing every key once, random order"},
	[M_READRANDOM] = {W_READRANDOM, U_OPS,
			  "gets of every key once, random order"},
	[M_READRANDOM_MT] = {W_READRANDOM_MT, U_OPS,
			     "gets split over threads, total ops/s"},
	[M_READMISSING] = {W_READMISSING, U_OPS,
			   "gets of absent keys between present ones"},
	[M_READSEQ] = {W_READSEQ, U_OPS,
		       "iteration over all records, key and value"},
	[M_DELETERANDOM] = {W_DELETERANDOM, U_OPS,
			    "deletes of every key once, random order"},
	[M_FILLSYNC0] = {W_FILLSYNC, U_OPS, NULL},
	[M_FILLSYNC0 + 1] = {W_FILLSYNC, U_OPS, NULL},
	[M_FILLSYNC0 + 2] = {W_FILLSYNC, U_OPS, NULL},
	[M_FILLSYNC0 + 3] = {W_FILLSYNC, U_OPS, NULL},
	[M_OPEN] = {W_OPEN, U_MS,
		    "close, then open and serve the first get (warm page "
		    "cache)"},
	[M_MEM_ANON] = {W_MEMORY, U_MIB,
			"anonymous RSS growth after fillrandom (heap, caches, "
			"index)"},
	[M_MEM_RSS] = {W_MEMORY, U_MIB,
		       "total RSS growth after fillrandom (anon + mapped "
		       "file pages)"},
	[M_MEM_PEAK] = {W_MEMORY, U_MIB,
			"peak RSS growth during open + fillrandom"},
};

/* ---- options ---------------------------------------------------------- */

struct run_config {
	size_t num;
	size_t value_size;
};

static struct {
	const char *base_dir;
	const struct kv_engine *engines[MAX_ENGINES];
	int n_engines;
	bool workload_on[W_COUNT];
	struct run_config configs[2];
	int n_configs;
	int reps;
	int threads;
	size_t sync_num;
	int sync_threads[MAX_SYNC_THREADS];
	int n_sync_threads;
	size_t cache_bytes;
	bool lmdb_writemap;
	uint64_t seed;
	bool markdown;
} opt = {
	.base_dir = "/var/tmp/kvbench",
	.reps = 3,
	.threads = 2,
	.sync_num = 2000,
	.sync_threads = {1, 4},
	.n_sync_threads = 2,
	.cache_bytes = (size_t)64 << 20,
	.seed = 301,
};

/* results[config][metric][engine][rep]; NAN where not measured */
static double results[2][M_COUNT][MAX_ENGINES][MAX_REPS];

/* ---- small helpers ---------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* "%016llu" of @p n, without the cost of snprintf in the timed loops. */
static void make_key(char *k, uint64_t n)
{
	for (int i = KEY_LEN - 1; i >= 0; i--) {
		k[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

static uint32_t *make_perm(size_t n, uint64_t seed)
{
	uint32_t *p = malloc(n * sizeof(*p));
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	if (!p) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_next(&s) % (i + 1);
		uint32_t t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP ? rmdir(path) : unlink(path))
		fprintf(stderr, "kvbench: remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

static void rm_tree(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) == 0)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the data of one configuration ------------------------------------ */

struct data {
	const struct run_config *rc;
	uint32_t *fill;	  /* fillrandom order */
	uint32_t *over;	  /* overwrite order */
	uint32_t *read;	  /* readrandom and readmissing order */
	uint32_t *del;	  /* deleterandom order */
	char *rand_bytes; /* values are windows into it */
};

static void data_init(struct data *d, const struct run_config *rc)
{
	uint64_t s = opt.seed;

	d->rc = rc;
	d->fill = make_perm(rc->num, opt.seed + 1);
	d->over = make_perm(rc->num, opt.seed + 2);
	d->read = make_perm(rc->num, opt.seed + 3);
	d->del = make_perm(rc->num, opt.seed + 4);
	d->rand_bytes = malloc(RAND_BYTES + rc->value_size);
	if (!d->rand_bytes) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < RAND_BYTES + rc->value_size; i++)
		d->rand_bytes[i] = (char)rng_next(&s);
}

static void data_free(struct data *d)
{
	free(d->fill);
	free(d->over);
	free(d->read);
	free(d->del);
	free(d->rand_bytes);
}

static const char *value_of(const struct data *d, size_t i, unsigned salt)
{
	return d->rand_bytes + (i * 7919 + salt * 104729) % RAND_BYTES;
}

/* ---- the child side: running workloads -------------------------------- */

static void metric_title(int m, char *buf, size_t size)
{
	if (m >= M_FILLSYNC0 && m < M_OPEN) {
		int t = opt.sync_threads[m - M_FILLSYNC0];

		snprintf(buf, size, "fillsync, %d writer%s", t,
			 t == 1 ? "" : "s");
	} else if (m == M_READRANDOM_MT) {
		snprintf(buf, size, "readrandom-mt, %d threads", opt.threads);
	} else if (m == M_MEM_ANON) {
		snprintf(buf, size, "memory: anon RSS after load");
	} else if (m == M_MEM_RSS) {
		snprintf(buf, size, "memory: total RSS after load");
	} else if (m == M_MEM_PEAK) {
		snprintf(buf, size, "memory: peak RSS");
	} else {
		snprintf(buf, size, "%s", workload_names[metric_info[m].w]);
	}
}

struct child {
	const struct kv_engine *e;
	const struct data *d;
	struct kv_config cfg;
	char dir[4096];
	int fd; /* pipe to the parent */
	void *db;
	void *tctx;
};

struct msg {
	int metric;
	double value;
};

static void report(struct child *c, int metric, double value)
{
	struct msg m = {metric, value};
	static const char *const unit_names[] = {"ops/s", "ms", "MiB"};
	enum unit u = metric_info[metric].unit;

	char title[64];

	if (write(c->fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		perror("kvbench: pipe");
	metric_title(metric, title, sizeof(title));
	fprintf(stderr, "  %-8s %-30s %12.*f %s\n", c->e->name, title,
		u == U_OPS ? 0 : 1, value, unit_names[u]);
}

static int open_store(struct child *c, bool fresh, bool sync)
{
	if (fresh) {
		rm_tree(c->dir);
		if (mkdir(c->dir, 0755)) {
			fprintf(stderr, "kvbench: mkdir %s: %s\n", c->dir,
				strerror(errno));
			return -1;
		}
	}
	c->cfg.sync = sync;
	if (c->e->open(c->dir, &c->cfg, &c->db))
		return -1;
	return c->e->thread_init(c->db, &c->tctx);
}

static void close_store(struct child *c)
{
	if (!c->db)
		return;
	c->e->thread_fini(c->db, c->tctx);
	c->e->close(c->db);
	c->db = NULL;
	c->tctx = NULL;
}

/* Puts of keys order[0..n) (0..n when @p order is NULL). */
static int run_puts(struct child *c, const uint32_t *order, size_t n,
		    unsigned salt, double *secs)
{
	size_t vs = c->d->rc->value_size;
	char key[KEY_LEN];
	double t0 = now();

	for (size_t i = 0; i < n; i++) {
		make_key(key, 2 * (uint64_t)(order ? order[i] : i));
		if (c->e->put(c->db, key, KEY_LEN, value_of(c->d, i, salt), vs))
			return -1;
	}
	*secs = now() - t0;
	return 0;
}

static int run_deletes(struct child *c, const uint32_t *order, size_t n,
		       double *secs)
{
	char key[KEY_LEN];
	double t0 = now();

	for (size_t i = 0; i < n; i++) {
		make_key(key, 2 * (uint64_t)order[i]);
		if (c->e->del(c->db, key, KEY_LEN))
			return -1;
	}
	*secs = now() - t0;
	return 0;
}

/* Gets of keys order[0..n); @p odd asks for the absent key after each. */
static int run_gets(const struct kv_engine *e, void *db, void *tctx,
		    const uint32_t *order, size_t n, size_t value_size,
		    bool odd, size_t *found)
{
	size_t bufsize = value_size + 64, vlen, hits = 0;
	char key[KEY_LEN], *buf = malloc(bufsize);
	int rc = 0;

	if (!buf)
		return -1;
	for (size_t i = 0; i < n; i++) {
		make_key(key, 2 * (uint64_t)order[i] + odd);
		rc = e->get(db, tctx, key, KEY_LEN, buf, bufsize, &vlen);
		if (rc < 0)
			break;
		if (rc == 0 && vlen == value_size)
			hits++;
		rc = 0;
	}
	free(buf);
	*found = hits;
	return rc;
}

struct reader {
	struct child *c;
	pthread_barrier_t *start;
	const uint32_t *order;
	size_t n;
	size_t found;
	int rc;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	const struct kv_engine *e = r->c->e;
	void *tctx = NULL;

	r->rc = e->thread_init(r->c->db, &tctx);
	pthread_barrier_wait(r->start);
	if (!r->rc)
		r->rc = run_gets(e, r->c->db, tctx, r->order, r->n,
				 r->c->d->rc->value_size, false, &r->found);
	if (tctx)
		e->thread_fini(r->c->db, tctx);
	return NULL;
}

static int run_gets_mt(struct child *c, int threads, double *secs,
		       size_t *found)
{
	size_t num = c->d->rc->num;
	struct reader r[64];
	pthread_t tid[64];
	pthread_barrier_t start;
	double t0;
	int rc = 0;

	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (int t = 0; t < threads; t++) {
		size_t lo = num * t / threads, hi = num * (t + 1) / threads;

		r[t] = (struct reader){c,	&start, c->d->read + lo,
				       hi - lo, 0,	0};
		pthread_create(&tid[t], NULL, reader_main, &r[t]);
	}
	pthread_barrier_wait(&start);
	t0 = now();
	*found = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		rc |= r[t].rc;
		*found += r[t].found;
	}
	*secs = now() - t0;
	pthread_barrier_destroy(&start);
	return rc;
}

struct writer {
	struct child *c;
	pthread_barrier_t *start;
	size_t lo, hi;
	int rc;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	const struct data *d = w->c->d;
	char key[KEY_LEN];

	pthread_barrier_wait(w->start);
	for (size_t i = w->lo; i < w->hi && !w->rc; i++) {
		make_key(key, 2 * (uint64_t)d->fill[i % d->rc->num]);
		w->rc = w->c->e->put(w->c->db, key, KEY_LEN, value_of(d, i, 5),
				     d->rc->value_size);
	}
	return NULL;
}

static int run_puts_mt(struct child *c, int threads, size_t n, double *secs)
{
	struct writer w[MAX_SYNC_THREADS * 16];
	pthread_t tid[MAX_SYNC_THREADS * 16];
	pthread_barrier_t start;
	double t0;
	int rc = 0;

	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (int t = 0; t < threads; t++) {
		w[t] = (struct writer){c, &start, n * t / threads,
				       n * (t + 1) / threads, 0};
		pthread_create(&tid[t], NULL, writer_main, &w[t]);
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		rc |= w[t].rc;
	}
	*secs = now() - t0;
	pthread_barrier_destroy(&start);
	return rc;
}

struct seq_sum {
	size_t bytes;
	unsigned char x;
};

static void seq_visit(void *arg, const void *key, size_t klen, const void *val,
		      size_t vlen)
{
	struct seq_sum *s = arg;

	/* Touch the value so no engine gets away with not reading it. */
	s->bytes += klen + vlen;
	s->x ^= ((const unsigned char *)key)[klen - 1];
	if (vlen)
		s->x ^= ((const unsigned char *)val)[vlen - 1];
}

/* Resident memory of this process, in KiB. */
struct mem {
	long rss, hwm, anon;
};

static struct mem mem_now(void)
{
	struct mem m = {0, 0, 0};
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &m.rss);
		sscanf(line, "VmHWM: %ld", &m.hwm);
		sscanf(line, "RssAnon: %ld", &m.anon);
	}
	fclose(f);
	return m;
}

/* Restart the peak (VmHWM) from the current RSS. */
static void mem_reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			perror("kvbench: clear_refs");
		close(fd);
	}
}

static bool on(enum workload w)
{
	return opt.workload_on[w];
}

/* fillseq on a fresh store. */
static int chain_fillseq(struct child *c)
{
	double secs;

	if (open_store(c, true, false) ||
	    run_puts(c, NULL, c->d->rc->num, 0, &secs))
		return -1;
	report(c, M_FILLSEQ, (double)c->d->rc->num / secs);
	return 0;
}

static bool check(struct child *c, const char *what, size_t got, size_t want)
{
	if (got == want)
		return true;
	fprintf(stderr, "kvbench: %s %s: %zu records where %zu expected\n",
		c->e->name, what, got, want);
	return false;
}

/* The last workload of the loaded-store chain that is selected. */
static int chain_last(void)
{
	static const enum workload order[] = {
		W_FILLRANDOM,  W_MEMORY,     W_OVERWRITE,
		W_OPEN,	       W_READRANDOM, W_READRANDOM_MT,
		W_READMISSING, W_READSEQ,    W_DELETERANDOM,
	};
	int last = -1;

	for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (on(order[i]))
			last = (int)order[i];
	return last;
}

/* fillrandom, overwrite, reopen, reads and deletes on one store. */
static int chain_loaded(struct child *c)
{
	size_t num = c->d->rc->num, n, found;
	int last = chain_last();
	struct mem m0, m1;
	struct seq_sum sum = {0, 0};
	double secs, t0;
	char key[KEY_LEN];
	char *buf;

	mem_reset_peak();
	m0 = mem_now();
	if (open_store(c, true, false) ||
	    run_puts(c, c->d->fill, num, 1, &secs))
		return -1;
	report(c, M_FILLRANDOM, (double)num / secs);
	m1 = mem_now();
	report(c, M_MEM_ANON, (double)(m1.anon - m0.anon) / 1024);
	report(c, M_MEM_RSS, (double)(m1.rss - m0.rss) / 1024);
	report(c, M_MEM_PEAK, (double)(m1.hwm - m0.rss) / 1024);
	if (last == W_FILLRANDOM || last == W_MEMORY)
		return 0;

	if (run_puts(c, c->d->over, num, 2, &secs))
		return -1;
	report(c, M_OVERWRITE, (double)num / secs);
	if (last == W_OVERWRITE)
		return 0;

	/* open: everything durable and closed, then open and serve a get */
	buf = malloc(c->d->rc->value_size + 64);
	if (!buf || c->e->sync(c->db)) {
		free(buf);
		return -1;
	}
	close_store(c);
	make_key(key, 2 * (uint64_t)c->d->read[0]);
	t0 = now();
	if (open_store(c, false, false) ||
	    c->e->get(c->db, c->tctx, key, KEY_LEN, buf,
		      c->d->rc->value_size + 64, &n)) {
		fprintf(stderr, "kvbench: %s: get after reopen failed\n",
			c->e->name);
		free(buf);
		return -1;
	}
	secs = now() - t0;
	free(buf);
	report(c, M_OPEN, secs * 1e3);
	if (last == W_OPEN)
		return 0;

	t0 = now();
	if (run_gets(c->e, c->db, c->tctx, c->d->read, num,
		     c->d->rc->value_size, false, &found))
		return -1;
	secs = now() - t0;
	if (check(c, "readrandom", found, num))
		report(c, M_READRANDOM, (double)num / secs);
	if (last == W_READRANDOM)
		return 0;

	if (run_gets_mt(c, opt.threads, &secs, &found))
		return -1;
	if (check(c, "readrandom-mt", found, num))
		report(c, M_READRANDOM_MT, (double)num / secs);
	if (last == W_READRANDOM_MT)
		return 0;

	t0 = now();
	if (run_gets(c->e, c->db, c->tctx, c->d->read, num,
		     c->d->rc->value_size, true, &found))
		return -1;
	secs = now() - t0;
	if (check(c, "readmissing", found, 0))
		report(c, M_READMISSING, (double)num / secs);
	if (last == W_READMISSING)
		return 0;

	t0 = now();
	if (c->e->iterate(c->db, seq_visit, &sum, &n))
		return -1;
	secs = now() - t0;
	if (check(c, "readseq", n, num) &&
	    check(c, "readseq bytes", sum.bytes,
		  num * (KEY_LEN + c->d->rc->value_size)))
		report(c, M_READSEQ, (double)n / secs);
	if (last == W_READSEQ)
		return 0;

	if (run_deletes(c, c->d->del, num, &secs))
		return -1;
	report(c, M_DELETERANDOM, (double)num / secs);
	return 0;
}

/* fillsync: a fresh synchronous store per writer count. */
static int chain_fillsync(struct child *c)
{
	double secs;

	for (int i = 0; i < opt.n_sync_threads; i++) {
		if (open_store(c, true, true) ||
		    run_puts_mt(c, opt.sync_threads[i], opt.sync_num, &secs))
			return -1;
		close_store(c);
		report(c, M_FILLSYNC0 + i, (double)opt.sync_num / secs);
	}
	return 0;
}

typedef int (*chain_fn)(struct child *c);

/*
 * Run @p fn for engine @p ei in a child process; store what it reports in
 * results[ci][.][ei][rep].
 */
static void run_chain(chain_fn fn, int ci, int ei, int rep,
		      const struct data *d)
{
	struct child c = {
		.e = opt.engines[ei],
		.d = d,
		.cfg = {d->rc->num, d->rc->value_size, false, opt.cache_bytes,
			opt.lmdb_writemap},
	};
	int pfd[2], status;
	struct msg m;
	pid_t pid;

	snprintf(c.dir, sizeof(c.dir), "%s/kvbench.%d.%s", opt.base_dir,
		 (int)getpid(), c.e->name);
	if (pipe(pfd)) {
		perror("kvbench: pipe");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("kvbench: fork");
		exit(2);
	}
	if (pid == 0) {
		int rc;

		close(pfd[0]);
		c.fd = pfd[1];
		rc = fn(&c);
		close_store(&c);
		rm_tree(c.dir);
		if (rc)
			fprintf(stderr, "kvbench: %s: workload failed\n",
				c.e->name);
		_exit(rc ? 1 : 0);
	}
	close(pfd[1]);
	while (read(pfd[0], &m, sizeof(m)) == (ssize_t)sizeof(m))
		if (m.metric >= 0 && m.metric < M_COUNT)
			results[ci][m.metric][ei][rep] = m.value;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		fprintf(stderr, "kvbench: %s: child killed by signal %d\n",
			c.e->name, WTERMSIG(status));
	rm_tree(c.dir);
}

/* ---- reporting -------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the measured repetitions; NAN if none. Sets the spread
 * ((max - min) / median) when @p spread is not NULL. */
static double median(const double *v, double *spread)
{
	double s[MAX_REPS], med;
	int n = 0;

	for (int r = 0; r < opt.reps; r++)
		if (!isnan(v[r]))
			s[n++] = v[r];
	if (spread)
		*spread = NAN;
	if (!n)
		return NAN;
	qsort(s, (size_t)n, sizeof(s[0]), cmp_double);
	med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	if (spread && n > 1 && med > 0)
		*spread = (s[n - 1] - s[0]) / med;
	return med;
}

static bool metric_on(int m)
{
	if (m >= M_FILLSYNC0 && m < M_OPEN)
		return on(W_FILLSYNC) && m - M_FILLSYNC0 < opt.n_sync_threads;
	return on(metric_info[m].w);
}

static const char *unit_label(enum unit u)
{
	return u == U_OPS  ? "ops/s, higher is better"
	       : u == U_MS ? "ms, lower is better"
			   : "MiB, lower is better";
}

static void fmt_value(char *buf, size_t size, double v, enum unit u,
		      bool compact)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else if (u == U_MS && v < 10)
		snprintf(buf, size, "%.2f", v);
	else if (u != U_OPS)
		snprintf(buf, size, "%.1f", v);
	else if (compact && v >= 1e6)
		snprintf(buf, size, "%.2fM", v / 1e6);
	else if (compact && v >= 1e4)
		snprintf(buf, size, "%.0fk", v / 1e3);
	else
		snprintf(buf, size, "%.0f", v);
}

static void fmt_ratio(char *buf, size_t size, double cask, double v)
{
	if (isnan(cask) || isnan(v) || v <= 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.2f", cask / v);
}

static void fmt_spread(char *buf, size_t size, double spread)
{
	if (isnan(spread))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.0f%%", spread * 100);
}

static int cask_index(void)
{
	for (int e = 0; e < opt.n_engines; e++)
		if (opt.engines[e] == &kv_engine_cask)
			return e;
	return -1;
}

static void print_config_text(int ci)
{
	const struct run_config *rc = &opt.configs[ci];
	int ce = cask_index();
	char title[64], val[32], ratio[32], cell[16];

	printf("\n=== %zu-byte values, %zu keys of %d bytes ===\n",
	       rc->value_size, rc->num, KEY_LEN);
	for (int m = 0; m < M_COUNT; m++) {
		double cask_med, med, spread;

		if (!metric_on(m))
			continue;
		metric_title(m, title, sizeof(title));
		printf("\n%s (%s)\n", title, unit_label(metric_info[m].unit));
		if (metric_info[m].what)
			printf("  %s\n", metric_info[m].what);
		printf("  %-8s %14s %8s %12s\n", "engine", "median", "spread",
		       "cask/engine");
		cask_med = ce >= 0 ? median(results[ci][m][ce], NULL) : NAN;
		for (int e = 0; e < opt.n_engines; e++) {
			med = median(results[ci][m][e], &spread);
			fmt_value(val, sizeof(val), med, metric_info[m].unit,
				  false);
			fmt_ratio(ratio, sizeof(ratio), cask_med, med);
			fmt_spread(cell, sizeof(cell), spread);
			printf("  %-8s %14s %8s %12s\n", opt.engines[e]->name,
			       val, cell, ratio);
		}
	}
}

static void print_config_markdown(int ci)
{
	const struct run_config *rc = &opt.configs[ci];
	int ce = cask_index();
	char title[64], cell[32];

	printf("\n### %zu-byte values, %zu keys\n\n", rc->value_size, rc->num);
	printf("| workload | unit |");
	for (int e = 0; e < opt.n_engines; e++)
		printf(" %s |", opt.engines[e]->name);
	for (int e = 0; e < opt.n_engines; e++)
		if (e != ce && ce >= 0)
			printf(" cask/%s |", opt.engines[e]->name);
	printf(" spread |\n|---|---|");
	for (int e = 0; e < opt.n_engines; e++)
		printf("---:|");
	for (int e = 0; e < opt.n_engines; e++)
		if (e != ce && ce >= 0)
			printf("---:|");
	printf("---:|\n");
	for (int m = 0; m < M_COUNT; m++) {
		enum unit u = metric_info[m].unit;
		double med[MAX_ENGINES], spread, worst = NAN;

		if (!metric_on(m))
			continue;
		metric_title(m, title, sizeof(title));
		printf("| %s | %s |", title,
		       u == U_OPS  ? "ops/s"
		       : u == U_MS ? "ms"
				   : "MiB");
		for (int e = 0; e < opt.n_engines; e++) {
			med[e] = median(results[ci][m][e], &spread);
			if (!isnan(spread) && !(spread <= worst))
				worst = spread;
			fmt_value(cell, sizeof(cell), med[e], u, true);
			printf(" %s |", cell);
		}
		for (int e = 0; e < opt.n_engines; e++) {
			if (e == ce || ce < 0)
				continue;
			fmt_ratio(cell, sizeof(cell), med[ce], med[e]);
			printf(" %s |", cell);
		}
		fmt_spread(cell, sizeof(cell), worst);
		printf(" %s |\n", cell);
	}
}

static void read_first_line(const char *path, const char *prefix, char *buf,
			    size_t size)
{
	FILE *f = fopen(path, "r");
	char line[512];

	snprintf(buf, size, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (prefix && strncmp(line, prefix, strlen(prefix)))
			continue;
		char *s = prefix ? strchr(line, ':') : line;

		if (!s)
			continue;
		s += prefix ? 1 : 0;
		s += strspn(s, " \t");
		s[strcspn(s, "\n")] = 0;
		snprintf(buf, size, "%s", s);
		break;
	}
	fclose(f);
}

/* "vda (ext4, rotational=1)" for the device holding the base directory. */
static void describe_disk(char *buf, size_t size)
{
	char path[256], link[512], fstype[64] = "?", rot[16] = "?";
	char line[1024];
	unsigned maj, min;
	struct stat st;
	const char *dev = "?";
	ssize_t n;
	FILE *f;

	snprintf(buf, size, "unknown");
	if (stat(opt.base_dir, &st))
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(st.st_dev),
		 minor(st.st_dev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		dev = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	}
	f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sscanf(line, "%*d %*d %u:%u", &maj, &min) == 2 &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) && sep)
			sscanf(sep + 3, "%63s", fstype);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/rotational",
		 major(st.st_dev), minor(st.st_dev));
	read_first_line(path, NULL, rot, sizeof(rot));
	snprintf(buf, size, "%s (%s, rotational=%s)", dev, fstype, rot);
}

/* 1-minute load average: the machine is shared, so the report says how
 * busy it was. */
static double load_start;

static double loadavg1(void)
{
	double l = NAN;

	getloadavg(&l, 1);
	return l;
}

static void print_header(int argc, char **argv, time_t t, double secs)
{
	char cpu[256], disk[1024], date[64];
	struct utsname u;
	const char *li = opt.markdown ? "- " : "";

	read_first_line("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
	describe_disk(disk, sizeof(disk));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	uname(&u);
	if (!opt.markdown)
		printf("kvbench\n");
	printf("%scommand:%s", li, opt.markdown ? " `" : "");
	for (int i = 0; i < argc; i++)
		printf("%s%s", i ? " " : "", argv[i]);
	printf("%s\n", opt.markdown ? "`" : "");
	printf("%sdate: %s (run took %.0f min; 1-min load average %.2f at "
	       "start, %.2f at end)\n",
	       li, date, secs / 60, load_start, loadavg1());
	printf("%smachine: %ld CPUs, %s, Linux %s\n", li,
	       sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release);
	printf("%sdisk: %s, base directory %s\n", li, disk, opt.base_dir);
	printf("%sengines:", li);
	for (int e = 0; e < opt.n_engines; e++)
		printf("%s %s", e ? "," : "", opt.engines[e]->version());
	printf("\n%srepetitions: %d (median reported), engine order rotated "
	       "per repetition\n",
	       li, opt.reps);
	printf("%ssettings: %d-byte keys, no compression, %zu MiB block cache "
	       "(LevelDB, RocksDB), sync off except fillsync (%zu puts), "
	       "readrandom-mt %d threads%s\n",
	       li, KEY_LEN, opt.cache_bytes >> 20, opt.sync_num, opt.threads,
	       opt.lmdb_writemap ? ", LMDB MDB_WRITEMAP" : "");
	printf("%sratio: cask/engine of the medians (ops/s: above 1 means "
	       "libcask is faster; ms and MiB: below 1 means libcask is "
	       "better)%s\n",
	       li,
	       opt.markdown ? "; spread: largest (max-min)/median over "
			      "the engines' repetitions"
			    : "");
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvbench [options]\n"
		"  --base-dir=DIR        stores go in fresh directories under "
		"DIR (default /var/tmp/kvbench)\n"
		"  --engines=LIST        cask,lmdb,leveldb,rocksdb,kyoto "
		"(default all)\n"
		"  --workloads=LIST      fillseq,fillrandom,overwrite,open,"
		"readrandom,readrandom-mt,\n"
		"                        readmissing,readseq,deleterandom,"
		"fillsync,memory (default all)\n"
		"  --num=N               keys (default: two runs, 1000000 x "
		"100 "
		"B and 200000 x 4096 B)\n"
		"  --value-size=N        value bytes (with --num; default "
		"100)\n"
		"  --reps=N              repetitions, median reported (default "
		"3)\n"
		"  --threads=N           readrandom-mt threads (default 2)\n"
		"  --sync-num=N          puts of fillsync (default 2000)\n"
		"  --sync-threads=LIST   fillsync writer counts (default 1,4)\n"
		"  --cache-mb=N          LevelDB/RocksDB block cache (default "
		"64)\n"
		"  --lmdb-writemap       open LMDB with MDB_WRITEMAP\n"
		"  --seed=N              permutation seed (default 301)\n"
		"  --quick               small smoke run: num/10, 1 rep, 200 "
		"sync puts\n"
		"  --markdown            print markdown tables\n");
}

static long parse_num(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "kvbench: bad %s '%s' (%ld..%ld)\n", what, s,
			lo, hi);
		exit(2);
	}
	return v;
}

static void parse_engines(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	opt.n_engines = 0;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; kv_engines[i]; i++)
			if (!strcmp(kv_engines[i]->name, t))
				break;
		if (!kv_engines[i] || opt.n_engines == MAX_ENGINES) {
			fprintf(stderr, "kvbench: unknown engine '%s'\n", t);
			exit(2);
		}
		opt.engines[opt.n_engines++] = kv_engines[i];
	}
	free(copy);
}

static void parse_workloads(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	memset(opt.workload_on, 0, sizeof(opt.workload_on));
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int w;

		for (w = 0; w < W_COUNT; w++)
			if (!strcmp(workload_names[w], t))
				break;
		if (w == W_COUNT) {
			fprintf(stderr, "kvbench: unknown workload '%s'\n", t);
			exit(2);
		}
		opt.workload_on[w] = true;
	}
	free(copy);
}

static void parse_sync_threads(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	opt.n_sync_threads = 0;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (opt.n_sync_threads == MAX_SYNC_THREADS) {
			fprintf(stderr, "kvbench: at most %d writer counts\n",
				MAX_SYNC_THREADS);
			exit(2);
		}
		opt.sync_threads[opt.n_sync_threads++] =
			(int)parse_num(t, "writer count", 1, 16);
	}
	free(copy);
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_BASE = 256,
		O_ENG,
		O_WL,
		O_NUM,
		O_VS,
		O_REPS,
		O_THR,
		O_SNUM,
		O_STHR,
		O_CACHE,
		O_WMAP,
		O_SEED,
		O_QUICK,
		O_MD,
		O_HELP
	};
	static const struct option lopts[] = {
		{"base-dir", required_argument, NULL, O_BASE},
		{"engines", required_argument, NULL, O_ENG},
		{"workloads", required_argument, NULL, O_WL},
		{"num", required_argument, NULL, O_NUM},
		{"value-size", required_argument, NULL, O_VS},
		{"reps", required_argument, NULL, O_REPS},
		{"threads", required_argument, NULL, O_THR},
		{"sync-num", required_argument, NULL, O_SNUM},
		{"sync-threads", required_argument, NULL, O_STHR},
		{"cache-mb", required_argument, NULL, O_CACHE},
		{"lmdb-writemap", no_argument, NULL, O_WMAP},
		{"seed", required_argument, NULL, O_SEED},
		{"quick", no_argument, NULL, O_QUICK},
		{"markdown", no_argument, NULL, O_MD},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	long num = 0, vs = 0, reps = 0, snum = 0;
	bool quick = false;
	int o;

	parse_engines("cask,lmdb,leveldb,rocksdb,kyoto");
	for (int w = 0; w < W_COUNT; w++)
		opt.workload_on[w] = true;
	while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (o) {
		case O_BASE:
			opt.base_dir = optarg;
			break;
		case O_ENG:
			parse_engines(optarg);
			break;
		case O_WL:
			parse_workloads(optarg);
			break;
		case O_NUM:
			num = parse_num(optarg, "--num", 1, 1L << 31);
			break;
		case O_VS:
			vs = parse_num(optarg, "--value-size", 0, 1L << 24);
			break;
		case O_REPS:
			reps = parse_num(optarg, "--reps", 1, MAX_REPS);
			break;
		case O_THR:
			opt.threads =
				(int)parse_num(optarg, "--threads", 1, 64);
			break;
		case O_SNUM:
			snum = parse_num(optarg, "--sync-num", 1, 1L << 24);
			break;
		case O_STHR:
			parse_sync_threads(optarg);
			break;
		case O_CACHE:
			opt.cache_bytes =
				(size_t)parse_num(optarg, "--cache-mb", 1,
						  1L << 20)
				<< 20;
			break;
		case O_WMAP:
			opt.lmdb_writemap = true;
			break;
		case O_SEED:
			opt.seed = (uint64_t)parse_num(optarg, "--seed", 0,
						       1L << 62);
			break;
		case O_QUICK:
			quick = true;
			break;
		case O_MD:
			opt.markdown = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	if (num || vs) {
		opt.configs[0] = (struct run_config){
			num ? (size_t)num : 1000000, vs ? (size_t)vs : 100};
		opt.n_configs = 1;
	} else {
		opt.configs[0] = (struct run_config){1000000, 100};
		opt.configs[1] = (struct run_config){200000, 4096};
		opt.n_configs = 2;
	}
	if (quick) {
		for (int i = 0; i < opt.n_configs && !num; i++)
			opt.configs[i].num /= 10;
		opt.reps = 1;
		opt.sync_num = 200;
	}
	if (reps)
		opt.reps = (int)reps;
	if (snum)
		opt.sync_num = (size_t)snum;
}

int main(int argc, char **argv)
{
	time_t start = time(NULL);
	double t0 = now();
	bool loaded = false;

	parse_args(argc, argv);
	load_start = loadavg1();
	for (int w = W_FILLRANDOM; w < W_COUNT; w++)
		if (w != W_FILLSYNC && on(w))
			loaded = true;
	if (mkdir(opt.base_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "kvbench: mkdir %s: %s\n", opt.base_dir,
			strerror(errno));
		return 1;
	}
	for (int ci = 0; ci < 2; ci++)
		for (int m = 0; m < M_COUNT; m++)
			for (int e = 0; e < MAX_ENGINES; e++)
				for (int r = 0; r < MAX_REPS; r++)
					results[ci][m][e][r] = NAN;

	for (int ci = 0; ci < opt.n_configs; ci++) {
		struct data d;

		data_init(&d, &opt.configs[ci]);
		for (int rep = 0; rep < opt.reps; rep++) {
			fprintf(stderr,
				"kvbench: %zu x %zu B, repetition %d/%d\n",
				d.rc->num, d.rc->value_size, rep + 1, opt.reps);
			for (int k = 0; k < opt.n_engines; k++) {
				int e = (k + rep) % opt.n_engines;

				if (on(W_FILLSEQ))
					run_chain(chain_fillseq, ci, e, rep,
						  &d);
				if (loaded)
					run_chain(chain_loaded, ci, e, rep, &d);
				if (on(W_FILLSYNC))
					run_chain(chain_fillsync, ci, e, rep,
						  &d);
			}
		}
		data_free(&d);
	}

	print_header(argc, argv, start, now() - t0);
	for (int ci = 0; ci < opt.n_configs; ci++) {
		if (opt.markdown)
			print_config_markdown(ci);
		else
			print_config_text(ci);
	}
	return 0;
}
