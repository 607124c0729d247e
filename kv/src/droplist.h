/*
 * droplist.h - drop lists: the durable record that a finished merge has
 * replaced its input segments by its outputs.
 *
 * Merge unlinks its inputs only after writing NNNNNNNNNN.drop (named after
 * its first output) and making it durable. Unlinks may reach the disk in any
 * order, and a merge may drop a tombstone because every older value of its
 * key was in an input too: if a crash kept some inputs and lost others, that
 * value would come back. So at open, a drop list whose outputs all exist is
 * completed (its inputs are removed, or skipped when read-only) before any
 * segment is read. A drop list whose outputs are not all there (a partial
 * copy of the directory) is ignored: the inputs hold everything.
 *
 * Layout: magic "CASKDRP1" | outputs u32 | inputs u32 | output ids u32... |
 * input ids u32... | crc32c u32 of every byte before it.
 */
#ifndef CASK_DROPLIST_H
#define CASK_DROPLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Write drop list @p id durably (file fdatasync'ed, directory fsync'ed). */
int droplist_write(int dirfd, uint32_t id, const uint32_t *out, size_t nout,
		   const uint32_t *in, size_t nin);

/**
 * Remove the inputs of drop list @p id, fsync the directory, then remove the
 * drop list itself. Inputs already gone are fine.
 */
int droplist_finish(int dirfd, uint32_t id);

/** What a directory holds only for copies (droplist_kept()). */
struct kept_files {
	uint32_t *inputs; /* input segments named by complete drop lists */
	size_t ninputs;
	uint32_t *drops; /* those drop lists */
	size_t ndrops;
};

/**
 * The inputs of the complete drop lists of the directory @p dirfd (whose
 * outputs all exist) that are still there, sorted, and those drop lists:
 * the files a writable open would remove, not part of the store's state.
 * Damaged drop lists and those missing an output are left out.
 * @return 0 (free @p k with kept_files_free()), -ENOMEM or -errno.
 */
int droplist_kept(int dirfd, struct kept_files *k);
void kept_files_free(struct kept_files *k);
/** Is segment @p id among @p k's inputs? */
bool kept_has(const struct kept_files *k, uint32_t id);

/**
 * Read drop list @p id. @return 0 with the input ids in a mem_alloc()ed
 * array (caller frees) when it is valid and all its outputs exist;
 * CASK_ECORRUPT if damaged; -ENOENT if an output is missing; -errno.
 */
int droplist_read(int dirfd, uint32_t id, uint32_t **in, size_t *nin);

#endif
