/*
 * merge.c - background merge: rewrite the live records of the sealed
 * segments with the most garbage into new segments with hint files, then
 * drop the old ones.
 *
 * Steps, and why each is crash-safe:
 *  1. pick   Under wmu: choose sealed segments by their dead-byte ratio,
 *            take references, note the newest output id to come.
 *  2. copy   No store lock held except briefly (rw shared) per record to
 *            ask the keydir whether the record is still the live one.
 *            The records kept are gathered (picks.h), sorted by key, and
 *            re-encoded in that order (the batch flag dropped, seq kept) to
 *            NNNNNNNNNN.cask.tmp, so outputs hold keys in order; tombstones are kept only while some other
 *            segment may still hold an older value of their key (its lowest
 *            seq is below theirs); expired puts become tombstones. Temp files
 *            are removed at open, so a crash here loses nothing. A bad
 *            record in an input (damage its hint hid from open) ends the
 *            run before anything is published: that input is marked
 *            damaged and kept, and the others are picked again.
 *  3. publish fdatasync the segment, write and fdatasync its hint, rename
 *            the hint, then the segment, fsync the directory. A segment with
 *            a hint is never taken for the active one, and records found
 *            twice (input and output) are resolved by sequence number, so a
 *            crash at any point after a rename is safe too.
 *  4. swap   Under wmu + rw exclusive, a few thousand entries at a time:
 *            keydir entries still pointing at the input record are moved to
 *            the output. Writers wait at most one such slice.
 *  5. drop   A drop list naming outputs and inputs is made durable; inputs
 *            leave the table; their files are unlinked, or, inside a backup
 *            window or for merge_keep_ms, later (deferred.h). An interrupted
 *            removal is finished at the next open (droplist.h).
 * On a full disk (ENOSPC anywhere in steps 2-5) the merge gives up the
 * space reserve (reserve.c) and goes on one input at a time, the one with
 * the most garbage first (merge_stepwise): a mostly dead input needs
 * little room, and the space each frees pays for the next.
 * The same thread also writes a hint file for each sealed segment that has
 * none (hint_write_sealed), after a merge or, when no merge is due, on its
 * own after a rotation: start-up then reads hints only. (The inputs of
 * earlier merges kept for a copy are removed by the keeper, deferred.c.)
 * Only one merge runs at a time. Locks: mu guards the merge state; it is
 * never held while taking wmu or rw.
 */
#include "merge.h"

#include "alloc.h"
#include "automerge.h"
#include "codec.h"
#include "deferred.h"
#include "droplist.h"
#include "hint.h"
#include "io.h"
#include "picks.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SWAP_SLICE 4096	      /* keydir updates per exclusive lock hold */
#define OUT_BUF	   (1u << 20) /* output write buffer */
/* Records gathered before they are sorted and written (16 bytes each): a
 * merge keeping more writes several key-ordered runs. */
#define PICKS_MAX  (4u << 20)

struct merge_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_live; /* joinable thread exists (guarded by mu) */
	bool running;	  /* guarded by mu */
	bool merging;	  /* the running job merges, not hints only (mu) */
	_Atomic bool stop;
	struct cask_merge_options opts;
	int result;
	_Atomic uint64_t done, total;
	uint64_t merges, reclaimed, last_ms;
};

/* One output segment being written. */
struct output {
	uint32_t id;
	int fd;
	uint64_t size;
	uint8_t *buf;
	size_t blen;
	struct hint_buf hint;
	/* For the swap: where each output record came from. */
	struct moved {
		uint32_t in_seg, in_off;
		uint32_t out_off;
		uint64_t seq;
	} * moved;
	size_t nmoved, mcap;
	uint64_t min_seq; /* lowest seq written (the segment's min_seq) */
	uint64_t tombs, tombs_seq; /* tombstones written: kept_tombs(_seq) */
	uint64_t expiring_bytes, max_expire; /* as in struct segment */
	bool published;
};

/* A live put dropped because it expired: its keydir entry must go too. */
struct expired {
	uint32_t in_seg, in_off;
	uint8_t *key;
	uint16_t klen;
};

struct merge_run {
	struct cask_db *db;
	struct expired *exp;
	size_t nexp, ecap;
	struct segment **in;
	size_t nin;
	struct segment **unhinted; /* sealed, no hint yet, not an input */
	size_t nunhinted;
	uint64_t in_bytes;
	uint64_t now;
	struct picks picks; /* records to write, put in key order */
	struct output *out;
	size_t nout;
	bool short_of_space; /* inputs go at once, merge_keep_ms or not */
	bool paced;	     /* yields to writers (automerge_pace()) */
	struct merge_pacer pacer;
	bool marked_damaged; /* this run marked an input (input_damaged()) */
};

int merge_init(struct cask_db *db)
{
	db->merge = mem_calloc(1, sizeof(*db->merge));
	if (!db->merge)
		return -ENOMEM;
	pthread_mutex_init(&db->merge->mu, NULL);
	pthread_cond_init(&db->merge->cv, NULL);
	return 0;
}

static void join_thread(struct merge_state *m)
{
	pthread_mutex_lock(&m->mu);
	while (m->running)
		pthread_cond_wait(&m->cv, &m->mu);
	if (m->thread_live) {
		m->thread_live = false;
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
		return;
	}
	pthread_mutex_unlock(&m->mu);
}

/*
 * Remove a merged input. The segment goes (durably) before its hint: a
 * hint left alone is removed at open, while a segment left without its hint
 * could be taken for the active one (the newest without a hint). The
 * directory is synced before the next input goes, so after a crash the
 * inputs still present are always a suffix of the removal order (see
 * older_elsewhere).
 */
