/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the
 * checksum of every record, segment header and hint file (crc32c.h).
 *
 * Three implementations compute the same function; init() takes the best
 * one the CPU has:
 *  - "sse4.2+vpclmulqdq" (x86-64 with AVX-512 VPCLMULQDQ: Ice Lake and
 *    later, Zen 4): from 128 bytes on, carry-less multiplication folds 256
 *    bytes per step; shorter buffers and tails use the crc32 instruction.
 *    ~117 GB/s at 4 KiB..1 MiB on the development machine, faster than
 *    ISA-L's crc32_iscsi at every size measured (bench/crc_bench.c,
 *    docs/BENCHMARKS.md).
 *  - "sse4.2": the x86-64 crc32 instruction, 8 bytes at a time. Buffers of
 *    at least 3 * SHORT_BLOCK bytes are cut into three streams that run in
 *    parallel (the instruction has a latency of 3 cycles and a throughput of
 *    1 per cycle) and are joined by shifting the earlier CRCs over the later
 *    streams with a table-driven multiplication by x^(8n) mod P, as in Mark
 *    Adler's crc32c.c (~30 GB/s against ~11 GB/s for one stream).
 *  - "slice8": portable slicing-by-8 (eight 256-entry tables), ~2 GB/s;
 *    the only one built on other architectures.
 * The environment variable CASK_CRC32C_IMPL caps the choice (init()).
 *
 * Invariants: the tables are written once, by init() under pthread_once,
 * before the implementation pointer is published with a release store;
 * every entry point loads that pointer with acquire and runs init() first if
 * it is still NULL, so no caller ever reads a table that is being built.
 * No lock is taken after the first call.
 */
#define _GNU_SOURCE
#include "crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_HAVE_SSE42 1
#include <immintrin.h>
#endif

#define POLY 0x82f63b78u /* reflected 0x1edc6f41 */

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

