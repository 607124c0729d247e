/*
 * fuzz_dump.c - libFuzzer target for the parser of the cask dump format
 * (what cask load reads; cli/dumpfmt.c, fields decoded by dump_decode
 * in cli/escape.c). Any bytes are parsed as a dump: the parser must
 * accept or reject them, never crash or read outside the input. Every
 * record handed to the callback has a key of 1..CASK_MAX_KEY bytes; each
 * key and value survives dump_encode + dump_decode; and an accepted dump,
 * written again from its records (as cask dump writes them), parses to
 * the same records.
 *
 * The fuzz targets link the library only (cask_static / cask_fuzz), not
 * the cask tool, so the two tool sources the parser needs are compiled
 * into this target by including them (as tests/unit/test_cli_escape.c
 * does).
 */
#define _GNU_SOURCE
#include "../../cli/dumpfmt.c"
#include "../../cli/escape.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct state {
	FILE *out;	/* the records written again as a dump */
	uint64_t hash;	/* of the records, in order */
	uint64_t count; /* records */
	uint8_t *tmp;	/* room to decode one field */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* dump_encode @p n bytes and decode them back; abort unless equal. */
static void roundtrip(const uint8_t *v, size_t n)
{
	char *enc = NULL;
	size_t elen = 0;
	FILE *f = open_memstream(&enc, &elen);
	uint8_t *dec;
	long dlen;

	if (!f || dump_encode(f, v, n) || fclose(f))
		abort();
	if (elen > dump_encoded_max(n) || memchr(enc, ' ', elen) ||
	    memchr(enc, '\n', elen))
		abort();
	dec = malloc(elen ? elen : 1);
	if (!dec)
		abort();
	dlen = dump_decode(enc, elen, dec);
	if (dlen < 0 || (size_t)dlen != n || (n && memcmp(dec, v, n)))
		abort();
	free(dec);
	free(enc);
}

static int on_rec(void *ctx, int kind, const struct dump_rec *r)
{
	struct state *s = ctx;
	uint8_t k = (uint8_t)kind;

	if ((kind != DUMP_PUT && kind != DUMP_DEL) || r->klen == 0 ||
	    r->klen > CASK_MAX_KEY)
		abort();
	roundtrip(r->key, r->klen);
	if (kind == DUMP_PUT)
		roundtrip(r->val, r->vlen);
	s->hash = fnv(s->hash, &k, 1);
	s->hash = fnv(s->hash, &r->klen, sizeof(r->klen));
	s->hash = fnv(s->hash, r->key, r->klen);
	if (kind == DUMP_PUT) {
		s->hash = fnv(s->hash, &r->vlen, sizeof(r->vlen));
		s->hash = fnv(s->hash, r->val, r->vlen);
	}
	s->count++;
	if (s->out) {
		fputs(kind == DUMP_PUT ? "put " : "del ", s->out);
		dump_encode(s->out, r->key, r->klen);
		if (kind == DUMP_PUT) {
			putc(' ', s->out);
			dump_encode(s->out, r->val, r->vlen);
		}
		putc('\n', s->out);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state a = {.hash = 14695981039346656037ull};
	struct state b = {.hash = 14695981039346656037ull};
	struct dump_parser p, q;
	char *again = NULL;
	size_t alen = 0;
	int rc;

	a.out = open_memstream(&again, &alen);
	if (!a.out)
		abort();
	fputs(DUMP_HEADER "\n", a.out);
	rc = dump_parse(data, size, on_rec, &a, &p);
	if (rc > 0 || (rc < 0 && rc != DUMP_EHEADER && rc != DUMP_EAFTER_END &&
		       rc != DUMP_EMALFORMED))
		abort(); /* -ENOMEM is not expected on these sizes */
	if (p.count != a.count)
		abort();
	fprintf(a.out, "end %llu\n", (unsigned long long)a.count);
	if (fclose(a.out))
		abort();
	if (rc == 0) {
		/* Accepted: written again, it parses to the same records. */
		if (!p.ended)
			abort();
		if (dump_parse(again, alen, on_rec, &b, &q) != 0 ||
		    b.count != a.count || b.hash != a.hash)
			abort();
	}
	free(again);
	return 0;
}
