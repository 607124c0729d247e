/*
 * fuzz_record.c - libFuzzer target for the record codec (record.h): the
 * input is read as a segment file the way recovery reads one (segment
 * header, then records: decode header, bounds, CRC, batch accounting as in
 * kv/src/recover.c) and must never crash or read past its end. Every record that passes its CRC
 * must encode back to exactly the bytes it was read from.
 *
 * Built with -DFUZZ_RECORD_GEN this file is instead a program that writes
 * the seed corpus: fuzz_record_gen DIR (tests/fuzz/corpus/record/).
 */
#define _GNU_SOURCE
#include "cask.h"
#include "codec.h"
#include "crc32c.h"
#include "record.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where and why the walk stopped, and what it would have applied. */
struct walk {
	size_t valid_end; /* end of the last applied record or commit */
	uint64_t applied; /* records applied (batches only when committed) */
	int stop;	  /* 0 (end of input), -EAGAIN, CASK_ECORRUPT */
};

static void walk_records(const uint8_t *data, size_t size, size_t off,
			 struct walk *w)
{
	uint64_t pending = 0;

	w->valid_end = off;
	w->applied = 0;
	w->stop = 0;
	while (off < size) {
		struct rec_header h, h2;
		uint8_t hdr[REC_MAX_HDR_SIZE];
		const uint8_t *key, *val;
		size_t hsize;
		int rc = rec_decode_header(data + off, size - off, &h);

		if (rc) {
			if (rc != -EAGAIN && rc != CASK_ECORRUPT)
				abort();
			w->stop = rc;
			return;
		}
		if (rec_size(&h) > size - off) {
			w->stop = -EAGAIN;
			return;
		}
		if (!rec_crc_ok(&h, data + off)) {
			w->stop = CASK_ECORRUPT;
			return;
		}
		hsize = rec_header_size(h.flags);
		key = data + off + hsize;
		val = key + h.klen;

		/* Encoding what was decoded gives back the same bytes. */
		h2 = h;
		h2.crc = 0;
		if (rec_encode(hdr, &h2, key, val) != hsize ||
		    h2.crc != h.crc || memcmp(hdr, data + off, hsize) != 0)
			abort();

		/* Batch accounting as kv/src/recover.c does it. */
		if (h.flags & REC_F_BATCH) {
			pending++;
		} else if (h.type == REC_COMMIT) {
			if (get_le32(val) != pending || pending == 0) {
				w->stop = CASK_ECORRUPT;
				return;
			}
			w->applied += pending;
			pending = 0;
		} else if (pending) {
			/* A batch without its commit, then more records. */
			w->stop = CASK_ECORRUPT;
			return;
		} else {
			w->applied++;
		}
		off += (size_t)rec_size(&h);
		if (!pending)
			w->valid_end = off;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w;
	size_t start = 0;
	uint32_t id;

	/* A segment file when it has a good header; else a bare stream, so
	 * that mutations need not keep the header CRC right. */
	if (size >= SEG_HDR_SIZE) {
		int rc = seg_header_decode(data, &id);

		if (rc == 0)
			start = SEG_HDR_SIZE;
		else if (rc != CASK_ECORRUPT && rc != CASK_EVERSION)
			abort();
	}
	walk_records(data, size, start, &w);
	if (w.valid_end > size || w.valid_end < start)
		abort();
	/* The valid prefix alone must walk to its end with nothing lost. */
	{
		struct walk again;

		walk_records(data, w.valid_end, start, &again);
		if (again.stop != 0 || again.valid_end != w.valid_end ||
		    again.applied != w.applied)
			abort();
	}
	return 0;
}

#ifdef FUZZ_RECORD_GEN
/* Seed corpus generator. */
struct out {
	uint8_t buf[4096];
	size_t len;
	uint64_t seq;
};

static void add(struct out *o, uint8_t type, uint8_t flags, const char *key,
		const void *val, uint32_t vlen, uint64_t expire)
{
	struct rec_header h = {
		.type = type,
		.flags = flags,
		.klen = (uint16_t)(key ? strlen(key) : 0),
		.vlen = vlen,
		.seq = ++o->seq,
		.expire = expire,
	};
	size_t hs = rec_encode(o->buf + o->len, &h, key, val);

	if (h.klen)
		memcpy(o->buf + o->len + hs, key, h.klen);
	if (vlen)
		memcpy(o->buf + o->len + hs + h.klen, val, vlen);
	o->len += (size_t)rec_size(&h);
}

static void commit(struct out *o, uint32_t count)
{
	uint8_t c[4];

	put_le32(c, count);
	add(o, REC_COMMIT, 0, NULL, c, 4, 0);
}

static void save(const char *dir, const char *name, const struct out *o,
		 size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(o->buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const char v100[100] = "a value of one hundred bytes ...";
	struct out o;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	/* A segment: puts, an overwrite, a delete, a put with expiry. */
	memset(&o, 0, sizeof(o));
	seg_header_encode(o.buf, 1);
	o.len = SEG_HDR_SIZE;
	add(&o, REC_PUT, 0, "/", "dir", 3, 0);
	add(&o, REC_PUT, 0, "/etc/app.json", v100, sizeof(v100), 0);
	add(&o, REC_PUT, 0, "/etc/app.json", "{}", 2, 0);
	add(&o, REC_DELETE, 0, "/", NULL, 0, 0);
	add(&o, REC_PUT, REC_F_EXPIRY, "ttl", "x", 1, 1700000000000ull);
	add(&o, REC_PUT, 0, "empty", NULL, 0, 0);
	save(argv[1], "segment-puts", &o, o.len);

	/* A segment with two batches (one with an expiry and a delete). */
	memset(&o, 0, sizeof(o));
	seg_header_encode(o.buf, 2);
	o.len = SEG_HDR_SIZE;
	o.seq = 100;
	add(&o, REC_PUT, REC_F_BATCH, "a", "1", 1, 0);
	add(&o, REC_PUT, REC_F_BATCH, "b", "2", 1, 0);
	add(&o, REC_DELETE, REC_F_BATCH, "c", NULL, 0, 0);
	commit(&o, 3);
	add(&o, REC_PUT, 0, "d", "4", 1, 0);
	add(&o, REC_PUT, REC_F_BATCH | REC_F_EXPIRY, "e", "5", 1, 42);
	commit(&o, 1);
	save(argv[1], "segment-batches", &o, o.len);

	/* The same cut inside its last batch: a torn tail. */
	save(argv[1], "segment-torn-batch", &o, o.len - 30);

	/* A bare record stream, no segment header. */
	memset(&o, 0, sizeof(o));
	add(&o, REC_PUT, 0, "k", v100, sizeof(v100), 0);
	add(&o, REC_DELETE, 0, "k", NULL, 0, 0);
	save(argv[1], "stream", &o, o.len);

	/* An empty segment. */
	memset(&o, 0, sizeof(o));
	seg_header_encode(o.buf, 3);
	save(argv[1], "segment-empty", &o, SEG_HDR_SIZE);
	return 0;
}
#endif
