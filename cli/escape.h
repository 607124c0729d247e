/*
 * escape.h - the byte-string encodings of the cask tool: the display escape
 * of keys and values (\xNN, \\), JSON strings that keep every byte, and the
 * percent encoding of the dump format (docs/FORMAT.md, "Dump format").
 * Pure functions, no I/O but the FILE they are given; tested by
 * tests/unit/test_cli_escape.c.
 */
#ifndef CASK_CLI_ESCAPE_H
#define CASK_CLI_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/**
 * Display form: printable ASCII (0x20..0x7e) as itself except backslash,
 * which is "\\"; every other byte (tab and newline included) as "\xNN"
 * (lower-case hex), so the result is one line without tabs.
 * @return 0, or -errno from the stream.
 */
int esc_display(FILE *out, const void *buf, size_t len);

/**
 * Undo esc_display() (also accepts \n, \t, \r, \0). @p in is
 * NUL-terminated; the result, written to @p out (which has room for
 * strlen(in) bytes), may hold any byte.
 * @return the decoded length, or -1 for a malformed escape.
 */
long esc_undisplay(const char *in, uint8_t *out);

/**
 * A JSON string (with its quotes) in which every byte is one character:
 * 0x20..0x7e as itself ('"' and '\\' escaped), every other byte b as
 * \u00XX, so the original bytes are the string encoded as Latin-1.
 */
int esc_json(FILE *out, const void *buf, size_t len);

/** Whether the @p len bytes at @p buf are well-formed UTF-8 (no overlong
 *  forms, surrogates or code points past U+10FFFF). */
bool utf8_valid(const void *buf, size_t len);

/**
 * Display form of a name: as esc_display(), except that each well-formed
 * UTF-8 sequence of a character other than a control (C1) is written as
 * it is, so valid UTF-8 names read as they are and a byte that is not
 * part of one is "\xNN". One line, no tabs.
 * @return 0, or -errno from the stream.
 */
int esc_display_utf8(FILE *out, const void *buf, size_t len);

/**
 * A JSON string (with its quotes) of UTF-8 text: '"', '\\' and the
 * controls below 0x20 escaped, everything else as it is.
 * @return 0; -EILSEQ (nothing written) if @p buf is not well-formed
 *   UTF-8; -errno from the stream.
 */
int esc_json_utf8(FILE *out, const void *buf, size_t len);

/**
 * A JSON member for a name or path of any bytes: "KEY":"TEXT" when they
 * are UTF-8 (esc_json_utf8()), else "KEY_latin1":"..." (esc_json(): each
 * byte one character U+0000..U+00FF). @p key is plain ASCII.
 * @return 0, or -errno from the stream.
 */
int json_name(FILE *out, const char *key, const void *buf, size_t len);

/**
 * Dump field: bytes 0x21..0x7e other than '%' as themselves, every other
 * byte as "%XX" (upper-case hex). An empty field is written "-", and a
 * field that is exactly the one byte '-' is written "%2D".
 */
int dump_encode(FILE *out, const void *buf, size_t len);

/** Length of the longest encoding of @p len bytes (3 per byte, or 1). */
size_t dump_encoded_max(size_t len);

/**
 * Decode a dump field of @p n characters (not NUL-terminated) into
 * @p out, which has room for @p n bytes.
 * @return the decoded length, or -1 if the field is malformed (a '%' not
 *   followed by two hex digits, a byte that would have been encoded, or
 *   an empty field).
 */
long dump_decode(const char *in, size_t n, uint8_t *out);

#endif
