/*
 * readdir.c - directory handles. A directory's entries are the keys
 * "path/name" without a further '/'; they are found by one ordered
 * iteration over the prefix "path/", jumping over each subdirectory's
 * subtree "path/name/..." with a seek to "path/name0" ('0' is '/' + 1).
 * Names like "a-b" and "a.c" sort between "a" and "a/...", so the jump is
 * taken only on meeting a deeper key, never right after "a".
 *
 * Cookies: a listing (a handle from its first read, or from a rewind)
 * keeps the names it has produced, in order, and takes a tag no other
 * listing of this fs has: an entry's cookie is the tag << 32 | its
 * position + 1. More names are fetched by resuming the iteration just
 * after the last name kept, so within one listing a cookie always means
 * the same entry and no name is produced twice or skipped.
 *
 * The tag is for the kernel's directory cache (FOPEN_CACHE_DIR). It
 * appends the reply to a READDIR at offset X to the cache whenever X is
 * where the cache ends, whichever handle sent it. With positions alone,
 * handle A lists the first N names into the cache, a file is created
 * among them, handle B lists its first N (one of A's is now B's N+1st)
 * and then the rest at offset N, which is where A's part ends: the cache
 * joins two listings and A, reading on from it, meets one name twice.
 * With a tag per listing, offsets of two listings are never equal, so the
 * cache only ever holds one listing.
 *
 * A handle asked to resume at another listing's cookie (a reader moved
 * from the kernel's cache to its own handle) lists from the start up to
 * that position and goes on with its own cookies: the order ("." and
 * ".." first, then key order) is the same on every handle, so while the
 * directory is unchanged the position means the same entry.
 *
 * Locks: fs->lock read side. A handle is used by one thread at a time.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FETCH	 256
#define POS_BITS 32
#define POS_MASK ((UINT64_C(1) << POS_BITS) - 1)
#define TAG_MASK 0x7fffffffu /* cookies are positive off_t */

static uint64_t cookie(const struct fs_dir *dh, size_t i)
{
	return (uint64_t)dh->tag << POS_BITS | (i + 1);
}

/* A tag no other listing has had (until 2^31 listings later), never 0. */
static uint32_t new_tag(struct fs *fs)
{
	uint32_t t;

	do
		t = __atomic_add_fetch(&fs->listing_tags, 1, __ATOMIC_RELAXED) &
		    TAG_MASK;
	while (t == 0);
	return t;
}

static int add(struct fs_dir *dh, const char *name, size_t len, uint64_t ino,
	       uint32_t type)
{
	struct fs_dir_ent *e;

	if (fsmem_grow((void **)&dh->ents, &dh->cap, dh->count, sizeof(*e), 64))
		return -ENOMEM;
	e = &dh->ents[dh->count];
	/* The name lies inside a key: not NUL-terminated. */
	e->name = fsmem_dup_bytes(name, len);
	if (!e->name)
		return -ENOMEM;
	e->ino = ino;
	e->type = type;
	dh->count++;
	return 0;
}

static void reset(struct fs_dir *dh)
{
	for (size_t i = 0; i < dh->count; i++)
		free(dh->ents[i].name);
	dh->count = 0;
	dh->eof = false;
}

/* Add the entry at the scan's key "path/name" (@p plen: the length of
 * "path/"), unless it was removed since the step. */
static int add_key(struct fs_dir *dh, struct gw_scan *s, size_t plen)
{
	const void *val;
	size_t klen, vlen;
	const char *k = gw_scan_key(s, &klen);
	uint64_t ino;
	uint32_t type;
	int err = gw_scan_value(s, &val, &vlen);

	if (err == -ENOENT)
		return 0;
	if (!err && dentry_decode(val, vlen, &ino, &type))
		err = gw_record_damaged(s->fs, k, klen);
	if (!err)
		err = add(dh, k + plen, klen - plen, ino, type);
	return err ? err : 1;
}

