/*
 * escape.c - byte-string encodings of the cask tool (escape.h): display
 * escapes (also leaving UTF-8 text as it is), JSON strings (Latin-1 for
 * bytes, UTF-8 for text), and the percent encoding of dump files.
 * Stateless. Decoders reject malformed input (a bad escape, a raw byte
 * that must be escaped) rather than guess.
 */
#include "escape.h"

#include <errno.h>
#include <string.h>

static const char hexl[] = "0123456789abcdef";
static const char hexu[] = "0123456789ABCDEF";

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put(FILE *out, const char *s, size_t n)
{
	return fwrite(s, 1, n, out) == n ? 0 : -(errno ? errno : EIO);
}

int esc_display(FILE *out, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	char tmp[256];
	size_t n = 0;
	int err = 0;

	for (size_t i = 0; i < len && !err; i++) {
		uint8_t b = p[i];

		if (b == '\\') {
			tmp[n++] = '\\';
			tmp[n++] = '\\';
		} else if (b >= 0x20 && b <= 0x7e) {
			tmp[n++] = (char)b;
		} else {
			tmp[n++] = '\\';
			tmp[n++] = 'x';
			tmp[n++] = hexl[b >> 4];
			tmp[n++] = hexl[b & 15];
		}
		if (n > sizeof(tmp) - 4) {
			err = put(out, tmp, n);
			n = 0;
		}
	}
	return err ? err : put(out, tmp, n);
}

long esc_undisplay(const char *in, uint8_t *out)
{
	long n = 0;

	while (*in) {
		int hi, lo;

		if (*in != '\\') {
			out[n++] = (uint8_t)*in++;
			continue;
		}
		switch (in[1]) {
		case '\\':
			out[n++] = '\\';
			in += 2;
			break;
		case 'n':
			out[n++] = '\n';
			in += 2;
			break;
		case 't':
			out[n++] = '\t';
			in += 2;
			break;
		case 'r':
			out[n++] = '\r';
			in += 2;
			break;
		case '0':
			out[n++] = 0;
			in += 2;
			break;
		case 'x':
			hi = hexval(in[2]);
			lo = hi < 0 ? -1 : hexval(in[3]);
			if (lo < 0)
				return -1;
			out[n++] = (uint8_t)(hi << 4 | lo);
			in += 4;
			break;
		default:
			return -1;
		}
	}
	return n;
}

/* A JSON string of @p buf: '"' and '\\' escaped, bytes below 0x20 as
 * \u00XX, and the bytes from 0x7f as themselves (@p raw_high: UTF-8 text)
 * or as \u00XX (a Latin-1 string, one character per byte). */
static int json_string(FILE *out, const void *buf, size_t len, bool raw_high)
{
	const uint8_t *p = buf;
	char tmp[256];
	size_t n = 0;
	int err = 0;

	tmp[n++] = '"';
	for (size_t i = 0; i < len && !err; i++) {
		uint8_t b = p[i];

		if (b == '"' || b == '\\') {
			tmp[n++] = '\\';
			tmp[n++] = (char)b;
		} else if (b >= 0x20 && (b <= 0x7e || raw_high)) {
			tmp[n++] = (char)b;
		} else {
			memcpy(tmp + n, "\\u00", 4);
			n += 4;
			tmp[n++] = hexl[b >> 4];
			tmp[n++] = hexl[b & 15];
		}
		if (n > sizeof(tmp) - 8) {
			err = put(out, tmp, n);
			n = 0;
		}
	}
	tmp[n++] = '"';
	return err ? err : put(out, tmp, n);
}

int esc_json(FILE *out, const void *buf, size_t len)
{
	return json_string(out, buf, len, false);
}

/* Length of the well-formed UTF-8 sequence at @p p (of @p n bytes): 1..4,
 * or 0 for a byte that starts none (a stray continuation, an overlong
 * form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool utf8_valid(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0, n; i < len; i += n)
		if (!(n = utf8_seq(p + i, len - i)))
			return false;
	return true;
}

/* Whether the sequence of @p n bytes at @p p, well-formed, is a character
 * a name shows as itself: not ASCII (esc_display() decides those), not a
 * C1 control (U+0080..U+009F, encoded 0xc2 0x80..0x9f). */
static bool shown_as_is(const uint8_t *p, size_t n)
{
	return n > 1 && !(p[0] == 0xc2 && p[1] < 0xa0);
}

int esc_display_utf8(FILE *out, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i = 0, run = 0;
	int err = 0;

	/* Runs of bytes esc_display() escapes, between characters shown as
	 * they are. */
	while (i < len && !err) {
		size_t n = utf8_seq(p + i, len - i);

		if (!shown_as_is(p + i, n)) {
			i++;
			continue;
		}
		err = esc_display(out, p + run, i - run);
		if (!err)
			err = put(out, (const char *)p + i, n);
		i += n;
		run = i;
	}
	return err ? err : esc_display(out, p + run, len - run);
}

int esc_json_utf8(FILE *out, const void *buf, size_t len)
{
	if (!utf8_valid(buf, len))
		return -EILSEQ;
	return json_string(out, buf, len, true);
}

int json_name(FILE *out, const char *key, const void *buf, size_t len)
{
	bool text = utf8_valid(buf, len);

	if (fprintf(out, "\"%s%s\":", key, text ? "" : "_latin1") < 0)
		return -EIO;
	return text ? esc_json_utf8(out, buf, len) : esc_json(out, buf, len);
}

/* Bytes a dump field holds as themselves. */
static bool dump_plain(uint8_t b)
{
	return b >= 0x21 && b <= 0x7e && b != '%';
}

int dump_encode(FILE *out, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	char tmp[256];
	size_t n = 0;
	int err = 0;

	if (len == 0)
		return put(out, "-", 1);
	if (len == 1 && p[0] == '-')
		return put(out, "%2D", 3);
	for (size_t i = 0; i < len && !err; i++) {
		uint8_t b = p[i];

		if (dump_plain(b)) {
			tmp[n++] = (char)b;
		} else {
			tmp[n++] = '%';
			tmp[n++] = hexu[b >> 4];
			tmp[n++] = hexu[b & 15];
		}
		if (n > sizeof(tmp) - 3) {
			err = put(out, tmp, n);
			n = 0;
		}
	}
	return err ? err : put(out, tmp, n);
}

size_t dump_encoded_max(size_t len)
{
	return len ? 3 * len : 1;
}

long dump_decode(const char *in, size_t n, uint8_t *out)
{
	long len = 0;

	if (n == 0)
		return -1;
	if (n == 1 && in[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)in[i];
		int hi, lo;

		if (b != '%') {
			if (!dump_plain(b))
				return -1;
			out[len++] = b;
			continue;
		}
		if (n - i < 3)
			return -1;
		hi = hexval(in[i + 1]);
		lo = hexval(in[i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		out[len++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return len;
}
