/*
 * recover.c - open-time recovery: list the segment files, rebuild the keydir
 * from them (hint files where present, records otherwise), keep every valid
 * record past damage, and cut a torn tail off the active segment.
 *
 * Rules (docs/FORMAT.md section 7):
 *  - Segments are read in id order, but the sequence number decides: a
 *    record replaces the keydir entry only if its seq is newer. Tombstones
 *    stay in the keydir (flag KEYDIR_F_TOMBSTONE) until every segment has
 *    been read, so an older put met later cannot come back to life; then
 *    they are removed.
 *  - Batch records count only once their commit record has been read.
 *  - Bytes known durable (every sealed segment; the active one up to its
 *    CLOSED mark) cannot hold a torn write: a bad record there is damage.
 *    The walk resumes at the next valid record and applies everything
 *    valid; the damaged range stays in the file and is reported, counted
 *    in the segment (which is then neither merged nor hinted, so every
 *    open finds it again), and each key whose newest version it held gets
 *    a keydir entry pointing at the damaged record: reads of it fail with
 *    CASK_ECORRUPT rather than serve an older value or nothing.
 *  - The active segment's durable bytes reach further than its mark where
 *    it proves it (walk_durable_end()): up to the largest position a
 *    valid synced record in it claims (the writer carries every
 *    fdatasync that advanced it in the next write), and, if this is the
 *    boot in which the last writable open was made (OPENED), up to the
 *    torn append that may end the file: no power loss came since, and
 *    the page cache kept every byte written.
 *  - Past that, the active segment's valid part ends at the first bad
 *    record or uncommitted batch (a torn write). The rest is cut. If valid
 *    records follow, they may be writes that power loss persisted out of
 *    order, so applying them would show a later state without an earlier
 *    one; and a rest that is more than a torn append leaves (provably_torn())
 *    may be a synced record that rotted: either way the rest is first
 *    copied aside to NNNNNNNNNN.cask.damaged-OFFSET.
 *
 * Runs single-threaded before the handle is shared: takes no locks.
 */
#include "db.h"

#include "alloc.h"
#include "droplist.h"
#include "hint.h"
#include "io.h"
#include "storedir.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tomb {
	uint8_t *key; /* a copy: hint buffers do not outlive their loading */
	uint16_t klen;
};

/* A record in a damaged range whose header still reads: perhaps the
 * newest version of its key. Its fields are not verified. */
struct suspect {
	uint8_t *key; /* a copy */
	uint16_t klen;
	struct keydir_entry e;
};

struct recovery {
	struct cask_db *db;
	struct segment *seg; /* being walked */
	uint64_t end;	     /* its file size */
	struct tomb *tombs;
	size_t ntombs, tcap;
	struct suspect *sus;
	size_t nsus, scap;
	bool closed; /* CLOSED is intact: */
	uint32_t closed_id;
	uint64_t closed_size;
	bool same_boot; /* no power loss since the last writable open */
};

struct seg_file {
	uint32_t id;
	bool has_hint;
};

static bool newer(const struct keydir_entry *cur,
		  const struct keydir_entry *cand, void *arg)
{
	(void)arg;
	return cand->seq > cur->seq;
}

/* Apply one put or tombstone found at @p off of @p seg. */
int recover_apply(struct recovery *r, struct segment *seg,
		  const struct keydir_entry *cand, const uint8_t *key,
		  uint16_t klen, uint64_t expire)
{
	struct cask_db *db = r->db;
	struct keydir_entry old;
	bool tomb = cand->flags & KEYDIR_F_TOMBSTONE;
	uint64_t size =
		tomb ? rec_header_size(0) + klen : db_entry_size(cand, klen);
	int res = keydir_put(db->kd, key, klen, cand, &old, newer, NULL);

	if (res < 0)
		return res;
	if (cand->seq > db->seq)
		db->seq = cand->seq;
	if (cand->seq < seg->min_seq)
		seg->min_seq = cand->seq;
	if (res == KEYDIR_REPLACED && !(old.flags & KEYDIR_F_TOMBSTONE))
		db_account_dead(db, old.seg, db_entry_size(&old, klen));
	if (tomb || res == KEYDIR_KEPT) {
		seg->dead_bytes += size;
	} else {
		seg->live_bytes += size;
		if (expire)
			segment_note_expiry(seg, size, expire);
	}
	if (tomb && res != KEYDIR_KEPT) {
		uint8_t *copy = mem_alloc(klen);

		if (!copy || mem_grow((void **)&r->tombs, &r->tcap, r->ntombs,
				      sizeof(*r->tombs), 64)) {
			mem_free(copy);
			return -ENOMEM;
		}
		memcpy(copy, key, klen);
		r->tombs[r->ntombs++] = (struct tomb){copy, klen};
	}
	return 0;
}

