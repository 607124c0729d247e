/*
 * hold.c - held space: disk space set aside for writes a caller has
 * promised (caskfs: fallocate), allocated in the file HELD of the store
 * directory so that nothing else on the disk can take it.
 *
 * The held bytes are the size of HELD: cask_hold() allocates it further
 * (posix_fallocate, then fsync, so that a crash keeps it; the first one
 * makes the file, so a store that never held space has none), cask_unhold()
 * cuts it back. A commit that writes what was promised gives its share
 * back just before its records are appended (write_records()), so the
 * append finds the blocks HELD let go; if the commit fails they are taken
 * again. The size of HELD is the whole state: it survives close and open
 * unchanged, and the caller, which knows what it still owes, evens it out
 * after open. A HELD with holes (a sparse copy of the directory) is
 * allocated again at open, or emptied when the room is not there. HELD holds no data; recovery, verify and the tools ignore
 * it, like RESERVE.
 *
 * Between the cut and the append another writer of the same disk may
 * take the blocks (not a write of this store: those wait for wmu; but
 * merge outputs and hint files may); the commit then fails with ENOSPC as
 * it would have without held space.
 *
 * Locks: wmu for everything but hold_open() and hold_close(), which run
 * before and after any other thread.
 */
#include "db.h"

#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define HELD_NAME "HELD"

int hold_open(struct cask_db *db)
{
	struct stat st;
	int flags = db->opts.read_only ? O_RDONLY : O_RDWR;
	int rc;

	db->held = 0;
	db->held_fd = io_open(db->dirfd, HELD_NAME, flags, 0);
	if (db->held_fd == -ENOENT) {
		db->held_fd = -1; /* made by the first cask_hold() */
		return 0;
	}
	if (db->held_fd < 0)
		return db->held_fd;
	if (fstat(db->held_fd, &st))
		return -errno;
	db->held = (uint64_t)st.st_size;
	if (db->opts.read_only || (uint64_t)st.st_blocks * 512 >= db->held)
		return 0;
	/* Fewer blocks than bytes: a sparse copy (rsync -S, cp
	 * --sparse=always) holds nothing. Allocate it again, or hold
	 * nothing: the caller evens out what it owes after open. */
	rc = io_fallocate(db->held_fd, (off_t)db->held);
	if (!rc)
		rc = io_fsync(db->held_fd);
	if (rc) {
		db_log(db,
		       "%s/" HELD_NAME ": sparse, %llu bytes not held "
		       "again: %s",
		       db->dir, (unsigned long long)db->held,
		       cask_strerror(rc));
		db->held = 0;
		return io_ftruncate(db->held_fd, 0);
	}
	return 0;
}

void hold_close(struct cask_db *db)
{
	if (db->held_fd >= 0)
		io_close(db->held_fd);
	db->held_fd = -1;
}

/* Make HELD @p len bytes long, all allocated. @return 0 or -errno with
 * the held bytes unchanged. */
static int set_held(struct cask_db *db, uint64_t len)
{
	int rc;

	if (len > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (db->held_fd < 0) {
		db->held_fd =
			io_open(db->dirfd, HELD_NAME, O_RDWR | O_CREAT, 0644);
		if (db->held_fd < 0) {
			rc = db->held_fd;
			db->held_fd = -1;
			return rc;
		}
	}
	rc = len > db->held ? io_fallocate(db->held_fd, (off_t)len)
			    : io_ftruncate(db->held_fd, (off_t)len);
	if (!rc && len > db->held)
		rc = io_fsync(db->held_fd);
	if (rc) {
		/* A partial allocation would hold space nobody owns. */
		if (len > db->held)
			io_ftruncate(db->held_fd, (off_t)db->held);
		return rc;
	}
	db->held = len;
	return 0;
}

int hold_take_back(struct cask_db *db, uint64_t bytes)
{
	int rc;

	if (!bytes)
		return 0;
	rc = set_held(db, db->held + bytes);
	if (rc)
		db_log(db, "%s/" HELD_NAME ": %llu held bytes lost: %s",
		       db->dir, (unsigned long long)bytes, cask_strerror(rc));
	return rc;
}

int hold_give(struct cask_db *db, uint64_t want, uint64_t *given)
{
	uint64_t n = want < db->held ? want : db->held;
	int rc = n ? set_held(db, db->held - n) : 0;

	*given = rc ? 0 : n;
	return rc;
}

int cask_hold(struct cask_db *db, uint64_t bytes)
{
	int rc;

	pthread_mutex_lock(&db->wmu);
	rc = db_check_writable(db);
	/* While the space reserve is given up, the room left is for what
	 * frees space. */
	if (!rc)
		rc = reserve_admit(db, false);
	if (!rc && bytes > UINT64_MAX - db->held)
		rc = -EFBIG;
	if (!rc && bytes)
		rc = set_held(db, db->held + bytes);
	pthread_mutex_unlock(&db->wmu);
	return rc;
}

int cask_unhold(struct cask_db *db, uint64_t bytes)
{
	uint64_t given;
	int rc;

	if (db->opts.read_only)
		return CASK_EREADONLY;
	pthread_mutex_lock(&db->wmu);
	rc = hold_give(db, bytes, &given);
	pthread_mutex_unlock(&db->wmu);
	return rc;
}
