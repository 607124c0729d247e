/*
 * keydir.c - the keydir: an adaptive radix tree (Leis, Kemper, Neumann,
 * ICDE 2013) from every live key to its newest record, with an ordered
 * cursor. The contract is in keydir.h.
 *
 * A child reference is a uintptr_t: 0 for none, an inner node, or a leaf
 * tagged with the low bit. Inner nodes come in five sizes: Node4, Node16
 * and Node32 keep sorted key bytes beside their children (Node32 is not in
 * the paper: the nodes below the Node256 levels of a tree of random keys
 * hold ~15 children, and sending a third of them to Node48 costs 7 bytes a
 * key, measured with bench/keydir_mem.c), Node48 maps a byte to one of 48 slots, Node256 is indexed
 * directly. A key that ends where a node begins branching (a key that is a
 * prefix of other keys) is that node's terminal leaf, which sorts before
 * all its children.
 *
 * Invariants:
 *  - every inner node has at least two entries (children plus terminal);
 *  - a node's prefix (plen bytes, path compression) is shared by every key
 *    below it; the first PMAX bytes are kept inline and the rest are read
 *    from any leaf below (the hybrid scheme of the paper);
 *  - leaves are created only where a key's path becomes unique (lazy
 *    expansion) and hold the entry and the whole key, so a lookup skips
 *    prefixes and compares the key once, at the leaf;
 *  - leaves of up to SLAB_MAX bytes and Node4s are carved from per-size
 *    slabs (no malloc header per piece) and freed slots are reused through
 *    a free list; slabs go back to malloc only in keydir_free() and
 *    keydir_compact(). kd->mem counts every byte held, malloc's headers
 *    included, and kd->unused the slab bytes of it that hold nothing (freed
 *    slots, chunk tails): a tree that shrank keeps its slabs until it is
 *    compacted.
 *  - an operation that returns -ENOMEM has allocated before changing
 *    anything, so the tree is as it was (a slab chunk obtained on the way
 *    stays, to serve the next insert).
 *
 * A cursor keeps the path to its leaf (node, index) so that a step costs
 * O(1) amortised, however deep the path: CURSOR_DEPTH frames inside the
 * cursor, and a stack that doubles for deeper paths (only chains of keys
 * that are prefixes of each other make one: a deep directory tree of
 * caskfs, two levels per directory). Moving a cursor cannot fail: when
 * the stack cannot grow, the frames past it are not kept and a step finds
 * its path again from the root (O(key length) a step instead of O(1)).
 *
 * Locking: none here; the caller guards a keydir (keydir.h).
 */
#define _GNU_SOURCE
#include "keydir.h"

#include "alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_KEY	       65535u
#define PMAX	       10 /* prefix bytes kept inline in a node */
#define SLAB_MAX       512u
#define SLAB_CHUNK_MAX 65536u
#define CURSOR_DEPTH   48 /* frames inside a cursor; deeper ones grow */

#define TERM (-1) /* cursor index of a node's terminal leaf */
#define NONE (-2) /* no such index */
#define END  256  /* an index past every child, for node_prev() */

/* A leaf: the entry and its key, allocated as one piece. Only the low 16
 * bits of an entry's flags are kept (KEYDIR_F_* use bit 0). */
struct leaf {
	uint64_t seq;
	uint32_t seg;
	uint32_t off;
	uint32_t vlen;
	uint16_t flags;
	uint16_t klen;
	uint8_t key[];
};
_Static_assert(sizeof(struct leaf) == 24, "leaf header is 24 bytes");

enum node_type {
	N4,
	N16,
	N32,
	N48,
	N256
};

struct node {
	uint8_t type;
	uint8_t pad;
	uint16_t n;    /* children */
	uint16_t plen; /* prefix length, of which PMAX bytes are inline */
	uint8_t prefix[PMAX];
	uintptr_t term; /* leaf of the key ending at this node, or 0 */
};

_Static_assert(sizeof(struct node) == 24, "node header is 24 bytes");

/* Node4/16/32: n key bytes ascending right after the header, the children
 * child_off[type] bytes after the header. */
struct node48 {
	struct node h;
	uint8_t index[256]; /* slot + 1, or 0 */
	uintptr_t child[48];
};

struct node256 {
	struct node h;
	uintptr_t child[256];
};

static const uint16_t node_cap[] = {4, 16, 32, 48, 256};
static const uint8_t child_off[] = {8, 16, 32};
static const size_t node_size[] = {
	sizeof(struct node) + 8 + 4 * sizeof(uintptr_t),
	sizeof(struct node) + 16 + 16 * sizeof(uintptr_t),
	sizeof(struct node) + 32 + 32 * sizeof(uintptr_t),
	sizeof(struct node48),
	sizeof(struct node256),
};
/* Shrink to the next smaller type at or below this many children. */
static const uint16_t shrink_at[] = {0, 3, 12, 24, 36};

