/*
 * fsck.c - the check and repair of fsck.h.
 *
 * One pass over the store in key order builds a model of the filesystem:
 * the superblock (00) first, then every inode record (01) into a table by
 * number, their chunks (02), extended attributes (03) and orphan marks
 * (04), and last the dentries ('/'). A path sorts after its parent's, so
 * when a dentry is reached its parent directory is known. What the repair
 * will do is decided as each problem is found and applied to the model
 * (a directory made again, an entry removed), so link counts are checked
 * against the tree as it will be. Then every inode is checked, problems
 * without a path are named (one more pass over the dentries, only when
 * one needs it), reported in path order, and the repair is written.
 *
 * Inodes the repair creates (directories made again, /lost+found) get
 * provisional numbers from PROV_BASE while the pass runs, since the
 * largest number in use is known only at its end; real_ino() maps them.
 *
 * The salvage open (fs_open_salvage) runs the same pass over the store
 * of a read-only struct fs and gives that filesystem what the model says
 * the repair would write again: the superblock's parameters and the
 * directories whose inode record is lost (stand_in), in memory.
 *
 * The store is reached through the gateway (gateway.h) only under "Store
 * access" below, on a struct fs opened for salvage: the store alone,
 * nothing of the filesystem loaded, damage not logged by the reads (the
 * problems name it).
 * One thread, its own store handle: no locks.
 */
#include "fsck.h"

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROV_BASE   (UINT64_C(1) << 63)
#define BATCH_OPS   1024u
#define LOST_FOUND  "/lost+found"
#define MARGIN_INOS 1024u /* left unused above the largest number seen */

enum rec_state {
	REC_NONE, /* no inode record */
	REC_OK,
	REC_BAD, /* unreadable or undecodable */
	REC_NEW, /* the repair writes a new record from the model */
};

/* Repairs of an inode (struct fino.fix). */
#define FIX_NLINK      (1u << 0)
#define FIX_LOST_FOUND (1u << 1)
#define FIX_DEL_CHUNKS (1u << 2) /* from chunk_from on */
#define FIX_DEL_XATTRS (1u << 3)
#define FIX_DEL_ORPHAN (1u << 4)
#define FIX_DEL_RECORD (1u << 5)
#define FIX_DEL_RESV   (1u << 6)

/*
 * A hash index of the elements of an array, by position: open addressing,
 * at most half full. It keeps each element's hash but not its key, so
 * growing needs no callback and a lookup is the caller's loop over the
 * positions whose hash matches (hx_next), comparing the keys itself.
 * Elements are never removed.
 */
struct hslot {
	size_t h;
	size_t pos; /* in the array, + 1; 0: free slot */
};

struct hindex {
	struct hslot *s;
	size_t cap, n;
};

/* One inode number met in any key. */
struct fino {
	uint64_t ino;
	struct inode_attr a;
	size_t content; /* bytes of the record after its header */
	uint8_t state;	/* enum rec_state */
	bool orphan;
	bool resv;    /* has a fallocate reservation (0x05 key) */
	bool lost;    /* reported lost by the entry that named it */
	bool touched; /* the repair changes its links or subdirectories */
	bool want_name;
	uint32_t fix;
	uint32_t links;	  /* dentries naming it, as repaired */
	uint32_t subdirs; /* directories: subdirectories, as repaired */
	uint64_t nchunks, max_idx, last_len, max_len, bad_chunks;
	uint64_t chunk_from;
	uint64_t xattrs;
	char *name; /* one of its paths, for reports */
};

/* Every inode number met, by number. */
struct itab {
	struct fino *v;
	size_t n, cap;
	struct hindex x;
};

/* What becomes of a path (struct pent.op) and why. */
enum {
	ENT_KEEP,
	ENT_PUT,
	ENT_DEL
};
enum {
	WHY_NONE,
	WHY_LOST,
	WHY_UNREACHABLE,
	WHY_INVALID
};

/* A path: a directory (dirs) or a planned dentry change (ents). */
struct pent {
	char *path;
	size_t len;
	uint64_t ino;
	uint32_t type;
	uint8_t op, why;
};

/* Paths, by path. */
struct ptab {
	struct pent *v;
	size_t n, cap;
	struct hindex x;
};

struct problem {
	enum fs_fsck_severity sev;
	uint64_t ino;
	char *path;
	char *what;
	char *repair;
	size_t seq;
	bool want_name; /* path: the inode's name, found later */
};

struct fsck {
	struct fs *fs; /* opened for salvage: the store, nothing loaded */
	const struct fs_fsck_options *o;
	struct fs_fsck_result *res;

	bool have_super, super_bad, super_fix, root_entry;
	struct super sb;
	uint32_t chunk_size, inline_max; /* as found or inferred */
	uint64_t max_ino;		 /* largest number in use */
	uint64_t max_inline;		 /* largest inline regular file */
	uint64_t next_prov, first_new;

	struct itab inodes;
	struct ptab dirs; /* path -> directory inode, as repaired */
	struct ptab ents; /* path -> planned dentry change */
	uint64_t lf_ino;
	char *lf_path;

	struct problem *probs;
	size_t nprobs, capprobs;
	uint64_t named_wanted;
};

/* ------------------------------------------------------------ tables */

static size_t hash64(uint64_t x)
{
	return (size_t)((x * 0x9e3779b97f4a7c15ull) >> 17);
}

static size_t hashstr(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return (size_t)h;
}

/* The next position of an element of hash @p h, walking from slot *@p i
 * (start the walk with *@p i = @p h), or SIZE_MAX when there is none. */
static size_t hx_next(const struct hindex *x, size_t h, size_t *i)
{
	for (; x->cap; (*i)++) {
		const struct hslot *s = &x->s[*i & (x->cap - 1)];

		if (!s->pos)
			break;
		if (s->h == h) {
			(*i)++;
			return s->pos - 1;
		}
	}
	return SIZE_MAX;
}

static void hx_put(struct hslot *s, size_t cap, size_t h, size_t pos)
{
	size_t i = h;

	while (s[i & (cap - 1)].pos)
		i++;
	s[i & (cap - 1)] = (struct hslot){h, pos + 1};
}

/* Index the element at @p pos, of hash @p h. */
static int hx_add(struct hindex *x, size_t h, size_t pos)
{
	size_t cap = x->cap ? x->cap * 2 : 256;
	struct hslot *s;

	if ((x->n + 1) * 2 > x->cap) {
		s = fsmem_calloc(cap, sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < x->cap; i++)
			if (x->s[i].pos)
				hx_put(s, cap, x->s[i].h, x->s[i].pos - 1);
		free(x->s);
		x->s = s;
		x->cap = cap;
	}
	hx_put(x->s, x->cap, h, pos);
	x->n++;
	return 0;
}

