/*
 * log.c - the daemon's logging: stderr ("caskfs: ...") while in the
 * foreground or before detaching, syslog (ident "caskfs", facility
 * LOG_DAEMON) once detached. libcask's and libfuse's messages are routed
 * here too.
 *
 * Threads: any. The only shared state is use_syslog, written once by the
 * main thread before the FUSE loop starts worker threads (an atomic, so
 * the signal thread and libcask's threads read it safely).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

static atomic_bool use_syslog;

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (atomic_load(&use_syslog)) {
		syslog(prio, "%s", line);
		return;
	}
	/* One fprintf per line so that lines of several threads don't mix. */
	size_t n = strlen(line);
	fprintf(stderr, "caskfs: %s%s", line,
		n && line[n - 1] == '\n' ? "" : "\n");
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

void log_to_syslog(void)
{
	openlog("caskfs", LOG_PID, LOG_DAEMON);
	atomic_store(&use_syslog, true);
}

void log_store(void *arg, const char *msg)
{
	(void)arg;
	log_msg(LOG_NOTICE, "store: %s", msg);
}

static void fuse_log_fn(enum fuse_log_level level, const char *fmt, va_list ap)
{
	/* fuse_log_level values are syslog priorities. */
	int prio = (int)level;

	/* libfuse's debug output (-d) stays on stderr, where -d wants it. */
	if (level == FUSE_LOG_DEBUG || !atomic_load(&use_syslog)) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	vsyslog(prio, fmt, ap);
}

void log_route_fuse(void)
{
	fuse_set_log_func(fuse_log_fn);
}
