/*
 * io.c - the default system-call table and the helpers that loop over short
 * reads and writes (io.h). The current table is an atomic pointer so a test
 * can swap it while no store is open; production code never swaps it.
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int sys_open(int dirfd, const char *name, int flags, mode_t mode)
{
	int fd = openat(dirfd, name, flags | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

static ssize_t sys_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t n = pwritev(fd, iov, cnt, off);

	return n < 0 ? -errno : n;
}

static ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static int sys_fdatasync(int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int sys_fsync(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static int sys_ftruncate(int fd, off_t len)
{
	return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int sys_fallocate(int fd, off_t len)
{
	/* posix_fallocate writes a byte per block where the filesystem has
	 * no fallocate, so the space is really taken everywhere. */
	return -posix_fallocate(fd, 0, len);
}

static int sys_renameat(int dirfd, const char *from, const char *to)
{
	return renameat(dirfd, from, dirfd, to) < 0 ? -errno : 0;
}

static int sys_unlinkat(int dirfd, const char *name)
{
	return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
}

static int sys_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n" into its 16 bytes. */
static int sys_boot_id(uint8_t id[IO_BOOT_ID_SIZE])
{
	char text[64];
	size_t n = 0;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	for (ssize_t i = 0; i < len && n < 2 * IO_BOOT_ID_SIZE; i++) {
		int c = text[i], d = c >= '0' && c <= '9'   ? c - '0'
				     : c >= 'a' && c <= 'f' ? c - 'a' + 10
							    : -1;

		if (c == '-')
			continue;
		if (d < 0)
			return -EINVAL;
		if (n % 2 == 0)
			id[n / 2] = (uint8_t)(d << 4);
		else
			id[n / 2] |= (uint8_t)d;
		n++;
	}
	return n == 2 * IO_BOOT_ID_SIZE ? 0 : -EINVAL;
}

const struct io_ops io_default_ops = {
	.open = sys_open,
	.pwritev = sys_pwritev,
	.pread = sys_pread,
	.fdatasync = sys_fdatasync,
	.fsync = sys_fsync,
	.ftruncate = sys_ftruncate,
	.fallocate = sys_fallocate,
	.renameat = sys_renameat,
	.unlinkat = sys_unlinkat,
	.close = sys_close,
	.boot_id = sys_boot_id,
};

static const struct io_ops *_Atomic cur = &io_default_ops;

void io_set_ops(const struct io_ops *ops)
{
	atomic_store(&cur, ops ? ops : &io_default_ops);
}

static const struct io_ops *ops(void)
{
	return atomic_load_explicit(&cur, memory_order_acquire);
}

int io_open(int dirfd, const char *name, int flags, mode_t mode)
{
	return ops()->open(dirfd, name, flags, mode);
}

int io_fdatasync(int fd)
{
	return ops()->fdatasync(fd);
}

int io_fsync(int fd)
{
	return ops()->fsync(fd);
}

int io_ftruncate(int fd, off_t len)
{
	return ops()->ftruncate(fd, len);
}

int io_fallocate(int fd, off_t len)
{
	return ops()->fallocate(fd, len);
}

int io_renameat(int dirfd, const char *from, const char *to)
{
	return ops()->renameat(dirfd, from, to);
}

int io_unlinkat(int dirfd, const char *name)
{
	return ops()->unlinkat(dirfd, name);
}

int io_close(int fd)
{
	return ops()->close(fd);
}

int io_boot_id(uint8_t id[IO_BOOT_ID_SIZE])
{
	return ops()->boot_id(id);
}

int io_pwritev_all(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct iovec v[IO_MAX_IOV];
	struct iovec *p = v;

	if (cnt > IO_MAX_IOV)
		return -EINVAL;
	memcpy(v, iov, sizeof(*v) * (size_t)cnt);
	while (cnt > 0) {
		ssize_t n = ops()->pwritev(fd, p, cnt, off);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		off += n;
		while (cnt > 0 && (size_t)n >= p->iov_len) {
			n -= (ssize_t)p->iov_len;
			p++;
			cnt--;
		}
		if (cnt > 0) {
			p->iov_base = (char *)p->iov_base + n;
			p->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int io_write_file(int dirfd, const char *name, const void *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};
	int fd, rc;

	fd = io_open(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	rc = io_pwritev_all(fd, &iov, 1, 0);
	if (!rc)
		rc = io_fdatasync(fd);
	io_close(fd);
	return rc;
}

int io_pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *b = buf;

	while (n > 0) {
		ssize_t r = ops()->pread(fd, b, n, off);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		b += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}
