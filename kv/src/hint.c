/*
 * hint.c - hint files (hint.h): built in memory by merge while it writes a
 * segment, or from a sealed segment's records by the background thread;
 * written as a temporary file and renamed into place; parsed at open
 * instead of reading the segment. A hint is all or nothing: its CRC covers
 * the whole file, and a hint that fails any check is ignored (the segment
 * is scanned instead), never half-applied.
 *
 * Entries are written in key order (records of one key in log order): open
 * then inserts each segment's keys into the keydir in order, which walks
 * the same tree paths while they are in cache, and allocates the leaves in
 * key order, so that ordered iteration reads memory in order too (2M keys:
 * open 0.49 s -> 0.18 s; bench/merge_bench). Readers accept any order.
 */
#include "hint.h"

#include "alloc.h"
#include "codec.h"
#include "crc32c.h"
#include "io.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(HINT_MAGIC) - 1 == 8, "hint magic is 8 bytes");

static int reserve(struct hint_buf *h, size_t more)
{
	size_t cap = h->cap ? h->cap : 64 * 1024;
	uint8_t *p;

	if (h->len + more <= h->cap)
		return 0;
	while (cap < h->len + more)
		cap *= 2;
	p = mem_realloc(h->p, cap);
	if (!p)
		return -ENOMEM;
	h->p = p;
	h->cap = cap;
	return 0;
}

int hint_begin(struct hint_buf *h, uint32_t id)
{
	*h = (struct hint_buf){0};
	if (reserve(h, HINT_HDR_SIZE))
		return -ENOMEM;
	memcpy(h->p, HINT_MAGIC, 8);
	put_le32(h->p + 8, HINT_VERSION);
	put_le32(h->p + 12, id);
	h->len = HINT_HDR_SIZE;
	return 0;
}

int hint_add(struct hint_buf *h, const struct keydir_entry *e,
	     const uint8_t *key, uint16_t klen)
{
	uint8_t *p;

	if (reserve(h, HINT_ENTRY_HDR + klen))
		return -ENOMEM;
	p = h->p + h->len;
	put_le64(p, e->seq);
	put_le32(p + 8, e->off);
	put_le32(p + 12, e->vlen);
	p[16] = (e->flags & KEYDIR_F_TOMBSTONE) ? HINT_TOMBSTONE
		: (e->flags & KEYDIR_F_EXPIRES) ? HINT_PUT_EXPIRES
						: HINT_PUT;
	put_le16(p + 17, klen);
	memcpy(p + HINT_ENTRY_HDR, key, klen);
	h->len += HINT_ENTRY_HDR + klen;
	h->count++;
	return 0;
}

static uint16_t entry_klen(const uint8_t *entry)
{
	return get_le16(entry + 17);
}

/* Order of two entries (offsets into the buffer @p arg): by key, then by
 * position, which is log order. */
