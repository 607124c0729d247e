/*
 * itable.c - the in-memory inode table: a hash of struct fs_inode by inode
 * number, holding attributes of inodes the kernel references, open files,
 * and every live directory reached so far (their (parent, name) pairs are
 * the ino -> path map; see namei.c).
 *
 * Locks: tbl_lock guards the chains and nlookup. Inodes are freed only by
 * writers holding fs->wmu and the write side of fs->lock, so readers
 * (fs->lock read side) may use an inode they found without holding
 * tbl_lock, and a writer one it found across its commit's write.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct fs *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) &
	       (fs->tbl_size - 1);
}

static struct fs_inode *find(struct fs *fs, uint64_t ino)
{
	struct fs_inode *in = fs->tbl[slot(fs, ino)];

	while (in && in->ino != ino)
		in = in->hnext;
	return in;
}

static void grow(struct fs *fs)
{
	size_t old = fs->tbl_size;
	struct fs_inode **ot = fs->tbl;
	struct fs_inode **nt = fsmem_calloc(old * 2, sizeof(*nt));

	if (!nt)
		return; /* longer chains, still correct */
	fs->tbl = nt;
	fs->tbl_size = old * 2;
	for (size_t i = 0; i < old; i++) {
		while (ot[i]) {
			struct fs_inode *in = ot[i];
			size_t s = slot(fs, in->ino);

			ot[i] = in->hnext;
			in->hnext = nt[s];
			nt[s] = in;
		}
	}
	free(ot);
}

static void link_in(struct fs *fs, struct fs_inode *in)
{
	size_t s;

	if (fs->tbl_count >= fs->tbl_size)
		grow(fs);
	s = slot(fs, in->ino);
	in->hnext = fs->tbl[s];
	fs->tbl[s] = in;
	fs->tbl_count++;
}

int itable_init(struct fs *fs)
{
	fs->tbl_size = 1024;
	fs->tbl = fsmem_calloc(fs->tbl_size, sizeof(*fs->tbl));
	return fs->tbl ? 0 : -ENOMEM;
}

void inode_free(struct fs_inode *in)
{
	if (!in)
		return;
	free(in->name);
	free(in->buf.p);
	free(in);
}

bool inode_unstored(const struct fs_inode *in)
{
	return (in->cdirty || in->adirty) && !in->removed;
}

void itable_free(struct fs *fs)
{
	for (size_t i = 0; fs->tbl && i < fs->tbl_size; i++) {
		while (fs->tbl[i]) {
			struct fs_inode *in = fs->tbl[i];

			fs->tbl[i] = in->hnext;
			inode_free(in);
		}
	}
	free(fs->tbl);
	fs->tbl = NULL;
}

/* Remember where a directory is when a lookup first reaches it. */
static void set_name(struct fs_inode *in, uint64_t parent, const char *name)
{
	char *copy;

	if (!name || in->name || (in->a.mode & S_IFMT) != S_IFDIR)
		return;
	copy = fsmem_strdup(name);
	if (!copy)
		return; /* nameless: its paths say ESTALE until a lookup */
	/* Readers walk paths without tbl_lock: a name seen comes with its
	 * parent. */
	in->parent = parent;
	__atomic_store_n(&in->name, copy, __ATOMIC_RELEASE);
}

const char *inode_dir_name(const struct fs_inode *in)
{
	return __atomic_load_n(&in->name, __ATOMIC_ACQUIRE);
}

static int load(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	uint8_t key[INO_KEY_LEN], hdr[INODE_HDR_LEN];
	struct fs_inode *in;
	size_t n = 0;
	int err;

	*out = NULL;
	ino_key(key, KEY_INODE, ino);
	err = gw_get_range(fs, key, sizeof(key), 0, hdr, sizeof(hdr), &n);
	if (err)
		return err;
	in = fsmem_calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->ino = ino;
	if (inode_decode(&in->a, hdr, n)) {
		free(in);
		return gw_record_damaged(fs, key, sizeof(key));
	}
	*out = in;
	return 0;
}

