/*
 * kv_engines.c - the adapters behind struct kv_engine (see kv_engines.h).
 *
 * Fairness rules applied to every engine, and how each one maps them:
 *
 *  - No compression. LevelDB and RocksDB: compression off; the others never
 *    compress.
 *  - "OS decides" (cfg->sync false): libcask CASK_SYNC_NEVER; LMDB
 *    MDB_NOSYNC | MDB_NOMETASYNC (commits write their pages but never
 *    fdatasync); LevelDB and RocksDB WriteOptions.sync = false (the WAL is
 *    written on every put, never synced); Kyoto Cabinet without
 *    KCOAUTOSYNC.
 *  - "Every write durable" (cfg->sync true): libcask CASK_SYNC_ALWAYS
 *    (group commit); LMDB default flags (every commit fdatasyncs data and
 *    meta page); LevelDB and RocksDB WriteOptions.sync = true (their writer
 *    queue groups concurrent writers under one WAL sync); Kyoto Cabinet
 *    KCOAUTOSYNC (every update ends with a hard fsync of the file).
 *  - Caches: LevelDB and RocksDB get an LRU block cache of cfg->cache_bytes
 *    and a 10-bit-per-key Bloom filter (their recommended set-up for point
 *    reads; without it readmissing would go to disk). Their other options
 *    (write buffer, background jobs) stay at the library defaults. LMDB,
 *    Kyoto Cabinet and libcask read through the OS page cache (LMDB and
 *    Kyoto by mmap) and have no block cache to size.
 *  - Kyoto Cabinet is its file hash database (.kch) tuned with
 *    bnum = 2 x keys and msiz = 64 MiB (its default map size): the fastest
 *    of its engines for point operations, but unordered, so its readseq is
 *    a walk in file order, not in key order.
 *  - Reads copy the value into the caller's buffer for every engine (that
 *    is what cask_get does). LevelDB's C API can only return a malloc()ed
 *    copy, which is copied again and freed; RocksDB uses a pinned get.
 *  - Checksums on reads: libcask verifies the CRC of every value it
 *    serves (always), RocksDB verifies block checksums by default,
 *    LevelDB does not by default; LMDB and Kyoto keep no checksums. All
 *    stay at their defaults.
 *  - One operation per call: LMDB commits one write transaction per put
 *    or delete and runs every get in its own (reset/renewed) read
 *    transaction; nothing is batched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, realpath */
#endif
#include "kv_engines.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cask.h>
#include <kclangc.h>
#include <leveldb/c.h>
#include <lmdb.h>
#include <rocksdb/c.h>

/* ---- libcask ---------------------------------------------------------- */

static const char *cask_version(void)
{
	return "libcask " CASK_VERSION_STRING;
}

static int cask_fail(const char *what, int err)
{
	fprintf(stderr, "cask: %s: %s\n", what, cask_strerror(err));
	return -1;
}

static int cask_e_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct cask_options opts;
	struct cask_db *db;
	int err;

	/* Defaults for everything (segment size, merge thresholds) except
	 * the sync mode. */
	cask_options_init(&opts);
	opts.sync_mode = cfg->sync ? CASK_SYNC_ALWAYS : CASK_SYNC_NEVER;
	err = cask_open(dir, &opts, &db);
	if (err)
		return cask_fail("open", err);
	*out = db;
	return 0;
}

static void cask_e_close(void *db)
{
	int err = cask_close(db);

	if (err)
		cask_fail("close", err);
}

static int cask_e_put(void *db, const void *key, size_t klen, const void *val,
		      size_t vlen)
{
	int err = cask_put(db, key, klen, val, vlen);

	return err ? cask_fail("put", err) : 0;
}

static int cask_e_get(void *db, void *tctx, const void *key, size_t klen,
		      void *buf, size_t bufsize, size_t *vlen)
{
	int err = cask_get(db, key, klen, buf, bufsize, vlen);

	(void)tctx;
	if (err == CASK_ENOTFOUND)
		return KV_NOTFOUND;
	return err ? cask_fail("get", err) : 0;
}