static int entry_cmp(const void *a, const void *b, void *arg)
{
	const uint8_t *buf = arg;
	size_t oa = *(const size_t *)a, ob = *(const size_t *)b;
	uint16_t la = entry_klen(buf + oa), lb = entry_klen(buf + ob);
	int c = memcmp(buf + oa + HINT_ENTRY_HDR, buf + ob + HINT_ENTRY_HDR,
		       la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	return oa < ob ? -1 : oa > ob;
}

/* A copy of the image of @p h (header and entries, trailer room after)
 * with the entries in key order; @p h itself keeps log order, which merge
 * relies on (its moved records pair with the entries in order). */
static uint8_t *sorted_image(const struct hint_buf *h)
{
	size_t *at = mem_alloc(h->count * sizeof(*at) + 1);
	uint8_t *img = mem_alloc(h->len + HINT_TRAILER);
	size_t off = HINT_HDR_SIZE, len = HINT_HDR_SIZE;

	if (!at || !img) {
		mem_free(at);
		mem_free(img);
		return NULL;
	}
	for (uint64_t i = 0; i < h->count; i++) {
		at[i] = off;
		off += HINT_ENTRY_HDR + entry_klen(h->p + off);
	}
	qsort_r(at, h->count, sizeof(*at), entry_cmp, h->p);
	memcpy(img, h->p, HINT_HDR_SIZE);
	for (uint64_t i = 0; i < h->count; i++) {
		size_t n = HINT_ENTRY_HDR + entry_klen(h->p + at[i]);

		memcpy(img + len, h->p + at[i], n);
		len += n;
	}
	mem_free(at);
	return img;
}

int hint_write_tmp(const struct hint_buf *h, int dirfd, uint32_t id)
{
	char name[SEG_NAME_MAX];
	uint8_t *img = sorted_image(h);
	int rc;

	if (!img)
		return -ENOMEM;
	put_le64(img + h->len, h->count);
	put_le32(img + h->len + 8, crc32c(0, img, h->len + 8));
	segment_name(name, id, "hint.tmp");
	rc = io_write_file(dirfd, name, img, h->len + HINT_TRAILER);
	mem_free(img);
	return rc;
}

int hint_publish(int dirfd, uint32_t id)
{
	char tmp[SEG_NAME_MAX], name[SEG_NAME_MAX];

	segment_name(tmp, id, "hint.tmp");
	segment_name(name, id, "hint");
	return io_renameat(dirfd, tmp, name);
}

static int add_record(void *arg, const struct walk_rec *w)
{
	struct keydir_entry e = walk_entry(w, 0);

	if (!rec_is_op(&w->h))
		return 0;
	return hint_add(arg, &e, w->key, w->h.klen);
}

int hint_write_sealed(int dirfd, const struct segment *seg)
{
	uint64_t end = atomic_load(&seg->size), valid_end;
	struct hint_buf h;
	int rc = hint_begin(&h, seg->id);

	if (!rc)
		rc = segment_walk(seg, end, add_record, &h, &valid_end);
	if (!rc && valid_end != end)
		rc = CASK_ECORRUPT;
	if (!rc)
		rc = hint_write_tmp(&h, dirfd, seg->id);
	if (!rc)
		rc = hint_publish(dirfd, seg->id);
	if (!rc)
		rc = io_fsync(dirfd);
	hint_free(&h);
	return rc;
}

void hint_free(struct hint_buf *h)
{
	mem_free(h->p);
	*h = (struct hint_buf){0};
}

int hint_parse(const uint8_t *buf, size_t len, uint32_t id,
	       int (*fn)(void *arg, const struct keydir_entry *e,
			 const uint8_t *key, uint16_t klen),
	       void *arg)
{
	size_t off = HINT_HDR_SIZE, end;
	uint64_t count = 0;

	if (len < HINT_HDR_SIZE + HINT_TRAILER || memcmp(buf, HINT_MAGIC, 8) ||
	    get_le32(buf + 8) != HINT_VERSION || get_le32(buf + 12) != id)
		return CASK_ECORRUPT;
	end = len - HINT_TRAILER;
	if (crc32c(0, buf, end + 8) != get_le32(buf + end + 8))
		return CASK_ECORRUPT;
	while (off < end) {
		struct keydir_entry e;
		const uint8_t *p = buf + off;
		uint16_t klen;
		int rc;

		if (end - off < HINT_ENTRY_HDR || p[16] > HINT_TOMBSTONE)
			return CASK_ECORRUPT;
		klen = get_le16(p + 17);
		if (klen == 0 || end - off - HINT_ENTRY_HDR < klen)
			return CASK_ECORRUPT;
		e = (struct keydir_entry){
			.seq = get_le64(p),
			.off = get_le32(p + 8),
			.vlen = get_le32(p + 12),
			.flags = p[16] == HINT_TOMBSTONE ? KEYDIR_F_TOMBSTONE
				 : p[16] == HINT_PUT_EXPIRES ? KEYDIR_F_EXPIRES
							     : 0,
		};
		rc = fn(arg, &e, p + HINT_ENTRY_HDR, klen);
		if (rc)
			return rc;
		off += HINT_ENTRY_HDR + klen;
		count++;
	}
	return count == get_le64(buf + end) ? 0 : CASK_ECORRUPT;
}

struct load_ctx {
	struct recovery *r;
	struct segment *seg;
	uint64_t seg_end;
};

/* Check an entry against its segment before trusting it. */
static int check_entry(void *arg, const struct keydir_entry *e,
		       const uint8_t *key, uint16_t klen)
{
	struct load_ctx *c = arg;
	uint64_t size = (e->flags & KEYDIR_F_TOMBSTONE)
				? REC_HDR_SIZE + klen
				: db_entry_size(e, klen);

	(void)key;
	if (e->off < SEG_HDR_SIZE || e->off + size > c->seg_end)
		return CASK_ECORRUPT;
	return 0;
}

static int apply_entry(void *arg, const struct keydir_entry *e,
		       const uint8_t *key, uint16_t klen)
{
	struct load_ctx *c = arg;
	struct keydir_entry full = *e;
	uint64_t expire = 0;

	full.seg = c->seg->id;
	/* The expiry is in the record (check_entry bounded it), unverified:
	 * damage there only skews segment_garbage(), an estimate that picks
	 * segments to merge. Reads take the expiry from the record once its
	 * CRC is checked (read.c), and merge from each record it copies. */
	if (e->flags & KEYDIR_F_EXPIRES)
		expire = get_le64(c->seg->map + e->off + REC_HDR_SIZE);
	return recover_apply(c->r, c->seg, &full, key, klen, expire);
}

int hint_load(struct recovery *r, int dirfd, struct segment *seg)
{
	char name[SEG_NAME_MAX];
	struct load_ctx c = {r, seg, seg->map_len};
	struct stat st;
	void *map = MAP_FAILED;
	int fd, rc;

	segment_name(name, seg->id, "hint");
	fd = io_open(dirfd, name, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	rc = fstat(fd, &st) ? -errno : 0;
	if (!rc && st.st_size < HINT_HDR_SIZE + HINT_TRAILER)
		rc = CASK_ECORRUPT;
	if (!rc)
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			   0);
	io_close(fd);
	if (!rc && map == MAP_FAILED)
		rc = -errno;
	if (!rc)
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	/* Validate everything first: a hint is applied whole or not at all. */
	if (!rc)
		rc = hint_parse(map, (size_t)st.st_size, seg->id, check_entry,
				&c);
	if (!rc)
		rc = hint_parse(map, (size_t)st.st_size, seg->id, apply_entry,
				&c);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	return rc;
}
