/*
 * crc_bench.c - measures the CRC-32C implementations that could checksum
 * caskfs records: libcask's crc32c() (whichever implementation it picked;
 * run again with CASK_CRC32C_IMPL=sse4.2 for the three-way crc32 path), the
 * crc32 instruction in one plain stream ("hw-1way", defined here), the
 * portable crc32c_sw() ("slice8"), and ISA-L's crc32_iscsi() (Debian
 * libisal-dev; link with -lisal).
 *
 * Each call's result seeds the next call, so a figure is the latency of one
 * checksum as a log scan sees it, not the throughput of independent calls.
 * Every figure is the median of RUNS timed runs of about 20 ms each.
 *
 * Usage: crc_bench [runs [size...]]   (default 7 runs; 20 B .. 1 MiB)
 * CASK_CRC32C_IMPL=sse4.2 or =slice8 caps what crc32c() uses (crc32c.c).
 */
#define _GNU_SOURCE
#include "crc32c.h"

#include <isa-l/crc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_HW1 1
#endif

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);
/*
 * ISA-L takes and returns the raw register (no inversion inside), so the
 * standard CRC is ~crc32_iscsi(buf, len, ~crc); checked in main().
 */
static uint32_t crc_isal(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32_iscsi((unsigned char *)buf, (int)len, ~crc);
}

#ifdef HAVE_HW1
__attribute__((target("sse4.2"))) static uint32_t
crc_hw1(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	crc = (uint32_t)c;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return ~crc;
}
#endif

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static volatile uint32_t sink;

/* Median ns per call of @p f over @p len bytes. */
static double time_fn(crc_fn f, const unsigned char *buf, size_t len, int runs)
{
	double per_call[64];
	uint64_t iters = 1;
	uint32_t crc = 0;

	/* Calibrate to about 20 ms per run. */
	for (;;) {
		double t0 = now_ns();

		for (uint64_t i = 0; i < iters; i++)
			crc = f(crc, buf, len);
		if (now_ns() - t0 > 2e6)
			break;
		iters *= 2;
	}
	iters *= 10;
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();

		for (uint64_t i = 0; i < iters; i++)
			crc = f(crc, buf, len);
		per_call[r] = (now_ns() - t0) / (double)iters;
	}
	sink = crc;
	qsort(per_call, (size_t)runs, sizeof(per_call[0]), cmp_double);
	return per_call[runs / 2];
}

int main(int argc, char **argv)
{
	static const size_t dflt[] = {20, 64, 128, 4096, 65536, 1u << 20};
	size_t sizes[32];
	size_t nsizes = 0;
	struct {
		const char *name;
		crc_fn f;
	} impls[4];
	int nimpl = 0, runs = argc > 1 ? atoi(argv[1]) : 7;
	size_t maxlen = 1u << 20;
	unsigned char *buf = aligned_alloc(64, maxlen);

	for (int i = 2; i < argc && nsizes < 32; i++)
		sizes[nsizes++] = strtoul(argv[i], NULL, 0);
	if (nsizes == 0) {
		for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
			sizes[nsizes++] = dflt[i];
	}
	for (size_t i = 0; i < nsizes; i++) {
		if (sizes[i] > maxlen)
			runs = 0;
	}
	if (runs < 1 || runs > 64 || !buf) {
		fprintf(stderr,
			"usage: crc_bench [runs 1..64 [size <= 1 MiB...]]\n");
		return 2;
	}
	srand(1);
	for (size_t i = 0; i < maxlen; i++)
		buf[i] = (unsigned char)rand();

	impls[nimpl].name = crc32c_impl();
	impls[nimpl++].f = crc32c;
#ifdef HAVE_HW1
	if (__builtin_cpu_supports("sse4.2")) {
		impls[nimpl].name = "hw-1way";
		impls[nimpl++].f = crc_hw1;
	}
#endif
	impls[nimpl].name = "slice8";
	impls[nimpl++].f = crc32c_sw;

	/* Same CRC as ours, including incremental use, or no timing. */
	for (size_t len = 0; len < 300; len++) {
		uint32_t want = crc32c_sw(0, buf + 3, len);
		uint32_t got = crc_isal(0, buf + 3, len);
		uint32_t half = crc_isal(crc_isal(0, buf, len / 2),
					 buf + len / 2, len - len / 2);

		if (got != want || half != crc32c_sw(0, buf, len)) {
			fprintf(stderr, "isa-l disagrees at %zu\n", len);
			return 1;
		}
	}
	impls[nimpl].name = "isa-l";
	impls[nimpl++].f = crc_isal;

	printf("crc32c() uses %s; median of %d runs; each call's result "
	       "seeds the next\n",
	       crc32c_impl(), runs);
	printf("%-8s", "size");
	for (int i = 0; i < nimpl; i++)
		printf(" | %-9s ns  GB/s ", impls[i].name);
	printf("\n");
	for (size_t s = 0; s < nsizes; s++) {
		printf("%-8zu", sizes[s]);
		for (int i = 0; i < nimpl; i++) {
			double ns = time_fn(impls[i].f, buf, sizes[s], runs);

			printf(" | %10.1f %6.2f", ns, sizes[s] / ns);
		}
		printf("\n");
	}
	free(buf);
	return 0;
}