/* Append the next names after the last one kept (or the first names). */
static int fetch(struct fs *fs, struct fs_dir *dh)
{
	struct fs_path key; /* "path/", then the keys to seek to */
	struct gw_scan s;
	const char *k, *slash;
	size_t klen, plen, n, added = 0;
	int err;

	path_init(&key);
	err = namei_dir_path(fs, dh->ino, &key);
	if (err == -ESTALE) {
		/* Removed (or never reachable): it has no entries. */
		dh->eof = true;
		return 0;
	}
	plen = key.len + 1;
	if (!err)
		err = path_reserve(&key, plen);
	if (err) {
		path_free(&key);
		return err;
	}
	key.s[key.len] = '/';
	err = gw_scan_open(fs, &s, key.s, plen, NULL, 0);
	if (err > 0 && dh->count > 2) {
		const char *last = dh->ents[dh->count - 1].name;

		/* The least key after "path/last": "path/last\0". */
		n = strlen(last);
		err = path_reserve(&key, plen + n + 1);
		if (!err) {
			memcpy(key.s + plen, last, n);
			key.s[plen + n] = '\0';
			err = gw_scan_seek(&s, key.s, plen + n + 1);
		}
	}
	while (err > 0 && added < FETCH) {
		k = gw_scan_key(&s, &klen);
		slash = memchr(k + plen, '/', klen - plen);
		if (klen == plen) {
			err = gw_scan_next(&s); /* the root's own key "/" */
		} else if (slash) {
			/* Jump over the subtree "path/name/". */
			n = (size_t)(slash - k);
			err = path_reserve(&key, n + 1);
			if (!err) {
				memcpy(key.s, k, n);
				key.s[n] = '/' + 1;
				err = gw_scan_seek(&s, key.s, n + 1);
			}
		} else {
			err = add_key(dh, &s, plen);
			added += err > 0;
			if (err >= 0)
				err = gw_scan_next(&s);
		}
	}
	gw_scan_close(&s);
	path_free(&key);
	if (err == 0)
		dh->eof = true;
	return err < 0 ? err : 0;
}

int fs_opendir(struct fs *fs, uint64_t ino, struct fs_dir **out)
{
	struct fs_inode *in;
	struct fs_dir *dh;
	int err;

	*out = NULL;
	fs_rdlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err && (in->a.mode & S_IFMT) != S_IFDIR)
		err = -ENOTDIR;
	fs_unlock(fs);
	if (err)
		return err;
	dh = fsmem_calloc(1, sizeof(*dh));
	if (!dh)
		return -ENOMEM;
	dh->ino = ino;
	*out = dh;
	return 0;
}

/* Start over: "." and "..", then the names, fetched as needed. */
static int restart(struct fs *fs, struct fs_dir *dh)
{
	struct fs_inode *in = itable_find(fs, dh->ino);
	uint64_t up = in && in->ino != FS_ROOT_INO && inode_dir_name(in)
			      ? in->parent
			      : dh->ino;
	int err;

	reset(dh);
	dh->tag = new_tag(fs);
	err = add(dh, ".", 1, dh->ino, S_IFDIR);
	if (!err)
		err = add(dh, "..", 2, up, S_IFDIR);
	return err;
}

static int emit(struct fs *fs, struct fs_dir *dh, size_t i, bool plus,
		fs_fill_fn fill, void *ctx)
{
	const struct fs_dir_ent *e = &dh->ents[i];
	struct fs_inode *in = NULL;
	struct stat st;
	int err;

	if (i + 1 > POS_MASK)
		return -EOVERFLOW; /* no position left for a cookie */
	memset(&st, 0, sizeof(st));
	st.st_ino = e->ino;
	st.st_mode = e->type;
	if (plus && i >= 2) {
		err = itable_get(fs, e->ino, dh->ino, e->name, 1, &in);
		if (err == -ENOENT)
			return 0; /* removed since it was listed */
		if (err)
			return err;
		inode_to_stat(fs, in, &st);
	}
	if (fill(ctx, e->name, &st, cookie(dh, i)) == 0)
		return 0;
	if (in)
		itable_unref(fs, in);
	return 1;
}

int fs_readdir(struct fs *fs, struct fs_dir *dh, uint64_t off, bool plus,
	       fs_fill_fn fill, void *ctx)
{
	/* The position, in this listing or (another's cookie) in the next */
	size_t pos = (size_t)(off & POS_MASK);
	int err = 0;

	fs_rdlock(fs);
	if (off == 0 || dh->count == 0)
		err = restart(fs, dh);
	while (!err && pos > dh->count && !dh->eof)
		err = fetch(fs, dh);
	for (size_t i = pos; !err && i <= dh->count; i++) {
		if (i == dh->count) {
			if (dh->eof)
				break;
			err = fetch(fs, dh);
			if (err || i == dh->count)
				break;
		}
		err = emit(fs, dh, i, plus, fill, ctx);
	}
	fs_unlock(fs);
	return err < 0 ? err : 0;
}

int fs_releasedir(struct fs *fs, struct fs_dir *dh)
{
	(void)fs;
	if (dh) {
		reset(dh);
		free(dh->ents);
		free(dh);
	}
	return 0;
}
