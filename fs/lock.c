/*
 * lock.c - the writers' mutex and the fs-wide rwlock (internal.h says what
 * each covers and their order), the idle operations' way past the mutex,
 * and the clock. A lock another thread holds is spun on for a while
 * before sleeping (spin_lock()). A lock failure here is a
 * programming error (deadlock, corrupted lock), so it aborts rather than
 * returning.
 */
#include "internal.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a thread tries a lock another one holds before it sleeps. The
 * sections under these locks take microseconds; a sleeping thread costs
 * more to wake, and on a virtual machine whose idle CPUs halt about 30 us
 * (docs/BENCHMARKS.md, "Waking a halted CPU"): two processes creating
 * files through FUSE over io_uring did less together than one alone. */
#define SPIN_NS 30000

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int try_mutex(void *l)
{
	return pthread_mutex_trylock(l);
}

static int try_read(void *l)
{
	return pthread_rwlock_tryrdlock(l);
}

static int try_write(void *l)
{
	return pthread_rwlock_trywrlock(l);
}

/* Try @p try_lock on @p lock for up to SPIN_NS (not at all on one CPU,
 * where the holder cannot run meanwhile). @return true if it was taken. */
static bool spin_lock(int (*try_lock)(void *), void *lock)
{
	static long cpus;
	uint64_t until = 0;

	if (try_lock(lock) == 0)
		return true;
	if (!__atomic_load_n(&cpus, __ATOMIC_RELAXED))
		__atomic_store_n(&cpus, sysconf(_SC_NPROCESSORS_ONLN),
				 __ATOMIC_RELAXED);
	if (__atomic_load_n(&cpus, __ATOMIC_RELAXED) < 2)
		return false;
	for (unsigned i = 1;; i++) {
		cpu_relax();
		if (try_lock(lock) == 0)
			return true;
		if (i % 32 == 0) {
			uint64_t now = mono_ns();

			if (!until)
				until = now + SPIN_NS;
			else if (now >= until)
				return false;
		}
	}
}

void fs_rdlock(struct fs *fs)
{
	if (!spin_lock(try_read, &fs->lock) &&
	    pthread_rwlock_rdlock(&fs->lock) != 0)
		abort();
}

void fs_wrlock(struct fs *fs)
{
	if (!spin_lock(try_mutex, &fs->wmu) &&
	    pthread_mutex_lock(&fs->wmu) != 0)
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
	if (!spin_lock(try_write, &fs->lock) &&
	    pthread_rwlock_wrlock(&fs->lock) != 0)
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
