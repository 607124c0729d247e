/*
 * main.c - the caskfs daemon's start and end: command line and -o options,
 * opening the store, mounting, detaching from the terminal, the session
 * loop, and the clean shutdown (unmount, then fs_close, which writes back
 * and syncs the store).
 *
 *   caskfs DATA_DIR MOUNTPOINT [-f] [-d] [-s] [-o opt,...]
 *
 * Start order: every option (caskfs's, then libfuse's through
 * fuse_session_new, which only parses), then both directories (dirs.c),
 * and only then anything that creates: so a start that cannot work names
 * each bad option and directory and leaves the disk as it was. A store
 * still open in a daemon that was just told to stop is waited for
 * (LOCK_WAIT_S).
 *
 * Detaching: the daemon forks before it opens anything (libcask's threads
 * and its directory lock would not survive a later fork); the parent waits
 * until the child reports that the store is open and the mount is up, and
 * exits with the child's status, so errors (store locked, damaged, bad
 * mount point) reach the terminal and the exit code.
 *
 * Threads: only the main thread runs here; libfuse's workers and the
 * signal thread start after signals_block().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

/* Attribute and entry timeouts: see ops.c for why they can be long. */
#define CACHE_TIMEOUT 86400.0

/* How long the files a merge replaced stay, by default (-o merge_keep). */
#define MERGE_KEEP_DEFAULT_S 600

/* How long a start waits for the store's lock: fusermount3 -u returns
 * before the daemon it stopped has written back and closed the store. */
#define LOCK_WAIT_S 10

struct cli {
	char *data_dir;
	char *mountpoint;
	char *sync;
	char *sync_interval;
	char *chunk_size;
	char *segment_size;
	char *merge_keep;
	char *log;
	char *merge_dead_ratio;
	char *merge_min_dead;
	char *merge_free_ratio;
	char *merge_check;
	int no_writeback;
	int writeback;
	int no_io_uring;
	int io_uring;
	int nonempty;
	int ro;
	int show_help;
	int show_version;
	int extra_args;
};

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_RO
};

#define CLI_OPT(t, f)                         \
	{                                     \
		t, offsetof(struct cli, f), 1 \
	}

static const struct fuse_opt cli_opts[] = {
	{"sync=%s", offsetof(struct cli, sync), 0},
	{"sync_interval=%s", offsetof(struct cli, sync_interval), 0},
	{"chunk_size=%s", offsetof(struct cli, chunk_size), 0},
	{"segment_size=%s", offsetof(struct cli, segment_size), 0},
	{"merge_keep=%s", offsetof(struct cli, merge_keep), 0},
	{"log=%s", offsetof(struct cli, log), 0},
	{"merge_dead_ratio=%s", offsetof(struct cli, merge_dead_ratio), 0},
	{"merge_min_dead=%s", offsetof(struct cli, merge_min_dead), 0},
	{"merge_free_ratio=%s", offsetof(struct cli, merge_free_ratio), 0},
	{"merge_check=%s", offsetof(struct cli, merge_check), 0},
	CLI_OPT("no_writeback", no_writeback),
	CLI_OPT("writeback", writeback),
	CLI_OPT("no_io_uring", no_io_uring),
	CLI_OPT("io_uring", io_uring),
	CLI_OPT("nonempty", nonempty),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END,
};

/*
 * Options of /etc/fstab that mean something to mount(8), systemd or
 * mount.fuse3 but not to the kernel or libfuse (which rejects unknown
 * options): dropped here so that an fstab line works as written.
 */
