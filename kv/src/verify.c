/*
 * verify.c - cask_verify(): an offline check of every segment and hint file
 * of a store directory, for `cask verify`.
 *
 * It shares the record codec with recovery (record.h, hint.h) but none of
 * recovery's state: no lock, no keydir, no writes, every file opened
 * read-only and mapped PROT_READ. Unlike recovery it does not stop at the
 * first damaged record: it searches forward for the next valid record so
 * that every damaged region of a file is reported, each with its offset.
 * The active segment (the newest one without a hint, docs/FORMAT.md
 * section 1) may be appended to while we read it: it is read up to its size
 * at open, and an incomplete last record there is a torn tail, not damage.
 */
#include "cask.h"
#include "codec.h"
#include "crc32c.h"
#include "db.h"
#include "droplist.h"
#include "hint.h"
#include "record.h"
#include "segment.h"
#include "storedir.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct vctx {
	const struct cask_verify_options *opts;
	struct cask_verify_result *res;
	int dirfd;
	int syserr;   /* first system error met */
	bool foreign; /* files that are not a store\'s */
	bool closed;  /* CLOSED is intact (storedir.h): */
	uint32_t closed_id;
	uint64_t closed_size;
	bool same_boot; /* storedir_same_boot() */
};

/* A mapped file (map is NULL when the file is empty). */
struct vfile {
	const uint8_t *map;
	size_t size;
};

__attribute__((format(printf, 5, 6))) static void
report(struct vctx *c, const char *file, uint64_t off,
       enum cask_verify_kind kind, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (kind == CASK_VERIFY_DAMAGE)
		c->res->damaged++;
	if (!c->opts->report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->opts->report(c->opts->report_arg, file, off, kind, msg);
}

static int map_file(struct vctx *c, const char *name, struct vfile *f)
{
	struct stat st;
	void *p;
	int fd, err = 0;

	*f = (struct vfile){0};
	fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		err = -errno;
	if (!err && st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
			 0);
		if (p == MAP_FAILED) {
			err = -errno;
		} else {
			f->map = p;
			madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
		}
	}
	if (!err)
		f->size = (size_t)st.st_size;
	if (fd >= 0)
		close(fd);
	if (err) {
		report(c, name, 0, CASK_VERIFY_DAMAGE, "cannot read: %s",
		       strerror(-err));
		if (!c->syserr)
			c->syserr = err;
	}
	return err;
}

static void unmap_file(struct vfile *f)
{
	if (f->map)
		munmap((void *)f->map, f->size);
	*f = (struct vfile){0};
}

/* The valid record at @p off, or 0 (with @p why set) if there is none. */
static uint64_t check_record(const struct vfile *f, uint64_t off,
			     struct rec_header *h, char *why, size_t wlen)
{
	uint64_t left = f->size - off;
	int rc = rec_decode_header(f->map + off, (size_t)left, h);

	if (rc == -EAGAIN) {
		snprintf(why, wlen,
			 "incomplete record header (%" PRIu64
			 " bytes before end of file)",
			 left);
		return 0;
	}
	if (rc) {
		snprintf(why, wlen,
			 "implausible record header (type %u, flags 0x%02x, "
			 "klen %u, vlen %u)",
			 f->map[off + 4], f->map[off + 5],
			 (unsigned)get_le16(f->map + off + 6),
			 (unsigned)get_le32(f->map + off + 8));
		return 0;
	}
	if (rec_size(h) > left) {
		snprintf(why, wlen,
			 "record of %" PRIu64 " bytes runs past end of file "
			 "(%" PRIu64 " bytes left)",
			 rec_size(h), left);
		return 0;
	}
	if (!rec_crc_ok(h, f->map + off)) {
		snprintf(why, wlen,
			 "CRC mismatch (type %u, seq %" PRIu64
			 ", klen %u, vlen %u)",
			 h->type, h->seq, h->klen, h->vlen);
		return 0;
	}
	return rec_size(h);
}

/* "; key 'K' (unverified)" when the damaged record at @p off, whose range
 * ends at @p end, still has a readable header and key; else "". */
static void damaged_key(const struct vfile *f, uint64_t off, uint64_t end,
			char *buf, size_t n)
{
	struct rec_header h;
	char key[REC_QUOTE_MAX];

	buf[0] = 0;
	if (rec_decode_header(f->map + off, end - off, &h) ||
	    rec_size(&h) > end - off || !rec_is_op(&h))
		return;
	rec_quote_key(key, f->map + off + rec_header_size(h.flags), h.klen);
	snprintf(buf, n, "; key %s (seq %" PRIu64 ", unverified)", key, h.seq);
}