struct slab {
	uint8_t *cur; /* next unused byte of the newest chunk */
	size_t left;  /* bytes left there */
	size_t chunk; /* size of the newest chunk */
	void *free;   /* freed slots, linked through their first word */
};

struct chunk {
	struct chunk *next;
	uint64_t pad; /* keeps the slots 16-byte aligned */
	uint8_t data[];
};

struct keydir {
	uintptr_t root;
	size_t count;
	size_t mem;    /* bytes held, this struct included */
	size_t unused; /* of them, slab bytes no leaf or node uses */
	uint64_t version;
	struct chunk *chunks;
	struct slab slab[SLAB_MAX / 8 + 1]; /* indexed by size / 8 */
};

struct frame {
	struct node *n;
	int idx; /* TERM, an array index (Node4/16/32) or a byte (Node48/256) */
};

struct keydir_cursor {
	const struct keydir *kd;
	struct leaf *leaf; /* NULL when unpositioned */
	size_t sp;	   /* nodes on the path; only cap of them are kept */
	size_t cap;	   /* frames st holds */
	struct frame *st;  /* in, or a malloc()ed array of cap frames */
	struct frame in[CURSOR_DEPTH];
};

/* --- allocation ---------------------------------------------------------- */

static size_t held(void *p, size_t n)
{
#ifdef __GLIBC__
	(void)n;
	return malloc_usable_size(p) + sizeof(size_t);
#else
	return n;
#endif
}

static void *kd_alloc(struct keydir *kd, size_t n)
{
	void *p = mem_alloc(n);

	if (p)
		kd->mem += held(p, n);
	return p;
}

static void kd_free(struct keydir *kd, void *p, size_t n)
{
	kd->mem -= held(p, n);
	mem_free(p);
}

static size_t leaf_size(size_t klen)
{
	return (sizeof(struct leaf) + klen + 7) & ~(size_t)7;
}

static void *slab_get(struct keydir *kd, size_t size)
{
	struct slab *s = &kd->slab[size / 8];
	struct chunk *c;
	uint8_t *p;

	if (s->free) {
		p = s->free;
		memcpy(&s->free, p, sizeof(void *));
		kd->unused -= size;
		return p;
	}
	if (s->left < size) {
		size_t n = s->chunk ? 2 * s->chunk : 8 * size;

		if (n > SLAB_CHUNK_MAX)
			n = SLAB_CHUNK_MAX;
		c = kd_alloc(kd, sizeof(*c) + n);
		if (!c)
			return NULL;
		c->next = kd->chunks;
		kd->chunks = c;
		kd->unused += n; /* the old chunk's tail stays unused */
		s->cur = c->data;
		s->left = n;
		s->chunk = n;
	}
	p = s->cur;
	s->cur += size;
	s->left -= size;
	kd->unused -= size;
	return p;
}

static void slab_put(struct keydir *kd, void *p, size_t size)
{
	struct slab *s = &kd->slab[size / 8];

	memcpy(p, &s->free, sizeof(void *));
	s->free = p;
	kd->unused += size;
}

/* --- leaves -------------------------------------------------------------- */

static bool is_leaf(uintptr_t p)
{
	return p & 1;
}

static struct leaf *as_leaf(uintptr_t p)
{
	return (struct leaf *)(p - 1);
}

static uintptr_t leaf_ref(struct leaf *l)
{
	return (uintptr_t)l | 1;
}

static struct node *as_node(uintptr_t p)
{
	return (struct node *)p;
}

static void leaf_set(struct leaf *l, const struct keydir_entry *e)
{
	l->seq = e->seq;
	l->seg = e->seg;
	l->off = e->off;
	l->vlen = e->vlen;
	l->flags = (uint16_t)e->flags;
}

static void leaf_get(const struct leaf *l, struct keydir_entry *e)
{
	e->seq = l->seq;
	e->seg = l->seg;
	e->off = l->off;
	e->vlen = l->vlen;
	e->flags = l->flags;
}

static struct leaf *leaf_new(struct keydir *kd, const uint8_t *key, size_t klen,
			     const struct keydir_entry *e)
{
	size_t size = leaf_size(klen);
	struct leaf *l;

	l = size <= SLAB_MAX ? slab_get(kd, size) : kd_alloc(kd, size);
	if (!l)
		return NULL;
	leaf_set(l, e);
	l->klen = (uint16_t)klen;
	memcpy(l->key, key, klen);
	return l;
}

static void leaf_free(struct keydir *kd, struct leaf *l)
{
	size_t size = leaf_size(l->klen);

	if (size <= SLAB_MAX)
		slab_put(kd, l, size);
	else
		kd_free(kd, l, size);
}

