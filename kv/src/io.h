/*
 * io.h - every system call that touches store files goes through one table
 * of operations, so tests can make any of them fail (-EIO, -ENOSPC, short
 * writes) or record what was written (power-loss simulation).
 *
 * The table is process-wide. Each operation returns what the system call
 * would, with -errno in place of -1/errno. It also reads the kernel's boot
 * id, so that a test can simulate a reboot (docs/FORMAT.md section 7.2).
 */
#ifndef CASK_IO_H
#define CASK_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define IO_BOOT_ID_SIZE 16

struct io_ops {
	int (*open)(int dirfd, const char *name, int flags, mode_t mode);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int cnt, off_t off);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	/* Allocate the first @p len bytes of the file (posix_fallocate). */
	int (*fallocate)(int fd, off_t len);
	int (*renameat)(int dirfd, const char *from, const char *to);
	int (*unlinkat)(int dirfd, const char *name);
	int (*close)(int fd);
	/* The boot id of the running kernel (/proc/sys/kernel/random/boot_id,
	 * a UUID, as its 16 bytes): 0, or -errno if it cannot be read. */
	int (*boot_id)(uint8_t id[IO_BOOT_ID_SIZE]);
};

/** The operations of the running system. */
extern const struct io_ops io_default_ops;

/** Test seam: use @p ops (NULL: the defaults) from now on. */
void io_set_ops(const struct io_ops *ops);

/* The current table's operations. */
int io_open(int dirfd, const char *name, int flags, mode_t mode);
int io_fdatasync(int fd);
int io_fsync(int fd);
int io_ftruncate(int fd, off_t len);
int io_fallocate(int fd, off_t len);
int io_renameat(int dirfd, const char *from, const char *to);
int io_unlinkat(int dirfd, const char *name);
int io_close(int fd);
int io_boot_id(uint8_t id[IO_BOOT_ID_SIZE]);

#define IO_MAX_IOV 8

/**
 * Write all of @p iov (at most IO_MAX_IOV entries) at @p off, retrying short
 * writes and EINTR.
 * @return 0 or -errno (some bytes may have been written).
 */
int io_pwritev_all(int fd, const struct iovec *iov, int cnt, off_t off);

/**
 * Create (or replace) file @p name in @p dirfd with the @p len bytes at
 * @p buf and fdatasync it. The caller renames it into place and fsyncs the
 * directory as its protocol needs. @return 0 or -errno.
 */
int io_write_file(int dirfd, const char *name, const void *buf, size_t len);

/**
 * Read exactly @p n bytes at @p off.
 * @return 0; -EIO on a short read (the file ends early); -errno.
 */
int io_pread_all(int fd, void *buf, size_t n, off_t off);

#endif
