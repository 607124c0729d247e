/*
 * cmd_verify.c - cask verify: cask_verify() with one line per problem, and
 * SHA-256 manifests of the data files: printed (--manifest DIR) or checked
 * against a copy (--manifest FILE DIR); the result as lines or one JSON
 * object (--json). Never takes the lock or writes.
 */
#include "cli.h"
#include "escape.h"
#include "manifest.h"
#include "progress.h"

#include <errno.h>
#include <fsck.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char verify_usage[] =
	"usage: cask verify [-q] [--json] DIR\n"
	"       cask verify --manifest DIR > MANIFEST\n"
	"       cask verify --manifest MANIFEST DIR\n"
	"Read every segment and hint file of the store in DIR and check "
	"every\nheader, record CRC, batch and hint entry. Each problem is one "
	"line on\nstdout: FILE:OFFSET: damage|tail|note: DESCRIPTION. A torn "
	"tail of the\nactive segment (an interrupted or in-progress write) is "
	"not damage.\n"
	"When the store holds a caskfs, also runs the checks of cask fsck "
	"(lines\n\"fsck: ...\"), so \"ok\" means the filesystem mounts.\n"
	"  --manifest DIR       also print \"SHA256  FILE\" for every data "
	"file\n"
	"                       (sha256sum format; problems go to stderr)\n"
	"  --manifest FILE DIR  check the copy in DIR against manifest FILE:\n"
	"                       MISSING, EXTRA or MISMATCH lines, then verify\n"
	"                       it. In a live store the active segment grows,\n"
	"                       so check manifests of backup copies.\n"
	"  -q, --quiet          no summary line, no progress line (there is "
	"none\n                       when stderr is not a terminal)\n"
	"  -j, --json           one JSON object on stdout instead of the "
	"lines\n                       and the summary (cask(1) gives its "
	"members)\n"
	"Takes no lock: works while caskfs has the store mounted.\n"
	"Exit: 0 all good; 1 damage, a caskfs problem or manifest mismatch; 2 "
	"usage;\n3 store error (DIR missing or unreadable).\n";

