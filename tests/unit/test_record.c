/*
 * test_record.c - record and segment header codec (record.h): round trips
 * of every type and flag combination, the exact bytes of one record, every
 * class of implausible header rejected, short input reported as -EAGAIN
 * without reading past it, any flipped bit caught, segment header checks.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cask.h"
#include "codec.h"
#include "crc32c.h"
#include "record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A record laid out in a buffer of exactly its size. */
struct built {
	uint8_t *buf;
	size_t len;
	struct rec_header h;
};

static void build(struct built *b, uint8_t type, uint8_t flags, const void *key,
		  uint16_t klen, const void *val, uint32_t vlen, uint64_t seq,
		  uint64_t expire)
{
	uint8_t hdr[REC_MAX_HDR_SIZE];
	size_t hsize;

	memset(&b->h, 0, sizeof(b->h));
	b->h.type = type;
	b->h.flags = flags;
	b->h.klen = klen;
	b->h.vlen = vlen;
	b->h.seq = seq;
	b->h.expire = expire;
	hsize = rec_encode(hdr, &b->h, key, val);
	assert_int_equal(hsize, rec_header_size(flags));
	b->len = hsize + klen + vlen;
	b->buf = malloc(b->len);
	assert_non_null(b->buf);
	memcpy(b->buf, hdr, hsize);
	if (klen)
		memcpy(b->buf + hsize, key, klen);
	if (vlen)
		memcpy(b->buf + hsize + klen, val, vlen);
	assert_int_equal(rec_size(&b->h), b->len);
}

/* Decode @p len bytes of @p src from a heap copy of exactly that size, so
 * that ASan catches any read past them. */
static int decode_exact(const uint8_t *src, size_t len, struct rec_header *h)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, src, len);
	rc = rec_decode_header(copy, len, h);
	free(copy);
	return rc;
}

/* A header with the given fields and a valid CRC over nothing else. */
static void raw_header(uint8_t *buf, uint8_t type, uint8_t flags, uint16_t klen,
		       uint32_t vlen)
{
	memset(buf, 0, REC_MAX_HDR_SIZE);
	buf[4] = type;
	buf[5] = flags;
	put_le16(buf + 6, klen);
	put_le32(buf + 8, vlen);
	put_le64(buf + 12, 42);
}

static void test_record_roundtrip_every_type_and_flags(void **state)
{
	static const uint8_t flag_sets[] = {0, REC_F_EXPIRY, REC_F_BATCH,
					    REC_F_EXPIRY | REC_F_BATCH};
	uint8_t val[100], count[4];

	(void)state;
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 7 + 1);
	put_le32(count, 17);
	for (size_t f = 0; f < sizeof(flag_sets); f++) {
		for (int t = REC_PUT; t <= REC_COMMIT; t++) {
			for (int v = 0; v < 2; v++) {
				uint8_t flags =
					t == REC_COMMIT ? 0 : flag_sets[f];
				const void *key =
					t == REC_COMMIT ? NULL : "key/1";
				uint16_t klen = t == REC_COMMIT ? 0 : 5;
				const void *value =
					t == REC_COMMIT ? count : val;
				uint32_t vlen = t == REC_COMMIT	  ? 4
						: t == REC_DELETE ? 0
						: v		  ? 100
								  : 0;
				uint64_t exp = flags & REC_F_EXPIRY
						       ? 0x0123456789abcdefull
						       : 0;
				struct built b;
				struct rec_header h;

				build(&b, (uint8_t)t, flags, key, klen, value,
				      vlen, 0xfedcba9876543210ull + f, exp);
				assert_int_equal(decode_exact(b.buf, b.len, &h),
						 0);
				assert_int_equal(h.crc, b.h.crc);
				assert_int_equal(h.crc, get_le32(b.buf));
				assert_int_equal(h.type, t);
				assert_int_equal(h.flags, flags);
				assert_int_equal(h.klen, klen);
				assert_int_equal(h.vlen, vlen);
				assert_true(h.seq == 0xfedcba9876543210ull + f);
				assert_true(h.expire == exp);
				assert_int_equal(rec_size(&h), b.len);
				assert_true(rec_crc_ok(&h, b.buf));
				/* The header alone decodes too. */
				assert_int_equal(
					decode_exact(b.buf,
						     rec_header_size(flags),
						     &h),
					0);
				free(b.buf);
			}
		}
	}
}

