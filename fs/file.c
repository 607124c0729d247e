/*
 * file.c - file content: open, read, write, truncate, flush, release,
 * fallocate, lseek, and the store-wide sync (fs_sync: what open files
 * buffer, then the log).
 *
 * A file up to inline_max bytes keeps its content in its inode record;
 * past that its content is in chunk_size chunks (a missing chunk, or the
 * part of a chunk past its stored length, reads as zeros). A stored chunk
 * never holds bytes past the file's size, so extending a file stores
 * nothing.
 *
 * While a file is open its inode buffers one chunk (or the inline content):
 * small writes land there and reach the store, as one batch with the inode
 * record, when a write moves to another chunk, writes whole chunks, or at
 * flush/fsync/release. Whole chunks go straight into the write's batch.
 *
 * Writeback (fs_writeback): with the kernel's writeback cache, write(2)
 * returned long before the bytes reach us, in parallel requests served in
 * any order, and an error reaches the writer only at its next fsync or
 * close. A later range stored before an earlier one fails, or a small
 * request that still fits after larger ones failed, would leave the size
 * covering bytes never stored (zeros). So a failed writeback cuts the file
 * back to where the failed bytes begin (never below wb_base, what the
 * writers were told last) and, until fs_flush() reports the error, no
 * writeback grows the file past that cut: it reads as it was before the
 * bytes that failed.
 *
 * Each operation that changes content is one transaction holding the
 * inode's data buffer: when it fails, the buffer and attributes are as
 * they were (the buffered chunk may have been put into the batch and the
 * buffer moved on to another chunk).
 *
 * Locks: read and lseek take fs->lock for reading; the rest for writing,
 * with fs->wmu unless they commit nothing: a flush or release of a file
 * the store holds as memory does, a write that lands in the buffer, an
 * open without O_TRUNC (idle operations, internal.h).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest file: keeps every offset inside off_t. */
#define MAX_FILE ((uint64_t)INT64_MAX)

void file_idle(struct fs_inode *in)
{
	/* A buffer kept dirty holds acknowledged bytes found nowhere else. */
	if (in->nopen || inode_unstored(in))
		return;
	free(in->buf.p);
	in->buf.p = NULL;
	in->buf.cap = 0;
	in->buf.cvalid = in->cdirty = false;
}

static int ensure_buf(struct fs_inode *in, size_t cap)
{
	char *p;

	if (in->buf.cap >= cap)
		return 0;
	p = fsmem_realloc(in->buf.p, cap);
	if (!p)
		return -ENOMEM;
	memset(p + in->buf.cap, 0, cap - in->buf.cap);
	in->buf.p = p;
	in->buf.cap = cap;
	return 0;
}

/* An inline file grows past inline_max: its content becomes chunk 0. */
static int to_chunked(struct fs *fs, struct fs_inode *in)
{
	int err = store_load_inline(fs, in);

	if (!err)
		err = ensure_buf(in, fs->chunk_size);
	if (err)
		return err;
	in->a.flags &= (uint8_t)~INODE_F_INLINE;
	in->buf.cidx = 0;
	/* An empty file has nothing to keep. */
	in->buf.cvalid = in->cdirty = in->a.size > 0;
	in->buf.cexists = false;
	return 0;
}

/* Copy bytes [@p co, @p co + @p n) of chunk @p idx to @p dst. */
static int read_chunk(struct fs *fs, struct fs_inode *in, uint64_t idx,
		      size_t co, char *dst, size_t n)
{
	uint8_t key[CHUNK_KEY_LEN];
	size_t got = 0;
	int err;

	if (in->buf.cvalid && in->buf.cidx == idx) {
		memcpy(dst, in->buf.p + co, n);
		return 0;
	}
	chunk_key(key, in->ino, idx);
	err = gw_get_range(fs, key, sizeof(key), co, dst, n, &got);
	if (err && err != -ENOENT)
		return err;
	memset(dst + got, 0, n - got);
	return 0;
}