int itable_get(struct fs *fs, uint64_t ino, uint64_t parent, const char *name,
	       uint64_t nlookup, struct fs_inode **out)
{
	struct fs_inode *in, *fresh = NULL;
	int err;

	*out = NULL;
	pthread_mutex_lock(&fs->tbl_lock);
	in = find(fs, ino);
	if (!in) {
		pthread_mutex_unlock(&fs->tbl_lock);
		err = load(fs, ino, &fresh);
		if (err)
			return err;
		pthread_mutex_lock(&fs->tbl_lock);
		in = find(fs, ino);
		if (!in) {
			in = fresh;
			fresh = NULL;
			link_in(fs, in);
		}
	}
	set_name(in, parent, name);
	in->nlookup += nlookup;
	pthread_mutex_unlock(&fs->tbl_lock);
	inode_free(fresh);
	*out = in;
	return 0;
}

struct fs_inode *itable_find(struct fs *fs, uint64_t ino)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->tbl_lock);
	in = find(fs, ino);
	pthread_mutex_unlock(&fs->tbl_lock);
	return in;
}

struct fs_inode *itable_insert(struct fs *fs, struct fs_inode *in,
			       uint64_t nlookup)
{
	struct fs_inode *had;

	pthread_mutex_lock(&fs->tbl_lock);
	had = find(fs, in->ino);
	if (!had)
		link_in(fs, in);
	(had ? had : in)->nlookup += nlookup;
	/* A reader loaded it by number during the commit: nameless, it
	 * would give ESTALE for every path through it. */
	if (had && in->name && !had->name) {
		had->parent = in->parent;
		__atomic_store_n(&had->name, in->name, __ATOMIC_RELEASE);
		in->name = NULL;
	}
	/* Nor has it the buffer its creator allocated before the commit, so
	 * as not to fail after it (fs_create). */
	if (had && in->buf.p && !had->buf.p) {
		had->buf = in->buf;
		in->buf.p = NULL;
	}
	pthread_mutex_unlock(&fs->tbl_lock);
	if (!had)
		return in;
	inode_free(in);
	return had;
}

bool inode_kept(const struct fs_inode *in, uint32_t nopen)
{
	return in->nlookup || nopen || in->ino == FS_ROOT_INO ||
	       ((in->a.mode & S_IFMT) == S_IFDIR && !in->removed) ||
	       inode_unstored(in);
}

void itable_drop_unused(struct fs *fs, struct fs_inode *in)
{
	struct fs_inode **pp;

	pthread_mutex_lock(&fs->tbl_lock);
	/* An inode whose content or attributes could not be written (the
	 * flush at release failed: ENOSPC) stays, so that a later flush or
	 * fs_close() retries instead of dropping acknowledged writes. */
	if (inode_kept(in, in->nopen)) {
		pthread_mutex_unlock(&fs->tbl_lock);
		return;
	}
	for (pp = &fs->tbl[slot(fs, in->ino)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == in) {
			*pp = in->hnext;
			fs->tbl_count--;
			break;
		}
	}
	pthread_mutex_unlock(&fs->tbl_lock);
	inode_free(in);
}

void itable_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->tbl_lock);
	in = find(fs, ino);
	if (in)
		in->nlookup -= nlookup < in->nlookup ? nlookup : in->nlookup;
	pthread_mutex_unlock(&fs->tbl_lock);
	if (in)
		itable_drop_unused(fs, in);
}

void itable_unref(struct fs *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->tbl_lock);
	if (in->nlookup)
		in->nlookup--;
	pthread_mutex_unlock(&fs->tbl_lock);
}

void inode_to_stat(const struct fs *fs, const struct fs_inode *in,
		   struct stat *st)
{
	uint64_t bytes = (in->a.size + 511) & ~(uint64_t)511;

	memset(st, 0, sizeof(*st));
	if (!(in->a.flags & INODE_F_INLINE) &&
	    in->a.nchunks * fs->chunk_size < bytes)
		bytes = in->a.nchunks * fs->chunk_size;
	st->st_ino = in->ino;
	st->st_mode = in->a.mode;
	st->st_nlink = in->a.nlink;
	st->st_uid = in->a.uid;
	st->st_gid = in->a.gid;
	st->st_rdev = in->a.rdev;
	st->st_size = (off_t)in->a.size;
	st->st_blocks = (blkcnt_t)(bytes / 512);
	st->st_blksize = (blksize_t)fs->chunk_size;
	st->st_atim = in->a.atime;
	st->st_mtim = in->a.mtime;
	st->st_ctim = in->a.ctime;
}