static bool fstab_only(const char *opt)
{
	static const char *const names[] = {
		"defaults", "auto",  "noauto",	"user",	  "nouser", "users",
		"owner",    "group", "_netdev", "nofail", "sw",	    "xx",
	};
	static const char *const prefixes[] = {"x-", "X-", "comment="};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(opt, names[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(opt, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cli *c = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!c->data_dir) {
			c->data_dir = strdup(arg);
			return c->data_dir ? 0 : -1;
		}
		if (!c->mountpoint) {
			c->mountpoint = strdup(arg);
			return c->mountpoint ? 0 : -1;
		}
		fprintf(stderr, "caskfs: unexpected argument '%s'\n", arg);
		c->extra_args = 1;
		return -1;
	case FUSE_OPT_KEY_OPT:
		return fstab_only(arg) ? 0 : 1;
	case KEY_RO:
		c->ro = 1;
		return 1; /* the kernel mounts read-only too */
	case KEY_HELP:
		c->show_help = 1;
		return 0;
	case KEY_VERSION:
		c->show_version = 1;
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s DATA_DIR MOUNTPOINT [options]\n"
	       "\n"
	       "Mount the caskfs store in DATA_DIR (created if missing) on "
	       "MOUNTPOINT.\n"
	       "A store in use is waited for up to %d s.\n"
	       "\n"
	       "caskfs options:\n"
	       "    -h   --help            print help\n"
	       "    -V   --version         print version\n"
	       "    -o sync=MODE           when the store syncs: always (every "
	       "write),\n"
	       "                           interval (default) or never (only "
	       "on fsync/unmount)\n"
	       "    -o sync_interval=MS    period of sync=interval (default "
	       "1000)\n"
	       "    -o chunk_size=BYTES    chunk size of a new store, a power "
	       "of two\n"
	       "                           from 4K to 4M (default 16K)\n"
	       "    -o segment_size=BYTES  size of a log segment, 4K to 2G "
	       "(default 64M)\n"
	       "    -o merge_keep=SECONDS  keep the files a merge replaced "
	       "at most this\n"
	       "                           long while a cp -a/rsync -a of "
	       "DATA_DIR reads it\n"
	       "                           (default 600)\n"
	       "    -o merge_dead_ratio=R  a merge starts by itself once this "
	       "share of the\n"
	       "                           store is dead, 0 to 1 (default 0.5; "
	       "0: never),\n"
	       "    -o merge_min_dead=BYTES  and this much is dead (default "
	       "64M)\n"
	       "    -o merge_free_ratio=R  or the dead bytes are this share of "
	       "the space left\n"
	       "                           on DATA_DIR's filesystem, 0 to 1 "
	       "(default 0.25)\n"
	       "    -o merge_check=SECONDS how often that is checked (default "
	       "5; "
	       "0: only when\n"
	       "                           a segment fills up)\n"
	       "    -o max_threads=N       FUSE worker threads (default: one "
	       "per CPU, at least 2;\n"
	       "                           with sync=always at least 8)\n"
	       "    -o no_writeback        no kernel writeback cache (writes "
	       "go "
	       "through)\n"
	       "    -o no_io_uring         serve /dev/fuse only; by default "
	       "requests come\n"
	       "                           through per-CPU io_uring queues "
	       "when the kernel\n"
	       "                           offers them (-o io_uring)\n"
	       "    -o nonempty            mount on a mount point that is not "
	       "empty\n"
	       "    -o log=FILE            append the daemon's messages to "
	       "FILE "
	       "(default: stderr\n"
	       "                           in the foreground; in the "
	       "background syslog, or\n"
	       "                           DATA_DIR.log when no syslog daemon "
	       "listens)\n"
	       "    -o ro                  mount read-only; the store is "
	       "opened read-only\n"
	       "                           (and can be in use by another "
	       "process)\n"
	       "Sizes take a K, M or G suffix. default_permissions is always "
	       "on.\n"
	       "Merge: setfattr -n user.caskfs.merge -v 1 MOUNTPOINT, or kill "
	       "-USR1 PID.\n"
	       "Backup window (no store file is removed while it is open):\n"
	       "  setfattr -n user.caskfs.backup -v 1 MOUNTPOINT; rsync -a "
	       "DATA_DIR/ DEST/;\n"
	       "  setfattr -n user.caskfs.backup -v 0 MOUNTPOINT\n"
	       "\n"
	       "    -f                     stay in the foreground (log to "
	       "stderr)\n"
	       "    -d   -o debug          print every FUSE request (implies "
	       "-f)\n"
	       "    -s                     one thread for all requests\n"
	       "    -o clone_fd            a /dev/fuse descriptor per worker "
	       "thread\n"
	       "    -o max_idle_threads=N  idle worker threads kept (default: "
	       "no limit)\n",
	       prog, LOCK_WAIT_S);
	/* Not fuse_cmdline_help(): it repeats -h and -V and gives
	 * max_threads libfuse's default, not ours. */
	fuse_lowlevel_help();
}

/* A size with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int bad_value(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "caskfs: bad value for -o %s: '%s' (%s)\n", opt, val,
		want);
	return -1;
}

/* A share from 0 to 1. */
static int parse_ratio(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

/* The -o values that say when a merge starts by itself. */
static int merge_options(const struct cli *c, struct fs_options *fo)
{
	uint64_t v;

	if (c->merge_dead_ratio &&
	    parse_ratio(c->merge_dead_ratio, &fo->merge_dead_ratio))
		return bad_value("merge_dead_ratio", c->merge_dead_ratio,
				 "a share from 0 to 1");
	if (c->merge_free_ratio &&
	    parse_ratio(c->merge_free_ratio, &fo->merge_free_ratio))
		return bad_value("merge_free_ratio", c->merge_free_ratio,
				 "a share from 0 to 1");
	if (c->merge_min_dead) {
		if (parse_size(c->merge_min_dead, &v))
			return bad_value("merge_min_dead", c->merge_min_dead,
					 "bytes");
		fo->merge_min_dead_bytes = v;
	}
	if (c->merge_check) {
		if (parse_size(c->merge_check, &v) || v > 24u * 3600)
			return bad_value("merge_check", c->merge_check,
					 "seconds, 0 to 86400");
		fo->merge_check_ms = (unsigned)v * 1000;
	}
	return 0;
}

/* Turn the -o values into store options; name the option at fault. */
static int make_options(const struct cli *c, struct fs_options *fo)
{
	uint64_t v;

	fs_options_init(fo);
	fo->log = log_store;
	fo->lock_wait_ms = LOCK_WAIT_S * 1000;
	/* A cp -a or rsync -a of the data directory started before a merge
	 * must still find every file it listed. */
	fo->merge_keep_ms = MERGE_KEEP_DEFAULT_S * 1000;
	if (c->merge_keep) {
		if (parse_size(c->merge_keep, &v) || v > 7u * 24 * 3600)
			return bad_value("merge_keep", c->merge_keep,
					 "seconds, 0 to 604800");
		fo->merge_keep_ms = v * 1000;
	}
	if (c->sync) {
		if (strcmp(c->sync, "always") == 0)
			fo->sync_mode = FS_SYNC_ALWAYS;
		else if (strcmp(c->sync, "interval") == 0)
			fo->sync_mode = FS_SYNC_INTERVAL;
		else if (strcmp(c->sync, "never") == 0)
			fo->sync_mode = FS_SYNC_NEVER;
		else
			return bad_value("sync", c->sync,
					 "always, interval or never");
	}
	if (c->sync_interval) {
		if (parse_size(c->sync_interval, &v) || v == 0 ||
		    v > 24u * 3600 * 1000)
			return bad_value("sync_interval", c->sync_interval,
					 "milliseconds, 1 to 86400000");
		fo->sync_interval_ms = (unsigned)v;
	}
	if (c->segment_size) {
		if (parse_size(c->segment_size, &v) || v < 4096 ||
		    v > (2ull << 30))
			return bad_value("segment_size", c->segment_size,
					 "bytes, 4K to 2G");
		fo->segment_size = v;
	}
	if (c->chunk_size) {
		if (parse_size(c->chunk_size, &v) || v < FS_CHUNK_SIZE_MIN ||
		    v > FS_CHUNK_SIZE_MAX || (v & (v - 1)))
			return bad_value("chunk_size", c->chunk_size,
					 "a power of two, 4K to 4M");
		fo->chunk_size = (uint32_t)v;
		if (fo->inline_max > fo->chunk_size)
			fo->inline_max = fo->chunk_size;
	}
	fo->read_only = c->ro;
	return merge_options(c, fo);
}

/*
 * @p path made absolute and canonical, also when it does not exist yet (a
 * new data directory): the daemon changes to "/" when detaching, and the
 * checks (dirs_check_apart) and the fsname must see the path the kernel
 * will. Component by component from the working directory (or "/"): "."
 * is skipped, ".." goes up one, and each prefix that exists is replaced
 * by its realpath(), so symlinks and ".." through them resolve as the
 * kernel resolves them. NULL with errno set when that fails; free() it.
 */
static char *absolute(const char *path)
{
	char cur[PATH_MAX], *real, *comp, *save, *copy;
	size_t n;

	if (path[0] == '/')
		strcpy(cur, "/");
	else if (!getcwd(cur, sizeof(cur)))
		return NULL;
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		n = strlen(cur);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* cur is canonical: its parent is a prefix */
			n = (size_t)(strrchr(cur, '/') - cur);
			cur[n ? n : 1] = '\0';
			continue;
		}
		if (n + 1 + strlen(comp) >= sizeof(cur)) {
			free(copy);
			errno = ENAMETOOLONG;
			return NULL;
		}
		sprintf(cur + n, "%s%s", n > 1 ? "/" : "", comp);
		real = realpath(cur, NULL);
		if (real) {
			snprintf(cur, sizeof(cur), "%s", real);
			free(real);
		}
	}
	free(copy);
	return strdup(cur);
}

