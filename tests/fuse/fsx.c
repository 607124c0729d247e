/*
 * fsx.c - an fsx-style exerciser: random read / write / truncate / mmap
 * read / mmap write (shared writable mapping + msync) / fallocate (mode 0
 * and PUNCH_HOLE|KEEP_SIZE) / fsync / close+reopen operations on one file,
 * each checked against an in-memory copy of what the file must hold (reads
 * compare bytes, the size is compared with fstat after every operation,
 * the whole file is compared at every reopen and at the end).
 *
 *   fsx [-N ops] [-S seed] [-l maxlen] [-o maxop] [-v] [-c] [-X ops] FILE
 *
 * -v logs every operation to stderr; -c compares the whole file after
 * every operation (slow; to find the first bad one); -X op,op,... leaves
 * those operations out (to narrow a failure down).
 *
 * FSX_SEED and FSX_OPS in the environment override the defaults (the
 * options override both). Prints the seed first so that a failure can be
 * replayed; on a mismatch prints the differing bytes and the last
 * operations, and exits 1. Compiled by test_fsx.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

enum op {
	OP_READ,
	OP_WRITE,
	OP_TRUNCATE,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_FALLOC,
	OP_PUNCH,
	OP_FSYNC,
	OP_REOPEN,
	OP_COUNT
};

static const char *op_names[OP_COUNT] = {
	"read",	     "write", "truncate", "mapread", "mapwrite",
	"fallocate", "punch", "fsync",	  "reopen",
};

/* Relative frequency of each operation (-X sets some to 0). */
static int op_weight[OP_COUNT] = {
	[OP_READ] = 20,	   [OP_WRITE] = 24,    [OP_TRUNCATE] = 6,
	[OP_MAPREAD] = 10, [OP_MAPWRITE] = 10, [OP_FALLOC] = 5,
	[OP_PUNCH] = 6,	   [OP_FSYNC] = 3,     [OP_REOPEN] = 3,
};

struct logent {
	long n;
	enum op op;
	uint64_t off, len;
	uint64_t size_before, size_after;
};

#define LOG_SIZE 64

static struct logent oplog[LOG_SIZE];
static long opno;
static const char *fname;
static int fd = -1;
static unsigned char *good; /* what the file must hold */
static unsigned char *tmp;
static uint64_t file_size;
static uint64_t max_len = 1024 * 1024;
static uint64_t max_op = 64 * 1024;
static long page;
static int verbose;
static int check_all; /* -c: compare the whole file after every operation */
static long counts[OP_COUNT];
static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: reproducible on every libc. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void dump_log(void)
{
	long first = opno - LOG_SIZE + 1;

	if (first < 1)
		first = 1;
	fprintf(stderr, "last operations (n op off len size_before -> "
			"size_after):\n");
	for (long n = first; n <= opno; n++) {
		const struct logent *e = &oplog[n % LOG_SIZE];

		if (e->n != n)
			continue;
		fprintf(stderr,
			"  %6ld %-9s 0x%06" PRIx64 " 0x%05" PRIx64
			"  0x%06" PRIx64 " -> 0x%06" PRIx64 "\n",
			e->n, op_names[e->op], e->off, e->len, e->size_before,
			e->size_after);
	}
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: FAIL at operation %ld: ", opno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_log();
	printf("fsx: FAILED after %ld operations\n", opno);
	exit(1);
}

static void sysfail(const char *what)
{
	fail("%s: %s", what, strerror(errno));
}

/* Compare @p got (file bytes at @p off) with the model; report the first
 * differences. */
static void check_bytes(const unsigned char *got, uint64_t off, uint64_t len,
			const char *what)
{
	uint64_t i, bad = 0, first = 0;

	if (memcmp(got, good + off, len) == 0)
		return;
	for (i = 0; i < len; i++) {
		if (got[i] != good[off + i]) {
			if (!bad)
				first = off + i;
			bad++;
		}
	}
	fprintf(stderr,
		"fsx: %s at 0x%" PRIx64 "+0x%" PRIx64 ": %" PRIu64
		" bytes differ, first at 0x%" PRIx64 " (page offset 0x%" PRIx64
		")\n  offset   good got\n",
		what, off, len, bad, first, first % (uint64_t)page);
	for (i = first - off; i < len && i < first - off + 16; i++)
		fprintf(stderr, "  0x%06" PRIx64 " %02x   %02x\n", off + i,
			good[off + i], got[i]);
	fail("%s returned wrong bytes", what);
}

