/*
 * cmd_dump.c - cask dump / cask load: every key and value as lines of
 * printable ASCII (docs/FORMAT.md, "Dump format"), for moving data in and
 * out and between format versions. Dump is read-only; load writes in
 * batches of a few MiB, so a failed load leaves a prefix of the dump.
 */
#include "cli.h"
#include "dumpfmt.h"
#include "escape.h"
#include "progress.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD_BATCH_BYTES (8u << 20)

static const char dump_usage[] =
	"usage: cask dump [-q] DIR [-o FILE]\n"
	"Write every key and value to stdout (or FILE) in the cask dump "
	"format:\na line \"" DUMP_HEADER "\", then \"put KEY VALUE\" per key "
	"in key order,\nthen \"end COUNT\". KEY and VALUE are percent-encoded "
	"(bytes 0x21..0x7e\nother than %% as themselves, others as %%XX; an "
	"empty value is \"-\").\nExpiry times are not kept. Opens the store "
	"read-only.\n"
	"  -q, --quiet  no progress line (there is none when stderr is not a\n"
	"               terminal)\n"
	"Exit: 0; 2 usage; 3 store error.\n";

static const char load_usage[] =
	"usage: cask load [--create] [-q] DIR [-i FILE]\n"
	"Read a dump (cask dump) from stdin (or FILE) and store every record "
	"in\nit; existing keys are replaced. DIR must hold a store, unless "
	"--create.\nLines \"del KEY\" delete a key; lines starting with # and "
	"empty lines\nare skipped.\n"
	"  --create     make a new store in DIR when it holds none (DIR is "
	"created\n               if missing)\n"
	"  -q, --quiet  no progress line (there is none when stderr is not a\n"
	"               terminal) and no summary\n"
	"Exit: 0; 2 malformed dump (line number on stderr; what came before "
	"is\nstored); 3 store error (no store, in use, I/O).\n";

static const struct option dump_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"input", required_argument, NULL, 'i'},
	{"create", no_argument, NULL, 'c'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int dump_one(FILE *out, struct cask_iter *it, struct progress *p)
{
	const void *key, *val;
	size_t klen, vlen;
	int err;

	key = cask_iter_key(it, &klen);
	err = cask_iter_value(it, &val, &vlen);
	if (err)
		return err;
	if (fputs("put ", out) < 0)
		return -EIO;
	err = dump_encode(out, key, klen);
	if (!err && putc(' ', out) < 0)
		err = -EIO;
	if (!err)
		err = dump_encode(out, val, vlen);
	if (!err && putc('\n', out) < 0)
		err = -EIO;
	if (!err)
		progress_add(p, klen + vlen, 1);
	return err;
}

int cmd_dump(int argc, char **argv)
{
	const char *path = NULL;
	struct cask_iter *it;
	struct cask_stats st;
	struct progress p;
	struct cask_db *db;
	uint64_t count = 0;
	FILE *out = stdout;
	bool quiet = false;
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "o:qh", dump_opts, NULL)) != -1) {
		if (c == 'o')
			path = optarg;
		else if (c == 'q')
			quiet = true;
		else
			return usage_out(dump_usage, c == 'h');
	}
	if (argc - optind != 1)
		return usage_out(dump_usage, false);
	rc = open_store("dump", argv[optind], true, false, &db);
	if (rc)
		return rc;
	if (path && !(out = fopen(path, "w"))) {
		warnx_("dump", "%s: %s", path, strerror(errno));
		return close_store("dump", argv[optind], db, EXIT_STORE);
	}
	cask_stats(db, &st);
	/* The dump itself on the terminal: no line drawn between its lines. */
	progress_init(&p, "dump", "keys", quiet || (!path && isatty(1)));
	progress_total(&p, 0, st.keys);
	err = cask_iter_new(db, NULL, &it);
	if (!err && fputs(DUMP_HEADER "\n", out) < 0)
		err = -EIO;
	while (!err && cask_iter_valid(it)) {
		err = dump_one(out, it, &p);
		if (err == CASK_ENOTFOUND)
			err = 0; /* removed since the step */
		else if (!err)
			count++;
		if (!err)
			err = cask_iter_next(it);
		if (err == CASK_ENOTFOUND)
			err = 0;
	}
	if (!err && fprintf(out, "end %" PRIu64 "\n", count) < 0)
		err = -EIO;
	if (!err && fflush(out))
		err = -errno;
	if (path && fclose(out) && !err)
		err = -errno;
	progress_done(&p);
	if (err) {
		warnx_("dump", "%s%s%s: %s", argv[optind], path ? " to " : "",
		       path ? path : "", cask_strerror(err));
		rc = EXIT_STORE;
	}
	cask_iter_free(it);
	return close_store("dump", argv[optind], db, rc);
}