/* The exact bytes of one record: a change here is a format change. */
static void test_record_encode_layout(void **state)
{
	static const uint8_t want[] = {
		0,    0,    0,	  0,	/* crc, checked below */
		0x01,			/* type PUT */
		0x01,			/* flags EXPIRY */
		0x02, 0x00,		/* klen 2 */
		0x03, 0x00, 0x00, 0x00, /* vlen 3 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seq */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* expire */
		'k',  '1',  'v',  'a',	'l',
	};
	struct built b;

	(void)state;
	build(&b, REC_PUT, REC_F_EXPIRY, "k1", 2, "val", 3,
	      0x0102030405060708ull, 0x8877665544332211ull);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.buf + 4, want + 4, sizeof(want) - 4);
	assert_int_equal(get_le32(b.buf),
			 crc32c(0, want + 4, sizeof(want) - 4));
	free(b.buf);
}

static void test_record_rejects_unknown_type(void **state)
{
	static const uint8_t bad[] = {0, 5, 6, 0x7f, 0x80, 0xff};
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		raw_header(buf, bad[i], 0, 3, 3);
		assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
				 CASK_ECORRUPT);
	}
}

static void test_record_rejects_unknown_flags(void **state)
{
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	(void)state;
	for (unsigned bit = 0; bit < 8; bit++) {
		uint8_t flag = (uint8_t)(1u << bit);

		raw_header(buf, REC_PUT, flag, 3, 3);
		assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
				 (flag & REC_F_ALL) ? 0 : CASK_ECORRUPT);
		raw_header(buf, REC_PUT, (uint8_t)(flag | REC_F_ALL), 3, 3);
		assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
				 (flag & REC_F_ALL) ? 0 : CASK_ECORRUPT);
	}
}

static void test_record_rejects_put_without_key(void **state)
{
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	(void)state;
	raw_header(buf, REC_PUT, 0, 0, 10);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, REC_PUT, 0, 1, 0);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h), 0);
}

static void test_record_rejects_bad_delete(void **state)
{
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	(void)state;
	raw_header(buf, REC_DELETE, 0, 4, 1);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, REC_DELETE, 0, 0, 0);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, REC_DELETE, REC_F_BATCH, 4, 0);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h), 0);
}

/* A record of @p type has no key, no flags and a value of exactly @p vlen
 * bytes: anything else is rejected. */
static void expect_keyless(uint8_t type, uint32_t vlen)
{
	static const uint32_t vlens[] = {0, 1, 3, 4, 5, 7, 8, 9, 0xffffffffu};
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	raw_header(buf, type, 0, 1, vlen);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	for (size_t i = 0; i < sizeof(vlens) / sizeof(vlens[0]); i++) {
		raw_header(buf, type, 0, 0, vlens[i]);
		assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
				 vlens[i] == vlen ? 0 : CASK_ECORRUPT);
	}
	raw_header(buf, type, REC_F_BATCH, 0, vlen);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, type, REC_F_EXPIRY, 0, vlen);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
}

static void test_record_rejects_bad_commit(void **state)
{
	(void)state;
	expect_keyless(REC_COMMIT, REC_COMMIT_VLEN);
}

/* A synced record: no key, no flags, an 8-byte log position naming its
 * segment. */
static void test_record_synced(void **state)
{
	uint8_t buf[REC_SYNCED_SIZE + 4];
	struct rec_header h;

	(void)state;
	rec_encode_synced(buf, 7, 4096);
	assert_int_equal(rec_valid(buf, REC_SYNCED_SIZE, &h), REC_SYNCED_SIZE);
	assert_int_equal(h.type, REC_SYNCED);
	assert_false(rec_is_op(&h));
	assert_int_equal(h.seq, 0);
	assert_int_equal(get_le64(buf + REC_HDR_SIZE), 7ull << 32 | 4096);
	assert_int_equal(rec_synced_off(&h, buf, 7), 4096);
	assert_int_equal(rec_synced_off(&h, buf, 8), 0);
	assert_int_equal(rec_valid(buf, REC_SYNCED_SIZE - 1, &h), 0);
	buf[REC_HDR_SIZE] ^= 1;
	assert_int_equal(rec_valid(buf, REC_SYNCED_SIZE, &h), 0);
	expect_keyless(REC_SYNCED, REC_SYNCED_VLEN);
}