static bool leaf_eq(const struct leaf *l, const uint8_t *key, size_t klen)
{
	return l->klen == klen && memcmp(l->key, key, klen) == 0;
}

static int leaf_cmp(const struct leaf *l, const uint8_t *key, size_t klen)
{
	size_t n = l->klen < klen ? l->klen : klen;
	int r = memcmp(l->key, key, n);

	if (r)
		return r;
	return (l->klen > klen) - (l->klen < klen);
}

/* --- nodes --------------------------------------------------------------- */

static bool is_sorted(const struct node *n)
{
	return n->type <= N32;
}

static uint8_t *skeys(struct node *n)
{
	return (uint8_t *)(n + 1);
}

static uintptr_t *schild(struct node *n)
{
	return (uintptr_t *)((uint8_t *)(n + 1) + child_off[n->type]);
}

static struct node48 *as48(struct node *n)
{
	return (struct node48 *)n;
}

static struct node256 *as256(struct node *n)
{
	return (struct node256 *)n;
}

/* Node4s, the bulk of the nodes of path-like keys, come from a slab;
 * larger nodes come from malloc, which can reuse (coalesce) the memory a
 * node leaves when it grows, where a slab could reuse it only for a node
 * of the same size. */
static struct node *node_new(struct keydir *kd, enum node_type type)
{
	size_t size = node_size[type];
	struct node *n = type == N4 ? slab_get(kd, size) : kd_alloc(kd, size);

	if (!n)
		return NULL;
	memset(n, 0, size);
	n->type = (uint8_t)type;
	return n;
}

static void node_free(struct keydir *kd, struct node *n)
{
	if (n->type == N4)
		slab_put(kd, n, node_size[N4]);
	else
		kd_free(kd, n, node_size[n->type]);
}

/* Index of byte @b among the sorted keys of @n, or -1. The 16-byte loads
 * stay inside the node: a Node4's keys are followed by its children. */
static int sorted_find(struct node *n, uint8_t b)
{
	const uint8_t *k = skeys(n);
#ifdef __SSE2__
	__m128i v = _mm_set1_epi8((char)b);
	uint32_t m;

	m = (uint32_t)_mm_movemask_epi8(
		_mm_cmpeq_epi8(v, _mm_loadu_si128((const __m128i *)k)));
	if (n->type == N32)
		m |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
			     v, _mm_loadu_si128((const __m128i *)(k + 16))))
		     << 16;
	m &= (uint32_t)((1ull << n->n) - 1);
	return m ? __builtin_ctz(m) : -1;
#else
	for (int i = 0; i < n->n; i++) {
		if (k[i] == b)
			return i;
	}
	return -1;
#endif
}

static uintptr_t *find_child(struct node *n, uint8_t b)
{
	int i;

	switch (n->type) {
	case N48:
		i = as48(n)->index[b];
		return i ? &as48(n)->child[i - 1] : NULL;
	case N256:
		return as256(n)->child[b] ? &as256(n)->child[b] : NULL;
	default:
		i = sorted_find(n, b);
		return i >= 0 ? &schild(n)[i] : NULL;
	}
}

static bool has_byte(struct node *n, unsigned b)
{
	return n->type == N48 ? as48(n)->index[b] : as256(n)->child[b];
}

/* Index of the first child whose byte is >= @b, or NONE. */
static int child_ge(struct node *n, unsigned b)
{
	if (is_sorted(n)) {
		for (int i = 0; i < n->n; i++) {
			if (skeys(n)[i] >= b)
				return i;
		}
		return NONE;
	}
	for (; b < 256; b++) {
		if (has_byte(n, b))
			return (int)b;
	}
	return NONE;
}

/* Index of the last child whose byte is <= @b, or NONE. */
static int child_le(struct node *n, int b)
{
	if (is_sorted(n)) {
		for (int i = n->n - 1; i >= 0; i--) {
			if (skeys(n)[i] <= b)
				return i;
		}
		return NONE;
	}
	for (; b >= 0; b--) {
		if (has_byte(n, (unsigned)b))
			return b;
	}
	return NONE;
}

static unsigned idx_byte(struct node *n, int idx)
{
	return is_sorted(n) ? skeys(n)[idx] : (unsigned)idx;
}

static uintptr_t child_at(struct node *n, int idx)
{
	if (idx == TERM)
		return n->term;
	switch (n->type) {
	case N48:
		return as48(n)->child[as48(n)->index[idx] - 1];
	case N256:
		return as256(n)->child[idx];
	default:
		return schild(n)[idx];
	}
}

/* The entry after / before @idx in key order: the terminal, then children. */
static int node_next(struct node *n, int idx)
{
	if (idx == TERM)
		return child_ge(n, 0);
	if (is_sorted(n))
		return idx + 1 < n->n ? idx + 1 : NONE;
	return idx < 255 ? child_ge(n, (unsigned)idx + 1) : NONE;
}

