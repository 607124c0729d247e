/*
 * cmd_backup.c - cask backup: a copy of a store's data files that opens
 * cleanly, taken offline or while another process (a caskfs daemon) has
 * the store open.
 *
 * Offline (we get the lock): the store is opened and a backup window
 * (cask_backup_begin/end) keeps every file in place while sealed segments
 * and hints are hard-linked (copied across filesystems) and the active
 * segment is copied. Live (CASK_ELOCKED): the files are copied in id order,
 * sealed ones first and the active segment last, so that the copy holds a
 * prefix of the history (a record torn by a concurrent write is a torn tail
 * that open truncates). A merge in the middle of a live copy changes the
 * set of files: the copy is then thrown away and taken again. Every copied
 * file and the destination directory are fsynced; the copy is then opened
 * read-only and verified.
 */
#include "cli.h"
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIVE_ATTEMPTS 5

static const char backup_usage[] =
	"usage: cask backup DIR DEST\n"
	"Copy the store in DIR to the new (or empty) directory DEST, then "
	"check\nthat the copy opens and verifies. Works while caskfs has the "
	"store\nmounted: files are copied oldest first and the active segment "
	"last;\nif a merge changes the files during the copy it is taken "
	"again. Sealed\nsegments are hard-linked when DEST is on the same "
	"filesystem.\n"
	"Incremental backups: sealed segments (NNNNNNNNNN.cask with a .hint, "
	"or\nany but the newest) never change, so\n"
	"  rsync -a --delete DIR/ BACKUP/\n"
	"transfers only new files and the active segment; run cask verify on "
	"the\nresult (rsync of a live store can race a merge: prefer cask "
	"backup to a\nlocal directory, then rsync that).\n"
	"Exit: 0 copied and verified; 1 the copy does not verify; 2 usage; 3 "
	"store\nor I/O error.\n";

static int copy_fd(int in, int out)
{
	char buf[1 << 16];
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno != EINTR)
				return -errno;
			if (w > 0)
				off += w;
		}
	}
	return 0;
}

/* Hard-link (when @p link_ok) or copy @p name; fsync the result. */
static int copy_file(const char *src, const char *dst, const char *name,
		     bool link_ok)
{
	char sp[4096], dp[4096];
	int in, out, err = 0;

	snprintf(sp, sizeof(sp), "%s/%s", src, name);
	snprintf(dp, sizeof(dp), "%s/%s", dst, name);
	if (link_ok && link(sp, dp) == 0) {
		out = open(dp, O_RDONLY | O_CLOEXEC);
		if (out < 0 || fsync(out))
			err = -errno;
		if (out >= 0)
			close(out);
		return err;
	}
	in = open(sp, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		err = -errno;
	if (!err)
		err = copy_fd(in, out);
	if (!err && fsync(out))
		err = -errno;
	if (out >= 0 && close(out) && !err)
		err = -errno;
	close(in);
	return err;
}

/* The active segment: the newest .cask without a .hint. */
static const char *active_of(const struct file_list *l)
{
	const char *active = NULL;

	for (size_t i = 0; i < l->n; i++) {
		char hint[64];

		if (strcmp(l->v[i] + 10, ".cask"))
			continue;
		snprintf(hint, sizeof(hint), "%.10s.hint", l->v[i]);
		if (!file_list_has(l, hint))
			active = l->v[i];
	}
	return active;
}

static void empty_dir(const char *dst, const struct file_list *l)
{
	char p[4096];

	for (size_t i = 0; i < l->n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dst, l->v[i]);
		unlink(p);
	}
}

/* Same names except the active segment, whose size may change. */
static bool same_files(const struct file_list *a, const struct file_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return false;
	return true;
}

