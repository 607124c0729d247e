/*
 * storedir.h - the store directory itself (docs/FORMAT.md section 1):
 * which names in it are libcask's own, the STORE marker that says a
 * directory is a store, CLOSED, the mark a clean close leaves of how
 * much of the active segment was durable then, and OPENED, the boot in
 * which the last writable open was made.
 */
#ifndef CASK_STOREDIR_H
#define CASK_STOREDIR_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cask_db;

/**
 * List directory @p dirfd from its first entry, through a dup of it (so
 * closedir() leaves @p dirfd open, and an earlier listing's offset, which
 * a dup shares, does not matter).
 * @param[out] out the listing, to be closed with closedir(); NULL on error.
 * @return 0 or -errno.
 */
int storedir_list(int dirfd, DIR **out);

/** Is @p name (a directory when @p is_dir) one libcask creates in a store
 *  directory? "." and ".." count as its own. */
bool storedir_is_own(const char *name, bool is_dir);

/**
 * List the files of directory @p dirfd that are not libcask's (by name and
 * kind: only directories and regular files are, never a link or a FIFO;
 * segment files by storedir_segment_is_ours()): how many there are, and
 * the first few names into @p names ("a, b, c").
 * @return the count (0: all ours), or -errno if it cannot be listed.
 */
long storedir_foreign(int dirfd, char *names, size_t n);

/**
 * Could the first @p len bytes of a segment file (of @p len in all when
 * shorter than a header) be segment @p id as libcask writes it? A file
 * shorter than the header must be its start (a crash while creating it);
 * a longer one must differ from it in at most 4 bytes (damage), or hold a
 * plausible record header right after it (a destroyed header).
 */
bool storedir_segment_is_ours(const uint8_t *p, uint64_t len, uint32_t id);

/** Bytes of the first @p len of a segment file that differ from the
 *  header libcask writes for segment @p id. */
unsigned storedir_header_distance(const uint8_t *p, uint64_t len, uint32_t id);

/*
 * STORE (16 bytes): magic "CASKSTR1" | version u32 = 1 | crc32c u32 of the
 * 12 bytes before it. Written once, by the first writable open.
 */
#define STORE_NAME "STORE"

/**
 * Check STORE. @return 0 if it is there and is ours; -ENOENT if there is
 * none (a new store, or one from before the marker); CASK_ENOTSTORE if the
 * file is something else; another -errno if it cannot be read.
 */
int storedir_check_store(int dirfd);

/** Write STORE (as STORE.tmp, fdatasync, rename, fsync of the directory).
 *  @return 0 or -errno. */
int storedir_write_store(int dirfd);

/**
 * Is this a directory libcask may use as the store of @p db? Every file in
 * it is one libcask creates (an empty directory too), and a STORE in it is
 * ours; if not, the log names what was found. Changes nothing.
 * @return 0; CASK_ENOTSTORE; -errno if it cannot be read.
 */
int storedir_claim(struct cask_db *db);

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

/*
 * OPENED (28 bytes): magic "CASKOPN1" | boot id u8[16] | crc32c u32 of the
 * 24 bytes before it. The kernel's boot id (io_boot_id()) when the last
 * writable open began writing.
 */
#define OPENED_NAME "OPENED"

/**
 * Is this the boot in which the last writable open of the store in
 * @p dirfd was made (OPENED intact and naming the running kernel's boot)?
 * Then no power loss came since it, and every byte it wrote went through
 * this boot's page cache. False when anything cannot be read.
 */
bool storedir_same_boot(int dirfd);

/**
 * Record the running kernel's boot id in OPENED, unless it is there
 * already; written in place and not synced (docs/FORMAT.md section 7.2:
 * whatever a crash leaves of it is never a lie). Before a writable open's
 * first write. @return 0; -errno (OPENED is then the old one, or torn).
 */
int storedir_write_opened(int dirfd);

#endif
