/*
 * picks.h - the records a merge keeps, gathered while it walks its inputs
 * and then put in key order, so that its output segments (and their hint
 * files) hold keys in order: an ordered scan then reads the log forward,
 * and a caskfs store gets its inode records together and each file's
 * chunks in a row.
 */
#ifndef CASK_PICKS_H
#define CASK_PICKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One kept record: input @c in at offset @c off; @c key points into that
 * input's mapping. */
struct pick {
	const uint8_t *key;
	uint32_t off;
	uint16_t klen;
	uint16_t in : 15;
	uint16_t tomb : 1; /* write a tombstone (a deleted or expired key) */
};

#define PICKS_MAX_INPUTS (1u << 15)

struct picks {
	struct pick *v;
	size_t n, cap;
};

/** @return 0 or -ENOMEM. */
int picks_add(struct picks *p, const struct pick *k);
/** Sort by key; records of one key stay in log order (input, offset). */
void picks_sort(struct picks *p);
void picks_clear(struct picks *p);
void picks_free(struct picks *p);

#endif