static ssize_t read_locked(struct fs *fs, struct fs_inode *in, char *dst,
			   size_t size, uint64_t off)
{
	uint64_t cs = fs->chunk_size, pos, end;
	int err;

	if (off >= in->a.size)
		return 0;
	if (size > in->a.size - off)
		size = (size_t)(in->a.size - off);
	if (in->a.flags & INODE_F_INLINE) {
		/* An open inline file has its content in memory from the open
		 * on (open_inode(), file_idle()): a reader, under the read
		 * side, never loads it into in->buf. */
		if (!in->buf.p)
			abort();
		memcpy(dst, in->buf.p + off, size);
		return (ssize_t)size;
	}
	end = off + size;
	for (pos = off; pos < end;) {
		uint64_t co = pos % cs, n = cs - co;

		if (n > end - pos)
			n = end - pos;
		err = read_chunk(fs, in, pos / cs, (size_t)co,
				 dst + (pos - off), (size_t)n);
		if (err)
			return err;
		pos += n;
	}
	return (ssize_t)size;
}

ssize_t fs_read(struct fs *fs, struct fs_file *fh, void *buf, size_t size,
		uint64_t off)
{
	ssize_t n;

	fs_rdlock(fs);
	n = read_locked(fs, fh->inode, buf, size, off);
	fs_unlock(fs);
	return n;
}

/* Make chunk @p idx the one in the buffer, writing back the one there. */
static int switch_chunk(struct txn *tx, struct fs_inode *in, uint64_t idx,
			uint64_t old_size)
{
	uint32_t cs = tx->fs->chunk_size;
	uint8_t key[CHUNK_KEY_LEN];
	size_t len = 0;
	int err;

	if (in->buf.cvalid && in->cdirty) {
		err = store_put_chunk(tx, in);
		if (err)
			return err;
	}
	err = ensure_buf(in, cs);
	if (err)
		return err;
	in->buf.cvalid = in->cdirty = in->buf.cexists = false;
	if (idx * cs < old_size) {
		/* The transaction may hold a newer value of the chunk (the
		 * buffer written back earlier in the same write). */
		chunk_key(key, in->ino, idx);
		err = txn_get(tx, key, sizeof(key), in->buf.p, cs, &len);
		if (err && err != -ENOENT)
			return err;
		in->buf.cexists = err == 0;
		if (len > cs)
			return gw_record_damaged(tx->fs, key, sizeof(key));
	}
	memset(in->buf.p + len, 0, cs - len);
	in->buf.cidx = idx;
	in->buf.cvalid = true;
	return 0;
}

/* Write into chunks; whole chunks not in the buffer go to the batch. */
static int write_chunks(struct txn *tx, struct fs_inode *in, const char *src,
			size_t size, uint64_t off, uint64_t old_size)
{
	uint64_t cs = tx->fs->chunk_size, pos, end = off + size;
	uint8_t key[CHUNK_KEY_LEN];
	int err = 0;

	for (pos = off; pos < end && !err;) {
		uint64_t idx = pos / cs, co = pos % cs, n = cs - co;
		const char *p = src + (pos - off);

		if (n > end - pos)
			n = end - pos;
		pos += n;
		if (n == cs && !(in->buf.cvalid && in->buf.cidx == idx)) {
			chunk_key(key, in->ino, idx);
			err = gw_exists(tx->fs, key, sizeof(key));
			if (err < 0)
				break;
			if (!err)
				in->a.nchunks++;
			err = txn_put(tx, key, sizeof(key), p, cs);
			continue;
		}
		if (!(in->buf.cvalid && in->buf.cidx == idx))
			err = switch_chunk(tx, in, idx, old_size);
		if (err)
			break;
		memcpy(in->buf.p + co, p, n);
		in->cdirty = true;
	}
	return err;
}

/* Write into the inline content (up to inline_max at most). */
static int write_inline(struct fs *fs, struct fs_inode *in, const void *src,
			size_t size, uint64_t off)
{
	int err = store_load_inline(fs, in);

	if (err)
		return err;
	memcpy(in->buf.p + off, src, size);
	if (off + size > in->a.size)
		in->a.size = off + size;
	in->cdirty = true;
	return 0;
}

