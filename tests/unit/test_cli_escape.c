/*
 * test_cli_escape.c - the byte-string encodings of the cask tool
 * (cli/escape.c): display escapes, Latin-1 JSON strings and the dump
 * field encoding, each round-tripped over every byte value and random data;
 * the UTF-8 forms of names (display as they are, JSON text or _latin1).
 *
 * The tests link cask_static only (not the CLI), so the codec is compiled
 * into this test by including its source.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../cli/escape.c"

#include <errno.h>
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

static void test_escape_utf8_valid(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("abc", 3));
	assert_true(utf8_valid("gr\xc3\xbc\xc3\x9f"
			       "e",
			       6));
	assert_true(utf8_valid("\xe2\x82\xac", 3));	/* U+20AC */
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
	assert_false(utf8_valid("\xff", 1));
	assert_false(utf8_valid("\x80", 1));	     /* stray continuation */
	assert_false(utf8_valid("\xc3", 1));	     /* cut short */
	assert_false(utf8_valid("\xc0\xaf", 2));     /* overlong '/' */
	assert_false(utf8_valid("\xe0\x80\xaf", 3)); /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}

static int display_utf8(FILE *f, const void *buf, size_t len)
{
	return esc_display_utf8(f, buf, len);
}

static void test_escape_display_utf8_examples(void **state)
{
	char *s;

	(void)state;
	/* Valid UTF-8 as it is; controls (C0, DEL, C1), backslash and
	 * bytes of no valid sequence escaped. */
	s = encode(display_utf8,
		   "gr\xc3\xbc\xc3\x9f"
		   "e.txt",
		   11);
	assert_string_equal(s, "gr\xc3\xbc\xc3\x9f"
			       "e.txt");
	free(s);
	s = encode(display_utf8, "a\tb\\\x7f\xc2\x85\xc3\xff\xe2\x82\xac", 12);
	assert_string_equal(s,
			    "a\\x09b\\\\\\x7f\\xc2\\x85\\xc3\\xff\xe2\x82\xac");
	free(s);
}

static void test_escape_json_utf8_examples(void **state)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f;

	(void)state;
	s = encode(esc_json_utf8, "\"gr\xc3\xbc\\\n\x7f", 8);
	assert_string_equal(s, "\"\\\"gr\xc3\xbc\\\\\\u000a\x7f\"");
	free(s);
	f = open_memstream(&s, &n);
	assert_non_null(f);
	assert_int_equal(esc_json_utf8(f, "\xff", 1), -EILSEQ);
	assert_int_equal(json_name(f, "name", "\xc3\xbc", 2), 0);
	assert_int_equal(fputc(' ', f), ' ');
	assert_int_equal(json_name(f, "name", "a\xff", 2), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(
		s, "\"name\":\"\xc3\xbc\" \"name_latin1\":\"a\\u00ff\"");
	free(s);
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
		cmocka_unit_test(test_escape_utf8_valid),
		cmocka_unit_test(test_escape_display_utf8_examples),
		cmocka_unit_test(test_escape_json_utf8_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
