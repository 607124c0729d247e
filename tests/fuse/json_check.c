/*
 * json_check.c - a strict JSON (RFC 8259) checker for the tests of the
 * cask tool's --json output, compiled by the test that uses it (a bare
 * Debian root has no python3 or jq). Reads stdin: one JSON value, or with
 * -l one value per line (JSON lines). Strings must be valid UTF-8.
 * Exit 0 if it parses, 1 with the byte offset and what was expected.
 *
 * usage: json_check [-l] < INPUT
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char *p, *end, *start;
static const char *expected;

static bool fail(const char *what)
{
	if (!expected)
		expected = what;
	return false;
}

static void ws(void)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
}

static bool lit(const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - p) < n || memcmp(p, s, n))
		return fail(s);
	p += n;
	return true;
}

static bool hex4(void)
{
	for (int i = 0; i < 4; i++, p++)
		if (p >= end || !strchr("0123456789abcdefABCDEF", *p) || !*p)
			return fail("four hex digits after \\u");
	return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80. */
static bool utf8(void)
{
	unsigned c = *p, cp, n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return fail("valid UTF-8");
	p++;
	for (unsigned i = 0; i < n; i++, p++) {
		if (p >= end || (*p & 0xc0) != 0x80)
			return fail("valid UTF-8");
		cp = cp << 6 | (*p & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return fail("valid UTF-8");
	return true;
}

static bool string(void)
{
	if (!lit("\""))
		return false;
	while (p < end && *p != '"') {
		if (*p < 0x20)
			return fail("no raw control character in a string");
		if (*p == '\\') {
			p++;
			if (p >= end)
				return fail("an escape");
			if (*p == 'u') {
				p++;
				if (!hex4())
					return false;
			} else if (strchr("\"\\/bfnrt", *p) && *p) {
				p++;
			} else {
				return fail("a valid escape");
			}
		} else if (*p >= 0x80) {
			if (!utf8())
				return false;
		} else {
			p++;
		}
	}
	return lit("\"");
}

static bool digits(void)
{
	if (p >= end || *p < '0' || *p > '9')
		return fail("a digit");
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return true;
}

static bool number(void)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (!digits())
		return false;
	if (p < end && *p == '.') {
		p++;
		if (!digits())
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!digits())
			return false;
	}
	return true;
}

static bool value(int depth);

/* The members of an object or the elements of an array, up to @p close. */
static bool members(int depth, char close, bool object)
{
	p++;
	ws();
	if (p < end && *p == close) {
		p++;
		return true;
	}
	for (;;) {
		ws();
		if (object) {
			if (!string())
				return false;
			ws();
			if (!lit(":"))
				return false;
		}
		if (!value(depth + 1))
			return false;
		ws();
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return lit(close == '}' ? "}" : "]");
	}
}

static bool value(int depth)
{
	ws();
	if (depth > 64)
		return fail("less nesting");
	if (p >= end)
		return fail("a value");
	switch (*p) {
	case '{':
		return members(depth, '}', true);
	case '[':
		return members(depth, ']', false);
	case '"':
		return string();
	case 't':
		return lit("true");
	case 'f':
		return lit("false");
	case 'n':
		return lit("null");
	default:
		return number();
	}
}

/* Check [@p s, @p e) holds exactly one value. */
static bool check(const unsigned char *s, const unsigned char *e)
{
	p = s;
	end = e;
	if (!value(0))
		return false;
	ws();
	return p == end || fail("the end after one value");
}

int main(int argc, char **argv)
{
	static unsigned char buf[64 << 20];
	bool lines = argc > 1 && !strcmp(argv[1], "-l");
	size_t n = fread(buf, 1, sizeof(buf), stdin);
	bool ok = true;
	size_t count = 0;

	start = buf;
	if (n == sizeof(buf)) {
		fprintf(stderr, "json_check: input too large\n");
		return 1;
	}
	if (!lines) {
		ok = check(buf, buf + n);
		count = 1;
	} else {
		for (unsigned char *s = buf, *nl; ok && s < buf + n;
		     s = nl + 1) {
			nl = memchr(s, '\n', (size_t)(buf + n - s));
			if (!nl) {
				expected = "a newline at the end of each line";
				p = buf + n;
				ok = false;
				break;
			}
			ok = check(s, nl);
			count++;
		}
		if (count == 0) {
			expected = "at least one line";
			ok = false;
		}
	}
	if (!ok) {
		fprintf(stderr, "json_check: at byte %zu: expected %s\n",
			(size_t)(p - start), expected);
		return 1;
	}
	printf("json_check: %zu value(s) parse\n", count);
	return 0;
}
