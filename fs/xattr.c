/*
 * xattr.c - extended attributes, one key each (0x03 + ino + name), and the
 * virtual attributes of the root: FS_XATTR_STATS (read: the store's
 * figures), FS_XATTR_MERGE (write: start a merge) and FS_XATTR_BACKUP
 * (write: open or close a backup window; read: the open ones).
 *
 * Locks: get/list take fs->lock for reading; set/remove for writing (the
 * xattr key and the inode's ctime in one transaction).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XATTR_NAME_MAX_LEN 255u
#define XATTR_VALUE_MAX	   (64u * 1024)

static int xkey(uint8_t *key, uint64_t ino, const char *name, size_t *klen)
{
	size_t n = strlen(name);

	if (n == 0 || n > XATTR_NAME_MAX_LEN)
		return -ERANGE;
	ino_key(key, KEY_XATTR, ino);
	memcpy(key + INO_KEY_LEN, name, n);
	*klen = INO_KEY_LEN + n;
	return 0;
}

static bool is_virtual(uint64_t ino, const char *name, const char *which)
{
	return ino == FS_ROOT_INO && !strcmp(name, which);
}

/*
 * Attributes this filesystem does not keep, refused with EOPNOTSUPP as by a
 * filesystem without the feature:
 *  - POSIX ACLs: storing one as an opaque value would make tools that set
 *    permissions through it (cp -a) skip the chmod that takes effect, and
 *    nothing would enforce it;
 *  - security labels of an LSM (SELinux, Smack, AppArmor): where one runs,
 *    it labels FUSE mounts itself and never asks the daemon.
 * "Not supported" rather than "no such attribute" also tells ls -l, which
 * asks for an ACL and an SELinux label of every file it lists, to stop
 * asking for the rest of the filesystem: 20,000 round trips fewer for a
 * 10,000-entry directory.
 */
static bool unsupported(const char *name)
{
	return !strncmp(name, "system.posix_acl_", 17) ||
	       !strcmp(name, "security.selinux") ||
	       !strncmp(name, "security.SMACK64", 16) ||
	       !strcmp(name, "security.apparmor");
}

/* Put (@p value non-NULL) or delete the xattr, with the inode's ctime.
 * @p want: 1 the attribute must exist, -1 it must not, 0 either. */
static int change(struct fs *fs, uint64_t ino, const uint8_t *key, size_t klen,
		  const void *value, size_t size, int want)
{
	struct fs_inode *in;
	struct txn tx;
	int err;

	txn_begin(fs, &tx);
	tx.frees = !value;
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err)
		err = gw_exists(fs, key, klen);
	if (err > 0 && want < 0)
		err = -EEXIST;
	else if (err == 0 && want > 0)
		err = -ENODATA;
	else if (err > 0)
		err = 0;
	if (!err && in->removed)
		err = -ENOENT; /* its keys are gone: no new one */
	if (!err)
		err = value ? txn_put(&tx, key, klen, value, size)
			    : txn_delete(&tx, key, klen);
	if (!err) {
		txn_hold(&tx, in);
		in->a.ctime = fs_now();
		err = store_put_inode(&tx, in);
	}
	return txn_finish(&tx, err);
}

int fs_setxattr(struct fs *fs, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	uint8_t key[INO_KEY_LEN + XATTR_NAME_MAX_LEN];
	size_t klen;
	int err;

	if (is_virtual(ino, name, FS_XATTR_MERGE))
		return fs_merge_start(fs);
	if (is_virtual(ino, name, FS_XATTR_BACKUP))
		return fs_backup(fs, value, size, NULL);
	if (is_virtual(ino, name, FS_XATTR_STATS))
		return -EPERM;
	if (unsupported(name))
		return -EOPNOTSUPP;
	/* Names outside the four namespaces are refused as by every local
	 * Linux filesystem (FUSE passes any name through). */
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
	    strncmp(name, "security.", 9) && strncmp(name, "system.", 7))
		return -EOPNOTSUPP;
	if (size > XATTR_VALUE_MAX)
		return -E2BIG;
	err = xkey(key, ino, name, &klen);
	if (err)
		return err;
	fs_wrlock(fs);
	err = change(fs, ino, key, klen, value ? value : "", size,
		     (flags & FS_XATTR_CREATE)	  ? -1
		     : (flags & FS_XATTR_REPLACE) ? 1
						  : 0);
	return fs_wrunlock(fs, err);
}

static ssize_t copy_out(const void *val, size_t len, void *buf, size_t size)
{
	if (size == 0)
		return (ssize_t)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, val, len);
	return (ssize_t)len;
}

ssize_t fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *buf,
		    size_t size)
{
	uint8_t key[INO_KEY_LEN + XATTR_NAME_MAX_LEN];
	struct fs_inode *in;
	void *val = NULL;
	char *text;
	size_t klen, vlen = 0;
	ssize_t n;
	int err;

	if (is_virtual(ino, name, FS_XATTR_STATS) ||
	    is_virtual(ino, name, FS_XATTR_BACKUP)) {
		err = is_virtual(ino, name, FS_XATTR_STATS)
			      ? fs_stats_text(fs, &text)
			      : fs_backup_text(fs, &text);
		if (err)
			return err;
		n = copy_out(text, strlen(text), buf, size);
		free(text);
		return n;
	}
	if (unsupported(name))
		return -EOPNOTSUPP;
	err = xkey(key, ino, name, &klen);
	if (err)
		return err == -ERANGE ? -ENODATA : err;
	fs_rdlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err)
		err = gw_get_alloc(fs, key, klen, &val, &vlen);
	fs_unlock(fs);
	if (err) {
		/* the inode itself was found: a missing key is no attribute */
		return err == -ENOENT && val == NULL && in ? -ENODATA : err;
	}
	n = copy_out(val, vlen, buf, size);
	free(val);
	return n;
}

ssize_t fs_listxattr(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct gw_scan sc = {0};
	struct fs_inode *in;
	const uint8_t *k;
	size_t klen, total = 0;
	int err;

	fs_rdlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	for (err = err ? err : store_scan_inode(fs, &sc, KEY_XATTR, ino, 0);
	     err > 0; err = gw_scan_next(&sc)) {
		size_t n;

		k = gw_scan_key(&sc, &klen);
		n = klen - INO_KEY_LEN;
		if (size && total + n + 1 > size) {
			err = -ERANGE;
			break;
		}
		if (size) {
			memcpy(buf + total, k + INO_KEY_LEN, n);
			buf[total + n] = '\0';
		}
		total += n + 1;
	}
	gw_scan_close(&sc);
	fs_unlock(fs);
	return err ? err : (ssize_t)total;
}

int fs_removexattr(struct fs *fs, uint64_t ino, const char *name)
{
	uint8_t key[INO_KEY_LEN + XATTR_NAME_MAX_LEN];
	size_t klen;
	int err;

	if (unsupported(name))
		return -EOPNOTSUPP;
	err = xkey(key, ino, name, &klen);
	if (err)
		return err == -ERANGE ? -ENODATA : err;
	fs_wrlock(fs);
	err = change(fs, ino, key, klen, NULL, 0, 1);
	return fs_wrunlock(fs, err);
}
