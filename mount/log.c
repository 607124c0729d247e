/*
 * log.c - the daemon's logging. Where a message goes:
 *
 *   before detaching, and in the foreground: stderr ("caskfs: ...");
 *   -o log=FILE: FILE as well, from the start (one timestamped line per
 *     message, appended), and FILE alone once detached;
 *   detached without -o log: syslog (ident "caskfs", facility LOG_DAEMON)
 *     when a syslog daemon listens on /dev/log, else the file the start
 *     named on the terminal (DATA_DIR.log): without a listener syslog()
 *     drops every message, and a daemon that lost its messages would
 *     fail without a word.
 *
 * libcask's and libfuse's messages are routed here too.
 *
 * Threads: any. The sink and the file are set by the main thread before
 * the FUSE loop starts worker threads (atomics, so the signal thread and
 * libcask's threads read them safely); each message is one write().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

enum sink {
	SINK_STDERR,
	SINK_SYSLOG,
	SINK_FILE
};

static atomic_int sink = SINK_STDERR;
static atomic_int log_fd = -1;

/* One line to the log file: "2026-12-03T10:31:02+0000 caskfs[PID]: msg". */
static void file_line(int fd, const char *msg)
{
	char line[1200], stamp[40];
	struct tm tm;
	time_t now = time(NULL);
	size_t n;

	if (!localtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm))
		stamp[0] = '\0';
	n = strlen(msg);
	snprintf(line, sizeof(line), "%s caskfs[%d]: %.*s\n", stamp,
		 (int)getpid(), (int)(n && msg[n - 1] == '\n' ? n - 1 : n),
		 msg);
	/* O_APPEND: lines of several threads (and daemons) never mix. */
	if (write(fd, line, strlen(line)) < 0) {
		/* Nowhere left to say it. */
	}
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	int fd = atomic_load(&log_fd);
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (fd >= 0)
		file_line(fd, line);
	switch (atomic_load(&sink)) {
	case SINK_SYSLOG:
		syslog(prio, "%s", line);
		break;
	case SINK_STDERR:
		/* One fprintf per line so that lines of threads don't mix. */
		n = strlen(line);
		fprintf(stderr, "caskfs: %s%s", line,
			n && line[n - 1] == '\n' ? "" : "\n");
		break;
	case SINK_FILE: /* written above */
		break;
	}
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

int log_check(const char *path)
{
	char *dir, *slash;
	int rc = 0;

	if (access(path, W_OK) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(slash ? dir : ".", W_OK | X_OK) < 0)
		rc = -errno;
	free(dir);
	return rc;
}

int log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	atomic_store(&log_fd, fd);
	return 0;
}

/* Does a syslog daemon listen on /dev/log? (What glibc connects to.) */
static bool syslog_listens(void)
{
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int s = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		int rc;

		if (s < 0)
			continue;
		rc = connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		if (rc == 0)
			return true;
	}
	return false;
}

int log_detach(const char *fallback)
{
	int rc;

	if (atomic_load(&log_fd) >= 0) {
		atomic_store(&sink, SINK_FILE);
		return 0;
	}
	if (syslog_listens()) {
		openlog("caskfs", LOG_PID, LOG_DAEMON);
		atomic_store(&sink, SINK_SYSLOG);
		return 0;
	}
	rc = log_open(fallback);
	if (rc) {
		log_msg(LOG_WARNING,
			"no syslog daemon listens on /dev/log and %s cannot "
			"be opened (%s): messages are lost from now on; give "
			"-o log=FILE",
			fallback, strerror(-rc));
		atomic_store(&sink, SINK_FILE);
		return rc;
	}
	/* Still on the terminal: say where the messages go. */
	fprintf(stderr,
		"caskfs: no syslog daemon listens on /dev/log: messages go "
		"to %s (-o log=FILE to choose)\n",
		fallback);
	atomic_store(&sink, SINK_FILE);
	return 0;
}

void log_store(void *arg, const char *msg)
{
	(void)arg;
	log_msg(LOG_NOTICE, "store: %s", msg);
}

/* libfuse writes some messages in pieces ("unknown option(s): `", the
 * option, "'\n"): they are gathered per thread into whole lines. */
static void fuse_log_fn(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static _Thread_local char line[1024];
	static _Thread_local size_t len;
	int n;

	/* libfuse's debug output (-d) stays on stderr, where -d wants it. */
	if (level == FUSE_LOG_DEBUG) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len = len + (size_t)n < sizeof(line) ? len + (size_t)n
						     : sizeof(line) - 1;
	if (len && line[len - 1] != '\n' && len < sizeof(line) - 1)
		return;
	/* fuse_log_level values are syslog priorities. */
	log_msg((int)level, "%s", line);
	len = 0;
	line[0] = '\0';
}

void log_route_fuse(void)
{
	fuse_set_log_func(fuse_log_fn);
}
