/*
 * test_powerloss.c - power-loss simulation of the engine. A recording I/O
 * table (io_set_ops) logs, in order, every file creation, write, truncate,
 * fdatasync/fsync, rename and unlink a real workload issues (random puts,
 * deletes, batches, syncs, merges and hint passes over 8 KiB segments).
 * Then, for many crash points k of that log and random choices of what the
 * page cache had written back, the directory a power cut at k could leave is
 * rebuilt:
 *
 *   - a file holds every write made before its last fdatasync/fsync; each
 *     later write is dropped, kept, or kept in part (torn at a random byte,
 *     or only some of its 4 KiB pages), in one of four modes;
 *   - names (create, rename, unlink) are durable once the directory was
 *     fsync'ed; later ones are all done, none, an ordered prefix, or (the
 *     POSIX-permissive model) any subset.
 *
 * The rebuilt store must open (no CASK_ECORRUPT), pass cask_verify after
 * close, and hold exactly the state after some prefix of the workload's
 * operations that includes every operation acknowledged as durable before
 * k (sync=always writes, CASK_COMMIT_SYNC commits, anything before a
 * returned cask_sync, a CASK_COMMIT_NOWAIT put or delete and everything
 * before it once cask_wait_durable returned for its position, possibly
 * many operations later): nothing acknowledged is lost, no batch is partly
 * visible, no key holds a value it never had, no deleted key comes back.
 *
 * Seeded: CASK_SEED=N repeats a run (the merge thread's timing may still
 * differ); CASK_POWERLOSS_SECONDS bounds each workload's scenarios
 * (default 6). A failing scenario's directory is kept under TEST_TMPDIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <sys/time.h>

/* ------------------------------------------------------------ recorder */

enum ev_type {
	EV_CREATE,  /* name -> new inode */
	EV_RENAME,  /* name -> name2 */
	EV_UNLINK,  /* name */
	EV_WRITE,   /* ino, off, data, len */
	EV_TRUNC,   /* ino, off = new size */
	EV_SYNC,    /* ino: writes before index `covers` are durable */
	EV_DIRSYNC, /* names changed before index `covers` are durable */
	EV_OPSTART, /* workload operation `op` starts */
	EV_ACK,	    /* operations [0, op) are acknowledged durable */
};

#define NAME_LEN 64

struct ev {
	enum ev_type type;
	int ino;
	char name[NAME_LEN], name2[NAME_LEN];
	uint64_t off;
	uint8_t *data;
	size_t len;
	size_t covers;
	size_t op;
};

struct dentry {
	char name[NAME_LEN];
	int ino;
};

#define MAX_FD	 4096
#define MAX_NAME 1024

static struct {
	pthread_mutex_t mu;
	struct ev *v;
	size_t n, cap;
	int nino;
	int fd_ino[MAX_FD]; /* -1: not a tracked file */
	struct dentry names[MAX_NAME];
	int nnames;
	dev_t dir_dev;
	ino_t dir_ino;
} rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct ev *ev_add(enum ev_type t)
{
	struct ev *e;

	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? rec.cap * 2 : 1024;
		rec.v = realloc(rec.v, rec.cap * sizeof(*rec.v));
		assert_non_null(rec.v);
	}
	e = &rec.v[rec.n++];
	memset(e, 0, sizeof(*e));
	e->type = t;
	e->ino = -1;
	return e;
}

static int ns_find(struct dentry *ns, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ns[i].name, name))
			return i;
	return -1;
}

/* Apply a create/rename/unlink to namespace @ns of *@n entries. */
static void ns_apply(struct dentry *ns, int *n, const struct ev *e)
{
	int i = ns_find(ns, *n, e->name), j;

	switch (e->type) {
	case EV_CREATE:
		if (i < 0) {
			assert_true(*n < MAX_NAME);
			i = (*n)++;
			snprintf(ns[i].name, NAME_LEN, "%s", e->name);
		}
		ns[i].ino = e->ino;
		break;
	case EV_RENAME:
		if (i < 0)
			break; /* its creation was lost */
		j = ns_find(ns, *n, e->name2);
		if (j >= 0) {
			ns[j].ino = ns[i].ino;
			ns[i] = ns[--(*n)];
		} else {
			snprintf(ns[i].name, NAME_LEN, "%s", e->name2);
		}
		break;
	case EV_UNLINK:
		if (i >= 0)
			ns[i] = ns[--(*n)];
		break;
	default:
		break;
	}
}

static bool is_store_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_dev == rec.dir_dev && st.st_ino == rec.dir_ino;
}

