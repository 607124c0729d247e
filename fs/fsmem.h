/*
 * fsmem.h - fs/'s allocator, with a seam for tests: every allocation of
 * fs/ goes through these (never malloc() and friends directly), so that
 * a test can make one of them fail and see that the operation fails
 * whole. libcask's own allocations have their seam in libcask (kv/src
 * alloc.h); fs/ does not reach it, so the two count apart, and a test
 * sweeps each: failing the N-th allocation of the two together is
 * failing the k-th of one of them.
 *
 * Each function returns NULL (fsmem_asprintf: -1) when the allocation
 * fails, and what it returns is the caller's to free with free().
 */
#ifndef CASKFS_FSMEM_H
#define CASKFS_FSMEM_H

#include <stdarg.h>
#include <stddef.h>

void *fsmem_alloc(size_t n);
void *fsmem_calloc(size_t count, size_t n);
void *fsmem_realloc(void *p, size_t n);
/** A copy of @p s. */
char *fsmem_strdup(const char *s);
/** A copy of the @p n bytes at @p p with a NUL after them (unlike
 *  strndup(), reads no byte past them: a name inside a key). */
char *fsmem_dup_bytes(const char *p, size_t n);
/** vasprintf(): *@p out the formatted text. @return its length, or -1
 *  with *@p out NULL. */
int fsmem_vasprintf(char **out, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/** asprintf(), as fsmem_vasprintf(). */
int fsmem_asprintf(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Make room for element @p n of the array *@p v of *@p cap elements of
 * @p size bytes: when full, the capacity doubles (starting at @p first).
 * @return 0, or -ENOMEM with the array unchanged.
 */
int fsmem_grow(void **v, size_t *cap, size_t n, size_t size, size_t first);

/**
 * Test seam: only fs/'s allocation @p n calls from now (0 = the next one)
 * fails; the ones before and after it succeed. fsmem_fail_once(-1)
 * disarms a failure that has not fired yet. Process-wide: tests using it
 * must not run fs/ on other threads.
 */
void fsmem_fail_once(long n);

/** How many allocations the seam has failed since it was last armed. */
long fsmem_failed(void);

#endif