/* "-ofsname=PATH" with ',' and '\' escaped for libfuse's option parser. */
static char *fsname_opt(const char *path)
{
	size_t n = strlen(path);
	char *o = malloc(2 * n + sizeof("-ofsname="));
	char *p;

	if (!o)
		return NULL;
	p = stpcpy(o, "-ofsname=");
	for (size_t i = 0; i < n; i++) {
		if (path[i] == ',' || path[i] == '\\')
			*p++ = '\\';
		*p++ = path[i];
	}
	*p = '\0';
	return o;
}

static const char *store_error(int rc)
{
	switch (rc) {
	case -EBUSY:
		return "the store is still in use by another process (already "
		       "mounted?)";
	case -EIO:
		return "the store is damaged (see 'cask verify')";
	case -EPROTO:
		return "the store has an unknown format version";
	case -EINVAL:
		return "bad store options";
	case -ENOTEMPTY:
		return "the data directory holds files that are not part of a "
		       "store (the line above names them); nothing was "
		       "changed. A data directory is missing, empty or a "
		       "store: is this the mount point? The data directory "
		       "comes first: caskfs DATA_DIR MOUNTPOINT";
	default:
		return strerror(-rc);
	}
}

/* ------------------------------------------------------------ detaching */

static int detach_fd = -1;