static int r_open(int dirfd, const char *name, int flags, mode_t mode)
{
	int fd, i;

	pthread_mutex_lock(&rec.mu);
	i = ns_find(rec.names, rec.nnames, name);
	fd = io_default_ops.open(dirfd, name, flags, mode);
	if (fd >= 0 && fd < MAX_FD && is_store_dir(dirfd)) {
		if (i < 0) {
			struct ev *e = ev_add(EV_CREATE);

			assert_true(flags & O_CREAT);
			snprintf(e->name, NAME_LEN, "%s", name);
			e->ino = rec.nino++;
			ns_apply(rec.names, &rec.nnames, e);
			i = ns_find(rec.names, rec.nnames, name);
		} else if (flags & O_TRUNC) {
			struct ev *e = ev_add(EV_TRUNC);

			e->ino = rec.names[i].ino;
		}
		rec.fd_ino[fd] = rec.names[i].ino;
	}
	pthread_mutex_unlock(&rec.mu);
	return fd;
}

static ssize_t r_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t n;

	pthread_mutex_lock(&rec.mu);
	n = io_default_ops.pwritev(fd, iov, cnt, off);
	if (n > 0 && fd < MAX_FD && rec.fd_ino[fd] >= 0) {
		struct ev *e = ev_add(EV_WRITE);
		size_t done = 0;

		e->ino = rec.fd_ino[fd];
		e->off = (uint64_t)off;
		e->len = (size_t)n;
		e->data = malloc((size_t)n);
		assert_non_null(e->data);
		for (int i = 0; i < cnt && done < (size_t)n; i++) {
			size_t l = iov[i].iov_len;

			if (l > (size_t)n - done)
				l = (size_t)n - done;
			memcpy(e->data + done, iov[i].iov_base, l);
			done += l;
		}
	}
	pthread_mutex_unlock(&rec.mu);
	return n;
}

static int r_sync(int fd, bool data_only)
{
	int rc;

	pthread_mutex_lock(&rec.mu);
	rc = data_only ? io_default_ops.fdatasync(fd)
		       : io_default_ops.fsync(fd);
	if (!rc && fd < MAX_FD && rec.fd_ino[fd] >= 0) {
		struct ev *e = ev_add(EV_SYNC);

		e->ino = rec.fd_ino[fd];
		e->covers = rec.n - 1;
	} else if (!rc && is_store_dir(fd)) {
		struct ev *e = ev_add(EV_DIRSYNC);

		e->covers = rec.n - 1;
	}
	pthread_mutex_unlock(&rec.mu);
	return rc;
}

static int r_fdatasync(int fd)
{
	return r_sync(fd, true);
}

static int r_fsync(int fd)
{
	return r_sync(fd, false);
}

static int r_ftruncate(int fd, off_t len)
{
	int rc;

	pthread_mutex_lock(&rec.mu);
	rc = io_default_ops.ftruncate(fd, len);
	if (!rc && fd < MAX_FD && rec.fd_ino[fd] >= 0) {
		struct ev *e = ev_add(EV_TRUNC);

		e->ino = rec.fd_ino[fd];
		e->off = (uint64_t)len;
	}
	pthread_mutex_unlock(&rec.mu);
	return rc;
}

static int r_renameat(int dirfd, const char *from, const char *to)
{
	int rc;

	pthread_mutex_lock(&rec.mu);
	rc = io_default_ops.renameat(dirfd, from, to);
	if (!rc && is_store_dir(dirfd)) {
		struct ev *e = ev_add(EV_RENAME);

		snprintf(e->name, NAME_LEN, "%s", from);
		snprintf(e->name2, NAME_LEN, "%s", to);
		ns_apply(rec.names, &rec.nnames, e);
	}
	pthread_mutex_unlock(&rec.mu);
	return rc;
}

static int r_unlinkat(int dirfd, const char *name)
{
	int rc;

	pthread_mutex_lock(&rec.mu);
	rc = io_default_ops.unlinkat(dirfd, name);
	if (!rc && is_store_dir(dirfd)) {
		struct ev *e = ev_add(EV_UNLINK);

		snprintf(e->name, NAME_LEN, "%s", name);
		ns_apply(rec.names, &rec.nnames, e);
	}
	pthread_mutex_unlock(&rec.mu);
	return rc;
}

static int r_close(int fd)
{
	pthread_mutex_lock(&rec.mu);
	if (fd >= 0 && fd < MAX_FD)
		rec.fd_ino[fd] = -1;
	pthread_mutex_unlock(&rec.mu);
	return io_default_ops.close(fd);
}

static struct io_ops rec_ops;

/* The workload runs in a boot of its own: the rebuilt store is opened in
 * the running kernel's, as after the power cut it simulates. */
