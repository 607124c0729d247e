/*
 * fsbench_kvsync.c - the libcask side of bench/fsbench.sh's fdatasync
 * count: the writes of `fsbench_io fsync-files` made with cask_put()
 * directly, so that the fdatasyncs the filesystem costs can be set
 * against those the engine's group commit needs for the same writes.
 *
 *   fsbench_kvsync STORE NTHREADS NPUTS SIZE [PERKEY]
 *
 * Opens (creating) the store in STORE with CASK_SYNC_ALWAYS, starts
 * NTHREADS threads that each put NPUTS values of SIZE bytes under keys of
 * their own (every put durable when it returns), all released at once,
 * and closes the store. PERKEY 2 puts each key twice, first empty, then
 * its value: the two durable answers a file owes through a mount under
 * sync=always (its create, then its fsync'ed content); 1, the default,
 * puts the value only. Prints one line on stdout:
 * the seconds of the puts and the fdatasyncs cask_stats() counted during
 * them ("0.123456 97"). NPUTS 0 measures an open and a close alone. Uses
 * only cask.h, so the script can build it against the libcask.a of any
 * revision (cc -pthread ... libcask.a -lm); exits non-zero naming the call
 * that failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask.h"
#include "fsbench_util.h"

struct putter {
	struct cask_db *db;
	long k, nputs, size, perkey;
	pthread_barrier_t *start;
	pthread_t thread;
	int err;
};

/* One thread's puts: keys t<K>/f<i>, values differing per key. */
static void *put_all(void *arg)
{
	struct putter *p = arg;
	char key[64], *val = malloc((size_t)p->size + 1);

	if (!val) {
		p->err = -ENOMEM;
		return NULL;
	}
	for (long i = 0; i < p->size; i++)
		val[i] = (char)(i * 7 + 13);
	pthread_barrier_wait(p->start);
	for (long i = 0; i < p->nputs && !p->err; i++) {
		int n = snprintf(key, sizeof(key), "t%ld/f%07ld", p->k, i);

		if (p->size > 0)
			val[0] = (char)i;
		if (p->perkey == 2)
			p->err = cask_put(p->db, key, (size_t)n, "", 0);
		if (!p->err)
			p->err = cask_put(p->db, key, (size_t)n, val,
					  (size_t)p->size);
	}
	free(val);
	return NULL;
}

int main(int argc, char **argv)
{
	struct cask_options opts;
	struct cask_stats before, after;
	struct cask_db *db;
	struct putter *p;
	pthread_barrier_t start;
	long nthreads, nputs, size, perkey = 1;
	double t0;
	int err;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: fsbench_kvsync STORE NTHREADS NPUTS "
				"SIZE [PERKEY]\n");
		return 2;
	}
	nthreads = num(argv[2], "NTHREADS");
	nputs = num(argv[3], "NPUTS");
	size = num(argv[4], "SIZE");
	if (argc == 6)
		perkey = num(argv[5], "PERKEY");
	if (nthreads < 1) {
		fprintf(stderr, "fsbench_kvsync: NTHREADS must be >= 1\n");
		return 2;
	}
	if (perkey != 1 && perkey != 2) {
		fprintf(stderr, "fsbench_kvsync: PERKEY must be 1 or 2\n");
		return 2;
	}
	cask_options_init(&opts);
	opts.sync_mode = CASK_SYNC_ALWAYS;
	err = cask_open(argv[1], &opts, &db);
	if (err) {
		fprintf(stderr, "fsbench_kvsync: cask_open %s: %s\n", argv[1],
			cask_strerror(err));
		return 1;
	}
	p = calloc((size_t)nthreads, sizeof(*p));
	if (!p) {
		fprintf(stderr, "fsbench_kvsync: out of memory\n");
		return 1;
	}
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (long k = 0; k < nthreads; k++) {
		p[k] = (struct putter){.db = db,
				       .k = k,
				       .nputs = nputs,
				       .size = size,
				       .perkey = perkey,
				       .start = &start};
		if (pthread_create(&p[k].thread, NULL, put_all, &p[k]) != 0) {
			fprintf(stderr, "fsbench_kvsync: pthread_create\n");
			return 1;
		}
	}
	cask_stats(db, &before);
	pthread_barrier_wait(&start);
	t0 = now();
	for (long k = 0; k < nthreads; k++)
		pthread_join(p[k].thread, NULL);
	t0 = now() - t0;
	cask_stats(db, &after);
	for (long k = 0; k < nthreads; k++) {
		if (p[k].err && !err) {
			fprintf(stderr, "fsbench_kvsync: cask_put: %s\n",
				cask_strerror(p[k].err));
			err = p[k].err;
		}
	}
	printf("%.6f %llu\n", t0,
	       (unsigned long long)(after.syncs - before.syncs));
	pthread_barrier_destroy(&start);
	free(p);
	if (cask_close(db) != 0 || err)
		return 1;
	return 0;
}
