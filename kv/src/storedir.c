/*
 * storedir.c - the store directory (storedir.h): which of its files are
 * ours, the STORE marker, the CLOSED mark, and cask_destroy(), which
 * removes a store (its files, and nothing else).
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
		".",	     "..",
		"LOCK",	     "RESERVE",
		CLOSED_NAME, CLOSED_NAME ".tmp",
		STORE_NAME,  STORE_NAME ".tmp",
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

unsigned storedir_header_distance(const uint8_t *p, uint64_t len, uint32_t id)
{
	uint8_t want[SEG_HDR_SIZE];
	unsigned d = 0;

	seg_header_encode(want, id);
	for (uint64_t i = 0; i < len && i < SEG_HDR_SIZE; i++)
		d += p[i] != want[i];
	return d;
}

bool storedir_segment_is_ours(const uint8_t *p, uint64_t len, uint32_t id)
{
	struct rec_header h;

	if (len < SEG_HDR_SIZE)
		return storedir_header_distance(p, len, id) == 0;
	return storedir_header_distance(p, len, id) <= 4 ||
	       !rec_decode_header(p + SEG_HDR_SIZE, len - SEG_HDR_SIZE, &h);
}

/* A segment file @p name whose first bytes say libcask did not write it. */
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
	fd = io_open(dirfd, name, O_RDONLY, 0);
	if (fd < 0)
		return false;
	if (!fstat(fd, &st)) {
		len = st.st_size < (off_t)sizeof(b) ? (size_t)st.st_size
						    : sizeof(b);
		if (!io_pread_all(fd, b, len, 0))
			foreign = !storedir_segment_is_ours(b, len, id);
	}
	io_close(fd);
	return foreign;
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
		struct stat st;
		bool is_dir = e->d_type == DT_DIR;

		if (e->d_type == DT_UNKNOWN &&
		    !fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			is_dir = S_ISDIR(st.st_mode);
		if (storedir_is_own(e->d_name, is_dir) &&
		    (is_dir || !foreign_segment(dirfd, e->d_name)))
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

/* Unlink every file of @p dirfd (all ours: checked by the caller), LOCK
 * last, as the lock it holds guards the rest; directories stay. */
static int remove_files(int dirfd)
{
	struct dirent *e;
	DIR *d;
	int rc = storedir_list(dirfd, &d);

	if (rc)
		return rc;
	while (!rc && (e = readdir(d))) {
		struct stat st;

		if (strcmp(e->d_name, "LOCK") == 0 ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    S_ISDIR(st.st_mode))
			continue;
		rc = io_unlinkat(dirfd, e->d_name);
	}
	closedir(d);
	if (!rc)
		rc = io_unlinkat(dirfd, "LOCK");
	return rc == -ENOENT ? 0 : rc;
}

int cask_destroy(const char *dir)
{
	char names[8];
	int dirfd, lockfd = -1, rc;
	long n;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	n = storedir_foreign(dirfd, names, sizeof(names));
	rc = n < 0 ? (int)n : n > 0 ? CASK_ENOTSTORE : 0;
	if (!rc && storedir_check_store(dirfd) == CASK_ENOTSTORE)
		rc = CASK_ENOTSTORE;
	if (!rc) {
		lockfd = io_open(dirfd, "LOCK", O_RDWR, 0);
		if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0)
			rc = errno == EWOULDBLOCK ? CASK_ELOCKED : -errno;
	}
	if (!rc)
		rc = remove_files(dirfd);
	if (!rc)
		rc = io_fsync(dirfd);
	if (lockfd >= 0)
		io_close(lockfd);
	close(dirfd);
	/* Left when something stays in it: lost+found. */
	if (!rc && rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		rc = -errno;
	return rc;
}
