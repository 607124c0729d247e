/*
 * cmd_stat.c - cask stat (store and per-segment figures, text or JSON) and
 * cask merge (a synchronous merge with a progress line on a terminal).
 */
#include "cli.h"
#include "progress.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char stat_usage[] =
	"usage: cask stat DIR [--json]\n"
	"Print keys, bytes and the live/dead bytes of each segment: "
	"disk_bytes\n"
	"(live and dead), kept_bytes (merge inputs kept for a copy of DIR,\n"
	"not the store's) and reserve_bytes (the space reserve) together are\n"
	"the store's files on disk, but for hints and a few small files.\n"
	"  -j, --json  one JSON object\n"
	"Opens the store read-only (figures as of the open).\n"
	"Exit: 0; 2 usage; 3 store error.\n";

static const char merge_usage[] =
	"usage: cask merge [-q] DIR\n"
	"Merge every sealed segment holding dead bytes, now, and wait for "
	"it.\nNeeds the store unmounted (for a mounted caskfs: setfattr -n\n"
	"user.caskfs.merge -v 1 MOUNTPOINT).\n"
	"  -q, --quiet  no progress line (there is none when stderr is not a\n"
	"               terminal)\n"
	"Exit: 0; 2 usage; 3 store error (in use, I/O).\n";

static const struct option stat_opts[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const struct option merge_opts[] = {
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int get_segments(struct cask_db *db, struct cask_segment_stats **out,
			size_t *n)
{
	struct cask_segment_stats *v = NULL;
	size_t cap = 0, count = 0;

	for (;;) {
		cask_segment_stats(db, v, cap, &count);
		if (count <= cap)
			break;
		free(v);
		cap = count + 16;
		v = calloc(cap, sizeof(*v));
		if (!v)
			return -1;
	}
	*out = v;
	*n = count;
	return 0;
}

static void print_text(const struct cask_stats *st,
		       const struct cask_segment_stats *s, size_t n)
{
	char b[32];

	printf("keys: %" PRIu64 "\n", st->keys);
	printf("segments: %" PRIu64 "\n", st->segments);
	printf("live_bytes: %" PRIu64 " (%s)\n", st->live_bytes,
	       human_bytes(st->live_bytes, b, sizeof(b)));
	printf("dead_bytes: %" PRIu64 " (%s)\n", st->dead_bytes,
	       human_bytes(st->dead_bytes, b, sizeof(b)));
	printf("disk_bytes: %" PRIu64 " (%s)\n", st->disk_bytes,
	       human_bytes(st->disk_bytes, b, sizeof(b)));
	printf("kept_bytes: %" PRIu64 " (%s in %" PRIu64
	       " segments: merge inputs kept for a copy, not the store's)\n",
	       st->kept_bytes, human_bytes(st->kept_bytes, b, sizeof(b)),
	       st->kept_segments);
	printf("reserve_bytes: %" PRIu64 " (%s, the space reserve)\n",
	       st->reserve_bytes, human_bytes(st->reserve_bytes, b, sizeof(b)));
	printf("keydir_bytes: %" PRIu64 " (%" PRIu64 " of it unused)\n",
	       st->keydir_bytes, st->keydir_unused_bytes);
	printf("seq: %" PRIu64 "\n", st->seq);
	printf("damaged_ranges: %" PRIu64 "\n", st->damaged_ranges);
	printf("damaged_bytes: %" PRIu64 "\n", st->damaged_bytes);
	printf("damaged_keys: %" PRIu64 "\n", st->damaged_keys);
	printf("\n%-16s %14s %14s %14s %6s %s\n", "segment", "size", "live",
	       "dead", "dead%", "flags");
	for (size_t i = 0; i < n; i++) {
		uint64_t tot = s[i].live_bytes + s[i].dead_bytes;
		char name[CASK_FILE_NAME_MAX];

		cask_file_name(CASK_FILE_SEGMENT, s[i].id, name, sizeof(name));
		printf("%-16s %14" PRIu64 " %14" PRIu64 " %14" PRIu64
		       " %5.1f%% %s%s\n",
		       name, s[i].size, s[i].live_bytes, s[i].dead_bytes,
		       tot ? 100.0 * (double)s[i].dead_bytes / (double)tot : 0,
		       s[i].active ? "active" : "sealed",
		       s[i].has_hint ? ",hint" : "");
	}
}

static void print_json(const struct cask_stats *st,
		       const struct cask_segment_stats *s, size_t n)
{
	printf("{\"keys\":%" PRIu64 ",\"segment_count\":%" PRIu64
	       ",\"live_bytes\":%" PRIu64 ",\"dead_bytes\":%" PRIu64
	       ",\"disk_bytes\":%" PRIu64 ",\"kept_bytes\":%" PRIu64
	       ",\"kept_segments\":%" PRIu64 ",\"reserve_bytes\":%" PRIu64
	       ",\"keydir_bytes\":%" PRIu64 ",\"seq\":%" PRIu64
	       ",\"damaged_ranges\":%" PRIu64 ",\"damaged_bytes\":%" PRIu64
	       ",\"damaged_keys\":%" PRIu64 ",\"segments\":[",
	       st->keys, st->segments, st->live_bytes, st->dead_bytes,
	       st->disk_bytes, st->kept_bytes, st->kept_segments,
	       st->reserve_bytes, st->keydir_bytes, st->seq, st->damaged_ranges,
	       st->damaged_bytes, st->damaged_keys);
	for (size_t i = 0; i < n; i++) {
		char name[CASK_FILE_NAME_MAX];

		cask_file_name(CASK_FILE_SEGMENT, s[i].id, name, sizeof(name));
		printf("%s{\"id\":%" PRIu32 ",\"file\":\"%s\",\"size\":%" PRIu64
		       ",\"live_bytes\":%" PRIu64 ",\"dead_bytes\":%" PRIu64
		       ",\"active\":%s,\"has_hint\":%s}",
		       i ? "," : "", s[i].id, name, s[i].size, s[i].live_bytes,
		       s[i].dead_bytes, s[i].active ? "true" : "false",
		       s[i].has_hint ? "true" : "false");
	}
	printf("]}\n");
}

/* Bytes allocated to the space reserve of the store in @p dir (a
 * read-only open holds none itself). */
static uint64_t reserve_on_disk(const char *dir)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/RESERVE", dir);
	return stat(p, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}

int cmd_stat(int argc, char **argv)
{
	struct cask_segment_stats *segs = NULL;
	struct cask_stats st;
	struct cask_db *db;
	bool json = false;
	size_t n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "jh", stat_opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else
			return usage_out(stat_usage, c == 'h');
	}
	if (argc - optind != 1)
		return usage_out(stat_usage, false);
	rc = open_store("stat", argv[optind], true, false, &db);
	if (rc)
		return rc;
	cask_stats(db, &st);
	st.reserve_bytes = reserve_on_disk(argv[optind]);
	if (get_segments(db, &segs, &n)) {
		warnx_("stat", "out of memory");
		return close_store("stat", argv[optind], db, EXIT_STORE);
	}
	if (json)
		print_json(&st, segs, n);
	else
		print_text(&st, segs, n);
	free(segs);
	return close_store("stat", argv[optind], db, EXIT_OK);
}

/* Called from the merging thread while the caller waits in cask_merge(). */
static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	progress_set(arg, done, total);
}

