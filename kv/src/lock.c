/*
 * lock.c - one writing process per store: an exclusive flock() on the LOCK
 * file, held for the life of the handle, with the holder's pid written in it
 * so the refusal can name who has the store. flock locks die with the
 * process, so a crash never leaves a stale lock behind.
 */
#include "db.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lock_acquire(struct cask_db *db)
{
	char buf[32];
	int fd, n;
	struct iovec iov;

	fd = io_open(db->dirfd, "LOCK", O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		if (err == EWOULDBLOCK) {
			n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			db_log(db, "store %s is in use by process %s", db->dir,
			       buf[0] ? buf : "(unknown)");
		}
		io_close(fd);
		return err == EWOULDBLOCK ? CASK_ELOCKED : -err;
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
