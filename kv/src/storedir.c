/*
 * storedir.c - the store directory (storedir.h): which of its files are
 * ours, the STORE marker, the CLOSED mark, and cask_destroy() and
 * cask_close_destroy(), which remove a store (its files, and nothing
 * else).
 *
 * libcask never deletes, renames or writes a file it did not create, so a
 * directory holding anything else is refused before the lock file or any
 * other file is made in it. Names decide what is ours: a directory holding
 * only names libcask uses is taken for a store (a file there that fails
 * its checks is damage, reported by recovery).
 *
 * A CLOSED mark only ever claims what was true when it was written: bytes
 * of a segment below the size it names are never changed or cut again
 * (the active segment only grows; recovery cuts a torn tail only past the
 * mark), so a stale mark is still true and needs no removal.
 */
#include "storedir.h"

#include "codec.h"
#include "crc32c.h"
#include "db.h"
#include "io.h"
#include "record.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAGIC   "CASKSTR1"
#define STORE_VERSION 1u
#define STORE_SIZE    16u

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool storedir_is_own(const char *name, bool is_dir)
{
	static const char *const files[] = {
		".",
		"..",
		"LOCK",
		"RESERVE",
		"HELD",
		CLOSED_NAME,
		CLOSED_NAME ".tmp",
		STORE_NAME,
		STORE_NAME ".tmp",
		OPENED_NAME,
	};
	static const char *const exts[] = {"cask", "hint", "drop", "cask.tmp",
					   "hint.tmp"};
	const char *ext;
	uint32_t id;

	if (is_dir)
		return !strcmp(name, ".") || !strcmp(name, "..") ||
		       !strcmp(name, "lost+found");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(name, files[i]))
			return true;
	if (!segment_parse_name(name, &id, &ext))
		return false;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcmp(ext, exts[i]))
			return true;
	return !strncmp(ext, "cask.damaged-", 13) && all_digits(ext + 13);
}

/* Against the header of each version libcask has written. */
unsigned storedir_header_distance(const uint8_t *p, uint64_t len, uint32_t id)
{
	uint8_t want[SEG_HDR_SIZE];
	unsigned best = SEG_HDR_SIZE;

	for (uint32_t v = SEG_VERSION_OLDEST; v <= SEG_VERSION; v++) {
		unsigned d = 0;

		seg_header_encode_version(want, id, v);
		for (uint64_t i = 0; i < len && i < SEG_HDR_SIZE; i++)
			d += p[i] != want[i];
		best = d < best ? d : best;
	}
	return best;
}

bool storedir_segment_is_ours(const uint8_t *p, uint64_t len, uint32_t id)
{
	struct rec_header h;

	if (len < SEG_HDR_SIZE)
		return storedir_header_distance(p, len, id) == 0;
	return storedir_header_distance(p, len, id) <= 4 ||
	       !rec_decode_header(p + SEG_HDR_SIZE, len - SEG_HDR_SIZE, &h);
}

/* A segment file @p name whose first bytes say libcask did not write it.
 * Opened without following a link or waiting on a FIFO; the caller has
 * checked that it is a regular file, and this checks it again once open. */