static struct fino *itab_find(const struct itab *t, uint64_t ino)
{
	size_t h = hash64(ino), i = h, p;

	while ((p = hx_next(&t->x, h, &i)) != SIZE_MAX)
		if (t->v[p].ino == ino)
			return &t->v[p];
	return NULL;
}

/* Find or add @p ino. The pointer is valid until the next add. */
static int itab_get(struct itab *t, uint64_t ino, struct fino **out)
{
	*out = itab_find(t, ino);
	if (*out)
		return 0;
	if (fsmem_grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v), 64) ||
	    hx_add(&t->x, hash64(ino), t->n))
		return -ENOMEM;
	t->v[t->n] = (struct fino){.ino = ino};
	*out = &t->v[t->n++];
	return 0;
}

static void itab_free(struct itab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	free(t->x.s);
}

static struct pent *ptab_find(const struct ptab *t, const char *p, size_t n)
{
	size_t h = hashstr(p, n), i = h, k;

	while ((k = hx_next(&t->x, h, &i)) != SIZE_MAX)
		if (t->v[k].len == n && !memcmp(t->v[k].path, p, n))
			return &t->v[k];
	return NULL;
}

/* Find or add path @p p (copied). The pointer is valid until the next
 * add. */
static int ptab_get(struct ptab *t, const char *p, size_t n, struct pent **out)
{
	char *copy;

	*out = ptab_find(t, p, n);
	if (*out)
		return 0;
	copy = fsmem_dup_bytes(p, n);
	if (!copy ||
	    fsmem_grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v), 64) ||
	    hx_add(&t->x, hashstr(p, n), t->n)) {
		free(copy);
		return -ENOMEM;
	}
	t->v[t->n] = (struct pent){.path = copy, .len = n};
	*out = &t->v[t->n++];
	return 0;
}

static void ptab_free(struct ptab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	free(t->x.s);
}

/* ------------------------------------------------------------ problems */

static uint64_t real_ino(const struct fsck *c, uint64_t ino)
{
	return ino >= PROV_BASE ? c->first_new + (ino - PROV_BASE) : ino;
}

/*
 * Record a problem about inode @p ino (0: none) at path @p path (@p plen
 * bytes; NULL: named later from the inode, if it has a name). @p repair
 * is what the repair does, or NULL.
 */