struct loader {
	struct cask_batch *b;
	size_t bytes;
};

static int flush(struct loader *l)
{
	int err = cask_batch_count(l->b) ? cask_batch_commit(l->b, 0) : 0;

	l->bytes = 0;
	return err;
}

/* Apply one parsed record (dumpfmt.h). @return 0 or a libcask error. */
static int load_rec(struct loader *l, int kind, const struct dump_rec *r)
{
	l->bytes += r->klen + r->vlen;
	if (kind == DUMP_PUT)
		return cask_batch_put(l->b, r->key, r->klen, r->val, r->vlen);
	return cask_batch_delete(l->b, r->key, r->klen);
}

int cmd_load(int argc, char **argv)
{
	struct dump_parser p = {0};
	struct loader l = {0};
	struct progress pr;
	struct stat st;
	const char *path = NULL;
	char *line = NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, bufcap = 0;
	struct cask_db *db;
	FILE *in = stdin;
	ssize_t n;
	bool create = false, quiet = false;
	int c, rc, err = 0;

	while ((c = getopt_long(argc, argv, "i:qh", dump_opts, NULL)) != -1) {
		if (c == 'i')
			path = optarg;
		else if (c == 'c')
			create = true;
		else if (c == 'q')
			quiet = true;
		else
			return usage_out(load_usage, c == 'h');
	}
	if (argc - optind != 1)
		return usage_out(load_usage, false);
	if (path && !(in = fopen(path, "r"))) {
		warnx_("load", "%s: %s", path, strerror(errno));
		return EXIT_STORE;
	}
	rc = open_store("load", argv[optind], false, create, &db);
	if (rc) {
		if (path)
			fclose(in);
		return rc;
	}
	progress_init(&pr, "load", "records", quiet);
	/* Input from a file (or a pipe: no total) is measured in its bytes. */
	if (!fstat(fileno(in), &st) && S_ISREG(st.st_mode))
		progress_total(&pr, (uint64_t)st.st_size, 0);
	err = cask_batch_new(db, &l.b);
	while (!err && !rc && (n = getline(&line, &cap, in)) > 0) {
		struct dump_rec rec;
		int kind;

		progress_add(&pr, (uint64_t)n, 0);
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if ((size_t)n > bufcap) {
			free(buf);
			bufcap = (size_t)n;
			buf = malloc(bufcap);
			if (!buf) {
				err = -ENOMEM;
				break;
			}
		}
		kind = dump_parse_line(&p, line, (size_t)n, buf, &rec);
		if (kind == DUMP_EHEADER) {
			warnx_("load", "line 1: not a cask dump (expected "
				       "\"" DUMP_HEADER "\")");
			rc = EXIT_USAGE;
		} else if (kind == DUMP_EAFTER_END) {
			warnx_("load", "line %zu: data after \"end\"",
			       p.lineno);
			rc = EXIT_USAGE;
		} else if (kind == DUMP_EMALFORMED) {
			warnx_("load", "line %zu: malformed record", p.lineno);
			rc = EXIT_USAGE;
		} else if (kind == DUMP_PUT || kind == DUMP_DEL) {
			err = load_rec(&l, kind, &rec);
			progress_add(&pr, 0, 1);
			if (!err && l.bytes >= LOAD_BATCH_BYTES)
				err = flush(&l);
		}
	}
	if (!err && ferror(in))
		err = -EIO;
	if (!err && !rc && p.lineno == 0) {
		warnx_("load", "empty input: not a cask dump");
		rc = EXIT_USAGE;
	}
	if (!err && !rc && !p.ended) {
		warnx_("load", "no \"end\" line: the dump is truncated (the "
			       "records read were stored)");
		rc = EXIT_USAGE;
	}
	/* What was read before a malformed line is stored, as documented. */
	if (!err && l.b)
		err = flush(&l);
	progress_done(&pr);
	if (err) {
		warnx_("load", "%s: %s", argv[optind], cask_strerror(err));
		rc = EXIT_STORE;
	}
	if (!rc && !quiet)
		fprintf(stderr, "%s: loaded %" PRIu64 " records\n",
			argv[optind], p.count);
	cask_batch_free(l.b);
	free(buf);
	free(line);
	if (path)
		fclose(in);
	return close_store("load", argv[optind], db, rc);
}
