/*
 * test_cli_escape.c - the byte-string encodings of the cask tool
 * (cli/escape.c): display escapes, Latin-1 JSON strings and the dump
 * field encoding, each round-tripped over every byte value and random data.
 *
 * The tests link cask_static only (not the CLI), so the codec is compiled
 * into this test by including its source.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../cli/escape.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Run @p enc over @p buf into a malloc()ed NUL-terminated string. */
static char *encode(int (*enc)(FILE *, const void *, size_t), const void *buf,
		    size_t len)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	assert_int_equal(enc(f, buf, len), 0);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void all_bytes(uint8_t b[256])
{
	for (int i = 0; i < 256; i++)
		b[i] = (uint8_t)i;
}

static void test_escape_display_examples(void **state)
{
	char *s;

	(void)state;
	s = encode(esc_display, "a b\\c\t\n\xff", 8);
	assert_string_equal(s, "a b\\\\c\\x09\\x0a\\xff");
	free(s);
}

static void test_escape_display_round_trip(void **state)
{
	uint8_t b[256], out[1024];
	char *s;

	(void)state;
	all_bytes(b);
	s = encode(esc_display, b, sizeof(b));
	assert_null(strchr(s, '\n'));
	assert_null(strchr(s, '\t'));
	assert_int_equal(esc_undisplay(s, out), 256);
	assert_memory_equal(out, b, 256);
	free(s);
}

static void test_escape_undisplay_rejects_bad_escapes(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(esc_undisplay("a\\", out), -1);
	assert_int_equal(esc_undisplay("\\xg0", out), -1);
	assert_int_equal(esc_undisplay("\\x0", out), -1);
	assert_int_equal(esc_undisplay("\\q", out), -1);
	assert_int_equal(esc_undisplay("\\n\\0", out), 2);
	assert_int_equal(out[0], '\n');
	assert_int_equal(out[1], 0);
}

static void test_escape_json_examples(void **state)
{
	char *s;

	(void)state;
	s = encode(esc_json, "\"q\\\x01\xe9", 5);
	assert_string_equal(s, "\"\\\"q\\\\\\u0001\\u00e9\"");
	free(s);
	s = encode(esc_json, "", 0);
	assert_string_equal(s, "\"\"");
	free(s);
}

static void test_escape_dump_examples(void **state)
{
	char *s;

	(void)state;
	s = encode(dump_encode, "", 0);
	assert_string_equal(s, "-");
	free(s);
	s = encode(dump_encode, "-", 1);
	assert_string_equal(s, "%2D");
	free(s);
	s = encode(dump_encode, "a-b c%\n", 7);
	assert_string_equal(s, "a-b%20c%25%0A");
	free(s);
}

static void test_escape_dump_round_trip_all_bytes(void **state)
{
	uint8_t b[256], out[256 * 3];
	char *s;

	(void)state;
	all_bytes(b);
	s = encode(dump_encode, b, sizeof(b));
	assert_true(strlen(s) <= dump_encoded_max(256));
	for (const char *p = s; *p; p++)
		assert_true(*p > 0x20 && *p < 0x7f);
	assert_int_equal(dump_decode(s, strlen(s), out), 256);
	assert_memory_equal(out, b, 256);
	free(s);
}

static void test_escape_dump_round_trip_random(void **state)
{
	unsigned seed = (unsigned)time(NULL);
	uint8_t *b = malloc(70000), *out = malloc(70000);

	(void)state;
	print_message("seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)rand() % (round < 100 ? 8 : 70000);
		long got;
		char *s;

		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rand();
		s = encode(dump_encode, b, len);
		got = dump_decode(s, strlen(s), out);
		assert_int_equal(got, (long)len);
		assert_memory_equal(out, b, len);
		free(s);
	}
	free(b);
	free(out);
}

static void test_escape_dump_decode_rejects_malformed(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(dump_decode("", 0, out), -1);
	assert_int_equal(dump_decode("a%", 2, out), -1);
	assert_int_equal(dump_decode("%4", 2, out), -1);
	assert_int_equal(dump_decode("%zz", 3, out), -1);
	assert_int_equal(dump_decode("a b", 3, out), -1);
	assert_int_equal(dump_decode("a\tb", 3, out), -1);
	assert_int_equal(dump_decode("\xc3\xa9", 2, out), -1);
	assert_int_equal(dump_decode("%41%62", 6, out), 2);
	assert_memory_equal(out, "Ab", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_display_examples),
		cmocka_unit_test(test_escape_display_round_trip),
		cmocka_unit_test(test_escape_undisplay_rejects_bad_escapes),
		cmocka_unit_test(test_escape_json_examples),
		cmocka_unit_test(test_escape_dump_examples),
		cmocka_unit_test(test_escape_dump_round_trip_all_bytes),
		cmocka_unit_test(test_escape_dump_round_trip_random),
		cmocka_unit_test(test_escape_dump_decode_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