static int r_boot_id(uint8_t id[IO_BOOT_ID_SIZE])
{
	memset(id, 0x5a, IO_BOOT_ID_SIZE);
	return 0;
}

/* Start recording the store in @dir (which exists and is empty). */
static void rec_start(const char *dir)
{
	struct stat st;

	assert_int_equal(stat(dir, &st), 0);
	pthread_mutex_lock(&rec.mu);
	rec.n = 0;
	rec.nino = 0;
	rec.nnames = 0;
	rec.dir_dev = st.st_dev;
	rec.dir_ino = st.st_ino;
	for (int i = 0; i < MAX_FD; i++)
		rec.fd_ino[i] = -1;
	pthread_mutex_unlock(&rec.mu);
	rec_ops = (struct io_ops){
		.open = r_open,
		.pwritev = r_pwritev,
		.pread = io_default_ops.pread,
		.fdatasync = r_fdatasync,
		.fsync = r_fsync,
		.ftruncate = r_ftruncate,
		.fallocate = io_default_ops.fallocate, /* the reserve only */
		.renameat = r_renameat,
		.unlinkat = r_unlinkat,
		.close = r_close,
		.boot_id = r_boot_id,
	};
	io_set_ops(&rec_ops);
}

static void rec_mark(enum ev_type t, size_t op)
{
	pthread_mutex_lock(&rec.mu);
	ev_add(t)->op = op;
	pthread_mutex_unlock(&rec.mu);
}

static void rec_free(void)
{
	for (size_t i = 0; i < rec.n; i++)
		free(rec.v[i].data);
	free(rec.v);
	rec.v = NULL;
	rec.n = rec.cap = 0;
}

/* ------------------------------------------------------------ workload */

#define NKEYS 48

struct kv {
	uint8_t *v; /* NULL: absent */
	size_t len;
};

struct wop {
	int nk;
	int key[8];
	struct kv val[8]; /* v NULL: delete */
};

static struct {
	struct wop *v;
	size_t n, cap;
} ops;

static void key_name(char *buf, int k)
{
	snprintf(buf, 8, "k%02d", k);
}

static struct kv make_value(uint64_t *rng, size_t op, int k)
{
	struct kv v;
	size_t len = 12 + tu_rand(rng) % 360;

	if (tu_rand(rng) % 16 == 0)
		len = 1500 + tu_rand(rng) % 1500; /* spans pages */
	v.v = malloc(len);
	assert_non_null(v.v);
	v.len = len;
	for (size_t i = 0; i < len; i++)
		v.v[i] = (uint8_t)('a' + (i + op * 7 + (size_t)k) % 26);
	snprintf((char *)v.v, len, "op%zu-k%d-", op, k);
	return v;
}

static struct wop *op_new(void)
{
	if (ops.n == ops.cap) {
		ops.cap = ops.cap ? ops.cap * 2 : 256;
		ops.v = realloc(ops.v, ops.cap * sizeof(*ops.v));
		assert_non_null(ops.v);
	}
	memset(&ops.v[ops.n], 0, sizeof(ops.v[0]));
	return &ops.v[ops.n];
}

static void ops_free(void)
{
	for (size_t i = 0; i < ops.n; i++)
		for (int j = 0; j < ops.v[i].nk; j++)
			free(ops.v[i].val[j].v);
	free(ops.v);
	memset(&ops, 0, sizeof(ops));
}

/* The live state of the running workload (for skipping no-op deletes). */
static bool live[NKEYS];

