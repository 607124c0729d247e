/*
 * damage.c - naming damage, by path. At open, every key whose newest
 * version the store's open found damaged gets one log line naming the
 * file it belongs to, what the record held and where it lies, and one
 * line sums up the damage. When a read meets a damaged record (the
 * gateway sees libcask's CASK_ECORRUPT, or fs/ refuses the bytes of a
 * record that reads back intact, and calls in here before the reader
 * gets EIO), the same line, once per record per open: a record
 * named at open, or by an earlier read, is not named again (a reader
 * retries, a large file fails chunk after chunk). libcask logs its own
 * line, but its key names an inode number, not a file.
 *
 * The key says what the record is (schema.h): a dentry's key is its path;
 * an inode, chunk, xattr or orphan key holds the inode number. Only
 * directories know their name in memory, so a file's path is found by
 * scanning the dentries for its number: one scan for all the inodes that
 * open found damaged, one per record a read meets first, paid only when
 * damage is met. A damaged dentry met by a scan is named too (as a
 * dentry: no scan, so no recursion) and skipped.
 *
 * Locks: callers hold fs->lock (either side); the set of named records
 * has its own mutex (struct fs_damage), held only to look it up or add to
 * it, never across store I/O or the log.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A damaged record named in the log. */
struct named {
	uint32_t seg;
	uint64_t off;
};

struct fs_damage {
	pthread_mutex_t mu;
	struct named *v; /* sorted by (seg, off) */
	size_t n, cap;
};

int damage_setup(struct fs *fs)
{
	fs->damage = fsmem_calloc(1, sizeof(*fs->damage));
	if (!fs->damage)
		return -ENOMEM;
	pthread_mutex_init(&fs->damage->mu, NULL);
	return 0;
}

void damage_teardown(struct fs *fs)
{
	if (!fs->damage)
		return;
	pthread_mutex_destroy(&fs->damage->mu);
	free(fs->damage->v);
	free(fs->damage);
	fs->damage = NULL;
}

static bool before(const struct named *a, const struct gw_loc *b)
{
	return a->seg < b->seg || (a->seg == b->seg && a->off < b->off);
}

/* Whether the record at @p loc is to be named now: true the first time,
 * and for a record that could not be located (nor remembered). */
static bool first_naming(struct fs *fs, const struct gw_loc *loc)
{
	struct fs_damage *d = fs->damage;
	size_t lo = 0, hi;
	bool first;

	if (!loc->seg)
		return true;
	pthread_mutex_lock(&d->mu);
	for (hi = d->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (before(&d->v[mid], loc))
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo == d->n || d->v[lo].seg != loc->seg ||
		d->v[lo].off != loc->off;
	if (first &&
	    !fsmem_grow((void **)&d->v, &d->cap, d->n, sizeof(*d->v), 16)) {
		memmove(d->v + lo + 1, d->v + lo, (d->n - lo) * sizeof(*d->v));
		d->v[lo] = (struct named){loc->seg, loc->off};
		d->n++;
	}
	pthread_mutex_unlock(&d->mu);
	return first;
}

/* A copy of @p len bytes of a path, NUL-terminated, with bytes that would
 * break the log line shown as '?'. NULL when out of memory. */
static char *show_path(const char *p, size_t len)
{
	char *s = fsmem_alloc(len + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++)
		s[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	s[len] = '\0';
	return s;
}

/* The inode number an inode's key (inode, chunk, xattr, orphan) holds, or
 * 0 for any other key. */
static uint64_t key_ino(const uint8_t *k, size_t klen)
{
	if (klen >= INO_KEY_LEN && k[0] <= KEY_ORPHAN && k[0] != KEY_SUPER)
		return get_be64(k + 1);
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One scan of the dentries: paths[i] gets a path of inos[i] (of @p n,
 * sorted, distinct; the first path in key order), malloc()ed, or stays
 * NULL when it has none (or memory ran out). */
static void find_paths(struct fs *fs, const uint64_t *inos, size_t n,
		       char **paths)
{
	struct gw_scan s;
	int more;

	for (more = gw_scan_open(fs, &s, "/", 1, NULL, 0); more > 0;
	     more = gw_scan_next(&s)) {
		const uint64_t *at;
		const void *val;
		const char *k;
		size_t klen, vlen;
		uint64_t ino;
		uint32_t type;

		k = gw_scan_key(&s, &klen);
		if (gw_scan_value(&s, &val, &vlen))
			continue;
		if (dentry_decode(val, vlen, &ino, &type)) {
			gw_record_damaged(fs, k, klen);
			continue;
		}
		at = bsearch(&ino, inos, n, sizeof(*inos), cmp_ino);
		if (at && !paths[at - inos])
			paths[at - inos] = show_path(k, klen);
	}
	gw_scan_close(&s);
}

void fs_log(struct fs *fs, const char *msg)
{
	if (fs->log)
		fs->log(fs->log_arg, msg);
	else
		fprintf(stderr, "caskfs: %s\n", msg);
}

/*
 * Log one line about the damaged record of @p key at @p loc, ending in
 * @p tail: "PATH: damaged WHAT record of inode N in DIR/SEG at offset O"
 * for an inode's key, whose file's path is @p path (NULL: none found);
 * "PATH: damaged dentry record in ..." for a dentry; "damaged WHAT
 * record in ..." for any other key, and without the path when memory
 * runs out.
 */
static void say(struct fs *fs, const void *key, size_t klen, const char *path,
		const struct gw_loc *loc, const char *tail)
{
	static const char *const what[] = {
		[KEY_SUPER] = "superblock", [KEY_INODE] = "inode",
		[KEY_CHUNK] = "content",    [KEY_XATTR] = "xattr",
		[KEY_ORPHAN] = "orphan",
	};
	const uint8_t *k = key;
	bool dentry = klen && k[0] == '/';
	uint64_t ino = key_ino(k, klen);
	const char *kind = dentry		       ? "dentry"
			   : ino		       ? what[k[0]]
			   : klen && k[0] == KEY_SUPER ? what[KEY_SUPER]
						       : "unknown";
	char *own = dentry ? show_path(key, klen) : NULL;
	const char *name = dentry ? own
			   : ino  ? (path ? path : "(no path found)")
				  : NULL;
	char rest[600], *msg = NULL;

	snprintf(rest, sizeof(rest), "damaged %s record", kind);
	if (ino)
		snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest),
			 " of inode %" PRIu64, ino);
	snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest),
		 " in %s/%s at offset %" PRIu64 "%s", fs->dir, loc->file,
		 loc->off, tail);
	if (name && fsmem_asprintf(&msg, "%s: %s", name, rest) < 0)
		msg = NULL;
	fs_log(fs, msg ? msg : rest);
	free(msg);
	free(own);
}