/* Fork; the parent waits for the child's word and exits with it. */
static int detach_begin(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char ok = 1;
		ssize_t n;
		int status;

		close(p[1]);
		do
			n = read(p[0], &ok, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && ok == 0)
			_exit(0);
		/* The child failed and said why on our shared stderr. */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) && WEXITSTATUS(status)
			      ? WEXITSTATUS(status)
			      : 1);
	}
	close(p[0]);
	detach_fd = p[1];
	setsid();
	return 0;
}

/* The mount is up: leave the terminal, log where log_detach() says (to
 * DATA_DIR.log at worst), free the parent. */
static void detach_finish(const char *data_dir)
{
	char *fallback;

	int fd;
	char ok = 0;

	if (detach_fd < 0)
		return;
	if (chdir("/") < 0)
		log_msg(LOG_WARNING, "chdir /: %s", strerror(errno));
	if (asprintf(&fallback, "%s.log", data_dir) < 0)
		fallback = NULL;
	if (fallback)
		log_detach(fallback);
	else
		log_msg(LOG_WARNING, "out of memory: messages are lost");
	free(fallback);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(detach_fd, &ok, 1) != 1)
		log_msg(LOG_WARNING, "could not report start-up: %s",
			strerror(errno));
	close(detach_fd);
	detach_fd = -1;
}

/* ------------------------------------------------------------ main */

/* A start that failed after it opened the store in @p data_dir: close it,
 * and if that open made it, remove it (and the directory): no trace. */
static void close_unserved(struct fs *fs, const char *data_dir)
{
	int rc = fs_close_undo(fs);

	if (rc == 0)
		log_msg(LOG_NOTICE, "%s: removed the store made by this start",
			data_dir);
	else if (rc != -EEXIST) /* -EEXIST: not made by this start, kept */
		log_msg(LOG_WARNING,
			"%s: removing the store made by this start: %s",
			data_dir, strerror(-rc));
}