static int node_prev(struct node *n, int idx)
{
	int i;

	if (idx == TERM)
		return NONE;
	if (is_sorted(n))
		i = (idx == END ? n->n : idx) - 1;
	else
		i = child_le(n, idx - 1);
	if (i >= 0)
		return i;
	return n->term ? TERM : NONE;
}

static int first_idx(struct node *n)
{
	return n->term ? TERM : child_ge(n, 0);
}

static void add_child(struct node *n, uint8_t b, uintptr_t child)
{
	struct node48 *m;
	int i;

	switch (n->type) {
	case N48:
		m = as48(n);
		for (i = 0; m->child[i]; i++)
			;
		m->child[i] = child;
		m->index[b] = (uint8_t)(i + 1);
		break;
	case N256:
		as256(n)->child[b] = child;
		break;
	default:
		i = child_ge(n, b);
		if (i == NONE)
			i = n->n;
		memmove(skeys(n) + i + 1, skeys(n) + i, (size_t)(n->n - i));
		memmove(schild(n) + i + 1, schild(n) + i,
			(size_t)(n->n - i) * sizeof(uintptr_t));
		skeys(n)[i] = b;
		schild(n)[i] = child;
	}
	n->n++;
}

static void remove_child(struct node *n, uint8_t b)
{
	struct node48 *m;
	int i;

	switch (n->type) {
	case N48:
		m = as48(n);
		m->child[m->index[b] - 1] = 0;
		m->index[b] = 0;
		break;
	case N256:
		as256(n)->child[b] = 0;
		break;
	default:
		i = sorted_find(n, b);
		memmove(skeys(n) + i, skeys(n) + i + 1, (size_t)(n->n - i - 1));
		memmove(schild(n) + i, schild(n) + i + 1,
			(size_t)(n->n - i - 1) * sizeof(uintptr_t));
	}
	n->n--;
}

/* Move the contents of @src into the fresh node @dst of another size. */
static void node_copy(struct node *dst, struct node *src)
{
	dst->plen = src->plen;
	memcpy(dst->prefix, src->prefix, PMAX);
	dst->term = src->term;
	for (int i = child_ge(src, 0); i != NONE; i = node_next(src, i))
		add_child(dst, (uint8_t)idx_byte(src, i), child_at(src, i));
}

static struct leaf *min_leaf(struct node *n)
{
	for (;;) {
		uintptr_t p = n->term ? n->term : child_at(n, child_ge(n, 0));

		if (is_leaf(p))
			return as_leaf(p);
		n = as_node(p);
	}
}

/* Byte @i of the prefix of @n, which begins at key offset @depth. */
static uint8_t prefix_byte(struct node *n, size_t depth, size_t i)
{
	return i < PMAX ? n->prefix[i] : min_leaf(n)->key[depth + i];
}

/* How many bytes of the prefix of @n match @key from @depth on. */
static size_t prefix_match(struct node *n, const uint8_t *key, size_t klen,
			   size_t depth)
{
	size_t max = klen - depth < n->plen ? klen - depth : n->plen;
	const uint8_t *p = n->prefix;
	size_t i;

	for (i = 0; i < max; i++) {
		if (i == PMAX)
			p = min_leaf(n)->key + depth;
		if (p[i] != key[depth + i])
			break;
	}
	return i;
}

/* Order of the keys below @n against @key, judged on the prefix alone:
 * <0 all smaller, >0 all greater, 0 the prefix matches. */
static int prefix_cmp(struct node *n, const uint8_t *key, size_t klen,
		      size_t depth)
{
	size_t i = prefix_match(n, key, klen, depth);

	if (i == n->plen)
		return 0;
	if (depth + i == klen)
		return 1;
	return prefix_byte(n, depth, i) < key[depth + i] ? -1 : 1;
}

/* Give @n the prefix @src (@plen bytes; only PMAX are read). */
static void set_prefix(struct node *n, const uint8_t *src, size_t plen)
{
	n->plen = (uint16_t)plen;
	memmove(n->prefix, src, plen < PMAX ? plen : PMAX);
}

/* Hang leaf @l, whose path is known up to @depth, below @n. */
static void place_leaf(struct node *n, struct leaf *l, size_t depth)
{
	if (l->klen == depth)
		n->term = leaf_ref(l);
	else
		add_child(n, l->key[depth], leaf_ref(l));
}

/* --- lifecycle ----------------------------------------------------------- */

int keydir_new(struct keydir **out)
{
	struct keydir *kd = mem_calloc(1, sizeof(*kd));

	*out = NULL;
	if (!kd)
		return -ENOMEM;
	kd->mem = held(kd, sizeof(*kd));
	*out = kd;
	return 0;
}

