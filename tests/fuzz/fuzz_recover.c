/*
 * fuzz_recover.c - libFuzzer target for open-time recovery (recover.c,
 * walk.c, hint.c): the input becomes the files of a store directory and
 * the store is opened read-only, then writable, and each time every key
 * is iterated and read, then closed; cask_verify runs over the directory
 * too. Opening may fail (CASK_ECORRUPT, CASK_EVERSION);
 * nothing may crash, hang, leak or read out of bounds.
 *
 * Input: flags u8 | len1 u16le | seg1 | len2 u16le | seg2 | hint of seg1
 *   flags bit 0: write a valid header (id 1) before seg1
 *         bit 1: write a valid header (id 2) before seg2
 *         bit 2: there is a segment 2 (the active one then)
 *         bit 3: there is a hint file for segment 1 (the rest of the input)
 *         bit 4: also a leftover 0000000003.cask.tmp
 * A missing part is empty.
 *
 * Built with -DFUZZ_RECOVER_GEN this file is a program writing the seed
 * corpus from a real store: fuzz_recover_gen DIR.
 */
#define _GNU_SOURCE
#include "cask.h"
#include "record.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void make_dir(void)
{
	const char *base = getenv("TEST_TMPDIR");
	struct stat st;

	if (dir[0])
		return;
	if (!base || !*base)
		base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_recover-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
}

