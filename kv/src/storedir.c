/*
 * storedir.c - the store directory's small files (storedir.h): the CLOSED
 * mark. A mark only ever claims what was true when it was written: bytes
 * of a segment below the size it names are never changed or cut again
 * (the active segment only grows; recovery cuts a torn tail only past the
 * mark), so a stale mark is still true and needs no removal.
 */
#include "storedir.h"

#include "codec.h"
#include "crc32c.h"
#include "io.h"

#include <fcntl.h>
#include <string.h>

int storedir_write_closed(int dirfd, uint32_t id, uint64_t size)
{
	uint8_t b[CLOSED_SIZE];
	int rc;

	memcpy(b, CLOSED_MAGIC, 8);
	put_le32(b + 8, id);
	put_le64(b + 12, size);
	put_le32(b + 20, crc32c(0, b, 20));
	rc = io_write_file(dirfd, CLOSED_NAME ".tmp", b, sizeof(b));
	if (!rc)
		rc = io_renameat(dirfd, CLOSED_NAME ".tmp", CLOSED_NAME);
	if (!rc)
		rc = io_fsync(dirfd);
	return rc;
}

bool storedir_read_closed(int dirfd, uint32_t *id, uint64_t *size)
{
	uint8_t b[CLOSED_SIZE + 1];
	int fd = io_open(dirfd, CLOSED_NAME, O_RDONLY, 0);
	bool ok;

	if (fd < 0)
		return false;
	/* Exactly CLOSED_SIZE bytes, magic and CRC good. */
	ok = io_pread_all(fd, b, CLOSED_SIZE, 0) == 0 &&
	     io_pread_all(fd, b + CLOSED_SIZE, 1, CLOSED_SIZE) != 0 &&
	     !memcmp(b, CLOSED_MAGIC, 8) &&
	     crc32c(0, b, 20) == get_le32(b + 20);
	io_close(fd);
	if (ok) {
		*id = get_le32(b + 8);
		*size = get_le64(b + 12);
	}
	return ok;
}
