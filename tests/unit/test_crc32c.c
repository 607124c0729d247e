/*
 * test_crc32c.c - CRC-32C: published check values, every implementation
 * against the portable one, incremental use, concurrent first use.
 *
 * crc32c() picks its implementation once per process, so main() runs the
 * whole group again in a child process per lower implementation
 * (CASK_CRC32C_IMPL=sse4.2, =slice8): every code path the CPU has is
 * tested on one machine. Random buffers come from a fixed, printed seed.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "crc32c.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEED 0x5eed1234cafef00dull

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static int setup_rng(void **state)
{
	(void)state;
	rng_state = SEED;
	return 0;
}

static void *first_use(void *arg)
{
	uint32_t *out = arg;

	*out = crc32c(0, "123456789", 9);
	return NULL;
}

/* Runs first: several threads race to make the first call. */
static void test_crc32c_concurrent_first_use(void **state)
{
	pthread_t t[8];
	uint32_t res[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, first_use, &res[i]), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(res[i], 0xe3069283u);
	}
}

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283u);
}

static void test_crc32c_empty_is_identity(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, NULL, 0), 0);
	assert_int_equal(crc32c_sw(0, NULL, 0), 0);
	assert_int_equal(crc32c(0xdeadbeef, "x", 0), 0xdeadbeef);
	assert_int_equal(crc32c_sw(0xdeadbeef, "x", 0), 0xdeadbeef);
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_crc32c_rfc3720_vectors(void **state)
{
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
		0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t b[32];

	(void)state;
	memset(b, 0, sizeof(b));
	assert_int_equal(crc32c(0, b, 32), 0x8a9136aau);
	assert_int_equal(crc32c_sw(0, b, 32), 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(crc32c(0, b, 32), 0x62a8ab43u);
	assert_int_equal(crc32c_sw(0, b, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, b, 32), 0x46dd794eu);
	assert_int_equal(crc32c_sw(0, b, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, b, 32), 0x113fdb5cu);
	assert_int_equal(crc32c_sw(0, b, 32), 0x113fdb5cu);
	assert_int_equal(crc32c(0, pdu, sizeof(pdu)), 0xd9963a56u);
	assert_int_equal(crc32c_sw(0, pdu, sizeof(pdu)), 0xd9963a56u);
}

/* Reference: one bit at a time, straight from the definition. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c_sw_matches_bitwise(void **state)
{
	uint8_t buf[600];

	(void)state;
	fill_random(buf, sizeof(buf));
	for (size_t len = 0; len <= 512; len++) {
		size_t off = (size_t)(rng() % 64);

		assert_int_equal(crc32c_sw(0, buf + off, len),
				 crc_bitwise(0, buf + off, len));
	}
}

/* Every length 0..300 at random alignments, each with a fresh buffer. */
static void test_crc32c_hw_matches_sw_short(void **state)
{
	uint8_t buf[300 + 64];

	(void)state;
	for (size_t len = 0; len <= 300; len++) {
		for (int rep = 0; rep < 8; rep++) {
			size_t off = (size_t)(rng() % 64);
			uint32_t seed = rep & 1 ? (uint32_t)rng() : 0;

			fill_random(buf + off, len);
			assert_int_equal(crc32c(seed, buf + off, len),
					 crc32c_sw(seed, buf + off, len));
		}
	}
}

/* Lengths at and around every block boundary of the long-buffer paths. */
static void test_crc32c_hw_matches_sw_long(void **state)
{
	static const size_t base[] = {64,    128,   256,   512,
				      768,   1024,  4096,  8192,
				      24576, 65536, 98304, 1u << 20};
	size_t max = (1u << 20) + 64 + 64;
	uint8_t *buf = malloc(max);

	(void)state;
	assert_non_null(buf);
	fill_random(buf, max);
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		for (size_t d = 0; d < 33; d++) {
			size_t len = base[i] + d - 16;
			size_t off = (size_t)(rng() % 64);

			assert_int_equal(crc32c(0, buf + off, len),
					 crc32c_sw(0, buf + off, len));
		}
	}
	for (int rep = 0; rep < 200; rep++) {
		size_t len = (size_t)(rng() % 200000);
		size_t off = (size_t)(rng() % 64);

		assert_int_equal(crc32c(7, buf + off, len),
				 crc32c_sw(7, buf + off, len));
	}
	free(buf);
}

