/*
 * segment.c - segment files: their names (and those of the files named
 * after them), create with a durable header, open, map for reading, read
 * ranges, the verdicts of checked records, reference counting (segment.h).
 *
 * The mapping of the active segment is longer than the file: pages past the
 * end of file become readable as appends reach them (one page cache serves
 * write() and the mapping). Readers only follow keydir entries, which point
 * at bytes already written, so they never touch a page past the end.
 */
#include "segment.h"

#include "alloc.h"
#include "cask.h"
#include "io.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void segment_name(char *buf, uint32_t id, const char *ext)
{
	snprintf(buf, SEG_NAME_MAX, "%010u.%s", id, ext);
}

bool segment_parse_name(const char *name, uint32_t *id, const char **ext)
{
	uint64_t v = 0;

	for (int i = 0; i < 10; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (name[10] != '.' || v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	*ext = name + 11;
	return true;
}

/* The public kinds' extensions. */
static const char *const kind_ext[] = {
	[CASK_FILE_SEGMENT] = "cask",
	[CASK_FILE_HINT] = "hint",
};

enum cask_file_kind cask_file_parse(const char *name, uint32_t *id)
{
	const char *ext;
	uint32_t v;

	if (!segment_parse_name(name, &v, &ext))
		return CASK_FILE_OTHER;
	for (size_t k = 1; k < sizeof(kind_ext) / sizeof(kind_ext[0]); k++) {
		if (!strcmp(ext, kind_ext[k])) {
			if (id)
				*id = v;
			return (enum cask_file_kind)k;
		}
	}
	return CASK_FILE_OTHER;
}

int cask_file_name(enum cask_file_kind kind, uint32_t id, char *buf,
		   size_t size)
{
	if (kind != CASK_FILE_SEGMENT && kind != CASK_FILE_HINT)
		return CASK_EINVAL;
	if (size < SEG_NAME_MAX)
		return CASK_EINVAL;
	segment_name(buf, id, kind_ext[kind]);
	return 0;
}

/* Verdict words covering @p map_len mapped bytes. */
static size_t verdict_words(size_t map_len)
{
	return (map_len / SEG_VERDICT_GRAIN + 63) / 64;
}

static struct segment *segment_alloc(uint32_t id, int fd, size_t map_len)
{
	struct segment *s = mem_calloc(1, sizeof(*s));
	void *m;

	if (!s)
		return NULL;
	s->id = id;
	s->fd = fd;
	s->min_seq = UINT64_MAX;
	atomic_init(&s->refs, 1);
	if (!map_len)
		return s;
	m = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
	/* Without a mapping every read falls back to pread. */
	if (m == MAP_FAILED)
		return s;
	s->verdicts = mem_calloc(verdict_words(map_len), sizeof(uint64_t));
	if (!s->verdicts) {
		munmap(m, map_len);
		mem_free(s);
		return NULL;
	}
	s->verdict_words = verdict_words(map_len);
	s->map = m;
	s->map_len = map_len;
	return s;
}

int segment_create(int dirfd, uint32_t id, size_t map_len, struct segment **out)
{
	char name[SEG_NAME_MAX];
	uint8_t hdr[SEG_HDR_SIZE];
	struct iovec iov = {hdr, sizeof(hdr)};
	int fd, rc;

	*out = NULL;
	segment_name(name, id, "cask");
	fd = io_open(dirfd, name, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return fd;
	seg_header_encode(hdr, id);
	rc = io_pwritev_all(fd, &iov, 1, 0);
	if (!rc)
		rc = io_fdatasync(fd);
	if (!rc)
		rc = io_fsync(dirfd);
	if (rc)
		goto unlink;
	*out = segment_alloc(id, fd, map_len);
	if (!*out) {
		rc = -ENOMEM;
		goto unlink;
	}
	atomic_init(&(*out)->size, SEG_HDR_SIZE);
	(*out)->synced_records = true;
	return 0;
unlink:
	io_close(fd);
	io_unlinkat(dirfd, name);
	return rc;
}

int segment_open(int dirfd, uint32_t id, bool writable, size_t map_len,
		 struct segment **out)
{
	char name[SEG_NAME_MAX];
	int fd;

	*out = NULL;
	segment_name(name, id, "cask");
	fd = io_open(dirfd, name,
		     (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK,
		     0);
	if (fd < 0)
		return fd;
	*out = segment_alloc(id, fd, map_len);
	if (!*out) {
		io_close(fd);
		return -ENOMEM;
	}
	return 0;
}

int segment_remap(struct segment *s, size_t map_len)
{
	size_t words = verdict_words(map_len);
	void *m = mmap(NULL, map_len, PROT_READ, MAP_SHARED, s->fd, 0);
	_Atomic uint64_t *v;

	if (m == MAP_FAILED)
		return -errno;
	v = mem_calloc(words, sizeof(uint64_t));
	if (!v) {
		munmap(m, map_len);
		return -ENOMEM;
	}
	/* The records are the same bytes: their verdicts carry over. */
	for (size_t i = 0; i < words && i < s->verdict_words; i++)
		atomic_init(&v[i], atomic_load_explicit(&s->verdicts[i],
							memory_order_relaxed));
	if (s->map)
		munmap((void *)s->map, s->map_len);
	mem_free((void *)s->verdicts);
	s->verdicts = v;
	s->verdict_words = words;
	s->map = m;
	s->map_len = map_len;
	return 0;
}

void segment_get(struct segment *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void segment_put(struct segment *s)
{
	if (!s ||
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (s->map)
		munmap((void *)s->map, s->map_len);
	mem_free((void *)s->verdicts);
	io_close(s->fd);
	mem_free(s);
}

/* The word and bit of the verdict of a record, or false if it has none. */
static bool verdict_bit(const struct segment *s, uint64_t off, uint64_t size,
			size_t *word, uint64_t *bit)
{
	uint64_t grain = off / SEG_VERDICT_GRAIN;

	if (size < SEG_VERDICT_GRAIN || grain / 64 >= s->verdict_words)
		return false;
	*word = (size_t)(grain / 64);
	*bit = 1ull << (grain % 64);
	return true;
}

bool segment_verified(const struct segment *s, uint64_t off, uint64_t size)
{
	size_t w;
	uint64_t bit;

	/* Relaxed: the record's bytes were published to readers by the
	 * rwlock, before any verdict on them could be set. */
	return verdict_bit(s, off, size, &w, &bit) &&
	       (atomic_load_explicit(&s->verdicts[w], memory_order_relaxed) &
		bit);
}

void segment_set_verified(struct segment *s, uint64_t off, uint64_t size)
{
	size_t w;
	uint64_t bit;

	if (verdict_bit(s, off, size, &w, &bit))
		atomic_fetch_or_explicit(&s->verdicts[w], bit,
					 memory_order_relaxed);
}

const uint8_t *segment_view(const struct segment *s, uint64_t off, size_t len)
{
	if (!s->map || off > s->map_len || len > s->map_len - off)
		return NULL;
	return s->map + off;
}

/*
 * Read bytes the segment's mapping does not cover (a record larger than
 * what is left of the active segment's, or a segment that could not be
 * mapped) through a mapping of just them, not read(2): a read of a
 * segment file reports IN_ACCESS, and the keeper of kept merge inputs
 * takes that for a copy of the directory (deferred.c); a mapping reports
 * nothing. Bytes past the end of the file, or no room to map, go to
 * pread, whose error (or whose event: inputs kept a while longer, never
 * fewer) is the safe side.
 */
static int read_unmapped(int fd, uint64_t off, void *buf, size_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = off / page * page;
	size_t span = (size_t)(off - start) + len;
	struct stat st;
	void *m;

	if (fstat(fd, &st) || (uint64_t)st.st_size < off + len)
		return io_pread_all(fd, buf, len, (off_t)off);
	m = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (m == MAP_FAILED)
		return io_pread_all(fd, buf, len, (off_t)off);
	memcpy(buf, (const uint8_t *)m + (off - start), len);
	munmap(m, span);
	return 0;
}

uint64_t segment_disk_bytes(int dirfd, uint32_t id)
{
	static const char *const ext[] = {"cask", "hint"};
	char name[SEG_NAME_MAX];
	uint64_t bytes = 0;
	struct stat st;

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		segment_name(name, id, ext[i]);
		if (!fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
			bytes += (uint64_t)st.st_size;
	}
	return bytes;
}

int segment_read(const struct segment *s, uint64_t off, void *buf, size_t len)
{
	const uint8_t *p = segment_view(s, off, len);

	if (p) {
		memcpy(buf, p, len);
		return 0;
	}
	return read_unmapped(s->fd, off, buf, len);
}

uint64_t segment_record(const struct segment *s, uint64_t off, uint64_t end,
			struct rec_header *h)
{
	if (end > s->map_len)
		end = s->map_len;
	if (off >= end)
		return 0;
	return rec_valid(s->map + off, end - off, h);
}