/*
 * Damage whose bytes pass for a header at every 20th offset, each
 * claiming a 32 MiB record: the forward search must not take a 32 MiB
 * CRC at each of them (some 1.6 million: days of CRC), and finds the
 * valid record after them.
 */
static void test_record_resync_costs_one_pass(void **state)
{
	const size_t region = 64u << 20, vlen = 32u << 20;
	size_t end = REC_HDR_SIZE + region + 64;
	uint8_t *buf = calloc(1, end), fake[REC_MAX_HDR_SIZE];
	struct rec_header h = {.type = REC_PUT, .klen = 1, .vlen = 1, .seq = 9};
	size_t good = REC_HDR_SIZE + region;

	(void)state;
	assert_non_null(buf);
	raw_header(fake, REC_PUT, 0, 1, (uint32_t)vlen);
	put_le32(fake, 0x12345678); /* no record's CRC */
	for (size_t o = REC_HDR_SIZE; o + REC_HDR_SIZE <= good;
	     o += REC_HDR_SIZE)
		memcpy(buf + o, fake, REC_HDR_SIZE);
	raw_header(buf, 0xff, 0, 1, 1); /* the damaged record */
	memcpy(buf + good + rec_encode(buf + good, &h, "k", "v"), "kv", 2);
	assert_int_equal(rec_valid(buf + good, end - good, &h),
			 REC_HDR_SIZE + 2);
	assert_int_equal(rec_resync(buf, 0, end), good);
	free(buf);
}

static void test_record_rejects_oversized_value(void **state)
{
	uint8_t buf[REC_MAX_HDR_SIZE];
	struct rec_header h;

	(void)state;
	raw_header(buf, REC_PUT, 0, 1, CASK_MAX_VALUE + 1);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, REC_PUT, 0, 1, 0xffffffffu);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h),
			 CASK_ECORRUPT);
	raw_header(buf, REC_PUT, 0, 1, CASK_MAX_VALUE);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h), 0);
	assert_true(h.vlen == CASK_MAX_VALUE);
	raw_header(buf, REC_PUT, 0, CASK_MAX_KEY, 0);
	assert_int_equal(rec_decode_header(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.klen, CASK_MAX_KEY);
}

static void test_record_short_header_is_eagain(void **state)
{
	struct built b;
	struct rec_header h;

	(void)state;
	build(&b, REC_PUT, 0, "k", 1, "v", 1, 1, 0);
	for (size_t avail = 0; avail < REC_HDR_SIZE; avail++)
		assert_int_equal(decode_exact(b.buf, avail, &h), -EAGAIN);
	assert_int_equal(decode_exact(b.buf, REC_HDR_SIZE, &h), 0);
	free(b.buf);

	build(&b, REC_PUT, REC_F_EXPIRY | REC_F_BATCH, "k", 1, "v", 1, 1, 99);
	for (size_t avail = 0; avail < REC_MAX_HDR_SIZE; avail++)
		assert_int_equal(decode_exact(b.buf, avail, &h), -EAGAIN);
	assert_int_equal(decode_exact(b.buf, REC_MAX_HDR_SIZE, &h), 0);
	assert_true(h.expire == 99);
	free(b.buf);
}

/*
 * Flip each bit of a record in turn; whatever the flip hits, the record
 * must be rejected the way recovery would: implausible header, a size past
 * the bytes there are, or a CRC mismatch.
 */
static void test_record_any_bit_flip_fails(void **state)
{
	static const uint8_t flag_sets[] = {0, REC_F_EXPIRY | REC_F_BATCH};
	uint8_t val[40];

	(void)state;
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 31);
	for (size_t f = 0; f < sizeof(flag_sets); f++) {
		struct built b;

		build(&b, REC_PUT, flag_sets[f], "some/key", 8, val,
		      sizeof(val), 12345, 67890);
		for (size_t bit = 0; bit < b.len * 8; bit++) {
			struct rec_header h;
			int rc;

			b.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			rc = decode_exact(b.buf, b.len, &h);
			if (rc == 0 && rec_size(&h) <= b.len)
				assert_false(rec_crc_ok(&h, b.buf));
			b.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Unflipped, it is still good. */
		{
			struct rec_header h;

			assert_int_equal(decode_exact(b.buf, b.len, &h), 0);
			assert_true(rec_crc_ok(&h, b.buf));
		}
		free(b.buf);
	}
}