static int cask_e_del(void *db, const void *key, size_t klen)
{
	int err = cask_delete(db, key, klen);

	return err ? cask_fail("delete", err) : 0;
}

static int cask_e_iterate(void *db, kv_visit_fn fn, void *arg, size_t *count)
{
	struct cask_iter *it;
	const void *key, *val;
	size_t klen, vlen, n = 0;
	int err;

	err = cask_iter_new(db, NULL, &it);
	if (err)
		return cask_fail("iter_new", err);
	for (; cask_iter_valid(it); cask_iter_next(it)) {
		key = cask_iter_key(it, &klen);
		err = cask_iter_value(it, &val, &vlen);
		if (err == CASK_ENOTFOUND)
			continue;
		if (err)
			break;
		fn(arg, key, klen, val, vlen);
		n++;
	}
	cask_iter_free(it);
	*count = n;
	return err && err != CASK_ENOTFOUND ? cask_fail("iterate", err) : 0;
}

static int cask_e_sync(void *db)
{
	int err = cask_sync(db);

	return err ? cask_fail("sync", err) : 0;
}

static int no_thread_init(void *db, void **tctx)
{
	(void)db;
	*tctx = NULL;
	return 0;
}

static void no_thread_fini(void *db, void *tctx)
{
	(void)db;
	(void)tctx;
}

const struct kv_engine kv_engine_cask = {
	.name = "cask",
	.version = cask_version,
	.open = cask_e_open,
	.close = cask_e_close,
	.put = cask_e_put,
	.get = cask_e_get,
	.del = cask_e_del,
	.iterate = cask_e_iterate,
	.sync = cask_e_sync,
	.thread_init = no_thread_init,
	.thread_fini = no_thread_fini,
};

/* ---- LMDB ------------------------------------------------------------- */

struct lmdb_db {
	MDB_env *env;
	MDB_dbi dbi;
};

static const char *lmdb_version(void)
{
	static char buf[32];
	int major, minor, patch;

	mdb_version(&major, &minor, &patch);
	snprintf(buf, sizeof(buf), "LMDB %d.%d.%d", major, minor, patch);
	return buf;
}

static int lmdb_fail(const char *what, int rc)
{
	fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
	return -1;
}

static int lmdb_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct lmdb_db *d = calloc(1, sizeof(*d));
	unsigned flags = MDB_NOTLS;
	size_t mapsize;
	MDB_txn *txn;
	int rc;

	if (!d)
		return -1;
	/*
	 * Address space only: the file grows as pages are used. Values of
	 * 4 KiB take two overflow pages each and copy-on-write needs room for
	 * freed pages, hence the generous factor.
	 */
	mapsize = ((size_t)1 << 30) + 8 * cfg->num * (cfg->value_size + 64);
	/* MDB_NOTLS: a read transaction belongs to its kv thread context,
	 * not to the OS thread, so one thread may also run iterate(). */
	if (!cfg->sync)
		flags |= MDB_NOSYNC | MDB_NOMETASYNC;
	if (cfg->lmdb_writemap)
		flags |= MDB_WRITEMAP;
	rc = mdb_env_create(&d->env);
	if (rc)
		goto fail;
	rc = mdb_env_set_mapsize(d->env, mapsize);
	if (rc)
		goto fail_env;
	rc = mdb_env_set_maxreaders(d->env, 64);
	if (rc)
		goto fail_env;
	rc = mdb_env_open(d->env, dir, flags, 0644);
	if (rc)
		goto fail_env;
	rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc)
		goto fail_env;
	rc = mdb_dbi_open(txn, NULL, 0, &d->dbi);
	if (rc) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto fail_env;
	*out = d;
	return 0;
fail_env:
	mdb_env_close(d->env);
fail:
	free(d);
	return lmdb_fail("open", rc);
}

static void lmdb_close(void *db)
{
	struct lmdb_db *d = db;

	if (!d)
		return;
	mdb_env_close(d->env);
	free(d);
}