/* Was "-o NAME=..." given anywhere on the command line? */
static bool option_given(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++)
		for (const char *p = argv[i]; (p = strstr(p, name)); p += n)
			if ((p == argv[i] || p[-1] == ',' || p[-1] == 'o') &&
			    p[n] == '=')
				return true;
	return false;
}

/*
 * Worker threads: one per CPU (at least two) unless -o max_threads says
 * otherwise. libfuse's default of ten workers on a small machine spends
 * its time switching between them (bench/fsbench.sh, 2 CPUs: create 10k
 * files 0.99 s -> 0.56 s, rm -rf 0.70 s -> 0.25 s, dbench 137 -> 194 MB/s).
 * Under sync=always at least eight: every worker that changes something
 * waits for an fdatasync, and only requests that other workers brought in
 * meanwhile can share it (8 threads fsyncing 40 files each, 2 CPUs, with
 * libcask's gathering leader: 324-336 fdatasyncs with 2 workers, 163-186
 * with 4, 84-87 with 8, 90-143 with 16; before it 590, 220 with 8).
 */
static unsigned default_threads(enum fs_sync_mode m)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned least = m == FS_SYNC_ALWAYS ? 8 : 2;

	return n > (long)least ? (unsigned)n : least;
}

static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *o,
		    unsigned threads)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (o->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)o->clone_fd);
	/* UINT_MAX: not given, keep libfuse's default. */
	if (o->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, o->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

static const char *sync_name(enum fs_sync_mode m)
{
	return m == FS_SYNC_ALWAYS     ? "always"
	       : m == FS_SYNC_INTERVAL ? "interval"
				       : "never";
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo = {0};
	struct cli cli = {0};
	struct fs_options fso;
	struct daemon d = {0};
	struct fuse_session *se = NULL;
	char *data_dir = NULL, *mnt = NULL, *fsname = NULL, *log = NULL;
	bool threads_given, made_dir, served = false;
	unsigned threads;
	int ret = 1, rc;

	log_route_fuse();
	if (fuse_opt_parse(&args, &cli, cli_opts, cli_proc) < 0)
		goto out_args;
	if (cli.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (cli.show_version) {
		printf("caskfs %s (libcask %s, libfuse %s)\n", CASKFS_VERSION,
		       fs_store_version(), fuse_pkgversion());
		/* fusermount3 -V, run by libfuse, writes its line directly;
		 * ours must come first also into a pipe */
		fflush(stdout);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!cli.data_dir || !cli.mountpoint) {
		fprintf(stderr,
			"usage: %s DATA_DIR MOUNTPOINT [options] (see "
			"--help)\n",
			argv[0]);
		goto out_args;
	}
	/* Every option first, caskfs's and then libfuse's and the kernel's
	 * (fuse_session_new), so that a bad one is reported whatever else is
	 * wrong, and before anything is created on disk. */
	if (make_options(&cli, &fso) < 0)
		goto out_args;
	d.writeback = !cli.no_writeback;
	d.read_only = cli.ro;
	d.attr_timeout = CACHE_TIMEOUT;
	d.entry_timeout = CACHE_TIMEOUT;
	d.negative_timeout = CACHE_TIMEOUT;

	data_dir = absolute(cli.data_dir);
	if (!data_dir) {
		log_msg(LOG_ERR, "%s: %s", cli.data_dir, strerror(errno));
		goto out_args;
	}
	if (cli.log) {
		log = absolute(cli.log);
		rc = log ? log_check(log) : -errno;
		if (rc) {
			bad_value("log", cli.log, strerror(-rc));
			goto out_args;
		}
	}
	fsname = fsname_opt(data_dir);
	if (!fsname || fuse_opt_add_arg(&args, "-odefault_permissions") ||
	    fuse_opt_add_arg(&args, "-osubtype=caskfs") ||
	    fuse_opt_add_arg(&args, fsname)) {
		log_msg(LOG_ERR, "out of memory");
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &fo) < 0)
		goto out_args;
	if (fo.mountpoint) { /* never: we take both positional arguments */
		fprintf(stderr, "caskfs: unexpected argument '%s'\n",
			fo.mountpoint);
		goto out_args;
	}
	threads_given = option_given(argc, argv, "max_threads");
	if (threads_given && fo.max_threads == 0) {
		bad_value("max_threads", "0", "1 or more");
		goto out_args;
	}
	/* Only parses (it opens nothing): safe before the fork. */
	se = fuse_session_new(&args, &daemon_ops, sizeof(daemon_ops), &d);
	d.se = se;
	if (!se) /* libfuse said why (an unknown option, usually) */
		goto out_args;

	/* Both directories, each saying what is wrong with it. */
	rc = dirs_check_data(data_dir, cli.ro);
	if (dirs_check_mountpoint(cli.mountpoint, cli.nonempty) < 0 || rc < 0)
		goto out_session;
	mnt = absolute(cli.mountpoint);
	if (!mnt) {
		log_msg(LOG_ERR, "%s: %s", cli.mountpoint, strerror(errno));
		goto out_session;
	}
	if (dirs_check_apart(data_dir, mnt) < 0)
		goto out_session;
	if (log && (rc = log_open(log)) < 0) {
		log_msg(LOG_ERR, "-o log=%s: %s", log, strerror(-rc));
		goto out_session;
	}

	if (!fo.foreground && detach_begin() < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		goto out_session;
	}
	/* Before any thread exists (libcask starts some in fs_open_store). */
	rc = signals_block();
	if (rc) {
		log_msg(LOG_ERR, "blocking SIGUSR1: %s", strerror(-rc));
		goto out_session;
	}
	made_dir = !cli.ro && access(data_dir, F_OK) < 0 && errno == ENOENT;
	rc = fs_open_store(data_dir, &fso, &d.fs);
	if (rc) {
		log_msg(LOG_ERR, "%s: %s", data_dir, store_error(rc));
		/* The directory the open made, if it is still empty (rmdir
		 * removes nothing else: not another start's store). */
		if (made_dir)
			rmdir(data_dir);
		goto out_session;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_fs;
	if (fuse_session_mount(se, mnt) != 0) {
		log_msg(LOG_ERR, "cannot mount on %s", mnt);
		goto out_signals;
	}
	threads =
		threads_given ? fo.max_threads : default_threads(fso.sync_mode);
	if (cli.no_io_uring)
		uring_refuse("-o no_io_uring");
	uring_attach(se, threads);
	rc = signals_start(d.fs);
	if (rc) {
		log_msg(LOG_ERR, "signal thread: %s", strerror(-rc));
		goto out_unmount;
	}
	detach_finish(data_dir);
	log_msg(LOG_INFO, "%s mounted on %s (sync=%s, writeback %s)", data_dir,
		mnt, sync_name(fso.sync_mode), d.writeback ? "on" : "off");

	served = true;
	rc = run_loop(se, &fo, threads);
	uring_stop();
	/* A positive value is the signal that ended the loop: a clean end. */
	ret = rc < 0 ? 1 : 0;
	if (rc < 0)
		log_msg(LOG_ERR, "session loop: %s", strerror(-rc));
	signals_stop();
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
	/* The session is over; what is left is making the data durable. */
	signals_ignore_stop();
out_fs:
	/* The session goes first: no request can reach the store after it. */
	fuse_session_destroy(se);
	se = NULL;
	if (!served) {
		close_unserved(d.fs, data_dir);
		goto out_session;
	}
	/* Writes back what is buffered and syncs the store. */
	rc = fs_close(d.fs);
	if (rc) {
		log_msg(LOG_ERR, "closing the store: %s", strerror(-rc));
		ret = 1;
	} else if (ret == 0) {
		log_msg(LOG_INFO, "%s unmounted, store closed", mnt);
	}
out_session:
	if (se)
		fuse_session_destroy(se);
out_args:
	signals_stop();
	fuse_opt_free_args(&args);
	free(fo.mountpoint);
	free(cli.data_dir);
	free(cli.mountpoint);
	free(cli.sync);
	free(cli.sync_interval);
	free(cli.chunk_size);
	free(cli.segment_size);
	free(cli.merge_keep);
	free(cli.merge_dead_ratio);
	free(cli.merge_min_dead);
	free(cli.merge_free_ratio);
	free(cli.merge_check);
	free(cli.log);
	free(log);
	free(data_dir);
	free(mnt);
	free(fsname);
	return ret;
}