static void write_missing_hints(struct cask_db *db);

void merge_destroy(struct cask_db *db)
{
	struct merge_state *m = db->merge;

	if (!m)
		return;
	atomic_store(&m->stop, true);
	join_thread(m);
	/* A clean close leaves every sealed segment hinted: the next open
	 * then reads no data. */
	if (!db->opts.read_only && !atomic_load(&db->failed))
		write_missing_hints(db);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	mem_free(m);
	db->merge = NULL;
}

void merge_stats(struct cask_db *db, struct cask_stats *st)
{
	struct merge_state *m = db->merge;

	pthread_mutex_lock(&m->mu);
	st->merges = m->merges;
	st->merge_reclaimed = m->reclaimed;
	st->merge_last_ms = m->last_ms;
	st->merge_running = m->running;
	pthread_mutex_unlock(&m->mu);
	st->merge_done = atomic_load(&m->done);
	st->merge_total = atomic_load(&m->total);
}

/* --- 1. pick --- */

void merge_seq_floor(const struct cask_db *db, struct seq_floor *f)
{
	*f = (struct seq_floor){NULL, UINT64_MAX, UINT64_MAX};
	for (size_t i = 0; i < db->segs.n; i++) {
		const struct segment *s = db->segs.v[i];

		if (s->min_seq < f->min) {
			f->next = f->min;
			f->min = s->min_seq;
			f->oldest = s;
		} else if (s->min_seq < f->next) {
			f->next = s->min_seq;
		}
	}
}

uint64_t merge_garbage(const struct segment *s, uint64_t now,
		       const struct seq_floor *f)
{
	uint64_t garbage = segment_garbage(s, now);
	uint64_t older = s == f->oldest ? f->next : f->min;

	/* The oldest of them stays if another segment is older still, and
	 * then every one does (older_elsewhere()). */
	if (s->kept_tombs && older < s->kept_tombs_seq)
		garbage -= garbage < s->kept_tombs ? garbage : s->kept_tombs;
	return garbage;
}

static bool worth_merging(const struct cask_db *db, const struct segment *s,
			  bool all, uint64_t now, const struct seq_floor *f)
{
	uint64_t garbage = merge_garbage(s, now, f);
	double ratio = db->opts.merge_dead_ratio;

	if (garbage == 0)
		return false;
	if (all)
		return true;
	return ratio > 0 && ratio <= 1 &&
	       (double)garbage >= ratio * (s->live_bytes + s->dead_bytes);
}

/*
 * Choose the inputs (when @p merge) and the sealed segments that still need
 * a hint file. Caller holds wmu. @return 0, or -ENOMEM.
 */
static int pick(struct merge_run *run, bool merge, bool all)
{
	struct cask_db *db = run->db;
	struct seq_floor f;

	merge_seq_floor(db, &f);
	run->in = mem_alloc(db->segs.n * sizeof(*run->in));
	run->unhinted = mem_alloc(db->segs.n * sizeof(*run->unhinted));
	if (!run->in || !run->unhinted)
		return -ENOMEM;
	for (size_t i = 0; i < db->segs.n; i++) {
		struct segment *s = db->segs.v[i];

		if (s == db->active || s->damaged_ranges)
			continue; /* damage stays where recovery found it */
		segment_get(s);
		if (merge && run->nin < PICKS_MAX_INPUTS &&
		    worth_merging(db, s, all, run->now, &f)) {
			run->in[run->nin++] = s;
			run->in_bytes += atomic_load(&s->size);
		} else if (!s->has_hint) {
			run->unhinted[run->nunhinted++] = s;
		} else {
			segment_put(s);
		}
	}
	return 0;
}

/* --- 2. copy --- */

/* Between slices of work, holding no store lock: a merge that started by
 * itself yields to writers, unless the disk is short of space. */
static void pace(struct merge_run *run)
{
	if (run->paced && !run->short_of_space)
		automerge_pace(run->db, &run->pacer);
}

static int out_flush(struct output *o)
{
	struct iovec iov = {o->buf, o->blen};
	int rc;

	if (!o->blen)
		return 0;
	rc = io_pwritev_all(o->fd, &iov, 1, (off_t)(o->size - o->blen));
	/* Write back as we go: a pile of dirty merge output would make the
	 * writers' next fsync (a journal commit) wait for all of it. */
	if (!rc)
		sync_file_range(o->fd, (off_t)(o->size - o->blen),
				(off_t)o->blen, SYNC_FILE_RANGE_WRITE);
	o->blen = 0;
	return rc;
}