static int lmdb_put(void *db, const void *key, size_t klen, const void *val,
		    size_t vlen)
{
	struct lmdb_db *d = db;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc)
		return lmdb_fail("txn_begin", rc);
	rc = mdb_put(txn, d->dbi, &k, &v, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_fail("put", rc);
	}
	rc = mdb_txn_commit(txn);
	return rc ? lmdb_fail("commit", rc) : 0;
}

static int lmdb_thread_init(void *db, void **tctx)
{
	struct lmdb_db *d = db;
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_fail("txn_begin", rc);
	mdb_txn_reset(txn);
	*tctx = txn;
	return 0;
}

static void lmdb_thread_fini(void *db, void *tctx)
{
	(void)db;
	if (tctx)
		mdb_txn_abort(tctx);
}

static int lmdb_get(void *db, void *tctx, const void *key, size_t klen,
		    void *buf, size_t bufsize, size_t *vlen)
{
	struct lmdb_db *d = db;
	MDB_txn *txn = tctx;
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	/* A fresh snapshot per get, as every other engine gives. */
	rc = mdb_txn_renew(txn);
	if (rc)
		return lmdb_fail("txn_renew", rc);
	rc = mdb_get(txn, d->dbi, &k, &v);
	if (rc == 0) {
		memcpy(buf, v.mv_data,
		       v.mv_size < bufsize ? v.mv_size : bufsize);
		*vlen = v.mv_size;
	}
	mdb_txn_reset(txn);
	if (rc == MDB_NOTFOUND)
		return KV_NOTFOUND;
	return rc ? lmdb_fail("get", rc) : 0;
}

static int lmdb_del(void *db, const void *key, size_t klen)
{
	struct lmdb_db *d = db;
	MDB_val k = {klen, (void *)key};
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc)
		return lmdb_fail("txn_begin", rc);
	rc = mdb_del(txn, d->dbi, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return lmdb_fail("del", rc);
	}
	rc = mdb_txn_commit(txn);
	return rc ? lmdb_fail("commit", rc) : 0;
}

static int lmdb_iterate(void *db, kv_visit_fn fn, void *arg, size_t *count)
{
	struct lmdb_db *d = db;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	size_t n = 0;
	int rc;

	rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_fail("txn_begin", rc);
	rc = mdb_cursor_open(txn, d->dbi, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_fail("cursor_open", rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*count = n;
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail("cursor_get", rc);
}

static int lmdb_sync(void *db)
{
	struct lmdb_db *d = db;
	int rc = mdb_env_sync(d->env, 1);

	return rc ? lmdb_fail("sync", rc) : 0;
}

const struct kv_engine kv_engine_lmdb = {
	.name = "lmdb",
	.version = lmdb_version,
	.open = lmdb_open,
	.close = lmdb_close,
	.put = lmdb_put,
	.get = lmdb_get,
	.del = lmdb_del,
	.iterate = lmdb_iterate,
	.sync = lmdb_sync,
	.thread_init = lmdb_thread_init,
	.thread_fini = lmdb_thread_fini,
};

/* ---- LevelDB ---------------------------------------------------------- */

struct ldb_db {
	leveldb_t *db;
	leveldb_options_t *opts;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *filter;
	leveldb_writeoptions_t *wopts;
	leveldb_writeoptions_t *sync_wopts;
	leveldb_readoptions_t *ropts;
};

static const char *ldb_version(void)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "LevelDB %d.%d", leveldb_major_version(),
		 leveldb_minor_version());
	return buf;
}

static int ldb_fail(const char *what, char *err)
{
	fprintf(stderr, "leveldb: %s: %s\n", what, err);
	leveldb_free(err);
	return -1;
}

static void ldb_close(void *db)
{
	struct ldb_db *d = db;

	if (!d)
		return;
	if (d->db)
		leveldb_close(d->db);
	leveldb_options_destroy(d->opts);
	leveldb_cache_destroy(d->cache);
	leveldb_filterpolicy_destroy(d->filter);
	leveldb_writeoptions_destroy(d->wopts);
	leveldb_writeoptions_destroy(d->sync_wopts);
	leveldb_readoptions_destroy(d->ropts);
	free(d);
}

