/*
 * schema.h - the caskfs key schema and the codecs of its values (see the
 * section "caskfs key schema" of docs/FORMAT.md). Keys sort as follows:
 *
 *   0x00 "super"                      superblock
 *   0x01 ino(BE64)                    inode record
 *   0x02 ino(BE64) chunk index(BE64)  one chunk of a file's content
 *   0x03 ino(BE64) name               one extended attribute
 *   0x04 ino(BE64)                    orphan: unlinked while open
 *   0x05 ino(BE64)                    chunks fallocate reserved (LE64)
 *   0x05 ino(BE64)                    chunks fallocate reserved (LE64)
 *   "/" ...                           dentries: the absolute path
 *
 * Integers inside values are little-endian; inside keys big-endian, so that
 * the byte order of keys is the numeric order.
 */
#ifndef CASKFS_SCHEMA_H
#define CASKFS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KEY_SUPER  0x00
#define KEY_INODE  0x01
#define KEY_CHUNK  0x02
#define KEY_XATTR  0x03
#define KEY_ORPHAN 0x04
#define KEY_RESV   0x05

/* An inode, orphan, chunk-prefix or xattr-prefix key: prefix + ino. */
#define INO_KEY_LEN   9
/* A chunk key: prefix + ino + index. */
#define CHUNK_KEY_LEN 17
#define SUPER_KEY     "\0super"
#define SUPER_KEY_LEN 6

#define FS_FORMAT_VERSION 1u
#define SUPER_MAGIC	  "caskfs\0\0"
#define SUPER_LEN	  32
#define DENTRY_LEN	  9
#define INODE_HDR_LEN	  88

/* Inode record flag: the content (file data or symlink target) follows
 * the header. */
#define INODE_F_INLINE 0x01

void put_le32(uint8_t *p, uint32_t v);
void put_le64(uint8_t *p, uint64_t v);
uint32_t get_le32(const uint8_t *p);
uint64_t get_le64(const uint8_t *p);
void put_be64(uint8_t *p, uint64_t v);
uint64_t get_be64(const uint8_t *p);

/** Fill @p key (INO_KEY_LEN bytes) with @p type (KEY_INODE, KEY_ORPHAN,
 *  or KEY_CHUNK / KEY_XATTR as a prefix of all of an inode's keys). */
void ino_key(uint8_t *key, uint8_t type, uint64_t ino);
/** Fill @p key (CHUNK_KEY_LEN bytes). */
void chunk_key(uint8_t *key, uint64_t ino, uint64_t idx);

struct super {
	uint32_t version;
	uint32_t chunk_size;
	uint32_t inline_max;
	uint64_t ino_hwm; /* every inode number below it may be in use */
};

void super_encode(const struct super *sb, uint8_t out[SUPER_LEN]);
/** @return 0, -EIO (damaged), -EPROTO (unknown version). */
int super_decode(struct super *sb, const void *buf, size_t len);

void dentry_encode(uint64_t ino, uint32_t mode, uint8_t out[DENTRY_LEN]);
/** @param[out] type the S_IFMT bits of the target. @return 0, -EIO. */
int dentry_decode(const void *buf, size_t len, uint64_t *ino, uint32_t *type);

/* The attribute part of an inode record, as in memory. */
struct inode_attr {
	uint32_t mode, uid, gid, nlink;
	uint64_t size, rdev, nchunks;
	struct timespec atime, mtime, ctime;
	uint8_t flags; /* INODE_F_* */
};

void inode_encode(const struct inode_attr *a, uint8_t out[INODE_HDR_LEN]);
/** Decode the header of an inode record of @p len bytes (the content, if
 *  any, follows at INODE_HDR_LEN). @return 0, -EIO. */
int inode_decode(struct inode_attr *a, const void *buf, size_t len);

#endif
