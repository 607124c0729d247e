/*
 * cmd_backup.c - cask backup: a copy of a store's data files that opens
 * cleanly and shares nothing with the original, taken offline or while
 * another process (a caskfs daemon) has the store open. It never writes
 * into the store it copies: no lock, no open for writing.
 *
 * Every file is copied into a file of its own: a reflink (FICLONE) where
 * the filesystem shares blocks copy-on-write, else copy_file_range() or
 * read/write. Only with --link are sealed segments and hints hard-linked
 * (one inode for both: a byte changed in either is changed in both).
 * The files are copied in id order, sealed ones first and the active
 * segment last, so that the copy holds a prefix of the history (a record
 * torn by a concurrent write is a torn tail that open truncates). When a
 * caskfs daemon has the store mounted (a fuse.caskfs mount whose source is
 * DIR in /proc/self/mounts), a backup window is opened through it
 * (setxattr user.caskfs.backup to our pid, so the daemon closes it if we
 * die; closed with "0" whatever happens, SIGINT/SIGTERM/SIGHUP included),
 * so no file can go away during the copy.
 * Otherwise (a store nobody has open, or another libcask program) a merge
 * in the middle of the copy changes the set of files: the copy is then
 * thrown away and taken again. Every copied file and the destination
 * directory are fsynced; the copy is then opened read-only and verified.
 * A destination inside the store is refused before anything is written.
 * Files only kept for copies (the inputs of finished merges, their drop
 * lists: cask_kept_files()) are not copied; cask kept lists them, for
 * other copying programs.
 */
#include "cli.h"
#include "manifest.h"
#include "mountinfo.h"
#include "progress.h"
#include "escape.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LIVE_ATTEMPTS 5
#define XATTR_BACKUP  "user.caskfs.backup" /* FS_XATTR_BACKUP, fs/caskfs.h */
#define COPY_CHUNK    (8 << 20) /* check for a signal, show progress */

/* How the copy is kept consistent. */
enum mechanism {
	MECH_WINDOW, /* a caskfs daemon holds it: its backup window */
	MECH_CHECK,  /* no daemon found: copy, check for change, retry */
};

static const char *const mech_name[] = {
	[MECH_WINDOW] = "caskfs backup window",
	[MECH_CHECK] = "copy checked for change",
};