static int ldb_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct ldb_db *d = calloc(1, sizeof(*d));
	char *err = NULL;

	if (!d)
		return -1;
	d->opts = leveldb_options_create();
	d->cache = leveldb_cache_create_lru(cfg->cache_bytes);
	d->filter = leveldb_filterpolicy_create_bloom(10);
	d->wopts = leveldb_writeoptions_create();
	d->sync_wopts = leveldb_writeoptions_create();
	d->ropts = leveldb_readoptions_create();
	leveldb_options_set_create_if_missing(d->opts, 1);
	leveldb_options_set_compression(d->opts, leveldb_no_compression);
	leveldb_options_set_cache(d->opts, d->cache);
	leveldb_options_set_filter_policy(d->opts, d->filter);
	leveldb_writeoptions_set_sync(d->wopts, cfg->sync);
	leveldb_writeoptions_set_sync(d->sync_wopts, 1);
	d->db = leveldb_open(d->opts, dir, &err);
	if (err) {
		ldb_close(d);
		return ldb_fail("open", err);
	}
	*out = d;
	return 0;
}

static int ldb_put(void *db, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	struct ldb_db *d = db;
	char *err = NULL;

	leveldb_put(d->db, d->wopts, key, klen, val, vlen, &err);
	return err ? ldb_fail("put", err) : 0;
}

static int ldb_get(void *db, void *tctx, const void *key, size_t klen,
		   void *buf, size_t bufsize, size_t *vlen)
{
	struct ldb_db *d = db;
	char *err = NULL, *v;
	size_t len;

	(void)tctx;
	v = leveldb_get(d->db, d->ropts, key, klen, &len, &err);
	if (err)
		return ldb_fail("get", err);
	if (!v)
		return KV_NOTFOUND;
	memcpy(buf, v, len < bufsize ? len : bufsize);
	*vlen = len;
	leveldb_free(v);
	return 0;
}

static int ldb_del(void *db, const void *key, size_t klen)
{
	struct ldb_db *d = db;
	char *err = NULL;

	leveldb_delete(d->db, d->wopts, key, klen, &err);
	return err ? ldb_fail("delete", err) : 0;
}

static int ldb_iterate(void *db, kv_visit_fn fn, void *arg, size_t *count)
{
	struct ldb_db *d = db;
	leveldb_iterator_t *it = leveldb_create_iterator(d->db, d->ropts);
	const char *k, *v;
	size_t klen, vlen, n = 0;
	char *err = NULL;

	for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it);
	     leveldb_iter_next(it)) {
		k = leveldb_iter_key(it, &klen);
		v = leveldb_iter_value(it, &vlen);
		fn(arg, k, klen, v, vlen);
		n++;
	}
	leveldb_iter_get_error(it, &err);
	leveldb_iter_destroy(it);
	*count = n;
	return err ? ldb_fail("iterate", err) : 0;
}

static int ldb_sync(void *db)
{
	struct ldb_db *d = db;
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	char *err = NULL;

	/* The C API has no sync call; an empty synchronous write syncs the
	 * log, which holds everything not yet in a table. */
	leveldb_write(d->db, d->sync_wopts, b, &err);
	leveldb_writebatch_destroy(b);
	return err ? ldb_fail("sync", err) : 0;
}

const struct kv_engine kv_engine_leveldb = {
	.name = "leveldb",
	.version = ldb_version,
	.open = ldb_open,
	.close = ldb_close,
	.put = ldb_put,
	.get = ldb_get,
	.del = ldb_del,
	.iterate = ldb_iterate,
	.sync = ldb_sync,
	.thread_init = no_thread_init,
	.thread_fini = no_thread_fini,
};

/* ---- RocksDB ---------------------------------------------------------- */

struct rdb_db {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *topts;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
};

static const char *rdb_version(void)
{
	static char buf[64] = "RocksDB";
	char path[PATH_MAX];
	const char *so;
	Dl_info info;

	/* The C API has no version call; the shared object's file name
	 * (librocksdb.so.X.Y.Z) carries it. */
	if (dladdr((void *)rocksdb_open, &info) && info.dli_fname &&
	    realpath(info.dli_fname, path) && (so = strstr(path, ".so.")))
		snprintf(buf, sizeof(buf), "RocksDB %s", so + 4);
	return buf;
}