struct seg_walk {
	uint64_t pending;     /* batch records waiting for their commit */
	uint64_t batch_start; /* offset of the first of them */
};

/* Batch framing (docs/FORMAT.md section 4) of the valid record at off. */
static void frame(struct vctx *c, const char *name, const struct vfile *f,
		  uint64_t off, const struct rec_header *h, struct seg_walk *w)
{
	if (h->type == REC_COMMIT) {
		uint32_t n = get_le32(f->map + off + rec_header_size(h->flags));

		if (w->pending == 0)
			report(c, name, off, CASK_VERIFY_DAMAGE,
			       "commit record (count %u) with no batch before "
			       "it",
			       n);
		else if (n != w->pending)
			report(c, name, w->batch_start, CASK_VERIFY_DAMAGE,
			       "batch of %" PRIu64 " records ends with a "
			       "commit of count %u at offset %" PRIu64,
			       w->pending, n, off);
		w->pending = 0;
		return;
	}
	if (h->flags & REC_F_BATCH) {
		if (w->pending++ == 0)
			w->batch_start = off;
		return;
	}
	if (w->pending) {
		report(c, name, w->batch_start, CASK_VERIFY_DAMAGE,
		       "batch of %" PRIu64 " records has no commit before "
		       "the record at offset %" PRIu64,
		       w->pending, off);
		w->pending = 0;
	}
}

static void count(struct cask_verify_result *res, const struct rec_header *h)
{
	res->records++;
	if (h->type == REC_PUT)
		res->puts++;
	else if (h->type == REC_DELETE)
		res->deletes++;
	else if (h->type == REC_COMMIT)
		res->commits++;
}

/*
 * Walk the records of a mapped segment whose bytes below @p durable are
 * known durable (docs/FORMAT.md section 7): damage there is kept by open
 * with every valid record after it; past it, in the active segment, damage
 * with nothing valid after it is a torn tail, and damage with valid
 * records after it ends what open applies.
 */
static void check_records(struct vctx *c, const char *name,
			  const struct vfile *f, uint64_t durable)
{
	struct seg_walk w = {0};
	uint64_t off = SEG_HDR_SIZE;
	struct rec_header h;
	char why[160], key[160];

	while (off < f->size) {
		uint64_t len = check_record(f, off, &h, why, sizeof(why));
		uint64_t next, from = w.pending ? w.batch_start : off;

		if (len) {
			frame(c, name, f, off, &h, &w);
			count(c->res, &h);
			off += len;
			continue;
		}
		next = rec_resync(f->map, off, f->size);
		if (from >= durable && next == f->size) {
			c->res->tail_bytes += f->size - from;
			report(c, name, from, CASK_VERIFY_TAIL,
			       "torn tail of the active segment: %" PRIu64
			       " bytes (%s); open truncates it",
			       f->size - from, why);
			return;
		}
		if (w.pending)
			report(c, name, w.batch_start, CASK_VERIFY_DAMAGE,
			       "batch of %" PRIu64 " records cut short by "
			       "the damage at offset %" PRIu64,
			       w.pending, off);
		w.pending = 0;
		damaged_key(f, off, next, key, sizeof(key));
		if (from >= durable)
			report(c, name, off, CASK_VERIFY_DAMAGE,
			       "%s; valid records resume at offset %" PRIu64
			       "%s; not known durable (past the last clean "
			       "close and the last synced record), so "
			       "open copies the rest of the file to "
			       "%s.damaged-%" PRIu64 " and cuts it here",
			       why, next, key, name, from);
		else if (next == f->size)
			report(c, name, off, CASK_VERIFY_DAMAGE,
			       "%s; the rest of the file (%" PRIu64
			       " bytes) holds no valid record%s",
			       why, f->size - off, key);
		else
			report(c, name, off, CASK_VERIFY_DAMAGE,
			       "%s; %" PRIu64 " damaged bytes, valid records "
			       "resume at offset %" PRIu64
			       " (open keeps them)%s",
			       why, next - off, next, key);
		off = next;
	}
	if (w.pending) {
		if (w.batch_start >= durable) {
			c->res->tail_bytes += f->size - w.batch_start;
			report(c, name, w.batch_start, CASK_VERIFY_TAIL,
			       "uncommitted batch of %" PRIu64 " records at "
			       "the end of the active segment (%" PRIu64
			       " bytes); open drops it",
			       w.pending, f->size - w.batch_start);
		} else {
			report(c, name, w.batch_start, CASK_VERIFY_DAMAGE,
			       "batch of %" PRIu64 " records not committed "
			       "by the end of the file",
			       w.pending);
		}
	}
}