static void free_ref(struct keydir *kd, uintptr_t p, struct node **list)
{
	struct node *n;

	if (!p)
		return;
	if (is_leaf(p)) {
		if (leaf_size(as_leaf(p)->klen) > SLAB_MAX)
			leaf_free(kd, as_leaf(p));
		return;
	}
	/* The terminal field links nodes still to be freed, so tearing down
	 * a deep tree takes neither recursion nor memory. */
	n = as_node(p);
	free_ref(kd, n->term, list);
	n->term = (uintptr_t)*list;
	*list = n;
}

void keydir_free(struct keydir *kd)
{
	struct node *list = NULL, *n;
	struct chunk *c;

	if (!kd)
		return;
	free_ref(kd, kd->root, &list);
	while ((n = list)) {
		list = (struct node *)n->term;
		for (int i = child_ge(n, 0); i != NONE; i = node_next(n, i))
			free_ref(kd, child_at(n, i), &list);
		if (n->type != N4)
			node_free(kd, n);
	}
	while ((c = kd->chunks)) {
		kd->chunks = c->next;
		mem_free(c);
	}
	mem_free(kd);
}

size_t keydir_count(const struct keydir *kd)
{
	return kd->count;
}

size_t keydir_memory(const struct keydir *kd)
{
	return kd->mem;
}

size_t keydir_unused(const struct keydir *kd)
{
	return kd->unused;
}

int keydir_compact(struct keydir *kd)
{
	struct keydir *n = NULL, old;
	struct keydir_cursor *c = NULL;
	struct keydir_entry e;
	const uint8_t *key = NULL;
	size_t klen = 0;
	int rc = keydir_new(&n);

	if (!rc)
		rc = keydir_cursor_new(kd, &c);
	for (bool at = !rc && keydir_cursor_first(c); at;
	     at = keydir_cursor_next(c)) {
		keydir_cursor_get(c, &key, &klen, &e);
		rc = keydir_put(n, key, klen, &e, NULL, NULL, NULL);
		if (rc < 0)
			break;
		rc = 0;
	}
	keydir_cursor_free(c);
	if (rc) {
		keydir_free(n);
		return rc;
	}
	/* The handle's struct stays (cursors point at it); its contents are
	 * the new tree's, and every cursor must seek again. */
	old = *kd;
	*kd = *n;
	kd->version = old.version + 1;
	*n = old;
	keydir_free(n);
	return 0;
}

uint64_t keydir_version(const struct keydir *kd)
{
	return kd->version;
}

/* --- lookup, insert, delete ---------------------------------------------- */

bool keydir_get(const struct keydir *kd, const uint8_t *key, size_t klen,
		struct keydir_entry *out)
{
	uintptr_t p = kd->root, *slot;
	size_t depth = 0;

	while (p && !is_leaf(p)) {
		struct node *n = as_node(p);

		depth += n->plen;
		if (depth >= klen) {
			p = depth == klen ? n->term : 0;
			break;
		}
		slot = find_child(n, key[depth++]);
		p = slot ? *slot : 0;
	}
	if (!p || !leaf_eq(as_leaf(p), key, klen))
		return false;
	if (out)
		leaf_get(as_leaf(p), out);
	return true;
}

static int replace(struct leaf *l, const struct keydir_entry *e,
		   struct keydir_entry *old, keydir_replace_fn should_replace,
		   void *arg)
{
	struct keydir_entry cur;

	leaf_get(l, &cur);
	if (old)
		*old = cur;
	if (should_replace && !should_replace(&cur, e, arg))
		return KEYDIR_KEPT;
	leaf_set(l, e);
	return KEYDIR_REPLACED;
}

/* @key collides with leaf @l below @depth: a Node4 takes @l's place. */
static int split_leaf(struct keydir *kd, uintptr_t *ref, struct leaf *l,
		      size_t depth, const uint8_t *key, size_t klen,
		      const struct keydir_entry *e)
{
	size_t m = depth, max = l->klen < klen ? l->klen : klen;
	struct node *n;
	struct leaf *nl;

	while (m < max && l->key[m] == key[m])
		m++;
	n = node_new(kd, N4);
	if (!n)
		return -ENOMEM;
	nl = leaf_new(kd, key, klen, e);
	if (!nl) {
		node_free(kd, n);
		return -ENOMEM;
	}
	set_prefix(n, key + depth, m - depth);
	place_leaf(n, l, m);
	place_leaf(n, nl, m);
	*ref = (uintptr_t)n;
	return KEYDIR_INSERTED;
}

/* @key leaves the prefix of @n (at @depth) after @m bytes: a Node4 with
 * those @m bytes as its prefix takes @n's place, above @n and the new leaf. */