static bool foreign_segment(int dirfd, const char *name)
{
	uint8_t b[SEG_HDR_SIZE + REC_MAX_HDR_SIZE];
	const char *ext;
	struct stat st;
	bool foreign = false; /* unreadable: recovery reports it */
	uint32_t id;
	size_t len;
	int fd;

	if (!segment_parse_name(name, &id, &ext) || strcmp(ext, "cask"))
		return false;
	fd = io_open(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd == -ELOOP; /* a link put there since */
	if (!fstat(fd, &st)) {
		len = st.st_size < (off_t)sizeof(b) ? (size_t)st.st_size
						    : sizeof(b);
		if (!S_ISREG(st.st_mode))
			foreign = true;
		else if (!io_pread_all(fd, b, len, 0))
			foreign = !storedir_segment_is_ours(b, len, id);
	}
	io_close(fd);
	return foreign;
}

/* Is entry @p e of @p dirfd one libcask creates: an own name, of a
 * directory, or of a regular file (never a link, FIFO or device, which
 * libcask does not make and must not open or cut through), and a segment
 * file's first bytes ours? */
static bool own_entry(int dirfd, const struct dirent *e)
{
	struct stat st;
	unsigned char type = e->d_type;

	if (type == DT_UNKNOWN) {
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			return true; /* gone meanwhile */
		type = S_ISDIR(st.st_mode)   ? DT_DIR
		       : S_ISREG(st.st_mode) ? DT_REG
					     : DT_UNKNOWN;
	}
	if (type == DT_DIR)
		return storedir_is_own(e->d_name, true);
	return type == DT_REG && storedir_is_own(e->d_name, false) &&
	       !foreign_segment(dirfd, e->d_name);
}

int storedir_list(int dirfd, DIR **out)
{
	int fd = dup(dirfd), rc;

	*out = fd < 0 ? NULL : fdopendir(fd);
	if (!*out) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rewinddir(*out);
	return 0;
}

long storedir_foreign(int dirfd, char *names, size_t n)
{
	struct dirent *e;
	size_t len = 0;
	long count = 0;
	DIR *d;
	int rc = storedir_list(dirfd, &d);

	if (rc)
		return rc;
	names[0] = 0;
	while ((e = readdir(d))) {
		if (own_entry(dirfd, e))
			continue;
		if (count++ < 3 && len < n)
			len += (size_t)snprintf(names + len, n - len, "%s%s",
						len ? ", " : "", e->d_name);
	}
	closedir(d);
	return count;
}

/* Read file @p name whole into @p b: @return true if it is there and is
 * exactly @p len bytes long. */
static bool read_whole(int dirfd, const char *name, uint8_t *b, size_t len)
{
	uint8_t more;
	int fd = io_open(dirfd, name, O_RDONLY, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = io_pread_all(fd, b, len, 0) == 0 &&
	     io_pread_all(fd, &more, 1, (off_t)len) != 0;
	io_close(fd);
	return ok;
}

int storedir_check_store(int dirfd)
{
	uint8_t b[STORE_SIZE];

	if (faccessat(dirfd, STORE_NAME, F_OK, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (read_whole(dirfd, STORE_NAME, b, sizeof(b)) &&
	    !memcmp(b, STORE_MAGIC, 8) && get_le32(b + 8) == STORE_VERSION &&
	    crc32c(0, b, 12) == get_le32(b + 12))
		return 0;
	return CASK_ENOTSTORE;
}

/* @p len bytes into @p name as a durable, whole file: @p name.tmp written
 * and fdatasync'ed, renamed, the directory fsync'ed. */
static int write_whole(int dirfd, const char *name, const uint8_t *buf,
		       size_t len)
{
	char tmp[32];
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	rc = io_write_file(dirfd, tmp, buf, len);
	if (!rc)
		rc = io_renameat(dirfd, tmp, name);
	if (!rc)
		rc = io_fsync(dirfd);
	return rc;
}

int storedir_write_store(int dirfd)
{
	uint8_t b[STORE_SIZE];

	memcpy(b, STORE_MAGIC, 8);
	put_le32(b + 8, STORE_VERSION);
	put_le32(b + 12, crc32c(0, b, 12));
	return write_whole(dirfd, STORE_NAME, b, sizeof(b));
}

int storedir_claim(struct cask_db *db)
{
	char names[256];
	long n = storedir_foreign(db->dirfd, names, sizeof(names));
	int rc;

	if (n < 0)
		return (int)n;
	if (n) {
		db_log(db,
		       "%s: holds %ld file%s libcask did not create (%s%s): "
		       "not opened as a store, nothing in it was changed",
		       db->dir, n, n == 1 ? "" : "s", names,
		       n > 3 ? ", ..." : "");
		return CASK_ENOTSTORE;
	}
	rc = storedir_check_store(db->dirfd);
	if (rc == CASK_ENOTSTORE)
		db_log(db,
		       "%s/%s: not libcask's store marker: not opened as a "
		       "store, nothing in it was changed",
		       db->dir, STORE_NAME);
	return rc == -ENOENT ? 0 : rc;
}

int storedir_write_closed(int dirfd, uint32_t id, uint64_t size)
{
	uint8_t b[CLOSED_SIZE];

	memcpy(b, CLOSED_MAGIC, 8);
	put_le32(b + 8, id);
	put_le64(b + 12, size);
	put_le32(b + 20, crc32c(0, b, 20));
	return write_whole(dirfd, CLOSED_NAME, b, sizeof(b));
}

bool storedir_read_closed(int dirfd, uint32_t *id, uint64_t *size)
{
	uint8_t b[CLOSED_SIZE];

	if (!read_whole(dirfd, CLOSED_NAME, b, sizeof(b)) ||
	    memcmp(b, CLOSED_MAGIC, 8) || crc32c(0, b, 20) != get_le32(b + 20))
		return false;
	*id = get_le32(b + 8);
	*size = get_le64(b + 12);
	return true;
}

#define OPENED_MAGIC "CASKOPN1"
#define OPENED_SIZE  (8u + IO_BOOT_ID_SIZE + 4u)

static void encode_opened(uint8_t b[OPENED_SIZE],
			  const uint8_t boot[IO_BOOT_ID_SIZE])
{
	memcpy(b, OPENED_MAGIC, 8);
	memcpy(b + 8, boot, IO_BOOT_ID_SIZE);
	put_le32(b + 8 + IO_BOOT_ID_SIZE, crc32c(0, b, 8 + IO_BOOT_ID_SIZE));
}

/* Does OPENED hold the mark of boot @p boot? */
static bool opened_names(int dirfd, const uint8_t boot[IO_BOOT_ID_SIZE])
{
	uint8_t want[OPENED_SIZE], b[OPENED_SIZE];

	encode_opened(want, boot);
	return read_whole(dirfd, OPENED_NAME, b, sizeof(b)) &&
	       !memcmp(b, want, sizeof(b));
}

bool storedir_same_boot(int dirfd)
{
	uint8_t boot[IO_BOOT_ID_SIZE];

	return !io_boot_id(boot) && opened_names(dirfd, boot);
}

/*
 * No fdatasync, no rename: the mark only matters in the boot that wrote
 * it, whose page cache holds it whole or (the writer killed mid-write)
 * short, which fails its CRC; after a power loss whatever is on disk
 * names another boot, or fails its CRC. Either way it never says "same
 * boot" falsely.
 */
int storedir_write_opened(int dirfd)
{
	uint8_t boot[IO_BOOT_ID_SIZE], b[OPENED_SIZE];
	struct iovec iov = {b, sizeof(b)};
	int fd, rc = io_boot_id(boot);

	if (rc || opened_names(dirfd, boot))
		return rc;
	encode_opened(b, boot);
	fd = io_open(dirfd, OPENED_NAME,
		     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fd;
	rc = io_pwritev_all(fd, &iov, 1, 0);
	io_close(fd);
	return rc;
}

/*
 * Unlink the files of @p dirfd that are libcask's (own_entry(), checked
 * name by name, as a user may add a file at any time), LOCK last, as the
 * lock it holds guards the rest; directories stay. A file gone meanwhile
 * is no failure. @return 0; CASK_ENOTSTORE if a file not libcask's was
 * found (and left); -errno.
 */
static int remove_files(int dirfd)
{
	struct dirent *e;
	bool foreign = false;
	DIR *d;
	int rc = storedir_list(dirfd, &d);

	if (rc)
		return rc;
	while (!rc && (e = readdir(d))) {
		if (!own_entry(dirfd, e)) {
			foreign = true;
			continue;
		}
		/* Own directories are own by name alone. */
		if (storedir_is_own(e->d_name, true) ||
		    !strcmp(e->d_name, "LOCK"))
			continue;
		rc = io_unlinkat(dirfd, e->d_name);
		rc = rc == -ENOENT ? 0 : rc;
	}
	closedir(d);
	if (!rc && !foreign)
		rc = io_unlinkat(dirfd, "LOCK");
	rc = rc == -ENOENT ? 0 : rc;
	return rc ? rc : foreign ? CASK_ENOTSTORE : 0;
}

/* Take the store's lock, as a writable open does (LOCK made if missing:
 * the caller found only libcask's files). @return the LOCK descriptor;
 * CASK_ELOCKED if a process holds it; -errno. */
static int lock_store(int dirfd)
{
	int fd = io_open(dirfd, "LOCK", O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
	int rc;

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	rc = errno == EWOULDBLOCK ? CASK_ELOCKED : -errno;
	io_close(fd);
	return rc;
}

/* Does @p dirfd hold only libcask's files, with its STORE marker if any?
 * @return 0, CASK_ENOTSTORE or -errno. */
static int check_own(int dirfd)
{
	char names[8];
	long n = storedir_foreign(dirfd, names, sizeof(names));

	if (n)
		return n < 0 ? (int)n : CASK_ENOTSTORE;
	return storedir_check_store(dirfd) == CASK_ENOTSTORE ? CASK_ENOTSTORE
							     : 0;
}

/* Remove the store in @p dirfd (its path @p dir) while @p lockfd holds its
 * lock; closes both. @return as cask_destroy(). */
static int destroy_locked(const char *dir, int dirfd, int lockfd)
{
	int rc = check_own(dirfd);

	if (!rc)
		rc = remove_files(dirfd);
	if (!rc || rc == CASK_ENOTSTORE) {
		int sync_rc = io_fsync(dirfd); /* the removals made durable */

		rc = sync_rc ? sync_rc : rc;
	}
	io_close(lockfd);
	close(dirfd);
	/* Left when something stays in it: lost+found. */
	if (!rc && rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		rc = -errno;
	return rc;
}

int cask_destroy(const char *dir)
{
	int dirfd, lockfd, rc;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	/* Checked before LOCK is made, and again under the lock: no file
	 * is made in a directory that is not a store, and none removed
	 * that a process holding the store open may still make. */
	rc = check_own(dirfd);
	lockfd = rc ? rc : lock_store(dirfd);
	if (lockfd < 0) {
		close(dirfd);
		return lockfd;
	}
	return destroy_locked(dir, dirfd, lockfd);
}

int cask_close_destroy(struct cask_db *db)
{
	char *dir;
	int dirfd, lockfd, rc;

	if (!db)
		return 0;
	if (!db->created) {
		cask_close(db);
		return CASK_EINVAL;
	}
	/* Copies of the directory and of the lock's descriptor: the lock
	 * (an flock, the open file's) outlives cask_close() in lockfd, so
	 * no other process can open the store before it is gone. */
	dir = strdup(db->dir);
	dirfd = fcntl(db->dirfd, F_DUPFD_CLOEXEC, 0);
	lockfd = dirfd < 0 ? -1 : fcntl(db->lock_fd, F_DUPFD_CLOEXEC, 0);
	rc = !dir || dirfd < 0 || lockfd < 0 ? -errno : 0;
	cask_close(db); /* the store is to go: its close status is moot */
	if (rc) {
		if (dirfd >= 0)
			close(dirfd);
		free(dir);
		return rc;
	}
	rc = destroy_locked(dir, dirfd, lockfd);
	free(dir);
	return rc;
}
