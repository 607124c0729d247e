/*
 * damage.c - naming damage. When a read of the store meets a damaged
 * record (the gateway sees libcask's CASK_ECORRUPT and calls in here
 * before the reader gets EIO), one log line names the file it belongs to
 * by a path, what the record held, and where it lies (segment file and
 * offset), so that the user learns which file to restore. libcask logs
 * its own line, but its key names an inode number, not a file.
 *
 * The key says what the record is (schema.h): a dentry's key is its path;
 * an inode, chunk, xattr or orphan key holds the inode number. Only
 * directories know their name in memory, so a file's path is found by
 * scanning the dentries for its number: a cost proportional to the tree,
 * paid only when damage is met. A damaged dentry met by that scan is
 * reported too (as a dentry: no scan, so no recursion) and skipped.
 *
 * Callers hold fs->lock (either side); nothing here takes it.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Copy @p len bytes of a path into @p buf (@p size bytes), with bytes that
 * would break the log line shown as '?'. */
static void show_path(char *buf, size_t size, const char *p, size_t len)
{
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++)
		buf[i] =
			(unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	buf[len] = '\0';
}

/* A path of inode @p ino (the first in key order) into @p buf.
 * @return true if one was found. */
static bool find_path(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct gw_scan s;
	bool found = false;
	int more;

	for (more = gw_scan_open(fs, &s, "/", 1, NULL, 0); more > 0 && !found;
	     more = gw_scan_next(&s)) {
		const void *val;
		const char *k;
		size_t klen, vlen;
		uint64_t n;
		uint32_t type;

		k = gw_scan_key(&s, &klen);
		if (gw_scan_value(&s, &val, &vlen) ||
		    dentry_decode(val, vlen, &n, &type) || n != ino)
			continue;
		show_path(buf, size, k, klen);
		found = true;
	}
	gw_scan_close(&s);
	return found;
}

void damage_report(struct fs *fs, const void *key, size_t klen, const char *seg,
		   uint64_t off)
{
	static const char *const what[] = {
		[KEY_SUPER] = "superblock", [KEY_INODE] = "inode",
		[KEY_CHUNK] = "content",    [KEY_XATTR] = "xattr",
		[KEY_ORPHAN] = "orphan",
	};
	char path[FS_PATH_MAX + 1], msg[FS_PATH_MAX + 256];
	const uint8_t *k = key;

	if (klen && k[0] == '/') {
		show_path(path, sizeof(path), key, klen);
		snprintf(msg, sizeof(msg), "%s: damaged dentry record", path);
	} else if (klen >= INO_KEY_LEN && k[0] <= KEY_ORPHAN &&
		   k[0] != KEY_SUPER) {
		uint64_t ino = get_be64(k + 1);

		if (!find_path(fs, ino, path, sizeof(path)))
			snprintf(path, sizeof(path), "(no path left)");
		snprintf(msg, sizeof(msg),
			 "%s: damaged %s record of inode %llu", path,
			 what[k[0]], (unsigned long long)ino);
	} else {
		snprintf(msg, sizeof(msg), "damaged %s record",
			 klen && k[0] == KEY_SUPER ? what[KEY_SUPER]
						   : "unknown");
	}
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		 " in %s/%s at offset %llu; reads of it fail with EIO", fs->dir,
		 seg, (unsigned long long)off);
	if (fs->log)
		fs->log(fs->log_arg, msg);
	else
		fprintf(stderr, "caskfs: %s\n", msg);
}
