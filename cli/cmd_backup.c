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
 * that open truncates). When the lock holder is a caskfs daemon (a
 * fuse.caskfs mount whose source is DIR in /proc/self/mounts), a backup
 * window is opened through it (setxattr user.caskfs.backup "1", closed
 * with "0" whatever happens, SIGINT/SIGTERM/SIGHUP included), so no file
 * can go away during the copy. Otherwise (another libcask program) a merge
 * in the middle of the copy changes the set of files: the copy is then
 * thrown away and taken again. Every copied file and the destination
 * directory are fsynced; the copy is then opened read-only and verified.
 */
#include "cli.h"
#include "manifest.h"
#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LIVE_ATTEMPTS 5
#define XATTR_BACKUP  "user.caskfs.backup" /* FS_XATTR_BACKUP, fs/caskfs.h */
#define COPY_CHUNK    (64 << 20)	   /* check for a signal this often */

/* How the copy is kept consistent. */
enum mechanism {
	MECH_OFFLINE, /* we hold the lock: cask_backup_begin() */
	MECH_WINDOW,  /* a caskfs daemon holds it: its backup window */
	MECH_LIVE,    /* another process holds it: copy, check, retry */
};

static const char *const mech_name[] = {
	[MECH_OFFLINE] = "offline, backup window",
	[MECH_WINDOW] = "caskfs backup window",
	[MECH_LIVE] = "live copy, retried on change",
};

/* A signal that asked us to stop: the copy stops, the window is closed,
 * then the signal is raised again with its default action. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSTOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

static void catch_signals(struct sigaction old[NSTOP])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &sa, &old[i]);
}

static void restore_signals(const struct sigaction old[NSTOP])
{
	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &old[i], NULL);
	if (stop_signal) {
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
}

static const char backup_usage[] =
	"usage: cask backup DIR DEST\n"
	"Copy the store in DIR to the new (or empty) directory DEST, then "
	"check\nthat the copy opens and verifies. Sealed segments and hints "
	"are copied\nfirst (hard-linked when DEST is on the same filesystem), "
	"the active\nsegment last. Works while the store is in use: when "
	"caskfs has it mounted\n(found in /proc/self/mounts), a backup window "
	"is opened through the\nmount (xattr user.caskfs.backup) so that no "
	"merge removes a file during\nthe copy, and closed afterwards (also on "
	"error or SIGINT); when another\nprogram holds it, the copy is taken "
	"again if a merge changes the files.\nThe summary line names the "
	"mechanism used.\n"
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
		if (stop_signal)
			return -EINTR;
		n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
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
		if (stop_signal)
			return -EINTR;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno != EINTR)
				return -errno;
			if (stop_signal)
				return -EINTR;
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

/*
 * One pass. With MECH_LIVE a file that went away or a changed set of files
 * (a merge) makes the pass fail with 1; in a backup window files only
 * appear (a new segment after the active one we copied: the copy is still
 * a prefix of the history).
 * @return 0, 1 if the store changed under us, or -errno.
 */
static int copy_pass(const char *src, const char *dst, enum mechanism mech,
		     uint64_t *nfiles)
{
	struct file_list before, after;
	const char *active;
	bool live = mech == MECH_LIVE;
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
	if (!err && stop_signal)
		err = -EINTR;
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
static int check_copy(const char *dst, enum mechanism mech, const char *mnt)
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
	       " records; opens read-only and verifies (%s%s%s)\n",
	       dst, r.segments, r.bytes, r.records, mech_name[mech],
	       mech == MECH_WINDOW ? " on " : "",
	       mech == MECH_WINDOW ? mnt : "");
	return EXIT_OK;
}

/* Open (@p on) or close the backup window of the caskfs daemon that has
 * the store mounted on @p mnt. @return 0 or -errno. */
static int daemon_window(const char *mnt, bool on)
{
	for (;;) {
		if (setxattr(mnt, XATTR_BACKUP, on ? "1" : "0", 1, 0) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* The store is locked: a caskfs daemon's window, else a live copy. */
static enum mechanism locked_mechanism(const char *src, char *mnt, size_t size)
{
	int err = caskfs_mount_of(src, NULL, mnt, size);

	if (!err) {
		err = daemon_window(mnt, true);
		if (!err) {
			fprintf(stderr,
				"%s backup: %s is mounted by caskfs on %s: "
				"copying it inside a backup window (xattr "
				"%s)\n",
				progname, src, mnt, XATTR_BACKUP);
			return MECH_WINDOW;
		}
		fprintf(stderr,
			"%s backup: %s is mounted by caskfs on %s but its "
			"backup window could not be opened (%s)\n",
			progname, src, mnt, strerror(-err));
	} else {
		fprintf(stderr,
			"%s backup: %s is in use by another process and no "
			"caskfs mount of it was found in /proc/self/mounts\n",
			progname, src);
	}
	fprintf(stderr,
		"%s backup: copying %s live, oldest files first and the "
		"active segment last; the copy is retaken if a merge changes "
		"the files meanwhile\n",
		progname, src);
	return MECH_LIVE;
}

int cmd_backup(int argc, char **argv)
{
	struct sigaction old[NSTOP];
	struct cask_options o;
	struct cask_db *db = NULL;
	const char *src, *dst;
	char mnt[PATH_MAX] = "";
	uint64_t nfiles = 0;
	enum mechanism mech = MECH_OFFLINE;
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
	/* From here on a window may be open: a signal only sets a flag. */
	catch_signals(old);
	err = cask_open(src, &o, &db);
	if (err == CASK_ELOCKED) {
		mech = locked_mechanism(src, mnt, sizeof(mnt));
	} else if (err) {
		warnx_("backup", "cannot open store %s: %s", src,
		       cask_strerror(err));
		rmdir(dst);
		restore_signals(old);
		return EXIT_STORE;
	} else if ((err = cask_backup_begin(db)) != 0) {
		warnx_("backup", "%s", cask_strerror(err));
		cask_close(db);
		restore_signals(old);
		return EXIT_STORE;
	}
	for (attempt = 0; attempt < LIVE_ATTEMPTS; attempt++) {
		err = copy_pass(src, dst, mech, &nfiles);
		if (err != 1)
			break;
		fprintf(stderr,
			"%s backup: %s changed during the copy (a "
			"merge?); copying again\n",
			progname, src);
	}
	if (!err)
		err = sync_dir(dst);
	if (mech == MECH_OFFLINE) {
		cask_backup_end(db);
		cask_close(db);
	} else if (mech == MECH_WINDOW) {
		int e = daemon_window(mnt, false);

		if (e)
			warnx_("backup",
			       "closing the backup window on %s: %s (run "
			       "setfattr -n %s -v 0 %s)",
			       mnt, strerror(-e), XATTR_BACKUP, mnt);
		else if (stop_signal || err)
			fprintf(stderr,
				"%s backup: backup window on %s "
				"closed\n",
				progname, mnt);
	}
	if (stop_signal) {
		warnx_("backup", "interrupted: %s removed from %s", "the copy",
		       dst);
		rmdir(dst);
	}
	restore_signals(old); /* re-raises a caught signal */
	if (err == 1) {
		warnx_("backup",
		       "%s kept changing: gave up after %d attempts; run it "
		       "again when no merge is running",
		       src, LIVE_ATTEMPTS);
		return EXIT_STORE;
	}
	if (err) {
		warnx_("backup", "copying %s to %s: %s", src, dst,
		       strerror(-err));
		return EXIT_STORE;
	}
	return check_copy(dst, mech, mnt);
}
