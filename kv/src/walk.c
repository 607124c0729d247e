/*
 * walk.c - the ordered, checked walk over a segment's records (walk.h).
 * Batch records are held back (by offset) until their commit record has
 * been read with the right count.
 *
 * Below the caller's durable bound (docs/FORMAT.md section 7) a bad record
 * or broken batch framing is damage: it is passed to the damage callback
 * and the walk resumes at the next valid record. A batch that damage cut
 * into was committed (bytes below the bound were all written and synced,
 * and a batch is one write), so its surviving records are passed on: at
 * its commit, at the next plain record, or at the end. At or past the
 * bound the walk stops instead, at the bad record or at the first record
 * of a batch with no commit, as a torn write leaves them.
 *
 * Where that bound lies in the active segment past its clean-close mark
 * is also decided here (walk_durable_end()): by the synced records the
 * writer put in the log, and, when no power loss came since the last
 * writable open, by the page cache having kept every byte written.
 */
#include "walk.h"

#include "alloc.h"
#include "codec.h"

#include <errno.h>

struct walk {
	const struct segment *seg;
	uint64_t end, durable;
	walk_fn fn;
	walk_damage_fn damage;
	void *arg;
	uint64_t *pend; /* offsets of the batch records waiting for a commit */
	size_t n, cap;
	bool front_lost; /* damage since the last commit or plain record: the
			  * first records of the next batch may be in it */
	bool tail_lost;	 /* damage after the first pending record: the rest
			  * of its batch and its commit may be in it */
};

static int emit(const struct walk *w, uint64_t off)
{
	struct walk_rec r = {.off = off};

	rec_decode_header(w->seg->map + off, REC_MAX_HDR_SIZE, &r.h);
	r.key = w->seg->map + off + rec_header_size(r.h.flags);
	return w->fn(w->arg, &r);
}

/* The pending records of a batch damage cut into, and its commit at
 * @p commit if it has one (else 0). */
static int emit_pending(struct walk *w, uint64_t commit)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < w->n; i++)
		rc = emit(w, w->pend[i]);
	if (!rc && commit)
		rc = emit(w, commit);
	w->n = 0;
	w->front_lost = w->tail_lost = false;
	return rc;
}

/* Broken batch framing over [from, to) that no damage explains: the
 * records there are not applied. */
static int framing(struct walk *w, uint64_t from, uint64_t to)
{
	w->n = 0;
	w->front_lost = w->tail_lost = false;
	return w->damage(w->arg, from, to, true);
}

/* The record at @p off is valid; @return 0 or an error. *@p stop is set
 * when the walk must end before it (at or past the durable bound). */
static int step(struct walk *w, uint64_t off, uint64_t size,
		const struct rec_header *h, bool *stop)
{
	uint64_t first = w->n ? w->pend[0] : off;
	bool lost = w->front_lost || w->tail_lost;
	int rc = 0;

	if (h->flags & REC_F_BATCH) {
		if (mem_grow((void **)&w->pend, &w->cap, w->n, sizeof(*w->pend),
			     64))
			return -ENOMEM;
		w->pend[w->n++] = off;
		return 0;
	}
	if (h->type == REC_COMMIT) {
		uint32_t count = get_le32(w->seg->map + off + REC_HDR_SIZE);

		if (lost || (count == w->n && count != 0))
			return emit_pending(w, off);
		if ((*stop = first >= w->durable))
			return 0;
		return framing(w, first, off + size);
	}
	if (w->n && !w->tail_lost) { /* a batch cut short by a plain record */
		if ((*stop = first >= w->durable))
			return 0;
		rc = framing(w, first, off);
	} else if (w->n) {
		rc = emit_pending(w, 0);
	}
	w->front_lost = false;
	return rc ? rc : emit(w, off);
}

int segment_scan(const struct segment *seg, uint64_t end, uint64_t durable,
		 walk_fn fn, walk_damage_fn damage, void *arg,
		 uint64_t *valid_end)
{
	struct walk w = {.seg = seg,
			 .end = end,
			 .durable = durable,
			 .fn = fn,
			 .damage = damage,
			 .arg = arg};
	uint64_t off = SEG_HDR_SIZE, size, next;
	struct rec_header h;
	bool stop = false;
	int rc = 0;

	while (!rc && !stop && off < end) {
		size = segment_record(seg, off, end, &h);
		if (size) {
			rc = step(&w, off, size, &h, &stop);
			if (!stop)
				off += size;
			continue;
		}
		if ((stop = (w.n ? w.pend[0] : off) >= durable))
			break;
		next = rec_resync(seg->map, off, end);
		rc = damage(arg, off, next, false);
		if (w.n)
			w.tail_lost = true;
		else
			w.front_lost = true;
		off = next;
	}
	if (!rc && !stop && w.n) {
		if (w.tail_lost)
			rc = emit_pending(&w, 0);
		else if (w.pend[0] < durable)
			rc = framing(&w, w.pend[0], end);
		else
			off = w.pend[0];
	}
	if (stop && w.n)
		off = w.pend[0];
	*valid_end = off;
	mem_free(w.pend);
	return rc;
}

uint64_t walk_past_batch(const uint8_t *map, uint64_t from, uint64_t end)
{
	struct rec_header h;
	uint64_t size, o;

	for (o = from; o < end; o += size) {
		size = rec_valid(map + o, end - o, &h);
		if (!size || !(h.flags & REC_F_BATCH))
			break;
	}
	return o;
}

bool walk_torn_append(const uint8_t *map, uint64_t from, uint64_t end)
{
	uint64_t o = walk_past_batch(map, from, end);
	struct rec_header h;
	int rc = rec_decode_header(map + o, end - o, &h);

	if (rc == -EAGAIN || (!rc && o + rec_size(&h) > end))
		return true;
	for (; o < end; o++)
		if (map[o])
			return false;
	return true;
}

uint64_t walk_durable_end(const uint8_t *map, uint64_t end, uint32_t id,
			  uint64_t known, bool same_boot)
{
	uint64_t off = SEG_HDR_SIZE, batch = 0, torn = end, size, claim;
	struct rec_header h;

	while (off < end) {
		size = rec_valid(map + off, end - off, &h);
		if (size) {
			claim = h.type == REC_SYNCED
					? rec_synced_off(&h, map + off, id)
					: 0;
			if (claim <= off && claim > known)
				known = claim;
			if (!(h.flags & REC_F_BATCH))
				batch = 0;
			else if (!batch)
				batch = off;
			off += size;
			continue;
		}
		size = rec_resync(map, off, end) - off;
		if (off + size == end && walk_torn_append(map, off, end)) {
			torn = batch ? batch : off;
			break;
		}
		batch = 0; /* damage cut into it: it was committed */
		off += size;
	}
	if (off >= end && batch)
		torn = batch; /* a batch with no commit ends the file */
	return same_boot && torn > known ? torn : known;
}

static int no_damage(void *arg, uint64_t off, uint64_t end, bool framing)
{
	(void)arg;
	(void)off;
	(void)end;
	(void)framing;
	return 0; /* never called: the durable bound is 0 */
}

int segment_walk(const struct segment *seg, uint64_t end, walk_fn fn, void *arg,
		 uint64_t *valid_end)
{
	return segment_scan(seg, end, 0, fn, no_damage, arg, valid_end);
}
