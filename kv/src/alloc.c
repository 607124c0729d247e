/*
 * alloc.c - malloc wrappers with an injectable failure point (alloc.h).
 * The countdown is one relaxed atomic, so the seam costs next to nothing
 * when unused.
 */
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

static _Atomic long fail_countdown = -1;

static int should_fail(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (n < 0)
		return 0;
	if (n == 0)
		return 1;
	atomic_store_explicit(&fail_countdown, n - 1, memory_order_relaxed);
	return 0;
}

void mem_fail_after(long n)
{
	atomic_store(&fail_countdown, n);
}

void *mem_alloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *mem_calloc(size_t count, size_t n)
{
	return should_fail() ? NULL : calloc(count, n);
}

void *mem_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

void mem_free(void *p)
{
	free(p);
}

int mem_grow(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *p;

	if (n < *cap)
		return 0;
	p = mem_realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}