static int split_prefix(struct keydir *kd, uintptr_t *ref, struct node *n,
			size_t depth, size_t m, const uint8_t *key, size_t klen,
			const struct keydir_entry *e)
{
	const uint8_t *full;
	struct node *p;
	struct leaf *nl;

	p = node_new(kd, N4);
	if (!p)
		return -ENOMEM;
	nl = leaf_new(kd, key, klen, e);
	if (!nl) {
		node_free(kd, p);
		return -ENOMEM;
	}
	full = n->plen <= PMAX ? n->prefix : min_leaf(n)->key + depth;
	set_prefix(p, n->prefix, m);
	add_child(p, full[m], (uintptr_t)n);
	set_prefix(n, full + m + 1, n->plen - m - 1);
	place_leaf(p, nl, depth + m);
	*ref = (uintptr_t)p;
	return KEYDIR_INSERTED;
}

/* Add a leaf for @key as the child @key[@depth] of @n, growing @n if full. */
static int add_leaf(struct keydir *kd, uintptr_t *ref, struct node *n,
		    size_t depth, const uint8_t *key, size_t klen,
		    const struct keydir_entry *e)
{
	struct node *g = NULL;
	struct leaf *l;

	if (n->n == node_cap[n->type]) {
		g = node_new(kd, n->type + 1);
		if (!g)
			return -ENOMEM;
	}
	l = leaf_new(kd, key, klen, e);
	if (!l) {
		if (g)
			node_free(kd, g);
		return -ENOMEM;
	}
	if (g) {
		node_copy(g, n);
		node_free(kd, n);
		*ref = (uintptr_t)g;
		n = g;
	}
	add_child(n, key[depth], leaf_ref(l));
	return KEYDIR_INSERTED;
}

static int add_term(struct keydir *kd, struct node *n, const uint8_t *key,
		    size_t klen, const struct keydir_entry *e)
{
	struct leaf *l = leaf_new(kd, key, klen, e);

	if (!l)
		return -ENOMEM;
	n->term = leaf_ref(l);
	return KEYDIR_INSERTED;
}

static int insert(struct keydir *kd, const uint8_t *key, size_t klen,
		  const struct keydir_entry *e, struct keydir_entry *old,
		  keydir_replace_fn should_replace, void *arg)
{
	uintptr_t *ref = &kd->root, *slot;
	size_t depth = 0, m;
	struct node *n;
	struct leaf *l;

	for (;;) {
		if (!*ref) {
			l = leaf_new(kd, key, klen, e);
			if (!l)
				return -ENOMEM;
			*ref = leaf_ref(l);
			return KEYDIR_INSERTED;
		}
		if (is_leaf(*ref)) {
			l = as_leaf(*ref);
			if (leaf_eq(l, key, klen))
				return replace(l, e, old, should_replace, arg);
			return split_leaf(kd, ref, l, depth, key, klen, e);
		}
		n = as_node(*ref);
		m = prefix_match(n, key, klen, depth);
		if (m < n->plen)
			return split_prefix(kd, ref, n, depth, m, key, klen, e);
		depth += n->plen;
		if (depth == klen && n->term)
			return replace(as_leaf(n->term), e, old, should_replace,
				       arg);
		if (depth == klen)
			return add_term(kd, n, key, klen, e);
		slot = find_child(n, key[depth]);
		if (!slot)
			return add_leaf(kd, ref, n, depth, key, klen, e);
		ref = slot;
		depth++;
	}
}

int keydir_put(struct keydir *kd, const uint8_t *key, size_t klen,
	       const struct keydir_entry *e, struct keydir_entry *old,
	       keydir_replace_fn should_replace, void *arg)
{
	int r;

	if (klen == 0 || klen > MAX_KEY)
		return -EINVAL;
	r = insert(kd, key, klen, e, old, should_replace, arg);
	if (r == KEYDIR_INSERTED) {
		kd->count++;
		kd->version++;
	}
	return r;
}

/* @n (at @depth, in *@ref) is down to one entry: that entry takes its
 * place. A node child absorbs @n's prefix and the byte between them. */
static void collapse(struct keydir *kd, uintptr_t *ref, struct node *n,
		     size_t depth)
{
	int idx = n->term ? TERM : child_ge(n, 0);
	uintptr_t only = child_at(n, idx);
	uint8_t buf[PMAX];
	struct node *c;
	size_t plen;

	if (!is_leaf(only)) {
		c = as_node(only);
		plen = n->plen + 1u + c->plen;
		if (plen <= PMAX) {
			memcpy(buf, n->prefix, n->plen);
			buf[n->plen] = (uint8_t)idx_byte(n, idx);
			memcpy(buf + n->plen + 1, c->prefix, c->plen);
		} else {
			memcpy(buf, min_leaf(c)->key + depth, PMAX);
		}
		set_prefix(c, buf, plen);
	}
	*ref = only;
	node_free(kd, n);
}