static int apply_record(void *arg, const struct walk_rec *w)
{
	struct recovery *r = arg;
	struct keydir_entry e = walk_entry(w, r->seg->id);

	if (!rec_is_op(&w->h)) { /* a commit or synced record */
		r->seg->dead_bytes += rec_size(&w->h);
		if (w->h.seq > r->db->seq)
			r->db->seq = w->h.seq;
		return 0;
	}
	return recover_apply(r, r->seg, &e, w->key, w->h.klen, w->h.expire);
}

/* Is there any whole valid record after the torn write at @p from? The
 * whole records of a batch whose commit record is missing are part of it
 * (a batch is one write). */
static bool valid_record_after(const struct segment *seg, uint64_t from,
			       uint64_t end)
{
	struct rec_header h;
	uint64_t start = walk_past_batch(seg->map, from, end);

	for (uint64_t off = start > from ? start : from + 1;
	     off + REC_HDR_SIZE <= end; off++)
		if (segment_record(seg, off, end, &h))
			return true;
	return false;
}

static int save_tail(struct cask_db *db, struct segment *seg, uint64_t from,
		     uint64_t end)
{
	char name[SEG_NAME_MAX + 32];
	int rc;

	segment_name(name, seg->id, "cask");
	snprintf(name + strlen(name), 32, ".damaged-%llu",
		 (unsigned long long)from);
	rc = io_write_file(db->dirfd, name, seg->map + from, end - from);
	if (!rc)
		db_log(db,
		       "%s/%s: the bytes from the bad record at offset %llu "
		       "to the end were copied here",
		       db->dir, name, (unsigned long long)from);
	return rc;
}

/* The valid part of the active segment ends at @p bad: cut the rest. */
static int cut_tail(struct cask_db *db, struct segment *seg, uint64_t bad,
		    uint64_t end)
{
	char name[SEG_NAME_MAX];
	int rc;

	segment_name(name, seg->id, "cask");
	if (db->opts.read_only) {
		db_log(db,
		       "%s/%s: ignoring %llu bytes of torn tail at offset "
		       "%llu",
		       db->dir, name, (unsigned long long)(end - bad),
		       (unsigned long long)bad);
		return 0;
	}
	/* More than a torn append leaves may be a durable record that
	 * rotted: copied aside before the cut. */
	if (valid_record_after(seg, bad, end) ||
	    !walk_torn_append(seg->map, bad, end)) {
		rc = save_tail(db, seg, bad, end);
		if (rc)
			return rc;
	}
	rc = io_ftruncate(seg->fd, (off_t)bad);
	if (!rc)
		rc = io_fdatasync(seg->fd);
	if (!rc)
		db_log(db,
		       "%s/%s: truncated torn tail at offset %llu "
		       "(%llu bytes)",
		       db->dir, name, (unsigned long long)bad,
		       (unsigned long long)(end - bad));
	return rc;
}

static int add_suspect(struct recovery *r, const struct rec_header *h,
		       uint64_t off)
{
	const uint8_t *rec = r->seg->map + off;
	uint8_t *copy = mem_alloc(h->klen);

	if (!copy || mem_grow((void **)&r->sus, &r->scap, r->nsus,
			      sizeof(*r->sus), 16)) {
		mem_free(copy);
		return -ENOMEM;
	}
	memcpy(copy, rec + rec_header_size(h->flags), h->klen);
	r->sus[r->nsus++] = (struct suspect){
		copy, h->klen,
		(struct keydir_entry){
			.seq = h->seq,
			.seg = r->seg->id,
			.off = (uint32_t)off,
			.vlen = h->vlen,
			.flags = (h->flags & REC_F_EXPIRY) ? KEYDIR_F_EXPIRES
							   : 0,
		}};
	return 0;
}

