/*
 * fsbench_io.c - the small-file loops of bench/fsbench.sh, timed inside
 * the process so that no fork/exec per file hides the filesystem's cost.
 *
 *   fsbench_io create DIR NDIRS NFILES SIZE   mkdir DIR/dNN, write NFILES
 *                                              files of SIZE bytes in them
 *   fsbench_io stat   DIR NDIRS NFILES         lstat every file
 *   fsbench_io read   DIR NDIRS NFILES SIZE    open, read to EOF, close
 *   fsbench_io rename-files DIR NDIRS NFILES   rename every file to a new
 *                                              name in its directory
 *   fsbench_io unlink DIR NDIRS NFILES         unlink every file (under the
 *                                              name rename-files gave it),
 *                                              rmdir dirs
 *   fsbench_io rename FROM TO                  one rename(2)
 *   fsbench_io noop   FILE N                   N lgetxattr(FILE) of a missing
 *                                              attribute: the request floor
 *                                              (N a multiple of 1000)
 *   fsbench_io par create|stat|read DIR NPROC NDIRS NFILES [SIZE]
 *                                              NPROC processes at once, each
 *                                              doing that command in its own
 *                                              DIR/pK (K = 0..NPROC-1)
 *   fsbench_io fsync-files DIR NTHREADS NFILES SIZE
 *                                              NTHREADS threads at once, each
 *                                              creating NFILES files of SIZE
 *                                              bytes in its own DIR/tK, each
 *                                              file written, fsynced, closed
 *
 * Files are spread evenly over the NDIRS directories (DIR/d007/f0001234,
 * renamed to DIR/d007/r0001234). Each command prints the elapsed wall time
 * in seconds (CLOCK_MONOTONIC, setup excluded) on stdout, noop the
 * microseconds per call (median of batches of 1000), and exits non-zero at
 * the first failure, naming the call and the path. par and fsync-files
 * start the clock once every process or thread is ready and stop it when
 * the last one is done. Self-contained (no libcask): the script compiles it
 * with plain cc -pthread when no build tree has it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fsbench_util.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fsbench_io: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void dir_path(char *buf, size_t n, const char *dir, long d)
{
	snprintf(buf, n, "%s/d%03ld", dir, d);
}

/* File i, named 'f' as created or 'r' after rename-files. */
static void file_path(char *buf, size_t n, const char *dir, long ndirs, long i,
		      char name)
{
	snprintf(buf, n, "%s/d%03ld/%c%07ld", dir, i % ndirs, name, i);
}