/* As recovery's: a sealed segment is durable to its end, the active one
 * up to its CLOSED mark, or further where it proves it. */
static uint64_t durable_end(const struct vctx *c, uint32_t id, bool active,
			    const struct vfile *f)
{
	uint64_t known = 0;

	if (!active)
		return f->size;
	if (c->closed && c->closed_id == id && c->closed_size <= f->size)
		known = c->closed_size;
	if (known == f->size)
		return known;
	return walk_durable_end(f->map, f->size, id, known, c->same_boot);
}

static void check_segment(struct vctx *c, uint32_t id, bool active,
			  struct vfile *f)
{
	char name[SEG_NAME_MAX];
	uint32_t hid;
	int rc;

	segment_name(name, id, "cask");
	if (map_file(c, name, f))
		return;
	c->res->segments++;
	c->res->bytes += f->size;
	if (f->size < SEG_HDR_SIZE) {
		if (!storedir_segment_is_ours(f->map, f->size, id)) {
			c->foreign = true;
			report(c, name, 0, CASK_VERIFY_NOTE,
			       "%zu bytes that are not the start of a segment "
			       "header: not a file libcask wrote, open refuses "
			       "the directory",
			       f->size);
		} else if (active) {
			c->res->tail_bytes += f->size;
			report(c, name, 0, CASK_VERIFY_TAIL,
			       "active segment of %zu bytes has no complete "
			       "header (torn creation); open removes it",
			       f->size);
		} else {
			report(c, name, 0, CASK_VERIFY_DAMAGE,
			       "file of %zu bytes is shorter than the segment "
			       "header",
			       f->size);
		}
		return;
	}
	rc = seg_header_decode(f->map, &hid);
	if (rc == CASK_EVERSION)
		report(c, name, 0, CASK_VERIFY_DAMAGE,
		       "segment header of an unsupported format version %u",
		       (unsigned)get_le32(f->map + 8));
	else if (rc && !storedir_segment_is_ours(f->map, f->size, id))
		return; /* reported by check_own(): not ours */
	else if (rc)
		report(c, name, 0, CASK_VERIFY_DAMAGE,
		       "segment header damaged (bad magic or CRC); open "
		       "reads the records after it");
	else if (hid != id)
		report(c, name, 0, CASK_VERIFY_DAMAGE,
		       "segment header names id %u, file name %u", hid, id);
	check_records(c, name, f, durable_end(c, id, active, f));
}

struct hint_check {
	struct vctx *c;
	const char *name;
	const struct vfile *seg; /* map NULL when the segment is unreadable */
	uint64_t off;		 /* offset of the entry in the hint file */
};

static int check_hint_entry(void *arg, const struct keydir_entry *e,
			    const uint8_t *key, uint16_t klen)
{
	struct hint_check *hc = arg;
	const struct vfile *f = hc->seg;
	bool tomb = e->flags & KEYDIR_F_TOMBSTONE;
	struct rec_header h;
	char why[160];
	uint64_t at = hc->off;

	hc->c->res->hint_entries++;
	hc->off += HINT_ENTRY_HDR + klen;
	if (!f->map)
		return 0;
	if (e->off < SEG_HDR_SIZE || e->off >= f->size) {
		report(hc->c, hc->name, at, CASK_VERIFY_DAMAGE,
		       "entry points at offset %u, outside the segment "
		       "(%zu bytes)",
		       e->off, f->size);
		return 0;
	}
	if (!check_record(f, e->off, &h, why, sizeof(why))) {
		report(hc->c, hc->name, at, CASK_VERIFY_DAMAGE,
		       "entry points at offset %u of the segment: %s", e->off,
		       why);
		return 0;
	}
	if (h.seq != e->seq || h.klen != klen ||
	    memcmp(f->map + e->off + rec_header_size(h.flags), key, klen) ||
	    h.type != (tomb ? REC_DELETE : REC_PUT) ||
	    (!tomb && h.vlen != e->vlen) ||
	    (!tomb &&
	     !(h.flags & REC_F_EXPIRY) != !(e->flags & KEYDIR_F_EXPIRES)))
		report(hc->c, hc->name, at, CASK_VERIFY_DAMAGE,
		       "entry (seq %" PRIu64 ", klen %u, vlen %u) does not "
		       "match the record at offset %u of the segment (seq "
		       "%" PRIu64 ", type %u, klen %u, vlen %u)",
		       e->seq, klen, e->vlen, e->off, h.seq, h.type, h.klen,
		       h.vlen);
	return 0;
}

