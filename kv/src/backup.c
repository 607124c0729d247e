/*
 * backup.c - backup windows (cask_backup_begin/end and the held kind):
 * while one is open no file of the store is removed, renamed or rewritten,
 * so that a copy of the directory made inside it (cp -a, rsync -a) opens
 * cleanly.
 *
 * The windows are db->windows (db->backups of them) under wmu. While there
 * is one the merge thread starts no job (merge.c): a merge asked for waits
 * (db->merge_waiting) and starts when the last window closes, and the
 * inputs of merges that finished are kept (deferred.c) until then. Begin
 * waits for a job that is running already to end, and for kept inputs
 * being removed already (by the keeper, or by a window closing).
 *
 * A window may belong to a process (its holder) and may have a longest
 * lifetime: the keeper thread (deferred.c) calls backup_expire() every
 * second while a window is open, and closes a window whose holder has
 * ended (a pidfd that polls readable; kill(pid, 0) where there is no
 * pidfd) or whose time is up. So a copying program that dies, or a shell
 * that forgot to close its window, leaves merges stopped a second or
 * max_ms at most, not until the next remount.
 */
#include "db.h"

#include "alloc.h"
#include "deferred.h"
#include "merge.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A pidfd of process @p pid, or -1 where there is none (no pidfd_open,
 * or @p pid a thread that leads no process). @return it, or -ESRCH. */
static int holder_fd(int pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0 || errno != ESRCH)
		return fd >= 0 ? fd : -1;
#endif
	return kill(pid, 0) && errno == ESRCH ? -ESRCH : -1;
}

static bool holder_ended(const struct backup_window *w)
{
	struct pollfd p = {.fd = w->pidfd, .events = POLLIN};

	if (!w->pid)
		return false;
	if (w->pidfd >= 0)
		return poll(&p, 1, 0) > 0;
	return kill(w->pid, 0) && errno == ESRCH;
}

int cask_backup_begin_held(struct cask_db *db,
			   const struct cask_backup_options *opts)
{
	struct backup_window w = {.pidfd = -1}, *v;

	if (db->opts.read_only)
		return CASK_EREADONLY;
	if (!opts || opts->holder_pid < 0)
		return CASK_EINVAL;
	w.pid = opts->holder_pid;
	w.max_ms = opts->max_ms;
	w.opened_ms = db_mono_ms();
	if (w.pid) {
		w.pidfd = holder_fd(w.pid);
		if (w.pidfd == -ESRCH)
			return -ESRCH;
	}
	pthread_mutex_lock(&db->wmu);
	v = mem_realloc(db->windows, (size_t)(db->backups + 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&db->wmu);
		if (w.pidfd >= 0)
			close(w.pidfd);
		return -ENOMEM;
	}
	v[db->backups++] = w;
	db->windows = v;
	/* No drop list is taken now; let those taken be removed, and a
	 * running job finish, before the copy. */
	deferred_wait_removals(db);
	pthread_mutex_unlock(&db->wmu);
	deferred_wake(db, false); /* it watches the window */
	merge_wait_idle(db);
	return 0;
}

int cask_backup_begin(struct cask_db *db)
{
	static const struct cask_backup_options none;

	return cask_backup_begin_held(db, &none);
}

/* What closing a window leaves to do without wmu. */
struct after_close {
	uint32_t *ids; /* kept drop lists that may go */
	size_t n;
	bool merge, all; /* start the merge that waited */
};

/* Close window @p i. Caller holds wmu. */
static void close_at(struct cask_db *db, int i, struct after_close *a)
{
	if (db->windows[i].pidfd >= 0)
		close(db->windows[i].pidfd);
	for (int j = i + 1; j < db->backups; j++)
		db->windows[j - 1] = db->windows[j];
	if (--db->backups)
		return;
	a->ids = deferred_take(db, false, &a->n);
	if (db->merge_waiting) {
		a->merge = true;
		a->all = a->all || db->merge_waiting_all;
		db->merge_waiting = db->merge_waiting_all = false;
	}
}

static void after(struct cask_db *db, struct after_close *a)
{
	struct cask_merge_options mo = {.all = a->all};
	int rc;

	deferred_finish(db, a->ids, a->n);
	if (!a->merge)
		return;
	rc = cask_merge(db, &mo);
	db_log(db, "%s: backup windows closed: the merge that waited %s%s",
	       db->dir, rc ? "did not start: " : "starts",
	       rc ? cask_strerror(rc) : "");
}

/* Close the newest window held by @p holder_pid (0: with no holder), or
 * when @p any the newest of all. */
static int end_window(struct cask_db *db, int holder_pid, bool any)
{
	struct after_close a = {0};
	int i;

	if (db->opts.read_only)
		return CASK_EREADONLY;
	pthread_mutex_lock(&db->wmu);
	if (db->backups == 0) {
		pthread_mutex_unlock(&db->wmu);
		return CASK_EINVAL;
	}
	i = db->backups - 1;
	while (!any && i >= 0 && db->windows[i].pid != holder_pid)
		i--;
	if (i < 0) {
		pthread_mutex_unlock(&db->wmu);
		return CASK_ENOTFOUND;
	}
	close_at(db, i, &a);
	pthread_mutex_unlock(&db->wmu);
	after(db, &a);
	return 0;
}

int cask_backup_end_held(struct cask_db *db, int holder_pid)
{
	return end_window(db, holder_pid, false);
}

int cask_backup_end(struct cask_db *db)
{
	return end_window(db, 0, true);
}

bool backup_expire(struct cask_db *db)
{
	struct after_close a = {0};
	uint64_t now = db_mono_ms();
	bool open;

	pthread_mutex_lock(&db->wmu);
	for (int i = db->backups - 1; i >= 0; i--) {
		const struct backup_window *w = &db->windows[i];
		bool ended = holder_ended(w);

		if (!ended && (!w->max_ms || now - w->opened_ms < w->max_ms))
			continue;
		if (ended)
			db_log(db,
			       "%s: backup window of process %d closed: the "
			       "process has ended",
			       db->dir, w->pid);
		else
			db_log(db,
			       "%s: backup window closed after %llu s, its "
			       "longest lifetime",
			       db->dir, (unsigned long long)(w->max_ms / 1000));
		close_at(db, i, &a);
	}
	open = db->backups > 0;
	pthread_mutex_unlock(&db->wmu);
	after(db, &a);
	return open;
}

int cask_backup_windows(struct cask_db *db, struct cask_backup_info *out,
			size_t max, size_t *count)
{
	uint64_t now = db_mono_ms();

	pthread_mutex_lock(&db->wmu);
	*count = (size_t)db->backups;
	for (size_t i = 0; i < *count && i < max; i++) {
		const struct backup_window *w = &db->windows[i];
		uint64_t open = now - w->opened_ms;

		out[i] = (struct cask_backup_info){
			.holder_pid = w->pid,
			.open_ms = open,
			.left_ms = !w->max_ms	      ? 0
				   : open < w->max_ms ? w->max_ms - open
						      : 1,
		};
	}
	pthread_mutex_unlock(&db->wmu);
	return 0;
}

void backup_free(struct cask_db *db)
{
	for (int i = 0; i < db->backups; i++)
		if (db->windows[i].pidfd >= 0)
			close(db->windows[i].pidfd);
	mem_free(db->windows);
	db->windows = NULL;
	db->backups = 0;
}
