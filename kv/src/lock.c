/*
 * lock.c - one writing process per store: an exclusive flock() on the LOCK
 * file, held for the life of the handle, with the holder's pid written in it
 * so the refusal can name who has the store. flock locks die with the
 * process, so a crash never leaves a stale lock behind. An open may wait
 * for the lock (lock_wait_ms), polling every LOCK_POLL_MS.
 */
#include "db.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define LOCK_POLL_MS 50u

/* The holder's pid as it wrote it into LOCK, into @p buf. */
static const char *holder(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? buf : "(unknown)";
}

/* @p ms as people say it: "10 s", "250 ms". */
static const char *duration(char *buf, size_t size, unsigned ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%u s", ms / 1000);
	else
		snprintf(buf, size, "%u ms", ms);
	return buf;
}

/* Wait for the lock on @p fd up to lock_wait_ms, polling (flock cannot
 * time out): a process that was just told to stop closes in a moment. */
static int wait_lock(struct cask_db *db, int fd)
{
	unsigned waited = 0, wait = db->opts.lock_wait_ms;
	char pid[32], span[32];

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= wait)
			break;
		if (waited == 0)
			db_log(db,
			       "%s: in use by process %s; waiting up to %s "
			       "for it to be closed",
			       db->dir, holder(fd, pid, sizeof(pid)),
			       duration(span, sizeof(span), wait));
		unsigned step = wait - waited < LOCK_POLL_MS ? wait - waited
							     : LOCK_POLL_MS;
		nanosleep(&(struct timespec){0, step * 1000000L}, NULL);
		waited += step;
	}
	if (wait)
		db_log(db, "%s: still in use by process %s after %s", db->dir,
		       holder(fd, pid, sizeof(pid)),
		       duration(span, sizeof(span), wait));
	else
		db_log(db, "%s: in use by process %s", db->dir,
		       holder(fd, pid, sizeof(pid)));
	return CASK_ELOCKED;
}

int lock_acquire(struct cask_db *db)
{
	char buf[32];
	int fd, n, rc;
	struct iovec iov;

	fd = io_open(db->dirfd, "LOCK", O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return fd;
	rc = wait_lock(db, fd);
	if (rc) {
		io_close(fd);
		return rc;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	iov = (struct iovec){buf, (size_t)n};
	/* The pid is informative only: failing to record it is harmless. */
	if (io_ftruncate(fd, 0) == 0)
		(void)io_pwritev_all(fd, &iov, 1, 0);
	db->lock_fd = fd;
	return 0;
}

void lock_release(struct cask_db *db)
{
	if (db->lock_fd < 0)
		return;
	io_close(db->lock_fd); /* closing drops the flock */
	db->lock_fd = -1;
}
