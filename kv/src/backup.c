/*
 * backup.c - backup windows (cask_backup_begin/end): while one is open no
 * file of the store is removed, renamed or rewritten, so that a copy of the
 * directory made inside it (cp -a, rsync -a) opens cleanly.
 *
 * A window is a count, db->backups under wmu. While it is not zero the
 * merge thread starts no job (merge.c), and the inputs of merges that
 * finished are kept (deferred.c) until the last window closes. Begin waits
 * for a job that is running already to end.
 */
#include "db.h"

#include "deferred.h"
#include "merge.h"

int cask_backup_begin(struct cask_db *db)
{
	if (db->opts.read_only)
		return CASK_EREADONLY;
	pthread_mutex_lock(&db->wmu);
	db->backups++;
	pthread_mutex_unlock(&db->wmu);
	/* No new job starts now; let a running one finish before the copy. */
	merge_wait_idle(db);
	return 0;
}

int cask_backup_end(struct cask_db *db)
{
	uint32_t *ids = NULL;
	size_t n = 0;

	if (db->opts.read_only)
		return CASK_EREADONLY;
	pthread_mutex_lock(&db->wmu);
	if (db->backups == 0) {
		pthread_mutex_unlock(&db->wmu);
		return CASK_EINVAL;
	}
	if (--db->backups == 0)
		ids = deferred_take(db, false, &n);
	pthread_mutex_unlock(&db->wmu);
	deferred_finish(db, ids, n);
	return 0;
}
