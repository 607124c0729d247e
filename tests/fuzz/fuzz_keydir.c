/*
 * fuzz_keydir.c - libFuzzer target for the keydir (keydir.h, the adaptive
 * radix tree) against a model: a sorted array of (key, entry). The input
 * is a sequence of operations, each one byte of opcode and its operands:
 * put, delete, get, cursor first/last, seek >=, > , <=, <, next, prev. Keys
 * are 1-6 bytes from a 4-letter alphabet, or a long run of one byte, so
 * prefixes, shared paths and node growth and shrinkage (4/16/48/256
 * children) all happen. Every result (return codes, old entries, keys and
 * entries under the cursor, count, version bumps) must equal the model's.
 */
#include "keydir.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY	 300
#define MAX_KEYS 4096

struct mkey {
	uint8_t k[MAX_KEY];
	size_t len;
	struct keydir_entry e;
};

static struct mkey model[MAX_KEYS];
static size_t nmodel;

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int d = memcmp(a, b, al < bl ? al : bl);

	if (d)
		return d;
	return al < bl ? -1 : al > bl;
}

/* Index of the first model key >= k. */
static size_t lower(const uint8_t *k, size_t len)
{
	size_t lo = 0, hi = nmodel;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (kcmp(model[mid].k, model[mid].len, k, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool found(size_t i, const uint8_t *k, size_t len)
{
	return i < nmodel && !kcmp(model[i].k, model[i].len, k, len);
}

static bool same_entry(const struct keydir_entry *a,
		       const struct keydir_entry *b)
{
	return a->seq == b->seq && a->seg == b->seg && a->off == b->off &&
	       a->vlen == b->vlen && a->flags == b->flags;
}

/* Read a key from the input. @return its length (0: input exhausted). */
static size_t read_key(const uint8_t **p, const uint8_t *end, uint8_t *k)
{
	uint8_t c;
	size_t len;

	if (*p >= end)
		return 0;
	c = *(*p)++;
	if (c & 0x80) { /* a run: long keys, deep paths */
		len = 1 + (size_t)(c & 0x7f) * 2;
		if (len > MAX_KEY)
			len = MAX_KEY;
		memset(k, 'a' + (c & 3), len);
		if (*p < end)
			k[len - 1] = *(*p)++; /* any byte at the end */
		return len;
	}
	len = 1 + (c % 6);
	for (size_t i = 0; i < len; i++) {
		/* two bits per letter from the following bytes */
		uint8_t b = *p < end ? **p : 0;

		k[i] = (uint8_t)("abcd"[(b >> (2 * (i % 4))) & 3]);
		if (i % 4 == 3 && *p < end)
			(*p)++;
	}
	if (*p < end)
		(*p)++;
	if (c & 0x40) /* the full byte range sometimes */
		k[0] = c;
	return len;
}

/* The cursor as the model sees it: an index, or none. */
struct mcur {
	bool valid;
	size_t i;
};

static void check_cursor(struct keydir_cursor *c, const struct mcur *m, bool ok)
{
	const uint8_t *key;
	size_t klen;
	struct keydir_entry e;

	if (ok != m->valid)
		abort();
	if (!m->valid)
		return;
	if (!keydir_cursor_get(c, &key, &klen, &e))
		abort();
	if (kcmp(key, klen, model[m->i].k, model[m->i].len) ||
	    !same_entry(&e, &model[m->i].e))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct keydir *kd;
	struct keydir_cursor *c = NULL;
	struct mcur mc = {0};
	bool cur_ok = false; /* cursor positioned since the last change */
	uint64_t seq = 0;
	uint8_t k[MAX_KEY];

	nmodel = 0;
	if (keydir_new(&kd))
		return 0;
	if (keydir_cursor_new(kd, &c)) {
		keydir_free(kd);
		return 0;
	}
	while (p < end) {
		uint8_t op = *p++ % 12;
		size_t len = 0, i;
		struct keydir_entry e, old;
		uint64_t v0 = keydir_version(kd);

		if (op <= 5) {
			len = read_key(&p, end, k);
			if (!len)
				break;
		}
		i = len ? lower(k, len) : 0;
		switch (op) {
		case 0: /* put */
		case 1: {
			int res;

			seq++;
			e = (struct keydir_entry){.seq = seq,
						  .seg = (uint32_t)(seq % 7),
						  .off = (uint32_t)seq * 3,
						  .vlen = (uint32_t)len,
						  .flags = op};
			res = keydir_put(kd, k, len, &e, &old, NULL, NULL);
			if (res < 0)
				break; /* out of memory: tree unchanged */
			if (found(i, k, len)) {
				if (res != KEYDIR_REPLACED ||
				    !same_entry(&old, &model[i].e) ||
				    keydir_version(kd) != v0)
					abort();
				model[i].e = e;
				break; /* a replace keeps cursors */
			}
			if (res != KEYDIR_INSERTED || nmodel == MAX_KEYS)
				abort();
			memmove(&model[i + 1], &model[i],
				(nmodel - i) * sizeof(model[0]));
			memcpy(model[i].k, k, len);
			model[i].len = len;
			model[i].e = e;
			nmodel++;
			if (keydir_version(kd) == v0)
				abort();
			cur_ok = false;
			break;
		}
		case 2: { /* delete */
			bool was = found(i, k, len);

			if (keydir_delete(kd, k, len, &old) != was)
				abort();
			if (!was)
				break;
			if (!same_entry(&old, &model[i].e) ||
			    keydir_version(kd) == v0)
				abort();
			memmove(&model[i], &model[i + 1],
				(nmodel - i - 1) * sizeof(model[0]));
			nmodel--;
			cur_ok = false;
			break;
		}
		case 3: /* get */
			if (keydir_get(kd, k, len, &e) != found(i, k, len) ||
			    (found(i, k, len) && !same_entry(&e, &model[i].e)))
				abort();
			break;
		case 4:	  /* seek >= or > */
		case 5: { /* seek <= or < (the parity of the key's length) */
			bool incl = len % 2 == 0, ok;

			if (op == 4) {
				ok = keydir_cursor_seek_ge(c, k, len, incl);
				if (!incl && found(i, k, len))
					i++;
				mc = (struct mcur){i < nmodel, i};
			} else {
				ok = keydir_cursor_seek_le(c, k, len, incl);
				if (incl && found(i, k, len))
					i++;
				mc = (struct mcur){i > 0, i - 1};
			}
			check_cursor(c, &mc, ok);
			cur_ok = true;
			break;
		}
		case 6: /* first */
			mc = (struct mcur){nmodel > 0, 0};
			check_cursor(c, &mc, keydir_cursor_first(c));
			cur_ok = true;
			break;
		case 7: /* last */
			mc = (struct mcur){nmodel > 0, nmodel - 1};
			check_cursor(c, &mc, keydir_cursor_last(c));
			cur_ok = true;
			break;
		case 8: /* next */
		case 9:
			if (!cur_ok || !mc.valid)
				break;
			mc.valid = mc.i + 1 < nmodel;
			mc.i++;
			check_cursor(c, &mc, keydir_cursor_next(c));
			break;
		case 10: /* prev */
		case 11:
			if (!cur_ok || !mc.valid)
				break;
			mc.valid = mc.i > 0;
			mc.i--;
			check_cursor(c, &mc, keydir_cursor_prev(c));
			break;
		}
		if (keydir_count(kd) != nmodel)
			abort();
	}
	/* A full walk in both directions equals the model. */
	{
		bool ok = keydir_cursor_first(c);

		for (size_t j = 0; j < nmodel; j++) {
			struct mcur m = {true, j};

			check_cursor(c, &m, ok);
			ok = keydir_cursor_next(c);
		}
		if (ok)
			abort();
		ok = keydir_cursor_last(c);
		for (size_t j = nmodel; j-- > 0;) {
			struct mcur m = {true, j};

			check_cursor(c, &m, ok);
			ok = keydir_cursor_prev(c);
		}
		if (ok)
			abort();
	}
	keydir_cursor_free(c);
	keydir_free(kd);
	return 0;
}
