/*
 * walk.c - the ordered, checked walk over a segment's records (walk.h).
 * Batch records are held back (by offset) until their commit record has
 * been read with the right count; a batch cut short, or interrupted by a
 * plain record, ends the valid part of the segment at its first record.
 */
#include "walk.h"

#include "alloc.h"
#include "codec.h"

#include <errno.h>

struct pending {
	uint64_t *off;
	size_t n, cap;
};

static int pending_add(struct pending *p, uint64_t off)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		uint64_t *v = mem_realloc(p->off, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->off = v;
		p->cap = cap;
	}
	p->off[p->n++] = off;
	return 0;
}

static int emit(const struct segment *seg, uint64_t off, walk_fn fn, void *arg)
{
	struct walk_rec r = {.off = off};

	rec_decode_header(seg->map + off, REC_MAX_HDR_SIZE, &r.h);
	r.key = seg->map + off + rec_header_size(r.h.flags);
	return fn(arg, &r);
}

int segment_walk(const struct segment *seg, uint64_t end, walk_fn fn, void *arg,
		 uint64_t *valid_end)
{
	struct pending p = {0};
	uint64_t off = SEG_HDR_SIZE, size;
	struct rec_header h;
	int rc = 0;

	while (!rc && off < end && (size = segment_record(seg, off, end, &h))) {
		if (h.flags & REC_F_BATCH) {
			rc = pending_add(&p, off);
		} else if (h.type == REC_COMMIT) {
			uint32_t count =
				get_le32(seg->map + off + REC_HDR_SIZE);

			if (count != p.n || count == 0)
				break;
			for (size_t i = 0; !rc && i < p.n; i++)
				rc = emit(seg, p.off[i], fn, arg);
			p.n = 0;
			if (!rc)
				rc = emit(seg, off, fn, arg);
		} else if (p.n) {
			break; /* a batch cut short by a plain record */
		} else {
			rc = emit(seg, off, fn, arg);
		}
		off += size;
	}
	*valid_end = p.n ? p.off[0] : off;
	mem_free(p.off);
	return rc;
}