static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d))) {
		char p[1024];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

static void put_file(const char *name, const uint8_t *hdr, size_t hlen,
		     const uint8_t *data, size_t len)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (hlen && write(fd, hdr, hlen) != (ssize_t)hlen) ||
	    (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

/* Take up to a u16le-prefixed part of the input. */
static const uint8_t *take(const uint8_t **p, size_t *left, size_t *len)
{
	const uint8_t *part;

	*len = 0;
	if (*left < 2) {
		*left = 0;
		return *p;
	}
	*len = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
	*p += 2;
	*left -= 2;
	if (*len > *left)
		*len = *left;
	part = *p;
	*p += *len;
	*left -= *len;
	return part;
}

static void exercise(bool read_only)
{
	struct cask_options o;
	struct cask_db *db = NULL;
	struct cask_iter *it = NULL;
	struct cask_iter_options rev = {.reverse = true};

	cask_options_init(&o);
	o.sync_mode = CASK_SYNC_NEVER;
	o.segment_size = 64 * 1024;
	o.merge_dead_ratio = 0;
	o.read_only = read_only;
	o.reserve_bytes = 0; /* no 4 MiB RESERVE per input */
	o.log = quiet;
	if (cask_open(dir, &o, &db))
		return;
	if (cask_iter_new(db, NULL, &it) == 0) {
		for (; cask_iter_valid(it); cask_iter_next(it)) {
			size_t klen, vlen;
			const void *k = cask_iter_key(it, &klen), *v;
			void *copy = NULL;

			cask_iter_value(it, &v, &vlen);
			if (cask_get_alloc(db, k, klen, &copy, &vlen) == 0)
				free(copy);
		}
		cask_iter_free(it);
	}
	if (cask_iter_new(db, &rev, &it) == 0) {
		for (int n = 0; n < 64 && cask_iter_valid(it); n++)
			cask_iter_next(it);
		cask_iter_free(it);
	}
	if (!read_only) { /* a recovered store takes writes */
		cask_put(db, "fuzz", 4, "x", 1);
		cask_delete(db, "fuzz", 4);
	}
	cask_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h1[SEG_HDR_SIZE], h2[SEG_HDR_SIZE];
	const uint8_t *p = data, *seg1, *seg2;
	size_t left = size, len1, len2;
	struct cask_verify_result vr;
	uint8_t flags;

	if (size < 1)
		return 0;
	make_dir();
	clear_dir();
	flags = *p++;
	left--;
	seg1 = take(&p, &left, &len1);
	seg2 = take(&p, &left, &len2);
	seg_header_encode(h1, 1);
	seg_header_encode(h2, 2);
	put_file("0000000001.cask", h1, (flags & 1) ? SEG_HDR_SIZE : 0, seg1,
		 len1);
	if (flags & 4)
		put_file("0000000002.cask", h2, (flags & 2) ? SEG_HDR_SIZE : 0,
			 seg2, len2);
	if (flags & 8)
		put_file("0000000001.hint", NULL, 0, p, left);
	if (flags & 16)
		put_file("0000000003.cask.tmp", NULL, 0, seg2, len2);
	cask_verify(dir, NULL, &vr);
	exercise(true);
	exercise(false);
	return 0;
}

#ifdef FUZZ_RECOVER_GEN
#include "codec.h"
#include "crc32c.h"

/* Seed corpus: real stores (one segment, a sealed one with its hint and an
 * active one, batches, deletes, a torn tail), in the input format above. */
static uint8_t *slurp(const char *d, const char *name, size_t *len)
{
	char p[1024];
	FILE *f;
	static uint8_t buf[1 << 20];

	snprintf(p, sizeof(p), "%s/%s", d, name);
	f = fopen(p, "rb");
	*len = 0;
	if (!f)
		return buf;
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

static void emit(const char *out, const char *name, uint8_t flags,
		 const uint8_t *s1, size_t l1, const uint8_t *s2, size_t l2,
		 const uint8_t *hint, size_t lh)
{
	char p[1024];
	FILE *f;
	uint8_t b[2];

	snprintf(p, sizeof(p), "%s/%s", out, name);
	f = fopen(p, "wb");
	if (!f)
		abort();
	fputc(flags, f);
	b[0] = (uint8_t)l1;
	b[1] = (uint8_t)(l1 >> 8);
	fwrite(b, 1, 2, f);
	fwrite(s1, 1, l1, f);
	b[0] = (uint8_t)l2;
	b[1] = (uint8_t)(l2 >> 8);
	fwrite(b, 1, 2, f);
	fwrite(s2, 1, l2, f);
	fwrite(hint, 1, lh, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct cask_options o;
	struct cask_db *db;
	struct cask_batch *b;
	char d[] = "/tmp/fuzz_recover_gen-XXXXXX";
	static uint8_t s1[65536], s2[65536], hint[65536];
	size_t l1, l2, lh;
	const uint8_t *x;

	if (argc != 2 || !mkdtemp(d))
		return 2;
	cask_options_init(&o);
	o.sync_mode = CASK_SYNC_NEVER;
	o.segment_size = 4096;
	o.merge_dead_ratio = 0;
	o.log = quiet;
	if (cask_open(d, &o, &db))
		return 1;
	cask_put(db, "a", 1, "one", 3);
	cask_put(db, "b", 1, "two", 3);
	cask_put_ttl(db, "t", 1, "ttl", 3, 100000000);
	cask_delete(db, "a", 1);
	cask_batch_new(db, &b);
	cask_batch_put(b, "c", 1, "three", 5);
	cask_batch_delete(b, "b", 1);
	cask_batch_put(b, "d", 1, "", 0);
	cask_batch_commit(b, 0);
	cask_batch_free(b);
	cask_close(db);
	x = slurp(d, "0000000001.cask", &l1);
	memcpy(s1, x + SEG_HDR_SIZE, l1 - SEG_HDR_SIZE);
	l1 -= SEG_HDR_SIZE;
	emit(argv[1], "one-segment", 1, s1, l1, NULL, 0, NULL, 0);
	emit(argv[1], "torn-tail", 1, s1, l1 - 7, NULL, 0, NULL, 0);
	emit(argv[1], "raw-no-header", 0, s1, l1, NULL, 0, NULL, 0);

	/* Fill a segment so it is sealed and gets a hint, then more. */
	if (cask_open(d, &o, &db))
		return 1;
	for (int i = 0; i < 40; i++) {
		char k[16], v[100];

		snprintf(k, sizeof(k), "key%02d", i % 25);
		memset(v, 'a' + i % 26, sizeof(v));
		cask_put(db, k, strlen(k), v, 20 + (size_t)i * 2);
	}
	{
		struct cask_merge_options mo = {.all = true, .wait = true};

		cask_merge(db, &mo);
	}
	cask_put(db, "after", 5, "merge", 5);
	cask_close(db);
	{
		/* The lowest segment with a hint becomes "1", the newest
		 * segment without one "2". */
		DIR *dd = opendir(d);
		struct dirent *e;
		unsigned lo = 0, hi = 0;
		char n1[64], n2[64], nh[64];

		while ((e = readdir(dd))) {
			unsigned id;
			char ext[16];

			if (sscanf(e->d_name, "%10u.%15s", &id, ext) != 2)
				continue;
			if (!strcmp(ext, "hint") && (!lo || id < lo))
				lo = id;
			if (!strcmp(ext, "cask") && id > hi)
				hi = id;
		}
		closedir(dd);
		snprintf(n1, sizeof(n1), "%010u.cask", lo);
		snprintf(nh, sizeof(nh), "%010u.hint", lo);
		snprintf(n2, sizeof(n2), "%010u.cask", hi);
		x = slurp(d, n1, &l1);
		memcpy(s1, x + SEG_HDR_SIZE, l1 - SEG_HDR_SIZE);
		l1 -= SEG_HDR_SIZE;
		x = slurp(d, n2, &l2);
		memcpy(s2, x + SEG_HDR_SIZE, l2 - SEG_HDR_SIZE);
		l2 -= SEG_HDR_SIZE;
		x = slurp(d, nh, &lh);
		memcpy(hint, x, lh);
		/* The hint names its segment's id: make it 1. */
		if (lh >= 16 + 12) {
			put_le32(hint + 12, 1);
			put_le32(hint + lh - 4, crc32c(0, hint, lh - 4));
		}
		emit(argv[1], "sealed-hint-active", 1 | 2 | 4 | 8, s1, l1, s2,
		     l2, hint, lh);
		emit(argv[1], "sealed-noheader-active", 2 | 4, s1, l1, s2, l2,
		     NULL, 0);
		emit(argv[1], "merge-leftover", 1 | 2 | 4 | 16, s1, l1, s2, l2,
		     NULL, 0);
	}
	return 0;
}
#endif