/* After an entry left @n: collapse it, or move it to a smaller node if one
 * can be had (if not, the larger node stays, which is still correct). */
static void shrink(struct keydir *kd, uintptr_t *ref, struct node *n,
		   size_t depth)
{
	struct node *s;

	if (n->n + (n->term != 0) == 1) {
		collapse(kd, ref, n, depth);
		return;
	}
	if (n->n > shrink_at[n->type])
		return;
	s = node_new(kd, n->type - 1);
	if (!s)
		return;
	node_copy(s, n);
	node_free(kd, n);
	*ref = (uintptr_t)s;
}

/* Unlink the leaf of @key from the tree. @return it, or NULL if absent. */
static struct leaf *unlink_leaf(struct keydir *kd, const uint8_t *key,
				size_t klen)
{
	uintptr_t *ref = &kd->root, *slot;
	size_t depth = 0, start;
	struct leaf *l;
	struct node *n;

	if (*ref && is_leaf(*ref)) {
		l = as_leaf(*ref);
		if (!leaf_eq(l, key, klen))
			return NULL;
		*ref = 0;
		return l;
	}
	while (*ref) {
		n = as_node(*ref);
		start = depth;
		depth += n->plen;
		if (depth > klen)
			return NULL;
		slot = depth == klen ? &n->term : find_child(n, key[depth]);
		if (!slot || !*slot)
			return NULL;
		if (!is_leaf(*slot)) {
			ref = slot;
			depth++;
			continue;
		}
		l = as_leaf(*slot);
		if (!leaf_eq(l, key, klen))
			return NULL;
		if (depth == klen)
			n->term = 0;
		else
			remove_child(n, key[depth]);
		shrink(kd, ref, n, start);
		return l;
	}
	return NULL;
}

bool keydir_delete(struct keydir *kd, const uint8_t *key, size_t klen,
		   struct keydir_entry *old)
{
	struct leaf *l;

	if (klen == 0 || klen > MAX_KEY)
		return false;
	l = unlink_leaf(kd, key, klen);
	if (!l)
		return false;
	if (old)
		leaf_get(l, old);
	leaf_free(kd, l);
	kd->count--;
	kd->version++;
	return true;
}

/* --- cursor -------------------------------------------------------------- */