static int out_open(struct merge_run *run)
{
	struct cask_db *db = run->db;
	struct output *o, *v;
	char name[SEG_NAME_MAX];
	int rc;

	v = mem_realloc(run->out, (run->nout + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	run->out = v;
	o = &v[run->nout];
	*o = (struct output){
		.fd = -1, .min_seq = UINT64_MAX, .tombs_seq = UINT64_MAX};
	pthread_mutex_lock(&db->wmu);
	o->id = db->next_id++;
	pthread_mutex_unlock(&db->wmu);
	run->nout++;
	o->buf = mem_alloc(OUT_BUF);
	rc = o->buf ? hint_begin(&o->hint, o->id) : -ENOMEM;
	if (rc)
		return rc;
	segment_name(name, o->id, "cask.tmp");
	o->fd = io_open(db->dirfd, name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (o->fd < 0)
		return o->fd;
	seg_header_encode(o->buf, o->id);
	o->blen = o->size = SEG_HDR_SIZE;
	return 0;
}

static int note_moved(struct output *o, const struct segment *in,
		      uint64_t in_off, uint64_t seq)
{
	int rc = mem_grow((void **)&o->moved, &o->mcap, o->nmoved,
			  sizeof(*o->moved), 1024);

	if (rc)
		return rc;
	o->moved[o->nmoved++] = (struct moved){in->id, (uint32_t)in_off,
					       (uint32_t)o->size, seq};
	return 0;
}

/* Append a re-encoded record to the current output. */
static int emit(struct merge_run *run, const struct segment *in,
		uint64_t in_off, struct rec_header *h, const uint8_t *key,
		const uint8_t *val)
{
	struct cask_db *db = run->db;
	struct output *o = run->nout ? &run->out[run->nout - 1] : NULL;
	uint64_t size = rec_size(h);
	struct keydir_entry e = {
		.seq = h->seq,
		.vlen = h->vlen,
		.flags = (h->type == REC_DELETE ? KEYDIR_F_TOMBSTONE : 0) |
			 ((h->flags & REC_F_EXPIRY) ? KEYDIR_F_EXPIRES : 0),
	};
	int rc;

	if (!o || (o->size > SEG_HDR_SIZE &&
		   o->size + size > db->opts.segment_size)) {
		rc = out_open(run);
		if (rc)
			return rc;
		o = &run->out[run->nout - 1];
	}
	e.off = (uint32_t)o->size;
	if (h->seq < o->min_seq)
		o->min_seq = h->seq;
	if (h->type == REC_DELETE) {
		o->tombs += size;
		if (h->seq < o->tombs_seq)
			o->tombs_seq = h->seq;
	}
	if (h->flags & REC_F_EXPIRY) {
		o->expiring_bytes += size;
		if (h->expire > o->max_expire)
			o->max_expire = h->expire;
	}
	rc = hint_add(&o->hint, &e, key, h->klen);
	if (!rc && h->type == REC_PUT)
		rc = note_moved(o, in, in_off, h->seq);
	if (rc)
		return rc;
	if (o->blen + size > OUT_BUF) {
		rc = out_flush(o);
		if (rc)
			return rc;
		pace(run);
	}
	if (size > OUT_BUF) { /* a value larger than the buffer */
		struct iovec iov[3] = {{o->buf, 0},
				       {(void *)key, h->klen},
				       {(void *)val, h->vlen}};

		iov[0].iov_len = rec_encode(o->buf, h, key, val);
		rc = io_pwritev_all(o->fd, iov, 3, (off_t)o->size);
		o->size += size;
		return rc;
	}
	size_t hl = rec_encode(o->buf + o->blen, h, key, val);

	memcpy(o->buf + o->blen + hl, key, h->klen);
	if (h->vlen) /* tombstones come with val == NULL */
		memcpy(o->buf + o->blen + hl + h->klen, val, h->vlen);
	o->blen += size;
	o->size += size;
	return 0;
}

/* Is the put at (in, off) still what the keydir points at? Caller holds
 * db->rw shared. */
static bool is_live(struct cask_db *db, const struct segment *in, uint64_t off,
		    const uint8_t *key, uint16_t klen)
{
	struct keydir_entry e;

	return keydir_get(db->kd, key, klen, &e) && e.seg == in->id &&
	       e.off == off;
}

/*
 * May a record older than @p seq, found in input @p in, outlive @p in on
 * disk? Segments outside the merge do. Inputs that come after @p in in
 * the table are counted too: conservative since drop lists make the
 * removal of all inputs one durable step (droplist.h), and harmless.
 * Caller holds db->rw shared.
 */
static bool older_elsewhere(struct merge_run *run, const struct segment *in,
			    uint64_t seq)
{
	struct cask_db *db = run->db;
	bool found = false;

	for (size_t i = 0; i < db->segs.n && !found; i++) {
		const struct segment *s = db->segs.v[i];
		bool gone_first = false, after_in = false;

		for (size_t j = 0; j < run->nin; j++) {
			if (run->in[j] == s) {
				gone_first = !after_in;
				break;
			}
			after_in = after_in || run->in[j] == in;
		}
		found = !gone_first && s != in && s->min_seq < seq;
	}
	return found;
}

static int note_expired(struct merge_run *run, const struct segment *in,
			uint64_t off, const uint8_t *key, uint16_t klen)
{
	struct expired *x;

	if (mem_grow((void **)&run->exp, &run->ecap, run->nexp, sizeof(*x), 64))
		return -ENOMEM;
	x = &run->exp[run->nexp];
	x->key = mem_alloc(klen);
	if (!x->key)
		return -ENOMEM;
	memcpy(x->key, key, klen);
	*x = (struct expired){in->id, (uint32_t)off, x->key, klen};
	run->nexp++;
	return 0;
}

/*
 * The copy asks the keydir about every record. Taking the rwlock for each
 * one let a busy writer (which takes it exclusively for every put, and is
 * preferred) starve the merge: 3M keys took 100 s to merge under a full-
 * speed writer. So the lock is held across up to LIVE_BATCH records, and
 * let go before anything that does I/O, takes wmu or calls the user.
 */
#define LIVE_BATCH 256

struct copy_ctx {
	struct merge_run *run;
	const struct segment *in;
	uint16_t in_idx; /* index of in in run->in */
	uint64_t last_off;
	uint64_t damage_off, damage_end; /* the damage met, if any */
	bool locked;			 /* holds db->rw shared */
	unsigned held;			 /* records checked in this hold */
};

static void keydir_hold(struct copy_ctx *c)
{
	if (!c->locked) {
		pthread_rwlock_rdlock(&c->run->db->rw);
		c->locked = true;
		c->held = 0;
	}
}

static void keydir_release(struct copy_ctx *c)
{
	if (c->locked) {
		pthread_rwlock_unlock(&c->run->db->rw);
		c->locked = false;
	}
}

/* Write the gathered records in key order and start a new gathering. */
static int emit_picks(struct merge_run *run)
{
	int rc = 0;

	picks_sort(&run->picks);
	for (size_t i = 0; !rc && i < run->picks.n; i++) {
		const struct pick *k = &run->picks.v[i];
		const struct segment *in = run->in[k->in];
		struct rec_header h;

		rc = rec_decode_header(in->map + k->off, in->map_len - k->off,
				       &h);
		if (rc)
			break; /* the walk read it: cannot happen */
		if (k->tomb)
			h = (struct rec_header){.type = REC_DELETE,
						.klen = h.klen,
						.seq = h.seq};
		h.flags &= (uint8_t)~REC_F_BATCH;
		rc = emit(run, in, k->off, &h, k->key,
			  k->tomb ? NULL : k->key + h.klen);
	}
	picks_clear(&run->picks);
	return rc;
}

/* Keep the record at @p w; write what is gathered once it is PICKS_MAX. */
static int keep(struct copy_ctx *c, const struct walk_rec *w, bool tomb)
{
	struct pick k = {.key = w->key,
			 .off = (uint32_t)w->off,
			 .klen = w->h.klen,
			 .in = c->in_idx,
			 .tomb = tomb};
	int rc = picks_add(&c->run->picks, &k);

	if (rc || c->run->picks.n < PICKS_MAX)
		return rc;
	keydir_release(c);
	return emit_picks(c->run);
}

static int copy_record(void *arg, const struct walk_rec *w)
{
	struct copy_ctx *c = arg;
	struct merge_run *run = c->run;
	struct merge_state *m = run->db->merge;
	const struct rec_header *h = &w->h;
	uint64_t step = w->off - c->last_off;
	uint64_t done = atomic_fetch_add(&m->done, step) + step;

	if (atomic_load(&m->stop))
		return -ECANCELED;
	/* Every MiB of the whole merge (a segment may be smaller). */
	if ((done >> 20) != ((done - step) >> 20)) {
		keydir_release(c);
		pace(run);
		if (m->opts.progress)
			m->opts.progress(m->opts.progress_arg, done,
					 atomic_load(&m->total));
	}
	c->last_off = w->off;
	if (c->locked && ++c->held >= LIVE_BATCH)
		keydir_release(c); /* let the writers in */
	keydir_hold(c);
	if (h->type == REC_PUT) {
		if (!is_live(run->db, c->in, w->off, w->key, h->klen))
			return 0;
		if (!(h->flags & REC_F_EXPIRY) || h->expire > run->now)
			return keep(c, w, false);
		/* Expired: a tombstone keeps older values buried. */
		int rc = note_expired(run, c->in, w->off, w->key, h->klen);

		if (rc)
			return rc;
	} else if (h->type != REC_DELETE) {
		return 0; /* commit records have served their purpose */
	}
	if (!older_elsewhere(run, c->in, h->seq))
		return 0;
	return keep(c, w, true);
}

/* Damage in a sealed input (bytes written whole and synced, so every bad
 * record is damage, not a torn write): the walk stops there. */
static int copy_damage(void *arg, uint64_t off, uint64_t end, bool framing)
{
	struct copy_ctx *c = arg;

	(void)framing;
	c->damage_off = off;
	c->damage_end = end;
	return CASK_ECORRUPT;
}

/*
 * Damage an input's hint hid from open (a hinted segment is not read at
 * open) is met here. The run is abandoned: an input is removed only once
 * every record of it was read, and records after the damage are not. The
 * input is marked damaged, so that no merge takes it again (pick()), and
 * its hint goes, so that every open reads it and finds the damage
 * (docs/FORMAT.md section 7); a merge output newer than the active
 * segment first gets a new active segment above it (a rotation, under
 * wmu), so that it never becomes the newest segment without a hint.
 */
static void input_damaged(struct merge_run *run, const struct copy_ctx *c)
{
	struct cask_db *db = run->db;
	struct segment *in = run->in[c->in_idx];
	char name[SEG_NAME_MAX];
	bool drop_hint;

	segment_name(name, in->id, "cask");
	db_log(db,
	       "%s/%s: merge: damaged record at offset %llu; the segment "
	       "is kept as it is and not merged",
	       db->dir, name, (unsigned long long)c->damage_off);
	pthread_mutex_lock(&db->wmu);
	/* Unhinted, it must not pass for the active segment (the newest
	 * without a hint), whose damage past its durable bytes would be cut
	 * as a torn tail: a merge output above the active segment gets a new
	 * active segment above it first. If that fails it keeps its hint, and
	 * the next merge that meets the damage tries again. */
	drop_hint = in->id < db->active->id || write_rotate(db) == 0;
	pthread_rwlock_wrlock(&db->rw);
	in->damaged_ranges++;
	in->damaged_bytes += c->damage_end - c->damage_off;
	in->has_hint = in->has_hint && !drop_hint;
	pthread_rwlock_unlock(&db->rw);
	pthread_mutex_unlock(&db->wmu);
	segment_name(name, in->id, "hint");
	if (drop_hint && io_unlinkat(db->dirfd, name) == 0)
		io_fsync(db->dirfd);
}

static int copy_segment(struct merge_run *run, size_t idx)
{
	const struct segment *in = run->in[idx];
	struct copy_ctx c = {.run = run,
			     .in = in,
			     .in_idx = (uint16_t)idx,
			     .last_off = SEG_HDR_SIZE};
	uint64_t end = atomic_load(&in->size), valid_end;
	int rc = segment_scan(in, end, end, copy_record, copy_damage, &c,
			      &valid_end);

	keydir_release(&c);
	if (rc == CASK_ECORRUPT && c.damage_end) {
		input_damaged(run, &c);
		run->marked_damaged = true;
		return rc;
	}
	atomic_fetch_add(&run->db->merge->done, end - c.last_off);
	if (!rc && run->db->merge->opts.progress) /* and each input's end */
		run->db->merge->opts.progress(
			run->db->merge->opts.progress_arg,
			atomic_load(&run->db->merge->done),
			atomic_load(&run->db->merge->total));
	return rc;
}

/* --- 3. publish --- */

static int publish(struct merge_run *run, struct output *o)
{
	struct cask_db *db = run->db;
	char tmp[SEG_NAME_MAX], name[SEG_NAME_MAX];
	struct segment *seg;
	int rc = out_flush(o);

	if (!rc)
		rc = io_fdatasync(o->fd);
	if (!rc)
		rc = hint_write_tmp(&o->hint, db->dirfd, o->id);
	if (!rc)
		rc = hint_publish(db->dirfd, o->id);
	/* The hint's name must be durable before the segment's: a segment
	 * without its hint would pass for the active one. */
	if (!rc)
		rc = io_fsync(db->dirfd);
	segment_name(tmp, o->id, "cask.tmp");
	segment_name(name, o->id, "cask");
	if (!rc)
		rc = io_renameat(db->dirfd, tmp, name);
	if (!rc)
		rc = io_fsync(db->dirfd);
	if (rc)
		return rc;
	o->published = true;
	rc = segment_open(db->dirfd, o->id, false, o->size, &seg);
	if (rc)
		return rc;
	atomic_store(&seg->size, o->size);
	/* Old records live here now: later merges must see their seqs
	 * before dropping a tombstone (older_elsewhere). */
	seg->min_seq = o->min_seq;
	seg->kept_tombs = o->tombs;
	seg->kept_tombs_seq = o->tombs_seq;
	seg->has_hint = true;
	seg->dead_bytes = o->size - SEG_HDR_SIZE; /* live ones move in swap */
	seg->expiring_bytes = o->expiring_bytes;
	seg->max_expire = o->max_expire;
	pthread_mutex_lock(&db->wmu);
	pthread_rwlock_wrlock(&db->rw);
	rc = segtable_add(&db->segs, seg);
	pthread_rwlock_unlock(&db->rw);
	pthread_mutex_unlock(&db->wmu);
	if (rc)
		segment_put(seg);
	return rc;
}

/* --- 4. swap --- */

static void swap_one(struct cask_db *db, struct segment *out,
		     const struct moved *mv, const struct hint_buf *hint,
		     size_t *hoff)
{
	const uint8_t *p = hint->p + *hoff;
	uint16_t klen = get_le16(p + 17);
	const uint8_t *key = p + HINT_ENTRY_HDR;
	struct keydir_entry e;

	*hoff += HINT_ENTRY_HDR + klen;
	if (!keydir_get(db->kd, key, klen, &e) || e.seg != mv->in_seg ||
	    e.off != mv->in_off)
		return; /* overwritten or deleted meanwhile */
	e.seg = out->id;
	e.off = mv->out_off;
	keydir_put(db->kd, key, klen, &e, NULL, NULL, NULL);
	db_account_dead(db, mv->in_seg, db_entry_size(&e, klen));
	out->dead_bytes -= db_entry_size(&e, klen);
	out->live_bytes += db_entry_size(&e, klen);
}

static void swap(struct merge_run *run, const struct output *o)
{
	struct cask_db *db = run->db;
	size_t hoff = HINT_HDR_SIZE, i = 0;

	while (hoff < o->hint.len) {
		pthread_mutex_lock(&db->wmu);
		pthread_rwlock_wrlock(&db->rw);
		struct segment *out = segtable_find(&db->segs, o->id);

		for (size_t n = 0; n < SWAP_SLICE && hoff < o->hint.len; n++) {
			const uint8_t *p = o->hint.p + hoff;

			if (p[16] == HINT_TOMBSTONE) {
				hoff += HINT_ENTRY_HDR + get_le16(p + 17);
				continue;
			}
			swap_one(db, out, &o->moved[i++], &o->hint, &hoff);
		}
		pthread_rwlock_unlock(&db->rw);
		pthread_mutex_unlock(&db->wmu);
		pace(run);
	}
}

/* Remove the keydir entries of the expired records that were dropped. */
static void forget_expired(struct merge_run *run)
{
	struct cask_db *db = run->db;
	struct keydir_entry e;

	pthread_mutex_lock(&db->wmu);
	pthread_rwlock_wrlock(&db->rw);
	for (size_t i = 0; i < run->nexp; i++) {
		const struct expired *x = &run->exp[i];

		if (keydir_get(db->kd, x->key, x->klen, &e) &&
		    e.seg == x->in_seg && e.off == x->in_off)
			keydir_delete(db->kd, x->key, x->klen, NULL);
	}
	pthread_rwlock_unlock(&db->rw);
	pthread_mutex_unlock(&db->wmu);
}

/* --- 5. drop --- */

/*
 * Record durably that the outputs replace the inputs, then take the inputs
 * out of the table and remove their files (droplist.h says why the record
 * comes first); inside a backup window or for merge_keep_ms the removal
 * waits (deferred.h).
 */
static int drop_inputs(struct merge_run *run)
{
	struct cask_db *db = run->db;
	uint32_t *out = mem_alloc((run->nout + 1) * sizeof(*out));
	uint32_t *in = mem_alloc(run->nin * sizeof(*in));
	uint32_t id = run->nout ? run->out[0].id : run->in[0]->id;
	uint64_t kept = 0; /* their files, hints too */
	bool defer;
	int rc = out && in ? 0 : -ENOMEM;

	for (size_t i = 0; !rc && i < run->nout; i++)
		out[i] = run->out[i].id;
	for (size_t i = 0; !rc && i < run->nin; i++) {
		in[i] = run->in[i]->id;
		kept += segment_disk_bytes(db->dirfd, in[i]);
	}
	if (!rc)
		rc = droplist_write(db->dirfd, id, out, run->nout, in,
				    run->nin);
	mem_free(out);
	mem_free(in);
	if (rc)
		return rc; /* inputs stay: duplicates resolve by seq at open */
	pthread_mutex_lock(&db->wmu);
	pthread_rwlock_wrlock(&db->rw);
	for (size_t i = 0; i < run->nin; i++)
		segtable_remove(&db->segs, run->in[i]->id);
	pthread_rwlock_unlock(&db->rw);
	defer = deferred_add(db, id, (uint32_t)run->nin, kept,
			     run->short_of_space);
	pthread_mutex_unlock(&db->wmu);
	return defer ? 0 : droplist_finish(db->dirfd, id);
}

static void run_free(struct merge_run *run)
{
	for (size_t i = 0; i < run->nout; i++) {
		struct output *o = &run->out[i];

		if (o->fd >= 0)
			io_close(o->fd);
		if (!o->published) {
			char name[SEG_NAME_MAX];

			segment_name(name, o->id, "cask.tmp");
			io_unlinkat(run->db->dirfd, name);
			segment_name(name, o->id, "hint.tmp");
			io_unlinkat(run->db->dirfd, name);
		}
		mem_free(o->buf);
		mem_free(o->moved);
		hint_free(&o->hint);
	}
	for (size_t i = 0; i < run->nin; i++)
		segment_put(run->in[i]);
	for (size_t i = 0; i < run->nunhinted; i++)
		segment_put(run->unhinted[i]);
	mem_free(run->unhinted);
	picks_free(&run->picks);
	for (size_t i = 0; i < run->nexp; i++)
		mem_free(run->exp[i].key);
	mem_free(run->exp);
	mem_free(run->in);
	mem_free(run->out);
}

static uint64_t out_bytes(const struct merge_run *run)
{
	uint64_t n = 0;

	for (size_t i = 0; i < run->nout; i++)
		n += run->out[i].size;
	return n;
}

static int merge_run(struct merge_run *run)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < run->nin; i++)
		rc = copy_segment(run, i);
	if (!rc)
		rc = emit_picks(run);
	for (size_t i = 0; !rc && i < run->nout; i++)
		rc = publish(run, &run->out[i]);
	for (size_t i = 0; !rc && i < run->nout; i++)
		swap(run, &run->out[i]);
	if (!rc) {
		forget_expired(run);
		/* What made the dropped records dead (newer puts, deletes)
		 * may not be durable yet: it must be before they go. */
		rc = sync_all(run->db);
	}
	if (!rc)
		rc = drop_inputs(run);
	return rc;
}

/* Give every sealed segment that lacks one a hint file, so the next open
 * reads no data. A segment that fails (damaged) just keeps no hint. */
static void write_hints(struct merge_run *run)
{
	struct cask_db *db = run->db;

	for (size_t i = 0; i < run->nunhinted; i++) {
		struct segment *s = run->unhinted[i];
		int rc;

		if (atomic_load(&db->merge->stop))
			return;
		rc = hint_write_sealed(db->dirfd, s);
		if (rc) {
			char name[SEG_NAME_MAX];

			segment_name(name, s->id, "hint");
			db_log(db, "%s/%s not written: %s", db->dir, name,
			       cask_strerror(rc));
			continue;
		}
		pthread_mutex_lock(&db->wmu);
		pthread_rwlock_wrlock(&db->rw);
		s->has_hint = true;
		pthread_rwlock_unlock(&db->rw);
		pthread_mutex_unlock(&db->wmu);
	}
}

/* Write the hints the background thread had not written yet, here and
 * now (at close, with the thread gone). */
static void write_missing_hints(struct cask_db *db)
{
	struct merge_run run = {.db = db, .now = db_now_ms()};
	int rc;

	atomic_store(&db->merge->stop, false);
	pthread_mutex_lock(&db->wmu);
	rc = pick(&run, false, false);
	pthread_mutex_unlock(&db->wmu);
	if (!rc)
		write_hints(&run);
	run_free(&run);
}

static uint64_t reclaimed(const struct merge_run *run)
{
	uint64_t out = out_bytes(run);

	return run->in_bytes > out ? run->in_bytes - out : 0;
}

/* Ids a stepwise merge does not take again: its own outputs (and newer
 * segments) and the inputs it has tried. */
struct stepwise {
	uint32_t first_new;
	uint32_t *tried;
	size_t ntried;
};

static bool skipped(const struct stepwise *sw, uint32_t id)
{
	if (id >= sw->first_new)
		return true;
	for (size_t i = 0; i < sw->ntried; i++)
		if (sw->tried[i] == id)
			return true;
	return false;
}

/*
 * The sealed segment with the largest share of garbage that the merge's
 * options would take and @p sw does not skip, with a reference, or NULL.
 * Caller holds wmu.
 */
static struct segment *most_garbage(struct cask_db *db,
				    const struct stepwise *sw, uint64_t now)
{
	struct segment *best = NULL;
	double best_ratio = 0;
	struct seq_floor f;

	merge_seq_floor(db, &f);
	for (size_t i = 0; i < db->segs.n; i++) {
		struct segment *s = db->segs.v[i];
		uint64_t all = s->live_bytes + s->dead_bytes;
		double ratio;

		if (s == db->active || !all || skipped(sw, s->id) ||
		    !worth_merging(db, s, db->merge->opts.all, now, &f))
			continue;
		ratio = (double)merge_garbage(s, now, &f) / (double)all;
		if (ratio > best_ratio) {
			best = s;
			best_ratio = ratio;
		}
	}
	if (best)
		segment_get(best);
	return best;
}

/* Merge @p in alone. @param[out] freed grows by the bytes reclaimed. */
static int merge_one(struct cask_db *db, struct segment *in, uint64_t now,
		     uint64_t *freed)
{
	struct merge_run step = {.db = db, .now = now, .short_of_space = true};
	int rc;

	step.in = mem_alloc(sizeof(*step.in));
	if (!step.in) {
		segment_put(in);
		return -ENOMEM;
	}
	step.in[0] = in;
	step.nin = 1;
	step.in_bytes = atomic_load(&in->size);
	rc = merge_run(&step);
	if (!rc)
		*freed += reclaimed(&step);
	run_free(&step);
	return rc;
}

/*
 * Merge on a full disk, after @p failed met ENOSPC: its outputs are
 * removed, the space reserve and the inputs kept for merge_keep_ms (not
 * those of a backup window) are given up, then one input is merged at a
 * time, the one with the most garbage first, so that the space each one
 * frees pays for the live records of the next. An input that does not fit
 * is left for later. @param[out] freed bytes reclaimed.
 * @return 0 if any input was merged, else the last error.
 */
static int merge_stepwise(struct merge_run *failed, uint64_t *freed)
{
	struct cask_db *db = failed->db;
	struct stepwise sw = {0};
	uint64_t now = failed->now;
	uint32_t *ids = NULL;
	bool merged = false;
	size_t n = 0;
	int rc = 0;

	run_free(failed);
	*failed = (struct merge_run){.db = db, .now = now};
	pthread_mutex_lock(&db->wmu);
	reserve_release(db);
	ids = deferred_take(db, true, &n);
	sw.first_new = db->next_id;
	sw.tried = mem_alloc(db->segs.n * sizeof(*sw.tried));
	pthread_mutex_unlock(&db->wmu);
	deferred_finish(db, ids, n);
	if (!sw.tried)
		return -ENOMEM;
	db_log(db, "%s: merge: disk full, merging one segment at a time",
	       db->dir);
	*freed = 0;
	while (!atomic_load(&db->merge->stop)) {
		struct segment *in;

		pthread_mutex_lock(&db->wmu);
		in = most_garbage(db, &sw, now);
		pthread_mutex_unlock(&db->wmu);
		if (!in)
			break;
		sw.tried[sw.ntried++] = in->id;
		rc = merge_one(db, in, now, freed);
		merged = merged || !rc;
		if (rc && rc != -ENOSPC && rc != -EDQUOT && rc != CASK_ECORRUPT)
			break;
	}
	mem_free(sw.tried);
	return merged ? 0 : rc;
}

/*
 * Start @p run over after an input turned out damaged (input_damaged()):
 * its outputs are removed and the inputs picked again, which leaves the
 * damaged one out. @return merge_run()'s code, 0 if no input is left.
 */
static int merge_again(struct merge_run *run)
{
	struct cask_db *db = run->db;
	struct merge_run again = {.db = db,
				  .now = run->now,
				  .short_of_space = run->short_of_space,
				  .paced = run->paced};
	int rc;

	run_free(run);
	*run = again;
	pthread_mutex_lock(&db->wmu);
	rc = pick(run, true, db->merge->opts.all);
	pthread_mutex_unlock(&db->wmu);
	if (rc || !run->nin)
		return rc;
	atomic_store(&db->merge->done, 0);
	atomic_store(&db->merge->total, run->in_bytes);
	return merge_run(run);
}

/* The keydir's slabs stay when keys are deleted (keydir.c): 14 keys held
 * 6.3 MB after a 2 GiB file went. When they mostly hold nothing, rebuild
 * it, if it is small enough that readers and writers wait only a moment
 * (about 10 ms a MiB). */
#define SHRINK_MIN (1u << 20) /* held, at least */
#define SHRINK_MAX (8u << 20) /* in use, at most */

static void shrink_keydir(struct cask_db *db)
{
	size_t mem, unused;

	pthread_mutex_lock(&db->wmu);
	mem = keydir_memory(db->kd);
	unused = keydir_unused(db->kd);
	if (mem >= SHRINK_MIN && unused >= mem / 4 * 3 &&
	    mem - unused <= SHRINK_MAX) {
		pthread_rwlock_wrlock(&db->rw);
		(void)keydir_compact(db->kd); /* -ENOMEM: it stays as it is */
		pthread_rwlock_unlock(&db->rw);
	}
	pthread_mutex_unlock(&db->wmu);
}

static void *merge_main(void *arg)
{
	struct merge_run *run = arg;
	struct cask_db *db = run->db;
	struct merge_state *m = db->merge;
	uint64_t t0 = db_mono_ms(), freed = 0;
	bool merged = run->nin > 0;
	int rc;

	rc = merged ? merge_run(run) : 0;
	/* An input marked damaged: merge the rest, which pick() now leaves
	 * it out of. A CASK_ECORRUPT that marked nothing would pick the
	 * same inputs again and spin: it fails the merge. */
	while (rc == CASK_ECORRUPT && run->marked_damaged)
		rc = merge_again(run);
	if (!rc)
		freed = reclaimed(run);
	if (rc == -ENOSPC || rc == -EDQUOT)
		rc = merge_stepwise(run, &freed);

	if (rc && rc != -ECANCELED)
		db_log(db, "%s: merge failed: %s", db->dir, cask_strerror(rc));
	if (!rc)
		write_hints(run);
	/* Closing the inputs frees their space (unlinked already); it may
	 * then hold the reserve again. */
	run_free(run);
	mem_free(run);
	if (merged) {
		pthread_mutex_lock(&db->wmu);
		reserve_restore(db);
		pthread_mutex_unlock(&db->wmu);
		shrink_keydir(db);
	}
	pthread_mutex_lock(&m->mu);
	m->result = rc;
	if (!rc && merged) {
		m->merges++;
		m->reclaimed += freed;
		m->last_ms = db_mono_ms() - t0;
	}
	/* Progress is the running merge's: none runs now. */
	atomic_store(&m->done, 0);
	atomic_store(&m->total, 0);
	m->running = false;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/*
 * Start the background thread: a merge when @p merge, and hint files for
 * sealed segments that lack them. Caller holds wmu (not m->mu).
 * @return 0; 1 if there was nothing to do; CASK_EBUSY; -errno.
 */
static int start(struct cask_db *db, const struct cask_merge_options *opts,
		 bool merge, bool paced)
{
	struct merge_state *m = db->merge;
	struct merge_run *run;
	int rc;

	/* A backup window copies the directory: no file may appear and
	 * vanish under it (temporary files), nor be removed. A store closing
	 * joins the merge thread once (merge_destroy()): none may start
	 * after, whoever asks (the keeper closing a window, the timer). */
	if (db->backups > 0 || db->closing)
		return 1;
	pthread_mutex_lock(&m->mu);
	if (m->running) {
		pthread_mutex_unlock(&m->mu);
		return CASK_EBUSY;
	}
	if (m->thread_live) /* finished: reap it */
		pthread_join(m->thread, NULL);
	m->thread_live = false;
	run = mem_calloc(1, sizeof(*run));
	rc = run ? 0 : -ENOMEM;
	if (!rc) {
		run->db = db;
		run->now = db_now_ms();
		/* The reserve given up: a disk short of space cannot wait
		 * merge_keep_ms for the inputs' space. */
		run->short_of_space = db->reserve == RESERVE_RELEASED;
		run->paced = paced;
		rc = pick(run, merge, opts && opts->all);
	}
	if (!rc && run->nin == 0 && run->nunhinted == 0)
		rc = 1; /* nothing to do */
	if (!rc) {
		m->opts = opts ? *opts : (struct cask_merge_options){0};
		atomic_store(&m->done, 0);
		atomic_store(&m->total, run->in_bytes);
		atomic_store(&m->stop, false);
		m->running = true;
		m->merging = run->nin > 0;
		rc = -pthread_create(&m->thread, NULL, merge_main, run);
		m->thread_live = rc == 0;
		m->running = rc == 0;
	}
	pthread_mutex_unlock(&m->mu);
	if (rc && run) {
		run_free(run);
		mem_free(run);
	}
	return rc;
}

void merge_start_auto(struct cask_db *db, bool merge)
{
	(void)start(db, NULL, merge, true); /* busy or nothing to do: fine */
}

/* Wait while the background thread only writes hints (it is short);
 * @return true if a merge is running instead. */
static bool wait_hints_only(struct merge_state *m)
{
	bool merging;

	pthread_mutex_lock(&m->mu);
	while (m->running && !m->merging)
		pthread_cond_wait(&m->cv, &m->mu);
	merging = m->running;
	pthread_mutex_unlock(&m->mu);
	return merging;
}

/*
 * A merge asked for during a backup window (no file may go while it is
 * copied): without wait it is noted, to start when the last window closes
 * (backup.c), and the log says why it waits. Caller holds wmu.
 * @return 1 (noted), or CASK_EBUSY with wait.
 */
static int wait_for_window(struct cask_db *db,
			   const struct cask_merge_options *opts)
{
	if (opts && opts->wait)
		return CASK_EBUSY;
	db->merge_waiting_all = db->merge_waiting_all || (opts && opts->all);
	if (!db->merge_waiting)
		db_log(db,
		       "%s: merge waits: %d backup window(s) open, no file "
		       "of the store may go until the last one closes",
		       db->dir, db->backups);
	db->merge_waiting = true;
	return 1;
}

int cask_merge(struct cask_db *db, const struct cask_merge_options *opts)
{
	struct merge_state *m = db->merge;
	bool again;
	int rc;

	if (db->opts.read_only)
		return CASK_EREADONLY;
	do {
		if (wait_hints_only(m))
			return CASK_EBUSY;
		pthread_mutex_lock(&db->wmu);
		rc = db_check_writable(db);
		if (!rc && db->backups > 0)
			rc = wait_for_window(db, opts);
		/* Merging everything includes what the active segment holds. */
		if (!rc && opts && opts->all &&
		    segment_garbage(db->active, db_now_ms())) {
			rc = write_rotate(db);
			/* No room for a new segment: merge what is sealed. */
			if (rc == -ENOSPC || rc == -EDQUOT)
				rc = 0;
		}
		if (!rc)
			rc = start(db, opts, true, false);
		again = rc == CASK_EBUSY && db->backups == 0; /* hints began */
		pthread_mutex_unlock(&db->wmu);
	} while (again);
	if (rc == 1)
		return 0;
	if (rc || !opts || !opts->wait)
		return rc;
	pthread_mutex_lock(&m->mu);
	while (m->running)
		pthread_cond_wait(&m->cv, &m->mu);
	rc = m->result;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

void merge_wait_idle(struct cask_db *db)
{
	struct merge_state *m = db->merge;

	pthread_mutex_lock(&m->mu);
	while (m->running)
		pthread_cond_wait(&m->cv, &m->mu);
	pthread_mutex_unlock(&m->mu);
}
