/*
 * damage.c - what a handle knows of damaged records: the keys whose newest
 * version open found in a damaged range (recover.c hands them over;
 * cask_damaged_keys() lists them), and which damaged records the log has
 * named already, so that each is named once per handle, at open or at the
 * first read that meets it, and not again at every read of it (a reader
 * that retries, a file read chunk by chunk).
 *
 * Locks: the list of keys is written by recovery, before the handle is
 * shared, and only read after (no lock). The set of named records has its
 * own mutex, damage.mu, taken under rw (shared) by readers and never held
 * across I/O or a callback.
 */
#include "db.h"

#include "alloc.h"

#include <errno.h>
#include <string.h>

void damage_init(struct cask_db *db)
{
	pthread_mutex_init(&db->damage.mu, NULL);
}

void damage_free(struct cask_db *db)
{
	struct damage *d = &db->damage;

	for (size_t i = 0; i < d->nkeys; i++)
		mem_free(d->keys[i].key);
	mem_free(d->keys);
	mem_free(d->named);
	pthread_mutex_destroy(&d->mu);
}

int damage_add_key(struct cask_db *db, uint8_t *key, uint16_t klen,
		   uint32_t seg, uint32_t off, bool uncertain)
{
	struct damage *d = &db->damage;

	if (mem_grow((void **)&d->keys, &d->cap, d->nkeys, sizeof(*d->keys),
		     16))
		return -ENOMEM;
	d->keys[d->nkeys++] =
		(struct damage_key){key, klen, seg, off, uncertain};
	return 0;
}

bool damage_first_naming(struct cask_db *db, uint32_t seg, uint32_t off)
{
	struct damage *d = &db->damage;
	uint64_t pos = log_pos(seg, off);
	size_t lo = 0, hi;
	bool first;

	pthread_mutex_lock(&d->mu);
	for (hi = d->nnamed; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->named[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo == d->nnamed || d->named[lo] != pos;
	/* Out of memory it is named again later rather than never. */
	if (first && !mem_grow((void **)&d->named, &d->ncap, d->nnamed,
			       sizeof(*d->named), 16)) {
		memmove(d->named + lo + 1, d->named + lo,
			(d->nnamed - lo) * sizeof(*d->named));
		d->named[lo] = pos;
		d->nnamed++;
	}
	pthread_mutex_unlock(&d->mu);
	return first;
}

int cask_damaged_keys(struct cask_db *db,
		      int (*fn)(void *arg, const struct cask_damaged_key *dk),
		      void *arg)
{
	const struct damage *d = &db->damage;
	int rc = 0;

	for (size_t i = 0; !rc && i < d->nkeys; i++) {
		const struct damage_key *k = &d->keys[i];
		struct cask_damaged_key dk = {
			.key = k->key,
			.klen = k->klen,
			.loc.offset = k->off,
			.uncertain = k->uncertain,
		};

		_Static_assert(sizeof(dk.loc.file) >= SEG_NAME_MAX, "name");
		segment_name(dk.loc.file, k->seg, "cask");
		rc = fn(arg, &dk);
	}
	return rc;
}