static void check_size(void)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		sysfail("fstat");
	if ((uint64_t)st.st_size != file_size)
		fail("size: fstat says 0x%jx, expected 0x%" PRIx64,
		     (uintmax_t)st.st_size, file_size);
}

static void pread_all(void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (r < 0)
			sysfail("pread");
		if (r == 0)
			fail("pread: short read at 0x%" PRIx64 " (0x%" PRIx64
			     " of 0x%" PRIx64 " bytes)",
			     off, done, len);
		done += (uint64_t)r;
	}
}

static void pwrite_all(const void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (r < 0)
			sysfail("pwrite");
		done += (uint64_t)r;
	}
}

static void check_whole(const char *what)
{
	pread_all(tmp, file_size, 0);
	check_bytes(tmp, 0, file_size, what);
	/* and nothing past the end */
	if (pread(fd, tmp, 1, (off_t)file_size) != 0)
		fail("%s: a read at the end of file returned data", what);
}

static void fill_random(unsigned char *p, uint64_t len)
{
	/* Bytes that vary with the operation number, never all zero. */
	uint64_t v = rnd();

	for (uint64_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			v = rnd();
		p[i] = (unsigned char)(v >> ((i & 7) * 8)) | 1;
	}
}

static void set_size(uint64_t n)
{
	if (n > file_size)
		memset(good + file_size, 0, n - file_size);
	file_size = n;
}

static void do_open(void)
{
	fd = open(fname, O_RDWR);
	if (fd < 0)
		sysfail("open");
}