/* The damaged range [off, end) of the segment being walked (walk.h). */
static int on_damage(void *arg, uint64_t off, uint64_t end, bool framing)
{
	struct recovery *r = arg;
	struct segment *seg = r->seg;
	struct rec_header h;
	char name[SEG_NAME_MAX];
	int rc = 0;

	seg->damaged_ranges++;
	seg->damaged_bytes += end - off;
	seg->min_seq = 0; /* it may hold any record: merge keeps tombstones */
	segment_name(name, seg->id, "cask");
	db_log(r->db,
	       "%s/%s: %s at offset %llu (%llu bytes); %s; the bytes stay in "
	       "the file",
	       r->db->dir, name,
	       framing ? "batch records with no commit" : "damaged records",
	       (unsigned long long)off, (unsigned long long)(end - off),
	       end < r->end ? "valid records after it are kept"
			    : "no valid record follows it");
	if (framing)
		return 0;
	/* Records whose header still reads (a damaged value or key). */
	for (uint64_t o = off; !rc && o < end; o += rec_size(&h)) {
		if (rec_decode_header(seg->map + o, end - o, &h) ||
		    rec_size(&h) > end - o)
			break;
		if (rec_is_op(&h))
			rc = add_suspect(r, &h, o);
	}
	return rc;
}

/* Newest first, so that of two damaged records of one key the newer is
 * entered and the older kept out. */
static int cmp_suspect_seq(const void *a, const void *b)
{
	const struct suspect *x = a, *y = b;

	return x->e.seq < y->e.seq ? 1 : x->e.seq > y->e.seq ? -1 : 0;
}

static int cmp_damage_pos(const void *a, const void *b)
{
	const struct damage_key *x = a, *y = b;
	uint64_t p = log_pos(x->seg, x->off), q = log_pos(y->seg, y->off);

	return p < q ? -1 : p > q;
}

/* Name the keys that lost their newest version, in log order: the first
 * 32 one line each, the rest counted. */
static void name_lost(struct cask_db *db)
{
	const struct damage *d = &db->damage;

	for (size_t i = 0; i < d->nkeys && i < 32; i++) {
		const struct damage_key *k = &d->keys[i];
		char key[REC_QUOTE_MAX], name[SEG_NAME_MAX];

		if (!damage_first_naming(db, k->seg, k->off))
			continue;
		rec_quote_key(key, k->key, k->klen);
		segment_name(name, k->seg, "cask");
		db_log(db,
		       k->uncertain
			       ? "%s/%s: key %s: a damaged record at offset %u "
				 "may have held its newest version"
			       : "%s/%s: key %s: its newest version is the "
				 "damaged record at offset %u; reading it "
				 "fails until it is written again",
		       db->dir, name, key, k->off);
	}
	if (d->nkeys > 32)
		db_log(db, "%s: %zu more keys lost their newest version",
		       db->dir, d->nkeys - 32);
}

/*
 * After every segment is read: each key of a damaged record with no newer
 * valid version now points at the damaged record, so that reading it
 * fails, and is added to the handle's damaged keys (damage.c). The next
 * seq issued is above every entered record's, so that a new write of the
 * key wins at the next open too; a seq far above any valid record's (2^32
 * more) is itself damage: such a record is listed (uncertain) but not
 * entered.
 */
static int enter_suspects(struct recovery *r)
{
	struct cask_db *db = r->db;
	uint64_t max_seq = db->seq + (1ull << 32);
	int rc = 0;

	if (r->nsus)
		qsort(r->sus, r->nsus, sizeof(*r->sus), cmp_suspect_seq);
	for (size_t i = 0; !rc && i < r->nsus; i++) {
		struct suspect *s = &r->sus[i];
		struct keydir_entry old;
		bool bad_seq = s->e.seq == 0 || s->e.seq > max_seq;
		int res = bad_seq ? KEYDIR_INSERTED
				  : keydir_put(db->kd, s->key, s->klen, &s->e,
					       &old, newer, NULL);

		if (res < 0)
			rc = res;
		if (res < 0 || res == KEYDIR_KEPT)
			continue;
		if (!bad_seq) {
			uint64_t size = db_entry_size(&s->e, s->klen);

			segtable_find(&db->segs, s->e.seg)->live_bytes += size;
			if (s->e.seq > db->seq)
				db->seq = s->e.seq;
			if (res == KEYDIR_REPLACED &&
			    !(old.flags & KEYDIR_F_TOMBSTONE))
				db_account_dead(db, old.seg,
						db_entry_size(&old, s->klen));
		}
		rc = damage_add_key(db, s->key, s->klen, s->e.seg, s->e.off,
				    bad_seq);
		if (!rc)
			s->key = NULL; /* the handle's now */
	}
	for (size_t i = 0; i < r->nsus; i++)
		mem_free(r->sus[i].key);
	if (db->damage.nkeys)
		qsort(db->damage.keys, db->damage.nkeys,
		      sizeof(*db->damage.keys), cmp_damage_pos);
	if (!rc)
		name_lost(db);
	return rc;
}