static void check_hint(struct vctx *c, uint32_t id, const struct vfile *seg)
{
	char name[SEG_NAME_MAX];
	struct hint_check hc = {c, name, seg, HINT_HDR_SIZE};
	struct vfile f;
	size_t end;

	segment_name(name, id, "hint");
	if (map_file(c, name, &f))
		return;
	c->res->hints++;
	if (f.size < HINT_HDR_SIZE + HINT_TRAILER) {
		report(c, name, 0, CASK_VERIFY_DAMAGE,
		       "file of %zu bytes is shorter than a hint header and "
		       "trailer",
		       f.size);
		goto out;
	}
	end = f.size - HINT_TRAILER;
	if (memcmp(f.map, HINT_MAGIC, 8)) {
		report(c, name, 0, CASK_VERIFY_DAMAGE, "bad hint magic");
		goto out;
	}
	if (get_le32(f.map + 8) != HINT_VERSION) {
		report(c, name, 8, CASK_VERIFY_DAMAGE,
		       "unsupported hint version %u",
		       (unsigned)get_le32(f.map + 8));
		goto out;
	}
	if (get_le32(f.map + 12) != id) {
		report(c, name, 12, CASK_VERIFY_DAMAGE,
		       "hint header names segment %u, file name %u",
		       (unsigned)get_le32(f.map + 12), id);
		goto out;
	}
	if (crc32c(0, f.map, end + 8) != get_le32(f.map + end + 8)) {
		report(c, name, end + 8, CASK_VERIFY_DAMAGE,
		       "hint CRC mismatch (the file is damaged; open reads "
		       "the segment instead)");
		goto out;
	}
	if (hint_parse(f.map, f.size, id, check_hint_entry, &hc))
		report(c, name, hc.off, CASK_VERIFY_DAMAGE,
		       hc.off >= end ? "entry count in the trailer does not "
				       "match the entries"
				     : "malformed hint entry");
out:
	unmap_file(&f);
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Files libcask did not create, and a STORE that is not its marker, make
 * the directory no store (cask_open refuses it). */
static void check_own(struct vctx *c)
{
	char names[256];
	long n = storedir_foreign(c->dirfd, names, sizeof(names));

	if (n > 0) {
		c->foreign = true;
		report(c, ".", 0, CASK_VERIFY_NOTE,
		       "holds %ld file%s libcask did not create (%s%s): not a "
		       "store, open refuses it",
		       n, n == 1 ? "" : "s", names, n > 3 ? ", ..." : "");
	}
	if (storedir_check_store(c->dirfd) == CASK_ENOTSTORE) {
		c->foreign = true;
		report(c, STORE_NAME, 0, CASK_VERIFY_NOTE,
		       "not libcask's store marker: not a store, open "
		       "refuses it");
	}
}

struct id_set {
	uint32_t *v;
	size_t n, cap;
};

static int id_push(struct id_set *s, uint32_t id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = id;
	return 0;
}

static bool id_has(const struct id_set *s, uint32_t id)
{
	/* bsearch() wants a non-NULL array even when it is empty. */
	return s->n && bsearch(&id, s->v, s->n, sizeof(id), cmp_id) != NULL;
}

/* Note segment @p id (file @p name), only kept for copies, and skip it
 * and its hint. */
static void skip_kept(struct vctx *c, uint32_t id, const char *name)
{
	c->res->kept_segments++;
	c->res->kept_bytes += segment_disk_bytes(c->dirfd, id);
	report(c, name, 0, CASK_VERIFY_NOTE,
	       "input of a finished merge kept for a copy of the directory "
	       "(its drop list is complete): not part of the store, not "
	       "read; removed when no copy needs it or at the next writable "
	       "open");
}

/* The segments and hints to check, in @p segs and @p hints; those only
 * @p kept are noted and left out. */
static int list_dir(struct vctx *c, const struct kept_files *kept,
		    struct id_set *segs, struct id_set *hints)
{
	struct dirent *e;
	DIR *d;
	int rc = storedir_list(c->dirfd, &d);

	if (rc)
		return rc;
	while (!rc && (e = readdir(d))) {
		const char *ext;
		uint32_t id;

		if (!segment_parse_name(e->d_name, &id, &ext))
			continue;
		if (kept_has(kept, id) &&
		    (!strcmp(ext, "cask") || !strcmp(ext, "hint"))) {
			if (!strcmp(ext, "cask"))
				skip_kept(c, id, e->d_name);
			continue;
		}
		if (!strcmp(ext, "cask"))
			rc = id_push(segs, id);
		else if (!strcmp(ext, "hint"))
			rc = id_push(hints, id);
		else if (strstr(ext, ".tmp"))
			report(c, e->d_name, 0, CASK_VERIFY_NOTE,
			       "output of an interrupted merge; the next "
			       "writable open removes it");
		else if (!strncmp(ext, "cask.damaged-", 13))
			report(c, e->d_name, 0, CASK_VERIFY_NOTE,
			       "bytes an open after a crash cut from the end "
			       "of the active segment (a torn write, or "
			       "damage); not part of the store, kept for "
			       "salvage");
	}
	closedir(d);
	if (segs->n)
		qsort(segs->v, segs->n, sizeof(uint32_t), cmp_id);
	if (hints->n)
		qsort(hints->v, hints->n, sizeof(uint32_t), cmp_id);
	return rc;
}

/* The bytes of the segment files in @p segs, for the progress callback (a
 * file that cannot be read counts 0; check_segment() reports it). */
static uint64_t segment_bytes(struct vctx *c, const struct id_set *segs)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < segs->n; i++) {
		char name[SEG_NAME_MAX];
		struct stat st;

		segment_name(name, segs->v[i], "cask");
		if (fstatat(c->dirfd, name, &st, 0) == 0)
			sum += (uint64_t)st.st_size;
	}
	return sum;
}