int keydir_cursor_new(const struct keydir *kd, struct keydir_cursor **out)
{
	struct keydir_cursor *c = mem_alloc(sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->kd = kd;
	c->leaf = NULL;
	c->sp = 0;
	c->cap = CURSOR_DEPTH;
	c->st = c->in;
	*out = c;
	return 0;
}

void keydir_cursor_free(struct keydir_cursor *c)
{
	if (c && c->st != c->in)
		mem_free(c->st);
	mem_free(c);
}

/* Twice the frames, keeping those in use; on -ENOMEM the stack stays. */
static void grow_stack(struct keydir_cursor *c)
{
	struct frame *st = c->st == c->in ? NULL : c->st;

	st = mem_realloc(st, 2 * c->cap * sizeof(*st));
	if (!st)
		return;
	if (c->st == c->in)
		memcpy(st, c->in, sizeof(c->in));
	c->st = st;
	c->cap *= 2;
}

static void push(struct keydir_cursor *c, struct node *n, int idx)
{
	if (c->sp == c->cap)
		grow_stack(c);
	if (c->sp < c->cap)
		c->st[c->sp] = (struct frame){n, idx};
	c->sp++;
}

/* Position at the smallest (@dir > 0) or largest key below @p. */
static bool descend(struct keydir_cursor *c, uintptr_t p, int dir)
{
	while (!is_leaf(p)) {
		struct node *n = as_node(p);
		int idx = dir > 0 ? first_idx(n) : node_prev(n, END);

		push(c, n, idx);
		p = child_at(n, idx);
	}
	c->leaf = as_leaf(p);
	return true;
}

static bool unpositioned(struct keydir_cursor *c)
{
	c->leaf = NULL;
	c->sp = 0;
	return false;
}

/* The nearest subtree beside the path a seek took, to fall back on. */
struct alt {
	struct node *n;
	int idx;
	size_t level;
};

static bool take_alt(struct keydir_cursor *c, const struct alt *a, int dir)
{
	if (!a->n)
		return unpositioned(c);
	c->sp = a->level;
	push(c, a->n, a->idx);
	return descend(c, child_at(a->n, a->idx), dir);
}

static bool at_term(struct keydir_cursor *c, struct node *n)
{
	push(c, n, TERM);
	c->leaf = as_leaf(n->term);
	return true;
}

bool keydir_cursor_seek_ge(struct keydir_cursor *c, const uint8_t *key,
			   size_t klen, bool inclusive)
{
	struct alt alt = {NULL, 0, 0};
	uintptr_t p = c->kd->root;
	size_t depth = 0;
	int cmp, idx;

	c->sp = 0;
	if (!p)
		return unpositioned(c);
	while (!is_leaf(p)) {
		struct node *n = as_node(p);

		cmp = prefix_cmp(n, key, klen, depth);
		if (cmp)
			return cmp > 0 ? descend(c, p, 1)
				       : take_alt(c, &alt, 1);
		depth += n->plen;
		if (depth == klen && n->term && inclusive)
			return at_term(c, n);
		idx = child_ge(n, depth < klen ? key[depth] : 0);
		if (idx == NONE)
			return take_alt(c, &alt, 1);
		if (depth == klen || idx_byte(n, idx) != key[depth]) {
			push(c, n, idx);
			return descend(c, child_at(n, idx), 1);
		}
		if (node_next(n, idx) != NONE)
			alt = (struct alt){n, node_next(n, idx), c->sp};
		push(c, n, idx);
		p = child_at(n, idx);
		depth++;
	}
	cmp = leaf_cmp(as_leaf(p), key, klen);
	if (cmp > 0 || (cmp == 0 && inclusive)) {
		c->leaf = as_leaf(p);
		return true;
	}
	return take_alt(c, &alt, 1);
}

bool keydir_cursor_seek_le(struct keydir_cursor *c, const uint8_t *key,
			   size_t klen, bool inclusive)
{
	struct alt alt = {NULL, 0, 0};
	uintptr_t p = c->kd->root;
	size_t depth = 0;
	int cmp, idx;

	c->sp = 0;
	if (!p)
		return unpositioned(c);
	while (!is_leaf(p)) {
		struct node *n = as_node(p);

		cmp = prefix_cmp(n, key, klen, depth);
		if (cmp)
			return cmp < 0 ? descend(c, p, -1)
				       : take_alt(c, &alt, -1);
		depth += n->plen;
		if (depth == klen)
			return n->term && inclusive ? at_term(c, n)
						    : take_alt(c, &alt, -1);
		idx = child_le(n, key[depth]);
		if (idx == NONE)
			return n->term ? at_term(c, n) : take_alt(c, &alt, -1);
		if (idx_byte(n, idx) != key[depth]) {
			push(c, n, idx);
			return descend(c, child_at(n, idx), -1);
		}
		if (node_prev(n, idx) != NONE)
			alt = (struct alt){n, node_prev(n, idx), c->sp};
		push(c, n, idx);
		p = child_at(n, idx);
		depth++;
	}
	cmp = leaf_cmp(as_leaf(p), key, klen);
	if (cmp < 0 || (cmp == 0 && inclusive)) {
		c->leaf = as_leaf(p);
		return true;
	}
	return take_alt(c, &alt, -1);
}

bool keydir_cursor_first(struct keydir_cursor *c)
{
	c->sp = 0;
	if (!c->kd->root)
		return unpositioned(c);
	return descend(c, c->kd->root, 1);
}

bool keydir_cursor_last(struct keydir_cursor *c)
{
	c->sp = 0;
	if (!c->kd->root)
		return unpositioned(c);
	return descend(c, c->kd->root, -1);
}

/* Move one key in direction @dir. A path deeper than the cursor could keep
 * is found again from the root. */
static bool step(struct keydir_cursor *c, int dir)
{
	struct frame *f;
	int idx;

	if (!c->leaf)
		return false;
	if (c->sp > c->cap)
		return dir > 0 ? keydir_cursor_seek_ge(c, c->leaf->key,
						       c->leaf->klen, false)
			       : keydir_cursor_seek_le(c, c->leaf->key,
						       c->leaf->klen, false);
	while (c->sp > 0) {
		f = &c->st[c->sp - 1];
		idx = dir > 0 ? node_next(f->n, f->idx)
			      : node_prev(f->n, f->idx);
		if (idx != NONE) {
			f->idx = idx;
			return descend(c, child_at(f->n, idx), dir);
		}
		c->sp--;
	}
	return unpositioned(c);
}

bool keydir_cursor_next(struct keydir_cursor *c)
{
	return step(c, 1);
}

bool keydir_cursor_prev(struct keydir_cursor *c)
{
	return step(c, -1);
}

bool keydir_cursor_get(const struct keydir_cursor *c, const uint8_t **key,
		       size_t *klen, struct keydir_entry *e)
{
	if (!c->leaf)
		return false;
	if (key)
		*key = c->leaf->key;
	if (klen)
		*klen = c->leaf->klen;
	if (e)
		leaf_get(c->leaf, e);
	return true;
}
