/*
 * dumpfmt.c - the parser of the cask dump format (dumpfmt.h). Pure: no
 * store, no I/O.
 */
#include "dumpfmt.h"
#include "escape.h"

#include <cask.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Split "WORD FIELD [FIELD]" in place. @return number of fields, -1. */
static int split(char *line, size_t n, char *f[3], size_t len[3])
{
	int k = 0;
	size_t i = 0;

	while (i < n && k < 3) {
		size_t j = i;

		while (j < n && line[j] != ' ')
			j++;
		if (j == i)
			return -1; /* two spaces, or a leading one */
		f[k] = line + i;
		len[k++] = j - i;
		i = j < n ? j + 1 : j;
		if (j < n && i == n)
			return -1; /* trailing space */
	}
	return i < n ? -1 : k;
}

/* A decimal count, as parse_u64() of the cask tool. */
static bool parse_count(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

/* One record line. @return DUMP_PUT/DEL/END or DUMP_EMALFORMED. */
static int record(struct dump_parser *p, char *line, size_t n, uint8_t *buf,
		  struct dump_rec *rec)
{
	char *f[3];
	size_t len[3];
	long klen, vlen = 0;
	int k = split(line, n, f, len);
	uint64_t count;

	if (k < 1)
		return DUMP_EMALFORMED;
	if (k == 2 && len[0] == 3 && !memcmp(f[0], "end", 3)) {
		f[1][len[1]] = '\0';
		if (!parse_count(f[1], &count) || count != p->count)
			return DUMP_EMALFORMED;
		p->ended = true;
		return DUMP_END;
	}
	if (k == 3 && len[0] == 3 && !memcmp(f[0], "put", 3)) {
		klen = dump_decode(f[1], len[1], buf);
		if (klen > 0)
			vlen = dump_decode(f[2], len[2], buf + klen);
		if (klen <= 0 || klen > CASK_MAX_KEY || vlen < 0)
			return DUMP_EMALFORMED;
		rec->key = buf;
		rec->klen = (size_t)klen;
		rec->val = buf + klen;
		rec->vlen = (size_t)vlen;
		p->count++;
		return DUMP_PUT;
	}
	if (k == 2 && len[0] == 3 && !memcmp(f[0], "del", 3)) {
		klen = dump_decode(f[1], len[1], buf);
		if (klen <= 0 || klen > CASK_MAX_KEY)
			return DUMP_EMALFORMED;
		rec->key = buf;
		rec->klen = (size_t)klen;
		rec->val = NULL;
		rec->vlen = 0;
		p->count++;
		return DUMP_DEL;
	}
	return DUMP_EMALFORMED;
}

int dump_parse_line(struct dump_parser *p, char *line, size_t n, uint8_t *buf,
		    struct dump_rec *rec)
{
	p->lineno++;
	if (p->lineno == 1)
		return strcmp(line, DUMP_HEADER) ? DUMP_EHEADER : DUMP_SKIP;
	if (n == 0 || line[0] == '#')
		return DUMP_SKIP;
	if (p->ended)
		return DUMP_EAFTER_END;
	return record(p, line, n, buf, rec);
}

int dump_parse(const void *data, size_t len,
	       int (*cb)(void *ctx, int kind, const struct dump_rec *rec),
	       void *ctx, struct dump_parser *p)
{
	const char *s = data, *end = s + len;
	char *line = NULL;
	uint8_t *buf = NULL;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	while (!rc && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		struct dump_rec rec;

		/* A copy of exactly the line, as getline() gives cask load. */
		free(line);
		free(buf);
		line = malloc(n + 1);
		buf = malloc(n ? n : 1);
		if (!line || !buf) {
			rc = -ENOMEM;
			break;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (nl != NULL);
		rc = dump_parse_line(p, line, n, buf, &rec);
		if (rc == DUMP_PUT || rc == DUMP_DEL)
			rc = cb(ctx, rc, &rec);
		else if (rc > 0)
			rc = 0;
	}
	if (!rc && !p->ended)
		rc = DUMP_EMALFORMED; /* empty or truncated */
	free(line);
	free(buf);
	return rc;
}
