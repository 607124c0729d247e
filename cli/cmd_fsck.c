/*
 * cmd_fsck.c - cask fsck: fs_fsck() (fs/fsck.h) with one line per problem,
 * naming the file concerned by path, and an exit code that says whether
 * the store mounts. The check opens the store read-only; --repair opens it
 * for writing, refuses a mounted store, and prints every problem with what
 * it will do before it writes anything. cask verify runs the same check.
 */
#include "cli.h"
#include "escape.h"
#include "mountinfo.h"

#include <errno.h>
#include <fsck.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char fsck_usage[] =
	"usage: cask fsck [--repair] [-q] DIR\n"
	"Check the caskfs filesystem kept in the store in DIR: the superblock, "
	"the\nroot, that every directory entry names an inode of its type, "
	"link counts,\nthat chunks, extended attributes and orphan marks "
	"belong to live inodes,\nand that no inode lost its name. Each problem "
	"is one line on stdout:\n"
	"  fatal|error|note: PATH: WHAT [--repair: WHAT IT DOES]\n"
	"(\"inode N\" for a file that has no name; \"fatal\": the store does "
	"not\nmount while it is so).\n"
	"  --repair    make the store mountable with everything that "
	"survived:\n"
	"              nameless inodes go to /lost+found/#INO, lost "
	"directories\n"
	"              are made again where they were, a lost superblock "
	"is\n"
	"              written again. Never on a mounted store; every problem "
	"and\n"
	"              its repair is printed before anything is written.\n"
	"  -q, --quiet no summary line\n"
	"Exit: 0 clean; 1 problems found (or repaired), the store mounts; 2 "
	"usage;\n3 store error (missing, no caskfs, in use, I/O); 4 the store "
	"does not mount.\n";

static const struct option fsck_opts[] = {
	{"repair", no_argument, NULL, 'r'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *severity_name(enum fs_fsck_severity s)
{
	return s == FS_FSCK_FATAL   ? "fatal"
	       : s == FS_FSCK_ERROR ? "error"
				    : "note";
}

struct sink {
	FILE *out;
	const char *prefix; /* before each line ("" or "fsck: ") */
	bool repair;
};

static void on_problem(void *arg, const struct fs_fsck_problem *p)
{
	const struct sink *s = arg;

	fprintf(s->out, "%s%s: ", s->prefix, severity_name(p->severity));
	if (p->path)
		esc_display(s->out, p->path, strlen(p->path));
	else if (p->ino)
		fprintf(s->out, "inode %" PRIu64, p->ino);
	fprintf(s->out, "%s%s", p->path || p->ino ? ": " : "", p->what);
	if (p->repair)
		fprintf(s->out, " [--repair%s: %s]", s->repair ? "" : " would",
			p->repair);
	fputc('\n', s->out);
}

int fsck_run(const char *cmd, const char *dir, bool repair, FILE *out,
	     const char *prefix, struct fs_fsck_result *r)
{
	struct sink s = {out, prefix, repair};
	struct fs_fsck_options o = {.repair = repair,
				    .report = on_problem,
				    .report_arg = &s,
				    .log = store_log,
				    .log_arg = (void *)cmd};
	char mnt[4096];
	int err;

	if (repair && caskfs_mount_of(dir, NULL, mnt, sizeof(mnt)) == 0) {
		warnx_(cmd, "%s is mounted on %s: unmount it before --repair",
		       dir, mnt);
		return EXIT_STORE;
	}
	err = fs_fsck(dir, &o, r);
	fflush(out);
	if (err == -EBUSY)
		; /* the store's log said it, naming the process */
	else if (err == -EPROTO)
		warnx_(cmd,
		       "%s: a caskfs of a format version this cask does "
		       "not know: nothing checked",
		       dir);
	else if (err)
		warnx_(cmd, "%s: cannot check the filesystem: %s", dir,
		       strerror(-err));
	return err ? EXIT_STORE : EXIT_OK;
}

int cmd_fsck(int argc, char **argv)
{
	struct fs_fsck_result r;
	bool repair = false, quiet = false;
	const char *dir;
	int c, rc;

	while ((c = getopt_long(argc, argv, "rqh", fsck_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repair = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return usage_out(fsck_usage, c == 'h');
		}
	}
	if (argc - optind != 1)
		return usage_out(fsck_usage, false);
	dir = argv[optind];
	if (check_store("fsck", dir, false))
		return EXIT_STORE;
	rc = fsck_run("fsck", dir, repair, stdout, "", &r);
	if (rc)
		return rc;
	if (!r.caskfs) {
		warnx_("fsck", "%s holds no caskfs (no superblock, no inode)",
		       dir);
		return EXIT_STORE;
	}
	if (!quiet)
		fprintf(stderr,
			"%s: %s: %" PRIu64 " fatal, %" PRIu64
			" errors, %" PRIu64 " notes; %" PRIu64
			" inodes (%" PRIu64 " directories), %" PRIu64
			" entries, %" PRIu64 " chunks, %" PRIu64 " xattrs%s\n",
			dir,
			!r.mounts	      ? "does NOT mount"
			: r.fatal || r.errors ? (repair ? "repaired, mounts"
							: "damaged, mounts")
					      : "clean",
			r.fatal, r.errors, r.notes, r.inodes, r.directories,
			r.entries, r.chunks, r.xattrs,
			repair && r.writes ? "; repair written" : "");
	if (!r.mounts)
		return EXIT_NOMOUNT;
	return r.fatal || r.errors ? EXIT_NOTFOUND : EXIT_OK;
}