static uint32_t slice8[8][256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic(crc_fn) impl;

static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static uint32_t sw_update(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		crc = slice8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w = load_le64(p) ^ crc;

		crc = slice8[7][w & 0xff] ^ slice8[6][(w >> 8) & 0xff] ^
		      slice8[5][(w >> 16) & 0xff] ^
		      slice8[4][(w >> 24) & 0xff] ^
		      slice8[3][(w >> 32) & 0xff] ^
		      slice8[2][(w >> 40) & 0xff] ^
		      slice8[1][(w >> 48) & 0xff] ^ slice8[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = slice8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

static uint32_t crc_slice8(uint32_t crc, const void *buf, size_t len)
{
	return ~sw_update(~crc, buf, len);
}

/* a * b modulo P, both in the reflected representation (x^0 = bit 31). */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, prod = 0;

	for (; m; m >>= 1) {
		if (a & m)
			prod ^= b;
		b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
	}
	return prod;
}

/* x^n modulo P, by square-and-multiply. */
static uint32_t xnmodp(uint64_t n)
{
	uint32_t result = 1u << 31; /* x^0 */
	uint32_t sq = 1u << 30;	    /* x^1 */

	for (; n; n >>= 1) {
		if (n & 1)
			result = multmodp(sq, result);
		sq = multmodp(sq, sq);
	}
	return result;
}

#ifdef CRC_HAVE_SSE42

/*
 * Stream lengths of the three-way split. LONG amortises the two shifts over
 * 24 KiB; SHORT lets buffers from 768 bytes on use all three streams.
 */
#define LONG_BLOCK  8192u
#define SHORT_BLOCK 256u

/* shift_long[k][b]: the byte b at position k of a CRC, times x^(8*LONG). */
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];

static inline uint32_t shift(const uint32_t t[4][256], uint32_t crc)
{
	return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^
	       t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static inline uint32_t
hw_run(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c;
	if (len & 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		crc = _mm_crc32_u32(crc, w);
		p += 4;
	}
	if (len & 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		crc = _mm_crc32_u16(crc, w);
		p += 2;
	}
	if (len & 1)
		crc = _mm_crc32_u8(crc, *p);
	return crc;
}

/*
 * Three streams of @p blk bytes each, while at least 3 * blk remain. The
 * second and third streams start from 0; the CRC of the concatenation is
 * shift(c0) ^ c1, then the same again with c2 (CRCs are linear).
 */
__attribute__((target("sse4.2"))) static inline uint32_t
hw_3way(uint32_t crc, const unsigned char **pp, size_t *lenp, size_t blk,
	const uint32_t t[4][256])
{
	const unsigned char *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * blk) {
		uint64_t c0 = crc, c1 = 0, c2 = 0;
		const unsigned char *end = p + blk;

		do {
			uint64_t w0, w1, w2;

			memcpy(&w0, p, 8);
			memcpy(&w1, p + blk, 8);
			memcpy(&w2, p + 2 * blk, 8);
			c0 = _mm_crc32_u64(c0, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
			p += 8;
		} while (p < end);
		crc = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
		crc = shift(t, crc) ^ (uint32_t)c2;
		p += 2 * blk;
		len -= 3 * blk;
	}
	*pp = p;
	*lenp = len;
	return crc;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	if (len >= 3 * SHORT_BLOCK) {
		/* Aligned loads only pay off where the streams run long. */
		size_t head = (8 - ((uintptr_t)p & 7)) & 7;

		crc = hw_run(crc, p, head);
		p += head;
		len -= head;
		crc = hw_3way(crc, &p, &len, LONG_BLOCK, shift_long);
		crc = hw_3way(crc, &p, &len, SHORT_BLOCK, shift_short);
	}
	return ~hw_run(crc, p, len);
}

/*
 * Carry-less multiplication folding, 256 bytes per step in four 512-bit
 * accumulators (Intel's "Fast CRC Computation Using PCLMULQDQ", in the
 * reflected form used by Linux and ISA-L). Folding a 128-bit lane forward
 * by D bytes multiplies its low half by x^(8D+31) and its high half by
 * x^(8D-33) modulo P (set_fold()). The last 16 bytes of folded state are
 * then run through the crc32 instruction, which does the final reduction,
 * so no Barrett constants are needed.
 */
#define FOLD_STEP 256u
#define FOLD_MIN  128u /* measured: below it one crc32 stream is as fast */

/* Fold distances of the constants in fold_k[]. */
enum {
	F256,
	F128,
	F64,
	F32,
	F16,
	F_COUNT
};
static const unsigned fold_dist[F_COUNT] = {256, 128, 64, 32, 16};

/* (lo, hi) fold constants per distance, built once by init(). */
static uint64_t fold_k[F_COUNT][2];

#define VP_TARGET "sse4.2,pclmul,avx512f,avx512vl,vpclmulqdq"

__attribute__((target(VP_TARGET))) static inline __m128i kvec(int d)
{
	return _mm_set_epi64x((long long)fold_k[d][1], (long long)fold_k[d][0]);
}

/* x folded forward over the bytes of next, xored with them. */
__attribute__((target(VP_TARGET))) static inline __m128i
fold128(__m128i x, __m128i k, __m128i next)
{
	return _mm_ternarylogic_epi64(_mm_clmulepi64_si128(x, k, 0x00),
				      _mm_clmulepi64_si128(x, k, 0x11), next,
				      0x96);
}

/* The same on four lanes at once. */
__attribute__((target(VP_TARGET))) static inline __m512i
fold512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11),
					 next, 0x96);
}

__attribute__((target(VP_TARGET))) static uint32_t
crc_vpclmul(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	if (len >= FOLD_MIN) {
		/* The running CRC is xored into the first 4 data bytes. */
		__m512i z0 = _mm512_xor_si512(
			_mm512_loadu_si512(p),
			_mm512_castsi128_si512(_mm_cvtsi32_si128((int)crc)));
		__m512i k;
		__m128i x0, x1, x2, x3;

		if (len >= FOLD_STEP) {
			__m512i z1 = _mm512_loadu_si512(p + 64);
			__m512i z2 = _mm512_loadu_si512(p + 128);
			__m512i z3 = _mm512_loadu_si512(p + 192);

			k = _mm512_broadcast_i32x4(kvec(F256));
			p += FOLD_STEP;
			len -= FOLD_STEP;
			while (len >= FOLD_STEP) {
				z0 = fold512(z0, k, _mm512_loadu_si512(p));
				z1 = fold512(z1, k, _mm512_loadu_si512(p + 64));
				z2 = fold512(z2, k,
					     _mm512_loadu_si512(p + 128));
				z3 = fold512(z3, k,
					     _mm512_loadu_si512(p + 192));
				p += FOLD_STEP;
				len -= FOLD_STEP;
			}
			/* Reduce as a tree: 4 accumulators to 2 to 1. */
			k = _mm512_broadcast_i32x4(kvec(F128));
			z0 = fold512(z0, k, z2);
			z1 = fold512(z1, k, z3);
			k = _mm512_broadcast_i32x4(kvec(F64));
			z0 = fold512(z0, k, z1);
		} else {
			p += 64;
			len -= 64;
		}
		k = _mm512_broadcast_i32x4(kvec(F64));
		while (len >= 64) {
			z0 = fold512(z0, k, _mm512_loadu_si512(p));
			p += 64;
			len -= 64;
		}
		x0 = _mm512_castsi512_si128(z0);
		x1 = _mm512_extracti32x4_epi32(z0, 1);
		x2 = _mm512_extracti32x4_epi32(z0, 2);
		x3 = _mm512_extracti32x4_epi32(z0, 3);
		x0 = fold128(x0, kvec(F32), x2);
		x1 = fold128(x1, kvec(F32), x3);
		x0 = fold128(x0, kvec(F16), x1);
		while (len >= 16) {
			x0 = fold128(x0, kvec(F16),
				     _mm_loadu_si128((const void *)p));
			p += 16;
			len -= 16;
		}
		crc = (uint32_t)_mm_crc32_u64(0,
					      (uint64_t)_mm_cvtsi128_si64(x0));
		crc = (uint32_t)_mm_crc32_u64(
			crc, (uint64_t)_mm_extract_epi64(x0, 1));
	}
	return ~hw_run(crc, p, len);
}