static void run_op(enum op op, uint64_t off, uint64_t len)
{
	void *map;
	uint64_t pg_off, map_len;

	switch (op) {
	case OP_READ:
		if (off + len > file_size)
			len = off < file_size ? file_size - off : 0;
		if (!len)
			return;
		pread_all(tmp, len, off);
		check_bytes(tmp, off, len, "read");
		break;
	case OP_WRITE:
		fill_random(good + off, len);
		pwrite_all(good + off, len, off);
		if (off + len > file_size)
			file_size = off + len;
		break;
	case OP_TRUNCATE:
		if (ftruncate(fd, (off_t)off) < 0)
			sysfail("ftruncate");
		if (off < file_size) /* bytes past the new end are gone */
			memset(good + off, 0, file_size - off);
		set_size(off);
		break;
	case OP_MAPREAD:
		if (off + len > file_size)
			len = off < file_size ? file_size - off : 0;
		if (!len)
			return;
		pg_off = off & ~((uint64_t)page - 1);
		map_len = len + (off - pg_off);
		map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd,
			   (off_t)pg_off);
		if (map == MAP_FAILED)
			sysfail("mmap read");
		check_bytes((unsigned char *)map + (off - pg_off), off, len,
			    "mapread");
		if (munmap(map, map_len) < 0)
			sysfail("munmap");
		break;
	case OP_MAPWRITE:
		if (off + len > file_size) {
			/* A mapping cannot extend a file: grow it first. */
			if (ftruncate(fd, (off_t)(off + len)) < 0)
				sysfail("ftruncate (mapwrite)");
			set_size(off + len);
		}
		pg_off = off & ~((uint64_t)page - 1);
		map_len = len + (off - pg_off);
		map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, (off_t)pg_off);
		if (map == MAP_FAILED)
			sysfail("mmap write");
		fill_random(good + off, len);
		memcpy((unsigned char *)map + (off - pg_off), good + off, len);
		if (msync(map, map_len, MS_SYNC) < 0)
			sysfail("msync");
		if (munmap(map, map_len) < 0)
			sysfail("munmap");
		break;
	case OP_FALLOC:
		if (fallocate(fd, 0, (off_t)off, (off_t)len) < 0)
			sysfail("fallocate(0)");
		if (off + len > file_size)
			set_size(off + len);
		break;
	case OP_PUNCH:
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)off, (off_t)len) < 0)
			sysfail("fallocate(PUNCH_HOLE|KEEP_SIZE)");
		if (off < file_size) {
			uint64_t end =
				off + len < file_size ? off + len : file_size;

			memset(good + off, 0, end - off);
		}
		break;
	case OP_FSYNC:
		if (fsync(fd) < 0)
			sysfail("fsync");
		break;
	case OP_REOPEN:
		if (close(fd) < 0)
			sysfail("close");
		do_open();
		check_whole("read of the whole file after reopen");
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	long nops = 10000;
	uint64_t seed;
	const char *e;
	int c, total_weight = 0;
	struct timeval tv;
	double t0, t1;

	gettimeofday(&tv, NULL);
	seed = (uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec ^
	       (uint64_t)getpid();
	seed %= 1000000000u;
	if ((e = getenv("FSX_SEED")) && *e)
		seed = strtoull(e, NULL, 0);
	if ((e = getenv("FSX_OPS")) && *e)
		nops = strtol(e, NULL, 0);
	while ((c = getopt(argc, argv, "N:S:l:o:vcX:")) != -1) {
		switch (c) {
		case 'N':
			nops = strtol(optarg, NULL, 0);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			max_len = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			max_op = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'c':
			check_all = 1;
			break;
		case 'X':
			for (char *sv, *t = strtok_r(optarg, ",", &sv); t;
			     t = strtok_r(NULL, ",", &sv))
				for (int i = 0; i < OP_COUNT; i++)
					if (strcmp(t, op_names[i]) == 0)
						op_weight[i] = 0;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || max_len < 4096 || max_op < 1 ||
	    max_op > max_len) {
	usage:
		fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] "
				"[-o maxop] [-v] [-c] [-X op,...] FILE\n");
		return 2;
	}
	fname = argv[optind];
	page = sysconf(_SC_PAGESIZE);
	rng_state = seed;
	good = calloc(1, max_len);
	tmp = malloc(max_len);
	if (!good || !tmp) {
		perror("fsx: malloc");
		return 2;
	}
	for (int i = 0; i < OP_COUNT; i++)
		total_weight += op_weight[i];

	printf("fsx: seed %" PRIu64
	       ", %ld operations, file length up to %" PRIu64
	       ", operations up to %" PRIu64 " bytes, on %s\n",
	       seed, nops, max_len, max_op, fname);
	fflush(stdout);

	fd = open(fname, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		sysfail("create");
	gettimeofday(&tv, NULL);
	t0 = tv.tv_sec + tv.tv_usec / 1e6;

	for (opno = 1; opno <= nops; opno++) {
		int w = (int)rnd_below((uint64_t)total_weight);
		enum op op = 0;
		uint64_t off, len;
		struct logent *le = &oplog[opno % LOG_SIZE];

		while (w >= op_weight[op])
			w -= op_weight[op++];
		/* Offsets: mostly anywhere below max_len, often near the end
		 * of the file or a chunk boundary, so that edges are hit. */
		switch (rnd_below(4)) {
		case 0:
			off = file_size ? rnd_below(file_size) : 0;
			break;
		case 1: {
			uint64_t b = (rnd_below(max_len / 16384) + 1) * 16384;
			uint64_t d = rnd_below(256);

			off = rnd_below(2) ? b + d : (b > d ? b - d : 0);
			break;
		}
		default:
			off = rnd_below(max_len);
		}
		if (off >= max_len)
			off = max_len - 1;
		len = rnd_below(max_op) + 1;
		if (rnd_below(8) == 0)
			len = rnd_below(64) + 1; /* many tiny ones */
		if (off + len > max_len)
			len = max_len - off;
		if (op == OP_TRUNCATE) {
			off = rnd_below(4) == 0 ? 0 : rnd_below(max_len + 1);
			len = 0;
		}
		if (op == OP_READ || op == OP_MAPREAD) {
			/* Mostly read what exists. */
			if (file_size && rnd_below(8) != 0)
				off = rnd_below(file_size);
		}
		le->n = opno;
		le->op = op;
		le->off = off;
		le->len = len;
		le->size_before = file_size;
		le->size_after = file_size;
		if (verbose)
			fprintf(stderr, "%ld %s 0x%" PRIx64 " 0x%" PRIx64 "\n",
				opno, op_names[op], off, len);
		run_op(op, off, len);
		le->size_after = file_size;
		counts[op]++;
		check_size();
		if (check_all)
			check_whole("read of the whole file");
	}
	opno = nops;
	check_whole("final read of the whole file");
	if (fsync(fd) < 0 || close(fd) < 0)
		sysfail("final fsync/close");
	do_open();
	check_whole("read of the whole file after the final reopen");
	close(fd);

	gettimeofday(&tv, NULL);
	t1 = tv.tv_sec + tv.tv_usec / 1e6;
	printf("fsx: %ld operations passed in %.1f s (", nops, t1 - t0);
	for (int i = 0; i < OP_COUNT; i++)
		printf("%s%s %ld", i ? ", " : "", op_names[i], counts[i]);
	printf("), final size %" PRIu64 "\n", file_size);
	return 0;
}