static int rdb_fail(const char *what, char *err)
{
	fprintf(stderr, "rocksdb: %s: %s\n", what, err);
	rocksdb_free(err);
	return -1;
}

static void rdb_close(void *db)
{
	struct rdb_db *d = db;

	if (!d)
		return;
	if (d->db)
		rocksdb_close(d->db);
	rocksdb_options_destroy(d->opts);
	rocksdb_block_based_options_destroy(d->topts);
	rocksdb_cache_destroy(d->cache);
	rocksdb_writeoptions_destroy(d->wopts);
	rocksdb_readoptions_destroy(d->ropts);
	free(d);
}

static int rdb_open(const char *dir, const struct kv_config *cfg, void **out)
{
	struct rdb_db *d = calloc(1, sizeof(*d));
	char *err = NULL;

	if (!d)
		return -1;
	d->opts = rocksdb_options_create();
	d->topts = rocksdb_block_based_options_create();
	d->cache = rocksdb_cache_create_lru(cfg->cache_bytes);
	d->wopts = rocksdb_writeoptions_create();
	d->ropts = rocksdb_readoptions_create();
	rocksdb_block_based_options_set_block_cache(d->topts, d->cache);
	/* The table options take ownership of the filter policy. */
	rocksdb_block_based_options_set_filter_policy(
		d->topts, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_options_set_block_based_table_factory(d->opts, d->topts);
	rocksdb_options_set_create_if_missing(d->opts, 1);
	rocksdb_options_set_compression(d->opts, rocksdb_no_compression);
	rocksdb_options_set_bottommost_compression(d->opts,
						   rocksdb_no_compression);
	rocksdb_writeoptions_set_sync(d->wopts, cfg->sync);
	d->db = rocksdb_open(d->opts, dir, &err);
	if (err) {
		rdb_close(d);
		return rdb_fail("open", err);
	}
	*out = d;
	return 0;
}

static int rdb_put(void *db, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	struct rdb_db *d = db;
	char *err = NULL;

	rocksdb_put(d->db, d->wopts, key, klen, val, vlen, &err);
	return err ? rdb_fail("put", err) : 0;
}

static int rdb_get(void *db, void *tctx, const void *key, size_t klen,
		   void *buf, size_t bufsize, size_t *vlen)
{
	struct rdb_db *d = db;
	rocksdb_pinnableslice_t *p;
	char *err = NULL;
	const char *v;
	size_t len;

	(void)tctx;
	p = rocksdb_get_pinned(d->db, d->ropts, key, klen, &err);
	if (err)
		return rdb_fail("get", err);
	if (!p)
		return KV_NOTFOUND;
	v = rocksdb_pinnableslice_value(p, &len);
	memcpy(buf, v, len < bufsize ? len : bufsize);
	*vlen = len;
	rocksdb_pinnableslice_destroy(p);
	return 0;
}

static int rdb_del(void *db, const void *key, size_t klen)
{
	struct rdb_db *d = db;
	char *err = NULL;

	rocksdb_delete(d->db, d->wopts, key, klen, &err);
	return err ? rdb_fail("delete", err) : 0;
}

static int rdb_iterate(void *db, kv_visit_fn fn, void *arg, size_t *count)
{
	struct rdb_db *d = db;
	rocksdb_iterator_t *it = rocksdb_create_iterator(d->db, d->ropts);
	const char *k, *v;
	size_t klen, vlen, n = 0;
	char *err = NULL;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		k = rocksdb_iter_key(it, &klen);
		v = rocksdb_iter_value(it, &vlen);
		fn(arg, k, klen, v, vlen);
		n++;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	*count = n;
	return err ? rdb_fail("iterate", err) : 0;
}

static int rdb_sync(void *db)
{
	struct rdb_db *d = db;
	char *err = NULL;

	rocksdb_flush_wal(d->db, 1, &err);
	return err ? rdb_fail("sync", err) : 0;
}

const struct kv_engine kv_engine_rocksdb = {
	.name = "rocksdb",
	.version = rdb_version,
	.open = rdb_open,
	.close = rdb_close,
	.put = rdb_put,
	.get = rdb_get,
	.del = rdb_del,
	.iterate = rdb_iterate,
	.sync = rdb_sync,
	.thread_init = no_thread_init,
	.thread_fini = no_thread_fini,
};

/* ---- Kyoto Cabinet ---------------------------------------------------- */

static const char *kc_version(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "Kyoto Cabinet %s", KCVERSION);
	return buf;
}

