/*
 * storedir.h - the small files of a store directory that are not segments
 * or hints (docs/FORMAT.md sections 1 and 9): CLOSED, the mark a clean
 * close leaves of how much of the active segment was durable then.
 */
#ifndef CASK_STOREDIR_H
#define CASK_STOREDIR_H

#include <stdbool.h>
#include <stdint.h>

/*
 * CLOSED (24 bytes, little-endian):
 *   magic "CASKCLS1" | segment id u32 | size u64 | crc32c u32 of the 20
 *   bytes before it
 * Bytes [0, size) of segment `id` were written whole and made durable.
 */
#define CLOSED_NAME  "CLOSED"
#define CLOSED_MAGIC "CASKCLS1"
#define CLOSED_SIZE  24u

/**
 * Record that the first @p size bytes of segment @p id are durable:
 * CLOSED.tmp written and fdatasync'ed, renamed to CLOSED, directory
 * fsync'ed. @return 0 or -errno (CLOSED is then the old one, or none).
 */
int storedir_write_closed(int dirfd, uint32_t id, uint64_t size);

/**
 * Read CLOSED. @return true with @p id and @p size set if it is there and
 * intact; false otherwise (a missing or damaged mark proves nothing).
 */
bool storedir_read_closed(int dirfd, uint32_t *id, uint64_t *size);

#endif