/*
 * Check the header of @p seg (@p size bytes). A damaged header that
 * storedir_segment_is_ours() still takes for ours sets @p *damaged: the
 * records are read. Anything else is not a segment libcask wrote.
 * @return 0, CASK_EVERSION, CASK_ECORRUPT (names another segment) or
 *   CASK_ENOTSTORE.
 */
static int check_header(struct cask_db *db, struct segment *seg, uint64_t size,
			bool *damaged)
{
	char name[SEG_NAME_MAX];
	uint32_t id;
	int rc = seg_header_decode(seg->map, &id);

	*damaged = false;
	segment_name(name, seg->id, "cask");
	if (!rc && id != seg->id) {
		db_log(db, "%s/%s: the segment header names segment %u",
		       db->dir, name, id);
		return CASK_ECORRUPT;
	}
	if (rc == CASK_EVERSION)
		db_log(db, "%s/%s: unsupported format version", db->dir, name);
	if (rc != CASK_ECORRUPT)
		return rc;
	if (!storedir_segment_is_ours(seg->map, size, seg->id)) {
		db_log(db,
		       "%s/%s: neither a segment header nor a record: not a "
		       "file libcask wrote; not opened as a store, the file "
		       "is left as it is",
		       db->dir, name);
		return CASK_ENOTSTORE;
	}
	db_log(db, "%s/%s: the segment header is damaged; reading its records",
	       db->dir, name);
	*damaged = true;
	return 0;
}

static int open_mapped(struct cask_db *db, const struct seg_file *f,
		       bool active, uint64_t *end, struct segment **out)
{
	char name[SEG_NAME_MAX];
	struct stat st;
	size_t map_len;
	int rc;

	segment_name(name, f->id, "cask");
	if (fstatat(db->dirfd, name, &st, 0))
		return -errno;
	*end = (uint64_t)st.st_size;
	if (*end > UINT32_MAX) {
		db_log(db, "%s/%s: larger than a segment can be", db->dir,
		       name);
		return CASK_ECORRUPT;
	}
	/* The active segment maps room to grow into. */
	map_len = active && *end < db->opts.segment_size ? db->opts.segment_size
							 : (size_t)*end;
	rc = segment_open(db->dirfd, f->id, active && !db->opts.read_only,
			  map_len, out);
	if (!rc && map_len && !(*out)->map) {
		segment_put(*out);
		*out = NULL;
		rc = -ENOMEM;
	}
	return rc;
}

/*
 * Finish the header of the active segment @p seg whose creation a crash
 * cut short (it holds the start of the header we write). It is completed
 * in place, not removed: the active segment must stay the newest unhinted
 * one, or an older, sealed segment would be taken for the active one at
 * the next open (if this one failed before making another), its durable
 * bytes for a torn tail.
 */
static int finish_creation(struct cask_db *db, struct segment *seg)
{
	uint8_t hdr[SEG_HDR_SIZE];
	struct iovec iov = {hdr, sizeof(hdr)};
	char name[SEG_NAME_MAX];
	int rc;

	segment_name(name, seg->id, "cask");
	db_log(db, "%s/%s: completing a segment header a crash cut short",
	       db->dir, name);
	seg_header_encode(hdr, seg->id);
	rc = io_pwritev_all(seg->fd, &iov, 1, 0);
	return rc ? rc : io_fdatasync(seg->fd);
}

/*
 * A segment file too short for a header, @p *end bytes. Crashed while
 * creating the active segment: it holds the start of the header we write;
 * a writable open completes the header (*@p end becomes its size), a
 * read-only one skips the file. Anything else is not ours to change: a
 * sealed segment cut short is damage (kept, and reported), and bytes we
 * did not write make the directory no store.
 * @return 0 with @p *skip set when the file is not to be read further.
 */
static int short_segment(struct recovery *r, const struct seg_file *f,
			 struct segment *seg, uint64_t *end, bool active,
			 bool *skip)
{
	struct cask_db *db = r->db;
	char name[SEG_NAME_MAX];
	bool prefix = storedir_segment_is_ours(seg->map, *end, f->id);
	int rc;

	*skip = true;
	segment_name(name, f->id, "cask");
	if (prefix && active) {
		if (db->opts.read_only)
			return 0;
		rc = finish_creation(db, seg);
		*skip = false;
		*end = SEG_HDR_SIZE;
		return rc;
	}
	if (!prefix) {
		db_log(db,
		       "%s/%s: %llu bytes that are not the start of a segment "
		       "header: not a file libcask wrote; not opened as a "
		       "store, "
		       "the file is left as it is",
		       db->dir, name, (unsigned long long)*end);
		return CASK_ENOTSTORE;
	}
	*skip = false;
	r->seg = seg;
	r->end = *end;
	return on_damage(r, 0, *end, false);
}