/* How the files of one pass were made. */
struct copy_count {
	uint64_t files;		   /* all of them */
	uint64_t cloned;	   /* reflinks (FICLONE) */
	uint64_t linked;	   /* hard links (--link) */
	uint64_t kept, kept_bytes; /* left out: only kept (cask_kept_files) */
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
	"usage: cask backup [--link] [-q] [--json] DIR DEST\n"
	"Copy the store in DIR to the new (or empty) directory DEST, then "
	"check\nthat the copy opens and verifies. Nothing is written into DIR. "
	"Every file\nis an independent copy (a reflink where the filesystem "
	"has them):\nsealed segments and hints first, the active segment "
	"last. Works while\nthe store is in use: when caskfs has it mounted "
	"(found in\n/proc/self/mounts), a backup window is opened through the "
	"mount (xattr\nuser.caskfs.backup) so that no merge removes a file "
	"during the copy, and\nclosed afterwards (also on error or SIGINT); "
	"otherwise the copy is taken\nagain if a merge changes the files. "
	"The summary line names the mechanism\nused. DEST must not be inside "
	"DIR.\n"
	"  -l, --link   hard-link sealed segments and hints instead of "
	"copying them\n               (same filesystem only): fast and "
	"small, but backup and\n               store then share those "
	"files, so damage to one is damage\n               to both\n"
	"  -q, --quiet  no progress line (there is none when stderr is not "
	"a\n               terminal) and no notes on stderr, only problems\n"
	"  -j, --json   the summary as one JSON object on stdout (cask(1) "
	"gives\n               its members); implies --quiet\n"
	"Incremental backups: sealed segments (NNNNNNNNNN.cask with a .hint, "
	"or\nany but the newest) never change, so\n"
	"  rsync -a --delete DIR/ BACKUP/\n"
	"transfers only new files and the active segment; run cask verify on "
	"the\nresult (rsync of a live store can race a merge: prefer cask "
	"backup to a\nlocal directory, then rsync that).\n"
	"Exit: 0 copied and verified; 1 the copy does not verify; 2 usage "
	"(DEST\ninside DIR included); 3 store or I/O error.\n";

static const struct option backup_opts[] = {
	{"link", no_argument, NULL, 'l'},
	{"quiet", no_argument, NULL, 'q'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int copy_fd(int in, int out, struct progress *p)
{
	char buf[1 << 16];
	ssize_t n;

	for (;;) {
		if (stop_signal)
			return -EINTR;
		n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
		if (n == 0)
			return 0;
		if (n > 0) {
			progress_add(p, (uint64_t)n, 0);
			continue;
		}
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
		progress_add(p, (uint64_t)n, 0);
	}
	return 0;
}

/* Make @p out a copy of @p in: a reflink if the filesystem can, else the
 * bytes. @return 0 or -errno. */
static int clone_or_copy(int in, int out, struct copy_count *c,
			 struct progress *p)
{
	struct stat st;

	if (ioctl(out, FICLONE, in) == 0) {
		c->cloned++;
		if (fstat(out, &st) == 0)
			progress_add(p, (uint64_t)st.st_size, 0);
		return 0;
	}
	/* Not supported here (or across filesystems): copy the bytes, from
	 * an empty file whatever a failed clone left. */
	if (ftruncate(out, 0))
		return -errno;
	return copy_fd(in, out, p);
}

/* Copy @p name, or hard-link it when @p link_it (falling back to a copy where
 * that fails, as across filesystems); fsync the result. */
static int copy_file(const char *src, const char *dst, const char *name,
		     bool link_it, struct copy_count *c, struct progress *p)
{
	char sp[4096], dp[4096];
	struct stat st;
	int in, out, err = 0;

	snprintf(sp, sizeof(sp), "%s/%s", src, name);
	snprintf(dp, sizeof(dp), "%s/%s", dst, name);
	c->files++;
	progress_add(p, 0, 1);
	if (link_it && link(sp, dp) == 0) {
		c->linked++;
		out = open(dp, O_RDONLY | O_CLOEXEC);
		if (out < 0 || fstat(out, &st) || fsync(out))
			err = -errno;
		if (out >= 0)
			close(out);
		if (!err)
			progress_add(p, (uint64_t)st.st_size, 0);
		return err;
	}
	in = open(sp, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		err = -errno;
	if (!err)
		err = clone_or_copy(in, out, c, p);
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
		char hint[CASK_FILE_NAME_MAX];
		uint32_t id;

		if (cask_file_parse(l->v[i], &id) != CASK_FILE_SEGMENT)
			continue;
		cask_file_name(CASK_FILE_HINT, id, hint, sizeof(hint));
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

/* The bytes of the files of @p l in @p dir (for the progress line). */
static uint64_t files_bytes(const char *dir, const struct file_list *l)
{
	char path[4096];
	struct stat st;
	uint64_t sum = 0;

	for (size_t i = 0; i < l->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, l->v[i]);
		if (stat(path, &st) == 0)
			sum += (uint64_t)st.st_size;
	}
	return sum;
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

/* The files of a store only kept for copies (cask_kept_files()). */
struct kept {
	struct file_list names; /* sorted (file_list_has()) */
	uint64_t bytes;
};

static int add_kept(void *arg, const char *name, uint64_t size)
{
	struct kept *k = arg;
	int err = file_list_add(&k->names, name);

	k->bytes += size;
	return err;
}

/* The files of @p dir only kept for copies. @return 0 or -errno. */
static int kept_files(const char *dir, struct kept *k)
{
	int err;

	*k = (struct kept){0};
	err = cask_kept_files(dir, add_kept, k);
	if (err) {
		file_list_free(&k->names);
		return err < 0 ? err : -EIO;
	}
	file_list_sort(&k->names);
	return 0;
}

/* @p copy: the names of @p all that @p kept does not hold, borrowed from
 * @p all (free only copy->v). @return 0 or -ENOMEM. */
static int drop_kept(const struct file_list *all, const struct file_list *kept,
		     struct file_list *copy)
{
	*copy = (struct file_list){.v = malloc((all->n + 1) * sizeof(char *))};
	if (!copy->v)
		return -ENOMEM;
	for (size_t i = 0; i < all->n; i++)
		if (!file_list_has(kept, all->v[i]))
			copy->v[copy->n++] = all->v[i];
	return 0;
}

/*
 * One pass, hard-linking sealed files when @p link. With MECH_CHECK a file
 * that went away or a changed set of files (a merge) makes the pass fail
 * with 1; in a backup window files only appear (a new segment after the
 * active one we copied: the copy is still a prefix of the history).
 * @return 0, 1 if the store changed under us, or -errno.
 */
static int copy_pass(const char *src, const char *dst, enum mechanism mech,
		     bool link, struct copy_count *c, struct progress *p)
{
	struct file_list before, after, copy;
	struct kept kept;
	const char *active;
	bool live = mech == MECH_CHECK;
	int err = kept_files(src, &kept);

	if (err)
		return err;
	err = data_files(src, &before);
	if (err) {
		file_list_free(&kept.names);
		return err;
	}
	active = active_of(&before);
	*c = (struct copy_count){.kept = kept.names.n,
				 .kept_bytes = kept.bytes};
	/* The inputs of a finished merge are not the store's state. */
	err = drop_kept(&before, &kept.names, &copy);
	file_list_free(&kept.names);
	if (err) {
		file_list_free(&before);
		return err;
	}
	progress_restart(p, files_bytes(src, &copy), copy.n);
	for (size_t i = 0; !err && i < copy.n; i++)
		if (copy.v[i] != active)
			err = copy_file(src, dst, copy.v[i], link, c, p);
	free(copy.v); /* its names are before's */
	if (!err && active)
		err = copy_file(src, dst, active, false, c, p);
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

/* The summary of a verified copy as one JSON object. */
static void print_json(const char *src, const char *dst, enum mechanism mech,
		       const char *mnt, const struct copy_count *c,
		       const struct cask_verify_result *r)
{
	putchar('{');
	json_name(stdout, "source", src, strlen(src));
	putchar(',');
	json_name(stdout, "dest", dst, strlen(dst));
	printf(",\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"files\":%" PRIu64
	       ",\"reflinked\":%" PRIu64 ",\"hard_linked\":%" PRIu64
	       ",\"mechanism\":\"%s\",",
	       r->segments, r->bytes, r->records, c->files, c->cloned,
	       c->linked, mech == MECH_WINDOW ? "window" : "check");
	if (mech == MECH_WINDOW)
		json_name(stdout, "mount", mnt, strlen(mnt));
	else
		fputs("\"mount\":null", stdout);
	puts(",\"verified\":true}");
}

/* Open the copy of @p src read-only and verify it. @return exit code. */
static int check_copy(const char *src, const char *dst, enum mechanism mech,
		      const char *mnt, const struct copy_count *c, bool json)
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
	if (json) {
		print_json(src, dst, mech, mnt, c, &r);
		return EXIT_OK;
	}
	printf("backup %s: %" PRIu64 " segments, %" PRIu64 " bytes, %" PRIu64
	       " records in %" PRIu64 " files (%" PRIu64 " reflinked, %" PRIu64
	       " hard-linked); opens read-only and verifies (%s%s%s)\n",
	       dst, r.segments, r.bytes, r.records, c->files, c->cloned,
	       c->linked, mech_name[mech], mech == MECH_WINDOW ? " on " : "",
	       mech == MECH_WINDOW ? mnt : "");
	if (c->kept)
		printf("backup %s: %" PRIu64 " files (%" PRIu64
		       " bytes) not copied: merge inputs and drop lists only "
		       "kept for copies, not part of the store's state\n",
		       dst, c->kept, c->kept_bytes);
	return EXIT_OK;
}

/* Open (@p on) or close the backup window of the caskfs daemon that has
 * the store mounted on @p mnt. The window is held by this process: the
 * daemon closes it if we die without closing it. @return 0 or -errno. */
static int daemon_window(const char *mnt, bool on)
{
	char v[16] = "0";

	if (on)
		snprintf(v, sizeof(v), "%d", (int)getpid());
	for (;;) {
		if (setxattr(mnt, XATTR_BACKUP, v, strlen(v), 0) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* A caskfs daemon's window when one has @p src mounted, else a copy
 * checked for change. */
static enum mechanism pick_mechanism(const char *src, char *mnt, size_t size,
				     bool quiet)
{
	int err = caskfs_mount_of(src, NULL, mnt, size);

	if (!err) {
		err = daemon_window(mnt, true);
		if (!err) {
			if (!quiet)
				fprintf(stderr,
					"%s: mounted by caskfs on %s: copying "
					"it inside a backup window (xattr "
					"%s)\n",
					src, mnt, XATTR_BACKUP);
			return MECH_WINDOW;
		}
		fprintf(stderr,
			"%s backup: %s is mounted by caskfs on %s but its "
			"backup window could not be opened (%s); copying "
			"the files oldest first and the active segment last, "
			"again if a merge changes them meanwhile\n",
			progname, src, mnt, strerror(-err));
	}
	return MECH_CHECK;
}

/*
 * Whether @p dst (existing, or to be made in an existing directory) is the
 * directory @p real_src (a realpath()) or inside it, symlinks resolved.
 * @return 1 inside, 0 not, or -errno (the parent of @p dst cannot be
 *   resolved).
 */
static int dest_inside(const char *real_src, const char *dst)
{
	char d[PATH_MAX], tmp[PATH_MAX];
	size_t n;

	if (!realpath(dst, d)) {
		if (errno != ENOENT ||
		    snprintf(tmp, sizeof(tmp), "%s", dst) >= (int)sizeof(tmp))
			return -errno;
		if (!realpath(dirname(tmp), d))
			return -errno;
		snprintf(tmp, sizeof(tmp), "%s", dst);
		n = strlen(d);
		if (snprintf(d + n, sizeof(d) - n, "/%s", basename(tmp)) >=
		    (int)(sizeof(d) - n))
			return -ENAMETOOLONG;
	}
	n = strcmp(real_src, "/") ? strlen(real_src) : 0;
	return !strncmp(d, real_src, n) && (d[n] == '/' || d[n] == '\0');
}

/* Make @p dst a new, empty directory (an existing empty one is replaced),
 * refusing one inside @p src. @return 0 or an exit code. */
static int make_dest(const char *src, const char *dst)
{
	char s[PATH_MAX];
	int in;

	if (check_store("backup", src, false))
		return EXIT_STORE;
	if (!realpath(src, s)) {
		warnx_("backup", "%s: %s", src, strerror(errno));
		return EXIT_STORE;
	}
	in = dest_inside(s, dst);
	if (in < 0) {
		warnx_("backup", "%s: %s", dst, strerror(-in));
		return EXIT_STORE;
	}
	if (in) {
		warnx_("backup",
		       "%s is the store %s or inside it: a backup there would "
		       "copy into itself and put foreign files into the store; "
		       "choose a directory outside it",
		       dst, src);
		return EXIT_USAGE;
	}
	if (mkdir(dst, 0755) && errno != EEXIST) {
		warnx_("backup", "%s: %s", dst, strerror(errno));
		return EXIT_STORE;
	}
	if (rmdir(dst)) {
		warnx_("backup", "%s: %s", dst,
		       errno == ENOTEMPTY || errno == EEXIST
			       ? "not an empty directory"
			       : strerror(errno));
		return EXIT_STORE;
	}
	/* It was empty (or we just made it): start from a fresh one. */
	if (mkdir(dst, 0755)) {
		warnx_("backup", "%s: %s", dst, strerror(errno));
		return EXIT_STORE;
	}
	return EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	struct sigaction old[NSTOP];
	struct copy_count count = {0};
	struct progress p;
	const char *src, *dst;
	char mnt[PATH_MAX] = "";
	enum mechanism mech;
	bool link = false, quiet = false, json = false;
	int c, err, attempt;

	while ((c = getopt_long(argc, argv, "lqjh", backup_opts, NULL)) != -1) {
		if (c == 'l')
			link = true;
		else if (c == 'q')
			quiet = true;
		else if (c == 'j')
			json = quiet = true;
		else
			return usage_out(backup_usage, c == 'h');
	}
	if (argc - optind != 2)
		return usage_out(backup_usage, false);
	src = argv[optind];
	dst = argv[optind + 1];
	err = make_dest(src, dst);
	if (err)
		return err;
	/* From here on a window may be open: a signal only sets a flag. */
	catch_signals(old);
	mech = pick_mechanism(src, mnt, sizeof(mnt), quiet);
	if (link && !quiet)
		fprintf(stderr,
			"%s backup: --link: sealed segments and hints are "
			"hard links, shared with %s (damage to one is damage "
			"to both)\n",
			progname, src);
	progress_init(&p, "backup", "files", quiet);
	for (attempt = 0; attempt < LIVE_ATTEMPTS; attempt++) {
		err = copy_pass(src, dst, mech, link, &count, &p);
		if (err != 1)
			break;
		warnx_("backup",
		       "%s changed during the copy (a merge?); "
		       "copying again",
		       src);
	}
	progress_done(&p);
	if (!err)
		err = sync_dir(dst);
	if (mech == MECH_WINDOW) {
		int e = daemon_window(mnt, false);

		if (e)
			warnx_("backup",
			       "closing the backup window on %s: %s (run "
			       "setfattr -n %s -v 0 %s)",
			       mnt, strerror(-e), XATTR_BACKUP, mnt);
		else if ((stop_signal || err) && !quiet)
			fprintf(stderr, "%s: backup window closed\n", mnt);
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
	return check_copy(src, dst, mech, mnt, &count, json);
}

static const char kept_usage[] =
	"usage: cask kept DIR\n"
	"Print the files of the store in DIR that are only kept for copies, "
	"one a\nline: the input segments (and hints) of finished merges that "
	"a copy of\nthe directory might still be reading, and their drop "
	"lists. They are not\npart of the store's state (the next writable "
	"open removes them), so a\ncopy may leave them out, inside a backup "
	"window:\n"
	"  cask kept DIR >kept &&\n"
	"  rsync -a --delete --delete-excluded --exclude-from=kept DIR/ "
	"DEST/\n"
	"Takes no lock and changes nothing.\n"
	"Exit: 0; 2 usage; 3 store error.\n";

static int print_kept(void *arg, const char *name, uint64_t size)
{
	(void)arg;
	(void)size;
	return printf("%s\n", name) < 0 ? -EIO : 0;
}

int cmd_kept(int argc, char **argv)
{
	int err;

	if (want_help(argc, argv))
		return usage_out(kept_usage, true);
	if (argc != 2)
		return usage_out(kept_usage, false);
	if (check_store("kept", argv[1], false))
		return EXIT_STORE;
	err = cask_kept_files(argv[1], print_kept, NULL);
	if (!err && fflush(stdout))
		err = -errno;
	if (err) {
		warnx_("kept", "%s: %s", argv[1], cask_strerror(err));
		return EXIT_STORE;
	}
	return EXIT_OK;
}