int cmd_merge(int argc, char **argv)
{
	struct cask_merge_options mo = {0};
	struct cask_stats before, after;
	struct progress p;
	struct cask_db *db;
	bool quiet = false;
	time_t start = time(NULL);
	char a[32], b[32];
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "qh", merge_opts, NULL)) != -1) {
		if (c != 'q')
			return usage_out(merge_usage, c == 'h');
		quiet = true;
	}
	if (argc - optind != 1)
		return usage_out(merge_usage, false);
	rc = open_store("merge", argv[optind], false, false, &db);
	if (rc)
		return rc;
	cask_stats(db, &before);
	mo.all = true;
	mo.wait = true;
	mo.progress = on_progress;
	mo.progress_arg = &p;
	progress_init(&p, "merge", NULL, quiet);
	err = cask_merge(db, &mo);
	progress_done(&p);
	if (err) {
		warnx_("merge", "%s: %s", argv[optind], cask_strerror(err));
		return close_store("merge", argv[optind], db, EXIT_STORE);
	}
	cask_stats(db, &after);
	printf("merged: %" PRIu64 " -> %" PRIu64 " segments, disk %s -> %s, "
	       "%lds\n",
	       before.segments, after.segments,
	       human_bytes(before.disk_bytes, a, sizeof(a)),
	       human_bytes(after.disk_bytes, b, sizeof(b)),
	       (long)(time(NULL) - start));
	return close_store("merge", argv[optind], db, EXIT_OK);
}