/* Whether a write of @p size > 0 bytes at @p off lands inside the inline
 * content or the buffered chunk: it commits nothing. */
static bool write_inside(const struct fs *fs, const struct fs_inode *in,
			 size_t size, uint64_t off)
{
	uint64_t cs = fs->chunk_size, end = off + size;

	if (in->a.flags & INODE_F_INLINE)
		return end <= fs->inline_max;
	return in->buf.cvalid && off / cs == in->buf.cidx &&
	       (end - 1) / cs == in->buf.cidx;
}

static ssize_t write_locked(struct fs *fs, struct fs_inode *in, const void *src,
			    size_t size, uint64_t off)
{
	uint64_t end = off + size, old_size = in->a.size;
	bool inl = in->a.flags & INODE_F_INLINE, inside;
	struct txn tx;
	int err = 0;

	if (size == 0)
		return 0;
	if (off > MAX_FILE || size > MAX_FILE - off)
		return -EFBIG;
	txn_begin(fs, &tx);
	/* Inside the inline content or the buffered chunk a write commits
	 * nothing; any other may commit a batch with the buffered chunk in
	 * it, and the buffer moves on: keep a copy. */
	inside = write_inside(fs, in, size, off);
	if (inside)
		txn_hold(&tx, in);
	else
		err = txn_hold_data(&tx, in);
	in->a.mtime = in->a.ctime = fs_now();
	in->adirty = true;
	if (!err && inl && inside) {
		err = write_inline(fs, in, src, size, off);
	} else if (!err) {
		/* The content before the write becomes chunk 0. */
		if (inl)
			err = to_chunked(fs, in);
		if (end > in->a.size)
			in->a.size = end;
		if (!err)
			err = write_chunks(&tx, in, src, size, off, old_size);
	}
	if (!err && txn_changes(&tx))
		err = store_put_inode(&tx, in);
	err = txn_finish(&tx, err);
	return err ? err : (ssize_t)size;
}

/* An idle write (internal.h): take the write side of fs->lock alone if the
 * write lands in the loaded buffer, where it commits nothing and cannot
 * fail, and no writeback error waits to be reported (a failed writeback
 * commits its cut). With @p append, *@p off becomes the end of the file.
 * @return whether it is held. */
static bool write_idle_lock(struct fs *fs, struct fs_inode *in, size_t size,
			    uint64_t *off, bool append)
{
	if (size == 0 || !fs_idle_lock(fs, in))
		return false;
	if (append)
		*off = in->a.size;
	if (in->buf.p && !in->wb_err && *off <= MAX_FILE &&
	    size <= MAX_FILE - *off && write_inside(fs, in, size, *off))
		return true;
	fs_unlock(fs);
	return false;
}