static void test_record_seg_header_roundtrip(void **state)
{
	static const uint32_t ids[] = {0, 1, 4242, 0xffffffffu};
	uint8_t buf[SEG_HDR_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint32_t id = 0x55555555;

		memset(buf, 0xaa, sizeof(buf));
		seg_header_encode(buf, ids[i]);
		assert_memory_equal(buf, "CASKSEG1", 8);
		assert_int_equal(get_le32(buf + 8), SEG_VERSION);
		assert_int_equal(get_le32(buf + 12), ids[i]);
		for (int j = 16; j < 28; j++)
			assert_int_equal(buf[j], 0);
		assert_int_equal(get_le32(buf + 28), crc32c(0, buf, 28));
		assert_int_equal(seg_header_decode(buf, &id), 0);
		assert_int_equal(id, ids[i]);
	}
}

static void test_record_seg_header_bad_magic_or_crc(void **state)
{
	uint8_t buf[SEG_HDR_SIZE];
	uint32_t id;

	(void)state;
	/* Wrong magic even with a matching CRC. */
	seg_header_encode(buf, 7);
	memcpy(buf, "CASKSEG2", 8);
	put_le32(buf + 28, crc32c(0, buf, 28));
	assert_int_equal(seg_header_decode(buf, &id), CASK_ECORRUPT);
	/* Any single flipped bit. */
	for (size_t bit = 0; bit < SEG_HDR_SIZE * 8; bit++) {
		seg_header_encode(buf, 7);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(seg_header_decode(buf, &id), CASK_ECORRUPT);
	}
	memset(buf, 0, sizeof(buf));
	assert_int_equal(seg_header_decode(buf, &id), CASK_ECORRUPT);
}

static void test_record_seg_header_other_version(void **state)
{
	uint8_t buf[SEG_HDR_SIZE];
	uint32_t id;

	(void)state;
	seg_header_encode(buf, 7);
	put_le32(buf + 8, SEG_VERSION + 1);
	put_le32(buf + 28, crc32c(0, buf, 28));
	assert_int_equal(seg_header_decode(buf, &id), CASK_EVERSION);
	put_le32(buf + 8, 0);
	put_le32(buf + 28, crc32c(0, buf, 28));
	assert_int_equal(seg_header_decode(buf, &id), CASK_EVERSION);
	/* Every version from the oldest is read. */
	for (uint32_t v = SEG_VERSION_OLDEST; v <= SEG_VERSION; v++) {
		seg_header_encode_version(buf, 7, v);
		assert_int_equal(seg_header_decode(buf, &id), 0);
		assert_int_equal(seg_header_version(buf), v);
	}
	/* Reserved bytes in use: a newer writer. */
	seg_header_encode(buf, 7);
	buf[20] = 1;
	put_le32(buf + 28, crc32c(0, buf, 28));
	assert_int_equal(seg_header_decode(buf, &id), CASK_EVERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_roundtrip_every_type_and_flags),
		cmocka_unit_test(test_record_encode_layout),
		cmocka_unit_test(test_record_rejects_unknown_type),
		cmocka_unit_test(test_record_rejects_unknown_flags),
		cmocka_unit_test(test_record_synced),
		cmocka_unit_test(test_record_resync_costs_one_pass),
		cmocka_unit_test(test_record_rejects_put_without_key),
		cmocka_unit_test(test_record_rejects_bad_delete),
		cmocka_unit_test(test_record_rejects_bad_commit),
		cmocka_unit_test(test_record_rejects_oversized_value),
		cmocka_unit_test(test_record_short_header_is_eagain),
		cmocka_unit_test(test_record_any_bit_flip_fails),
		cmocka_unit_test(test_record_seg_header_roundtrip),
		cmocka_unit_test(test_record_seg_header_bad_magic_or_crc),
		cmocka_unit_test(test_record_seg_header_other_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
