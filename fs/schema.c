/*
 * schema.c - build caskfs keys and encode/decode the superblock, dentry
 * and inode-record values. Pure functions, no locks, no I/O. Every byte
 * read from the store is validated here; damage is reported as -EIO.
 */
#include "schema.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void ino_key(uint8_t *key, uint8_t type, uint64_t ino)
{
	key[0] = type;
	put_be64(key + 1, ino);
}

void chunk_key(uint8_t *key, uint64_t ino, uint64_t idx)
{
	ino_key(key, KEY_CHUNK, ino);
	put_be64(key + INO_KEY_LEN, idx);
}

/*
 * Superblock: magic[8] version(le32) chunk_size(le32) inline_max(le32)
 * reserved(le32) ino_hwm(le64).
 */
void super_encode(const struct super *sb, uint8_t out[SUPER_LEN])
{
	memset(out, 0, SUPER_LEN);
	memcpy(out, SUPER_MAGIC, 8);
	put_le32(out + 8, sb->version);
	put_le32(out + 12, sb->chunk_size);
	put_le32(out + 16, sb->inline_max);
	put_le64(out + 24, sb->ino_hwm);
}

int super_decode(struct super *sb, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len < SUPER_LEN || memcmp(p, SUPER_MAGIC, 8) != 0)
		return -EIO;
	sb->version = get_le32(p + 8);
	if (sb->version != FS_FORMAT_VERSION)
		return -EPROTO;
	sb->chunk_size = get_le32(p + 12);
	sb->inline_max = get_le32(p + 16);
	sb->ino_hwm = get_le64(p + 24);
	if (sb->chunk_size == 0 || (sb->chunk_size & (sb->chunk_size - 1)) ||
	    sb->inline_max > sb->chunk_size || sb->ino_hwm < 2)
		return -EIO;
	return 0;
}

/* Is @p mode's S_IFMT one of the seven file types? */
static bool known_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* Dentry: ino(le64) type(u8, the S_IFMT bits >> 12). */
void dentry_encode(uint64_t ino, uint32_t mode, uint8_t out[DENTRY_LEN])
{
	put_le64(out, ino);
	out[8] = (uint8_t)((mode & 0170000) >> 12);
}

int dentry_decode(const void *buf, size_t len, uint64_t *ino, uint32_t *type)
{
	const uint8_t *p = buf;

	if (len != DENTRY_LEN)
		return -EIO;
	*ino = get_le64(p);
	*type = (uint32_t)p[8] << 12;
	if (*ino == 0 || p[8] > (S_IFMT >> 12) || !known_type(*type))
		return -EIO;
	return 0;
}

static void put_time(uint8_t *sec, uint8_t *nsec, const struct timespec *t)
{
	put_le64(sec, (uint64_t)t->tv_sec);
	put_le32(nsec, (uint32_t)t->tv_nsec);
}

static void get_time(struct timespec *t, const uint8_t *sec,
		     const uint8_t *nsec)
{
	t->tv_sec = (time_t)get_le64(sec);
	t->tv_nsec = (long)get_le32(nsec);
}

/*
 * Inode record header (INODE_HDR_LEN = 88 bytes):
 *   0 version u8 (1)   1 flags u8   2 header length le16 (88)
 *   4 mode   8 uid   12 gid   16 nlink   20 reserved        (le32 each)
 *  24 size  32 rdev  40 nchunks                             (le64 each)
 *  48 atime.sec  56 mtime.sec  64 ctime.sec                 (le64 each)
 *  72 atime.nsec 76 mtime.nsec 80 ctime.nsec 84 reserved    (le32 each)
 * followed by the content when flags has INODE_F_INLINE.
 */
void inode_encode(const struct inode_attr *a, uint8_t out[INODE_HDR_LEN])
{
	memset(out, 0, INODE_HDR_LEN);
	out[0] = 1;
	out[1] = a->flags;
	out[2] = INODE_HDR_LEN;
	put_le32(out + 4, a->mode);
	put_le32(out + 8, a->uid);
	put_le32(out + 12, a->gid);
	put_le32(out + 16, a->nlink);
	put_le64(out + 24, a->size);
	put_le64(out + 32, a->rdev);
	put_le64(out + 40, a->nchunks);
	put_time(out + 48, out + 72, &a->atime);
	put_time(out + 56, out + 76, &a->mtime);
	put_time(out + 64, out + 80, &a->ctime);
}

int inode_decode(struct inode_attr *a, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len < INODE_HDR_LEN || p[0] != 1 ||
	    (p[2] | p[3] << 8) != INODE_HDR_LEN)
		return -EIO;
	a->flags = p[1];
	a->mode = get_le32(p + 4);
	a->uid = get_le32(p + 8);
	a->gid = get_le32(p + 12);
	a->nlink = get_le32(p + 16);
	a->size = get_le64(p + 24);
	a->rdev = get_le64(p + 32);
	a->nchunks = get_le64(p + 40);
	get_time(&a->atime, p + 48, p + 72);
	get_time(&a->mtime, p + 56, p + 76);
	get_time(&a->ctime, p + 64, p + 80);
	/* A size must fit st_size (off_t): else it would read negative. */
	if (!known_type(a->mode) || a->size > INT64_MAX ||
	    a->atime.tv_nsec >= 1000000000L ||
	    a->mtime.tv_nsec >= 1000000000L || a->ctime.tv_nsec >= 1000000000L)
		return -EIO;
	return 0;
}