/* lgetxattr() of an attribute @p file does not have; ENODATA expected. */
static void ask_missing_xattr(const char *file)
{
	char v[16];

	if (lgetxattr(file, "user.fsbench.none", v, sizeof(v)) >= 0)
		errno = EEXIST;
	if (errno != ENODATA)
		die("lgetxattr (expected ENODATA)", file);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Microseconds per ask_missing_xattr(): @p n calls in batches of NOOP_BATCH,
 * the median batch. On a FUSE mount each call is one GETXATTR request that
 * the daemon answers at once (the dentry is cached by the untimed first
 * call), so this is the cost of a round trip through /dev/fuse; natively it
 * is one cheap syscall. Any answer but ENODATA (say ENOTSUP, when the kernel
 * no longer asks the daemon) would not measure that, so it is a failure. The
 * median, not the mean: on a shared VM a round trip takes 3 to 90 µs from
 * one batch to the next, and a burst of host noise should not set the floor.
 */
#define NOOP_BATCH 1000
static double noop(const char *file, long n)
{
	long nb = n / NOOP_BATCH;
	double *us = malloc((size_t)nb * sizeof(*us)), t0, median;

	if (!us)
		die("malloc", "");
	ask_missing_xattr(file);
	for (long b = 0; b < nb; b++) {
		t0 = now();
		for (long i = 0; i < NOOP_BATCH; i++)
			ask_missing_xattr(file);
		us[b] = (now() - t0) * 1e6 / NOOP_BATCH;
	}
	qsort(us, (size_t)nb, sizeof(*us), cmp_double);
	median = nb % 2 ? us[nb / 2] : (us[nb / 2 - 1] + us[nb / 2]) / 2;
	free(us);
	return median;
}

/* One small-file run: files 0..nfiles-1 spread over ndirs directories. */
struct run {
	const char *dir;
	long ndirs, nfiles, size;
	bool fsync; /* create: fsync each file before closing it */
	char *buf;  /* at least max(size, 64 KiB) bytes */
};

typedef void (*file_op)(const struct run *r, long i);

/* A buffer for a run of files of @p size bytes (see struct run). */
static char *new_buf(long size)
{
	size_t cap = size > 65536 ? (size_t)size : 65536;
	char *buf = malloc(cap);

	if (!buf)
		die("malloc", "");
	for (size_t i = 0; i < cap; i++)
		buf[i] = (char)(i * 7 + 13);
	return buf;
}

/* @p op on every file, directory by directory, as an unpacker would go. */
static void each_file(const struct run *r, file_op op)
{
	for (long d = 0; d < r->ndirs; d++)
		for (long i = d; i < r->nfiles; i += r->ndirs)
			op(r, i);
}

static void create_one(const struct run *r, long i)
{
	char path[4096];
	int fd;

	file_path(path, sizeof(path), r->dir, r->ndirs, i, 'f');
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		die("open", path);
	r->buf[0] = (char)i; /* contents differ per file */
	if (write(fd, r->buf, (size_t)r->size) != r->size)
		die("write", path);
	if (r->fsync && fsync(fd) != 0)
		die("fsync", path);
	if (close(fd) != 0)
		die("close", path);
}

static void stat_one(const struct run *r, long i)
{
	char path[4096];
	struct stat st;

	file_path(path, sizeof(path), r->dir, r->ndirs, i, 'f');
	if (lstat(path, &st) != 0)
		die("lstat", path);
}

static void read_one(const struct run *r, long i)
{
	char path[4096];
	ssize_t n, total = 0;
	int fd;

	file_path(path, sizeof(path), r->dir, r->ndirs, i, 'f');
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	while ((n = read(fd, r->buf, 65536)) > 0)
		total += n;
	if (n < 0)
		die("read", path);
	if (total != r->size) {
		errno = EIO;
		die("short file", path);
	}
	close(fd);
}

static void rename_one(const struct run *r, long i)
{
	char from[4096], to[4096];

	file_path(from, sizeof(from), r->dir, r->ndirs, i, 'f');
	file_path(to, sizeof(to), r->dir, r->ndirs, i, 'r');
	if (rename(from, to) != 0)
		die("rename", from);
}

static void unlink_one(const struct run *r, long i)
{
	char path[4096];

	file_path(path, sizeof(path), r->dir, r->ndirs, i, 'r');
	if (unlink(path) != 0)
		die("unlink", path);
}

/* mkdir (@p make) or rmdir every directory. */
static void each_dir(const struct run *r, bool make)
{
	char path[4096];

	for (long d = 0; d < r->ndirs; d++) {
		dir_path(path, sizeof(path), r->dir, d);
		if (make ? mkdir(path, 0755) : rmdir(path))
			die(make ? "mkdir" : "rmdir", path);
	}
}

/* The timed part of a small-file command: the directories are made before
 * create and removed after unlink. */
static void run_files(const struct run *r, file_op op)
{
	if (op == create_one)
		each_dir(r, true);
	each_file(r, op);
	if (op == unlink_one)
		each_dir(r, false);
}

/* @p r with its directory replaced by @p parent/<@p tag><@p k>, made if
 * @p make. */
static struct run sub_run(const struct run *r, char *dir, size_t n, char tag,
			  long k, bool make)
{
	struct run mine = *r;

	snprintf(dir, n, "%s/%c%ld", r->dir, tag, k);
	if (make && mkdir(dir, 0755) != 0)
		die("mkdir", dir);
	mine.dir = dir;
	return mine;
}

/*
 * Seconds for @p nproc processes running @p op at once, each on its own
 * DIR/pK. Each child makes its directory (create), writes a byte to the
 * ready pipe and closes it, then waits for EOF on the go pipe: the clock
 * starts when every child is ready (or one failed before, which EOF on
 * the ready pipe tells) and stops when the last has exited. A failing
 * child names its call on stderr and fails the command.
 */
static double par(const struct run *r, file_op op, long nproc)
{
	int ready[2], go[2], st;
	bool failed = false;
	double t0;
	long k;
	char c;

	if (pipe(ready) != 0 || pipe(go) != 0)
		die("pipe", "");
	for (k = 0; k < nproc; k++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", r->dir);
		if (pid == 0) {
			char dir[4096];
			struct run mine = sub_run(r, dir, sizeof(dir), 'p', k,
						  op == create_one);

			close(ready[0]);
			close(go[1]);
			if (write(ready[1], "", 1) != 1)
				die("write", "(ready pipe)");
			close(ready[1]);
			if (read(go[0], &c, 1) != 0)
				die("read", "(go pipe)");
			run_files(&mine, op);
			exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (k = 0; k < nproc && read(ready[0], &c, 1) == 1; k++)
		;
	failed = k < nproc;
	t0 = now();
	close(go[1]);
	for (k = 0; k < nproc; k++) {
		if (wait(&st) < 0)
			die("wait", "");
		failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	if (failed) {
		fprintf(stderr, "fsbench_io: par: a process failed\n");
		exit(1);
	}
	return now() - t0;
}

struct syncer {
	struct run run; /* its own directory and buffer */
	pthread_t thread;
	pthread_barrier_t *start;
	char dir[4096];
};

static void *sync_files(void *arg)
{
	struct syncer *t = arg;

	pthread_barrier_wait(t->start);
	run_files(&t->run, create_one);
	return NULL;
}

/*
 * Seconds for @p nthreads threads creating their files at once, each in
 * its own DIR/tK, every file fsynced before it is closed: what many
 * synchronous writers ask of a filesystem's group commit.
 */
static double fsync_files(const struct run *r, long nthreads)
{
	struct syncer *t = calloc((size_t)nthreads, sizeof(*t));
	pthread_barrier_t start;
	double t0;

	if (!t)
		die("calloc", "");
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (long k = 0; k < nthreads; k++) {
		t[k].run = sub_run(r, t[k].dir, sizeof(t[k].dir), 't', k, true);
		t[k].run.fsync = true;
		t[k].run.buf = new_buf(r->size);
		t[k].start = &start;
		errno = pthread_create(&t[k].thread, NULL, sync_files, &t[k]);
		if (errno)
			die("pthread_create", "");
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (long k = 0; k < nthreads; k++) {
		pthread_join(t[k].thread, NULL);
		free(t[k].run.buf);
	}
	t0 = now() - t0;
	pthread_barrier_destroy(&start);
	free(t);
	return t0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fsbench_io create|read DIR NDIRS NFILES SIZE\n"
		"       fsbench_io stat|rename-files|unlink DIR NDIRS "
		"NFILES\n"
		"       fsbench_io par NPROC create|read DIR NDIRS NFILES "
		"SIZE\n"
		"       fsbench_io par NPROC stat DIR NDIRS NFILES\n"
		"       fsbench_io fsync-files DIR NTHREADS NFILES SIZE\n"
		"       fsbench_io rename FROM TO\n"
		"       fsbench_io noop FILE N (N a multiple of 1000)\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int argc;
		file_op op;
	} cmds[] = {{"create", 6, create_one},
		    {"stat", 5, stat_one},
		    {"read", 6, read_one},
		    {"rename-files", 5, rename_one},
		    {"unlink", 5, unlink_one}};
	long nproc = 0;
	double t0, t1;

	if (argc == 4 && strcmp(argv[1], "rename") == 0) {
		t0 = now();
		if (rename(argv[2], argv[3]) != 0)
			die("rename", argv[2]);
		t1 = now();
		printf("%.6f\n", t1 - t0);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "noop") == 0) {
		long n = num(argv[3], "N");

		if (n < NOOP_BATCH || n % NOOP_BATCH)
			return usage();
		printf("%.3f\n", noop(argv[2], n));
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "fsync-files") == 0) {
		long nthreads = num(argv[3], "NTHREADS");
		struct run r = {.dir = argv[2],
				.ndirs = 1,
				.nfiles = num(argv[4], "NFILES"),
				.size = num(argv[5], "SIZE")};

		if (nthreads < 1)
			return usage();
		printf("%.6f\n", fsync_files(&r, nthreads));
		return 0;
	}
	if (argc > 3 && strcmp(argv[1], "par") == 0) {
		nproc = num(argv[2], "NPROC");
		if (nproc < 1)
			return usage();
		argc -= 2;
		argv += 2;
	}
	if (argc < 5)
		return usage();

	struct run r = {.dir = argv[2],
			.ndirs = num(argv[3], "NDIRS"),
			.nfiles = num(argv[4], "NFILES"),
			.size = argc > 5 ? num(argv[5], "SIZE") : 0};
	file_op op = NULL;

	for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++)
		if (strcmp(argv[1], cmds[c].name) == 0 && argc == cmds[c].argc)
			op = cmds[c].op;
	if (!op || r.ndirs < 1)
		return usage();
	r.buf = new_buf(r.size);
	if (nproc) {
		t1 = par(&r, op, nproc);
	} else {
		t0 = now();
		run_files(&r, op);
		t1 = now() - t0;
	}
	free(r.buf);
	printf("%.6f\n", t1);
	return 0;
}