int cask_verify(const char *dir, const struct cask_verify_options *opts,
		struct cask_verify_result *res)
{
	static const struct cask_verify_options defaults;
	struct cask_verify_result scratch;
	struct id_set segs = {0}, hints = {0};
	struct kept_files kept;
	struct vctx c = {.opts = opts ? opts : &defaults,
			 .res = res ? res : &scratch,
			 .dirfd = -1};
	uint32_t active = 0;
	uint64_t done = 0, total;
	int rc;

	*c.res = (struct cask_verify_result){0};
	c.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.dirfd < 0)
		return -errno;
	c.closed = storedir_read_closed(c.dirfd, &c.closed_id, &c.closed_size);
	c.same_boot = storedir_same_boot(c.dirfd);
	check_own(&c);
	rc = droplist_kept(c.dirfd, &kept);
	if (!rc)
		rc = list_dir(&c, &kept, &segs, &hints);
	kept_files_free(&kept);
	for (size_t i = 0; !rc && i < segs.n; i++)
		if (!id_has(&hints, segs.v[i]))
			active = segs.v[i];
	c.res->active_id = active;
	total = c.opts->progress ? segment_bytes(&c, &segs) : 0;
	for (size_t i = 0; !rc && i < segs.n; i++) {
		struct vfile f = {0};
		uint32_t id = segs.v[i];

		check_segment(&c, id, id == active, &f);
		if (!c.opts->skip_hints && id_has(&hints, id))
			check_hint(&c, id, &f);
		done += f.size;
		unmap_file(&f);
		if (c.opts->progress)
			c.opts->progress(c.opts->progress_arg, done, total);
	}
	for (size_t i = 0; !rc && i < hints.n; i++) {
		char name[SEG_NAME_MAX];

		if (id_has(&segs, hints.v[i]))
			continue;
		segment_name(name, hints.v[i], "hint");
		report(&c, name, 0, CASK_VERIFY_NOTE,
		       "hint file without its segment (left by an "
		       "interrupted merge); the next writable open removes it");
	}
	free(segs.v);
	free(hints.v);
	close(c.dirfd);
	if (rc)
		return rc;
	if (c.syserr)
		return c.syserr;
	if (c.foreign)
		return CASK_ENOTSTORE;
	return c.res->damaged ? CASK_ECORRUPT : 0;
}