/* Where the bytes known durable end: a sealed segment's end; in the
 * active segment, its CLOSED mark if it names this segment and the file
 * still holds that much, or further where the synced records in it or
 * the same boot prove more (walk_durable_end()). */
static uint64_t durable_end(const struct recovery *r, const struct segment *seg,
			    bool active, uint64_t end)
{
	uint64_t known = 0;

	if (!active)
		return end;
	if (r->closed && r->closed_id == seg->id && r->closed_size <= end)
		known = r->closed_size;
	if (known == end)
		return end;
	return walk_durable_end(seg->map, end, seg->id, known, r->same_boot);
}

static int load_segment(struct recovery *r, const struct seg_file *f,
			bool active)
{
	struct cask_db *db = r->db;
	struct segment *seg;
	uint64_t end = 0, valid_end;
	bool skip = false, bad_header = false;
	int rc;

	rc = open_mapped(db, f, active, &end, &seg);
	if (rc)
		return rc;
	if (end < SEG_HDR_SIZE) {
		rc = short_segment(r, f, seg, &end, active, &skip);
		if (rc || skip) {
			segment_put(seg);
			return rc;
		}
	}
	rc = segtable_add(&db->segs, seg);
	if (rc) {
		segment_put(seg);
		return rc;
	}
	seg->has_hint = f->has_hint;
	if (end < SEG_HDR_SIZE) {
		atomic_store(&seg->size, end);
		return 0;
	}
	rc = check_header(db, seg, end, &bad_header);
	if (rc)
		return rc;
	seg->synced_records = !bad_header && seg_header_version(seg->map) >=
						     SEG_VERSION_SYNCED;
	if (f->has_hint && !bad_header) {
		rc = hint_load(r, db->dirfd, seg);
		if (rc == 0 || rc == -ENOMEM) {
			atomic_store(&seg->size, end);
			return rc;
		}
		char name[SEG_NAME_MAX];

		segment_name(name, f->id, "hint");
		db_log(db, "%s/%s: %s; reading the segment instead", db->dir,
		       name, cask_strerror(rc));
	}
	r->seg = seg;
	r->end = end;
	rc = bad_header ? on_damage(r, 0, SEG_HDR_SIZE, false) : 0;
	if (!rc)
		rc = segment_scan(seg, end, durable_end(r, seg, active, end),
				  apply_record, on_damage, r, &valid_end);
	if (rc)
		return rc;
	if (valid_end < end)
		rc = cut_tail(db, seg, valid_end, end);
	atomic_store(&seg->size, valid_end);
	if (active)
		db->active = seg;
	return rc;
}

struct id_list {
	uint32_t *v;
	size_t n, cap;
};

static int id_add(struct id_list *l, uint32_t id)
{
	int rc = mem_grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v), 64);

	if (!rc)
		l->v[l->n++] = id;
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool id_has(const struct id_list *l, uint32_t id)
{
	return l->n && bsearch(&id, l->v, l->n, sizeof(id), cmp_id);
}

/* Read the directory: segment, hint and drop list ids; leftovers of an
 * interrupted merge (*.tmp) are removed when writable. */
static int read_dir(struct cask_db *db, struct id_list *segs,
		    struct id_list *hints, struct id_list *drops)
{
	struct dirent *d;
	DIR *dir;
	int rc = storedir_list(db->dirfd, &dir);

	if (rc)
		return rc;
	while (!rc && (d = readdir(dir))) {
		const char *ext;
		uint32_t id;

		if (!segment_parse_name(d->d_name, &id, &ext))
			continue;
		if (!strcmp(ext, "cask"))
			rc = id_add(segs, id);
		else if (!strcmp(ext, "hint"))
			rc = id_add(hints, id);
		else if (!strcmp(ext, "drop"))
			rc = id_add(drops, id);
		else if (!db->opts.read_only && strstr(ext, ".tmp"))
			io_unlinkat(db->dirfd, d->d_name);
	}
	closedir(dir);
	if (segs->n)
		qsort(segs->v, segs->n, sizeof(uint32_t), cmp_id);
	if (hints->n)
		qsort(hints->v, hints->n, sizeof(uint32_t), cmp_id);
	return rc;
}