/* Run the workload on @dir, recording. @always: CASK_SYNC_ALWAYS. */
static void run_workload(const char *dir, uint64_t *rng, bool always, int nops)
{
	struct cask_options o = tu_opts(8192);
	struct cask_db *db;
	struct cask_batch *b;
	char k[8];
	/* The oldest put or delete committed with CASK_COMMIT_NOWAIT and
	 * not yet waited for: its position and the operations it covers. */
	uint64_t wait_pos = 0;
	size_t wait_n = 0;

	o.sync_mode = always ? CASK_SYNC_ALWAYS : CASK_SYNC_NEVER;
	/* Explicit merges pick segments by ratio; none starts by itself
	 * (but hint passes still run after each rotation). */
	o.merge_dead_ratio = 0.3;
	o.merge_min_dead_bytes = UINT64_MAX;
	memset(live, 0, sizeof(live));
	rec_start(dir);
	db = tu_open(dir, &o);
	assert_int_equal(cask_batch_new(db, &b), 0);
	for (int n = 0; n < nops; n++) {
		unsigned r = (unsigned)(tu_rand(rng) % 100);
		struct wop *w = op_new();
		size_t id = ops.n;
		bool acked = always;

		if (r < 60) { /* put or delete */
			w->nk = 1;
			w->key[0] = (int)(tu_rand(rng) % NKEYS);
			if (tu_rand(rng) % 4 == 0 && live[w->key[0]])
				w->val[0] = (struct kv){0};
			else
				w->val[0] = make_value(rng, id, w->key[0]);
		} else if (r < 85) { /* batch */
			w->nk = 2 + (int)(tu_rand(rng) % 6);
			for (int j = 0; j < w->nk; j++) {
				w->key[j] = (int)(tu_rand(rng) % NKEYS);
				if (tu_rand(rng) % 4 == 0)
					w->val[j] = (struct kv){0};
				else
					w->val[j] =
						make_value(rng, id, w->key[j]);
			}
		} else if (r < 88) { /* cask_sync */
			assert_int_equal(cask_sync(db), 0);
			rec_mark(EV_ACK, id);
			continue;
		} else if (r < 93) { /* second phase of a NOWAIT commit */
			if (wait_pos) {
				assert_int_equal(
					cask_wait_durable(db, wait_pos,
							  CASK_COMMIT_SYNC),
					0);
				rec_mark(EV_ACK, wait_n);
				wait_pos = 0;
			}
			continue;
		} else { /* merge, waited for */
			struct cask_merge_options mo = {.all = tu_rand(rng) % 2,
							.wait = true};

			assert_int_equal(cask_merge(db, &mo), 0);
			continue;
		}
		ops.n++;
		rec_mark(EV_OPSTART, id);
		if (w->nk == 1) {
			unsigned flags = 0;
			uint64_t pos;

			/* Durable only once waited for, whatever the mode. */
			if (tu_rand(rng) % 3 == 0) {
				flags = CASK_COMMIT_NOWAIT;
				acked = false;
			}
			key_name(k, w->key[0]);
			if (w->val[0].v)
				assert_int_equal(cask_put_pos(db, k, 3,
							      w->val[0].v,
							      w->val[0].len, 0,
							      flags, &pos),
						 0);
			else
				assert_int_equal(
					cask_delete_pos(db, k, 3, flags, &pos),
					0);
			if (flags && !wait_pos) {
				wait_pos = pos;
				wait_n = ops.n;
			}
		} else {
			unsigned flags = 0;

			for (int j = 0; j < w->nk; j++) {
				key_name(k, w->key[j]);
				if (w->val[j].v)
					assert_int_equal(
						cask_batch_put(b, k, 3,
							       w->val[j].v,
							       w->val[j].len),
						0);
				else
					assert_int_equal(
						cask_batch_delete(b, k, 3), 0);
			}
			if (tu_rand(rng) % 2) {
				flags = CASK_COMMIT_SYNC;
				acked = true;
			}
			assert_int_equal(cask_batch_commit(b, flags), 0);
		}
		for (int j = 0; j < w->nk; j++)
			live[w->key[j]] = w->val[j].v != NULL;
		if (acked)
			rec_mark(EV_ACK, ops.n);
	}
	cask_batch_free(b);
	/* No close: the log ends where a power cut would leave it. The
	 * handle is closed after recording stops (its writes are not part
	 * of any scenario). */
	io_set_ops(NULL);
	assert_int_equal(cask_close(db), 0);
}

/* ------------------------------------------------------------ rebuild */