static void build_shift(uint32_t t[4][256], size_t nbytes)
{
	uint32_t op = xnmodp(8 * (uint64_t)nbytes);

	for (uint32_t b = 0; b < 256; b++)
		for (int k = 0; k < 4; k++)
			t[k][b] = multmodp(op, b << (8 * k));
}

/* Fold constants for a distance of @p nbytes (see crc_vpclmul()). */
static void set_fold(uint64_t k[2], size_t nbytes)
{
	k[0] = xnmodp(8 * (uint64_t)nbytes + 31);
	k[1] = xnmodp(8 * (uint64_t)nbytes - 33);
}

#endif /* CRC_HAVE_SSE42 */

/*
 * The environment variable CASK_CRC32C_IMPL=slice8 or =sse4.2 caps the
 * choice (never raises it past what the CPU has), so that tests and
 * benchmarks can run every implementation on one machine.
 */
static void init(void)
{
	const char *cap = getenv("CASK_CRC32C_IMPL");
	crc_fn chosen = crc_slice8;

	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		slice8[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			slice8[k][n] = slice8[0][slice8[k - 1][n] & 0xff] ^
				       (slice8[k - 1][n] >> 8);
#ifdef CRC_HAVE_SSE42
	__builtin_cpu_init();
	if (cap && strcmp(cap, "slice8") == 0)
		goto out;
	if (__builtin_cpu_supports("sse4.2")) {
		build_shift(shift_long, LONG_BLOCK);
		build_shift(shift_short, SHORT_BLOCK);
		chosen = crc_sse42;
		if (cap && strcmp(cap, "sse4.2") == 0)
			goto out;
		if (__builtin_cpu_supports("pclmul") &&
		    __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512vl") &&
		    __builtin_cpu_supports("vpclmulqdq")) {
			for (int d = 0; d < F_COUNT; d++)
				set_fold(fold_k[d], fold_dist[d]);
			chosen = crc_vpclmul;
		}
	}
out:
#else
	(void)cap;
#endif
	atomic_store_explicit(&impl, chosen, memory_order_release);
}

static inline crc_fn get_impl(void)
{
	crc_fn f = atomic_load_explicit(&impl, memory_order_acquire);

	if (__builtin_expect(f == NULL, 0)) {
		pthread_once(&init_once, init);
		f = atomic_load_explicit(&impl, memory_order_acquire);
	}
	return f;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	return get_impl()(crc, buf, len);
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	get_impl();
	return crc_slice8(crc, buf, len);
}

const char *crc32c_impl(void)
{
	crc_fn f = get_impl();

	if (f == crc_slice8)
		return "slice8";
#ifdef CRC_HAVE_SSE42
	if (f == crc_vpclmul)
		return "sse4.2+vpclmulqdq";
#endif
	return "sse4.2";
}

uint32_t crc32c_shift(uint64_t len)
{
	return xnmodp(8 * len);
}

uint32_t crc32c_range(uint32_t crc_a, uint32_t crc_b, uint32_t shift)
{
	/* crc_b is crc_a carried over the range (multiplied by x^(8 len))
	 * plus the range's own CRC: CRC-32C is linear. */
	return crc_b ^ multmodp(shift, crc_a);
}
