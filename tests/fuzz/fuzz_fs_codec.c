/*
 * fuzz_fs_codec.c - libFuzzer target for the caskfs value codecs
 * (fs/schema.h) and the offline reader built on them (fs/caskfs.h).
 *
 * Input byte 0 < 0x80: the rest is one value given to super_decode,
 * dentry_decode or inode_decode (byte 0 % 3). A value that decodes must
 * re-encode to one that decodes to the same fields, and carry only a real
 * file type (S_IFMT bits of a known type).
 * Input byte 0 >= 0x80: the rest is a store image, entries of
 * klen u8 | key | vlen u16le | value, written to a fresh store which is
 * then opened read-only with fs_open_store and walked from the root:
 * readdir (plus), getattr, readlink, whole-file reads, xattrs, and
 * fs_lookup_path/fs_read_path for every dentry key of the image. Damaged
 * values must come back as errors, never crashes, hangs or leaks.
 *
 * Built with -DFUZZ_FS_CODEC_GEN this file writes the seed corpus from a
 * small real filesystem: fuzz_fs_codec_gen DIR.
 */
#define _GNU_SOURCE
#include "cask.h"
#include "caskfs.h"
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool real_type(uint32_t t)
{
	switch (t & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

static void decoders(uint8_t which, const uint8_t *v, size_t len)
{
	if (which == 0) {
		struct super a, b;
		uint8_t out[SUPER_LEN];

		if (super_decode(&a, v, len))
			return;
		super_encode(&a, out);
		if (super_decode(&b, out, sizeof(out)) ||
		    a.version != b.version || a.chunk_size != b.chunk_size ||
		    a.inline_max != b.inline_max || a.ino_hwm != b.ino_hwm)
			abort();
	} else if (which == 1) {
		uint64_t ino, ino2;
		uint32_t type, type2;
		uint8_t out[DENTRY_LEN];

		if (dentry_decode(v, len, &ino, &type))
			return;
		if ((type & ~(uint32_t)S_IFMT) || !real_type(type))
			abort(); /* "the S_IFMT bits of the target" */
		dentry_encode(ino, type, out);
		if (dentry_decode(out, sizeof(out), &ino2, &type2) ||
		    ino2 != ino || type2 != type || memcmp(out, v, len))
			abort();
	} else {
		struct inode_attr a, b;
		uint8_t out[INODE_HDR_LEN];

		if (inode_decode(&a, v, len))
			return;
		if (!real_type(a.mode))
			abort();
		inode_encode(&a, out);
		if (inode_decode(&b, out, sizeof(out)) || a.mode != b.mode ||
		    a.uid != b.uid || a.gid != b.gid || a.nlink != b.nlink ||
		    a.size != b.size || a.rdev != b.rdev ||
		    a.nchunks != b.nchunks || a.flags != b.flags ||
		    a.atime.tv_sec != b.atime.tv_sec ||
		    a.atime.tv_nsec != b.atime.tv_nsec ||
		    a.mtime.tv_sec != b.mtime.tv_sec ||
		    a.mtime.tv_nsec != b.mtime.tv_nsec ||
		    a.ctime.tv_sec != b.ctime.tv_sec ||
		    a.ctime.tv_nsec != b.ctime.tv_nsec)
			abort();
	}
}

/* ------------------------------------------------------------ store */

static char dir[512];

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void reset_dir(void)
{
	const char *base = getenv("TEST_TMPDIR");
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (!dir[0]) {
		if (!base || !*base)
			base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
		snprintf(dir, sizeof(dir), "%s/fuzz_fs_codec-XXXXXX", base);
		if (!mkdtemp(dir))
			abort();
	}
	d = opendir(dir);
	if (!d)
		abort();
	while ((e = readdir(d))) {
		char p[1024];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

struct walk {
	struct fs *fs;
	int budget; /* entries left to visit */
};

/* Entries of one directory, gathered by fill() and visited after
 * fs_readdir() returns (it holds the fs lock while it calls fill). */
struct entries {
	uint64_t ino[32];
	int n;
};

static int fill(void *ctx, const char *name, const struct stat *st,
		uint64_t next_off)
{
	struct entries *e = ctx;

	(void)next_off;
	if (e->n < 32 && strcmp(name, ".") && strcmp(name, ".."))
		e->ino[e->n++] = (uint64_t)st->st_ino;
	return 0;
}

static void visit(struct walk *w, uint64_t ino, int depth)
{
	struct stat st;
	char buf[4096];
	struct fs_dir *dh;
	struct fs_file *fh;
	ssize_t n;

	if (w->budget-- <= 0 || fs_getattr(w->fs, ino, &st))
		return;
	n = fs_listxattr(w->fs, ino, buf, sizeof(buf));
	for (ssize_t off = 0; n > 0 && off < n;) {
		char val[256];
		size_t l = strnlen(buf + off, (size_t)(n - off));

		if (off + (ssize_t)l >= n)
			break;
		fs_getxattr(w->fs, ino, buf + off, val, sizeof(val));
		off += (ssize_t)l + 1;
	}
	if (S_ISLNK(st.st_mode)) {
		fs_readlink(w->fs, ino, buf, sizeof(buf));
	} else if (S_ISREG(st.st_mode)) {
		if (fs_open(w->fs, ino, O_RDONLY, &fh) == 0) {
			for (uint64_t off = 0; off < 65536; off += sizeof(buf))
				if (fs_read(w->fs, fh, buf, sizeof(buf), off) <=
				    0)
					break;
			fs_release(w->fs, fh);
		}
	} else if (S_ISDIR(st.st_mode) && depth < 4) {
		struct entries e = {.n = 0};

		if (fs_opendir(w->fs, ino, &dh))
			return;
		fs_readdir(w->fs, dh, 0, true, fill, &e);
		fs_releasedir(w->fs, dh);
		for (int i = 0; i < e.n; i++)
			visit(w, e.ino[i], depth + 1);
	}
}

static void image(const uint8_t *p, size_t left)
{
	struct cask_options co;
	struct fs_options fo;
	struct cask_db *db;
	struct fs *fs;
	const uint8_t *start = p;
	size_t total = left;

	reset_dir();
	cask_options_init(&co);
	co.sync_mode = CASK_SYNC_NEVER;
	co.merge_dead_ratio = 0;
	co.segment_size = 1 << 20;
	co.log = quiet;
	if (cask_open(dir, &co, &db))
		abort();
	while (left >= 1) {
		size_t klen = p[0], vlen;

		if (left < 1 + klen + 2)
			break;
		vlen = (size_t)p[1 + klen] | (size_t)p[2 + klen] << 8;
		if (left < 3 + klen + vlen)
			vlen = left - 3 - klen;
		if (klen)
			cask_put(db, p + 1, klen, p + 3 + klen, vlen);
		p += 3 + klen + vlen;
		left -= 3 + klen + vlen;
	}
	cask_close(db);

	fs_options_init(&fo);
	fo.read_only = true;
	fo.log = quiet;
	if (fs_open_store(dir, &fo, &fs))
		return;
	{
		struct walk w = {fs, 256};

		visit(&w, FS_ROOT_INO, 0);
	}
	/* Every dentry key of the image, by path. */
	p = start;
	left = total;
	while (left >= 1) {
		size_t klen = p[0], vlen;
		char path[300];
		uint64_t ino;
		struct stat st;
		void *data;
		size_t len;

		if (left < 1 + klen + 2)
			break;
		vlen = (size_t)p[1 + klen] | (size_t)p[2 + klen] << 8;
		if (left < 3 + klen + vlen)
			vlen = left - 3 - klen;
		if (klen && p[1] == '/') {
			memcpy(path, p + 1, klen);
			path[klen] = '\0';
			/* A damaged size may be huge: fs_read_path would
			 * rightly try to allocate it (-ENOMEM). */
			if (fs_lookup_path(fs, path, &ino) == 0 &&
			    fs_getattr(fs, ino, &st) == 0 && st.st_size >= 0 &&
			    st.st_size < (1 << 20) &&
			    fs_read_path(fs, path, &data, &len) == 0)
				free(data);
		}
		p += 3 + klen + vlen;
		left -= 3 + klen + vlen;
	}
	fs_close(fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] < 0x80)
		decoders(data[0] % 3, data + 1, size - 1);
	else
		image(data + 1, size - 1);
	return 0;
}

#ifdef FUZZ_FS_CODEC_GEN
static void save(const char *out, const char *name, uint8_t first,
		 const void *v, size_t len)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", out, name);
	f = fopen(p, "wb");
	if (!f)
		abort();
	fputc(first, f);
	fwrite(v, 1, len, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct fs_options fo;
	struct cask_options co;
	struct fs_cred cred = {0, 0, 022};
	struct fs *fs;
	struct stat st;
	struct fs_file *fh;
	struct cask_db *db;
	struct cask_iter *it;
	static uint8_t img[1 << 20];
	size_t n = 0;
	char tmp[] = "/tmp/fuzz_fs_codec_gen-XXXXXX";
	int saved_super = 0, saved_dentry = 0, saved_inode = 0;

	if (argc != 2 || !mkdtemp(tmp))
		return 2;
	fs_options_init(&fo);
	fo.sync_mode = FS_SYNC_NEVER;
	fo.log = quiet;
	fo.chunk_size = 4096;
	fo.inline_max = 64;
	if (fs_open_store(tmp, &fo, &fs))
		return 1;
	fs_mkdir(fs, FS_ROOT_INO, "dir", 0755, &cred, &st);
	fs_create(fs, st.st_ino, "file", 0644, &cred, O_WRONLY, &st, &fh);
	{
		char big[9000];

		memset(big, 'z', sizeof(big));
		fs_write(fs, fh, big, sizeof(big), 0);
		fs_release(fs, fh);
	}
	fs_create(fs, FS_ROOT_INO, "small", 0600, &cred, O_WRONLY, &st, &fh);
	fs_write(fs, fh, "hello", 5, 0);
	fs_release(fs, fh);
	fs_setxattr(fs, st.st_ino, "user.k", "v", 1, 0);
	fs_symlink(fs, FS_ROOT_INO, "link", "dir/file", &cred, &st);
	fs_mknod(fs, FS_ROOT_INO, "fifo", S_IFIFO | 0644, 0, &cred, &st);
	fs_close(fs);

	cask_options_init(&co);
	co.log = quiet;
	if (cask_open(tmp, &co, &db) || cask_iter_new(db, NULL, &it))
		return 1;
	for (; cask_iter_valid(it); cask_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = cask_iter_key(it, &klen);
		const void *v;

		cask_iter_value(it, &v, &vlen);
		if (klen > 255 || vlen > 65535 ||
		    n + 3 + klen + vlen > sizeof(img))
			continue;
		img[n] = (uint8_t)klen;
		memcpy(img + n + 1, k, klen);
		img[n + 1 + klen] = (uint8_t)vlen;
		img[n + 2 + klen] = (uint8_t)(vlen >> 8);
		memcpy(img + n + 3 + klen, v, vlen);
		n += 3 + klen + vlen;
		if (k[0] == KEY_SUPER && !saved_super++)
			save(argv[1], "super", 0, v, vlen);
		else if (k[0] == '/' && !saved_dentry++)
			save(argv[1], "dentry", 1, v, vlen);
		else if (k[0] == KEY_INODE && saved_inode++ < 2)
			save(argv[1],
			     saved_inode == 1 ? "inode" : "inode-inline", 2, v,
			     vlen);
	}
	cask_iter_free(it);
	cask_close(db);
	save(argv[1], "image", 0x80, img, n);
	return 0;
}
#endif