static int problem(struct fsck *c, enum fs_fsck_severity sev, uint64_t ino,
		   const char *path, size_t plen, const char *repair,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int problem(struct fsck *c, enum fs_fsck_severity sev, uint64_t ino,
		   const char *path, size_t plen, const char *repair,
		   const char *fmt, ...)
{
	struct problem *p;
	va_list ap;
	int n;

	if (fsmem_grow((void **)&c->probs, &c->capprobs, c->nprobs, sizeof(*p),
		       64))
		return -ENOMEM;
	p = &c->probs[c->nprobs];
	*p = (struct problem){.sev = sev, .ino = ino, .seq = c->nprobs};
	va_start(ap, fmt);
	n = fsmem_vasprintf(&p->what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p->path = path ? fsmem_dup_bytes(path, plen) : NULL;
	p->repair = repair ? fsmem_strdup(repair) : NULL;
	c->nprobs++;
	if ((path && !p->path) || (repair && !p->repair))
		return -ENOMEM;
	if (sev == FS_FSCK_FATAL)
		c->res->fatal++;
	else if (sev == FS_FSCK_ERROR)
		c->res->errors++;
	else
		c->res->notes++;
	return 0;
}

/* A problem about inode @p f, named by one of its paths. */
static int inode_problem(struct fsck *c, enum fs_fsck_severity sev,
			 struct fino *f, const char *repair, const char *what)
{
	int err;

	if (!f->name && !f->want_name) {
		f->want_name = true;
		c->named_wanted++;
	}
	err = problem(c, sev, f->ino, NULL, 0, repair, "%s", what);
	if (!err)
		c->probs[c->nprobs - 1].want_name = true;
	return err;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	default:
		return "special file";
	}
}

/* ------------------------------------------------------------ store access */

typedef int (*visit_fn)(struct fsck *c, const uint8_t *key, size_t klen,
			const uint8_t *val, size_t vlen, int vrc);

/*
 * Call @p visit for every key starting with @p prefix (NULL: all), in key
 * order, with its value, or with @p vrc the -errno of a value that cannot
 * be read (damaged: its CRC fails).
 */
static int scan(struct fsck *c, const char *prefix, visit_fn visit)
{
	struct gw_scan s;
	const void *k, *v;
	size_t klen, vlen;
	int more, rc, err = 0;

	for (more = gw_scan_open(c->fs, &s, prefix, prefix ? strlen(prefix) : 0,
				 NULL, 0);
	     more > 0 && !err; more = gw_scan_next(&s)) {
		/* The value first: the key stays valid until the scan moves. */
		rc = gw_scan_value(&s, &v, &vlen);
		k = gw_scan_key(&s, &klen);
		if (rc == -ENOMEM)
			err = rc;
		else if (rc != -ENOENT)
			err = visit(c, k, klen, rc ? NULL : v, rc ? 0 : vlen,
				    rc);
	}
	gw_scan_close(&s);
	return err ? err : more;
}

/* @return 1 if @p key is in the store, 0 if not, -errno. */
static int exists(struct fsck *c, const void *key, size_t klen)
{
	return gw_exists(c->fs, key, klen);
}

/* The repair's writes: transactions of up to BATCH_OPS changes. */
struct writer {
	struct fsck *c;
	struct txn tx;
	size_t n; /* changes in tx */
};

static int w_commit(struct writer *w)
{
	int err = txn_finish(&w->tx, 0);

	txn_begin(w->c->fs, &w->tx);
	w->n = 0;
	return err;
}

/* Between two groups of keys: commit once the transaction is big. */
static int w_step(struct writer *w)
{
	return w->n >= BATCH_OPS ? w_commit(w) : 0;
}

static int w_put(struct writer *w, const void *key, size_t klen,
		 const void *val, size_t vlen)
{
	w->c->res->writes++;
	w->n++;
	return txn_put(&w->tx, key, klen, val, vlen);
}

static int w_del(struct writer *w, const void *key, size_t klen)
{
	w->c->res->writes++;
	w->n++;
	return txn_delete(&w->tx, key, klen);
}

/* Delete every key that starts with @p prefix and is >= @p start. */
static int w_del_range(struct writer *w, const uint8_t *prefix, size_t plen,
		       const uint8_t *start, size_t slen)
{
	struct gw_scan s;
	const void *k;
	size_t klen;
	int more, err = 0;

	for (more = gw_scan_open(w->c->fs, &s, prefix, plen, start, slen);
	     more > 0 && !err; more = gw_scan_next(&s)) {
		k = gw_scan_key(&s, &klen);
		err = w_del(w, k, klen);
	}
	gw_scan_close(&s);
	return err ? err : more;
}

/* Rewrite the nlink field of @p f's record, keeping every other byte. */
static int w_patch_nlink(struct writer *w, struct fino *f, uint32_t nlink)
{
	uint8_t key[INO_KEY_LEN];
	size_t len;
	void *val;
	int err;

	ino_key(key, KEY_INODE, f->ino);
	err = gw_get_alloc(w->c->fs, key, sizeof(key), &val, &len);
	if (err)
		return err;
	put_le32((uint8_t *)val + 16, nlink);
	err = w_put(w, key, sizeof(key), val, len);
	free(val);
	return err;
}

/* The store, read-only or for the @p repair, as a struct fs opened for
 * salvage (super.c: the store only; the pass reads the rest). */
static int open_store(struct fsck *c, const char *dir, bool repair)
{
	struct fs_options fo;

	fs_options_init(&fo);
	fo.read_only = !repair;
	fo.log = c->o->log;
	fo.log_arg = c->o->log_arg;
	return super_open(dir, &fo, true, &c->fs);
}

static int close_store(struct fsck *c)
{
	int err = fs_close(c->fs);

	c->fs = NULL;
	return err;
}

/* ------------------------------------------------------------ internal keys */

static int visit_super(struct fsck *c, const uint8_t *val, size_t vlen, int vrc)
{
	int err = vrc ? -EIO : super_decode(&c->sb, val, vlen);

	c->have_super = true;
	if (err == -EPROTO)
		return err;
	c->super_bad = err != 0;
	return 0;
}

static int visit_inode(struct fsck *c, uint64_t ino, const uint8_t *val,
		       size_t vlen, int vrc)
{
	struct fino *f;
	int err = itab_get(&c->inodes, ino, &f);

	if (err)
		return err;
	c->res->inodes++;
	if (vrc || inode_decode(&f->a, val, vlen)) {
		f->state = REC_BAD;
		return 0;
	}
	f->state = REC_OK;
	f->content = vlen - INODE_HDR_LEN;
	if (S_ISDIR(f->a.mode))
		c->res->directories++;
	if (S_ISREG(f->a.mode) && (f->a.flags & INODE_F_INLINE) &&
	    f->a.size > c->max_inline)
		c->max_inline = f->a.size;
	return 0;
}

static int visit_chunk(struct fsck *c, uint64_t ino, uint64_t idx, size_t vlen,
		       int vrc)
{
	struct fino *f;
	int err = itab_get(&c->inodes, ino, &f);

	if (err)
		return err;
	c->res->chunks++;
	f->nchunks++;
	if (vrc) {
		f->bad_chunks++;
		return 0;
	}
	/* Keys come in index order: the last seen is the last chunk. */
	f->max_idx = idx;
	f->last_len = vlen;
	if (vlen > f->max_len)
		f->max_len = vlen;
	return 0;
}

static int visit_internal(struct fsck *c, const uint8_t *key, size_t klen,
			  const uint8_t *val, size_t vlen, int vrc)
{
	uint64_t ino = klen >= INO_KEY_LEN ? get_be64(key + 1) : 0;
	struct fino *f;
	int err;

	if (klen == SUPER_KEY_LEN && !memcmp(key, SUPER_KEY, klen))
		return visit_super(c, val, vlen, vrc);
	if (ino >= PROV_BASE)
		ino = 0; /* never handed out: not a key of the schema */
	if (ino > c->max_ino && key[0] >= KEY_INODE && key[0] <= KEY_RESV)
		c->max_ino = ino;
	if (key[0] == KEY_INODE && klen == INO_KEY_LEN && ino)
		return visit_inode(c, ino, val, vlen, vrc);
	if (key[0] == KEY_CHUNK && klen == CHUNK_KEY_LEN && ino)
		return visit_chunk(c, ino, get_be64(key + INO_KEY_LEN), vlen,
				   vrc);
	if (key[0] == KEY_XATTR && klen > INO_KEY_LEN &&
	    klen - INO_KEY_LEN <= FS_NAME_MAX && ino) {
		err = itab_get(&c->inodes, ino, &f);
		if (!err)
			f->xattrs++;
		c->res->xattrs++;
		return err;
	}
	if (key[0] == KEY_ORPHAN && klen == INO_KEY_LEN && ino) {
		err = itab_get(&c->inodes, ino, &f);
		if (!err)
			f->orphan = true;
		return err;
	}
	if (key[0] == KEY_RESV && klen == INO_KEY_LEN && ino) {
		err = itab_get(&c->inodes, ino, &f);
		if (!err)
			f->resv = true;
		return err;
	}
	return problem(c, FS_FSCK_NOTE, 0, NULL, 0, NULL,
		       "a key of %zu bytes starting with byte 0x%02x is not "
		       "part of the caskfs schema (left alone)",
		       klen, key[0]);
}

/* ------------------------------------------------------------ dentries */

/* Is @p p (@p n bytes) a path as the schema allows: "/" or "/name..."
 * with names of 1..FS_NAME_MAX bytes, no NUL, no "." or ".."? */
static bool valid_path(const char *p, size_t n)
{
	size_t i = 1;

	if (n == 0 || p[0] != '/')
		return false;
	if (n == 1)
		return true;
	while (i <= n) {
		size_t start = i, len;

		while (i < n && p[i] != '/') {
			if (!p[i])
				return false;
			i++;
		}
		len = i - start;
		if (len == 0 || len > FS_NAME_MAX ||
		    (len == 1 && p[start] == '.') ||
		    (len == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		i++;
	}
	return true;
}

/* Length of the parent's path of @p p ("/" for a name in the root). */
static size_t parent_len(const char *p, size_t n)
{
	while (n > 1 && p[n - 1] != '/')
		n--;
	return n > 1 ? n - 1 : 1;
}

static int plan_entry(struct fsck *c, const char *p, size_t n, uint8_t op,
		      uint8_t why, uint64_t ino, uint32_t type)
{
	struct pent *e;
	int err = ptab_get(&c->ents, p, n, &e);

	if (err)
		return err;
	e->op = op;
	e->why = why;
	e->ino = ino;
	e->type = type;
	return 0;
}

/* @p p names directory @p ino (as repaired), a subdirectory of the
 * directory inode @p parent; an entry the repair makes if @p planned. */
static int add_dir(struct fsck *c, const char *p, size_t n, uint64_t ino,
		   uint64_t parent, bool planned)
{
	struct fino *f;
	struct pent *e;
	int err = ptab_get(&c->dirs, p, n, &e);

	if (err)
		return err;
	e->ino = ino;
	f = itab_find(&c->inodes, parent);
	if (f) {
		f->subdirs++;
		f->touched |= planned;
	}
	return 0;
}

static void dir_attr(struct inode_attr *a, mode_t perm)
{
	memset(a, 0, sizeof(*a));
	a->mode = S_IFDIR | perm;
	a->uid = getuid();
	a->gid = getgid();
	a->atime = a->mtime = a->ctime = fs_now();
}

/* @p f becomes a regular file the repair writes, rebuilt from its
 * chunks. */
static void file_attr(struct fino *f)
{
	f->state = REC_NEW;
	memset(&f->a, 0, sizeof(f->a));
	f->a.mode = S_IFREG | 0600;
	f->a.uid = getuid();
	f->a.gid = getgid();
	f->a.atime = f->a.mtime = f->a.ctime = fs_now();
}

/* Is chunk @p idx at or past the end of a file of @p size bytes? */
static bool past_end(uint64_t idx, uint64_t size, uint64_t cs)
{
	return idx >= (size + cs - 1) / cs;
}

/* A new directory inode for the repair to write, named once. */
static int new_dir(struct fsck *c, mode_t perm, uint64_t *ino)
{
	struct fino *f;
	int err = itab_get(&c->inodes, c->next_prov, &f);

	if (err)
		return err;
	*ino = c->next_prov++;
	f->state = REC_NEW;
	f->links = 1;
	dir_attr(&f->a, perm);
	return 0;
}

/*
 * The directory inode at path @p p, making it again (planned) when its
 * entry is missing or lost but entries below it survive. @return 0 and
 * @p ino = 0 when @p p is not a directory (so nothing below it is
 * reachable), or -errno.
 */
static int ensure_dir(struct fsck *c, const char *p, size_t n, uint64_t *ino)
{
	const struct pent *d = ptab_find(&c->dirs, p, n), *e;
	uint64_t parent;
	int err;

	*ino = d ? d->ino : 0;
	if (d || n == 1)
		return 0;
	e = ptab_find(&c->ents, p, n);
	if (e && (e->op != ENT_DEL || e->why != WHY_LOST))
		return 0;
	if (!e) {
		err = exists(c, p, n);
		if (err)
			return err < 0 ? err : 0;
	}
	err = ensure_dir(c, p, parent_len(p, n), &parent);
	if (err || !parent)
		return err;
	err = new_dir(c, 0755, ino);
	if (!err)
		err = plan_entry(c, p, n, ENT_PUT, WHY_NONE, *ino, S_IFDIR);
	if (!err)
		err = add_dir(c, p, n, *ino, parent, true);
	if (!err)
		err = problem(c, FS_FSCK_ERROR, *ino, p, n,
			      "make the directory again (mode 0755, owner "
			      "and times of the repair)",
			      "directory entry lost; entries below it remain");
	return err;
}

/* A directory named a second time: give this name an inode of its own. */
static int split_dir(struct fsck *c, const char *p, size_t n,
		     const struct fino *first, uint64_t parent)
{
	struct inode_attr a = first->a;
	uint64_t orig = first->ino, ino;
	struct fino *f;
	int err = new_dir(c, 0755, &ino);

	if (err)
		return err;
	f = itab_find(&c->inodes, ino);
	f->a = a;
	err = plan_entry(c, p, n, ENT_PUT, WHY_NONE, ino, S_IFDIR);
	if (!err)
		err = add_dir(c, p, n, ino, parent, true);
	if (!err)
		err = problem(c, FS_FSCK_ERROR, orig, p, n,
			      "give it a directory inode of its own",
			      "a second name of directory inode %" PRIu64,
			      orig);
	return err;
}

/* Dentry @p p names inode @p f whose record is missing or unreadable. */
static int adopt_lost(struct fsck *c, const char *p, size_t n, struct fino *f,
		      uint32_t type, uint64_t parent)
{
	const char *why = f->state == REC_BAD ? "damaged" : "missing";
	uint64_t ino = f->ino;
	int err;

	if (type == S_IFDIR) {
		f->state = REC_NEW;
		f->links = 1;
		dir_attr(&f->a, 0755);
		err = add_dir(c, p, n, ino, parent, false);
		if (err)
			return err;
		return problem(c, FS_FSCK_ERROR, ino, p, n,
			       "make the inode again (mode 0755, owner and "
			       "times of the repair); entries below it remain",
			       "directory's inode record %s", why);
	}
	if (type == S_IFREG && f->nchunks > f->bad_chunks) {
		file_attr(f);
		f->links++;
		return problem(c, FS_FSCK_ERROR, ino, p, n,
			       "rebuild the inode from its chunks (mode 0600, "
			       "owner and times of the repair; the size ends "
			       "with the last chunk)",
			       "file's inode record %s", why);
	}
	f->lost = true;
	err = plan_entry(c, p, n, ENT_DEL, WHY_LOST, ino, type);
	if (err)
		return err;
	return problem(c, FS_FSCK_ERROR, ino, p, n, "remove the entry",
		       "lost: the %s's inode record is %s", type_name(type),
		       why);
}

static int visit_root_entry(struct fsck *c, uint64_t ino, uint32_t type)
{
	int err;

	c->root_entry = true;
	if (ino == FS_ROOT_INO && type == S_IFDIR)
		return 0;
	err = plan_entry(c, "/", 1, ENT_PUT, WHY_NONE, FS_ROOT_INO, S_IFDIR);
	if (err)
		return err;
	return problem(c, FS_FSCK_ERROR, 0, "/", 1, "point it at inode 1",
		       "the root's entry names inode %" PRIu64, ino);
}

/* Plan to remove entry @p p and report why. */
static int drop_entry(struct fsck *c, const char *p, size_t n, uint8_t why,
		      uint64_t ino, const char *what)
{
	struct fino *f;
	int err = plan_entry(c, p, n, ENT_DEL, why, ino, 0);

	if (!err && ino)
		err = itab_get(&c->inodes, ino, &f);
	if (err)
		return err;
	if (ino)
		f->touched = true;
	return problem(c, FS_FSCK_ERROR, ino, p, n,
		       why == WHY_UNREACHABLE
			       ? "remove the entry (the inode keeps its other "
				 "names or goes to " LOST_FOUND ")"
			       : "remove the entry",
		       "%s", what);
}

static int visit_entry(struct fsck *c, const char *p, size_t n,
		       const uint8_t *val, size_t vlen, int vrc)
{
	char what[96];
	uint64_t ino, parent;
	struct fino *f;
	uint32_t type;
	int err;

	c->res->entries++;
	if (!valid_path(p, n))
		return drop_entry(c, p, n, WHY_INVALID, 0,
				  "an entry whose path is not valid (empty, "
				  "\".\" or \"..\" component, or a name over "
				  "255 bytes)");
	if (vrc || dentry_decode(val, vlen, &ino, &type) || ino >= PROV_BASE)
		return drop_entry(c, p, n, WHY_LOST, 0,
				  "lost: its directory entry is damaged");
	if (ino > c->max_ino)
		c->max_ino = ino;
	if (n == 1)
		return visit_root_entry(c, ino, type);
	err = ensure_dir(c, p, parent_len(p, n), &parent);
	if (err)
		return err;
	if (!parent) {
		snprintf(what, sizeof(what),
			 "unreachable: its parent is not a directory");
		return drop_entry(c, p, n, WHY_UNREACHABLE, ino, what);
	}
	err = itab_get(&c->inodes, ino, &f);
	if (err)
		return err;
	if (f->state == REC_NONE || f->state == REC_BAD)
		return adopt_lost(c, p, n, f, type, parent);
	if ((f->a.mode & S_IFMT) != type) {
		err = plan_entry(c, p, n, ENT_PUT, WHY_NONE, ino, f->a.mode);
		if (!err)
			err = problem(c, FS_FSCK_ERROR, ino, p, n,
				      "set the entry's type to the inode's",
				      "the entry says %s, the inode is a %s",
				      type_name(type), type_name(f->a.mode));
		if (err)
			return err;
	}
	if (!S_ISDIR(f->a.mode)) {
		f->links++;
		return 0;
	}
	if (f->links)
		return split_dir(c, p, n, f, parent);
	f->links = 1;
	return add_dir(c, p, n, ino, parent, false);
}

static int visit(struct fsck *c, const uint8_t *key, size_t klen,
		 const uint8_t *val, size_t vlen, int vrc)
{
	if (key[0] < '/')
		return visit_internal(c, key, klen, val, vlen, vrc);
	if (key[0] == '/')
		return visit_entry(c, (const char *)key, klen, val, vlen, vrc);
	return problem(c, FS_FSCK_NOTE, 0, NULL, 0, NULL,
		       "a key of %zu bytes starting with byte 0x%02x is not "
		       "part of the caskfs schema (left alone)",
		       klen, key[0]);
}

/* ------------------------------------------------------------ superblock */

/* Does chunk size @p cs fit every chunked file (no chunk at or past its
 * end, none longer than @p cs)? */
static bool chunk_size_fits(const struct fsck *c, uint64_t cs)
{
	for (size_t i = 0; i < c->inodes.n; i++) {
		const struct fino *f = &c->inodes.v[i];

		if (!f->nchunks || f->state != REC_OK || !S_ISREG(f->a.mode))
			continue;
		if (f->max_len > cs || past_end(f->max_idx, f->a.size, cs))
			return false;
	}
	return true;
}

/* The format-time parameters of a store whose superblock is lost, from
 * what its chunks and inline files show. */
static void infer_super(struct fsck *c)
{
	uint64_t lo = FS_CHUNK_SIZE_MIN, cs;

	for (size_t i = 0; i < c->inodes.n; i++)
		while (c->inodes.v[i].max_len > lo)
			lo *= 2;
	cs = lo;
	if (lo <= FS_CHUNK_SIZE_DEFAULT &&
	    chunk_size_fits(c, FS_CHUNK_SIZE_DEFAULT))
		cs = FS_CHUNK_SIZE_DEFAULT;
	else
		while (cs < FS_CHUNK_SIZE_MAX && !chunk_size_fits(c, cs))
			cs *= 2;
	if (cs > FS_CHUNK_SIZE_MAX || !chunk_size_fits(c, cs))
		cs = lo > FS_CHUNK_SIZE_MAX ? FS_CHUNK_SIZE_MAX : lo;
	c->chunk_size = (uint32_t)cs;
	c->inline_max = FS_INLINE_MAX_DEFAULT < cs ? FS_INLINE_MAX_DEFAULT
						   : (uint32_t)cs;
	if (c->max_inline > c->inline_max)
		c->inline_max = c->max_inline > cs ? (uint32_t)cs
						   : (uint32_t)c->max_inline;
}

static int check_super(struct fsck *c)
{
	char repair[160];

	if (c->have_super && !c->super_bad) {
		c->chunk_size = c->sb.chunk_size;
		c->inline_max = c->sb.inline_max;
		if (c->sb.ino_hwm > c->max_ino)
			return 0;
		c->super_fix = true;
		return problem(c, FS_FSCK_ERROR, 0, NULL, 0,
			       "raise the mark above every inode number in use",
			       "superblock: the inode high-water mark %" PRIu64
			       " is not above inode %" PRIu64
			       ", which is in use: new files would overwrite "
			       "it",
			       c->sb.ino_hwm, c->max_ino);
	}
	infer_super(c);
	c->super_fix = true;
	snprintf(repair, sizeof(repair),
		 "write a new one (chunk size %" PRIu32
		 " and inline maximum %" PRIu32 ", as the files show)",
		 c->chunk_size, c->inline_max);
	return problem(c, FS_FSCK_FATAL, 0, NULL, 0, repair, "superblock %s",
		       c->have_super ? "damaged" : "missing");
}

/* ------------------------------------------------------------ inodes */

static int check_root(struct fsck *c)
{
	struct fino *f;
	const char *what;
	int err = itab_get(&c->inodes, FS_ROOT_INO, &f);

	if (err)
		return err;
	if (!c->root_entry) {
		err = plan_entry(c, "/", 1, ENT_PUT, WHY_NONE, FS_ROOT_INO,
				 S_IFDIR);
		if (!err)
			err = problem(c, FS_FSCK_ERROR, 0, "/", 1, "write it",
				      "the root's entry is missing");
	}
	if (err || (f->state == REC_OK && S_ISDIR(f->a.mode)))
		return err;
	what = f->state == REC_NONE  ? "missing"
	       : f->state == REC_BAD ? "damaged"
				     : "not a directory";
	f->state = REC_NEW;
	dir_attr(&f->a, 0755);
	return problem(c, FS_FSCK_FATAL, FS_ROOT_INO, "/", 1,
		       "make it again (mode 0755, owner and times of the "
		       "repair); entries below it remain",
		       "the root directory's inode record is %s", what);
}

/* The directory in which nameless inodes get a name: LOST_FOUND, or the
 * first of LOST_FOUND.1, .2 ... not taken by something else. */
static int lost_found(struct fsck *c)
{
	char path[sizeof(LOST_FOUND) + 24];
	const struct pent *d;
	int err;

	for (unsigned i = 0; !c->lf_ino; i++) {
		size_t n = i ? (size_t)snprintf(path, sizeof(path), "%s.%u",
						LOST_FOUND, i)
			     : (size_t)snprintf(path, sizeof(path), "%s",
						LOST_FOUND);

		d = ptab_find(&c->dirs, path, n);
		if (d) {
			c->lf_ino = d->ino;
		} else if (!ptab_find(&c->ents, path, n)) {
			err = exists(c, path, n);
			if (err < 0)
				return err;
			if (err)
				continue;
			err = new_dir(c, 0700, &c->lf_ino);
			if (!err)
				err = plan_entry(c, path, n, ENT_PUT, WHY_NONE,
						 c->lf_ino, S_IFDIR);
			if (!err)
				err = add_dir(c, path, n, c->lf_ino,
					      FS_ROOT_INO, true);
			if (err)
				return err;
		}
		if (c->lf_ino) {
			c->lf_path = fsmem_strdup(path);
			if (!c->lf_path)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Give nameless inode @p ino the name "#INO" in lost+found. */
static int to_lost_found(struct fsck *c, uint64_t ino, const char *what)
{
	char repair[128], name[sizeof(LOST_FOUND) + 48];
	struct fino *f, *lf;
	int err = lost_found(c);

	if (err)
		return err;
	snprintf(name, sizeof(name), "%s/#%" PRIu64, c->lf_path, ino);
	f = itab_find(&c->inodes, ino);
	f->fix |= FIX_LOST_FOUND;
	f->links = 1;
	f->touched = true;
	f->name = fsmem_strdup(name);
	if (!f->name)
		return -ENOMEM;
	if (S_ISDIR(f->a.mode)) {
		lf = itab_find(&c->inodes, c->lf_ino);
		lf->subdirs++;
		lf->touched = true;
	}
	c->res->lost_found++;
	snprintf(repair, sizeof(repair), "name it %s", name);
	return problem(c, FS_FSCK_ERROR, ino, NULL, 0, repair, "%s", what);
}

/* An inode no dentry names. */
static int check_nameless(struct fsck *c, struct fino *f)
{
	char what[160];
	uint64_t ino = f->ino;

	if (f->orphan && f->state != REC_NONE)
		return problem(c, FS_FSCK_NOTE, ino, NULL, 0, NULL,
			       "unlinked while open: the next read-write "
			       "mount deletes it");
	if (f->state == REC_OK) {
		snprintf(what, sizeof(what),
			 "a %s of %" PRIu64 " bytes has no name",
			 type_name(f->a.mode), f->a.size);
		return to_lost_found(c, ino, what);
	}
	if (f->lost) {
		f->fix |= FIX_DEL_RECORD | FIX_DEL_XATTRS | FIX_DEL_CHUNKS |
			  FIX_DEL_ORPHAN;
		return 0;
	}
	if (f->nchunks > f->bad_chunks) {
		snprintf(what, sizeof(what),
			 "%" PRIu64 " chunks of an inode whose record is %s "
			 "and that has no name",
			 f->nchunks, f->state == REC_BAD ? "damaged" : "lost");
		file_attr(f);
		f->fix |= FIX_DEL_ORPHAN; /* or a mount deletes it again */
		return to_lost_found(c, ino, what);
	}
	if (f->state == REC_BAD) {
		f->fix |= FIX_DEL_RECORD | FIX_DEL_XATTRS | FIX_DEL_ORPHAN;
		return problem(c, FS_FSCK_ERROR, ino, NULL, 0,
			       "remove its keys",
			       "lost: a damaged inode record with no name");
	}
	if (f->xattrs) {
		f->fix |= FIX_DEL_XATTRS | FIX_DEL_CHUNKS;
		return problem(c, FS_FSCK_ERROR, ino, NULL, 0, "remove them",
			       "%" PRIu64 " extended attributes of a missing "
			       "inode",
			       f->xattrs);
	}
	if (f->nchunks) {
		f->fix |= FIX_DEL_CHUNKS;
		return problem(c, FS_FSCK_ERROR, ino, NULL, 0, "remove them",
			       "%" PRIu64 " unreadable chunks of a missing "
			       "inode",
			       f->nchunks);
	}
	f->fix |= FIX_DEL_ORPHAN | FIX_DEL_RESV;
	if (!f->orphan)
		return problem(c, FS_FSCK_NOTE, ino, NULL, 0, "remove it",
			       "the fallocate reservation of a missing inode");
	return problem(c, FS_FSCK_NOTE, ino, NULL, 0, "remove it",
		       "the orphan mark of a missing inode");
}

/* The content of a named inode with a readable record. */
static int check_content(struct fsck *c, struct fino *f)
{
	char what[160];
	uint64_t end;
	bool inl = f->a.flags & INODE_F_INLINE;
	int err = 0;

	if (f->orphan) {
		f->fix |= FIX_DEL_ORPHAN;
		err = inode_problem(c, FS_FSCK_ERROR, f, "remove the mark",
				    "marked unlinked-while-open but it has a "
				    "name: the next mount would delete it");
	}
	if (!err && f->nchunks && (inl || !S_ISREG(f->a.mode))) {
		f->fix |= FIX_DEL_CHUNKS;
		f->chunk_from = 0;
		err = inode_problem(c, FS_FSCK_ERROR, f, "remove them",
				    "chunks of an inode that keeps no chunks");
	} else if (!err && f->nchunks &&
		   past_end(f->max_idx, f->a.size, c->chunk_size)) {
		f->fix |= FIX_DEL_CHUNKS;
		f->chunk_from = (f->a.size + c->chunk_size - 1) / c->chunk_size;
		err = inode_problem(c, FS_FSCK_ERROR, f, "remove them",
				    "chunks past the end of the file");
	}
	if (!err && f->bad_chunks) {
		snprintf(what, sizeof(what),
			 "damaged: %" PRIu64 " of its %" PRIu64
			 " chunks fail their checksum (reads of them fail)",
			 f->bad_chunks, f->nchunks);
		err = inode_problem(c, FS_FSCK_ERROR, f, NULL, what);
	}
	if (!err && f->max_len > c->chunk_size)
		err = inode_problem(c, FS_FSCK_ERROR, f, NULL,
				    "damaged: a chunk longer than the chunk "
				    "size");
	end = S_ISLNK(f->a.mode) ? FS_SYMLINK_MAX : c->inline_max;
	if (!err && inl && (S_ISREG(f->a.mode) || S_ISLNK(f->a.mode)) &&
	    (f->a.size > end || f->a.size > f->content))
		err = inode_problem(c, FS_FSCK_ERROR, f, NULL,
				    "damaged: its inline content is shorter "
				    "than its size (reads fail)");
	return err;
}

static uint32_t want_nlink(const struct fino *f)
{
	return S_ISDIR(f->a.mode) ? 2 + f->subdirs : f->links;
}

static int check_nlink(struct fsck *c, struct fino *f)
{
	char what[96];

	if (f->state != REC_OK || !f->links || f->a.nlink == want_nlink(f))
		return 0;
	f->fix |= FIX_NLINK;
	/* A consequence of another repair, which says so. */
	if (f->touched)
		return 0;
	snprintf(what, sizeof(what),
		 "link count %" PRIu32 ", should be %" PRIu32, f->a.nlink,
		 want_nlink(f));
	return inode_problem(c, FS_FSCK_ERROR, f, "correct it", what);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The inode numbers of the table, sorted. */
static int sorted_inos(struct fsck *c, uint64_t **out, size_t *n)
{
	uint64_t *v = fsmem_alloc((c->inodes.n + 1) * sizeof(*v));

	*n = 0;
	*out = v;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->inodes.n; i++)
		v[(*n)++] = c->inodes.v[i].ino;
	qsort(v, *n, sizeof(*v), cmp_u64);
	return 0;
}

static int check_inodes(struct fsck *c)
{
	uint64_t *inos;
	size_t n;
	int err = sorted_inos(c, &inos, &n);

	for (size_t i = 0; !err && i < n; i++) {
		struct fino *f = itab_find(&c->inodes, inos[i]);

		if (f->links || f->ino == FS_ROOT_INO)
			err = f->state == REC_OK ? check_content(c, f) : 0;
		else
			err = check_nameless(c, f);
	}
	/* Link counts once lost+found holds what it will. */
	for (size_t i = 0; !err && i < n; i++)
		err = check_nlink(c, itab_find(&c->inodes, inos[i]));
	free(inos);
	return err;
}

/* ------------------------------------------------------------ reports */

static int visit_name(struct fsck *c, const uint8_t *key, size_t klen,
		      const uint8_t *val, size_t vlen, int vrc)
{
	const struct pent *e;
	struct fino *f;
	uint64_t ino;
	uint32_t type;

	if (!c->named_wanted || vrc || dentry_decode(val, vlen, &ino, &type))
		return 0;
	f = itab_find(&c->inodes, ino);
	if (!f || !f->want_name || f->name)
		return 0;
	e = ptab_find(&c->ents, (const char *)key, klen);
	if (e && e->op == ENT_DEL)
		return 0;
	f->name = fsmem_dup_bytes((const char *)key, klen);
	c->named_wanted--;
	return f->name ? 0 : -ENOMEM;
}

static int cmp_problem(const void *a, const void *b)
{
	const struct problem *p = a, *q = b;
	int d;

	if (p->path && q->path) {
		d = strcmp(p->path, q->path);
		if (d)
			return d;
	} else if (p->path || q->path) {
		return p->path ? -1 : 1;
	} else if (p->ino != q->ino) {
		return p->ino < q->ino ? -1 : 1;
	}
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

static int report(struct fsck *c)
{
	int err = c->named_wanted ? scan(c, "/", visit_name) : 0;

	if (err)
		return err;
	for (size_t i = 0; i < c->nprobs; i++) {
		struct problem *p = &c->probs[i];
		const struct fino *f =
			p->ino ? itab_find(&c->inodes, p->ino) : NULL;

		if (p->want_name && f && f->name) {
			p->path = fsmem_strdup(f->name);
			if (!p->path)
				return -ENOMEM;
		}
		p->ino = real_ino(c, p->ino);
	}
	if (c->nprobs)
		qsort(c->probs, c->nprobs, sizeof(*c->probs), cmp_problem);
	for (size_t i = 0; c->o->report && i < c->nprobs; i++) {
		const struct problem *p = &c->probs[i];
		struct fs_fsck_problem fp = {p->sev, p->path, p->ino, p->what,
					     p->repair};

		c->o->report(c->o->report_arg, &fp);
	}
	return 0;
}

/* ------------------------------------------------------------ repair */

static int write_super(struct writer *w)
{
	struct fsck *c = w->c;
	struct super sb = {FS_FORMAT_VERSION, c->chunk_size, c->inline_max,
			   c->first_new + (c->next_prov - PROV_BASE) +
				   MARGIN_INOS};
	uint8_t val[SUPER_LEN];
	int err;

	if (c->have_super && !c->super_bad && c->sb.ino_hwm > c->max_ino &&
	    c->next_prov == PROV_BASE)
		return 0;
	if (c->have_super && !c->super_bad && sb.ino_hwm < c->sb.ino_hwm)
		sb.ino_hwm = c->sb.ino_hwm;
	super_encode(&sb, val);
	err = w_put(w, SUPER_KEY, SUPER_KEY_LEN, val, sizeof(val));
	return err ? err : w_commit(w);
}

static int write_entry(struct writer *w, const char *p, size_t n, uint64_t ino,
		       uint32_t type)
{
	uint8_t val[DENTRY_LEN];

	dentry_encode(real_ino(w->c, ino), type, val);
	return w_put(w, p, n, val, sizeof(val));
}

/* The puts of inode @p f: a new record, its nlink, its lost+found name. */
static int write_inode(struct writer *w, struct fino *f)
{
	uint8_t key[INO_KEY_LEN], val[INODE_HDR_LEN];
	struct fsck *c = w->c;
	int err = 0;

	if (f->state == REC_NEW) {
		f->a.nlink = want_nlink(f);
		if (S_ISREG(f->a.mode) && f->nchunks > f->bad_chunks) {
			f->a.size = f->max_idx * c->chunk_size + f->last_len;
			f->a.nchunks = f->nchunks;
		}
		inode_encode(&f->a, val);
		ino_key(key, KEY_INODE, real_ino(c, f->ino));
		err = w_put(w, key, sizeof(key), val, sizeof(val));
	} else if (f->fix & FIX_NLINK) {
		err = w_patch_nlink(w, f, want_nlink(f));
	}
	if (!err && (f->fix & FIX_LOST_FOUND))
		err = write_entry(w, f->name, strlen(f->name), f->ino,
				  f->a.mode);
	return err ? err : w_step(w);
}

/* The deletes of inode @p f. */
static int delete_keys(struct writer *w, const struct fino *f)
{
	uint8_t key[CHUNK_KEY_LEN];
	int err = 0;

	if (f->fix & FIX_DEL_RECORD) {
		ino_key(key, KEY_INODE, f->ino);
		err = w_del(w, key, INO_KEY_LEN);
	}
	if (!err && (f->fix & FIX_DEL_ORPHAN) && f->orphan) {
		ino_key(key, KEY_ORPHAN, f->ino);
		err = w_del(w, key, INO_KEY_LEN);
	}
	/* The next mount gives back what the reservation held. */
	if (!err && (f->fix & (FIX_DEL_RECORD | FIX_DEL_RESV)) && f->resv) {
		ino_key(key, KEY_RESV, f->ino);
		err = w_del(w, key, INO_KEY_LEN);
	}
	if (!err && (f->fix & FIX_DEL_XATTRS) && f->xattrs) {
		ino_key(key, KEY_XATTR, f->ino);
		err = w_del_range(w, key, INO_KEY_LEN, NULL, 0);
	}
	if (!err && (f->fix & FIX_DEL_CHUNKS) && f->nchunks) {
		ino_key(key, KEY_CHUNK, f->ino);
		chunk_key(key, f->ino, f->chunk_from);
		err = w_del_range(w, key, INO_KEY_LEN, key, CHUNK_KEY_LEN);
	}
	return err ? err : w_step(w);
}

/* The planned dentry changes of kind @p op. */
static int write_entries(struct writer *w, uint8_t op)
{
	int err = 0;

	for (size_t i = 0; !err && i < w->c->ents.n; i++) {
		const struct pent *e = &w->c->ents.v[i];

		if (e->op != op)
			continue;
		if (op == ENT_PUT)
			err = write_entry(w, e->path, e->len, e->ino, e->type);
		else
			err = w_del(w, e->path, e->len);
		if (!err)
			err = w_step(w);
	}
	return err;
}

/* Puts first, deletes after: a repair cut short by a crash has removed
 * nothing it meant to replace. */
static int write_repair(struct fsck *c)
{
	struct writer w = {.c = c};
	int err;

	txn_begin(c->fs, &w.tx);
	err = write_super(&w);
	for (size_t i = 0; !err && i < c->inodes.n; i++)
		err = write_inode(&w, &c->inodes.v[i]);
	if (!err)
		err = write_entries(&w, ENT_PUT);
	for (size_t i = 0; !err && i < c->inodes.n; i++)
		err = delete_keys(&w, &c->inodes.v[i]);
	if (!err)
		err = write_entries(&w, ENT_DEL);
	w.tx.sync = true;
	return txn_finish(&w.tx, err);
}

/* ------------------------------------------------------------ the whole */

/*
 * Does the store open as caskfs would mount it (read-only)? If not, a
 * fatal problem, reported at once @p after the repair (the others were
 * reported before it).
 */
static int try_mount(struct fsck *c, const char *dir, bool after)
{
	struct fs_fsck_problem fp = {.severity = FS_FSCK_FATAL};
	struct fs_options fo;
	char what[160];
	struct fs *fs;
	int err;

	fs_options_init(&fo);
	fo.read_only = true;
	fo.log = c->o->log;
	fo.log_arg = c->o->log_arg;
	err = fs_open_store(dir, &fo, &fs);
	fs_close(fs);
	if (err == -ENOMEM)
		return err;
	c->res->mounts = !err && (after || !c->res->fatal);
	if (!err || (c->res->fatal && !after))
		return 0;
	snprintf(what, sizeof(what),
		 "the store does not open: %s (cask verify names the damage)",
		 strerror(-err));
	if (!after)
		return problem(c, FS_FSCK_FATAL, 0, NULL, 0, NULL, "%s", what);
	c->res->fatal++;
	fp.what = what;
	if (c->o->report)
		c->o->report(c->o->report_arg, &fp);
	return 0;
}

static int check(struct fsck *c)
{
	uint64_t hwm;
	int err = scan(c, NULL, visit);

	c->res->caskfs = c->have_super || c->res->inodes;
	if (err || !c->res->caskfs)
		return err;
	hwm = c->have_super && !c->super_bad ? c->sb.ino_hwm : 0;
	c->first_new = hwm > c->max_ino + 1 ? hwm : c->max_ino + 1;
	err = check_super(c);
	if (!err)
		err = check_root(c);
	if (!err)
		err = check_inodes(c);
	return err;
}

static void fsck_free(struct fsck *c)
{
	itab_free(&c->inodes);
	ptab_free(&c->dirs);
	ptab_free(&c->ents);
	for (size_t i = 0; i < c->nprobs; i++) {
		free(c->probs[i].path);
		free(c->probs[i].what);
		free(c->probs[i].repair);
	}
	free(c->probs);
	free(c->lf_path);
}

static const struct fs_fsck_options no_options;

/* A check reporting to @p opts (NULL: nothing) into @p res (zeroed). */
static int fsck_init(struct fsck *c, const struct fs_fsck_options *opts,
		     struct fs_fsck_result *res)
{
	struct fino *root;
	struct pent *e;
	int err;

	*c = (struct fsck){.o = opts ? opts : &no_options,
			   .res = res,
			   .next_prov = PROV_BASE};
	memset(res, 0, sizeof(*res));
	/* The root is named "/" whatever its entry says. */
	err = ptab_get(&c->dirs, "/", 1, &e);
	if (!err) {
		e->ino = FS_ROOT_INO;
		err = itab_get(&c->inodes, FS_ROOT_INO, &root);
	}
	if (!err)
		root->links = 1;
	return err;
}

int fs_fsck(const char *dir, const struct fs_fsck_options *opts,
	    struct fs_fsck_result *res)
{
	struct fsck c;
	bool repair = opts && opts->repair;
	int err, err2;

	err = fsck_init(&c, opts, res);
	if (!err)
		err = open_store(&c, dir, repair);
	if (!err)
		err = check(&c);
	if (!err && res->caskfs && !repair)
		err = try_mount(&c, dir, false);
	if (!err && res->caskfs)
		err = report(&c);
	if (!err && res->caskfs && repair)
		err = write_repair(&c);
	err2 = close_store(&c);
	err = err ? err : err2;
	if (!err && res->caskfs && repair)
		err = try_mount(&c, dir, true);
	fsck_free(&c);
	return err;
}

/* ------------------------------------------------------------ salvage */

/*
 * Complete the salvage open of @p fs from the model: the format-time
 * parameters as found or inferred, and an in-memory directory for each one
 * whose inode record is lost or damaged (the root's included: those the
 * repair writes again), so that the entries below it are reached.
 */
static int stand_in(struct fsck *c, struct fs *fs)
{
	struct fs_inode *in;

	fs->chunk_size = c->chunk_size;
	fs->inline_max = c->inline_max;
	fs->inodes = c->res->inodes;
	for (size_t i = 0; i < c->inodes.n; i++) {
		const struct fino *f = &c->inodes.v[i];

		if (f->ino >= PROV_BASE || f->state != REC_NEW ||
		    !S_ISDIR(f->a.mode))
			continue;
		in = fsmem_calloc(1, sizeof(*in));
		if (!in)
			return -ENOMEM;
		in->ino = f->ino;
		in->a = f->a;
		in->a.nlink = want_nlink(f);
		itable_insert(fs, in, 0);
	}
	return itable_get(fs, FS_ROOT_INO, 0, NULL, 0, &in);
}

int fs_open_salvage(const char *dir, struct fs **out,
		    struct fs_fsck_result *res)
{
	struct fs_fsck_result mine;
	struct fsck c;
	int err;

	*out = NULL;
	err = fsck_init(&c, NULL, res ? res : &mine);
	if (!err)
		err = open_store(&c, dir, false);
	if (!err)
		err = check(&c);
	if (!err && !c.res->caskfs)
		err = -ENOENT;
	if (!err)
		err = stand_in(&c, c.fs);
	if (!err) {
		*out = c.fs;
		c.fs = NULL;
	}
	close_store(&c);
	fsck_free(&c);
	return err;
}
