/*
 * alloc.h - the library's allocator, with a seam for tests: every allocation
 * in kv/ goes through these so that out-of-memory paths can be exercised by
 * making the n-th allocation from now fail (and every one after it, or it
 * alone).
 */
#ifndef CASK_ALLOC_H
#define CASK_ALLOC_H

#include <stddef.h>

void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t n);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);

/**
 * Make room for one more element in the array *@p v of *@p cap elements of
 * @p size bytes, @p n of them in use: the capacity doubles (starting at
 * @p first). @return 0, or -ENOMEM with the array unchanged.
 */
int mem_grow(void **v, size_t *cap, size_t n, size_t size, size_t first);

/**
 * Test seam: the allocation @p n calls from now (0 = the next one) and every
 * one after it fail, until mem_fail_after(-1) turns failures off.
 * Process-wide; tests using it must not run allocations on other threads.
 */
void mem_fail_after(long n);

/**
 * Test seam: only the allocation @p n calls from now (0 = the next one)
 * fails; the ones before and after it succeed. mem_fail_once(-1) (or
 * mem_fail_after(-1)) disarms a failure that has not fired yet. For finding
 * errors that are swallowed: with a sticky failure every later allocation
 * fails too, the commit's included, so a lost error goes unnoticed.
 * Process-wide, as mem_fail_after().
 */
void mem_fail_once(long n);

/** How many allocations the seam has failed since it was last armed. */
long mem_failed(void);

#endif
