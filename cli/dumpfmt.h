/*
 * dumpfmt.h - the parser of the cask dump format (docs/FORMAT.md, "Dump
 * format"), without a store: cask load feeds it lines and applies the
 * records; tests/fuzz/fuzz_dump.c feeds it arbitrary bytes.
 */
#ifndef CASK_CLI_DUMPFMT_H
#define CASK_CLI_DUMPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DUMP_HEADER "cask-dump 1"

/* What dump_parse_line() found. */
enum dump_kind {
	DUMP_SKIP = 0,	      /* header, comment or empty line */
	DUMP_PUT = 1,	      /* key and value */
	DUMP_DEL = 2,	      /* key */
	DUMP_END = 3,	      /* "end COUNT", COUNT matching */
	DUMP_EHEADER = -1,    /* line 1 is not DUMP_HEADER */
	DUMP_EAFTER_END = -2, /* a record after "end" */
	DUMP_EMALFORMED = -3, /* anything else */
};

/* The parser's state between lines. */
struct dump_parser {
	size_t lineno;	/* lines read */
	uint64_t count; /* put and del records so far */
	bool ended;	/* "end" seen */
};

struct dump_rec {
	const uint8_t *key, *val;
	size_t klen, vlen;
};

/**
 * Parse the next line of a dump: @p line holds @p n bytes without the
 * newline and has a NUL at line[n] (it may be modified); @p buf has room
 * for @p n bytes and receives the decoded key and value that @p rec points
 * to. @return an enum dump_kind (< 0: the dump is malformed at
 * p->lineno).
 */
int dump_parse_line(struct dump_parser *p, char *line, size_t n, uint8_t *buf,
		    struct dump_rec *rec);

/**
 * Parse a whole dump in memory, calling @p cb for each DUMP_PUT and
 * DUMP_DEL record; stops at the first error or non-zero return of @p cb.
 * @return 0 (a complete dump), a dump_kind error, DUMP_EMALFORMED for an
 *   empty or truncated dump (no "end"), -ENOMEM, or @p cb's return.
 */
int dump_parse(const void *data, size_t len,
	       int (*cb)(void *ctx, int kind, const struct dump_rec *rec),
	       void *ctx, struct dump_parser *p);

#endif