void damage_report(struct fs *fs, const void *key, size_t klen,
		   const struct gw_loc *loc)
{
	uint64_t ino = key_ino(key, klen);
	char *path = NULL;

	if (!first_naming(fs, loc))
		return;
	if (ino)
		find_paths(fs, &ino, 1, &path);
	say(fs, key, klen, path, loc, "; reads of it fail with EIO");
	free(path);
}

/* ------------------------------------------------------------ at open */

/* The damaged keys of the open: their inode numbers, then their paths. */
struct open_report {
	struct fs *fs;
	uint64_t *inos; /* then sorted and made distinct */
	size_t n, cap;
	char **paths; /* of inos[i], or NULL */
	bool oom;     /* inos is incomplete: no paths looked up */
	size_t keys, pathless;
};

static int collect(void *arg, const struct gw_damaged *d)
{
	struct open_report *r = arg;
	uint64_t ino = key_ino(d->key, d->klen);

	if (!ino || r->oom)
		return 0;
	if (fsmem_grow((void **)&r->inos, &r->cap, r->n, sizeof(*r->inos),
		       64)) {
		r->oom = true;
		return 0;
	}
	r->inos[r->n++] = ino;
	return 0;
}

static int name_one(void *arg, const struct gw_damaged *d)
{
	struct open_report *r = arg;
	uint64_t ino = key_ino(d->key, d->klen);
	const uint64_t *at = ino && r->paths
				     ? bsearch(&ino, r->inos, r->n,
					       sizeof(*r->inos), cmp_ino)
				     : NULL;
	const char *path = at ? r->paths[at - r->inos] : NULL;

	r->keys++;
	if (ino && !path)
		r->pathless++;
	if (!first_naming(r->fs, &d->loc))
		return 0;
	say(r->fs, d->key, d->klen, path, &d->loc,
	    d->uncertain ? ", found at open: it may have held the newest "
			   "version, which is lost; reads serve the one "
			   "before it"
			 : ", found at open: its newest version is lost; "
			   "reads of it fail with EIO until it is written "
			   "again");
	return 0;
}

void damage_report_open(struct fs *fs)
{
	struct open_report r = {.fs = fs};
	uint64_t ranges, bytes;
	char msg[512], nopath[48];
	size_t u = 0;

	gw_damaged_ranges(fs, &ranges, &bytes);
	if (!ranges)
		return;
	gw_damaged_keys(fs, collect, &r);
	if (r.n && !r.oom) {
		qsort(r.inos, r.n, sizeof(*r.inos), cmp_ino);
		for (size_t i = 0; i < r.n; i++)
			if (!u || r.inos[u - 1] != r.inos[i])
				r.inos[u++] = r.inos[i];
		r.n = u;
		r.paths = fsmem_calloc(r.n, sizeof(*r.paths));
		if (r.paths)
			find_paths(fs, r.inos, r.n, r.paths);
	}
	gw_damaged_keys(fs, name_one, &r);
	snprintf(nopath, sizeof(nopath), "; %zu with no path found",
		 r.pathless);
	snprintf(msg, sizeof(msg),
		 "%s: damage found at open: %" PRIu64 " damaged range%s "
		 "(%" PRIu64 " bytes), %zu key%s lost %s newest version "
		 "(named above%s); the bytes stay in the store, and "
		 "'cask fsck' tells what else they cost",
		 fs->dir, ranges, ranges == 1 ? "" : "s", bytes, r.keys,
		 r.keys == 1 ? "" : "s", r.keys == 1 ? "its" : "their",
		 r.pathless ? nopath : "");
	fs_log(fs, msg);
	for (size_t i = 0; r.paths && i < r.n; i++)
		free(r.paths[i]);
	free(r.paths);
	free(r.inos);
}