ssize_t fs_write(struct fs *fs, struct fs_file *fh, const void *buf,
		 size_t size, uint64_t off)
{
	ssize_t n;
	int err;

	if ((fh->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (write_idle_lock(fs, fh->inode, size, &off, fh->flags & O_APPEND)) {
		n = write_locked(fs, fh->inode, buf, size, off);
		fs_unlock(fs);
		return n;
	}
	fs_wrlock(fs);
	if (fh->flags & O_APPEND)
		off = fh->inode->a.size;
	n = write_locked(fs, fh->inode, buf, size, off);
	err = fs_wrunlock(fs, n < 0 ? (int)n : 0);
	return err ? err : n;
}

/* The writers were told the file as it is (flush, fsync, truncate): the
 * next writeback measures its failures from here. */
static void wb_end(struct fs_inode *in)
{
	in->wb_started = false;
}

/* Chunked file shrinks to @p size <= inline_max: content goes inline. */
static int to_inline(struct txn *tx, struct fs_inode *in, uint64_t size)
{
	struct fs *fs = tx->fs;
	size_t cap = fs->inline_max ? fs->inline_max : 1;
	char *nb = fsmem_calloc(1, cap);
	uint64_t n;
	ssize_t got;
	int err;

	if (!nb)
		return -ENOMEM;
	got = read_locked(fs, in, nb, (size_t)size, 0);
	err = got < 0 ? (int)got : 0;
	if (!err)
		err = store_delete_range(tx, KEY_CHUNK, in->ino, 0, &n);
	if (err) {
		free(nb);
		return err;
	}
	free(in->buf.p);
	in->buf.p = nb;
	in->buf.cap = cap;
	in->buf.cvalid = false;
	in->a.nchunks = 0;
	in->a.flags |= INODE_F_INLINE;
	in->a.size = size;
	in->cdirty = true;
	return 0;
}

/* Chunked file shrinks: drop the chunks past the end, trim the last. */
static int shrink(struct txn *tx, struct fs_inode *in, uint64_t size)
{
	uint64_t cs = tx->fs->chunk_size, first_gone = (size + cs - 1) / cs, n;
	size_t part = (size_t)(size % cs), len;
	uint8_t key[CHUNK_KEY_LEN];
	void *val = NULL;
	int err;

	err = store_delete_range(tx, KEY_CHUNK, in->ino, first_gone, &n);
	if (err)
		return err;
	in->a.nchunks -= n < in->a.nchunks ? n : in->a.nchunks;
	if (in->buf.cvalid && in->buf.cidx >= first_gone)
		in->buf.cvalid = in->cdirty = false;
	in->a.size = size;
	if (part == 0)
		return 0;
	if (in->buf.cvalid && in->buf.cidx == size / cs) {
		memset(in->buf.p + part, 0, cs - part);
		in->cdirty = true;
		return 0;
	}
	chunk_key(key, in->ino, size / cs);
	err = gw_get_alloc(tx->fs, key, sizeof(key), &val, &len);
	if (err == -ENOENT)
		return 0;
	if (!err && len > part)
		err = txn_put(tx, key, sizeof(key), val, part);
	free(val);
	return err;
}

int file_truncate(struct txn *tx, struct fs_inode *in, uint64_t size)
{
	struct fs *fs = tx->fs;
	int err;

	if (size > MAX_FILE)
		return -EFBIG;
	/* The writers are told this size: a failed writeback's cut no
	 * longer holds (its error is still reported, once). */
	wb_end(in);
	in->wb_limit = MAX_FILE;
	in->adirty = true;
	if (in->a.flags & INODE_F_INLINE) {
		err = store_load_inline(fs, in);
		if (err)
			return err;
		if (size > fs->inline_max) {
			err = to_chunked(fs, in);
		} else if (size < in->a.size) {
			memset(in->buf.p + size, 0, in->a.size - size);
			in->cdirty = true;
		}
		in->a.size = size;
		return err;
	}
	if (size >= in->a.size) {
		in->a.size = size;
		return 0;
	}
	tx->excl = true; /* it deletes chunks below the old size */
	if (size <= fs->inline_max)
		return to_inline(tx, in, size);
	return shrink(tx, in, size);
}

/* What opening @p in can fail at: a handle (*@p out, not attached yet: the
 * caller's to free() or open_attach()) and an inline file's buffer. */
static int open_prepare(struct fs *fs, struct fs_inode *in, int flags,
			struct fs_file **out)
{
	struct fs_file *fh;
	int err = 0;

	*out = NULL;
	if ((in->a.mode & S_IFMT) == S_IFDIR)
		return -EISDIR;
	if (fs->read_only && (flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fh = fsmem_calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	if (in->a.flags & INODE_F_INLINE)
		err = store_load_inline(fs, in);
	if (err) {
		free(fh);
		return err;
	}
	fh->flags = flags;
	*out = fh;
	return 0;
}

/* The handle @p fh of open_prepare() opens @p in; cannot fail. */
static void open_attach(struct fs *fs, struct fs_file *fh, struct fs_inode *in)
{
	fh->inode = in;
	fh->next = fs->files;
	if (fs->files)
		fs->files->prev = fh;
	fs->files = fh;
	in->nopen++;
}

static int open_inode(struct fs *fs, struct fs_inode *in, int flags,
		      struct fs_file **out)
{
	int err = open_prepare(fs, in, flags, out);

	if (!err)
		open_attach(fs, *out, in);
	return err;
}

/* Zero [@p off, @p end) inside the file, adding to @p b: the parts of
 * chunks at its ends are written with zeros, whole chunks are deleted. */
static int punch(struct txn *tx, struct fs_inode *in, uint64_t off,
		 uint64_t end)
{
	uint64_t cs = tx->fs->chunk_size, first = (off + cs - 1) / cs;
	uint64_t last = end / cs; /* chunks [first, last) are wholly inside */
	uint64_t head = first * cs < end ? first * cs : end;
	uint64_t tail = last * cs > head ? last * cs : head;
	uint8_t key[CHUNK_KEY_LEN];
	char *zeros;
	int err = 0;

	if (in->a.flags & INODE_F_INLINE) {
		memset(in->buf.p + off, 0, end - off);
		in->cdirty = true;
		return 0;
	}
	tx->excl = true; /* it deletes chunks inside the file */
	if (in->buf.cvalid && in->buf.cidx >= first && in->buf.cidx < last)
		in->buf.cvalid = in->cdirty = false;
	zeros = fsmem_calloc(1, cs);
	if (!zeros)
		return -ENOMEM;
	if (off < head)
		err = write_chunks(tx, in, zeros, head - off, off, in->a.size);
	if (!err && tail < end)
		err = write_chunks(tx, in, zeros, end - tail, tail, in->a.size);
	free(zeros);
	for (uint64_t i = first; !err && i < last; i++) {
		chunk_key(key, in->ino, i);
		err = gw_exists(tx->fs, key, sizeof(key));
		if (err == 1) {
			err = txn_delete(tx, key, sizeof(key));
			in->a.nchunks -= in->a.nchunks ? 1 : 0;
		}
	}
	return err;
}

/* Set the size to @p off (@p end 0) or zero [@p off, @p end) (a hole
 * punch), with new mtime and ctime: one transaction. */
static int content_commit(struct fs *fs, struct fs_inode *in, uint64_t off,
			  uint64_t end)
{
	struct txn tx;
	int err;

	txn_begin(fs, &tx);
	tx.frees = end || off <= in->a.size;
	err = txn_hold_data(&tx, in);
	if (!err) {
		in->a.mtime = in->a.ctime = fs_now();
		err = end ? punch(&tx, in, off, end)
			  : file_truncate(&tx, in, off);
	}
	if (!err)
		err = store_put_inode(&tx, in);
	return txn_finish(&tx, err);
}

/* A writeback at @p off failed with @p err: cut the file back to @p off
 * (not below wb_base) and keep it there until the error is reported. */
static void wb_failed(struct fs *fs, struct fs_inode *in, uint64_t off, int err)
{
	uint64_t cut = off > in->wb_base ? off : in->wb_base;
	char msg[160];
	int cerr = 0;

	if (in->wb_err && in->wb_limit < cut)
		cut = in->wb_limit;
	/* A freeing commit (the space reserve allows it on a full disk). If
	 * it fails too, the store refuses writes and the file keeps a size
	 * past bytes never stored (zeros): the writer hears of the failed
	 * writeback at its flush, the operator of the zeros here. */
	if (in->a.size > cut)
		cerr = content_commit(fs, in, cut, 0);
	if (cerr) {
		snprintf(msg, sizeof(msg),
			 "inode %llu: a writeback failed and cutting the file "
			 "back to %llu bytes failed too (%s): bytes past it "
			 "read as zeros",
			 (unsigned long long)in->ino, (unsigned long long)cut,
			 strerror(-cerr));
		fs_log(fs, msg);
	}
	/* (after the cut's truncate, which lifts any cut and ends wb) */
	in->wb_limit = cut;
	if (!in->wb_err)
		in->wb_err = err;
	in->wb_started = true; /* the cut is not the writers' truncate */
}

static ssize_t writeback_locked(struct fs *fs, struct fs_inode *in,
				const void *buf, size_t size, uint64_t off)
{
	if (!in->wb_started) {
		in->wb_started = true;
		in->wb_base = in->a.size;
	}
	if (in->wb_err && (off >= in->wb_limit || size > in->wb_limit - off))
		return in->wb_err;
	return write_locked(fs, in, buf, size, off);
}

ssize_t fs_writeback(struct fs *fs, struct fs_file *fh, const void *buf,
		     size_t size, uint64_t off)
{
	struct fs_inode *in = fh->inode;
	ssize_t n;
	int err;

	if ((fh->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (write_idle_lock(fs, in, size, &off, false)) {
		n = writeback_locked(fs, in, buf, size, off);
		fs_unlock(fs);
		return n;
	}
	fs_wrlock(fs);
	n = writeback_locked(fs, in, buf, size, off);
	if (n < 0)
		wb_failed(fs, in, off, (int)n);
	err = fs_wrunlock(fs, n < 0 ? (int)n : 0);
	return err ? err : n;
}

/* An open or create that fails after the file was opened (the truncate,
 * or the wait for durability after the lock) closes it again: the caller
 * gets no handle to release. @return @p err. */
static int unopen(struct fs *fs, int err, struct fs_file **fh)
{
	if (err && *fh) {
		fs_release(fs, *fh);
		*fh = NULL;
	}
	return err;
}

/* fs_open() without O_TRUNC, an idle operation: @return false (nothing
 * done) if it must take wmu after all: the commit being written holds the
 * inode, or the open failed and would free it while that commit is
 * written. Else *@p err is the open's result. */
static bool open_idle(struct fs *fs, uint64_t ino, int flags,
		      struct fs_file **out, int *err)
{
	struct fs_inode *in = NULL;

	fs_stop_readers(fs);
	*err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!*err && fs_in_commit(fs, in)) {
		fs_unlock(fs);
		return false;
	}
	if (!*err)
		*err = open_prepare(fs, in, flags, out);
	if (*err && in && fs->window) {
		fs_unlock(fs);
		return false;
	}
	if (!*err)
		open_attach(fs, *out, in);
	else if (in)
		itable_drop_unused(fs, in);
	fs_unlock(fs);
	return true;
}

int fs_open(struct fs *fs, uint64_t ino, int flags, struct fs_file **out)
{
	struct fs_inode *in;
	int err;

	*out = NULL;
	if (!(flags & O_TRUNC) && open_idle(fs, ino, flags, out, &err))
		return err;
	fs_wrlock(fs);
	err = itable_get(fs, ino, 0, NULL, 0, &in);
	if (!err)
		err = open_inode(fs, in, flags, out);
	/* As Linux: O_TRUNC truncates even with O_RDONLY (the kernel has
	 * checked write permission), and marks mtime/ctime even when the
	 * file is already empty (POSIX open()). */
	if (!err && (flags & O_TRUNC))
		err = content_commit(fs, in, 0, 0);
	if (err && in && !*out)
		itable_drop_unused(fs, in);
	return unopen(fs, fs_wrunlock(fs, err), out);
}

int fs_create(struct fs *fs, uint64_t parent, const char *name, mode_t mode,
	      const struct fs_cred *cred, int flags, struct stat *st,
	      struct fs_file **fh)
{
	struct fs_inode *in;
	struct txn tx;
	uint64_t made;
	int err;

	*fh = NULL;
	fs_wrlock(fs);
	txn_begin(fs, &tx);
	err = dir_create(&tx, parent, name, S_IFREG | (mode & 07777), 0, cred,
			 &in);
	/* The handle before the commit: a file created is a file opened. */
	if (!err)
		err = open_prepare(fs, in, flags, fh);
	if (!err)
		err = store_put_inode(&tx, in);
	err = txn_finish(&tx, err);
	if (err) {
		free(*fh);
		*fh = NULL;
		inode_free(in);
		return fs_wrunlock(fs, err);
	}
	in = dir_created(fs, in, 1);
	open_attach(fs, *fh, in);
	inode_to_stat(fs, in, st);
	made = in->ino;
	err = unopen(fs, fs_wrunlock(fs, 0), fh);
	return namei_unlook(fs, err, made);
}

/* fs_flush() with fs->lock (write) held. */
static int flush_locked(struct fs *fs, struct fs_file *fh)
{
	struct fs_inode *in = fh->inode;
	int err;

	err = store_flush_inode(fs, in);
	/* A writer hears of a failed writeback here, once. */
	if ((fh->flags & O_ACCMODE) != O_RDONLY) {
		if (!err)
			err = in->wb_err;
		in->wb_err = 0;
		wb_end(in);
	}
	return err;
}

int fs_flush(struct fs *fs, struct fs_file *fh)
{
	int err;

	/* Idle (internal.h) when the store holds what memory does. */
	if (fs_idle_lock(fs, fh->inode)) {
		if (!inode_unstored(fh->inode)) {
			err = flush_locked(fs, fh);
			fs_unlock(fs);
			return err;
		}
		fs_unlock(fs);
	}
	fs_wrlock(fs);
	return fs_wrunlock(fs, flush_locked(fs, fh));
}

int fs_fsync(struct fs *fs, struct fs_file *fh, bool datasync)
{
	int err;

	(void)datasync; /* metadata lives in the same log: both are one */
	fs_wrlock(fs);
	err = flush_locked(fs, fh);
	/* Everything written so far, durable: one wait, after the lock (the
	 * flush's commit is part of the log it owes). */
	if (!err)
		err = txn_owe_log(fs);
	return fs_wrunlock(fs, err);
}

int fs_sync(struct fs *fs)
{
	int err = 0;

	/* What open files buffer was written too: stored first, as a flush
	 * of each would (the store's fdatasync alone left it out). */
	fs_wrlock(fs);
	for (struct fs_file *fh = fs->files; fh && !err; fh = fh->next)
		err = store_flush_inode(fs, fh->inode);
	err = fs_wrunlock(fs, err);
	return err ? err : gw_sync(fs);
}

/* The last release of an unlinked inode: its keys go. */
static int reclaim(struct fs *fs, struct fs_inode *in)
{
	struct txn tx;
	int err;

	txn_begin(fs, &tx);
	tx.frees = true;
	err = txn_finish(&tx, store_delete_inode(&tx, in->ino));
	if (!err) {
		in->removed = true;
		fs->inodes--;
	}
	return err;
}

/* Whether releasing @p fh commits: it flushes a dirty linked file, and
 * the last release of an unlinked one reclaims it. */
static bool release_commits(const struct fs *fs, const struct fs_file *fh)
{
	const struct fs_inode *in = fh->inode;

	if (in->a.nlink)
		return inode_unstored(in);
	return in->nopen == 1 && !fs->read_only;
}

/* fs_release() with the writers' locks, or the idle lock when it commits
 * nothing. */
static int release_locked(struct fs *fs, struct fs_file *fh)
{
	struct fs_inode *in = fh->inode;
	int err = 0;

	if (fh->prev)
		fh->prev->next = fh->next;
	else
		fs->files = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	if (in->a.nlink)
		err = store_flush_inode(fs, in);
	in->nopen--;
	if (in->nopen == 0) {
		in->wb_err = 0; /* no writer is left to tell */
		wb_end(in);
	}
	if (in->nopen == 0 && in->a.nlink == 0 && !fs->read_only)
		err = reclaim(fs, in);
	file_idle(in);
	itable_drop_unused(fs, in);
	return err;
}

int fs_release(struct fs *fs, struct fs_file *fh)
{
	struct fs_inode *in;
	int err;

	if (!fh)
		return 0;
	in = fh->inode;
	/* Idle (internal.h) when it commits nothing, and frees no inode
	 * while a commit is written. */
	if (fs_idle_lock(fs, in)) {
		if (!release_commits(fs, fh) &&
		    (!fs->window || inode_kept(in, in->nopen - 1))) {
			err = release_locked(fs, fh);
			fs_unlock(fs);
			free(fh);
			return err;
		}
		fs_unlock(fs);
	}
	fs_wrlock(fs);
	err = fs_wrunlock(fs, release_locked(fs, fh));
	free(fh);
	return err;
}

/* fallocate mode 0: the size grows to @p end at least, and the holes of
 * [@p off, @p end) are reserved (resv.c): one transaction. */
static int allocate(struct fs *fs, struct fs_inode *in, uint64_t off,
		    uint64_t end)
{
	struct txn tx;
	int err;

	txn_begin(fs, &tx);
	err = txn_hold_data(&tx, in);
	if (!err && end > in->a.size) {
		in->a.mtime = in->a.ctime = fs_now();
		err = file_truncate(&tx, in, end);
	}
	if (!err)
		err = resv_add(&tx, in, off, end);
	if (!err && txn_changes(&tx))
		err = store_put_inode(&tx, in);
	return txn_finish(&tx, err);
}

int fs_fallocate(struct fs *fs, struct fs_file *fh, int mode, uint64_t off,
		 uint64_t len)
{
	struct fs_inode *in = fh->inode;
	int err = 0;

	if (len == 0 || off > MAX_FILE || len > MAX_FILE - off)
		return len == 0 ? -EINVAL : -EFBIG;
	if ((fh->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	fs_wrlock(fs);
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
		if (off < in->a.size)
			err = content_commit(fs, in, off,
					     len < in->a.size - off
						     ? off + len
						     : in->a.size);
	} else if (mode == 0) {
		err = allocate(fs, in, off, off + len);
	} else if (mode != FALLOC_FL_KEEP_SIZE) {
		err = -EOPNOTSUPP;
	}
	return fs_wrunlock(fs, err);
}

/* The first chunk index >= @p idx that holds data (@p data) or not
 * (UINT64_MAX for no more data). */
static int next_chunk(struct fs *fs, struct fs_inode *in, uint64_t idx,
		      bool data, uint64_t *out)
{
	struct gw_scan s;
	const uint8_t *k;
	uint64_t key_idx;
	size_t klen;
	int err = store_scan_inode(fs, &s, KEY_CHUNK, in->ino, idx);

	for (; err >= 0; idx++) {
		key_idx = UINT64_MAX;
		if (err > 0) {
			k = gw_scan_key(&s, &klen);
			key_idx = get_be64(k + INO_KEY_LEN);
		}
		if (data) {
			if (in->buf.cvalid && in->buf.cidx >= idx &&
			    in->buf.cidx < key_idx)
				key_idx = in->buf.cidx;
			idx = key_idx;
			break;
		}
		if (key_idx != idx && !(in->buf.cvalid && in->buf.cidx == idx))
			break;
		if (key_idx == idx)
			err = gw_scan_next(&s);
	}
	gw_scan_close(&s);
	*out = idx;
	return err < 0 ? err : 0;
}

off_t fs_lseek(struct fs *fs, struct fs_file *fh, off_t off, int whence)
{
	struct fs_inode *in = fh->inode;
	uint64_t cs = fs->chunk_size, pos = (uint64_t)off, idx;
	int err = 0;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0)
		return -ENXIO;
	fs_rdlock(fs);
	if (pos >= in->a.size) {
		err = -ENXIO;
	} else if (in->a.flags & INODE_F_INLINE) {
		if (whence == SEEK_HOLE)
			pos = in->a.size;
	} else {
		err = next_chunk(fs, in, pos / cs, whence == SEEK_DATA, &idx);
		if (!err && idx != pos / cs)
			pos = idx > in->a.size / cs ? in->a.size : idx * cs;
		if (!err && whence == SEEK_DATA && pos >= in->a.size)
			err = -ENXIO;
	}
	fs_unlock(fs);
	return err ? err : (off_t)pos;
}
