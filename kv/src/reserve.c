/*
 * reserve.c - the space reserve: RESERVE, a file of reserve_bytes allocated
 * bytes in the store directory, so that a full disk can still free space
 * (ext4 keeps blocks back for root for the same reason).
 *
 * Deletes and merge give space back only after they have written: a
 * tombstone is an append, and merge writes its outputs before it removes
 * its inputs. On a disk with no byte free they could never start. So a
 * write that frees space and meets ENOSPC truncates RESERVE to nothing and
 * tries again (write.c), and so does merge (merge.c). While the reserve is
 * given up, ordinary writes fail with -ENOSPC before writing anything
 * (after one attempt to allocate it again): the space it left goes only to
 * what frees more. It is allocated again at the end of a merge, at open,
 * and by the first ordinary write that finds the space.
 *
 * RESERVE holds no data. Recovery, verify and the tools ignore it; a copy
 * of the directory may have it sparse or not at all, and its first
 * writable open allocates it again.
 *
 * Locks: everything here runs under wmu, except reserve_open() and
 * reserve_close(), which run before and after any other thread.
 */
#include "db.h"

#include "io.h"

#include <errno.h>
#include <fcntl.h>

#define RESERVE_NAME "RESERVE"

static bool disk_full(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT;
}

void reserve_restore(struct cask_db *db)
{
	off_t len = (off_t)db->opts.reserve_bytes;
	int rc;

	if (db->reserve != RESERVE_RELEASED)
		return;
	rc = io_fallocate(db->reserve_fd, len);
	/* A larger file (reserve_bytes lowered since) shrinks to the size. */
	if (!rc)
		rc = io_ftruncate(db->reserve_fd, len);
	if (!rc) {
		db->reserve = RESERVE_HELD;
		return;
	}
	/* A partial allocation would hold space that nothing may use. */
	io_ftruncate(db->reserve_fd, 0);
	if (!disk_full(rc)) {
		db_log(db, "%s/" RESERVE_NAME ": space reserve turned off: %s",
		       db->dir, cask_strerror(rc));
		db->reserve = RESERVE_OFF;
	}
}

bool reserve_release(struct cask_db *db)
{
	int rc;

	if (db->reserve != RESERVE_HELD)
		return false;
	rc = io_ftruncate(db->reserve_fd, 0);
	if (rc) {
		db_log(db, "%s/" RESERVE_NAME ": space reserve lost: %s",
		       db->dir, cask_strerror(rc));
		db->reserve = RESERVE_OFF;
		return false;
	}
	db_log(db,
	       "%s/" RESERVE_NAME ": disk full, space reserve given up "
	       "to free space",
	       db->dir);
	db->reserve = RESERVE_RELEASED;
	return true;
}

int reserve_admit(struct cask_db *db, bool frees)
{
	if (frees || db->reserve != RESERVE_RELEASED)
		return 0;
	reserve_restore(db);
	return db->reserve == RESERVE_RELEASED ? -ENOSPC : 0;
}

int reserve_open(struct cask_db *db)
{
	int rc;

	db->reserve = RESERVE_OFF;
	if (!db->opts.reserve_bytes) {
		rc = io_unlinkat(db->dirfd, RESERVE_NAME);
		return rc == -ENOENT ? 0 : rc;
	}
	db->reserve_fd =
		io_open(db->dirfd, RESERVE_NAME, O_RDWR | O_CREAT, 0644);
	if (db->reserve_fd < 0)
		return db->reserve_fd;
	db->reserve = RESERVE_RELEASED;
	reserve_restore(db);
	if (db->reserve == RESERVE_RELEASED)
		db_log(db,
		       "%s/" RESERVE_NAME ": no room for the space reserve "
		       "(%llu bytes): only deletes and merge can write",
		       db->dir, (unsigned long long)db->opts.reserve_bytes);
	return 0;
}

void reserve_close(struct cask_db *db)
{
	if (db->reserve_fd >= 0)
		io_close(db->reserve_fd);
	db->reserve_fd = -1;
}