enum {
	FILE_DROP,
	FILE_KEEP,
	FILE_TORN,
	FILE_PAGES,
	FILE_MODES
};
enum {
	DIR_NONE,
	DIR_ALL,
	DIR_PREFIX,
	DIR_SUBSET,
	DIR_MODES
};
static const char *const file_mode_name[] = {"drop", "keep", "torn", "pages"};
static const char *const dir_mode_name[] = {"none", "all", "prefix", "subset"};

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_write(struct buf *b, uint64_t off, const uint8_t *d, size_t len)
{
	size_t end = (size_t)off + len;

	if (end > b->cap) {
		b->cap = end * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (off > b->len)
		memset(b->p + b->len, 0, (size_t)off - b->len);
	if (len)
		memcpy(b->p + off, d, len);
	if (end > b->len)
		b->len = end;
}

static void buf_trunc(struct buf *b, uint64_t len)
{
	if (len > b->len)
		buf_write(b, len, NULL, 0);
	b->len = (size_t)len;
}

static void apply_write(struct buf *b, const struct ev *e, size_t len)
{
	if (e->type == EV_TRUNC)
		buf_trunc(b, e->off);
	else
		buf_write(b, e->off, e->data, len);
}

/* Apply an unsynced write keeping only some of its 4 KiB pages. */
static void apply_pages(struct buf *b, const struct ev *e, uint64_t *rng)
{
	uint64_t pos = e->off;

	if (e->type == EV_TRUNC) {
		if (tu_rand(rng) % 2)
			buf_trunc(b, e->off);
		return;
	}
	while (pos < e->off + e->len) {
		uint64_t next = (pos / 4096 + 1) * 4096;

		if (next > e->off + e->len)
			next = e->off + e->len;
		if (tu_rand(rng) % 2)
			buf_write(b, pos, e->data + (pos - e->off),
				  (size_t)(next - pos));
		pos = next;
	}
}

struct scenario {
	size_t k;
	int dir_mode;
	int nfile_modes[FILE_MODES];
};

/* Content of inode @ino at crash point @k under @mode. */
static void rebuild_file(int ino, size_t k, int mode, uint64_t *rng,
			 struct buf *b)
{
	size_t covers = 0, nunsynced = 0, kept, torn_at;

	b->len = 0;
	for (size_t i = 0; i < k; i++)
		if (rec.v[i].type == EV_SYNC && rec.v[i].ino == ino)
			covers = rec.v[i].covers;
	for (size_t i = 0; i < k; i++) {
		const struct ev *e = &rec.v[i];

		if ((e->type != EV_WRITE && e->type != EV_TRUNC) ||
		    e->ino != ino)
			continue;
		if (i < covers)
			apply_write(b, e, e->len);
		else
			nunsynced++;
	}
	if (!nunsynced)
		return;
	kept = mode == FILE_TORN ? (size_t)(tu_rand(rng) % (nunsynced + 1))
				 : nunsynced;
	torn_at = kept;
	for (size_t i = covers, u = 0; i < k; i++) {
		const struct ev *e = &rec.v[i];

		if ((e->type != EV_WRITE && e->type != EV_TRUNC) ||
		    e->ino != ino)
			continue;
		switch (mode) {
		case FILE_KEEP:
			apply_write(b, e, e->len);
			break;
		case FILE_TORN:
			if (u < kept)
				apply_write(b, e, e->len);
			else if (u == torn_at && e->type == EV_WRITE)
				apply_write(b, e,
					    (size_t)(tu_rand(rng) % e->len));
			break;
		case FILE_PAGES:
			if (tu_rand(rng) % 3)
				apply_pages(b, e, rng);
			break;
		default: /* FILE_DROP */
			break;
		}
		u++;
	}
}

/* Write into @out the directory a power cut at @s->k could leave. */
static void rebuild(const char *out, struct scenario *s, uint64_t *rng)
{
	static struct dentry ns[MAX_NAME];
	size_t covers = 0;
	int n = 0;
	struct buf b = {0};

	for (size_t i = 0; i < s->k; i++)
		if (rec.v[i].type == EV_DIRSYNC)
			covers = rec.v[i].covers;
	{
		size_t nlater = 0, keep;

		for (size_t i = covers; i < s->k; i++)
			if (rec.v[i].type <= EV_UNLINK)
				nlater++;
		keep = (size_t)(tu_rand(rng) % (nlater + 1));
		for (size_t i = 0, u = 0; i < s->k; i++) {
			const struct ev *e = &rec.v[i];
			bool apply;

			if (e->type > EV_UNLINK)
				continue;
			if (i < covers) {
				ns_apply(ns, &n, e);
				continue;
			}
			switch (s->dir_mode) {
			case DIR_ALL:
				apply = true;
				break;
			case DIR_PREFIX:
				apply = u < keep;
				break;
			case DIR_SUBSET:
				apply = tu_rand(rng) % 2;
				break;
			default:
				apply = false;
				break;
			}
			if (apply)
				ns_apply(ns, &n, e);
			u++;
		}
	}
	assert_int_equal(mkdir(out, 0755), 0);
	for (int i = 0; i < n; i++) {
		char path[TU_PATH];
		int mode = (int)(tu_rand(rng) % FILE_MODES), fd;

		s->nfile_modes[mode]++;
		rebuild_file(ns[i].ino, s->k, mode, rng, &b);
		tu_path(path, out, ns[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
		close(fd);
	}
	free(b.p);
}

/* ------------------------------------------------------------ checking */

static void state_apply(struct kv *st, const struct wop *w)
{
	for (int j = 0; j < w->nk; j++)
		st[w->key[j]] = w->val[j];
}

static bool state_equal(const struct kv *a, const struct kv *b)
{
	for (int i = 0; i < NKEYS; i++) {
		if (!a[i].v != !b[i].v)
			return false;
		if (a[i].v &&
		    (a[i].len != b[i].len || memcmp(a[i].v, b[i].v, a[i].len)))
			return false;
	}
	return true;
}

/* Read the whole store into @got (values malloc()ed). @return false if a
 * key outside the workload's appeared. */
static bool read_store(struct cask_db *db, struct kv *got)
{
	struct cask_iter *it;
	bool ok = true;

	memset(got, 0, NKEYS * sizeof(*got));
	assert_int_equal(cask_iter_new(db, NULL, &it), 0);
	for (; cask_iter_valid(it); cask_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key = cask_iter_key(it, &klen);
		const void *val;
		int k;

		if (klen != 3 || key[0] != 'k' ||
		    sscanf((const char *)key + 1, "%2d", &k) != 1 || k < 0 ||
		    k >= NKEYS) {
			ok = false;
			continue;
		}
		assert_int_equal(cask_iter_value(it, &val, &vlen), 0);
		got[k].v = malloc(vlen ? vlen : 1);
		assert_non_null(got[k].v);
		memcpy(got[k].v, val, vlen);
		got[k].len = vlen;
	}
	cask_iter_free(it);
	return ok;
}

static void state_free(struct kv *st)
{
	for (int i = 0; i < NKEYS; i++)
		free(st[i].v);
}

/* Did key @k ever hold @v (in ops [0, upto))? */
static bool ever_had(int k, const struct kv *v, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		for (int j = 0; j < ops.v[i].nk; j++)
			if (ops.v[i].key[j] == k && ops.v[i].val[j].v &&
			    ops.v[i].val[j].len == v->len &&
			    !memcmp(ops.v[i].val[j].v, v->v, v->len))
				return true;
	return false;
}

/* Is key @k written by an op in [from, to)? */
static bool touched(int k, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		for (int j = 0; j < ops.v[i].nk; j++)
			if (ops.v[i].key[j] == k)
				return true;
	return false;
}

enum {
	BAD_OPEN,
	BAD_LOST,
	BAD_NEVER,
	BAD_BACK,
	BAD_PREFIX,
	BAD_VERIFY,
	BAD_FOREIGN,
	BAD_REOPEN,
	BAD_KINDS
};
static const char *const bad_name[] = {
	"open failed",
	"acknowledged write lost",
	"value the key never had",
	"deleted key came back",
	"no prefix of the history (torn batch or reordering)",
	"cask_verify found damage after recovery",
	"a key outside the workload appeared",
	"a second open saw another state",
};

struct tally {
	long scenarios, opens_with_tail;
	long bad[BAD_KINDS];
	long bad_by_dir[DIR_MODES];
	int kept;
};

static void log_count(void *arg, const char *msg)
{
	(void)msg;
	(*(long *)arg)++;
}

/* Explain why @got matches no state in [S_j, S_i]. */
static int classify(const struct kv *durable, const struct kv *got, size_t j,
		    size_t i, char *why, size_t n)
{
	for (int k = 0; k < NKEYS; k++) {
		if (got[k].v && !ever_had(k, &got[k], i)) {
			snprintf(why, n, "k%02d: %s", k, bad_name[BAD_NEVER]);
			return BAD_NEVER;
		}
	}
	for (int k = 0; k < NKEYS; k++) {
		bool same = !durable[k].v == !got[k].v &&
			    (!got[k].v ||
			     (got[k].len == durable[k].len &&
			      !memcmp(got[k].v, durable[k].v, got[k].len)));

		if (same || touched(k, j, i))
			continue;
		if (durable[k].v) {
			snprintf(why, n, "k%02d: %s", k, bad_name[BAD_LOST]);
			return BAD_LOST;
		}
		snprintf(why, n, "k%02d: %s", k, bad_name[BAD_BACK]);
		return BAD_BACK;
	}
	snprintf(why, n, "%s", bad_name[BAD_PREFIX]);
	if (tu_env_ull("CASK_POWERLOSS_DUMP", 0))
		for (int k = 0; k < NKEYS; k++)
			fprintf(stderr, "    k%02d durable %.12s got %.12s\n",
				k, durable[k].v ? (char *)durable[k].v : "-",
				got[k].v ? (char *)got[k].v : "-");
	return BAD_PREFIX;
}

/* Open the rebuilt store @dir and check it against ops [j, i]. */
static int check_store(const char *dir, size_t j, size_t i, long *logs,
		       bool reopen, char *why, size_t n)
{
	struct cask_options o = tu_opts(8192);
	struct kv st[NKEYS] = {0}, got[NKEYS];
	struct cask_verify_result vr;
	struct cask_db *db = NULL;
	int bad = -1, rc;
	size_t m;

	o.log = log_count;
	o.log_arg = logs;
	rc = cask_open(dir, &o, &db);
	if (rc) {
		snprintf(why, n, "cask_open: %s", cask_strerror(rc));
		return BAD_OPEN;
	}
	if (!read_store(db, got)) {
		snprintf(why, n, "%s", bad_name[BAD_FOREIGN]);
		bad = BAD_FOREIGN;
	}
	for (m = 0; m < j; m++)
		state_apply(st, &ops.v[m]);
	for (; bad < 0 && m <= i; m++) {
		if (state_equal(st, got))
			break;
		if (m < i)
			state_apply(st, &ops.v[m]);
	}
	if (bad < 0 && m > i) {
		struct kv durable[NKEYS] = {0};

		for (m = 0; m < j; m++)
			state_apply(durable, &ops.v[m]);
		bad = classify(durable, got, j, i, why, n);
	}
	assert_int_equal(cask_close(db), 0);
	if (bad < 0 && cask_verify(dir, NULL, &vr) != 0) {
		snprintf(why, n, "%llu damaged",
			 (unsigned long long)vr.damaged);
		bad = BAD_VERIFY;
	}
	if (bad < 0 && reopen) {
		struct kv again[NKEYS];

		assert_int_equal(cask_open(dir, &o, &db), 0);
		read_store(db, again);
		if (!state_equal(again, got)) {
			snprintf(why, n, "%s", bad_name[BAD_REOPEN]);
			bad = BAD_REOPEN;
		}
		state_free(again);
		assert_int_equal(cask_close(db), 0);
	}
	state_free(got);
	return bad;
}

/* Durable op count j and started op count i at crash point k. */
static void bounds_at(size_t k, size_t *j, size_t *i)
{
	*j = *i = 0;
	for (size_t x = 0; x < k; x++) {
		if (rec.v[x].type == EV_ACK && rec.v[x].op > *j)
			*j = rec.v[x].op;
		if (rec.v[x].type == EV_OPSTART && rec.v[x].op + 1 > *i)
			*i = rec.v[x].op + 1;
	}
	if (*i > ops.n)
		*i = ops.n;
}

static void describe_point(size_t k)
{
	size_t from = tu_env_ull("CASK_POWERLOSS_DUMP", 0) ? 0
		      : k > 4				   ? k - 4
							   : 0;

	for (size_t x = from; x < k; x++) {
		const struct ev *e = &rec.v[x];
		static const char *const tn[] = {"create",  "rename",  "unlink",
						 "write",   "trunc",   "sync",
						 "dirsync", "opstart", "ack"};

		fprintf(stderr,
			"    [%zu] %s ino=%d %s%s%s off=%llu len=%zu op=%zu\n",
			x, tn[e->type], e->ino, e->name,
			e->name2[0] ? "->" : "", e->name2,
			(unsigned long long)e->off, e->len, e->op);
	}
}

static void run_scenarios(const char *base, uint64_t seed, uint64_t *rng,
			  double seconds, struct tally *t)
{
	struct timeval t0, now;
	char dir[TU_PATH];
	size_t len = rec.n;
	bool debug = tu_env_ull("CASK_POWERLOSS_DUMP", 0);

	gettimeofday(&t0, NULL);
	for (long s = 0;; s++) {
		struct scenario sc = {0};
		size_t j, i;
		long logs = 0;
		char why[160] = "";
		int bad;

		gettimeofday(&now, NULL);
		if ((double)(now.tv_sec - t0.tv_sec) +
			    (now.tv_usec - t0.tv_usec) / 1e6 >
		    seconds)
			break;
		/* First sweep crash points evenly, then at random. */
		sc.k = s <= (long)len / 8 ? (size_t)s * 8
					  : (size_t)(tu_rand(rng) % (len + 1));
		if (sc.k > len)
			sc.k = len;
		sc.dir_mode = (int)(tu_rand(rng) % DIR_MODES);
		bounds_at(sc.k, &j, &i);
		tu_path(dir, base, "crash");
		tu_rm_rf(dir);
		rebuild(dir, &sc, rng);
		if (debug) {
			char orig[TU_PATH + 64];

			snprintf(orig, sizeof(orig), "%s/orig-%ld", base, s);
			tu_copy_dir(dir, orig);
		}
		bad = check_store(dir, j, i, &logs, s % 16 == 0, why,
				  sizeof(why));
		t->scenarios++;
		t->opens_with_tail += logs > 0;
		if (bad < 0)
			continue;
		t->bad[bad]++;
		t->bad_by_dir[sc.dir_mode]++;
		fprintf(stderr,
			"POWERLOSS FAIL seed=%llu scenario=%ld k=%zu/%zu "
			"dir=%s files(drop/keep/torn/pages)=%d/%d/%d/%d "
			"durable ops=%zu started=%zu: %s: %s\n",
			(unsigned long long)seed, s, sc.k, len,
			dir_mode_name[sc.dir_mode], sc.nfile_modes[0],
			sc.nfile_modes[1], sc.nfile_modes[2], sc.nfile_modes[3],
			j, i, bad_name[bad], why);
		describe_point(sc.k);
		if (t->kept < 5) {
			/* Rebuild again for the record (the open changed it). */
			char keep[TU_PATH + 64];

			snprintf(keep, sizeof(keep), "%s/fail-%d-k%zu", base,
				 t->kept++, sc.k);
			fprintf(stderr, "    store (after open) kept in %s\n",
				keep);
			rename(dir, keep);
		}
	}
	(void)file_mode_name;
}

static void powerloss(bool always)
{
	uint64_t seed = tu_env_ull("CASK_SEED", (uint64_t)time(NULL)), rng;
	double seconds = (double)tu_env_ull("CASK_POWERLOSS_SECONDS", 6);
	char base[TU_PATH], dir[TU_PATH];
	struct tally t = {0};
	long total = 0;

	rng = seed * 2 + always;
	printf("powerloss %s: seed %llu (CASK_SEED=%llu to repeat)\n",
	       always ? "sync=always" : "sync=never+syncs",
	       (unsigned long long)seed, (unsigned long long)seed);
	tu_tmpdir(base, sizeof(base), "powerloss");
	tu_path(dir, base, "store");
	assert_int_equal(mkdir(dir, 0755), 0);
	run_workload(dir, &rng, always, always ? 300 : 500);
	printf("  log: %zu events, %zu operations\n", rec.n, ops.n);

	run_scenarios(base, seed, &rng, seconds, &t);
	for (int b = 0; b < BAD_KINDS; b++) {
		total += t.bad[b];
		if (t.bad[b])
			printf("  FAILED %ld: %s\n", t.bad[b], bad_name[b]);
	}
	for (int d = 0; d < DIR_MODES; d++)
		if (t.bad_by_dir[d])
			printf("  failures with directory mode %s: %ld\n",
			       dir_mode_name[d], t.bad_by_dir[d]);
	printf("  %ld scenarios, %ld with a logged recovery action, "
	       "%ld failed\n",
	       t.scenarios, t.opens_with_tail, total);
	rec_free();
	ops_free();
	if (!total)
		tu_rm_rf(base);
	assert_int_equal(total, 0);
}

/*
 * Regression (merge.c, min_seq of merge outputs): a key merged into an
 * output, then deleted, then the tombstone's segment merged without the
 * output: the key must stay deleted after reopen (it came back when the
 * output's lowest seq was unknown to the second merge).
 */
static void test_powerloss_merged_put_then_tombstone_merge(void **state)
{
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options all = {.all = true, .wait = true},
				  some = {.wait = true};
	char dir[TU_PATH], k[16], v[600];
	struct cask_db *db;

	(void)state;
	memset(v, 'x', sizeof(v));
	o.merge_dead_ratio = 0.5;
	o.merge_min_dead_bytes = UINT64_MAX;
	tu_tmpdir(dir, sizeof(dir), "tombmerge");
	db = tu_open(dir, &o);
	tu_put_str(db, "victim", "old");
	assert_int_equal(cask_put(db, "junk", 4, v, 100), 0);
	assert_int_equal(cask_put(db, "junk", 4, v, 100), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "live%d", i);
		assert_int_equal(cask_put(db, k, strlen(k), v, 500), 0);
	}
	assert_int_equal(cask_merge(db, &all), 0); /* victim -> output */
	assert_int_equal(cask_delete(db, "victim", 6), 0);
	for (int i = 0; i < 6; i++) /* the tombstone's segment: garbage */
		assert_int_equal(cask_put(db, "junk2", 5, v, 500), 0);
	for (int i = 0; i < 3; i++) /* rotate past it */
		assert_int_equal(cask_put(db, i ? "y" : "x", 1, v, 600), 0);
	assert_int_equal(cask_merge(db, &some), 0);
	tu_expect_str(db, "victim", NULL);
	assert_int_equal(cask_close(db), 0);
	db = tu_open(dir, &o);
	tu_expect_str(db, "victim", NULL);
	tu_expect(db, "live0", 5, v, 500);
	assert_int_equal(cask_close(db), 0);
	tu_rm_rf(dir);
}

static void test_powerloss_sync_always(void **state)
{
	(void)state;
	powerloss(true);
}

static void test_powerloss_sync_never_with_syncs(void **state)
{
	(void)state;
	powerloss(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_powerloss_merged_put_then_tombstone_merge),
		cmocka_unit_test(test_powerloss_sync_always),
		cmocka_unit_test(test_powerloss_sync_never_with_syncs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