/* crc32c(crc32c(0, a), b) == crc32c(0, a || b), at every split point. */
static void test_crc32c_incremental_equals_oneshot(void **state)
{
	uint8_t buf[2100];

	(void)state;
	fill_random(buf, sizeof(buf));
	for (size_t len = 0; len <= 300; len += 37) {
		uint32_t whole = crc32c(0, buf, len);

		for (size_t cut = 0; cut <= len; cut++) {
			assert_int_equal(crc32c(crc32c(0, buf, cut), buf + cut,
						len - cut),
					 whole);
			assert_int_equal(crc32c_sw(crc32c_sw(0, buf, cut),
						   buf + cut, len - cut),
					 whole);
		}
	}
	/* Many random pieces of a long buffer. */
	for (int rep = 0; rep < 50; rep++) {
		uint32_t crc = 0;
		size_t pos = 0;

		while (pos < sizeof(buf)) {
			size_t n = (size_t)(rng() % 700);

			if (n > sizeof(buf) - pos)
				n = sizeof(buf) - pos;
			crc = crc32c(crc, buf + pos, n);
			pos += n;
		}
		assert_int_equal(crc, crc32c_sw(0, buf, sizeof(buf)));
	}
}

/* The CRC of a range from the CRCs of two prefixes equals the CRC taken
 * over the range. */
static void test_crc32c_range_from_prefixes(void **state)
{
	uint8_t buf[2100];

	(void)state;
	fill_random(buf, sizeof(buf));
	for (int rep = 0; rep < 500; rep++) {
		size_t a = (size_t)(rng() % sizeof(buf));
		size_t b = a + (size_t)(rng() % (sizeof(buf) - a + 1));

		assert_int_equal(crc32c_range(crc32c(0, buf, a),
					      crc32c(0, buf, b),
					      crc32c_shift(b - a)),
				 crc32c(0, buf + a, b - a));
	}
	assert_int_equal(crc32c_range(crc32c(0, buf, 7), crc32c(0, buf, 7),
				      crc32c_shift(0)),
			 0);
}

static void test_crc32c_impl_name(void **state)
{
	const char *name = crc32c_impl();
	const char *cap = getenv("CASK_CRC32C_IMPL");

	(void)state;
	assert_true(strcmp(name, "slice8") == 0 ||
		    strcmp(name, "sse4.2") == 0 ||
		    strcmp(name, "sse4.2+vpclmulqdq") == 0);
	if (cap && strcmp(cap, "slice8") == 0)
		assert_string_equal(name, "slice8");
	if (cap && strcmp(cap, "sse4.2") == 0)
		assert_true(strcmp(name, "sse4.2") == 0 ||
			    strcmp(name, "slice8") == 0);
}

static int run_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_concurrent_first_use),
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_crc32c_empty_is_identity),
		cmocka_unit_test(test_crc32c_rfc3720_vectors),
		cmocka_unit_test_setup(test_crc32c_sw_matches_bitwise,
				       setup_rng),
		cmocka_unit_test_setup(test_crc32c_hw_matches_sw_short,
				       setup_rng),
		cmocka_unit_test_setup(test_crc32c_hw_matches_sw_long,
				       setup_rng),
		cmocka_unit_test_setup(test_crc32c_incremental_equals_oneshot,
				       setup_rng),
		cmocka_unit_test_setup(test_crc32c_range_from_prefixes,
				       setup_rng),
		cmocka_unit_test(test_crc32c_impl_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Run the group again with crc32c() capped at @p impl. */
static int run_capped(char **argv, const char *impl)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		setenv("CASK_CRC32C_IMPL", impl, 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	int failed;

	(void)argc;
	printf("crc32c seed 0x%llx, implementation %s\n",
	       (unsigned long long)SEED, crc32c_impl());
	failed = run_group();
	if (!getenv("CASK_CRC32C_IMPL")) {
		failed += run_capped(argv, "sse4.2");
		failed += run_capped(argv, "slice8");
	}
	return failed ? 1 : 0;
}
