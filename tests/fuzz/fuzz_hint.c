/*
 * fuzz_hint.c - libFuzzer target for the hint file parser (hint_parse in
 * kv/src/hint.c): any bytes, parsed as the hint of the segment whose id
 * the input names at bytes 12..15 (so that mutations get past the id
 * check), must be accepted or rejected with CASK_ECORRUPT, never crash or
 * read outside the input. Every entry handed to the callback has a key of
 * 1..65535 bytes lying inside the input and a known kind; an accepted
 * hint parses the same way twice.
 */
#define _GNU_SOURCE
#include "cask.h"
#include "codec.h"
#include "hint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct span {
	const uint8_t *lo, *hi;
	uint64_t entries, keysum;
};

static int on_entry(void *arg, const struct keydir_entry *e, const uint8_t *key,
		    uint16_t klen)
{
	struct span *s = arg;

	if (klen == 0 || key < s->lo || key + klen > s->hi)
		abort();
	if (e->flags & ~(uint32_t)(KEYDIR_F_EXPIRES | KEYDIR_F_TOMBSTONE))
		abort();
	if ((e->flags & KEYDIR_F_EXPIRES) && (e->flags & KEYDIR_F_TOMBSTONE))
		abort();
	s->entries++;
	for (uint16_t i = 0; i < klen; i++)
		s->keysum += key[i]; /* touch every key byte */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t id = size >= 16 ? get_le32(data + 12) : 0;
	struct span a = {data, data + size, 0, 0}, b = a;
	int rc = hint_parse(data, size, id, on_entry, &a);

	if (rc != 0 && rc != CASK_ECORRUPT)
		abort();
	if (rc == 0) {
		if (hint_parse(data, size, id, on_entry, &b) != 0 ||
		    a.entries != b.entries || a.keysum != b.keysum)
			abort();
		/* The trailer's count is the number of entries. */
		if (size < HINT_HDR_SIZE + HINT_TRAILER ||
		    get_le64(data + size - HINT_TRAILER) != a.entries)
			abort();
	}
	return 0;
}
