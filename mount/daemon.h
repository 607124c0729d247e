/*
 * daemon.h - what the files of the caskfs daemon (mount/) share: the
 * daemon's state, logging, the FUSE handler table, the start-up checks of
 * its directories and the signal thread.
 *
 * mount/ is FUSE glue only: every filesystem decision is made by fs/
 * (caskfs.h); this layer turns requests into fs_* calls and replies.
 * struct daemon is filled in by main.c before the FUSE session starts and
 * is read-only afterwards, so handlers read it without a lock.
 */
#ifndef CASKFS_DAEMON_H
#define CASKFS_DAEMON_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <syslog.h>

#include "caskfs.h"

#define CASKFS_VERSION "0.1.0"

/** Largest write (and read) the kernel is asked to send: 1 MiB. */
#define DAEMON_MAX_WRITE (1u << 20)

struct daemon {
	struct fs *fs;
	/** The session, for notifications to the kernel. */
	struct fuse_session *se;
	/** FUSE_CAP_WRITEBACK_CACHE wanted (-o no_writeback clears it). */
	bool writeback;
	/** Mounted read-only (-o ro): the store is opened read-only too. */
	bool read_only;
	/** Attribute and entry cache timeouts in seconds. */
	double attr_timeout;
	double entry_timeout;
	/** Cache negative lookups for this long (0: not at all). */
	double negative_timeout;
};

/** The FUSE low-level handlers (ops.c); userdata is a struct daemon. */
extern const struct fuse_lowlevel_ops daemon_ops;

/*
 * Logging (log.c). Messages go to stderr prefixed with "caskfs: " until
 * log_detach(), and to the file of log_open() as well once it succeeded;
 * after log_detach() to that file alone, or to syslog (ident "caskfs"),
 * or to the fallback file. Safe from any thread.
 */
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Could log_open(@p path) work: the file is writable, or it is missing
 *  and its directory writable? Creates nothing. @return 0, or -errno
 *  (-ENOENT: the directory is missing). */
int log_check(const char *path);
/** Append every message to @p path too (-o log=FILE), created mode 0640
 *  if missing. Call before threads start. @return 0, or -errno (nothing
 *  changed). */
int log_open(const char *path);
/** The daemon leaves the terminal: log to the file of log_open() if one is
 *  open, else to syslog if a syslog daemon listens on /dev/log, else to
 *  @p fallback (said on stderr, which is still the terminal). Call once,
 *  before threads start. @return 0, or -errno when @p fallback could not
 *  be opened (said on stderr; messages are lost from then on). */
int log_detach(const char *fallback);
/** Route libfuse's messages through log_msg(). */
void log_route_fuse(void);
/** The store's log callback (struct fs_options.log); arg is unused. */
void log_store(void *arg, const char *msg);

/*
 * Start-up checks of the two directories (dirs.c), made before anything is
 * created on disk. Each returns 0, or -1 after logging what is wrong.
 */
/** The absolute @p dir is a directory, or can be made (its parent is one;
 *  not with @p read_only), and is not the root of a FUSE mount. */
int dirs_check_data(const char *dir, bool read_only);
/** @p mnt is a directory, free of FUSE mounts (a stale one is detached),
 *  holding no store, and empty unless @p nonempty. */
int dirs_check_mountpoint(const char *mnt, bool nonempty);
/** The absolute @p data_dir does not lie inside the absolute @p mnt. */
int dirs_check_apart(const char *data_dir, const char *mnt);

/*
 * The signal thread (signals.c): SIGUSR1 starts a merge. Call
 * signals_block() in the main thread before any other thread exists, so
 * that every thread inherits a mask without SIGUSR1 and the signal is only
 * taken by sigwait() in the signal thread.
 */
int signals_block(void);
int signals_start(struct fs *fs);
/** Stop and join the signal thread; a no-op if it was not started. */
void signals_stop(void);
/** Ignore SIGTERM, SIGINT and SIGHUP from now on: called once the session
 *  has ended, so that a stop signal (systemd's at shutdown, after the
 *  unmount returned; a second Ctrl-C) cannot cut short the writeback and
 *  sync of the store's close. SIGKILL still ends the daemon. */
void signals_ignore_stop(void);

/*
 * FUSE over io_uring (uring.c; docs/CASKFS.md, "Transport"). The session
 * loop of libfuse keeps serving /dev/fuse; the ring, when the kernel
 * offers it at INIT, serves every other request from per-CPU queues.
 */
/** Hook the transport into the mounted session @p se, before its loop
 *  runs; @p threads workers in all (spread over the CPU queues). When it
 *  cannot, /dev/fuse serves alone and one log line says why. */
void uring_attach(struct fuse_session *se, unsigned threads);
/** The ring is not tried (call before uring_attach(), which still hooks
 *  INIT for killpriv v2); @p why is what user.caskfs.stats says. */
void uring_refuse(const char *why);
/** Whether the request this thread is serving asks the daemon to clear the
 *  file's set-user-ID and set-group-ID bits: FUSE_HANDLE_KILLPRIV_V2 was
 *  negotiated and the kernel marked it (a WRITE or a truncating SETATTR,
 *  OPEN or CREATE by a caller without CAP_FSETID, or a chown of a
 *  non-directory). Only valid in a request handler. */
bool uring_kill_suidgid(void);
/** Stop and join the ring threads (after the session loop ended, before
 *  the session is unmounted or destroyed); a no-op if none run. */
void uring_stop(void);
/** The transport's lines for user.caskfs.stats ("transport: io_uring" or
 *  "transport: /dev/fuse" and why) in *@p text, the caller's to free().
 *  @return 0, or -ENOMEM (*@p text is then undefined). */
int uring_stats_text(char **text);

#endif /* CASKFS_DAEMON_H */