static int kc_fail(void *db, const char *what)
{
	fprintf(stderr, "kyoto: %s: %s: %s\n", what, kcecodename(kcdbecode(db)),
		kcdbemsg(db));
	return -1;
}

static int kc_open(const char *dir, const struct kv_config *cfg, void **out)
{
	uint32_t mode = KCOWRITER | KCOCREATE;
	char path[PATH_MAX];
	KCDB *db = kcdbnew();

	if (!db)
		return -1;
	if (cfg->sync)
		mode |= KCOAUTOSYNC;
	snprintf(path, sizeof(path), "%s/casket.kch#bnum=%zu#msiz=%zu", dir,
		 2 * cfg->num, (size_t)64 << 20);
	if (!kcdbopen(db, path, mode)) {
		kc_fail(db, "open");
		kcdbdel(db);
		return -1;
	}
	*out = db;
	return 0;
}

static void kc_close(void *db)
{
	if (!db)
		return;
	if (!kcdbclose(db))
		kc_fail(db, "close");
	kcdbdel(db);
}

static int kc_put(void *db, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	if (!kcdbset(db, key, klen, val, vlen))
		return kc_fail(db, "set");
	return 0;
}

static int kc_get(void *db, void *tctx, const void *key, size_t klen, void *buf,
		  size_t bufsize, size_t *vlen)
{
	int32_t len;

	(void)tctx;
	/* Copies min(bufsize, length) bytes and returns the full length. */
	len = kcdbgetbuf(db, key, klen, buf, bufsize);
	if (len < 0) {
		if (kcdbecode(db) == KCENOREC)
			return KV_NOTFOUND;
		return kc_fail(db, "get");
	}
	*vlen = (size_t)len;
	return 0;
}

static int kc_del(void *db, const void *key, size_t klen)
{
	if (!kcdbremove(db, key, klen) && kcdbecode(db) != KCENOREC)
		return kc_fail(db, "remove");
	return 0;
}

struct kc_visit {
	kv_visit_fn fn;
	void *arg;
	size_t n;
};

static const char *kc_visitor(const char *kbuf, size_t ksiz, const char *vbuf,
			      size_t vsiz, size_t *sp, void *opq)
{
	struct kc_visit *v = opq;

	(void)sp;
	v->fn(v->arg, kbuf, ksiz, vbuf, vsiz);
	v->n++;
	return KCVISNOP;
}

static int kc_iterate(void *db, kv_visit_fn fn, void *arg, size_t *count)
{
	struct kc_visit v = {fn, arg, 0};

	/* The hash database has no order: this walks records in file order. */
	if (!kcdbiterate(db, kc_visitor, &v, 0))
		return kc_fail(db, "iterate");
	*count = v.n;
	return 0;
}

static int kc_sync(void *db)
{
	if (!kcdbsync(db, 1, NULL, NULL))
		return kc_fail(db, "sync");
	return 0;
}

const struct kv_engine kv_engine_kyoto = {
	.name = "kyoto",
	.version = kc_version,
	.open = kc_open,
	.close = kc_close,
	.put = kc_put,
	.get = kc_get,
	.del = kc_del,
	.iterate = kc_iterate,
	.sync = kc_sync,
	.thread_init = no_thread_init,
	.thread_fini = no_thread_fini,
};

const struct kv_engine *const kv_engines[] = {
	&kv_engine_cask,    &kv_engine_lmdb,  &kv_engine_leveldb,
	&kv_engine_rocksdb, &kv_engine_kyoto, NULL,
};
