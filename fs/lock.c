/*
 * lock.c - the writers' mutex and the fs-wide rwlock (internal.h says what
 * each covers and their order), the idle operations' way past the mutex,
 * and the clock. A lock failure here is a
 * programming error (deadlock, corrupted lock), so it aborts rather than
 * returning.
 */
#include "internal.h"

#include <stdlib.h>

void fs_rdlock(struct fs *fs)
{
	if (pthread_rwlock_rdlock(&fs->lock) != 0)
		abort();
}

void fs_wrlock(struct fs *fs)
{
	if (pthread_mutex_lock(&fs->wmu) != 0)
		abort();
	fs_stop_readers(fs);
	fs->writing = true;
}

bool fs_in_commit(const struct fs *fs, const struct fs_inode *in)
{
	return fs->window && txn_holds(fs->window, in);
}

bool fs_idle_lock(struct fs *fs, const struct fs_inode *in)
{
	fs_stop_readers(fs);
	if (fs_in_commit(fs, in)) {
		fs_unlock(fs);
		return false;
	}
	return true;
}

void fs_let_readers(struct fs *fs)
{
	pthread_rwlock_unlock(&fs->lock);
}

void fs_stop_readers(struct fs *fs)
{
	if (pthread_rwlock_wrlock(&fs->lock) != 0)
		abort();
}

void fs_unlock(struct fs *fs)
{
	pthread_rwlock_unlock(&fs->lock);
}

int fs_wrunlock(struct fs *fs, int err)
{
	struct txn_owed o = txn_take_owed(fs);
	int werr;

	fs->writing = false;
	pthread_rwlock_unlock(&fs->lock);
	pthread_mutex_unlock(&fs->wmu);
	werr = txn_wait(fs, o);
	return err ? err : werr;
}

struct timespec fs_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}
