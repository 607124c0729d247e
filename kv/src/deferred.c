/*
 * deferred.c - deferred drops (deferred.h): the drop lists of finished
 * merges whose inputs stay on disk for a backup window or merge_keep_ms.
 *
 * Merge adds one instead of finishing it (drop_inputs in merge.c); the
 * next job of the merge thread, the end of the last backup window, a merge
 * short of space and close take the ones that are due and finish them
 * without holding wmu. The list is guarded by wmu.
 */
#include "deferred.h"

#include "alloc.h"
#include "db.h"
#include "droplist.h"

bool deferred_add(struct cask_db *db, uint32_t id, bool short_of_space)
{
	struct deferred_drops *d = &db->deferred;
	struct deferred_drop *v;

	if (db->backups == 0 && (db->opts.merge_keep_ms == 0 || short_of_space))
		return false;
	v = mem_realloc(d->v, (d->n + 1) * sizeof(*v));
	if (v) {
		v[d->n++] = (struct deferred_drop){
			id, db_mono_ms() + db->opts.merge_keep_ms};
		d->v = v;
	}
	return true;
}

/* Take the drop lists due at @p now (all of them at UINT64_MAX). */
static uint32_t *take(struct deferred_drops *d, uint64_t now, size_t *n)
{
	uint32_t *ids;
	size_t keep = 0;

	*n = 0;
	if (!d->n)
		return NULL;
	ids = mem_alloc(d->n * sizeof(*ids));
	if (!ids)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].due_ms <= now)
			ids[(*n)++] = d->v[i].id;
		else
			d->v[keep++] = d->v[i];
	}
	d->n = keep;
	return ids;
}

uint32_t *deferred_take(struct cask_db *db, bool all, size_t *n)
{
	*n = 0;
	if (db->backups > 0)
		return NULL;
	return take(&db->deferred, all ? UINT64_MAX : db_mono_ms(), n);
}

void deferred_finish(struct cask_db *db, uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		droplist_finish(db->dirfd, ids[i]);
	mem_free(ids);
}

void deferred_close(struct cask_db *db)
{
	size_t n;
	uint32_t *ids = take(&db->deferred, UINT64_MAX, &n);

	deferred_finish(db, ids, n);
	mem_free(db->deferred.v);
	db->deferred = (struct deferred_drops){0};
}