/* One pass. @return 0, 1 if the store changed under us, or -errno. */
static int copy_pass(const char *src, const char *dst, bool live,
		     uint64_t *nfiles)
{
	struct file_list before, after;
	const char *active;
	int err = data_files(src, &before);

	if (err)
		return err;
	active = active_of(&before);
	*nfiles = 0;
	for (size_t i = 0; !err && i < before.n; i++) {
		if (before.v[i] == active)
			continue;
		err = copy_file(src, dst, before.v[i], true);
		++*nfiles;
	}
	if (!err && active) {
		err = copy_file(src, dst, active, false);
		++*nfiles;
	}
	if (err == -ENOENT && live)
		err = 1; /* a merge removed a file we listed */
	if (!err && live) {
		err = data_files(src, &after);
		if (!err && !same_files(&before, &after))
			err = 1;
		if (!err || err == 1)
			file_list_free(&after);
	}
	if (err)
		empty_dir(dst, &before);
	file_list_free(&before);
	return err;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* Open the copy read-only and verify it. @return exit code. */
static int check_copy(const char *dst)
{
	struct cask_verify_result r;
	struct cask_db *db;
	int rc = open_store("backup", dst, true, false, &db), err;

	if (rc) {
		warnx_("backup", "the copy in %s does not open", dst);
		return EXIT_NOTFOUND;
	}
	cask_close(db);
	err = cask_verify(dst, NULL, &r);
	if (err) {
		warnx_("backup",
		       "the copy in %s does not verify (%s): run cask "
		       "verify %s",
		       dst, cask_strerror(err), dst);
		return EXIT_NOTFOUND;
	}
	printf("backup %s: %" PRIu64 " segments, %" PRIu64 " bytes, %" PRIu64
	       " records; opens read-only and verifies\n",
	       dst, r.segments, r.bytes, r.records);
	return EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	struct cask_options o;
	struct cask_db *db = NULL;
	const char *src, *dst;
	uint64_t nfiles = 0;
	bool live = false;
	int err, attempt;

	if (want_help(argc, argv))
		return usage_out(backup_usage, true);
	if (argc != 3)
		return usage_out(backup_usage, false);
	src = argv[1];
	dst = argv[2];
	if (mkdir(dst, 0755) && errno != EEXIST) {
		warnx_("backup", "%s: %s", dst, strerror(errno));
		return EXIT_STORE;
	}
	if (rmdir(dst) == 0) {
		/* It was empty (or we just made it): start from a fresh one. */
		if (mkdir(dst, 0755)) {
			warnx_("backup", "%s: %s", dst, strerror(errno));
			return EXIT_STORE;
		}
	} else {
		warnx_("backup", "%s: %s", dst,
		       errno == ENOTEMPTY || errno == EEXIST
			       ? "not an empty directory"
			       : strerror(errno));
		return EXIT_STORE;
	}
	cask_options_init(&o);
	o.create_if_missing = false;
	o.merge_dead_ratio = 0;
	err = cask_open(src, &o, &db);
	if (err == CASK_ELOCKED) {
		live = true;
		fprintf(stderr,
			"%s backup: %s is in use by another process (caskfs "
			"mounted?): copying it live, oldest files first and "
			"the active segment last; the copy is retaken if a "
			"merge changes the files meanwhile\n",
			progname, src);
	} else if (err) {
		warnx_("backup", "cannot open store %s: %s", src,
		       cask_strerror(err));
		rmdir(dst);
		return EXIT_STORE;
	} else if ((err = cask_backup_begin(db)) != 0) {
		warnx_("backup", "%s", cask_strerror(err));
		cask_close(db);
		return EXIT_STORE;
	}
	for (attempt = 0; attempt < LIVE_ATTEMPTS; attempt++) {
		err = copy_pass(src, dst, live, &nfiles);
		if (err != 1)
			break;
		fprintf(stderr,
			"%s backup: %s changed during the copy (a "
			"merge?); copying again\n",
			progname, src);
	}
	if (!live) {
		cask_backup_end(db);
		cask_close(db);
	}
	if (err == 1) {
		warnx_("backup",
		       "%s kept changing: gave up after %d attempts; run it "
		       "again when no merge is running",
		       src, LIVE_ATTEMPTS);
		return EXIT_STORE;
	}
	if (!err)
		err = sync_dir(dst);
	if (err) {
		warnx_("backup", "copying %s to %s: %s", src, dst,
		       strerror(-err));
		return EXIT_STORE;
	}
	return check_copy(dst);
}
