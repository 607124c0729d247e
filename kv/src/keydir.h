/*
 * keydir.h - the in-memory index of every live key: an adaptive radix tree
 * (Leis, Kemper, Neumann, ICDE 2013) mapping a key to where its newest record
 * lies on disk, with an ordered cursor.
 *
 * Not thread-safe: the caller (db.c) guards a keydir with its rwlock.
 * Out-of-memory is reported as -ENOMEM and leaves the tree unchanged.
 */
#ifndef CASK_KEYDIR_H
#define CASK_KEYDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYDIR_F_EXPIRES 0x1u /* the record carries an expiry */

struct keydir_entry {
	uint64_t seq;	/* sequence number of the record */
	uint32_t seg;	/* segment id */
	uint32_t off;	/* offset of the record's first byte in the segment */
	uint32_t vlen;	/* value length */
	uint32_t flags; /* KEYDIR_F_* */
};

struct keydir;

int keydir_new(struct keydir **out);
void keydir_free(struct keydir *kd);

/** Decides whether @p cand replaces @p cur in keydir_put(). */
typedef bool (*keydir_replace_fn)(const struct keydir_entry *cur,
				  const struct keydir_entry *cand, void *arg);

enum keydir_put_result {
	KEYDIR_INSERTED = 0, /* the key was absent */
	KEYDIR_REPLACED = 1, /* the key's entry was replaced; *old has it */
	KEYDIR_KEPT = 2,     /* should_replace said no; *old has the current */
};

/**
 * Insert or replace the entry of @p key (1..65535 bytes, copied).
 * @param old NULL, or receives the previous entry when there was one.
 * @param should_replace NULL to always replace.
 * @return a keydir_put_result, or -ENOMEM (tree unchanged).
 */
int keydir_put(struct keydir *kd, const uint8_t *key, size_t klen,
	       const struct keydir_entry *e, struct keydir_entry *old,
	       keydir_replace_fn should_replace, void *arg);

/** @return true and *out if @p key is present. */
bool keydir_get(const struct keydir *kd, const uint8_t *key, size_t klen,
		struct keydir_entry *out);

/**
 * Remove @p key. @param old NULL or receives the removed entry.
 * @return true if it was present. Never fails (may shrink nodes; if the
 *   smaller node cannot be allocated the larger one is kept).
 */
bool keydir_delete(struct keydir *kd, const uint8_t *key, size_t klen,
		   struct keydir_entry *old);

/** Number of keys. */
size_t keydir_count(const struct keydir *kd);

/** Bytes of memory the tree holds (nodes, leaves, allocator overhead). */
size_t keydir_memory(const struct keydir *kd);

/** Of keydir_memory(), the bytes that hold nothing: slab slots freed by
 *  deletes (reused by later inserts) and chunk tails not handed out yet. */
size_t keydir_unused(const struct keydir *kd);

/**
 * Rebuild the tree in fresh memory and give the old back to malloc: after
 * many deletes its slabs hold mostly nothing (keydir_unused()). The struct
 * stays the same; every cursor's position is invalidated (the version
 * changes), as by a delete. O(keys). @return 0, or -ENOMEM (tree
 * unchanged).
 */
int keydir_compact(struct keydir *kd);

/**
 * Bumped by every insert of a new key and every delete (not by replacing an
 * entry), so a cursor can tell whether it is still valid.
 */
uint64_t keydir_version(const struct keydir *kd);

/*
 * Cursor: a position in key order. Any insert or delete on the tree (a
 * change of keydir_version()) invalidates every cursor's position; the
 * caller must re-seek. Replacing an entry does not.
 */
struct keydir_cursor;

int keydir_cursor_new(const struct keydir *kd, struct keydir_cursor **out);
void keydir_cursor_free(struct keydir_cursor *c);

/** Position at the first / last key. @return false if the tree is empty. */
bool keydir_cursor_first(struct keydir_cursor *c);
bool keydir_cursor_last(struct keydir_cursor *c);

/** Position at the first key >= @p key (or > when @p inclusive is false).
 *  @return false if there is none. */
bool keydir_cursor_seek_ge(struct keydir_cursor *c, const uint8_t *key,
			   size_t klen, bool inclusive);

/** Position at the last key <= @p key (or < when @p inclusive is false).
 *  @return false if there is none. */
bool keydir_cursor_seek_le(struct keydir_cursor *c, const uint8_t *key,
			   size_t klen, bool inclusive);

/** Step. @return false (and unpositioned) past the end. */
bool keydir_cursor_next(struct keydir_cursor *c);
bool keydir_cursor_prev(struct keydir_cursor *c);

/** The current key and entry; pointers borrowed until the tree changes or
 *  the cursor moves. @return false if unpositioned. */
bool keydir_cursor_get(const struct keydir_cursor *c, const uint8_t **key,
		       size_t *klen, struct keydir_entry *e);

#endif