/* The sorted segment files, each with whether it has a hint. A hint whose
 * segment is missing (merge stopped between the two renames) is removed. */
/*
 * Finish the drop lists a crash interrupted (droplist.h). Writable: remove
 * their inputs, and remove lists that do not apply. Read-only: remove
 * nothing, but add the inputs to @p gone so they are not read.
 */
static int finish_drops(struct cask_db *db, const struct id_list *drops,
			struct id_list *gone)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < drops->n; i++) {
		char name[SEG_NAME_MAX];
		uint32_t *in;
		size_t nin;

		if (!db->opts.read_only) {
			rc = droplist_finish(db->dirfd, drops->v[i]);
			if (rc == -ENOENT || rc == CASK_ECORRUPT) {
				segment_name(name, drops->v[i], "drop");
				rc = io_unlinkat(db->dirfd, name);
			}
			continue;
		}
		if (droplist_read(db->dirfd, drops->v[i], &in, &nin))
			continue;
		for (size_t j = 0; !rc && j < nin; j++)
			rc = id_add(gone, in[j]);
		mem_free(in);
	}
	if (!rc && gone->n)
		qsort(gone->v, gone->n, sizeof(uint32_t), cmp_id);
	return rc;
}

/* A read-only open leaves segment @p id, only kept for copies, unread:
 * count it where cask_stats() shows the kept inputs of a writable one. */
static void count_kept(struct cask_db *db, uint32_t id)
{
	db->deferred.bytes += segment_disk_bytes(db->dirfd, id);
	db->deferred.inputs++;
}

static int list_files(struct cask_db *db, struct seg_file **out, size_t *n)
{
	struct id_list segs = {0}, hints = {0}, drops = {0}, gone = {0};
	struct seg_file *v = NULL;
	size_t cnt = 0;
	int rc = read_dir(db, &segs, &hints, &drops);

	if (!rc && drops.n) {
		rc = finish_drops(db, &drops, &gone);
		segs.n = hints.n = drops.n = 0; /* changed: read it again */
		if (!rc)
			rc = read_dir(db, &segs, &hints, &drops);
	}

	if (!rc && segs.n) {
		v = mem_alloc(segs.n * sizeof(*v));
		rc = v ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !rc && i < segs.n; i++) {
		if (id_has(&gone, segs.v[i]))
			count_kept(db, segs.v[i]);
		else
			v[cnt++] = (struct seg_file){segs.v[i],
						     id_has(&hints, segs.v[i])};
	}
	for (size_t i = 0; !rc && !db->opts.read_only && i < hints.n; i++) {
		char name[SEG_NAME_MAX];

		if (id_has(&segs, hints.v[i]))
			continue;
		segment_name(name, hints.v[i], "hint");
		io_unlinkat(db->dirfd, name);
	}
	mem_free(segs.v);
	mem_free(hints.v);
	mem_free(drops.v);
	mem_free(gone.v);
	if (rc) {
		mem_free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void drop_tombstones(struct recovery *r)
{
	struct keydir_entry e;

	for (size_t i = 0; i < r->ntombs; i++) {
		const struct tomb *t = &r->tombs[i];

		if (keydir_get(r->db->kd, t->key, t->klen, &e) &&
		    (e.flags & KEYDIR_F_TOMBSTONE))
			keydir_delete(r->db->kd, t->key, t->klen, NULL);
		mem_free(t->key);
	}
}

int recover(struct cask_db *db)
{
	struct recovery r = {.db = db};
	struct seg_file *files = NULL;
	size_t n = 0, active = SIZE_MAX;
	int rc = list_files(db, &files, &n);

	r.closed =
		storedir_read_closed(db->dirfd, &r.closed_id, &r.closed_size);
	r.same_boot = storedir_same_boot(db->dirfd);
	for (size_t i = 0; i < n; i++)
		if (!files[i].has_hint)
			active = i;
	for (size_t i = 0; !rc && i < n; i++)
		rc = load_segment(&r, &files[i], i == active);
	if (!rc)
		rc = enter_suspects(&r);
	else
		for (size_t i = 0; i < r.nsus; i++)
			mem_free(r.sus[i].key);
	drop_tombstones(&r);
	if (n)
		db->next_id = files[n - 1].id + 1;
	else
		db->next_id = 1;
	mem_free(files);
	mem_free(r.tombs);
	mem_free(r.sus);
	return rc;
}
