/*
 * kv_engines.h - one small table of operations over each key-value engine
 * that bench/kvbench.c compares: libcask, LMDB, LevelDB, RocksDB and Kyoto
 * Cabinet.
 *
 * Every engine is opened with the same configuration (struct kv_config):
 * no compression, the same block-cache budget, and either "the OS decides
 * when data reaches the disk" or "every write is durable before it returns".
 * How each engine maps those settings is written next to its adapter in
 * kv_engines.c and in docs/BENCHMARKS.md.
 *
 * Conventions: every fallible call returns 0 on success, KV_NOTFOUND for an
 * absent key (get only), or -1 after printing the engine's own error message
 * to stderr.
 */
#ifndef KV_ENGINES_H
#define KV_ENGINES_H

#include <stdbool.h>
#include <stddef.h>

#define KV_NOTFOUND 1

/** What every engine is asked to provide. */
struct kv_config {
	/** Keys the store will hold (sizes LMDB's map and Kyoto's buckets). */
	size_t num;
	/** Value length of the run (sizes LMDB's map). */
	size_t value_size;
	/** true: every write is durable when put/del returns. */
	bool sync;
	/** Block cache of LevelDB and RocksDB, in bytes. */
	size_t cache_bytes;
	/** Open LMDB with MDB_WRITEMAP (off by default). */
	bool lmdb_writemap;
};

/** Called by iterate() for every record, in the engine's own order. */
typedef void (*kv_visit_fn)(void *arg, const void *key, size_t klen,
			    const void *val, size_t vlen);

struct kv_engine {
	/** Short name used on the command line and in tables. */
	const char *name;
	/** Engine and version, for the report. */
	const char *(*version)(void);
	/** Open or create the store in directory @p dir (which exists). */
	int (*open)(const char *dir, const struct kv_config *cfg, void **db);
	/** Close @p db; accepts NULL. */
	void (*close)(void *db);
	int (*put)(void *db, const void *key, size_t klen, const void *val,
		   size_t vlen);
	/**
	 * Copy up to @p bufsize bytes of the value of @p key into @p buf and
	 * set @p vlen to its full length. @p tctx is the calling thread's
	 * context from thread_init().
	 * @return 0, KV_NOTFOUND or -1.
	 */
	int (*get)(void *db, void *tctx, const void *key, size_t klen,
		   void *buf, size_t bufsize, size_t *vlen);
	/** Remove @p key; an absent key is not an error. */
	int (*del)(void *db, const void *key, size_t klen);
	/** Visit every record once; sets @p count to the records visited. */
	int (*iterate)(void *db, kv_visit_fn fn, void *arg, size_t *count);
	/** Make every write so far durable. */
	int (*sync)(void *db);
	/**
	 * Per-thread state for get() (LMDB keeps a read transaction in it).
	 * Each thread that calls get() calls thread_init() first and
	 * thread_fini() before the store is closed.
	 */
	int (*thread_init)(void *db, void **tctx);
	void (*thread_fini)(void *db, void *tctx);
};

extern const struct kv_engine kv_engine_cask;
extern const struct kv_engine kv_engine_lmdb;
extern const struct kv_engine kv_engine_leveldb;
extern const struct kv_engine kv_engine_rocksdb;
extern const struct kv_engine kv_engine_kyoto;

/** All engines, libcask first, NULL-terminated. */
extern const struct kv_engine *const kv_engines[];

#endif /* KV_ENGINES_H */