static const struct option verify_opts[] = {
	{"manifest", no_argument, NULL, 'm'},
	{"quiet", no_argument, NULL, 'q'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *kind_name(enum cask_verify_kind k)
{
	return k == CASK_VERIFY_DAMAGE ? "damage"
	       : k == CASK_VERIFY_TAIL ? "tail"
				       : "note";
}

/* Where a verify run reports: problem lines to @p out, or with @p json
 * the members of the "problems" array (@p n so far); its progress line. */
struct vout {
	FILE *out;
	bool json, quiet;
	size_t n;
	struct progress p;
};

static void on_report(void *arg, const char *file, uint64_t off,
		      enum cask_verify_kind kind, const char *msg)
{
	struct vout *v = arg;

	progress_clear();
	if (!v->json) {
		fprintf(v->out, "%s:%" PRIu64 ": %s: %s\n", file, off,
			kind_name(kind), msg);
		return;
	}
	fprintf(v->out, "%s{", v->n++ ? "," : "");
	json_name(v->out, "file", file, strlen(file));
	fprintf(v->out, ",\"offset\":%" PRIu64 ",\"kind\":\"%s\",", off,
		kind_name(kind));
	json_name(v->out, "message", msg, strlen(msg));
	fputc('}', v->out);
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct vout *v = arg;

	/* Called once per segment file. */
	progress_total(&v->p, total, 0);
	progress_add(&v->p, done - v->p.bytes, 1);
}

/* The lines of @p text (each ending in '\n', printable ASCII: fsck
 * escapes the bytes of paths) as the members of a JSON array of strings. */
static void json_lines(const char *text)
{
	const char *nl;
	bool first = true;

	for (; text && (nl = strchr(text, '\n')); text = nl + 1) {
		if (!first)
			putchar(',');
		esc_json(stdout, text, (size_t)(nl - text));
		first = false;
	}
}

/*
 * When @p dir holds a caskfs, check it as cask fsck does (problems to @p
 * v: "fsck: ..." lines, or the "caskfs" member of the JSON object).
 * @return 1 if it does not mount or has problems, or the check could not
 * open the store (said on stderr); 0 if not, or no caskfs.
 */
static int check_fs(const char *dir, struct vout *v)
{
	struct fs_fsck_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *out = v->json ? open_memstream(&text, &len) : v->out;
	int rc;

	rc = out ? fsck_run("verify", dir, false, out,
			    v->json ? "" : "fsck: ", &r)
		 : EXIT_STORE;
	if (v->json && out)
		fclose(out);
	if (rc) {
		/* Said on stderr; the object keeps its members. */
		if (v->json)
			printf(",\"caskfs\":null");
		free(text);
		return 1;
	}
	if (v->json && r.caskfs) {
		printf(",\"caskfs\":{\"mounts\":%s,\"fatal\":%" PRIu64
		       ",\"errors\":%" PRIu64 ",\"notes\":%" PRIu64
		       ",\"problems\":[",
		       r.mounts ? "true" : "false", r.fatal, r.errors, r.notes);
		json_lines(text);
		printf("]}");
	} else if (v->json) {
		printf(",\"caskfs\":null");
	} else if (r.caskfs && !v->quiet) {
		fprintf(stderr,
			"%s: caskfs %s: %" PRIu64 " fatal, %" PRIu64
			" errors (cask fsck DIR names them, --repair "
			"repairs)\n",
			dir,
			!r.mounts	      ? "does NOT mount"
			: r.fatal || r.errors ? "damaged, mounts"
					      : "ok, mounts",
			r.fatal, r.errors);
	}
	free(text);
	return r.caskfs && (!r.mounts || r.fatal || r.errors);
}

/* Print the figures of @p r as the members of verify's JSON object. */
static void json_result(const char *dir, const char *status,
			const struct cask_verify_result *r)
{
	printf("{");
	json_name(stdout, "dir", dir, strlen(dir));
	printf(",\"status\":\"%s\",\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"puts\":%" PRIu64
	       ",\"deletes\":%" PRIu64 ",\"commits\":%" PRIu64
	       ",\"hints\":%" PRIu64 ",\"hint_entries\":%" PRIu64
	       ",\"damaged\":%" PRIu64 ",\"tail_bytes\":%" PRIu64
	       ",\"kept_segments\":%" PRIu64 ",\"kept_bytes\":%" PRIu64,
	       status, r->segments, r->bytes, r->records, r->puts, r->deletes,
	       r->commits, r->hints, r->hint_entries, r->damaged, r->tail_bytes,
	       r->kept_segments, r->kept_bytes);
}

/* Run cask_verify() on @p dir, problems to @p v. @return exit code. */
static int run_verify(const char *dir, struct vout *v)
{
	struct cask_verify_options o = {.report = on_report,
					.report_arg = v,
					.progress = on_progress,
					.progress_arg = v};
	struct cask_verify_result r;
	char *problems = NULL;
	size_t len = 0;
	FILE *text = v->out;
	const char *status;
	int err, fs_bad;

	if (check_store("verify", dir, false))
		return EXIT_STORE;
	if (v->json && !(v->out = open_memstream(&problems, &len)))
		return EXIT_STORE;
	progress_init(&v->p, "verify", "segments", v->quiet);
	err = cask_verify(dir, &o, &r);
	progress_done(&v->p);
	if (v->json)
		fclose(v->out);
	v->out = text;
	if (err && err != CASK_ECORRUPT && r.segments == 0 && r.hints == 0) {
		warnx_("verify", "%s: %s", dir, cask_strerror(err));
		free(problems);
		return EXIT_STORE;
	}
	status = r.damaged		 ? "DAMAGED"
		 : err == CASK_ENOTSTORE ? "NOT A STORE"
					 : "ok";
	if (v->json) {
		json_result(dir, status, &r);
		printf(",\"problems\":[%s]", problems ? problems : "");
	} else if (!v->quiet) {
		fprintf(stderr,
			"%s: %s: %" PRIu64 " segments (%" PRIu64
			" bytes), %" PRIu64 " records (%" PRIu64
			" puts, %" PRIu64 " deletes, %" PRIu64
			" commits), %" PRIu64 " hints (%" PRIu64
			" entries), %" PRIu64 " damaged, %" PRIu64
			" tail bytes\n",
			dir, status, r.segments, r.bytes, r.records, r.puts,
			r.deletes, r.commits, r.hints, r.hint_entries,
			r.damaged, r.tail_bytes);
		if (r.kept_segments)
			fprintf(stderr,
				"%s: %" PRIu64 " segments (%" PRIu64
				" bytes) not read: merge inputs kept for a "
				"copy, not part of the store (cask kept lists "
				"them)\n",
				dir, r.kept_segments, r.kept_bytes);
	}
	free(problems);
	/* A directory the engine refuses opens for no fs check either. */
	if (err == CASK_ENOTSTORE)
		warnx_("verify",
		       "%s: %s (the notes name them); it does not open as a "
		       "store",
		       dir, cask_strerror(err));
	fs_bad = err == CASK_ENOTSTORE ? 0 : check_fs(dir, v);
	if (v->json)
		printf(",\"ok\":%s}\n",
		       r.damaged || err || fs_bad ? "false" : "true");
	return r.damaged || err || fs_bad ? EXIT_NOTFOUND : EXIT_OK;
}

/* Check the copy in @p dir against manifest @p path. */
static int check_manifest(const char *path, const char *dir, bool quiet)
{
	struct file_list have, listed = {0};
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, bad = 0, lineno = 0;
	ssize_t n;
	int err, rc;

	if (!f) {
		warnx_("verify", "%s: %s", path, strerror(errno));
		return EXIT_STORE;
	}
	err = data_files(dir, &have);
	if (err) {
		warnx_("verify", "%s: %s", dir, strerror(-err));
		fclose(f);
		return EXIT_STORE;
	}
	listed.v = calloc(have.n + 1, sizeof(char *));
	while ((n = getline(&line, &cap, f)) > 0) {
		char hex[65], *name;

		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		name = line + 66;
		if (n < 67 || line[64] != ' ' || line[65] != ' ' ||
		    strchr(name, '/')) {
			warnx_("verify", "%s:%zu: not a manifest line", path,
			       lineno);
			bad++;
			continue;
		}
		if (!file_list_has(&have, name)) {
			printf("MISSING %s\n", name);
			bad++;
			continue;
		}
		if (listed.v && listed.n < have.n)
			listed.v[listed.n++] = strdup(name);
		err = sha256_file(dir, name, hex);
		if (err) {
			printf("UNREADABLE %s: %s\n", name, strerror(-err));
			bad++;
		} else if (strncmp(hex, line, 64)) {
			printf("MISMATCH %s\n", name);
			bad++;
		}
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < have.n; i++) {
		bool seen = false;

		for (size_t j = 0; j < listed.n && !seen; j++)
			seen = listed.v[j] && !strcmp(listed.v[j], have.v[i]);
		if (!seen) {
			printf("EXTRA %s\n", have.v[i]);
			bad++;
		}
	}
	file_list_free(&have);
	file_list_free(&listed);
	if (!quiet)
		fprintf(stderr, "%s: manifest %s: %zu problem(s)\n", dir, path,
			bad);
	rc = run_verify(dir, &(struct vout){.out = stdout, .quiet = quiet});
	return bad && rc == EXIT_OK ? EXIT_NOTFOUND : rc;
}

int cmd_verify(int argc, char **argv)
{
	bool manifest = false;
	struct vout v = {.out = stdout};
	int c, rc;

	while ((c = getopt_long(argc, argv, "mqjh", verify_opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			manifest = true;
			break;
		case 'q':
			v.quiet = true;
			break;
		case 'j':
			v.json = v.quiet = true;
			break;
		default:
			return usage_out(verify_usage, c == 'h');
		}
	}
	if (manifest && v.json) {
		warnx_("verify", "--json and --manifest do not go together (a "
				 "manifest is sha256sum's format)");
		return EXIT_USAGE;
	}
	if (manifest && argc - optind == 2)
		return check_manifest(argv[optind], argv[optind + 1], v.quiet);
	if (argc - optind != 1)
		return usage_out(verify_usage, false);
	if (!manifest)
		return run_verify(argv[optind], &v);
	v.out = stderr;
	rc = run_verify(argv[optind], &v);
	if (rc == EXIT_STORE)
		return rc;
	if (manifest_write(argv[optind], stdout))
		return EXIT_STORE;
	return rc;
}
